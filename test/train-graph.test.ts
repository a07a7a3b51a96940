// The training step as one TensorFlow graph (src/model/train-graph.ts) against PyTorch's
// gradients (test/fixtures/tiny-bert, made by scripts/fixtures/bert.py) and against the
// eager model (tfjs ops + autodiff, itself checked in model.test.ts) with the same
// dropout masks, including in-graph clipping, varying batch shapes, other activations,
// and whole ClassificationTask steps in both modes.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { initBackend, tf } from '../src/util/backend';
import { NlpbookError } from '../src/util/errors';
import { BertConfig, BertForMaskedLM, BertForSequenceClassification, ClassificationForwardGraph, hasTaskHead } from '../src/model/index';
import { ClassificationTrainGraph, MlmTrainGraph, weightShapes, type TrainGraphOptions } from '../src/model/train-graph';
import { clipGradNorm, accuracy, crossEntropy, sparseCrossEntropy, symmetricKl, ClassificationTask, type TaskBatch } from '../src/task/index';
import { makeSettings } from '../src/settings/index';
import { graphAvailable } from '../src/util/tfgraph/session';
import { markUnseenTokens, SoftmaxRowPicker, UNSEEN_TOKEN_BIAS } from '../src/pretrain/seen-tokens';
import { FIXTURES } from './helpers';

const TINY = path.join(FIXTURES, 'tiny-bert');

interface RefBatch { input_ids: number[][]; attention_mask: number[][]; token_type_ids: number[][] }
const refBatches = (): RefBatch[] => JSON.parse(fs.readFileSync(path.join(TINY, 'reference-classification.json'), 'utf8')).batches;

let native = false;
before(async () => {
  await initBackend({ quiet: true });
  native = graphAvailable();
});

function tensors(b: RefBatch, labels: number[]): TaskBatch {
  return {
    inputIds: tf.tensor2d(b.input_ids, undefined, 'int32'),
    attentionMask: tf.tensor2d(b.attention_mask, undefined, 'int32'),
    tokenTypeIds: tf.tensor2d(b.token_type_ids, undefined, 'int32'),
    labels: tf.tensor1d(labels, 'int32'),
  };
}

function graphFor(model: BertForSequenceClassification, options: TrainGraphOptions = {}): ClassificationTrainGraph {
  return new ClassificationTrainGraph(model.config, weightShapes(model.weights), options);
}

/** Largest |a − b| over two gradient sets, relative to the largest |b| of each tensor (at least 1e-3), and absolute. */
function compareGrads(model: BertForSequenceClassification | BertForMaskedLM, ours: Map<string, tf.Tensor>, ref: (name: string, v: tf.Variable) => tf.Tensor): { rel: number; abs: number; worst: string } {
  let rel = 0;
  let abs = 0;
  let worst = '';
  for (const [name, v] of model.weights) {
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(ours.get(name)!, ref(name, v)))).dataSync()[0]);
    const scale = tf.tidy(() => Math.max(1e-3, tf.max(tf.abs(ref(name, v))).dataSync()[0]));
    if (d / scale > rel) {
      rel = d / scale;
      worst = name;
    }
    abs = Math.max(abs, d);
  }
  return { rel, abs, worst };
}

describe('training graph', () => {
  test('gradients equal PyTorch\'s for every parameter (dropout off)', { skip: !graphAvailable() && 'needs the native backend' }, () => {
    const ref = JSON.parse(fs.readFileSync(path.join(TINY, 'reference-grads.json'), 'utf8'));
    const model = BertForSequenceClassification.fromPretrained(TINY, { quiet: true });
    const graph = graphFor(model, { dropout: false });
    tf.tidy(() => {
      const r = graph.run([...model.weights.values()], tensors(refBatches()[0], ref.labels));
      assert.ok(Math.abs(r.loss.dataSync()[0] - ref.loss) < 1e-5, `loss ${r.loss.dataSync()[0]} vs ${ref.loss}`);
      let worst = 0;
      for (const name of model.weights.keys()) {
        const g = r.grads.get(name)!;
        if (name === 'bert.embeddings.word_embeddings.weight') {
          const rows = tf.gather(g, ref.word_embedding_rows.ids as number[]).arraySync() as number[][];
          rows.forEach((row, i) => row.forEach((x, j) => { worst = Math.max(worst, Math.abs(x - ref.word_embedding_rows.rows[i][j])); }));
          const total = tf.sum(tf.abs(g)).dataSync()[0];
          const used = rows.flat().reduce((s, x) => s + Math.abs(x), 0);
          assert.ok(Math.abs(total - used) < 1e-4, 'no gradient outside the rows of the batch\'s ids');
          continue;
        }
        const got = g.dataSync();
        const want = ref.grads[name] as number[];
        assert.equal(got.length, want.length, name);
        const scale = Math.max(1e-3, ...want.map(Math.abs));
        let d = 0;
        for (let i = 0; i < got.length; i++) d = Math.max(d, Math.abs(got[i] - want[i]));
        assert.ok(d / scale < 1e-3, `${name}: max |diff| ${d} vs max |grad| ${scale}`);
        worst = Math.max(worst, d);
      }
      assert.ok(worst < 1e-4, `worst gradient difference ${worst}`);
      // Unclipped: the norm is reported, the gradients are left as they are.
      const norm = Math.sqrt([...r.grads.values()].reduce((s, t) => s + tf.sum(tf.square(t)).dataSync()[0], 0));
      assert.ok(Math.abs(r.gradNorm.dataSync()[0] - norm) < 1e-4 * norm);
    });
    graph.dispose();
    model.dispose();
  });

  test('with dropout: the eager model\'s loss and gradients for the same seed; other seeds differ', { skip: !graphAvailable() && 'needs the native backend' }, () => {
    const model = BertForSequenceClassification.fromPretrained(TINY, { quiet: true });
    const graph = graphFor(model);
    const b = refBatches()[8]; // sentence pairs: token types 0 and 1, padding
    tf.tidy(() => {
      const batch = tensors(b, b.input_ids.map((_, i) => (i * 7) % 2));
      const r = graph.run([...model.weights.values()], batch, 11);
      const eager = tf.variableGrads(() => crossEntropy(model.forward(batch, { training: true, seed: 11 }), batch.labels), model.trainableVariables());
      assert.ok(Math.abs(r.loss.dataSync()[0] - eager.value.dataSync()[0]) < 1e-5);
      const d = compareGrads(model, r.grads, (_, v) => eager.grads[v.name]);
      assert.ok(d.rel < 1e-3 && d.abs < 1e-5, `${d.worst}: rel ${d.rel}, abs ${d.abs}`);
      const other = graph.run([...model.weights.values()], batch, 12);
      assert.ok(Math.abs(other.loss.dataSync()[0] - r.loss.dataSync()[0]) > 1e-4, 'seed 12 draws other dropout masks');
      const again = graph.run([...model.weights.values()], batch, 11);
      assert.deepEqual(again.loss.dataSync(), r.loss.dataSync(), 'the same seed gives the same step');
    });
    graph.dispose();
    model.dispose();
  });

  test('label smoothing: the eager model\'s smoothed loss and gradients; not the plain ones', { skip: !graphAvailable() && 'needs the native backend' }, () => {
    const model = BertForSequenceClassification.fromPretrained(TINY, { quiet: true });
    const graph = graphFor(model, { labelSmoothing: 0.2 });
    const plain = graphFor(model);
    const b = refBatches()[8];
    tf.tidy(() => {
      const batch = tensors(b, b.input_ids.map((_, i) => (i * 5) % 2));
      const r = graph.run([...model.weights.values()], batch, 21);
      const eager = tf.variableGrads(() => crossEntropy(model.forward(batch, { training: true, seed: 21 }), batch.labels, 0.2), model.trainableVariables());
      assert.ok(Math.abs(r.loss.dataSync()[0] - eager.value.dataSync()[0]) < 1e-5, `${r.loss.dataSync()[0]} vs ${eager.value.dataSync()[0]}`);
      const d = compareGrads(model, r.grads, (_, v) => eager.grads[v.name]);
      assert.ok(d.rel < 1e-3 && d.abs < 1e-5, `${d.worst}: rel ${d.rel}, abs ${d.abs}`);
      const p = plain.run([...model.weights.values()], batch, 21);
      assert.ok(Math.abs(p.loss.dataSync()[0] - r.loss.dataSync()[0]) > 1e-3, 'smoothing changes the loss');
      assert.throws(() => graphFor(model, { labelSmoothing: 1 }), /labelSmoothing must be >= 0 and < 1, got 1/);
    });
    graph.dispose();
    plain.dispose();
    model.dispose();
  });

  test('R-Drop: the eager model\'s loss and gradients on the batch twice (different masks per copy), its own KL term included', { skip: !graphAvailable() && 'needs the native backend' }, () => {
    const model = BertForSequenceClassification.fromPretrained(TINY, { quiet: true });
    const alpha = 4;
    const graph = graphFor(model, { rDropWeight: alpha, labelSmoothing: 0.1 });
    const b = refBatches()[8];
    tf.tidy(() => {
      const batch = tensors(b, b.input_ids.map((_, i) => (i * 3) % 2));
      const r = graph.run([...model.weights.values()], batch, 31);
      const twice = <T extends tf.Tensor>(t: T) => tf.concat([t, t], 0) as T;
      const rows = { inputIds: twice(batch.inputIds), attentionMask: twice(batch.attentionMask), tokenTypeIds: twice(batch.tokenTypeIds) };
      let kl = 0;
      const eager = tf.variableGrads(() => {
        const logits = model.forward(rows, { training: true, seed: 31 });
        const k = symmetricKl(logits);
        kl = k.dataSync()[0];
        return tf.add(crossEntropy(logits, twice(batch.labels), 0.1), tf.mul(k, alpha / 4)) as tf.Scalar;
      }, model.trainableVariables());
      assert.ok(kl > 1e-4, `the two copies' masks differ, so their predictions do (KL ${kl})`);
      assert.ok(Math.abs(r.loss.dataSync()[0] - eager.value.dataSync()[0]) < 1e-5, `${r.loss.dataSync()[0]} vs ${eager.value.dataSync()[0]}`);
      assert.deepEqual(r.logits.shape, [b.input_ids.length, model.config.numLabels], 'logits of the first copy only');
      const d = compareGrads(model, r.grads, (_, v) => eager.grads[v.name]);
      assert.ok(d.rel < 1e-3 && d.abs < 1e-5, `${d.worst}: rel ${d.rel}, abs ${d.abs}`);
    });
    graph.dispose();
    model.dispose();
  });

  test('in-graph clipping equals clip_grad_norm_ on the eager gradients; one graph serves batches of any shape', { skip: !graphAvailable() && 'needs the native backend' }, () => {
    const model = BertForSequenceClassification.fromPretrained(TINY, { quiet: true });
    const graph = graphFor(model, { maxGradNorm: 0.5 });
    const batches = refBatches();
    const shapes = new Set<string>();
    for (const [k, b] of [batches[0], batches[3], batches[8]].entries()) {
      shapes.add(`${b.input_ids.length}x${b.input_ids[0].length}`);
      tf.tidy(() => {
        const batch = tensors(b, b.input_ids.map((_, i) => (i + k) % 2));
        const r = graph.run([...model.weights.values()], batch, 100 + k);
        const eager = tf.variableGrads(() => crossEntropy(model.forward(batch, { training: true, seed: 100 + k }), batch.labels), model.trainableVariables());
        const byName = Object.fromEntries([...model.weights].map(([n, v]) => [n, eager.grads[v.name]]));
        const clipped = clipGradNorm(byName, 0.5);
        const norm = clipped.totalNorm.dataSync()[0];
        assert.ok(norm > 0.5, `the test needs a norm above the limit, got ${norm}`);
        assert.ok(Math.abs(r.gradNorm.dataSync()[0] - norm) < 1e-5 * norm, `norm ${r.gradNorm.dataSync()[0]} vs ${norm}`);
        const d = compareGrads(model, r.grads, (n) => clipped.grads[n]);
        assert.ok(d.rel < 1e-3 && d.abs < 1e-5, `batch ${k}, ${d.worst}: rel ${d.rel}, abs ${d.abs}`);
      });
    }
    assert.ok(shapes.size >= 2, `expected batches of different shapes, got ${[...shapes]}`);
    graph.dispose();
    model.dispose();
  });

  test('skipping padded positions changes nothing: with and without, unpadded and all-padding rows', { skip: !graphAvailable() && 'needs the native backend' }, () => {
    const model = BertForSequenceClassification.fromPretrained(TINY, { quiet: true });
    const skipping = graphFor(model, { maxGradNorm: 1 });
    const full = graphFor(model, { maxGradNorm: 1, skipPadding: false });
    assert.equal(skipping.skipPadding, true);
    const b = refBatches()[8];
    const variants: [string, number[][]][] = [
      ['padded', b.attention_mask],
      ['no padding', b.attention_mask.map((row) => row.map(() => 1))],
      // A first token masked, and a row with no real token at all (HF then attends uniformly over its padding).
      ['odd masks', b.attention_mask.map((row, i) => (i === 0 ? row.map((x, j) => (j === 0 ? 0 : x)) : i === 1 ? row.map(() => 0) : row))],
    ];
    for (const [what, mask] of variants) {
      tf.tidy(() => {
        const batch = { ...tensors(b, b.input_ids.map((_, i) => i % 2)), attentionMask: tf.tensor2d(mask, undefined, 'int32') };
        const r = skipping.run([...model.weights.values()], batch, 9);
        const f = full.run([...model.weights.values()], batch, 9);
        const eager = tf.variableGrads(() => crossEntropy(model.forward(batch, { training: true, seed: 9 }), batch.labels), model.trainableVariables());
        assert.ok(Math.abs(r.loss.dataSync()[0] - eager.value.dataSync()[0]) < 1e-5, `${what}: loss`);
        assert.ok(Math.abs(f.loss.dataSync()[0] - eager.value.dataSync()[0]) < 1e-5, `${what}: loss (full)`);
        const byName = Object.fromEntries([...model.weights].map(([n, v]) => [n, eager.grads[v.name]]));
        const clipped = clipGradNorm(byName, 1);
        for (const [mode, res] of [['skipping', r], ['full', f]] as const) {
          const d = compareGrads(model, res.grads, (n) => clipped.grads[n]);
          assert.ok(d.rel < 1e-3 && d.abs < 1e-5, `${what}, ${mode}, ${d.worst}: rel ${d.rel}, abs ${d.abs}`);
        }
      });
    }
    skipping.dispose();
    full.dispose();
    model.dispose();
  });

  test('tanh-GELU and ReLU layers: the eager model\'s gradients', { skip: !graphAvailable() && 'needs the native backend' }, () => {
    for (const act of ['gelu_new', 'relu'] as const) {
      const base = BertForSequenceClassification.fromPretrained(TINY, { quiet: true });
      const model = new BertForSequenceClassification(base.config.with({ hiddenAct: act }), (name) => base.weights.get(name));
      base.dispose();
      const graph = graphFor(model);
      tf.tidy(() => {
        const b = refBatches()[1];
        const batch = tensors(b, b.input_ids.map((_, i) => i % 2));
        const r = graph.run([...model.weights.values()], batch, 5);
        const eager = tf.variableGrads(() => crossEntropy(model.forward(batch, { training: true, seed: 5 }), batch.labels), model.trainableVariables());
        const d = compareGrads(model, r.grads, (_, v) => eager.grads[v.name]);
        assert.ok(d.rel < 1e-3 && d.abs < 1e-5, `${act}, ${d.worst}: rel ${d.rel}, abs ${d.abs}`);
      });
      graph.dispose();
      model.dispose();
    }
  });
});

/** Every third real token of each row (never [CLS]), as flat positions, and their ids as labels. */
function mlmBatch(b: RefBatch, mask: number[][]) {
  const S = b.input_ids[0].length;
  const positions: number[] = [];
  const labels: number[] = [];
  mask.forEach((row, i) => row.forEach((m, j) => {
    if (m === 1 && j > 0 && (i + j) % 3 === 0) {
      positions.push(i * S + j);
      labels.push(b.input_ids[i][j]);
    }
  }));
  return {
    inputIds: tf.tensor2d(b.input_ids, undefined, 'int32') as tf.Tensor2D,
    attentionMask: tf.tensor2d(mask, undefined, 'int32') as tf.Tensor2D,
    maskedPositions: tf.tensor1d(positions, 'int32'),
    labels: tf.tensor1d(labels, 'int32'),
  };
}

describe('masked-LM training graph (pretraining)', () => {
  test('loss, accuracy and clipped gradients equal the eager BertForMaskedLM\'s, with and without dropout and padding skipping', { skip: !graphAvailable() && 'needs the native backend' }, () => {
    const model = BertForMaskedLM.fromPretrained(TINY, { quiet: true });
    const shapes = weightShapes(model.weights);
    const graphs = {
      skipping: new MlmTrainGraph(model.config, shapes, { maxGradNorm: 1 }),
      full: new MlmTrainGraph(model.config, shapes, { maxGradNorm: 1, skipPadding: false }),
      noDropout: new MlmTrainGraph(model.config, shapes, { dropout: false }),
    };
    const b = refBatches()[8]; // padded rows
    for (const mask of [b.attention_mask, b.attention_mask.map((row) => row.map(() => 1))]) {
      tf.tidy(() => {
        const batch = mlmBatch(b, mask);
        assert.ok(batch.labels.shape[0] > 10);
        for (const [what, graph] of Object.entries(graphs)) {
          const dropout = graph.dropout;
          const r = graph.run([...model.weights.values()], batch, dropout ? 5 : undefined);
          let acc: tf.Scalar | undefined;
          const eager = tf.variableGrads(() => {
            const logits = model.forward(batch, { training: dropout, seed: 5 }) as tf.Tensor2D;
            acc = tf.keep(accuracy(logits, batch.labels));
            return sparseCrossEntropy(logits, batch.labels);
          }, model.trainableVariables());
          assert.ok(Math.abs(r.loss.dataSync()[0] - eager.value.dataSync()[0]) < 1e-5, `${what}: loss ${r.loss.dataSync()[0]} vs ${eager.value.dataSync()[0]}`);
          assert.equal(r.accuracy.dataSync()[0], (acc as tf.Scalar).dataSync()[0], `${what}: accuracy`);
          const byName = Object.fromEntries([...model.weights].map(([n, v]) => [n, eager.grads[v.name]]));
          const ref = graph.maxGradNorm > 0 ? clipGradNorm(byName, graph.maxGradNorm).grads : byName;
          const d = compareGrads(model, r.grads, (n) => ref[n]);
          assert.ok(d.rel < 1e-3 && d.abs < 1e-5, `${what}, ${d.worst}: rel ${d.rel}, abs ${d.abs}`);
        }
      });
    }
    Object.values(graphs).forEach((g) => g.dispose());
    model.dispose();
  });
});

describe('masked-LM training graph that predicts the seen tokens only (predictSeenTokensOnly)', () => {
  test('equals the full-vocabulary graph once the unseen tokens carry UNSEEN_TOKEN_BIAS: loss, accuracy, every gradient', { skip: !graphAvailable() && 'needs the native backend' }, () => {
    const model = BertForMaskedLM.fromPretrained(TINY, { quiet: true });
    const shapes = weightShapes(model.weights);
    const b = refBatches()[8];
    const batch = mlmBatch(b, b.attention_mask);
    const vocab = model.config.vocabSize;
    // The labels, the batch's other input ids and a few more: what the store would have seen.
    const seen = [...new Set([...batch.labels.dataSync(), ...b.input_ids.flat().slice(0, 20), 5, 17])].sort((x, y) => x - y);
    assert.ok(seen.length < vocab / 2, `${seen.length} of ${vocab}`);
    markUnseenTokens(model.weights.get('cls.predictions.bias')!, seen);
    const bias = model.weights.get('cls.predictions.bias')!.dataSync();
    assert.equal(bias[seen[0]] > -1, true, 'a seen token keeps its bias');
    assert.equal(bias.filter((x) => x === UNSEEN_TOKEN_BIAS).length, vocab - seen.length);
    const full = new MlmTrainGraph(model.config, shapes, { dropout: false, maxGradNorm: 1 });
    const trimmed = new MlmTrainGraph(model.config, shapes, { dropout: false, maxGradNorm: 1, outputIds: seen });
    tf.tidy(() => {
      const a = full.run([...model.weights.values()], batch);
      const t = trimmed.run([...model.weights.values()], batch);
      assert.ok(Math.abs(a.loss.dataSync()[0] - t.loss.dataSync()[0]) < 1e-5, `loss ${a.loss.dataSync()[0]} vs ${t.loss.dataSync()[0]}`);
      assert.equal(t.accuracy.dataSync()[0], a.accuracy.dataSync()[0]);
      assert.ok(Math.abs(a.gradNorm.dataSync()[0] - t.gradNorm.dataSync()[0]) < 1e-5);
      const d = compareGrads(model, t.grads, (n) => a.grads.get(n)!);
      assert.ok(d.rel < 1e-4 && d.abs < 1e-6, `${d.worst}: rel ${d.rel}, abs ${d.abs}`);
      // An unseen token's bias gets no gradient (its probability is 0 in both).
      const biasGrad = t.grads.get('cls.predictions.bias')!.dataSync();
      const unseen = Array.from({ length: vocab }, (_, id) => id).filter((id) => !seen.includes(id));
      assert.ok(unseen.every((id) => biasGrad[id] === 0));
    });
    assert.throws(() => new MlmTrainGraph(model.config, shapes, { outputIds: [3, 2] }), /outputIds must be ascending distinct ids below \d+; entry 1 is 2/);
    assert.throws(() => new MlmTrainGraph(model.config, shapes, { outputIds: [vocab] }), /entry 0 is \d+/);
    full.dispose();
    trimmed.dispose();
    model.dispose();
  });
});

describe('mixed precision (bf16)', () => {
  // bfloat16 keeps 8 bits of mantissa: each matmul's operands are rounded by up to 2^-9
  // (0.2%) relative, and the errors add up backwards through the layers. Measured on the
  // tiny model: gradients 0.5-3.5% off float32's in L2 norm, at most 5.5% of a tensor's
  // largest entry. They must agree to 10% of it, and differ (or bf16 was not used).
  test('classification and masked-LM graphs: float32\'s loss and gradients to bfloat16\'s rounding, not bit for bit', { skip: !graphAvailable() && 'needs the native backend' }, () => {
    const cls = BertForSequenceClassification.fromPretrained(TINY, { quiet: true });
    const mlm = BertForMaskedLM.fromPretrained(TINY, { quiet: true });
    const b = refBatches()[8]; // padded rows
    const cases = [
      { what: 'classification', model: cls, make: (bf16: boolean) => graphFor(cls, { dropout: false, bf16 }), batch: () => tensors(b, b.input_ids.map((_, i) => i % 2)) },
      { what: 'masked LM', model: mlm, make: (bf16: boolean) => new MlmTrainGraph(mlm.config, weightShapes(mlm.weights), { dropout: false, bf16 }), batch: () => mlmBatch(b, b.attention_mask) },
    ];
    for (const c of cases) {
      const [f32, bf16] = [c.make(false), c.make(true)];
      tf.tidy(() => {
        const batch = c.batch() as TaskBatch & ReturnType<typeof mlmBatch>;
        const weights = [...c.model.weights.values()];
        const [x, y] = [f32.run(weights, batch), bf16.run(weights, batch)];
        const [lx, ly] = [x.loss.dataSync()[0], y.loss.dataSync()[0]];
        assert.ok(Math.abs(lx - ly) < 1e-2 * lx, `${c.what}: loss ${ly} vs float32 ${lx}`);
        assert.notEqual(lx, ly, `${c.what}: the loss is float32's to the last bit; were the matmuls in bfloat16?`);
        const d = compareGrads(c.model, y.grads, (n) => x.grads.get(n)!);
        assert.ok(d.rel < 0.1, `${c.what}, ${d.worst}: ${d.rel} of the gradient's scale off`);
        assert.ok(d.abs > 0, `${c.what}: gradients equal float32's`);
      });
      f32.dispose();
      bf16.dispose();
    }
    cls.dispose();
    mlm.dispose();
  });

  test('settings.bf16 reaches the fine-tuning task\'s graph', { skip: !graphAvailable() && 'needs the native backend' }, () => {
    const b = refBatches()[8];
    const losses = [false, true].map((bf16) => {
      const model = BertForSequenceClassification.fromPretrained(TINY, { quiet: true, seed: 3 });
      const task = new ClassificationTask(model, makeSettings({ seed: 3, bf16 }), 10, { graph: true });
      assert.equal(task.bf16, bf16);
      const batch = tensors(b, b.input_ids.map((_, i) => i % 2));
      const r = task.trainStep(batch);
      const loss = r.loss.dataSync()[0];
      r.dispose();
      tf.dispose(Object.values(batch));
      task.dispose();
      model.dispose();
      return loss;
    });
    assert.notEqual(losses[0], losses[1]);
    assert.ok(Math.abs(losses[0] - losses[1]) < 1e-2 * losses[0], `bf16 loss ${losses[1]} vs float32 ${losses[0]}`);
  });
});

describe('masked-LM training graph with a task head (pretraining taskWeight)', () => {
  test('loss, task scores and gradients are the masked LM\'s plus taskWeight × the classifier\'s on the labelled rows', { skip: !graphAvailable() && 'needs the native backend' }, () => {
    const json = JSON.parse(fs.readFileSync(path.join(TINY, 'config.json'), 'utf8'));
    const config = BertConfig.fromJSON({ ...json, architectures: ['BertForMaskedLM', 'BertForSequenceClassification'] });
    const model = BertForMaskedLM.init(config, 3);
    assert.ok(hasTaskHead(model.config) && model.weights.has('classifier.weight') && model.weights.has('bert.pooler.dense.weight'));
    const b = refBatches()[8]; // padded rows
    const rows = b.input_ids.length;
    const labels = Array.from({ length: rows }, (_, i) => (i % 3 === 2 ? -1 : i % 2)); // every third row unlabelled
    const kept = labels.map((l, i) => (l >= 0 ? i : -1)).filter((i) => i >= 0);
    const taskWeight = 0.7;
    const all = weightShapes(model.weights);
    const pick = (keep: (n: string) => boolean) => new Map([...all].filter(([n]) => keep(n)));
    const isHead = (n: string) => n.startsWith('classifier.') || n.startsWith('bert.pooler.');
    const withTask = new MlmTrainGraph(model.config, all, { dropout: false, taskWeight });
    const mlmOnly = new MlmTrainGraph(model.config, pick((n) => !isHead(n)), { dropout: false });
    const cls = new ClassificationTrainGraph(model.config, pick((n) => !n.startsWith('cls.')), { dropout: false });
    const weightsOf = (shapes: Map<string, number[]>) => [...shapes.keys()].map((n) => model.weights.get(n)!);
    tf.tidy(() => {
      const batch = { ...mlmBatch(b, b.attention_mask), sequenceLabels: tf.tensor1d(labels, 'int32') };
      const r = withTask.run(weightsOf(all), batch);
      const m = mlmOnly.run(weightsOf(pick((n) => !isHead(n))), batch);
      // The classifier alone on the labelled rows, token types 0 as in pretraining.
      const sub = (t: tf.Tensor2D) => tf.gather(t, kept);
      const c = cls.run(weightsOf(pick((n) => !n.startsWith('cls.'))), {
        inputIds: sub(batch.inputIds), attentionMask: sub(batch.attentionMask), tokenTypeIds: tf.zerosLike(sub(batch.inputIds)), labels: tf.tensor1d(kept.map((i) => labels[i]), 'int32'),
      });
      assert.ok(Math.abs(r.loss.dataSync()[0] - m.loss.dataSync()[0]) < 1e-6, 'the MLM loss is reported alone');
      assert.ok(Math.abs(r.task!.loss.dataSync()[0] - c.loss.dataSync()[0]) < 1e-5, `task loss ${r.task!.loss.dataSync()[0]} vs ${c.loss.dataSync()[0]}`);
      const right = tf.sum(tf.cast(tf.equal(tf.argMax(c.logits, 1), tf.tensor1d(kept.map((i) => labels[i]), 'int32')), 'float32')).dataSync()[0];
      assert.ok(Math.abs(r.task!.accuracy.dataSync()[0] - right / kept.length) < 1e-6, 'task accuracy over the labelled rows');
      const d = compareGrads(model, r.grads, (n) => {
        const fromMlm = m.grads.get(n);
        const fromCls = c.grads.get(n);
        const scaled = fromCls ? tf.mul(fromCls, taskWeight) : null;
        return fromMlm && scaled ? tf.add(fromMlm, scaled) : (fromMlm ?? scaled)!;
      });
      assert.ok(d.rel < 1e-3 && d.abs < 1e-5, `${d.worst}: rel ${d.rel}, abs ${d.abs}`);
      assert.throws(() => withTask.run(weightsOf(all), mlmBatch(b, b.attention_mask)), /needs sequenceLabels/);
    });
    assert.throws(() => new MlmTrainGraph(model.config, all, { dropout: false }), /no gradient for bert\.pooler/);
    [withTask, mlmOnly, cls].forEach((g) => g.dispose());
    model.dispose();
  });
});

describe('inference graph', () => {
  test('logits equal the eager model\'s (dropout off), padded or not, skipping padding or not', { skip: !graphAvailable() && 'needs the native backend' }, () => {
    const model = BertForSequenceClassification.fromPretrained(TINY, { quiet: true });
    const shapes = weightShapes(model.weights);
    const graphs = [new ClassificationForwardGraph(model.config, shapes, true), new ClassificationForwardGraph(model.config, shapes, false)];
    for (const b of refBatches().slice(0, 9)) {
      tf.tidy(() => {
        const batch = tensors(b, b.input_ids.map(() => 0));
        const eager = model.forward(batch, { training: false });
        for (const graph of graphs) {
          const d = tf.max(tf.abs(tf.sub(graph.run([...model.weights.values()], batch), eager))).dataSync()[0];
          assert.ok(d < 1e-5, `skipPadding ${graph.skipPadding}: max |diff| ${d}`);
        }
      });
    }
    graphs.forEach((g) => g.dispose());
    model.dispose();
  });
});

describe('ClassificationTask in graph mode', () => {
  const settings = makeSettings({ learningRate: 1e-2, warmupRatio: 0, seed: 3 });

  test('three training steps move the weights as the eager task does; no tensor leaks', { skip: !graphAvailable() && 'needs the native backend' }, () => {
    const models = [0, 1].map(() => BertForSequenceClassification.fromPretrained(TINY, { quiet: true, seed: 3 }));
    const graphTask = new ClassificationTask(models[0], settings, 10, { graph: true });
    const eagerTask = new ClassificationTask(models[1], settings, 10, { graph: false });
    assert.equal(graphTask.graphMode, true);
    assert.equal(eagerTask.graphMode, false);
    const b = refBatches()[8];
    const batch = tensors(b, b.input_ids.map((_, i) => (i * 3) % 2));
    let before = 0;
    for (let k = 0; k < 3; k++) {
      const [g, e] = [graphTask.trainStep(batch), eagerTask.trainStep(batch)];
      assert.ok(Math.abs(g.loss.dataSync()[0] - e.loss.dataSync()[0]) < 1e-4, `step ${k + 1} loss ${g.loss.dataSync()[0]} vs ${e.loss.dataSync()[0]}`);
      assert.ok(Math.abs(g.gradNorm.dataSync()[0] - e.gradNorm.dataSync()[0]) < 1e-4 * e.gradNorm.dataSync()[0]);
      assert.equal(g.accuracy.dataSync()[0], e.accuracy.dataSync()[0]);
      g.dispose();
      e.dispose();
      if (k === 0) before = tf.memory().numTensors;
    }
    assert.equal(tf.memory().numTensors, before, 'tensor count grew over graph steps');
    let worst = 0;
    let worstName = '';
    for (const [name, v] of models[0].weights) {
      const d = tf.tidy(() => tf.max(tf.abs(tf.sub(v, models[1].weight(name)))).dataSync()[0]);
      if (/attention\.self\.key\.bias$/.test(name)) {
        // The key bias's true gradient is 0 (softmax ignores a shift shared by a row); what
        // both paths compute is float32 noise, which Adam scales up to steps of ~lr.
        assert.ok(d <= 3 * settings.learningRate * 1.5, `${name}: ${d}`);
        continue;
      }
      if (d > worst) [worst, worstName] = [d, name];
    }
    assert.ok(worst < 2e-5, `weights after 3 steps differ by ${worst} (${worstName})`);
    tf.dispose(Object.values(batch));
    graphTask.dispose();
    eagerTask.dispose();
    models.forEach((m) => m.dispose());
  });

  test('freezeWordEmbeddings: graph and eager tasks leave the word embeddings as loaded and train the rest alike', { skip: !graphAvailable() && 'needs the native backend' }, () => {
    const word = 'bert.embeddings.word_embeddings.weight';
    const models = [0, 1, 2].map(() => BertForSequenceClassification.fromPretrained(TINY, { quiet: true, seed: 3 }));
    const frozen = { ...settings, freezeWordEmbeddings: true };
    const tasks = [new ClassificationTask(models[0], frozen, 10, { graph: true }), new ClassificationTask(models[1], frozen, 10, { graph: false }), new ClassificationTask(models[2], settings, 10, { graph: true })];
    const b = refBatches()[8];
    const batch = tensors(b, b.input_ids.map((_, i) => (i * 3) % 2));
    for (let k = 0; k < 3; k++) {
      const [g, e, all] = tasks.map((t) => t.trainStep(batch));
      assert.ok(Math.abs(g.loss.dataSync()[0] - e.loss.dataSync()[0]) < 1e-4, `step ${k + 1} loss ${g.loss.dataSync()[0]} vs ${e.loss.dataSync()[0]}`);
      assert.ok(Math.abs(g.gradNorm.dataSync()[0] - e.gradNorm.dataSync()[0]) < 1e-4 * e.gradNorm.dataSync()[0]);
      // The norm leaves the frozen table out, so it is below the unfrozen task's at the same (first) weights.
      if (k === 0) assert.ok(g.gradNorm.dataSync()[0] < all.gradNorm.dataSync()[0], `${g.gradNorm.dataSync()[0]} vs ${all.gradNorm.dataSync()[0]}`);
      [g, e, all].forEach((r) => r.dispose());
    }
    const loaded = BertForSequenceClassification.fromPretrained(TINY, { quiet: true, seed: 3 });
    const diff = (a: tf.Tensor, c: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, c))).dataSync()[0]);
    assert.equal(diff(models[0].weight(word), loaded.weight(word)), 0, 'graph: word embeddings unchanged');
    assert.equal(diff(models[1].weight(word), loaded.weight(word)), 0, 'eager: word embeddings unchanged');
    assert.ok(diff(models[2].weight(word), loaded.weight(word)) > 0, 'unfrozen: they move');
    for (const [name, v] of models[0].weights) {
      if (name === word || /attention\.self\.key\.bias$/.test(name)) continue;
      assert.ok(diff(v, models[1].weight(name)) < 2e-5, `${name}: graph and eager differ`);
    }
    assert.ok(diff(models[0].weight('classifier.weight'), loaded.weight('classifier.weight')) > 0, 'the rest trains');
    tf.dispose(Object.values(batch));
    tasks.forEach((t) => t.dispose());
    [...models, loaded].forEach((m) => m.dispose());
  });

  test('too long rows and graph: true without the native backend are one-line errors', { skip: !graphAvailable() && 'needs the native backend' }, () => {
    const model = BertForSequenceClassification.fromPretrained(TINY, { quiet: true });
    const task = new ClassificationTask(model, settings, 10, { graph: true });
    const L = model.config.maxPositionEmbeddings + 1;
    const batch: TaskBatch = {
      inputIds: tf.ones([1, L], 'int32'), attentionMask: tf.ones([1, L], 'int32'), tokenTypeIds: tf.zeros([1, L], 'int32'), labels: tf.tensor1d([0], 'int32'),
    };
    assert.throws(() => task.trainStep(batch), (e: unknown) => e instanceof NlpbookError && /inputIds: 301 tokens per row, but the model has only 300 positions/.test(e.message));
    tf.dispose(Object.values(batch));
    task.dispose();
    model.dispose();
  });
});

test('without the native backend, tasks train eagerly (wasm)', async () => {
  const previous = tf.getBackend();
  require('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
  try {
    assert.equal(graphAvailable(), false);
    const model = BertForSequenceClassification.fromPretrained(TINY, { quiet: true });
    const task = new ClassificationTask(model, makeSettings({}), 10);
    assert.equal(task.graphMode, false);
    assert.throws(() => new ClassificationTask(model, makeSettings({}), 10, { graph: true }), /graph: true needs the native tensorflow backend/);
    task.dispose();
    model.dispose();
  } finally {
    await tf.setBackend(previous);
  }
  assert.equal(graphAvailable(), native);
});

describe('masked-LM training graph with a sampled softmax (softmaxTokens)', () => {
  test('scores only the rows it is fed, shifted by −log Q: loss, accuracy and every gradient as the eager step over the same columns of the full scores', { skip: !graphAvailable() && 'needs the native backend' }, () => {
    const model = BertForMaskedLM.fromPretrained(TINY, { quiet: true });
    const shapes = weightShapes(model.weights);
    const b = refBatches()[8];
    const batch = mlmBatch(b, b.attention_mask);
    const labels = batch.labels.dataSync();
    // A "frequent" set that holds some of the labels but not all: the rest join per batch.
    const frequent = [...new Set([...labels.slice(0, 3), 5, 17, 40, 41])].sort((x, y) => x - y);
    const counts = new Float64Array(model.config.vocabSize).fill(1);
    for (const id of frequent) counts[id] = 1000;
    const rows = new SoftmaxRowPicker({ counts, total: counts.reduce((a, b) => a + b, 0) }, frequent.length).pick(labels);
    assert.deepEqual([...rows.ids.slice(0, frequent.length)], frequent);
    assert.ok(rows.shift.slice(frequent.length).every((x) => x > 1), 'a rare row scores higher in the step than in the full softmax');
    assert.ok(rows.ids.length > frequent.length && rows.ids.length < labels.length + frequent.length, `${rows.ids.length} rows`);
    assert.ok(Array.from(labels).every((id, i) => rows.ids[rows.targets[i]] === id), 'each target points at its label');
    const graph = new MlmTrainGraph(model.config, shapes, { dropout: false, maxGradNorm: 1, sampledSoftmax: true });
    tf.tidy(() => {
      const ids = tf.tensor1d(rows.ids, 'int32');
      const targets = tf.tensor1d(rows.targets, 'int32');
      const shift = tf.tensor1d(rows.shift, 'float32');
      const r = graph.run([...model.weights.values()], { ...batch, softmax: { ids, targets, shift } });
      let acc: tf.Scalar | undefined;
      const eager = tf.variableGrads(() => {
        const logits = tf.add(tf.gather(model.forward(batch, { training: false }) as tf.Tensor2D, ids, 1), shift) as tf.Tensor2D;
        acc = tf.keep(accuracy(logits, targets));
        return sparseCrossEntropy(logits, targets);
      }, model.trainableVariables());
      assert.ok(Math.abs(r.loss.dataSync()[0] - eager.value.dataSync()[0]) < 1e-5, `loss ${r.loss.dataSync()[0]} vs ${eager.value.dataSync()[0]}`);
      assert.equal(r.accuracy.dataSync()[0], (acc as tf.Scalar).dataSync()[0]);
      const byName = Object.fromEntries([...model.weights].map(([n, v]) => [n, eager.grads[v.name]]));
      const clipped = clipGradNorm(byName, 1).grads;
      const d = compareGrads(model, r.grads, (n) => clipped[n]);
      assert.ok(d.rel < 1e-3 && d.abs < 1e-5, `${d.worst}: rel ${d.rel}, abs ${d.abs}`);
      // A row outside the step gets no gradient in the decoder's bias.
      const biasGrad = r.grads.get('cls.predictions.bias')!.dataSync();
      const scored = new Set(rows.ids);
      assert.ok(biasGrad.every((x, id) => scored.has(id) || x === 0));
      assert.throws(() => graph.run([...model.weights.values()], batch), /sampled softmax needs the step's softmax rows/);
    });
    graph.dispose();
    model.dispose();
  });
});
