// The trainer (course step 7) on the tiny BERT and a slice of NSMC: training lowers the
// loss, checkpoints are complete Hugging Face folders, the best model is kept, a run
// stopped part-way and resumed ends with exactly the weights of a straight run, settings
// it cannot honour fail with one-line errors, and checkpoint averaging
// (settings.averageCheckpoints) gives the mean of exactly the weights a run without it
// passes through, resumes exactly, and refuses a checkpoint that lost its running sum.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { initBackend } from '../src/util/backend';
import { OPTIMIZER_FILE, readTrainerState, TRAINER_STATE_FILE } from '../src/train/checkpoints';
import { NlpbookError } from '../src/util/errors';
import { BertConfig, BertForSequenceClassification, saveModel, readSafetensors } from '../src/model/index';
import { SentenceClassifier } from '../src/train/index';
import type { Settings } from '../src/settings/index';
import { BertTokenizer } from '../src/tokenizer/index';
import { fit, rankTopK, readMetrics, type FitOptions } from '../src/train/trainer';
import { AVERAGE_FILE, averagedSteps } from '../src/train/weight-average';
import { KCBERT_DIR, tempDir } from './helpers';
import { nsmcSlice, quickSettings } from './train-helpers';

let tokenizer: BertTokenizer;
let corpusRoot: string;
const quiet: FitOptions['log'] = () => {};

before(async () => {
  await initBackend();
  tokenizer = BertTokenizer.fromFolder(KCBERT_DIR);
  corpusRoot = nsmcSlice(160); // 144 training, 16 validation sentences
});

function settings(overrides: Partial<Settings> = {}): Settings {
  return quickSettings(corpusRoot, { batchSize: 16, learningRate: 1e-2, ...overrides });
}

const run = (s: Settings, options: FitOptions = {}) => fit(s, { tokenizer, log: quiet, ...options });

/** Every tensor of a safetensors file, by name. */
function tensors(file: string): Map<string, Float32Array | Int32Array> {
  return new Map([...readSafetensors(file).tensors].map(([k, t]) => [k, t.data]));
}

function maxDifference(a: Map<string, ArrayLike<number>>, b: Map<string, ArrayLike<number>>): number {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  let max = 0;
  for (const [name, x] of a) {
    const y = b.get(name)!;
    assert.equal(x.length, y.length, name);
    for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i] - y[i]));
  }
  return max;
}

const withoutSeconds = (lines: object[]) => lines.map((l) => ({ ...l, seconds: 0 }));

describe('fit', () => {
  test('trains: loss falls, checkpoints are Hugging Face folders, best/ holds the best epoch, metrics are logged', async () => {
    const s = settings({ epochs: 4, saveTopK: 2, monitor: 'max val_accuracy', logEverySteps: 3 });
    const r = await run(s);
    const dir = s.downstreamModelDir;
    assert.equal(r.finished, true);
    assert.equal(r.epochs, 4);
    assert.equal(r.steps, 4 * 9); // 144 sentences / 16 = 9 batches per epoch
    assert.equal(r.model, path.join(dir, 'best'));

    const lines = readMetrics(dir);
    const train = lines.filter((l) => l.type === 'train');
    const validation = lines.filter((l) => l.type === 'validation');
    assert.deepEqual(train.map((l) => l.step), [3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36]);
    assert.deepEqual(validation.map((l) => [l.epoch, l.step]), [[1, 9], [2, 18], [3, 27], [4, 36]]);
    for (const l of train) for (const k of ['loss', 'accuracy', 'lr', 'seconds', 'epoch']) assert.equal(typeof (l as any)[k], 'number', k);
    for (const l of validation) for (const k of ['loss', 'accuracy', 'precision', 'recall', 'f1']) assert.ok(Number.isFinite((l as any)[k]), k);
    const firstLoss = train[0].loss;
    const lastLoss = train[train.length - 1].loss;
    assert.ok(lastLoss < firstLoss - 0.15, `training loss ${firstLoss.toFixed(3)} -> ${lastLoss.toFixed(3)}: expected a clear fall`);

    // Every checkpoint folder is a model folder plus the resume files.
    const ckpts = fs.readdirSync(path.join(dir, 'checkpoints')).sort();
    assert.equal(ckpts.filter((n) => n.startsWith('epoch=')).length, 2, `top-2 kept: ${ckpts}`);
    assert.ok(ckpts.includes('last'));
    assert.ok(ckpts.every((n) => n === 'last' || /^epoch=\d+-step=\d+-val_accuracy=\d\.\d{4}$/.test(n)), ckpts.join(' '));
    for (const name of ckpts) {
      for (const f of ['config.json', 'model.safetensors', 'vocab.txt', 'tokenizer_config.json', 'tokenizer.json', 'settings.json', TRAINER_STATE_FILE, OPTIMIZER_FILE]) {
        assert.ok(fs.existsSync(path.join(dir, 'checkpoints', name, f)), `${name}/${f}`);
      }
    }
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'best', 'config.json'), 'utf8'));
    assert.deepEqual(config.architectures, ['BertForSequenceClassification']);
    assert.deepEqual(config.id2label, { 0: 'negative', 1: 'positive' });

    // best/ is the epoch with the highest validation accuracy (the first one on ties).
    const accuracies = validation.map((l) => l.accuracy);
    const bestEpoch = accuracies.indexOf(Math.max(...accuracies)) + 1;
    assert.equal(r.best?.epoch, bestEpoch);
    const bestFolder = ckpts.find((n) => n.startsWith(`epoch=${bestEpoch}-`))!;
    assert.ok(bestFolder, `the best epoch ${bestEpoch} is among the kept checkpoints`);
    assert.equal(maxDifference(tensors(path.join(dir, 'best', 'model.safetensors')), tensors(path.join(dir, 'checkpoints', bestFolder, 'model.safetensors'))), 0);
    assert.ok(!fs.existsSync(path.join(dir, 'best', OPTIMIZER_FILE)), 'best/ is a plain model folder');

    // best/ loads for inference, with the tokenizer files saved next to it.
    const classifier = await SentenceClassifier.load(r.model);
    assert.deepEqual(classifier.labels, ['negative', 'positive']);
    assert.equal(classifier.maxLength, s.maxSeqLength);
    assert.equal(classifier.tokenizer.fingerprint(), tokenizer.fingerprint(), 'the saved tokenizer cuts sentences like the one trained with');
    classifier.dispose();

    const state = readTrainerState(path.join(dir, 'checkpoints', 'last'));
    assert.equal(state.finished, true);
    assert.equal(state.step, 36);
    assert.equal(state.metricsBytes, fs.statSync(path.join(dir, 'metrics.jsonl')).size);
  });

  test('a run stopped mid-epoch and after an epoch, then resumed, equals a straight run', async () => {
    const straight = settings({ epochs: 2 });
    await run(straight);
    const resumed = settings({ epochs: 2 });
    const first = await run(resumed, { stopAt: { steps: 5 } }); // in the middle of epoch 1
    assert.equal(first.finished, false);
    assert.equal(first.steps, 5);
    const second = await run(resumed, { stopAt: { epochs: 1 } });
    assert.deepEqual(second.resumedFrom, { epoch: 0, step: 5 });
    assert.equal(second.steps, 9);
    const third = await run(resumed);
    assert.deepEqual(third.resumedFrom, { epoch: 1, step: 9 });
    assert.equal(third.finished, true);

    const a = path.join(straight.downstreamModelDir, 'checkpoints', 'last');
    const b = path.join(resumed.downstreamModelDir, 'checkpoints', 'last');
    const weightDiff = maxDifference(tensors(path.join(a, 'model.safetensors')), tensors(path.join(b, 'model.safetensors')));
    assert.ok(weightDiff <= 1e-6, `final weights differ by ${weightDiff}`);
    const momentDiff = maxDifference(tensors(path.join(a, OPTIMIZER_FILE)), tensors(path.join(b, OPTIMIZER_FILE)));
    assert.ok(momentDiff <= 1e-6, `AdamW moments differ by ${momentDiff}`);
    assert.deepEqual(withoutSeconds(readMetrics(resumed.downstreamModelDir)), withoutSeconds(readMetrics(straight.downstreamModelDir)));
    assert.deepEqual(third.history.map((h) => ({ ...h })), (await run(straight)).history, 'the same validation scores');
  });

  test('an aborted signal (Ctrl+C in the CLI) stops after the current step and leaves a resumable checkpoint', async () => {
    const s = settings({ epochs: 2 });
    const stop = new AbortController();
    const r = await fit(s, { tokenizer, signal: stop.signal, log: (line) => line.includes('nlpbook: training') && stop.abort() });
    assert.equal(r.finished, false);
    assert.equal(r.steps, 1);
    const state = readTrainerState(r.checkpoint);
    assert.deepEqual([state.step, state.epoch, state.batchInEpoch, state.finished], [1, 0, 1, false]);
    const rest = await run(s);
    assert.deepEqual(rest.resumedFrom, { epoch: 0, step: 1 });
    assert.equal(rest.steps, 18);
  });

  test('a rerun of a finished run trains nothing; other settings in the same folder are refused', async () => {
    const s = settings({ epochs: 1, testMode: true });
    await run(s);
    const before = fs.statSync(path.join(s.downstreamModelDir, 'checkpoints', 'last', 'model.safetensors')).mtimeMs;
    const again = await run(s);
    assert.equal(again.finished, true);
    assert.equal(again.resumedFrom, null);
    assert.equal(fs.statSync(path.join(s.downstreamModelDir, 'checkpoints', 'last', 'model.safetensors')).mtimeMs, before);
    await assert.rejects(run({ ...s, learningRate: 1e-4 }), (e: Error) => {
      assert.ok(e instanceof NlpbookError);
      assert.match(e.message, /other settings \(learningRate 0\.01 -> 0\.0001\)/);
      assert.ok(!e.message.includes('\n'));
      return true;
    });
    // Where progress is shown does not make it another run.
    assert.equal((await run({ ...s, tqdmEnabled: true, logEverySteps: 7 })).finished, true);
  });

  test('testMode runs two batches per phase; saveTopK 0 keeps no ranked checkpoint but still best/', async () => {
    const s = settings({ epochs: 2, testMode: true, saveTopK: 0 });
    const r = await run(s);
    assert.equal(r.steps, 4);
    assert.ok(r.history.every((h) => h.n <= 2 * s.batchSize));
    const names = fs.readdirSync(path.join(s.downstreamModelDir, 'checkpoints'));
    assert.deepEqual(names, ['last']);
    assert.ok(fs.existsSync(path.join(r.model, 'model.safetensors')));
  });

  test('early stopping ends the run when the monitored score stops improving', async () => {
    // A rate too small to change any prediction: the validation accuracy never improves.
    const s = settings({ epochs: 5, testMode: true, learningRate: 1e-9, monitor: 'max val_accuracy', earlyStoppingPatience: 1 });
    const r = await run(s);
    assert.equal(r.stoppedEarly, true);
    assert.equal(r.finished, true);
    assert.equal(r.epochs, 2);
    assert.equal(r.best?.epoch, 1);
  });

  test('settings the trainer cannot honour fail with one-line errors', async () => {
    const oneLine = (pattern: RegExp) => (e: Error) => {
      assert.ok(e instanceof NlpbookError, `${e.name}: ${e.message}`);
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes('\n'), e.message);
      return true;
    };
    await assert.rejects(run({ ...settings(), fp16: true }), oneLine(/fp16.*must be false/));
    await assert.rejects(run({ ...settings(), tpuCores: 8 }), oneLine(/tpuCores.*must be 0/));
    await assert.rejects(run(settings({ maxSeqLength: 400 })), oneLine(/maxSeqLength: 400 is more than the model's 300 positions/));
    await assert.rejects(run(settings({ batchSize: 1000, dropLast: true })), oneLine(/batchSize: 1000 is more than the 144 training examples and dropLast is true/));

    const otherVocab = path.join(tempDir(), 'small-vocab');
    const model = BertForSequenceClassification.init(new BertConfig({ vocabSize: 500, hiddenSize: 16, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 32 }));
    saveModel(model, otherVocab);
    model.dispose();
    const s = settings({ pretrainedModelName: otherVocab });
    await assert.rejects(run(s), oneLine(/vocab_size is 500 but the tokenizer .* has 30000 tokens/));
    assert.ok(!fs.existsSync(path.join(s.downstreamModelDir, 'checkpoints')), 'nothing written for a run that cannot start');
  });

  test('rankTopK keeps the k best, best first, earlier checkpoints first on ties', () => {
    const lower = (a: number, b: number) => a < b;
    const c = (value: number, step: number) => ({ name: `s${step}`, value, epoch: step, step });
    let list = rankTopK([], c(0.5, 1), 2, lower);
    list = rankTopK(list, c(0.4, 2), 2, lower);
    list = rankTopK(list, c(0.45, 3), 2, lower);
    assert.deepEqual(list.map((x) => x.step), [2, 3]);
    assert.deepEqual(rankTopK(list, c(0.4, 4), 2, lower).map((x) => x.step), [2, 4]);
    assert.deepEqual(rankTopK(list, c(0.9, 4), -1, lower).map((x) => x.step), [2, 3, 4]);
    assert.deepEqual(rankTopK(list, c(0.1, 4), 0, lower), []);
  });
});

describe('checkpoint averaging', () => {
  // 9 batches of 16 an epoch, 18 steps in 2 epochs: steps 14, 16 and 18 (the last) are averaged.
  const averaging = (overrides: Partial<Settings> = {}) => settings({ epochs: 2, averageCheckpoints: 3, averageEverySteps: 2, ...overrides });
  const lastWeights = (s: Settings) => tensors(path.join(s.downstreamModelDir, 'checkpoints', 'last', 'model.safetensors'));

  test('the averaged steps end at the last step, every everySteps, never before step 1', () => {
    assert.deepEqual(averagedSteps({ checkpoints: 3, everySteps: 2 }, 18), [14, 16, 18]);
    assert.deepEqual(averagedSteps({ checkpoints: 5, everySteps: 500 }, 8438), [6438, 6938, 7438, 7938, 8438]);
    assert.deepEqual(averagedSteps({ checkpoints: 4, everySteps: 10 }, 25), [5, 15, 25]);
    assert.deepEqual(averagedSteps({ checkpoints: 1, everySteps: 10 }, 25), [25]);
  });

  test('the final weights are the mean of the weights at steps 14, 16 and 18 of the same run without averaging', async () => {
    const plain = averaging({ averageCheckpoints: 1 });
    const snapshots: Map<string, Float32Array | Int32Array>[] = [];
    for (const stop of [14, 16]) {
      await run(plain, { stopAt: { steps: stop } });
      snapshots.push(lastWeights(plain));
    }
    const done = await run(plain);
    assert.equal(done.finished, true);
    snapshots.push(lastWeights(plain));
    const mean = new Map([...snapshots[2].keys()].map((name) => {
      const [a, b, c] = snapshots.map((m) => m.get(name)!);
      return [name, a.map((x, i) => (x + b[i] + c[i]) / 3)];
    }));

    const logs: string[] = [];
    const averaged = averaging();
    const r = await run(averaged, { log: (l) => logs.push(l) });
    assert.equal(r.finished, true);
    assert.ok(logs.some((l) => l.includes('mean of the last 3 checkpoints (steps 14, 16, 18)')), logs.join('\n'));
    const got = lastWeights(averaged);
    const max = maxDifference(got, mean);
    assert.ok(max < 1e-6, `max difference from the mean ${max}`);
    assert.ok(maxDifference(got, snapshots[2]) > 1e-4, 'the average differs from the last weights');
    // The final validation scored the averaged model; the finished checkpoint keeps no sum.
    assert.equal(fs.existsSync(path.join(averaged.downstreamModelDir, 'checkpoints', 'last', AVERAGE_FILE)), false);
  });

  test('a run stopped inside the averaging span resumes to exactly the weights of a straight run', async () => {
    const straight = averaging();
    await run(straight);
    const resumed = averaging();
    await run(resumed, { stopAt: { steps: 15 } });
    assert.ok(fs.existsSync(path.join(resumed.downstreamModelDir, 'checkpoints', 'last', AVERAGE_FILE)), 'the running sum is in the checkpoint');
    const r = await run(resumed);
    assert.deepEqual(r.resumedFrom, { epoch: 1, step: 15 });
    for (const [name, w] of lastWeights(straight)) assert.deepEqual(lastWeights(resumed).get(name), w, name);
  });

  test('a checkpoint inside the span without its running sum is refused in one line', async () => {
    const s = averaging();
    await run(s, { stopAt: { steps: 17 } });
    const file = path.join(s.downstreamModelDir, 'checkpoints', 'last', AVERAGE_FILE);
    fs.rmSync(file);
    await assert.rejects(run(s), (e: Error) => e instanceof NlpbookError && e.message.includes(file) && e.message.includes('steps 14, 16, 18') && !e.message.includes('\n'));
  });
});
