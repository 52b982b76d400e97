import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { startTestHerald, waitFor } from '../helpers/herald.js';

/**
 * With several writers (PostgreSQL), an event can become visible after events with higher log
 * positions (its transaction committed later). Simulated here in SQLite by inserting rows with
 * explicit positions: the stream must still send the late event, once.
 */
test('an event that appears behind positions the stream already read is still streamed, once', async () => {
  const h = await startTestHerald();
  const db = new Database(h.dbPath);
  const controller = new AbortController();
  try {
    const session = (await h.request('POST', '/v1/listen/sessions', { body: 'enabled_events[]=*' })).body;
    const response = await fetch(`${h.url}${session.stream_url}`, { headers: { authorization: `Bearer ${h.keys.test}` }, signal: controller.signal });
    const received: string[] = [];
    void (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (!block.startsWith('event: webhook_event')) continue;
          const message = JSON.parse(block.slice(block.indexOf('data: ') + 6));
          received.push(message.event_id);
          // Acknowledge, as the CLI does after forwarding.
          await h.request('POST', session.attempts_url, { body: JSON.stringify({ event: message.event_id, attempts: [] }), contentType: 'application/json' });
        }
      }
    })().catch(() => undefined);

    const insert = db.prepare(
      `INSERT INTO events (seq, id, account_id, mode, type, connected_account, api_version, created, data, request_id, request_idempotency_key)
       VALUES (?, ?, ?, 'test', 'charge.succeeded', NULL, '2026-10-28.endive', ?, '{"object":{"id":"ch_1","object":"charge"}}', NULL, NULL)`,
    );
    const top = (db.prepare('SELECT COALESCE(MAX(seq), 0) FROM events').pluck().get() as number) + 10;
    insert.run(top + 2, 'evt_committedfirst000000000', h.herald.accountId, Date.now());
    await waitFor(() => received.includes('evt_committedfirst000000000'), { timeoutMs: 10_000 });
    insert.run(top + 1, 'evt_committedlate00000000000', h.herald.accountId, Date.now());
    await waitFor(() => received.includes('evt_committedlate00000000000'), { timeoutMs: 15_000, message: 'the late event' });
    const after = await h.publish({ type: 'charge.succeeded', data: { object: { id: 'ch_2', object: 'charge' } } });
    await waitFor(() => received.includes(after.id));
    assert.deepEqual(received, ['evt_committedfirst000000000', 'evt_committedlate00000000000', after.id]);
  } finally {
    controller.abort();
    db.close();
    await h.stop();
  }
});
