// Averaging the weights of the last checkpoints (Vaswani et al. 2017 averaged their last 5;
// SWA, Izmailov et al. 2018, is the same idea along the run): the weights at the last
// `checkpoints` multiples of `everySteps` before the run's end (its last step included)
// are summed as training passes them, and after the last step the model gets their mean.
// Points near the end of a run sit around one minimum; their mean often lies nearer its
// middle than any of them. On NSMC, with the learning rate decayed to zero, it tied with the
// last weights (README, "Recipes tried"), so it is off by default. A run that ends before its
// last planned step (early stopping, a time budget) keeps its last weights.
//
// The sum is one more copy of the weights in memory. A checkpoint saved in between holds
// it (AVERAGE_FILE), so a resumed run averages exactly what an uninterrupted one does.
import * as fs from 'fs';
import * as path from 'path';
import { tf } from '../util/backend';
import { readSafetensors, writeSafetensors } from '../model/index';
import { NlpbookError } from '../util/errors';

/** The running sum's file in checkpoints/last (only while the run is inside its averaging span). */
export const AVERAGE_FILE = 'average-sum.safetensors';

export interface AveragingPlan {
  /** How many checkpoints to average (1: none, the last weights as they are). */
  checkpoints: number;
  /** Steps between two of them. */
  everySteps: number;
}

/** The steps whose weights are averaged, in order: totalSteps, totalSteps − everySteps, ... (at least step 1). */
export function averagedSteps(plan: AveragingPlan, totalSteps: number): number[] {
  const steps: number[] = [];
  for (let k = Math.max(1, plan.checkpoints) - 1; k >= 0; k--) {
    const step = totalSteps - k * plan.everySteps;
    if (step >= 1) steps.push(step);
  }
  return steps;
}

export class WeightAverage {
  /** The steps averaged (ascending); the last is the run's last step. */
  readonly steps: number[];
  private sum: Map<string, tf.Tensor> | null = null;
  private count = 0;

  constructor(
    private readonly weights: Map<string, tf.Variable>,
    plan: AveragingPlan,
    totalSteps: number,
  ) {
    this.steps = plan.checkpoints > 1 ? averagedSteps(plan, totalSteps) : [];
  }

  /** There is something to average (more than one checkpoint). */
  get active(): boolean {
    return this.steps.length > 1;
  }

  /** After optimizer step `step`: adds the weights when the step is one of the averaged ones. */
  add(step: number): void {
    if (!this.active || !this.steps.includes(step)) return;
    const next = new Map<string, tf.Tensor>();
    for (const [name, w] of this.weights) {
      const before = this.sum?.get(name);
      next.set(name, before ? tf.add(before, w) : tf.clone(w));
      before?.dispose();
    }
    this.sum = next;
    this.count += 1;
  }

  /** Gives the model the mean of the summed weights (after the last step); the number averaged. */
  apply(): number {
    if (!this.sum || this.count === 0) return 0;
    const n = this.count;
    for (const [name, w] of this.weights) w.assign(tf.tidy(() => tf.div(this.sum!.get(name)!, n)));
    this.dispose();
    return n;
  }

  /** Writes the running sum into a checkpoint folder being saved (nothing before the first averaged step). */
  save(dir: string): void {
    if (!this.sum) return;
    writeSafetensors(
      path.join(dir, AVERAGE_FILE),
      new Map([...this.sum].map(([name, t]) => [name, { shape: t.shape, data: () => t.dataSync() as Float32Array }])),
      { format: 'pt', count: String(this.count) },
    );
  }

  /** Takes the running sum back from a checkpoint saved after optimizer step `step`. */
  load(dir: string, step: number): void {
    this.dispose();
    const expected = this.steps.filter((s) => s <= step).length;
    if (!this.active || expected === 0) return;
    const file = path.join(dir, AVERAGE_FILE);
    if (!fs.existsSync(file)) {
      throw new NlpbookError(`${file}: missing; the run is at step ${step}, inside its weight averaging (steps ${this.steps.join(', ')}); delete ${dir} to start over`);
    }
    const { tensors, metadata } = readSafetensors(file);
    if (Number(metadata.count) !== expected || tensors.size !== this.weights.size) {
      throw new NlpbookError(`${file}: holds ${metadata.count} checkpoints of ${tensors.size} weights, expected ${expected} of ${this.weights.size}; delete ${dir} to start over`);
    }
    this.sum = new Map();
    for (const [name, w] of this.weights) {
      const t = tensors.get(name);
      if (!t || t.shape.join() !== w.shape.join()) throw new NlpbookError(`${file}: ${name} is missing or has another shape than the model's ${JSON.stringify(w.shape)}`);
      this.sum.set(name, tf.tensor(t.data as Float32Array, t.shape, 'float32'));
    }
    this.count = expected;
  }

  dispose(): void {
    for (const t of this.sum?.values() ?? []) t.dispose();
    this.sum = null;
    this.count = 0;
  }
}
