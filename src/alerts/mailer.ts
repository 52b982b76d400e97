import nodemailer from 'nodemailer';

export interface AlertMail {
  from: string;
  to: string;
  subject: string;
  text: string;
  /** Kept by the recipient's mail client to thread one endpoint's alerts together. */
  headers: Record<string, string>;
}

/** Sends one email; rejects when the SMTP server did not accept it. */
export interface Mailer {
  send(mail: AlertMail): Promise<void>;
  close(): void;
}

/**
 * SMTP through nodemailer: `smtp://user:pass@host:587` (STARTTLS when the server offers it) or
 * `smtps://user:pass@host:465` (TLS from the start); the URL's query may add nodemailer options.
 * Timeouts are short: an alert that cannot go out now is retried later, never waited on.
 */
export function smtpMailer(url: string): Mailer {
  const transport = nodemailer.createTransport({ url, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 } as Parameters<typeof nodemailer.createTransport>[0]);
  return {
    async send(mail) {
      await transport.sendMail(mail);
    },
    close: () => transport.close(),
  };
}
