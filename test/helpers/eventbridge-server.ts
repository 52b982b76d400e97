import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from './herald.js';

/** One `PutEventsRequestEntry` as the SDK serialised it (awsJson1_1: `Time` in epoch seconds). */
export interface PutEventsEntry {
  Source: string;
  DetailType: string;
  Detail: string;
  EventBusName?: string;
  Time?: number;
  Resources?: string[];
}

/** One PutEvents call the server answered (or refused). */
export interface PutEventsCall {
  entries: PutEventsEntry[];
  /** `Credential=` key id from the SigV4 Authorization header. */
  accessKeyId: string;
  /** Region and service of the signature's credential scope. */
  region: string;
  service: string;
  /** HTTP status answered. */
  status: number;
  /** Entry ids accepted (EventId given). */
  accepted: number;
}

/** What the server does with the next call: answer normally, or fail the whole call. */
export type CallFault = { kind: 'throttle' } | { kind: 'server_error' } | { kind: 'access_denied' };

/**
 * Per-entry fault: given an entry and its position, an ErrorCode/ErrorMessage to answer for it
 * instead of an EventId (null: accept it).
 */
export type EntryFault = (entry: PutEventsEntry, index: number) => { ErrorCode: string; ErrorMessage: string } | null;

const SERVICE = 'events';

/**
 * A local stand-in for Amazon EventBridge that speaks the PutEvents wire protocol (awsJson1_1:
 * `POST /`, `X-Amz-Target: AWSEvents.PutEvents`, `Content-Type: application/x-amz-json-1.1`),
 * verifies each request's SigV4 signature against the credentials it knows, records the entries and
 * fails calls or entries as told. The official SDK reaches it through its `endpoint` setting, so
 * its real serialisation and signing are what is tested.
 */
export class TestEventBridge {
  readonly calls: PutEventsCall[] = [];
  /** Entries accepted, in order. */
  readonly accepted: PutEventsEntry[] = [];
  /** Requests refused before reaching the protocol (bad signature, wrong target…), with the reason. */
  readonly rejected: string[] = [];
  /** Faults for the next calls, consumed one per call. */
  readonly callFaults: CallFault[] = [];
  entryFault: EntryFault | null = null;
  url = '';
  private server: Server | null = null;

  /** `credentials`: access key id → secret access key the server accepts signatures from. */
  constructor(private readonly credentials: Record<string, string>) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = null;
  }

  async waitForAccepted(count: number, timeoutMs = 15_000): Promise<PutEventsEntry[]> {
    await waitFor(() => this.accepted.length >= count, { timeoutMs, message: `${count} accepted entries (got ${this.accepted.length})` });
    return this.accepted;
  }

  /** The accepted entries' Detail, parsed. */
  details(): any[] {
    return this.accepted.map((e) => JSON.parse(e.Detail));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);

    const refuse = (status: number, type: string, message: string) => {
      this.rejected.push(`${type}: ${message}`);
      sendError(res, status, type, message);
    };
    if (req.method !== 'POST' || req.url !== '/') return refuse(404, 'UnknownOperationException', `${req.method} ${req.url}`);
    if (req.headers['x-amz-target'] !== 'AWSEvents.PutEvents') return refuse(400, 'UnknownOperationException', `X-Amz-Target ${req.headers['x-amz-target']}`);
    if (req.headers['content-type'] !== 'application/x-amz-json-1.1') return refuse(400, 'SerializationException', `Content-Type ${req.headers['content-type']}`);
    const signature = verifySignature(req, body, this.credentials);
    if ('error' in signature) return refuse(signature.status, signature.type, signature.error);

    let request: { Entries?: PutEventsEntry[] };
    try {
      request = JSON.parse(body.toString('utf8')) as { Entries?: PutEventsEntry[] };
    } catch {
      return refuse(400, 'SerializationException', 'body is not JSON');
    }
    const entries = request.Entries ?? [];
    const call: PutEventsCall = { entries, accessKeyId: signature.accessKeyId, region: signature.region, service: signature.service, status: 200, accepted: 0 };
    this.calls.push(call);
    if (entries.length < 1 || entries.length > 10) {
      call.status = 400;
      return sendError(res, 400, 'ValidationException', `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and 10 (got ${entries.length})`);
    }
    const fault = this.callFaults.shift();
    if (fault?.kind === 'throttle') {
      call.status = 400;
      return sendError(res, 400, 'ThrottlingException', 'Rate exceeded');
    }
    if (fault?.kind === 'server_error') {
      call.status = 500;
      return sendError(res, 500, 'InternalException', 'An internal error occurred');
    }
    if (fault?.kind === 'access_denied') {
      call.status = 400;
      return sendError(res, 400, 'AccessDeniedException', 'User is not authorized to perform: events:PutEvents on resource: the event bus');
    }

    const results = entries.map((entry, index) => {
      const failure = this.entryFault?.(entry, index) ?? null;
      if (failure) return failure;
      this.accepted.push(entry);
      call.accepted++;
      return { EventId: randomUUID() };
    });
    const failed = results.filter((r) => 'ErrorCode' in r).length;
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID() });
    res.end(JSON.stringify({ FailedEntryCount: failed, Entries: results }));
  }
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID(), 'x-amzn-errortype': type });
  res.end(JSON.stringify({ __type: type, message }));
}

type SignatureCheck =
  | { accessKeyId: string; region: string; service: string }
  | { error: string; status: number; type: string };

const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

/**
 * Checks the SigV4 `Authorization` header the way AWS does: its form, then the signature recomputed
 * from the canonical request with the secret of the named access key.
 */
function verifySignature(req: IncomingMessage, body: Buffer, credentials: Record<string, string>): SignatureCheck {
  const header = req.headers.authorization ?? '';
  const match = AUTHORIZATION.exec(header);
  if (!match) return { error: `malformed Authorization header: '${header}'`, status: 400, type: 'IncompleteSignatureException' };
  const [, accessKeyId, date, region, service, signedHeaders, signature] = match as unknown as string[];
  const secret = credentials[accessKeyId!];
  if (secret === undefined) return { error: `The security token included in the request is invalid (unknown key ${accessKeyId})`, status: 400, type: 'UnrecognizedClientException' };
  if (service !== SERVICE) return { error: `credential scope names service '${service}'`, status: 400, type: 'InvalidSignatureException' };
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  if (!amzDate.startsWith(date!)) return { error: `X-Amz-Date ${amzDate} does not match the credential date ${date}`, status: 400, type: 'InvalidSignatureException' };
  const names = signedHeaders!.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) return { error: `SignedHeaders lacks host or x-amz-date: ${signedHeaders}`, status: 400, type: 'InvalidSignatureException' };

  const canonicalHeaders = names.map((name) => `${name}:${headerValue(req, name)}\n`).join('');
  const canonicalRequest = [req.method, req.url, '', canonicalHeaders, signedHeaders, sha256(body)].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  let key = hmac(`AWS4${secret}`, date!);
  for (const part of [region!, service!, 'aws4_request']) key = hmac(key, part);
  const expected = createHmac('sha256', key).update(stringToSign).digest();
  if (!timingSafeEqual(expected, Buffer.from(signature!, 'hex'))) {
    return { error: 'The request signature we calculated does not match the signature you provided', status: 400, type: 'InvalidSignatureException' };
  }
  return { accessKeyId: accessKeyId!, region: region!, service: service! };
}

function headerValue(req: IncomingMessage, name: string): string {
  const value = req.headers[name];
  const text = Array.isArray(value) ? value.join(',') : (value ?? '');
  return text.trim().replace(/\s+/g, ' ');
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
