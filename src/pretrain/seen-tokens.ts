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
