// The browser half of vs_transformersjs.js: both engines behind one interface (load, classify one
// text, classify a batch), each imported only when asked for, so a fresh page downloads only its
// own files; timing in alternating blocks after a pause, as bench_page.js does.

const TJS_ORT = '/runtime-js/node_modules/@huggingface/transformers/node_modules/onnxruntime-web/dist/';

/** edgeft-runtime: the bundle at ``url``. */
async function edgeftEngine(url, { threads, variant }) {
  const edgeft = await import('edgeft-runtime');
  const model = await edgeft.load(url, { threads, variant, device: 'wasm' });
  return {
    name: 'edgeft',
    model,
    count: (t) => model.tokenizer.encode(t).ids.length,
    one: async (t) => (await model.predict(t)).label,
    many: async (ts) => (await model.predict(ts, { batchSize: 32 })).map((r) => r.label),
  };
}

/**
 * transformers.js pipeline('text-classification') with its defaults for the browser (dtype q8 on
 * wasm, its own onnxruntime-web build), reading the model folder ``name`` under ``root``; the
 * wasm files are served from this machine instead of the CDN transformers.js would fetch them from.
 */
async function transformersEngine(root, name, { threads }) {
  const { pipeline, env } = await import('/runtime-js/node_modules/@huggingface/transformers/dist/transformers.min.js');
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = root;
  env.backends.onnx.wasm.wasmPaths = { mjs: `${TJS_ORT}ort-wasm-simd-threaded.asyncify.mjs`, wasm: `${TJS_ORT}ort-wasm-simd-threaded.asyncify.wasm` };
  env.backends.onnx.wasm.numThreads = threads;
  const clf = await pipeline('text-classification', name, { dtype: 'q8', device: 'wasm' });
  return {
    name: 'transformers.js',
    model: clf,
    count: (t) => clf.tokenizer(t).input_ids.dims[1],
    one: async (t) => (await clf(t))[0].label,
    many: async (ts) => {
      const labels = [];
      for (let i = 0; i < ts.length; i += 32) labels.push(...(await clf(ts.slice(i, i + 32))).map((r) => r.label));
      return labels;
    },
  };
}

export async function loadEngine(which, spec) {
  return which === 'edgeft' ? edgeftEngine(spec.bundle, spec) : transformersEngine(spec.tjsRoot, spec.tjsName, spec);
}

/** Fresh page: load ``which`` and classify one text; seconds from navigation start, bytes fetched. */
export async function coldStart(which, spec, text) {
  const engine = await loadEngine(which, spec);
  await engine.one(text);
  const at = performance.now() / 1000;
  // Bytes over the network (transferSize is 0 for what the Cache API or memory served), split
  // into the model's files and the runtime's (scripts, wasm).
  const entries = performance.getEntriesByType('resource');
  const isModel = (e) => e.name.includes(spec.bundle) || e.name.includes(spec.tjsRoot);
  const sum = (xs) => xs.reduce((s, e) => s + (e.transferSize || 0), 0);
  return { seconds: at, model_bytes: sum(entries.filter(isModel)), runtime_bytes: sum(entries.filter((e) => !isModel(e))) };
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

function stats(ms) {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.round(p * (s.length - 1)))];
  const r = (x) => Math.round(x * 100) / 100;
  return { p50: r(s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2), p90: r(q(0.9)), runs: s.length };
}

/**
 * Consecutive words of the real texts with exactly ``n`` tokens under ``count``: the longest run
 * from a start word that fits, trying later start words until one lands on ``n`` exactly.
 */
export function textOfLength(count, words, n, offset) {
  for (let shift = 0; shift < 500; shift++) {
    const start = (offset + shift) % (words.length - 2 * n);
    const at = (k) => words.slice(start, start + k).join(' ');
    let lo = 1;
    let hi = 2 * n;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (count(at(mid)) <= n) lo = mid;
      else hi = mid - 1;
    }
    if (count(at(lo)) === n) return at(lo);
  }
  throw new Error(`no run of words has exactly ${n} tokens`);
}

/**
 * Both engines in this page: batch-1 latency at ``lengths`` tokens on real words, alternating
 * blocks (pause, warm-up, timed calls) so drift in the machine's load falls on both; throughput
 * on the real texts in batches of 32; the label of every text from each, one text at a time.
 */
export async function compare(spec, { texts, lengths = [16, 64, 128], runs = 30, block = 5, warmup = 2, pause = 200, passes = 2 }) {
  const engines = {};
  for (const which of ['edgeft', 'transformers.js']) engines[which] = await loadEngine(which, spec);
  const words = texts.join(' ').split(/\s+/);
  const latency = {};
  for (const n of lengths) {
    // Counted by transformers.js' tokenizer, which does not truncate here (edgeft's cuts at
    // max_length, so it cannot tell a 128-token text from a longer one); both must then agree.
    const inputs = [0, 1, 2, 3, 4].map((k) => textOfLength(engines['transformers.js'].count, words, n, 977 * k + n));
    const tokens = Object.fromEntries(Object.entries(engines).map(([w, e]) => [w, e.count(inputs[0])]));
    if (tokens.edgeft !== n || tokens['transformers.js'] !== n) throw new Error(`the ${n}-token text has ${JSON.stringify(tokens)} tokens`);
    const times = { edgeft: [], 'transformers.js': [] };
    for (let done = 0; done < runs; done += block) {
      const order = (done / block) % 2 ? ['transformers.js', 'edgeft'] : ['edgeft', 'transformers.js'];
      for (const which of order) {
        await sleep(pause);
        const e = engines[which];
        for (let i = 0; i < warmup; i++) await e.one(inputs[i % inputs.length]);
        for (let i = 0; i < block; i++) {
          const t = performance.now();
          await e.one(inputs[(done + i) % inputs.length]);
          times[which].push(performance.now() - t);
        }
      }
    }
    latency[n] = { tokens, edgeft: stats(times.edgeft), 'transformers.js': stats(times['transformers.js']) };
  }
  const throughput = {};
  const batchTexts = texts.slice(0, 256);
  const tput = { edgeft: [], 'transformers.js': [] };
  for (let p = 0; p < passes; p++) {
    for (const which of p % 2 ? ['transformers.js', 'edgeft'] : ['edgeft', 'transformers.js']) {
      await sleep(pause);
      const t = performance.now();
      await engines[which].many(batchTexts);
      tput[which].push(batchTexts.length / ((performance.now() - t) / 1000));
    }
  }
  for (const w of Object.keys(tput)) throughput[w] = { texts_per_s: Math.round(stats(tput[w]).p50 * 100) / 100, texts: batchTexts.length, batch_size: 32 };
  // Labels one text at a time: int8 graphs quantise activations per batch, so labels from
  // batches differ with how each runtime groups and pads texts (edgeft sorts by length).
  const labels = {};
  for (const [w, e] of Object.entries(engines)) {
    labels[w] = [];
    for (const t of texts) labels[w].push(await e.one(t));
  }
  return { latency, throughput, labels, isolated: self.crossOriginIsolated };
}
