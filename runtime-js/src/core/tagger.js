/**
 * NER bundles: raw text in, entity spans out (the JavaScript side of edgeft_runtime/tagger.py).
 * Offsets are JavaScript string indices (UTF-16 code units): ``text.slice(start, end)`` is the
 * entity's text. Python's runtime reports code points; the two differ after an astral character
 * (emoji, some CJK), where JavaScript counts two units.
 */

import { BundleModel, asTextList, checkBatchSize } from './model.js';
import { AGGREGATIONS, WORD_SPLITS, mergeWindows, tagText, windows } from './ner.js';
import { stableArgsort } from './ops.js';

export class Tagger extends BundleModel {
  constructor(parts) {
    super(parts);
    const settings = this.manifest.ner || {};
    this.scheme = settings.scheme ?? 'IOB2';
    if (this.scheme !== 'IOB2') throw this._error(`manifest ner.scheme ${JSON.stringify(this.scheme)} is not supported; this runtime decodes IOB2`);
    this.aggregation = settings.aggregation ?? 'first';
    if (!AGGREGATIONS.includes(this.aggregation)) {
      throw this._error(`manifest ner.aggregation ${JSON.stringify(this.aggregation)} is not one of ${AGGREGATIONS.join(', ')}`);
    }
    this.wordSplit = settings.word_split ?? 'tokenizer';
    if (!(this.wordSplit in WORD_SPLITS)) {
      throw this._error(
        `manifest ner.word_split ${JSON.stringify(this.wordSplit)} is not one this runtime knows (${Object.keys(WORD_SPLITS).join(', ')}); upgrade edgeft-runtime`,
      );
    }
    this._output = (this.manifest.outputs || {}).logits;
    this._checkOutput(this._output, 'manifest outputs.logits');
    if (!this.labels.length || !this.labels.includes('O')) throw this._error("manifest 'labels' must list the IOB2 tags, including 'O'");
    this.maxLength = this.tokenizer.maxLength;
    const window = this.maxLength - this.tokenizer.specials.count;
    this.stride = Number(settings.stride ?? Math.floor(window / 4));
    if (window < 1 || !(this.stride >= 0 && this.stride < window)) {
      throw this._error(`manifest ner.stride ${this.stride} does not fit windows of ${window} tokens`);
    }
  }

  /**
   * Content tokens of each text (no truncation: long texts are windowed) and their logits, one
   * Float32Array row per token, windows merged.
   */
  async tokenLogits(texts, { batchSize = 32 } = {}) {
    const [items] = asTextList(texts);
    checkBatchSize(batchSize);
    const tokens = items.map((t) => this.tokenizer.encodeContent(t));
    const wins = windows(tokens, this.tokenizer.specials, this.maxLength, this.stride);
    const outputs = new Array(wins.length);
    const size = this.staticBatch || batchSize;
    // Windows of similar length share a batch: padding is compute spent on nothing.
    const order = stableArgsort(wins.map((w) => w.ids.length));
    for (let start = 0; start < order.length; start += size) {
      const idx = order.slice(start, start + size);
      const [rows] = await this._run(idx.map((i) => wins[i]), [this._output]);
      idx.forEach((i, r) => (outputs[i] = rows[r]));
    }
    const prefix = this.tokenizer.specials.prefixIds.length;
    const logits = tokens.map((tok, t) => {
      const mine = wins.map((w, i) => [w, i]).filter(([w]) => w.text === t);
      return mergeWindows(mine.map(([, i]) => outputs[i]), mine.map(([w]) => [w.start, w.end]), tok.ids.length, prefix);
    });
    return { tokens, logits };
  }

  /** ``tag`` with the bundle's aggregation. */
  async runTask(texts, { batchSize = 32 } = {}) {
    return this.tag(texts, { batchSize });
  }

  /**
   * Entities of each text; one list per text (a single list for a single string).
   * aggregation: "first" | "average" | "max" (default: the bundle's ner.aggregation).
   */
  async tag(texts, { aggregation = null, batchSize = 32 } = {}) {
    const [items, single] = asTextList(texts);
    aggregation = aggregation ?? this.aggregation;
    if (!AGGREGATIONS.includes(aggregation)) throw new RangeError(`aggregation must be one of ${AGGREGATIONS.join(', ')}, got ${JSON.stringify(aggregation)}`);
    const { tokens, logits } = await this.tokenLogits(items, { batchSize });
    const words = WORD_SPLITS[this.wordSplit];
    const results = items.map((text, i) => tagText(text, tokens[i], words(tokens[i], text), logits[i], this.labels, aggregation));
    return single ? results[0] : results;
  }
}
