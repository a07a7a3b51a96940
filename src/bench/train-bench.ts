// How fast one training step is: forward with dropout, backward, clipping and AdamW,
// exactly ClassificationTask.trainStep, on a BertForSequenceClassification of any
// shape with random weights and random inputs. What `nlpbook bench train` runs, and
// what bench/train-vs-pytorch.ts compares with PyTorch (bench/train_pytorch.py builds
// the same batch, so both sides do the same work).
import * as os from 'os';
import { initBackend, tf } from '../util/backend';
import { cpuBf16Flags } from '../util/cpu';
import { check } from '../util/errors';
import { BertForSequenceClassification, BertConfig } from '../model/index';
import { DEFAULT_SETTINGS } from '../settings/index';
import { ClassificationTask, type TaskBatch } from '../task/index';

export interface TrainBenchOptions {
  layers: number;
  hidden: number;
  heads: number;
  intermediate: number;
  vocab: number;
  batch: number;
  seq: number;
  /** Timed steps (after the warm-up). */
  steps: number;
  /** Untimed steps first (default 3): the first steps allocate buffers and warm caches. */
  warmupSteps?: number;
  /** Seed of the weights, the batch and dropout (default 1). */
  seed?: number;
  /** Run the step as one TensorFlow graph (default: when the native backend runs) or eagerly (false). */
  graph?: boolean;
  /** Attention mask all ones (no padding) instead of the padded tail of benchBatch. */
  fullMask?: boolean;
  /** Mixed precision: the graph's matmuls in bfloat16 (settings.bf16; default false). */
  bf16?: boolean;
  /** Leave the word embeddings untrained (settings.freezeWordEmbeddings; default false). */
  freezeWordEmbeddings?: boolean;
}

export interface TrainBenchResult {
  /** Median wall milliseconds of one step. */
  msPerStep: number;
  /** Token positions (batch × seq, padding included) per second at msPerStep. */
  tokensPerSec: number;
  medianMs: number;
  minMs: number;
  /** Median CPU milliseconds of the whole process per step (all threads): less disturbed by other load. */
  cpuMsPerStep: number;
  backend: string;
  /** "graph" (one TensorFlow graph per forward + backward) or "eager" (tfjs ops and autodiff). */
  mode: 'graph' | 'eager';
  /** Whether the graph's matmuls ran in bfloat16 (settings.bf16). */
  bf16: boolean;
  /** The CPU's bfloat16 flags (amx_bf16, avx512_bf16): bf16 is faster only with AMX. */
  cpuBf16Flags: string[];
  /** Whether the word embeddings were left untrained (settings.freezeWordEmbeddings). */
  freezeWordEmbeddings: boolean;
  threads: number;
  shape: { layers: number; hidden: number; heads: number; intermediate: number; vocab: number; batch: number; seq: number };
  steps: number;
  warmupSteps: number;
  params: number;
  /** What the batch looks like (same recipe as bench/train_pytorch.py). */
  inputs: string;
  /** What one step does. */
  step: string;
  loadavg: number[];
}

/**
 * The benchmark batch, the same as bench/train_pytorch.py's: row b keeps
 * seq − floor(b·seq / (2·batch)) tokens (full length down to about half; a realistic
 * padded tail: 24% of the positions at batch 32, 22% at batch 8), [CLS]=2 first, ids from a
 * fixed integer hash in [5, vocab), label b % 2. fullMask: every row full length, no padding.
 */
export function benchBatch(batch: number, seq: number, vocab: number, fullMask = false): { ids: number[][]; mask: number[][]; labels: number[] } {
  const ids: number[][] = [];
  const mask: number[][] = [];
  const labels: number[] = [];
  for (let b = 0; b < batch; b++) {
    const len = fullMask ? seq : seq - Math.floor((b * seq) / (2 * batch));
    ids.push(Array.from({ length: seq }, (_, i) => (i === 0 ? 2 : i < len ? 5 + ((b * 7919 + i * 104729) % (vocab - 5)) : 0)));
    mask.push(Array.from({ length: seq }, (_, i) => (i < len ? 1 : 0)));
    labels.push(b % 2);
  }
  return { ids, mask, labels };
}

export const BENCH_INPUTS = 'random ids; row b has seq - floor(b*seq/(2*batch)) real tokens (full down to ~half), padded tail masked; token types all 0';
export const BENCH_INPUTS_FULL = 'random ids; every row seq real tokens, attention mask all ones; token types all 0';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/** Builds the model and task, runs warm-up steps, then times `steps` training steps. */
export async function benchTrainStep(o: TrainBenchOptions): Promise<TrainBenchResult> {
  const warmupSteps = o.warmupSteps ?? 3;
  for (const k of ['layers', 'hidden', 'heads', 'intermediate', 'vocab', 'batch', 'seq', 'steps'] as const) {
    check(Number.isInteger(o[k]) && o[k] >= 1, `bench train: --${k} must be a whole number >= 1, got ${o[k]}`);
  }
  check(Number.isInteger(warmupSteps) && warmupSteps >= 0, `bench train: --warmup must be a whole number >= 0, got ${warmupSteps}`);
  check(o.hidden % o.heads === 0, `bench train: --hidden ${o.hidden} is not a multiple of --heads ${o.heads}`);
  check(o.vocab > 5, `bench train: --vocab must be > 5, got ${o.vocab}`);
  const backend = await initBackend();
  const config = new BertConfig({
    vocabSize: o.vocab, hiddenSize: o.hidden, numHiddenLayers: o.layers, numAttentionHeads: o.heads,
    intermediateSize: o.intermediate, maxPositionEmbeddings: Math.max(300, o.seq),
  });
  const seed = o.seed ?? 1;
  const model = BertForSequenceClassification.init(config, seed);
  const task = new ClassificationTask(model, { ...DEFAULT_SETTINGS, seed, bf16: o.bf16 ?? false, freezeWordEmbeddings: o.freezeWordEmbeddings ?? false }, warmupSteps + o.steps + 1, { graph: o.graph });
  const mode = task.graphMode ? 'graph' : 'eager';
  const { ids, mask, labels } = benchBatch(o.batch, o.seq, o.vocab, o.fullMask);
  const batch: TaskBatch = {
    inputIds: tf.tensor2d(ids, [o.batch, o.seq], 'int32'),
    attentionMask: tf.tensor2d(mask, [o.batch, o.seq], 'int32'),
    tokenTypeIds: tf.zeros([o.batch, o.seq], 'int32'),
    labels: tf.tensor1d(labels, 'int32'),
  };
  const wall: number[] = [];
  const cpu: number[] = [];
  try {
    for (let i = 0; i < warmupSteps + o.steps; i++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const r = task.trainStep(batch);
      r.loss.dataSync(); // tfjs-node runs ops eagerly; reading the loss makes sure the step is done
      const c = process.cpuUsage(c0);
      const ms = performance.now() - t0;
      r.dispose();
      if (i >= warmupSteps) {
        wall.push(ms);
        cpu.push((c.user + c.system) / 1000);
      }
    }
  } finally {
    task.dispose();
    model.dispose();
    tf.dispose(Object.values(batch));
  }
  const ms = median(wall);
  return {
    msPerStep: round(ms),
    tokensPerSec: Math.round((o.batch * o.seq) / (ms / 1000)),
    medianMs: round(ms),
    minMs: round(Math.min(...wall)),
    cpuMsPerStep: round(median(cpu)),
    backend: backend.backend,
    mode,
    bf16: task.graphMode && task.bf16,
    cpuBf16Flags: cpuBf16Flags(),
    freezeWordEmbeddings: task.frozen.length > 0,
    threads: backend.threads,
    shape: { layers: o.layers, hidden: o.hidden, heads: o.heads, intermediate: o.intermediate, vocab: o.vocab, batch: o.batch, seq: o.seq },
    steps: o.steps,
    warmupSteps,
    params: paramCount(config),
    inputs: o.fullMask ? BENCH_INPUTS_FULL : BENCH_INPUTS,
    step: `ClassificationTask.trainStep: forward (dropout on) + cross-entropy + backward + clip to norm 1 + AdamW${task.frozen.length ? ' (word embeddings frozen)' : ''}`,
    loadavg: os.loadavg().map((x) => round(x)),
  };
}

function paramCount(config: BertConfig): number {
  let n = 0;
  for (const shape of BertForSequenceClassification.paramShapes(config).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}
