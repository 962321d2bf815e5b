/**
 * What every bundle model shares: length-bucketed batches, per-batch padding, one session run
 * each (the JavaScript side of edgeft_runtime/base.py).
 */

import { BundleError } from './errors.js';
import { stableArgsort } from './ops.js';

const KNOWN_INPUTS = ['input_ids', 'attention_mask', 'token_type_ids'];

/** Accept one string or an array of strings; return [array, wasSingle]. */
export function asTextList(texts) {
  if (typeof texts === 'string') return [[texts], true];
  if (!Array.isArray(texts)) {
    throw new TypeError(`texts must be a string or an array of strings, got ${texts === null ? 'null' : typeof texts}`);
  }
  texts.forEach((t, i) => {
    if (typeof t !== 'string') throw new TypeError(`texts[${i}] is ${t === null ? 'null' : typeof t}; every input must be a string`);
  });
  return [texts.slice(), false];
}

export function checkBatchSize(batchSize) {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be an integer >= 1, got ${batchSize}`);
}

/**
 * A loaded bundle: manifest, tokenizer and one onnxruntime session. Subclasses add the task's
 * methods (predict, embed, tag, fillMask).
 */
export class BundleModel {
  /**
   * @param {{location: string, manifest: object, session: any, tokenizer: import('./tokenizer.js').BundleTokenizer, variant: string, ort: any}} parts
   */
  constructor({ location, manifest, session, tokenizer, variant, ort }) {
    this.location = location;
    this.manifest = manifest;
    this.session = session;
    this.tokenizer = tokenizer;
    this.variant = variant;
    this.ort = ort;
    this.task = manifest.task;
    this.labels = [...(manifest.labels || [])];
    const fixed = manifest.static_shape || {};
    this.staticBatch = fixed.batch ? Number(fixed.batch) : null;
    this._inputNames = [...session.inputNames];
    const unknown = this._inputNames.filter((n) => !KNOWN_INPUTS.includes(n));
    if (unknown.length) {
      throw this._error(`model input(s) ${unknown.join(', ')} are not token inputs this runtime can feed`);
    }
    const meta = session.inputMetadata || [];
    const types = new Set(this._inputNames.map((n) => (meta.find((m) => m.name === n) || {}).type || 'int64'));
    if (types.size !== 1 || ![...types].every((t) => t === 'int64' || t === 'int32')) {
      throw this._error(`model inputs must all be int64 or all int32, found ${[...types].join(', ')}`);
    }
    this._dtype = [...types][0];
    this._outputNames = [...session.outputNames];
  }

  _error(message) {
    return new BundleError(`${this.location}: ${message}`);
  }

  _checkOutput(name, what) {
    if (!this._outputNames.includes(name)) throw this._error(`${what} ${JSON.stringify(name)} is not an output of the model graph`);
  }

  /** Tensors for a batch of rows ({ids, typeIds}), padded as the bundle says. */
  _feed(rows) {
    const arrays = this.tokenizer.toArrays(rows);
    let n = rows.length;
    const width = arrays.width;
    const feeds = {};
    const extra = this.staticBatch && n < this.staticBatch ? this.staticBatch - n : 0;
    for (const name of this._inputNames) {
      const values = arrays[name];
      const total = (n + extra) * width;
      const data = this._dtype === 'int64' ? new BigInt64Array(total) : new Int32Array(total);
      if (this._dtype === 'int64') for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]);
      else data.set(values);
      feeds[name] = new this.ort.Tensor(this._dtype, data, [n + extra, width]);
    }
    return feeds;
  }

  /**
   * Run a batch; per output name, one row per input row: {data: Float32Array, dims: number[]}
   * (dims without the batch axis).
   */
  async _run(rows, outputs) {
    const result = await this.session.run(this._feed(rows), outputs);
    return outputs.map((name) => {
      const tensor = result[name];
      const dims = tensor.dims.slice(1);
      const size = dims.reduce((a, b) => a * b, 1);
      const data = tensor.data;
      return rows.map((_, i) => ({ data: data.slice(i * size, (i + 1) * size), dims }));
    });
  }

  /**
   * Yield {idx, rows, values} per batch. Texts are grouped by token length so each batch pads to a
   * near-equal length, as the Python runtime groups them (for int8 graphs the batch a text runs in
   * matters: activations are quantised per tensor).
   */
  async *_batches(encodings, batchSize, outputs) {
    checkBatchSize(batchSize);
    const size = this.staticBatch || batchSize;
    if (encodings.length === 1) {
      yield { idx: [0], rows: encodings, values: await this._run(encodings, outputs) };
      return;
    }
    const order = stableArgsort(encodings.map((e) => e.ids.length));
    for (let start = 0; start < order.length; start += size) {
      const idx = order.slice(start, start + size);
      const rows = idx.map((i) => encodings[i]);
      yield { idx, rows, values: await this._run(rows, outputs) };
    }
  }

  /** Run every text once; per name in ``outputs``, one Float32Array row per text, in input order. */
  async _runRows(texts, batchSize, outputs) {
    const encodings = texts.map((t) => this.tokenizer.encode(t));
    const results = outputs.map(() => new Array(texts.length));
    for await (const { idx, values } of this._batches(encodings, batchSize, outputs)) {
      values.forEach((rows, o) => idx.forEach((i, r) => (results[o][i] = rows[r].data)));
    }
    return results;
  }

  /**
   * Several raw graph outputs from one pass over ``texts``: name -> one Float32Array row per text,
   * in input order.
   * @param {string|string[]} texts
   * @param {string[]} outputs
   */
  async runOutputs(texts, outputs, { batchSize = 32 } = {}) {
    const [items] = asTextList(texts);
    for (const o of outputs) {
      if (!this._outputNames.includes(o)) throw new RangeError(`${JSON.stringify(o)} is not an output of this model; outputs: ${this._outputNames.join(', ')}`);
    }
    const values = await this._runRows(items, batchSize, outputs);
    return Object.fromEntries(outputs.map((o, k) => [o, values[k]]));
  }

  /**
   * The task's answer for each text, as the task's own method gives it (predict for classifiers,
   * tag for NER, fillMask for masked-LM), like the Python runtime's run_task.
   */
  async runTask() {
    throw new Error(`${this.constructor.name} does not define runTask`);
  }

  /** Release the onnxruntime session. */
  async release() {
    await this.session.release();
  }
}

