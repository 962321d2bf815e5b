// The browser half of session_options.js: one graph, one session per set of onnxruntime-web
// session options, timed in alternating blocks after a pause (as graph_variants_page.js times graphs).

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

/** {name: session options} -> per length, per name: median ms of a batch-1 run. */
export async function run(build, { graph, variants, lengths, runs, block = 5, warmup = 2, pause = 100, threads = 1 }) {
  const ort = await import(build);
  ort.env.wasm.numThreads = threads;
  const bytes = new Uint8Array(await (await fetch(graph)).arrayBuffer());
  const sessions = {};
  for (const [name, options] of Object.entries(variants)) {
    sessions[name] = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], ...options });
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const ms = {};
  for (const n of lengths) {
    const f = feeds(ort, n);
    const times = Object.fromEntries(Object.keys(sessions).map((k) => [k, []]));
    for (let done = 0; done < runs; done += block) {
      const names = Object.keys(sessions);
      if ((done / block) % 2) names.reverse();
      for (const name of names) {
        const s = sessions[name];
        const feed = Object.fromEntries(s.inputNames.map((k) => [k, f[k]]));
        await sleep(pause);
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
  return ms;
}
