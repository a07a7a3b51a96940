#!/usr/bin/env node
// Starts tslab's TypeScript kernel with the repository root as its working folder.
// tslab compiles cells with the working folder as TypeScript's rootDir, and Jupyter
// starts kernels in the notebook's folder (notebooks/), where `src/` would be
// outside rootDir. From the root, cells import the library as './src/...' and
// relative paths (data/, ../shared) mean the same as for the CLI.
'use strict';
const path = require('path');
const root = path.resolve(__dirname, '..');
process.chdir(root);
const configPath = process.argv[2];
require(path.join(root, 'node_modules', 'tslab', 'dist', 'main.js'))
  .startKernel({ configPath, enableFindLocal: false });
