// The same bundle checks as the Python runtime: schema version, unknown keys, sha256, file names
// that leave the bundle, archives that would unpack outside it, and one clear error for each.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { BundleError, load } from '../src/node.js';
import { bundleFiles, copyBundle, editManifest, FIXTURES, makeTarGz, makeZip } from './helpers.js';

const rejects = (promise, pattern) => assert.rejects(promise, (e) => e instanceof BundleError && pattern.test(e.message) && !/\n\s+at /.test(e.message));

test('a newer schema major version is refused, an older one too', async () => {
  const dir = copyBundle('sentiment');
  editManifest(dir, (m) => (m.schema_version = '2.0'));
  await rejects(load(dir), /edgeft\.json: schema_version 2\.0 is newer than this runtime supports \(1\.4\); upgrade edgeft-runtime/);
  editManifest(dir, (m) => (m.schema_version = '0.9'));
  await rejects(load(dir), /schema_version 0\.9 is older than this runtime supports/);
  editManifest(dir, (m) => (m.schema_version = 'one'));
  await rejects(load(dir), /schema_version "one" is not of the form MAJOR\.MINOR/);
});

test('a newer minor version loads; unknown keys are warned about once and ignored', async () => {
  const dir = copyBundle('sentiment');
  editManifest(dir, (m) => {
    m.schema_version = '1.7';
    m.future_field = { x: 1 };
    m.another = 2;
  });
  const warnings = [];
  const model = await load(dir, { warn: (m) => warnings.push(m) });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /ignoring unknown manifest field\(s\) another, future_field/);
  assert.ok(['pos', 'neg'].includes((await model.predict('good film')).label));
});

test('a flipped byte in the model or tokenizer is refused by sha256; verify:false skips the check', async () => {
  const dir = copyBundle('sentiment');
  const path = join(dir, 'model_int8.onnx');
  const bytes = readFileSync(path);
  bytes[bytes.length - 1] ^= 1;
  writeFileSync(path, bytes);
  await rejects(load(dir), /model_int8\.onnx: sha256 [0-9a-f]{12}… does not match the manifest \([0-9a-f]{12}…\); the file was modified or corrupted/);
  await load(dir, { variant: 'fp32' }); // the other variant's file is intact
  const tok = join(dir, 'tokenizer.json');
  writeFileSync(tok, readFileSync(tok, 'utf8').replace('"[PAD]"', '"[PAX]"'));
  await rejects(load(dir, { variant: 'fp32' }), /tokenizer\.json: sha256 .* does not match the manifest/);
  await load(dir, { variant: 'fp32', verify: false });
});

test('missing files, unlisted files and names that leave the bundle are refused', async () => {
  const dir = copyBundle('sentiment');
  rmSync(join(dir, 'tokenizer.json'));
  await rejects(load(dir), /tokenizer\.json: missing from the bundle; copy the whole bundle folder/);
  for (const name of ['../sentiment/tokenizer.json', '/etc/passwd', 'sub/../../x', 'C:\\x', 'https://example.org/t.json', 'a\\b']) {
    const other = copyBundle('sentiment');
    editManifest(other, (m) => (m.tokenizer = name));
    await rejects(load(other), /points outside the bundle; refusing it/);
  }
  const other = copyBundle('sentiment');
  editManifest(other, (m) => delete m.files['tokenizer.json']);
  await rejects(load(other), /file 'tokenizer\.json' is not listed under 'files'; the bundle is incomplete/);
});

test('not a bundle: missing folder, a plain file, no manifest, broken JSON, wrong format, missing fields, unknown task or variant', async () => {
  await rejects(load('/no/such/bundle'), /\/no\/such\/bundle: no such bundle folder/);
  await rejects(load(join(FIXTURES, 'sentiment', 'README.md')), /a bundle is a folder, not a file/);
  await rejects(load(FIXTURES), /edgeft\.json: missing; this is not an edgeft bundle/);
  const dir = copyBundle('sentiment');
  writeFileSync(join(dir, 'edgeft.json'), '{"format": ');
  await rejects(load(dir), /edgeft\.json: not valid JSON/);
  writeFileSync(join(dir, 'edgeft.json'), '{"format": "other"}');
  await rejects(load(dir), /field 'format' is not 'edgeft-bundle'/);
  writeFileSync(join(dir, 'edgeft.json'), '{"format": "edgeft-bundle", "schema_version": "1.0"}');
  await rejects(load(dir), /missing field\(s\) task, max_length, inputs, outputs, variants, tokenizer, files/);
  const task = copyBundle('sentiment');
  editManifest(task, (m) => (m.task = 'summarize'));
  await rejects(load(task), /task "summarize" is not supported by this runtime \(supported: classifier, embedding, fill-mask, ner, setfit\)/);
  await rejects(load(copyBundle('sentiment'), { variant: 'fp16' }), /no variant "fp16"; this bundle has fp32, int8/);
});

test('a model file onnxruntime cannot read is one clear error', async () => {
  const dir = copyBundle('sentiment');
  writeFileSync(join(dir, 'model.onnx'), 'not a graph');
  await rejects(load(dir, { variant: 'fp32', verify: false }), /model\.onnx: onnxruntime could not load it \(.*\); re-export the bundle/);
});

test('zip and tar.gz archives load, at the top level or in one folder, from a path or from bytes', async () => {
  const dir = join(FIXTURES, 'sentiment');
  const expected = await (await load(dir)).predictProba(['good film', 'bad']);
  const archives = [
    ['b.zip', makeZip(bundleFiles(dir))],
    ['b.zip', makeZip(bundleFiles(dir, 'sentiment/'), { stored: true })],
    ['b.tar.gz', makeTarGz(bundleFiles(dir))],
  ];
  for (const [name, bytes] of archives) {
    const path = join(copyBundle('sentiment'), '..', name);
    writeFileSync(path, bytes);
    assert.deepEqual(await (await load(path)).predictProba(['good film', 'bad']), expected);
    assert.deepEqual(await (await load(bytes)).predictProba(['good film', 'bad']), expected);
  }
});

test('archives whose members would leave the bundle, links and non-archives are refused', async () => {
  const files = bundleFiles(join(FIXTURES, 'sentiment'));
  const cases = [
    [makeZip({ ...files, '../evil.txt': new Uint8Array([1]) }), /member "\.\.\/evil\.txt" points outside the bundle; refusing the archive/],
    [makeZip({ ...files, '/abs.txt': new Uint8Array([1]) }), /member "\/abs\.txt" has an absolute or non-portable path/],
    [makeZip({ ...files, link: new TextEncoder().encode('/etc/passwd') }, { modes: { link: 0o120777 } }), /member "link" is a symlink/],
    [makeTarGz({ ...files, 'a/../../x': new Uint8Array([1]) }), /points outside the bundle/],
    [makeTarGz({ ...files, link: new Uint8Array(0) }, { types: { link: '2' } }), /member "link" is a symlink/],
    [makeTarGz({ ...files, hard: new Uint8Array(0) }, { types: { hard: '1' } }), /member "hard" is a hard link/],
    [makeZip({ 'README.md': files['README.md'] }), /no edgeft\.json at its top level/],
    [new TextEncoder().encode('just text'), /not a \.zip or \.tar\.gz archive/],
  ];
  for (const [bytes, pattern] of cases) await rejects(load(bytes), pattern);
});

test("task settings the runtime cannot honour are refused, naming the field", async () => {
  const cases = [
    ['entities', (m) => (m.ner.scheme = 'BIOES'), /manifest ner\.scheme "BIOES" is not supported; this runtime decodes IOB2/],
    ['entities', (m) => (m.ner.aggregation = 'mean'), /manifest ner\.aggregation "mean" is not one of first, average, max/],
    ['entities', (m) => (m.ner.stride = 10), /manifest ner\.stride 10 does not fit windows of 10 tokens/],
    ['entities', (m) => (m.labels = ['B-PER', 'I-PER']), /manifest 'labels' must list the IOB2 tags, including 'O'/],
    ['sentiment', (m) => (m.labels = []), /manifest field 'labels' is empty/],
    ['sentiment', (m) => (m.outputs = { scores: 'logits' }), /manifest 'outputs' names neither 'logits' nor 'probabilities'/],
    ['sentiment', (m) => (m.outputs = { logits: 'nope' }), /output "nope" is not an output of the model graph/],
    ['fillmask', (m) => (m.fill_mask = { mask_token: '<mask>' }), /mask token "<mask>" is not in the bundle's tokenizer/],
    ['fillmask', (m) => (m.fill_mask = { mask_token: '[MASK]', mask_token_id: 3 }), /manifest mask_token_id 3 does not match the tokenizer's 4/],
  ];
  for (const [name, edit, pattern] of cases) {
    const dir = copyBundle(name);
    editManifest(dir, edit);
    await rejects(load(dir), pattern);
  }
});

test('variant "auto" takes the int8 build whose suits rules match this CPU, as the Python runtime does', async () => {
  const { archFamily, variantForCpu } = await import('../src/core/device.js');
  // The rules `edgeft export --target` writes (edgeft_runtime.device.TARGET_RULES).
  const vnni = ['avx512_vnni', 'avx_vnni', 'amx_int8'];
  const variants = {
    fp32: { file: 'model.onnx' },
    int8_avx512_vnni: { file: 'a.onnx', suits: [{ arch: 'x86', cpu_flags_any: vnni }] },
    int8_avx2: { file: 'b.onnx', suits: [{ arch: 'x86', cpu_flags_none: vnni }] },
    int8_arm64: { file: 'c.onnx', suits: [{ arch: 'arm64' }] },
  };
  assert.equal(variantForCpu(variants, { arch: 'x86', flags: new Set(['avx2', 'avx512_vnni']) }), 'int8_avx512_vnni');
  assert.equal(variantForCpu(variants, { arch: 'x86', flags: new Set(['avx2']) }), 'int8_avx2');
  assert.equal(variantForCpu(variants, { arch: archFamily('aarch64'), flags: new Set(['asimd']) }), 'int8_arm64');
  assert.equal(variantForCpu(variants, { arch: 'riscv64', flags: new Set() }), null);
  assert.equal(variantForCpu({ int8: variants.int8_avx2, fp32: variants.fp32 }, { arch: 'x86', flags: new Set() }), null);
  // An OpenVINO build first in the manifest (the Python runtime's pick where openvino is installed)
  // is never this runtime's: onnxruntime cannot run its IR.
  const withOpenvino = { openvino_int8: { file: 'm.xml', engine: 'openvino', suits: [{ arch: 'x86' }] }, ...variants };
  assert.equal(variantForCpu(withOpenvino, { arch: 'x86', flags: new Set(['avx2']) }), 'int8_avx2');

  // Through load(): a bundle whose first suited build is for another CPU loads the one for this.
  const dir = copyBundle('sentiment');
  editManifest(dir, (m) => {
    const int8 = m.variants.int8;
    m.variants = {
      fp32: m.variants.fp32,
      int8_elsewhere: { ...int8, suits: [{ arch: 'no-such-arch' }] },
      int8_here: { ...int8, suits: [{ arch: archFamily(process.arch) }] },
    };
    m.default_variant = 'int8_elsewhere';
  });
  assert.equal((await load(dir)).variant, 'int8_here');
  assert.equal((await load(dir, { variant: 'int8_elsewhere' })).variant, 'int8_elsewhere');
});

test('a bundle file that is a symlink to a file outside the folder is refused unread; links inside it and a linked folder load', async () => {
  // The outside copies hold the very bytes the manifest hashes: only where they live gives them away.
  for (const name of ['tokenizer.json', 'model_int8.onnx', 'edgeft.json']) {
    const dir = copyBundle('sentiment');
    const outside = join(mkdtempSync(join(tmpdir(), 'edgeft-outside-')), name);
    renameSync(join(dir, name), outside);
    symlinkSync(outside, join(dir, name));
    await rejects(load(dir), new RegExp(`${name.replace('.', '\\.')}: resolves to .*, outside the bundle folder \\(a symlink\\?\\); refusing it unread`));
    await rejects(load(dir, { verify: false }), /outside the bundle folder/);
  }
  // An outside file with other contents: its bytes must not reach the message either.
  const dir = copyBundle('sentiment');
  const secret = join(mkdtempSync(join(tmpdir(), 'edgeft-secret-')), 'secret.txt');
  writeFileSync(secret, 'root:x:0:0:TOP-SECRET-LINE');
  rmSync(join(dir, 'tokenizer.json'));
  symlinkSync(secret, join(dir, 'tokenizer.json'));
  await assert.rejects(load(dir, { verify: false }), (e) => e instanceof BundleError && /outside the bundle folder/.test(e.message) && !e.message.includes('TOP-SECRET'));
  // A folder symlinked inside the bundle that points out of it is refused the same way.
  const nested = copyBundle('sentiment');
  const away = mkdtempSync(join(tmpdir(), 'edgeft-away-'));
  renameSync(join(nested, 'tokenizer.json'), join(away, 'tokenizer.json'));
  mkdirSync(join(nested, 'sub'));
  symlinkSync(away, join(nested, 'sub', 'link'));
  symlinkSync(join('sub', 'link', 'tokenizer.json'), join(nested, 'tokenizer.json'));
  await rejects(load(nested), /tokenizer\.json: resolves to .*outside the bundle folder/);
  // Links that stay inside, and a bundle folder reached through a link, are fine.
  const inside = copyBundle('sentiment');
  renameSync(join(inside, 'tokenizer.json'), join(inside, 'tokenizer.real.json'));
  symlinkSync('tokenizer.real.json', join(inside, 'tokenizer.json'));
  const linked = join(mkdtempSync(join(tmpdir(), 'edgeft-link-')), 'bundle');
  symlinkSync(inside, linked);
  assert.ok(['pos', 'neg'].includes((await load(linked)).labels[0]));
});

test('percent-encoded dots, which a URL resolves like "..", are refused in file names', async () => {
  for (const name of ['%2e%2e/tokenizer.json', 'sub/%2E%2E/%2e%2e/x.json', '..%2ftokenizer.json']) {
    const dir = copyBundle('sentiment');
    editManifest(dir, (m) => (m.tokenizer = name));
    await rejects(load(dir), /points outside the bundle; refusing it/);
  }
});

test('manifest numbers of the wrong type or out of range are refused, naming the field (as in Python)', async () => {
  const cases = [
    [(m) => (m.max_length = 0), /field 'max_length' is 0: give a number from 1 to 1048576/],
    [(m) => (m.max_length = '64'), /field 'max_length' is '64': give a whole number/],
    [(m) => (m.max_length = 1e12), /field 'max_length' is 1000000000000: give a number from 1 to/],
    [(m) => (m.static_shape = { batch: 0, sequence: 0 }), /field 'static_shape\.batch' is 0/],
    [(m) => (m.static_shape = { batch: 1, sequence: 1.5 }), /field 'static_shape\.sequence' is 1\.5/],
    [(m) => (m.threshold = 2), /field 'threshold' is 2: give a number from 0 to 1/],
    [(m) => (m.labels = ['neg', 7]), /field 'labels' is list: give a list of strings/],
    [(m) => (m.variants = {}), /field 'variants' is dict: give an object with at least one variant/],
    [(m) => (m.default_variant = 'bogus'), /field 'default_variant' is 'bogus', not one of the variants/],
    [(m) => (m.files['tokenizer.json'] = 'abc'), /field 'files\.tokenizer\.json' has no sha256/],
    [(m) => (m.parity = { ...m.parity, max_drop: -1 }), /field 'parity\.max_drop' is -1: give a number from 0 to 100/],
    [(m) => delete m.tokenizer, /missing field\(s\) tokenizer|field 'tokenizer' is missing/],
  ];
  for (const [edit, pattern] of cases) {
    const dir = copyBundle('sentiment');
    editManifest(dir, edit);
    await rejects(load(dir), pattern);
  }
});
