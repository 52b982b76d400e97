// The README's opening receiver is run as written (only its port changed) against a real Herald.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { samplePaymentIntent, startTestHerald, waitFor, type TestHerald } from '../../../test/helpers/herald.js';
import { runReceiver } from './run-receiver.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const firstSnippet = /```js\n([\s\S]*?)```/.exec(readme)![1]!;

describe('the README\'s first receiver', () => {
  let h: TestHerald;
  before(async () => {
    h = await startTestHerald();
  });
  after(() => h.stop());

  it('is under 15 lines and handles a real Herald delivery', async () => {
    assert.ok(firstSnippet.trim().split('\n').length < 15, 'under 15 lines');
    assert.match(firstSnippet, /\.listen\(4242\);/);
    const runnable = firstSnippet.replace('.listen(4242);', ".listen(0, '127.0.0.1', function () { console.log(`Listening on http://127.0.0.1:${this.address().port}/`); });");
    const endpoint = await h.stripe().webhookEndpoints.create({ url: 'http://127.0.0.1:9/placeholder', enabled_events: ['payment_intent.succeeded'] });
    const receiver = await runReceiver(['--input-type=module', '-e', runnable], { HERALD_WEBHOOK_SECRET: endpoint.secret! });
    try {
      await h.stripe().webhookEndpoints.update(endpoint.id, { url: `http://127.0.0.1:${receiver.port}/` });
      const event = await h.publish({ type: 'payment_intent.succeeded', data: { object: samplePaymentIntent('pi_readme') } });
      await waitFor(() => receiver.output.includes('PaymentIntent pi_readme succeeded'), { message: 'the handler to run' });
      await waitFor(async () => (await h.stripe().events.retrieve(event.id)).pending_webhooks === 0, { message: 'Herald to record the 200' });
    } finally {
      await receiver.stop();
    }
  });
});
