import { toUnixSeconds } from '../../domain/clock.js';
import { errors } from '../../domain/errors.js';
import { newId } from '../../domain/ids.js';
import type { ConnectedAccount } from '../../domain/types.js';
import type { RequestContext } from '../app.js';
import type { Router } from '../http.js';
import { Params } from '../params.js';
import { listObject, PAGE_PARAMS, readPage } from './lists.js';

const CONNECTED_ACCOUNT_ID = /^acct_[A-Za-z0-9]{1,64}$/;

/**
 * Connect: a platform account's connected accounts (`stripe.accounts.create/retrieve/list`). They
 * exist in both modes, as in Stripe; their events go to the platform's `connect` endpoints. An id
 * is looked up only among the platform's own connected accounts, so another platform's answers
 * exactly as a missing one.
 */
export function connectedAccountRoutes(router: Router<RequestContext>): void {
  router
    .add('POST', '/v1/accounts', create)
    .add('GET', '/v1/accounts', list)
    .add('GET', '/v1/accounts/:id', retrieve);
}

/** Stripe's Account object, with the fields Herald keeps. */
export function connectedAccountObject(account: ConnectedAccount): Record<string, unknown> {
  return {
    id: account.id,
    object: 'account',
    business_profile: { name: account.name },
    created: toUnixSeconds(account.created),
    email: account.email,
    settings: { dashboard: { display_name: account.name } },
    type: 'custom',
  };
}

async function create(ctx: RequestContext) {
  const p = new Params(ctx.params, ['email', 'business_profile', 'type']);
  const type = p.string('type');
  if (type != null && type !== 'custom' && type !== 'express' && type !== 'standard') {
    throw errors.parameterInvalid('type', `Invalid type: '${type}'; must be custom, express or standard.`);
  }
  const profile = p.object('business_profile') ?? {};
  for (const key of Object.keys(profile)) if (key !== 'name') throw errors.parameterUnknown(`business_profile[${key}]`);
  const name = profile.name;
  if (name !== undefined && name !== null && (typeof name !== 'string' || name.length > 200)) {
    throw errors.parameterInvalid('business_profile[name]', 'Invalid business_profile[name]: must be a string of at most 200 characters.');
  }
  const account: ConnectedAccount = {
    id: newId.account(),
    platformAccountId: ctx.account.id,
    name: typeof name === 'string' && name !== '' ? name : null,
    email: p.string('email', { maxLength: 500 }) ?? null,
    created: ctx.now,
  };
  await ctx.deps.store.ensureConnectedAccount(account);
  return { body: connectedAccountObject(account) };
}

async function list(ctx: RequestContext) {
  const p = new Params(ctx.params, [...PAGE_PARAMS]);
  const request = readPage(p);
  const page = await ctx.deps.store.listConnectedAccounts(ctx.account.id, request);
  return { body: listObject(page, request, '/v1/accounts', 'account', connectedAccountObject) };
}

async function retrieve(ctx: RequestContext, path: Record<string, string>) {
  new Params(ctx.params, []);
  const account = await ctx.deps.store.getConnectedAccount(ctx.account.id, path.id!);
  if (!account) throw errors.resourceMissing('account', path.id!);
  return { body: connectedAccountObject(account) };
}

/**
 * The connected account an event is published for (`account` parameter or `Stripe-Account`
 * header). Live mode: only the platform's own registered connected accounts (POST /v1/accounts,
 * `herald accounts create --platform`). Test mode also takes an unregistered id, as a label on the
 * platform's own events, so simulations (`herald trigger --stripe-account`, fixtures inventing
 * accounts) work without a setup step; nothing is registered by it. Either way the event belongs
 * to the platform and reaches only its `connect` endpoints: another platform's connected account
 * id is, here, an unknown id like any other, and answers the same.
 */
export async function resolveConnectedAccount(ctx: RequestContext, id: string, param: string | undefined): Promise<string> {
  if (!CONNECTED_ACCOUNT_ID.test(id)) {
    throw errors.parameterInvalid(param ?? 'Stripe-Account', `Invalid ${param ?? 'Stripe-Account header'}: '${id.slice(0, 80)}' is not a connected account id (acct_…).`);
  }
  if (ctx.mode === 'live' && !(await ctx.deps.store.getConnectedAccount(ctx.account.id, id))) throw errors.accountInvalid(ctx.apiKey.key, id, param);
  return id;
}
