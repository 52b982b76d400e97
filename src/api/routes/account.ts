import { toUnixSeconds } from '../../domain/clock.js';
import { errors } from '../../domain/errors.js';
import type { RequestContext } from '../app.js';
import type { Router } from '../http.js';
import { Params } from '../params.js';
import { findEndpoint } from './webhook-endpoints.js';
import { checkApiVersion } from '../api-versions.js';
import type { Account } from '../../domain/types.js';

/**
 * Herald's extensions around the account: who the key belongs to (Stripe's `GET /v1/account`),
 * the event types this installation knows, and an endpoint's current signing secrets.
 */
export function accountRoutes(router: Router<RequestContext>): void {
  router
    .add('GET', '/v1/account', retrieveAccount)
    .add('POST', '/v1/account', updateAccount)
    .add('GET', '/v1/event_types', listEventTypes)
    .add('GET', '/v1/webhook_endpoints/:id/secret', revealSecret);
}

async function retrieveAccount(ctx: RequestContext) {
  new Params(ctx.params, []);
  return accountObject(ctx, ctx.account);
}

/**
 * Herald's extension: `default_api_version` changes the version of events published without one
 * and of endpoints that name none, for events created from now on (events never change).
 */
async function updateAccount(ctx: RequestContext) {
  const p = new Params(ctx.params, ['default_api_version']);
  const version = p.string('default_api_version');
  if (version === undefined || version === null) return accountObject(ctx, ctx.account);
  checkApiVersion(ctx, version, 'default_api_version');
  await ctx.deps.store.setDefaultApiVersion(ctx.account.id, version);
  ctx.deps.apiKeys.forget(); // the next request, a publish without a version above all, sees the new default
  return accountObject(ctx, { ...ctx.account, defaultApiVersion: version });
}

function accountObject(ctx: RequestContext, account: Account) {
  return {
    body: {
      id: account.id,
      object: 'account',
      created: toUnixSeconds(account.created),
      settings: { dashboard: { display_name: account.name } },
      default_api_version: account.defaultApiVersion,
      livemode: ctx.mode === 'live',
    },
  };
}

/** Every type `enabled_events` accepts, sorted; one list (a few hundred short strings). */
async function listEventTypes(ctx: RequestContext) {
  new Params(ctx.params, []);
  const data = ctx.deps.catalog.all().map((id) => ({ id, object: 'event_type' }));
  return { body: { object: 'list', data, has_more: false, url: '/v1/event_types' } };
}

/**
 * The secrets deliveries are signed with now: the current one first, then rolled ones until they
 * expire. Stripe shows the secret only on creation; Herald's dashboard reveals it on demand.
 */
async function revealSecret(ctx: RequestContext, path: Record<string, string>) {
  new Params(ctx.params, []);
  const endpoint = await findEndpoint(ctx, path.id!);
  // A signing secret lets its holder forge deliveries: more than a read-only key may have.
  if (ctx.apiKey.kind === 'restricted') throw errors.restrictedKeySecret(ctx.apiKey.key, ctx.account.id);
  const secrets = await ctx.deps.store.activeSecrets(endpoint.id, ctx.now);
  const [current, ...previous] = secrets;
  return {
    body: {
      object: 'webhook_endpoint_secret',
      webhook_endpoint: endpoint.id,
      secret: current?.secret ?? null,
      created: current ? toUnixSeconds(current.created) : null,
      expiring: previous.map((s) => ({ secret: s.secret, created: toUnixSeconds(s.created), expires_at: s.expiresAt === null ? null : toUnixSeconds(s.expiresAt) })),
      livemode: ctx.mode === 'live',
    },
  };
}
