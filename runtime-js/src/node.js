/**
 * edgeft-runtime for Node: bundles from a folder or an archive on disk, run with onnxruntime-node.
 *
 *     import { load } from 'edgeft-runtime';
 *     const model = await load('models/sst2-int8');
 *     await model.predict(['great film', 'dull and slow']);  // [{label: 'pos', score: 0.97}, ...]
 */

import { readFile, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { ArchiveSource, unpackArchive } from './core/archive.js';
import { archFamily } from './core/device.js';
import { BundleError } from './core/errors.js';
import { loadFrom } from './core/load.js';

export { BundleError } from './core/errors.js';
export { BundleModel } from './core/model.js';
export { Classifier } from './core/classifier.js';
export { Embedder } from './core/embedder.js';
export { Tagger } from './core/tagger.js';
export { FillMask } from './core/fill_mask.js';

/**
 * onnxruntime-node is an optional peer dependency, so that browser apps never download it (about
 * 290 MB installed); a Node app installs it beside this package. Say so when it is missing.
 */
async function importOrt() {
  try {
    return await import('onnxruntime-node');
  } catch (e) {
    if (e?.code === 'ERR_MODULE_NOT_FOUND' && /'onnxruntime-node'/.test(String(e.message))) {
      throw new Error(
        'edgeft-runtime in Node runs bundles with onnxruntime-node, which is not installed: npm install onnxruntime-node@1.30.0 --ignore-scripts',
      );
    }
    throw e;
  }
}

/** The onnxruntime-node module this runtime uses (for tensors and session options of your own). */
export const ort = await importOrt();

const ARCHIVE = /\.(zip|tar\.gz|tgz)$/i;

/**
 * A bundle folder on disk. A file is read only once its real path (symlinks followed, the
 * folder's own included) is known to lie inside the folder's real path: a link to a file outside
 * the bundle is refused unread, so its contents can reach neither the model nor an error message.
 */
class DirSource {
  constructor(dir) {
    this.dir = dir;
    this.location = dir;
    this.root = null;
  }

  where(name) {
    return join(this.dir, name);
  }

  async read(name) {
    const path = join(this.dir, name);
    let real;
    try {
      this.root ??= await realpath(this.dir);
      real = await realpath(path);
    } catch (e) {
      if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return null;
      throw new BundleError(`${path}: cannot be read (${e.code || e.message})`);
    }
    if (real !== this.root && !real.startsWith(this.root.endsWith(sep) ? this.root : this.root + sep)) {
      throw new BundleError(`${path}: resolves to ${real}, outside the bundle folder (a symlink?); refusing it unread: copy the real file into the bundle`);
    }
    try {
      return new Uint8Array(await readFile(real));
    } catch (e) {
      if (e.code === 'ENOENT' || e.code === 'EISDIR') return null;
      throw new BundleError(`${path}: cannot be read (${e.code || e.message})`);
    }
  }
}

/** This CPU as the `suits` rules see it: Node's arch, and the flags Linux lists in /proc/cpuinfo. */
async function cpu() {
  let flags = new Set();
  try {
    const info = await readFile('/proc/cpuinfo', 'utf8');
    const line = info.split('\n').find((l) => /^(flags|Features)\s*:/.test(l));
    if (line) flags = new Set(line.split(':')[1].trim().split(/\s+/));
  } catch {
    // Not Linux: arch alone decides (x86 without known VNNI takes the 7-bit avx2 build, the safe one).
  }
  return { arch: archFamily(process.arch), flags };
}

const platform = {
  ort,
  cpu,
  async createSession(bytes, { threads }) {
    const options = { executionProviders: ['cpu'], graphOptimizationLevel: 'all', logSeverityLevel: 3 };
    if (threads != null) options.intraOpNumThreads = threads;
    return ort.InferenceSession.create(bytes, options);
  },
};

async function sourceOf(bundle) {
  if (bundle instanceof Uint8Array || bundle instanceof ArrayBuffer) {
    const bytes = bundle instanceof Uint8Array ? bundle : new Uint8Array(bundle);
    return new ArchiveSource(await unpackArchive(bytes, '<archive bytes>'), '<archive bytes>');
  }
  const path = String(bundle);
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new BundleError(`${path}: no such bundle folder; pass the folder \`edgeft export\` wrote`);
  }
  if (info.isFile()) {
    if (!ARCHIVE.test(path)) throw new BundleError(`${path}: a bundle is a folder, not a file; pass the folder \`edgeft export\` wrote`);
    return new ArchiveSource(await unpackArchive(new Uint8Array(await readFile(path)), path), path);
  }
  return new DirSource(path);
}

/**
 * Load an edgeft bundle: a folder, a .zip / .tar.gz archive (`edgeft export --archive`), or an
 * archive's bytes. Returns the model for the bundle's task (Classifier, Tagger or FillMask).
 * @param {string|Uint8Array|ArrayBuffer} bundle
 * @param {{variant?: string, threads?: number, verify?: boolean, warn?: (message: string) => void}} [options]
 */
export async function load(bundle, options = {}) {
  return loadFrom(await sourceOf(bundle), platform, options);
}
