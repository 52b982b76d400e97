import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type Socket } from 'node:net';
import { rootCertificates, type ConnectionOptions } from 'node:tls';
import { buildConnector, Pool } from 'undici';
import { blockedMessage, type AddressPolicy } from './address-policy.js';

/**
 * How a delivery's connection is opened: DNS resolution filtered by the address policy, an
 * optional egress proxy tunnel, a chosen local address, and TLS rules. The policy is applied to
 * the address the socket really connects to: the filtered DNS answer is handed straight to the
 * socket (no second lookup a rebinding DNS server could answer differently), IP literals are
 * checked as they are, and through a proxy Herald resolves and checks the target itself, then
 * asks the proxy to CONNECT to that exact IP address.
 */

/** The error of a blocked connection; `failureKindOfError` maps its code to `blocked_address`. */
export class BlockedAddressError extends Error {
  readonly code = 'HERALD_BLOCKED_ADDRESS';
  constructor(message: string) {
    super(message);
    this.name = 'BlockedAddressError';
  }
}

export interface EgressOptions {
  /** null: connections of this connector are not checked (test mode without blocking). */
  policy: AddressPolicy | null;
  /** PEM text of CAs to trust in addition to Node's bundled ones (HERALD_CA_FILE). */
  extraCa: string | null;
  /** HERALD_EGRESS_PROXY: http:// or https:// URL of a proxy that supports CONNECT. */
  proxy: string | null;
  /** HERALD_EGRESS_LOCAL_ADDRESS: the local address outgoing sockets bind to. */
  localAddress: string | null;
  connectTimeoutMs: number;
  /** Name resolution (default dns.lookup, the system resolver); tests inject a rebinding one. */
  resolve?: Resolver;
}

/** dns.lookup with `all: true`. */
export type Resolver = (hostname: string, options: { family: number; all: true }, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

type ConnectOptions = Parameters<buildConnector.connector>[0];
type ConnectCallback = buildConnector.Callback;

/** TLS for deliveries: 1.2 or 1.3 only, the certificate chain and host name always verified. */
export function tlsOptions(extraCa: string | null): ConnectionOptions {
  return { minVersion: 'TLSv1.2', rejectUnauthorized: true, ...(extraCa ? { ca: [...rootCertificates, extraCa] } : {}) };
}

const unbracket = (host: string) => (host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host);

/** A dns.lookup that returns only the addresses the policy allows, or fails with BlockedAddressError. */
function guardedLookup(policy: AddressPolicy, resolve: Resolver) {
  return (hostname: string, options: { all?: boolean; family?: number }, callback: (err: Error | null, address?: string | LookupAddress[], family?: number) => void) => {
    resolve(hostname, { family: options.family ?? 0, all: true }, (err, addresses) => {
      if (err) return callback(err);
      const allowed: LookupAddress[] = [];
      const reasons: string[] = [];
      for (const entry of addresses) {
        const verdict = policy.check(entry.address);
        if (verdict.allowed) allowed.push(entry);
        else reasons.push(verdict.reason);
      }
      if (allowed.length === 0) return callback(new BlockedAddressError(blockedMessage(hostname, reasons)));
      if (options.all) callback(null, allowed);
      else callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}

/** The injected resolver in the shape net.connect's `lookup` expects, without filtering. */
function unguardedLookup(resolve: Resolver) {
  return (hostname: string, options: { all?: boolean; family?: number }, callback: (err: Error | null, address?: string | LookupAddress[], family?: number) => void) => {
    resolve(hostname, { family: options.family ?? 0, all: true }, (err, addresses) => {
      if (err) return callback(err);
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0]?.address, addresses[0]?.family);
    });
  };
}

/** Resolves `hostname` through the guarded lookup to one allowed address (for proxy tunnels). */
function resolveAllowed(policy: AddressPolicy, resolve: Resolver, hostname: string): Promise<string> {
  if (isIP(hostname)) {
    const verdict = policy.check(hostname);
    return verdict.allowed ? Promise.resolve(hostname) : Promise.reject(new BlockedAddressError(blockedMessage(hostname, [verdict.reason])));
  }
  return new Promise((found, reject) => {
    guardedLookup(policy, resolve)(hostname, {}, (err, address) => (err ? reject(err) : found(address as string)));
  });
}

/** Builds undici's `connect` function for a delivery Agent. Also returns what must be closed. */
export function egressConnector(options: EgressOptions): { connect: buildConnector.connector; close(): Promise<void> } {
  const { policy, extraCa, proxy, localAddress, connectTimeoutMs } = options;
  const resolve: Resolver = options.resolve ?? (dnsLookup as Resolver);
  const direct = buildConnector({
    ...tlsOptions(extraCa),
    timeout: connectTimeoutMs,
    ...(policy ? { lookup: guardedLookup(policy, resolve) } : options.resolve ? { lookup: unguardedLookup(options.resolve) } : {}),
  } as buildConnector.BuildOptions);
  // undici passes its own (unset) localAddress to every connect: set ours on each call.
  const bound = (opts: ConnectOptions) => (localAddress ? { ...opts, localAddress } : opts);

  if (!proxy) {
    const connect = (opts: ConnectOptions, callback: ConnectCallback) => {
      const hostname = unbracket(opts.hostname);
      if (policy && isIP(hostname)) {
        // Literal addresses skip DNS, so the lookup never sees them: check them here.
        const verdict = policy.check(hostname);
        if (!verdict.allowed) return callback(new BlockedAddressError(blockedMessage(hostname, [verdict.reason])), null);
      }
      return direct(bound(opts), (err, socket) => {
        if (err || !socket) return callback(err ?? new Error('connection failed'), null);
        if (!policy) return callback(null, socket);
        // Belt and braces: the peer the kernel connected to is one the policy allows.
        const verdict = policy.check((socket as Socket).remoteAddress ?? '');
        if (verdict.allowed) return callback(null, socket);
        socket.destroy();
        callback(new BlockedAddressError(blockedMessage(hostname, [verdict.reason])), null);
      });
    };
    return { connect: connect as buildConnector.connector, close: async () => {} };
  }

  const proxyUrl = new URL(proxy);
  const proxyAuthorization = proxyUrl.username ? `Basic ${Buffer.from(`${decodeURIComponent(proxyUrl.username)}:${decodeURIComponent(proxyUrl.password)}`).toString('base64')}` : null;
  // The proxy itself is the operator's: it may well be on a private network, and is not checked.
  const tunnels = new Pool(proxyUrl.origin, {
    connect: { ...(proxyUrl.protocol === 'https:' ? tlsOptions(extraCa) : {}), timeout: connectTimeoutMs },
    // A proxy that never answers CONNECT fails the connection like a target that never accepts.
    headersTimeout: connectTimeoutMs,
    ...(localAddress ? { localAddress } : {}),
  });
  const connect = (opts: ConnectOptions, callback: ConnectCallback) => {
    const hostname = unbracket(opts.hostname);
    const port = opts.port || (opts.protocol === 'https:' ? '443' : '80');
    void (async () => {
      // Pinned: the proxy is asked for the exact address the policy checked, never for a name it would resolve again.
      const target = policy ? await resolveAllowed(policy, resolve, hostname) : hostname;
      const authority = `${isIP(target) === 6 ? `[${target}]` : target}:${port}`;
      const { socket, statusCode } = await tunnels.connect({
        path: authority,
        headers: { host: authority, ...(proxyAuthorization ? { 'proxy-authorization': proxyAuthorization } : {}) },
      });
      if (statusCode !== 200) {
        socket.on('error', () => {}).destroy();
        throw Object.assign(new Error(`The egress proxy refused the tunnel to ${authority} (HTTP ${statusCode})`), { code: 'HERALD_PROXY_REFUSED' });
      }
      if (opts.protocol !== 'https:') return callback(null, socket as Socket);
      // TLS inside the tunnel, with the endpoint's host name for SNI and certificate checks.
      direct({ ...opts, httpSocket: socket } as ConnectOptions, callback); // bound to the proxy tunnel, no local address
    })().catch((err: Error) => callback(err, null));
  };
  return { connect: connect as buildConnector.connector, close: () => tunnels.close() };
}
