// Compare a runtime's outputs (runCase) with the Python runtime's (parity.json): labels, entities,
// offsets and tokens equal; numbers within a tolerance. Returns the largest numeric difference.
import assert from 'node:assert/strict';

function maxDiff(a, b) {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const labels = (r) => (Array.isArray(r) ? r.map((x) => x.label) : r.label);
const spans = (es) => es.map(({ entity, text, start, end }) => ({ entity, text, start, end }));

export function compareCase(c, actual) {
  let worst = 0;
  assert.deepEqual(actual.ids, c.ids, 'token ids');
  if (c.proba) {
    actual.proba.forEach((row, i) => (worst = Math.max(worst, maxDiff(row, c.proba[i]))));
    assert.deepEqual(actual.predict.map(labels), c.predict.map(labels), 'labels');
  }
  if (c.embed) actual.embed.forEach((v, i) => (worst = Math.max(worst, maxDiff(v, c.embed[i]))));
  if (c.tag) {
    for (const [aggregation, expected] of Object.entries(c.tag)) {
      actual.tag[aggregation].forEach((entities, i) => {
        assert.deepEqual(spans(entities), spans(expected[i]), `${aggregation} entities of text ${i}`);
        entities.forEach((e, k) => {
          assert.equal(c.texts[i].slice(e.start, e.end), e.text, 'text.slice(start, end) is the entity');
          worst = Math.max(worst, Math.abs(e.score - expected[i][k].score));
        });
      });
    }
  }
  if (c.fill_mask) {
    actual.fill_mask.forEach((masks, i) => {
      assert.equal(masks.length, c.fill_mask[i].length, `masks in text ${i}`);
      masks.forEach((candidates, m) => {
        const expected = c.fill_mask[i][m];
        assert.deepEqual(candidates.map((x) => Object.keys(x)), expected.map((x) => Object.keys(x)), 'the same fields, in the same order');
        assert.deepEqual(candidates.map((x) => [x.token, x.token_str, x.sequence]), expected.map((x) => [x.token, x.token_str, x.sequence]));
        worst = Math.max(worst, maxDiff(candidates.map((x) => x.score), expected.map((x) => x.score)));
      });
    });
    assert.equal(actual.mask_cut_error, c.mask_cut.error, 'a mask beyond max_length is refused with the same message');
  }
  return worst;
}
