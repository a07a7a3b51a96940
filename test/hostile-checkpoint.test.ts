// Broken checkpoints against inference (predict, evaluate, serve, via the real CLI and the
// library): a folder whose weights file holds only classifier.* (every encoder weight would be
// random) and one whose weights hold NaN / Infinity are refused in one line that names the
// file and the weights; the same partial folder still starts a training run, with Python's
// warning. The model is really trained (tiny, about a second), then damaged on disk.
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { initBackend } from '../src/util/backend';
import { fit, SentenceClassifier } from '../src/train/index';
import { BertTokenizer } from '../src/tokenizer/index';
import { startServer } from '../src/inference/serve';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../src/model/safetensors';
import { KCBERT_DIR, runCli, tempDir } from './helpers';
import { nsmcSlice, quickSettings } from './train-helpers';

let modelDir: string;
let corpus: string;

before(async () => {
  await initBackend();
  corpus = nsmcSlice(64, 20);
  modelDir = (await fit(quickSettings(corpus, { epochs: 1 }), { tokenizer: BertTokenizer.fromFolder(KCBERT_DIR), log: () => {} })).model;
});

/** A copy of the trained model folder whose model.safetensors holds what `edit` makes of its tensors. */
function damagedCopy(edit: (tensors: Map<string, TensorToWrite>) => void): string {
  const dir = path.join(tempDir('nlpbook-broken-'), 'model');
  fs.cpSync(modelDir, dir, { recursive: true });
  const file = path.join(dir, 'model.safetensors');
  const tensors = new Map<string, TensorToWrite>();
  for (const [name, t] of readSafetensors(file).tensors) tensors.set(name, { shape: t.shape, data: Float32Array.from(t.data as ArrayLike<number>) });
  edit(tensors);
  writeSafetensors(file, tensors);
  return dir;
}

/** The one-line error of a CLI run that must fail. */
function cliError(args: string[]): string {
  const r = runCli(args);
  assert.notEqual(r.status, 0, `exit 0: ${r.stdout}`);
  assert.equal(r.stdout.trim(), '', 'nothing scored');
  // TensorFlow's own start-up lines aside, the program says one line.
  const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('nlpbook '));
  assert.equal(lines.length, 1, r.stderr);
  return lines[0];
}

test('a checkpoint with only classifier.* weights: predict, evaluate and serve refuse it, naming the missing weights', async () => {
  const partial = damagedCopy((t) => {
    for (const name of [...t.keys()]) if (!name.startsWith('classifier.')) t.delete(name);
  });
  const file = path.join(partial, 'model.safetensors');
  const want = new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: lacks \\d+ of the model's \\d+ weights \\(bert\\.embeddings\\.[^,]+, .* and \\d+ more\\): they would be random`);
  assert.match(cliError(['predict', '--model', partial, '--json', '재미있다']), want);
  assert.match(cliError(['evaluate', '--model', partial, '--data', path.join(corpus, 'nsmc', 'ratings_test.txt'), '--json']), want);
  await assert.rejects(startServer({ modelDir: partial, port: 0 }), want);
  // Training from the same partial folder stays allowed: Python's warning, then a run.
  const lines: string[] = [];
  const run = await fit(quickSettings(corpus, { epochs: 1, pretrainedModelName: partial }), { tokenizer: BertTokenizer.fromFolder(KCBERT_DIR), log: (l) => lines.push(l) });
  assert.ok(lines.some((l) => /Some weights of BertForSequenceClassification were not initialized .*'bert\.embeddings/.test(l)), lines.join('\n'));
  assert.ok(fs.existsSync(path.join(run.model, 'model.safetensors')));
});

test('NaN or infinite weights are refused by every loader, naming them; the intact folder still scores', async () => {
  const nan = damagedCopy((t) => {
    const w = t.get('bert.encoder.layer.0.attention.self.query.weight')!;
    (w.data as Float32Array)[3] = NaN;
    (t.get('classifier.bias')!.data as Float32Array)[1] = Infinity;
  });
  const want = /model\.safetensors: 2 weights hold NaN or infinite values \((bert\.encoder\.layer\.0\.attention\.self\.query\.weight, classifier\.bias|classifier\.bias, bert\.encoder\.layer\.0\.attention\.self\.query\.weight)\): the run that saved them diverged/;
  assert.match(cliError(['predict', '--model', nan, '--json', '재미있다']), want);
  await assert.rejects(SentenceClassifier.load(nan), want);
  await assert.rejects(startServer({ modelDir: nan, port: 0 }), want);
  const good = await SentenceClassifier.load(modelDir);
  try {
    const [p] = good.predict(['재미있다']);
    assert.ok(Number.isFinite(p.positive_prob));
  } finally {
    good.dispose();
  }
});
