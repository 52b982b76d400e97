// The `/web` entry, as built (dist/), loaded as ES modules by a real Chromium: no Node module, no bundler.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium, skipWithoutChromium } from '../../../test/browser/chromium.js';
import { SIGNING_VECTORS, type SigningVector } from './vectors.js';

const distDir = fileURLToPath(new URL('../dist/', import.meta.url));

describe('@herald/webhooks/web in Chromium', { skip: skipWithoutChromium }, () => {
  let server: Server;
  let origin: string;
  let browser: Browser;
  before(async () => {
    server = createServer((req, res) => {
      const path = normalize(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '');
      if (path === '' || path === 'index.html') {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>web entry</title>');
        return;
      }
      let file: Buffer;
      try {
        file = readFileSync(distDir + path);
      } catch {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(file);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('verifies and signs the shared vectors, refuses a tampered body, and runs the handler on Request/Response', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    // tsx compiles this file with esbuild's keepNames, whose __name helper the page lacks.
    await page.addInitScript('globalThis.__name = (target) => target;');
    await page.goto(`${origin}/`);
    const results = await page.evaluate(async (vectors) => {
      // Loaded by URL in the page: exactly what a browser or an edge runtime would execute.
      const web = await import(`${location.origin}/web.js`);
      const out: unknown[] = [];
      for (const v of vectors) {
        const now = v.timestamp * 1000;
        const event = await web.constructEventAsync(v.body, v.expectedStripeSignature, v.secret, { now });
        const standardHeaders = new Headers({ 'webhook-id': v.id, 'webhook-timestamp': String(v.timestamp), 'webhook-signature': v.expectedStandardSignature });
        const standardEvent = await web.verifyStandardWebhookAsync(new TextEncoder().encode(v.body), standardHeaders, v.secret, { now });
        const header = await web.generateTestHeaderStringAsync({ payload: v.body, secret: v.secret, timestamp: v.timestamp });
        const signed = await web.standardWebhooksHeadersAsync(v.body, [v.secret], v.id, v.timestamp);
        let tampered = 'accepted';
        try {
          await web.constructEventAsync(v.body + ' ', v.expectedStripeSignature, v.secret, { now });
        } catch (error) {
          tampered = (error as { code: string }).code;
        }
        out.push({ id: event.id, standardId: standardEvent.id, header, signature: signed['webhook-signature'], tampered });
      }
      const seen: string[] = [];
      const v = vectors[0]!;
      const handler = web.createWebhookHandler({ secret: v.secret, logger: false, now: () => v.timestamp * 1000, handlers: { '*': (e: { id: string }) => void seen.push(e.id) } });
      const response = await handler.fetch(new Request(`${location.origin}/hook`, { method: 'POST', headers: { 'stripe-signature': v.expectedStripeSignature }, body: v.body }));
      const duplicate = await handler.fetch(new Request(`${location.origin}/hook`, { method: 'POST', headers: { 'stripe-signature': v.expectedStripeSignature }, body: v.body }));
      await new Promise((resolve) => setTimeout(resolve, 50));
      out.push({ status: response.status, body: await response.text(), duplicate: await duplicate.text(), seen });
      return out;
    }, SIGNING_VECTORS as SigningVector[]);
    assert.deepEqual(errors, []);
    SIGNING_VECTORS.forEach((v, i) => {
      assert.deepEqual(results[i], { id: v.id, standardId: v.id, header: v.expectedStripeSignature, signature: v.expectedStandardSignature, tampered: 'signature_mismatch' });
    });
    assert.deepEqual(results.at(-1), { status: 200, body: '{"received":true}', duplicate: '{"received":true,"duplicate":true}', seen: [SIGNING_VECTORS[0]!.id] });
  });
});
