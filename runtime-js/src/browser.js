/**
 * edgeft-runtime for browsers: bundles fetched over HTTP (a folder URL, or a .zip / .tar.gz
 * archive URL, File or bytes), run with onnxruntime-web (WebAssembly with SIMD; threads when the
 * page is cross-origin isolated, one thread otherwise).
 *
 *     import { load } from 'edgeft-runtime';
 *     const model = await load('/bundles/sst2-int8/');
 *     await model.predict('great film');  // {label: 'pos', score: 0.97}
 */

import * as ort from 'onnxruntime-web/wasm';
import { ArchiveSource, unpackArchive } from './core/archive.js';
import { BundleError } from './core/errors.js';
import { loadFrom } from './core/load.js';

export { BundleError } from './core/errors.js';
export { BundleModel } from './core/model.js';
export { Classifier } from './core/classifier.js';
export { Tagger } from './core/tagger.js';
export { FillMask } from './core/fill_mask.js';
export { ort };

const ARCHIVE = /\.(zip|tar\.gz|tgz)$/i;

/** A bundle folder served over HTTP. */
class UrlSource {
  constructor(base, fetchFn) {
    this.base = base.endsWith('/') ? base : `${base}/`;
    this.location = this.base;
    this.fetch = fetchFn;
  }

  where(name) {
    return new URL(name, this.base).href;
  }

  async read(name) {
    const url = this.where(name);
    // The server resolves what the URL names; the runtime's part is that the URL stays under the
    // bundle's own (URL parsing turns "%2e%2e/" into "../", which the name check cannot see).
    if (!url.startsWith(this.base)) {
      throw new BundleError(`${this.base}: file name ${JSON.stringify(name)} resolves to ${url}, outside the bundle; refusing it`);
    }
    let response;
    try {
      response = await this.fetch(url);
    } catch (e) {
      throw new BundleError(`${url}: could not be fetched (${e.message}); check the bundle URL and the server`);
    }
    if (response.status === 404) return null;
    if (!response.ok) throw new BundleError(`${url}: the server answered ${response.status} ${response.statusText}`);
    return new Uint8Array(await response.arrayBuffer());
  }
}

/** Threads for the wasm backend: as asked, but one unless the page is cross-origin isolated. */
export function wasmThreads(threads, warn) {
  const isolated = globalThis.crossOriginIsolated === true;
  const cores = globalThis.navigator?.hardwareConcurrency || 1;
  if (threads == null) return isolated ? Math.min(4, Math.max(1, Math.floor(cores / 2))) : 1;
  if (threads > 1 && !isolated) {
    warn(`threads: ${threads} needs a cross-origin isolated page (COOP/COEP headers); running on 1 thread`);
    return 1;
  }
  return threads;
}

let configured = null;

function platformFor(options) {
  const warn = options.warn || ((m) => console.warn(m));
  const threads = wasmThreads(options.threads ?? null, warn);
  // onnxruntime-web's thread pool is set once per page, before the first session.
  if (configured === null) {
    ort.env.wasm.numThreads = threads;
    configured = threads;
  } else if (configured !== threads) {
    warn(`threads: onnxruntime-web keeps the ${configured} thread(s) of the first model loaded in this page`);
  }
  return {
    ort,
    async createSession(bytes) {
      return ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all', logSeverityLevel: 3 });
    },
  };
}

async function sourceOf(bundle, fetchFn) {
  if (typeof bundle === 'string' || bundle instanceof URL) {
    const url = new URL(String(bundle), globalThis.location?.href);
    if (ARCHIVE.test(url.pathname)) {
      const bytes = await new UrlSource(new URL('./', url).href, fetchFn).read(url.pathname.split('/').pop());
      if (bytes == null) throw new BundleError(`${url.href}: not found (404); check the archive URL`);
      return new ArchiveSource(await unpackArchive(bytes, url.href), url.href);
    }
    return new UrlSource(url.href, fetchFn);
  }
  if (typeof Blob !== 'undefined' && bundle instanceof Blob) {
    const name = bundle.name || '<archive>';
    return new ArchiveSource(await unpackArchive(new Uint8Array(await bundle.arrayBuffer()), name), name);
  }
  if (bundle instanceof Uint8Array || bundle instanceof ArrayBuffer) {
    const bytes = bundle instanceof Uint8Array ? bundle : new Uint8Array(bundle);
    return new ArchiveSource(await unpackArchive(bytes, '<archive bytes>'), '<archive bytes>');
  }
  throw new TypeError('load() takes a bundle URL, an archive File/Blob, or archive bytes');
}

/**
 * Load an edgeft bundle in a browser: the URL of its folder, the URL of a .zip / .tar.gz archive,
 * an archive File/Blob (e.g. from <input type=file>), or archive bytes.
 * @param {string|URL|Blob|Uint8Array|ArrayBuffer} bundle
 * @param {{variant?: string, threads?: number, verify?: boolean, fetch?: typeof fetch, warn?: (message: string) => void}} [options]
 */
export async function load(bundle, options = {}) {
  const source = await sourceOf(bundle, options.fetch || globalThis.fetch.bind(globalThis));
  return loadFrom(source, platformFor(options), options);
}
