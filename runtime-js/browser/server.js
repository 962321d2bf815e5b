/**
 * A small static HTTP server for the browser tests, the bench page and the web demo. It serves
 * folders under URL prefixes on 127.0.0.1 only, never outside them, and can send the COOP/COEP
 * headers that make a page cross-origin isolated (needed for onnxruntime-web's threads).
 *
 *     node runtime-js/browser/server.js [--port 8000] [--isolated]   # serves the repository root
 */

import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.ort': 'application/octet-stream',
  '.zip': 'application/zip',
  '.gz': 'application/gzip',
  '.png': 'image/png',
  '.css': 'text/css; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
};

/**
 * Serve ``mounts`` ({'/url/prefix/': '/folder'}, longest prefix first) on a free port.
 * @returns {Promise<{url: string, close: () => Promise<void>}>}
 */
export function serve(mounts, { isolated = false, port = 0 } = {}) {
  const entries = Object.entries(mounts).sort((a, b) => b[0].length - a[0].length);
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const headers = { 'Cache-Control': 'no-store' };
    if (isolated) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
      headers['Cross-Origin-Resource-Policy'] = 'same-origin';
    }
    const mount = entries.find(([prefix]) => path.startsWith(prefix));
    let file = mount && resolve(join(mount[1], path.slice(mount[0].length)));
    if (!file || !(file === resolve(mount[1]) || file.startsWith(resolve(mount[1]) + sep))) {
      res.writeHead(403, headers).end('forbidden');
      return;
    }
    try {
      if (statSync(file).isDirectory()) file = join(file, 'index.html');
      const size = statSync(file).size;
      res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(file)] || 'application/octet-stream', 'Content-Length': size });
      createReadStream(file).pipe(res);
    } catch {
      res.writeHead(404, headers).end('not found');
    }
  });
  return new Promise((ok) =>
    server.listen(port, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${server.address().port}`;
      ok({ url, close: () => new Promise((done) => server.close(() => done())) });
    }),
  );
}

/** Chromium flags that keep a headless run from waiting on network services it cannot reach. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Path of the Chromium to drive: $CHROMIUM, or Debian's /usr/bin/chromium. */
export function chromiumPath() {
  for (const path of [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    try {
      if (path && statSync(path).isFile()) return path;
    } catch {
      // not here; try the next
    }
  }
  return null;
}

/**
 * Flags for WebGPU on Chromium's software adapter (SwiftShader): for correctness tests, not speed.
 * --disable-gpu is left out, as it also takes WebGPU away.
 */
export const WEBGPU_ARGS = [...CHROMIUM_ARGS.filter((a) => a !== '--disable-gpu'), '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'];

/** Flags for WebGPU on the machine's own GPU (bench.js --device webgpu, on a machine that has one). */
export const GPU_ARGS = [...CHROMIUM_ARGS.filter((a) => a !== '--disable-gpu'), '--enable-unsafe-webgpu', '--enable-features=Vulkan'];

/**
 * Launch headless Chromium with playwright-core (a fresh profile; no browser download).
 * ``webgpu``: false (no GPU), true (the SwiftShader software adapter) or 'hardware'.
 */
export async function launchChromium({ webgpu = false } = {}) {
  const { chromium } = await import('playwright-core');
  const args = webgpu === 'hardware' ? GPU_ARGS : webgpu ? WEBGPU_ARGS : CHROMIUM_ARGS;
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const port = Number(args[args.indexOf('--port') + 1]) || 8000;
  const { url } = await serve({ '/': REPO_ROOT }, { isolated: args.includes('--isolated'), port });
  console.log(`serving ${REPO_ROOT} at ${url}/  (web demo: ${url}/examples/web/)`);
}
