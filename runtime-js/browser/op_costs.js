/**
 * What single operators cost in onnxruntime-web (edgeft-runtime's wasm build), in one headless
 * Chromium page, blocks alternating:
 *
 *     node runtime-js/browser/op_costs.js --folder DIR --graphs a,b,c [--threads 1] [--runs 20]
 *
 * Each graph is DIR/<name>.onnx with one float input. Prints JSON: per graph, the median ms of a
 * run. benchmarks/browser_op_costs.py builds the graphs (the operators of an int8 MiniLM at 128
 * tokens) and runs this.
 */

import { resolve } from 'node:path';
import { launchChromium, REPO_ROOT, serve } from './server.js';

const BUILD = '/runtime-js/node_modules/onnxruntime-web/dist/ort.wasm.bundle.min.mjs';
const o = { threads: 1, runs: 20 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) o[argv[i].replace(/^--/, '')] = argv[i + 1];
const server = await serve({ '/': REPO_ROOT, '/graphs/': resolve(o.folder) }, { isolated: Number(o.threads) > 1 });
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  await page.goto(`${server.url}/runtime-js/browser/page.html`);
  const result = await page.evaluate(async (a) => (await import('/runtime-js/browser/op_costs_page.js')).run(a.build, a), {
    build: BUILD,
    graphs: o.graphs.split(','),
    runs: Number(o.runs),
    threads: Number(o.threads),
  });
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
  await server.close();
}
