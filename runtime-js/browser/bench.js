/**
 * Benchmark a bundle in headless Chromium with onnxruntime-web and write an `edgeft bench` report,
 * so `edgeft compare` shows the browser beside Python on the same machine:
 *
 *     node runtime-js/browser/bench.js models/demo-int8 --threads 1 --out browser-1t.json
 *     node runtime-js/browser/bench.js models/demo-int8 --threads 2 --out browser-2t.json   # cross-origin isolated page
 *     node runtime-js/browser/bench.js models/demo-web --device webgpu --out gpu.json         # this machine's GPU
 *
 * --device webgpu runs Chromium with WebGPU on the machine's GPU (fp32 and fp16 variants; on a
 * machine without one, Chromium offers no adapter and the run stops saying so); 'swiftshader'
 * uses Chromium's software adapter (correctness only, not speed); 'wasm' (default) never tries.
 *
 * Measures batch-1 latency at 16/64/128 tokens, mixed-length throughput (256 texts, batches of 32),
 * load time, and cold start (a fresh page each pass: navigation to first prediction). Every variant
 * of the bundle (fp32, int8) is timed in alternating blocks in one page.
 */

import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, hostname, release, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { launchChromium, REPO_ROOT, serve } from './server.js';

const RELEVANT_FLAGS = ['sse4_2', 'avx', 'avx2', 'fma', 'f16c', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx512_bf16', 'avx_vnni', 'amx_int8', 'amx_bf16', 'neon', 'asimd', 'asimddp', 'i8mm', 'sve'];

function options(argv) {
  const o = { threads: 1, runs: 50, cold: 3, out: null, name: null, device: 'wasm' };
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    if (argv[i].startsWith('--')) o[key] = ['threads', 'runs', 'cold'].includes(key) ? Number(argv[++i]) : argv[++i];
    else rest.push(argv[i]);
  }
  if (rest.length !== 1) {
    console.error('usage: node runtime-js/browser/bench.js BUNDLE [--threads N] [--runs N] [--cold N] [--device wasm|webgpu|swiftshader] [--out FILE] [--name NAME]');
    process.exit(2);
  }
  return { ...o, bundle: resolve(rest[0]) };
}

function cpuFlags() {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => /^(flags|Features)\s*:/.test(l)) || '';
    const flags = new Set(line.split(':')[1].trim().split(/\s+/));
    return RELEVANT_FLAGS.filter((f) => flags.has(f)).sort();
  } catch {
    return [];
  }
}

async function main() {
  const o = options(process.argv.slice(2));
  const manifest = JSON.parse(readFileSync(`${o.bundle}/edgeft.json`, 'utf8'));
  if (!['wasm', 'webgpu', 'swiftshader'].includes(o.device)) throw new Error(`--device ${o.device}: choose wasm, webgpu or swiftshader`);
  const gpu = o.device !== 'wasm';
  const device = gpu ? 'webgpu' : 'wasm';
  // int8 graphs' integer kernels have no WebGPU version: on the GPU, the float variants.
  const variants = Object.keys(manifest.variants).filter((v) => !gpu || ['fp32', 'fp16'].includes(manifest.variants[v].precision));
  const isolated = o.threads > 1;
  const server = await serve({ '/': REPO_ROOT, '/bundle/': o.bundle }, { isolated });
  const browser = await launchChromium({ webgpu: o.device === 'webgpu' ? 'hardware' : o.device === 'swiftshader' });
  const page = `${server.url}/runtime-js/browser/page.html`;
  const ready = async (p) => {
    await p.goto(page);
    await p.waitForFunction(() => window.edgeftReady === true, null, { timeout: 60000 });
  };
  try {
    const cold = {};
    for (let pass = 0; pass < o.cold; pass++) {
      for (const v of variants) {
        const context = await browser.newContext();
        const p = await context.newPage();
        await ready(p);
        const at = await p.evaluate(({ v, threads, device }) => window.bench.coldStart(window.edgeft, '/bundle/', v, threads, device), { v, threads: o.threads, device });
        (cold[v] ??= []).push(at);
        await context.close();
      }
    }
    const context = await browser.newContext();
    const p = await context.newPage();
    await ready(p);
    const env = await p.evaluate(() => ({ isolated: self.crossOriginIsolated, ua: navigator.userAgent }));
    if (isolated && !env.isolated) throw new Error('the bench page is not cross-origin isolated; threads > 1 would not be used');
    const results = await p.evaluate(
      ({ variants, runs, threads, device }) => window.bench.runBench(window.edgeft, '/bundle/', { variants, runs, threads, device }),
      { variants, runs: o.runs, threads: o.threads, device },
    );
    const threadsUsed = (await p.evaluate(() => window.edgeft.ort.env.wasm.numThreads)) ?? o.threads;
    await context.close();
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const pkg = (name) => JSON.parse(readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8')).version;
    for (const v of variants) {
      const file = manifest.variants[v].file;
      Object.assign(results[v], {
        engine: 'edgeft-runtime-js',
        file,
        size_mb: Math.round(manifest.files[file].bytes / 1e4) / 100,
        ...(cold[v] ? { cold_start_s: Math.round(median(cold[v]) * 1e4) / 1e4, passes: cold[v].length } : {}),
      });
      const parity = manifest.parity || {};
      const value = ((parity.variants || {})[v] || {}).metric;
      if (value != null) results[v].accuracy = { metric: parity.metric, value, source: 'bundle parity check' };
    }
    const report = {
      format: 'edgeft-bench-report',
      schema_version: '1.0',
      created: new Date().toISOString().replace(/\.\d+Z$/, '+00:00'),
      device: {
        name: o.name || `Chromium ${browser.version().split('.')[0]} ${gpu ? `WebGPU (${o.device === 'swiftshader' ? 'SwiftShader' : 'GPU'})` : 'wasm'}`,
        cpu_model: cpus()[0]?.model || 'unknown',
        architecture: process.arch === 'x64' ? 'x86_64' : process.arch,
        cpu_flags: cpuFlags(),
        logical_cores: cpus().length,
        threads: threadsUsed,
        memory_gb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
        os: `Linux ${release()}`,
        host: hostname(),
        browser: `Chromium ${browser.version()} (headless)`,
        backend: gpu ? `onnxruntime-web ${pkg('onnxruntime-web')} (WebGPU)` : `onnxruntime-web ${pkg('onnxruntime-web')} (wasm, SIMD${threadsUsed > 1 ? ', threads' : ''})`,
        cross_origin_isolated: env.isolated,
        edgeft_runtime_js: JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version,
      },
      bundle: {
        path: o.bundle,
        task: manifest.task,
        source_run: (manifest.source || {}).run,
        base_model: (manifest.source || {}).base_model,
        max_length: manifest.max_length,
        model_sha256: Object.fromEntries(variants.map((v) => [v, manifest.files[manifest.variants[v].file]?.sha256])),
      },
      settings: { threads: o.threads, runs: o.runs, lengths: [16, 64, 128], batch_size_throughput: 32, cold_passes: o.cold, cold_start: 'fresh page: navigation start to first prediction' },
      results,
    };
    const text = JSON.stringify(report, null, 2);
    if (o.out) writeFileSync(o.out, `${text}\n`);
    for (const v of variants) {
      const r = results[v];
      const lat = Object.entries(r.latency_ms).map(([n, x]) => `${n}: ${x.p50.toFixed(2)} ms`).join(', ');
      console.log(`${report.device.name} (${threadsUsed}t) ${v}: p50 ${lat}; ${r.throughput.texts_per_s} texts/s; load ${r.load_s}s; cold start ${r.cold_start_s ?? '-'}s`);
    }
  } finally {
    await browser.close();
    await server.close();
  }
}

main().catch((e) => {
  console.error(`error: ${e.message}`);
  process.exit(1);
});
