// Fill-mask: what a masked-language model guesses for each [MASK] of a sentence,
// like transformers' pipeline("fill-mask"). The quickest way to see what pretraining
// taught the model: "이 영화 정말 [MASK]" -> 재밌다? 최고? 별로?
import { initBackend, tf } from '../util/backend';
import { check } from '../util/errors';
import type { BertForMaskedLM } from '../model/index';
import type { BertTokenizer } from '../tokenizer/index';

export interface FillMaskCandidate {
  /** The WordPiece token ("##" marks a piece that continues a word). */
  token: string;
  id: number;
  /** Softmax probability over the whole vocabulary. */
  score: number;
  /** The sentence with this token in place of the [MASK] (decoded like the tokenizer does). */
  sequence: string;
}

/**
 * The `k` most likely tokens for every [MASK] in `text` (one list per [MASK], left to
 * right), dropout off. Each mask is filled on its own; the other masks stay [MASK] in
 * `sequence`. Needs initBackend() to have run (fillMaskAsync does it).
 */
export function fillMask(model: BertForMaskedLM, tokenizer: BertTokenizer, text: string, k = 5): FillMaskCandidate[][] {
  check(tokenizer.maskTokenId !== null, `tokenizer ${tokenizer.name}: no [MASK] token`);
  check(Number.isInteger(k) && k >= 1, `fillMask: k must be a whole number >= 1, got ${k}`);
  const ids = tokenizer.encode(text, { maxLength: model.config.maxPositionEmbeddings }).inputIds;
  const positions = ids.flatMap((id, i) => (id === tokenizer.maskTokenId ? [i] : []));
  check(positions.length > 0, `fillMask: "${text}" has no ${tokenizer.config.maskToken} to fill`);
  const { values, indices } = tf.tidy(() => {
    const logits = model.forward({ inputIds: [ids], maskedPositions: positions }, { training: false }) as tf.Tensor2D;
    const top = tf.topk(tf.softmax(logits), Math.min(k, model.config.vocabSize));
    return { values: top.values, indices: top.indices };
  });
  const scores = values.arraySync() as number[][];
  const tokenIds = indices.arraySync() as number[][];
  tf.dispose([values, indices]);
  return positions.map((pos, m) =>
    tokenIds[m].map((id, j) => {
      const filled = [...ids];
      filled[pos] = id;
      return {
        token: tokenizer.idToToken(id) ?? String(id),
        id,
        score: scores[m][j],
        sequence: tokenizer.decode(filled.slice(1, -1)),
      };
    }),
  );
}

/** fillMask after making sure the TensorFlow backend is up (for notebooks and the CLI). */
export async function fillMaskAsync(model: BertForMaskedLM, tokenizer: BertTokenizer, text: string, k = 5): Promise<FillMaskCandidate[][]> {
  await initBackend();
  return fillMask(model, tokenizer, text, k);
}
