// Learning-rate schedule of the course: linear warmup from 0, then linear decay to 0,
// exactly transformers' get_linear_schedule_with_warmup (a LambdaLR).
//
// The book's ratsnlp code builds an ExponentialLR that Lightning steps once per
// epoch, so its rate barely moves during fine-tuning. Ours really steps: the trainer
// asks for lrAt(step) before every optimizer step.
import type { Settings } from '../../settings/index';
import { check } from '../../util/errors';

export interface LinearSchedule {
  /** The peak rate, reached when warmup ends (settings.learningRate). */
  baseLr: number;
  /** Steps spent rising from 0 to baseLr. */
  warmupSteps: number;
  /** All optimizer steps of the run; the rate reaches 0 here. */
  totalSteps: number;
}

/**
 * Warmup steps for a ratio of all steps, rounded up like transformers'
 * TrainingArguments.get_warmup_steps (math.ceil(total * ratio)). Same doubles, same
 * quirk: 100 * 0.07 is 7.000000000000001 in floating point, so 100 steps at ratio
 * 0.07 warm up for 8 steps, in Python and here alike.
 */
export function warmupStepsFor(totalSteps: number, warmupRatio: number): number {
  check(Number.isInteger(totalSteps) && totalSteps >= 0, `schedule: totalSteps must be a whole number >= 0, got ${totalSteps}`);
  check(warmupRatio >= 0 && warmupRatio <= 1, `settings.warmupRatio: expected a number from 0 to 1, got ${warmupRatio}`);
  return Math.ceil(totalSteps * warmupRatio);
}

/** The schedule of a run of `totalSteps` optimizer steps under these settings. */
export function linearSchedule(settings: Pick<Settings, 'learningRate' | 'warmupRatio'>, totalSteps: number): LinearSchedule {
  return { baseLr: settings.learningRate, warmupSteps: warmupStepsFor(totalSteps, settings.warmupRatio), totalSteps };
}

/**
 * The rate for the optimizer step taken after `step` completed steps (0 for the
 * first). Like LambdaLR, the very first step gets rate 0 when there is warmup: the
 * scheduler is stepped after the optimizer. The max(1, ...) guards are transformers'.
 */
export function lrAt(schedule: LinearSchedule, step: number): number {
  const { baseLr, warmupSteps, totalSteps } = schedule;
  const factor =
    step < warmupSteps
      ? step / Math.max(1, warmupSteps)
      : Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
  return baseLr * factor;
}
