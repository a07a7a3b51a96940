// Fine-tuning as a task of the one training loop (trainer.ts's Trainer): step 6's
// ClassificationTask on the shuffled NSMC batches, validation on the held-out part of
// the training split at every epoch end, ranked by settings.monitor ('min val_loss' or
// 'max val_accuracy') for the saveTopK checkpoints, best/ and early stopping. Its
// checkpoint state is checkpoints.ts's TrainerState (the data loader's position and the
// dropout generator besides the loop's state); its output is best/ and the checkpoints.
import { TRAINER_STATE_FORMAT, type TrainerState, type ValidationResult } from './checkpoints';
import { epochPlan, evaluationBatches, type CheckpointParts, type LoopState, type Ranking, type StepOutput, type TrainingPlan, type TrainingTask } from './training-task';
import { ClassificationDataset, evaluationLoader, trainingLoader, type CorpusSource, type DataLoader, type TensorBatch } from '../data/index';
import { check, NlpbookError } from '../util/errors';
import { classificationScores, ClassificationTask, type AdamW, type AdamWKernel } from '../task/index';
import type { BertForSequenceClassification } from '../model/index';
import { saveSettings, type Settings } from '../settings/index';
import { type BertTokenizer, tokenizerFiles } from '../tokenizer/index';

export class FineTuning implements TrainingTask<TensorBatch, ValidationResult, TrainerState> {
  readonly dir: string;
  readonly plan: TrainingPlan;
  /** Step 6's task: the training and evaluation steps, AdamW and the schedule. */
  readonly task: ClassificationTask;
  readonly evaluateAt = 'epoch';
  readonly evaluationType = 'validation';
  readonly ranking: Ranking<ValidationResult>;
  readonly progressLabel = 'training';
  /** What the features came from: a resume on other data would not be the same run. */
  readonly data: TrainerState['data'];
  private readonly trainLoader: DataLoader;
  private readonly valLoader: DataLoader;
  private readonly tokenizerFiles: Map<string, string>;

  constructor(
    private readonly settings: Settings,
    readonly model: BertForSequenceClassification,
    tokenizer: BertTokenizer,
    corpus: CorpusSource,
    private readonly options: { log: (line: string) => void; kernel?: AdamWKernel },
  ) {
    const s = settings;
    this.dir = s.downstreamModelDir;
    const train = new ClassificationDataset(s, corpus, tokenizer, 'train', { log: options.log });
    const validation = new ClassificationDataset(s, corpus, tokenizer, 'validation', { log: options.log });
    check(validation.length > 0, `settings.validationFraction: ${s.validationFraction} of ${train.length} training examples leaves no validation examples; raise it or use more data`);
    this.trainLoader = trainingLoader(train, s);
    this.valLoader = evaluationLoader(validation, s);
    this.plan = epochPlan(s.epochs, this.trainLoader.length, s.testMode);
    if (this.plan.batchesPerEpoch === 0) {
      throw new NlpbookError(
        `settings.batchSize: ${s.batchSize} is more than the ${train.length} training examples and dropLast is true, so an epoch has no batch; lower batchSize or set dropLast to false`,
      );
    }
    this.data = {
      corpusFingerprint: train.cacheKey.corpusFingerprint,
      tokenizerFingerprint: train.cacheKey.tokenizerFingerprint,
      trainExamples: train.length,
      validationExamples: validation.length,
    };
    this.tokenizerFiles = tokenizerFiles(tokenizer);
    this.task = new ClassificationTask(model, s, this.plan.totalSteps, { kernel: options.kernel });
    this.ranking = {
      monitor: s.monitor,
      value: (v) => (s.monitor === 'min val_loss' ? v.loss : v.accuracy),
      saveTopK: s.saveTopK,
      earlyStoppingPatience: s.earlyStoppingPatience,
    };
  }

  get optimizer(): AdamW {
    return this.task.optimizer;
  }

  start(): void {
    const s = this.settings;
    saveSettings(s, this.dir);
    const sched = this.task.schedule;
    this.options.log(
      `nlpbook: training ${s.pretrainedModelName} on ${this.data.trainExamples} examples ` +
        `(${this.data.validationExamples} for validation), ${s.epochs} epoch${s.epochs === 1 ? '' : 's'} x ${this.plan.batchesPerEpoch} batches of ${s.batchSize}${s.bf16 && this.task.graphMode ? ', bf16 matmuls' : ''}` +
        `${s.testMode ? ' (testMode)' : ''}; lr ${s.learningRate} with ${sched.warmupSteps} warmup steps of ${sched.totalSteps}; -> ${this.dir}`,
    );
  }

  resume(saved: TrainerState): LoopState<ValidationResult> {
    this.task.loadState(saved.task);
    this.trainLoader.restore({ ...saved.loader, epoch: saved.epoch, batchIndex: saved.batchInEpoch });
    saveSettings(this.settings, this.dir);
    return {
      step: saved.step,
      totalSteps: saved.totalSteps,
      epoch: saved.epoch,
      batchInEpoch: saved.batchInEpoch,
      epochsCompleted: saved.epochsCompleted,
      window: { steps: saved.window.steps, weight: saved.window.steps, lossSum: saved.window.lossSum, accuracySum: saved.window.accuracySum },
      stoppedBy: !saved.finished ? null : saved.stoppedEarly ? 'early' : 'steps',
      history: saved.history,
      best: saved.best,
      topK: saved.topK,
      epochsWithoutImprovement: saved.epochsWithoutImprovement,
      seconds: saved.seconds,
      metricsBytes: saved.metricsBytes,
      savedAt: saved.savedAt,
    };
  }

  /** The loader continues where restore() put it (a resume), else at the epoch's first batch. */
  batches(epoch: number): AsyncIterable<TensorBatch> {
    return this.trainLoader.batches(epoch);
  }

  trainStep(batch: TensorBatch): StepOutput {
    let result;
    try {
      result = this.task.trainStep(batch);
    } finally {
      batch.dispose();
    }
    result.gradNorm.dispose();
    return { loss: result.loss, accuracy: result.accuracy, weight: 1, lr: result.lr };
  }

  /** Scores the validation split with dropout off. */
  async evaluate(at: { epoch: number; step: number }): Promise<ValidationResult> {
    const predictions: number[] = [];
    const labels: number[] = [];
    const batches = evaluationBatches(this.valLoader.length, this.settings.testMode);
    let lossSum = 0;
    let seen = 0;
    for await (const batch of this.valLoader.batches(0)) {
      if (seen >= batches) {
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
      epoch: at.epoch,
      step: at.step,
      n: scores.n,
      loss: scores.n ? lossSum / scores.n : 0,
      accuracy: scores.accuracy,
      precision: scores.precision,
      recall: scores.recall,
      f1: scores.f1,
    };
  }

  describe(v: ValidationResult, improved: boolean): string {
    return (
      `nlpbook: epoch ${v.epoch}/${this.settings.epochs} validation: loss ${v.loss.toFixed(4)}, accuracy ${v.accuracy.toFixed(4)}, ` +
      `precision ${v.precision.toFixed(4)}, recall ${v.recall.toFixed(4)}, f1 ${v.f1.toFixed(4)} (${v.n} examples)${improved ? ' *best*' : ''}`
    );
  }

  checkpoint(loop: LoopState<ValidationResult>): CheckpointParts<TrainerState> {
    return { settings: this.settings, tokenizer: this.tokenizerFiles, state: this.stateOf(loop) };
  }

  /** The loop's state as trainer-state.json holds it (checkpoints.ts's TrainerState). */
  stateOf(loop: LoopState<ValidationResult>): TrainerState {
    const w = loop.window;
    return {
      format: TRAINER_STATE_FORMAT,
      settings: this.settings,
      data: this.data,
      step: loop.step,
      epoch: loop.epoch,
      batchInEpoch: loop.batchInEpoch,
      epochsCompleted: loop.epochsCompleted,
      batchesPerEpoch: this.plan.batchesPerEpoch,
      totalSteps: this.plan.totalSteps,
      loader: this.trainLoader.state(),
      task: this.task.state(),
      lr: this.task.lr,
      window: { steps: w.steps, lossSum: w.lossSum, accuracySum: w.accuracySum },
      monitor: this.settings.monitor,
      best: loop.best,
      topK: loop.topK,
      history: loop.history,
      epochsWithoutImprovement: loop.epochsWithoutImprovement,
      finished: loop.stoppedBy !== null,
      stoppedEarly: loop.stoppedBy === 'early',
      seconds: loop.seconds,
      metricsBytes: loop.metricsBytes,
      savedAt: loop.savedAt,
    };
  }

  /** Frees AdamW's moments and the training graphs (the model stays). */
  dispose(): void {
    this.task.dispose();
  }
}
