import type { ServerResponse } from 'node:http';
import type { HeraldConfig } from '../../config/config.js';

/**
 * The operator's egress addresses (HERALD_EGRESS_ADDRESSES), public and unauthenticated, at the
 * path and in the shape Stripe publishes its own (https://stripe.com/files/ips/ips_webhooks.json),
 * so receivers that allow-list Stripe's addresses read Herald's the same way.
 */
export const EGRESS_ADDRESSES_PATH = '/files/ips/ips_webhooks.json';

export function sendEgressAddresses(res: ServerResponse, config: HeraldConfig): void {
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  // Addresses change rarely; receivers may cache the list a little while.
  res.setHeader('Cache-Control', 'public, max-age=300');
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.end(JSON.stringify({ WEBHOOKS: config.egressAddresses }));
}
