// Speed probe (not a test): milliseconds per training step of BertForSequenceClassification
// without the optimizer (forward + backward through tf.variableGrads), for a small BERT
// with kcbert's vocabulary: 2 layers, hidden 128, 4 heads, intermediate 512, vocab 30000,
// batch 32 × 64 tokens. Also forward-only and no-dropout variants, to see where time goes.
// Prints one JSON object per line; wall time and CPU time (the machine may be shared).   node --import tsx bench/bert-step.ts [--steps 20]
import { parseArgs } from 'util';
import { tf, initBackend } from '../src/util/backend';
import { BertForSequenceClassification, BertConfig } from '../src/model/index';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '20' }, layers: { type: 'string', default: '2' },
  hidden: { type: 'string', default: '128' }, heads: { type: 'string', default: '4' }, batch: { type: 'string', default: '32' }, length: { type: 'string', default: '64' } } });
const steps = Number(values.steps);
const B = Number(values.batch);
const L = Number(values.length);
const H = Number(values.hidden);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** Wall time, and CPU time of this process (all TensorFlow threads): the latter is what other load on the machine disturbs least. */
function timeIt(fn: () => void): { medianMs: number; minMs: number; medianCpuMs: number } {
  for (let i = 0; i < 3; i++) fn();
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    cpu.push((c.user + c.system) / 1e3);
  }
  return { medianMs: +median(times).toFixed(2), minMs: +Math.min(...times).toFixed(2), medianCpuMs: +median(cpu).toFixed(2) };
}

(async () => {
  const backend = await initBackend();
  const config = new BertConfig({ vocabSize: 30000, hiddenSize: H, numHiddenLayers: Number(values.layers), numAttentionHeads: Number(values.heads),
    intermediateSize: 4 * H, maxPositionEmbeddings: 300 });
  const model = BertForSequenceClassification.init(config, 1);
  // Real-looking batch: random ids, the last rows padded by up to half their length.
  const ids: number[][] = [];
  const mask: number[][] = [];
  for (let b = 0; b < B; b++) {
    const len = L - Math.floor((b / B) * (L / 2));
    ids.push(Array.from({ length: L }, (_, i) => (i === 0 ? 2 : i < len ? 5 + ((b * 7919 + i * 104729) % 29990) : 0)));
    mask.push(Array.from({ length: L }, (_, i) => (i < len ? 1 : 0)));
  }
  const inputIds = tf.tensor2d(ids, [B, L], 'int32');
  const attentionMask = tf.tensor2d(mask, [B, L], 'int32');
  const labels = tf.oneHot(tf.tensor1d(ids.map((_, i) => i % 2), 'int32'), 2);
  const vars = model.trainableVariables();
  let seed = 0;
  const step = (training: boolean) => () => tf.tidy(() => {
    const { value } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels, model.forward({ inputIds, attentionMask }, { training, seed: seed++ })) as tf.Scalar, vars);
    value.dataSync();
  });
  const shape = { layers: config.numHiddenLayers, hidden: H, heads: config.numAttentionHeads, intermediate: config.intermediateSize, vocab: config.vocabSize, batch: B, length: L };
  const report = (what: string, t: ReturnType<typeof timeIt>) => console.log(JSON.stringify({ what, ...t, ...shape, backend: backend.backend, threads: backend.threads }));
  report('train step (forward+backward, dropout on)', timeIt(step(true)));
  report('train step (forward+backward, dropout off)', timeIt(step(false)));
  report('forward only (eval)', timeIt(() => tf.tidy(() => { model.forward({ inputIds, attentionMask }).dataSync(); })));
  report('forward only (dropout on)', timeIt(() => tf.tidy(() => { model.forward({ inputIds, attentionMask }, { training: true, seed: seed++ }).dataSync(); })));
})();
