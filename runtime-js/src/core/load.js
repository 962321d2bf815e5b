/** load(): read the manifest, verify the files, open the session, pick the task class. */

import { Classifier } from './classifier.js';
import { Embedder } from './embedder.js';
import { suitedVariants, variantForCpu } from './device.js';
import { BundleError } from './errors.js';
import { FillMask } from './fill_mask.js';
import { MANIFEST_FILE, parseManifest, readVerified } from './manifest.js';
import { Tagger } from './tagger.js';
import { BundleTokenizer } from './tokenizer.js';

/** Task name in the manifest -> the class that serves it. */
export const TASK_CLASSES = { classifier: Classifier, setfit: Classifier, ner: Tagger, 'fill-mask': FillMask, embedding: Embedder };

/**
 * ``load(bundle, {task})``: the manifest tasks each expected task accepts. It lets a typed app say
 * which class it wants (TypeScript then knows the methods) and be told at once when the bundle is
 * another task's. 'classifier' takes SetFit bundles too: both load as a Classifier.
 */
export const EXPECTED_TASKS = { classifier: ['classifier', 'setfit'], setfit: ['setfit'], ner: ['ner'], 'fill-mask': ['fill-mask'], embedding: ['embedding'] };

// 'an embedding bundle', 'a ner bundle': the article as the task name is said.
function article(task) {
  return /^[aeio]/.test(String(task)) ? 'an' : 'a';
}

function checkExpectedTask(expected, manifest, where) {
  if (expected == null) return;
  const accepted = EXPECTED_TASKS[expected];
  if (!accepted) {
    throw new TypeError(`load(): task ${JSON.stringify(expected)} is not one of ${Object.keys(EXPECTED_TASKS).join(', ')}`);
  }
  if (!accepted.includes(manifest.task)) {
    throw new BundleError(`${where}: ${article(manifest.task)} ${manifest.task} bundle, not ${article(expected)} ${expected} one (load() was asked for task: ${JSON.stringify(expected)})`);
  }
}

/**
 * Map ``variant`` ("auto", a variant name, or a model file listed in the bundle) to [name, file].
 * "auto" is the int8 build whose `suits` rules match ``cpu`` when the bundle has several (the
 * platform knows the CPU in Node; browsers do not tell it), else the manifest's default.
 */
export function resolveVariant(manifest, variant, where, cpu = null) {
  const variants = manifest.variants || {};
  if (variant === 'auto') variant = variantForCpu(variants, cpu) || manifest.default_variant || Object.keys(variants)[0];
  if (variant in variants) return [variant, variants[variant].file];
  for (const [name, spec] of Object.entries(variants)) {
    if (variant === spec.file || variant === spec.ort_file) return [name, variant];
  }
  throw new BundleError(`${where}: no variant ${JSON.stringify(variant)}; this bundle has ${Object.keys(variants).sort().join(', ')}`);
}

/**
 * Load a bundle from a source (folder, URL or archive) with a platform's onnxruntime.
 * @param {{location: string, where(name: string): string, read(name: string): Promise<Uint8Array|null>}} source
 * @param {{ort: any, device?: string, choose?: (manifest: object, variant: string) => Promise<string>, createSession(bytes: Uint8Array, options: object): Promise<any>, cpu?: () => Promise<{arch: string, flags: Set<string>}|null>}} platform
 */
export async function loadFrom(source, platform, { variant = 'auto', threads = null, verify = true, task = null, warn = (m) => console.warn(m) } = {}) {
  const where = source.where(MANIFEST_FILE);
  const bytes = await source.read(MANIFEST_FILE);
  if (bytes == null) {
    // A transformers.js model folder has config.json and onnx/ but no manifest: say what it lacks.
    if ((await source.read('config.json').catch(() => null)) != null) {
      throw new BundleError(
        `${where}: missing; ${source.location} is a transformers.js model folder (config.json, onnx/), not an edgeft bundle. ` +
          'edgeft-runtime needs the manifest `edgeft export` writes (task, labels, max length, output names, file hashes); ' +
          'export the run with `edgeft export RUN --int8 --format transformers.js` for a folder that both open',
      );
    }
    throw new BundleError(`${where}: missing; this is not an edgeft bundle (re-run \`edgeft export\`)`);
  }
  const manifest = parseManifest(bytes, where, warn);
  const Task = TASK_CLASSES[manifest.task];
  if (!Task) {
    throw new BundleError(
      `${where}: task ${JSON.stringify(manifest.task)} is not supported by this runtime (supported: ${Object.keys(TASK_CLASSES).sort().join(', ')}); upgrade edgeft-runtime`,
    );
  }
  checkExpectedTask(task, manifest, where);
  // The CPU is read only where there is a choice to make, so other loads pay nothing for it.
  if (platform.choose) variant = await platform.choose(manifest, variant); // browsers: WebGPU or wasm
  const choosing = variant === 'auto' && platform.cpu && suitedVariants(manifest.variants).length > 1;
  const [name, modelFile] = resolveVariant(manifest, variant, where, choosing ? await platform.cpu() : null);
  const fixed = manifest.static_shape || {};
  // Both files are fetched and hashed at once: over HTTP the model download is most of load().
  const [tokenizerBytes, modelBytes] = await Promise.all([
    readVerified(source, manifest.tokenizer, manifest, verify),
    readVerified(source, modelFile, manifest, verify),
  ]);
  let json;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(tokenizerBytes));
  } catch (e) {
    throw new BundleError(`${source.where(manifest.tokenizer)}: not a readable tokenizers file (${e.message}); re-export the bundle`);
  }
  const tokenizer = new BundleTokenizer(json, manifest.max_length, fixed.sequence ?? null, source.where(manifest.tokenizer));
  let session;
  try {
    session = await platform.createSession(modelBytes, { threads });
  } catch (e) {
    const first = String(e && e.message ? e.message : e).trim().split('\n')[0];
    throw new BundleError(`${source.where(modelFile)}: onnxruntime could not load it (${first}); re-export the bundle`);
  }
  try {
    const model = new Task({ location: source.location, manifest, session, tokenizer, variant: name, ort: platform.ort });
    model.device = platform.device || 'cpu';
    return model;
  } catch (e) {
    await session.release();
    throw e;
  }
}
