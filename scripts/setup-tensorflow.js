#!/usr/bin/env node
// Makes @tensorflow/tfjs-node usable after `npm install`, also without internet.
//
// package.json denies tfjs-node's own install script (allowScripts), because that
// script downloads libtensorflow and fails offline, which would fail `npm install`.
// This script runs it ourselves, in three routes, stopping at the first that works:
//   1. official: tfjs-node's own scripts/install.js (downloads libtensorflow 2.9.1)
//   2. wheel:    libtensorflow from the tensorflow-cpu wheel that `pip download` finds
//                (a local wheel index works), then the addon is built from source
//   3. none:     a one-line notice; src/util/backend.ts then falls back to wasm
// It never fails the install. NLPBOOK_TF_ROUTE=official|wheel|none picks one route.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const cp = require('child_process');

const root = path.resolve(__dirname, '..');
let pkgDir;
try {
  pkgDir = path.dirname(require.resolve('@tensorflow/tfjs-node/package.json', { paths: [root] }));
} catch {
  notice('the @tensorflow/tfjs-node package is not installed');
  process.exit(0);
}
const depsLib = path.join(pkgDir, 'deps', 'lib');
const depsInclude = path.join(pkgDir, 'deps', 'include');
const env = { ...process.env, PATH: `${path.join(root, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH}` };
// node-gyp downloads Node's headers unless told where they are; a Node install
// that ships them (include/node) saves that download, which fails offline.
const nodePrefix = path.resolve(path.dirname(process.execPath), '..');
if (!env.npm_config_nodedir && fs.existsSync(path.join(nodePrefix, 'include', 'node', 'node_api.h'))) {
  env.npm_config_nodedir = nodePrefix;
}

function log(msg) { console.log(`[setup-tensorflow] ${msg}`); }
function notice(reason) {
  console.log(`nlpbook: native TensorFlow backend unavailable (${reason}); the wasm backend will be used (slow: training needs tfjs-node)`);
}

/** True when a fresh Node process can load the addon and run an op. */
function works() {
  const r = cp.spawnSync(process.execPath, ['-e',
    "const tf=require('@tensorflow/tfjs-node');tf.matMul(tf.ones([2,2]),tf.ones([2,2])).dataSync();console.log(tf.getBackend())"],
  { cwd: root, encoding: 'utf8', timeout: 120000 });
  return r.status === 0 && r.stdout.trim().endsWith('tensorflow');
}

/** Runs tfjs-node's own install script (download route or build-from-deps route). */
function runPackageInstall(timeoutMs) {
  const r = cp.spawnSync(process.execPath, ['scripts/install.js'],
    { cwd: pkgDir, env, encoding: 'utf8', timeout: timeoutMs });
  const out = `${r.stdout || ''}${r.stderr || ''}`;
  if (r.status !== 0) log(`tfjs-node install.js exited ${r.status ?? r.signal}: ${lastLine(out)}`);
  return r.status === 0;
}

/** The most telling line of a failed command's output: its error line, else its last line. */
function lastLine(s) {
  const lines = s.trim().split('\n').map((l) => l.trim()).filter(Boolean);
  const error = lines.find((l) => /^(\w*Error|ERROR|error)\b|ENOTFOUND|EAI_AGAIN|ECONNREFUSED/.test(l));
  return (error || lines[lines.length - 1] || '(no output)').slice(0, 300);
}

function officialRoute() {
  log('route 1: official libtensorflow download');
  if (fs.existsSync(depsLib)) fs.rmSync(path.join(pkgDir, 'deps'), { recursive: true, force: true });
  runPackageInstall(10 * 60 * 1000);
  return works();
}

function findPython() {
  for (const py of ['python3', 'python']) {
    const r = cp.spawnSync(py, ['-m', 'pip', '--version'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return null;
}

// Extracts the C API libraries and headers from the wheel. The wheel's
// libtensorflow_cc.so.2 exports the C API that tfjs-node's addon calls.
const EXTRACT_PY = `
import sys, zipfile, os, shutil
whl, lib, inc = sys.argv[1:4]
os.makedirs(lib, exist_ok=True); os.makedirs(inc, exist_ok=True)
want_lib = {'tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2'}
prefixes = ('tensorflow/include/tensorflow/c/', 'tensorflow/include/tensorflow/core/platform/', 'tensorflow/include/tsl/platform/', 'tensorflow/include/xla/tsl/platform/')
xla_c = 'tensorflow/include/tensorflow/compiler/xla/tsl/c/'
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        if n.endswith('/'): continue
        dests = []
        if n in want_lib: dests.append(os.path.join(lib, os.path.basename(n)))
        elif n.startswith(prefixes) and n.endswith('.h'): dests.append(os.path.join(inc, n[len('tensorflow/include/'):]))
        # tf_status.h includes "xla/tsl/c/tsl_status.h", shipped under tensorflow/compiler/
        if n.startswith(xla_c) and n.endswith('.h'): dests.append(os.path.join(inc, 'xla/tsl/c', os.path.basename(n)))
        for dest in dests:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            tmp = dest + '.part'
            with z.open(n) as src, open(tmp, 'wb') as out: shutil.copyfileobj(src, out, 1 << 20)
            os.replace(tmp, dest)
`;

function wheelRoute() {
  log('route 2: libtensorflow from the tensorflow-cpu wheel (pip download)');
  const py = findPython();
  if (!py) { log('no python3 with pip found'); return false; }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nlpbook-tf-'));
  try {
    const dl = cp.spawnSync(py, ['-m', 'pip', 'download', 'tensorflow-cpu', '--no-deps', '--only-binary=:all:',
      '--retries', '0', '--timeout', '15', '-d', tmp, '-q'], { encoding: 'utf8', timeout: 15 * 60 * 1000 });
    const whl = fs.readdirSync(tmp).find((f) => f.endsWith('.whl'));
    if (dl.status !== 0 || !whl) { log(`pip download tensorflow-cpu failed: ${lastLine(`${dl.stdout}${dl.stderr}`)}`); return false; }
    log(`extracting ${whl}`);
    fs.rmSync(path.join(pkgDir, 'deps'), { recursive: true, force: true });
    const ex = cp.spawnSync(py, ['-c', EXTRACT_PY, path.join(tmp, whl), depsLib, depsInclude], { encoding: 'utf8' });
    if (ex.status !== 0) { log(`extracting the wheel failed: ${lastLine(ex.stderr)}`); return false; }
    // The names tfjs-node's build and install script expect (they pin 2.9.1).
    const links = {
      'libtensorflow.so': 'libtensorflow_cc.so.2',
      'libtensorflow.so.2': 'libtensorflow_cc.so.2',
      'libtensorflow.so.2.9.1': 'libtensorflow_cc.so.2',
      'libtensorflow_framework.so': 'libtensorflow_framework.so.2',
      'libtensorflow_framework.so.2.9.1': 'libtensorflow_framework.so.2',
    };
    for (const [name, target] of Object.entries(links)) fs.symlinkSync(target, path.join(depsLib, name));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  log('building the tfjs-node addon against it (node-gyp, about a minute)');
  // The prebuilt addon is for libtensorflow 2.9.1: build ours from source.
  fs.rmSync(path.join(pkgDir, 'lib'), { recursive: true, force: true });
  const b = cp.spawnSync(path.join(root, 'node_modules', '.bin', 'node-pre-gyp'), ['install', '--build-from-source'],
    { cwd: pkgDir, env, encoding: 'utf8', timeout: 20 * 60 * 1000 });
  if (b.status !== 0) { log(`addon build failed: ${lastLine(`${b.stdout}${b.stderr}`)}`); return false; }
  return works();
}

function main() {
  if (works()) { log('tfjs-node already works (backend tensorflow)'); return; }
  const only = process.env.NLPBOOK_TF_ROUTE;
  const routes = { official: officialRoute, wheel: wheelRoute };
  const order = only ? (only === 'none' ? [] : [only]) : ['official', 'wheel'];
  for (const name of order) {
    if (!routes[name]) { log(`unknown NLPBOOK_TF_ROUTE=${name} (expected official, wheel or none)`); break; }
    if (routes[name]()) { log(`tfjs-node works (route: ${name})`); return; }
  }
  notice(only === 'none' ? 'NLPBOOK_TF_ROUTE=none' : 'neither the official download nor the tensorflow-cpu wheel route worked');
}

try { main(); } catch (e) { notice(`setup error: ${e && e.message}`); }
