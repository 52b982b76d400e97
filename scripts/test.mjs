#!/usr/bin/env node
// Runs every test file with Node's test runner (TypeScript through tsx). Browser tests need
// Chromium; without it they are skipped, and this script says so loudly.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const roots = ['test', 'packages/webhooks/test'];
const files = [];
const walk = (dir) => {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (/\.test\.ts$/.test(name)) files.push(path);
  }
};
roots.forEach(walk);
const only = process.argv.slice(2);
const selected = only.length ? files.filter((f) => only.some((o) => f.includes(o))) : files;

const chromium = process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium';
const skippedBrowserFiles = existsSync(chromium) ? [] : selected.filter((f) => f.includes('browser'));
if (!existsSync(chromium)) {
  const skipped = skippedBrowserFiles;
  if (skipped.length) {
    const bar = '!'.repeat(78);
    console.error(`${bar}\n!! Chromium not found at ${chromium}: SKIPPING the browser tests:\n${skipped.map((f) => `!!   ${f}`).join('\n')}\n!! Install it (apt-get install -y chromium) to run them.\n${bar}`);
  }
}

const typecheck = spawnSync('npx', ['tsc', '-p', 'tsconfig.test.json'], { stdio: 'inherit' });
if (typecheck.status !== 0) process.exit(typecheck.status ?? 1);
// @herald/webhooks' tests compile with the package's own options (DOM lib for WebCrypto types).
const typecheckWebhooks = spawnSync('npx', ['tsc', '-p', 'packages/webhooks/tsconfig.test.json'], { stdio: 'inherit' });
if (typecheckWebhooks.status !== 0) process.exit(typecheckWebhooks.status ?? 1);
// The browser tests drive the built dashboard: build it from the current source first.
const dashboardBuild = spawnSync('npx', ['tsc', '-p', 'dashboard/ui'], { stdio: 'inherit' });
if (dashboardBuild.status !== 0) process.exit(dashboardBuild.status ?? 1);

// --test-force-exit: a test that fails before stopping its Herald or receiver must fail its file,
// not leave the file waiting forever on open sockets.
// The spec reporter's output goes through this script, which keeps its closing counts.
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-force-exit', '--test-reporter=spec', ...selected], {
  stdio: ['inherit', 'pipe', 'inherit'],
  env: { ...process.env, HERALD_CHROMIUM: chromium, FORCE_COLOR: '0' },
});
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-4000);
});
const status = await new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));
const count = (name) => Number([...tail.matchAll(new RegExp(`^ℹ ${name} (\\d+)$`, 'gm'))].at(-1)?.[1] ?? 0);
if (skippedBrowserFiles.length) console.error(`!! Browser tests SKIPPED (no Chromium): ${skippedBrowserFiles.join(', ')}`);
console.log(`tests: ${count('pass')} passed, ${count('fail') + count('cancelled')} failed, ${count('skipped')} skipped`);
process.exit(status);
