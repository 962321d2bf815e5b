// One parity case run through a loaded model: plain JSON-able outputs, in Node or in a browser page.

/** Outputs of ``model`` on the case's texts, in the shapes make_parity.py records for Python. */
export async function runCase(model, c) {
  const out = { ids: c.texts.map((text) => model.tokenizer.encode(text).ids) };
  if (c.proba) {
    out.proba = await model.predictProba(c.texts);
    out.predict = await model.predict(c.texts);
  }
  if (c.embed) out.embed = (await model.embed(c.texts)).map((v) => Array.from(v));
  if (c.tag) {
    out.tag = {};
    for (const aggregation of Object.keys(c.tag)) out.tag[aggregation] = await model.tag(c.texts, { aggregation });
  }
  if (c.fill_mask) {
    out.fill_mask = await model.fillMask(c.texts, { topK: 5 });
    try {
      await model.fillMask(c.mask_cut.text);
      out.mask_cut_error = null;
    } catch (e) {
      out.mask_cut_error = e.message;
    }
  }
  return out;
}
