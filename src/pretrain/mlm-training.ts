// Masked-LM pretraining as a task of the one training loop (src/train/trainer.ts's
// Trainer): its batches, its step, its evaluation and its output. ELECTRA's
// replaced-token detection (settings.objective 'electra', model/electra.ts) is the same
// task with another model and step: the batches are masked alike, its generator fills
// them in and the discriminator tells replaced tokens from original ones.
//
//   batch of step t   the loader's shuffled sequences (seeded per epoch), masked ~15%
//                     (masking.ts; the masks are a function of seed and step; with maskProbEnd
//                     the rate falls in a straight line over the planned steps)
//   step              BertForMaskedLM with dropout at the masked positions only, cross-entropy
//                     against the original tokens, MLM accuracy alongside, clipping, AdamW with
//                     the linear schedule: one TensorFlow graph (MlmTrainGraph) on the native
//                     backend; a metrics line's means weigh each step by its masked tokens
//   task objective    (taskWeight > 0) the same graph also runs BertForSequenceClassification's
//                     pooler and classifier on each masked sequence's [CLS] and adds taskWeight ×
//                     their cross-entropy over the sequences with a label (NSMC's, less fine-tuning's
//                     validation split); its loss and accuracy are logged as taskLoss/taskAccuracy
//   ELECTRA step      ElectraTrainGraph: the generator's MLM loss + λ × the discriminator's
//                     loss over every real token; logged as the generator's MLM loss/accuracy
//                     (comparable with an MLM run's) and the discriminator's accuracy
//   evaluation        once, at the end: held-out MLM loss/accuracy (dropout off, fixed masks)
//   "best"            none: the final model is the result
//   checkpoint        trainer-state.json is PretrainState (tokens trained on besides the loop's
//                     state: the batches and masks follow from the seed and the step alone)
//   output            the model folder in Hugging Face layout (ELECTRA: its discriminator as a
//                     BERT encoder; a task objective: with the trained pooler and classifier); pretrain() then writes pretrain-result.json, the "finished" mark
import { tf } from '../util/backend';
import { check } from '../util/errors';
import { type CheckpointParts, type LoopState, type StepOutput, type TrainingPlan, type TrainingTask, type TrainLine, stepPlan, evaluationBatches } from '../train/index';
import { DataLoader } from '../data/index';
import { maskBatch, maskRateAt, type MaskingOptions, type MaskingVocab, type MlmBatch } from './masking';
import { BertForMaskedLM, ElectraForPreTraining, ElectraTrainGraph, hasTaskHead, saveModel, MlmTrainGraph, skipPaddingPays, weightShapes, type SampledSoftmaxTensors } from '../model/index';
import { AdamW, clipScale, accuracy, sparseCrossEntropy, linearSchedule, lrAt, type AdamWKernel, type LinearSchedule } from '../task/index';
import type { PretrainData, PretrainDataInfo, SequenceStore } from './pretrain-data';
import { PRETRAIN_SETTINGS_FILE, savePretrainSettings, type PretrainSettings } from './pretrain-settings';
import { Rng } from '../util/random';
import { markUnseenTokens, seenTokenIds, SoftmaxRowPicker, tokenCounts } from './seen-tokens';
import { graphAvailable } from '../util/tfgraph/session';
import { type BertTokenizer, tokenizerFiles, writeTokenizerFiles } from '../tokenizer/index';

export const PRETRAIN_STATE_FORMAT = 'nlpbook-pretrain-state/1';

/** A session's speed is measured from its 20th step on: the first ones build the training graphs. */
export const SPEED_FROM_STEP = 20;

/** Everything besides weights and AdamW moments that an exact resume needs (checkpoints/last/trainer-state.json). */
export interface PretrainState {
  format: string;
  settings: PretrainSettings;
  data: PretrainDataInfo;
  /** Optimizer steps done. */
  step: number;
  totalSteps: number;
  batchesPerEpoch: number;
  /** Real (non-padding) tokens trained on so far. */
  trainedTokens: number;
  /** Steps since the last metrics line, already read to the host; sums weighted by masked tokens. */
  window: {
    steps: number; masked: number; lossSum: number; accuracySum: number; tokens: number;
    discriminatorSum?: number; discriminatorSteps?: number; taskLossSum?: number; taskAccuracySum?: number; taskSteps?: number;
  };
  /** Why training ended ('steps': all done; 'minutes': the time budget), null while it goes on. */
  stoppedBy: 'steps' | 'minutes' | null;
  /** Wall seconds of training so far (all sessions). */
  seconds: number;
  /** Size of metrics.jsonl when saved: a resume cuts off what was written after. */
  metricsBytes: number;
  savedAt: string;
}

/** Held-out MLM scores after `step` steps (the "heldout" line of metrics.jsonl without type and seconds). */
export interface HeldOutScores {
  step: number;
  loss: number;
  accuracy: number;
  /** Masked tokens the scores are over. */
  masked: number;
  sequences: number;
  /** ELECTRA: the discriminator's accuracy over every real token (loss and accuracy above are its generator's). */
  discriminatorAccuracy?: number;
}

/** The masking options of the settings. */
export function maskingOptions(s: PretrainSettings): MaskingOptions {
  return { maskProb: s.maskProb, maskTokenProb: s.maskTokenProb, randomTokenProb: s.randomTokenProb, wholeWordMasking: s.wholeWordMasking };
}

export interface MaskedLmOptions {
  /** Where one-line notices go. */
  log: (line: string) => void;
  /** AdamW kernel (default: fused on the native backend). */
  kernel?: AdamWKernel;
  /** Each step as one TensorFlow graph (MlmTrainGraph); default: wherever the native backend runs. */
  graph?: boolean;
}

export class MaskedLmTraining implements TrainingTask<MlmBatch, HeldOutScores, PretrainState> {
  readonly plan: TrainingPlan;
  readonly optimizer: AdamW;
  readonly evaluateAt = 'end';
  readonly evaluationType = 'heldout';
  readonly ranking = null;
  readonly progressLabel = 'pretraining';
  /** Real (non-padding) tokens trained on so far. */
  trainedTokens = 0;
  /** Real tokens since the last metrics line, and where the current throughput window began. */
  private windowTokens = 0;
  /** Masked tokens since the last metrics line (a falling masking rate logs their share). */
  private windowMasked = 0;
  private windowStart = { time: Date.now(), tokens: 0 };
  private readonly rootRng: Rng;
  private readonly masking: MaskingOptions;
  private schedule: LinearSchedule;
  private readonly loader: DataLoader;
  private readonly useGraph: boolean;
  /** Training graphs, built on first use: one that skips padded positions, one for batches with (almost) none. */
  private graphs: { skipPadding?: MlmTrainGraph | ElectraTrainGraph; full?: MlmTrainGraph | ElectraTrainGraph } = {};
  /** Where this session's measured speed starts (replan): the step, its time, the tokens trained before it. */
  private speedFrom: { step: number; time: number; tokens: number } = { step: SPEED_FROM_STEP, time: 0, tokens: 0 };
  /** predictSeenTokensOnly: the ids the masked LM predicts (ascending); null: all. */
  private readonly outputIds: number[] | null = null;
  /** softmaxTokens: picks each step's scored rows (the most frequent tokens plus the batch's labels); null: all. */
  private readonly softmaxRows: SoftmaxRowPicker | null = null;
  /**
   * ELECTRA: the discriminator's accuracy per step, kept as tensors until a train line
   * or a checkpoint reads them (as the trainer does with loss and accuracy), and the sum
   * of those read since the last line.
   */
  private discriminatorPending: tf.Scalar[] = [];
  private discriminatorWindow = { sum: 0, steps: 0 };
  /** With a task objective (settings.taskWeight): its loss and accuracy per step, read the same way. */
  private taskPending: [tf.Scalar, tf.Scalar][] = [];
  private taskWindow = { lossSum: 0, accuracySum: 0, steps: 0 };

  constructor(
    private settings: PretrainSettings,
    private readonly tokenizer: BertTokenizer,
    readonly dir: string,
    private readonly vocab: MaskingVocab,
    readonly data: PretrainData,
    readonly model: BertForMaskedLM | ElectraForPreTraining,
    private readonly options: MaskedLmOptions,
  ) {
    const s = settings;
    this.useGraph = options.graph ?? graphAvailable();
    check(!this.useGraph || graphAvailable(), `pretrain: graph: true needs the native tensorflow backend; this one is "${tf.getBackend()}"`);
    if (s.taskWeight > 0) {
      // The task head is trained by the training graph only (the eager step computes the masked LM alone).
      check(this.useGraph, `pretrain settings: taskWeight ${s.taskWeight} needs the training graph (the native tensorflow backend); this one is "${tf.getBackend()}"`);
      check(model instanceof BertForMaskedLM && hasTaskHead(model.config) && data.train.labels !== null, 'pretrain: taskWeight > 0 needs a model with a task head and labelled sequences');
    }
    if (s.predictSeenTokensOnly) {
      check(model instanceof BertForMaskedLM, 'pretrain settings: predictSeenTokensOnly needs objective "mlm"');
      this.outputIds = seenTokenIds([data.train, data.heldOut], vocab);
      markUnseenTokens(model.weights.get('cls.predictions.bias')!, this.outputIds);
    }
    if (s.softmaxTokens > 0) {
      check(model instanceof BertForMaskedLM, 'pretrain settings: softmaxTokens needs objective "mlm"');
      this.softmaxRows = new SoftmaxRowPicker(tokenCounts(data.train, vocab), s.softmaxTokens);
    }
    this.rootRng = new Rng(s.seed);
    this.masking = maskingOptions(s);
    this.loader = new DataLoader(data.train, { batchSize: s.batchSize, shuffle: true, seed: s.seed, lengthBucketing: !s.packing });
    this.plan = stepPlan(s.steps > 0 ? s.steps : s.epochs * this.loader.length, this.loader.length, s.testMode);
    this.schedule = linearSchedule(s, this.plan.totalSteps);
    this.optimizer = new AdamW(model.weights, {
      lr: s.learningRate, weightDecay: s.weightDecay, beta1: s.adamBeta1, beta2: s.adamBeta2, eps: s.adamEpsilon, kernel: options.kernel,
    });
  }

  start(): void {
    const s = this.settings;
    const d = this.data.info;
    const total = this.plan.totalSteps;
    this.windowStart = { time: Date.now(), tokens: 0 };
    this.speedFrom = { step: SPEED_FROM_STEP, time: 0, tokens: 0 };
    this.options.log(
      `nlpbook: pretraining ${s.objective === 'electra' ? `ELECTRA (generator of ${s.generatorLayers} layer${s.generatorLayers === 1 ? '' : 's'}, discriminator ` : ''}BERT L${s.layers}/H${s.hidden}/A${s.heads}/I${s.intermediate} (${(this.model.parameterCount() / 1e6).toFixed(1)}M parameters${s.objective === 'electra' ? ' in all)' : ')'} ` +
        `on ${d.trainSequences.toLocaleString('en-US')} sequences (${d.trainTokens.toLocaleString('en-US')} tokens${s.packing ? ', packed' : ''}; ` +
        `${d.heldOutDocuments} documents held out), ${total} steps of ${s.batchSize} (${(total / this.loader.length).toFixed(2)} epochs)${s.bf16 && this.useGraph ? ', bf16 matmuls' : ''}` +
        `${this.outputIds ? `, predicting the ${this.outputIds.length.toLocaleString('en-US')} tokens seen of ${this.vocab.vocabSize.toLocaleString('en-US')}` : ''}` +
        `${this.softmaxRows ? `, each step's softmax over the ${this.softmaxRows.frequent.length.toLocaleString('en-US')} most frequent tokens and the batch's labels` : ''}` +
        `${s.maskProbEnd > 0 ? `, masking ${+(s.maskProb * 100).toFixed(1)}% of the tokens at first and ${+(s.maskProbEnd * 100).toFixed(1)}% at the end` : ''}` +
        `${s.minutes > 0 ? `, at most ${s.minutes} minutes` : ''}${s.testMode ? ' (testMode)' : ''}; -> ${this.dir}`,
    );
  }

  resume(saved: PretrainState): LoopState<HeldOutScores> {
    this.trainedTokens = saved.trainedTokens;
    this.speedFrom = { step: saved.step + SPEED_FROM_STEP, time: 0, tokens: 0 };
    this.windowTokens = saved.window.tokens;
    this.windowMasked = saved.window.masked;
    this.windowStart = { time: Date.now(), tokens: saved.window.tokens };
    // The batch of a step follows from the step alone: the epoch and the place in it too.
    const perEpoch = this.plan.batchesPerEpoch;
    const epoch = Math.floor(saved.step / perEpoch);
    const w = saved.window;
    this.discriminatorWindow = { sum: w.discriminatorSum ?? 0, steps: w.discriminatorSteps ?? 0 };
    this.taskWindow = { lossSum: w.taskLossSum ?? 0, accuracySum: w.taskAccuracySum ?? 0, steps: w.taskSteps ?? 0 };
    return {
      step: saved.step,
      totalSteps: saved.totalSteps,
      epoch,
      batchInEpoch: saved.step - epoch * perEpoch,
      epochsCompleted: epoch,
      window: { steps: w.steps, weight: w.masked, lossSum: w.lossSum, accuracySum: w.accuracySum },
      stoppedBy: saved.stoppedBy,
      history: [],
      best: null,
      topK: [],
      epochsWithoutImprovement: 0,
      seconds: saved.seconds,
      metricsBytes: saved.metricsBytes,
      savedAt: saved.savedAt,
    };
  }

  /** The masked batch of optimizer step `step` (0-based): a pure function of the seed and the step. */
  batchAt(step: number): MlmBatch {
    const epoch = Math.floor(step / this.loader.length);
    const indices = this.loader.plan(epoch)[step % this.loader.length];
    const rows = indices.map((i) => this.data.train.sequence(i));
    const maskProb = maskRateAt(this.settings.maskProb, this.settings.maskProbEnd, step, this.plan.totalSteps);
    const batch: MlmBatch = maskBatch(rows, this.vocab, { ...this.masking, maskProb }, this.rootRng.fork(`masks-${step}`));
    if (this.softmaxRows) batch.softmaxRows = this.softmaxRows.pick(batch.labels);
    const labels = this.data.train.labels;
    return labels ? { ...batch, sequenceLabels: Int32Array.from(indices, (i) => labels[i]) } : batch;
  }

  *batches(epoch: number, from: number): Iterable<MlmBatch> {
    for (let b = from; b < this.loader.length; b++) yield this.batchAt(epoch * this.loader.length + b);
  }

  trainStep(batch: MlmBatch, step: number): StepOutput {
    // Steps run synchronously: at the start of this one, the earlier ones are done.
    if (step === this.speedFrom.step) this.speedFrom = { step, time: Date.now(), tokens: this.trainedTokens };
    const lr = lrAt(this.schedule, step);
    const seed = this.rootRng.fork(`dropout-${step}`).next();
    const t = toTensors(batch);
    try {
      const out = tf.tidy(() => {
        if (this.model instanceof ElectraForPreTraining) return this.electraStep(t, batch, lr, seed);
        if (this.useGraph) {
          // The graph also takes the norm and clips, so AdamW gets ready gradients.
          const r = (this.graphFor(batch) as MlmTrainGraph).run([...this.model.weights.values()], {
            inputIds: t.inputIds, attentionMask: t.attentionMask ?? tf.onesLike(t.inputIds), maskedPositions: t.maskedPositions, labels: t.labels,
            sequenceLabels: t.sequenceLabels, softmax: t.softmax,
          }, seed);
          this.optimizer.step(r.grads, { lr });
          if (r.task) this.taskPending.push([tf.keep(r.task.loss), tf.keep(r.task.accuracy)]);
          return { loss: r.loss, accuracy: r.accuracy };
        }
        let acc: tf.Scalar | undefined;
        const mlm = this.model;
        const { value, grads } = tf.variableGrads(() => {
          let logits = mlm.forward(t, { training: this.settings.dropout, seed }) as tf.Tensor2D;
          let labels = t.labels;
          // softmaxTokens: the same sampled softmax as the graph's, over the batch's scored rows.
          if (t.softmax) [logits, labels] = [tf.add(tf.gather(logits, t.softmax.ids, 1), t.softmax.shift), t.softmax.targets];
          acc = tf.keep(accuracy(logits, labels));
          return sparseCrossEntropy(logits, labels);
        }, this.model.trainableVariables());
        const clip = this.settings.maxGradNorm > 0 ? clipScale(grads, this.settings.maxGradNorm) : null;
        this.optimizer.step(grads, { lr, gradScale: clip?.scale });
        return { loss: value, accuracy: acc as tf.Scalar };
      });
      this.trainedTokens += batch.realTokens;
      this.windowTokens += batch.realTokens;
      this.windowMasked += batch.positions.length;
      return { ...out, weight: batch.positions.length, lr };
    } finally {
      disposeTensors(t);
    }
  }

  /**
   * This session's speed so far: real tokens per second from step SPEED_FROM_STEP of the
   * session on (the first steps build the graphs), and the tokens of an average step (a
   * whole pass's tokens over its steps, whatever lengths the steps so far drew). null
   * before that step.
   */
  measuredSpeed(): { fromStep: number; tokensPerSecond: number; tokensPerStep: number } | null {
    return this.speedFrom.time === 0 ? null : this.speedSince(this.speedFrom);
  }

  /** The speed since an earlier point of this session (a replan's previous look), as measuredSpeed reports it. */
  speedSince(from: { step: number; time: number; tokens: number }): { fromStep: number; tokensPerSecond: number; tokensPerStep: number } | null {
    const seconds = (Date.now() - from.time) / 1000;
    if (seconds <= 0) return null;
    return { fromStep: from.step, tokensPerSecond: (this.trainedTokens - from.tokens) / seconds, tokensPerStep: this.data.info.trainTokens / this.plan.batchesPerEpoch };
  }

  /**
   * The run is `totalSteps` steps from now on (the trainer's replan): the learning rate's
   * warmup and decay are those of a run planned with that many steps, and the settings saved
   * with checkpoints and the model say so, so a resume continues this plan.
   */
  replan(totalSteps: number): void {
    check(Number.isInteger(totalSteps) && totalSteps > 0, `pretrain: replan: expected a whole number of steps > 0, got ${totalSteps}`);
    this.plan.totalSteps = totalSteps;
    this.settings = { ...this.settings, steps: totalSteps };
    this.schedule = linearSchedule(this.settings, totalSteps);
  }

  /**
   * One ELECTRA step: the generator's masked-LM loss plus λ times the discriminator's
   * replaced-token loss. Returns the generator's loss and accuracy; the discriminator's
   * accuracy waits, as a tensor, for the next train line.
   */
  private electraStep(t: MlmTensors, batch: MlmBatch, lr: number, seed: number): { loss: tf.Scalar; accuracy: tf.Scalar } {
    const model = this.model as ElectraForPreTraining;
    const inputs = { inputIds: t.inputIds, attentionMask: t.attentionMask ?? tf.onesLike(t.inputIds), maskedPositions: t.maskedPositions, labels: t.labels };
    if (this.useGraph) {
      const r = (this.graphFor(batch) as ElectraTrainGraph).run([...model.weights.values()], inputs, seed);
      this.optimizer.step(r.grads, { lr });
      this.discriminatorPending.push(tf.keep(r.discriminatorAccuracy));
      return { loss: r.generatorLoss, accuracy: r.generatorAccuracy };
    }
    const r = model.lossesAndGrads(inputs, { training: this.settings.dropout, seed, discriminatorWeight: this.settings.discriminatorWeight });
    const clip = this.settings.maxGradNorm > 0 ? clipScale(r.grads, this.settings.maxGradNorm) : null;
    this.optimizer.step(r.grads, { lr, gradScale: clip?.scale });
    this.discriminatorPending.push(tf.keep(r.discriminatorAccuracy));
    // lossesAndGrads keeps its outputs past any tidy: free what is not returned.
    tf.dispose([r.loss, r.discriminatorLoss, r.replacedShare, r.sampled, ...r.grads.values()]);
    return { loss: r.generatorLoss, accuracy: r.generatorAccuracy };
  }

  /** The training graph for `batch`: with padding skipped where that pays (skipPaddingPays). */
  private graphFor(batch: MlmBatch): MlmTrainGraph | ElectraTrainGraph {
    const skipPadding = skipPaddingPays(1 - batch.realTokens / (batch.batch * batch.length));
    const key = skipPadding ? 'skipPadding' : 'full';
    const options = { maxGradNorm: this.settings.maxGradNorm, skipPadding, dropout: this.settings.dropout, bf16: this.settings.bf16 };
    return (this.graphs[key] ??= this.model instanceof ElectraForPreTraining
      ? new ElectraTrainGraph(this.model.config, weightShapes(this.model.weights), { ...options, discriminatorWeight: this.settings.discriminatorWeight })
      : new MlmTrainGraph(this.model.config, weightShapes(this.model.weights), { ...options, taskWeight: this.settings.taskWeight, outputIds: this.outputIds ?? undefined, sampledSoftmax: this.softmaxRows !== null }));
  }

  /** ELECTRA: reads the pending discriminator accuracies into the window's sum. */
  private drainDiscriminator(): void {
    for (const d of this.discriminatorPending) {
      this.discriminatorWindow.sum += d.dataSync()[0];
      this.discriminatorWindow.steps += 1;
      d.dispose();
    }
    this.discriminatorPending = [];
  }

  /** Task objective: reads the pending task losses and accuracies into the window's sums. */
  private drainTask(): void {
    for (const [l, a] of this.taskPending) {
      this.taskWindow.lossSum += l.dataSync()[0];
      this.taskWindow.accuracySum += a.dataSync()[0];
      this.taskWindow.steps += 1;
      tf.dispose([l, a]);
    }
    this.taskPending = [];
  }

  /**
   * Tokens trained on, and real tokens per second since the previous line (ELECTRA: and the
   * discriminator's accuracy; a task objective: its mean loss and accuracy).
   */
  trainLineFields(): { tokens: number; tokensPerSecond: number; maskedShare?: number; discriminatorAccuracy?: number; taskLoss?: number; taskAccuracy?: number } {
    const now = Date.now();
    const tokensPerSecond = Math.round((this.windowTokens - this.windowStart.tokens) / Math.max(1e-3, (now - this.windowStart.time) / 1000));
    // maskProbEnd: the share of the line's real tokens that were masked, to see the rate fall.
    const masked = this.settings.maskProbEnd > 0 && this.windowTokens > 0 ? { maskedShare: Math.round((this.windowMasked / this.windowTokens) * 1e4) / 1e4 } : {};
    this.windowTokens = 0;
    this.windowMasked = 0;
    this.windowStart = { time: now, tokens: 0 };
    if (this.settings.taskWeight > 0) {
      this.drainTask();
      const w = this.taskWindow;
      this.taskWindow = { lossSum: 0, accuracySum: 0, steps: 0 };
      return { tokens: this.trainedTokens, tokensPerSecond, ...masked, taskLoss: w.steps ? w.lossSum / w.steps : 0, taskAccuracy: w.steps ? w.accuracySum / w.steps : 0 };
    }
    if (!(this.model instanceof ElectraForPreTraining)) return { tokens: this.trainedTokens, tokensPerSecond, ...masked };
    this.drainDiscriminator();
    const w = this.discriminatorWindow;
    this.discriminatorWindow = { sum: 0, steps: 0 };
    return { tokens: this.trainedTokens, tokensPerSecond, ...masked, discriminatorAccuracy: w.steps ? w.sum / w.steps : 0 };
  }

  progressInfo(line: TrainLine & Record<string, number | string>): string {
    const disc = typeof line.discriminatorAccuracy === 'number' ? ` disc ${line.discriminatorAccuracy.toFixed(3)}` : '';
    const task = typeof line.taskAccuracy === 'number' ? ` task acc ${line.taskAccuracy.toFixed(3)}` : '';
    return `loss ${line.loss.toFixed(3)} acc ${line.accuracy.toFixed(3)}${disc}${task} lr ${line.lr.toExponential(2)} ${line.tokensPerSecond} tok/s`;
  }

  async evaluate(at: { step: number }): Promise<HeldOutScores> {
    const s = this.settings;
    const batches = evaluationBatches(Math.ceil(this.data.heldOut.length / s.batchSize), s.testMode);
    // With a falling masking rate, the held-out score masks as the last steps did.
    const masking = s.maskProbEnd > 0 ? { ...this.masking, maskProb: s.maskProbEnd } : this.masking;
    return { step: at.step, ...mlmScores(this.model, this.data.heldOut, this.vocab, masking, { batchSize: s.batchSize, seed: s.seed, maxBatches: batches }) };
  }

  describe(scores: HeldOutScores): string {
    const electra = scores.discriminatorAccuracy !== undefined;
    return (
      `nlpbook: held-out ${electra ? 'generator MLM' : 'MLM'} loss ${scores.loss.toFixed(4)}, accuracy ${scores.accuracy.toFixed(4)} ` +
      `(${scores.masked} masked tokens in ${scores.sequences} documents never trained on)` +
      (electra ? `; discriminator accuracy ${scores.discriminatorAccuracy!.toFixed(4)} on every real token` : '')
    );
  }

  checkpoint(loop: LoopState<HeldOutScores>): CheckpointParts<PretrainState> {
    const w = loop.window;
    const electra = this.model instanceof ElectraForPreTraining;
    if (electra) this.drainDiscriminator();
    const task = this.settings.taskWeight > 0;
    if (task) this.drainTask();
    return {
      files: { [PRETRAIN_SETTINGS_FILE]: this.settings },
      tokenizer: tokenizerFiles(this.tokenizer),
      state: {
        format: PRETRAIN_STATE_FORMAT,
        settings: this.settings,
        data: this.data.info,
        step: loop.step,
        totalSteps: this.plan.totalSteps,
        batchesPerEpoch: this.plan.batchesPerEpoch,
        trainedTokens: this.trainedTokens,
        window: {
          steps: w.steps, masked: w.weight, lossSum: w.lossSum, accuracySum: w.accuracySum, tokens: this.windowTokens,
          ...(electra ? { discriminatorSum: this.discriminatorWindow.sum, discriminatorSteps: this.discriminatorWindow.steps } : {}),
          ...(task ? { taskLossSum: this.taskWindow.lossSum, taskAccuracySum: this.taskWindow.accuracySum, taskSteps: this.taskWindow.steps } : {}),
        },
        stoppedBy: loop.stoppedBy === 'early' ? 'steps' : loop.stoppedBy,
        seconds: loop.seconds,
        metricsBytes: loop.metricsBytes,
        savedAt: loop.savedAt,
      },
    };
  }

  /** The output: the model folder in Hugging Face layout, loadable like kcbert-base (ELECTRA: the discriminator; its generator only served pretraining). */
  finish(): void {
    if (this.model instanceof ElectraForPreTraining) this.model.saveDiscriminator(this.dir);
    else saveModel(this.model, this.dir);
    writeTokenizerFiles(tokenizerFiles(this.tokenizer), this.dir);
    savePretrainSettings(this.settings, this.dir);
  }

  /** Frees the graphs, AdamW's moments and the model. */
  dispose(): void {
    tf.dispose(this.discriminatorPending);
    this.discriminatorPending = [];
    tf.dispose(this.taskPending.flat());
    this.taskPending = [];
    this.graphs.skipPadding?.dispose();
    this.graphs.full?.dispose();
    this.graphs = {};
    this.optimizer.dispose();
    this.model.dispose();
  }
}

/** A masked batch as tensors (the caller disposes them). */
interface MlmTensors {
  inputIds: tf.Tensor2D;
  attentionMask?: tf.Tensor2D;
  maskedPositions: tf.Tensor1D;
  labels: tf.Tensor1D;
  sequenceLabels?: tf.Tensor1D;
  softmax?: SampledSoftmaxTensors;
}

function toTensors(b: MlmBatch): MlmTensors {
  const shape: [number, number] = [b.batch, b.length];
  return {
    inputIds: tf.tensor2d(b.inputIds, shape, 'int32'),
    attentionMask: b.attentionMask ? tf.tensor2d(b.attentionMask, shape, 'int32') : undefined,
    maskedPositions: tf.tensor1d(b.positions, 'int32'),
    labels: tf.tensor1d(b.labels, 'int32'),
    sequenceLabels: b.sequenceLabels ? tf.tensor1d(b.sequenceLabels, 'int32') : undefined,
    softmax: b.softmaxRows
      ? { ids: tf.tensor1d(b.softmaxRows.ids, 'int32'), targets: tf.tensor1d(b.softmaxRows.targets, 'int32'), shift: tf.tensor1d(b.softmaxRows.shift, 'float32') }
      : undefined,
  };
}

function disposeTensors(t: MlmTensors): void {
  tf.dispose([t.inputIds, t.maskedPositions, t.labels, t.attentionMask, t.sequenceLabels, t.softmax?.ids, t.softmax?.targets, t.softmax?.shift].filter((x) => x !== undefined) as tf.Tensor[]);
}

/**
 * Held-out MLM scores: every sequence once, masks drawn from `seed` (the same masks
 * every time), dropout off. Loss is the mean over all masked tokens.
 */
export function mlmScores(
  model: BertForMaskedLM | ElectraForPreTraining,
  sequences: SequenceStore,
  vocab: MaskingVocab,
  masking: MaskingOptions,
  options: { batchSize: number; seed: number; maxBatches?: number },
): { loss: number; accuracy: number; masked: number; sequences: number; discriminatorAccuracy?: number } {
  const rng = new Rng(options.seed).fork('held-out-masks');
  let lossSum = 0;
  let correct = 0;
  // ELECTRA: the generator's masked-LM scores, and how often the discriminator tells replaced from original.
  let discriminatorRight = 0;
  let realTokens = 0;
  let masked = 0;
  let seen = 0;
  const batches = Math.min(Math.ceil(sequences.length / options.batchSize), options.maxBatches ?? Infinity);
  for (let b = 0; b < batches; b++) {
    const rows: Int32Array[] = [];
    for (let i = b * options.batchSize; i < Math.min(sequences.length, (b + 1) * options.batchSize); i++) rows.push(sequences.sequence(i));
    const t = toTensors(maskBatch(rows, vocab, masking, rng));
    try {
      if (model instanceof ElectraForPreTraining) {
        const real = rows.reduce((n, r) => n + r.length, 0);
        const [l, a, d] = tf.tidy(() => {
          const r = model.losses({ ...t, attentionMask: t.attentionMask ?? tf.onesLike(t.inputIds) }, { training: false, seed: options.seed + b });
          return [r.generatorLoss, r.generatorAccuracy, r.discriminatorAccuracy];
        });
        const M = t.labels.shape[0];
        lossSum += l.dataSync()[0] * M;
        correct += a.dataSync()[0] * M;
        discriminatorRight += d.dataSync()[0] * real;
        realTokens += real;
        tf.dispose([l, a, d]);
        continue;
      }
      const [l, c] = tf.tidy(() => {
        const logits = model.forward(t, { training: false }) as tf.Tensor2D;
        return [
          tf.mul(sparseCrossEntropy(logits, t.labels), t.labels.shape[0]),
          tf.sum(tf.cast(tf.equal(tf.argMax(logits, -1), t.labels), 'float32')),
        ];
      });
      lossSum += l.dataSync()[0];
      correct += c.dataSync()[0];
      tf.dispose([l, c]);
    } finally {
      masked += t.labels.shape[0];
      seen += rows.length;
      disposeTensors(t);
    }
  }
  const scores = { loss: masked ? lossSum / masked : 0, accuracy: masked ? correct / masked : 0, masked, sequences: seen };
  return model instanceof ElectraForPreTraining ? { ...scores, discriminatorAccuracy: realTokens ? discriminatorRight / realTokens : 0 } : scores;
}
