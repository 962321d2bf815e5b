// The browser half of the benchmark (imported by page.html, driven by bench.js): batch-1 latency at
// exact token lengths, mixed-length throughput in batches of 32, engines (bundle variants) timed in
// alternating blocks after a pause, as edgeft_runtime.bench and timing.py do in Python.

const WORDS = (
  'the film was good and the story kept me interested until the very end but some scenes felt ' +
  'long while the music and the acting were strong enough to carry it through a slow middle part ' +
  'where nothing much happened so i would still recommend it to anyone who likes quiet drama with ' +
  'real people in it and a little humour here and there which made the whole thing feel warm'
).split(' ');

/** A small seeded generator (mulberry32): the same texts on every run. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A text that tokenises to exactly n tokens (special tokens included). */
export function textOfLength(count, n, seed = 0) {
  const rng = random(seed + 1);
  const words = [];
  let current = count('');
  for (let attempts = 0; current < n; attempts++) {
    if (attempts > 50 * n) throw new Error(`could not build a text of exactly ${n} tokens`);
    const word = WORDS[Math.floor(rng() * WORDS.length)];
    const trial = count([...words, word].join(' '));
    if (trial <= n) {
      words.push(word);
      current = trial;
    }
  }
  return words.join(' ');
}

/** Token lengths of a short-text workload: log-normal around 30 tokens, clipped to [6, max]. */
export function lengthMix(count, maxLength, seed = 0) {
  const rng = random(seed + 7);
  return Array.from({ length: count }, () => {
    const z = Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
    return Math.round(Math.min(maxLength, Math.max(6, Math.exp(3.4 + 0.6 * z))));
  });
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

function percentiles(ms) {
  const s = [...ms].sort((a, b) => a - b);
  const mid = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  const r = (x) => Math.round(x * 1e4) / 1e4;
  return { p50: r(mid), p90: r(s[Math.min(s.length - 1, Math.round(0.9 * (s.length - 1)))]), mean: r(s.reduce((a, b) => a + b, 0) / s.length), runs: s.length };
}

/** Call each engine ``runs`` times in alternating blocks (pause, warm-up, timed calls); ms per call. */
async function timedBlocks(fns, inputs, runs, { block = 10, warmup = 3, pause = 50 } = {}) {
  const names = Object.keys(fns);
  const times = Object.fromEntries(names.map((n) => [n, []]));
  for (let done = 0; done < runs; done += block) {
    const size = Math.min(block, runs - done);
    for (const name of names) {
      if (names.length > 1) await sleep(pause);
      for (let i = 0; i < warmup; i++) await fns[name](inputs[i % inputs.length]);
      for (let i = done; i < done + size; i++) {
        const start = performance.now();
        await fns[name](inputs[i % inputs.length]);
        times[name].push(performance.now() - start);
      }
    }
  }
  return times;
}

function predictOf(model) {
  return (texts) => model.runTask(texts, { batchSize: 32 });
}

/**
 * Measure every variant of the bundle at ``url``; returns {variant: {latency_ms, throughput,
 * load_s}} in the edgeft bench report's shapes.
 */
export async function runBench(edgeft, url, { variants, lengths = [16, 64, 128], runs = 50, throughputTexts = 256, repeats = 3, threads, device = 'wasm' }) {
  const models = {};
  const loadS = {};
  // A first, untimed load initialises onnxruntime-web (wasm compile); load_s then times load() alone.
  await (await edgeft.load(url, { variant: variants[0], threads, device })).release();
  for (const v of variants) {
    const start = performance.now();
    models[v] = await edgeft.load(url, { variant: v, threads, device });
    loadS[v] = (performance.now() - start) / 1000;
  }
  const first = models[variants[0]];
  const count = (t) => first.tokenizer.encode(t).ids.length;
  const maxLength = first.tokenizer.maxLength;
  const fns = Object.fromEntries(variants.map((v) => [v, predictOf(models[v])]));
  const latency = Object.fromEntries(variants.map((v) => [v, {}]));
  for (const n of lengths.filter((n) => n <= maxLength)) {
    const texts = [0, 1, 2, 3, 4].map((s) => [textOfLength(count, n, s)]);
    const times = await timedBlocks(fns, texts, runs);
    for (const v of variants) latency[v][String(n)] = percentiles(times[v]);
  }
  const mix = lengthMix(throughputTexts, maxLength).map((n, i) => textOfLength(count, n, i));
  const batchTimes = await timedBlocks(fns, [mix], repeats, { block: repeats, warmup: 1 });
  const results = {};
  for (const v of variants) {
    const median = percentiles(batchTimes[v]).p50 / 1000;
    results[v] = {
      latency_ms: latency[v],
      throughput: { texts_per_s: Math.round((mix.length / median) * 100) / 100, batch_size: 32, texts: mix.length },
      load_s: Math.round(loadS[v] * 1e4) / 1e4,
    };
  }
  return results;
}

/** Cold start in this fresh page: navigation start -> first prediction of ``variant``, in seconds. */
export async function coldStart(edgeft, url, variant, threads, device = 'wasm') {
  const model = await edgeft.load(url, { variant, threads, device, cache: false });
  await predictOf(model)(['warm up the model with the first prediction']);
  return performance.now() / 1000;
}
