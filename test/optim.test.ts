// The optimizer pieces against PyTorch's own numbers (test/fixtures/optim.json, made by
// scripts/fixtures/optim.py): AdamW with two parameter groups, the linear warmup
// schedule, global-norm clipping, cross-entropy and accuracy.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { initBackend, tf } from '../src/util/backend';
import { NlpbookError } from '../src/util/errors';
import { DEFAULT_SETTINGS } from '../src/settings/index';
import { AdamW, AdamWKernel, AdamWState, adamWOptions, decayApplies, layerLrScale } from '../src/task/optim/adamw';
import { clipGradNorm, clipScale, accuracy, crossEntropy } from '../src/task/index';
import { linearSchedule, lrAt, warmupStepsFor } from '../src/task/optim/schedule';
import { nativeKernelsAvailable } from '../src/task/optim/tf-kernels';
import { FIXTURES } from './helpers';

type Flat = Record<string, number[]>;
interface TorchStep {
  lr: number;
  total_norm: number;
  grads: Flat;
  clipped_grads: Flat;
  params_after: Flat;
}
const fixture = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'optim.json'), 'utf8'));
const torch = fixture.optimizer as {
  config: { lr: number; beta1: number; beta2: number; eps: number; weight_decay: number; max_grad_norm: number; total_steps: number; warmup_ratio: number; warmup_steps: number };
  no_decay: string[];
  initial: Record<string, { shape: number[]; values: number[] }>;
  steps: TorchStep[];
  final_state: { step: number; exp_avg: Flat; exp_avg_sq: Flat };
  schedules: { total_steps: number; warmup_ratio: number; base_lr: number; warmup_steps: number; lrs: number[] }[];
};
const cfg = torch.config;
const schedule = linearSchedule({ learningRate: cfg.lr, warmupRatio: cfg.warmup_ratio }, cfg.total_steps);
const options = adamWOptions({
  learningRate: cfg.lr,
  weightDecay: cfg.weight_decay,
  adamBeta1: cfg.beta1,
  adamBeta2: cfg.beta2,
  adamEpsilon: cfg.eps,
});

/**
 * Largest error relative to the tensor's largest value (the max-norm relative error).
 * Per element it would mean nothing where a value crosses 0: two float32 programs
 * that differ only in rounding (PyTorch's kernels fuse multiply-adds, TensorFlow's
 * do not) agree to a few ulps of the step, not of a value that is nearly 0. The
 * steps here are ~1e-2, so a wrong formula shows as >1e-4 and rounding as ~1e-7.
 */
function maxRelError(actual: ArrayLike<number>, expected: number[]): number {
  assert.equal(actual.length, expected.length);
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return scale === 0 ? (worst === 0 ? 0 : Infinity) : worst / scale;
}

function assertClose(actual: ArrayLike<number>, expected: number[], what: string, tolerance = 1e-6): void {
  const err = maxRelError(actual, expected);
  assert.ok(err <= tolerance, `${what}: relative error ${err.toExponential(2)} > ${tolerance}`);
}

function makeParams(): Map<string, tf.Variable> {
  const params = new Map<string, tf.Variable>();
  for (const [name, { shape, values }] of Object.entries(torch.initial)) {
    params.set(name, tf.variable(tf.tensor(values, shape), true, `optim-test/${name}/${Math.random()}`));
  }
  return params;
}

function disposeAll(params: Map<string, tf.Variable>): void {
  for (const v of params.values()) v.dispose();
}

/** PyTorch's loop: rate from the schedule, clip_grad_norm_(1.0), AdamW step. Returns the norms. */
function trainSteps(opt: AdamW, params: Map<string, tf.Variable>, from: number, to: number, onStep?: (k: number) => void): number[] {
  const norms: number[] = [];
  for (let k = from; k < to; k++) {
    const grads: tf.NamedTensorMap = {};
    for (const [name, values] of Object.entries(torch.steps[k].grads)) grads[name] = tf.tensor(values, params.get(name)!.shape);
    const { totalNorm, scale } = clipScale(grads, cfg.max_grad_norm);
    opt.step(grads, { lr: lrAt(schedule, opt.stepCount), gradScale: scale });
    norms.push(totalNorm.dataSync()[0]);
    tf.dispose([totalNorm, scale, grads]);
    onStep?.(k);
  }
  return norms;
}

const kernels: AdamWKernel[] = [];

before(async () => {
  await initBackend({ quiet: true });
  kernels.push('ops');
  if (nativeKernelsAvailable()) kernels.push('fused');
});

test('decayApplies: decay on weight matrices, none on biases and LayerNorm weights', () => {
  const decays = [
    'bert.embeddings.word_embeddings.weight',
    'bert.encoder.layer.0.attention.self.query.weight',
    'bert.encoder.layer.11.output.dense.weight',
    'bert.pooler.dense.weight',
    'classifier.weight',
    'bert.embeddings.position_embeddings.weight',
  ];
  const exempt = [
    'bert.embeddings.LayerNorm.weight',
    'bert.embeddings.LayerNorm.bias',
    'bert.encoder.layer.3.attention.output.LayerNorm.weight',
    'bert.encoder.layer.0.attention.self.query.bias',
    'classifier.bias',
    'bert.encoder.layer.0.output.LayerNorm.gamma', // legacy TF-converted names
    'bert.encoder.layer.0.output.LayerNorm.beta',
    'bias',
  ];
  for (const name of decays) assert.equal(decayApplies(name), true, name);
  for (const name of exempt) assert.equal(decayApplies(name), false, name);
  // Only whole name parts count: these are weights, not biases.
  assert.equal(decayApplies('bert.unbiased.weight'), true);
  assert.equal(decayApplies('bert.embeddings.LayerNormX.weight'), true);
  // The fixture's own grouping (transformers' no_decay rule) agrees.
  for (const name of Object.keys(torch.initial)) assert.equal(decayApplies(name), !torch.no_decay.includes(name), name);
});

test('layerLrScale: head 1, top layer d, layer N d^(L-N), embeddings d^(L+1); 1 turns it off', () => {
  const d = 0.8;
  assert.equal(layerLrScale('classifier.weight', 4, d), 1);
  assert.equal(layerLrScale('bert.pooler.dense.bias', 4, d), 1);
  assert.equal(layerLrScale('bert.encoder.layer.3.output.dense.weight', 4, d), d);
  assert.equal(layerLrScale('bert.encoder.layer.0.attention.self.query.weight', 4, d), d ** 4);
  assert.equal(layerLrScale('bert.embeddings.word_embeddings.weight', 4, d), d ** 5);
  assert.equal(layerLrScale('bert.encoder.layer.0.output.dense.weight', 4, 1), 1);
  assert.throws(() => layerLrScale('bert.encoder.layer.7.output.dense.weight', 4, d), /layer 7.*4 layers/);
  assert.throws(() => layerLrScale('classifier.weight', 4, 0), /layerLrDecay/);
});

test('AdamW with lrScale steps each parameter as a torch param group with lr * scale, weight decay included', async () => {
  await initBackend();
  for (const kernel of kernels) {
    const make = () => new Map<string, tf.Variable>([
      ['bert.encoder.layer.0.output.dense.weight', tf.variable(tf.tensor2d([[0.5, -1], [2, 0.25]]))],
      ['classifier.weight', tf.variable(tf.tensor2d([[1, -0.5], [0.75, 3]]))],
    ]);
    const grads = { 'bert.encoder.layer.0.output.dense.weight': tf.tensor2d([[0.1, 0.2], [-0.3, 0.4]]), 'classifier.weight': tf.tensor2d([[-0.2, 0.1], [0.05, -0.4]]) };
    const options = { ...adamWOptions(DEFAULT_SETTINGS), kernel };
    const scaled = make();
    const opt = new AdamW(scaled, { ...options, lrScale: (name) => layerLrScale(name, 1, 0.5) });
    assert.deepEqual([...opt.lrScales().values()], [0.5, 1]);
    const plain = make();
    const optPlain = new AdamW(plain, options);
    const half = make();
    const optHalf = new AdamW(half, options);
    for (let i = 0; i < 3; i++) {
      opt.step(grads, { lr: 1e-2 });
      optPlain.step(grads, { lr: 1e-2 });
      optHalf.step(grads, { lr: 5e-3 });
    }
    const name0 = 'bert.encoder.layer.0.output.dense.weight';
    assert.deepEqual(scaled.get(name0)!.arraySync(), half.get(name0)!.arraySync(), kernel);
    assert.deepEqual(scaled.get('classifier.weight')!.arraySync(), plain.get('classifier.weight')!.arraySync(), kernel);
    assert.notDeepEqual(scaled.get(name0)!.arraySync(), plain.get(name0)!.arraySync(), kernel);
  }
});

test('lrAt reproduces transformers get_linear_schedule_with_warmup at every step', () => {
  for (const s of torch.schedules) {
    const sched = linearSchedule({ learningRate: s.base_lr, warmupRatio: s.warmup_ratio }, s.total_steps);
    assert.equal(sched.warmupSteps, s.warmup_steps, `warmup steps of ${s.total_steps} x ${s.warmup_ratio}`);
    s.lrs.forEach((lr, step) => assert.equal(lrAt(sched, step), lr, `step ${step} of ${s.total_steps}`));
  }
  // The shape, by hand: 0 at the start, the peak when warmup ends, 0 at the end and after.
  const sched = { baseLr: 1e-3, warmupSteps: 10, totalSteps: 110 };
  assert.deepEqual([0, 5, 10, 60, 110, 200].map((s) => lrAt(sched, s)), [0, 5e-4, 1e-3, 5e-4, 0, 0]);
  assert.equal(warmupStepsFor(100, 0.07), 8); // ceil(7.000000000000001), like Python
  assert.equal(warmupStepsFor(1000, DEFAULT_SETTINGS.warmupRatio), 100);
  assert.equal(lrAt({ baseLr: 1, warmupSteps: 0, totalSteps: 4 }, 0), 1); // no warmup: full rate at once
  assert.throws(() => warmupStepsFor(10, 1.5), NlpbookError);
});

test('clipGradNorm reproduces clip_grad_norm_: norm and clipped gradients', () => {
  for (const [k, step] of torch.steps.entries()) {
    const grads: tf.NamedTensorMap = {};
    for (const [name, values] of Object.entries(step.grads)) grads[name] = tf.tensor(values);
    const clipped = clipGradNorm(grads, cfg.max_grad_norm);
    assertClose([clipped.totalNorm.dataSync()[0]], [step.total_norm], `norm at step ${k}`);
    for (const [name, expected] of Object.entries(step.clipped_grads)) {
      assertClose(clipped.grads[name].dataSync(), expected, `clipped ${name} at step ${k}`);
    }
    tf.dispose([grads, clipped.grads, clipped.totalNorm, clipped.scale]);
  }
});

describe('AdamW against torch.optim.AdamW', () => {
  test('each kernel reproduces 8 PyTorch steps (two groups, schedule, clipping) and its moments', () => {
    for (const kernel of kernels) {
      const params = makeParams();
      const opt = new AdamW(params, { ...options, kernel });
      assert.deepEqual(opt.groups().noDecay, torch.no_decay);
      const norms = trainSteps(opt, params, 0, torch.steps.length, (k) => {
        assert.equal(lrAt(schedule, k), torch.steps[k].lr, `lr at step ${k}`);
        for (const [name, expected] of Object.entries(torch.steps[k].params_after)) {
          assertClose(params.get(name)!.dataSync(), expected, `${kernel}: ${name} after step ${k + 1}`);
        }
      });
      assertClose(norms, torch.steps.map((s) => s.total_norm), `${kernel}: norms`);

      const state = opt.state();
      assert.equal(opt.stepCount, torch.final_state.step);
      assert.equal(state.meta.step, String(torch.final_state.step));
      const mScale = Number(state.meta.exp_avg_scale);
      const vScale = Number(state.meta.exp_avg_sq_scale);
      for (const name of params.keys()) {
        // Moments in PyTorch's convention: the stored arrays over their scale.
        assertClose(state.tensors[`exp_avg.${name}`].map((x) => x / mScale), torch.final_state.exp_avg[name], `${kernel}: exp_avg ${name}`);
        assertClose(state.tensors[`exp_avg_sq.${name}`].map((x) => x / vScale), torch.final_state.exp_avg_sq[name], `${kernel}: exp_avg_sq ${name}`);
        assert.deepEqual(state.shapes[`exp_avg.${name}`], torch.initial[name].shape);
      }
      opt.dispose();
      disposeAll(params);
    }
  });

  test('a wrong formula would fail: without weight decay the parameters drift from PyTorch', () => {
    const params = makeParams();
    const opt = new AdamW(params, { ...options, weightDecay: 0 });
    trainSteps(opt, params, 0, torch.steps.length);
    const name = 'classifier.weight';
    assert.ok(maxRelError(params.get(name)!.dataSync(), torch.steps.at(-1)!.params_after[name]) > 1e-4);
    opt.dispose();
    disposeAll(params);
  });

  test('state() then loadState() mid-way continues exactly as if never interrupted', () => {
    for (const kernel of kernels) {
      const straight = makeParams();
      const a = new AdamW(straight, { ...options, kernel });
      trainSteps(a, straight, 0, 8);

      const first = makeParams();
      const b = new AdamW(first, { ...options, kernel });
      trainSteps(b, first, 0, 4);
      const saved = b.state();
      // A fresh process would rebuild the model from the checkpoint: fresh variables, fresh optimizer.
      const resumed = new Map([...first].map(([name, v]) => [name, tf.variable(v.clone(), true, `resumed/${name}/${Math.random()}`)]));
      b.dispose();
      disposeAll(first);
      const c = new AdamW(resumed, { ...options, kernel });
      c.loadState(structuredClone(saved));
      assert.equal(c.stepCount, 4);
      trainSteps(c, resumed, 4, 8);
      for (const [name, v] of straight) {
        assert.deepEqual(resumed.get(name)!.dataSync(), v.dataSync(), `${kernel}: ${name} after resuming`);
      }
      assert.deepEqual(c.state(), a.state());
      [a, c].forEach((o) => o.dispose());
      disposeAll(straight);
      disposeAll(resumed);
    }
  });

  test('a state saved by one kernel resumes in the other and still matches PyTorch', { skip: !nativeKernelsAvailable() && 'needs the native backend' }, () => {
    for (const [from, to] of [['fused', 'ops'], ['ops', 'fused']] as const) {
      const params = makeParams();
      const a = new AdamW(params, { ...options, kernel: from });
      trainSteps(a, params, 0, 4);
      const saved = a.state();
      a.dispose();
      const b = new AdamW(params, { ...options, kernel: to });
      b.loadState(saved);
      trainSteps(b, params, 4, 8);
      for (const [name, expected] of Object.entries(torch.steps.at(-1)!.params_after)) {
        assertClose(params.get(name)!.dataSync(), expected, `${from} -> ${to}: ${name}`);
      }
      b.dispose();
      disposeAll(params);
    }
  });

  test('loadState refuses a state that does not fit the model, changing nothing', () => {
    const params = makeParams();
    const opt = new AdamW(params, options);
    trainSteps(opt, params, 0, 2);
    const good = opt.state();
    const without = (key: string): AdamWState => {
      const tensors = { ...good.tensors };
      delete tensors[key];
      return { ...good, tensors };
    };
    assert.throws(() => opt.loadState(without('exp_avg_sq.classifier.bias')), /exp_avg_sq\.classifier\.bias is missing/);
    assert.throws(
      () => opt.loadState({ ...good, tensors: { ...good.tensors, 'exp_avg.classifier.bias': new Float32Array(3) } }),
      /exp_avg\.classifier\.bias has 3 values, the parameter 2/,
    );
    assert.throws(
      () => opt.loadState({ ...good, tensors: { ...good.tensors, 'exp_avg.pooler.weight': new Float32Array(2) } }),
      /belongs to no parameter/,
    );
    assert.throws(() => opt.loadState({ ...good, meta: { ...good.meta, format: 'other' } }), NlpbookError);
    assert.deepEqual(opt.state(), good);
    opt.dispose();
    disposeAll(params);
  });

  test('step() names a missing or misshapen gradient', () => {
    const params = makeParams();
    const opt = new AdamW(params, options);
    const grads: tf.NamedTensorMap = {};
    for (const [name, v] of params) grads[name] = tf.zerosLike(v);
    const { 'classifier.bias': bias, ...missing } = grads;
    assert.throws(() => opt.step(missing), /no gradient for parameter classifier\.bias/);
    assert.throws(() => opt.step({ ...grads, 'classifier.bias': tf.zeros([3]) }), /gradient of classifier\.bias has shape \[3\]/);
    assert.equal(opt.stepCount, 0);
    tf.dispose([grads, bias]);
    opt.dispose();
    disposeAll(params);
  });

  test('no tensor leaks across steps (tf.memory().numTensors stays put)', () => {
    for (const kernel of kernels) {
      const params = makeParams();
      const opt = new AdamW(params, { ...options, kernel });
      trainSteps(opt, params, 0, 1);
      const before = tf.memory().numTensors;
      trainSteps(opt, params, 1, 8);
      assert.equal(tf.memory().numTensors, before, kernel);
      opt.state();
      assert.equal(tf.memory().numTensors, before, `${kernel} after state()`);
      const beforeDispose = tf.memory().numTensors;
      opt.dispose();
      assert.ok(tf.memory().numTensors < beforeDispose, `${kernel}: dispose() frees the moments`);
      disposeAll(params);
    }
  });
});

test('crossEntropy and accuracy match torch CrossEntropyLoss and argmax, also for huge logits', () => {
  const ref = fixture.loss as { logits: number[][]; labels: number[]; loss: number; accuracy: number; logits_grad: number[][] };
  const logits = tf.tensor2d(ref.logits);
  const labels = tf.tensor1d(ref.labels, 'int32');
  const loss = crossEntropy(logits, labels);
  assert.ok(Number.isFinite(loss.dataSync()[0]));
  assertClose(loss.dataSync(), [ref.loss], 'loss');
  assert.equal(accuracy(logits, labels).dataSync()[0], ref.accuracy);
  const grad = tf.grad((x: tf.Tensor) => crossEntropy(x as tf.Tensor2D, labels))(logits);
  assertClose(grad.dataSync(), ref.logits_grad.flat(), 'd loss / d logits');
  tf.dispose([logits, labels, loss, grad]);
});

test('crossEntropy with label smoothing scores against (1 − ε)·one-hot + ε/classes, as torch\'s label_smoothing', () => {
  // Two two-class rows, worked out by hand.
  const logits = tf.tensor2d([[2, 0], [0.5, -1]]);
  const labels = tf.tensor1d([0, 1], 'int32');
  const logSoftmax = (z: number[]) => { const m = Math.max(...z); const s = Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0)) + m; return z.map((v) => v - s); };
  const [a, b] = [logSoftmax([2, 0]), logSoftmax([0.5, -1])];
  const e = 0.2;
  const expected = -((1 - e / 2) * a[0] + (e / 2) * a[1] + (1 - e / 2) * b[1] + (e / 2) * b[0]) / 2;
  assertClose(crossEntropy(logits, labels, e).dataSync(), [expected], 'smoothed loss');
  assert.ok(Math.abs(crossEntropy(logits, labels, e).dataSync()[0] - crossEntropy(logits, labels).dataSync()[0]) > 0.01, 'smoothing changes the loss');
  tf.dispose([logits, labels]);
});

test('without the native backend (wasm), the ops kernel and clipping still reproduce PyTorch', async () => {
  const native = tf.getBackend();
  require('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
  try {
    assert.equal(nativeKernelsAvailable(), false);
    const params = makeParams();
    assert.throws(() => new AdamW(params, { ...options, kernel: 'fused' }), NlpbookError);
    const opt = new AdamW(params, options);
    assert.equal(opt.options.kernel, 'ops');
    const norms = trainSteps(opt, params, 0, torch.steps.length);
    assertClose(norms, torch.steps.map((s) => s.total_norm), 'wasm: norms');
    for (const [name, expected] of Object.entries(torch.steps.at(-1)!.params_after)) {
      assertClose(params.get(name)!.dataSync(), expected, `wasm: ${name}`);
    }
    opt.dispose();
    disposeAll(params);
  } finally {
    await tf.setBackend(native);
  }
});
