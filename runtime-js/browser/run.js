/**
 * Run a bundle on texts in headless Chromium (onnxruntime-web) and print the results as JSON,
 * the browser twin of test/cli.js (used by benchmarks/js_agreement.py):
 *
 *     node runtime-js/browser/run.js BUNDLE [VARIANT] < texts.json
 */

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { launchChromium, REPO_ROOT, serve } from './server.js';

const [bundle, variant = 'auto'] = process.argv.slice(2);
const texts = JSON.parse(readFileSync(0, 'utf8'));
const server = await serve({ '/': REPO_ROOT, '/bundle/': resolve(bundle) });
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  await page.goto(`${server.url}/runtime-js/browser/page.html`);
  await page.waitForFunction(() => window.edgeftReady === true, null, { timeout: 60000 });
  const out = await page.evaluate(
    async ({ texts, variant }) => {
      const model = await window.edgeft.load('/bundle/', { variant });
      if (model.task === 'ner') return model.tag(texts);
      if (model.task === 'fill-mask') return model.fillMask(texts);
      const result = { proba: await model.predictProba(texts), predict: await model.predict(texts) };
      if (model.hasEmbeddings) result.embed = (await model.embed(texts)).map((v) => Array.from(v));
      return result;
    },
    { texts, variant },
  );
  process.stdout.write(JSON.stringify(out));
} finally {
  await browser.close();
  await server.close();
}
