// Behaviour the bundle contract asks of every runtime: truncation and per-batch padding done here
// (never left to the tokenizer library), length-bucketed batches, static shapes, NER windows,
// offsets as JavaScript string indices, result shapes as in Python, clear errors for bad input.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import * as node from '../src/node.js';
import { BundleError, load } from '../src/node.js';
import { windowBounds } from '../src/core/ner.js';
import { copyBundle, editManifest, FIXTURES } from './helpers.js';

const LONG = Array(40).fill('the good film').join(' ');

/** Record the feeds of every session.run call. */
function spy(model) {
  const calls = [];
  const run = model.session.run.bind(model.session);
  model.session.run = (feeds, ...rest) => {
    calls.push(Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, { dims: [...t.dims], data: Array.from(t.data, Number) }])));
    return run(feeds, ...rest);
  };
  return calls;
}

test('truncation to max_length is done here: the tokenizer library ignores tokenizer.json', async () => {
  const model = await load(join(FIXTURES, 'sentiment'));
  const library = model.tokenizer.tok.encode(LONG).ids;
  assert.ok(library.length > 100, 'the library alone does not truncate (why this runtime must)');
  const { ids } = model.tokenizer.encode(LONG);
  assert.equal(ids.length, model.manifest.max_length);
  assert.deepEqual(ids.slice(0, -1), library.slice(0, ids.length - 1), 'the head of the text is kept');
  assert.equal(ids.at(-1), model.tokenizer.tokenToId('[SEP]'));
  const calls = spy(model);
  await model.predict([LONG, 'good']);
  assert.deepEqual(calls[0].input_ids.dims, [2, 24]);
});

test("padding is per batch, to the longest row, with the pad id of tokenizer.json's padding section", async () => {
  const dir = copyBundle('sentiment');
  const path = join(dir, 'tokenizer.json');
  const json = JSON.parse(readFileSync(path, 'utf8'));
  json.padding.pad_id = 7;
  json.padding.pad_type_id = 1;
  writeFileSync(path, JSON.stringify(json));
  editManifest(dir, (m) => (m.files['tokenizer.json'].sha256 = createHash('sha256').update(readFileSync(path)).digest('hex')));
  const model = await load(dir);
  const calls = spy(model);
  await model.predict(['good', 'the film was good']);
  const { input_ids, attention_mask, token_type_ids } = calls[0];
  const width = input_ids.dims[1];
  assert.equal(width, model.tokenizer.encode('the film was good').ids.length);
  const shortLength = model.tokenizer.encode('good').ids.length;
  assert.deepEqual(input_ids.data.slice(shortLength, width), Array(width - shortLength).fill(7));
  assert.deepEqual(attention_mask.data.slice(0, width), [...Array(shortLength).fill(1), ...Array(width - shortLength).fill(0)]);
  assert.deepEqual(token_type_ids.data.slice(shortLength, width), Array(width - shortLength).fill(1));
});

test('texts are batched by token length, results come back in input order', async () => {
  // fp32: int8 graphs quantise activations per tensor, so their results depend on the batch.
  const model = await load(join(FIXTURES, 'sentiment'), { variant: 'fp32' });
  const texts = [LONG, 'good', 'the film was very good and lovely', 'bad', LONG.slice(0, 60)];
  const calls = spy(model);
  const batched = await model.predictProba(texts, { batchSize: 2 });
  const widths = calls.map((c) => c.input_ids.dims);
  const lengths = texts.map((t) => model.tokenizer.encode(t).ids.length).sort((a, b) => a - b);
  assert.deepEqual(widths, [[2, lengths[1]], [2, lengths[3]], [1, lengths[4]]]);
  for (const [i, text] of texts.entries()) {
    const [alone] = await model.predictProba([text]);
    alone.forEach((p, k) => assert.ok(Math.abs(p - batched[i][k]) < 1e-5));
  }
});

test('static_shape pads every batch to the fixed batch and sequence length', async () => {
  const dir = copyBundle('sentiment');
  editManifest(dir, (m) => (m.static_shape = { batch: 4, sequence: 16 }));
  const model = await load(dir, { variant: 'fp32' });
  const dynamic = await load(join(FIXTURES, 'sentiment'), { variant: 'fp32' });
  const calls = spy(model);
  const texts = ['good', 'the film was bad', 'lovely', 'poor', 'sad film', 'great'];
  const fixed = await model.predictProba(texts, { batchSize: 32 });
  assert.deepEqual(calls.map((c) => c.input_ids.dims), [[4, 16], [4, 16]]);
  assert.equal(model.tokenizer.encode(LONG).ids.length, 16);
  const expected = await dynamic.predictProba(texts);
  fixed.forEach((row, i) => row.forEach((p, k) => assert.ok(Math.abs(p - expected[i][k]) < 1e-5)));
});

test('result shapes follow the Python runtime: one string in, one result out', async () => {
  const clf = await load(join(FIXTURES, 'sentiment'));
  assert.equal(typeof (await clf.predict('good')).label, 'string');
  assert.equal((await clf.predict(['good'])).length, 1);
  assert.equal((await clf.predictProba('good')).length, 1, 'predictProba keeps the row axis, as predict_proba does');
  assert.deepEqual(await clf.predict([]), []);
  const topics = await load(join(FIXTURES, 'topics'));
  for (const labels of await topics.predict(['sport music', 'science', ''])) {
    assert.ok(Array.isArray(labels));
    labels.forEach((l, i) => assert.ok(l.score >= topics.threshold && (i === 0 || labels[i - 1].score >= l.score)));
  }
  const fewshot = await load(join(FIXTURES, 'fewshot'));
  const vector = await fewshot.embed('good film');
  assert.ok(vector instanceof Float32Array);
  assert.ok(Math.abs(vector.reduce((s, x) => s + x * x, 0) - 1) < 1e-5);
  assert.equal((await fewshot.embed(['a', 'b'])).length, 2);
  await assert.rejects(clf.embed('good'), (e) => e instanceof BundleError && /exports no sentence embeddings/.test(e.message));
  const tagger = await load(join(FIXTURES, 'entities'));
  assert.ok(Array.isArray(await tagger.tag('anna met otto')));
  assert.deepEqual(await tagger.tag([]), []);
  const filler = await load(join(FIXTURES, 'fillmask'));
  const one = await filler.fillMask('the [MASK] was [MASK]', { topK: 3 });
  assert.equal(one.length, 2);
  assert.equal(one[0].length, 3);
  assert.deepEqual(await clf.runTask(['good', 'bad']), await clf.predict(['good', 'bad']));
  assert.deepEqual(await tagger.runTask('anna met otto'), await tagger.tag('anna met otto'));
  assert.deepEqual(await filler.runTask('the [MASK]'), await filler.fillMask('the [MASK]', { topK: 5 }));
});

test('offsets are JavaScript string indices: emoji, CJK and accents slice back to the original text', async () => {
  const model = await load(join(FIXTURES, 'entities'));
  for (const text of ['😀 東京 paris', 'Zürich 👩‍👩‍👧 anna', 'cafe\u0301 berlin 𠀋 otto']) {
    const tokens = model.tokenizer.encodeContent(text);
    for (const [start, end] of tokens.offsets) {
      const piece = text.slice(start, end);
      assert.ok(piece.trim().length > 0 && !/^\s|\s$/.test(piece), `token span ${JSON.stringify(piece)} of ${JSON.stringify(text)}`);
    }
  }
  const { offsets } = model.tokenizer.encodeContent('😀 東京 paris');
  assert.deepEqual(offsets.map(([s, e]) => '😀 東京 paris'.slice(s, e)), ['😀', '東', '京', 'paris']);
});

test('NER windows cover long texts with the stride, as in Python', async () => {
  assert.deepEqual(windowBounds(10, 4, 1), [[0, 4], [3, 7], [6, 10]]);
  assert.deepEqual(windowBounds(3, 4, 1), [[0, 3]]);
  assert.deepEqual(windowBounds(0, 4, 1), [[0, 0]]);
  assert.throws(() => windowBounds(5, 4, 4), RangeError);
  const model = await load(join(FIXTURES, 'entities'));
  const text = Array(8).fill('anna met otto in paris .').join(' ');
  const calls = spy(model);
  const entities = await model.tag(text);
  assert.ok(calls[0].input_ids.dims[0] > 1, 'several windows');
  assert.ok(entities.length >= 16);
  assert.ok(entities.every((e) => text.slice(e.start, e.end) === e.text));
});

test('bad input is a clear error', async () => {
  const clf = await load(join(FIXTURES, 'sentiment'));
  await assert.rejects(clf.predict(5), TypeError);
  await assert.rejects(clf.predict(['ok', null]), /texts\[1\] is null; every input must be a string/);
  await assert.rejects(clf.predict(['ok'], { batchSize: 0 }), /batchSize must be an integer >= 1/);
  const tagger = await load(join(FIXTURES, 'entities'));
  await assert.rejects(tagger.tag('anna', { aggregation: 'mean' }), /aggregation must be one of first, average, max/);
  const filler = await load(join(FIXTURES, 'fillmask'));
  await assert.rejects(filler.fillMask('no mask here'), /the text has no \[MASK\]; put \[MASK\] where a word should be predicted/);
  await assert.rejects(filler.fillMask(['the [MASK]', 'none']), /texts\[1\] has no \[MASK\]/);
  await assert.rejects(filler.fillMask('the [MASK]', { topK: 0 }), /topK must be an integer >= 1/);
});

test('an unknown ner.word_split is refused rather than decoded wrongly', async () => {
  const dir = copyBundle('entities');
  editManifest(dir, (m) => (m.ner.word_split = 'sentencepiece-words'));
  await assert.rejects(load(dir), (e) => e instanceof BundleError && /ner\.word_split "sentencepiece-words" is not one this runtime knows \(tokenizer, whitespace\)/.test(e.message));
});

test('Node and browser entry points export what their types declare', async () => {
  const declared = ['BundleError', 'BundleModel', 'Classifier', 'FillMask', 'Tagger', 'load'];
  for (const name of declared) assert.equal(typeof node[name], 'function', name);
  const browser = readFileSync(new URL('../src/browser.js', import.meta.url), 'utf8');
  for (const name of declared) assert.match(browser, new RegExp(`export (async function|\\{) ?${name}\\b|export \\{ ${name} \\}`), name);

  // `ort` too (types/node.d.ts and types/browser.d.ts declare it): each build's onnxruntime.
  assert.equal(typeof node.ort.InferenceSession.create, 'function');
  assert.match(browser, /export \{ ort \}/);
});

test('ner.word_split "whitespace": words are runs of non-whitespace, however the tokenizer splits them', async () => {
  const { whitespaceWords } = await import('../src/core/ner.js');
  const text = 'anna.otto  met\u00a0berlin,paris';
  const dir = copyBundle('entities');
  editManifest(dir, (m) => (m.ner.word_split = 'whitespace'));
  const model = await load(dir);
  const tokens = model.tokenizer.encodeContent(text);
  const words = whitespaceWords(text, tokens.offsets);
  const pieces = tokens.offsets.map(([s, e]) => text.slice(s, e));
  assert.deepEqual(pieces, ['anna', '.', 'otto', 'met', 'berlin', ',', 'paris']);
  assert.deepEqual(words, [0, 0, 0, 1, 2, 2, 2]);
  assert.deepEqual(whitespaceWords('\u001c a', [[0, 1], [2, 3]]), [0, 0], 'U+001C is whitespace, as in Python');
  for (const e of await model.tag(text)) {
    assert.equal(text.slice(e.start, e.end), e.text);
    assert.ok(['anna.otto', 'met', 'berlin,paris'].some((w) => w.includes(e.text)) && !/\s/.test(e.text));
  }
});

test('a bundle trained on whitespace words tags whole runs of non-space characters, offsets in UTF-16 units', async () => {
  const tagger = await load(join(FIXTURES, 'entities_ws'));
  assert.equal(tagger.wordSplit, 'whitespace');
  const text = '𠀋 anna😀 met otto, in paris. berlin!';
  const found = await tagger.tag(text);
  assert.ok(found.length > 0);
  for (const e of found) {
    assert.equal(text.slice(e.start, e.end), e.text, 'start/end index the JavaScript string');
    assert.ok(e.start === 0 || /\s/.test(text[e.start - 1]), `${e.text} starts a whitespace word`);
    assert.ok(e.end === text.length || /\s/.test(text[e.end]), `${e.text} ends a whitespace word`);
  }
  // "paris." is one word: it starts at UTF-16 index 23 (21 in code points, as Python reports it)
  const paris = found.find((e) => e.text.startsWith('paris'));
  assert.deepEqual([paris.text, paris.start, paris.end], ['paris.', 23, 29]);
  // the same model read with the tokenizer's words (a manifest without ner.word_split) cuts it in two
  const dir = copyBundle('entities_ws');
  editManifest(dir, (m) => delete m.ner.word_split);
  const legacy = await load(dir);
  assert.equal(legacy.wordSplit, 'tokenizer');
  assert.ok((await legacy.tag(text)).some((e) => e.text === 'paris'));
});

test("load(bundle, {task}) gives that task's class, and refuses another task's bundle before reading its model", async () => {
  assert.ok((await load(join(FIXTURES, 'sentiment'), { task: 'classifier' })) instanceof node.Classifier);
  assert.ok((await load(join(FIXTURES, 'fewshot'), { task: 'classifier' })) instanceof node.Classifier, 'SetFit bundles are classifiers');
  assert.ok((await load(join(FIXTURES, 'entities'), { task: 'ner' })) instanceof node.Tagger);
  const dir = copyBundle('entities');
  writeFileSync(join(dir, 'model_int8.onnx'), 'not read: the task is checked first');
  await assert.rejects(load(dir, { task: 'classifier' }), (e) => e instanceof BundleError && /a ner bundle, not a classifier one/.test(e.message));
  await assert.rejects(load(join(FIXTURES, 'sentiment'), { task: 'sentiment' }), /task "sentiment" is not one of classifier, setfit, ner, fill-mask/);
});
