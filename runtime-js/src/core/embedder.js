/**
 * Sentence-embedding bundles (task 'embedding', e.g. an `edgeft train embedding` run): one graph
 * from token ids to the sentence vector, pooling and normalisation inside it as trained. The
 * JavaScript side of edgeft_runtime/embedder.py, with the same vectors.
 */

import { BundleModel, asTextList } from './model.js';
import { l2Normalize } from './ops.js';

/** ``embed(texts)``: unit-length vectors, one Float32Array per text (a single one for a string). */
export class Embedder extends BundleModel {
  constructor(parts) {
    super(parts);
    const outputs = this.manifest.outputs || {};
    if (outputs.embeddings == null) throw this._error("manifest 'outputs' names no 'embeddings'; an embedding bundle needs its vector output");
    this._embeddingOutput = outputs.embeddings;
    this._checkOutput(this._embeddingOutput, 'output');
  }

  /** Always true: ``embed`` works (as for SetFit Classifiers that export embeddings). */
  get hasEmbeddings() {
    return true;
  }

  /** The length of each vector (the manifest's ``embedding_dim``), or null when it does not say. */
  get dimension() {
    return Number.isInteger(this.manifest.embedding_dim) ? this.manifest.embedding_dim : null;
  }

  /**
   * Sentence embeddings; normalize: scale to unit L2 norm (the graph already does when the
   * manifest says ``normalize``), so a dot product is the cosine similarity.
   */
  async embed(texts, { batchSize = 32, normalize = true } = {}) {
    const [items, single] = asTextList(texts);
    let [rows] = await this._runRows(items, batchSize, [this._embeddingOutput]);
    if (normalize) rows = rows.map(l2Normalize);
    return single ? rows[0] : rows;
  }

  /** ``embed``, as plain arrays of numbers. */
  async runTask(texts, { batchSize = 32 } = {}) {
    const vectors = await this.embed(texts, { batchSize });
    return Array.isArray(vectors) ? vectors.map((v) => Array.from(v)) : Array.from(vectors);
  }
}
