// Compiled (never run) by `npm run typecheck`: the API's usage type-checks against the declarations.
// (The READMEs' own TypeScript is compiled against the packed package by test/package.test.js.)
import { BundleError, Classifier, Embedder, Entity, FillMask, load, ort, Tagger } from './node.js';
import { ort as webOrt } from './browser.js';

async function usage(): Promise<void> {
  const clf = await load('models/sst2-int8', { task: 'classifier', variant: 'int8', threads: 2 });
  const one = await clf.predict('great film');
  const many = await clf.predict(['great film', 'dull']);
  const proba: number[][] = await clf.predictProba(['great film']);
  const vector: Float32Array = await clf.embed('great film');
  void [one, many, proba, vector];

  const tagger: Tagger = await load('models/conll-int8', { task: 'ner' });
  const entities: Entity[] = await tagger.tag('Angela Merkel met Emmanuel Macron in Paris.', { aggregation: 'average' });
  const text: string = entities[0].text;
  void text;

  const fm: FillMask = await load('models/bio-fillmask', { task: 'fill-mask' });
  const [candidates] = await fm.fillMask('The [MASK] is charged.', { topK: 3 });
  const sequence: string = candidates[0].sequence;
  void sequence;

  const embedder: Embedder = await load('models/tickets-emb-int8', { task: 'embedding' });
  const vectors: Float32Array[] = await embedder.embed(['a query', 'a document']);
  const dim: number | null = embedder.dimension;
  void [vectors, dim];

  const model = await load(new Uint8Array(0));
  if (model instanceof Classifier) await model.predict('x');
  const typed = await load<Classifier>('models/sst2-int8');
  await typed.predictProba('x');

  const tensor = new ort.Tensor('int64', new BigInt64Array(2), [1, 2]);
  webOrt.env.wasm.numThreads = 1;
  void tensor;
  try {
    await load(new Uint8Array(0));
  } catch (e) {
    if (e instanceof BundleError) console.error(e.message);
  }
}
void usage;
