// Types of edgeft-runtime: the API Node and browsers share (see README.md). The entry points
// node.d.ts and browser.d.ts add `ort`, the onnxruntime module each runs on.

/** A bundle is missing, malformed, tampered with, or from an incompatible edgeft version. */
export class BundleError extends Error {
  name: 'BundleError';
}

/** Tasks a bundle can hold, as its manifest names them. */
export type Task = 'classifier' | 'setfit' | 'ner' | 'fill-mask' | 'embedding';

export interface LoadOptions {
  /**
   * The task the app expects: load() then resolves to that task's class (in TypeScript too) and
   * rejects with a BundleError when the bundle holds another task. 'classifier' also takes SetFit
   * bundles (both are Classifiers).
   */
  task?: Task;
  /**
   * "auto": in Node, the int8 build whose `suits` rules match this CPU when the bundle has several
   * (`edgeft export --target`); otherwise, and in browsers, the manifest's default (int8 when
   * exported with --int8). Or a variant name ("fp32", "int8", "int8_avx2", ...), or a model file of the bundle.
   */
  variant?: string;
  /** Intra-op threads. Node: onnxruntime's default when unset. Browser: 1 unless the page is cross-origin isolated. */
  threads?: number;
  /** Check the sha256 of the tokenizer and model file against the manifest (default true). */
  verify?: boolean;
  /**
   * Browser only: 'auto' (default) runs the bundle's fp16 variant (`edgeft export --fp16`) on
   * WebGPU where the browser has a hardware adapter with shader-f16, and wasm otherwise, saying why
   * in one warning per page; 'webgpu' insists (fp16, else fp32; software adapters too); 'wasm'.
   */
  device?: 'auto' | 'webgpu' | 'wasm';
  /**
   * Browser only: keep a bundle folder URL's files in the Cache API (default true), keyed by their
   * sha256, so a second visit reads them from the browser; a re-exported bundle is fetched again.
   */
  cache?: boolean;
  /** Receives warnings (unknown manifest keys, thread settings, the wasm fallback); default console.warn. */
  warn?: (message: string) => void;
  /** Browser only: the fetch used for bundle files (default globalThis.fetch). */
  fetch?: typeof fetch;
}

export interface BatchOptions {
  /** Texts per session run (default 32; 8 for fill-mask); texts are grouped by token length. */
  batchSize?: number;
}

export interface Label {
  label: string;
  score: number;
}

export interface Entity {
  entity: string;
  /** text.slice(start, end) */
  text: string;
  /** JavaScript string index (UTF-16 code units) of the first character. */
  start: number;
  /** JavaScript string index just past the last character. */
  end: number;
  /** Mean probability of the entity's words. */
  score: number;
}

/** One candidate for a mask, named as transformers' fill-mask pipeline names it. */
export interface FillCandidate {
  /** Softmax probability over the vocabulary. */
  score: number;
  /** The token id. */
  token: number;
  /** The token's vocabulary entry ("##s" for a word-piece continuation). */
  token_str: string;
  /** The text with the mask replaced by the token. */
  sequence: string;
}

export type Aggregation = 'first' | 'average' | 'max';

export interface Manifest {
  format: 'edgeft-bundle';
  schema_version: string;
  task: Task;
  labels?: string[];
  max_length: number;
  [key: string]: unknown;
}

/** What every loaded bundle has. */
export class BundleModel {
  readonly location: string;
  readonly manifest: Manifest;
  readonly task: Manifest['task'];
  readonly labels: string[];
  /** The variant loaded ("fp32", "int8"). */
  readonly variant: string;
  /** Browser only: the bundle files read from the Cache API instead of the network. */
  readonly fromCache?: string[];
  /** Where it runs: 'cpu' (Node), 'wasm' or 'webgpu' (browsers). */
  readonly device: 'cpu' | 'wasm' | 'webgpu';
  /** Raw graph outputs, one Float32Array row per text, in input order. */
  runOutputs(texts: string | string[], outputs: string[], options?: BatchOptions): Promise<Record<string, Float32Array[]>>;
  /** The task's answer for each text: predict (classifiers), tag (NER), fillMask (masked-LM) or embed (embeddings, as arrays of numbers). */
  runTask(texts: string | string[], options?: BatchOptions): Promise<unknown>;
  /** Release the onnxruntime session. */
  release(): Promise<void>;
}

/** Classifier and SetFit bundles. */
export class Classifier extends BundleModel {
  readonly multiLabel: boolean;
  readonly threshold: number;
  readonly hasEmbeddings: boolean;
  /** Single-label: the best label; multi-label: every label at or above the threshold, best first. */
  predict(text: string, options?: BatchOptions): Promise<Label | Label[]>;
  predict(texts: string[], options?: BatchOptions): Promise<Array<Label | Label[]>>;
  /** Probabilities, one row per text (also for a single string), columns in `labels` order. */
  predictProba(texts: string | string[], options?: BatchOptions): Promise<number[][]>;
  /** Sentence embeddings (SetFit bundles), unit length unless normalize is false. */
  embed(text: string, options?: BatchOptions & { normalize?: boolean }): Promise<Float32Array>;
  embed(texts: string[], options?: BatchOptions & { normalize?: boolean }): Promise<Float32Array[]>;
}

/** Sentence-embedding bundles (task 'embedding'). */
export class Embedder extends BundleModel {
  readonly hasEmbeddings: true;
  /** The length of each vector (the manifest's embedding_dim), or null when it does not say. */
  readonly dimension: number | null;
  /** Unit-length vectors (as sentence-transformers' encode with normalize_embeddings) unless normalize is false. */
  embed(text: string, options?: BatchOptions & { normalize?: boolean }): Promise<Float32Array>;
  embed(texts: string[], options?: BatchOptions & { normalize?: boolean }): Promise<Float32Array[]>;
}

/** NER bundles. */
export class Tagger extends BundleModel {
  readonly aggregation: Aggregation;
  readonly stride: number;
  readonly maxLength: number;
  tag(text: string, options?: BatchOptions & { aggregation?: Aggregation }): Promise<Entity[]>;
  tag(texts: string[], options?: BatchOptions & { aggregation?: Aggregation }): Promise<Entity[][]>;
}

/** Fill-mask bundles. */
export class FillMask extends BundleModel {
  readonly maskToken: string;
  readonly maskTokenId: number;
  /** For one string: per mask (left to right) the topK candidates, best first. */
  fillMask(text: string, options?: BatchOptions & { topK?: number }): Promise<FillCandidate[][]>;
  fillMask(texts: string[], options?: BatchOptions & { topK?: number }): Promise<FillCandidate[][][]>;
}

export type AnyModel = Classifier | Tagger | FillMask | Embedder;

/** A bundle folder path (Node) or URL (browser), a .zip/.tar.gz path or URL, an archive File/Blob (browser), or archive bytes. */
export type BundleSource = string | URL | Blob | Uint8Array | ArrayBuffer;

/**
 * Load a bundle and return the model for its task. Name the task you expect (`{task: 'classifier'}`)
 * to get its class's type; without it the result is any of them (narrow with `instanceof`), or
 * pass the class as a type argument (`load<Classifier>(...)`, checked only at run time by its methods).
 */
export function load(bundle: BundleSource, options: LoadOptions & { task: 'classifier' | 'setfit' }): Promise<Classifier>;
export function load(bundle: BundleSource, options: LoadOptions & { task: 'ner' }): Promise<Tagger>;
export function load(bundle: BundleSource, options: LoadOptions & { task: 'fill-mask' }): Promise<FillMask>;
export function load(bundle: BundleSource, options: LoadOptions & { task: 'embedding' }): Promise<Embedder>;
export function load<T extends AnyModel = AnyModel>(bundle: BundleSource, options?: LoadOptions): Promise<T>;
