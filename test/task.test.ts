// The classification task (course step 6) on the tiny BERT and real NSMC sentences:
// the learning rate really follows the warmup + decay schedule, dropout is on in
// training and off in evaluation, training lowers the loss, and no tensor leaks.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { initBackend, tf } from '../src/util/backend';
import { NsmcCorpus } from '../src/corpus/index';
import { ClassificationDataset, DataLoader, type TensorBatch } from '../src/data/index';
import { NlpbookError } from '../src/util/errors';
import { BertForSequenceClassification } from '../src/model/index';
import { crossEntropy, ClassificationTask } from '../src/task/index';
import { makeSettings, type Settings } from '../src/settings/index';
import { BertTokenizer } from '../src/tokenizer/index';
import { KCBERT_DIR } from './helpers';
import { nsmcSlice, TINY_BERT } from './train-helpers';

let settings: Settings;
let dataset: ClassificationDataset;

before(async () => {
  await initBackend();
  const root = nsmcSlice(400);
  // lr 5e-3: learns these 40 sentences with every dropout seed tried (7-11); 3e-2 sometimes collapses to one class.
  settings = makeSettings({ downstreamCorpusRootDir: root, tqdmEnabled: false, learningRate: 5e-3, warmupRatio: 0.1 });
  const tokenizer = BertTokenizer.fromFolder(KCBERT_DIR);
  // The 40 held-out sentences: small enough to learn by heart in a few dozen steps.
  dataset = new ClassificationDataset(settings, new NsmcCorpus(settings), tokenizer, 'validation', { log: () => {} });
});

function tinyModel(): BertForSequenceClassification {
  return BertForSequenceClassification.fromPretrained(TINY_BERT, { quiet: true, seed: 3 });
}

async function firstBatch(batchSize = 20): Promise<TensorBatch> {
  for await (const b of new DataLoader(dataset, { batchSize, shuffle: true, seed: 1 }).batches(0)) return b;
  throw new Error('no batch');
}

/** Mean loss and accuracy of the whole dataset with dropout off. */
async function evaluateAll(task: ClassificationTask): Promise<{ loss: number; accuracy: number }> {
  let loss = 0;
  let correct = 0;
  let n = 0;
  for await (const b of new DataLoader(dataset, { batchSize: 16 }).batches(0)) {
    const r = task.evalStep(b);
    loss += (await r.lossSum.data())[0];
    correct += (await r.correct.data())[0];
    n += r.count;
    r.dispose();
    b.dispose();
  }
  return { loss: loss / n, accuracy: correct / n };
}

describe('ClassificationTask', () => {
  test('the learning rate warms up from 0, peaks, and decays to 0 step by step', async () => {
    const model = tinyModel();
    const s = { ...settings, learningRate: 1e-3, warmupRatio: 0.25 };
    const task = new ClassificationTask(model, s, 8); // ceil(8 * 0.25) = 2 warmup steps
    const batch = await firstBatch(8);
    const probe = model.weight('classifier.weight');
    const before = probe.dataSync().slice();
    const used: number[] = [];
    const planned: number[] = [];
    for (let k = 0; k < 8; k++) {
      planned.push(task.lr);
      const r = task.trainStep(batch);
      used.push(r.lr);
      assert.equal(r.step, k + 1);
      if (k === 0) assert.deepEqual(probe.dataSync(), before, 'the first step has lr 0 and must leave the weights as they were');
      if (k === 1) assert.notDeepEqual(probe.dataSync(), before, 'the second step has lr > 0 and must move the weights');
      r.dispose();
    }
    const expected = [0, 0.5e-3, 1e-3, (5 / 6) * 1e-3, (4 / 6) * 1e-3, (3 / 6) * 1e-3, (2 / 6) * 1e-3, (1 / 6) * 1e-3];
    used.forEach((lr, k) => assert.ok(Math.abs(lr - expected[k]) < 1e-12, `step ${k + 1}: lr ${lr}, expected ${expected[k]}`));
    assert.deepEqual(planned, used, 'task.lr announces the rate the next step uses');
    assert.equal(task.lr, 0, 'after the last planned step the rate is 0');
    batch.dispose();
    task.dispose();
    model.dispose();
  });

  test('dropout is on in trainStep and off in evalStep', async () => {
    const model = tinyModel();
    const task = new ClassificationTask(model, { ...settings, warmupRatio: 0.5 }, 4); // step 1: lr 0, weights stay
    const batch = await firstBatch();
    const a = task.evalStep(batch);
    const b = task.evalStep(batch);
    assert.deepEqual(await a.probabilities.data(), await b.probabilities.data(), 'evaluation must be deterministic (no dropout)');
    const direct = tf.tidy(() => crossEntropy(model.forward(batch), batch.labels).dataSync()[0]);
    const evalLoss = (await a.lossSum.data())[0] / a.count;
    assert.ok(Math.abs(evalLoss - direct) < 1e-5, `evalStep loss ${evalLoss} vs forward without dropout ${direct}`);
    const probs = await a.probabilities.array();
    for (const row of probs) assert.ok(Math.abs(row[0] + row[1] - 1) < 1e-5, 'probabilities sum to 1');
    const t = task.trainStep(batch);
    const trainLoss = (await t.loss.data())[0];
    assert.ok(Math.abs(trainLoss - evalLoss) > 1e-4, `training loss ${trainLoss} equals the dropout-free loss ${evalLoss}: is dropout on?`);
    for (const r of [a, b, t]) r.dispose();
    batch.dispose();
    task.dispose();
    model.dispose();
  });

  test('training steps lower the loss on the sentences trained on', async () => {
    const model = tinyModel();
    const task = new ClassificationTask(model, settings, 40);
    const start = await evaluateAll(task);
    const loader = new DataLoader(dataset, { batchSize: 20, shuffle: true, seed: 1 });
    let norms = 0;
    for (let epoch = 0; task.step < 40; epoch++) {
      for await (const b of loader.batches(epoch)) {
        const r = task.trainStep(b);
        norms += (await r.gradNorm.data())[0];
        r.dispose();
        b.dispose();
      }
    }
    const end = await evaluateAll(task);
    assert.ok(norms > 0 && Number.isFinite(norms), `gradient norms ${norms}`);
    assert.ok(end.loss < start.loss - 0.2, `loss ${start.loss.toFixed(3)} -> ${end.loss.toFixed(3)}: expected a clear fall`);
    assert.ok(end.accuracy > start.accuracy, `accuracy ${start.accuracy} -> ${end.accuracy}`);
    task.dispose();
    model.dispose();
  });

  test('no tensor is left behind by training and evaluation steps', async () => {
    const model = tinyModel();
    const task = new ClassificationTask(model, settings, 30);
    const batch = await firstBatch();
    const step = () => {
      task.trainStep(batch).dispose();
      task.evalStep(batch).dispose();
    };
    step();
    const after1 = tf.memory().numTensors;
    for (let i = 0; i < 25; i++) step();
    assert.equal(tf.memory().numTensors, after1, 'tensor count grew over 25 steps');
    batch.dispose();
    task.dispose();
    model.dispose();
  });

  test('no weight decay on biases and LayerNorm weights; the rest decays', () => {
    const model = tinyModel();
    const task = new ClassificationTask(model, settings, 10);
    const { decay, noDecay } = task.optimizer.groups();
    assert.ok(noDecay.includes('bert.encoder.layer.0.attention.self.query.bias'));
    assert.ok(noDecay.includes('bert.embeddings.LayerNorm.weight'));
    assert.ok(decay.includes('bert.embeddings.word_embeddings.weight'));
    assert.ok(decay.includes('classifier.weight'));
    assert.ok(!noDecay.some((n) => n.endsWith('dense.weight')));
    task.dispose();
    model.dispose();
  });

  test('a restored task state continues with the same dropout masks', async () => {
    const batch = await firstBatch();
    const run = (restoreAfter: number | null) => {
      const model = tinyModel();
      let task = new ClassificationTask(model, settings, 10);
      const losses: number[] = [];
      for (let k = 0; k < 4; k++) {
        if (k === restoreAfter) {
          const optimizerState = task.optimizer.state();
          const state = task.state();
          task.dispose();
          task = new ClassificationTask(model, settings, 10);
          task.optimizer.loadState(optimizerState);
          task.loadState(state);
        }
        const r = task.trainStep(batch);
        losses.push(r.loss.dataSync()[0]);
        r.dispose();
      }
      task.dispose();
      model.dispose();
      return losses;
    };
    assert.deepEqual(run(2), run(null));
    batch.dispose();
  });

  test('a run needs at least one step', () => {
    const model = tinyModel();
    assert.throws(() => new ClassificationTask(model, settings, 0), NlpbookError);
    model.dispose();
  });
});
