// Parity with the Python runtime: the committed tiny bundles of every task, both variants, on the
// text set of make_parity.py (long texts, empty strings, emoji, accents, CJK). Labels, entities,
// offsets and fill-mask tokens must be equal; probabilities, scores and embeddings within TOLERANCE.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { load } from '../src/node.js';
import { compareCase } from './compare.js';
import { FIXTURES } from './helpers.js';
import { runCase } from './run_case.js';

export const parity = JSON.parse(readFileSync(new URL('./fixtures/parity.json', import.meta.url), 'utf8'));
// fp32: the bound. int8: the same bound holds (onnxruntime-node runs the same CPU kernels
// as Python's onnxruntime, in the same batches); measured differences are below 1e-6.
export const TOLERANCE = { fp32: 1e-4, int8: 1e-4 };

for (const c of parity.cases) {
  test(`${c.bundle} ${c.variant} (${c.task}) matches the Python runtime`, async (t) => {
    const model = await load(join(FIXTURES, c.bundle), { variant: c.variant });
    const worst = compareCase(c, await runCase(model, c));
    t.diagnostic(`max |JS - Python| = ${worst.toExponential(2)}`);
    assert.ok(worst <= TOLERANCE[c.variant], `max difference ${worst} above ${TOLERANCE[c.variant]}`);
  });
}
