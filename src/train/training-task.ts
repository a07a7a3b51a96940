// What the one training loop (trainer.ts's Trainer) needs from a task, the way minGPT's
// trainer takes any model: the task knows its data, its step, its evaluation, what "best"
// means and what its checkpoint and its output hold; the trainer knows everything else
// (epochs or steps, time budget, progress, metrics.jsonl, checkpoints/last, top-k and
// best/, early stopping, exact resume, stopping on a signal).
//
//   fine-tuning (fine-tuning.ts)   FineTuning: step 6's ClassificationTask on NSMC batches,
//                                  validation each epoch, ranked by settings.monitor
//   pretraining (src/pretrain/)    MaskedLmTraining: masked batches through MlmTrainGraph,
//                                  held-out MLM scores at the end, the model folder as output
import type { tf } from '../util/backend';
import type { BertPreTrainedModel } from '../model/index';
import type { AdamW } from '../task/index';
import type { Settings } from '../settings/index';
import type { RankedCheckpoint } from './checkpoints';
import type { TrainLine } from './metrics-log';

/**
 * The one small run: settings.testMode (Lightning's fast_dev_run, a little wider) cuts ANY
 * run, whatever its task, to a couple of batches per phase: a run planned in epochs
 * (fine-tuning) trains `batchesPerEpoch` batches an epoch, a run planned in steps
 * (pretraining, whose epochs are not cut) `steps` steps in all, and every evaluation
 * (validation, held-out scores) reads `evaluationBatches` batches. The settings' model
 * and data stay as they are: it checks that a pipeline runs end to end, not what it learns.
 *
 * The tiny profile (src/course/profiles.ts) is the other half of "small": a tiny MODEL on a
 * slice of NSMC, a real run of every step in seconds, for the tests and the reader's quick
 * look. The two combine (tiny settings with testMode: true are the smallest run there is);
 * neither has numbers of its own elsewhere.
 */
export const TEST_MODE = { batchesPerEpoch: 2, steps: 3, evaluationBatches: 2 } as const;

/** How long a run is. */
export interface TrainingPlan {
  /** Batches in one pass over the training data (as trained: testMode cuts it). */
  batchesPerEpoch: number;
  /**
   * Whole epochs, each ending with the task's evaluation and a checkpoint (fine-tuning);
   * null: the run is `totalSteps` steps that cross epochs freely (pretraining).
   */
  epochs: number | null;
  /** Optimizer steps in all (the learning-rate schedule is planned for them). */
  totalSteps: number;
}

/** A run of `epochs` epochs of `batchesPerEpoch` batches (testMode: a couple of batches each). */
export function epochPlan(epochs: number, batchesPerEpoch: number, testMode: boolean): TrainingPlan {
  const perEpoch = testMode ? Math.min(TEST_MODE.batchesPerEpoch, batchesPerEpoch) : batchesPerEpoch;
  return { batchesPerEpoch: perEpoch, epochs, totalSteps: epochs * perEpoch };
}

/** A run of `steps` steps over epochs of `batchesPerEpoch` batches (testMode: a few steps). */
export function stepPlan(steps: number, batchesPerEpoch: number, testMode: boolean): TrainingPlan {
  return { batchesPerEpoch, epochs: null, totalSteps: testMode ? Math.min(TEST_MODE.steps, steps) : steps };
}

/** How many of an evaluation's `batches` to read (testMode: a couple). */
export function evaluationBatches(batches: number, testMode: boolean): number {
  return testMode ? Math.min(TEST_MODE.evaluationBatches, batches) : batches;
}

/**
 * What one training step gives back. The scalars stay tensors: the trainer reads them to
 * the host only every logEverySteps steps (or for a checkpoint), never inside a step.
 */
export interface StepOutput {
  /** Mean loss of the step's batch (before the update). */
  loss: tf.Scalar;
  accuracy: tf.Scalar;
  /** What the step counts for in a metrics line's means: 1 (steps alike) or e.g. its masked tokens. */
  weight: number;
  /** The learning rate the step used. */
  lr: number;
}

/** The trainer's part of a run's state (the task keeps it in its trainer-state.json, with its own). */
export interface LoopState<E> {
  /** Optimizer steps done. */
  step: number;
  /** Steps the run is planned for (a resume checks it). */
  totalSteps: number;
  /** 0-based epoch to continue (the next one once an epoch has ended). */
  epoch: number;
  /** Batches of that epoch already trained on. */
  batchInEpoch: number;
  epochsCompleted: number;
  /** Steps since the last metrics line, read to the host; sums weighted by StepOutput.weight. */
  window: { steps: number; weight: number; lossSum: number; accuracySum: number };
  /** Why training ended: all steps/epochs done, the time budget, early stopping; null while it goes on. */
  stoppedBy: 'steps' | 'minutes' | 'early' | null;
  /** Evaluations so far (tasks evaluated at epoch ends), and the ranking by the task's monitor. */
  history: E[];
  best: (E & { value: number }) | null;
  topK: RankedCheckpoint[];
  epochsWithoutImprovement: number;
  /** Wall seconds of the run so far (all sessions). */
  seconds: number;
  /** Size of metrics.jsonl when saved: a resume cuts off what was written after. */
  metricsBytes: number;
  savedAt: string;
}

/** A fresh run's loop state. */
export function freshLoopState<E>(plan: TrainingPlan): LoopState<E> {
  return {
    step: 0, totalSteps: plan.totalSteps, epoch: 0, batchInEpoch: 0, epochsCompleted: 0,
    window: { steps: 0, weight: 0, lossSum: 0, accuracySum: 0 }, stoppedBy: null,
    history: [], best: null, topK: [], epochsWithoutImprovement: 0, seconds: 0, metricsBytes: 0, savedAt: '',
  };
}

/** What "best" means for a task that ranks its evaluations: top-k checkpoints, best/, early stopping. */
export interface Ranking<E> {
  /** 'min val_loss' or 'max val_accuracy' (settings.monitor): the direction, then the name. */
  monitor: string;
  value(evaluation: E): number;
  /** How many ranked checkpoints to keep (-1: all, 0: none; best/ is kept either way). */
  saveTopK: number;
  /** Stop after this many epochs without improvement (0: never). */
  earlyStoppingPatience: number;
}

/** What a checkpoint holds besides the weights and AdamW's state. */
export interface CheckpointParts<S> {
  /** Written as settings.json. */
  settings?: Settings;
  /** More JSON files, by name. */
  files?: Record<string, unknown>;
  /** tokenizerFiles(tokenizer) */
  tokenizer: Map<string, string>;
  /** trainer-state.json: the loop state and the task's own (generators, data position). */
  state: S;
}

/** The run as the trainer leaves it, for the task's output. */
export interface RunSummary<E> {
  loop: LoopState<E>;
  /** Wall seconds, all sessions. */
  seconds: number;
  /** The last train line written (this session or before), or null. */
  lastTrainLine: (TrainLine & Record<string, number | string>) | null;
}

/**
 * A task the Trainer trains: `B` its batches, `E` its evaluation's scores (a metrics line
 * without type and seconds), `S` its trainer-state.json.
 */
export interface TrainingTask<B, E extends { step: number }, S extends { format: string; step: number; totalSteps: number }> {
  /** The run folder: metrics.jsonl and checkpoints/ are there. */
  readonly dir: string;
  readonly plan: TrainingPlan;
  /** The model trained; checkpoints save it. */
  readonly model: BertPreTrainedModel;
  readonly optimizer: AdamW;
  /** Evaluate at every epoch end (then a checkpoint) or once, after training ('end'). */
  readonly evaluateAt: 'epoch' | 'end';
  /** The metrics line type of an evaluation ("validation", "heldout"). */
  readonly evaluationType: string;
  /** What "best" means (tasks evaluated at epoch ends); null: the final model is the result. */
  readonly ranking: Ranking<E> | null;
  /** The progress bar's name in a run planned in steps (runs planned in epochs show "epoch i/n"). */
  readonly progressLabel: string;

  /** A fresh run: writes the task's own files (metrics.jsonl and checkpoints/ are gone) and says what it trains. */
  start(): void;
  /** Continues `saved` (AdamW's moments are loaded): the task's own state; returns the trainer's. */
  resume(saved: S): LoopState<E>;
  /** The batches of `epoch`, from batch `from` on (a resume's position). */
  batches(epoch: number, from: number): AsyncIterable<B> | Iterable<B>;
  /** Optimizer step number `step` (0-based) on `batch`; frees the batch. */
  trainStep(batch: B, step: number): StepOutput;
  /** A run planned in steps is `totalSteps` steps from now on (TrainerOptions.replan): the plan, the schedule, the saved settings. */
  replan?(totalSteps: number): void;
  /** Fields of the task's own for a train metrics line (written before `seconds`). */
  trainLineFields?(): Record<string, number>;
  /** The text after the progress bar for a train line (default: loss, accuracy, lr, it/s). */
  progressInfo?(line: TrainLine & Record<string, number | string>, stepsPerSecond: number): string;
  /** Scores the model (dropout off) after `step` steps, `epoch` epochs. */
  evaluate(at: { epoch: number; step: number }): Promise<E>;
  /** The log line of an evaluation ("nlpbook: ..."). */
  describe(evaluation: E, improved: boolean): string;
  /** What checkpoints/last holds besides the weights and AdamW's state. */
  checkpoint(loop: LoopState<E>): CheckpointParts<S>;
  /** After training and the final evaluation (tasks evaluated at the end): writes the task's output. */
  finish?(evaluation: E, run: RunSummary<E>): void;
}
