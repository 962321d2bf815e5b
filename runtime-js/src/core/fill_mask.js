/** Fill-mask bundles: the most likely tokens for each mask token (edgeft_runtime/fill_mask.py). */

import { BundleModel, asTextList } from './model.js';
import { softmax } from './ops.js';

// Logits cover the whole vocabulary at every position, so batches are kept small.
const DEFAULT_BATCH_SIZE = 8;

/** Indices of the k largest values, largest first (ties: lower index first). */
export function topK(probs, k) {
  // One pass keeping the best k (k is small, the vocabulary is not: no full sort).
  const best = [];
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i];
    if (best.length === k && p <= probs[best[k - 1]]) continue;
    let at = best.length;
    while (at > 0 && p > probs[best[at - 1]]) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}

export class FillMask extends BundleModel {
  constructor(parts) {
    super(parts);
    const spec = this.manifest.fill_mask || {};
    this.maskToken = spec.mask_token || '[MASK]';
    this.maskTokenId = this.tokenizer.tokenToId(this.maskToken);
    if (this.maskTokenId == null) throw this._error(`mask token ${JSON.stringify(this.maskToken)} is not in the bundle's tokenizer`);
    if (spec.mask_token_id != null && Number(spec.mask_token_id) !== this.maskTokenId) {
      throw this._error(`manifest mask_token_id ${spec.mask_token_id} does not match the tokenizer's ${this.maskTokenId}; re-export the bundle`);
    }
    this._output = (this.manifest.outputs || {}).logits;
    this._checkOutput(this._output, "manifest 'outputs.logits'");
    this._continuation = this.tokenizer._prefix;
  }

  /**
   * Candidates for every mask token: for one string a list (one entry per mask, left to right) of
   * ``topK`` {score, token, token_str, sequence} best first (transformers' names: ``token`` is the
   * id, ``token_str`` its vocabulary entry); for an array, one such list per string.
   */
  async fillMask(texts, { topK: k = 5, batchSize = DEFAULT_BATCH_SIZE } = {}) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`topK must be an integer >= 1, got ${k}`);
    const [items, single] = asTextList(texts);
    const encodings = items.map((t) => this.tokenizer.encode(t));
    encodings.forEach((enc, i) => {
      if (!enc.ids.includes(this.maskTokenId)) {
        const where = single ? 'the text' : `texts[${i}]`;
        const cut = items[i].includes(this.maskToken) ? ` within the first ${this.tokenizer.maxLength} tokens` : '';
        throw new RangeError(`${where} has no ${this.maskToken}${cut}; put ${this.maskToken} where a word should be predicted`);
      }
    });
    const results = new Array(items.length);
    for await (const { idx, rows, values } of this._batches(encodings, batchSize, [this._output])) {
      idx.forEach((i, r) => {
        const { data, dims } = values[0][r];
        const vocab = dims[dims.length - 1];
        const enc = rows[r];
        results[i] = [];
        enc.ids.forEach((id, p) => {
          if (id !== this.maskTokenId) return;
          const probs = softmax(data.subarray(p * vocab, (p + 1) * vocab));
          results[i].push(this._candidates(items[i], enc.offsets[p], probs, k));
        });
      });
    }
    return single ? results[0] : results;
  }

  /** ``fillMask`` with the default topK. */
  async runTask(texts, { batchSize = DEFAULT_BATCH_SIZE } = {}) {
    return this.fillMask(texts, { batchSize });
  }

  _candidates(text, span, probs, k) {
    return topK(probs, k).map((id) => {
      const token = this.tokenizer.idToToken(id);
      return { score: probs[id], token: id, token_str: token, sequence: this._fill(text, span, token, id) };
    });
  }

  /** ``text`` with the mask at ``span`` replaced; a word-piece continuation (##s) joins the word before it. */
  _fill(text, [start, end], token, id) {
    const c = this._continuation;
    if (c && token.startsWith(c) && token.length > c.length) return text.slice(0, start).trimEnd() + token.slice(c.length) + text.slice(end);
    let word;
    try {
      word = this.tokenizer.decode([id]);
    } catch {
      word = '';
    }
    return text.slice(0, start) + (word || token) + text.slice(end);
  }
}
