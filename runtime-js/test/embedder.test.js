// Embedding bundles (task 'embedding'): the Embedder class, unit-length vectors, task checks.
// Its numbers are held to the Python runtime's by parity.test.js (the 'embedder' cases).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { BundleError, Embedder, load } from '../src/node.js';
import { FIXTURES } from './helpers.js';

test('an embedding bundle loads as an Embedder whose vectors are unit length', async () => {
  const model = await load(join(FIXTURES, 'embedder'), { task: 'embedding', variant: 'fp32' });
  assert.ok(model instanceof Embedder && model.hasEmbeddings);
  assert.equal(model.dimension, 16);
  const vectors = await model.embed(['good film', 'sad', '']);
  assert.equal(vectors.length, 3);
  for (const v of vectors) {
    assert.ok(v instanceof Float32Array && v.length === 16);
    assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-6);
  }
  const one = await model.embed('sad');
  assert.ok(one.every((x, i) => Math.abs(x - vectors[1][i]) < 1e-6), 'a single string gives its vector, batch-independent');
  const task = await model.runTask(['good film']);
  assert.ok(Array.isArray(task[0]) && task[0].length === 16);
  assert.equal(typeof model.predict, 'undefined');
});

test('load() told another task refuses an embedding bundle, and the other way round', async () => {
  await assert.rejects(load(join(FIXTURES, 'embedder'), { task: 'classifier' }), (e) => e instanceof BundleError && /an embedding bundle, not a classifier one/.test(e.message));
  await assert.rejects(load(join(FIXTURES, 'fewshot'), { task: 'embedding' }), /a setfit bundle, not an embedding one/);
});
