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
import * as fs from 'fs';
import * as path from 'path';
import { initBackend, tf } from '../util/backend';
import {
  bestDir, checkpointName, checkpointsDir, lastDir, METRICS_FILE, OPTIMIZER_FILE, readOptimizerState, recoverLast,
  resumeConflicts, saveLastCheckpoint, syncRankedFolders, type RankedCheckpoint, type TrainerState, type ValidationResult,
} from './checkpoints';
import { ensureCorpus } from '../corpus/index';
import { ClassificationDataset, evaluationLoader, trainingLoader, type CorpusSource, type DataLoader } from '../data/index';
import { check, NlpbookError } from '../util/errors';
import { classificationScores, ClassificationTask, type AdamWKernel } from '../task/index';
import { fetchModel, BertForSequenceClassification, loadWeights } from '../model/index';
import { progress, type Progress } from '../util/progress';
import { saveSettings, validateSettings, type Settings } from '../settings/index';
import { BertTokenizer, tokenizerFiles } from '../tokenizer/index';

/** NSMC's classes by label index (config.json's id2label of the trained model). */
export const NSMC_LABELS = ['negative', 'positive'] as const;

/** Batches per phase in settings.testMode (Lightning's fast_dev_run, a little wider). */
export const TEST_MODE_BATCHES = 2;

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

/** One line of metrics.jsonl for a training log step. */
export interface TrainMetricsLine {
  type: 'train';
  step: number;
  /** 1-based epoch the step belongs to. */
  epoch: number;
  /** Mean loss and accuracy of the steps since the previous line. */
  loss: number;
  accuracy: number;
  /** Learning rate of this step. */
  lr: number;
  /** Wall seconds since the run began (all sessions). */
  seconds: number;
}

/** One line of metrics.jsonl for a validation. */
export type ValidationMetricsLine = { type: 'validation'; seconds: number } & ValidationResult;

/** <dir>/metrics.jsonl split by line type, each in file order. */
export function metricsByType(dir: string): { train: TrainMetricsLine[]; validation: ValidationMetricsLine[] } {
  const lines = readMetrics(dir);
  return {
    train: lines.filter((l): l is TrainMetricsLine => l.type === 'train'),
    validation: lines.filter((l): l is ValidationMetricsLine => l.type === 'validation'),
  };
}

/** Reads <dir>/metrics.jsonl (for charts and notebooks). */
export function readMetrics(dir: string): (TrainMetricsLine | ValidationMetricsLine)[] {
  const file = path.join(dir, METRICS_FILE);
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
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
    const conflicts = resumeConflicts(saved.settings, settings);
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

  try {
    checkModelFits(model, tokenizer, settings);
    const train = new ClassificationDataset(settings, corpus, tokenizer, 'train', { log });
    const validation = new ClassificationDataset(settings, corpus, tokenizer, 'validation', { log });
    check(validation.length > 0, `settings.validationFraction: ${settings.validationFraction} of ${train.length} training examples leaves no validation examples; raise it or use more data`);
    const trainLoader = trainingLoader(train, settings);
    const batchesPerEpoch = settings.testMode ? Math.min(TEST_MODE_BATCHES, trainLoader.length) : trainLoader.length;
    if (batchesPerEpoch === 0) {
      throw new NlpbookError(
        `settings.batchSize: ${settings.batchSize} is more than the ${train.length} training examples and dropLast is true, so an epoch has no batch; lower batchSize or set dropLast to false`,
      );
    }
    const data = {
      corpusFingerprint: train.cacheKey.corpusFingerprint,
      tokenizerFingerprint: train.cacheKey.tokenizerFingerprint,
      trainExamples: train.length,
      validationExamples: validation.length,
    };
    if (saved && JSON.stringify(saved.data) !== JSON.stringify(data)) {
      throw new NlpbookError(
        `${lastDir(dir)}: was trained on other data (${saved.data.trainExamples} training examples, now ${train.length}, or another corpus file or tokenizer); ` +
          'set another downstreamModelDir, or delete that folder to start over',
      );
    }

    const run = new Run(settings, model, tokenizer, trainLoader, evaluationLoader(validation, settings), batchesPerEpoch, data, log, options);
    if (saved) run.resume(saved);
    else run.start();
    await run.train();
    return resultOf(dir, run.state, saved ? { epoch: saved.epochsCompleted, step: saved.step } : null);
  } finally {
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

/** One training run's moving parts; fit() builds it, then start() or resume(), then train(). */
class Run {
  readonly task: ClassificationTask;
  state!: TrainerState;
  private readonly dir: string;
  private readonly metricsFile: string;
  private readonly tokenizerFiles: Map<string, string>;
  private readonly valBatches: number;
  /** Step results not read yet: read when a metrics line or a checkpoint is due. */
  private pending: { loss: tf.Scalar; accuracy: tf.Scalar }[] = [];
  private sessionStart = Date.now();
  private lastSave = Date.now();
  private readonly checkpointEveryMs: number;
  private secondsBefore = 0;
  private lastInfo = '';

  constructor(
    private readonly settings: Settings,
    private readonly model: BertForSequenceClassification,
    tokenizer: BertTokenizer,
    private readonly trainLoader: DataLoader,
    private readonly valLoader: DataLoader,
    private readonly batchesPerEpoch: number,
    private readonly data: TrainerState['data'],
    private readonly log: (line: string) => void,
    private readonly options: FitOptions,
  ) {
    this.dir = settings.downstreamModelDir;
    this.metricsFile = path.join(this.dir, METRICS_FILE);
    this.tokenizerFiles = tokenizerFiles(tokenizer);
    this.checkpointEveryMs = (options.checkpointEveryMinutes ?? 30) * 60_000;
    this.valBatches = settings.testMode ? Math.min(TEST_MODE_BATCHES, valLoader.length) : valLoader.length;
    this.task = new ClassificationTask(model, settings, batchesPerEpoch * settings.epochs, { kernel: options.kernel });
  }

  /** A fresh run: clears what a run that never reached its first checkpoint left. */
  start(): void {
    fs.mkdirSync(this.dir, { recursive: true });
    fs.rmSync(this.metricsFile, { force: true });
    fs.rmSync(checkpointsDir(this.dir), { recursive: true, force: true });
    fs.rmSync(bestDir(this.dir), { recursive: true, force: true });
    saveSettings(this.settings, this.dir);
    const s = this.settings;
    this.state = {
      format: 'nlpbook-trainer-state/1',
      settings: s,
      data: this.data,
      step: 0,
      epoch: 0,
      batchInEpoch: 0,
      epochsCompleted: 0,
      batchesPerEpoch: this.batchesPerEpoch,
      totalSteps: this.task.schedule.totalSteps,
      loader: this.trainLoader.state(),
      task: this.task.state(),
      lr: this.task.lr,
      window: { steps: 0, lossSum: 0, accuracySum: 0 },
      monitor: s.monitor,
      best: null,
      topK: [],
      history: [],
      epochsWithoutImprovement: 0,
      finished: false,
      stoppedEarly: false,
      seconds: 0,
      metricsBytes: 0,
      savedAt: '',
    };
    const sched = this.task.schedule;
    this.log(
      `nlpbook: training ${this.settings.pretrainedModelName} on ${this.data.trainExamples} examples ` +
        `(${this.data.validationExamples} for validation), ${s.epochs} epoch${s.epochs === 1 ? '' : 's'} x ${this.batchesPerEpoch} batches of ${s.batchSize}` +
        `${s.testMode ? ' (testMode)' : ''}; lr ${s.learningRate} with ${sched.warmupSteps} warmup steps of ${sched.totalSteps}; -> ${this.dir}`,
    );
  }

  /** Continues the run saved in `last`: optimizer moments, dropout generator, loader position, metrics file. */
  resume(saved: TrainerState): void {
    check(saved.totalSteps === this.task.schedule.totalSteps, `${lastDir(this.dir)}: planned ${saved.totalSteps} steps, this run ${this.task.schedule.totalSteps}`);
    this.task.optimizer.loadState(readOptimizerState(path.join(lastDir(this.dir), OPTIMIZER_FILE)));
    this.task.loadState(saved.task);
    this.trainLoader.restore({ ...saved.loader, epoch: saved.epoch, batchIndex: saved.batchInEpoch });
    // Lines written after the checkpoint belong to work that is done again now.
    if (fs.existsSync(this.metricsFile) && fs.statSync(this.metricsFile).size > saved.metricsBytes) {
      fs.truncateSync(this.metricsFile, saved.metricsBytes);
    }
    syncRankedFolders(this.dir, saved);
    saveSettings(this.settings, this.dir);
    this.state = { ...saved, settings: this.settings };
    this.secondsBefore = saved.seconds;
    this.log(
      `nlpbook: resuming ${lastDir(this.dir)} at epoch ${saved.epoch + 1}/${this.settings.epochs}, ` +
        `batch ${saved.batchInEpoch}/${this.batchesPerEpoch}, step ${saved.step}/${saved.totalSteps}`,
    );
  }

  async train(): Promise<void> {
    const s = this.settings;
    const st = this.state;
    this.sessionStart = Date.now();
    this.lastSave = Date.now();
    while (st.epoch < s.epochs && !st.finished) {
      const epoch = st.epoch;
      const bar = progress(this.batchesPerEpoch, `epoch ${epoch + 1}/${s.epochs}`, s.tqdmEnabled, { stream: this.options.progressStream });
      bar.update(st.batchInEpoch, this.lastInfo);
      const barStart = { time: Date.now(), batch: st.batchInEpoch };
      try {
        if (st.batchInEpoch < this.batchesPerEpoch) {
          for await (const batch of this.trainLoader.batches(epoch)) {
            let result;
            try {
              result = this.task.trainStep(batch);
            } finally {
              batch.dispose();
            }
            result.gradNorm.dispose();
            this.pending.push({ loss: result.loss, accuracy: result.accuracy });
            st.step = result.step;
            st.batchInEpoch += 1;
            // Let signal handlers and timers run: the loop alone only ever yields to microtasks.
            await new Promise((resolve) => setImmediate(resolve));
            if (st.step % s.logEverySteps === 0) await this.logTrainLine(result.lr, bar, barStart);
            else bar.update(st.batchInEpoch);
            const why = this.options.signal?.aborted ? 'interrupted' : st.step >= (this.options.stopAt?.steps ?? Infinity) ? 'stopAt' : null;
            if (why) {
              await this.saveLast();
              this.log(`nlpbook: stopped at step ${st.step} (${why}), saved ${lastDir(this.dir)}; run again with the same settings to resume`);
              return;
            }
            if (st.batchInEpoch >= this.batchesPerEpoch) break;
            if (this.checkpointEveryMs > 0 && Date.now() - this.lastSave >= this.checkpointEveryMs) await this.saveLast();
          }
        }
      } finally {
        bar.stop();
      }
      await this.endEpoch();
      const why = this.options.signal?.aborted ? 'interrupted' : st.epochsCompleted >= (this.options.stopAt?.epochs ?? Infinity) ? 'stopAt' : null;
      if (why && !st.finished) {
        this.log(`nlpbook: stopped after epoch ${st.epochsCompleted} (${why}), saved ${lastDir(this.dir)}; run again with the same settings to resume`);
        return;
      }
    }
  }

  /** Validation, best/top-k bookkeeping, early stopping and the epoch's checkpoint. */
  private async endEpoch(): Promise<void> {
    const s = this.settings;
    const st = this.state;
    const v = await this.validate(st.epoch + 1);
    st.history.push(v);
    this.appendMetrics({ type: 'validation', ...v, seconds: round(this.seconds(), 3) });
    const value = s.monitor === 'min val_loss' ? v.loss : v.accuracy;
    const better = (a: number, b: number) => (s.monitor === 'min val_loss' ? a < b : a > b);
    const improved = st.best === null || better(value, st.best.value);
    if (improved) {
      st.best = { ...v, value };
      st.epochsWithoutImprovement = 0;
    } else {
      st.epochsWithoutImprovement += 1;
    }
    st.topK = rankTopK(st.topK, { name: checkpointName(s.monitor, v.epoch, v.step, value), value, epoch: v.epoch, step: v.step }, s.saveTopK, better);
    st.epochsCompleted = st.epoch + 1;
    st.epoch += 1;
    st.batchInEpoch = 0;
    if (s.earlyStoppingPatience > 0 && st.epochsWithoutImprovement >= s.earlyStoppingPatience && st.epoch < s.epochs) {
      st.stoppedEarly = true;
      this.log(`nlpbook: early stopping: ${s.monitor.split(' ')[1]} did not improve for ${st.epochsWithoutImprovement} epochs`);
    }
    st.finished = st.epoch >= s.epochs || st.stoppedEarly;
    this.log(
      `nlpbook: epoch ${v.epoch}/${s.epochs} validation: loss ${v.loss.toFixed(4)}, accuracy ${v.accuracy.toFixed(4)}, ` +
        `precision ${v.precision.toFixed(4)}, recall ${v.recall.toFixed(4)}, f1 ${v.f1.toFixed(4)} (${v.n} examples)${improved ? ' *best*' : ''}`,
    );
    await this.saveLast();
  }

  /** Scores the validation split with dropout off. */
  private async validate(epoch: number): Promise<ValidationResult> {
    const predictions: number[] = [];
    const labels: number[] = [];
    let lossSum = 0;
    let seen = 0;
    for await (const batch of this.valLoader.batches(0)) {
      if (seen >= this.valBatches) {
        batch.dispose();
        break;
      }
      seen += 1;
      const r = this.task.evalStep(batch);
      try {
        const [loss, probs, y] = await Promise.all([r.lossSum.data(), r.probabilities.data(), batch.labels.data()]);
        lossSum += loss[0];
        const k = r.probabilities.shape[1];
        for (let i = 0; i < r.count; i++) {
          predictions.push(probs[i * k + 1] > probs[i * k] ? 1 : 0);
          labels.push(y[i]);
        }
      } finally {
        r.dispose();
        batch.dispose();
      }
    }
    const scores = classificationScores(predictions, labels, 1);
    return {
      epoch,
      step: this.state.step,
      n: scores.n,
      loss: scores.n ? lossSum / scores.n : 0,
      accuracy: scores.accuracy,
      precision: scores.precision,
      recall: scores.recall,
      f1: scores.f1,
    };
  }

  /** Reads the pending step results into the window sums (the only place the host waits for them). */
  private async drainPending(): Promise<void> {
    const w = this.state.window;
    for (const p of this.pending) {
      const [loss, acc] = await Promise.all([p.loss.data(), p.accuracy.data()]);
      w.steps += 1;
      w.lossSum += loss[0];
      w.accuracySum += acc[0];
      p.loss.dispose();
      p.accuracy.dispose();
    }
    this.pending = [];
  }

  private async logTrainLine(lr: number, bar: Progress, barStart: { time: number; batch: number }): Promise<void> {
    await this.drainPending();
    const st = this.state;
    const w = st.window;
    const line: TrainMetricsLine = {
      type: 'train',
      step: st.step,
      epoch: st.epoch + 1,
      loss: w.lossSum / w.steps,
      accuracy: w.accuracySum / w.steps,
      lr,
      seconds: round(this.seconds(), 3),
    };
    this.appendMetrics(line);
    st.window = { steps: 0, lossSum: 0, accuracySum: 0 };
    const rate = (st.batchInEpoch - barStart.batch) / Math.max(1e-9, (Date.now() - barStart.time) / 1000);
    this.lastInfo = `loss ${line.loss.toFixed(4)} acc ${line.accuracy.toFixed(3)} lr ${lr.toExponential(2)} ${rate.toFixed(1)} it/s`;
    bar.update(st.batchInEpoch, this.lastInfo);
  }

  /** Writes checkpoints/last (and the top-k / best links it calls for). */
  private async saveLast(): Promise<void> {
    await this.drainPending();
    const st = this.state;
    st.loader = this.trainLoader.state();
    st.task = this.task.state();
    st.lr = this.task.lr;
    st.seconds = this.seconds();
    st.metricsBytes = fs.existsSync(this.metricsFile) ? fs.statSync(this.metricsFile).size : 0;
    st.savedAt = new Date().toISOString();
    saveLastCheckpoint(this.dir, {
      model: this.model,
      settings: this.settings,
      tokenizer: this.tokenizerFiles,
      optimizer: this.task.optimizer.state(),
      state: st,
    });
    syncRankedFolders(this.dir, st);
    this.lastSave = Date.now();
  }

  private appendMetrics(line: object): void {
    fs.appendFileSync(this.metricsFile, `${JSON.stringify(line)}\n`);
  }

  private seconds(): number {
    return this.secondsBefore + (Date.now() - this.sessionStart) / 1000;
  }
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
