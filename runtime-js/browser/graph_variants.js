/**
 * Graphs and onnxruntime-web builds timed against each other in one headless Chromium page:
 *
 *     node runtime-js/browser/graph_variants.js --folder DIR --graphs a:p130,b:a131 [--threads 1] [--runs 40]
 *
 * Each graph is DIR/<name>.onnx run on a build: p130 (edgeft-runtime's onnxruntime-web, the wasm
 * build), a131 (transformers.js' onnxruntime-web, its asyncify build as transformers.js loads it)
 * or p1311 (see BUILDS).
 * Prints JSON: per token length, per graph, the median ms of a batch-1 run, and session start ms.
 * benchmarks/browser_graph_variants.py builds the graphs and runs this.
 */

import { resolve } from 'node:path';
import { launchChromium, REPO_ROOT, serve } from './server.js';

const TJS = '/runtime-js/node_modules/@huggingface/transformers/node_modules/onnxruntime-web/dist/';
// p1311: onnxruntime-web 1.31.1's wasm build, timed only where it is installed beside the pinned
// 1.30 (`npm install --prefix /tmp/o onnxruntime-web@1.31.1`, then copy /tmp/o/node_modules/onnxruntime-web
// to runtime-js/node_modules/ort-web-1311): is a newer build's int8 faster?
const BUILDS = {
  p130: '/runtime-js/node_modules/onnxruntime-web/dist/ort.wasm.bundle.min.mjs',
  a131: `${TJS}ort.webgpu.bundle.min.mjs`,
  p1311: '/runtime-js/node_modules/ort-web-1311/dist/ort.wasm.bundle.min.mjs',
};

const o = { threads: 1, runs: 40, lengths: '16,128' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) o[argv[i].replace(/^--/, '')] = argv[i + 1];
const pairs = o.graphs.split(',').map((g) => g.split(':'));
const used = [...new Set(pairs.map(([, b]) => b))];
const server = await serve({ '/': REPO_ROOT, '/graphs/': resolve(o.folder) }, { isolated: Number(o.threads) > 1 });
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  await page.goto(`${server.url}/runtime-js/browser/page.html`);
  const result = await page.evaluate(async (a) => (await import('/runtime-js/browser/graph_variants_page.js')).run(a.builds, a), {
    builds: Object.fromEntries(used.map((b) => [b, BUILDS[b]])),
    graphs: Object.fromEntries(pairs.map(([g, b]) => [`${g}:${b}`, { build: b, url: `/graphs/${g}.onnx` }])),
    lengths: o.lengths.split(',').map(Number),
    runs: Number(o.runs),
    threads: Number(o.threads),
  });
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
  await server.close();
}
