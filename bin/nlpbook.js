#!/usr/bin/env node
// The `nlpbook` command: runs the TypeScript sources directly (tsx), so the CLI,
// the notebooks and the tests always use the same code, with no build step.
'use strict';
require('tsx/cjs');
require('../src/cli/main.ts').main(process.argv.slice(2));
