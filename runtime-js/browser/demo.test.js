// The web demo as a newcomer meets it: `make web-demo` in a fresh clone (no node_modules yet)
// installs what the page needs and serves it; and what would stop the page is said on the page,
// not only in the console: the runtime's files missing, a non-secure context (no WebCrypto), a
// bundle that is not there. Skips, saying so, without Chromium or make.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { chromiumPath, CHROMIUM_ARGS, launchChromium, REPO_ROOT, serve } from './server.js';

const hasMake = spawnSync('make', ['--version']).status === 0;
const hasGit = spawnSync('git', ['--version']).status === 0 && existsSync(join(REPO_ROOT, '.git'));
const skip = !chromiumPath() ? 'no Chromium found (apt-get install chromium, or set $CHROMIUM)' : false;
const SENTIMENT = '/runtime/tests/fixtures/sentiment/';
const cleanups = [];
after(async () => {
  for (const f of cleanups.reverse()) await f();
});

function freePort() {
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/** Type into the demo and wait for its answer: the chosen label. */
async function classify(page, text) {
  await page.fill('#text', text);
  await page.waitForSelector('#result .bar.chosen');
  return page.textContent('#result .bar.chosen .name');
}

test('make web-demo in a fresh clone installs the runtime\'s dependencies and serves a working page', { skip: skip || (!hasMake && 'no make') || (!hasGit && 'not a git checkout') }, async (t) => {
  const clone = join(mkdtempSync(join(tmpdir(), 'edgeft-clone-')), 'edgeft');
  cleanups.push(() => rmSync(clone, { recursive: true, force: true }));
  execFileSync('git', ['clone', '--quiet', '--no-hardlinks', REPO_ROOT, clone]);
  assert.ok(!existsSync(join(clone, 'runtime-js', 'node_modules')), 'the clone starts without node_modules');
  const port = await freePort();
  // Its own process group, so that the server make starts is stopped with it.
  const make = spawn('make', ['--no-print-directory', 'web-demo', `PORT=${port}`], { cwd: clone, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(() => {
    try {
      process.kill(-make.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  });
  let output = '';
  const started = Date.now();
  await new Promise((ok, fail) => {
    const seen = (chunk) => {
      output += chunk;
      if (output.includes('web demo: http://127.0.0.1:')) ok();
    };
    make.stdout.on('data', seen);
    make.stderr.on('data', seen);
    make.on('exit', (code) => fail(new Error(`make web-demo ended (${code}) before serving:\n${output}`)));
  });
  t.diagnostic(`make web-demo served after ${((Date.now() - started) / 1000).toFixed(1)} s (npm ci included)`);
  assert.match(output, /make demo/, 'it says the demo bundle is not built yet');
  assert.ok(existsSync(join(clone, 'runtime-js', 'node_modules', 'onnxruntime-web')));

  const browser = await launchChromium();
  cleanups.push(() => browser.close());
  const page = await browser.newPage();
  const base = `http://127.0.0.1:${port}/examples/web/`;
  await page.goto(base);
  await page.waitForSelector('#status[data-state="error"]', { timeout: 60000 });
  assert.match(await page.textContent('#status'), /demo-int8.*make demo/s, 'the missing demo bundle is named on the page');
  await page.goto(`${base}?bundle=${SENTIMENT}`);
  await page.waitForSelector('#status[data-state="ready"]', { timeout: 60000 });
  assert.ok(['pos', 'neg'].includes(await classify(page, 'a good film, lovely')));
});

test('a page whose runtime files are not installed says so, and what to run', { skip }, async () => {
  const empty = mkdtempSync(join(tmpdir(), 'edgeft-empty-'));
  const server = await serve({ '/': REPO_ROOT, '/runtime-js/node_modules/': empty });
  const browser = await launchChromium();
  cleanups.push(async () => {
    await browser.close();
    await server.close();
  });
  const page = await browser.newPage();
  await page.goto(`${server.url}/examples/web/?bundle=${SENTIMENT}`);
  await page.waitForSelector('#notice:not([hidden])', { timeout: 30000 });
  const notice = await page.textContent('#notice');
  assert.match(notice, /dependencies are not installed/);
  assert.match(notice, /onnxruntime-web\/dist\/ort\.wasm\.bundle\.min\.mjs \(404\)/);
  assert.match(notice, /make web-demo/);
  assert.equal(await page.getAttribute('#status', 'data-state'), 'error');
});

test('served from an address that is not a secure context, the page says why and still works without the check', { skip }, async () => {
  const server = await serve({ '/': REPO_ROOT });
  const port = new URL(server.url).port;
  // A name that resolves to this machine but is not localhost: browsers withhold WebCrypto there,
  // as they do for a LAN address such as http://192.168.1.20:8000.
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [...CHROMIUM_ARGS, '--no-proxy-server', '--host-resolver-rules=MAP edgeft-demo.test 127.0.0.1'],
  });
  cleanups.push(async () => {
    await browser.close();
    await server.close();
  });
  const page = await browser.newPage();
  await page.goto(`http://edgeft-demo.test:${port}/examples/web/?bundle=${SENTIMENT}`);
  assert.equal(await page.evaluate(() => window.isSecureContext), false);
  await page.waitForSelector('#notice:not([hidden])', { timeout: 30000 });
  const notice = await page.textContent('#notice');
  assert.match(notice, /not treat as a secure context/);
  assert.match(notice, new RegExp(`http://localhost:${port}/examples/web/`));
  assert.equal(await page.isChecked('#verify'), false);
  await page.waitForSelector('#status[data-state="ready"]', { timeout: 60000 });
  assert.ok(['pos', 'neg'].includes(await classify(page, 'a good film, lovely')));
  // With the check asked for anyway, the runtime's own message is on the page.
  await page.check('#verify');
  await page.click('#source button[type="submit"]');
  await page.waitForSelector('#status[data-state="error"]', { timeout: 30000 });
  assert.match(await page.textContent('#status'), /secure context/);
});
