/**
 * A folder run by transformers.js pipeline() in Node (onnxruntime-node), the way its users call
 * it, printing labels and scores as JSON (tests/test_transformers_js_layout.py compares them with
 * edgeft's runtimes):
 *
 *     node test/transformersjs_cli.mjs FOLDER [q8|fp32] < texts.json
 */

import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { env, pipeline } from '@huggingface/transformers';

const [folder, dtype = 'q8'] = process.argv.slice(2);
const texts = JSON.parse(readFileSync(0, 'utf8'));
env.allowRemoteModels = false;
env.localModelPath = `${dirname(resolve(folder))}/`;
const clf = await pipeline('text-classification', basename(resolve(folder)), { dtype, device: 'cpu' });
const out = [];
for (const text of texts) out.push((await clf(text, { top_k: null })).map((r) => ({ label: r.label, score: r.score })));
process.stdout.write(JSON.stringify(out));
