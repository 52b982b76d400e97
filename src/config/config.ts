import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import { parseIpRange } from '@herald/webhooks';
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseDuration } from '../domain/duration.js';
import { modeOfApiKey } from '../domain/ids.js';
import { EncryptionKeyError, keyIdOf, parseEncryptionKey } from '../store/secret-encryption.js';

/**
 * Herald's whole configuration, resolved and validated once at start. Precedence: defaults, then
 * `HERALD_*` environment variables, then command-line flags. Nothing outside this folder reads
 * `process.env`.
 */
export interface HeraldConfig {
  port: number;
  host: string;
  database: DatabaseLocation;
  role: 'all' | 'api' | 'worker';
  testSecretKey: string | null;
  liveSecretKey: string | null;
  /** Replaces both modes' retry schedules when set (development and tests). */
  retrySchedule: number[] | null;
  disableAfterMs: number;
  deliveryTimeoutMs: number;
  maxEndpoints: number;
  /** Event types an operator adds to Stripe's catalog. */
  extraEventTypes: string[];
  /** API version of events when neither the publisher nor the endpoint names one. */
  apiVersion: string;
  /** Most delivery attempts in flight at once, over all endpoints. */
  deliveryConcurrency: number;
  /** Most delivery attempts in flight to one destination at once (a slow endpoint cannot take every slot). */
  endpointConcurrency: number;
  retentionMs: number;
  /** API requests per second per account and mode, over all processes; 0: no limit. */
  rateLimit: number;
  /** file: URL of the operator's module of payload version changes (see delivery/versions.ts). */
  versionTransforms: string | null;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  // API versions
  /** Folder of the operator's API versions: versions.json (oldest first) and one change module per version step. */
  apiVersionsDir: string | null;
  // Amazon EventBridge destinations
  /** Sends every PutEvents call to this URL instead of AWS's regional endpoint (LocalStack, tests). */
  eventBridgeEndpoint: string | null;

  // Outbound safety
  /** Test mode deliveries are checked against private networks too (live mode always is). */
  blockPrivateNetworks: boolean;
  /** CIDR ranges deliveries may reach even though they are private, loopback, … */
  allowedNetworks: string[];
  /** PEM text of CAs trusted for deliveries in addition to Node's (read from HERALD_CA_FILE). */
  caCertificates: string | null;
  /** Longest wait a receiver's Retry-After can impose before the next attempt. */
  retryAfterMaxMs: number;
  /** http:// or https:// URL of the proxy deliveries tunnel through (CONNECT). */
  egressProxy: string | null;
  /** Local address outgoing delivery sockets bind to. */
  egressLocalAddress: string | null;
  /** The operator's public egress addresses, published at GET /files/ips/ips_webhooks.json. */
  egressAddresses: string[];
  // Failure alerts and abuse limits
  /** An endpoint failing this long gets a `failing` alert (less than disableAfterMs). */
  alertAfterMs: number;
  /** How often each worker process looks for endpoints to alert about and alerts to send. */
  alertCheckIntervalMs: number;
  /** smtp:// or smtps:// URL of the server alerts are emailed through; null: log and dashboard only. */
  smtpUrl: string | null;
  /** Where alerts go for accounts that set no address of their own. */
  alertEmail: string | null;
  alertFrom: string;
  /** Largest event `data` accepted by POST /v1/events, in bytes of JSON. */
  maxEventBytes: number;
  // Tenants and secrets
  /** AES-256-GCM keys for signing secrets at rest: the first encrypts, all decrypt; null: stored in plaintext. */
  encryptionKeys: Buffer[] | null;
}

export type DatabaseLocation = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

export class ConfigError extends Error {
  constructor(readonly setting: string, message: string) {
    super(`Invalid configuration: ${setting}: ${message}`);
    this.name = 'ConfigError';
  }
}

interface Setting<K extends keyof HeraldConfig> {
  key: K;
  flag: string;
  env: string;
  default: string | null;
  description: string;
  parse: (text: string, name: string) => HeraldConfig[K];
}

const integerIn = (min: number, max: number) => (text: string, name: string) => {
  if (!/^\d+$/.test(text.trim())) throw new ConfigError(name, `expected a whole number, got '${text}'`);
  const value = Number(text);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
};

const duration = (min: number) => (text: string, name: string) => {
  const ms = parseDuration(text);
  if (ms === null) throw new ConfigError(name, `expected a duration such as 30s, 5m, 2h or 3d, got '${text}'`);
  if (ms < min) throw new ConfigError(name, `must be at least ${min} ms, got '${text}'`);
  return ms;
};

const secretKey = (mode: 'test' | 'live') => (text: string, name: string) => {
  if (!text.startsWith('sk_') || modeOfApiKey(text) !== mode || text.length < 16 || !/^[A-Za-z0-9_]+$/.test(text)) {
    throw new ConfigError(name, `expected a ${mode} secret key: sk_${mode}_ followed by at least 8 letters, digits or underscores`);
  }
  return text;
};

const booleanSetting = (text: string, name: string) => {
  const t = text.trim().toLowerCase();
  if (t === 'true' || t === '1' || t === 'yes') return true;
  if (t === 'false' || t === '0' || t === 'no') return false;
  throw new ConfigError(name, `expected true or false, got '${text}'`);
};

const cidrList = (text: string, name: string) => {
  const entries = text.split(',').map((p) => p.trim()).filter(Boolean);
  for (const entry of entries) {
    if (!parseIpRange(entry)) throw new ConfigError(name, `'${entry}' is not an IP address or CIDR range (e.g. 10.0.0.0/8, 203.0.113.7, 2001:db8::/32)`);
  }
  return entries;
};

export function parseDatabaseUrl(text: string, name = '--database'): DatabaseLocation {
  if (text.startsWith('postgres://') || text.startsWith('postgresql://')) return { kind: 'postgres', url: text };
  if (text.startsWith('sqlite:')) {
    const path = text.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (!path) throw new ConfigError(name, 'sqlite: needs a file path, e.g. sqlite:./herald-data/herald.db');
    return { kind: 'sqlite', path };
  }
  throw new ConfigError(name, `expected sqlite:<path> or postgres://…, got '${text}'`);
}

/** An address as SMTP servers accept it: local@domain, nothing that could add a header. */
const EMAIL_PATTERN = /^[^\s@<>(),;:"\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
export const isEmailAddress = (text: string): boolean => text.length <= 254 && EMAIL_PATTERN.test(text);

const emailAddress = (text: string, name: string) => {
  if (!isEmailAddress(text.trim())) throw new ConfigError(name, `expected an email address such as ops@example.com, got '${text}'`);
  return text.trim();
};

const smtpUrl = (text: string, name: string) => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(name, `expected smtp://user:pass@host:587 or smtps://user:pass@host:465, got an invalid URL`);
  }
  if ((url.protocol !== 'smtp:' && url.protocol !== 'smtps:') || !url.hostname) {
    throw new ConfigError(name, `expected smtp://user:pass@host:587 or smtps://user:pass@host:465, got a ${url.protocol} URL`);
  }
  return text;
};

export const SETTINGS: Setting<keyof HeraldConfig>[] = [
  { key: 'port', flag: '--port', env: 'HERALD_PORT', default: '8420', description: 'TCP port of the API and dashboard (0 picks a free one).', parse: integerIn(0, 65535) },
  { key: 'host', flag: '--host', env: 'HERALD_HOST', default: '127.0.0.1', description: 'Address to listen on.', parse: (t, n) => { if (!t.trim()) throw new ConfigError(n, 'must not be empty'); return t.trim(); } },
  { key: 'database', flag: '--database', env: 'HERALD_DATABASE_URL', default: 'sqlite:./herald-data/herald.db', description: 'sqlite:<path> (embedded, default) or postgres://user:pass@host:5432/db.', parse: parseDatabaseUrl },
  { key: 'role', flag: '--role', env: 'HERALD_ROLE', default: 'all', description: 'all: API and delivery workers; api: API only; worker: delivery only.', parse: (t, n) => { if (t !== 'all' && t !== 'api' && t !== 'worker') throw new ConfigError(n, `expected all, api or worker, got '${t}'`); return t; } },
  { key: 'testSecretKey', flag: '--test-secret-key', env: 'HERALD_TEST_SECRET_KEY', default: null, description: "The default account's test secret key, instead of a generated one.", parse: secretKey('test') },
  { key: 'liveSecretKey', flag: '--live-secret-key', env: 'HERALD_LIVE_SECRET_KEY', default: null, description: "The default account's live secret key, instead of a generated one.", parse: secretKey('live') },
  { key: 'retrySchedule', flag: '--retry-schedule', env: 'HERALD_RETRY_SCHEDULE', default: null, description: 'Comma-separated delays between attempts (e.g. 1s,2s,5s); replaces both modes\' schedules.', parse: (t, n) => {
      const parts = t.split(',').map((p) => p.trim());
      if (parts.length === 0 || parts.length > 50) throw new ConfigError(n, 'expected 1 to 50 comma-separated durations');
      return parts.map((p) => duration(1)(p, n));
    } },
  { key: 'disableAfterMs', flag: '--disable-after', env: 'HERALD_DISABLE_AFTER', default: '3d', description: 'Disable an endpoint that has failed without a single 2xx for this long.', parse: duration(1000) },
  { key: 'deliveryTimeoutMs', flag: '--delivery-timeout', env: 'HERALD_DELIVERY_TIMEOUT', default: '30s', description: 'Time a receiver has to answer one attempt.', parse: duration(100) },
  { key: 'maxEndpoints', flag: '--max-endpoints', env: 'HERALD_MAX_ENDPOINTS', default: '16', description: 'Most webhook endpoints per account and mode.', parse: integerIn(1, 100_000) },
  { key: 'extraEventTypes', flag: '--event-types', env: 'HERALD_EVENT_TYPES', default: '', description: 'Comma-separated event types to add to Stripe\'s catalog (e.g. order.shipped).', parse: (t, n) => {
      const types = t.split(',').map((p) => p.trim()).filter(Boolean);
      for (const type of types) if (!/^[a-z0-9_]+(\.[a-z0-9_]+)+$/.test(type)) throw new ConfigError(n, `'${type}' is not a valid event type (lowercase words joined by dots)`);
      return types;
    } },
  { key: 'apiVersion', flag: '--api-version', env: 'HERALD_API_VERSION', default: '2026-10-28.endive', description: "The default account's initial API version, for events and endpoints that name none (change it later with `herald accounts set-default-version`).", parse: (t, n) => { if (!/^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$/.test(t)) throw new ConfigError(n, `expected a version such as 2026-10-28.endive, got '${t}'`); return t; } },
  { key: 'deliveryConcurrency', flag: '--delivery-concurrency', env: 'HERALD_DELIVERY_CONCURRENCY', default: '256', description: 'Most delivery attempts in flight at once per process.', parse: integerIn(1, 10_000) },
  { key: 'endpointConcurrency', flag: '--endpoint-concurrency', env: 'HERALD_ENDPOINT_CONCURRENCY', default: '128', description: 'Most delivery attempts in flight to one destination at once per process (a slow endpoint cannot take every slot).', parse: integerIn(1, 10_000) },
  { key: 'retentionMs', flag: '--retention', env: 'HERALD_RETENTION', default: '30d', description: 'Events and attempts older than this are deleted.', parse: duration(60_000) },
  { key: 'rateLimit', flag: '--rate-limit', env: 'HERALD_RATE_LIMIT', default: '0', description: 'API requests per second per account and mode, shared by all processes (429 beyond it); 0 for no limit.', parse: integerIn(0, 1_000_000) },
  { key: 'versionTransforms', flag: '--version-transforms', env: 'HERALD_VERSION_TRANSFORMS', default: null, description: 'The older single-module form of HERALD_API_VERSIONS_DIR: one ES module listing payload changes per API version. Still supported.', parse: (t, n) => {
      const path = resolvePath(t);
      if (!existsSync(path)) throw new ConfigError(n, `no such file: ${path}`);
      return pathToFileURL(path).href;
    } },
  { key: 'logLevel', flag: '--log-level', env: 'HERALD_LOG_LEVEL', default: 'info', description: 'debug, info, warn, error or silent.', parse: (t, n) => { if (!['debug', 'info', 'warn', 'error', 'silent'].includes(t)) throw new ConfigError(n, `expected debug, info, warn, error or silent, got '${t}'`); return t as HeraldConfig['logLevel']; } },
  // API versions
  { key: 'apiVersionsDir', flag: '--api-versions-dir', env: 'HERALD_API_VERSIONS_DIR', default: null, description: 'A folder declaring the API versions (versions.json, oldest first) with one change module per version step; endpoints then receive events in their api_version (see docs/api-versions.md).', parse: (t, n) => {
      const path = resolvePath(t);
      if (!existsSync(path)) throw new ConfigError(n, `no such folder: ${path}`);
      if (!existsSync(resolvePath(path, 'versions.json'))) throw new ConfigError(n, `${path} has no versions.json (the list of versions, oldest first)`);
      return path;
    } },
  // Amazon EventBridge destinations
  { key: 'eventBridgeEndpoint', flag: '--eventbridge-endpoint', env: 'HERALD_EVENTBRIDGE_ENDPOINT', default: null, description: 'Send every EventBridge PutEvents call to this URL instead of AWS (LocalStack, tests); requests are still SigV4-signed.', parse: (t, n) => {
      let url: URL;
      try {
        url = new URL(t.trim());
      } catch {
        throw new ConfigError(n, `expected an http(s) URL such as http://localhost:4566, got '${t}'`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(n, `expected an http(s) URL, got '${t}'`);
      return url.href.replace(/\/$/, '');
    } },

  // Outbound safety
  { key: 'blockPrivateNetworks', flag: '--block-private-networks', env: 'HERALD_BLOCK_PRIVATE_NETWORKS', default: 'false', description: 'Block deliveries to private, loopback, link-local and metadata addresses in test mode too (live mode always blocks them).', parse: booleanSetting },
  { key: 'allowedNetworks', flag: '--allowed-networks', env: 'HERALD_ALLOWED_NETWORKS', default: '', description: 'Comma-separated CIDR ranges deliveries may reach although they are private (e.g. 10.20.0.0/16).', parse: cidrList },
  { key: 'caCertificates', flag: '--ca-file', env: 'HERALD_CA_FILE', default: null, description: "PEM file of CA certificates trusted for deliveries, in addition to Node's bundled ones.", parse: (t, n) => {
      const path = resolvePath(t);
      if (!existsSync(path)) throw new ConfigError(n, `no such file: ${path}`);
      const pem = readFileSync(path, 'utf8');
      if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(n, `${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
      try {
        createSecureContext({ ca: pem });
      } catch (err) {
        throw new ConfigError(n, `${path}: ${(err as Error).message}`);
      }
      return pem;
    } },
  { key: 'retryAfterMaxMs', flag: '--retry-after-max', env: 'HERALD_RETRY_AFTER_MAX', default: '1d', description: "Longest delay a receiver's Retry-After (on 429 or 503) can impose before the next attempt.", parse: duration(1000) },
  { key: 'egressProxy', flag: '--egress-proxy', env: 'HERALD_EGRESS_PROXY', default: null, description: 'http:// or https:// URL of a proxy that deliveries tunnel through (HTTP CONNECT).', parse: (t, n) => {
      let url: URL;
      try {
        url = new URL(t);
      } catch {
        throw new ConfigError(n, `expected a URL such as http://proxy.internal:3128, got '${t}'`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(n, `the proxy URL must start with http:// or https://, got '${t}'`);
      if ((url.pathname !== '/' && url.pathname !== '') || url.search) throw new ConfigError(n, 'the proxy URL has no path or query');
      return url.href;
    } },
  { key: 'egressLocalAddress', flag: '--egress-local-address', env: 'HERALD_EGRESS_LOCAL_ADDRESS', default: null, description: 'Local IP address that outgoing delivery connections bind to.', parse: (t, n) => {
      if (!isIP(t.trim())) throw new ConfigError(n, `expected an IP address of this machine, got '${t}'`);
      return t.trim();
    } },
  { key: 'egressAddresses', flag: '--egress-addresses', env: 'HERALD_EGRESS_ADDRESSES', default: '', description: 'Comma-separated public addresses or CIDR ranges deliveries leave from, published at /files/ips/ips_webhooks.json.', parse: cidrList },
  // Failure alerts and abuse limits
  { key: 'alertAfterMs', flag: '--alert-after', env: 'HERALD_ALERT_AFTER', default: '1d', description: 'Email an endpoint\'s account when it has failed without a 2xx for this long (must be less than HERALD_DISABLE_AFTER).', parse: duration(1000) },
  { key: 'alertCheckIntervalMs', flag: '--alert-check-interval', env: 'HERALD_ALERT_CHECK_INTERVAL', default: '30s', description: 'How often workers look for endpoints to alert about and alerts to (re)send.', parse: duration(50) },
  { key: 'smtpUrl', flag: '--smtp-url', env: 'HERALD_SMTP_URL', default: null, description: 'SMTP server for alert emails: smtp://user:pass@host:587 (STARTTLS) or smtps://user:pass@host:465. Unset: alerts go to the log and the dashboard.', parse: smtpUrl },
  { key: 'alertEmail', flag: '--alert-email', env: 'HERALD_ALERT_EMAIL', default: null, description: 'Alert recipient for accounts that set none of their own (`herald alerts set-email`).', parse: emailAddress },
  { key: 'alertFrom', flag: '--alert-from', env: 'HERALD_ALERT_FROM', default: 'herald@localhost', description: 'Sender address of alert emails.', parse: emailAddress },
  { key: 'maxEventBytes', flag: '--max-event-bytes', env: 'HERALD_MAX_EVENT_BYTES', default: '262144', description: 'Largest event data accepted (bytes of JSON); the request body limit is 3 times this plus 64 KiB, at least 1 MiB.', parse: integerIn(1024, 64 * 1024 * 1024) },
  // Tenants and secrets
  { key: 'encryptionKeys', flag: '--encryption-key', env: 'HERALD_ENCRYPTION_KEY', default: null, description: 'Encrypt endpoint signing secrets at rest (AES-256-GCM) with this 32-byte key (base64 or hex; `herald secrets new-key`). A comma-separated list during a rotation: the first encrypts, all decrypt.', parse: parseEncryptionKeys },
];

function parseEncryptionKeys(text: string, name: string): Buffer[] {
  const keys = text.split(',').map((part, i) => {
    try {
      return parseEncryptionKey(part);
    } catch (err) {
      if (err instanceof EncryptionKeyError) throw new ConfigError(name, `key ${i + 1}: ${err.message}`);
      throw err;
    }
  });
  if (new Set(keys.map(keyIdOf)).size !== keys.length) throw new ConfigError(name, 'the same key is listed twice');
  return keys;
}

/**
 * Resolves the configuration. `flags` maps flag names (`--port`) to values. Unknown `HERALD_*`
 * variables and unknown flags are errors, so a typo never passes silently.
 */
export function resolveConfig(env: Record<string, string | undefined>, flags: Record<string, string> = {}): HeraldConfig {
  const known = new Set(SETTINGS.map((s) => s.env));
  const allowedOthers = new Set(['HERALD_API_KEY', 'HERALD_API_BASE']); // read by CLI client commands
  for (const name of Object.keys(env)) {
    if (name.startsWith('HERALD_') && !known.has(name) && !allowedOthers.has(name)) {
      throw new ConfigError(name, 'unknown setting (see the configuration table in the README)');
    }
  }
  const knownFlags = new Set(SETTINGS.map((s) => s.flag));
  for (const flag of Object.keys(flags)) {
    if (!knownFlags.has(flag)) throw new ConfigError(flag, 'unknown flag (see `herald serve --help`)');
  }
  const config: Partial<Record<keyof HeraldConfig, unknown>> = {};
  for (const setting of SETTINGS) {
    const fromFlag = flags[setting.flag];
    const fromEnv = env[setting.env];
    const [text, name] =
      fromFlag !== undefined ? [fromFlag, setting.flag] : fromEnv !== undefined && fromEnv !== '' ? [fromEnv, setting.env] : [setting.default, setting.env];
    config[setting.key] = text === null ? null : setting.parse(text, name);
  }
  checkAlertAfter(config as HeraldConfig, flags['--alert-after'] !== undefined || !!env.HERALD_ALERT_AFTER);
  return config as HeraldConfig;
}

/**
 * The `failing` alert must come before the endpoint is disabled. An operator who shortens
 * HERALD_DISABLE_AFTER below the default alert delay gets the alert at half the disable delay.
 */
function checkAlertAfter(config: HeraldConfig, explicit: boolean): void {
  if (config.alertAfterMs < config.disableAfterMs) return;
  if (explicit) throw new ConfigError('HERALD_ALERT_AFTER', 'must be less than HERALD_DISABLE_AFTER, so that the alert comes before the endpoint is disabled');
  config.alertAfterMs = Math.floor(config.disableAfterMs / 2);
}

/** The configuration tests and embedders start from: defaults with a few overrides. */
export function defaultConfig(overrides: Partial<HeraldConfig> = {}): HeraldConfig {
  return { ...resolveConfig({}), ...overrides };
}
