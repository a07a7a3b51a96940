// One training step of BertForSequenceClassification (fine-tuning) or BertForMaskedLM
// (pretraining) — forward, loss, backward, global-norm clipping — as a single TensorFlow
// graph (src/util/tfgraph), run in one native call. Both share the encoder's graph (encoderGraph). The math
// is the eager model's (encoder.ts, ops.ts), rearranged only where the result is the same
// (e.g. softmax backward, the word-embedding gradient summed per distinct id before it is
// scattered), with the same dropout masks for the same seed; test/train-graph.test.ts
// checks the gradients against PyTorch and against the eager path.
//
// Why: eagerly, tfjs-node dispatches ~450 ops per step of a 2-layer model one by one from
// JavaScript, each a full pass over memory with a fresh buffer. As one graph, libtensorflow
// runs them with grappler's rewrites (MatMul + BiasAdd fused, oneDNN kernels), independent
// ops side by side, and buffers reused. Measured (2 cores, batch 32 x 64, whole step with
// AdamW, same process, CPU time): 2 layers/H128 eager ~150 -> graph ~95 ms; kcbert-base at
// batch 32 x 128: 36 -> 25 s per step, peak memory 9.3 -> 6.3 GB. Comparison with PyTorch:
// bench/train-vs-pytorch.ts. Building the graph takes ~0.1 s, the first run ~1 s more
// (grappler); a new batch shape costs nothing extra.
//
// Batch size and length are free (shapes are computed inside the graph), so one graph
// serves every batch of a run; the weights are fed in at each call, not copied.
import { tf } from '../util/backend';
import { GraphBuilder, type Sym } from '../util/tfgraph/graph';
import { GraphSession } from '../util/tfgraph/session';
import type { BertConfig, HiddenAct } from './config';
import { dropoutSeedPair, SeedStream } from './ops';

/** float32's lowest value: (1 − mask) · this is added to padded positions' scores, as in transformers. */
const MASK_VALUE = -3.4028234663852886e38;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** BERT's pieces as graph ops: each forward has a matching backward, as in ops.ts. */
export class BertGraphOps {
  /** `bf16`: the dense layers' matmuls in bfloat16 (TrainGraphOptions.bf16). */
  constructor(readonly g: GraphBuilder, readonly bf16 = false) {}

  /**
   * a·b (transposed as asked), in float32, or with bf16 as mixed precision does it: both
   * operands rounded to bfloat16, multiplied with float32 sums (oneDNN: AMX where the CPU
   * has it; AVX512-BF16 alone ran slower than float32), the product rounded to bfloat16 and
   * cast back to float32. The weights stay float32: each step casts its own copy.
   */
  matMul(a: Sym, b: Sym, transposeA = false, transposeB = false): Sym {
    const g = this.g;
    if (!this.bf16) return g.matMul(a, b, transposeA, transposeB);
    return g.cast(g.matMul(g.cast(a, 'bfloat16'), g.cast(b, 'bfloat16'), transposeA, transposeB), 'float32');
  }

  /** Sum over rows: [rows, n] -> [n]. BiasAddGrad: 1-2% faster steps than Sum over axis 0 (3x on 3072-wide rows). */
  columnSum(x: Sym): Sym {
    return this.g.biasAddGrad(x);
  }

  scalar(x: number): Sym {
    return this.g.constant(x);
  }

  linear(x: Sym, w: Sym, b: Sym): Sym {
    return this.g.biasAdd(this.matMul(x, w, false, true), b);
  }

  /**
   * Gradients of x·Wᵀ + b. Plain layouts: the graph's MatMul kernel (oneDNN) does not have
   * the eager BatchMatMul's slowdown on 3072-wide operands that ops.ts linearBackward works
   * around; here the transposed form measured ~25% slower (and adds two transposes).
   */
  linearBackward(dy: Sym, x: Sym, w: Sym): { dx: Sym; dW: Sym; db: Sym } {
    return { dx: this.matMul(dy, w), dW: this.matMul(dy, x, true, false), db: this.columnSum(dy) };
  }

  /**
   * LayerNorm over the last axis of [rows, n], as ops.ts. (FusedBatchNormV3 with the rows
   * as NCHW channels, and its grad kernel, compute the same in 3 + 5 ops instead of 9 + 12,
   * but measured 1-3% slower steps, so plain ops it is.)
   */
  layerNorm(x: Sym, gamma: Sym, beta: Sym, eps: number): LayerNormSaved & { y: Sym } {
    const g = this.g;
    const centered = g.sub(x, g.mean(x, [1], true));
    const rstd = g.rsqrt(g.add(g.mean(g.square(centered), [1], true), this.scalar(eps)));
    const xhat = g.mul(centered, rstd);
    return { y: g.add(g.mul(xhat, gamma), beta), xhat, rstd };
  }

  /** The closed form  dx = (1/σ)·(g − mean(g) − x̂·mean(g·x̂)),  g = dy·γ. */
  layerNormBackward(dy: Sym, s: LayerNormSaved, gamma: Sym): { dx: Sym; dGamma: Sym; dBeta: Sym } {
    const g = this.g;
    const gy = g.mul(dy, gamma);
    const meanG = g.mean(gy, [1], true);
    const meanGX = g.mean(g.mul(gy, s.xhat), [1], true);
    return {
      dx: g.mul(g.sub(g.sub(gy, meanG), g.mul(s.xhat, meanGX)), s.rstd),
      dGamma: this.columnSum(g.mul(dy, s.xhat)),
      dBeta: this.columnSum(dy),
    };
  }

  activation(name: HiddenAct, x: Sym): { y: Sym; cdf?: Sym } {
    const g = this.g;
    switch (name) {
      case 'gelu': {
        const cdf = g.mul(g.add(g.erf(g.mul(x, this.scalar(Math.SQRT1_2))), this.scalar(1)), this.scalar(0.5));
        return { y: g.mul(x, cdf), cdf };
      }
      case 'gelu_new': case 'gelu_pytorch_tanh': case 'gelu_fast': {
        const t = this.tanhInner(x);
        return { y: g.mul(g.mul(x, this.scalar(0.5)), g.add(t, this.scalar(1))) };
      }
      case 'relu':
        return { y: g.node('Relu', [x], { T: { type: 'float32' } })[0] };
    }
  }

  activationBackward(name: HiddenAct, dy: Sym, x: Sym, cdf: Sym | undefined): Sym {
    const g = this.g;
    switch (name) {
      case 'gelu': {
        const pdf = g.mul(g.exp(g.mul(g.square(x), this.scalar(-0.5))), this.scalar(INV_SQRT_2PI));
        return g.mul(dy, g.add(cdf as Sym, g.mul(x, pdf)));
      }
      case 'gelu_new': case 'gelu_pytorch_tanh': case 'gelu_fast': {
        const t = this.tanhInner(x);
        const du = g.mul(g.add(g.mul(g.square(x), this.scalar(3 * 0.044715)), this.scalar(1)), this.scalar(SQRT_2_OVER_PI));
        const grad = g.add(g.mul(g.add(t, this.scalar(1)), this.scalar(0.5)), g.mul(g.mul(g.mul(x, this.scalar(0.5)), g.sub(this.scalar(1), g.square(t))), du));
        return g.mul(dy, grad);
      }
      case 'relu':
        return g.node('ReluGrad', [dy, x], { T: { type: 'float32' } })[0];
    }
  }

  /** tanh(√(2/π)·(x + 0.044715·x³)), the tanh-GELU's inner term (x³ as tfjs's pow(x, 3)). */
  private tanhInner(x: Sym): Sym {
    const g = this.g;
    const cube = g.node('Pow', [x, this.scalar(3)], { T: { type: 'float32' } })[0];
    return g.tanh(g.mul(g.add(x, g.mul(cube, this.scalar(0.044715))), this.scalar(SQRT_2_OVER_PI)));
  }

  /** The dropout multiplier (0 or 1/(1 − rate)) of `shape` (an int32 vector), from a [2] int32 seed: ops.ts dropoutMaskTensor in graph form. */
  dropoutMask(shape: Sym, rate: number, seed: Sym): Sym {
    const g = this.g;
    const keep = g.greaterEqual(g.statelessUniform(shape, seed), this.scalar(rate));
    // select(keep, 1/(1 − rate), 0): one op where cast(keep)·scale takes two (same numbers).
    return g.node('SelectV2', [keep, this.scalar(1 / (1 - rate)), this.scalar(0)], { T: { type: 'float32' } }, { dtype: 'float32' })[0];
  }
}

/** What a LayerNorm's backward needs: x̂ and 1/σ. */
interface LayerNormSaved {
  xhat: Sym;
  rstd: Sym;
}

/** Parameter names of one encoder layer in the graph's feed order (Hugging Face suffixes). */
const LAYER_PARAMS = {
  qW: 'attention.self.query.weight', qB: 'attention.self.query.bias',
  kW: 'attention.self.key.weight', kB: 'attention.self.key.bias',
  vW: 'attention.self.value.weight', vB: 'attention.self.value.bias',
  aoW: 'attention.output.dense.weight', aoB: 'attention.output.dense.bias',
  ln1G: 'attention.output.LayerNorm.weight', ln1B: 'attention.output.LayerNorm.bias',
  iW: 'intermediate.dense.weight', iB: 'intermediate.dense.bias',
  oW: 'output.dense.weight', oB: 'output.dense.bias',
  ln2G: 'output.LayerNorm.weight', ln2B: 'output.LayerNorm.bias',
} as const;
type LayerKey = keyof typeof LAYER_PARAMS;

export interface TrainGraphInputs {
  inputIds: tf.Tensor2D;
  attentionMask: tf.Tensor2D;
  tokenTypeIds: tf.Tensor2D;
  labels: tf.Tensor1D;
}

export interface TrainGraphResult {
  /** Mean cross-entropy of the batch. */
  loss: tf.Scalar;
  /** [batch, numLabels]. */
  logits: tf.Tensor2D;
  /** Global L2 norm of all gradients, before clipping (what clip_grad_norm_ returns). */
  gradNorm: tf.Scalar;
  /** Gradient of the loss for every parameter, by Hugging Face name; clipped when built with maxGradNorm > 0. */
  grads: Map<string, tf.Tensor>;
}

export interface TrainGraphOptions {
  /** Dropout on (training; default) or off. */
  dropout?: boolean;
  /**
   * Clip the gradients to this global norm inside the graph, exactly as
   * torch.nn.utils.clip_grad_norm_ (every gradient times min(1, max / (norm + 1e-6)));
   * 0 (default): return them unclipped.
   */
  maxGradNorm?: number;
  /**
   * Leave padded positions out of the layers' dense work (default true; exact, see
   * encoderGraph). It costs a few gathers and scatters per layer: ~4% slower than false when
   * nothing is padded, ~15% faster at a quarter padded (4 layers, H256).
   */
  skipPadding?: boolean;
  /**
   * Label smoothing ε (classification only; default 0): the loss is the cross-entropy
   * against (1 − ε)·one-hot + ε/classes instead of the one-hot label (Szegedy et al. 2016).
   */
  labelSmoothing?: number;
  /**
   * R-Drop's weight α (classification only; default 0, off; Liang et al. 2021): each batch
   * runs twice with different dropout masks, and the loss adds α/4 times the two softmaxes'
   * symmetric KL divergence to the mean of the two cross-entropies (the paper's loss, halved).
   */
  rDropWeight?: number;
  /**
   * Mixed precision (default false): the dense layers' matmuls (attention projections,
   * feed-forward, heads, forward and backward) take bfloat16 operands and sum in float32,
   * as PyTorch's autocast with bfloat16 does; weights, gradients' sums, LayerNorm, softmax,
   * the losses and the optimizer stay float32. On a CPU with AMX-BF16 the step runs about
   * 1.4x faster, on an AMD EPYC with AVX512-BF16 1.1-1.5x; on a Xeon without AMX it is slower,
   * even with AVX512-BF16 (nativeBf16() tells which).
   */
  bf16?: boolean;
  /**
   * Parameters fed but not trained (classification only; default none): the step returns no
   * gradient for them, and they count in neither the norm nor the clipping (torch's
   * requires_grad=False). Freezing the word embeddings also spares the step their dense
   * vocab x hidden gradient.
   */
  frozen?: readonly string[];
}

/**
 * Whether a batch is worth the skipping graph (TrainGraphOptions.skipPadding): leaving padded
 * positions out costs a few gathers per layer (~4% when there is nothing to skip) and saves
 * their share of the dense work, which pays from about 1 position in 16.
 */
export function skipPaddingPays(paddedShare: number): boolean {
  return paddedShare >= 1 / 16;
}

/** A model's parameter shapes by name, in its weights' order: the graphs' feed order. */
export function weightShapes(weights: ReadonlyMap<string, tf.Tensor>): Map<string, number[]> {
  return new Map([...weights].map(([name, v]) => [name, v.shape]));
}

/** The word embeddings' parameter name (the masked-LM decoder shares the table). */
export const WORD_EMBEDDINGS = 'bert.embeddings.word_embeddings.weight';

/** What the heads need from the encoder's part of a training graph. */
export interface EncoderGraph {
  B: Sym;
  /** Flat positions (batch · length). */
  N: Sym;
  NH: Sym;
  /** The kept rows' flat positions, in order (null: every position is a row). */
  rows: Sym | null;
  rowCount: Sym;
  /** Where each sequence's first token sits among the rows, [B]. */
  firstRows: Sym;
  /** Where each flat position sits among the rows (meaningful for kept positions), [N]. */
  rowOfPosition: Sym;
  /**
   * The last layer's hidden states: of every row, [rowCount, H] (lastLayer 'rows'); of each
   * sequence's first token, [B, H] ('first'); of the given positions, in their order.
   */
  x: Sym;
  /** Which rows x holds (encoderGraph's lastLayer). */
  lastLayer: 'rows' | 'first' | 'positions';
  /**
   * Backpropagates `dx` (the loss's gradient for x) through the layers and embeddings into
   * `grads`; the word embeddings' gradient comes back summed per distinct input id.
   */
  backward(dx: Sym, grads: Map<string, Sym>): { wordRows: Sym; distinct: { values: Sym; index: Sym } };
}

/**
 * The encoder (embeddings and layers) of a training graph, forward and backward, as
 * encoder.ts computes it. `seed()` hands out the dropout seeds in the model's order
 * (embeddings, then 3 per layer); null when dropout is off. `lastLayer`: the rows whose
 * last hidden states the loss reads: every row ('rows'), each sequence's first token
 * ('first': a classifier's [CLS]) or given flat positions (distinct real tokens: a masked
 * LM's masked ones). The last layer computes keys and values for every row but the rest
 * (attention output, feed-forward, LayerNorms) for those rows only; x and backward's dx hold
 * those rows, in that order.
 */
export function encoderGraph(g: GraphBuilder, o: BertGraphOps, c: BertConfig, w: (name: string) => Sym,
  inputs: { ids: Sym; mask: Sym; types: Sym }, seed: () => Sym | null, skipPadding: boolean, lastLayer: 'rows' | 'first' | { positions: Sym } = 'rows'): EncoderGraph {
  const H = c.hiddenSize;
  const A = c.numAttentionHeads;
  const D = H / A;
  const L = c.numHiddenLayers;
  const { ids, mask, types } = inputs;

  // ---------------------------------------------------------------- forward
  const dims = g.shape(ids);
  const B = g.element(dims, 0);
  const S = g.element(dims, 1);
  const BSH = g.stack([B, S, H]);
  const idsFlat = g.reshape(ids, [-1]);
  const typesFlat = g.reshape(types, [-1]);

  // Embeddings: LayerNorm((word + token type) + position), then dropout (encoder.ts embeddings()).
  const word = w(WORD_EMBEDDINGS);
  const position = w('bert.embeddings.position_embeddings.weight');
  const tokenType = w('bert.embeddings.token_type_embeddings.weight');
  const wordAndType = g.add(g.gather(word, idsFlat), g.gather(tokenType, typesFlat));
  const positions = g.slice(position, [0, 0], g.stack([S, -1]));
  const summed = g.reshape(g.add(g.reshape(wordAndType, BSH), positions), [-1, H]);
  const embLn = o.layerNorm(summed, w('bert.embeddings.LayerNorm.weight'), w('bert.embeddings.LayerNorm.bias'), c.layerNormEps);
  const embSeed = seed();
  const N = g.element(g.shape(idsFlat), 0);
  const NH = g.stack([N, H]);
  const embMask = embSeed && c.hiddenDropoutProb > 0 ? o.dropoutMask(NH, c.hiddenDropoutProb, embSeed) : null;
  const embOut = embMask ? g.mul(embLn.y, embMask) : embLn.y;

  // The layers compute only the rows that can reach the loss: real tokens (mask 1), each
  // sequence's first token (the pooler reads it) and every token of a sequence without any
  // real one. A padded token is masked out of every other token's attention (its weight is
  // exactly 0), so its hidden states never reach the loss and its gradients are exactly 0:
  // skipping it changes nothing but the work (PyTorch's BERT computes them anyway). Attention
  // itself keeps the [batch, heads, length, length] layout, with zeros at skipped rows.
  // (Built with skipPadding false, the layers take every row: no gathers and scatters.)
  let rows: Sym | null = null; // [Nr] flat positions, in order
  let firstRows: Sym; // [B]: where each sequence's first token sits among the rows
  let rowOfPosition: Sym;
  if (skipPadding) {
    const kept = g.logicalOr(g.logicalOr(g.notEqual(mask, g.int(0)), g.equal(g.range(S), g.int(0))), g.equal(g.max(mask, [1], true), g.int(0)));
    const keptFlat = g.reshape(kept, [-1]);
    rows = g.whereTrue(keptFlat);
    firstRows = g.cumsum(g.sum(g.cast(kept, 'int32'), [1]), 0, true);
    rowOfPosition = g.cumsum(g.cast(keptFlat, 'int32'), 0, true);
  } else {
    firstRows = g.mul(g.range(B), S);
    rowOfPosition = g.range(N);
  }
  const rowCount = rows ? g.element(g.shape(rows), 0) : N;
  const toRows = (t: Sym) => (rows ? g.gather(t, rows) : t);
  const fromRows = (t: Sym, shape: Sym) => (rows ? g.scatterRows(rows, t, shape) : t);
  let x = toRows(embOut);

  const maskAdd = g.reshape(g.mul(g.sub(o.scalar(1), g.cast(mask, 'float32')), o.scalar(MASK_VALUE)), g.stack([B, 1, 1, S]));
  const splitHeads = (t: Sym) => g.transpose(g.reshape(t, g.stack([B, S, A, D])), [0, 2, 1, 3]);
  const mergeHeads = (t: Sym) => g.reshape(g.transpose(t, [0, 2, 1, 3]), [-1, H]);
  const scale = 1 / Math.sqrt(D);

  interface LayerSaved {
    w: Record<LayerKey, Sym>; x: Sym; qkvW: Sym; qh: Sym; kh: Sym; vh: Sym; probs: Sym; dropped: Sym;
    context: Sym; m1: Sym | null; ln1: LayerNormSaved; a: Sym; h: Sym; cdf?: Sym; act: Sym; m2: Sym | null; ln2: LayerNormSaved;
  }
  const outputRows = lastLayer === 'rows' ? null : lastLayer === 'first' ? firstRows : g.gather(rowOfPosition, lastLayer.positions);
  const saved: LayerSaved[] = [];
  // In the last layer a row no loss reads needs only its keys and values: this skips 60% of
  // that layer's feed-forward with 40% of the tokens masked, and nearly all of it for a classifier.
  const lastOnly = (l: number) => outputRows !== null && l === L - 1;
  const pick = (l: number, t: Sym) => (lastOnly(l) ? g.gather(t, outputRows!) : t);
  for (let l = 0; l < L; l++) {
    const lw = Object.fromEntries(Object.entries(LAYER_PARAMS).map(([k, suffix]) => [k, w(`bert.encoder.layer.${l}.${suffix}`)])) as Record<LayerKey, Sym>;
    const [s0, s1, s2] = [seed(), seed(), seed()];
    // Query, key and value in one matmul; the query's weight and bias scaled by 1/√D instead
    // of the scores (as encoder.ts does).
    const qkvW = g.concat([g.mul(lw.qW, o.scalar(scale)), lw.kW, lw.vW], 0);
    const qkvB = g.concat([g.mul(lw.qB, o.scalar(scale)), lw.kB, lw.vB], 0);
    const qkv = fromRows(o.linear(x, qkvW, qkvB), g.stack([N, 3 * H]));
    const [qh, kh, vh] = g.unstack(g.transpose(g.reshape(qkv, g.stack([B, S, 3, A, D])), [2, 0, 3, 1, 4]), 3);
    const probs = g.softmax(g.add(g.batchMatMul(qh, kh, false, true), maskAdd));
    const attMask = s0 && c.attentionProbsDropoutProb > 0 ? o.dropoutMask(g.shape(probs), c.attentionProbsDropoutProb, s0) : null;
    const dropped = attMask ? g.mul(probs, attMask) : probs;
    const context = pick(l, toRows(mergeHeads(g.batchMatMul(dropped, vh))));
    // Hidden dropout masks are drawn for all [batch·length, hidden] positions (the eager model's masks), then the kept rows taken.
    const m1 = s1 && c.hiddenDropoutProb > 0 ? pick(l, toRows(o.dropoutMask(NH, c.hiddenDropoutProb, s1))) : null;
    const m2 = s2 && c.hiddenDropoutProb > 0 ? pick(l, toRows(o.dropoutMask(NH, c.hiddenDropoutProb, s2))) : null;
    const ao = o.linear(context, lw.aoW, lw.aoB);
    const ln1 = o.layerNorm(g.add(m1 ? g.mul(ao, m1) : ao, pick(l, x)), lw.ln1G, lw.ln1B, c.layerNormEps);
    const h = o.linear(ln1.y, lw.iW, lw.iB);
    const act = o.activation(c.hiddenAct, h);
    const out = o.linear(act.y, lw.oW, lw.oB);
    const ln2 = o.layerNorm(g.add(m2 ? g.mul(out, m2) : out, ln1.y), lw.ln2G, lw.ln2B, c.layerNormEps);
    saved.push({ w: lw, x, qkvW, qh, kh, vh, probs, dropped, context, m1, ln1, a: ln1.y, h, cdf: act.cdf, act: act.y, m2, ln2 });
    x = ln2.y;
  }

  // ---------------------------------------------------------------- backward
  const backward = (dxLast: Sym, grads: Map<string, Sym>) => {
    let dx = dxLast;
    for (let l = L - 1; l >= 0; l--) {
      const s = saved[l];
      const name = (k: LayerKey) => `bert.encoder.layer.${l}.${LAYER_PARAMS[k]}`;
      const unpick = (t: Sym) => (lastOnly(l) ? g.scatterRows(outputRows!, t, g.stack([rowCount, H])) : t);
      // Feed-forward block.
      const ln2 = o.layerNormBackward(dx, s.ln2, s.w.ln2G);
      const out = o.linearBackward(s.m2 ? g.mul(ln2.dx, s.m2) : ln2.dx, s.act, s.w.oW);
      const dh = o.activationBackward(c.hiddenAct, out.dx, s.h, s.cdf);
      const inter = o.linearBackward(dh, s.a, s.w.iW);
      const da = g.add(ln2.dx, inter.dx);
      // Attention block.
      const ln1 = o.layerNormBackward(da, s.ln1, s.w.ln1G);
      const ao = o.linearBackward(s.m1 ? g.mul(ln1.dx, s.m1) : ln1.dx, s.context, s.w.aoW);
      const dc = splitHeads(fromRows(unpick(ao.dx), NH));
      const dv = g.batchMatMul(s.dropped, dc, true, false);
      // Softmax backward p·(dp − Σ dp·p) with dp = dDropped·mask: since p·mask is the dropped
      // probabilities, t = dDropped·dropped gives p·dp in one multiply, and dScores = t − p·Σt.
      const t = g.mul(g.batchMatMul(dc, s.vh, false, true), s.dropped);
      const dScores = g.sub(t, g.mul(s.probs, g.sum(t, [3], true)));
      const dq = g.batchMatMul(dScores, s.kh);
      const dk = g.batchMatMul(dScores, s.qh, true, false);
      const dqkv = toRows(g.reshape(g.transpose(g.stackTensors([dq, dk, dv]), [1, 3, 0, 2, 4]), [-1, 3 * H]));
      const qkv = o.linearBackward(dqkv, s.x, s.qkvW);
      dx = g.add(unpick(ln1.dx), qkv.dx);
      const [dqW, dkW, dvW] = g.split(qkv.dW, 3, 0);
      const [dqB, dkB, dvB] = g.split(qkv.db, 3, 0);
      grads.set(name('qW'), g.mul(dqW, o.scalar(scale))).set(name('qB'), g.mul(dqB, o.scalar(scale)));
      grads.set(name('kW'), dkW).set(name('kB'), dkB).set(name('vW'), dvW).set(name('vB'), dvB);
      grads.set(name('aoW'), ao.dW).set(name('aoB'), ao.db).set(name('ln1G'), ln1.dGamma).set(name('ln1B'), ln1.dBeta);
      grads.set(name('iW'), inter.dW).set(name('iB'), inter.db).set(name('oW'), out.dW).set(name('oB'), out.db);
      grads.set(name('ln2G'), ln2.dGamma).set(name('ln2B'), ln2.dBeta);
    }
    dx = fromRows(dx, NH);

    // Embeddings: dense gradients of the position and token type tables, like PyTorch's nn.Embedding.
    const emb = o.layerNormBackward(embMask ? g.mul(dx, embMask) : dx, embLn, w('bert.embeddings.LayerNorm.weight'));
    grads.set('bert.embeddings.LayerNorm.weight', emb.dGamma).set('bert.embeddings.LayerNorm.bias', emb.dBeta);
    // Only the batch's distinct ids get non-zero word-embedding rows: the tokens are summed
    // into those rows here; the heads scatter them into the dense table.
    const distinct = g.unique(idsFlat);
    const wordRows = g.unsortedSegmentSum(emb.dx, distinct.index, g.element(g.shape(distinct.values), 0));
    grads.set('bert.embeddings.token_type_embeddings.weight', g.unsortedSegmentSum(emb.dx, typesFlat, c.typeVocabSize));
    const dPositions = g.sum(g.reshape(emb.dx, BSH), [0]); // [S, H]
    const padRows = g.stack([0, g.sub(g.int(c.maxPositionEmbeddings), S)]);
    const paddings = g.node('Pack', [padRows, g.int([0, 0])], { T: { type: 'int32' }, N: { i: 2 }, axis: { i: 0 } })[0];
    grads.set('bert.embeddings.position_embeddings.weight', g.pad(dPositions, paddings));
    return { wordRows, distinct };
  };

  return { B, N, NH, rows, rowCount, firstRows, rowOfPosition, x, lastLayer: typeof lastLayer === 'string' ? lastLayer : 'positions', backward };
}

/**
 * The global norm of `grads`, as task/optim/clip.ts globalNorm computes it (sqrt(Σ 2·L2Loss(g)),
 * doubling after the sum: exact in float), and the gradients clipped to `maxGradNorm` as
 * task/optim/clip.ts clipCoefficient does: each times min(maxNorm · (1 / (norm + 1e-6)), 1). 0: not clipped.
 */
export function normAndClip(g: GraphBuilder, o: BertGraphOps, grads: Sym[], maxGradNorm: number): { gradNorm: Sym; clipped: Sym[] } {
  const halfSquares = grads.map((t) => g.node('L2Loss', [t], { T: { type: 'float32' } })[0]);
  const gradNorm = g.node('Sqrt', [g.mul(g.addN(halfSquares), o.scalar(2))], { T: { type: 'float32' } })[0];
  if (!(maxGradNorm > 0)) return { gradNorm, clipped: grads };
  const coefficient = g.node('Minimum', [g.mul(g.node('Reciprocal', [g.add(gradNorm, o.scalar(1e-6))], { T: { type: 'float32' } })[0], o.scalar(maxGradNorm)), o.scalar(1)], { T: { type: 'float32' } })[0];
  return { gradNorm, clipped: grads.map((t) => g.mul(t, coefficient)) };
}

/** The placeholders of the weights, in `params` order, and a lookup by name. */
export function weightPlaceholders(g: GraphBuilder, params: ReadonlyMap<string, readonly number[]>): { feeds: Sym[]; w: (name: string) => Sym } {
  const W = new Map<string, Sym>();
  const feeds = [...params].map(([name, shape], i) => {
    const s = g.placeholder(`w${i}`, 'float32', shape);
    W.set(name, s);
    return s;
  });
  const w = (name: string) => {
    const s = W.get(name);
    if (!s) throw new Error(`train graph: the model has no parameter ${name}`);
    return s;
  };
  return { feeds, w };
}

/**
 * BertForSequenceClassification's head in a training graph: the pooler (tanh of a dense on each
 * sequence's first token), dropout from `seed` (null: none), the classifier. `backward` takes the
 * logits' gradient, sets the head's gradients in `grads` and returns the encoder output's ([rows, H]).
 */
function classifierHead(g: GraphBuilder, o: BertGraphOps, c: BertConfig, w: (name: string) => Sym, enc: EncoderGraph, seed: Sym | null):
  { logits: Sym; backward: (dLogits: Sym, grads: Map<string, Sym>) => Sym } {
  if (enc.lastLayer === 'positions') throw new Error('train graph: a classifier head needs the encoder\'s first rows');
  const first = enc.lastLayer === 'first' ? enc.x : g.gather(enc.x, enc.firstRows);
  const poolW = w('bert.pooler.dense.weight');
  const pooled = g.tanh(o.linear(first, poolW, w('bert.pooler.dense.bias')));
  const mask = seed && c.classifierDropoutProb > 0 ? o.dropoutMask(g.shape(pooled), c.classifierDropoutProb, seed) : null;
  const dropped = mask ? g.mul(pooled, mask) : pooled;
  const clsW = w('classifier.weight');
  const logits = o.linear(dropped, clsW, w('classifier.bias'));
  const backward = (dLogits: Sym, grads: Map<string, Sym>) => {
    const cls = o.linearBackward(dLogits, dropped, clsW);
    grads.set('classifier.weight', cls.dW).set('classifier.bias', cls.db);
    const pool = o.linearBackward(g.tanhGrad(pooled, mask ? g.mul(cls.dx, mask) : cls.dx), first, poolW);
    grads.set('bert.pooler.dense.weight', pool.dW).set('bert.pooler.dense.bias', pool.db);
    return enc.lastLayer === 'first' ? pool.dx : g.scatterRows(enc.firstRows, pool.dx, g.stack([enc.rowCount, c.hiddenSize]));
  };
  return { logits, backward };
}

/** Hands out the dropout seed placeholders in order (null for all when dropout is off). */
function seedSource(g: GraphBuilder, count: number, dropout: boolean): { input: Sym | null; next: () => Sym | null } {
  const input = dropout ? g.placeholder('dropout_seeds', 'int32', [count, 2]) : null;
  const seeds = input ? g.unstack(input, count) : [];
  let i = 0;
  return { input, next: () => (input ? seeds[i++] : null) };
}

/**
 * The training-step graph of one BertForSequenceClassification config: loss, logits and
 * every parameter's gradient from the weights, a batch and the dropout seeds. Build it
 * once per model (a second or so for kcbert-base); dispose() frees the session.
 */
export class ClassificationTrainGraph {
  private readonly session: GraphSession;
  private readonly weightFeeds: Sym[];
  private readonly inputs: { ids: Sym; mask: Sym; types: Sym; labels: Sym; seeds: Sym | null };
  private readonly fetches: Sym[];
  /** How many dropout seeds one call takes (the model's SeedStream order: embeddings, 3 per layer, classifier). */
  readonly seedCount: number;

  readonly dropout: boolean;
  readonly maxGradNorm: number;
  readonly skipPadding: boolean;
  readonly paramNames: readonly string[];
  /** The parameters that get a gradient: paramNames less options.frozen, in the same order. */
  readonly gradNames: readonly string[];

  /** `params`: the model's parameters (name -> shape) in feed order, its state-dict order. */
  constructor(readonly config: BertConfig, params: ReadonlyMap<string, readonly number[]>, options: TrainGraphOptions = {}) {
    const c = config;
    const dropout = (this.dropout = options.dropout ?? true);
    const maxGradNorm = (this.maxGradNorm = options.maxGradNorm ?? 0);
    const skipPadding = (this.skipPadding = options.skipPadding ?? true);
    if (!(maxGradNorm >= 0)) throw new Error(`train graph: maxGradNorm must be >= 0, got ${maxGradNorm}`);
    const paramNames = (this.paramNames = [...params.keys()]);
    const frozen = new Set(options.frozen ?? []);
    for (const n of frozen) if (!params.has(n)) throw new Error(`train graph: frozen parameter ${n} is not one of the model's`);
    const gradNames = (this.gradNames = paramNames.filter((n) => !frozen.has(n)));
    const g = new GraphBuilder();
    const o = new BertGraphOps(g, options.bf16 ?? false);
    this.seedCount = 2 + 3 * c.numHiddenLayers;

    const ids = g.placeholder('input_ids', 'int32', [-1, -1]);
    const mask = g.placeholder('attention_mask', 'int32', [-1, -1]);
    const types = g.placeholder('token_type_ids', 'int32', [-1, -1]);
    const labels = g.placeholder('labels', 'int32', [-1]);
    const seeds = seedSource(g, this.seedCount, dropout);
    this.inputs = { ids, mask, types, labels, seeds: seeds.input };
    const { feeds, w } = weightPlaceholders(g, params);
    this.weightFeeds = feeds;

    const rDrop = options.rDropWeight ?? 0;
    if (!(rDrop >= 0)) throw new Error(`train graph: rDropWeight must be >= 0, got ${rDrop}`);
    // R-Drop: the batch twice in one forward, so the copies draw different dropout masks.
    const twice = (x: Sym) => (rDrop > 0 ? g.concat([x, x], 0) : x);
    const enc = encoderGraph(g, o, c, w, { ids: twice(ids), mask: twice(mask), types: twice(types) }, seeds.next, skipPadding, 'first');

    const head = classifierHead(g, o, c, w, enc, seeds.next());
    const logits = head.logits;
    const smoothing = options.labelSmoothing ?? 0;
    if (!(smoothing >= 0 && smoothing < 1)) throw new Error(`train graph: labelSmoothing must be >= 0 and < 1, got ${smoothing}`);
    const rowLabels = twice(labels);
    const ce = smoothing > 0 ? g.softmaxCrossEntropy(logits, smoothedTargets(g, rowLabels, c.numLabels, smoothing)) : g.sparseSoftmaxCrossEntropy(logits, rowLabels);
    let loss = g.mean(ce.loss, [0]);
    let dLogits = g.div(ce.backprop, g.cast(enc.B, 'float32'));
    let firstLogits = logits;
    if (rDrop > 0) {
      const kl = rDropGraph(g, logits);
      // α/4 · mean over the batch's rows (enc.B counts both copies: B/2 rows).
      loss = g.add(loss, g.mul(g.mean(kl.perRow, [0]), g.constant(rDrop / 4)));
      dLogits = g.add(dLogits, g.div(g.mul(kl.dLogits, g.constant(rDrop / 2)), g.cast(enc.B, 'float32')));
      firstLogits = kl.first;
    }

    // Backward through the head, then the encoder.
    const grads = new Map<string, Sym>();
    const { wordRows, distinct } = enc.backward(head.backward(dLogits, grads), grads);

    // The word embeddings' gradient is dense (vocab x hidden, like PyTorch's), but only the
    // batch's distinct ids have non-zero rows: take the norm and clip on those rows, and
    // scatter once at the end (saves two passes over the dense table per step).
    // (A frozen parameter's gradient is never fetched, so TensorFlow never computes it.)
    const ordered = gradNames.map((n) => {
      const grad = n === WORD_EMBEDDINGS ? wordRows : grads.get(n);
      if (!grad) throw new Error(`train graph: no gradient for ${n} (not a BertForSequenceClassification parameter?)`);
      return grad;
    });
    const { gradNorm, clipped } = normAndClip(g, o, ordered, maxGradNorm);
    const dense = clipped.map((t, i) => (gradNames[i] === WORD_EMBEDDINGS ? g.unsortedSegmentSum(t, distinct.values, c.vocabSize) : t));
    this.fetches = [g.identity(loss, 'loss'), g.identity(firstLogits, 'logits'), g.identity(gradNorm, 'grad_norm'), ...dense.map((t, i) => g.identity(t, `grad${i}`))];
    this.session = new GraphSession(g);
  }

  /**
   * Loss, logits and gradients for one batch. `weights` in paramNames order; `seed`: the
   * forward call's dropout seed (as model.forward's options.seed), required when built with dropout.
   */
  run(weights: readonly tf.Tensor[], batch: TrainGraphInputs, seed?: number): TrainGraphResult {
    const feeds: [Sym, tf.Tensor][] = [
      [this.inputs.ids, batch.inputIds], [this.inputs.mask, batch.attentionMask], [this.inputs.types, batch.tokenTypeIds], [this.inputs.labels, batch.labels],
      ...this.weightFeeds.map((s, i) => [s, weights[i]] as [Sym, tf.Tensor]),
    ];
    const [loss, logits, gradNorm, ...grads] = runWithSeeds(this.session, feeds, this.fetches, this.inputs.seeds, this.seedCount, seed);
    return { loss: loss as tf.Scalar, logits: logits as tf.Tensor2D, gradNorm: gradNorm as tf.Scalar, grads: new Map(this.gradNames.map((n, i) => [n, grads[i]])) };
  }

  dispose(): void {
    this.session.dispose();
  }
}

export interface MlmTrainGraphInputs {
  inputIds: tf.Tensor2D;
  /** 1 for real tokens, 0 for padding. */
  attentionMask: tf.Tensor2D;
  /** Flat indices (row · length + column) of the masked tokens. */
  maskedPositions: tf.Tensor1D;
  /** The original token at each masked position. */
  labels: tf.Tensor1D;
  /** With a task head: each sequence's class, or -1 where it has none (left out of the task loss). */
  sequenceLabels?: tf.Tensor1D;
  /** With sampledSoftmax: the rows this step scores (SampledSoftmaxTensors). */
  softmax?: SampledSoftmaxTensors;
}

/** A sampled softmax's step (softmaxTokens), as tensors. */
export interface SampledSoftmaxTensors {
  /** The vocabulary rows this step scores. */
  ids: tf.Tensor1D;
  /** Each label's index in ids. */
  targets: tf.Tensor1D;
  /** Added to each scored row's logit (−log Q, the sampled softmax's correction). */
  shift: tf.Tensor1D;
}

export interface MlmTrainGraphResult {
  /** Mean cross-entropy over the masked tokens. */
  loss: tf.Scalar;
  /** Share of masked tokens predicted right (argmax). */
  accuracy: tf.Scalar;
  /** Global L2 norm of all gradients, before clipping. */
  gradNorm: tf.Scalar;
  /** Gradient for every parameter, by Hugging Face name; clipped when built with maxGradNorm > 0. */
  grads: Map<string, tf.Tensor>;
  /** With a task head: the mean cross-entropy and the accuracy of the sequences that have a label. */
  task?: { loss: tf.Scalar; accuracy: tf.Scalar };
}

/** outputIds checked: ascending, distinct, within the vocabulary. */
function checkOutputIds(ids: readonly number[], vocabSize: number): readonly number[] {
  if (ids.length === 0) throw new Error('train graph: outputIds is empty');
  ids.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize || (i > 0 && id <= ids[i - 1])) {
      throw new Error(`train graph: outputIds must be ascending distinct ids below ${vocabSize}; entry ${i} is ${id}`);
    }
  });
  return ids;
}

/** vocabulary id -> its index in `ids` (0 for ids not in it: never a label). */
function indexTable(ids: readonly number[], vocabSize: number): number[] {
  const table = new Array<number>(vocabSize).fill(0);
  ids.forEach((id, i) => (table[id] = i));
  return table;
}

/** MlmTrainGraph's options: TrainGraphOptions and the weight of a task head's loss. */
export interface MlmTrainGraphOptions extends TrainGraphOptions {
  /**
   * > 0: the model also has BertForSequenceClassification's pooler and classifier, and the
   * step adds taskWeight × their cross-entropy on the same (masked) batch to the MLM loss
   * (TLM, Yao et al. 2022). 0 (default): masked LM alone.
   */
  taskWeight?: number;
  /**
   * The vocabulary ids the prediction head scores (sorted, distinct; every label must be one
   * of them); default: all. The others must carry a bias of UNSEEN_TOKEN_BIAS, so their
   * probability is exactly 0 in the full softmax too and leaving them out changes nothing but
   * the cost: the projection onto the vocabulary is the largest matmul of a step.
   */
  outputIds?: readonly number[];
  /**
   * A sampled softmax (pretraining's softmaxTokens): each run scores only the rows it is fed
   * (MlmTrainGraphInputs.softmax: ids, every label among them, targets their indices, shift
   * added to their logits), in place of outputIds or the whole vocabulary.
   */
  sampledSoftmax?: boolean;
}

/**
 * The masked-language-model training step of one BertForMaskedLM config (pretraining,
 * step 3b) as one graph: the same encoder, then the prediction head at the masked positions
 * only (dense + activation + LayerNorm, scores against the word embeddings, which the head
 * shares with the input, plus a bias), cross-entropy, and every gradient. Token type ids are
 * all 0, as in the eager pretraining loop. With taskWeight > 0 the same pass also trains a
 * sentence classifier on [CLS] (MlmTrainGraphOptions; the eager loop has no such step).
 */
export class MlmTrainGraph {
  private readonly session: GraphSession;
  private readonly weightFeeds: Sym[];
  private readonly inputs: { ids: Sym; mask: Sym; positions: Sym; labels: Sym; sequenceLabels: Sym | null; softmax: { ids: Sym; targets: Sym; shift: Sym } | null; seeds: Sym | null };
  private readonly fetches: Sym[];
  /** Dropout seeds per call (the model's SeedStream order: embeddings, 3 per layer). */
  readonly seedCount: number;
  readonly dropout: boolean;
  readonly maxGradNorm: number;
  readonly taskWeight: number;
  readonly paramNames: readonly string[];

  constructor(readonly config: BertConfig, params: ReadonlyMap<string, readonly number[]>, options: MlmTrainGraphOptions = {}) {
    const c = config;
    const dropout = (this.dropout = options.dropout ?? true);
    const maxGradNorm = (this.maxGradNorm = options.maxGradNorm ?? 0);
    if (!(maxGradNorm >= 0)) throw new Error(`train graph: maxGradNorm must be >= 0, got ${maxGradNorm}`);
    const taskWeight = (this.taskWeight = options.taskWeight ?? 0);
    if (!(taskWeight >= 0)) throw new Error(`train graph: taskWeight must be >= 0, got ${taskWeight}`);
    const paramNames = (this.paramNames = [...params.keys()]);
    const g = new GraphBuilder();
    const o = new BertGraphOps(g, options.bf16 ?? false);
    this.seedCount = 1 + 3 * c.numHiddenLayers;

    const ids = g.placeholder('input_ids', 'int32', [-1, -1]);
    const mask = g.placeholder('attention_mask', 'int32', [-1, -1]);
    const positions = g.placeholder('masked_positions', 'int32', [-1]);
    const labels = g.placeholder('labels', 'int32', [-1]);
    const sequenceLabels = taskWeight > 0 ? g.placeholder('sequence_labels', 'int32', [-1]) : null;
    const softmax = options.sampledSoftmax
      ? { ids: g.placeholder('softmax_ids', 'int32', [-1]), targets: g.placeholder('softmax_targets', 'int32', [-1]), shift: g.placeholder('softmax_shift', 'float32', [-1]) }
      : null;
    const seeds = seedSource(g, this.seedCount, dropout);
    this.inputs = { ids, mask, positions, labels, sequenceLabels, softmax, seeds: seeds.input };
    const { feeds, w } = weightPlaceholders(g, params);
    this.weightFeeds = feeds;

    const types = g.mul(ids, g.int(0));
    // Without a task head (which reads [CLS]) the loss reads the masked positions only, so the
    // last layer computes just those (encoderGraph's lastLayer): enc.x is xm then.
    const lastLayerMaskedOnly = taskWeight === 0;
    const enc = encoderGraph(g, o, c, w, { ids, mask, types }, seeds.next, options.skipPadding ?? true, lastLayerMaskedOnly ? { positions } : 'rows');

    // The head at the masked positions (BertForMaskedLM.forward with maskedPositions).
    const at = lastLayerMaskedOnly ? null : g.gather(enc.rowOfPosition, positions);
    const xm = at ? g.gather(enc.x, at) : enc.x;
    const tW = w('cls.predictions.transform.dense.weight');
    const h = o.linear(xm, tW, w('cls.predictions.transform.dense.bias'));
    const act = o.activation(c.hiddenAct, h);
    const lnG = w('cls.predictions.transform.LayerNorm.weight');
    const ln = o.layerNorm(act.y, lnG, w('cls.predictions.transform.LayerNorm.bias'), c.layerNormEps);
    const word = w(WORD_EMBEDDINGS);
    // With outputIds: the scored rows of the tied decoder and its bias, and each label's
    // index among them (a constant table, vocabulary id -> index).
    // With sampledSoftmax: the rows and targets fed with the batch instead.
    const outputIds = options.outputIds && !softmax ? checkOutputIds(options.outputIds, c.vocabSize) : null;
    const scored = softmax ? softmax.ids : outputIds ? g.int(outputIds) : null;
    const decoder = scored ? g.gather(word, scored) : word;
    const scoredBias = scored ? g.gather(w('cls.predictions.bias'), scored) : w('cls.predictions.bias');
    const decoderBias = softmax ? g.add(scoredBias, softmax.shift) : scoredBias;
    const targets = softmax ? softmax.targets : outputIds ? g.gather(g.int(indexTable(outputIds, c.vocabSize)), labels) : labels;
    const scores = o.linear(ln.y, decoder, decoderBias);
    const ce = g.sparseSoftmaxCrossEntropy(scores, targets);
    const loss = g.mean(ce.loss, [0]);
    const accuracy = g.mean(g.cast(g.equal(g.argMax(scores, 1), targets), 'float32'), [0]);

    const grads = new Map<string, Sym>();
    const M = g.element(g.shape(labels), 0);
    const dScores = g.div(ce.backprop, g.cast(M, 'float32'));
    const dec = o.linearBackward(dScores, ln.y, decoder); // dW: the decoder's part of the word embeddings' gradient
    grads.set('cls.predictions.bias', scored ? g.unsortedSegmentSum(dec.db, scored, c.vocabSize) : dec.db);
    const lnb = o.layerNormBackward(dec.dx, ln, lnG);
    grads.set('cls.predictions.transform.LayerNorm.weight', lnb.dGamma).set('cls.predictions.transform.LayerNorm.bias', lnb.dBeta);
    const dh = o.activationBackward(c.hiddenAct, lnb.dx, h, act.cdf);
    const tr = o.linearBackward(dh, xm, tW);
    grads.set('cls.predictions.transform.dense.weight', tr.dW).set('cls.predictions.transform.dense.bias', tr.db);
    let dx = at ? g.scatterRows(at, tr.dx, g.stack([enc.rowCount, c.hiddenSize])) : tr.dx;

    // The task head on the same pass: BertForSequenceClassification's pooler and classifier
    // on each sequence's first token (no dropout: none while pretraining), cross-entropy over
    // the sequences that have a label, times taskWeight. Its gradient joins the MLM head's
    // at the encoder's output.
    let task: { loss: Sym; accuracy: Sym } | null = null;
    if (sequenceLabels) {
      const head = classifierHead(g, o, c, w, enc, null);
      const logits = head.logits;
      const labelled = g.cast(g.node('GreaterEqual', [sequenceLabels, g.int(0)], { T: { type: 'int32' } }, { dtype: 'bool' })[0], 'float32');
      const count = g.node('Maximum', [g.sum(labelled, [0]), o.scalar(1)], { T: { type: 'float32' } })[0];
      const safeLabels = g.node('Maximum', [sequenceLabels, g.int(0)], { T: { type: 'int32' } })[0];
      const tce = g.sparseSoftmaxCrossEntropy(logits, safeLabels);
      const right = g.cast(g.equal(g.argMax(logits, 1), safeLabels), 'float32');
      task = { loss: g.div(g.sum(g.mul(tce.loss, labelled), [0]), count), accuracy: g.div(g.sum(g.mul(right, labelled), [0]), count) };
      const dLogits = g.mul(tce.backprop, g.expandDims(g.mul(labelled, g.div(o.scalar(taskWeight), count)), 1));
      dx = g.add(dx, head.backward(dLogits, grads));
    }
    const { wordRows, distinct } = enc.backward(dx, grads);
    // The decoder's rows and the input side's rows into one dense gradient, one pass over the table.
    grads.set(WORD_EMBEDDINGS, scored
      ? g.unsortedSegmentSum(g.concat([dec.dW, wordRows], 0), g.concat([scored, distinct.values], 0), c.vocabSize)
      : g.add(dec.dW, g.unsortedSegmentSum(wordRows, distinct.values, c.vocabSize)));

    const ordered = paramNames.map((n) => {
      const grad = grads.get(n);
      if (!grad) throw new Error(`train graph: no gradient for ${n} (not a BertForMaskedLM parameter${taskWeight > 0 ? '' : ', or a task head without taskWeight'}?)`);
      return grad;
    });
    const { gradNorm, clipped } = normAndClip(g, o, ordered, maxGradNorm);
    this.fetches = [
      g.identity(loss, 'loss'), g.identity(accuracy, 'accuracy'), g.identity(gradNorm, 'grad_norm'),
      ...(task ? [g.identity(task.loss, 'task_loss'), g.identity(task.accuracy, 'task_accuracy')] : []),
      ...clipped.map((t, i) => g.identity(t, `grad${i}`)),
    ];
    this.session = new GraphSession(g);
  }

  /** Loss, accuracy and gradients for one masked batch; `seed` as model.forward's options.seed (required with dropout). */
  run(weights: readonly tf.Tensor[], batch: MlmTrainGraphInputs, seed?: number): MlmTrainGraphResult {
    const feeds: [Sym, tf.Tensor][] = [
      [this.inputs.ids, batch.inputIds], [this.inputs.mask, batch.attentionMask], [this.inputs.positions, batch.maskedPositions], [this.inputs.labels, batch.labels],
      ...this.weightFeeds.map((s, i) => [s, weights[i]] as [Sym, tf.Tensor]),
    ];
    if (this.inputs.sequenceLabels) {
      if (!batch.sequenceLabels) throw new Error('train graph: a graph with a task head needs sequenceLabels');
      feeds.push([this.inputs.sequenceLabels, batch.sequenceLabels]);
    }
    if (this.inputs.softmax) {
      if (!batch.softmax) throw new Error('train graph: a graph with a sampled softmax needs the step\'s softmax rows (ids, targets, shift)');
      feeds.push([this.inputs.softmax.ids, batch.softmax.ids], [this.inputs.softmax.targets, batch.softmax.targets], [this.inputs.softmax.shift, batch.softmax.shift]);
    }
    const [loss, accuracy, gradNorm, ...rest] = runWithSeeds(this.session, feeds, this.fetches, this.inputs.seeds, this.seedCount, seed);
    const task = this.inputs.sequenceLabels ? { loss: rest[0] as tf.Scalar, accuracy: rest[1] as tf.Scalar } : undefined;
    const grads = task ? rest.slice(2) : rest;
    return { loss: loss as tf.Scalar, accuracy: accuracy as tf.Scalar, gradNorm: gradNorm as tf.Scalar, grads: new Map(this.paramNames.map((n, i) => [n, grads[i]])), ...(task ? { task } : {}) };
  }

  dispose(): void {
    this.session.dispose();
  }
}

/** (1 − ε)·one-hot(labels) + ε/classes, [rows, classes]: the targets of label smoothing. */
function smoothedTargets(g: GraphBuilder, labels: Sym, classes: number, smoothing: number): Sym {
  const oneHot = g.cast(g.equal(g.expandDims(labels, 1), g.expandDims(g.range(g.int(classes)), 0)), 'float32');
  return g.add(g.mul(oneHot, g.constant(1 - smoothing)), g.constant(smoothing / classes));
}

/**
 * R-Drop's symmetric KL of the two copies' logits (z1 on top of z2): per row
 * KL(p1‖p2) + KL(p2‖p1) = Σ (p1 − p2)(z1 − z2) (the log-sum-exps cancel), and its gradient
 * p1·(u − ⟨p1, u⟩) + p1 − p2 for z1, −p2·(u − ⟨p2, u⟩) − (p1 − p2) for z2, with u = z1 − z2.
 */
function rDropGraph(g: GraphBuilder, logits: Sym): { perRow: Sym; dLogits: Sym; first: Sym } {
  const [z1, z2] = g.split(logits, 2, 0);
  const [p1, p2] = [g.softmax(z1), g.softmax(z2)];
  const u = g.sub(z1, z2);
  const dp = g.sub(p1, p2);
  const centered = (p: Sym) => g.mul(p, g.sub(u, g.sum(g.mul(p, u), [1], true)));
  const d1 = g.add(centered(p1), dp);
  const d2 = g.sub(g.mul(centered(p2), g.constant(-1)), dp);
  return { perRow: g.sum(g.mul(dp, u), [1]), dLogits: g.concat([d1, d2], 0), first: z1 };
}

/** Runs a session, adding the dropout seeds of `seed` when the graph takes them. */
function runWithSeeds(session: GraphSession, feeds: [Sym, tf.Tensor][], fetches: Sym[], seedsInput: Sym | null, seedCount: number, seed: number | undefined): tf.Tensor[] {
  let seeds: tf.Tensor | null = null;
  if (seedsInput) {
    if (seed === undefined) throw new Error('train graph: a dropout seed is required');
    seeds = tf.tensor2d(seedPairs(seed, seedCount), [seedCount, 2], 'int32');
    feeds.push([seedsInput, seeds]);
  }
  try {
    return session.run(feeds, fetches);
  } finally {
    seeds?.dispose();
  }
}

/** The dropout seed pairs of one forward call: the model's SeedStream order, each as ops.ts dropoutSeedPair. */
function seedPairs(seed: number, count: number): Int32Array {
  const stream = new SeedStream(seed);
  const out = new Int32Array(count * 2);
  for (let i = 0; i < count; i++) out.set(dropoutSeedPair(stream.next()), 2 * i);
  return out;
}
