// Inference for BertForSequenceClassification as one TensorFlow graph: the training
// graph's encoder (model/train-graph.ts encoderGraph, dropout off, no backward), the pooler
// and the classifier. Why: eagerly, a small model's forward is mostly per-op dispatch from
// JavaScript; as one native call it runs 1.6-2.7x faster at 4 layers/H256 (bench/inference.ts).
// The logits equal the eager model's (test/train-graph.test.ts).
import { tf } from '../util/backend';
import { GraphBuilder, type Sym } from '../util/tfgraph/graph';
import { GraphSession } from '../util/tfgraph/session';
import type { BertConfig } from './config';
import { BertGraphOps, encoderGraph, weightPlaceholders } from './train-graph';

export interface ForwardInputs {
  inputIds: tf.Tensor2D;
  attentionMask: tf.Tensor2D;
  tokenTypeIds: tf.Tensor2D;
}

export class ClassificationForwardGraph {
  private readonly session: GraphSession;
  private readonly weightFeeds: Sym[];
  private readonly inputs: { ids: Sym; mask: Sym; types: Sym };
  private readonly logits: Sym;

  /** `params`: the model's parameters (name -> shape) in feed order; skipPadding as in TrainGraphOptions. */
  constructor(readonly config: BertConfig, params: ReadonlyMap<string, readonly number[]>, readonly skipPadding = true) {
    const g = new GraphBuilder();
    const o = new BertGraphOps(g);
    const ids = g.placeholder('input_ids', 'int32', [-1, -1]);
    const mask = g.placeholder('attention_mask', 'int32', [-1, -1]);
    const types = g.placeholder('token_type_ids', 'int32', [-1, -1]);
    this.inputs = { ids, mask, types };
    const { feeds, w } = weightPlaceholders(g, params);
    this.weightFeeds = feeds;
    // The pooler reads [CLS] only, so the last layer computes just that row per sequence.
    const enc = encoderGraph(g, o, config, w, { ids, mask, types }, () => null, skipPadding, 'first');
    const pooled = g.tanh(o.linear(enc.x, w('bert.pooler.dense.weight'), w('bert.pooler.dense.bias')));
    this.logits = g.identity(o.linear(pooled, w('classifier.weight'), w('classifier.bias')), 'logits');
    this.session = new GraphSession(g);
  }

  /** [batch, numLabels] logits; `weights` in the params' order. */
  run(weights: readonly tf.Tensor[], batch: ForwardInputs): tf.Tensor2D {
    const feeds: [Sym, tf.Tensor][] = [
      [this.inputs.ids, batch.inputIds], [this.inputs.mask, batch.attentionMask], [this.inputs.types, batch.tokenTypeIds],
      ...this.weightFeeds.map((s, i) => [s, weights[i]] as [Sym, tf.Tensor]),
    ];
    return this.session.run(feeds, [this.logits])[0] as tf.Tensor2D;
  }

  dispose(): void {
    this.session.dispose();
  }
}
