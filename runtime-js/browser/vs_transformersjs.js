/**
 * edgeft-runtime beside transformers.js in headless Chromium, on the same model and texts:
 *
 *     node runtime-js/browser/vs_transformersjs.js --bundle B --tjs T --texts texts.json --threads 1 --out r.json
 *
 * B is an edgeft bundle, T a folder in transformers.js' layout (config.json, tokenizer files,
 * onnx/model_quantized.onnx), texts.json {"texts": [...], "labels": [...]} a held-out set. One
 * page holds both engines: batch-1 latency at 16/64/128 tokens in alternating blocks, throughput in
 * batches of 32, the label of every text from each. Then fresh pages, alternating engines: time
 * from navigation to the first prediction and the bytes fetched. With --threads > 1 the pages are
 * cross-origin isolated (COOP/COEP), as onnxruntime-web's threads need. benchmarks/browser_vs_transformersjs.py
 * runs it and writes the results file.
 */

import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { launchChromium, REPO_ROOT, serve } from './server.js';

function options(argv) {
  const o = { threads: 1, runs: 30, cold: 3, passes: 2, pause: 200, block: 5 };
  for (let i = 0; i < argv.length; i += 2) o[argv[i].replace(/^--/, '')] = argv[i + 1];
  for (const k of ['threads', 'runs', 'cold', 'passes', 'pause', 'block']) o[k] = Number(o[k]);
  if (!o.bundle || !o.tjs || !o.texts) {
    console.error('usage: node runtime-js/browser/vs_transformersjs.js --bundle DIR --tjs DIR --texts FILE [--threads N] [--runs N] [--block N] [--cold N] [--out FILE]');
    process.exit(2);
  }
  return o;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const o = options(process.argv.slice(2));
  const data = JSON.parse(readFileSync(o.texts, 'utf8'));
  const tjs = resolve(o.tjs);
  const server = await serve({ '/': REPO_ROOT, '/bundle/': resolve(o.bundle), '/tjs/': dirname(tjs) }, { isolated: o.threads > 1 });
  const spec = { bundle: '/bundle/', tjsRoot: '/tjs/', tjsName: basename(tjs), threads: o.threads };
  const browser = await launchChromium();
  const url = `${server.url}/runtime-js/browser/vs_page.html`;
  const open = async (context) => {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForFunction(() => window.vsReady === true, null, { timeout: 60000 });
    return page;
  };
  try {
    const context = await browser.newContext();
    const page = await open(context);
    const warm = await page.evaluate(({ spec, args }) => window.vs.compare(spec, args), {
      spec,
      args: { texts: data.texts, runs: o.runs, passes: o.passes, pause: o.pause, block: o.block },
    });
    await context.close();
    if (o.threads > 1 && !warm.isolated) throw new Error('the page is not cross-origin isolated; threads > 1 would not be used');
    // First visit: a fresh profile; second visit: a new page in the same profile (what each
    // engine kept in the browser's storage is there; this server sends no-store, so the HTTP
    // cache keeps nothing and runtime files are fetched again on both visits).
    const cold = { edgeft: [], 'transformers.js': [] };
    const second = { edgeft: [], 'transformers.js': [] };
    for (let pass = 0; pass < o.cold; pass++) {
      for (const which of pass % 2 ? ['transformers.js', 'edgeft'] : ['edgeft', 'transformers.js']) {
        const fresh = await browser.newContext();
        for (const visits of [cold, second]) {
          const p = await open(fresh);
          visits[which].push(await p.evaluate(({ which, spec, text }) => window.vs.coldStart(which, spec, text), { which, spec, text: data.texts[0] }));
          await p.close();
        }
        await fresh.close();
      }
    }
    const engines = ['edgeft', 'transformers.js'];
    const labels = warm.labels;
    const agree = labels.edgeft.filter((l, i) => l === labels['transformers.js'][i]).length;
    const accuracy = (w) => (data.labels ? Math.round((1e4 * labels[w].filter((l, i) => l === data.labels[i]).length) / data.labels.length) / 100 : null);
    const result = {
      threads: o.threads,
      cross_origin_isolated: warm.isolated,
      browser: `Chromium ${browser.version()} (headless)`,
      latency_ms: warm.latency,
      ratio_p50: Object.fromEntries(Object.entries(warm.latency).map(([n, r]) => [n, Math.round((r['transformers.js'].p50 / r.edgeft.p50) * 100) / 100])),
      throughput: warm.throughput,
      first_prediction: Object.fromEntries(engines.map((w) => [w, Object.fromEntries([['first_visit', cold], ['second_visit', second]].map(([k, v]) => [k, {
        seconds: Math.round(median(v[w].map((c) => c.seconds)) * 1000) / 1000,
        model_bytes: median(v[w].map((c) => c.model_bytes)),
        runtime_bytes: median(v[w].map((c) => c.runtime_bytes)),
        passes: v[w].length,
      }]))])),
      labels: { texts: data.texts.length, equal: agree, accuracy: Object.fromEntries(engines.map((w) => [w, accuracy(w)])), edgeft_labels: labels.edgeft },
    };
    const text = JSON.stringify(result, null, 2);
    if (o.out) writeFileSync(o.out, `${text}\n`);
    console.log(text);
  } finally {
    await browser.close();
    await server.close();
  }
}

main().catch((e) => {
  console.error(`error: ${e.message}`);
  process.exit(1);
});
