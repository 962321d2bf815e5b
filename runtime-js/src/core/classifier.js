/**
 * Text classification bundles (the supervised classifier and SetFit): labels, probabilities and,
 * for bundles that export them (SetFit), sentence embeddings. The JavaScript side of
 * edgeft_runtime/classifier.py, with the same results.
 */

import { BundleError } from './errors.js';
import { BundleModel, asTextList } from './model.js';
import { argmax, l2Normalize, sigmoid, softmax } from './ops.js';

const MULTI_LABEL = 'multi_label';

/**
 * Single- or multi-label classifier. ``predict`` gives {label, score} per text (single-label) or
 * the list of labels whose probability reaches ``threshold``, best first (multi-label).
 */
export class Classifier extends BundleModel {
  constructor(parts) {
    super(parts);
    const outputs = this.manifest.outputs || {};
    this.multiLabel = this.manifest.problem_type === MULTI_LABEL;
    this.threshold = Number(this.manifest.threshold ?? 0.5);
    if ('probabilities' in outputs) {
      // SetFit graphs end in softmax/sigmoid already: nothing to apply here.
      this._output = outputs.probabilities;
      this._activation = null;
    } else if ('logits' in outputs) {
      this._output = outputs.logits;
      this._activation = this.multiLabel ? sigmoid : softmax;
    } else {
      throw this._error("manifest 'outputs' names neither 'logits' nor 'probabilities'");
    }
    this._checkOutput(this._output, 'output');
    if (!this.labels.length) throw this._error("manifest field 'labels' is empty; a classifier bundle needs its labels");
    this._embeddingOutput = outputs.embeddings ?? null;
    if (this._embeddingOutput != null) this._checkOutput(this._embeddingOutput, 'output');
  }

  /** Whether this bundle exports sentence embeddings (``embed`` works). */
  get hasEmbeddings() {
    return this._embeddingOutput != null;
  }

  /**
   * Probabilities, one row per text (also for a single string), columns in ``labels`` order.
   * @returns {Promise<number[][]>}
   */
  async predictProba(texts, { batchSize = 32 } = {}) {
    const [items] = asTextList(texts);
    const [rows] = await this._runRows(items, batchSize, [this._output]);
    return rows.map((row) => (this._activation ? this._activation(row) : Array.from(row)));
  }

  /** Labels with scores; one result per text (a single result for a single string). */
  async predict(texts, { batchSize = 32 } = {}) {
    const [items, single] = asTextList(texts);
    const probs = await this.predictProba(items, { batchSize });
    const results = probs.map((row) => this._decode(row));
    return single ? results[0] : results;
  }

  /** ``predict``. */
  async runTask(texts, { batchSize = 32 } = {}) {
    return this.predict(texts, { batchSize });
  }

  _decode(row) {
    if (this.multiLabel) {
      return row
        .map((score, i) => ({ label: this.labels[i], score, i }))
        .filter((c) => c.score >= this.threshold)
        .sort((a, b) => b.score - a.score || a.i - b.i)
        .map(({ label, score }) => ({ label, score }));
    }
    const best = argmax(row);
    return { label: this.labels[best], score: row[best] };
  }

  /**
   * Sentence embeddings (SetFit bundles): one Float32Array per text (a single one for a string).
   * normalize: scale to unit L2 norm, so a dot product is the cosine similarity.
   */
  async embed(texts, { batchSize = 32, normalize = true } = {}) {
    if (this._embeddingOutput == null) {
      throw new BundleError(
        `${this.location}: this ${this.task} bundle exports no sentence embeddings (manifest outputs name no 'embeddings'); SetFit bundles do`,
      );
    }
    const [items, single] = asTextList(texts);
    let [rows] = await this._runRows(items, batchSize, [this._embeddingOutput]);
    if (normalize) rows = rows.map(l2Normalize);
    return single ? rows[0] : rows;
  }
}
