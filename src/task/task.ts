// Step 6 of the course: the task, like ratsnlp's ClassificationTask (a Lightning
// module). It knows what one training step and one evaluation step are:
//
//   training step: logits = model(batch, dropout on)
//                  loss   = cross-entropy(logits, labels), against smoothed labels when settings.labelSmoothing > 0
//                           (settings.rDropWeight α > 0: the batch twice, + α/4 · the two copies' symmetric KL)
//                  grads  = d loss / d every parameter
//                  clip the gradients to a global norm of settings.maxGradNorm
//                  AdamW step with this step's learning rate (linear warmup, then decay),
//                  scaled per layer when settings.layerLrDecay < 1 (head 1, layer N d^(L-N), embeddings d^(L+1))
//   evaluation step: logits = model(batch, dropout off) -> summed loss, correct count, probabilities
//
// Every step runs in tf.tidy, so no tensor outlives it but what it returns; the
// results are scalar TENSORS, which the trainer reads only when it logs, so the host
// never waits for a number it does not need yet.
import { tf } from '../util/backend';
import { check } from '../util/errors';
import { ClassificationTrainGraph, skipPaddingPays, weightShapes, WORD_EMBEDDINGS, type BertForSequenceClassification } from '../model/index';
import { AdamW, adamWOptions, layerLrScale, type AdamWKernel } from './optim/adamw';
import { clipScale, globalNorm } from './optim/clip';
import { accuracy, crossEntropy, symmetricKl } from './optim/loss';
import { linearSchedule, lrAt, type LinearSchedule } from './optim/schedule';
import { Rng, type RngState } from '../util/random';
import type { Settings } from '../settings/index';
import { graphAvailable } from '../util/tfgraph/session';

/** The settings the task uses (layerLrDecay, labelSmoothing, rDropWeight, bf16 and freezeWordEmbeddings may be left out: 1, 0, 0, false and false, off). */
export type TaskSettings = Pick<
  Settings,
  'learningRate' | 'warmupRatio' | 'weightDecay' | 'adamBeta1' | 'adamBeta2' | 'adamEpsilon' | 'maxGradNorm' | 'seed'
> & Partial<Pick<Settings, 'layerLrDecay' | 'labelSmoothing' | 'rDropWeight' | 'bf16' | 'freezeWordEmbeddings'>>;

/** What a step needs from a batch: int32 tensors as the data loader makes them. */
export interface TaskBatch {
  inputIds: tf.Tensor2D;
  attentionMask: tf.Tensor2D;
  tokenTypeIds: tf.Tensor2D;
  labels: tf.Tensor1D;
}

/** One training step's results. The tensors are the caller's: dispose() them once read. */
export interface TrainStepResult {
  /** The batch's training loss before the update: mean cross-entropy (smoothed, plus R-Drop's term, when those are set). */
  loss: tf.Scalar;
  /** Share of the batch predicted right, before the update. */
  accuracy: tf.Scalar;
  /** Global gradient norm before clipping. */
  gradNorm: tf.Scalar;
  /** Learning rate this step used. */
  lr: number;
  /** Optimizer steps done, this one included. */
  step: number;
  /** Rows in the batch. */
  size: number;
  dispose(): void;
}

/** One evaluation step's results. The tensors are the caller's: dispose() them once read. */
export interface EvalStepResult {
  /** Sum (not mean) of the rows' cross-entropy, so batches of any size add up. */
  lossSum: tf.Scalar;
  /** Rows whose highest logit is the label. */
  correct: tf.Scalar;
  /** Rows in the batch. */
  count: number;
  /** Softmax of the logits, [batch, numLabels]. */
  probabilities: tf.Tensor2D;
  dispose(): void;
}

/** What a checkpoint keeps of the task besides the weights and the optimizer moments. */
export interface TaskState {
  /** Optimizer steps done. */
  step: number;
  /** The generator of the dropout seeds, so a resumed run draws the same masks. */
  dropoutRng: RngState;
}

export interface TaskOptions {
  /** AdamW kernel (default: the fused TensorFlow kernel when the native backend runs). */
  kernel?: AdamWKernel;
  /**
   * Forward + backward of a training step as one TensorFlow graph (model/train-graph.ts),
   * the default on the native backend: the same math and dropout masks as the eager
   * model, about 1.3-2x faster. false: tfjs ops and tf.variableGrads (any backend).
   */
  graph?: boolean;
}

export class ClassificationTask {
  readonly model: BertForSequenceClassification;
  readonly optimizer: AdamW;
  readonly schedule: LinearSchedule;
  readonly maxGradNorm: number;
  /** Label smoothing ε of the training loss (0: plain cross-entropy); evaluation always scores the plain one. */
  readonly labelSmoothing: number;
  /** R-Drop's α (0: off): each batch runs twice and the loss adds α/4 · the copies' symmetric KL (see train-graph.ts). */
  readonly rDropWeight: number;
  /** Mixed precision of the training graph (TrainGraphOptions.bf16); the eager path is float32. */
  readonly bf16: boolean;
  /** Parameters left as they are (settings.freezeWordEmbeddings): no gradient, no update. */
  readonly frozen: readonly string[];
  /** The other parameters, by name: what the gradients and AdamW cover. */
  private readonly trained: ReadonlyMap<string, tf.Variable>;
  private dropoutRng: Rng;
  private readonly useGraph: boolean;
  /** Training graphs, built on first use: one that skips padded positions, one for batches with (almost) none. */
  private graphs: { skipPadding?: ClassificationTrainGraph; full?: ClassificationTrainGraph } = {};

  /**
   * A task for a run of `totalSteps` optimizer steps (the schedule decays the rate to
   * 0 there). The optimizer gets the model's parameters by Hugging Face name, so
   * weight decay skips biases and LayerNorm weights, and (settings.layerLrDecay < 1)
   * each parameter's rate is scaled by its layer (layerLrScale).
   */
  constructor(model: BertForSequenceClassification, settings: TaskSettings, totalSteps: number, options: TaskOptions = {}) {
    check(Number.isInteger(totalSteps) && totalSteps >= 1, `task: totalSteps must be a whole number >= 1, got ${totalSteps}`);
    check(settings.maxGradNorm >= 0, `settings.maxGradNorm: expected a number >= 0, got ${settings.maxGradNorm}`);
    check(options.graph !== true || graphAvailable(), `task: graph: true needs the native tensorflow backend; this one is "${tf.getBackend()}"`);
    this.model = model;
    this.schedule = linearSchedule(settings, totalSteps);
    this.maxGradNorm = settings.maxGradNorm;
    this.labelSmoothing = settings.labelSmoothing ?? 0;
    check(this.labelSmoothing >= 0 && this.labelSmoothing < 1, `settings.labelSmoothing: expected a number >= 0 and < 1, got ${this.labelSmoothing}`);
    this.rDropWeight = settings.rDropWeight ?? 0;
    check(this.rDropWeight >= 0, `settings.rDropWeight: expected a number >= 0, got ${this.rDropWeight}`);
    this.bf16 = settings.bf16 ?? false;
    const decay = settings.layerLrDecay ?? 1;
    check(decay > 0 && decay <= 1, `settings.layerLrDecay: expected a number > 0 and <= 1, got ${decay}`);
    const layers = model.config.numHiddenLayers;
    // Only the optimizer applies rates, so the training graph is the same with or without the decay.
    const lrScale = decay === 1 ? undefined : (name: string) => layerLrScale(name, layers, decay);
    this.frozen = settings.freezeWordEmbeddings ? [WORD_EMBEDDINGS] : [];
    this.trained = new Map([...model.weights].filter(([name]) => !this.frozen.includes(name)));
    this.optimizer = new AdamW(this.trained, { ...adamWOptions(settings), kernel: options.kernel, lrScale });
    this.dropoutRng = new Rng(settings.seed).fork('dropout');
    this.useGraph = options.graph ?? graphAvailable();
  }

  /** Whether training steps run as one TensorFlow graph (see TaskOptions.graph). */
  get graphMode(): boolean {
    return this.useGraph;
  }

  /** Optimizer steps done so far. */
  get step(): number {
    return this.optimizer.stepCount;
  }

  /** The learning rate the next training step will use. */
  get lr(): number {
    return lrAt(this.schedule, this.step);
  }

  /** The rate of the step taken after `step` completed steps (0 for the first). */
  lrAt(step: number): number {
    return lrAt(this.schedule, step);
  }

  /**
   * One optimizer step on `batch`: forward with dropout, cross-entropy, gradients of
   * every parameter, global-norm clipping, AdamW with the scheduled rate.
   */
  trainStep(batch: TaskBatch): TrainStepResult {
    const lr = this.lr;
    const seed = this.dropoutRng.next();
    const out = tf.tidy(() => {
      if (this.useGraph) {
        // The graph also takes the norm and clips (as clipScale below), so AdamW gets ready gradients.
        const r = this.graphGradients(batch, seed);
        this.optimizer.step(r.grads, { lr });
        return { loss: r.loss, accuracy: r.accuracy, gradNorm: r.gradNorm };
      }
      const { loss, accuracy: acc, grads } = this.eagerGradients(batch, seed);
      let gradNorm: tf.Scalar;
      if (this.maxGradNorm > 0) {
        const clip = clipScale(grads, this.maxGradNorm);
        gradNorm = clip.totalNorm;
        this.optimizer.step(grads, { lr, gradScale: clip.scale });
      } else {
        gradNorm = globalNorm(grads);
        this.optimizer.step(grads, { lr });
      }
      return { loss, accuracy: acc, gradNorm };
    });
    const tensors = [out.loss, out.accuracy, out.gradNorm];
    return { ...out, lr, step: this.step, size: batch.labels.shape[0], dispose: () => tf.dispose(tensors) };
  }

  /** Loss, accuracy and gradients by tfjs autodiff through the eager model. */
  private eagerGradients(batch: TaskBatch, seed: number): { loss: tf.Scalar; accuracy: tf.Scalar; grads: tf.NamedTensorMap } {
    let acc: tf.Scalar | undefined;
    const rDrop = this.rDropWeight > 0;
    // R-Drop: the batch twice in one forward, as the graph does, so the masks are the graph's.
    const twice = <T extends tf.Tensor>(t: T): T => (rDrop ? (tf.concat([t, t], 0) as T) : t);
    const { value, grads } = tf.variableGrads(() => {
      const rows = { inputIds: twice(batch.inputIds), attentionMask: twice(batch.attentionMask), tokenTypeIds: twice(batch.tokenTypeIds) };
      const logits = this.model.forward(rows, { training: true, seed });
      const first = rDrop ? (tf.split(logits, 2, 0)[0] as tf.Tensor2D) : logits;
      // variableGrads runs this in its own tidy: keep the accuracy so it survives.
      acc = tf.keep(accuracy(first, batch.labels));
      const ce = crossEntropy(logits, twice(batch.labels), this.labelSmoothing);
      return rDrop ? (tf.add(ce, tf.mul(symmetricKl(logits), this.rDropWeight / 4)) as tf.Scalar) : ce;
    }, [...this.trained.values()]);
    return { loss: value, accuracy: acc as tf.Scalar, grads };
  }

  /** The same from the training graph (built on first use), plus the gradient norm; gradients already clipped. */
  private graphGradients(batch: TaskBatch, seed: number): { loss: tf.Scalar; accuracy: tf.Scalar; gradNorm: tf.Scalar; grads: Map<string, tf.Tensor> } {
    const weights = this.model.weights;
    const skipPadding = skipPaddingPays(paddedShare(batch.attentionMask));
    const key = skipPadding ? 'skipPadding' : 'full';
    const graph = (this.graphs[key] ??= new ClassificationTrainGraph(this.model.config, weightShapes(weights), {
      maxGradNorm: this.maxGradNorm, skipPadding, labelSmoothing: this.labelSmoothing, rDropWeight: this.rDropWeight, bf16: this.bf16, frozen: this.frozen,
    }));
    const length = batch.inputIds.shape[1];
    check(length <= this.model.config.maxPositionEmbeddings,
      `inputIds: ${length} tokens per row, but the model has only ${this.model.config.maxPositionEmbeddings} positions (max_position_embeddings)`);
    const int = (t: tf.Tensor) => (t.dtype === 'int32' ? t : tf.cast(t, 'int32'));
    const r = graph.run([...weights.values()], {
      inputIds: int(batch.inputIds) as tf.Tensor2D, attentionMask: int(batch.attentionMask) as tf.Tensor2D,
      tokenTypeIds: int(batch.tokenTypeIds) as tf.Tensor2D, labels: int(batch.labels) as tf.Tensor1D,
    }, seed);
    return { loss: r.loss, accuracy: accuracy(r.logits, batch.labels), gradNorm: r.gradNorm, grads: r.grads };
  }

  /** Scores `batch` with dropout off: summed loss, correct count and class probabilities. */
  evalStep(batch: TaskBatch): EvalStepResult {
    const out = tf.tidy(() => {
      const logits = this.model.forward(batch, { training: false });
      const labels = batch.labels;
      const count = labels.shape[0];
      return {
        lossSum: tf.mul(crossEntropy(logits, labels), count) as tf.Scalar,
        correct: tf.sum(tf.cast(tf.equal(tf.argMax(logits, -1), tf.cast(labels, 'int32')), 'float32')) as tf.Scalar,
        probabilities: tf.softmax(logits) as tf.Tensor2D,
      };
    });
    const tensors = [out.lossSum, out.correct, out.probabilities];
    return { ...out, count: batch.labels.shape[0], dispose: () => tf.dispose(tensors) };
  }

  /** Step count and dropout generator, for a checkpoint (the moments come from optimizer.state()). */
  state(): TaskState {
    return { step: this.step, dropoutRng: this.dropoutRng.getState() };
  }

  /** Continues from a checkpoint: the optimizer's state() first, then this. */
  loadState(state: TaskState): void {
    check(state.step === this.step, `task state: step ${state.step} but the optimizer state is at step ${this.step}`);
    this.dropoutRng = Rng.fromState(state.dropoutRng);
  }

  /** Frees the optimizer's moments and the training graph (the model stays). */
  dispose(): void {
    this.optimizer.dispose();
    this.graphs.skipPadding?.dispose();
    this.graphs.full?.dispose();
    this.graphs = {};
  }
}

/** Share of a batch's positions that are padding (attention mask 0); reads the small mask to the host. */
function paddedShare(mask: tf.Tensor2D): number {
  const values = mask.dataSync();
  let zeros = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === 0) zeros++;
  return values.length === 0 ? 0 : zeros / values.length;
}
