import { ConfigError, resolveConfig, SETTINGS } from '../config/config.js';
import { startHerald } from '../server/herald.js';
import { keyIdOf } from '../store/secret-encryption.js';

export const SERVE_HELP = `Usage: herald serve [flags]

Runs Herald: the API (Stripe-compatible /v1/webhook_endpoints and /v1/events) and the delivery
workers, on an embedded SQLite database by default.

Flags (each also an environment variable; flags win):
${SETTINGS.map((s) => `  ${s.flag.padEnd(24)} ${s.env.padEnd(28)} ${s.description}${s.default ? ` (default: ${s.default})` : ''}`).join('\n')}

Examples:
  herald serve
  herald serve --port 9000 --database sqlite:/var/lib/herald/herald.db
  HERALD_RETRY_SCHEDULE=1s,2s,5s herald serve
`;

export async function serve(flags: Record<string, string>): Promise<number> {
  let config;
  let herald;
  try {
    config = resolveConfig(process.env, flags);
    herald = await startHerald(config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`herald: ${err.message}\n`);
      return 2;
    }
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      process.stderr.write(`herald: cannot listen on ${config?.host}:${config?.port} (${code}); choose another --port / HERALD_PORT\n`);
      return 2;
    }
    throw err;
  }
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`Herald is running.`);
  if (herald.url) out(`  API:        ${herald.url}/v1  (Stripe-compatible; point the stripe SDK at host ${new URL(herald.url).hostname}, port ${new URL(herald.url).port}, protocol http)`);
  if (herald.url) out(`  Dashboard:  ${herald.url}/dashboard  (sign in with a secret key)`);
  out(`  Database:   ${config.database.kind === 'sqlite' ? `sqlite:${config.database.path}` : 'postgres'}`);
  out(`  Account:    ${herald.accountId}`);
  out(`  Secrets:    ${config.encryptionKeys ? `signing secrets encrypted at rest (AES-256-GCM, key ${keyIdOf(config.encryptionKeys[0]!)})` : 'signing secrets stored in plaintext (set HERALD_ENCRYPTION_KEY to encrypt them)'}`);
  if (herald.newKeys.test || herald.newKeys.live) {
    out(`  Secret keys (stored hashed: copy them now, they are not shown again):`);
    if (herald.newKeys.test) out(`    test: ${herald.newKeys.test}`);
    if (herald.newKeys.live) out(`    live: ${herald.newKeys.live}`);
  } else {
    out(`  Secret keys: shown on first start only; set HERALD_TEST_SECRET_KEY / HERALD_LIVE_SECRET_KEY or run \`herald keys roll\` for new ones.`);
  }

  await new Promise<void>((resolve) => {
    const onSignal = (signal: string) => {
      process.stderr.write(`herald: ${signal} received; finishing in-flight deliveries and stopping\n`);
      resolve();
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
  });
  await herald.stop();
  return 0;
}
