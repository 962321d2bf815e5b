// The browser half of overhead.js: each part of one prediction timed on its own, the parts in
// alternating blocks (the session runs after a pause, as vs_engines.js times whole calls).
import { loadEngine, textOfLength } from './vs_engines.js';

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function measure(spec, { texts, runs = 30, lengths = [16, 64, 128], block = 5, pause = 200 }) {
  const e = await loadEngine('edgeft', spec);
  const t = await loadEngine('transformers.js', spec);
  const m = e.model;
  const clf = t.model;
  const words = texts.join(' ').split(/\s+/);
  const result = {};
  for (const n of lengths) {
    const text = textOfLength(t.count, words, n, n);
    const enc = m.tokenizer.encode(text);
    const feeds = m._feed([enc]);
    const tin = clf.tokenizer([text], { padding: true, truncation: true });
    const parts = {
      'edgeft tokenize': () => m.tokenizer.encode(text),
      'edgeft feed': () => m._feed([enc]),
      'edgeft session.run': () => m.session.run(feeds),
      'edgeft predict': () => m.predict(text),
      'tjs tokenize': () => clf.tokenizer([text], { padding: true, truncation: true }),
      'tjs model': () => clf.model(tin),
      'tjs pipeline': () => clf(text),
    };
    const times = Object.fromEntries(Object.keys(parts).map((k) => [k, []]));
    for (let done = 0; done < runs; done += block) {
      const names = Object.keys(parts);
      if ((done / block) % 2) names.reverse();
      for (const k of names) {
        await sleep(k.includes('tokenize') || k.includes('feed') ? 0 : pause);
        await parts[k]();
        for (let i = 0; i < block; i++) {
          const s = performance.now();
          await parts[k]();
          times[k].push(performance.now() - s);
        }
      }
    }
    result[n] = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, Math.round(median(v) * 100) / 100]));
  }
  return result;
}
