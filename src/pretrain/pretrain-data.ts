// The text of MLM pretraining, from documents to model-ready sequences.
//
//   documents  NSMC's TRAINING documents (ratings_test.txt is never opened) and/or text
//              files, one document per line
//   labels     only with a task objective (taskWeight): NSMC's label per document, -1 for
//              those of fine-tuning's validation split and for text files (taskLabels)
//   held out   a seeded slice of the documents, never trained on, that scores the
//              finished model (MLM loss and accuracy on text it has not seen)
//   tokens     every document cut into kcbert WordPiece pieces once, then cached on
//              disk (<corpusRootDir>/pretraining-cache/), keyed by the tokenizer and
//              the exact texts (file hashes)
//   sequences  one document per sequence, [CLS] pieces [SEP] (what fine-tuning feeds
//              the model), or, with `packing`, several documents per sequence:
//              [CLS] d1 [SEP] d2 [SEP] ... up to maxSeqLength.
//
// Packing or not (bench/pretrain-step.ts, bench/results/pretrain-step.json): NSMC
// documents are ~20 tokens. Packing to 128 wastes nothing on padding but attends over 128
// tokens; one document per sequence with length bucketing pads a little and attends over
// ~20. On 2 cores both train about as many real tokens per second (batch 128: L2/H128
// 12.2k vs 12.8k packed, L4/H192 6.3k vs 6.1k, L4/H256 3.7k vs 4.2k; best of 4 rounds,
// differences within the ±10% noise of this shared machine), and the vocabulary
// projection, the biggest single cost of a small model, scales with the masked tokens
// either way. At equal speed one document per sequence wins: it is exactly what
// fine-tuning feeds the model ([CLS] at 0, one sentence, [SEP], padding). So that is the
// default; packing stays an option for long texts (textFiles).
import * as fs from 'fs';
import * as path from 'path';
import { ensureCorpus, NsmcCorpus, readNsmc } from '../corpus/index';
import { check, NlpbookError } from '../util/errors';
import { sha256, sha256File } from '../util/fsutil';
import { splitTrainValidation, type FeatureSource } from '../data/index';
import type { MaskingVocab } from './masking';
import { readSafetensors, writeSafetensors } from '../model/index';
import type { PretrainSettings } from './pretrain-settings';
import { progress } from '../util/progress';
import { Rng } from '../util/random';
import type { BertTokenizer } from '../tokenizer/index';

/** Token sequences stored back to back: sequence i is ids[offsets[i] .. offsets[i+1]). */
export class SequenceStore implements FeatureSource {
  readonly padTokenId: number;

  /** `labels`: each sequence's class for a task objective (-1: none), or null when there is none. */
  constructor(readonly ids: Int32Array, readonly offsets: Int32Array, padTokenId = 0, readonly labels: Int32Array | null = null) {
    check(offsets.length >= 1 && offsets[0] === 0 && offsets[offsets.length - 1] === ids.length, 'SequenceStore: offsets do not span the ids');
    check(labels === null || labels.length === offsets.length - 1, 'SequenceStore: one label per sequence');
    this.padTokenId = padTokenId;
  }

  get length(): number {
    return this.offsets.length - 1;
  }

  /** Sequence i (a view). The label is unused here (the DataLoader's FeatureSource wants one; see `labels`). */
  get(i: number): { inputIds: Int32Array; label: number } {
    return { inputIds: this.sequence(i), label: 0 };
  }

  sequence(i: number): Int32Array {
    return this.ids.subarray(this.offsets[i], this.offsets[i + 1]);
  }

  lengths(): Int32Array {
    const out = new Int32Array(this.length);
    for (let i = 0; i < out.length; i++) out[i] = this.offsets[i + 1] - this.offsets[i];
    return out;
  }

  /** All tokens, [CLS]/[SEP] included. */
  get tokens(): number {
    return this.ids.length;
  }
}

/** Builds a SequenceStore from arrays appended one by one. */
class StoreBuilder {
  private ids = new Int32Array(1 << 16);
  private used = 0;
  private offsets: number[] = [0];
  private labels: number[] = [];

  push(parts: ArrayLike<number>[], label = -1): void {
    this.labels.push(label);
    let n = 0;
    for (const p of parts) n += p.length;
    if (this.used + n > this.ids.length) {
      const bigger = new Int32Array(Math.max(this.ids.length * 2, this.used + n));
      bigger.set(this.ids.subarray(0, this.used));
      this.ids = bigger;
    }
    for (const p of parts) {
      this.ids.set(p as ArrayLike<number>, this.used);
      this.used += p.length;
    }
    this.offsets.push(this.used);
  }

  get count(): number {
    return this.offsets.length - 1;
  }

  /** `withLabels`: keep the labels pushed with the sequences. */
  build(padTokenId: number, withLabels = false): SequenceStore {
    return new SequenceStore(this.ids.slice(0, this.used), Int32Array.from(this.offsets), padTokenId, withLabels ? Int32Array.from(this.labels) : null);
  }
}

/** The documents' WordPiece ids without [CLS]/[SEP], in document order (pieces.sequence(i) is document i). */
export interface TokenizedDocuments {
  pieces: SequenceStore;
  /** The cache file they were read from or written to. */
  cacheFile: string;
  fromCache: boolean;
  /** sha256 of the cache key: changes whenever the texts or the tokenizer change. */
  fingerprint: string;
}

/** Where the documents come from. */
export type DocumentSource = { kind: 'nsmc-train'; corpus: NsmcCorpus } | { kind: 'file'; file: string };

/** The document sources the settings name, NSMC's train split first (fetched when missing; the test split is never read). */
export async function documentSources(s: Pick<PretrainSettings, 'nsmc' | 'textFiles' | 'corpusRootDir' | 'corpusMirror' | 'tqdmEnabled'>): Promise<DocumentSource[]> {
  const sources: DocumentSource[] = [];
  if (s.nsmc) {
    const corpus = await ensureCorpus({
      downstreamCorpusRootDir: s.corpusRootDir, corpusMirror: s.corpusMirror, forceDownload: false, tqdmEnabled: s.tqdmEnabled, emptyDocuments: 'skip',
    });
    sources.push({ kind: 'nsmc-train', corpus });
  }
  for (const file of s.textFiles) {
    if (!fs.existsSync(file)) throw new NlpbookError(`pretrain settings: textFiles: ${file} not found`);
    if (!fs.statSync(file).isFile()) throw new NlpbookError(`pretrain settings: textFiles: ${file} is not a file`);
    sources.push({ kind: 'file', file });
  }
  return sources;
}

/** The documents of one source: NSMC train texts (empty ones skipped), or a file's non-blank lines. */
export function readDocuments(source: DocumentSource): string[] {
  if (source.kind === 'nsmc-train') return source.corpus.examples('train').map((e) => e.text);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(fs.readFileSync(source.file));
  } catch {
    throw new NlpbookError(`${source.file}: not valid UTF-8 text (textFiles must be UTF-8, one document per line)`);
  }
  return text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/).filter((line) => line.trim() !== '');
}

/** Bump when the cached content changes meaning. */
const TOKENS_CACHE_FORMAT = 1;

/**
 * Every document of `sources` as WordPiece ids (no [CLS]/[SEP], not cut), from the
 * cache when it holds exactly these texts and this tokenizer, else tokenized and cached.
 */
export function tokenizeDocuments(
  sources: DocumentSource[],
  tokenizer: BertTokenizer,
  options: { cacheDir: string; tqdmEnabled?: boolean; log?: (line: string) => void },
): TokenizedDocuments {
  const log = options.log ?? ((line: string) => console.error(line));
  const key = {
    format: TOKENS_CACHE_FORMAT,
    tokenizer: tokenizer.fingerprint(),
    sources: sources.map((s) => (s.kind === 'nsmc-train' ? { nsmcTrain: s.corpus.fingerprint('train') } : { file: path.resolve(s.file), sha256: sha256File(s.file) })),
  };
  const fingerprint = sha256(JSON.stringify(key));
  const name = path.basename(tokenizer.name).replace(/[^A-Za-z0-9.-]+/g, '-') || 'tokenizer';
  const cacheFile = path.join(options.cacheDir, `tokens_${name}_${fingerprint.slice(0, 16)}.safetensors`);
  if (fs.existsSync(cacheFile)) {
    try {
      const { tensors, metadata } = readSafetensors(cacheFile);
      const ids = tensors.get('ids')?.data;
      const offsets = tensors.get('offsets')?.data;
      if (metadata.key === JSON.stringify(key) && ids instanceof Int32Array && offsets instanceof Int32Array) {
        return { pieces: new SequenceStore(ids, offsets, tokenizer.padTokenId), cacheFile, fromCache: true, fingerprint };
      }
      log(`nlpbook: token cache ${cacheFile} was made for other texts; rebuilding it`);
    } catch (e) {
      log(`nlpbook: token cache ${cacheFile} is unusable (${(e as Error).message}); rebuilding it`);
    }
  }
  const documents = sources.flatMap(readDocuments);
  log(`nlpbook: tokenizing ${documents.length.toLocaleString('en-US')} documents for pretraining -> ${cacheFile}`);
  const bar = progress(documents.length, 'tokenizing', options.tqdmEnabled ?? true);
  const builder = new StoreBuilder();
  try {
    documents.forEach((doc, i) => {
      builder.push([tokenizer.encode(doc).inputIds.slice(1, -1)]);
      if (i % 5000 === 4999) bar.update(i + 1);
    });
    bar.update(documents.length);
  } finally {
    bar.stop();
  }
  const pieces = builder.build(tokenizer.padTokenId);
  writeSafetensors(cacheFile, { ids: { shape: [pieces.ids.length], data: pieces.ids }, offsets: { shape: [pieces.offsets.length], data: pieces.offsets } }, { key: JSON.stringify(key) });
  return { pieces, cacheFile, fromCache: false, fingerprint };
}

/** Documents for training and the held-out ones, by index into the tokenized documents. */
export function holdOut(count: number, heldOut: number, seed: number): { train: Int32Array; heldOut: Int32Array } {
  check(heldOut < count, `pretrain settings: field "heldOutDocuments" (${heldOut}) must be less than the number of documents (${count})`);
  const chosen = new Uint8Array(count);
  const order = new Rng(seed).fork('pretrain-held-out').permutation(count);
  for (let k = 0; k < heldOut; k++) chosen[order[k]] = 1;
  const train: number[] = [];
  const held: number[] = [];
  for (let i = 0; i < count; i++) (chosen[i] ? held : train).push(i);
  return { train: Int32Array.from(train), heldOut: Int32Array.from(held) };
}

export interface SequenceOptions {
  maxSeqLength: number;
  packing: boolean;
  clsTokenId: number;
  sepTokenId: number;
  padTokenId: number;
  /** Each document's label (indexed like the pieces; -1: none): the sequences keep theirs (one document per sequence only). */
  labels?: Int32Array;
}

/** True when a document has at least one token masking may choose (a sequence without one teaches nothing). */
function hasMaskable(pieces: Int32Array, vocab: Pick<MaskingVocab, 'special'>): boolean {
  for (let i = 0; i < pieces.length; i++) if (!vocab.special[pieces[i]]) return true;
  return false;
}

/**
 * The model's sequences from the documents at `indices` (in that order):
 *   one per document: [CLS] pieces [SEP], cut to maxSeqLength (like fine-tuning's features);
 *   packing: [CLS] d1 [SEP] d2 [SEP] ... filled up to maxSeqLength; a document longer
 *   than a sequence is split into pieces that each fill one.
 * Documents with no maskable token (empty, only [UNK]) are left out.
 */
export function buildSequences(pieces: SequenceStore, indices: ArrayLike<number>, vocab: Pick<MaskingVocab, 'special'>, o: SequenceOptions): SequenceStore {
  check(o.maxSeqLength >= 3, `maxSeqLength must be at least 3 ([CLS], one token, [SEP]), got ${o.maxSeqLength}`);
  const room = o.maxSeqLength - 2;
  const cls = [o.clsTokenId];
  const sep = [o.sepTokenId];
  const builder = new StoreBuilder();
  check(!(o.packing && o.labels), 'buildSequences: labels need one document per sequence (packing false)');
  if (!o.packing) {
    for (let k = 0; k < indices.length; k++) {
      const doc = pieces.sequence(indices[k]);
      if (!hasMaskable(doc, vocab)) continue;
      builder.push([cls, doc.subarray(0, room), sep], o.labels ? o.labels[indices[k]] : -1);
    }
    return builder.build(o.padTokenId, o.labels !== undefined);
  }
  let parts: ArrayLike<number>[] = [cls];
  let used = 1;
  const flush = () => {
    if (used > 1) builder.push(parts);
    parts = [cls];
    used = 1;
  };
  for (let k = 0; k < indices.length; k++) {
    const doc = pieces.sequence(indices[k]);
    if (!hasMaskable(doc, vocab)) continue;
    for (let start = 0; start < doc.length; start += room) {
      const chunk = doc.subarray(start, start + room);
      if (used + chunk.length + 1 > o.maxSeqLength) flush();
      parts.push(chunk, sep);
      used += chunk.length + 1;
    }
  }
  flush();
  return builder.build(o.padTokenId);
}

/** What the data of a run was: a resume on other data would not be the same run. */
export interface PretrainDataInfo {
  /** sha256 of the texts and the tokenizer (the token cache's key). */
  fingerprint: string;
  documents: number;
  trainSequences: number;
  /** Tokens of the training sequences, [CLS]/[SEP] included. */
  trainTokens: number;
  heldOutDocuments: number;
  /** With a task objective: training sequences whose label the task loss sees. */
  labelledSequences?: number;
}

/** The training sequences, the held-out ones and what they were made from. */
export interface PretrainData {
  train: SequenceStore;
  heldOut: SequenceStore;
  info: PretrainDataInfo;
}

/**
 * Reads, tokenizes (cache first) and splits the documents, then forms the sequences:
 * training ones as settings.packing says, held-out ones always one document per
 * sequence (the inputs fine-tuning gives; comparable between packing choices).
 */
export async function preparePretrainData(
  s: PretrainSettings,
  tokenizer: BertTokenizer,
  vocab: MaskingVocab,
  log: (line: string) => void = (line) => console.error(line),
): Promise<PretrainData> {
  const sources = await documentSources(s);
  const docs = tokenizeDocuments(sources, tokenizer, { cacheDir: path.join(s.corpusRootDir, 'pretraining-cache'), tqdmEnabled: s.tqdmEnabled, log });
  const split = holdOut(docs.pieces.length, s.heldOutDocuments, s.seed);
  const common = { maxSeqLength: s.maxSeqLength, clsTokenId: tokenizer.clsTokenId, sepTokenId: tokenizer.sepTokenId, padTokenId: tokenizer.padTokenId };
  const labels = s.taskWeight > 0 ? taskLabels(sources, s) : undefined;
  check(!labels || labels.length === docs.pieces.length, `pretrain: ${labels?.length} labels for ${docs.pieces.length} documents`);
  const train = buildSequences(docs.pieces, split.train, vocab, { ...common, packing: s.packing, labels });
  const heldOut = buildSequences(docs.pieces, split.heldOut, vocab, { ...common, packing: false });
  check(train.length > 0, 'pretrain: no training text (every document is empty or held out)');
  const labelled = train.labels ? train.labels.reduce((n, l) => n + (l >= 0 ? 1 : 0), 0) : undefined;
  return {
    train,
    heldOut,
    info: {
      fingerprint: docs.fingerprint, documents: docs.pieces.length, trainSequences: train.length, trainTokens: train.tokens, heldOutDocuments: split.heldOut.length,
      ...(labelled !== undefined ? { labelledSequences: labelled } : {}),
    },
  };
}

/**
 * Each document's label for the task objective, in document order: NSMC's label, or -1
 * where the task loss must not see one: the documents of the validation split that
 * fine-tuning holds out (splitTrainValidation over the train split read as fine-tuning
 * reads it, emptyDocuments "keep", with the same validationFraction and seed; matched by
 * NSMC's ids), and every line of a text file.
 */
export function taskLabels(sources: DocumentSource[], s: Pick<PretrainSettings, 'validationFraction' | 'seed'>): Int32Array {
  const out: number[] = [];
  for (const source of sources) {
    if (source.kind === 'file') {
      for (let i = readDocuments(source).length; i > 0; i--) out.push(-1);
      continue;
    }
    const all = readNsmc(source.corpus.path('train'), { emptyDocuments: 'keep' });
    const held = new Set(splitTrainValidation(all, s).validation.map((i) => all[i].id));
    for (const e of source.corpus.examples('train')) out.push(held.has(e.id) ? -1 : e.label);
  }
  return Int32Array.from(out);
}
