// The browser half of graph_variants.js: raw onnxruntime-web sessions on token ids (no tokenizer,
// no runtime around them), each graph on its onnxruntime-web build, timed in alternating blocks
// after a pause. It measures what a graph or a build changes, apart from everything else.

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

function feeds(ort, n) {
  const ids = new BigInt64Array(n);
  for (let i = 0; i < n; i++) ids[i] = BigInt(i === 0 ? 101 : i === n - 1 ? 102 : 1000 + ((i * 7919) % 20000));
  return {
    input_ids: new ort.Tensor('int64', ids, [1, n]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
    token_type_ids: new ort.Tensor('int64', new BigInt64Array(n), [1, n]),
  };
}

/** {name: {build, url}} -> per length, per name: median ms of a batch-1 run; and session start ms. */
export async function run(builds, { graphs, lengths, runs, block = 5, warmup = 2, pause = 100, threads = 1 }) {
  const orts = {};
  for (const [name, url] of Object.entries(builds)) {
    orts[name] = await import(url);
    orts[name].env.wasm.numThreads = threads;
  }
  const sessions = {};
  const startMs = {};
  for (const [name, { build, url }] of Object.entries(graphs)) {
    const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
    const t = performance.now();
    sessions[name] = { ort: orts[build], s: await orts[build].InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' }) };
    startMs[name] = Math.round(performance.now() - t);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const ms = {};
  for (const n of lengths) {
    const times = Object.fromEntries(Object.keys(sessions).map((k) => [k, []]));
    for (let done = 0; done < runs; done += block) {
      const names = Object.keys(sessions);
      if ((done / block) % 2) names.reverse();
      for (const name of names) {
        const { ort, s } = sessions[name];
        await sleep(pause);
        const f = feeds(ort, n);
        const feed = Object.fromEntries(s.inputNames.map((k) => [k, f[k]]));
        for (let i = 0; i < warmup; i++) await s.run(feed);
        for (let i = 0; i < block; i++) {
          const t = performance.now();
          await s.run(feed);
          times[name].push(performance.now() - t);
        }
      }
    }
    ms[n] = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, Math.round(median(v) * 100) / 100]));
  }
  return { ms, start_ms: startMs };
}
