/**
 * Where the end-to-end time of one prediction goes, in each runtime: tokenizer, tensor building,
 * the session run alone and the whole call, at 16/64/128 tokens, in one page, blocks alternating.
 *
 *     node runtime-js/browser/overhead.js --bundle B --tjs T --texts texts.json [--threads 1] [--runs 30]
 *
 * B is an edgeft bundle, T the same model in transformers.js' layout, texts.json the held-out texts
 * (benchmarks/browser_vs_transformersjs.py writes T and models/.transformersjs/sst2_dev.json).
 * Prints JSON: per length, per part, the median ms, with the date and the load average.
 */

import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import { launchChromium, REPO_ROOT, serve } from './server.js';

const o = { threads: 1, runs: 30 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) o[argv[i].replace(/^--/, '')] = argv[i + 1];
o.threads = Number(o.threads);
o.runs = Number(o.runs);
const data = JSON.parse(readFileSync(o.texts, 'utf8'));
const tjs = resolve(o.tjs);
const server = await serve({ '/': REPO_ROOT, '/bundle/': resolve(o.bundle), '/tjs/': dirname(tjs) }, { isolated: o.threads > 1 });
const spec = { bundle: '/bundle/', tjsRoot: '/tjs/', tjsName: basename(tjs), threads: o.threads };
const browser = await launchChromium();
try {
  const page = await (await browser.newContext()).newPage();
    await page.goto(`${server.url}/runtime-js/browser/vs_page.html`);
  await page.waitForFunction(() => window.vsReady === true, null, { timeout: 60000 });
  const before = loadavg();
  const ms = await page.evaluate(async ({ spec, texts, runs }) => {
    const probe = await import('/runtime-js/browser/overhead_page.js');
    return probe.measure(spec, { texts, runs });
  }, { spec, texts: data.texts, runs: o.runs });
  const round = (xs) => xs.map((x) => Math.round(x * 100) / 100);
  const out = { created: new Date().toISOString(), bundle: o.bundle, tjs: o.tjs, threads: o.threads, runs: o.runs, load_average: { before: round(before), after: round(loadavg()) }, median_ms: ms };
  console.log(JSON.stringify(out, null, 2));
} finally {
  await browser.close();
  await server.close();
}
