// BERT's embeddings and transformer layer, each one tf.customGrad: the forward pass
// is Hugging Face's math (BertEmbeddings, BertLayer), the backward pass is written
// out block by block in reverse, so that a layer keeps only what its gradient needs
// (see ops.ts for why) and frees every intermediate gradient as soon as it is used.
// The tfjs tape then holds one node per layer instead of ~60, which also cuts the
// JavaScript bookkeeping of every step.
import { tf } from '../util/backend';
import type { HiddenAct } from './config';
import {
  activationBackward, activationForward, attentionBackward, attentionForward, customGrad, dropoutMaskTensor,
  layerNormBackward, layerNormForward, linearBackward, linearForward, type AttentionShape,
} from './ops';

/** The tensors a customGrad keeps for its backward pass, by name (absent entries are skipped). */
type Saved = Record<string, tf.Tensor | null | undefined>;

/** Packs named tensors for customGrad's save(); `unpack` gives them back by name in the backward pass. */
function pack(save: tf.GradSaveFunc, saved: Saved): (list: tf.Tensor[]) => Record<string, tf.Tensor> {
  const names = Object.keys(saved).filter((k) => saved[k]);
  save(names.map((k) => saved[k] as tf.Tensor));
  return (list) => Object.fromEntries(names.map((k, i) => [k, list[i]]));
}

// ---------------------------------------------------------------- embeddings

export interface EmbeddingWeights {
  word: tf.Tensor2D;
  position: tf.Tensor2D;
  tokenType: tf.Tensor2D;
  lnGamma: tf.Tensor1D;
  lnBeta: tf.Tensor1D;
}

export interface EmbeddingInputs {
  /** [batch·length] token ids. */
  ids: tf.Tensor1D;
  /** [batch·length] segment ids, or null for all zeros. */
  typeIds: tf.Tensor1D | null;
  batch: number;
  length: number;
}

/**
 * BertEmbeddings: LayerNorm(word + token type + position) then dropout, as
 * [batch·length, hidden]. The backward pass scatters into the tables with
 * unsortedSegmentSum (dense gradients, like PyTorch's nn.Embedding).
 */
export function embeddings(w: EmbeddingWeights, inp: EmbeddingInputs, eps: number, dropoutRate: number, seed: number): tf.Tensor2D {
  const { batch: B, length: L } = inp;
  const N = B * L;
  const f = customGrad((word: tf.Tensor2D, position: tf.Tensor2D, tokenType: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D, save: tf.GradSaveFunc) => {
    const H = word.shape[1];
    const types = inp.typeIds ? tf.gather(tokenType, inp.typeIds) : tf.slice(tokenType, [0, 0], [1, H]);
    // HF's order of additions: (word + token type) + position.
    const summed = tf.reshape(tf.add(tf.reshape(tf.add(tf.gather(word, inp.ids), types), [B, L, H]), tf.slice(position, [0, 0], [L, H])), [N, H]);
    const ln = layerNormForward(summed as tf.Tensor2D, gamma, beta, eps);
    const mask = dropoutRate > 0 ? dropoutMaskTensor<tf.Rank.R2>([N, H], dropoutRate, seed) : null;
    const unpack = pack(save, { ids: inp.ids, typeIds: inp.typeIds, xhat: ln.xhat, rstd: ln.rstd, gamma, mask });
    return {
      value: mask ? tf.mul(ln.y, mask) : ln.y,
      gradFunc: (dy: tf.Tensor, list: tf.Tensor[]) => {
        const s = unpack(list);
        const d = layerNormBackward((s.mask ? tf.mul(dy, s.mask) : dy) as tf.Tensor2D, s.xhat as tf.Tensor2D, s.rstd as tf.Tensor2D, s.gamma as tf.Tensor1D);
        const [V, T, P] = [word.shape[0], tokenType.shape[0], position.shape[0]];
        const dWord = tf.unsortedSegmentSum(d.dx, s.ids as tf.Tensor1D, V);
        const dType = s.typeIds
          ? tf.unsortedSegmentSum(d.dx, s.typeIds as tf.Tensor1D, T)
          : tf.pad(tf.sum(d.dx, 0, true), [[0, T - 1], [0, 0]]);
        const dPosition = tf.pad(tf.sum(tf.reshape(d.dx, [B, L, H]), 0), [[0, P - L], [0, 0]]);
        return [dWord, dPosition, dType, d.dGamma, d.dBeta];
      },
    };
  });
  return f(w.word, w.position, w.tokenType, w.lnGamma, w.lnBeta) as tf.Tensor2D;
}

// ---------------------------------------------------------------- transformer layer

/** One BertLayer's parameters, Linear weights [out, in]. */
export interface LayerWeights {
  qW: tf.Tensor2D; qB: tf.Tensor1D; kW: tf.Tensor2D; kB: tf.Tensor1D; vW: tf.Tensor2D; vB: tf.Tensor1D;
  aoW: tf.Tensor2D; aoB: tf.Tensor1D; ln1G: tf.Tensor1D; ln1B: tf.Tensor1D;
  iW: tf.Tensor2D; iB: tf.Tensor1D; oW: tf.Tensor2D; oB: tf.Tensor1D; ln2G: tf.Tensor1D; ln2B: tf.Tensor1D;
}
const LAYER_WEIGHT_ORDER = ['qW', 'qB', 'kW', 'kB', 'vW', 'vB', 'aoW', 'aoB', 'ln1G', 'ln1B', 'iW', 'iB', 'oW', 'oB', 'ln2G', 'ln2B'] as const;

/**
 * The weights of encoder layers 0..count-1 by their Hugging Face names
 * ("<prefix>encoder.layer.<i>.attention.self.query.weight", ...), from `weight(name)`.
 */
export function encoderLayerWeights(weight: (name: string) => tf.Tensor, prefix: string, count: number): LayerWeights[] {
  const layers: LayerWeights[] = [];
  for (let i = 0; i < count; i++) {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const w = (name: string) => weight(`${prefix}encoder.layer.${i}.${name}`) as any;
    layers.push({
      qW: w('attention.self.query.weight'), qB: w('attention.self.query.bias'),
      kW: w('attention.self.key.weight'), kB: w('attention.self.key.bias'),
      vW: w('attention.self.value.weight'), vB: w('attention.self.value.bias'),
      aoW: w('attention.output.dense.weight'), aoB: w('attention.output.dense.bias'),
      ln1G: w('attention.output.LayerNorm.weight'), ln1B: w('attention.output.LayerNorm.bias'),
      iW: w('intermediate.dense.weight'), iB: w('intermediate.dense.bias'),
      oW: w('output.dense.weight'), oB: w('output.dense.bias'),
      ln2G: w('output.LayerNorm.weight'), ln2B: w('output.LayerNorm.bias'),
    });
  }
  return layers;
}

export interface LayerOptions {
  shape: AttentionShape;
  /** [batch, 1, 1, length] additive padding mask, or null. */
  maskAdd: tf.Tensor | null;
  eps: number;
  act: HiddenAct;
  /** Dropout seeds for this call (attention probabilities, attention output, feed-forward output); null: no dropout. */
  dropout: { attention: number; hidden: number; seeds: [number, number, number] } | null;
}

/**
 * BertLayer on [batch·length, hidden] states:
 *   a   = LayerNorm(dropout(attention(x)·W_ao + b) + x)
 *   out = LayerNorm(dropout(act(a·W_i + b)·W_o + b) + a)
 */
export function encoderLayer(x: tf.Tensor2D, w: LayerWeights, opt: LayerOptions): tf.Tensor2D {
  const { shape, eps, act } = opt;
  const drop = opt.dropout;
  const f = customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [xIn, ...ws] = args as tf.Tensor[];
    const W = Object.fromEntries(LAYER_WEIGHT_ORDER.map((k, i) => [k, ws[i]])) as unknown as LayerWeights;
    // HF scales the scores by 1/√D; scaling the query's weight and bias instead gives the
    // same product (exactly so for D = 64 or 16) for H·(H+1) multiplications instead of
    // batch·heads·L² in the forward pass and again in the backward pass.
    const scale = 1 / Math.sqrt(xIn.shape[1]! / shape.heads);
    const qW = tf.mul(W.qW, scale) as tf.Tensor2D;
    const q = linearForward(xIn as tf.Tensor2D, qW, tf.mul(W.qB, scale));
    const k = linearForward(xIn as tf.Tensor2D, W.kW, W.kB);
    const v = linearForward(xIn as tf.Tensor2D, W.vW, W.vB);
    const att = attentionForward(q, k, v, opt.maskAdd, shape, drop ? drop.attention : 0, drop ? drop.seeds[0] : 0);
    const m1 = drop && drop.hidden > 0 ? dropoutMaskTensor<tf.Rank.R2>(xIn.shape as [number, number], drop.hidden, drop.seeds[1]) : null;
    const m2 = drop && drop.hidden > 0 ? dropoutMaskTensor<tf.Rank.R2>(xIn.shape as [number, number], drop.hidden, drop.seeds[2]) : null;
    const ao = linearForward(att.context, W.aoW, W.aoB);
    const ln1 = layerNormForward(tf.add(m1 ? tf.mul(ao, m1) : ao, xIn), W.ln1G, W.ln1B, eps);
    const h = linearForward(ln1.y, W.iW, W.iB);
    const a = activationForward(act, h);
    const o = linearForward(a.y as tf.Tensor2D, W.oW, W.oB);
    const ln2 = layerNormForward(tf.add(m2 ? tf.mul(o, m2) : o, ln1.y), W.ln2G, W.ln2B, eps);
    const unpack = pack(save, {
      x: xIn, qW, kW: W.kW, vW: W.vW, aoW: W.aoW, iW: W.iW, oW: W.oW, ln1G: W.ln1G, ln2G: W.ln2G,
      qh: att.saved.qh, kh: att.saved.kh, vh: att.saved.vh, probs: att.saved.probs, attMask: att.saved.mask,
      context: att.context, m1, xhat1: ln1.xhat, rstd1: ln1.rstd, a: ln1.y, h, cdf: a.saved.cdf, g: a.y, m2, xhat2: ln2.xhat, rstd2: ln2.rstd,
    });
    return {
      value: ln2.y,
      gradFunc: (dy: tf.Tensor, list: tf.Tensor[]) => layerBackward(dy as tf.Tensor2D, unpack(list), scale, opt),
    };
  });
  return f(x, ...LAYER_WEIGHT_ORDER.map((k) => w[k])) as tf.Tensor2D;
}

/** The gradients of encoderLayer, stage by stage in reverse; each stage's temporaries are freed when it ends. */
function layerBackward(dy: tf.Tensor2D, s: Record<string, tf.Tensor>, scale: number, opt: LayerOptions): tf.Tensor[] {
  const t2 = (name: string) => s[name] as tf.Tensor2D;
  const t1 = (name: string) => s[name] as tf.Tensor1D;
  // Feed-forward block: out = LN2(dropout(g·W_o + b) + a), g = act(h), h = a·W_i + b.
  const ffn = tf.tidy(() => {
    const ln2 = layerNormBackward(dy, t2('xhat2'), t2('rstd2'), t1('ln2G'));
    const o = linearBackward((s.m2 ? tf.mul(ln2.dx, s.m2) : ln2.dx) as tf.Tensor2D, t2('g'), t2('oW'));
    const dh = activationBackward(opt.act, o.dx, { x: s.h, cdf: s.cdf });
    const i = linearBackward(dh as tf.Tensor2D, t2('a'), t2('iW'));
    return { da: tf.add(ln2.dx, i.dx) as tf.Tensor2D, ln2G: ln2.dGamma, ln2B: ln2.dBeta, oW: o.dWeight, oB: o.dBias, iW: i.dWeight, iB: i.dBias };
  });
  // Attention block: a = LN1(dropout(context·W_ao + b) + x).
  const att = tf.tidy(() => {
    const ln1 = layerNormBackward(ffn.da, t2('xhat1'), t2('rstd1'), t1('ln1G'));
    const ao = linearBackward((s.m1 ? tf.mul(ln1.dx, s.m1) : ln1.dx) as tf.Tensor2D, t2('context'), t2('aoW'));
    const g = attentionBackward(ao.dx, { qh: s.qh as tf.Tensor4D, kh: s.kh as tf.Tensor4D, vh: s.vh as tf.Tensor4D, probs: s.probs as tf.Tensor4D,
      mask: (s.attMask as tf.Tensor4D) ?? null }, opt.shape);
    const q = linearBackward(g.dq, t2('x'), t2('qW'));
    const k = linearBackward(g.dk, t2('x'), t2('kW'));
    const v = linearBackward(g.dv, t2('x'), t2('vW'));
    return {
      dx: tf.addN([ln1.dx, q.dx, k.dx, v.dx]),
      // The query used scale·W and scale·b, so their gradients carry the scale too.
      qW: tf.mul(q.dWeight, scale), qB: tf.mul(q.dBias, scale), kW: k.dWeight, kB: k.dBias, vW: v.dWeight, vB: v.dBias,
      aoW: ao.dWeight, aoB: ao.dBias, ln1G: ln1.dGamma, ln1B: ln1.dBeta,
    };
  });
  tf.dispose(ffn.da);
  const grads: Record<(typeof LAYER_WEIGHT_ORDER)[number], tf.Tensor> = { ...ffn, ...att };
  return [att.dx, ...LAYER_WEIGHT_ORDER.map((k) => grads[k])];
}

// ---------------------------------------------------------------- picking rows

/** Rows `index` of x ([rows, hidden]); the backward pass scatters back and saves only the indices (not x). */
export function gatherRows(x: tf.Tensor2D, index: tf.Tensor1D): tf.Tensor2D {
  const rows = x.shape[0];
  const f = customGrad((xIn: tf.Tensor2D, save: tf.GradSaveFunc) => {
    save([index]);
    return { value: tf.gather(xIn, index), gradFunc: (dy, [idx]) => [tf.unsortedSegmentSum(dy, idx as tf.Tensor1D, rows)] };
  });
  return f(x) as tf.Tensor2D;
}

/** The first token's state of each sequence ([batch·length, hidden] -> [batch, hidden]), saving nothing for backward. */
export function firstTokens(x: tf.Tensor2D, batch: number, length: number): tf.Tensor2D {
  const H = x.shape[1];
  const f = customGrad((xIn: tf.Tensor2D) => ({
    value: tf.reshape(tf.slice(tf.reshape(xIn, [batch, length, H]), [0, 0, 0], [batch, 1, H]), [batch, H]),
    gradFunc: (dy) => [tf.reshape(tf.pad(tf.reshape(dy, [batch, 1, H]), [[0, 0], [0, length - 1], [0, 0]]), [batch * length, H])],
  }));
  return f(x) as tf.Tensor2D;
}
