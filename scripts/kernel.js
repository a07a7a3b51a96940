#!/usr/bin/env node
// Starts tslab's TypeScript kernel with the repository root as its working folder.
// Jupyter starts a kernel in the notebook's folder (notebooks/); tslab uses the working
// folder as TypeScript's rootDir, where `src/` would be outside it. So this walks up
// from there to the checkout (package.json named nlpbook-ts) and starts tslab from it:
// cells import the library as './src/...', and relative paths (data/, ../shared) mean
// the same as for the CLI. The kernel spec embeds this file's code (setup-kernel.js),
// so one registration serves every checkout.
'use strict';
const fs = require('fs');
const path = require('path');

function findRoot(dir) {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    try {
      if (JSON.parse(fs.readFileSync(path.join(d, 'package.json'), 'utf8')).name === 'nlpbook-ts') return d;
    } catch { /* no package.json here */ }
    if (path.dirname(d) === d) return null;
  }
}

const root = findRoot(process.cwd());
if (!root) {
  console.error(`nlpbook kernel: ${process.cwd()} is not inside an nlpbook-ts checkout`);
  process.exit(1);
}
process.chdir(root);
require(path.join(root, 'node_modules', 'tslab', 'dist', 'main.js'))
  .startKernel({ configPath: process.argv[process.argv.length - 1], enableFindLocal: false });
