// Parity with the Python runtime: the committed tiny bundles of every task, both variants, on the
// text set of make_parity.py (long texts, empty strings, emoji, accents, CJK). Labels, entities,
// offsets and fill-mask tokens must be equal; probabilities, scores and embeddings within TOLERANCE.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { load } from '../src/node.js';
import { compareCase } from './compare.js';
import { FIXTURES, sameInt8Kernels } from './helpers.js';
import { runCase } from './run_case.js';

// parity.json: the Python runtime's outputs. `make test-js` writes them afresh on this machine
// (EDGEFT_PARITY_FILE), so every case, int8 included, is compared on the same kernels whatever the
// CPU. The committed file serves `npm test` alone: int8 numbers follow the CPU's int8 kernels (AVX2
// saturates where VNNI does not: up to 0.065 on these tiny models, whose near-even probabilities
// then flip labels), so there int8 is compared only on a CPU with the int8 flags of the machine
// that wrote it, and skipped elsewhere, saying so.
const PARITY_FILE = process.env.EDGEFT_PARITY_FILE || new URL('./fixtures/parity.json', import.meta.url);
const parity = JSON.parse(readFileSync(PARITY_FILE, 'utf8'));
const SAME_KERNELS = sameInt8Kernels(parity.cpu_flags, parity.architecture);
// Both variants: onnxruntime-node runs the same kernels as Python's onnxruntime, in the same
// batches (measured below 1e-6).
const TOLERANCE = { fp32: 1e-4, int8: 1e-4 };
const OTHER_KERNELS = 'int8 kernels differ from those of the machine that wrote parity.json: run `make test-js`, which writes it on this machine';

for (const c of parity.cases) {
  const skip = c.variant === 'int8' && !SAME_KERNELS && OTHER_KERNELS;
  test(`${c.bundle} ${c.variant} (${c.task}) matches the Python runtime`, { skip }, async (t) => {
    const model = await load(join(FIXTURES, c.bundle), { variant: c.variant });
    const worst = compareCase(c, await runCase(model, c));
    t.diagnostic(`max |JS - Python| = ${worst.toExponential(2)} (bound ${TOLERANCE[c.variant]})`);
    assert.ok(worst <= TOLERANCE[c.variant], `max difference ${worst} above ${TOLERANCE[c.variant]}`);
  });
}
