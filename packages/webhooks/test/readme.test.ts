// The README's opening receiver is run as written (only its port changed) against a real Herald.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { samplePaymentIntent, startTestHerald, waitFor, type TestHerald } from '../../../test/helpers/herald.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
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
    const child = spawn(process.execPath, ['--input-type=module', '-e', runnable], { cwd: repoRoot, env: { ...process.env, HERALD_WEBHOOK_SECRET: endpoint.secret! }, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => output.push(...chunk.split('\n').filter(Boolean)));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => output.push(...chunk.split('\n').filter(Boolean)));
    try {
      const line = await waitFor(() => output.find((l) => l.startsWith('Listening on')), { message: 'the snippet to listen', timeoutMs: 15_000 });
      await h.stripe().webhookEndpoints.update(endpoint.id, { url: `http://127.0.0.1:${/:(\d+)\//.exec(line)![1]}/` });
      const event = await h.publish({ type: 'payment_intent.succeeded', data: { object: samplePaymentIntent('pi_readme') } });
      await waitFor(() => output.includes('PaymentIntent pi_readme succeeded'), { message: 'the handler to run' });
      await waitFor(async () => (await h.stripe().events.retrieve(event.id)).pending_webhooks === 0, { message: 'Herald to record the 200' });
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  });
});
