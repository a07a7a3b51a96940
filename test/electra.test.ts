// ELECTRA pretraining (replaced-token detection): the eager model (src/model/electra.ts)
// and its one-graph training step (src/model/electra-graph.ts) on real NSMC sentences,
// tokenized with kcbert's tokenizer and masked as the MLM pretraining masks them. The graph's
// losses, metrics and every gradient against the eager model's (tfjs autodiff), the losses
// against a plain host computation, the sample's determinism, learning over a few hundred
// AdamW steps, and the saved discriminator loading as BertForSequenceClassification.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { initBackend, tf } from '../src/util/backend';
import {
  BertConfig, BertForSequenceClassification, corrupt, ElectraForPreTraining, ElectraTrainGraph, saveModel, weightShapes, type ElectraInputs,
} from '../src/model/index';
import { maskBatch, maskingVocab, type MaskingOptions, type MaskingVocab, type MlmBatch } from '../src/pretrain/masking';
import { AdamW, clipGradNorm } from '../src/task/index';
import { BertTokenizer } from '../src/tokenizer/index';
import { Rng } from '../src/util/random';
import { graphAvailable } from '../src/util/tfgraph/session';
import { KCBERT_DIR, NSMC_DIR, tempDir } from './helpers';

const BERT_MASKING: MaskingOptions = { maskProb: 0.15, maskTokenProb: 0.8, randomTokenProb: 0.1, wholeWordMasking: false };
/** Graph tests need libtensorflow (tfjs-node); asked inside describe(), which runs after before() set the backend up. */
const native = () => ({ skip: !graphAvailable() && 'needs the native backend' });

let tokenizer: BertTokenizer;
let vocab: MaskingVocab;
/** NSMC training sentences as kcbert ids, [CLS] … [SEP], at most 32 tokens. */
let sequences: number[][];

before(async () => {
  await initBackend({ quiet: true });
  tokenizer = BertTokenizer.fromFolder(KCBERT_DIR);
  vocab = maskingVocab(tokenizer);
  const texts = fs.readFileSync(path.join(NSMC_DIR, 'ratings_train.txt'), 'utf8').split('\n').slice(1, 6001).map((l) => l.split('\t')[1]).filter(Boolean);
  sequences = texts.map((t) => tokenizer.encode(t, { maxLength: 32 }).inputIds);
});

/** A small config with kcbert's vocabulary. */
function smallConfig(overrides: Partial<BertConfig> = {}): BertConfig {
  return new BertConfig({ vocabSize: tokenizer.vocabSize, hiddenSize: 32, numHiddenLayers: 2, numAttentionHeads: 2, intermediateSize: 64, maxPositionEmbeddings: 64, ...overrides });
}

function masked(rows: number[][], seed: number): MlmBatch {
  return maskBatch(rows, vocab, BERT_MASKING, new Rng(seed));
}

function tensors(mb: MlmBatch): ElectraInputs {
  return {
    inputIds: tf.tensor2d(mb.inputIds, [mb.batch, mb.length], 'int32'),
    attentionMask: tf.tensor2d(mb.attentionMask ?? new Int32Array(mb.batch * mb.length).fill(1), [mb.batch, mb.length], 'int32'),
    maskedPositions: tf.tensor1d(mb.positions, 'int32'),
    labels: tf.tensor1d(mb.labels, 'int32'),
  };
}

const METRICS = ['loss', 'generatorLoss', 'discriminatorLoss', 'generatorAccuracy', 'discriminatorAccuracy', 'replacedShare'] as const;

/** Largest |a − b| over every parameter's gradient, relative to the largest |b| of that tensor (at least 1e-3), and absolute. */
function compareGrads(model: ElectraForPreTraining, ours: Map<string, tf.Tensor>, ref: Map<string, tf.Tensor> | tf.NamedTensorMap): { rel: number; abs: number; worst: string } {
  let rel = 0;
  let abs = 0;
  let worst = '';
  for (const name of model.weights.keys()) {
    const want = ref instanceof Map ? ref.get(name) : ref[name];
    const got = ours.get(name);
    assert.ok(got && want, `a gradient for ${name}`);
    assert.deepEqual(got.shape, want.shape, name);
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]);
    const scale = tf.tidy(() => Math.max(1e-3, tf.max(tf.abs(want)).dataSync()[0]));
    if (d / scale > rel) [rel, worst] = [d / scale, name];
    abs = Math.max(abs, d);
  }
  return { rel, abs, worst };
}

describe('ELECTRA model', () => {
  test('names: the discriminator is BertModel\'s encoder under bert., the heads and the generator\'s layers as Hugging Face\'s ELECTRA; embeddings shared', () => {
    const model = ElectraForPreTraining.init(smallConfig(), { generatorLayers: 1 });
    const names = [...model.weights.keys()];
    const H = 32;
    assert.deepEqual(names.filter((n) => n.startsWith('bert.')), [...BertForSequenceClassification.paramShapes(model.config).keys()].filter((n) => n.startsWith('bert.') && !n.startsWith('bert.pooler.')));
    assert.deepEqual(model.weight('discriminator_predictions.dense.weight').shape, [H, H]);
    assert.deepEqual(model.weight('discriminator_predictions.dense_prediction.weight').shape, [1, H]);
    assert.deepEqual(model.weight('discriminator_predictions.dense_prediction.bias').shape, [1]);
    assert.deepEqual(model.weight('generator_predictions.dense.weight').shape, [H, H]);
    assert.deepEqual(model.weight('generator_predictions.LayerNorm.weight').shape, [H]);
    assert.deepEqual(model.weight('generator_lm_head.bias').shape, [tokenizer.vocabSize]);
    assert.equal(names.filter((n) => n.startsWith('generator.encoder.layer.0.')).length, 16);
    assert.ok(!names.some((n) => n.startsWith('generator.encoder.layer.1.')), 'one generator layer');
    assert.ok(!names.some((n) => n.includes('embeddings') && !n.startsWith('bert.embeddings.')), 'the generator has no embeddings of its own');
    assert.equal(model.generatorLayers, 1);
    assert.equal(ElectraForPreTraining.init(smallConfig(), { generatorLayers: 3 }).generatorLayers, 3);
    model.dispose();
  });

  test('the losses are what they say: generator cross-entropy at the masked positions, discriminator sigmoid cross-entropy over real tokens, λ = 50', () => {
    const model = ElectraForPreTraining.init(smallConfig(), { seed: 4 });
    const mb = masked(sequences.slice(0, 12), 1);
    assert.ok(mb.attentionMask, 'the batch is padded');
    tf.tidy(() => {
      const batch = tensors(mb);
      const r = model.losses(batch, { seed: 9 });
      const sampled = Array.from(r.sampled.dataSync());
      // Host recomputation from the model's logits.
      const scores = model.generatorLogits(batch.inputIds, batch.attentionMask, batch.maskedPositions).arraySync() as number[][];
      let ce = 0;
      scores.forEach((row, i) => {
        const max = Math.max(...row);
        const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
        ce += lse - row[mb.labels[i]];
      });
      ce /= scores.length;
      const corruptedIds = Int32Array.from(mb.inputIds);
      mb.positions.forEach((p, i) => { corruptedIds[p] = sampled[i]; });
      const original = Int32Array.from(mb.inputIds);
      mb.positions.forEach((p, i) => { original[p] = mb.labels[i]; });
      const z = model.discriminatorLogits(tf.tensor2d(corruptedIds, [mb.batch, mb.length], 'int32'), batch.attentionMask).dataSync();
      let bce = 0;
      let right = 0;
      let replaced = 0;
      const real = mb.realTokens;
      for (let i = 0; i < z.length; i++) {
        if (!mb.attentionMask![i]) continue;
        const y = corruptedIds[i] !== original[i] ? 1 : 0;
        const p = 1 / (1 + Math.exp(-z[i]));
        bce -= y ? Math.log(p) : Math.log(1 - p);
        right += (z[i] > 0 ? 1 : 0) === y ? 1 : 0;
        replaced += y;
      }
      const close = (a: tf.Scalar, b: number, what: string) => assert.ok(Math.abs(a.dataSync()[0] - b) < 1e-4 * Math.max(1, Math.abs(b)), `${what}: ${a.dataSync()[0]} vs ${b}`);
      close(r.generatorLoss, ce, 'generator loss');
      close(r.discriminatorLoss, bce / real, 'discriminator loss');
      close(r.discriminatorAccuracy, right / real, 'discriminator accuracy');
      close(r.replacedShare, replaced / real, 'replaced share');
      close(r.loss, ce + 50 * (bce / real), 'total loss');
      assert.ok(replaced > 0 && replaced <= mb.positions.length);
      // λ is an option.
      const r2 = model.losses(batch, { seed: 9, discriminatorWeight: 2 });
      close(r2.loss, ce + 2 * (bce / real), 'total loss with λ = 2');
    });
    model.dispose();
  });

  test('corruption: only masked positions change; a sample equal to the original counts as original', () => {
    const mb = masked(sequences.slice(20, 36), 2);
    tf.tidy(() => {
      const batch = tensors(mb);
      const M = mb.labels.length;
      // Half the samples are the original token, half another one.
      const sampled = Array.from(mb.labels, (id, i) => (i % 2 === 0 ? id : (id + 1) % tokenizer.vocabSize));
      const { corrupted, replaced } = corrupt(batch.inputIds, batch.maskedPositions, batch.labels, tf.tensor1d(sampled, 'int32'));
      const c = corrupted.dataSync();
      const y = replaced.dataSync();
      const at = new Map(Array.from(mb.positions, (p, i) => [p, i]));
      for (let p = 0; p < c.length; p++) {
        const i = at.get(p);
        if (i === undefined) {
          assert.equal(c[p], mb.inputIds[p], `position ${p} is not masked and keeps its token`);
          assert.equal(y[p], 0);
        } else {
          assert.equal(c[p], sampled[i]);
          assert.equal(y[p], i % 2 === 0 ? 0 : 1, `masked position ${p}`);
        }
      }
      assert.equal(Array.from(y).reduce((s, v) => s + v, 0), Math.floor(M / 2));
      // Through the model: samples equal to the originals replace nothing.
      const model = ElectraForPreTraining.init(smallConfig({ numHiddenLayers: 1 }));
      assert.equal(model.losses(batch, { sampled: Array.from(mb.labels) }).replacedShare.dataSync()[0], 0);
      model.dispose();
    });
  });
});

describe('ELECTRA training graph', () => {
  test('losses, metrics and every gradient equal the eager model\'s (dropout off and on, padding skipped or not, clipped or not); the eager model draws the graph\'s sample', native(), () => {
    const model = ElectraForPreTraining.init(smallConfig(), { seed: 3, generatorLayers: 1 });
    const shapes = weightShapes(model.weights);
    const graphs = {
      plain: new ElectraTrainGraph(model.config, shapes, { dropout: false, generatorLayers: 1 }),
      fullRows: new ElectraTrainGraph(model.config, shapes, { dropout: false, skipPadding: false }),
      dropoutClipped: new ElectraTrainGraph(model.config, shapes, { maxGradNorm: 1 }),
    };
    assert.equal(graphs.plain.generatorLayers, 1);
    const mb = masked(sequences.slice(0, 16), 1);
    assert.ok(mb.attentionMask && mb.realTokens < 0.9 * mb.batch * mb.length, 'a padded batch');
    for (const [what, graph] of Object.entries(graphs)) {
      tf.tidy(() => {
        const batch = tensors(mb);
        const r = graph.run([...model.weights.values()], batch, 11);
        assert.equal(r.sampled.shape[0], mb.labels.length);
        assert.equal(r.sampled.dtype, 'int32');
        const e = model.lossesAndGrads(batch, { training: graph.dropout, seed: 11, sampled: r.sampled });
        for (const k of METRICS) {
          const [a, b] = [r[k].dataSync()[0], e[k].dataSync()[0]];
          assert.ok(Math.abs(a - b) < 1e-5 * Math.max(1, Math.abs(b)), `${what}: ${k} ${a} vs ${b}`);
        }
        assert.ok(r.replacedShare.dataSync()[0] > 0.1, 'an untrained generator replaces most masked tokens');
        const ref = graph.maxGradNorm > 0 ? clipGradNorm(Object.fromEntries(e.grads), graph.maxGradNorm) : null;
        if (ref) assert.ok(Math.abs(r.gradNorm.dataSync()[0] - ref.totalNorm.dataSync()[0]) < 1e-5 * ref.totalNorm.dataSync()[0], `${what}: norm`);
        assert.ok(r.gradNorm.dataSync()[0] > 1, 'the norm is above the clipping limit, so clipping is tested');
        const d = compareGrads(model, r.grads, ref ? ref.grads : e.grads);
        assert.ok(d.rel < 1e-4 && d.abs < 1e-5, `${what}, ${d.worst}: rel ${d.rel}, abs ${d.abs}`);
        // Without `sampled`, the eager model draws the same tokens from the same seed.
        const own = model.losses(batch, { training: graph.dropout, seed: 11 });
        assert.deepEqual(own.sampled.dataSync(), r.sampled.dataSync(), `${what}: the eager sample`);
        tf.dispose(Object.values(e).filter((t): t is tf.Tensor => t instanceof tf.Tensor));
        tf.dispose([...e.grads.values()]);
      });
    }
    Object.values(graphs).forEach((g) => g.dispose());
    model.dispose();
  });

  test('the sample is a pure function of the seed: same seed, same tokens and step; another seed, other tokens', native(), () => {
    const model = ElectraForPreTraining.init(smallConfig(), { seed: 5 });
    const graph = new ElectraTrainGraph(model.config, weightShapes(model.weights), { maxGradNorm: 1 });
    const mb = masked(sequences.slice(40, 72), 3);
    tf.tidy(() => {
      const batch = tensors(mb);
      const weights = [...model.weights.values()];
      const a = graph.run(weights, batch, 7);
      const b = graph.run(weights, batch, 7);
      const c = graph.run(weights, batch, 8);
      assert.deepEqual(b.sampled.dataSync(), a.sampled.dataSync());
      assert.equal(b.loss.dataSync()[0], a.loss.dataSync()[0]);
      const same = tf.sum(tf.cast(tf.equal(a.sampled, c.sampled), 'int32')).dataSync()[0];
      assert.ok(same < 0.1 * mb.labels.length, `seeds 7 and 8 drew ${same} of ${mb.labels.length} tokens alike`);
      const ids = new Set(a.sampled.dataSync());
      assert.ok(ids.size > 0.5 * mb.labels.length, 'an untrained generator samples many different tokens');
    });
    graph.dispose();
    model.dispose();
  });

  test('a few hundred AdamW steps: the discriminator learns (below the best constant guess), the generator too', native(), (t) => {
    const model = ElectraForPreTraining.init(smallConfig({ numHiddenLayers: 1 }), { seed: 3 });
    const graph = new ElectraTrainGraph(model.config, weightShapes(model.weights), { dropout: false, maxGradNorm: 1 });
    const optimizer = new AdamW(model.weights, { lr: 2e-3, weightDecay: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-6 });
    const B = 32;
    const steps = 300;
    const log: { disc: number; gen: number; replaced: number }[] = [];
    for (let step = 0; step < steps; step++) {
      const start = (step * B) % (sequences.length - B);
      const mb = masked(sequences.slice(start, start + B), 100 + step);
      log.push(tf.tidy(() => {
        const r = graph.run([...model.weights.values()], tensors(mb), step);
        optimizer.step(r.grads);
        return { disc: r.discriminatorLoss.dataSync()[0], gen: r.generatorLoss.dataSync()[0], replaced: r.replacedShare.dataSync()[0] };
      }));
    }
    const mean = (rows: typeof log, k: keyof (typeof log)[number]) => rows.reduce((s, r) => s + r[k], 0) / rows.length;
    const last = log.slice(-100);
    const p = mean(last, 'replaced');
    const constantGuess = -(p * Math.log(p) + (1 - p) * Math.log(1 - p)); // the loss of always predicting the replaced share
    const summary = `first disc ${log[0].disc.toFixed(3)}, last 100: disc ${mean(last, 'disc').toFixed(3)} vs constant ${constantGuess.toFixed(3)}; gen ${log[0].gen.toFixed(2)} -> ${mean(last, 'gen').toFixed(2)}`;
    t.diagnostic(summary);
    assert.ok(Math.abs(log[0].disc - Math.log(2)) < 0.05, `starts at ln 2: ${summary}`);
    assert.ok(mean(last, 'disc') < constantGuess - 0.01, summary);
    assert.ok(mean(last, 'gen') < log[0].gen - 2, summary);
    graph.dispose();
    model.dispose();
  });
});

describe('saving', () => {
  test('the saved discriminator loads as BertForSequenceClassification with only the pooler and classifier new; the whole model round-trips with its generator', () => {
    const model = ElectraForPreTraining.init(smallConfig(), { seed: 6, generatorLayers: 2 });
    const dir = path.join(tempDir('nlpbook-electra-'), 'discriminator');
    model.saveDiscriminator(dir, { tokenizerDir: KCBERT_DIR });
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    assert.equal(json.model_type, 'bert');
    assert.deepEqual(json.architectures, ['BertModel']);
    assert.equal(json.generator_num_hidden_layers, undefined, 'the discriminator\'s config says nothing of the generator');
    const classifier = BertForSequenceClassification.fromPretrained(dir, { quiet: true, numLabels: 2 });
    const report = classifier.loadReport!;
    assert.deepEqual(report.missingKeys.sort(), ['bert.pooler.dense.bias', 'bert.pooler.dense.weight', 'classifier.bias', 'classifier.weight']);
    assert.deepEqual(report.unexpectedKeys.sort(), ['discriminator_predictions.dense.bias', 'discriminator_predictions.dense.weight',
      'discriminator_predictions.dense_prediction.bias', 'discriminator_predictions.dense_prediction.weight']);
    for (const [name, v] of classifier.weights) {
      if (!name.startsWith('bert.') || name.startsWith('bert.pooler.')) continue;
      assert.deepEqual(v.dataSync(), model.weight(name).dataSync(), name);
    }
    assert.ok(fs.existsSync(path.join(dir, 'vocab.txt')));
    classifier.dispose();

    // The whole model (generator included) saves with saveModel and loads back as it was.
    const full = path.join(tempDir('nlpbook-electra-'), 'electra');
    saveModel(model, full);
    const back = ElectraForPreTraining.fromPretrained(full, { quiet: true });
    assert.equal(back.generatorLayers, 2);
    assert.deepEqual(back.loadReport!.missingKeys, []);
    assert.deepEqual(back.loadReport!.unexpectedKeys, []);
    for (const [name, v] of model.weights) assert.deepEqual(back.weight(name).dataSync(), v.dataSync(), name);
    back.dispose();
    model.dispose();
  });
});

test('on the wasm backend the eager model computes the losses, its sample deterministic per seed', async () => {
  const previous = tf.getBackend();
  require('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
  try {
    const model = ElectraForPreTraining.init(smallConfig({ numHiddenLayers: 1 }), { seed: 2 });
    const mb = masked(sequences.slice(0, 8), 4);
    tf.tidy(() => {
      const batch = tensors(mb);
      const a = model.losses(batch, { training: true, seed: 5 });
      const b = model.losses(batch, { training: true, seed: 5 });
      const c = model.losses(batch, { seed: 6 });
      assert.deepEqual(b.sampled.dataSync(), a.sampled.dataSync());
      assert.deepEqual(b.loss.dataSync(), a.loss.dataSync());
      assert.notDeepEqual(c.sampled.dataSync(), a.sampled.dataSync());
      const loss = a.loss.dataSync()[0];
      assert.ok(Math.abs(loss - (Math.log(tokenizer.vocabSize) + 50 * Math.log(2))) < 2, `untrained: about ln V + 50 ln 2, got ${loss}`);
    });
    model.dispose();
  } finally {
    await tf.setBackend(previous);
  }
});
