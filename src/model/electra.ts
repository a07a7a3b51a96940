// Replaced-token detection (ELECTRA, Clark et al. 2020, "ELECTRA: Pre-training Text Encoders
// as Discriminators Rather Than Generators"): a second pretraining objective next to the
// masked LM. A small generator (a BERT encoder, default 1 layer, with an MLM head) fills the
// masked positions of a batch with tokens sampled from its own predictions; the
// discriminator (the BERT encoder we keep) reads the corrupted text and tells, token by
// token, whether it was replaced. Every real token teaches the discriminator something, not
// only the ~15% masked ones, which is why the paper gets more out of the same compute.
//
// One model object holds both, because they share the embeddings (word, position, token
// type and the embedding LayerNorm: all `bert.embeddings.*`, as the paper's generator and
// discriminator share them). Names:
//   bert.embeddings.*, bert.encoder.layer.N.*           the discriminator's encoder: exactly
//                                                       BertModel's names, so the saved
//                                                       discriminator (saveDiscriminator) loads
//                                                       as BertForSequenceClassification
//   discriminator_predictions.dense.{weight,bias}       [H, H], then the activation
//   discriminator_predictions.dense_prediction.*        [1, H]: one logit per token (Hugging
//                                                       Face's ElectraForPreTraining head)
//   generator.encoder.layer.N.*                         the generator's own layers (same sizes)
//   generator_predictions.dense.*, .LayerNorm.*         the generator's MLM transform (as
//                                                       Hugging Face's ElectraForMaskedLM)
//   generator_lm_head.bias                              its output bias; the decoder is the
//                                                       shared word embeddings (tied)
// The generator's depth is config.extra.generator_num_hidden_layers (written to config.json,
// so a saved model loads back with its generator).
//
// One step on a masked batch (pretrain/masking.ts maskBatch: inputIds with ~15% of the
// tokens chosen, their flat positions, labels = the original ids):
//   generator:     MLM logits at the masked positions; generatorLoss = mean cross-entropy
//   sampling:      one token per masked position from softmax(logits), no gradient through
//                  it (TensorFlow's StatelessMultinomial: the same tokens for the same seed)
//   corruption:    the original ids with the masked positions replaced by the samples
//   discriminator: one logit per token of the corrupted ids; label 1 where the token differs
//                  from the original (a sample equal to the original counts as original);
//                  discriminatorLoss = mean sigmoid cross-entropy over the real tokens
//   loss = generatorLoss + λ · discriminatorLoss, λ = 50 (the paper's).
// The generator learns from its loss alone (its layers and head), the discriminator from λ ·
// its loss, the shared embeddings from both. This file is the eager model (tfjs ops and
// autodiff: the reference, and the path on the wasm backend); electra-graph.ts computes the
// same step as one TensorFlow graph.
import { tf } from '../util/backend';
import { NlpbookError } from '../util/errors';
import { BertModel, BertPreTrainedModel, type ForwardOptions } from './bert';
import { loadPretrained, saveModel, type CheckpointModel, type PretrainedOptions, type SaveOptions, type WeightSource } from './checkpoint';
import { BertConfig } from './config';
import { embeddings, encoderLayer, encoderLayerWeights, gatherRows, type LayerWeights } from './encoder';
import { activation, layerNorm, linear, SeedStream } from './ops';

/** config.json field with the generator's number of layers (kept by BertConfig as an extra field). */
export const GENERATOR_LAYERS_FIELD = 'generator_num_hidden_layers';
/** The paper's weight of the discriminator's loss (λ). */
export const DEFAULT_DISCRIMINATOR_WEIGHT = 50;

/** The masked batch of one step (what MlmTrainGraph takes too). */
export interface ElectraInputs {
  /** [batch, length] ids after masking (what the generator reads). */
  inputIds: tf.Tensor2D;
  /** [batch, length]: 1 for real tokens, 0 for padding. */
  attentionMask: tf.Tensor2D;
  /** Flat indices (row · length + column) of the masked tokens. */
  maskedPositions: tf.Tensor1D;
  /** The original token at each masked position. */
  labels: tf.Tensor1D;
}

export interface ElectraLosses {
  /** generatorLoss + λ · discriminatorLoss. */
  loss: tf.Scalar;
  /** Mean cross-entropy of the generator at the masked positions. */
  generatorLoss: tf.Scalar;
  /** Mean sigmoid cross-entropy of the discriminator over the real tokens. */
  discriminatorLoss: tf.Scalar;
  /** Share of masked positions the generator's argmax gets right. */
  generatorAccuracy: tf.Scalar;
  /** Share of real tokens the discriminator classifies right (logit > 0: replaced). */
  discriminatorAccuracy: tf.Scalar;
  /** Share of real tokens that were replaced (a sample equal to the original is not). */
  replacedShare: tf.Scalar;
  /** The generator's sampled token at each masked position, int32 [masked]. */
  sampled: tf.Tensor1D;
}

export interface ElectraLossOptions extends ForwardOptions {
  /** λ, the discriminator loss's weight (default 50). */
  discriminatorWeight?: number;
  /**
   * Use these tokens at the masked positions instead of sampling (e.g. the graph's, so both
   * see the same corruption). Default: sampled from the generator with the call's seed.
   */
  sampled?: tf.Tensor1D | number[];
}

/** The seeds of one step, in order: the generator's dropout (embeddings, 3 per layer), the sampling, the discriminator's dropout. */
export interface ElectraSeeds {
  generator: number[];
  sample: number;
  discriminator: number[];
}

/** A step's seeds from its one seed (drawn whether dropout is on or not, so the sample does not depend on it). */
export function electraSeeds(seed: number, generatorLayers: number, discriminatorLayers: number): ElectraSeeds {
  const stream = new SeedStream(seed);
  const take = (n: number) => Array.from({ length: n }, () => stream.next());
  const generator = take(1 + 3 * generatorLayers);
  const sample = stream.next();
  return { generator, sample, discriminator: take(1 + 3 * discriminatorLayers) };
}

/** The [2] int32 key of StatelessMultinomial for a sampling seed (another constant than dropout's, so the keys never coincide). */
export function sampleSeedPair(seed: number): [number, number] {
  return [seed | 0, 0x5a3b1e];
}

/** The generator's depth recorded in a config (default 1). */
export function generatorLayersOf(config: BertConfig): number {
  const n = config.extra[GENERATOR_LAYERS_FIELD] ?? 1;
  if (!Number.isInteger(n) || (n as number) < 1) throw new NlpbookError(`config: ${GENERATOR_LAYERS_FIELD}: expected a positive integer, got ${JSON.stringify(n)}`);
  return n as number;
}

type Init = 'normal' | 'zeros' | 'ones' | 'embedding';

/** How transformers initialises a BERT-style parameter, from its name. */
function initOf(name: string): Init {
  if (name.endsWith('word_embeddings.weight')) return 'embedding';
  if (name.endsWith('LayerNorm.weight')) return 'ones';
  if (name.endsWith('.bias')) return 'zeros';
  return 'normal';
}

/** Parameter names and shapes in state-dict order (see the file comment). */
function electraShapes(config: BertConfig): Map<string, number[]> {
  const H = config.hiddenSize;
  const shapes = new Map<string, number[]>();
  const encoder = BertModel.paramShapes(config);
  for (const [name, shape] of encoder) if (!name.startsWith('pooler.')) shapes.set(`bert.${name}`, shape);
  shapes.set('discriminator_predictions.dense.weight', [H, H]).set('discriminator_predictions.dense.bias', [H]);
  shapes.set('discriminator_predictions.dense_prediction.weight', [1, H]).set('discriminator_predictions.dense_prediction.bias', [1]);
  const generator = BertModel.paramShapes(config.with({ numHiddenLayers: generatorLayersOf(config) }));
  for (const [name, shape] of generator) if (name.startsWith('encoder.layer.')) shapes.set(`generator.${name}`, shape);
  shapes.set('generator_predictions.dense.weight', [H, H]).set('generator_predictions.dense.bias', [H]);
  shapes.set('generator_predictions.LayerNorm.weight', [H]).set('generator_predictions.LayerNorm.bias', [H]);
  shapes.set('generator_lm_head.bias', [config.vocabSize]);
  return shapes;
}

/** Names of the discriminator's parameters: what saveDiscriminator writes (encoder and head). */
export function isDiscriminatorParameter(name: string): boolean {
  return name.startsWith('bert.') || name.startsWith('discriminator_predictions.');
}

/**
 * The discriminator's input and labels: `inputIds` ([batch, length], after masking) with the
 * masked positions (flat) set to `sampled`, and 1 (float) where that token differs from the
 * original (`labels`), 0 everywhere else. Only masked positions can be replaced; elsewhere the
 * masked input holds the original token.
 */
export function corrupt(inputIds: tf.Tensor2D, maskedPositions: tf.Tensor1D, labels: tf.Tensor1D, sampled: tf.Tensor1D): { corrupted: tf.Tensor2D; replaced: tf.Tensor2D } {
  return tf.tidy(() => {
    const [B, S] = inputIds.shape;
    const indices = tf.reshape(tf.cast(maskedPositions, 'int32'), [-1, 1]);
    const flat = tf.reshape(tf.cast(inputIds, 'int32'), [B * S]);
    const corrupted = tf.reshape(tf.tensorScatterUpdate(flat, indices, tf.cast(sampled, 'int32')), [B, S]) as tf.Tensor2D;
    const replacedAtMasked = tf.cast(tf.notEqual(tf.cast(sampled, 'int32'), tf.cast(labels, 'int32')), 'float32');
    return { corrupted, replaced: tf.reshape(tf.scatterND(indices, replacedAtMasked, [B * S]), [B, S]) as tf.Tensor2D };
  });
}

/** Per-token sigmoid cross-entropy, the stable form max(z, 0) − z·y + log(1 + e^−|z|). */
function sigmoidCrossEntropy(z: tf.Tensor, y: tf.Tensor): tf.Tensor {
  return tf.add(tf.sub(tf.relu(z), tf.mul(z, y)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))));
}

/**
 * The generator and discriminator of ELECTRA pretraining (see the file comment). Hugging
 * Face keeps them as two models (ElectraForMaskedLM and ElectraForPreTraining); here they
 * are one, since they share the embeddings. `saveDiscriminator` writes the discriminator
 * as a BERT folder for fine-tuning.
 */
export class ElectraForPreTraining extends BertPreTrainedModel {
  readonly architecture = 'ElectraForPreTraining';
  /** Layers of the generator's encoder. */
  readonly generatorLayers: number;
  private layerCache = new Map<string, LayerWeights[]>();

  /** `config.extra.generator_num_hidden_layers` sets the generator's depth (default 1); use init() to give it directly. */
  constructor(config: BertConfig, source?: WeightSource, seed = 0) {
    super(config, [...electraShapes(config)].map(([name, shape]) => ({ name, shape, init: initOf(name) })), 'bert.', source, seed);
    this.generatorLayers = generatorLayersOf(config);
  }

  /** Random weights as transformers initialises them; the generator gets `generatorLayers` layers (default 1). */
  static init(config: BertConfig, options: { seed?: number; generatorLayers?: number } = {}): ElectraForPreTraining {
    return new ElectraForPreTraining(ElectraForPreTraining.configWith(config, options.generatorLayers), undefined, options.seed ?? 0);
  }

  /** `config` with the generator's depth recorded in it (unchanged when `generatorLayers` is undefined). */
  static configWith(config: BertConfig, generatorLayers?: number): BertConfig {
    if (generatorLayers === undefined) return config;
    const c = config.with({ extra: { ...config.extra, [GENERATOR_LAYERS_FIELD]: generatorLayers } });
    generatorLayersOf(c);
    return c;
  }

  static paramShapes(config: BertConfig): Map<string, number[]> {
    return electraShapes(config);
  }

  /**
   * Loads a folder saved from this model (saveModel). A BERT checkpoint loads too: its
   * encoder becomes the discriminator, the rest starts fresh (listed in loadReport).
   */
  static fromPretrained(nameOrDir: string, options: PretrainedOptions = {}): ElectraForPreTraining {
    return loadPretrained(ElectraForPreTraining, nameOrDir, options);
  }

  /** The generator's vocabulary scores at the masked positions, [masked, vocab]. `dropoutSeeds`: ElectraSeeds.generator, or null (no dropout). */
  generatorLogits(inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D | null, maskedPositions: tf.Tensor1D, dropoutSeeds: number[] | null = null): tf.Tensor2D {
    const c = this.config;
    const hidden = this.encodeWith('generator.', this.generatorLayers, inputIds, attentionMask, dropoutSeeds);
    const x = gatherRows(hidden, tf.cast(maskedPositions, 'int32') as tf.Tensor1D);
    const w = (name: string) => this.weight(`generator_predictions.${name}`);
    const t = activation(c.hiddenAct, linear(x, w('dense.weight') as tf.Tensor2D, w('dense.bias') as tf.Tensor1D)) as tf.Tensor2D;
    const normed = layerNorm(t, w('LayerNorm.weight') as tf.Tensor1D, w('LayerNorm.bias') as tf.Tensor1D, c.layerNormEps);
    return linear(normed, this.weight('bert.embeddings.word_embeddings.weight') as tf.Tensor2D, this.weight('generator_lm_head.bias') as tf.Tensor1D);
  }

  /** The discriminator's logit per token (> 0: "replaced"), [batch, length]. `dropoutSeeds`: ElectraSeeds.discriminator, or null. */
  discriminatorLogits(inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D | null, dropoutSeeds: number[] | null = null): tf.Tensor2D {
    const [B, S] = inputIds.shape;
    const hidden = this.encodeWith('bert.', this.config.numHiddenLayers, inputIds, attentionMask, dropoutSeeds);
    const w = (name: string) => this.weight(`discriminator_predictions.${name}`);
    const h = activation(this.config.hiddenAct, linear(hidden, w('dense.weight') as tf.Tensor2D, w('dense.bias') as tf.Tensor1D)) as tf.Tensor2D;
    return tf.reshape(linear(h, w('dense_prediction.weight') as tf.Tensor2D, w('dense_prediction.bias') as tf.Tensor1D), [B, S]);
  }

  /**
   * One token per row of `logits` ([rows, vocab]) drawn from softmax(logits), int32 [rows],
   * the same for the same seed. Native backend: TensorFlow's StatelessMultinomial keyed by
   * sampleSeedPair(seed), exactly what electra-graph.ts draws; elsewhere the Gumbel-max trick
   * with tfjs's seeded uniform numbers (other tokens, same distribution). Not differentiable
   * (read off the tape).
   */
  static sample(logits: tf.Tensor2D, seed: number): tf.Tensor1D {
    const b = tf.backend() as unknown as Partial<NativeOps>;
    if (tf.getBackend() === 'tensorflow' && typeof b.executeSingleOutput === 'function' && b.binding) {
      const n = b as NativeOps;
      const type = (name: string, value: number) => ({ name, type: n.binding.TF_ATTR_TYPE, value });
      return tf.tidy(() => tf.reshape(n.executeSingleOutput('StatelessMultinomial',
        [type('T', n.binding.TF_FLOAT), type('Tseed', n.binding.TF_INT32), type('output_dtype', n.binding.TF_INT32)],
        [logits, tf.scalar(1, 'int32'), tf.tensor1d(sampleSeedPair(seed), 'int32')]), [-1]) as tf.Tensor1D);
    }
    // A copy made from the values is off the autodiff tape, so nothing downstream asks for a gradient of the sample.
    const values = tf.tensor2d(logits.dataSync() as Float32Array, logits.shape);
    return tf.tidy(() => {
      const u = tf.randomUniform(logits.shape, 0, 1, 'float32', seed >>> 0);
      const gumbel = tf.neg(tf.log(tf.neg(tf.log(u))));
      const out = tf.cast(tf.argMax(tf.add(values, gumbel), 1), 'int32') as tf.Tensor1D;
      values.dispose();
      return out;
    });
  }

  /**
   * The whole step's losses and metrics (see the file comment), differentiable for
   * tf.variableGrads through `loss`. Dropout when options.training, with the seeds of
   * electraSeeds(options.seed); the sample uses the same seed (default: the model's stream).
   */
  losses(batch: ElectraInputs, options: ElectraLossOptions = {}): ElectraLosses {
    const c = this.config;
    const lambda = options.discriminatorWeight ?? DEFAULT_DISCRIMINATOR_WEIGHT;
    const stepSeed = options.seed ?? (this.dropoutSeeds({ training: true }) as SeedStream).next();
    const seeds = electraSeeds(stepSeed, this.generatorLayers, c.numHiddenLayers);
    const training = options.training ?? false;
    const ids = tf.cast(batch.inputIds, 'int32') as tf.Tensor2D;
    const mask = tf.cast(batch.attentionMask, 'int32') as tf.Tensor2D;
    const positions = tf.cast(batch.maskedPositions, 'int32') as tf.Tensor1D;
    const labels = tf.cast(batch.labels, 'int32') as tf.Tensor1D;
    const M = labels.shape[0];

    const scores = this.generatorLogits(ids, mask, positions, training ? seeds.generator : null);
    const picked = tf.sum(tf.mul(scores, tf.oneHot(labels, c.vocabSize)), 1);
    const generatorLoss = tf.mean(tf.sub(tf.logSumExp(scores, 1), picked)) as tf.Scalar;
    const generatorAccuracy = tf.mean(tf.cast(tf.equal(tf.argMax(scores, 1), labels), 'float32')) as tf.Scalar;

    let sampled: tf.Tensor1D;
    if (options.sampled !== undefined) {
      sampled = Array.isArray(options.sampled) ? tf.tensor1d(options.sampled, 'int32') : tf.cast(options.sampled, 'int32') as tf.Tensor1D;
      if (sampled.shape[0] !== M) throw new NlpbookError(`ELECTRA: ${sampled.shape[0]} sampled tokens for ${M} masked positions`);
    } else {
      sampled = ElectraForPreTraining.sample(scores, seeds.sample);
    }
    const { corrupted, replaced } = corrupt(ids, positions, labels, sampled);
    const real = tf.cast(mask, 'float32');
    const realCount = tf.sum(real);

    const z = this.discriminatorLogits(corrupted, mask, training ? seeds.discriminator : null);
    const discriminatorLoss = tf.div(tf.sum(tf.mul(sigmoidCrossEntropy(z, replaced), real)), realCount) as tf.Scalar;
    const right = tf.cast(tf.equal(tf.cast(tf.greater(z, 0), 'float32'), replaced), 'float32');
    const discriminatorAccuracy = tf.div(tf.sum(tf.mul(right, real)), realCount) as tf.Scalar;
    const replacedShare = tf.div(tf.sum(replaced), realCount) as tf.Scalar;
    const loss = tf.add(generatorLoss, tf.mul(discriminatorLoss, lambda)) as tf.Scalar;
    return { loss, generatorLoss, discriminatorLoss, generatorAccuracy, discriminatorAccuracy, replacedShare, sampled };
  }

  /**
   * losses() and the gradient of `loss` for every parameter, by name (unclipped; clip as
   * the MLM loop does, e.g. clipScale + AdamW.step's gradScale). The eager counterpart of
   * ElectraTrainGraph.run. The caller disposes every returned tensor.
   */
  lossesAndGrads(batch: ElectraInputs, options: ElectraLossOptions = {}): ElectraLosses & { grads: Map<string, tf.Tensor> } {
    let out: ElectraLosses | undefined;
    const { grads } = tf.variableGrads(() => {
      const r = this.losses(batch, options);
      out = r;
      for (const t of Object.values(r)) tf.keep(t);
      return r.loss;
    }, this.trainableVariables());
    const r = out as ElectraLosses;
    return { ...r, grads: new Map([...this.weights].map(([name, v]) => [name, grads[v.name]])) };
  }

  /** The discriminator's parameters (encoder as bert.*, head as discriminator_predictions.*), the live variables. */
  discriminatorWeights(): Map<string, tf.Variable> {
    return new Map([...this.weights].filter(([name]) => isDiscriminatorParameter(name)));
  }

  /**
   * Writes the discriminator as a Hugging Face BERT folder (config.json with model_type
   * "bert" and architectures ["BertModel"], model.safetensors with the encoder as `bert.*`
   * and the head as `discriminator_predictions.*`): BertForSequenceClassification (ours and
   * Python's) loads it with only the pooler and classifier new, the head reported as
   * unused. Tokenizer files and settings as saveModel.
   */
  saveDiscriminator(dir: string, options: SaveOptions = {}): string[] {
    const extra = { ...this.config.extra };
    delete extra[GENERATOR_LAYERS_FIELD];
    const model: CheckpointModel = { architecture: 'BertModel', config: this.config.with({ extra }), weights: this.discriminatorWeights() };
    return saveModel(model, dir, options);
  }

  /** The [batch·length, hidden] states of the encoder whose layers are `${prefix}encoder.layer.N` (shared embeddings). */
  private encodeWith(prefix: string, layers: number, inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D | null, seeds: number[] | null): tf.Tensor2D {
    const c = this.config;
    const ids = tf.cast(inputIds, 'int32') as tf.Tensor2D;
    const [B, L] = ids.shape;
    if (L > c.maxPositionEmbeddings) {
      throw new NlpbookError(`inputIds: ${L} tokens per row, but the model has only ${c.maxPositionEmbeddings} positions (max_position_embeddings)`);
    }
    let next = 0;
    const seed = () => (seeds ? seeds[next++] : 0);
    let x = embeddings({
      word: this.weight('bert.embeddings.word_embeddings.weight') as tf.Tensor2D,
      position: this.weight('bert.embeddings.position_embeddings.weight') as tf.Tensor2D,
      tokenType: this.weight('bert.embeddings.token_type_embeddings.weight') as tf.Tensor2D,
      lnGamma: this.weight('bert.embeddings.LayerNorm.weight') as tf.Tensor1D,
      lnBeta: this.weight('bert.embeddings.LayerNorm.bias') as tf.Tensor1D,
    }, { ids: tf.reshape(ids, [B * L]) as tf.Tensor1D, typeIds: null, batch: B, length: L }, c.layerNormEps, seeds ? c.hiddenDropoutProb : 0, seed());
    const maskAdd = attentionMask ? tf.reshape(tf.mul(tf.sub(1, tf.cast(attentionMask, 'float32')), MASK_VALUE), [B, 1, 1, L]) : null;
    const shape = { batch: B, length: L, heads: c.numAttentionHeads };
    for (const w of this.layersOf(prefix, layers)) {
      x = encoderLayer(x, w, {
        shape, maskAdd, eps: c.layerNormEps, act: c.hiddenAct,
        dropout: seeds ? { attention: c.attentionProbsDropoutProb, hidden: c.hiddenDropoutProb, seeds: [seed(), seed(), seed()] } : null,
      });
    }
    return x;
  }

  private layersOf(prefix: string, count: number): LayerWeights[] {
    const cached = this.layerCache.get(prefix);
    if (cached) return cached;
    const layers = encoderLayerWeights((name) => this.weight(name), prefix, count);
    this.layerCache.set(prefix, layers);
    return layers;
  }

  override dispose(): void {
    super.dispose();
    this.layerCache.clear();
  }
}

/** Large negative added to attention scores at padding, as transformers does: (1 - mask) · float32 min. */
const MASK_VALUE = -3.4028234663852886e38;

/** tfjs-node's backend method that runs any TensorFlow op (not in tfjs's public types). */
interface NativeOps {
  executeSingleOutput(name: string, attrs: { name: string; type: number; value: unknown }[], inputs: tf.Tensor[]): tf.Tensor;
  binding: Record<string, number>;
}
