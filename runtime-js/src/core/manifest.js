/** Reading and checking a bundle's edgeft.json manifest (the JavaScript side of edgeft_runtime/manifest.py). */

import { BundleError } from './errors.js';

export const MANIFEST_FILE = 'edgeft.json';
export const BUNDLE_FORMAT = 'edgeft-bundle';
// major.minor: a newer minor only adds keys (ignored with a warning); a newer major is refused.
export const SCHEMA_VERSION = '1.4';

// Every top-level key a schema 1.x manifest may hold (the same list as the Python runtime's).
export const KNOWN_KEYS = new Set([
  'format', 'schema_version', 'edgeft_version', 'created', 'task', 'labels', 'problem_type', 'threshold',
  'max_length', 'inputs', 'outputs', 'variants', 'default_variant', 'tokenizer', 'pooling', 'normalize', 'embedding_dim', 'ner',
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
  checkValues(manifest, where);
  const unknown = Object.keys(manifest).filter((k) => !KNOWN_KEYS.has(k)).sort();
  if (unknown.length) warn(`${where}: ignoring unknown manifest field(s) ${unknown.join(', ')} (written by a newer edgeft?)`);
  return manifest;
}

const MAX_TOKENS = 2 ** 20; // far above any encoder's positions
const MAX_BATCH = 2 ** 16;
// The wording of the Python runtime's checks (options.Whole, options.Between).
const number = (low, high) => (v) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) return `give a finite number from ${low} to ${high}`;
  return v >= low && v <= high ? null : `give a number from ${low} to ${high}`;
};
const integer = (low, high) => (v) => (Number.isInteger(v) ? number(low, high)(v) : 'give a whole number');
const text = (v) => (typeof v === 'string' && v !== '' ? null : 'give a non-empty string');
const object = (v) => (v && typeof v === 'object' && !Array.isArray(v) ? null : 'give an object');

// The same fields and ranges as the Python runtime's manifest_values.FIELDS: [dotted name, check, required].
const FIELDS = [
  ['task', text, true],
  ['tokenizer', text, true],
  ['max_length', integer(1, MAX_TOKENS), true],
  ['inputs', (v) => (v && typeof v === 'object' ? null : 'give a list or an object'), true],
  ['outputs', object, true],
  ['variants', (v) => (object(v) === null && Object.keys(v).length ? null : 'give an object with at least one variant'), true],
  ['files', object, true],
  ['labels', (v) => (Array.isArray(v) && v.every((l) => typeof l === 'string') ? null : 'give a list of strings'), false],
  ['threshold', number(0, 1), false],
  ['static_shape', object, false],
  ['static_shape.batch', integer(1, MAX_BATCH), false],
  ['static_shape.sequence', integer(1, MAX_TOKENS), false],
  ['ner', object, false],
  ['ner.stride', integer(0, MAX_TOKENS), false],
  ['embedding_dim', integer(1, MAX_TOKENS), false],
  ['fill_mask', object, false],
  ['fill_mask.mask_token_id', integer(0, 2 ** 31), false],
  ['parity', object, false],
  ['parity.max_drop', number(0, 100), false],
  ['reference', object, false],
  ['reference.max_drop', number(0, 100), false],
  ['reference.samples', integer(0, 2 ** 31), false],
];

function lookup(manifest, dotted) {
  let node = manifest;
  for (const key of dotted.split('.')) {
    if (!node || typeof node !== 'object' || node[key] == null) return undefined;
    node = node[key];
  }
  return node;
}

function shown(value) {
  if (Array.isArray(value)) return 'list';
  if (value && typeof value === 'object') return 'dict';
  const s = typeof value === 'string' ? `'${value}'` : String(value);
  return s.length <= 40 ? s : `${s.slice(0, 37)}...`;
}

/**
 * Refuse a manifest field of the wrong type, not finite or out of range, naming it (the values
 * are read by tokenisation, batching and onnxruntime, which would fail far from the cause).
 */
export function checkValues(manifest, where) {
  const fix = 'the manifest is damaged or hand-edited; re-export the bundle';
  for (const [name, check, required] of FIELDS) {
    const value = lookup(manifest, name);
    if (value === undefined) {
      if (required) throw new BundleError(`${where}: field '${name}' is missing or null; ${fix}`);
      continue;
    }
    const problem = check(value);
    if (problem) throw new BundleError(`${where}: field '${name}' is ${shown(value)}: ${problem}; ${fix}`);
  }
  for (const [name, spec] of Object.entries(manifest.variants)) {
    if (!spec || typeof spec !== 'object' || text(spec.file)) throw new BundleError(`${where}: field 'variants.${name}.file' is missing or not a file name; ${fix}`);
  }
  const fallback = manifest.default_variant;
  if (fallback != null && !(fallback in manifest.variants)) {
    throw new BundleError(`${where}: field 'default_variant' is ${shown(fallback)}, not one of the variants (${Object.keys(manifest.variants).join(', ')}); ${fix}`);
  }
  for (const [name, entry] of Object.entries(manifest.files)) {
    if (!entry || typeof entry !== 'object' || typeof entry.sha256 !== 'string') throw new BundleError(`${where}: field 'files.${name}' has no sha256; ${fix}`);
  }
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
