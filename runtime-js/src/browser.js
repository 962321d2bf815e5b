/**
 * edgeft-runtime for browsers: bundles fetched over HTTP (a folder URL, or a .zip / .tar.gz
 * archive URL, File or bytes), run with onnxruntime-web: on WebGPU where the browser has a GPU
 * adapter, else WebAssembly with SIMD (threads when the page is cross-origin isolated).
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
export { Embedder } from './core/embedder.js';
export { Tagger } from './core/tagger.js';
export { FillMask } from './core/fill_mask.js';
export { ort };

const ARCHIVE = /\.(zip|tar\.gz|tgz)$/i;

/** The Cache API store that keeps bundle files between visits (`load(url, {cache: false})` skips it). */
export const CACHE_NAME = 'edgeft-bundles';

async function openCache(enabled) {
  if (!enabled || typeof globalThis.caches === 'undefined') return null;
  try {
    return await globalThis.caches.open(CACHE_NAME);
  } catch {
    return null; // e.g. an opaque origin or storage blocked: fetch every visit instead
  }
}

/**
 * A bundle folder served over HTTP. With a cache, files listed in the manifest are kept under
 * their URL and sha256, so a second visit reads them from the browser instead of the network, and
 * a re-exported bundle (other hashes) is fetched again; older copies of the same URL are dropped.
 * The manifest itself is always fetched: it says which hashes are current.
 */
class UrlSource {
  constructor(base, fetchFn, cache = null) {
    this.base = base.endsWith('/') ? base : `${base}/`;
    this.location = this.base;
    this.fetch = fetchFn;
    this.cache = cache;
    this.fromCache = [];
    this.fetched = new Map();
    this.evicted = new Set();
    this.hits = new Map();
  }

  where(name) {
    return new URL(name, this.base).href;
  }

  key(name, entry) {
    return entry?.sha256 && this.cache ? `${this.where(name)}?sha256=${entry.sha256}` : null;
  }

  async read(name, entry = null) {
    const url = this.where(name);
    // The server resolves what the URL names; the runtime's part is that the URL stays under the
    // bundle's own (URL parsing turns "%2e%2e/" into "../", which the name check cannot see).
    if (!url.startsWith(this.base)) {
      throw new BundleError(`${this.base}: file name ${JSON.stringify(name)} resolves to ${url}, outside the bundle; refusing it`);
    }
    const key = this.key(name, entry);
    if (key && !this.evicted.has(name)) {
      const hit = await this.cache.match(key).catch(() => null);
      if (hit) {
        this.fromCache.push(name);
        this.hits.set(name, key);
        return new Uint8Array(await hit.arrayBuffer());
      }
    }
    let response;
    try {
      response = await this.fetch(url);
    } catch (e) {
      throw new BundleError(`${url}: could not be fetched (${e.message}); check the bundle URL and the server`);
    }
    if (response.status === 404) return null;
    if (!response.ok) throw new BundleError(`${url}: the server answered ${response.status} ${response.statusText}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (key) this.fetched.set(name, key);
    return bytes;
  }

  /** A cached copy failed its check: drop it and let the caller fetch the file again. */
  async evict(name) {
    if (!this.fromCache.includes(name)) return false;
    this.fromCache = this.fromCache.filter((n) => n !== name);
    this.evicted.add(name);
    await this.cache.delete(this.hits.get(name)).catch(() => false);
    return true;
  }

  /** Keep a verified download for the next visit, replacing older copies of the same URL. */
  async keep(name, bytes) {
    const key = this.fetched.get(name);
    if (!key) return;
    const url = this.where(name);
    try {
      for (const old of await this.cache.keys()) {
        if (old.url.startsWith(`${url}?sha256=`)) await this.cache.delete(old);
      }
      await this.cache.put(key, new Response(bytes, { headers: { 'Content-Type': 'application/octet-stream' } }));
    } catch {
      // quota exceeded or storage blocked: the bundle still loads, it is fetched again next visit
    }
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
let fallbackSaid = false;
const adapters = new Map();

/** One thread count per page: onnxruntime-web's pool is set once, before the first session. */
function setThreads(module, threads, warn) {
  if (configured === null) configured = threads;
  else if (configured !== threads) {
    warn(`threads: onnxruntime-web keeps the ${configured} thread(s) of the first model loaded in this page`);
  }
  module.env.wasm.numThreads = configured;
}

/**
 * The WebGPU adapter to run on, or the reason there is none. Software adapters (SwiftShader, as
 * headless Chromium offers) are slower than wasm: `device: 'auto'` skips them, 'webgpu' takes them.
 */
export async function webgpuAdapter(allowSoftware) {
  const gpu = globalThis.navigator?.gpu;
  if (!gpu) return { reason: 'this browser has no WebGPU (navigator.gpu)' };
  let adapter = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { reason: `WebGPU gave no adapter (${e.message})` };
  }
  if (!adapter) return { reason: 'WebGPU gave no adapter (no usable GPU)' };
  const info = adapter.info || {};
  const software = adapter.isFallbackAdapter || info.architecture === 'swiftshader' || /swiftshader|llvmpipe/i.test(info.description || '');
  if (software && !allowSoftware) return { reason: `the WebGPU adapter is a software one (${info.architecture || 'fallback'}), slower than wasm` };
  return { adapter, f16: adapter.features.has('shader-f16'), software };
}

/**
 * The variant to run on WebGPU when the app asked for "auto": fp16 where the adapter has
 * shader-f16 and the bundle an fp16 build, else fp32 (int8 graphs' integer kernels run on the CPU).
 */
export function webgpuVariant(manifest, f16) {
  const byPrecision = (p) => Object.entries(manifest.variants || {}).find(([, spec]) => spec.precision === p)?.[0];
  return (f16 && byPrecision('fp16')) || byPrecision('fp32') || null;
}

/**
 * onnxruntime-web's wasm file kept in the Cache API as well (keyed by its URL and onnxruntime
 * version), so a second visit fetches no runtime bytes either: the wasm is 14 MB, more than most
 * bundles. Only where its URL can be known (import maps, plain ES modules: import.meta.resolve);
 * under a bundler that renames it, or when the app set wasmPaths/wasmBinary, the HTTP cache is
 * left to do it.
 */
async function cacheWasmBinary(cache) {
  const env = ort.env.wasm;
  if (!cache || env.wasmBinary || env.wasmPaths || typeof import.meta.resolve !== 'function') return;
  let url;
  try {
    url = new URL('ort-wasm-simd-threaded.wasm', import.meta.resolve('onnxruntime-web/wasm')).href;
  } catch {
    return;
  }
  const key = `${url}?onnxruntime-web=${ort.env.versions?.web || ''}`;
  try {
    let response = await cache.match(key);
    if (!response) {
      const fetched = await fetch(url);
      if (!fetched.ok) return;
      for (const old of await cache.keys()) if (old.url.startsWith(`${url}?`)) await cache.delete(old);
      await cache.put(key, fetched.clone());
      response = fetched;
    }
    env.wasmBinary = await response.arrayBuffer();
  } catch {
    // storage blocked or full: onnxruntime-web fetches its wasm itself
  }
}

let wasmReady = null;

async function platformFor(options) {
  const warn = options.warn || ((m) => console.warn(m));
  const threads = wasmThreads(options.threads ?? null, warn);
  const device = options.device ?? 'auto';
  if (!['auto', 'webgpu', 'wasm'].includes(device)) throw new TypeError(`device must be 'auto', 'webgpu' or 'wasm', got ${JSON.stringify(device)}`);
  const wasm = {
    ort,
    device: 'wasm',
    async createSession(bytes) {
      setThreads(ort, threads, warn);
      wasmReady ??= openCache(options.cache ?? true).then(cacheWasmBinary);
      await wasmReady;
      return ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all', logSeverityLevel: 3 });
    },
  };
  if (device === 'wasm') return wasm;
  // One adapter request per page (and per kind asked for), one fallback line per page.
  if (!adapters.has(device)) adapters.set(device, webgpuAdapter(device === 'webgpu'));
  const gpu = await adapters.get(device);
  const fallBack = (reason) => {
    if (!fallbackSaid) warn(`edgeft-runtime: ${reason}; running on wasm`);
    fallbackSaid = true;
  };
  if (!gpu.adapter) {
    if (device === 'webgpu') throw new BundleError(`device 'webgpu': ${gpu.reason}`);
    fallBack(gpu.reason);
    return wasm;
  }
  // Decided once the manifest is read: 'auto' runs on WebGPU only a bundle made for it (an fp16
  // variant, on an adapter with shader-f16); an int8 bundle would otherwise download its fp32
  // graph, four times the bytes, to run on the GPU. 'webgpu' takes fp16 or fp32 as available.
  const platform = { ...wasm };
  platform.choose = async (manifest, variant) => {
    const target = webgpuVariant(manifest, gpu.f16);
    const made = target && manifest.variants[target].precision === 'fp16';
    if (device === 'auto' && (!made || variant !== 'auto')) {
      if (variant === 'auto') {
        fallBack(gpu.f16 ? 'the bundle has no fp16 variant for WebGPU (edgeft export --fp16)' : 'the WebGPU adapter has no shader-f16 for the fp16 variant');
      }
      return variant;
    }
    // The WebGPU build of onnxruntime-web (a larger wasm file) is fetched only when it will run.
    const webgpu = await import('onnxruntime-web/webgpu');
    webgpu.env.webgpu.adapter = gpu.adapter;
    Object.assign(platform, {
      ort: webgpu,
      device: 'webgpu',
      async createSession(bytes) {
        setThreads(webgpu, threads, warn);
        // Nodes WebGPU has no kernel for run on the wasm CPU provider of the same build.
        return webgpu.InferenceSession.create(bytes, { executionProviders: ['webgpu', 'wasm'], graphOptimizationLevel: 'all', logSeverityLevel: 3 });
      },
    });
    return variant === 'auto' ? target || variant : variant;
  };
  return platform;
}

async function sourceOf(bundle, fetchFn, cacheEnabled = true) {
  if (typeof bundle === 'string' || bundle instanceof URL) {
    const url = new URL(String(bundle), globalThis.location?.href);
    if (ARCHIVE.test(url.pathname)) {
      const bytes = await new UrlSource(new URL('./', url).href, fetchFn).read(url.pathname.split('/').pop());
      if (bytes == null) throw new BundleError(`${url.href}: not found (404); check the archive URL`);
      return new ArchiveSource(await unpackArchive(bytes, url.href), url.href);
    }
    return new UrlSource(url.href, fetchFn, await openCache(cacheEnabled));
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
 * ``device``: 'auto' (default) runs a bundle's fp16 variant on WebGPU where the browser has a
 * hardware adapter with shader-f16, and on wasm otherwise, saying why in one warning per page;
 * 'webgpu' insists (fp16 where it can, else fp32; software adapters included); 'wasm' never tries. ``cache`` (default
 * true): keep the files of a bundle folder URL in the Cache API, so the next visit reads them from
 * the browser (``model.fromCache`` names the files that came from there).
 * @param {{variant?: string, threads?: number, device?: 'auto'|'webgpu'|'wasm', cache?: boolean, verify?: boolean, fetch?: typeof fetch, warn?: (message: string) => void}} [options]
 */
export async function load(bundle, options = {}) {
  const source = await sourceOf(bundle, options.fetch || globalThis.fetch.bind(globalThis), options.cache ?? true);
  const model = await loadFrom(source, await platformFor(options), options);
  model.fromCache = source.fromCache || [];
  return model;
}
