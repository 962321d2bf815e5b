/**
 * Bundles as single files (.zip from `edgeft export --archive zip`, or .tar.gz), read in memory.
 * Only plain files and folders with plain relative names are accepted: absolute paths, ".."
 * parts, symlinks, hard links and devices are refused, and the unpacked size is capped.
 */

import { BundleError } from './errors.js';
import { MANIFEST_FILE } from './manifest.js';

export const MAX_UNPACKED_BYTES = 4 * 2 ** 30; // far above any encoder bundle; stops decompression bombs

function safeName(name, archive) {
  if (!name || name.startsWith('/') || name.startsWith('\\') || name.includes('\\') || (name.length > 1 && name[1] === ':')) {
    throw new BundleError(`${archive}: member ${JSON.stringify(name)} has an absolute or non-portable path; refusing the archive`);
  }
  const parts = name.replace(/\/+$/, '').split('/');
  if (parts.some((p) => p === '..' || p === '')) {
    throw new BundleError(`${archive}: member ${JSON.stringify(name)} points outside the bundle; refusing the archive`);
  }
  return parts.join('/');
}

async function inflate(bytes, format) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream(format));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Zip members: Map name -> bytes (stored or deflated entries; no zip64, no encryption). */
async function readZip(bytes, archive) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new BundleError(`${archive}: not a readable bundle archive (no zip directory found)`);
  const count = view.getUint16(eocd + 10, true);
  let at = view.getUint32(eocd + 16, true);
  const files = new Map();
  let total = 0;
  const decoder = new TextDecoder();
  for (let k = 0; k < count; k++) {
    if (at + 46 > bytes.length || view.getUint32(at, true) !== 0x02014b50) throw new BundleError(`${archive}: not a readable bundle archive (damaged zip directory)`);
    const method = view.getUint16(at + 10, true);
    const compressed = view.getUint32(at + 20, true);
    const size = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    const mode = view.getUint32(at + 38, true) >>> 16;
    const local = view.getUint32(at + 42, true);
    const rawName = decoder.decode(bytes.subarray(at + 46, at + 46 + nameLength));
    at += 46 + nameLength + extraLength + commentLength;
    if ((mode & 0o170000) === 0o120000) throw new BundleError(`${archive}: member ${JSON.stringify(rawName)} is a symlink; refusing the archive`);
    const name = safeName(rawName, archive);
    if (rawName.endsWith('/')) continue;
    if (compressed === 0xffffffff || size === 0xffffffff) throw new BundleError(`${archive}: member ${JSON.stringify(rawName)} is a zip64 entry; this runtime reads plain zip archives`);
    total += size;
    if (total > MAX_UNPACKED_BYTES) throw new BundleError(`${archive}: unpacks to more than ${MAX_UNPACKED_BYTES / 2 ** 30} GiB; refusing the archive`);
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    const data = bytes.subarray(start, start + compressed);
    let content;
    if (method === 0) content = data.slice();
    else if (method === 8) content = await inflate(data, 'deflate-raw');
    else throw new BundleError(`${archive}: member ${JSON.stringify(rawName)} uses compression method ${method}; re-pack with \`edgeft export --archive zip\``);
    if (content.length !== size) throw new BundleError(`${archive}: member ${JSON.stringify(rawName)} is damaged (size ${content.length}, expected ${size})`);
    files.set(name, content);
  }
  return files;
}

function tarString(bytes, start, length) {
  const end = bytes.subarray(start, start + length).indexOf(0);
  return new TextDecoder().decode(bytes.subarray(start, end < 0 ? start + length : start + end));
}

/** Members of a tar stream (after gunzip): Map name -> bytes; pax headers read for long names. */
function readTar(bytes, archive) {
  const files = new Map();
  let at = 0;
  let paxName = null;
  let total = 0;
  while (at + 512 <= bytes.length) {
    const header = bytes.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    const size = parseInt(tarString(bytes, at + 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(header[156] || 48);
    const prefix = tarString(bytes, at + 345, 155);
    let name = tarString(bytes, at, 100);
    if (prefix) name = `${prefix}/${name}`;
    const data = bytes.subarray(at + 512, at + 512 + size);
    at += 512 + Math.ceil(size / 512) * 512;
    if (type === 'x' || type === 'g') {
      const text = new TextDecoder().decode(data);
      const match = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(text);
      if (type === 'x' && match) paxName = match[1];
      continue;
    }
    if (paxName) name = paxName;
    paxName = null;
    if (type === '5') {
      safeName(name, archive);
      continue;
    }
    if (type !== '0' && type !== '\0' && type !== '7') {
      const kind = type === '2' ? 'symlink' : type === '1' ? 'hard link' : 'special file';
      throw new BundleError(`${archive}: member ${JSON.stringify(name)} is a ${kind}; refusing the archive`);
    }
    total += size;
    if (total > MAX_UNPACKED_BYTES) throw new BundleError(`${archive}: unpacks to more than ${MAX_UNPACKED_BYTES / 2 ** 30} GiB; refusing the archive`);
    files.set(safeName(name, archive), data.slice());
  }
  return files;
}

/**
 * Unpack an archive's bytes in memory: Map of bundle file name -> bytes. The bundle is the
 * archive's top level, or its single top-level folder when it wraps the bundle in one.
 */
export async function unpackArchive(bytes, archive) {
  let files;
  try {
    const gz = bytes[0] === 0x1f && bytes[1] === 0x8b;
    const zip = bytes[0] === 0x50 && bytes[1] === 0x4b;
    if (zip) files = await readZip(bytes, archive);
    else if (gz) files = readTar(await inflate(bytes, 'gzip'), archive);
    else throw new BundleError(`${archive}: not a .zip or .tar.gz archive; pass a bundle folder or an \`edgeft export --archive\` file`);
  } catch (e) {
    if (e instanceof BundleError) throw e;
    throw new BundleError(`${archive}: not a readable bundle archive (${e.message})`);
  }
  if (files.has(MANIFEST_FILE)) return files;
  const tops = new Set([...files.keys()].map((n) => n.split('/')[0]));
  if (tops.size === 1) {
    const [top] = tops;
    if (files.has(`${top}/${MANIFEST_FILE}`)) {
      return new Map([...files].map(([n, b]) => [n.slice(top.length + 1), b]));
    }
  }
  throw new BundleError(`${archive}: no ${MANIFEST_FILE} at its top level; this is not an edgeft bundle archive`);
}

/** A bundle read from an unpacked archive. */
export class ArchiveSource {
  constructor(files, archive) {
    this.files = files;
    this.archive = archive;
  }

  where(name) {
    return `${this.archive}:${name}`;
  }

  get location() {
    return this.archive;
  }

  async read(name) {
    return this.files.get(name) ?? null;
  }
}
