import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { csrfTokenMatches, SessionStore } from '../../src/dashboard/sessions.js';
import { ManualClock } from '../../src/domain/clock.js';

const HOUR = 3600_000;

describe('dashboard sessions', () => {
  it('end after the idle time; use restarts the idle timer', () => {
    const clock = new ManualClock(1_000_000);
    const sessions = new SessionStore(clock, 12 * HOUR);
    const s = sessions.create('acct_1', 'test', 'sk_test_x');
    clock.advance(11 * HOUR);
    assert.equal(sessions.touch(s.id)?.id, s.id);
    clock.advance(11 * HOUR);
    assert.equal(sessions.touch(s.id)?.id, s.id, 'touched 11 h ago');
    clock.advance(12 * HOUR + 1);
    assert.equal(sessions.touch(s.id), null);
    assert.equal(sessions.touch(s.id), null, 'gone for good');
  });

  it('end after 7 days however active they are', () => {
    const clock = new ManualClock(1_000_000);
    const sessions = new SessionStore(clock, 12 * HOUR);
    const s = sessions.create('acct_1', 'live', 'sk_live_x');
    for (let i = 0; i < 7 * 24; i++) {
      clock.advance(HOUR);
      if (i < 7 * 24 - 1) assert.ok(sessions.touch(s.id));
    }
    clock.advance(1);
    assert.equal(sessions.touch(s.id), null);
  });

  it('keep at most the given number, dropping the oldest', () => {
    const sessions = new SessionStore(new ManualClock(), HOUR, 2);
    const a = sessions.create('acct_1', 'test', 'k1');
    const b = sessions.create('acct_1', 'test', 'k2');
    const c = sessions.create('acct_1', 'test', 'k3');
    assert.equal(sessions.touch(a.id), null);
    assert.ok(sessions.touch(b.id));
    assert.ok(sessions.touch(c.id));
    assert.equal(sessions.touch(undefined), null);
    assert.equal(sessions.touch('nope'), null);
  });

  it('have unguessable, distinct ids and CSRF tokens, compared exactly', () => {
    const sessions = new SessionStore(new ManualClock(), HOUR);
    const a = sessions.create('acct_1', 'test', 'k1');
    const b = sessions.create('acct_1', 'test', 'k1');
    assert.notEqual(a.id, b.id);
    assert.notEqual(a.csrfToken, b.csrfToken);
    assert.ok(a.id.length >= 43 && a.csrfToken.length >= 43);
    assert.equal(csrfTokenMatches(a, a.csrfToken), true);
    assert.equal(csrfTokenMatches(a, b.csrfToken), false);
    assert.equal(csrfTokenMatches(a, a.csrfToken.slice(1)), false);
    assert.equal(csrfTokenMatches(a, undefined), false);
    assert.equal(csrfTokenMatches(a, ''), false);
  });
});
