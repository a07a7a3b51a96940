import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { runCli, jsonLines } from './helpers';

test('nlpbook env --json reports the native TensorFlow backend after npm install', () => {
  const r = runCli(['env', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const [info] = jsonLines(r.stdout);
  assert.equal(info.backend, 'tensorflow', `expected tfjs-node; got ${JSON.stringify(info)}`);
  assert.equal(info.native, true);
  assert.match(info.tfjs, /^4\.\d+\.\d+$/);
  assert.ok(Number.isInteger(info.threads) && info.threads >= 1);
});
