// predictSeenTokensOnly: the masked LM predicts only tokens that occur in the pretraining
// documents. A token that is never a label only ever learns "not me" from the softmax, so
// it may as well start there: its output bias is fixed at UNSEEN_TOKEN_BIAS, its
// probability is exactly 0 (float32 exp underflows), and the training graph scores only
// the seen rows of the tied decoder. The saved model is an ordinary BertForMaskedLM.
import { tf } from '../util/backend';
import type { MaskingVocab } from './masking';
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
// it) is the largest part of a small model's step, yet on NSMC the 8,192 most frequent
// tokens are 94.8% of all tokens. So a step scores its masked tokens against those plus the
// batch's own labels: every label still counts, and a rare token is pushed down wherever its
// row is scored, which is every batch that holds it.

/**
 * The `count` most frequent non-special ids of `store` (ties: the lower id first), ascending.
 * Training documents only: the held-out ones are never trained on.
 */
export function frequentTokenIds(store: SequenceStore, vocab: MaskingVocab, count: number): number[] {
  const counts = new Float64Array(vocab.vocabSize);
  for (let i = 0; i < store.length; i++) for (const id of store.sequence(i)) counts[id]++;
  const ids: number[] = [];
  for (let id = 0; id < vocab.vocabSize; id++) if (counts[id] > 0 && !vocab.special[id]) ids.push(id);
  ids.sort((a, b) => counts[b] - counts[a] || a - b);
  return ids.slice(0, count).sort((a, b) => a - b);
}

/** The rows a step scores: `ids` (the frequent ones, then the batch's other labels in order of first use) and each label's index in them. */
export interface SoftmaxRows {
  ids: Int32Array;
  targets: Int32Array;
}

/** Builds the scored rows of one batch from the frequent ids (ascending) and the batch's labels. */
export class SoftmaxRowPicker {
  private readonly index: Int32Array;

  constructor(readonly frequent: readonly number[], vocabSize: number) {
    this.index = new Int32Array(vocabSize).fill(-1);
    frequent.forEach((id, i) => (this.index[id] = i));
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
    for (const [id, at] of extra) ids[at] = id;
    return { ids, targets };
  }
}
