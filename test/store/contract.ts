import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { asDestination, relatedObjectOf } from '../../src/domain/destinations.js';
import { newId } from '../../src/domain/ids.js';
import { renderEventPayload } from '../../src/domain/objects.js';
import type { DeliveryAttempt, EndpointSecret, Mode, PageRequest, StoredEvent, WebhookEndpoint } from '../../src/domain/types.js';
import type { AttemptResult, ClaimedDelivery, PublishedEvent, Store } from '../../src/store/store.js';
import { idempotencyOwner, prepareSecretsAtRest, rotateSecretsAtRest, SEALED_PREFIX, SecretCipher, withSecretEncryption } from '../../src/store/secret-encryption.js';
import { randomBytes } from 'node:crypto';

/** An attempt at `claim` as the worker would log it, and the results the worker records with it. */
export function attemptFor(claim: ClaimedDelivery, outcome: 'succeeded' | 'failed', at: number, nextRetryAt: number | null = null): DeliveryAttempt {
  return {
    id: newId.attempt(),
    deliveryId: claim.deliveryId,
    eventId: claim.event.id,
    endpointId: claim.endpoint.id,
    accountId: claim.endpoint.accountId,
    mode: claim.endpoint.mode,
    kind: claim.kind,
    attemptNumber: claim.attemptNumber,
    url: claim.endpoint.url,
    created: at,
    durationMs: 12,
    outcome,
    failureKind: outcome === 'failed' ? 'http_error' : null,
    failureMessage: outcome === 'failed' ? 'HTTP 500' : null,
    httpStatus: outcome === 'failed' ? 500 : 200,
    requestHeaders: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': 't=1,v1=abc' },
    responseHeaders: { 'content-type': 'text/plain' },
    responseBody: outcome === 'failed' ? 'boom' : 'ok',
    requestBody: claim.event.dataJson,
    nextRetryAt,
  };
}

export const succeed = (claim: ClaimedDelivery, at: number): AttemptResult => ({ claim, attempt: attemptFor(claim, 'succeeded', at), next: { state: 'succeeded' } });
export const retryAt = (claim: ClaimedDelivery, at: number, nextAt: number): AttemptResult => ({
  claim,
  attempt: attemptFor(claim, 'failed', at, nextAt),
  next: { state: 'pending', at: nextAt, scheduleStep: claim.scheduleStep + 1 },
});
export const giveUp = (claim: ClaimedDelivery, at: number): AttemptResult => ({ claim, attempt: attemptFor(claim, 'failed', at), next: { state: 'failed' } });

/**
 * The behaviour every Store must have, written once and run against each implementation
 * (test/store/sqlite.test.ts, test/store/postgres.test.ts). Time is passed in explicitly, so
 * leases, retries and expiry are tested without waiting.
 */
export function storeContract(name: string, makeStore: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    const opened: Store[] = [];
    const open = async () => {
      const store = await makeStore();
      opened.push(store);
      return store;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    const T0 = 1_800_000_000_000;
    const LEASE = 30_000;
    const HEALTH = { disableAfterMs: 3 * 86_400_000 };
    const DAY_MS = 86_400_000;

    let accountCounter = 0;
    async function account(store: Store) {
      const id = `acct_contract${++accountCounter}${Math.random().toString(36).slice(2, 8)}`;
      await store.createAccount({ id, name: 'Contract', applicationId: newId.application(), defaultApiVersion: '2026-10-28.endive', created: T0 });
      return id;
    }

    function endpoint(accountId: string, overrides: Partial<WebhookEndpoint> = {}): WebhookEndpoint {
      const base: WebhookEndpoint = {
        id: newId.endpoint(),
        accountId,
        mode: 'test',
        url: 'https://example.com/hook',
        enabledEvents: ['*'],
        apiVersion: null,
        connect: false,
        description: null,
        metadata: {},
        signatureSchemes: ['stripe'],
        status: 'enabled',
        disabledReason: null,
        disabledAt: null,
        failingSince: null,
        lastSuccessAt: null,
        created: T0,
        ...overrides,
      };
      // The destination fields as the stores fill them in (a v1 webhook endpoint unless overridden).
      return asDestination(base);
    }

    const secret = (value = `whsec_${Math.random().toString(36).slice(2)}`, created = T0): EndpointSecret => ({ secret: value, created, expiresAt: null });

    async function addEndpoint(store: Store, accountId: string, overrides: Partial<WebhookEndpoint> = {}, secretValue?: string) {
      const e = endpoint(accountId, overrides);
      assert.equal(await store.createEndpoint(e, secret(secretValue, e.created), 100), 'created');
      return e;
    }

    function event(accountId: string, overrides: Partial<PublishedEvent> = {}): PublishedEvent {
      const base: PublishedEvent = {
        id: newId.event(),
        accountId,
        mode: 'test',
        type: 'payment_intent.succeeded',
        account: null,
        apiVersion: '2026-10-28.endive',
        created: T0,
        data: { object: { id: 'pi_1', object: 'payment_intent', amount: 2000 } },
        request: { id: null, idempotency_key: null },
        ...overrides,
      };
      return { accountApiVersion: base.apiVersion, relatedObject: relatedObjectOf(base), ...base };
    }

    async function claimAll(store: Store, now: number, limit = 1000) {
      return store.claimDueDeliveries(now, limit, LEASE);
    }

    // Accounts and keys ----------------------------------------------------------------------

    test('the default account is created once and then found', async () => {
      const store = await open();
      const init = { id: newId.account(), name: 'Default account', applicationId: newId.application(), defaultApiVersion: '2026-10-28.endive', created: T0 };
      assert.deepEqual(await store.ensureDefaultAccount(init), { account: init, created: true });
      const again = await store.ensureDefaultAccount({ ...init, id: newId.account() });
      assert.deepEqual(again, { account: init, created: false });
      assert.deepEqual(await store.getAccount(init.id), init);
      assert.equal(await store.getAccount('acct_missing'), null);
    });

    test('an API key belongs to one account and mode; setting a new one replaces the old', async () => {
      const store = await open();
      const a = await account(store);
      await store.setApiKey(a, 'test', 'hash-test-1', T0);
      await store.setApiKey(a, 'live', 'hash-live-1', T0);
      assert.deepEqual(await store.findApiKeyOwner('hash-test-1'), { accountId: a, mode: 'test', kind: 'secret' });
      await store.setApiKey(a, 'test', 'hash-test-2', T0 + 1);
      assert.equal(await store.findApiKeyOwner('hash-test-1'), null);
      assert.deepEqual(await store.findApiKeyOwner('hash-test-2'), { accountId: a, mode: 'test', kind: 'secret' });
      assert.deepEqual(await store.findApiKeyOwner('hash-live-1'), { accountId: a, mode: 'live', kind: 'secret' });
      await store.setApiKey(a, 'test', 'hash-test-2', T0 + 2); // setting the same key again is harmless
      assert.deepEqual(await store.findApiKeyOwner('hash-test-2'), { accountId: a, mode: 'test', kind: 'secret' });
    });

    test('restricted keys sit beside the secret key: several per mode, untouched when the secret key is rolled', async () => {
      const store = await open();
      const a = await account(store);
      await store.setApiKey(a, 'test', 'hash-sk', T0);
      await store.addRestrictedApiKey(a, 'test', 'hash-rk-1', T0);
      await store.addRestrictedApiKey(a, 'live', 'hash-rk-2', T0);
      await store.setApiKey(a, 'test', 'hash-sk-2', T0 + 1);
      assert.deepEqual(await store.findApiKeyOwner('hash-rk-1'), { accountId: a, mode: 'test', kind: 'restricted' });
      assert.deepEqual(await store.findApiKeyOwner('hash-rk-2'), { accountId: a, mode: 'live', kind: 'restricted' });
      assert.deepEqual(await store.findApiKeyOwner('hash-sk-2'), { accountId: a, mode: 'test', kind: 'secret' });
      assert.equal(await store.findApiKeyOwner('hash-sk'), null);
    });

    test('accounts are listed oldest first', async () => {
      const store = await open();
      const a = await account(store);
      const b = await account(store);
      const ids = (await store.listAccounts()).map((x) => x.id);
      assert.ok(ids.indexOf(a) !== -1 && ids.indexOf(a) < ids.indexOf(b));
    });

    test('connected accounts live within their platform: the same id elsewhere is another account or none', async () => {
      const store = await open();
      const p1 = await account(store);
      const p2 = await account(store);
      const c = { id: newId.account(), platformAccountId: p1, name: 'Driver', email: 'd@example.com', created: T0 };
      assert.deepEqual(await store.ensureConnectedAccount(c), { account: c, created: true });
      assert.deepEqual(await store.ensureConnectedAccount({ ...c, name: 'Other name' }), { account: c, created: false });
      assert.deepEqual(await store.getConnectedAccount(p1, c.id), c);
      assert.equal(await store.getConnectedAccount(p2, c.id), null);
      const theirs = { ...c, platformAccountId: p2, name: null, email: null };
      assert.equal((await store.ensureConnectedAccount(theirs)).created, true, "p2's namespace is its own");
      assert.deepEqual(await store.getConnectedAccount(p1, c.id), c, "p1's row is untouched");
      const more = [];
      for (let i = 0; i < 3; i++) {
        const m = { id: newId.account(), platformAccountId: p1, name: null, email: null, created: T0 + i + 1 };
        await store.ensureConnectedAccount(m);
        more.push(m.id);
      }
      const first = await store.listConnectedAccounts(p1, { limit: 2 });
      assert.deepEqual(first.data.map((x) => x.id), [more[2], more[1]]);
      assert.equal(first.hasMore, true);
      const rest = await store.listConnectedAccounts(p1, { limit: 10, startingAfter: more[1] });
      assert.deepEqual(rest.data.map((x) => x.id), [more[0], c.id]);
      assert.deepEqual((await store.listConnectedAccounts(p2, { limit: 10 })).data.map((x) => x.id), [c.id]);
      assert.equal((await store.listConnectedAccounts(p2, { limit: 10, startingAfter: more[0] })).missingCursor, true);
    });

    test("events can be listed for one connected account", async () => {
      const store = await open();
      const a = await account(store);
      const [own, c1, c2] = await store.publishEvents([event(a), event(a, { account: 'acct_c1' }), event(a, { account: 'acct_c2' })]);
      const list = async (connectedAccount?: string) =>
        (await store.listEvents(a, 'test', { notBefore: 0, ...(connectedAccount ? { connectedAccount } : {}) }, { limit: 10 })).data.map((e) => e.id);
      assert.deepEqual(await list(), [c2!.id, c1!.id, own!.id]);
      assert.deepEqual(await list('acct_c1'), [c1!.id]);
      assert.deepEqual(await list('acct_none'), []);
    });

    test('rewriteSecrets rewrites every endpoint and listen secret in one transaction, or none', async () => {
      const store = await open();
      const a = await account(store);
      const e1 = await addEndpoint(store, a, {}, 'whsec_one');
      await store.rollSecret(e1.id, secret('whsec_two', T0 + 1), T0 + 3_600_000);
      const e2 = await addEndpoint(store, a, {}, 'whsec_three');
      await store.openListenSession({ id: 'lsn_rewrite1', accountId: a, mode: 'test', secret: 'whsec_listen', enabledEvents: ['*'], created: T0 });
      const seen: string[] = [];
      const changed = await store.rewriteSecrets((stored, owner) => {
        seen.push(`${owner}:${stored}`);
        return stored === 'whsec_three' ? stored : `x${stored}`;
      });
      assert.ok(seen.includes(`${e1.id}:whsec_one`) && seen.includes(`${e1.id}:whsec_two`) && seen.includes(`${e2.id}:whsec_three`) && seen.includes('lsn_rewrite1:whsec_listen'));
      assert.ok(changed >= 3);
      assert.deepEqual((await store.activeSecrets(e1.id, T0 + 2)).map((s) => s.secret), ['xwhsec_two', 'xwhsec_one']);
      assert.deepEqual((await store.activeSecrets(e2.id, T0 + 2)).map((s) => s.secret), ['whsec_three']);
      assert.equal((await store.getListenSession(a, 'test', 'lsn_rewrite1'))!.secret, 'xwhsec_listen');
      await assert.rejects(
        store.rewriteSecrets((stored) => {
          if (stored === 'whsec_three') throw new Error('stop');
          return `y${stored}`;
        }),
        /stop/,
      );
      assert.deepEqual((await store.activeSecrets(e1.id, T0 + 2)).map((s) => s.secret), ['xwhsec_two', 'xwhsec_one'], 'a failed rewrite changes nothing');

      // Kept idempotent responses are visited too, narrowed to sealed or plaintext ones on request.
      const req = (key: string) => ({ accountId: a, mode: 'test' as Mode, key, requestHash: 'h', now: T0, lockMs: 60_000 });
      for (const [key, body] of [['plain', '{"secret":"whsec_r"}'], ['sealed', `${SEALED_PREFIX}abcd0123:xyz`]] as const) {
        assert.equal((await store.beginIdempotentRequest(req(key))).kind, 'proceed');
        await store.completeIdempotentRequest(req(key), 200, body, T0 + 86_400_000);
      }
      const visited = async (responses: 'all' | 'sealed' | 'plaintext') => {
        const owners: string[] = [];
        await store.rewriteSecrets((stored, owner) => (owner.startsWith('idempotency:') && owners.push(`${owner}=${stored}`), stored), { responses });
        return owners.sort();
      };
      const plainRow = `${idempotencyOwner(a, 'test', 'plain')}={"secret":"whsec_r"}`;
      const sealedRow = `${idempotencyOwner(a, 'test', 'sealed')}=${SEALED_PREFIX}abcd0123:xyz`;
      assert.deepEqual(await visited('plaintext'), [plainRow]);
      assert.deepEqual(await visited('sealed'), [sealedRow]);
      assert.deepEqual(await visited('all'), [plainRow, sealedRow].sort());
      await store.rewriteSecrets((stored, owner) => (owner === idempotencyOwner(a, 'test', 'plain') ? '{"rewritten":true}' : stored));
      assert.deepEqual(await store.beginIdempotentRequest(req('plain')), { kind: 'replay', status: 200, body: '{"rewritten":true}' });
    });

    test('with encryption at rest, secrets go in sealed and come out as they were given', async () => {
      const raw = await open();
      const oldKey = randomBytes(32);
      const cipher = new SecretCipher([oldKey]);
      const store = withSecretEncryption(raw, cipher);
      const a = await account(store);
      const e = await addEndpoint(store, a, {}, 'whsec_plain1');
      await store.rollSecret(e.id, secret('whsec_plain2', T0 + 1), T0 + 3_600_000);
      assert.deepEqual((await store.activeSecrets(e.id, T0 + 2)).map((s) => s.secret), ['whsec_plain2', 'whsec_plain1']);
      const stored = (await raw.activeSecrets(e.id, T0 + 2)).map((s) => s.secret);
      assert.ok(stored.every((s) => s.startsWith(`herald:v1:${cipher.sealingKeyId}:`) && !s.includes('whsec_')), stored.join());
      await store.publishEvents([event(a)]);
      const [claim] = await store.claimDueDeliveries(T0 + 2, 10, LEASE);
      assert.deepEqual(claim!.secrets, ['whsec_plain2', 'whsec_plain1']);
      const session = await store.openListenSession({ id: 'lsn_sealed1', accountId: a, mode: 'test', secret: 'whsec_listen1', enabledEvents: ['*'], created: T0 });
      assert.equal(session.secret, 'whsec_listen1');
      assert.equal((await store.openListenSession({ ...session, id: 'lsn_other', secret: 'whsec_new' })).secret, 'whsec_listen1', 'reopened: the same secret');
      assert.equal((await store.getListenSession(a, 'test', session.id))!.secret, 'whsec_listen1');
      assert.match((await raw.getListenSession(a, 'test', session.id))!.secret, /^herald:v1:/);
      // Rotation: a ring with a new first key re-seals everything; the old key alone then fails.
      const next = new SecretCipher([randomBytes(32), oldKey]);
      assert.ok((await rotateSecretsAtRest(raw, next)) >= 3);
      assert.deepEqual((await withSecretEncryption(raw, next).activeSecrets(e.id, T0 + 2)).map((s) => s.secret), ['whsec_plain2', 'whsec_plain1']);
      assert.ok((await raw.activeSecrets(e.id, T0 + 2)).every((s) => s.secret.startsWith(`herald:v1:${next.sealingKeyId}:`)));
      await assert.rejects(prepareSecretsAtRest(raw, cipher), /not among HERALD_ENCRYPTION_KEY/);
      await assert.rejects(prepareSecretsAtRest(raw, null), /HERALD_ENCRYPTION_KEY is not set/);
    });

    // Endpoints ------------------------------------------------------------------------------

    test('endpoint CRUD keeps every field and stays within its account and mode', async () => {
      const store = await open();
      const a = await account(store);
      const other = await account(store);
      const e = await addEndpoint(store, a, {
        enabledEvents: ['charge.succeeded', 'invoice.paid'],
        apiVersion: '2024-06-20',
        description: 'orders',
        metadata: { zeta: '1', alpha: '2' },
        connect: true,
      });
      assert.deepEqual(await store.getEndpoint(a, 'test', e.id), e);
      assert.deepEqual(Object.keys((await store.getEndpoint(a, 'test', e.id))!.metadata), ['zeta', 'alpha'], 'metadata keeps its key order');
      assert.equal(await store.getEndpoint(a, 'live', e.id), null);
      assert.equal(await store.getEndpoint(other, 'test', e.id), null);
      assert.equal(await store.findEndpointMode(a, e.id), 'test');
      assert.equal(await store.findEndpointMode(other, e.id), null);

      const updated: WebhookEndpoint = { ...e, url: 'https://example.com/v2', enabledEvents: ['*'], description: null, metadata: { k: 'v' }, status: 'disabled', disabledAt: T0 + 5 };
      assert.equal(await store.updateEndpoint(updated), true);
      assert.deepEqual(await store.getEndpoint(a, 'test', e.id), updated);
      assert.equal(await store.updateEndpoint({ ...updated, accountId: other }), false, 'another account cannot update it');

      assert.equal(await store.deleteEndpoint(other, 'test', e.id, T0 + 6), false);
      assert.equal(await store.deleteEndpoint(a, 'test', e.id, T0 + 6), true);
      assert.equal(await store.deleteEndpoint(a, 'test', e.id, T0 + 7), false, 'deleting twice');
      assert.equal(await store.getEndpoint(a, 'test', e.id), null);
      assert.equal(await store.findEndpointMode(a, e.id), null);
      assert.equal(await store.updateEndpoint(updated), false, 'a deleted endpoint cannot be updated');
    });

    test('the endpoint limit counts live endpoints of one account and mode', async () => {
      const store = await open();
      const a = await account(store);
      const first = endpoint(a);
      assert.equal(await store.createEndpoint(first, secret(), 2), 'created');
      assert.equal(await store.createEndpoint(endpoint(a), secret(), 2), 'created');
      assert.equal(await store.createEndpoint(endpoint(a), secret(), 2), 'limit_reached');
      assert.equal(await store.createEndpoint(endpoint(a, { mode: 'live' }), secret(), 2), 'created', 'the other mode has its own limit');
      assert.equal(await store.createEndpoint(endpoint(await account(store)), secret(), 2), 'created', 'another account has its own limit');
      await store.updateEndpoint({ ...first, status: 'disabled' });
      assert.equal(await store.createEndpoint(endpoint(a), secret(), 2), 'limit_reached', 'disabled endpoints count');
      await store.deleteEndpoint(a, 'test', first.id, T0);
      assert.equal(await store.createEndpoint(endpoint(a), secret(), 2), 'created', 'deleted endpoints do not count');
      const page = await store.listEndpoints(a, 'test', { limit: 10 });
      assert.equal(page.data.length, 2);
    });

    test('endpoints list newest first with cursors both ways', async () => {
      const store = await open();
      const a = await account(store);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await addEndpoint(store, a, { created: T0 + i })).id);
      await addEndpoint(store, a, { mode: 'live' });
      const newestFirst = [...ids].reverse();
      const first = await store.listEndpoints(a, 'test', { limit: 2 });
      assert.deepEqual(first.data.map((e) => e.id), newestFirst.slice(0, 2));
      assert.equal(first.hasMore, true);
      const second = await store.listEndpoints(a, 'test', { limit: 2, startingAfter: newestFirst[1] });
      assert.deepEqual(second.data.map((e) => e.id), newestFirst.slice(2, 4));
      assert.equal(second.hasMore, true);
      const last = await store.listEndpoints(a, 'test', { limit: 2, startingAfter: newestFirst[3] });
      assert.deepEqual(last.data.map((e) => e.id), newestFirst.slice(4));
      assert.equal(last.hasMore, false);
      const before = await store.listEndpoints(a, 'test', { limit: 2, endingBefore: newestFirst[4] });
      assert.deepEqual(before.data.map((e) => e.id), newestFirst.slice(2, 4), 'ending_before pages backwards, still newest first');
      assert.equal(before.hasMore, true);
      const missing = await store.listEndpoints(a, 'test', { limit: 2, startingAfter: 'we_missing' });
      assert.equal(missing.missingCursor, true);
      const otherAccount = await store.listEndpoints(await account(store), 'test', { limit: 2, startingAfter: ids[0] });
      assert.equal(otherAccount.missingCursor, true, "another account's endpoint is no cursor");
    });

    test('rolling a secret keeps the old one until it expires', async () => {
      const store = await open();
      const a = await account(store);
      const e = await addEndpoint(store, a, {}, 'whsec_one');
      assert.deepEqual(await store.activeSecrets(e.id, T0), [{ secret: 'whsec_one', created: T0, expiresAt: null }]);

      await store.rollSecret(e.id, { secret: 'whsec_two', created: T0 + 1000, expiresAt: null }, T0 + 10_000);
      assert.deepEqual((await store.activeSecrets(e.id, T0 + 1000)).map((s) => [s.secret, s.expiresAt]), [
        ['whsec_two', null],
        ['whsec_one', T0 + 10_000],
      ]);
      // A second roll: the previous current secret gets the new expiry, the oldest keeps its own.
      await store.rollSecret(e.id, { secret: 'whsec_three', created: T0 + 2000, expiresAt: null }, T0 + 50_000);
      assert.deepEqual((await store.activeSecrets(e.id, T0 + 2000)).map((s) => [s.secret, s.expiresAt]), [
        ['whsec_three', null],
        ['whsec_two', T0 + 50_000],
        ['whsec_one', T0 + 10_000],
      ]);
      assert.deepEqual((await store.activeSecrets(e.id, T0 + 10_000)).map((s) => s.secret), ['whsec_three', 'whsec_two']);
      assert.deepEqual((await store.activeSecrets(e.id, T0 + 50_000)).map((s) => s.secret), ['whsec_three']);
      // Rolling with immediate expiry drops the old secret at once.
      await store.rollSecret(e.id, { secret: 'whsec_four', created: T0 + 60_000, expiresAt: null }, T0 + 60_000);
      assert.deepEqual((await store.activeSecrets(e.id, T0 + 60_000)).map((s) => s.secret), ['whsec_four']);
    });

    // Events ---------------------------------------------------------------------------------

    test('publishing fans out to every enabled endpoint that wants the event', async () => {
      const store = await open();
      const a = await account(store);
      const all = await addEndpoint(store, a, { enabledEvents: ['*'] });
      const exact = await addEndpoint(store, a, { enabledEvents: ['payment_intent.succeeded'] });
      const otherType = await addEndpoint(store, a, { enabledEvents: ['charge.failed'] });
      const connect = await addEndpoint(store, a, { enabledEvents: ['*'], connect: true });
      const disabled = await addEndpoint(store, a, { enabledEvents: ['*'], status: 'disabled' });
      const live = await addEndpoint(store, a, { enabledEvents: ['*'], mode: 'live' });
      const deleted = await addEndpoint(store, a, { enabledEvents: ['*'] });
      await store.deleteEndpoint(a, 'test', deleted.id, T0);
      const foreign = await addEndpoint(store, await account(store), { enabledEvents: ['*'] });

      const [plain, connected, charge] = await store.publishEvents([
        event(a),
        event(a, { account: 'acct_connected1' }),
        event(a, { type: 'charge.failed' }),
      ]);
      assert.equal(plain!.pendingWebhooks, 2);
      assert.equal(connected!.pendingWebhooks, 1);
      assert.equal(charge!.pendingWebhooks, 2);
      assert.equal((await store.getEvent(a, 'test', plain!.id))!.pendingWebhooks, 2);

      const claims = await claimAll(store, T0);
      const targets = (eventId: string) => claims.filter((c) => c.event.id === eventId).map((c) => c.endpoint.id).sort();
      assert.deepEqual(targets(plain!.id), [all.id, exact.id].sort());
      assert.deepEqual(targets(connected!.id), [connect.id]);
      assert.deepEqual(targets(charge!.id), [all.id, otherType.id].sort());
      const reached = new Set(claims.map((c) => c.endpoint.id));
      for (const e of [disabled, live, deleted, foreign]) assert.equal(reached.has(e.id), false);
      assert.equal(claims.length, 5);
    });

    test('a stored event reads back exactly as published, within its account and mode only', async () => {
      const store = await open();
      const a = await account(store);
      const published = event(a, {
        account: 'acct_conn',
        data: { object: { id: 'cus_1', object: 'customer', nested: { z: 1, a: [1, 2, { b: null }] }, unicode: 'é✓' }, previous_attributes: { email: null } },
        request: { id: 'req_1', idempotency_key: 'idem-1' },
      });
      const [stored] = await store.publishEvents([published]);
      assert.deepEqual(stored, { ...published, pendingWebhooks: 0 });
      assert.deepEqual(await store.getEvent(a, 'test', published.id), { ...published, pendingWebhooks: 0 });
      assert.equal(await store.getEvent(a, 'live', published.id), null);
      assert.equal(await store.getEvent(await account(store), 'test', published.id), null);
      assert.equal(await store.findEventMode(a, published.id), 'test');
      assert.equal(await store.findEventMode(a, 'evt_missing'), null);
      assert.deepEqual(await store.publishEvents([]), []);
    });

    test('events list with filters and cursors both ways', async () => {
      const store = await open();
      const a = await account(store);
      await addEndpoint(store, a, { enabledEvents: ['invoice.paid'] });
      const types = ['charge.succeeded', 'charge.failed', 'invoice.paid', 'customer.created', 'charge_x.succeeded', 'invoice.paid'];
      const published: StoredEvent[] = [];
      for (const [i, type] of types.entries()) published.push(...(await store.publishEvents([event(a, { type, created: T0 + i * 1000 })])));
      await store.publishEvents([event(a, { mode: 'live', created: T0 })]);
      const ids = (page: { data: StoredEvent[] }) => page.data.map((e) => e.id);
      const byIndex = (...indexes: number[]) => indexes.map((i) => published[i]!.id);
      const list = (filter: Partial<Parameters<Store['listEvents']>[2]>, page: PageRequest = { limit: 10 }) => store.listEvents(a, 'test', { notBefore: 0, ...filter }, page);

      assert.deepEqual(ids(await list({})), byIndex(5, 4, 3, 2, 1, 0));
      assert.deepEqual(ids(await list({ type: 'charge.succeeded' })), byIndex(0));
      assert.deepEqual(ids(await list({ type: 'charge.*' })), byIndex(1, 0), '`*` matches within the pattern; `_` is no wildcard');
      assert.deepEqual(ids(await list({ type: '*.succeeded' })), byIndex(4, 0));
      assert.deepEqual(ids(await list({ types: ['invoice.paid', 'customer.created'] })), byIndex(5, 3, 2));
      assert.deepEqual(ids(await list({ createdGte: T0 + 1000, createdLt: T0 + 3000 })), byIndex(2, 1));
      assert.deepEqual(ids(await list({ notBefore: T0 + 4000 })), byIndex(5, 4));
      assert.deepEqual(ids(await list({ deliverySuccess: false })), byIndex(5, 2), 'events still waiting for an endpoint');
      assert.deepEqual(ids(await list({ deliverySuccess: true })), byIndex(4, 3, 1, 0));

      const first = await list({}, { limit: 2 });
      assert.deepEqual(ids(first), byIndex(5, 4));
      assert.equal(first.hasMore, true);
      const next = await list({}, { limit: 2, startingAfter: published[4]!.id });
      assert.deepEqual(ids(next), byIndex(3, 2));
      const tail = await list({}, { limit: 5, startingAfter: published[2]!.id });
      assert.deepEqual(ids(tail), byIndex(1, 0));
      assert.equal(tail.hasMore, false);
      const back = await list({}, { limit: 2, endingBefore: published[1]!.id });
      assert.deepEqual(ids(back), byIndex(3, 2));
      assert.equal(back.hasMore, true);
      const backToTop = await list({}, { limit: 5, endingBefore: published[3]!.id });
      assert.deepEqual(ids(backToTop), byIndex(5, 4));
      assert.equal(backToTop.hasMore, false);
      assert.equal((await list({}, { limit: 2, startingAfter: 'evt_missing' })).missingCursor, true);
      const filteredCursor = await list({ type: 'charge.*' }, { limit: 2, startingAfter: published[1]!.id });
      assert.deepEqual(ids(filteredCursor), byIndex(0));
    });

    // Claiming -------------------------------------------------------------------------------

    test('claims take due deliveries only, oldest first, up to the limit, with event and secrets', async () => {
      const store = await open();
      const a = await account(store);
      const e = await addEndpoint(store, a, {}, 'whsec_claims');
      const early = event(a, { created: T0, data: { object: { id: 'pi_early', b: 2, a: 1 } } });
      const later = event(a, { created: T0 + 5000 });
      await store.publishEvents([later, early]);
      assert.equal(await store.nextDueTime(), T0);
      assert.deepEqual(await claimAll(store, T0 - 1), [], 'nothing is due before its time');

      const [claim, ...rest] = await store.claimDueDeliveries(T0 + 10_000, 1, LEASE);
      assert.equal(rest.length, 0, 'the limit holds');
      assert.equal(claim!.event.id, early.id, 'the earliest due goes first');
      assert.equal(claim!.kind, 'automatic');
      assert.equal(claim!.attemptNumber, 1);
      assert.equal(claim!.scheduleStep, 0);
      assert.deepEqual(claim!.secrets, ['whsec_claims']);
      assert.deepEqual(claim!.endpoint, e);
      assert.equal(claim!.event.dataJson, JSON.stringify(early.data), 'the data JSON text is handed over as stored');
      assert.equal(claim!.event.type, early.type);
      assert.equal(typeof claim!.leaseToken, 'string');

      const second = await claimAll(store, T0 + 10_000);
      assert.deepEqual(second.map((c) => c.event.id), [later.id], 'a leased delivery is not claimed again');
      assert.equal(await store.nextDueTime(), T0 + 10_000 + LEASE, 'the next due time is the first lease deadline');
    });

    test('a claim across endpoints gives each delivery its own endpoint and current secrets, newest first', async () => {
      const store = await open();
      const a = await account(store);
      const plain = await addEndpoint(store, a, { metadata: { z: '1', a: '2' } }, 'whsec_plain');
      const rolled = await addEndpoint(store, a, {}, 'whsec_first');
      await store.rollSecret(rolled.id, { secret: 'whsec_second', created: T0 + 1, expiresAt: null }, T0 + 1_000);
      await store.rollSecret(rolled.id, { secret: 'whsec_third', created: T0 + 2, expiresAt: null }, T0 + 60_000);
      const disabled = await addEndpoint(store, a, {}, 'whsec_off');
      await store.publishEvents([event(a), event(a), event(a)]);
      await store.updateEndpoint({ ...disabled, status: 'disabled' });

      // At T0 + 5,000 the first secret has expired; the second is still within its overlap.
      const claims = await store.claimDueDeliveries(T0 + 5_000, 100, LEASE);
      assert.equal(claims.length, 6, "the disabled endpoint's three deliveries are cancelled, not returned");
      for (const claim of claims) {
        const expected = claim.endpoint.id === plain.id ? { endpoint: plain, secrets: ['whsec_plain'] } : { endpoint: rolled, secrets: ['whsec_third', 'whsec_second'] };
        assert.deepEqual({ endpoint: claim.endpoint, secrets: claim.secrets }, expected);
      }
      assert.deepEqual(Object.keys(claims.find((c) => c.endpoint.id === plain.id)!.endpoint.metadata), ['z', 'a'], 'metadata keeps its key order');
      assert.equal(new Set(claims.map((c) => c.event.id)).size, 3);
    });

    test('an expired lease makes a delivery claimable again, as the next attempt', async () => {
      const store = await open();
      const a = await account(store);
      await addEndpoint(store, a);
      await store.publishEvents([event(a)]);
      const [first] = await claimAll(store, T0);
      assert.deepEqual(await claimAll(store, T0 + LEASE - 1), []);
      const [again] = await claimAll(store, T0 + LEASE);
      assert.equal(again!.deliveryId, first!.deliveryId);
      assert.equal(again!.attemptNumber, 2);
      assert.notEqual(again!.leaseToken, first!.leaseToken);
    });

    test('deliveries to disabled or deleted endpoints are cancelled when they fall due', async () => {
      const store = await open();
      const a = await account(store);
      const toDisable = await addEndpoint(store, a);
      const toDelete = await addEndpoint(store, a);
      const kept = await addEndpoint(store, a);
      const [ev] = await store.publishEvents([event(a)]);
      await store.updateEndpoint({ ...toDisable, status: 'disabled' });
      await store.deleteEndpoint(a, 'test', toDelete.id, T0);
      const claims = await claimAll(store, T0);
      assert.deepEqual(claims.map((c) => c.endpoint.id), [kept.id]);
      // Re-enabling does not bring a cancelled delivery back (recovery does that on request).
      await store.updateEndpoint({ ...toDisable, status: 'enabled' });
      assert.deepEqual((await claimAll(store, T0 + LEASE * 10)).map((c) => c.endpoint.id), [kept.id], 'cancelled deliveries stay cancelled (the kept one is re-claimed after its lease)');
      const summary = await store.listDeliveries({ accountId: a, mode: 'test', eventId: ev!.id }, {}, { limit: 10 });
      assert.deepEqual(summary.data.map((d) => [d.endpointId, d.status]).sort(), [[kept.id, 'pending'], [toDelete.id, 'cancelled'], [toDisable.id, 'cancelled']].sort());
      assert.equal(summary.data.length, 3);
    });

    test('a claim bounded per endpoint takes at most each endpoint\'s allowance and fills the batch from the others', async () => {
      const store = await open();
      const a = await account(store);
      const busy = await addEndpoint(store, a, { enabledEvents: ['charge.succeeded'] });
      const quiet = await addEndpoint(store, a, { enabledEvents: ['invoice.paid'] });
      const gone = await addEndpoint(store, a, { enabledEvents: ['customer.created'] });
      // A backlog at `busy`, due before everything at `quiet`; then `gone`'s deliveries.
      const backlog = await store.publishEvents(Array.from({ length: 30 }, (_, i) => event(a, { type: 'charge.succeeded', created: T0 + i })));
      await store.publishEvents(Array.from({ length: 3 }, (_, i) => event(a, { type: 'customer.created', created: T0 + 200 + i })));
      const few = await store.publishEvents(Array.from({ length: 4 }, (_, i) => event(a, { type: 'invoice.paid', created: T0 + 100 + i })));
      await store.updateEndpoint({ ...gone, status: 'disabled' });
      const fairness = (perEndpoint: number, inFlight: Record<string, number> = {}) => ({ perEndpoint, inFlight: new Map(Object.entries(inFlight)) });
      const eventIds = (claims: ClaimedDelivery[], endpointId: string) => claims.filter((c) => c.endpoint.id === endpointId).map((c) => c.event.id).sort();
      const now = T0 + 1000;

      const saturated = await store.claimDueDeliveries(now, 2, LEASE, fairness(5, { [busy.id]: 5 }));
      assert.deepEqual(eventIds(saturated, quiet.id), few.slice(0, 2).map((e) => e.id).sort(), 'an endpoint at its bound gets nothing; the others are claimed');
      assert.equal(saturated.length, 2);

      const first = await store.claimDueDeliveries(now, 20, LEASE, fairness(5, { [quiet.id]: 2 }));
      assert.deepEqual(eventIds(first, busy.id), backlog.slice(0, 5).map((e) => e.id).sort(), 'the busy endpoint gets its allowance, its earliest first');
      assert.deepEqual(eventIds(first, quiet.id), few.slice(2).map((e) => e.id).sort(), 'the rest of the batch goes to the other endpoint');
      assert.equal(first.length, 7, 'the disabled endpoint\'s deliveries are cancelled, not returned');

      assert.deepEqual(await store.claimDueDeliveries(now, 20, LEASE, fairness(5, { [busy.id]: 5, [quiet.id]: 4 })), [], 'nothing beyond the bounds');
      const topUp = await store.claimDueDeliveries(now, 20, LEASE, fairness(5, { [busy.id]: 2 }));
      assert.deepEqual(eventIds(topUp, busy.id), backlog.slice(5, 8).map((e) => e.id).sort(), 'slots freed at the endpoint are refilled from its backlog, in order');
      assert.equal(topUp.length, 3);

      // Within every allowance the bound changes nothing; without it the earliest due go first, as before.
      const loose = await store.claimDueDeliveries(now, 4, LEASE, fairness(5));
      assert.deepEqual(eventIds(loose, busy.id), backlog.slice(8, 12).map((e) => e.id).sort());
      const unbounded = await store.claimDueDeliveries(now, 10, LEASE);
      assert.deepEqual(eventIds(unbounded, busy.id), backlog.slice(12, 22).map((e) => e.id).sort());

      assert.equal((await store.claimDueDeliveries(now, 20, LEASE)).length, 8, 'the end of the backlog');

      // Expired leases are due again under the bound too, as the next attempt.
      const again = await store.claimDueDeliveries(now + LEASE, 20, LEASE, fairness(2));
      assert.equal(eventIds(again, busy.id).length, 2);
      assert.equal(eventIds(again, quiet.id).length, 2);
      assert.equal(again.length, 4);
      assert.ok(again.every((c) => c.attemptNumber === 2));
    });

    test('a bounded claim when only one endpoint has work takes its allowance, and nothing at its bound', async () => {
      const store = await open();
      const a = await account(store);
      const only = await addEndpoint(store, a);
      await store.publishEvents(Array.from({ length: 50 }, (_, i) => event(a, { created: T0 + i })));
      const bounded = { perEndpoint: 8, inFlight: new Map([[only.id, 3]]) };
      assert.equal((await store.claimDueDeliveries(T0 + 100, 40, LEASE, bounded)).length, 5);
      assert.deepEqual(await store.claimDueDeliveries(T0 + 100, 40, LEASE, { perEndpoint: 8, inFlight: new Map([[only.id, 8]]) }), []);
      assert.equal((await store.claimDueDeliveries(T0 + 100, 40, LEASE)).length, 40, 'without the bound, the whole batch');
    });

    // Recording ------------------------------------------------------------------------------

    test('a failed attempt schedules the retry; a success delivers once and counts down pending_webhooks', async () => {
      const store = await open();
      const a = await account(store);
      const e1 = await addEndpoint(store, a);
      await addEndpoint(store, a);
      const [ev] = await store.publishEvents([event(a)]);
      const claims = await claimAll(store, T0);
      const c1 = claims.find((c) => c.endpoint.id === e1.id)!;
      const c2 = claims.find((c) => c.endpoint.id !== e1.id)!;

      assert.deepEqual(await store.recordAttempts([retryAt(c1, T0 + 100, T0 + 60_000), succeed(c2, T0 + 100)], HEALTH), { disabled: [] });
      assert.equal((await store.getEvent(a, 'test', ev!.id))!.pendingWebhooks, 1);
      assert.equal(await store.nextDueTime(), T0 + 60_000);
      assert.deepEqual(await claimAll(store, T0 + 59_999), [], 'not before the retry is due');
      const [retry] = await claimAll(store, T0 + 60_000);
      assert.equal(retry!.deliveryId, c1.deliveryId);
      assert.equal(retry!.attemptNumber, 2);
      assert.equal(retry!.scheduleStep, 1);
      const failing = await store.getEndpoint(a, 'test', e1.id);
      assert.equal(failing!.failingSince, T0 + 100);

      await store.recordAttempts([succeed(retry!, T0 + 60_100)], HEALTH);
      assert.equal((await store.getEvent(a, 'test', ev!.id))!.pendingWebhooks, 0);
      const healthy = await store.getEndpoint(a, 'test', e1.id);
      assert.equal(healthy!.failingSince, null);
      assert.equal(healthy!.lastSuccessAt, T0 + 60_100);
      assert.equal(await store.nextDueTime(), null);
      assert.deepEqual(await claimAll(store, T0 + 10 * LEASE), []);

      // A manual resend that succeeds again does not count the endpoint twice.
      await store.enqueueManualDelivery(ev!.id, e1, T0 + 70_000);
      const [manual] = await claimAll(store, T0 + 70_000);
      assert.equal(manual!.kind, 'manual');
      assert.equal(manual!.attemptNumber, 1);
      await store.recordAttempts([succeed(manual!, T0 + 70_100)], HEALTH);
      assert.equal((await store.getEvent(a, 'test', ev!.id))!.pendingWebhooks, 0);
    });

    test('a failed delivery given up on stays undelivered; a manual success delivers it', async () => {
      const store = await open();
      const a = await account(store);
      const e = await addEndpoint(store, a);
      const [ev] = await store.publishEvents([event(a)]);
      const [claim] = await claimAll(store, T0);
      await store.recordAttempts([giveUp(claim!, T0 + 10)], HEALTH);
      assert.deepEqual(await claimAll(store, T0 + 100 * LEASE), []);
      assert.equal((await store.getEvent(a, 'test', ev!.id))!.pendingWebhooks, 1);
      await store.enqueueManualDelivery(ev!.id, e, T0 + 20);
      const [manual] = await claimAll(store, T0 + 20);
      assert.equal(manual!.kind, 'manual');
      await store.recordAttempts([succeed(manual!, T0 + 30)], HEALTH);
      assert.equal((await store.getEvent(a, 'test', ev!.id))!.pendingWebhooks, 0);
      assert.deepEqual(await claimAll(store, T0 + 100 * LEASE), [], 'the automatic delivery is not re-armed by a resend');
    });

    test('an endpoint failing for disableAfterMs is disabled once, with the reason recorded', async () => {
      const store = await open();
      const a = await account(store);
      const e = await addEndpoint(store, a);
      const policy = { disableAfterMs: 10_000 };
      await store.publishEvents([event(a), event(a)]);
      const [c1, c2] = await claimAll(store, T0);
      assert.deepEqual(await store.recordAttempts([retryAt(c1!, T0, T0 + 5000)], policy), { disabled: [] });
      assert.deepEqual(await store.recordAttempts([retryAt(c2!, T0 + 9_999, T0 + 20_000)], policy), { disabled: [] });
      const [again] = await claimAll(store, T0 + 5000);
      const outcome = await store.recordAttempts([retryAt(again!, T0 + 10_000, T0 + 30_000)], policy);
      assert.equal(outcome.disabled.length, 1);
      assert.equal(outcome.disabled[0]!.endpointId, e.id);
      assert.match(outcome.disabled[0]!.reason, /no successful \(2xx\) delivery since/);
      const disabled = await store.getEndpoint(a, 'test', e.id);
      assert.equal(disabled!.status, 'disabled');
      assert.equal(disabled!.disabledAt, T0 + 10_000);
      assert.equal(disabled!.disabledReason, outcome.disabled[0]!.reason);
      assert.deepEqual(await claimAll(store, T0 + 100_000), [], 'its remaining retries are cancelled');
    });

    test('a success in the same batch, before the failure, ends the run of failures', async () => {
      const store = await open();
      const a = await account(store);
      const e = await addEndpoint(store, a, { failingSince: T0 - 100_000 });
      await store.updateEndpoint({ ...e, failingSince: T0 - 100_000 });
      await store.publishEvents([event(a), event(a)]);
      const [c1, c2] = await claimAll(store, T0);
      const outcome = await store.recordAttempts([succeed(c1!, T0 + 1), retryAt(c2!, T0 + 2, T0 + 1000)], { disableAfterMs: 50_000 });
      assert.deepEqual(outcome, { disabled: [] });
      const after = await store.getEndpoint(a, 'test', e.id);
      assert.equal(after!.status, 'enabled');
      assert.equal(after!.failingSince, T0 + 2);
      assert.equal(after!.lastSuccessAt, T0 + 1);
    });

    test('fencing: a worker whose lease expired cannot move a delivery another worker re-claimed', async () => {
      const store = await open();
      const a = await account(store);
      await addEndpoint(store, a);
      const [ev] = await store.publishEvents([event(a)]);
      const [stale] = await claimAll(store, T0);
      const [current] = await claimAll(store, T0 + LEASE);
      assert.equal(current!.deliveryId, stale!.deliveryId);

      // The stale worker reports a failure with a retry far away: the delivery must stay leased.
      await store.recordAttempts([retryAt(stale!, T0 + LEASE + 1, T0 + 10 * LEASE)], HEALTH);
      assert.deepEqual(await claimAll(store, T0 + LEASE + 2), []);
      assert.equal(await store.nextDueTime(), T0 + 2 * LEASE, 'still due at the current lease deadline');
      // Nor can it give the delivery back.
      await store.releaseDeliveries([{ deliveryId: stale!.deliveryId, leaseToken: stale!.leaseToken }], T0 + LEASE + 3);
      assert.deepEqual(await claimAll(store, T0 + LEASE + 4), []);

      await store.recordAttempts([succeed(current!, T0 + LEASE + 5)], HEALTH);
      assert.equal((await store.getEvent(a, 'test', ev!.id))!.pendingWebhooks, 0);
      assert.deepEqual(await claimAll(store, T0 + 100 * LEASE), []);
      const attempts = await store.listAttempts({ accountId: a, mode: 'test', eventId: ev!.id }, { limit: 10 });
      assert.equal(attempts.data.length, 2, 'both attempts were really made and are logged');
    });

    test('released deliveries are due again at once, as the same attempt', async () => {
      const store = await open();
      const a = await account(store);
      await addEndpoint(store, a);
      await store.publishEvents([event(a), event(a)]);
      const claims = await claimAll(store, T0);
      await store.releaseDeliveries(claims.map((c) => ({ deliveryId: c.deliveryId, leaseToken: c.leaseToken })), T0 + 5);
      const again = await claimAll(store, T0 + 5);
      assert.deepEqual(again.map((c) => c.deliveryId).sort(), claims.map((c) => c.deliveryId).sort());
      assert.deepEqual(again.map((c) => c.attemptNumber), [1, 1]);
      await store.releaseDeliveries([], T0);
    });

    test('a manual delivery is tried once and leaves the automatic one alone', async () => {
      const store = await open();
      const a = await account(store);
      const e = await addEndpoint(store, a);
      const [ev] = await store.publishEvents([event(a)]);
      const [auto] = await claimAll(store, T0);
      await store.recordAttempts([retryAt(auto!, T0 + 1, T0 + 100_000)], HEALTH);
      await store.enqueueManualDelivery(ev!.id, e, T0 + 10);
      const [manual] = await claimAll(store, T0 + 10);
      assert.equal(manual!.kind, 'manual');
      assert.equal(manual!.event.id, ev!.id);
      await store.recordAttempts([giveUp(manual!, T0 + 20)], HEALTH);
      assert.deepEqual(await claimAll(store, T0 + 99_999), []);
      const [retry] = await claimAll(store, T0 + 100_000);
      assert.equal(retry!.deliveryId, auto!.deliveryId);
      assert.equal(retry!.kind, 'automatic');
    });

    // Recovery -------------------------------------------------------------------------------

    test('recovery queues undelivered events of the window, including those published while disabled', async () => {
      const store = await open();
      const a = await account(store);
      const e = await addEndpoint(store, a, { enabledEvents: ['payment_intent.succeeded', 'charge.failed'] });
      const [delivered, failed, unwanted] = await store.publishEvents([
        event(a, { created: T0 + 1 }),
        event(a, { created: T0 + 2 }),
        event(a, { created: T0 + 3, type: 'invoice.paid' }),
      ]);
      const claims = await claimAll(store, T0 + 10);
      const byEvent = (id: string) => claims.find((c) => c.event.id === id)!;
      await store.recordAttempts([succeed(byEvent(delivered!.id), T0 + 20), giveUp(byEvent(failed!.id), T0 + 20)], HEALTH);

      await store.updateEndpoint({ ...e, status: 'disabled' });
      const [whileDisabled, connectEvent, outside] = await store.publishEvents([
        event(a, { created: T0 + 30, type: 'charge.failed' }),
        event(a, { created: T0 + 31, account: 'acct_conn' }),
        event(a, { created: T0 + 10_000 }),
      ]);
      assert.equal(whileDisabled!.pendingWebhooks, 0);
      await store.updateEndpoint({ ...e, status: 'enabled' });
      const window = { since: T0, until: T0 + 1000 };

      assert.equal(await store.recoverEvents(e, window, T0 + 2000, true), 2, 'dry run counts the failed one and the one missed while disabled');
      assert.deepEqual(await claimAll(store, T0 + 2000), [], 'a dry run queues nothing');

      assert.equal(await store.recoverEvents(e, window, T0 + 2000, false), 2);
      const recovered = await claimAll(store, T0 + 2000);
      assert.deepEqual(recovered.map((c) => c.event.id).sort(), [failed!.id, whileDisabled!.id].sort());
      for (const c of recovered) assert.equal(c.kind, 'automatic');
      assert.equal((await store.getEvent(a, 'test', whileDisabled!.id))!.pendingWebhooks, 1);
      assert.equal(await store.recoverEvents(e, window, T0 + 2000, true), 0, 'in-flight deliveries are not queued twice');

      await store.recordAttempts(recovered.map((c) => succeed(c, T0 + 2100)), HEALTH);
      assert.equal((await store.getEvent(a, 'test', whileDisabled!.id))!.pendingWebhooks, 0);
      assert.equal((await store.getEvent(a, 'test', failed!.id))!.pendingWebhooks, 0);
      assert.equal(await store.recoverEvents(e, window, T0 + 3000, true), 0, 'nothing left to recover');
      void unwanted;
      void connectEvent;
      void outside;
    });

    // Attempts log ---------------------------------------------------------------------------

    test('attempts list by endpoint and by event, newest first, within the account', async () => {
      const store = await open();
      const a = await account(store);
      const e1 = await addEndpoint(store, a);
      const e2 = await addEndpoint(store, a);
      const [ev1, ev2] = await store.publishEvents([event(a), event(a)]);
      const claims = await claimAll(store, T0);
      const results = claims.map((c, i) => (i % 2 ? succeed(c, T0 + i) : retryAt(c, T0 + i, T0 + 1_000_000)));
      for (const r of results) await store.recordAttempts([r], HEALTH);
      const byEndpoint = await store.listAttempts({ accountId: a, mode: 'test', endpointId: e1.id }, { limit: 10 });
      assert.equal(byEndpoint.data.length, 2);
      assert.ok(byEndpoint.data.every((x) => x.endpointId === e1.id));
      const expected = results.filter((r) => r.attempt.endpointId === e1.id).map((r) => r.attempt).reverse();
      assert.deepEqual(byEndpoint.data, expected, 'attempts read back exactly, newest first');
      const byEvent = await store.listAttempts({ accountId: a, mode: 'test', eventId: ev2!.id }, { limit: 1 });
      assert.equal(byEvent.data.length, 1);
      assert.equal(byEvent.hasMore, true);
      const rest = await store.listAttempts({ accountId: a, mode: 'test', eventId: ev2!.id }, { limit: 5, startingAfter: byEvent.data[0]!.id });
      assert.equal(rest.data.length, 1);
      assert.equal(rest.hasMore, false);
      const foreign = await store.listAttempts({ accountId: await account(store), mode: 'test', endpointId: e2.id }, { limit: 10 });
      assert.deepEqual(foreign.data, []);
      assert.deepEqual(await store.getAttempt(a, 'test', expected[0]!.id), expected[0]);
      assert.equal(await store.getAttempt(a, 'live', expected[0]!.id), null);
      void ev1;
    });

    test('an attempt that sent the event as published reads back with that body, rendered again from the event', async () => {
      const store = await open();
      const a = await account(store);
      const e1 = await addEndpoint(store, a);
      const [published] = await store.publishEvents([event(a)]);
      const [claim] = await claimAll(store, T0);
      const sent = renderEventPayload({ ...claim!.event, pendingWebhooks: 1 });
      const attempt = { ...attemptFor(claim!, 'succeeded', T0), requestBody: null, publishedBody: { pendingWebhooks: 1 } };
      await store.recordAttempts([{ claim: claim!, attempt, next: { state: 'succeeded' } }], HEALTH);
      const [listed] = (await store.listAttempts({ accountId: a, mode: 'test', endpointId: e1.id }, { limit: 10 })).data;
      assert.equal(listed!.requestBody, sent, 'the body exactly as it was sent');
      assert.equal(JSON.parse(listed!.requestBody!).id, published!.id);
      assert.equal((await store.getAttempt(a, 'test', attempt.id))!.requestBody, sent);
    });

    test('delivery summaries show status and last attempt; attempt counts bucket by outcome', async () => {
      const store = await open();
      const a = await account(store);
      const e = await addEndpoint(store, a);
      const evs = await store.publishEvents([event(a), event(a, { type: 'charge.failed' }), event(a)]);
      const claims = await claimAll(store, T0, 2);
      const [first, second] = claims;
      await store.recordAttempts([succeed(first!, T0 + 10), retryAt(second!, T0 + 70_000, T0 + 500_000)], HEALTH);
      const scope = { accountId: a, mode: 'test' as Mode, endpointId: e.id };
      const all = await store.listDeliveries(scope, {}, { limit: 10 });
      assert.equal(all.data.length, 3);
      const status = new Map(all.data.map((d) => [d.eventId, d]));
      assert.equal(status.get(first!.event.id)!.status, 'succeeded');
      assert.equal(status.get(first!.event.id)!.lastAttempt!.outcome, 'succeeded');
      assert.equal(status.get(second!.event.id)!.status, 'failed');
      assert.equal(status.get(second!.event.id)!.nextAttemptAt, T0 + 500_000);
      const untouched = all.data.find((d) => d.eventId !== first!.event.id && d.eventId !== second!.event.id)!;
      assert.equal(untouched.status, 'pending');
      assert.equal(untouched.lastAttempt, null);
      assert.equal((await store.listDeliveries(scope, { status: 'failed' }, { limit: 10 })).data.length, 1);
      assert.equal((await store.listDeliveries(scope, { eventType: 'charge.failed' }, { limit: 10 })).data[0]?.eventId, evs[1]!.id);
      const buckets = await store.attemptCounts(scope, { since: T0, until: T0 + 120_000, bucketMs: 60_000 });
      assert.deepEqual(buckets, [
        { start: T0, succeeded: 1, failed: 0 },
        { start: T0 + 60_000, succeeded: 0, failed: 1 },
      ]);
    });

    // Listen sessions -------------------------------------------------------------------------

    test('a listen session follows the event log from its cursor, skipping what it acknowledged', async () => {
      const store = await open();
      const a = await account(store);
      const [before] = await store.publishEvents([event(a)]);
      const init = { id: 'lsn_contract1', accountId: a, mode: 'test' as Mode, secret: 'whsec_listen', enabledEvents: ['*'], created: T0 };
      const session = await store.openListenSession(init);
      assert.equal(session.id, init.id);
      const [e1, e2, e3] = await store.publishEvents([event(a), event(a, { type: 'charge.failed' }), event(a)]);
      await store.publishEvents([event(a, { mode: 'live' }), event(await account(store))]);
      const backlog = await store.listenBacklog(session.id, session.cursor, 10);
      assert.deepEqual(backlog.map((e) => e.id), [e1!.id, e2!.id, e3!.id], 'only this account and mode, from the cursor on, oldest first');
      assert.ok(!backlog.some((e) => e.id === before!.id));
      assert.equal(backlog[1]!.dataJson, JSON.stringify(e2!.data));
      assert.ok(backlog[0]!.seq < backlog[1]!.seq && backlog[1]!.seq < backlog[2]!.seq);

      // Reopening keeps id, secret and cursor and takes the new filter.
      const reopened = await store.openListenSession({ ...init, id: 'lsn_other', secret: 'whsec_other', enabledEvents: ['charge.failed'] });
      assert.deepEqual(reopened, { ...session, enabledEvents: ['charge.failed'] });
      assert.deepEqual(await store.getListenSession(a, 'test', session.id), reopened);
      assert.equal(await store.getListenSession(a, 'live', session.id), null);

      const attempt: DeliveryAttempt = {
        id: newId.attempt(), deliveryId: session.id, eventId: e2!.id, endpointId: session.id, accountId: a, mode: 'test', kind: 'automatic',
        attemptNumber: 1, url: 'http://localhost:4242/webhook', created: T0 + 5, durationMs: 3, outcome: 'succeeded', failureKind: null,
        failureMessage: null, httpStatus: 200, requestHeaders: { 'stripe-signature': 't=1,v1=x' }, responseHeaders: {}, responseBody: 'ok',
        requestBody: '{"id":"evt_listen"}', nextRetryAt: null,
      };
      await store.recordListenAttempts(session.id, e2!.id, [attempt]);
      await store.recordListenAttempts(session.id, e2!.id, []); // acknowledging twice is harmless
      await store.recordListenAttempts(session.id, e3!.id, []);
      assert.deepEqual(await store.listenUnacknowledged(session.id, [e1!.id, e2!.id, e3!.id]), [e1!.id]);
      assert.deepEqual((await store.listenBacklog(session.id, session.cursor, 10)).map((e) => e.id), [e1!.id]);
      const logged = await store.getAttempt(a, 'test', attempt.id);
      assert.deepEqual({ ...logged!, deliveryId: attempt.deliveryId }, attempt, 'forwarding attempts join the delivery log');

      await store.advanceListenCursor(session.id, backlog[2]!.seq);
      await store.advanceListenCursor(session.id, backlog[0]!.seq); // never moves back
      assert.equal((await store.getListenSession(a, 'test', session.id))!.cursor, backlog[2]!.seq);
      assert.deepEqual(await store.listenBacklog(session.id, backlog[2]!.seq, 10), []);
      assert.deepEqual(await store.listenUnacknowledged(session.id, []), []);
    });

    // Idempotency ----------------------------------------------------------------------------

    test('idempotency keys: proceed, in progress, replay, mismatch, abandon and expiry', async () => {
      const store = await open();
      const a = await account(store);
      const req = { accountId: a, mode: 'test' as Mode, key: 'key-1', requestHash: 'hash-A', now: T0, lockMs: 60_000 };
      assert.deepEqual(await store.beginIdempotentRequest(req), { kind: 'proceed' });
      assert.deepEqual(await store.beginIdempotentRequest({ ...req, now: T0 + 1 }), { kind: 'in_progress' });
      assert.deepEqual(await store.beginIdempotentRequest({ ...req, requestHash: 'hash-B', now: T0 + 1 }), { kind: 'mismatch' });
      assert.deepEqual(await store.beginIdempotentRequest({ ...req, mode: 'live' }), { kind: 'proceed' }, 'keys are per mode');
      assert.deepEqual(await store.beginIdempotentRequest({ ...req, accountId: await account(store) }), { kind: 'proceed' }, 'keys are per account');

      await store.completeIdempotentRequest(req, 200, '{"id":"evt_1"}', T0 + 86_400_000);
      assert.deepEqual(await store.beginIdempotentRequest({ ...req, now: T0 + 2 }), { kind: 'replay', status: 200, body: '{"id":"evt_1"}' });
      assert.deepEqual(await store.beginIdempotentRequest({ ...req, requestHash: 'hash-B', now: T0 + 2 }), { kind: 'mismatch' });
      assert.deepEqual(await store.beginIdempotentRequest({ ...req, requestHash: 'hash-B', now: T0 + 86_400_000 }), { kind: 'proceed' }, 'an expired key is free again');

      const abandoned = { ...req, key: 'key-2' };
      assert.deepEqual(await store.beginIdempotentRequest(abandoned), { kind: 'proceed' });
      await store.abandonIdempotentRequest(abandoned);
      assert.deepEqual(await store.beginIdempotentRequest({ ...abandoned, requestHash: 'hash-C' }), { kind: 'proceed' }, 'an abandoned key is forgotten');

      const crashed = { ...req, key: 'key-3' };
      assert.deepEqual(await store.beginIdempotentRequest(crashed), { kind: 'proceed' });
      assert.deepEqual(await store.beginIdempotentRequest({ ...crashed, now: T0 + 60_000 }), { kind: 'proceed' }, 'a request that never finished frees the key after its lock');
      await store.completeIdempotentRequest(crashed, 400, '{"error":{}}', T0 + 86_400_000);
      await store.abandonIdempotentRequest(crashed);
      assert.deepEqual(await store.beginIdempotentRequest({ ...crashed, now: T0 + 70_000 }), { kind: 'replay', status: 400, body: '{"error":{}}' }, 'a completed key is not abandoned');
    });

    test('idempotency keys keep the id reserved for the object: a run that never finished is resumed under it', async () => {
      const store = await open();
      const a = await account(store);
      const DAY = 86_400_000;
      const req = { accountId: a, mode: 'test' as Mode, key: 'key-r', requestHash: 'hash-R', now: T0, lockMs: 60_000, reserve: { id: 'evt_first', forMs: DAY } };
      assert.deepEqual(await store.beginIdempotentRequest(req), { kind: 'proceed', reservedId: 'evt_first' });
      assert.deepEqual(await store.beginIdempotentRequest({ ...req, now: T0 + 1, reserve: { id: 'evt_second', forMs: DAY } }), { kind: 'in_progress' });
      // The first run died: after its lock, a retry is given the first run's id, and told so.
      const retry = { ...req, now: T0 + 60_000, reserve: { id: 'evt_third', forMs: DAY } };
      assert.deepEqual(await store.beginIdempotentRequest(retry), { kind: 'proceed', reservedId: 'evt_first', resumed: true });
      assert.deepEqual(await store.beginIdempotentRequest({ ...retry, requestHash: 'hash-other', now: T0 + 120_001 }), { kind: 'mismatch' }, 'the reservation holds the key for its lifetime');
      assert.deepEqual(await store.beginIdempotentRequest({ ...retry, now: T0 + 120_000 }), { kind: 'proceed', reservedId: 'evt_first', resumed: true }, 'and survives a second death');
      await store.completeIdempotentRequest(retry, 200, '{"id":"evt_first"}', T0 + DAY);
      assert.deepEqual(await store.beginIdempotentRequest({ ...retry, now: T0 + 130_000 }), { kind: 'replay', status: 200, body: '{"id":"evt_first"}' });

      // A run that failed after it may have written its object lets a retry resume at once.
      const failed = { ...req, key: 'key-u', reserve: { id: 'evt_failed', forMs: DAY } };
      assert.deepEqual(await store.beginIdempotentRequest(failed), { kind: 'proceed', reservedId: 'evt_failed' });
      await store.unlockIdempotentRequest(failed);
      assert.deepEqual(await store.beginIdempotentRequest({ ...failed, now: T0 + 1, reserve: { id: 'evt_other', forMs: DAY } }), { kind: 'proceed', reservedId: 'evt_failed', resumed: true });

      // An abandoned run (refused, nothing written) frees the key and its id; so does the end of the key's life.
      const refused = { ...req, key: 'key-s' };
      assert.deepEqual(await store.beginIdempotentRequest(refused), { kind: 'proceed', reservedId: 'evt_first' });
      await store.abandonIdempotentRequest(refused);
      assert.deepEqual(await store.beginIdempotentRequest({ ...refused, reserve: { id: 'evt_fresh', forMs: DAY } }), { kind: 'proceed', reservedId: 'evt_fresh' });
      assert.deepEqual(await store.beginIdempotentRequest({ ...refused, now: T0 + DAY, reserve: { id: 'evt_later', forMs: DAY } }), { kind: 'proceed', reservedId: 'evt_later' });
      assert.deepEqual(await store.beginIdempotentRequest({ ...req, key: 'key-t', reserve: undefined }), { kind: 'proceed' }, 'no reservation asked, none kept');
    });

    // Housekeeping ---------------------------------------------------------------------------

    test('prune deletes old attempts, finished old events and expired keys, and keeps the rest', async () => {
      const store = await open();
      const a = await account(store);
      await addEndpoint(store, a);
      const DAY = 86_400_000;
      const [oldDone, oldWaiting] = await store.publishEvents([event(a, { created: T0 }), event(a, { created: T0 })]);
      const [recent] = await store.publishEvents([event(a, { created: T0 + 40 * DAY })]);
      const claims = await claimAll(store, T0, 1);
      const doneClaim = claims[0]!;
      await store.recordAttempts([succeed(doneClaim, T0 + 1)], HEALTH);
      const waitingId = doneClaim.event.id === oldDone!.id ? oldWaiting!.id : oldDone!.id;
      const doneId = doneClaim.event.id;
      await store.beginIdempotentRequest({ accountId: a, mode: 'test', key: 'old', requestHash: 'h', now: T0, lockMs: 1000 });
      await store.beginIdempotentRequest({ accountId: a, mode: 'test', key: 'new', requestHash: 'h', now: T0 + 40 * DAY, lockMs: DAY });

      const now = T0 + 40 * DAY;
      const removed = await store.prune(now, now - 30 * DAY);
      assert.deepEqual(removed, { events: 1, attempts: 1, idempotencyKeys: 1 });
      assert.equal(await store.getEvent(a, 'test', doneId), null);
      assert.ok(await store.getEvent(a, 'test', waitingId), 'an event still waiting for delivery is kept');
      assert.ok(await store.getEvent(a, 'test', recent!.id));
      assert.deepEqual(await store.beginIdempotentRequest({ accountId: a, mode: 'test', key: 'new', requestHash: 'h', now: now + 1, lockMs: DAY }), { kind: 'in_progress' });
      const waiting = await claimAll(store, now);
      assert.deepEqual(waiting.map((c) => c.event.id).sort(), [waitingId, recent!.id].sort(), 'pruning took no pending work away');
      assert.deepEqual(await store.prune(now, now - 30 * DAY), { events: 0, attempts: 0, idempotencyKeys: 0 });
    });

    test('prune deletes an old event whose deliveries were given up or cancelled, with its deliveries', async () => {
      const store = await open();
      const a = await account(store);
      const kept = await addEndpoint(store, a, { enabledEvents: ['payment_intent.succeeded'] });
      const deleted = await addEndpoint(store, a, { enabledEvents: ['charge.failed'] });
      const [givenUp] = await store.publishEvents([event(a)]);
      const [cancelled] = await store.publishEvents([event(a, { type: 'charge.failed' })]);
      await store.deleteEndpoint(a, 'test', deleted.id, T0);
      const [claim] = await claimAll(store, T0);
      assert.equal(claim!.event.id, givenUp!.id, 'the deleted endpoint\'s delivery was cancelled');
      await store.recordAttempts([giveUp(claim!, T0 + 1)], HEALTH);
      for (const ev of [givenUp!, cancelled!]) {
        assert.equal((await store.getEvent(a, 'test', ev.id))!.pendingWebhooks, 1, 'not delivered, so still pending');
      }

      const now = T0 + 40 * DAY_MS;
      assert.deepEqual(await store.prune(now, now - 30 * DAY_MS), { events: 2, attempts: 1, idempotencyKeys: 0 });
      for (const ev of [givenUp!, cancelled!]) assert.equal(await store.getEvent(a, 'test', ev.id), null);
      assert.deepEqual((await store.listDeliveries({ accountId: a, mode: 'test', endpointId: kept.id }, {}, { limit: 10 })).data, []);
      assert.equal(await store.nextDueTime(), null);
      assert.deepEqual(await store.prune(now, now - 30 * DAY_MS), { events: 0, attempts: 0, idempotencyKeys: 0 });
    });

    test('event destinations: EventBridge settings and credentials round-trip; v1 lists webhook endpoints only', async () => {
      const store = await open();
      const a = await account(store);
      const hook = await addEndpoint(store, a, { name: 'Orders', eventPayload: 'thin', eventsFrom: ['@self', '@accounts'], connect: false });
      const bus = await addEndpoint(store, a, {
        id: newId.destination(),
        type: 'amazon_eventbridge',
        url: 'arn:aws:events:eu-west-1:123456789012:event-bus/orders',
        amazonEventbridge: { awsAccountId: '123456789012', awsRegion: 'eu-west-1', eventBus: 'orders', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret/key' } },
        created: T0 + 1,
        updated: T0 + 1,
      });
      assert.deepEqual(await store.getEndpoint(a, 'test', hook.id), hook);
      assert.deepEqual(await store.getEndpoint(a, 'test', bus.id), bus);
      const renamed = { ...bus, name: 'Renamed', amazonEventbridge: { ...bus.amazonEventbridge!, credentials: null }, updated: T0 + 5 };
      assert.equal(await store.updateEndpoint(renamed), true);
      assert.deepEqual(await store.getEndpoint(a, 'test', bus.id), renamed);
      const page = { limit: 10 };
      assert.deepEqual((await store.listEndpoints(a, 'test', page)).data.map((e) => e.id), [bus.id, hook.id]);
      assert.deepEqual((await store.listEndpoints(a, 'test', page, { type: 'webhook_endpoint' })).data.map((e) => e.id), [hook.id]);
      assert.deepEqual((await store.listEndpoints(a, 'test', page, { type: 'amazon_eventbridge' })).data.map((e) => e.id), [bus.id]);
      // events_from with both scopes: the account's own events and its connected accounts'
      const [own, connected] = await store.publishEvents([event(a), event(a, { account: 'acct_connected9' })]);
      const claims = await claimAll(store, T0);
      assert.deepEqual(claims.filter((c) => c.endpoint.id === hook.id).map((c) => c.event.id).sort(), [own!.id, connected!.id].sort());
      assert.deepEqual(claims.filter((c) => c.endpoint.id === bus.id).map((c) => c.event.id), [own!.id], 'self only by default');
    });

    test('a ping goes to its one destination; accounts change their default version', async () => {
      const store = await open();
      const a = await account(store);
      const target = await addEndpoint(store, a, { enabledEvents: ['charge.failed'] });
      await addEndpoint(store, a, { enabledEvents: ['*'] });
      const [ping] = await store.publishEvents([event(a, { type: 'v2.core.event_destination.ping', onlyEndpointId: target.id, data: { object: { id: target.id, object: 'v2.core.event_destination' } } })]);
      assert.equal(ping!.pendingWebhooks, 1);
      assert.equal('onlyEndpointId' in ping!, false);
      assert.deepEqual((await claimAll(store, T0)).map((c) => c.endpoint.id), [target.id]);
      assert.equal(await store.setDefaultApiVersion(a, '2025-01-15.acacia'), true);
      assert.equal((await store.getAccount(a))!.defaultApiVersion, '2025-01-15.acacia');
      assert.equal(await store.setDefaultApiVersion('acct_missing', '2025-01-15.acacia'), false);
    });

    test('the latest event about an object is its latest snapshot, per account and mode; versions and subjects are kept', async () => {
      const store = await open();
      const a = await account(store);
      const first = event(a, { data: { object: { id: 'cus_9', object: 'customer', email: 'old@example.com' } }, created: T0 });
      const second = event(a, { data: { object: { id: 'cus_9', object: 'customer', email: 'new@example.com' } }, created: T0 + 1000, apiVersion: '2025-01-15.acacia', accountApiVersion: '2026-10-28.endive' });
      const other = event(a, { data: { object: { id: 'cus_10', object: 'customer' } } });
      const custom = event(a, { relatedObject: { id: 'ord_1', type: 'order', url: 'https://shop.example/orders/ord_1' } });
      const noId = event(a, { data: { object: { object: 'balance' } } });
      await store.publishEvents([first, second, other, custom, noId]);
      const latest = await store.latestEventAbout(a, 'test', { type: 'customer', id: 'cus_9' });
      assert.equal(latest!.id, second.id);
      assert.equal(latest!.accountApiVersion, '2026-10-28.endive');
      assert.equal(latest!.apiVersion, '2025-01-15.acacia');
      assert.equal(await store.latestEventAbout(a, 'live', { type: 'customer', id: 'cus_9' }), null);
      assert.equal(await store.latestEventAbout(await account(store), 'test', { type: 'customer', id: 'cus_9' }), null);
      assert.equal(await store.latestEventAbout(a, 'test', { type: 'charge', id: 'cus_9' }), null, 'the type is part of the identity');
      const about = await store.listEvents(a, 'test', { objectId: 'cus_9', notBefore: 0 }, { limit: 10 });
      assert.deepEqual(about.data.map((e) => e.id), [second.id, first.id], 'events listed by subject, newest first');
      assert.deepEqual((await store.getEvent(a, 'test', custom.id))!.relatedObject, { id: 'ord_1', type: 'order', url: 'https://shop.example/orders/ord_1' });
      assert.equal((await store.getEvent(a, 'test', noId.id))!.relatedObject, null);
      const claimed = (await claimAll(store, T0 + 5000)).length;
      assert.equal(claimed, 0);
    });

    test('rate limits count per key and window, shared by every connection', async () => {
      const store = await open();
      const hits = async (key: string, window: number, n: number) => {
        const answers: boolean[] = [];
        for (let i = 0; i < n; i++) answers.push(await store.hitRateLimit(key, window, 3));
        return answers;
      };
      assert.deepEqual(await hits('acct_a/test', T0, 4), [true, true, true, false]);
      assert.deepEqual(await hits('acct_a/live', T0, 1), [true], 'another key has its own count');
      assert.deepEqual(await hits('acct_a/test', T0 + 1000, 3), [true, true, true], 'a new window starts afresh');
      const concurrent = await Promise.all(Array.from({ length: 10 }, () => store.hitRateLimit('acct_b/test', T0, 3)));
      assert.equal(concurrent.filter(Boolean).length, 3);
    });
    test('alert states move by compare-and-set, queue one alert each, and alerts are leased to one sender', async () => {
      const store = await open();
      const a = await account(store);
      const failing = await addEndpoint(store, a, { failingSince: T0 });
      const healthy = await addEndpoint(store, a);
      const disabled = await addEndpoint(store, a, { status: 'disabled', disabledReason: 'Disabled automatically: …', disabledAt: T0, failingSince: T0 });
      const candidates = await store.alertCandidates(T0 + 10);
      assert.deepEqual(candidates.map((c) => c.endpoint.id).sort(), [failing.id, disabled.id].sort());
      assert.ok(candidates.every((c) => c.alert.state === 'ok' && c.alert.failingSince === null));
      assert.deepEqual(await store.alertCandidates(T0 - 1).then((cs) => cs.map((c) => c.endpoint.id)), [disabled.id], 'failing, but not for long enough yet');

      const alertFor = (endpointId: string, kind: 'failing' | 'disabled' | 'recovered') => ({
        id: `walrt_${Math.random().toString(36).slice(2)}`, accountId: a, mode: 'test' as Mode, endpointId, kind, created: T0, subject: `${kind} ${endpointId}`, body: 'text',
        details: { url: 'https://example.com/hook', failingSince: T0, disableAt: null, disabledAt: null, disabledReason: null, recoveredAt: null, failures: [], example: null },
        delivery: 'pending' as const, recipient: null, sendAttempts: 0, lastError: null, sentAt: null,
      });
      const ok = { state: 'ok' as const, failingSince: null };
      const warned = { state: 'warned' as const, failingSince: T0 };
      // Two processes see the same change at once: one of them queues the alert.
      const raced = await Promise.all([
        store.transitionAlertState(failing.id, ok, warned, alertFor(failing.id, 'failing'), T0 + 1),
        store.transitionAlertState(failing.id, ok, warned, alertFor(failing.id, 'failing'), T0 + 1),
      ]);
      assert.deepEqual(raced.sort(), [false, true]);
      assert.equal(await store.transitionAlertState(failing.id, { state: 'warned', failingSince: T0 - 5 }, ok, alertFor(failing.id, 'recovered'), T0 + 2), false, 'another run');
      const after = await store.alertCandidates(T0 + 10);
      assert.deepEqual(after.find((c) => c.endpoint.id === failing.id)?.alert, warned);
      assert.equal(after.some((c) => c.endpoint.id === healthy.id), false);

      await store.setAlertEmail(a, 'team@example.com', T0);
      assert.equal(await store.getAlertEmail(a), 'team@example.com');
      const [first, second] = await Promise.all([store.claimDueAlerts(T0 + 5, 10, 60_000), store.claimDueAlerts(T0 + 5, 10, 60_000)]);
      const claimed = [...first!, ...second!];
      assert.equal(claimed.length, 1, 'one alert, claimed by one sender');
      assert.equal(claimed[0]!.accountEmail, 'team@example.com');
      assert.equal(claimed[0]!.alert.sendAttempts, 1);
      assert.deepEqual(await store.claimDueAlerts(T0 + 10, 10, 60_000), [], 'leased');
      await store.finishAlert(claimed[0]!, { delivery: 'pending', retryAt: T0 + 30_000, error: 'SMTP down' });
      assert.deepEqual(await store.claimDueAlerts(T0 + 29_999, 10, 60_000), []);
      const retry = await store.claimDueAlerts(T0 + 30_000, 10, 60_000);
      assert.equal(retry[0]?.alert.sendAttempts, 2);
      await store.finishAlert(claimed[0]!, { delivery: 'emailed', recipient: 'x@example.com', at: T0 }); // stale lease: ignored
      await store.finishAlert(retry[0]!, { delivery: 'emailed', recipient: 'team@example.com', at: T0 + 30_001 });
      assert.deepEqual(await store.claimDueAlerts(T0 + 10 * DAY_MS, 10, 60_000), []);
      const listed = await store.listAlerts(a, 'test', { limit: 10 });
      assert.equal(listed.data.length, 1);
      assert.deepEqual(
        { delivery: listed.data[0]!.delivery, recipient: listed.data[0]!.recipient, lastError: listed.data[0]!.lastError, sentAt: listed.data[0]!.sentAt },
        { delivery: 'emailed', recipient: 'team@example.com', lastError: 'SMTP down', sentAt: T0 + 30_001 },
      );
      assert.deepEqual(listed.data[0]!.details, alertFor(failing.id, 'failing').details);
      assert.equal((await store.listAlerts(a, 'live', { limit: 10 })).data.length, 0);
      await store.setAlertEmail(a, null, T0);
      assert.equal(await store.getAlertEmail(a), null);
    });
  });
}
