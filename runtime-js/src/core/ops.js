/** Small pure functions used after inference (the JavaScript side of edgeft_runtime/ops.py). */

/** Softmax of one row (numerically stable). */
export function softmax(row) {
  let max = -Infinity;
  for (const x of row) if (x > max) max = x;
  const out = new Array(row.length);
  let sum = 0;
  for (let i = 0; i < row.length; i++) {
    out[i] = Math.exp(row[i] - max);
    sum += out[i];
  }
  for (let i = 0; i < row.length; i++) out[i] /= sum;
  return out;
}

/** Logistic function of each value, stable for large |x|. */
export function sigmoid(row) {
  return Array.from(row, (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))));
}

/** Scale a vector to unit L2 norm (a vector of zeros stays zero). */
export function l2Normalize(row) {
  let sum = 0;
  for (const x of row) sum += x * x;
  const norm = Math.max(Math.sqrt(sum), 1e-12);
  return Float32Array.from(row, (x) => x / norm);
}

/** Index of the largest value (the first on ties, as numpy's argmax). */
export function argmax(row) {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Indices that sort ``keys`` ascending, equal keys in input order (numpy's stable argsort). */
export function stableArgsort(keys) {
  return keys.map((k, i) => [k, i]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((p) => p[1]);
}
