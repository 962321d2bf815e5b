// Compiled (never run) by `npm run typecheck`: the README's usage type-checks against index.d.ts.
import { BundleError, Classifier, Entity, FillMask, load, Tagger } from './index.js';

async function usage(): Promise<void> {
  const model = await load('models/sst2-int8', { variant: 'int8', threads: 2 });
  if (model instanceof Classifier) {
    const one = await model.predict('great film');
    const many = await model.predict(['great film', 'dull']);
    const proba: number[][] = await model.predictProba(['great film']);
    const vector: Float32Array = await model.embed('great film');
    void [one, many, proba, vector];
  } else if (model instanceof Tagger) {
    const entities: Entity[] = await model.tag('Angela Merkel met Emmanuel Macron in Paris.', { aggregation: 'average' });
    const text: string = entities[0].text;
    void text;
  } else if (model instanceof FillMask) {
    const [candidates] = await model.fillMask('The [MASK] is charged.', { topK: 3 });
    const sequence: string = candidates[0].sequence;
    void sequence;
  }
  try {
    await load(new Uint8Array(0));
  } catch (e) {
    if (e instanceof BundleError) console.error(e.message);
  }
}
void usage;
