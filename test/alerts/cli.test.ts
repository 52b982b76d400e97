import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestHerald, type TestHerald } from '../helpers/herald.js';
import { runInProcess } from '../cli/cli-process.js';

let h: TestHerald;
let env: Record<string, string>;
before(async () => {
  h = await startTestHerald();
  env = { HERALD_API_KEY: h.keys.test, HERALD_API_BASE: h.url };
});
after(() => h.stop());

test('herald alerts set-email|settings|list', async () => {
  const set = await runInProcess(['alerts', 'set-email', '--email', 'oncall@example.com'], env);
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /^Alert address: oncall@example.com\nAlerts are logged and listed only/);
  const shown = await runInProcess(['alerts', 'settings', '--json'], env);
  assert.deepEqual(JSON.parse(shown.stdout), { object: 'alert_settings', email: 'oncall@example.com', emailed: false });
  const bad = await runInProcess(['alerts', 'set-email', '--email', 'oncall'], env);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /not an email address/);
  const cleared = await runInProcess(['alerts', 'set-email', '--email', '', '--json'], env);
  assert.equal(JSON.parse(cleared.stdout).email, null);
  const list = await runInProcess(['alerts', 'list'], env);
  assert.match(list.stdout, /^No alerts\./);
});
