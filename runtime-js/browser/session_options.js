/**
 * onnxruntime-web session options timed against each other on one graph, in one headless Chromium
 * page, blocks alternating:
 *
 *     node runtime-js/browser/session_options.js --graph model_int8.onnx [--threads 1] [--runs 40] [--lengths 16,128]
 *
 * Each variant is a session of the same graph on edgeft-runtime's onnxruntime-web build, created
 * with the options below (the first, `runtime`, is what edgeft-runtime passes). Prints JSON: per
 * token length, per variant, the median ms of a batch-1 run, with the date and the load average.
 * What it measured: benchmarks/RESULTS.md, "Beside transformers.js in the browser".
 */

import { loadavg } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import { launchChromium, REPO_ROOT, serve } from './server.js';

const BUILD = '/runtime-js/node_modules/onnxruntime-web/dist/ort.wasm.bundle.min.mjs';
const DIMS = { batch_size: 1 };
export const VARIANTS = {
  runtime: { graphOptimizationLevel: 'all', logSeverityLevel: 3 },
  extended: { graphOptimizationLevel: 'extended', logSeverityLevel: 3 },
  no_arena: { graphOptimizationLevel: 'all', enableCpuMemArena: false, logSeverityLevel: 3 },
  no_mem_pattern: { graphOptimizationLevel: 'all', enableMemPattern: false, logSeverityLevel: 3 },
  parallel: { graphOptimizationLevel: 'all', executionMode: 'parallel', logSeverityLevel: 3 },
  batch_1: { graphOptimizationLevel: 'all', freeDimensionOverrides: DIMS, logSeverityLevel: 3 },
};

const o = { threads: 1, runs: 40, lengths: '16,128' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) o[argv[i].replace(/^--/, '')] = argv[i + 1];
const graph = resolve(o.graph);
const server = await serve({ '/': REPO_ROOT, '/graph/': dirname(graph) }, { isolated: Number(o.threads) > 1 });
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  await page.goto(`${server.url}/runtime-js/browser/page.html`);
  const before = loadavg();
  const ms = await page.evaluate(async (a) => (await import('/runtime-js/browser/session_options_page.js')).run(a.build, a), {
    build: BUILD,
    graph: `/graph/${basename(graph)}`,
    variants: VARIANTS,
    lengths: o.lengths.split(',').map(Number),
    runs: Number(o.runs),
    threads: Number(o.threads),
  });
  const round = (xs) => xs.map((x) => Math.round(x * 100) / 100);
  const result = { created: new Date().toISOString(), graph, threads: Number(o.threads), runs: Number(o.runs), load_average: { before: round(before), after: round(loadavg()) }, variants: VARIANTS, median_ms: ms };
  console.log(JSON.stringify(result, null, 2));
} finally {
  await browser.close();
  await server.close();
}
