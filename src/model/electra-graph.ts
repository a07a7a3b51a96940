// One ELECTRA pretraining step (replaced-token detection, electra.ts) as a single TensorFlow
// graph, like MlmTrainGraph for the masked LM: generator forward, its MLM loss, sampling,
// corruption, discriminator forward, its loss, the hand-written backward pass of both, the
// global norm and clipping, in one native call. Both encoders are train-graph.ts's
// encoderGraph: the generator's is built from a config with its depth and a name map that
// sends `bert.encoder.layer.N.*` to `generator.encoder.layer.N.*` (the embeddings stay
// shared); its gradients come back under the encoder's names and are renamed, and the
// shared embeddings' gradients of the two encoders are summed.
//
// Order of the step's random numbers (electra.ts electraSeeds, from the one seed of run()):
// the generator's dropout masks, the sample, the discriminator's dropout masks. The sample is
// TensorFlow's StatelessMultinomial keyed by the seed, so a step is a pure function of the
// weights, the batch and the seed (a resumed run draws the same tokens), and the eager model
// (ElectraForPreTraining.sample on the native backend) draws the same ones.
import { tf } from '../util/backend';
import type { Sym } from '../util/tfgraph/graph';
import { GraphBuilder } from '../util/tfgraph/graph';
import { GraphSession } from '../util/tfgraph/session';
import type { BertConfig } from './config';
import { DEFAULT_DISCRIMINATOR_WEIGHT, electraSeeds, sampleSeedPair, type ElectraInputs, type ElectraLosses } from './electra';
import { dropoutSeedPair } from './ops';
import { BertGraphOps, encoderGraph, normAndClip, weightPlaceholders, WORD_EMBEDDINGS, type TrainGraphOptions } from './train-graph';


export interface ElectraTrainGraphOptions extends TrainGraphOptions {
  /** Layers of the generator; default: as many as `params` has (generator.encoder.layer.N). */
  generatorLayers?: number;
  /** λ, the weight of the discriminator's loss (default 50, the paper's). */
  discriminatorWeight?: number;
}

/** The eager model's losses (ElectraLosses, the same names and meanings) with the gradients. */
export interface ElectraTrainGraphResult extends ElectraLosses {
  /** Global L2 norm of all gradients, before clipping. */
  gradNorm: tf.Scalar;
  /** Gradient for every parameter, by name; clipped when built with maxGradNorm > 0. */
  grads: Map<string, tf.Tensor>;
}

/** The generator's depth in a parameter list: how many generator.encoder.layer.N there are. */
function generatorDepth(params: ReadonlyMap<string, readonly number[]>): number {
  const layers = new Set<number>();
  for (const name of params.keys()) {
    const m = /^generator\.encoder\.layer\.(\d+)\./.exec(name);
    if (m) layers.add(Number(m[1]));
  }
  return layers.size;
}

/**
 * The training step of one ElectraForPreTraining config as one graph. Build it once per
 * model; run() per batch (any batch size and length); dispose() frees the session.
 */
export class ElectraTrainGraph {
  private readonly session: GraphSession;
  private readonly weightFeeds: Sym[];
  private readonly inputs: { ids: Sym; mask: Sym; positions: Sym; labels: Sym; sampleSeed: Sym; seeds: Sym | null };
  private readonly fetches: Sym[];
  /** Dropout seed pairs per call: the generator's (1 + 3 per layer), then the discriminator's. */
  readonly seedCount: number;
  readonly dropout: boolean;
  readonly maxGradNorm: number;
  readonly skipPadding: boolean;
  readonly generatorLayers: number;
  readonly discriminatorWeight: number;
  readonly paramNames: readonly string[];

  /** `params`: the model's parameters (name -> shape) in feed order (weightShapes(model.weights)). */
  constructor(readonly config: BertConfig, params: ReadonlyMap<string, readonly number[]>, options: ElectraTrainGraphOptions = {}) {
    const c = config;
    const dropout = (this.dropout = options.dropout ?? true);
    const maxGradNorm = (this.maxGradNorm = options.maxGradNorm ?? 0);
    const skipPadding = (this.skipPadding = options.skipPadding ?? true);
    const lambda = (this.discriminatorWeight = options.discriminatorWeight ?? DEFAULT_DISCRIMINATOR_WEIGHT);
    if (!(maxGradNorm >= 0)) throw new Error(`ELECTRA graph: maxGradNorm must be >= 0, got ${maxGradNorm}`);
    if (!(lambda >= 0 && Number.isFinite(lambda))) throw new Error(`ELECTRA graph: discriminatorWeight must be a finite number >= 0, got ${lambda}`);
    const depth = generatorDepth(params);
    const Lg = (this.generatorLayers = options.generatorLayers ?? depth);
    if (!(Lg >= 1) || Lg !== depth) throw new Error(`ELECTRA graph: the parameters have ${depth} generator layers, expected ${options.generatorLayers ?? '>= 1'}`);
    const paramNames = (this.paramNames = [...params.keys()]);
    const g = new GraphBuilder();
    const o = new BertGraphOps(g, options.bf16 ?? false);
    const generatorSeeds = 1 + 3 * Lg;
    this.seedCount = generatorSeeds + 1 + 3 * c.numHiddenLayers;

    const ids = g.placeholder('input_ids', 'int32', [-1, -1]);
    const mask = g.placeholder('attention_mask', 'int32', [-1, -1]);
    const positions = g.placeholder('masked_positions', 'int32', [-1]);
    const labels = g.placeholder('labels', 'int32', [-1]);
    const sampleSeed = g.placeholder('sample_seed', 'int32', [2]);
    const seedsInput = dropout ? g.placeholder('dropout_seeds', 'int32', [this.seedCount, 2]) : null;
    const seedList = seedsInput ? g.unstack(seedsInput, this.seedCount) : [];
    let nextSeed = 0;
    const seed = () => (seedsInput ? seedList[nextSeed++] : null);
    this.inputs = { ids, mask, positions, labels, sampleSeed, seeds: seedsInput };
    const { feeds, w } = weightPlaceholders(g, params);
    this.weightFeeds = feeds;
    const types = g.mul(ids, g.int(0));

    // ------------------------------------------------------------ generator
    const generatorW = (name: string) => w(name.startsWith('bert.encoder.') ? `generator.${name.slice('bert.'.length)}` : name);
    // The generator's loss reads the masked positions only, so its last layer computes just
    // those (encoderGraph's lastLayer): gen.x is their hidden states.
    const gen = encoderGraph(g, o, c.with({ numHiddenLayers: Lg }), generatorW, { ids, mask, types }, seed, skipPadding, { positions });
    const xm = gen.x;
    const tW = w('generator_predictions.dense.weight');
    const h = o.linear(xm, tW, w('generator_predictions.dense.bias'));
    const act = o.activation(c.hiddenAct, h);
    const lnG = w('generator_predictions.LayerNorm.weight');
    const ln = o.layerNorm(act.y, lnG, w('generator_predictions.LayerNorm.bias'), c.layerNormEps);
    const word = w(WORD_EMBEDDINGS);
    const scores = o.linear(ln.y, word, w('generator_lm_head.bias'));
    const ce = g.sparseSoftmaxCrossEntropy(scores, labels);
    const generatorLoss = g.mean(ce.loss, [0]);
    const generatorAccuracy = g.mean(g.cast(g.equal(g.argMax(scores, 1), labels), 'float32'), [0]);

    // ------------------------------------------------------------ sampling and corruption
    const sampled = g.reshape(g.node('StatelessMultinomial', [scores, g.int(1), sampleSeed],
      { T: { type: 'float32' }, Tseed: { type: 'int32' }, output_dtype: { type: 'int32' } }, { dtype: 'int32' })[0], [-1]);
    const idsFlat = g.reshape(ids, [-1]);
    const N = g.element(g.shape(idsFlat), 0);
    const corruptedFlat = g.node('TensorScatterUpdate', [idsFlat, g.expandDims(positions, 1), sampled], { T: { type: 'int32' }, Tindices: { type: 'int32' } }, { dtype: 'int32' })[0];
    const corrupted = g.reshape(corruptedFlat, g.shape(ids));
    const replacedFlat = g.scatterRows(positions, g.cast(g.notEqual(sampled, labels), 'float32'), g.stack([N])); // [N]: 1 where replaced

    // ------------------------------------------------------------ discriminator
    // (The sample's seed is an input of its own: it is drawn with dropout off too.)
    if (seedsInput && nextSeed !== generatorSeeds) throw new Error(`ELECTRA graph: the generator took ${nextSeed} seeds, expected ${generatorSeeds}`);
    const dis = encoderGraph(g, o, c, w, { ids: corrupted, mask, types }, seed, skipPadding);
    const rowPositions = dis.rows ?? g.range(N);
    const dW = w('discriminator_predictions.dense.weight');
    const dh = o.linear(dis.x, dW, w('discriminator_predictions.dense.bias'));
    const dAct = o.activation(c.hiddenAct, dh);
    const pW = w('discriminator_predictions.dense_prediction.weight');
    const z = g.reshape(o.linear(dAct.y, pW, w('discriminator_predictions.dense_prediction.bias')), [-1]); // [rows]
    const y = g.gather(replacedFlat, rowPositions);
    const real = g.gather(g.cast(g.reshape(mask, [-1]), 'float32'), rowPositions);
    const realCount = g.sum(g.cast(mask, 'float32'), [0, 1]);
    const f32 = { T: { type: 'float32' as const } };
    const unary = (op: string, x: Sym) => g.node(op, [x], f32)[0];
    // max(z, 0) − z·y + log(1 + e^−|z|), and its gradient σ(z) − y.
    const perToken = g.add(g.sub(unary('Relu', z), g.mul(z, y)), unary('Log1p', g.exp(unary('Neg', unary('Abs', z)))));
    const discriminatorLoss = g.div(g.sum(g.mul(perToken, real), [0]), realCount);
    const predicted = g.cast(g.node('Greater', [z, o.scalar(0)], f32, { dtype: 'bool' })[0], 'float32');
    const discriminatorAccuracy = g.div(g.sum(g.mul(g.cast(g.equal(predicted, y), 'float32'), real), [0]), realCount);
    const replacedShare = g.div(g.sum(replacedFlat, [0]), realCount);
    const loss = g.add(generatorLoss, g.mul(discriminatorLoss, o.scalar(lambda)));

    // ------------------------------------------------------------ backward
    const grads = new Map<string, Sym>();
    // Discriminator: d(λ · loss)/dz = λ · (σ(z) − y) · real / count.
    const dz = g.mul(g.sub(unary('Sigmoid', z), y), g.mul(real, g.div(o.scalar(lambda), realCount)));
    const pred = o.linearBackward(g.reshape(dz, [-1, 1]), dAct.y, pW);
    grads.set('discriminator_predictions.dense_prediction.weight', pred.dW).set('discriminator_predictions.dense_prediction.bias', pred.db);
    const dDense = o.linearBackward(o.activationBackward(c.hiddenAct, pred.dx, dh, dAct.cdf), dis.x, dW);
    grads.set('discriminator_predictions.dense.weight', dDense.dW).set('discriminator_predictions.dense.bias', dDense.db);
    const disGrads = new Map<string, Sym>();
    const disWords = dis.backward(dDense.dx, disGrads);

    // Generator: as MlmTrainGraph's head.
    const M = g.element(g.shape(labels), 0);
    const dScores = g.div(ce.backprop, g.cast(M, 'float32'));
    const dec = o.linearBackward(dScores, ln.y, word);
    grads.set('generator_lm_head.bias', dec.db);
    const lnb = o.layerNormBackward(dec.dx, ln, lnG);
    grads.set('generator_predictions.LayerNorm.weight', lnb.dGamma).set('generator_predictions.LayerNorm.bias', lnb.dBeta);
    const tr = o.linearBackward(o.activationBackward(c.hiddenAct, lnb.dx, h, act.cdf), xm, tW);
    grads.set('generator_predictions.dense.weight', tr.dW).set('generator_predictions.dense.bias', tr.db);
    const genGrads = new Map<string, Sym>();
    const genWords = gen.backward(tr.dx, genGrads);

    // Both encoders' gradients: the generator's layers renamed, the shared embeddings summed.
    for (const [name, t] of disGrads) grads.set(name, t);
    for (const [name, t] of genGrads) {
      if (name.startsWith('bert.encoder.')) grads.set(`generator.${name.slice('bert.'.length)}`, t);
      else grads.set(name, g.add(grads.get(name) as Sym, t));
    }
    // The word embeddings: the generator's decoder (dense) plus both encoders' input rows, scattered once.
    const rows = g.concat([genWords.wordRows, disWords.wordRows], 0);
    const rowIds = g.concat([genWords.distinct.values, disWords.distinct.values], 0);
    grads.set(WORD_EMBEDDINGS, g.add(dec.dW, g.unsortedSegmentSum(rows, rowIds, c.vocabSize)));

    const ordered = paramNames.map((n) => {
      const grad = grads.get(n);
      if (!grad) throw new Error(`ELECTRA graph: no gradient for ${n} (not an ElectraForPreTraining parameter?)`);
      return grad;
    });
    if (grads.size !== paramNames.length) {
      const missing = [...grads.keys()].filter((n) => !params.has(n));
      throw new Error(`ELECTRA graph: the parameters lack ${missing.join(', ')}`);
    }
    const { gradNorm, clipped } = normAndClip(g, o, ordered, maxGradNorm);
    this.fetches = [
      g.identity(loss, 'loss'), g.identity(generatorLoss, 'generator_loss'), g.identity(discriminatorLoss, 'discriminator_loss'),
      g.identity(generatorAccuracy, 'generator_accuracy'), g.identity(discriminatorAccuracy, 'discriminator_accuracy'),
      g.identity(replacedShare, 'replaced_share'), g.identity(gradNorm, 'grad_norm'), g.identity(sampled, 'sampled'),
      ...clipped.map((t, i) => g.identity(t, `grad${i}`)),
    ];
    this.session = new GraphSession(g);
  }

  /**
   * Losses, metrics, the sampled tokens and every gradient for one masked batch. `weights`
   * in paramNames order; `seed`: the step's seed (electra.ts electraSeeds: dropout masks and
   * the sample), required.
   */
  run(weights: readonly tf.Tensor[], batch: ElectraInputs, seed: number): ElectraTrainGraphResult {
    if (!Number.isFinite(seed)) throw new Error('ELECTRA graph: a seed is required (it draws the sample)');
    const s = electraSeeds(seed, this.generatorLayers, this.config.numHiddenLayers);
    const owned: tf.Tensor[] = [tf.tensor1d(sampleSeedPair(s.sample), 'int32')];
    const feeds: [Sym, tf.Tensor][] = [
      [this.inputs.ids, batch.inputIds], [this.inputs.mask, batch.attentionMask], [this.inputs.positions, batch.maskedPositions],
      [this.inputs.labels, batch.labels], [this.inputs.sampleSeed, owned[0]],
      ...this.weightFeeds.map((f, i) => [f, weights[i]] as [Sym, tf.Tensor]),
    ];
    if (this.inputs.seeds) {
      const pairs = new Int32Array(this.seedCount * 2);
      [...s.generator, ...s.discriminator].forEach((v, i) => pairs.set(dropoutSeedPair(v), 2 * i));
      owned.push(tf.tensor2d(pairs, [this.seedCount, 2], 'int32'));
      feeds.push([this.inputs.seeds, owned[1]]);
    }
    try {
      const [loss, generatorLoss, discriminatorLoss, generatorAccuracy, discriminatorAccuracy, replacedShare, gradNorm, sampled, ...grads] = this.session.run(feeds, this.fetches);
      return {
        loss: loss as tf.Scalar, generatorLoss: generatorLoss as tf.Scalar, discriminatorLoss: discriminatorLoss as tf.Scalar,
        generatorAccuracy: generatorAccuracy as tf.Scalar, discriminatorAccuracy: discriminatorAccuracy as tf.Scalar,
        replacedShare: replacedShare as tf.Scalar, gradNorm: gradNorm as tf.Scalar, sampled: sampled as tf.Tensor1D,
        grads: new Map(this.paramNames.map((n, i) => [n, grads[i]])),
      };
    } finally {
      owned.forEach((t) => t.dispose());
    }
  }

  dispose(): void {
    this.session.dispose();
  }
}
