// predictSeenTokensOnly: the masked LM predicts only tokens that occur in the pretraining
// documents. A token that is never a label only ever learns "not me" from the softmax, so
// it may as well start there: its output bias is fixed at UNSEEN_TOKEN_BIAS, its
// probability is exactly 0 (float32 exp underflows), and the training graph scores only
// the seen rows of the tied decoder. The saved model is an ordinary BertForMaskedLM.
import { tf } from '../util/backend';
import type { MaskingVocab, SoftmaxRows } from './masking';
import type { SequenceStore } from './pretrain-data';

/** The output bias of a token the masked LM never predicts: exp(-10000) is 0 in float32. */
export const UNSEEN_TOKEN_BIAS = -10000;

/**
 * The non-special vocabulary ids that occur in `stores`, ascending. Pretraining passes the
 * held-out documents too, so every held-out label is scored (an unseen one would cost 10000).
 */
export function seenTokenIds(stores: readonly SequenceStore[], vocab: MaskingVocab): number[] {
  const seen = new Uint8Array(vocab.vocabSize);
  for (const store of stores) for (let i = 0; i < store.length; i++) for (const id of store.sequence(i)) seen[id] = 1;
  const ids: number[] = [];
  for (let id = 0; id < vocab.vocabSize; id++) if (seen[id] && !vocab.special[id]) ids.push(id);
  return ids;
}

/** Sets the prediction bias of every id not in `seenIds` to UNSEEN_TOKEN_BIAS (the seen ones keep theirs). */
export function markUnseenTokens(bias: tf.Variable, seenIds: readonly number[]): void {
  const values = bias.dataSync().slice() as Float32Array;
  const seen = new Uint8Array(values.length);
  for (const id of seenIds) seen[id] = 1;
  for (let id = 0; id < values.length; id++) if (!seen[id]) values[id] = UNSEEN_TOKEN_BIAS;
  const marked = tf.tensor1d(values);
  bias.assign(marked);
  marked.dispose();
}

// softmaxTokens: a sampled softmax. The projection onto the vocabulary (and the softmax over
// it) is the largest part of a small model's step, yet on NSMC the 4,096 most frequent tokens
// are 87% of all tokens. So a step scores its masked tokens against those plus the batch's own
// labels: every label still counts. A rare row is in a step's softmax only when the batch
// holds it, so it would be pushed down far less often than the full softmax pushes it, and its
// probability would grow too large. The usual correction (Jean et al. 2015, "On Using Very
// Large Target Vocabulary for Neural Machine Translation"): subtract log Q from each scored
// row's logit, Q the chance the row is in a step's set (1 for the frequent ones); then the
// push-down a rare row gets on average is the full softmax's.

/** How often each id occurs in `store`, and the total over the non-special ids. */
export function tokenCounts(store: SequenceStore, vocab: MaskingVocab): { counts: Float64Array; total: number } {
  const counts = new Float64Array(vocab.vocabSize);
  for (let i = 0; i < store.length; i++) for (const id of store.sequence(i)) counts[id]++;
  let total = 0;
  for (let id = 0; id < vocab.vocabSize; id++) {
    if (vocab.special[id]) counts[id] = 0;
    total += counts[id];
  }
  return { counts, total };
}

/** The `count` most frequent ids of `counts` (ties: the lower id first), ascending; ids never seen are left out. */
export function frequentTokenIds(counts: Float64Array, count: number): number[] {
  const ids: number[] = [];
  for (let id = 0; id < counts.length; id++) if (counts[id] > 0) ids.push(id);
  ids.sort((a, b) => counts[b] - counts[a] || a - b);
  return ids.slice(0, count).sort((a, b) => a - b);
}

/** Builds the scored rows of one batch from the training documents' token counts. */
export class SoftmaxRowPicker {
  /** The always-scored ids, ascending. */
  readonly frequent: readonly number[];
  private readonly index: Int32Array;
  /** Each id's share of the training tokens: the chance that one label is that id. */
  private readonly share: Float64Array;
  /** The share of an id seen once (the floor for one no training text holds). */
  private readonly minShare: number;

  constructor(tokens: { counts: Float64Array; total: number }, count: number) {
    this.frequent = frequentTokenIds(tokens.counts, count);
    this.index = new Int32Array(tokens.counts.length).fill(-1);
    this.frequent.forEach((id, i) => (this.index[id] = i));
    this.share = tokens.counts.map((c) => c / tokens.total);
    this.minShare = 1 / Math.max(1, tokens.total);
  }

  pick(labels: ArrayLike<number>): SoftmaxRows {
    const extra = new Map<number, number>();
    const targets = new Int32Array(labels.length);
    for (let i = 0; i < labels.length; i++) {
      const id = labels[i];
      let at = this.index[id];
      if (at < 0) {
        at = extra.get(id) ?? this.frequent.length + extra.size;
        extra.set(id, at);
      }
      targets[i] = at;
    }
    const ids = new Int32Array(this.frequent.length + extra.size);
    ids.set(this.frequent);
    const shift = new Float32Array(ids.length);
    for (const [id, at] of extra) {
      ids[at] = id;
      // Q = 1 − (1 − share)^labels: the chance that at least one of the batch's labels is this id.
      const q = -Math.expm1(labels.length * Math.log1p(-Math.max(this.share[id], this.minShare)));
      shift[at] = -Math.log(q);
    }
    return { ids, targets, shift };
  }
}
