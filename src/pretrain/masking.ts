// Masked-language-model inputs, as BERT's pretraining makes them (Google's
// create_pretraining_data.py; Hugging Face's DataCollatorForWholeWordMask does the same):
//
//   1. Per sequence, choose round(maskProb · n) of its n real tokens (at least one),
//      never [CLS], [SEP], [PAD], [UNK] or [MASK]. With whole-word masking the choice is
//      made among WORDS: a piece and the "##" pieces after it are chosen together
//      (a word that would overshoot the count is skipped, as in Google's code; when
//      every word would, one whole word is chosen, so no sequence is left without).
//   2. Each chosen token becomes [MASK] (80%), a random token (10%) or stays (10%),
//      decided token by token. The model must predict the ORIGINAL token at every
//      chosen position, so it cannot trust what it sees there.
//
// Only the chosen positions carry a label. The batch lists them as flat indices
// (row · length + column) so BertForMaskedLM projects onto the 30,000-word vocabulary
// only there: ~15% of the tokens instead of all of them.
//
// Everything random comes from the Rng passed in; the pretraining loop derives it from
// (seed, step), so a resumed run draws exactly the masks of an uninterrupted one.
import { check } from '../util/errors';
import type { Rng } from '../util/random';

export interface MaskingOptions {
  /** Share of a sequence's real tokens chosen for prediction (BERT: 0.15). */
  maskProb: number;
  /** Of the chosen tokens, the share shown as [MASK] (0.8). */
  maskTokenProb: number;
  /** Of the chosen tokens, the share shown as a random token (0.1); the rest stay. */
  randomTokenProb: number;
  /** Choose whole words (a piece plus its following ## pieces) instead of single pieces. */
  wholeWordMasking: boolean;
}

/** What masking needs to know about the vocabulary. */
export interface MaskingVocab {
  vocabSize: number;
  maskTokenId: number;
  padTokenId: number;
  /** 1 for tokens never chosen and never drawn as random replacements ([PAD] [UNK] [CLS] [SEP] [MASK]). */
  special: Uint8Array;
  /** 1 for pieces that continue a word ("##..."). */
  continuation: Uint8Array;
}

/** The parts of BertTokenizer masking uses. */
export interface MaskingTokenizer {
  vocabSize: number;
  maskTokenId: number | null;
  padTokenId: number;
  unkTokenId: number;
  clsTokenId: number;
  sepTokenId: number;
  idToToken(id: number): string | undefined;
}

/** The masking view of a tokenizer's vocabulary (it must have a mask token). */
export function maskingVocab(tokenizer: MaskingTokenizer): MaskingVocab {
  check(tokenizer.maskTokenId !== null, 'tokenizer: the vocabulary has no mask token ([MASK]); masked-language-model pretraining needs one');
  const special = new Uint8Array(tokenizer.vocabSize);
  for (const id of [tokenizer.padTokenId, tokenizer.unkTokenId, tokenizer.clsTokenId, tokenizer.sepTokenId, tokenizer.maskTokenId as number]) special[id] = 1;
  const continuation = new Uint8Array(tokenizer.vocabSize);
  for (let id = 0; id < tokenizer.vocabSize; id++) if (tokenizer.idToToken(id)?.startsWith('##')) continuation[id] = 1;
  return { vocabSize: tokenizer.vocabSize, maskTokenId: tokenizer.maskTokenId as number, padTokenId: tokenizer.padTokenId, special, continuation };
}

/**
 * The candidates of one sequence: groups of positions chosen together (one word each
 * with whole-word masking, else one piece each), special tokens left out.
 */
export function maskCandidates(ids: ArrayLike<number>, vocab: MaskingVocab, wholeWords: boolean): number[][] {
  const groups: number[][] = [];
  let previousReal = false;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (vocab.special[id]) {
      previousReal = false;
      continue;
    }
    if (wholeWords && previousReal && vocab.continuation[id]) groups[groups.length - 1].push(i);
    else groups.push([i]);
    previousReal = true;
  }
  return groups;
}

/** How many tokens of a sequence with `real` maskable tokens are chosen: round(p · real), at least 1 (Google's rule). */
export function tokensToPredict(real: number, maskProb: number): number {
  return real === 0 ? 0 : Math.max(1, Math.round(real * maskProb));
}

/**
 * The masking rate of step `step` (0-based) of `totalSteps`: `start` throughout when `end`
 * is 0, else a straight line from `start` at the first step to `end` at the last.
 */
export function maskRateAt(start: number, end: number, step: number, totalSteps: number): number {
  if (end <= 0) return start;
  const progress = totalSteps > 1 ? Math.min(1, Math.max(0, step / (totalSteps - 1))) : 0;
  return start + (end - start) * progress;
}

/** One masked sequence: the ids the model sees, and the chosen positions (ascending) with their original ids. */
export interface MaskedSequence {
  inputIds: Int32Array;
  positions: number[];
  labels: number[];
}

/** Masks one sequence (see the file comment). `ids` is not changed. */
export function maskSequence(ids: ArrayLike<number>, vocab: MaskingVocab, options: MaskingOptions, rng: Rng): MaskedSequence {
  const inputIds = Int32Array.from(ids);
  const groups = maskCandidates(ids, vocab, options.wholeWordMasking);
  const real = groups.reduce((n, g) => n + g.length, 0);
  const target = tokensToPredict(real, options.maskProb);
  rng.shuffle(groups);
  const chosen: number[] = [];
  for (const group of groups) {
    if (chosen.length >= target) break;
    if (chosen.length + group.length > target) continue; // a word that does not fit; a shorter one may
    chosen.push(...group);
  }
  // Every word longer than the target (a short sentence of multi-piece words): take one
  // whole word anyway, so every sequence has something to predict.
  if (chosen.length === 0 && groups.length > 0) chosen.push(...groups[0]);
  chosen.sort((a, b) => a - b);
  const labels: number[] = [];
  for (const pos of chosen) {
    labels.push(ids[pos]);
    const r = rng.float();
    if (r < options.maskTokenProb) inputIds[pos] = vocab.maskTokenId;
    else if (r < options.maskTokenProb + options.randomTokenProb) inputIds[pos] = randomToken(vocab, rng);
  }
  return { inputIds, positions: chosen, labels };
}

/** A uniformly random non-special token. */
function randomToken(vocab: MaskingVocab, rng: Rng): number {
  for (;;) {
    const id = rng.int(vocab.vocabSize);
    if (!vocab.special[id]) return id;
  }
}

/**
 * The rows one step's sampled softmax scores (softmaxTokens; seen-tokens.ts SoftmaxRowPicker):
 * `ids` (the frequent ones, then the batch's other labels in order of first use), each label's
 * index in them, and each row's logit shift −log Q.
 */
export interface SoftmaxRows {
  ids: Int32Array;
  targets: Int32Array;
  shift: Float32Array;
}

/** A padded, masked batch as flat int32 arrays ([batch · length], row-major), ready for tensors. */
export interface MlmBatch {
  batch: number;
  length: number;
  inputIds: Int32Array;
  /** 1 for real tokens, 0 for padding; null when no row is padded (the model then skips the mask). */
  attentionMask: Int32Array | null;
  /** Flat indices (row · length + column) of the chosen tokens, ascending. */
  positions: Int32Array;
  /** The original token at each position. */
  labels: Int32Array;
  /** Tokens that are not padding. */
  realTokens: number;
  /** With a task objective: each row's class (-1: none, left out of the task loss). */
  sequenceLabels?: Int32Array;
  /** With softmaxTokens: the vocabulary rows this step scores and each label's index among them. */
  softmaxRows?: SoftmaxRows;
}

/** Masks each sequence and pads them to the longest into one batch. */
export function maskBatch(sequences: readonly ArrayLike<number>[], vocab: MaskingVocab, options: MaskingOptions, rng: Rng): MlmBatch {
  check(sequences.length > 0, 'maskBatch: no sequences');
  const length = Math.max(...sequences.map((s) => s.length));
  const batch = sequences.length;
  const inputIds = new Int32Array(batch * length).fill(vocab.padTokenId);
  const mask = new Int32Array(batch * length);
  const positions: number[] = [];
  const labels: number[] = [];
  let realTokens = 0;
  sequences.forEach((seq, row) => {
    const m = maskSequence(seq, vocab, options, rng);
    inputIds.set(m.inputIds, row * length);
    mask.fill(1, row * length, row * length + seq.length);
    realTokens += seq.length;
    for (let k = 0; k < m.positions.length; k++) {
      positions.push(row * length + m.positions[k]);
      labels.push(m.labels[k]);
    }
  });
  return {
    batch,
    length,
    inputIds,
    attentionMask: realTokens === batch * length ? null : mask,
    positions: Int32Array.from(positions),
    labels: Int32Array.from(labels),
    realTokens,
  };
}
