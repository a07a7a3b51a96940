// Step 7 of the course: the trainer, like ratsnlp's get_trainer + Lightning's
// Trainer.fit. One call trains the classifier:
//
//   for each epoch:
//     for each batch of the training split (shuffled, seeded):  task.trainStep(batch)
//     validation on the held-out part of the training split (never the test split)
//     checkpoint: checkpoints/last (for resuming), the saveTopK best by `monitor`, best/
//
// It picks up where it stopped: if settings.downstreamModelDir holds a `last`
// checkpoint of a run with the same settings, fit() continues from it (weights,
// AdamW moments, step, epoch, position in the epoch, dropout generator) and ends
// with the same weights as a run that was never interrupted. See checkpoints.ts for
// the folder layout.
//
// The loop itself is the class Trainer below, written once for every task the way
// minGPT's trainer takes any model (training-task.ts says what a task supplies): fit()
// hands it fine-tuning.ts's FineTuning, step 3a's pretrain() its MaskedLmTraining.
import * as fs from 'fs';
import * as path from 'path';
import { initBackend } from '../util/backend';
import {
  bestDir, checkpointName, checkpointsDir, lastDir, OPTIMIZER_FILE, readOptimizerState, recoverLast,
  resumeConflicts, saveLastCheckpoint, syncRankedFolders, type RankedCheckpoint, type TrainerState, type ValidationResult,
} from './checkpoints';
import { refuseForeign } from './run-files';
import { WeightAverage, type AveragingPlan } from './weight-average';
import { METRICS_FILE, MetricsLog, type MetricsLine, type TrainLine } from './metrics-log';
import { FineTuning } from './fine-tuning';
import { freshLoopState, type LoopState, type RunSummary, type StepOutput, type TrainingTask } from './training-task';
import { ensureCorpus } from '../corpus/index';
import { type CorpusSource, type TensorBatch } from '../data/index';
import { check, NlpbookError } from '../util/errors';
import { type AdamWKernel } from '../task/index';
import { fetchModel, BertForSequenceClassification, loadWeights } from '../model/index';
import { progress, type Progress } from '../util/progress';
import { DEFAULT_SETTINGS, validateSettings, type Settings } from '../settings/index';
import { BertTokenizer } from '../tokenizer/index';

export { metricsByType, readMetrics, type TrainMetricsLine, type ValidationMetricsLine } from './metrics-log';

/** NSMC's classes by label index (config.json's id2label of the trained model). */
export const NSMC_LABELS = ['negative', 'positive'] as const;

export interface FitOptions {
  /**
   * Model to train instead of loading settings.pretrainedModelName (two labels). It is
   * trained in place and not disposed; after fit it holds the LAST weights (best/ has the best).
   */
  model?: BertForSequenceClassification;
  /** Tokenizer instead of BertTokenizer.fromPretrained(settings.pretrainedModelName). */
  tokenizer?: BertTokenizer;
  /** Corpus instead of NsmcCorpus(settings) (only its train split is used). */
  corpus?: CorpusSource;
  /** Where one-line notices go (default stderr). */
  log?: (line: string) => void;
  /** Where progress bars / lines go (default stderr). */
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
  /**
   * End this call early, as an interruption would, once this many epochs or optimizer
   * steps are done in total; `last` is saved there, so a later fit() resumes.
   */
  stopAt?: { epochs?: number; steps?: number };
  /** When aborted (e.g. on Ctrl+C), the run stops after the current step, saves `last` and returns unfinished. */
  signal?: AbortSignal;
  /** Also save `last` inside an epoch when this many minutes passed since the previous save (default 30; 0: only at epoch ends). */
  checkpointEveryMinutes?: number;
  /** AdamW kernel (default: fused on the native backend). */
  kernel?: AdamWKernel;
}

export interface FitResult {
  /** The best model's folder (<dir>/best), Hugging Face layout. */
  model: string;
  /** The newest checkpoint (<dir>/checkpoints/last). */
  checkpoint: string;
  /** Kept top-k checkpoint folders, best first. */
  topK: string[];
  monitor: string;
  /** Validation scores of the best epoch (null before the first validation). */
  best: ValidationResult | null;
  /** Every validation so far, in order. */
  history: ValidationResult[];
  /** Epochs completed. */
  epochs: number;
  /** Optimizer steps done. */
  steps: number;
  /** Minutes of training and validation, all sessions together. */
  minutes: number;
  /** True when the run is complete (all epochs, or stopped early); false after stopAt. */
  finished: boolean;
  stoppedEarly: boolean;
  /** When this call resumed a checkpoint: the epochs completed and optimizer steps done there. */
  resumedFrom: { epoch: number; step: number } | null;
  /** <dir>/metrics.jsonl */
  metrics: string;
  /** <dir>/settings.json */
  settings: string;
}

/** Trains the classifier as the settings say (resuming a matching checkpoint) and returns where the results are. */
export async function fit(input: Settings, options: FitOptions = {}): Promise<FitResult> {
  const settings = validateSettings(input, 'settings');
  const log = options.log ?? ((line: string) => console.error(line));
  await initBackend();
  const dir = settings.downstreamModelDir;

  // A finished run is not trained again: report it (delete the folder to start over).
  const saved = recoverLast(dir);
  if (saved) {
    // A run saved before a field existed ran with its default (e.g. layerLrDecay 1).
    const conflicts = resumeConflicts({ ...DEFAULT_SETTINGS, ...saved.settings }, settings);
    if (conflicts.length) {
      throw new NlpbookError(
        `${lastDir(dir)}: holds a run with other settings (${conflicts.slice(0, 3).join('; ')}${conflicts.length > 3 ? '; ...' : ''}); ` +
          'set another downstreamModelDir, or delete that folder to start over',
      );
    }
    if (saved.finished) {
      log(`nlpbook: ${dir} already holds a finished run (${saved.epochsCompleted} epochs, ${saved.step} steps); delete it to train again`);
      return resultOf(dir, saved, null);
    }
  }

  // Data: the corpus files as they are (a slice for a quick run works); fetched only when missing.
  const corpus = options.corpus ?? (await ensureCorpus(settings));
  const tokenizer = options.tokenizer ?? (await BertTokenizer.fromPretrained(settings.pretrainedModelName, { modelMirror: settings.modelMirror }));

  // The model: from the checkpoint when resuming, else the pretrained one with a fresh 2-class head.
  let model: BertForSequenceClassification;
  const ownModel = !options.model;
  if (options.model) {
    model = options.model;
    if (saved) loadWeights(model, lastDir(dir), { quiet: true });
  } else if (saved) {
    model = BertForSequenceClassification.fromPretrained(lastDir(dir), { quiet: true });
  } else {
    model = await pretrainedClassifier(settings);
    for (const w of model.loadReport?.warnings ?? []) log(`nlpbook: ${w}`);
  }

  let task: FineTuning | null = null;
  let trainer: Trainer<TensorBatch, ValidationResult, TrainerState> | null = null;
  try {
    checkModelFits(model, tokenizer, settings);
    task = new FineTuning(settings, model, tokenizer, corpus, { log, kernel: options.kernel });
    if (saved && JSON.stringify(saved.data) !== JSON.stringify(task.data)) {
      throw new NlpbookError(
        `${lastDir(dir)}: was trained on other data (${saved.data.trainExamples} training examples, now ${task.data.trainExamples}, or another corpus file or tokenizer); ` +
          'set another downstreamModelDir, or delete that folder to start over',
      );
    }
    trainer = new Trainer(task, {
      log, progressStream: options.progressStream, tqdmEnabled: settings.tqdmEnabled, logEverySteps: settings.logEverySteps,
      stopAt: options.stopAt, signal: options.signal, checkpointEveryMinutes: options.checkpointEveryMinutes ?? 30,
      averaging: { checkpoints: settings.averageCheckpoints, everySteps: settings.averageEverySteps },
    });
    await trainer.train(saved);
    return resultOf(dir, task.stateOf(trainer.state), saved ? { epoch: saved.epochsCompleted, step: saved.step } : null);
  } finally {
    trainer?.dispose();
    task?.dispose();
    if (ownModel) model.dispose();
  }
}

/**
 * The pretrained model with a two-class head (negative, positive), what fit() starts
 * from: a folder, the model mirror, Python's Hugging Face cache, else a download from
 * the hub. A head the checkpoint lacks is initialised from settings.seed; what was not
 * loaded is listed in model.loadReport.
 */
export async function pretrainedClassifier(
  settings: Pick<Settings, 'pretrainedModelName' | 'modelMirror' | 'tqdmEnabled' | 'seed'>,
): Promise<BertForSequenceClassification> {
  const dir = await fetchModel(settings.pretrainedModelName, {
    modelMirror: settings.modelMirror,
    files: ['config.json'],
    oneOf: [['model.safetensors', 'pytorch_model.bin']],
    progress: settings.tqdmEnabled,
  });
  return BertForSequenceClassification.fromPretrained(dir, { numLabels: NSMC_LABELS.length, labels: NSMC_LABELS, seed: settings.seed, quiet: true });
}

/** The one-line errors for a model that cannot train with this tokenizer and these settings. */
function checkModelFits(model: BertForSequenceClassification, tokenizer: BertTokenizer, settings: Settings): void {
  const c = model.config;
  if (c.vocabSize !== tokenizer.vocabSize) {
    throw new NlpbookError(
      `model ${settings.pretrainedModelName}: config.json's vocab_size is ${c.vocabSize} but the tokenizer (${tokenizer.name}) has ${tokenizer.vocabSize} tokens; use the tokenizer the model was pretrained with`,
    );
  }
  if (settings.maxSeqLength > c.maxPositionEmbeddings) {
    throw new NlpbookError(
      `settings.maxSeqLength: ${settings.maxSeqLength} is more than the model's ${c.maxPositionEmbeddings} positions (config.json max_position_embeddings); use at most ${c.maxPositionEmbeddings}`,
    );
  }
  if (c.numLabels !== NSMC_LABELS.length) {
    throw new NlpbookError(`model: ${c.numLabels} labels, but NSMC has ${NSMC_LABELS.length} (negative, positive)`);
  }
}

function resultOf(dir: string, state: TrainerState, resumedFrom: FitResult['resumedFrom']): FitResult {
  const best = state.best ?? state.history[state.history.length - 1];
  return {
    model: bestDir(dir),
    checkpoint: lastDir(dir),
    topK: state.topK.map((c) => path.join(checkpointsDir(dir), c.name)),
    monitor: state.monitor,
    best: best ? stripValue(best) : null,
    history: state.history,
    epochs: state.epochsCompleted,
    steps: state.step,
    minutes: round(state.seconds / 60, 3),
    finished: state.finished,
    stoppedEarly: state.stoppedEarly,
    resumedFrom,
    metrics: path.join(dir, METRICS_FILE),
    settings: path.join(dir, 'settings.json'),
  };
}

function stripValue(v: ValidationResult & { value?: number }): ValidationResult {
  const { value: _value, ...rest } = v;
  return rest;
}

export interface TrainerOptions {
  /** Where one-line notices go. */
  log: (line: string) => void;
  /** Where progress bars / lines go (default stderr). */
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Progress display on (settings.tqdmEnabled). */
  tqdmEnabled: boolean;
  /** A train line every this many steps (settings.logEverySteps): the only host reads of step results. */
  logEverySteps: number;
  /** End this call as an interruption would once this many epochs or steps are done in total (`last` is saved). */
  stopAt?: { epochs?: number; steps?: number };
  /** When aborted (Ctrl+C, SIGTERM in the CLI), stop after the current step, save `last` and return unfinished. */
  signal?: AbortSignal;
  /** Save `last` when this many minutes passed since the previous save (0: only at epoch ends and when stopping). */
  checkpointEveryMinutes: number;
  /** Time budget: end training at the first step boundary after this many minutes, all sessions together (0 or none: no budget). */
  minutes?: number;
  /** The final model is the mean of the weights at these last checkpoints (weight-average.ts; none: the last weights). */
  averaging?: AveragingPlan;
  /**
   * Right after optimizer step `atStep` of a run planned in steps, and every `everySteps` after
   * it (none: once): `totalSteps()` says how many steps the run is now (the course's time budget,
   * planned again from the run's own speed), and the task's schedule follows (task.replan). Not
   * with averaging.
   */
  replan?: { atStep: number; everySteps?: number; totalSteps: () => number };
}

/**
 * The one training loop, for any TrainingTask: optimizer steps in epochs (a run planned in
 * epochs or in steps), the time budget, progress, metrics.jsonl, checkpoints/last written
 * atomically (periodically, at epoch ends, when stopping), top-k checkpoints and best/ by
 * the task's ranking, early stopping, exact resume, stopAt and the abort signal.
 *
 *   const trainer = new Trainer(task, options);
 *   const complete = await trainer.train(saved);   // saved: recoverLast(dir) or null
 */
export class Trainer<B, E extends { step: number }, S extends { format: string; step: number; totalSteps: number }> {
  private loop!: LoopState<E>;
  private readonly metrics: MetricsLog;
  /** Step results not read yet: read when a metrics line or a checkpoint is due. */
  private pending: StepOutput[] = [];
  private sessionStart = Date.now();
  private lastSave = Date.now();
  private secondsBefore = 0;
  private lastInfo = '';
  private lastTrainLine: RunSummary<E>['lastTrainLine'] = null;
  /** The final evaluation (tasks evaluated at the end), once done. */
  evaluation: E | null = null;
  private readonly average: WeightAverage;

  constructor(
    readonly task: TrainingTask<B, E, S>,
    private readonly options: TrainerOptions,
  ) {
    this.metrics = new MetricsLog(task.dir);
    this.average = new WeightAverage(task.model.weights, options.averaging ?? { checkpoints: 1, everySteps: 1 }, task.plan.totalSteps);
    if (options.replan) {
      check(task.plan.epochs === null && task.replan !== undefined, `${task.dir}: only a run planned in steps can be planned again (replan)`);
      check(!this.average.active, `${task.dir}: replan and checkpoint averaging do not go together`);
    }
  }

  /** The loop's state (as of the last step). */
  get state(): LoopState<E> {
    return this.loop;
  }

  /** Where the run stands, for the task's result. */
  summary(): RunSummary<E> {
    return { loop: this.loop, seconds: this.seconds(), lastTrainLine: this.lastTrainLine };
  }

  /**
   * Trains a fresh run (`saved` null) or continues the one saved in `last`. True when the
   * run is complete (trained, evaluated, the task's output written); false when stopAt or
   * the signal stopped it first, with `last` saved to resume from.
   */
  async train(saved: S | null): Promise<boolean> {
    if (saved) this.resume(saved);
    else this.start();
    this.sessionStart = Date.now();
    this.lastSave = Date.now();
    const task = this.task;
    const st = this.loop;
    const training = st.stoppedBy === null;
    if (training && !(await this.trainLoop())) return false;
    if (task.evaluateAt === 'end') {
      // The finished state first: a crash while evaluating or writing the output resumes straight here.
      if (training) await this.saveLast();
      const evaluation = await this.evaluate(st.epochsCompleted);
      this.options.log(task.describe(evaluation, false));
      this.evaluation = evaluation;
      task.finish?.(evaluation, this.summary());
    }
    return true;
  }

  /** A fresh run: clears what a run that never reached its first checkpoint left. */
  private start(): void {
    const dir = this.task.dir;
    fs.mkdirSync(dir, { recursive: true });
    // Only what an earlier run wrote goes; anything else there is someone's: refused, kept.
    refuseForeign(checkpointsDir(dir), 'checkpoints');
    if (this.task.ranking) refuseForeign(bestDir(dir), 'checkpoint');
    this.metrics.remove();
    fs.rmSync(checkpointsDir(dir), { recursive: true, force: true });
    if (this.task.ranking) fs.rmSync(bestDir(dir), { recursive: true, force: true });
    this.loop = freshLoopState(this.task.plan);
    this.task.start();
  }

  /** Continues the run saved in `last`: AdamW's moments, the task's state, the metrics file, the ranked folders. */
  private resume(saved: S): void {
    const { dir, plan, optimizer } = this.task;
    check(saved.totalSteps === plan.totalSteps, `${lastDir(dir)}: planned ${saved.totalSteps} steps, this run ${plan.totalSteps}`);
    optimizer.loadState(readOptimizerState(path.join(lastDir(dir), OPTIMIZER_FILE)));
    check(optimizer.stepCount === saved.step, `${lastDir(dir)}: optimizer at step ${optimizer.stepCount}, state at ${saved.step}`);
    const st = this.task.resume(saved);
    // Past the last step the model already is the average (and the sum is gone).
    if (st.step < plan.totalSteps) this.average.load(lastDir(dir), st.step);
    // Lines written after the checkpoint belong to work that is done again now.
    this.metrics.truncate(st.metricsBytes);
    if (this.task.ranking) syncRankedFolders(dir, { ...st, monitor: this.task.ranking.monitor });
    this.loop = st;
    this.secondsBefore = st.seconds;
    const lines = this.metrics.read().filter((l) => l.type === 'train');
    this.lastTrainLine = (lines[lines.length - 1] as RunSummary<E>['lastTrainLine']) ?? null;
    this.options.log(
      plan.epochs === null
        ? `nlpbook: resuming ${lastDir(dir)} at step ${st.step}/${st.totalSteps}`
        : `nlpbook: resuming ${lastDir(dir)} at epoch ${st.epoch + 1}/${plan.epochs}, batch ${st.batchInEpoch}/${plan.batchesPerEpoch}, step ${st.step}/${st.totalSteps}`,
    );
  }

  /** Trains until the plan, the time budget or early stopping ends the run (true), or stopAt / the signal (false). */
  private async trainLoop(): Promise<boolean> {
    const { task, options } = this;
    const { plan } = task;
    const st = this.loop;
    const byEpoch = plan.epochs !== null;
    const budgetSeconds = (options.minutes ?? 0) * 60;
    const everyMs = options.checkpointEveryMinutes * 60_000;
    const bar = (total: number, label: string) => progress(total, label, options.tqdmEnabled, { stream: options.progressStream });
    // A run planned in steps has one bar for the whole run; one planned in epochs a bar per epoch.
    const runBar = byEpoch ? null : bar(plan.totalSteps, task.progressLabel);
    runBar?.update(st.step);
    try {
      while (st.stoppedBy === null) {
        const epoch = st.epoch;
        const epochBar = runBar ?? bar(plan.batchesPerEpoch, `epoch ${epoch + 1}/${plan.epochs}`);
        const shown = () => (byEpoch ? st.batchInEpoch : st.step);
        if (byEpoch) epochBar.update(st.batchInEpoch, this.lastInfo);
        const barStart = { time: Date.now(), count: shown() };
        try {
          if (st.batchInEpoch < plan.batchesPerEpoch) {
            for await (const batch of task.batches(epoch, st.batchInEpoch)) {
              const out = task.trainStep(batch, st.step);
              this.pending.push(out);
              st.step += 1;
              st.batchInEpoch += 1;
              this.average.add(st.step);
              if (options.replan && st.step < plan.totalSteps && isLook(st.step, options.replan)) this.replan(runBar);
              if (st.step === plan.totalSteps) this.applyAverage();
              // Let signal handlers and timers run: the loop alone only ever yields to microtasks.
              await new Promise((resolve) => setImmediate(resolve));
              const lastStep = !byEpoch && st.step >= plan.totalSteps;
              if (st.step % options.logEverySteps === 0 || lastStep) await this.logTrainLine(out.lr, epochBar, shown(), barStart);
              else epochBar.update(shown());
              if (lastStep) st.stoppedBy = 'steps';
              else if (budgetSeconds > 0 && this.seconds() >= budgetSeconds) {
                st.stoppedBy = 'minutes';
                if (st.window.steps + this.pending.length > 0) await this.logTrainLine(out.lr, epochBar, shown(), barStart);
                options.log(`nlpbook: time budget of ${options.minutes} minutes reached at step ${st.step}/${plan.totalSteps}`);
              }
              if (st.stoppedBy) break;
              const why = options.signal?.aborted ? 'interrupted' : st.step >= (options.stopAt?.steps ?? Infinity) ? 'stopAt' : null;
              if (why) {
                await this.saveLast();
                options.log(`nlpbook: stopped at step ${st.step} (${why}), saved ${lastDir(task.dir)}; run again with the same settings to resume`);
                return false;
              }
              const epochEnds = st.batchInEpoch >= plan.batchesPerEpoch;
              // (An epoch end that evaluates saves anyway.)
              if (!(epochEnds && task.evaluateAt === 'epoch') && everyMs > 0 && Date.now() - this.lastSave >= everyMs) await this.saveLast();
              if (epochEnds) break;
            }
          }
        } finally {
          if (byEpoch) epochBar.stop();
        }
        if (task.evaluateAt === 'epoch' && (st.batchInEpoch >= plan.batchesPerEpoch || st.stoppedBy === 'minutes')) {
          await this.endEpoch();
        } else if (st.batchInEpoch >= plan.batchesPerEpoch) {
          st.epochsCompleted = st.epoch + 1;
          st.epoch += 1;
          st.batchInEpoch = 0;
        }
        const why = options.signal?.aborted ? 'interrupted' : st.epochsCompleted >= (options.stopAt?.epochs ?? Infinity) ? 'stopAt' : null;
        if (why && st.stoppedBy === null) {
          if (task.evaluateAt !== 'epoch') await this.saveLast();
          options.log(`nlpbook: stopped after epoch ${st.epochsCompleted} (${why}), saved ${lastDir(task.dir)}; run again with the same settings to resume`);
          return false;
        }
      }
    } finally {
      runBar?.stop();
    }
    return true;
  }

  /** The task's evaluation, best/top-k bookkeeping, early stopping and the epoch's checkpoint. */
  private async endEpoch(): Promise<void> {
    const { task, options } = this;
    const st = this.loop;
    const epochs = task.plan.epochs ?? Infinity;
    const evaluation = await this.evaluate(st.epoch + 1);
    st.history.push(evaluation);
    let improved = false;
    const ranking = task.ranking;
    if (ranking) {
      const value = ranking.value(evaluation);
      const better = betterBy(ranking.monitor);
      improved = st.best === null || better(value, st.best.value);
      if (improved) {
        st.best = { ...evaluation, value };
        st.epochsWithoutImprovement = 0;
      } else {
        st.epochsWithoutImprovement += 1;
      }
      const candidate = { name: checkpointName(ranking.monitor, st.epoch + 1, st.step, value), value, epoch: st.epoch + 1, step: st.step };
      st.topK = rankTopK(st.topK, candidate, ranking.saveTopK, better);
    }
    st.epochsCompleted = st.epoch + 1;
    st.epoch += 1;
    st.batchInEpoch = 0;
    const patience = ranking?.earlyStoppingPatience ?? 0;
    if (patience > 0 && st.epochsWithoutImprovement >= patience && st.epoch < epochs && st.stoppedBy === null) {
      st.stoppedBy = 'early';
      options.log(`nlpbook: early stopping: ${ranking!.monitor.split(' ')[1]} did not improve for ${st.epochsWithoutImprovement} epochs`);
    }
    if (st.epoch >= epochs && st.stoppedBy === null) st.stoppedBy = 'steps';
    options.log(task.describe(evaluation, improved));
    await this.saveLast();
  }

  /** The task's evaluation after `epoch` epochs, written to metrics.jsonl. */
  private async evaluate(epoch: number): Promise<E> {
    const evaluation = await this.task.evaluate({ epoch, step: this.loop.step });
    this.metrics.append({ type: this.task.evaluationType, ...evaluation, seconds: round(this.seconds(), 3) });
    return evaluation;
  }

  /** Reads the pending step results into the window sums (the only place the host waits for them). */
  private async drainPending(): Promise<void> {
    const w = this.loop.window;
    for (const p of this.pending) {
      const [loss, acc] = await Promise.all([p.loss.data(), p.accuracy.data()]);
      w.steps += 1;
      w.weight += p.weight;
      w.lossSum += loss[0] * p.weight;
      w.accuracySum += acc[0] * p.weight;
      p.loss.dispose();
      p.accuracy.dispose();
    }
    this.pending = [];
  }

  /** Writes the train line of the steps since the previous one and shows it after the progress bar. */
  private async logTrainLine(lr: number, bar: Progress, shown: number, barStart: { time: number; count: number }): Promise<void> {
    await this.drainPending();
    const st = this.loop;
    const w = st.window;
    const { plan } = this.task;
    const line = {
      type: 'train',
      step: st.step,
      epoch: plan.epochs === null ? round(st.step / plan.batchesPerEpoch, 4) : st.epoch + 1,
      loss: w.lossSum / w.weight,
      accuracy: w.accuracySum / w.weight,
      lr,
      ...this.task.trainLineFields?.(),
      seconds: round(this.seconds(), 3),
    } as TrainLine & Record<string, number | string>;
    this.metrics.append(line as MetricsLine);
    this.lastTrainLine = line;
    st.window = { steps: 0, weight: 0, lossSum: 0, accuracySum: 0 };
    const rate = (shown - barStart.count) / Math.max(1e-9, (Date.now() - barStart.time) / 1000);
    this.lastInfo = this.task.progressInfo?.(line, rate)
      ?? `loss ${line.loss.toFixed(4)} acc ${line.accuracy.toFixed(3)} lr ${lr.toExponential(2)} ${rate.toFixed(1)} it/s`;
    bar.update(shown, this.lastInfo);
  }

  /** Writes checkpoints/last (and the top-k / best folders the ranking calls for). */
  private async saveLast(): Promise<void> {
    await this.drainPending();
    const { task } = this;
    const st = this.loop;
    st.seconds = this.seconds();
    st.metricsBytes = this.metrics.bytes();
    st.savedAt = new Date().toISOString();
    saveLastCheckpoint(task.dir, { model: task.model, optimizer: task.optimizer.state(), ...task.checkpoint(st), extra: (folder) => this.average.save(folder) });
    if (task.ranking) syncRankedFolders(task.dir, { ...st, monitor: task.ranking.monitor });
    this.lastSave = Date.now();
  }

  /** The run's steps planned again (options.replan): the task's plan and schedule, the loop's total, the bar. */
  private replan(bar: Progress | null): void {
    const st = this.loop;
    const total = Math.max(st.step + 1, Math.round(this.options.replan!.totalSteps()));
    if (total === this.task.plan.totalSteps) return;
    this.task.replan!(total);
    st.totalSteps = total;
    bar?.setTotal(total);
  }

  /** After the last step: the model becomes the mean of the averaged checkpoints (when there are several). */
  private applyAverage(): void {
    if (!this.average.active) return;
    const steps = this.average.steps;
    const n = this.average.apply();
    this.options.log(`nlpbook: the final weights are the mean of the last ${n} checkpoints (steps ${steps.join(', ')})`);
  }

  private seconds(): number {
    return this.secondsBefore + (Date.now() - this.sessionStart) / 1000;
  }

  /** Frees step results not read (after an error). */
  dispose(): void {
    this.average.dispose();
    for (const p of this.pending) {
      p.loss.dispose();
      p.accuracy.dispose();
    }
    this.pending = [];
  }
}

/** 'min val_loss' -> a < b; 'max val_accuracy' -> a > b. */
function betterBy(monitor: string): (a: number, b: number) => boolean {
  return monitor.startsWith('min') ? (a, b) => a < b : (a, b) => a > b;
}

/** The top-k list after adding `candidate` (best first; -1 keeps all, 0 none; ties keep the earlier one). */
export function rankTopK(
  current: RankedCheckpoint[],
  candidate: RankedCheckpoint,
  k: number,
  better: (a: number, b: number) => boolean,
): RankedCheckpoint[] {
  if (k === 0) return [];
  const list = [...current, candidate].sort((a, b) => (better(a.value, b.value) ? -1 : better(b.value, a.value) ? 1 : a.step - b.step));
  return k < 0 ? list : list.slice(0, k);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Whether the replan looks again right after `step`: at atStep, then every everySteps. */
function isLook(step: number, replan: { atStep: number; everySteps?: number }): boolean {
  if (step === replan.atStep) return true;
  const every = replan.everySteps ?? 0;
  return every > 0 && step > replan.atStep && (step - replan.atStep) % every === 0;
}
