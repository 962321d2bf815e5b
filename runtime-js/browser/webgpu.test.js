// WebGPU in headless Chromium on its software adapter (SwiftShader): correctness, not speed (speed
// on a real GPU: browser/bench.js --device webgpu). device 'webgpu' runs the fp32 variant there
// (SwiftShader has no shader-f16, so no fp16) and must give the Python runtime's labels, with
// probabilities within WEBGPU_TOLERANCE; device 'auto' skips a software adapter and falls back to
// wasm with one warning line per page. Skips, saying so, when no Chromium is installed.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { compareCase } from '../test/compare.js';
import { chromiumPath, launchChromium, REPO_ROOT, serve } from './server.js';

const parity = JSON.parse(readFileSync(new URL('../test/fixtures/parity.json', import.meta.url), 'utf8'));
// WebGPU kernels sum in other orders than the CPU's (and SwiftShader emulates the GPU's float math).
const WEBGPU_TOLERANCE = 1e-3;
const skip = chromiumPath() ? false : 'no Chromium found (apt-get install chromium, or set $CHROMIUM)';

let server;
let browser;
let page;
const errors = [];

before(async () => {
  if (skip) return;
  server = await serve({ '/': REPO_ROOT });
  browser = await launchChromium({ webgpu: true });
  page = await browser.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/runtime-js/browser/page.html`);
  await page.waitForFunction(() => window.edgeftReady === true, null, { timeout: 30000 });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

for (const bundle of ['sentiment', 'entities']) {
  test(`WebGPU (SwiftShader): ${bundle} on device 'webgpu' runs fp32 with the Python runtime's results`, { skip }, async (t) => {
    const c = parity.cases.find((x) => x.bundle === bundle && x.variant === 'fp32');
    const { device, variant, actual } = await page.evaluate(async ({ c, url }) => {
      const model = await window.edgeft.load(url, { device: 'webgpu' });
      return { device: model.device, variant: model.variant, actual: await window.runCase(model, c) };
    }, { c, url: `/runtime/tests/fixtures/${bundle}/` });
    assert.equal(device, 'webgpu');
    assert.equal(variant, 'fp32');
    const worst = compareCase(c, actual);
    t.diagnostic(`max |WebGPU - Python fp32| = ${worst.toExponential(2)}`);
    assert.ok(worst <= WEBGPU_TOLERANCE, `max difference ${worst} above ${WEBGPU_TOLERANCE}`);
  });
}

test("device 'auto' skips the software adapter and says once that it runs on wasm", { skip }, async () => {
  const { devices, warnings } = await page.evaluate(async () => {
    const warnings = [];
    const warn = (m) => warnings.push(m);
    const a = await window.edgeft.load('/runtime/tests/fixtures/sentiment/', { warn });
    const b = await window.edgeft.load('/runtime/tests/fixtures/sentiment/', { warn });
    return { devices: [a.device, a.variant, b.device], warnings };
  });
  assert.deepEqual(devices, ['wasm', 'int8', 'wasm']);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /^edgeft-runtime: the WebGPU adapter is a software one \(swiftshader\), slower than wasm; running on wasm$/);
  assert.deepEqual(errors, []);
});

test("device 'auto' on a hardware adapter keeps an int8 bundle without fp16 on wasm, saying why", { skip }, async () => {
  // A page whose WebGPU reports a hardware adapter with shader-f16 (no GPU is needed to test the
  // choice): a bundle without an fp16 variant stays on wasm, rather than download fp32 to run there.
  const p = await browser.newPage();
  await p.addInitScript(() => {
    const adapter = { features: new Set(['shader-f16']), info: { architecture: 'test-hardware' }, isFallbackAdapter: false, limits: {} };
    Object.defineProperty(navigator, 'gpu', { value: { requestAdapter: async () => adapter, getPreferredCanvasFormat: () => 'bgra8unorm' } });
  });
  await p.goto(`${server.url}/runtime-js/browser/page.html`);
  await p.waitForFunction(() => window.edgeftReady === true, null, { timeout: 30000 });
  const r = await p.evaluate(async () => {
    const warnings = [];
    const model = await window.edgeft.load('/runtime/tests/fixtures/sentiment/', { warn: (m) => warnings.push(m) });
    return { device: model.device, variant: model.variant, warnings };
  });
  await p.close();
  assert.deepEqual([r.device, r.variant], ['wasm', 'int8']);
  assert.deepEqual(r.warnings, ['edgeft-runtime: the bundle has no fp16 variant for WebGPU (edgeft export --fp16); running on wasm']);
});
