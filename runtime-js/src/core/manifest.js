/** Reading and checking a bundle's edgeft.json manifest (the JavaScript side of edgeft_runtime/manifest.py). */

import { BundleError } from './errors.js';

export const MANIFEST_FILE = 'edgeft.json';
export const BUNDLE_FORMAT = 'edgeft-bundle';
// major.minor: a newer minor only adds keys (ignored with a warning); a newer major is refused.
export const SCHEMA_VERSION = '1.3';

// Every top-level key a schema 1.x manifest may hold (the same list as the Python runtime's).
export const KNOWN_KEYS = new Set([
  'format', 'schema_version', 'edgeft_version', 'created', 'task', 'labels', 'problem_type', 'threshold',
  'max_length', 'inputs', 'outputs', 'variants', 'default_variant', 'tokenizer', 'pooling', 'normalize', 'ner',
  'fill_mask', 'static_shape', 'mobile', 'parity', 'reference', 'metrics', 'source', 'files', 'transformers_js',
]);
export const REQUIRED_KEYS = ['format', 'schema_version', 'task', 'max_length', 'inputs', 'outputs', 'variants', 'tokenizer', 'files'];

/** "1.2" -> [1, 2]; anything else is a BundleError naming ``where``. */
export function parseVersion(text, where) {
  const parts = String(text).split('.');
  if (parts.length !== 2 || !parts.every((p) => /^\d+$/.test(p))) {
    throw new BundleError(`${where}: schema_version ${JSON.stringify(text)} is not of the form MAJOR.MINOR`);
  }
  return parts.map(Number);
}

/**
 * Parse and check edgeft.json's bytes.
 * @param {Uint8Array} bytes
 * @param {string} where the manifest's path or URL, for messages
 * @param {(message: string) => void} warn receives the unknown-keys warning
 */
export function parseManifest(bytes, where, warn) {
  let manifest;
  try {
    manifest = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new BundleError(`${where}: not valid JSON (${e.message}); the manifest is corrupt, re-run \`edgeft export\``);
  }
  if (!manifest || typeof manifest !== 'object' || Array.isArray(manifest) || manifest.format !== BUNDLE_FORMAT) {
    throw new BundleError(`${where}: field 'format' is not '${BUNDLE_FORMAT}'; this is not an edgeft bundle manifest`);
  }
  const missing = REQUIRED_KEYS.filter((k) => !(k in manifest));
  if (missing.length) {
    throw new BundleError(`${where}: missing field(s) ${missing.join(', ')}; the manifest is incomplete, re-run \`edgeft export\``);
  }
  const found = parseVersion(manifest.schema_version, where);
  const supported = parseVersion(SCHEMA_VERSION, 'edgeft-runtime');
  if (found[0] > supported[0]) {
    throw new BundleError(
      `${where}: schema_version ${manifest.schema_version} is newer than this runtime supports (${SCHEMA_VERSION}); upgrade edgeft-runtime (npm install edgeft-runtime@latest)`,
    );
  }
  if (found[0] < supported[0]) {
    throw new BundleError(
      `${where}: schema_version ${manifest.schema_version} is older than this runtime supports (${SCHEMA_VERSION}); re-export the bundle with a current edgeft`,
    );
  }
  const unknown = Object.keys(manifest).filter((k) => !KNOWN_KEYS.has(k)).sort();
  if (unknown.length) warn(`${where}: ignoring unknown manifest field(s) ${unknown.join(', ')} (written by a newer edgeft?)`);
  return manifest;
}

/**
 * Refuse file names that leave the bundle: absolute paths, ".." parts (also percent-encoded, which
 * a URL resolves like ".."), backslashes, URLs. Where a name resolves to (symlinks, servers) is
 * the reader's check (node.js, browser.js).
 */
export function checkFileName(name, where) {
  const bad =
    typeof name !== 'string' || name === '' || name.startsWith('/') || name.includes('\\') || /^[a-zA-Z]:/.test(name) ||
    /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(name) || /%2e|%2f|%5c/i.test(name) || name.split('/').some((p) => p === '..' || p === '');
  if (bad) throw new BundleError(`${where}: file name ${JSON.stringify(name)} points outside the bundle; refusing it`);
}

/** Hex sha256 of bytes with WebCrypto (browsers in a secure context, Node 20+). */
export async function sha256Hex(bytes) {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) {
    throw new BundleError(
      'sha256 verification needs WebCrypto, which browsers offer only in a secure context (https or localhost); serve the page over https, or pass {verify: false} to skip the check',
    );
  }
  const digest = new Uint8Array(await subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Read one bundle file, checking that its name stays inside the bundle, that the manifest lists
 * it, and (verify) that its sha256 matches.
 * @param {import('./source.js').BundleSource} source
 */
export async function readVerified(source, name, manifest, verify = true) {
  checkFileName(name, source.where(MANIFEST_FILE));
  const entry = (manifest.files || {})[name];
  if (entry == null) {
    throw new BundleError(`${source.where(MANIFEST_FILE)}: file '${name}' is not listed under 'files'; the bundle is incomplete`);
  }
  // Sources that cache (browsers' Cache API) key the file by its manifest hash: a changed bundle
  // misses the cache. A cached copy is verified like a download, and fetched again if it fails;
  // only verified bytes are kept.
  let bytes = await source.read(name, entry);
  if (bytes == null) {
    throw new BundleError(`${source.where(name)}: missing from the bundle; copy the whole bundle folder or re-run \`edgeft export\``);
  }
  if (verify) {
    let actual = await sha256Hex(bytes);
    if (actual !== entry.sha256 && source.evict && (await source.evict(name))) {
      bytes = await source.read(name, entry);
      actual = bytes == null ? null : await sha256Hex(bytes);
    }
    if (actual !== entry.sha256) {
      throw new BundleError(
        `${source.where(name)}: sha256 ${String(actual).slice(0, 12)}… does not match the manifest (${String(entry.sha256).slice(0, 12)}…); the file was modified or corrupted, re-copy or re-export the bundle`,
      );
    }
  }
  if (source.keep) await source.keep(name, bytes);
  return bytes;
}
