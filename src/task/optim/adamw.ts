// AdamW exactly like PyTorch's torch.optim.AdamW (what ratsnlp trains with), over the
// model's named tf.Variables, with BERT's two parameter groups: weight decay on
// the weight matrices, none on biases and LayerNorm weights.
//
// One step, per parameter p with gradient g (t = steps so far, counted on the host):
//   p  *= 1 - lr * weightDecay                      (decoupled decay; decay group only)
//   m   = beta1 * m + (1 - beta1) * g               (exp_avg)
//   v   = beta2 * v + (1 - beta2) * g²              (exp_avg_sq)
//   p  -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
//
// Two interchangeable kernels compute it:
//   'fused' (native backend): TensorFlow's ResourceApplyAdam does the moments and the
//           update in one in-place pass (see tf-kernels.ts). 3-4x faster: ~0.26 s
//           per kcbert-base step on 2 cores, PyTorch ~0.28 s (bench/adamw-step.ts).
//   'ops'   (any backend): the formula above as tfjs ops, in PyTorch's order.
// Both match PyTorch to float32 rounding (test/optim.test.ts).
//
// Per-parameter learning rates (options.lrScale, e.g. layer-wise decay): parameter p
// uses lr * scale(p) in the update AND in the decoupled decay, exactly as a torch
// param group with lr = base lr * scale (LambdaLR scales every group's rate alike).
// Parameters are grouped by their scale, and the kernel's per-step scalars are made
// once per distinct scale; without lrScale there is one group and the step is as before.
import { tf } from '../../util/backend';
import { check, NlpbookError } from '../../util/errors';
import type { Settings } from '../../settings/index';
import type { NamedTensors } from './clip';
import { applyAdam, ApplyAdamScalars, nativeKernelsAvailable, ResourceVariable } from './tf-kernels';

/**
 * Whether weight decay applies to the parameter called `name` (Hugging Face naming).
 * No decay on biases and LayerNorm weights, BERT's recipe (transformers' examples:
 * no_decay = ["bias", "LayerNorm.weight"]); `gamma`/`beta` are LayerNorm's names in
 * checkpoints converted from the original TensorFlow BERT.
 */
export function decayApplies(name: string): boolean {
  return !/(^|\.)(bias|gamma|beta)$/.test(name) && !/(^|\.)LayerNorm\.weight$/.test(name);
}

export type AdamWKernel = 'fused' | 'ops';

export interface AdamWOptions {
  /** Rate used when step() is given none (the trainer passes the schedule's). */
  lr: number;
  /** Decoupled weight decay of the decay group (torch's default is 0.01). */
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Default: 'fused' when the native backend runs, else 'ops'. */
  kernel?: AdamWKernel;
  /**
   * Multiplier of the learning rate of each parameter, by name (default 1 for all):
   * parameter p steps with lr * lrScale(p), weight decay included (torch param groups
   * with lr = base * scale). Called once per parameter in the constructor; each
   * must be a finite number >= 0. See layerLrScale() for layer-wise decay.
   */
  lrScale?: (name: string) => number;
}

/** AdamW options from the course settings. */
export function adamWOptions(
  settings: Pick<Settings, 'learningRate' | 'weightDecay' | 'adamBeta1' | 'adamBeta2' | 'adamEpsilon'>,
): AdamWOptions {
  return {
    lr: settings.learningRate,
    weightDecay: settings.weightDecay,
    beta1: settings.adamBeta1,
    beta2: settings.adamBeta2,
    eps: settings.adamEpsilon,
  };
}

export interface StepOptions {
  /** This step's learning rate (e.g. lrAt(schedule, optimizer.stepCount)); default options.lr. */
  lr?: number;
  /**
   * Multiplies every gradient first (each just before its update): pass
   * clipScale(...).scale to clip. A plain 1 skips the multiply (torch's clamp gives
   * exactly 1 when the norm is under the limit), saving one pass over the gradients.
   */
  gradScale?: tf.Scalar | number;
}

/**
 * Optimizer state for a checkpoint, all on the host. Tensor names are
 * `exp_avg.<param>` and `exp_avg_sq.<param>`; meta values are strings, ready for
 * safetensors' __metadata__. The arrays hold the kernel's moments exactly (so a
 * resume continues bit for bit); PyTorch's exp_avg is exp_avg / meta.exp_avg_scale,
 * and likewise exp_avg_sq (scales are 1 for 'ops'; ~1 ± 1e-5 for 'fused').
 */
export interface AdamWState {
  tensors: Record<string, Float32Array>;
  shapes: Record<string, number[]>;
  meta: Record<string, string>;
}

const STATE_FORMAT = 'nlpbook-adamw/1';

/** Host-side numbers of one step, shared by every parameter. */
interface StepNumbers {
  lr: number;
  step: number;
}

interface Betas {
  beta1: number;
  beta2: number;
  eps: number;
}

/** Where a kernel keeps the moments and how it updates one parameter. */
interface MomentKernel {
  /** The kernel's exp_avg and exp_avg_sq are PyTorch's times these (float32 effects). */
  readonly scales: { expAvg: number; expAvgSq: number };
  /** Per-step scalars (created once per step, disposed by the caller). */
  scalars(n: StepNumbers): Record<string, tf.Scalar>;
  update(i: number, grad: tf.Tensor, decayFactor: tf.Scalar | null, s: Record<string, tf.Scalar>): void;
  /** Copies of parameter i's moments (the caller disposes them). */
  read(i: number): [tf.Tensor, tf.Tensor];
  /** Takes ownership of the two tensors. */
  write(i: number, expAvg: tf.Tensor, expAvgSq: tf.Tensor): void;
  dispose(): void;
}

interface Param {
  name: string;
  variable: tf.Variable;
  decay: boolean;
  /** Index into AdamW.scales (the parameter's learning-rate multiplier). */
  group: number;
}

/**
 * Layer-wise learning-rate decay (ELECTRA, Clark et al. 2020; ULMFiT's discriminative
 * fine-tuning): the multiplier of each BERT parameter by its Hugging Face name.
 * The head (classifier, pooler, anything outside the encoder) gets 1, encoder layer
 * N of `numLayers` gets decay^(numLayers - N), the embeddings decay^(numLayers + 1).
 * decay 1 gives 1 everywhere.
 */
export function layerLrScale(name: string, numLayers: number, decay: number): number {
  check(decay > 0 && decay <= 1, `settings.layerLrDecay: expected a number > 0 and <= 1, got ${decay}`);
  if (/(^|\.)embeddings\./.test(name)) return decay ** (numLayers + 1);
  const layer = /(^|\.)encoder\.layer\.(\d+)\./.exec(name);
  if (layer) {
    const n = Number(layer[2]);
    check(n < numLayers, `layerLrScale: ${name} is in layer ${n}, but the model has ${numLayers} layers`);
    return decay ** (numLayers - n);
  }
  return 1;
}

export class AdamW {
  readonly options: Readonly<Required<Omit<AdamWOptions, 'lrScale'>> & Pick<AdamWOptions, 'lrScale'>>;
  private readonly params: Param[];
  private readonly kernelImpl: MomentKernel;
  /** The distinct learning-rate multipliers, in order of first use ([1] without lrScale). */
  private readonly scales: number[];
  private steps = 0;

  constructor(params: Iterable<[string, tf.Variable]>, options: AdamWOptions) {
    const { lr, weightDecay, beta1, beta2, eps } = options;
    check(lr >= 0 && Number.isFinite(lr), `AdamW: lr must be a finite number >= 0, got ${lr}`);
    check(weightDecay >= 0, `settings.weightDecay: expected >= 0, got ${weightDecay}`);
    check(beta1 >= 0 && beta1 < 1, `settings.adamBeta1: expected 0 <= beta1 < 1, got ${beta1}`);
    check(beta2 >= 0 && beta2 < 1, `settings.adamBeta2: expected 0 <= beta2 < 1, got ${beta2}`);
    check(eps >= 0, `settings.adamEpsilon: expected >= 0, got ${eps}`);
    const kernel = options.kernel ?? (nativeKernelsAvailable() ? 'fused' : 'ops');
    check(kernel !== 'fused' || nativeKernelsAvailable(), `AdamW: kernel "fused" needs the native tensorflow backend; this one is "${tf.getBackend()}"`);
    this.options = Object.freeze({ ...options, kernel });

    this.params = [];
    this.scales = [];
    const seen = new Set<string>();
    for (const [name, variable] of params) {
      check(!seen.has(name), `AdamW: parameter ${name} is listed twice`);
      check(variable.dtype === 'float32', `AdamW: parameter ${name} is ${variable.dtype}; expected float32`);
      seen.add(name);
      const scale = options.lrScale ? options.lrScale(name) : 1;
      check(typeof scale === 'number' && scale >= 0 && Number.isFinite(scale), `AdamW: lrScale(${name}) must be a finite number >= 0, got ${scale}`);
      let group = this.scales.indexOf(scale);
      if (group < 0) group = this.scales.push(scale) - 1;
      this.params.push({ name, variable, decay: decayApplies(name), group });
    }
    check(this.params.length > 0, 'AdamW: no parameters to optimize');
    const variables = this.params.map((p) => p.variable);
    const betas = { beta1, beta2, eps };
    this.kernelImpl = kernel === 'fused' ? new FusedKernel(variables, betas) : new OpsKernel(variables, betas);
  }

  /** Optimizer steps taken so far (PyTorch's state['step']). */
  get stepCount(): number {
    return this.steps;
  }

  /** Parameter names of the two groups, in order: with and without weight decay. */
  groups(): { decay: string[]; noDecay: string[] } {
    return {
      decay: this.params.filter((p) => p.decay).map((p) => p.name),
      noDecay: this.params.filter((p) => !p.decay).map((p) => p.name),
    };
  }

  /** The learning-rate multiplier of each parameter, by name, in parameter order (all 1 without lrScale). */
  lrScales(): Map<string, number> {
    return new Map(this.params.map((p) => [p.name, this.scales[p.group]]));
  }

  /**
   * One AdamW step. `grads` maps each parameter's name (or its tf.Variable's own
   * name, as tf.variableGrads returns) to its gradient; every parameter needs one,
   * other entries are ignored. Variables are updated in place (assign); nothing is read back to the host.
   */
  step(grads: NamedTensors, options: StepOptions = {}): void {
    const lr = options.lr ?? this.options.lr;
    check(lr >= 0 && Number.isFinite(lr), `AdamW.step: lr must be a finite number >= 0, got ${lr}`);
    const gradOf = (name: string) => (grads instanceof Map ? grads.get(name) : grads[name]);
    const ordered = this.params.map((p) => {
      const g = gradOf(p.name) ?? gradOf(p.variable.name);
      if (!g) throw new NlpbookError(`AdamW.step: no gradient for parameter ${p.name}`);
      check(
        g.shape.length === p.variable.shape.length && g.shape.every((d, k) => d === p.variable.shape[k]),
        () => `AdamW.step: gradient of ${p.name} has shape [${g.shape}], the parameter [${p.variable.shape}]`,
      );
      return g;
    });

    this.steps += 1;
    const { weightDecay } = this.options;
    const owned: tf.Tensor[] = [];
    const own = <T extends tf.Tensor>(t: T): T => (owned.push(t), t);
    try {
      // Per distinct learning-rate multiplier (one without lrScale): the kernel's scalars and
      // torch's param.mul_(1 - lr * weight_decay), the factor computed in float64.
      const perGroup = this.scales.map((m) => {
        const groupLr = m === 1 ? lr : lr * m;
        const scalars = this.kernelImpl.scalars({ lr: groupLr, step: this.steps });
        owned.push(...Object.values(scalars));
        const decayFactor = weightDecay !== 0 ? own(tf.scalar(1 - groupLr * weightDecay)) : null;
        return { scalars, decayFactor };
      });
      const scale = options.gradScale;
      const scaleTensor = scale === undefined || scale === 1 ? null : typeof scale === 'number' ? own(tf.scalar(scale)) : scale;
      this.params.forEach((p, i) => {
        const { scalars, decayFactor } = perGroup[p.group];
        // One tidy per parameter: temporaries of the 92 MB embedding die before the next one.
        tf.tidy(() => {
          const g = scaleTensor ? tf.mul(ordered[i], scaleTensor) : ordered[i];
          this.kernelImpl.update(i, g, p.decay ? decayFactor : null, scalars);
        });
      });
    } finally {
      owned.forEach((t) => t.dispose());
    }
  }

  /** The state for a checkpoint: moments copied to the host, plus step and settings. */
  state(): AdamWState {
    const tensors: Record<string, Float32Array> = {};
    const shapes: Record<string, number[]> = {};
    this.params.forEach((p, i) => {
      const [m, v] = this.kernelImpl.read(i);
      try {
        tensors[`exp_avg.${p.name}`] = m.dataSync() as Float32Array;
        tensors[`exp_avg_sq.${p.name}`] = v.dataSync() as Float32Array;
      } finally {
        m.dispose();
        v.dispose();
      }
      shapes[`exp_avg.${p.name}`] = [...p.variable.shape];
      shapes[`exp_avg_sq.${p.name}`] = [...p.variable.shape];
    });
    const o = this.options;
    const meta: Record<string, string> = {
      format: STATE_FORMAT,
      step: String(this.steps),
      kernel: o.kernel,
      lr: String(o.lr),
      weight_decay: String(o.weightDecay),
      beta1: String(o.beta1),
      beta2: String(o.beta2),
      eps: String(o.eps),
      exp_avg_scale: String(this.kernelImpl.scales.expAvg),
      exp_avg_sq_scale: String(this.kernelImpl.scales.expAvgSq),
    };
    // Only with per-parameter rates (informative, like lr; never read back): the multipliers other than 1.
    const scaled = this.params.filter((p) => this.scales[p.group] !== 1);
    if (scaled.length) meta.lr_scales = JSON.stringify(Object.fromEntries(scaled.map((p) => [p.name, this.scales[p.group]])));
    return { tensors, shapes, meta };
  }

  /**
   * Restores a state() (from this or another kernel) exactly: the next step is the
   * one the saving optimizer would have taken. Hyperparameters stay this optimizer's.
   */
  loadState(state: AdamWState): void {
    const { meta, tensors } = state;
    check(meta.format === STATE_FORMAT, `optimizer state: format "${meta.format}", expected "${STATE_FORMAT}"`);
    const step = Number(meta.step);
    check(Number.isInteger(step) && step >= 0, `optimizer state: step "${meta.step}" is not a whole number`);
    const expected = new Set(this.params.flatMap((p) => [`exp_avg.${p.name}`, `exp_avg_sq.${p.name}`]));
    for (const key of Object.keys(tensors)) {
      check(expected.has(key), `optimizer state: ${key} belongs to no parameter of this model`);
    }
    // Convert between kernels' float32 conventions only when they differ (else bit-exact).
    const rescale = (key: 'exp_avg_scale' | 'exp_avg_sq_scale', ours: number) => {
      const theirs = Number(meta[key] ?? '1');
      check(theirs > 0, `optimizer state: ${key} "${meta[key]}" is not a positive number`);
      return theirs === ours ? null : ours / theirs;
    };
    const mFactor = rescale('exp_avg_scale', this.kernelImpl.scales.expAvg);
    const vFactor = rescale('exp_avg_sq_scale', this.kernelImpl.scales.expAvgSq);
    const load = (key: string, shape: number[], factor: number | null): tf.Tensor => {
      const data = tensors[key];
      check(data !== undefined, `optimizer state: ${key} is missing`);
      const size = shape.reduce((a, b) => a * b, 1);
      check(data.length === size, `optimizer state: ${key} has ${data.length} values, the parameter ${size}`);
      return tf.tensor(factor === null ? data : data.map((x) => x * factor), shape, 'float32');
    };
    // Check everything before changing anything.
    for (const key of expected) check(tensors[key] !== undefined, `optimizer state: ${key} is missing`);
    this.params.forEach((p, i) => {
      const m = load(`exp_avg.${p.name}`, p.variable.shape, mFactor);
      const v = load(`exp_avg_sq.${p.name}`, p.variable.shape, vFactor);
      this.kernelImpl.write(i, m, v);
    });
    this.steps = step;
  }

  /** Frees the moments (the parameters stay the model's). */
  dispose(): void {
    this.kernelImpl.dispose();
  }
}

/** The formula as tfjs ops in PyTorch's order (_single_tensor_adam), for any backend. */
class OpsKernel implements MomentKernel {
  readonly scales = { expAvg: 1, expAvgSq: 1 };
  private readonly m: tf.Tensor[];
  private readonly v: tf.Tensor[];

  constructor(
    private readonly variables: tf.Variable[],
    private readonly hyper: Betas,
  ) {
    this.m = variables.map((p) => tf.keep(tf.zerosLike(p)));
    this.v = variables.map((p) => tf.keep(tf.zerosLike(p)));
  }

  scalars({ lr, step }: StepNumbers): Record<string, tf.Scalar> {
    const { beta1, beta2, eps } = this.hyper;
    const biasCorrection1 = 1 - beta1 ** step;
    const biasCorrection2 = 1 - beta2 ** step;
    return {
      lerpWeight: tf.scalar(1 - beta1),
      beta2: tf.scalar(beta2),
      oneMinusBeta2: tf.scalar(1 - beta2),
      biasCorrection2Sqrt: tf.scalar(Math.sqrt(biasCorrection2)),
      eps: tf.scalar(eps),
      negStepSize: tf.scalar(-lr / biasCorrection1),
    };
  }

  update(i: number, g: tf.Tensor, decayFactor: tf.Scalar | null, s: Record<string, tf.Scalar>): void {
    const p = this.variables[i];
    const m = tf.add(this.m[i], tf.mul(tf.sub(g, this.m[i]), s.lerpWeight)); // exp_avg.lerp_(grad, 1 - beta1)
    const v = tf.add(tf.mul(this.v[i], s.beta2), tf.mul(tf.mul(g, s.oneMinusBeta2), g)); // mul_(beta2).addcmul_(g, g, 1 - beta2)
    const denom = tf.add(tf.div(tf.sqrt(v), s.biasCorrection2Sqrt), s.eps);
    const decayed = decayFactor ? tf.mul(p, decayFactor) : p;
    p.assign(tf.add(decayed, tf.div(tf.mul(m, s.negStepSize), denom))); // addcdiv_(exp_avg, denom, -step_size)
    this.replace(i, tf.keep(m), tf.keep(v));
  }

  read(i: number): [tf.Tensor, tf.Tensor] {
    return [this.m[i].clone(), this.v[i].clone()];
  }

  write(i: number, expAvg: tf.Tensor, expAvgSq: tf.Tensor): void {
    this.replace(i, expAvg, expAvgSq);
  }

  private replace(i: number, m: tf.Tensor, v: tf.Tensor): void {
    this.m[i].dispose();
    this.v[i].dispose();
    this.m[i] = m;
    this.v[i] = v;
  }

  dispose(): void {
    [...this.m, ...this.v].forEach((t) => t.dispose());
  }
}

/**
 * TensorFlow's ResourceApplyAdam, steered to compute PyTorch's AdamW:
 * - beta powers are passed as 0, so the kernel's rate is exactly the `lr` we give;
 *   bias corrections are folded into that rate and epsilon on the host
 *   (lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps) == (lr*sqrt(bc2)/bc1) * m / (sqrt(v) + eps*sqrt(bc2))).
 * - the kernel computes 1 - beta in float32 (1 - 0.999f = 0.00099998713, PyTorch uses
 *   0.001f), so its moments are PyTorch's times a constant `scales`; the rate and
 *   epsilon divide that back out.
 * Weight decay is a separate multiply; the decayed copy is handed to the resource
 * variable and released, so the kernel updates it in place.
 */
class FusedKernel implements MomentKernel {
  readonly scales: { expAvg: number; expAvgSq: number };
  private readonly params: ResourceVariable[];
  private readonly m: ResourceVariable[];
  private readonly v: ResourceVariable[];
  private readonly constants: { zero: tf.Scalar; beta1: tf.Scalar; beta2: tf.Scalar };

  constructor(
    private readonly variables: tf.Variable[],
    private readonly hyper: Betas,
  ) {
    const { beta1, beta2 } = hyper;
    const f32 = Math.fround;
    // (1 - beta) as the kernel computes it (float32) over what PyTorch uses (float64 rounded to float32).
    this.scales = {
      expAvg: f32(1 - f32(beta1)) / f32(1 - beta1),
      expAvgSq: f32(1 - f32(beta2)) / f32(1 - beta2),
    };
    this.constants = { zero: tf.keep(tf.scalar(0)), beta1: tf.keep(tf.scalar(beta1)), beta2: tf.keep(tf.scalar(beta2)) };
    this.params = variables.map((p) => new ResourceVariable(p));
    const zeros = (p: tf.Variable) => {
      const z = tf.zerosLike(p);
      const variable = new ResourceVariable(z);
      z.dispose(); // the variable keeps the only reference, so updates happen in place
      return variable;
    };
    this.m = variables.map(zeros);
    this.v = variables.map(zeros);
  }

  scalars({ lr, step }: StepNumbers): Record<string, tf.Scalar> {
    const { beta1, beta2, eps } = this.hyper;
    const biasCorrection1 = 1 - beta1 ** step;
    const biasCorrection2Sqrt = Math.sqrt(1 - beta2 ** step);
    const vScaleSqrt = Math.sqrt(this.scales.expAvgSq);
    return {
      lr: tf.scalar(((lr / biasCorrection1) * biasCorrection2Sqrt * vScaleSqrt) / this.scales.expAvg),
      epsilon: tf.scalar(eps * biasCorrection2Sqrt * vScaleSqrt),
    };
  }

  update(i: number, g: tf.Tensor, decayFactor: tf.Scalar | null, s: Record<string, tf.Scalar>): void {
    const p = this.variables[i];
    if (decayFactor) {
      const decayed = tf.mul(p, decayFactor);
      this.params[i].assign(decayed);
      decayed.dispose(); // the resource variable now holds the only reference: updated in place
    } else {
      this.params[i].assign(p); // shared with `p`, so the kernel copies once (copy-on-write)
    }
    const { zero, beta1, beta2 } = this.constants;
    const scalars: ApplyAdamScalars = { beta1Power: zero, beta2Power: zero, lr: s.lr, beta1, beta2, epsilon: s.epsilon };
    applyAdam(this.params[i], this.m[i], this.v[i], scalars, g);
    p.assign(this.params[i].read());
  }

  read(i: number): [tf.Tensor, tf.Tensor] {
    return [this.m[i].read(), this.v[i].read()];
  }

  write(i: number, expAvg: tf.Tensor, expAvgSq: tf.Tensor): void {
    this.m[i].assign(expAvg);
    this.v[i].assign(expAvgSq);
    expAvg.dispose();
    expAvgSq.dispose();
  }

  dispose(): void {
    [...this.params, ...this.m, ...this.v].forEach((r) => r.dispose());
    Object.values(this.constants).forEach((t) => t.dispose());
  }
}
