// The few tensor operations BERT is made of, written for training speed on
// tfjs-node: each is a handful of large native ops, and the ones autodiff would
// turn into long chains of small backward ops (LayerNorm, GELU) carry their own
// closed-form gradient (tf.customGrad), which also keeps fewer tensors alive
// between forward and backward.
import { tf } from '../backend';
import type { HiddenAct } from './config';

/** tf.customGrad with the argument types spelled out (tfjs types every argument as Tensor | GradSaveFunc). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function customGrad(f: (...args: any[]) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[] }): (...inputs: tf.Tensor[]) => tf.Tensor {
  return tf.customGrad(f as Parameters<typeof tf.customGrad>[0]) as (...inputs: tf.Tensor[]) => tf.Tensor;
}

/** x·Wᵀ + b with W in PyTorch's [out, in] layout (see bert.ts for why that layout). */
export function linear(x: tf.Tensor2D, weight: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  return tf.add(tf.matMul(x, weight, false, true), bias);
}

/**
 * LayerNorm over the last axis, like torch.nn.LayerNorm (biased variance, eps
 * inside the square root). The backward pass is the closed form
 *   dx = rstd · (g − mean(g) − x̂ · mean(g · x̂)),  g = dy · γ
 * which is 9 native ops instead of the ~20 autodiff would record.
 */
export function layerNorm(x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor2D {
  const f = customGrad((xIn: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const x2 = xIn as tf.Tensor2D;
    const mean = tf.mean(x2, -1, true);
    const centered = tf.sub(x2, mean);
    const variance = tf.mean(tf.square(centered), -1, true);
    const rstd = tf.rsqrt(tf.add(variance, eps));
    const xhat = tf.mul(centered, rstd);
    save([xhat, rstd, g]);
    return {
      value: tf.add(tf.mul(xhat, g), b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, rs, gam] = saved;
        const dxhat = tf.mul(dy, gam);
        const meanD = tf.mean(dxhat, -1, true);
        const meanDX = tf.mean(tf.mul(dxhat, xh), -1, true);
        const dx = tf.mul(tf.sub(tf.sub(dxhat, meanD), tf.mul(xh, meanDX)), rs);
        const dGamma = tf.sum(tf.mul(dy, xh), 0);
        const dBeta = tf.sum(dy, 0);
        return [dx, dGamma, dBeta];
      },
    };
  });
  return f(x, gamma, beta) as tf.Tensor2D;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** The exact GELU, x·Φ(x) with Φ via erf (PyTorch's nn.GELU(), HF's "gelu"); closed-form gradient Φ(x) + x·φ(x). */
export function geluErf(x: tf.Tensor): tf.Tensor {
  const f = customGrad((xIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const cdf = tf.mul(tf.add(tf.erf(tf.mul(xIn, Math.SQRT1_2)), 1), 0.5);
    save([xIn, cdf]);
    return {
      value: tf.mul(xIn, cdf),
      gradFunc: (dy: tf.Tensor, [xs, c]: tf.Tensor[]) => {
        const pdf = tf.mul(tf.exp(tf.mul(tf.square(xs), -0.5)), INV_SQRT_2PI);
        return [tf.mul(dy, tf.add(c, tf.mul(xs, pdf)))];
      },
    };
  });
  return f(x);
}

/** The tanh approximation of GELU (HF's "gelu_new" / "gelu_pytorch_tanh"); autodiff is fine here (rarely used). */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), SQRT_2_OVER_PI);
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

export function activation(name: HiddenAct, x: tf.Tensor): tf.Tensor {
  switch (name) {
    case 'gelu': return geluErf(x);
    case 'gelu_new': case 'gelu_pytorch_tanh': case 'gelu_fast': return geluTanh(x);
    case 'relu': return tf.relu(x);
  }
}

/**
 * Inverted dropout with a mask drawn from `seed`: zero each element with
 * probability `rate`, scale the rest by 1/(1 − rate). The mask is made in plain
 * JS (xoshiro128+, one uint32 per element, compared against rate·2³²) and
 * multiplied in one native op; that is about twice as fast as tf.dropout's
 * uniform + add + floor + div chain and gives the same masks on every backend.
 */
export function dropout<T extends tf.Tensor>(x: T, rate: number, seed: number): T {
  if (rate <= 0) return x;
  const mask = tf.tensor(dropoutMask(x.size, rate, seed), x.shape, 'float32');
  return tf.mul(x, mask);
}

/** The multiplier array dropout uses: 0 or 1/(1 − rate), `n` values from `seed`. */
export function dropoutMask(n: number, rate: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  const threshold = Math.floor(rate * 4294967296);
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
  let s0 = mix(), s1 = mix(), s2 = mix(), s3 = mix();
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  for (let i = 0; i < n; i++) {
    const r = (s0 + s3) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    out[i] = r >= threshold ? keep : 0;
  }
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
