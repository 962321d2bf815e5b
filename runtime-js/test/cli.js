// A command line for the Python test suite to drive the JavaScript runtime (tests/test_js_runtime.py):
//   node test/cli.js encode TOKENIZER_JSON MAX_LENGTH < texts.json   -> [{ids, content_ids, offsets, words}]
//   node test/cli.js run BUNDLE_OR_ARCHIVE [VARIANT] < texts.json     -> the task's results
import { readFileSync } from 'node:fs';
import { BundleTokenizer } from '../src/core/tokenizer.js';
import { load } from '../src/node.js';

const [command, target, arg] = process.argv.slice(2);
const texts = JSON.parse(readFileSync(0, 'utf8'));
let out;
if (command === 'encode') {
  const tok = new BundleTokenizer(JSON.parse(readFileSync(target, 'utf8')), Number(arg));
  out = texts.map((t) => {
    const content = tok.encodeContent(t);
    return { ids: tok.encode(t).ids, content_ids: content.ids, offsets: content.offsets, words: content.words };
  });
} else if (command === 'run') {
  const model = await load(target, { variant: arg || 'auto' });
  if (model.task === 'ner') out = await model.tag(texts);
  else if (model.task === 'fill-mask') out = await model.fillMask(texts);
  else out = { proba: await model.predictProba(texts), predict: await model.predict(texts), ...(model.hasEmbeddings ? { embed: (await model.embed(texts)).map((v) => Array.from(v)) } : {}) };
} else {
  throw new Error(`unknown command ${command}`);
}
process.stdout.write(JSON.stringify(out));
