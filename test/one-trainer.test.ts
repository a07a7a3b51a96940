// The one training loop (src/train/trainer.ts's Trainer) drives both tasks: fine-tuning
// (train/fine-tuning.ts's FineTuning) and masked-LM pretraining (pretrain/mlm-training.ts's
// MaskedLmTraining). For each: fit()/pretrain() go through Trainer.train; testMode cuts
// both by the one TEST_MODE; a run stopped by stopAt, then by an aborted signal, and
// resumed ends with exactly the weights and the metrics of an uninterrupted run.
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'path';
import { initBackend } from '../src/util/backend';
import { fit, maxWeightDifference, readMetricsLog, TEST_MODE, Trainer, type FitOptions } from '../src/train/index';
import { makePretrainSettings, pretrain, type PretrainOptions, type PretrainSettings } from '../src/pretrain/index';
import type { Settings } from '../src/settings/index';
import { BertTokenizer } from '../src/tokenizer/index';
import { KCBERT_DIR, tempDir } from './helpers';
import { nsmcSlice, quickSettings } from './train-helpers';

let tokenizer: BertTokenizer;
let corpusRoot: string;
/** The task classes Trainer.train was called with, in order. */
const trained: string[] = [];
const originalTrain = Trainer.prototype.train;

before(async () => {
  await initBackend();
  tokenizer = BertTokenizer.fromFolder(KCBERT_DIR);
  corpusRoot = nsmcSlice(300); // fine-tuning: 270 training, 30 validation sentences; pretraining: 300 documents
  Trainer.prototype.train = function (this: Trainer<never, never, never>, ...args) {
    trained.push(this.task.constructor.name);
    return originalTrain.apply(this, args);
  };
});

after(() => {
  Trainer.prototype.train = originalTrain;
});

const fineTuning = (overrides: Partial<Settings> = {}) => quickSettings(corpusRoot, { batchSize: 16, learningRate: 1e-2, epochs: 2, logEverySteps: 4, ...overrides });
const pretraining = (overrides: Partial<PretrainSettings> = {}) => makePretrainSettings({
  tokenizer: KCBERT_DIR, corpusRootDir: corpusRoot, outputDir: path.join(tempDir('nlpbook-pretrain-'), 'model'),
  layers: 1, hidden: 32, heads: 2, intermediate: 64, maxPositions: 64, maxSeqLength: 32, batchSize: 32,
  steps: 20, learningRate: 1e-2, heldOutDocuments: 40, logEverySteps: 3, tqdmEnabled: false, checkpointEveryMinutes: 0,
  ...overrides,
});
const quiet = () => {};
const runFit = (s: Settings, options: FitOptions = {}) => fit(s, { tokenizer, log: quiet, ...options });
const runPretrain = (s: PretrainSettings, options: PretrainOptions = {}) => pretrain(s, { tokenizer, log: quiet, ...options });
const withoutTimes = (dir: string) => readMetricsLog(dir).map(({ seconds: _s, tokensPerSecond: _t, ...rest }) => rest);

/** A signal that aborts once `line` is logged (as Ctrl+C would, mid-run). */
function abortOn(line: RegExp): { signal: AbortSignal; log: (l: string) => void } {
  const stop = new AbortController();
  return { signal: stop.signal, log: (l) => line.test(l) && stop.abort() };
}

describe('one Trainer for fine-tuning and pretraining', () => {
  test('fit() and pretrain() both train through Trainer.train; testMode cuts both by TEST_MODE', async () => {
    trained.length = 0;
    const s = fineTuning({ testMode: true });
    const f = await runFit(s);
    assert.equal(f.steps, s.epochs * TEST_MODE.batchesPerEpoch);
    assert.ok(f.history.every((h) => h.n <= TEST_MODE.evaluationBatches * s.batchSize));
    const p = pretraining({ testMode: true, steps: 500, heldOutDocuments: 150 });
    const r = await runPretrain(p);
    assert.deepEqual([r.steps, r.totalSteps, r.finished], [TEST_MODE.steps, TEST_MODE.steps, true]);
    assert.equal(readMetricsLog(p.outputDir!).filter((l) => l.type === 'heldout')[0].sequences, TEST_MODE.evaluationBatches * p.batchSize);
    assert.deepEqual(trained, ['FineTuning', 'MaskedLmTraining']);
  });

  test('fine-tuning stopped by stopAt, then by a signal, and resumed equals a straight run', async () => {
    const straight = fineTuning();
    await runFit(straight);
    const s = fineTuning();
    assert.equal((await runFit(s, { stopAt: { steps: 6 } })).finished, false);
    const interrupted = await runFit(s, abortOn(/^nlpbook: resuming/));
    assert.deepEqual([interrupted.finished, interrupted.steps], [false, 7]);
    const rest = await runFit(s);
    assert.deepEqual(rest.resumedFrom, { epoch: 0, step: 7 });
    assert.equal(rest.finished, true);
    const last = (x: Settings) => path.join(x.downstreamModelDir, 'checkpoints', 'last');
    assert.ok(maxWeightDifference(last(straight), last(s)) <= 1e-6);
    assert.deepEqual(withoutTimes(s.downstreamModelDir), withoutTimes(straight.downstreamModelDir));
  });

  test('pretraining stopped by stopAt, then by a signal, and resumed equals a straight run (across an epoch end)', async () => {
    const straight = pretraining();
    const a = await runPretrain(straight);
    const s = pretraining();
    assert.equal((await runPretrain(s, { stopAt: { steps: 5 } })).finished, false);
    const interrupted = await runPretrain(s, abortOn(/^nlpbook: resuming/));
    assert.deepEqual([interrupted.finished, interrupted.steps], [false, 6]);
    const b = await runPretrain(s);
    assert.deepEqual([b.finished, b.resumedFrom, b.steps], [true, 6, 20]);
    assert.ok(a.data.trainSequences / s.batchSize < 20, 'the run crosses an epoch end');
    assert.equal(maxWeightDifference(straight.outputDir!, s.outputDir!), 0);
    assert.deepEqual(withoutTimes(s.outputDir!), withoutTimes(straight.outputDir!));
    assert.equal(b.mlmLoss, a.mlmLoss);
  });
});
