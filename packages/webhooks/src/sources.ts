import { IpRangeList } from './ip.js';

/**
 * Reads a published list of egress addresses: Herald's `GET /files/ips/ips_webhooks.json`, or any
 * document in the same shape (`{"WEBHOOKS": ["203.0.113.7", "2001:db8::/48"]}`, Stripe's format).
 * Pass the result as `allowedSources`. Throws when the document is missing, malformed or empty,
 * so a receiver never starts with an allow-list that lets everything in or nothing.
 */
export async function fetchEgressAddresses(url: string, options: { fetch?: typeof fetch } = {}): Promise<IpRangeList> {
  const response = await (options.fetch ?? fetch)(url, { headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`Fetching egress addresses from ${url} failed: HTTP ${response.status}`);
  const document = (await response.json()) as { WEBHOOKS?: unknown };
  const entries = document?.WEBHOOKS;
  if (!Array.isArray(entries) || !entries.every((e) => typeof e === 'string')) {
    throw new Error(`${url} is not a list of egress addresses (expected {"WEBHOOKS": ["203.0.113.7", …]})`);
  }
  if (entries.length === 0) throw new Error(`${url} lists no egress addresses: the sender publishes none (HERALD_EGRESS_ADDRESSES is unset)`);
  return new IpRangeList(entries as string[]);
}
