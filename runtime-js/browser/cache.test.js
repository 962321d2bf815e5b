// The bundle kept in the browser (Cache API): a second visit reads its files from there instead
// of the network, a re-exported bundle (new hashes) is fetched again, and a damaged cached copy
// is verified, dropped and fetched again. Skips, saying so, when no Chromium is installed.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FIXTURES } from '../test/helpers.js';
import { chromiumPath, launchChromium, REPO_ROOT, serve } from './server.js';

const skip = chromiumPath() ? false : 'no Chromium found (apt-get install chromium, or set $CHROMIUM)';
let server;
let browser;
let context;
let folder;

before(async () => {
  if (skip) return;
  folder = mkdtempSync(join(tmpdir(), 'edgeft-cache-'));
  cpSync(join(FIXTURES, 'sentiment'), join(folder, 'b'), { recursive: true });
  server = await serve({ '/': REPO_ROOT, '/site/': folder });
  browser = await launchChromium();
  context = await browser.newContext(); // one profile: its Cache API storage outlives each page
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** A fresh page (a visit) in the same profile: what load() read from the cache, and bytes fetched. */
async function visit(options = {}) {
  const page = await context.newPage();
  await page.goto(`${server.url}/runtime-js/browser/page.html`);
  await page.waitForFunction(() => window.edgeftReady === true, null, { timeout: 30000 });
  const r = await page.evaluate(async (options) => {
    const model = await window.edgeft.load('/site/b/', { device: 'wasm', ...options });
    const entries = performance.getEntriesByType('resource');
    const fetched = entries.filter((e) => e.name.includes('/site/b/')).map((e) => e.name.split('/').pop());
    const wasm = entries.filter((e) => e.name.endsWith('.wasm')).length;
    return { fromCache: [...model.fromCache].sort(), fetched: fetched.sort(), wasm, label: (await model.predict('a good film')).label };
  }, options);
  await page.close();
  return r;
}

test('a second visit reads the bundle and the wasm from the Cache API; only the manifest is fetched', { skip }, async () => {
  const first = await visit();
  assert.deepEqual(first.fromCache, []);
  assert.deepEqual(first.fetched, ['edgeft.json', 'model_int8.onnx', 'tokenizer.json']);
  assert.equal(first.wasm, 1);
  const second = await visit();
  assert.deepEqual(second.fromCache, ['model_int8.onnx', 'tokenizer.json']);
  assert.deepEqual(second.fetched, ['edgeft.json']);
  assert.equal(second.wasm, 0); // onnxruntime-web's wasm came from the Cache API too
  assert.equal(second.label, first.label);
  const off = await visit({ cache: false });
  assert.deepEqual(off.fetched, ['edgeft.json', 'model_int8.onnx', 'tokenizer.json']);
});

test('a re-exported bundle is fetched again, and a damaged cached copy is dropped and fetched again', { skip }, async () => {
  await visit();
  const manifestPath = join(folder, 'b', 'edgeft.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const tokenizer = join(folder, 'b', 'tokenizer.json');
  writeFileSync(tokenizer, `${readFileSync(tokenizer, 'utf8').trimEnd()}\n\n`); // same tokenizer, new bytes
  const { createHash } = await import('node:crypto');
  manifest.files['tokenizer.json'].sha256 = createHash('sha256').update(readFileSync(tokenizer)).digest('hex');
  writeFileSync(manifestPath, JSON.stringify(manifest));
  const changed = await visit();
  assert.deepEqual(changed.fetched, ['edgeft.json', 'tokenizer.json']);
  assert.deepEqual(changed.fromCache, ['model_int8.onnx']);
  // damage the cached model: the next visit's sha256 check catches it and fetches a good copy
  const page = await context.newPage();
  await page.goto(`${server.url}/runtime-js/browser/page.html`);
  await page.evaluate(async () => {
    const cache = await caches.open('edgeft-bundles');
    const key = (await cache.keys()).find((r) => r.url.includes('model_int8.onnx'));
    await cache.put(key, new Response(new Uint8Array([1, 2, 3])));
  });
  await page.close();
  const healed = await visit();
  assert.deepEqual(healed.fetched, ['edgeft.json', 'model_int8.onnx']);
  assert.equal((await visit()).fetched.length, 1);
});
