import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, resolveConfig } from '../../src/config/config.js';

test('alert and limit settings: defaults, parsing, and the alert coming before the disable', () => {
  const defaults = resolveConfig({});
  assert.equal(defaults.alertAfterMs, 86_400_000);
  assert.equal(defaults.smtpUrl, null);
  assert.equal(defaults.alertEmail, null);
  assert.equal(defaults.maxEventBytes, 256 * 1024);

  const set = resolveConfig({ HERALD_SMTP_URL: 'smtps://user:p%40ss@mail.example.com:465', HERALD_ALERT_EMAIL: 'ops@example.com', HERALD_ALERT_AFTER: '12h', HERALD_MAX_EVENT_BYTES: '65536' });
  assert.equal(set.smtpUrl, 'smtps://user:p%40ss@mail.example.com:465');
  assert.equal(set.alertEmail, 'ops@example.com');
  assert.equal(set.alertAfterMs, 12 * 3_600_000);
  assert.equal(set.maxEventBytes, 65536);

  assert.throws(() => resolveConfig({ HERALD_SMTP_URL: 'http://mail.example.com' }), ConfigError);
  assert.throws(() => resolveConfig({ HERALD_ALERT_EMAIL: 'ops@example.com\r\nBcc: x@y.z' }), ConfigError, 'no header injection through the address');
  assert.throws(() => resolveConfig({ HERALD_ALERT_AFTER: '3d' }), /must be less than HERALD_DISABLE_AFTER/);
  assert.throws(() => resolveConfig({ HERALD_ALERT_AFTER: '2d', HERALD_DISABLE_AFTER: '1d' }), /must be less than HERALD_DISABLE_AFTER/);
  // A shorter disable delay without an explicit alert delay: the alert comes at half of it.
  assert.equal(resolveConfig({ HERALD_DISABLE_AFTER: '12h' }).alertAfterMs, 6 * 3_600_000);
  assert.equal(resolveConfig({ HERALD_DISABLE_AFTER: '12h' }, { '--alert-after': '1h' }).alertAfterMs, 3_600_000);
});
