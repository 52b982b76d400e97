import Database from 'better-sqlite3';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
const rnd = () => randomBytes(18).toString('base64url').slice(0, 24);
let t0 = Date.now(); let c = 0;
const ordered = () => (Date.now().toString(36).padStart(9,'0') + (c++).toString(36).padStart(6,'0') + randomBytes(6).toString('hex')).slice(0,24);
function run(label, { body, headers, ids, cache }) {
  rmSync('/tmp/mb.db', { force: true }); rmSync('/tmp/mb.db-wal', { force: true });
  const db = new Database('/tmp/mb.db'); db.pragma('journal_mode=WAL'); db.pragma('synchronous=NORMAL'); if (cache) db.pragma('cache_size=-65536');
  for (const f of readdirSync('src/store/sqlite/migrations').sort()) db.exec(readFileSync('src/store/sqlite/migrations/'+f,'utf8'));
  const ins = db.prepare(`INSERT INTO attempts (id, delivery_id, event_id, endpoint_id, account_id, mode, kind, attempt_number, url, created, duration_ms, outcome, failure_kind, failure_message, http_status, request_headers, response_headers, response_body, next_retry_at, request_body) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`);
  const B = 'x'.repeat(1100); const H = JSON.stringify({ 'content-type': 'application/json; charset=utf-8', 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)', accept: '*/*; q=0.5, application/xml', 'cache-control': 'no-cache', 'stripe-signature': 't=1700000000,v1=' + 'a'.repeat(64) });
  const RH = JSON.stringify({ 'content-length': '2', date: 'Fri, 27 Nov 2026 06:00:00 GMT', connection: 'keep-alive', 'keep-alive': 'timeout=5' });
  const id = ids === 'random' ? rnd : ordered;
  const N = 200000; const start = performance.now();
  for (let b = 0; b < N; b += 200) {
    db.transaction(() => { for (let i = 0; i < 200; i++) ins.run('whatt_'+id(), 'whdel_'+id(), 'evt_'+id(), 'we_abc', 'acct_x', 'test', 'automatic', 1, 'http://127.0.0.1:1/hook/0', Date.now(), 3, 'succeeded', null, null, 200, headers ? H : '{"stripe-signature":"t=1700000000,v1=' + 'a'.repeat(64) + '"}', RH, '', null, body ? B : null); })();
  }
  const us = (performance.now() - start) * 1000 / N;
  console.log(label, us.toFixed(1), 'µs/row');
  db.close();
}
run('full rows, random ids        ', { body: true, headers: true, ids: 'random' });
run('full rows, ordered ids       ', { body: true, headers: true, ids: 'ordered' });
run('slim rows, random ids        ', { body: false, headers: false, ids: 'random' });
run('slim rows, ordered ids       ', { body: false, headers: false, ids: 'ordered' });
run('slim rows, ordered ids, cache', { body: false, headers: false, ids: 'ordered', cache: true });
run('full rows, random ids, cache ', { body: true, headers: true, ids: 'random', cache: true });
