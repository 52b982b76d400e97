import Database from 'better-sqlite3';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
let c = 0;
const ordered = () => (Date.now().toString(36).padStart(9,'0') + (c++).toString(36).padStart(6,'0') + randomBytes(6).toString('hex')).slice(0,24);
function run(label, drop) {
  rmSync('/tmp/mb.db', { force: true }); rmSync('/tmp/mb.db-wal', { force: true });
  const db = new Database('/tmp/mb.db'); db.pragma('journal_mode=WAL'); db.pragma('synchronous=NORMAL'); if (process.env.NOCK) db.pragma('wal_autocheckpoint=0');
  for (const f of readdirSync('src/store/sqlite/migrations').sort()) db.exec(readFileSync('src/store/sqlite/migrations/'+f,'utf8'));
  for (const d of drop) db.exec('DROP INDEX ' + d);
  const ins = db.prepare(`INSERT INTO attempts (id, delivery_id, event_id, endpoint_id, account_id, mode, kind, attempt_number, url, created, duration_ms, outcome, failure_kind, failure_message, http_status, request_headers, response_headers, response_body, next_retry_at, request_body) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`);
  const RH = JSON.stringify({ 'content-length': '2', date: 'Fri, 27 Nov 2026 06:00:00 GMT', connection: 'keep-alive', 'keep-alive': 'timeout=5' });
  const N = 200000; const start = performance.now();
  for (let b = 0; b < N; b += 200) {
    db.transaction(() => { for (let i = 0; i < 200; i++) ins.run('whatt_'+ordered(), 'whdel_'+ordered(), 'evt_'+ordered(), 'we_abc', 'acct_x', 'test', 'automatic', 1, 'http://127.0.0.1:1/hook/0', Date.now(), 3, 'succeeded', null, null, 200, '{"stripe-signature":"t=1700000000,v1=' + 'a'.repeat(64) + '"}', RH, '', null, null); })();
  }
  console.log(label, ((performance.now() - start) * 1000 / N).toFixed(1), 'µs/row');
  db.close();
}
run('all indexes            ', []);
run('no attempts_endpoint   ', ['attempts_endpoint']);
run('no endpoint,created    ', ['attempts_endpoint', 'attempts_created']);
run('no secondary at all    ', ['attempts_endpoint', 'attempts_created', 'attempts_event', 'attempts_delivery', 'attempts_endpoint_created']);
