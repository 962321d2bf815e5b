// The browser half of op_costs.js: small graphs of one operator each (a float input `x`), one
// session per graph, timed in alternating blocks after a pause; the median ms of a run per graph.

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

export async function run(build, { graphs, runs = 20, block = 5, threads = 1 }) {
  const ort = await import(build);
  ort.env.wasm.numThreads = threads;
  const sessions = {};
  for (const g of graphs) {
    const bytes = new Uint8Array(await (await fetch(`/graphs/${g}.onnx`)).arrayBuffer());
    const s = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    const meta = s.inputMetadata[0];
    const dims = meta.shape.map((d) => (typeof d === 'number' ? d : 1));
    // Values spread over GELU's working range (about -4 to 4), as activations are.
    const data = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i) * 4);
    sessions[g] = { s, feed: { [meta.name]: new ort.Tensor('float32', data, dims) } };
  }
  const times = Object.fromEntries(graphs.map((g) => [g, []]));
  for (let done = 0; done < runs; done += block) {
    const names = (done / block) % 2 ? [...graphs].reverse() : graphs;
    for (const g of names) {
      await sleep(50);
      await sessions[g].s.run(sessions[g].feed);
      for (let i = 0; i < block; i++) {
        const t = performance.now();
        await sessions[g].s.run(sessions[g].feed);
        times[g].push(performance.now() - t);
      }
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, Math.round(median(v) * 100) / 100]));
}
