// Throughput probe (not a test): one ELECTRA training step (src/model/electra-graph.ts:
// generator + sampling + discriminator, backward, clipping, as one graph) against one
// masked-LM step (MlmTrainGraph) of the same discriminator size, on the same masked batches
// of NSMC training sentences (kcbert's vocabulary), side by side in this one process, in
// alternating rounds so that load elsewhere on the machine hits both alike. Reports real
// (non-padding) tokens per second of the graph call alone and of the whole step with AdamW.
//
//   node --import tsx bench/electra-step.ts [--rounds 2] [--steps 6] [--warmup 2] [--batch 128] [--length 64] [--generator-layers 1] [--out FILE]
// Prints one JSON line per round and mode, then a summary (written to --out when given).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';
import { initBackend, tf } from '../src/util/backend';
import { BertConfig, BertForMaskedLM, ElectraForPreTraining, ElectraTrainGraph, MlmTrainGraph, skipPaddingPays, weightShapes } from '../src/model/index';
import { maskBatch, maskingVocab, type MlmBatch } from '../src/pretrain/masking';
import { AdamW } from '../src/task/index';
import { BertTokenizer } from '../src/tokenizer/index';
import { Rng } from '../src/util/random';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' }, steps: { type: 'string', default: '6' }, warmup: { type: 'string', default: '2' },
    batch: { type: 'string', default: '128' }, length: { type: 'string', default: '64' }, 'generator-layers': { type: 'string', default: '1' },
    corpus: { type: 'string', default: path.join(__dirname, '..', '..', 'shared', 'data', 'nsmc', 'ratings_train.txt') },
    tokenizer: { type: 'string', default: path.join(__dirname, '..', '..', 'shared', 'models', 'kcbert-base') },
    out: { type: 'string' },
  },
});
const rounds = Number(values.rounds);
const steps = Number(values.steps);
const warmup = Number(values.warmup);
const B = Number(values.batch);
const S = Number(values.length);
const generatorLayers = Number(values['generator-layers']);
const SIZE = { name: 'L4/H256/A4/I1024', layers: 4, hidden: 256, heads: 4, intermediate: 1024 };

interface Step { graphMs: number; stepMs: number; tokens: number }

(async () => {
  const backend = await initBackend({ quiet: true });
  const tokenizer = BertTokenizer.fromFolder(values.tokenizer);
  const vocab = maskingVocab(tokenizer);
  const texts = fs.readFileSync(values.corpus, 'utf8').split('\n').slice(1).map((l) => l.split('\t')[1]).filter(Boolean);
  const rng = new Rng(1);
  // Random sentences of the training set, as the pretraining loop's batches (padded to the batch's longest).
  const batches: MlmBatch[] = Array.from({ length: warmup + steps }, (_, k) => {
    const rows = Array.from({ length: B }, () => tokenizer.encode(texts[rng.int(texts.length)], { maxLength: S }).inputIds);
    return maskBatch(rows, vocab, { maskProb: 0.15, maskTokenProb: 0.8, randomTokenProb: 0.1, wholeWordMasking: false }, new Rng(100 + k));
  });
  const config = new BertConfig({
    vocabSize: tokenizer.vocabSize, hiddenSize: SIZE.hidden, numHiddenLayers: SIZE.layers, numAttentionHeads: SIZE.heads,
    intermediateSize: SIZE.intermediate, maxPositionEmbeddings: 128,
  });
  const mlm = BertForMaskedLM.init(config, 1);
  const electra = ElectraForPreTraining.init(config, { seed: 1, generatorLayers });
  const adam = { lr: 5e-4, weightDecay: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-6 };
  const optimizers = { mlm: new AdamW(mlm.weights, adam), electra: new AdamW(electra.weights, adam) };
  const graphs = new Map<string, MlmTrainGraph | ElectraTrainGraph>();
  const graphOf = (mode: 'mlm' | 'electra', skipPadding: boolean) => {
    const key = `${mode}-${skipPadding}`;
    if (!graphs.has(key)) {
      graphs.set(key, mode === 'mlm'
        ? new MlmTrainGraph(mlm.config, weightShapes(mlm.weights), { maxGradNorm: 1, skipPadding })
        : new ElectraTrainGraph(electra.config, weightShapes(electra.weights), { maxGradNorm: 1, skipPadding }));
    }
    return graphs.get(key)!;
  };

  const runStep = (mode: 'mlm' | 'electra', mb: MlmBatch, seed: number): Step => {
    const skipPadding = skipPaddingPays(1 - mb.realTokens / (mb.batch * mb.length));
    const graph = graphOf(mode, skipPadding);
    const batch = tf.tidy(() => ({
      inputIds: tf.tensor2d(mb.inputIds, [mb.batch, mb.length], 'int32'),
      attentionMask: tf.tensor2d(mb.attentionMask ?? new Int32Array(mb.batch * mb.length).fill(1), [mb.batch, mb.length], 'int32'),
      maskedPositions: tf.tensor1d(mb.positions, 'int32'),
      labels: tf.tensor1d(mb.labels, 'int32'),
    }));
    const t0 = performance.now();
    let t1 = 0;
    tf.tidy(() => {
      const model = mode === 'mlm' ? mlm : electra;
      const r = graph.run([...model.weights.values()], batch, seed);
      r.loss.dataSync();
      t1 = performance.now();
      optimizers[mode].step(r.grads);
    });
    const t2 = performance.now();
    tf.dispose(Object.values(batch));
    return { graphMs: t1 - t0, stepMs: t2 - t0, tokens: mb.realTokens };
  };

  const rows: Record<string, { graph: number[]; step: number[]; msPerStep: number[] }> = { mlm: { graph: [], step: [], msPerStep: [] }, electra: { graph: [], step: [], msPerStep: [] } };
  const loadBefore = os.loadavg();
  for (let round = 0; round < rounds; round++) {
    const order: ('mlm' | 'electra')[] = round % 2 === 0 ? ['mlm', 'electra'] : ['electra', 'mlm'];
    for (const mode of order) {
      const measured: Step[] = [];
      batches.forEach((mb, k) => {
        const s = runStep(mode, mb, 1000 * round + k);
        if (k >= warmup) measured.push(s);
      });
      const tokens = measured.reduce((n, s) => n + s.tokens, 0);
      const graphSec = measured.reduce((n, s) => n + s.graphMs, 0) / 1000;
      const stepSec = measured.reduce((n, s) => n + s.stepMs, 0) / 1000;
      rows[mode].graph.push(Math.round(tokens / graphSec));
      rows[mode].step.push(Math.round(tokens / stepSec));
      rows[mode].msPerStep.push(Math.round((1000 * stepSec) / measured.length));
      console.log(JSON.stringify({ round, mode, graphTokensPerSecond: rows[mode].graph[round], stepTokensPerSecond: rows[mode].step[round], msPerStep: rows[mode].msPerStep[round], load1m: +os.loadavg()[0].toFixed(2) }));
    }
  }
  const best = (xs: number[]) => Math.max(...xs);
  const summary = {
    what: `one graph training step (clip 1, dropout on, + AdamW) of ${SIZE.name}: MlmTrainGraph vs ElectraTrainGraph (${generatorLayers}-layer generator, same hidden size); real tokens/s; ${B} NSMC sentences of <= ${S} tokens per batch`,
    rounds, steps, warmup, generatorLayers,
    parameters: { mlm: mlm.parameterCount(), electra: electra.parameterCount() },
    realTokensPerBatch: Math.round(batches.reduce((n, b) => n + b.realTokens, 0) / batches.length),
    paddedLength: Math.round(batches.reduce((n, b) => n + b.length, 0) / batches.length),
    mlm: rows.mlm, electra: rows.electra,
    electraOverMlm: { graph: +(best(rows.electra.graph) / best(rows.mlm.graph)).toFixed(3), step: +(best(rows.electra.step) / best(rows.mlm.step)).toFixed(3) },
    backend: backend.backend, threads: backend.threads, cores: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version,
    loadAverageBefore: loadBefore.map((x) => +x.toFixed(2)), loadAverageAfter: os.loadavg().map((x) => +x.toFixed(2)), date: new Date().toISOString(),
  };
  console.log(JSON.stringify(summary, null, 2));
  if (values.out) fs.writeFileSync(values.out, `${JSON.stringify(summary, null, 2)}\n`);
  graphs.forEach((g) => g.dispose());
})();
