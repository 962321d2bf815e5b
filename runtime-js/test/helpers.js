// Test helpers: copies of the committed tiny bundles, and zip / tar.gz writers for crafting archives.
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { archFamily } from '../src/core/device.js';

export const FIXTURES = fileURLToPath(new URL('../../runtime/tests/fixtures/', import.meta.url));

/** A fresh copy of a committed bundle, free to damage. */
export function copyBundle(name) {
  const dir = join(mkdtempSync(join(tmpdir(), 'edgeft-js-')), name);
  cpSync(join(FIXTURES, name), dir, { recursive: true });
  return dir;
}

export function editManifest(dir, edit) {
  const path = join(dir, 'edgeft.json');
  const manifest = JSON.parse(readFileSync(path, 'utf8'));
  edit(manifest);
  writeFileSync(path, JSON.stringify(manifest));
}

/** {name: bytes} of every file in a bundle folder. */
export function bundleFiles(dir, prefix = '') {
  return Object.fromEntries(readdirSync(dir).map((n) => [prefix + n, new Uint8Array(readFileSync(join(dir, n)))]));
}

const CRC = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A zip archive of {name: bytes}; entries deflated unless ``stored``; ``modes`` sets unix modes per name. */
export function makeZip(files, { stored = false, modes = {} } = {}) {
  const locals = [];
  const central = [];
  let offset = 0;
  for (const [name, content] of Object.entries(files)) {
    const nameBytes = new TextEncoder().encode(name);
    const data = stored ? content : new Uint8Array(deflateRawSync(content));
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(20, 4);
    header.writeUInt16LE(stored ? 0 : 8, 8);
    header.writeUInt32LE(crc32(content), 14);
    header.writeUInt32LE(data.length, 18);
    header.writeUInt32LE(content.length, 22);
    header.writeUInt16LE(nameBytes.length, 26);
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE(0x031e, 4);
    entry.writeUInt16LE(20, 6);
    entry.writeUInt16LE(stored ? 0 : 8, 10);
    entry.writeUInt32LE(crc32(content), 16);
    entry.writeUInt32LE(data.length, 20);
    entry.writeUInt32LE(content.length, 24);
    entry.writeUInt16LE(nameBytes.length, 28);
    entry.writeUInt32LE(((modes[name] ?? 0o100644) << 16) >>> 0, 38);
    entry.writeUInt32LE(offset, 42);
    locals.push(header, nameBytes, data);
    central.push(entry, nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const size = central.reduce((a, b) => a + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(size, 12);
  end.writeUInt32LE(offset, 16);
  return new Uint8Array(Buffer.concat([...locals, ...central, end]));
}

/** A .tar.gz of {name: bytes}; ``types`` sets the tar type flag per name ('2' symlink, '1' hard link). */
export function makeTarGz(files, { types = {} } = {}) {
  const blocks = [];
  for (const [name, content] of Object.entries(files)) {
    const header = Buffer.alloc(512);
    header.write(name, 0, 100, 'utf8');
    header.write('0000644\0', 100);
    header.write('0000000\0', 108);
    header.write('0000000\0', 116);
    header.write(content.length.toString(8).padStart(11, '0') + '\0', 124);
    header.write('00000000000\0', 136);
    header.write(types[name] ?? '0', 156);
    header.write('ustar\0' + '00', 257);
    header.fill(' ', 148, 156);
    let sum = 0;
    for (const b of header) sum += b;
    header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    blocks.push(header, Buffer.from(content), Buffer.alloc((512 - (content.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return new Uint8Array(gzipSync(Buffer.concat(blocks)));
}

// CPU flags that pick onnxruntime's int8 matrix kernels (x86 and ARM).
const INT8_FLAGS = ['avx2', 'avx512bw', 'avx512_vnni', 'avx_vnni', 'amx_int8', 'asimddp', 'i8mm'];

/**
 * Whether this CPU runs the int8 kernels of the machine that wrote parity.json: the same
 * architecture (emulated arm64 shows the host's x86 flags in /proc/cpuinfo) and int8 flags.
 */
export function sameInt8Kernels(flags, architecture = 'x86') {
  if (!flags || archFamily(process.arch) !== architecture || !existsSync('/proc/cpuinfo')) return false;
  const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => /^(flags|Features)\s*:/.test(l)) || '';
  const mine = new Set(line.split(':')[1]?.trim().split(/\s+/));
  return INT8_FLAGS.every((f) => mine.has(f) === flags.includes(f));
}
