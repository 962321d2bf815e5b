// The web demo: load a bundle (folder URL, archive URL or a picked .zip), then classify, tag or
// fill masks as the user types, showing each call's latency. What stops it (the runtime's files
// not installed, a page that is not a secure context, a bundle that is not there) is said on the
// page itself, with what to do: a visitor does not read the console.

const $ = (id) => document.getElementById(id);
const status = (text, state) => {
  $('status').textContent = text;
  $('status').dataset.state = state;
};
const notice = (html) => {
  $('notice').innerHTML = html;
  $('notice').hidden = false;
};
let runtime = null;
let model = null;
let pending = null;
const latencies = [];

const escape = (s) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

function bars(probs) {
  // Every label's probability, best first; the predicted one(s) marked (multi-label: at or above the threshold).
  const rows = model.labels.map((label, i) => ({ label, score: probs[i] })).sort((a, b) => b.score - a.score);
  return rows
    .map((r, i) => {
      const chosen = model.multiLabel ? r.score >= model.threshold : i === 0;
      return `<div class="bar${chosen ? ' chosen' : ''}" data-result><span class="name">${escape(r.label)}</span>` +
        `<span class="track"><span class="level" style="width:${(100 * r.score).toFixed(1)}%"></span></span>` +
        `<span class="score">${r.score.toFixed(3)}</span></div>`;
    })
    .join('');
}

function highlight(text, entities) {
  let html = '';
  let at = 0;
  for (const e of entities) {
    html += escape(text.slice(at, e.start)) + `<mark title="${e.score.toFixed(3)}">${escape(e.text)}<small>${escape(e.entity)}</small></mark>`;
    at = e.end;
  }
  return `<div class="tagged" data-result>${html}${escape(text.slice(at))}</div>`;
}

async function run() {
  const text = $('text').value;
  if (!model || !text.trim()) {
    $('result').innerHTML = '';
    return;
  }
  const start = performance.now();
  let html;
  if (model.task === 'ner') {
    html = highlight(text, await model.tag(text));
  } else if (model.task === 'fill-mask') {
    if (!text.includes(model.maskToken)) html = `<p data-result>Put ${model.maskToken} where a word should be predicted.</p>`;
    else html = (await model.fillMask(text, { topK: 5 })).map((c) => `<ol class="fill" data-result>${c.map((x) => `<li>${escape(x.sequence)} <small>${x.score.toFixed(3)}</small></li>`).join('')}</ol>`).join('');
  } else {
    html = bars((await model.predictProba([text]))[0]);
  }
  const ms = performance.now() - start;
  latencies.push(ms);
  const sorted = [...latencies].sort((a, b) => a - b);
  const tokens = model.tokenizer.encode(text).ids.length;
  $('result').innerHTML = html;
  $('timing').textContent = `this call: ${ms.toFixed(1)} ms (${tokens} tokens) · median of ${latencies.length} calls: ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} ms`;
}

function schedule() {
  // One call at a time; typing during a call queues one more with the latest text.
  if (pending) {
    pending.again = true;
    return;
  }
  pending = { again: false };
  run()
    .catch((e) => status(`error: ${e.message}`, 'error'))
    .finally(() => {
      const again = pending.again;
      pending = null;
      if (again) schedule();
    });
}

async function open(bundle, label) {
  status(`loading ${label}…`, 'loading');
  model = null;
  latencies.length = 0;
  const start = performance.now();
  try {
    model = await runtime.load(bundle, { verify: $('verify').checked });
  } catch (e) {
    const demo = typeof bundle === 'string' && bundle.includes('/models/demo-int8');
    status(`error: ${e.message}${demo ? ' (models/demo-int8 is made by make demo; or pick a .zip bundle)' : ''}`, 'error');
    return;
  }
  const ms = performance.now() - start;
  const threads = runtime.ort.env.wasm.numThreads;
  const what = model.task === 'ner' ? 'entities' : model.task === 'fill-mask' ? 'masked words' : model.labels.join(' / ');
  status(`${label}: ${model.task} (${what}), ${model.variant}, loaded in ${ms.toFixed(0)} ms · wasm, ${threads} thread${threads > 1 ? 's' : ''}${self.crossOriginIsolated ? ' (isolated)' : ''}`, 'ready');
  if (!$('text').value) {
    $('text').value = model.task === 'ner' ? 'Angela Merkel met Emmanuel Macron in Paris.' : model.task === 'fill-mask' ? 'The battery is [MASK].' : '';
  }
  schedule();
}

/** The files the import map points at that the server does not have (runtime-js's node_modules not installed). */
async function missingFiles() {
  const map = JSON.parse(document.querySelector('script[type="importmap"]').textContent).imports;
  const missing = [];
  for (const url of Object.values(map)) {
    const response = await fetch(url, { method: 'HEAD' }).catch(() => null);
    if (!response || !response.ok) missing.push(`${url} (${response ? response.status : 'unreachable'})`);
  }
  return missing;
}

async function start() {
  if (!window.isSecureContext) {
    // WebCrypto (the bundle's sha256 check) exists only in secure contexts: https, or http on localhost.
    const local = `${location.protocol}//localhost${location.port ? `:${location.port}` : ''}${location.pathname}${location.search}`;
    $('verify').checked = false;
    notice(
      `This page is served over plain http from <b>${escape(location.hostname)}</b>, which browsers do not treat as a secure context, ` +
        `so WebCrypto, which checks the bundle's sha256, is not available here. Open it as <a href="${escape(local)}">${escape(local)}</a> ` +
        `(on the machine that serves it) or over https to keep the check; until then bundles load without it ("verify sha256" is off).`,
    );
  }
  try {
    runtime = await import('edgeft-runtime');
  } catch (e) {
    const missing = await missingFiles();
    status('error: the JavaScript runtime could not be loaded', 'error');
    notice(
      missing.length
        ? `The runtime's dependencies are not installed where this page looks for them: ${missing.map((m) => `<code>${escape(m)}</code>`).join(', ')}. ` +
            `From the repository root, run <code>make web-demo</code> (it installs them with <code>npm ci</code> in <code>runtime-js/</code> and serves this page), then reload.`
        : `Importing edgeft-runtime failed: <code>${escape(e.message)}</code>.`,
    );
    return;
  }
  const params = new URLSearchParams(location.search);
  $('bundle').value = params.get('bundle') || '/models/demo-int8/';
  $('source').addEventListener('submit', (e) => {
    e.preventDefault();
    open($('bundle').value, $('bundle').value);
  });
  $('archive').addEventListener('change', () => {
    const file = $('archive').files[0];
    if (file) open(file, file.name);
  });
  $('text').addEventListener('input', schedule);
  open($('bundle').value, $('bundle').value);
}

start();
