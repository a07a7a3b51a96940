// BERT on TensorFlow.js with Hugging Face's parameter names and PyTorch's math, so
// a checkpoint from the hub loads by name alone and the logits match Python.
//
// Layout: Linear weights stay in PyTorch's [out, in] layout and every dense layer
// is x·Wᵀ (tf.matMul with transposeB). Measured on tfjs-node (2 cores, CPU time of
// one encoder layer, plain matMul + bias): hidden 128, batch 32 × 64 tokens:
// forward+backward 76 ms [out, in] vs 74 ms [in, out] (a tie); hidden 768, batch
// 8 × 128: forward+backward 436 vs 434 ms (a tie), forward alone 123 vs 158 ms
// ([out, in] faster). TensorFlow's matmul reads a transposed operand for free and
// the backward matmuls need one operand transposed in either layout, so storing
// [in, out] buys nothing for training, costs inference speed, and would need
// transposed copies at every load and save; [out, in] makes them a pure name map.
//
// Hidden states are kept 2-D, [batch·length, hidden], so every dense layer is one
// plain matmul; only attention reshapes to [batch, heads, length, headSize]. The
// embeddings and each transformer layer are single tf.customGrad blocks with
// hand-written backward passes (encoder.ts): a training step of a kcbert-base-sized
// model at batch 32 × 128 tokens peaks at 6.9 GB instead of being killed past 21 GB,
// and a small model's step is ~20% faster than with tfjs's autodiff.
import { tf } from '../util/backend';
import { NlpbookError } from '../util/errors';
import { loadPretrained, type LoadReport, type PretrainedOptions, type WeightSource } from './checkpoint';
import { BertConfig } from './config';
import { embeddings, encoderLayer, encoderLayerWeights, firstTokens, gatherRows, type LayerWeights } from './encoder';
import { activation, dropout, layerNorm, linear, SeedStream } from './ops';

/** Token ids and masks for one batch, each [batch, length] (int32 tensors or nested arrays). */
export interface BertInputs {
  inputIds: tf.Tensor2D | number[][];
  /** 1 for real tokens, 0 for padding; default all ones. */
  attentionMask?: tf.Tensor2D | number[][];
  /** Segment ids (0/1); default all zeros. */
  tokenTypeIds?: tf.Tensor2D | number[][];
}

export interface ForwardOptions {
  /** Dropout on (training) or off (evaluation, the default). */
  training?: boolean;
  /** Seed of this call's dropout masks; default: the next seed of the model's own stream. */
  seed?: number;
}

/** How a parameter starts when it is not loaded from a checkpoint (transformers' _init_weights). */
type Init = 'normal' | 'zeros' | 'ones' | 'embedding';

interface ParamSpec {
  name: string;
  shape: number[];
  init: Init;
}

/** Large negative added to attention scores at padding, as transformers does: (1 - mask) · float32 min. */
const MASK_VALUE = -3.4028234663852886e38;

let nextModelId = 0;

/** The parameters of the BERT encoder, under `prefix` ("bert." inside task models, "" alone). */
function encoderSpecs(c: BertConfig, prefix: string, pooler: boolean): ParamSpec[] {
  const H = c.hiddenSize;
  const specs: ParamSpec[] = [];
  const lin = (name: string, out: number, inp: number) => {
    specs.push({ name: `${prefix}${name}.weight`, shape: [out, inp], init: 'normal' });
    specs.push({ name: `${prefix}${name}.bias`, shape: [out], init: 'zeros' });
  };
  const norm = (name: string) => {
    specs.push({ name: `${prefix}${name}.weight`, shape: [H], init: 'ones' });
    specs.push({ name: `${prefix}${name}.bias`, shape: [H], init: 'zeros' });
  };
  specs.push({ name: `${prefix}embeddings.word_embeddings.weight`, shape: [c.vocabSize, H], init: 'embedding' });
  specs.push({ name: `${prefix}embeddings.position_embeddings.weight`, shape: [c.maxPositionEmbeddings, H], init: 'normal' });
  specs.push({ name: `${prefix}embeddings.token_type_embeddings.weight`, shape: [c.typeVocabSize, H], init: 'normal' });
  norm('embeddings.LayerNorm');
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const l = `encoder.layer.${i}`;
    lin(`${l}.attention.self.query`, H, H);
    lin(`${l}.attention.self.key`, H, H);
    lin(`${l}.attention.self.value`, H, H);
    lin(`${l}.attention.output.dense`, H, H);
    norm(`${l}.attention.output.LayerNorm`);
    lin(`${l}.intermediate.dense`, c.intermediateSize, H);
    lin(`${l}.output.dense`, H, c.intermediateSize);
    norm(`${l}.output.LayerNorm`);
  }
  if (pooler) lin('pooler.dense', H, H);
  return specs;
}

/**
 * What every BERT model here shares: the config, the parameters (tf.Variables in a
 * Map keyed by Hugging Face names, in a fixed order), dropout seeds, disposal.
 */
export abstract class BertPreTrainedModel {
  /** The Python class this model corresponds to (config.json "architectures"). */
  abstract readonly architecture: string;
  /** Parameters by Hugging Face name, in the order of a PyTorch state dict. */
  readonly weights = new Map<string, tf.Variable>();
  /** Prefix of the encoder's names: "bert." in task models, "" in a bare BertModel. */
  readonly basePrefix: string;
  /** What fromPretrained loaded and did not (missing / unexpected keys); absent for init(). */
  loadReport?: LoadReport;
  private readonly seeds: SeedStream;
  private readonly id = nextModelId++;

  protected constructor(readonly config: BertConfig, specs: ParamSpec[], basePrefix: string, source: WeightSource | undefined, seed: number) {
    this.basePrefix = basePrefix;
    this.seeds = new SeedStream(seed ^ 0x5eed);
    const init = new SeedStream(seed);
    for (const spec of specs) {
      const paramSeed = init.next(); // drawn for every parameter so each one's init does not depend on what was loaded
      const given = source?.(spec.name, spec.shape);
      const value = given === undefined ? initialValue(spec, config, paramSeed) : asTensor(given, spec);
      // Variable names must be unique per process; keep the HF name readable inside.
      this.weights.set(spec.name, tf.variable(value, true, `bert${this.id}/${spec.name}`));
      value.dispose();
    }
  }

  /** The parameter called `name` (Hugging Face name); a one-line error when there is none. */
  weight(name: string): tf.Variable {
    const w = this.weights.get(name);
    if (!w) throw new NlpbookError(`${this.architecture} has no parameter ${name}`);
    return w;
  }

  /** All parameters, in the stable state-dict order (what an optimizer updates). */
  trainableVariables(): tf.Variable[] {
    return [...this.weights.values()];
  }

  /** Number of scalar parameters (tied weights counted once). */
  parameterCount(): number {
    let n = 0;
    for (const w of this.weights.values()) n += w.size;
    return n;
  }

  /** Frees every parameter; the model cannot be used afterwards. */
  dispose(): void {
    for (const w of this.weights.values()) w.dispose();
    this.weights.clear();
    this.cachedLayers = undefined;
  }

  /** The dropout seed of one forward call: the given one, else the next from the model's stream. */
  protected dropoutSeeds(options: ForwardOptions): SeedStream | null {
    if (!options.training) return null;
    return new SeedStream(options.seed ?? this.seeds.next());
  }

  /** The encoder: [batch·length, hidden] states plus the batch shape. */
  protected encode(inputs: BertInputs, seeds: SeedStream | null): { hidden: tf.Tensor2D; batch: number; length: number } {
    const c = this.config;
    const p = this.basePrefix;
    const ids = toIntTensor(inputs.inputIds, 'inputIds');
    const [B, L] = ids.shape;
    if (L > c.maxPositionEmbeddings) {
      throw new NlpbookError(`inputIds: ${L} tokens per row, but the model has only ${c.maxPositionEmbeddings} positions (max_position_embeddings)`);
    }
    const N = B * L;
    const typeIds = inputs.tokenTypeIds === undefined ? null
      : tf.reshape(checkShape(toIntTensor(inputs.tokenTypeIds, 'tokenTypeIds'), ids, 'tokenTypeIds'), [N]) as tf.Tensor1D;
    let x = embeddings({
      word: this.weight(`${p}embeddings.word_embeddings.weight`) as tf.Tensor2D,
      position: this.weight(`${p}embeddings.position_embeddings.weight`) as tf.Tensor2D,
      tokenType: this.weight(`${p}embeddings.token_type_embeddings.weight`) as tf.Tensor2D,
      lnGamma: this.weight(`${p}embeddings.LayerNorm.weight`) as tf.Tensor1D,
      lnBeta: this.weight(`${p}embeddings.LayerNorm.bias`) as tf.Tensor1D,
    }, { ids: tf.reshape(ids, [N]) as tf.Tensor1D, typeIds, batch: B, length: L }, c.layerNormEps, seeds ? c.hiddenDropoutProb : 0, seeds ? seeds.next() : 0);

    // Padding mask, added to every head's scores: [B, 1, 1, L], 0 or float32's lowest (HF's (1 - mask) * min).
    let maskAdd: tf.Tensor | null = null;
    if (inputs.attentionMask !== undefined) {
      const mask = checkShape(toIntTensor(inputs.attentionMask, 'attentionMask'), ids, 'attentionMask');
      maskAdd = tf.reshape(tf.mul(tf.sub(1, tf.cast(mask, 'float32')), MASK_VALUE), [B, 1, 1, L]);
    }
    const shape = { batch: B, length: L, heads: c.numAttentionHeads };
    for (const w of this.layerWeights()) {
      x = encoderLayer(x, w, {
        shape, maskAdd, eps: c.layerNormEps, act: c.hiddenAct,
        dropout: seeds ? { attention: c.attentionProbsDropoutProb, hidden: c.hiddenDropoutProb, seeds: [seeds.next(), seeds.next(), seeds.next()] } : null,
      });
    }
    return { hidden: x, batch: B, length: L };
  }

  /** Pooler: tanh(dense(hidden state of the first token)), [batch, hidden]. */
  protected pool(hidden: tf.Tensor2D, batch: number, length: number): tf.Tensor2D {
    const p = this.basePrefix;
    return tf.tanh(linear(firstTokens(hidden, batch, length), this.weight(`${p}pooler.dense.weight`) as tf.Tensor2D, this.weight(`${p}pooler.dense.bias`) as tf.Tensor1D));
  }

  private cachedLayers?: LayerWeights[];

  private layerWeights(): LayerWeights[] {
    return (this.cachedLayers ??= encoderLayerWeights((name) => this.weight(name), this.basePrefix, this.config.numHiddenLayers));
  }
}

/** The bare encoder (Hugging Face BertModel): names without the "bert." prefix. */
export class BertModel extends BertPreTrainedModel {
  readonly architecture = 'BertModel';

  constructor(config: BertConfig, source?: WeightSource, seed = 0) {
    super(config, encoderSpecs(config, '', true), '', source, seed);
  }

  /** Random weights as transformers initialises them. */
  static init(config: BertConfig, seed = 0): BertModel {
    return new BertModel(config, undefined, seed);
  }

  /** Parameter names and shapes, in state-dict order. */
  static paramShapes(config: BertConfig): Map<string, number[]> {
    return shapesOf(encoderSpecs(config, '', true));
  }

  /** Loads a folder in Hugging Face layout (or a hub id found locally); see loadPretrained. */
  static fromPretrained(nameOrDir: string, options: PretrainedOptions = {}): BertModel {
    return loadPretrained(BertModel, nameOrDir, options);
  }

  /** Last hidden states [batch, length, hidden] and the pooled first token [batch, hidden]. */
  forward(inputs: BertInputs, options: ForwardOptions = {}): { sequenceOutput: tf.Tensor3D; pooledOutput: tf.Tensor2D } {
    const { hidden, batch, length } = this.encode(inputs, this.dropoutSeeds(options));
    return {
      sequenceOutput: tf.reshape(hidden, [batch, length, this.config.hiddenSize]),
      pooledOutput: this.pool(hidden, batch, length),
    };
  }
}

/** BERT with a classifier on the pooled [CLS] state (Hugging Face BertForSequenceClassification). */
export class BertForSequenceClassification extends BertPreTrainedModel {
  readonly architecture = 'BertForSequenceClassification';

  constructor(config: BertConfig, source?: WeightSource, seed = 0) {
    super(config, BertForSequenceClassification.specs(config), 'bert.', source, seed);
  }

  static init(config: BertConfig, seed = 0): BertForSequenceClassification {
    return new BertForSequenceClassification(config, undefined, seed);
  }

  static paramShapes(config: BertConfig): Map<string, number[]> {
    return shapesOf(BertForSequenceClassification.specs(config));
  }

  /**
   * Loads a folder in Hugging Face layout (or a hub id found locally). Weights the
   * checkpoint lacks (e.g. a new classifier) are initialised like transformers and
   * listed in a warning and in `loadReport`.
   */
  static fromPretrained(nameOrDir: string, options: PretrainedOptions = {}): BertForSequenceClassification {
    return loadPretrained(BertForSequenceClassification, nameOrDir, options);
  }

  private static specs(config: BertConfig): ParamSpec[] {
    return [
      ...encoderSpecs(config, 'bert.', true),
      { name: 'classifier.weight', shape: [config.numLabels, config.hiddenSize], init: 'normal' },
      { name: 'classifier.bias', shape: [config.numLabels], init: 'zeros' },
    ];
  }

  /** Class scores before softmax, [batch, numLabels]. */
  forward(inputs: BertInputs, options: ForwardOptions = {}): tf.Tensor2D {
    const seeds = this.dropoutSeeds(options);
    const { hidden, batch, length } = this.encode(inputs, seeds);
    let pooled = this.pool(hidden, batch, length);
    if (seeds) pooled = dropout(pooled, this.config.classifierDropoutProb, seeds.next());
    return linear(pooled, this.weight('classifier.weight') as tf.Tensor2D, this.weight('classifier.bias') as tf.Tensor1D);
  }
}

export interface MaskedLMInputs extends BertInputs {
  /**
   * Flat indices (row · length + column) of the positions to predict. When given,
   * the vocabulary projection runs only there (as the original BERT does in
   * pretraining: ~15% of the tokens, so ~6x less work in the largest matmul).
   */
  maskedPositions?: tf.Tensor1D | number[];
}

/**
 * A masked LM whose config.json lists both BertForMaskedLM and BertForSequenceClassification
 * also carries the classifier's pooler and head (pretraining with a task objective,
 * pretrain settings taskWeight): fine-tuning and Python's BertForSequenceClassification
 * then start from that trained head instead of a new one.
 */
export function hasTaskHead(config: BertConfig): boolean {
  return config.architectures.includes('BertForMaskedLM') && config.architectures.includes('BertForSequenceClassification');
}

/** BERT with the masked-language-model head (Hugging Face BertForMaskedLM); the decoder is tied to the word embeddings. */
export class BertForMaskedLM extends BertPreTrainedModel {
  readonly architecture = 'BertForMaskedLM';

  /** config.json's "architectures" when saved: both classes with a task head (hasTaskHead). */
  get architectures(): string[] {
    return hasTaskHead(this.config) ? ['BertForMaskedLM', 'BertForSequenceClassification'] : ['BertForMaskedLM'];
  }

  constructor(config: BertConfig, source?: WeightSource, seed = 0) {
    super(config, BertForMaskedLM.specs(config), 'bert.', source, seed);
  }

  static init(config: BertConfig, seed = 0): BertForMaskedLM {
    return new BertForMaskedLM(config, undefined, seed);
  }

  static paramShapes(config: BertConfig): Map<string, number[]> {
    return shapesOf(BertForMaskedLM.specs(config));
  }

  /**
   * Loads a folder in Hugging Face layout (or a hub id found locally). Weights the
   * checkpoint lacks (e.g. a new classifier) are initialised like transformers and
   * listed in a warning and in `loadReport`.
   */
  static fromPretrained(nameOrDir: string, options: PretrainedOptions = {}): BertForMaskedLM {
    return loadPretrained(BertForMaskedLM, nameOrDir, options);
  }

  private static specs(config: BertConfig): ParamSpec[] {
    const H = config.hiddenSize;
    const task = hasTaskHead(config);
    return [
      ...encoderSpecs(config, 'bert.', task),
      { name: 'cls.predictions.transform.dense.weight', shape: [H, H], init: 'normal' },
      { name: 'cls.predictions.transform.dense.bias', shape: [H], init: 'zeros' },
      { name: 'cls.predictions.transform.LayerNorm.weight', shape: [H], init: 'ones' },
      { name: 'cls.predictions.transform.LayerNorm.bias', shape: [H], init: 'zeros' },
      { name: 'cls.predictions.bias', shape: [config.vocabSize], init: 'zeros' },
      ...(task ? [
        { name: 'classifier.weight', shape: [config.numLabels, H], init: 'normal' as const },
        { name: 'classifier.bias', shape: [config.numLabels], init: 'zeros' as const },
      ] : []),
    ];
  }

  /** Vocabulary scores: [masked, vocab] with maskedPositions, else [batch, length, vocab]. */
  forward(inputs: MaskedLMInputs, options: ForwardOptions = {}): tf.Tensor {
    const c = this.config;
    const { hidden, batch, length } = this.encode(inputs, this.dropoutSeeds(options));
    let x: tf.Tensor2D = hidden;
    if (inputs.maskedPositions !== undefined) {
      const pos = Array.isArray(inputs.maskedPositions) ? tf.tensor1d(inputs.maskedPositions, 'int32') : tf.cast(inputs.maskedPositions, 'int32');
      x = gatherRows(hidden, pos);
    }
    const t = activation(c.hiddenAct, linear(x, this.weight('cls.predictions.transform.dense.weight') as tf.Tensor2D,
      this.weight('cls.predictions.transform.dense.bias') as tf.Tensor1D)) as tf.Tensor2D;
    const normed = layerNorm(t, this.weight('cls.predictions.transform.LayerNorm.weight') as tf.Tensor1D,
      this.weight('cls.predictions.transform.LayerNorm.bias') as tf.Tensor1D, c.layerNormEps);
    const scores = linear(normed, this.weight('bert.embeddings.word_embeddings.weight') as tf.Tensor2D, this.weight('cls.predictions.bias') as tf.Tensor1D);
    return inputs.maskedPositions !== undefined ? scores : tf.reshape(scores, [batch, length, c.vocabSize]);
  }
}

function shapesOf(specs: ParamSpec[]): Map<string, number[]> {
  return new Map(specs.map((s) => [s.name, [...s.shape]]));
}

function initialValue(spec: ParamSpec, config: BertConfig, seed: number): tf.Tensor {
  switch (spec.init) {
    case 'zeros': return tf.zeros(spec.shape);
    case 'ones': return tf.ones(spec.shape);
    case 'normal': return tf.randomNormal(spec.shape, 0, config.initializerRange, 'float32', seed);
    case 'embedding': {
      // nn.Embedding(padding_idx=pad_token_id): transformers zeroes that row after the normal init.
      const value = tf.randomNormal(spec.shape, 0, config.initializerRange, 'float32', seed);
      const pad = config.padTokenId;
      if (pad === null) return value;
      const zeroed = tf.tidy(() => tf.where(tf.equal(tf.range(0, spec.shape[0], 1, 'int32').reshape([-1, 1]), pad), tf.zerosLike(value), value));
      value.dispose();
      return zeroed;
    }
  }
}

function asTensor(given: tf.Tensor | Float32Array, spec: ParamSpec): tf.Tensor {
  if (given instanceof Float32Array) {
    if (given.length !== spec.shape.reduce((a, b) => a * b, 1)) {
      throw new NlpbookError(`${spec.name}: expected shape [${spec.shape}], got ${given.length} values`);
    }
    return tf.tensor(given, spec.shape, 'float32');
  }
  if (!tf.util.arraysEqual(given.shape, spec.shape)) throw new NlpbookError(`${spec.name}: expected shape [${spec.shape}], got [${given.shape}]`);
  return given.dtype === 'float32' ? tf.clone(given) : tf.cast(given, 'float32');
}

function toIntTensor(x: tf.Tensor2D | number[][], what: string): tf.Tensor2D {
  if (Array.isArray(x)) {
    const width = x[0]?.length ?? 0;
    if (x.length === 0 || width === 0 || x.some((row) => row.length !== width)) {
      throw new NlpbookError(`${what}: expected a non-empty rectangular [batch, length] array`);
    }
    return tf.tensor2d(x, [x.length, width], 'int32');
  }
  if (x.rank !== 2) throw new NlpbookError(`${what}: expected a [batch, length] tensor, got shape [${x.shape}]`);
  return x.dtype === 'int32' ? x : tf.cast(x, 'int32');
}

function checkShape(x: tf.Tensor2D, like: tf.Tensor2D, what: string): tf.Tensor2D {
  if (!tf.util.arraysEqual(x.shape, like.shape)) throw new NlpbookError(`${what}: shape [${x.shape}] differs from inputIds [${like.shape}]`);
  return x;
}
