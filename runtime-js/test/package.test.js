// The package as a user outside this repository gets it: `npm pack`, then the tarball installed
// into a clean folder with the commands the READMEs give (the code blocks marked
// `<!-- tested: NAME -->`). A Node app gets onnxruntime-node and not onnxruntime-web, a web app the
// reverse; the READMEs' Node examples run on the committed tiny bundles; their TypeScript compiles
// under `tsc --strict` against the installed package.
//
// npm resolves from its cache (--prefer-offline): `npm ci` in runtime-js/ has put every package
// there, so this needs no network where the tests' own install succeeded.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FIXTURES } from './helpers.js';

const PACKAGE_DIR = fileURLToPath(new URL('../', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const TSC = join(PACKAGE_DIR, 'node_modules', 'typescript', 'bin', 'tsc');
const NPM_QUIET = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];
const skip = spawnSync('npm', ['--version']).status === 0 ? false : 'npm is not on the PATH (it installs the packed package)';

// The READMEs' example bundles, played by the committed tiny bundles of the same tasks.
const BUNDLES = {
  'models/demo-int8': 'sentiment',
  'models/sst2-int8': 'sentiment',
  'models/fewshot-int8': 'fewshot',
  'models/conll-int8': 'entities',
  'models/bio-fillmask': 'fillmask',
  'models/tickets-emb-int8': 'embedder',
};

/** The code block of ``file`` marked `<!-- tested: name -->`. */
export function taggedBlock(file, name) {
  const text = readFileSync(join(REPO, file), 'utf8');
  const m = text.match(new RegExp(`<!-- tested: ${name} -->\\s*\\n\`\`\`\\w*\\n([\\s\\S]*?)\\n\`\`\``));
  assert.ok(m, `${file} has no code block marked <!-- tested: ${name} -->`);
  return m[1];
}

/** The shell commands of a block: comments and blank lines dropped. */
function commands(block) {
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line && !line.startsWith('#'));
}

function run(command, cwd) {
  const [program, ...args] = command.split(/\s+/);
  return execFileSync(program, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function withFixtures(code) {
  let out = code;
  for (const [path, fixture] of Object.entries(BUNDLES)) out = out.replaceAll(`'${path}'`, JSON.stringify(join(FIXTURES, fixture)));
  out = out.replaceAll("'/bundles/sst2-int8/'", JSON.stringify(join(FIXTURES, 'sentiment')));
  return out;
}

function sizeMb(dir) {
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) bytes += statSync(join(entry.parentPath ?? entry.path, entry.name)).size;
  }
  return bytes / 1e6;
}

function newApp(root, name) {
  const dir = join(root, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }));
  return dir;
}

/** Compile ``code`` as the app's app.ts under --strict, the way a user's project would resolve the package. */
function compile(app, code, moduleResolution) {
  writeFileSync(join(app, 'app.ts'), code);
  const options = { strict: true, noEmit: true, target: 'es2022', lib: ['es2022', 'dom'], module: moduleResolution === 'bundler' ? 'es2022' : 'nodenext', moduleResolution, skipLibCheck: true, types: [] };
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: options, files: ['app.ts'] }));
  return spawnSync(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: app, encoding: 'utf8' });
}

let root;
let tarball;
const apps = {};

before(() => {
  if (skip) return;
  root = mkdtempSync(join(tmpdir(), 'edgeft-package-'));
  const packDir = join(root, 'pack');
  mkdirSync(packDir);
  for (const command of commands(taggedBlock('runtime-js/README.md', 'pack'))) run(command.replace('./runtime-js', PACKAGE_DIR), packDir);
  const [file] = readdirSync(packDir).filter((n) => n.endsWith('.tgz'));
  assert.ok(file, 'npm pack wrote no tarball');
  tarball = join(packDir, file);
  for (const [name, block] of [['node', 'node-install'], ['browser', 'browser-install']]) {
    apps[name] = newApp(root, name);
    for (const command of commands(taggedBlock('runtime-js/README.md', block))) {
      run(`${command.replace('/path/to/edgeft-runtime-0.1.0.tgz', tarball)} ${NPM_QUIET.join(' ')}`, apps[name]);
    }
  }
});

after(() => root && rmSync(root, { recursive: true, force: true }));

test('the tarball holds the runtime, its types and README, and nothing of the repository', { skip }, () => {
  const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const file of ['package/src/node.js', 'package/src/browser.js', 'package/types/index.d.ts', 'package/types/node.d.ts', 'package/types/browser.d.ts', 'package/README.md']) {
    assert.ok(listing.includes(file), `${file} missing from the tarball`);
  }
  assert.ok(!listing.some((f) => /\/(test|browser|node_modules)\//.test(f)), 'tests or node_modules packed');
});

test('a Node app gets onnxruntime-node and no onnxruntime-web; a web app the reverse', { skip }, (t) => {
  const modules = (app) => join(apps[app], 'node_modules');
  assert.ok(existsSync(join(modules('node'), 'edgeft-runtime', 'package.json')), 'installed from the tarball, not linked');
  assert.ok(!statSync(join(modules('node'), 'edgeft-runtime')).isSymbolicLink());
  assert.ok(existsSync(join(modules('node'), 'onnxruntime-node')));
  assert.ok(!existsSync(join(modules('node'), 'onnxruntime-web')), 'a Node app downloaded onnxruntime-web');
  assert.ok(existsSync(join(modules('browser'), 'onnxruntime-web')));
  assert.ok(!existsSync(join(modules('browser'), 'onnxruntime-node')), 'a web app downloaded onnxruntime-node');
  t.diagnostic(`node_modules: Node app ${sizeMb(modules('node')).toFixed(0)} MB, web app ${sizeMb(modules('browser')).toFixed(0)} MB`);
});

for (const [file, block] of [['README.md', 'node-example'], ['runtime-js/README.md', 'node-example']]) {
  test(`${file}'s Node example runs in the Node app`, { skip }, () => {
    writeFileSync(join(apps.node, 'example.mjs'), withFixtures(taggedBlock(file, block)));
    const out = spawnSync(process.execPath, ['example.mjs'], { cwd: apps.node, encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /label: '(pos|neg)'/);
  });
}

test("the READMEs' TypeScript compiles under --strict against the installed package (Node and browser builds)", { skip }, () => {
  // The package README's TypeScript, and the main README's Node example, which must compile as TypeScript too.
  const nodeTs = compile(apps.node, `${taggedBlock('runtime-js/README.md', 'typescript-node')}\nexport {};\n{\n${taggedBlock('README.md', 'node-example').replace(/^import .*$/m, '')}\n}\n`, 'nodenext');
  assert.equal(nodeTs.status, 0, nodeTs.stdout + nodeTs.stderr);
  const webTs = compile(apps.browser, taggedBlock('runtime-js/README.md', 'typescript-browser'), 'bundler');
  assert.equal(webTs.status, 0, webTs.stdout + webTs.stderr);
  // and the types catch a wrong task: a Tagger is not what {task: 'classifier'} gives
  const wrong = compile(apps.node, "import { load, type Tagger } from 'edgeft-runtime';\nconst t: Tagger = await load('x', { task: 'classifier' });\nconsole.log(t);\n", 'nodenext');
  assert.notEqual(wrong.status, 0);
  assert.match(wrong.stdout, /Classifier/);
});

test('Node without onnxruntime-node says what to install', { skip }, () => {
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', "await import('edgeft-runtime')"], { cwd: apps.browser, encoding: 'utf8' });
  assert.notEqual(out.status, 0);
  assert.match(out.stderr, /npm install onnxruntime-node@1\.30\.0 --ignore-scripts/);
});

test("the README's Node set-up is the package README's pack and Node install", { skip }, () => {
  const setup = commands(taggedBlock('README.md', 'node-setup'));
  assert.deepEqual(setup, [...commands(taggedBlock('runtime-js/README.md', 'pack')), ...commands(taggedBlock('runtime-js/README.md', 'node-install'))]);
});
