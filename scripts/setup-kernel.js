#!/usr/bin/env node
// Registers the Jupyter kernel "nlpbook" (tslab TypeScript, started by scripts/kernel.js
// from the root of the notebook's checkout), so the notebooks open in Jupyter
// and run headlessly in the tests. Needs a Python with jupyter_client (Debian:
// jupyter-nbconvert); without one it says so in one line and changes nothing.
'use strict';
const cp = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
if (!fs.existsSync(path.join(root, 'node_modules', 'tslab'))) {
  console.log('nlpbook: tslab is not installed (a dev dependency); the notebook kernel was not registered');
  process.exit(0);
}
const pythons = [process.env.NLPBOOK_JUPYTER_PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean);
const python = pythons.find((py) =>
  cp.spawnSync(py, ['-c', 'import jupyter_client'], { stdio: 'ignore' }).status === 0);
if (!python) {
  console.log('nlpbook: no Python with Jupyter found; install it (Debian: apt-get install jupyter-nbconvert), then run `npm run kernel`');
  process.exit(0);
}
// The launcher's code goes into the spec itself (node -e), so the registration does not
// point at one checkout: a kernel started from any nlpbook-ts clone finds its own root.
const launcher = fs.readFileSync(path.join(__dirname, 'kernel.js'), 'utf8').replace(/^#!.*\n/, '');
const spec = {
  argv: [process.execPath, '-e', launcher, '{connection_file}'],
  display_name: 'TypeScript (nlpbook)',
  language: 'typescript',
};
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nlpbook-kernel-'));
fs.writeFileSync(path.join(dir, 'kernel.json'), JSON.stringify(spec, null, 1));
const r = cp.spawnSync(python, ['-c',
  'import sys; from jupyter_client.kernelspec import KernelSpecManager as M; M().install_kernel_spec(sys.argv[1], "nlpbook", user=True, replace=True)',
  dir], { encoding: 'utf8' });
fs.rmSync(dir, { recursive: true, force: true });
if (r.status === 0) console.log('nlpbook: registered the Jupyter kernel "nlpbook" (TypeScript, tslab)');
else console.log(`nlpbook: kernel registration failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
