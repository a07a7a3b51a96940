// The tensor operations BERT is made of, each as a forward function and its
// hand-written backward function, plus tf.customGrad wrappers for use on their own.
//
// Why hand-written backward passes: tfjs's autodiff keeps, for every op of the
// forward pass, its inputs alive until the whole backward pass ends (an Add keeps
// both operands just to know their shapes), keeps every intermediate gradient until
// the end too, and records long chains of small ops. BERT-base at batch 32 × 128
// tokens then needs over 20 GB and is killed on a 24 GB machine. Written out, each
// piece saves only what its backward needs (linear: its input; attention: q, k, v,
// the probabilities and the dropout mask; LayerNorm: x̂ and 1/σ), and encoder.ts
// chains them per layer, freeing each gradient as soon as it is used.
import { tf } from '../util/backend';
import type { HiddenAct } from './config';

type GradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[];

/** tf.customGrad with the argument types spelled out, and the backward pass run inside tf.tidy. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function customGrad(f: (...args: any[]) => { value: tf.Tensor; gradFunc: GradFunc }): (...inputs: tf.Tensor[]) => tf.Tensor {
  const tidied = (...args: unknown[]) => {
    const { value, gradFunc } = f(...args);
    return { value, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => gradFunc(dy, saved)) };
  };
  return tf.customGrad(tidied as Parameters<typeof tf.customGrad>[0]) as (...inputs: tf.Tensor[]) => tf.Tensor;
}

// ---------------------------------------------------------------- linear

/**
 * x·Wᵀ + b with W in PyTorch's [out, in] layout (see bert.ts for why that layout).
 * Not tf.fused.matMul: on tfjs-node that kernel is this same matMul + add (TensorFlow
 * has no eager fused op it can call); a whole training step measured no faster.
 */
export function linearForward(x: tf.Tensor2D, weight: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  return tf.add(tf.matMul(x, weight, false, true), bias);
}

export function linearBackward(dy: tf.Tensor2D, x: tf.Tensor2D, weight: tf.Tensor2D): { dx: tf.Tensor2D; dWeight: tf.Tensor2D; dBias: tf.Tensor1D } {
  if (awkwardWidth(x.shape[1])) {
    // Same products, computed transposed so the wide operand is never the plain right-hand side.
    return {
      dx: tf.transpose(tf.matMul(weight, dy, true, true)) as tf.Tensor2D, // (Wᵀ·dyᵀ)ᵀ
      dWeight: tf.transpose(tf.matMul(x, dy, true, false)) as tf.Tensor2D, // (xᵀ·dy)ᵀ
      dBias: tf.sum(dy, 0),
    };
  }
  return {
    dx: tf.matMul(dy, weight), // dy·W
    dWeight: tf.matMul(dy, x, true, false), // dyᵀ·x
    dBias: tf.sum(dy, 0),
  };
}

/**
 * TensorFlow's CPU matmul (oneDNN) is 2-2.5x slower when the right-hand operand is
 * NOT transposed and its rows are 2560 or 3072 floats wide (BERT-base's intermediate
 * size): measured on 2 cores, 512 tokens, 3072 -> 768: dy·W 25.6 ms CPU vs 14.4 ms for
 * (Wᵀ·dyᵀ)ᵀ incl. the transpose; dyᵀ·x 31.3 vs 16.1 ms. Widths 2048 and 4096 were
 * not affected (the transposed form was 10-40% slower there), nor were smaller ones.
 */
export function awkwardWidth(n: number): boolean {
  return n > 2048 && (n & (n - 1)) !== 0;
}

/** linearForward with its gradient; saves only x and W. */
export function linear(x: tf.Tensor2D, weight: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  const f = customGrad((xIn: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
    save([xIn, w]);
    return {
      value: linearForward(xIn, w, b),
      gradFunc: (dy, [xs, ws]) => {
        const g = linearBackward(dy as tf.Tensor2D, xs as tf.Tensor2D, ws as tf.Tensor2D);
        return [g.dx, g.dWeight, g.dBias];
      },
    };
  });
  return f(x, weight, bias) as tf.Tensor2D;
}

// ---------------------------------------------------------------- LayerNorm

/** LayerNorm over the last axis, like torch.nn.LayerNorm (biased variance, eps inside the square root). */
export function layerNormForward(x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): { y: tf.Tensor2D; xhat: tf.Tensor2D; rstd: tf.Tensor2D } {
  const centered = tf.sub(x, tf.mean(x, -1, true));
  const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centered), -1, true), eps)) as tf.Tensor2D;
  const xhat = tf.mul(centered, rstd) as tf.Tensor2D;
  return { y: tf.add(tf.mul(xhat, gamma), beta), xhat, rstd };
}

/** The closed form  dx = (1/σ)·(g − mean(g) − x̂·mean(g·x̂)),  g = dy·γ. */
export function layerNormBackward(dy: tf.Tensor2D, xhat: tf.Tensor2D, rstd: tf.Tensor2D, gamma: tf.Tensor1D): { dx: tf.Tensor2D; dGamma: tf.Tensor1D; dBeta: tf.Tensor1D } {
  const g = tf.mul(dy, gamma);
  const meanG = tf.mean(g, -1, true);
  const meanGX = tf.mean(tf.mul(g, xhat), -1, true);
  return {
    dx: tf.mul(tf.sub(tf.sub(g, meanG), tf.mul(xhat, meanGX)), rstd),
    dGamma: tf.sum(tf.mul(dy, xhat), 0),
    dBeta: tf.sum(dy, 0),
  };
}

/** layerNormForward with its gradient; saves x̂, 1/σ and γ. */
export function layerNorm(x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor2D {
  const f = customGrad((xIn: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
    const { y, xhat, rstd } = layerNormForward(xIn, g, b, eps);
    save([xhat, rstd, g]);
    return {
      value: y,
      gradFunc: (dy, [xh, rs, gs]) => {
        const r = layerNormBackward(dy as tf.Tensor2D, xh as tf.Tensor2D, rs as tf.Tensor2D, gs as tf.Tensor1D);
        return [r.dx, r.dGamma, r.dBeta];
      },
    };
  });
  return f(x, gamma, beta) as tf.Tensor2D;
}

// ---------------------------------------------------------------- activations

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** What an activation's backward needs: its input, and for erf-GELU Φ(x) too (saves recomputing erf). */
export interface ActivationSaved {
  x: tf.Tensor;
  cdf?: tf.Tensor;
}

/**
 * config.hidden_act: "gelu" is the exact x·Φ(x) with Φ via erf (PyTorch's
 * nn.GELU()); "gelu_new", "gelu_pytorch_tanh" and "gelu_fast" are the tanh
 * approximation; "relu".
 */
export function activationForward(name: HiddenAct, x: tf.Tensor): { y: tf.Tensor; saved: ActivationSaved } {
  switch (name) {
    case 'gelu': {
      const cdf = tf.mul(tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1), 0.5);
      return { y: tf.mul(x, cdf), saved: { x, cdf } };
    }
    case 'gelu_new': case 'gelu_pytorch_tanh': case 'gelu_fast': {
      const t = tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), SQRT_2_OVER_PI));
      return { y: tf.mul(tf.mul(x, 0.5), tf.add(t, 1)), saved: { x } };
    }
    case 'relu':
      return { y: tf.relu(x), saved: { x } };
  }
}

export function activationBackward(name: HiddenAct, dy: tf.Tensor, { x, cdf }: ActivationSaved): tf.Tensor {
  switch (name) {
    case 'gelu': {
      // d/dx x·Φ(x) = Φ(x) + x·φ(x)
      const pdf = tf.mul(tf.exp(tf.mul(tf.square(x), -0.5)), INV_SQRT_2PI);
      return tf.mul(dy, tf.add(cdf as tf.Tensor, tf.mul(x, pdf)));
    }
    case 'gelu_new': case 'gelu_pytorch_tanh': case 'gelu_fast': {
      // y = x/2·(1 + tanh u), u = c·(x + a·x³): y' = (1 + t)/2 + x/2·(1 − t²)·c·(1 + 3a·x²)
      const t = tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), SQRT_2_OVER_PI));
      const du = tf.mul(tf.add(tf.mul(tf.square(x), 3 * 0.044715), 1), SQRT_2_OVER_PI);
      const grad = tf.add(tf.mul(tf.add(t, 1), 0.5), tf.mul(tf.mul(tf.mul(x, 0.5), tf.sub(1, tf.square(t))), du));
      return tf.mul(dy, grad);
    }
    case 'relu':
      return tf.mul(dy, tf.step(x));
  }
}

/** activationForward with its gradient. */
export function activation(name: HiddenAct, x: tf.Tensor): tf.Tensor {
  const f = customGrad((xIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const { y, saved } = activationForward(name, xIn);
    save(saved.cdf ? [saved.x, saved.cdf] : [saved.x]);
    return { value: y, gradFunc: (dy, [xs, cdf]) => [activationBackward(name, dy, { x: xs, cdf })] };
  });
  return f(x);
}

/** The exact GELU (config "gelu"), with its gradient. */
export function geluErf(x: tf.Tensor): tf.Tensor {
  return activation('gelu', x);
}

// ---------------------------------------------------------------- attention

export interface AttentionShape {
  batch: number;
  length: number;
  heads: number;
}

export interface AttentionSaved {
  qh: tf.Tensor4D;
  kh: tf.Tensor4D;
  vh: tf.Tensor4D;
  probs: tf.Tensor4D;
  mask: tf.Tensor4D | null;
}

/** [batch·length, hidden] -> [batch, heads, length, headSize]: one reshape, one transpose. */
function splitHeads(t: tf.Tensor, { batch, length, heads }: AttentionShape): tf.Tensor4D {
  return tf.transpose(tf.reshape(t, [batch, length, heads, t.shape[1]! / heads]), [0, 2, 1, 3]);
}

/** [batch, heads, length, headSize] -> [batch·length, hidden]. */
function mergeHeads(t: tf.Tensor): tf.Tensor2D {
  const [B, heads, L, D] = t.shape;
  return tf.reshape(tf.transpose(t, [0, 2, 1, 3]), [B * L, heads * D]);
}

/**
 * Multi-head scaled dot-product attention on projections q, k, v ([batch·length,
 * hidden], q already scaled by 1/√headSize): softmax(q·kᵀ + mask)·v per head, with
 * dropout on the probabilities when `dropoutRate` > 0 (like HF). `maskAdd` is
 * [batch, 1, 1, length]: 0 at real tokens, a large negative at padding. Returns the
 * heads' outputs side by side, [batch·length, hidden].
 */
export function attentionForward(q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, maskAdd: tf.Tensor | null, shape: AttentionShape,
  dropoutRate: number, seed: number): { context: tf.Tensor2D; saved: AttentionSaved } {
  const qh = splitHeads(q, shape);
  const kh = splitHeads(k, shape);
  const vh = splitHeads(v, shape);
  let scores: tf.Tensor4D = tf.matMul(qh, kh, false, true);
  if (maskAdd) scores = tf.add(scores, maskAdd);
  const probs = tf.softmax(scores);
  const mask = dropoutRate > 0 ? dropoutMaskTensor<tf.Rank.R4>(probs.shape, dropoutRate, seed) : null;
  const context = mergeHeads(tf.matMul(mask ? tf.mul(probs, mask) : probs, vh));
  return { context, saved: { qh, kh, vh, probs, mask } };
}

export function attentionBackward(dContext: tf.Tensor2D, { qh, kh, vh, probs, mask }: AttentionSaved, shape: AttentionShape): { dq: tf.Tensor2D; dk: tf.Tensor2D; dv: tf.Tensor2D } {
  const dc = splitHeads(dContext, shape);
  const dv = tf.matMul(mask ? tf.mul(probs, mask) : probs, dc, true, false);
  let dProbs = tf.matMul(dc, vh, false, true);
  if (mask) dProbs = tf.mul(dProbs, mask);
  // Softmax backward: p · (dp − Σ dp·p)
  const dScores = tf.mul(probs, tf.sub(dProbs, tf.sum(tf.mul(dProbs, probs), -1, true)));
  return { dq: mergeHeads(tf.matMul(dScores, kh)), dk: mergeHeads(tf.matMul(dScores, qh, true, false)), dv: mergeHeads(dv) };
}

// ---------------------------------------------------------------- dropout

/**
 * Inverted dropout as torch.nn.Dropout does it: zero each element with probability
 * `rate`, scale the rest by 1/(1 − rate). The mask is one tensor (dropoutMaskTensor)
 * multiplied in one op; saves only the mask.
 */
export function dropout<T extends tf.Tensor>(x: T, rate: number, seed: number): T {
  if (rate <= 0) return x;
  const f = customGrad((xIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const mask = dropoutMaskTensor(xIn.shape, rate, seed);
    save([mask]);
    return { value: tf.mul(xIn, mask), gradFunc: (dy, [m]) => [tf.mul(dy, m)] };
  });
  return f(x) as T;
}

/**
 * The dropout multiplier (0 or 1/(1 − rate)) as a tensor of `shape`, from `seed`.
 * On the native backend: TensorFlow's StatelessRandomUniform (Philox) keyed by
 * dropoutSeedPair(seed), then u >= rate; the training graph (train-graph.ts) draws the
 * very same numbers, so eager and graph steps agree exactly. Elsewhere (wasm): the
 * JavaScript generator of dropoutMask() (other numbers, same distribution).
 */
export function dropoutMaskTensor<R extends tf.Rank>(shape: tf.ShapeMap[R], rate: number, seed: number): tf.Tensor<R> {
  const dims = shape as number[];
  if (nativeRandomAvailable()) {
    return tf.tidy(() => {
      const u = statelessUniform(dims, dropoutSeedPair(seed));
      return tf.mul(tf.cast(tf.greaterEqual(u, rate), 'float32'), 1 / (1 - rate));
    }) as tf.Tensor<R>;
  }
  const n = dims.reduce((a, b) => a * b, 1);
  return tf.tensor(dropoutMask(n, rate, seed), shape, 'float32') as tf.Tensor<R>;
}

/** The [2] int32 key of StatelessRandomUniform for a dropout seed (a uint32 from SeedStream). */
export function dropoutSeedPair(seed: number): [number, number] {
  return [seed | 0, 0x5eed];
}

/** tfjs-node's backend method that runs any TensorFlow op (not in tfjs's public types). */
interface NativeOps {
  executeSingleOutput(name: string, attrs: { name: string; type: number; value: unknown }[], inputs: tf.Tensor[]): tf.Tensor;
  binding: Record<string, number>;
}

function nativeRandomAvailable(): boolean {
  if (tf.getBackend() !== 'tensorflow') return false;
  return typeof (tf.backend() as unknown as Partial<NativeOps>).executeSingleOutput === 'function';
}

/** Uniform [0, 1) float32 numbers of `shape` from TensorFlow's StatelessRandomUniform (same seed and shape: same numbers). */
function statelessUniform(shape: number[], seed: [number, number]): tf.Tensor {
  const b = tf.backend() as unknown as NativeOps;
  const type = (name: string, value: number) => ({ name, type: b.binding.TF_ATTR_TYPE, value });
  return tf.tidy(() => b.executeSingleOutput('StatelessRandomUniform',
    [type('dtype', b.binding.TF_FLOAT), type('T', b.binding.TF_INT32), type('Tseed', b.binding.TF_INT32)],
    [tf.tensor1d(shape, 'int32'), tf.tensor1d(seed, 'int32')]));
}

/**
 * The multiplier array dropout uses: 0 or 1/(1 − rate), `n` values from `seed`.
 * xoshiro128+ gives 32 random bits per step, used as two 16-bit draws; the drop
 * probability is then round(rate·65536)/65536 (0.1 → 0.100006), a difference
 * far below what training can notice, for 20% less time than one draw per element.
 */
export function dropoutMask(n: number, rate: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  const threshold = Math.round(rate * 65536);
  const keep = 1 / (1 - rate);
  // Seed the four state words through splitmix32 so nearby seeds give unrelated masks.
  let sm = seed >>> 0;
  const mix = () => {
    sm = (sm + 0x9e3779b9) >>> 0;
    let z = sm;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let s0 = mix() | 0, s1 = mix() | 0, s2 = mix() | 0, s3 = mix() | 0;
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  const even = n & ~1;
  for (let i = 0; i < even; i += 2) {
    const r = (s0 + s3) | 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    out[i] = (r & 0xffff) >= threshold ? keep : 0;
    out[i + 1] = r >>> 16 >= threshold ? keep : 0;
  }
  if (even < n) out[even] = ((s0 + s3) & 0xffff) >= threshold ? keep : 0;
  return out;
}

/** A stream of per-call dropout seeds: one per dropout site, in a fixed order, from one seed. */
export class SeedStream {
  private state: number;
  constructor(seed: number) {
    // Mix in the high bits so seeds beyond 2^32 still differ.
    this.state = ((seed >>> 0) ^ Math.imul(Math.floor(seed / 4294967296) >>> 0, 0x9e3779b9)) >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return (z ^ (z >>> 14)) >>> 0;
  }
}
