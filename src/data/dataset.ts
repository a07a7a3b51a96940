// Step 5 of the course: sentences become model features, like ratsnlp's
// ClassificationDataset. Each example is tokenized once ([CLS] ... [SEP], truncated
// to maxSeqLength) and kept compactly: one Int32Array of all token ids plus offsets.
// Padding, attention masks and token type ids are NOT stored: the data loader makes
// them per batch, padding only to the longest sentence in that batch.
//
// Modes: 'train' and 'validation' both come from the corpus's train split (a seeded,
// label-stratified hold-out of settings.validationFraction); 'test' is the test
// split, meant only for the final report.
//
// Features are cached on disk (ratsnlp's cached_{mode}_... files) under
// <downstreamCorpusRootDir>/<downstreamCorpusName>/cache/, keyed by everything that
// changes them, so a second run loads in a blink instead of tokenizing again.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { check, NlpbookError } from '../util/errors';
import { sha256, writeFileAtomic } from '../util/fsutil';
import { progress } from '../util/progress';
import { Rng } from '../util/random';
import type { NsmcCorpus, Split } from '../corpus/index';
import type { Settings } from '../settings/index';
import type { BertTokenizer } from '../tokenizer/index';

export type DatasetMode = 'train' | 'validation' | 'test';

/** What the dataset needs from a corpus: src/corpus/corpus.ts's NsmcCorpus. */
export type CorpusSource = Pick<NsmcCorpus, 'examples' | 'fingerprint'>;

/** What the dataset needs from a tokenizer: src/tokenizer/tokenizer.ts's BertTokenizer. */
export type TokenizerSource = Pick<BertTokenizer, 'encode' | 'padTokenId' | 'name' | 'fingerprint'>;

export type DatasetSettings = Pick<
  Settings,
  | 'downstreamTaskName'
  | 'downstreamCorpusName'
  | 'downstreamCorpusRootDir'
  | 'maxSeqLength'
  | 'validationFraction'
  | 'seed'
  | 'overwriteCache'
  | 'tqdmEnabled'
>;

/** One example as the model sees it, before padding. */
export interface Feature {
  /** Token ids, [CLS] first and [SEP] last. A view into the dataset's storage: do not modify. */
  inputIds: Int32Array;
  label: number;
}

export interface LengthStats {
  count: number;
  mean: number;
  p50: number;
  p95: number;
  max: number;
  min: number;
  /** Examples exactly maxSeqLength tokens long (truncated ones among them). */
  atMaxLength: number;
}

export interface DatasetOptions {
  /** Where one-line notices go (building, loading, a corrupt cache); default stderr. */
  log?: (line: string) => void;
}

/** Bump when the features or the file layout change, so old caches are rebuilt. */
export const FEATURES_FORMAT_VERSION = 1;
const MAGIC = 'NLPBFEAT';

/** Everything that changes the features; its hash names the cache file. */
export interface FeaturesCacheKey {
  format: number;
  task: string;
  corpus: string;
  mode: DatasetMode;
  split: Split;
  corpusFingerprint: string;
  tokenizerFingerprint: string;
  maxSeqLength: number;
  /** Only for train/validation (they depend on the hold-out); absent for test. */
  validationFraction?: number;
  seed?: number;
}

export class ClassificationDataset {
  readonly mode: DatasetMode;
  readonly maxSeqLength: number;
  readonly padTokenId: number;
  /** The cache file these features were loaded from or written to. */
  readonly cachePath: string;
  readonly cacheKey: FeaturesCacheKey;
  /** True when the features came from a valid cache file. */
  readonly fromCache: boolean;
  /** Seconds spent tokenizing (build) or reading and checking the cache (load). */
  readonly seconds: number;

  private readonly ids: Int32Array;
  private readonly offsets: Int32Array;
  private readonly labelArray: Uint8Array;
  private readonly sources: Int32Array;

  constructor(
    settings: DatasetSettings,
    corpus: CorpusSource,
    tokenizer: TokenizerSource,
    mode: DatasetMode = 'train',
    options: DatasetOptions = {},
  ) {
    check(
      mode === 'train' || mode === 'validation' || mode === 'test',
      `dataset mode: expected "train", "validation" or "test", got ${JSON.stringify(mode)}`,
    );
    check(
      Number.isInteger(settings.maxSeqLength) && settings.maxSeqLength >= 2,
      `settings.maxSeqLength: expected an integer >= 2 (room for [CLS] and [SEP]), got ${settings.maxSeqLength}`,
    );
    check(
      typeof settings.validationFraction === 'number' && settings.validationFraction >= 0 && settings.validationFraction < 1,
      `settings.validationFraction: expected a number in [0, 1), got ${settings.validationFraction}`,
    );
    const log = options.log ?? ((line: string) => console.error(line));
    this.mode = mode;
    this.maxSeqLength = settings.maxSeqLength;
    this.padTokenId = tokenizer.padTokenId;
    const split: Split = mode === 'test' ? 'test' : 'train';
    this.cacheKey = {
      format: FEATURES_FORMAT_VERSION,
      task: settings.downstreamTaskName,
      corpus: settings.downstreamCorpusName,
      mode,
      split,
      corpusFingerprint: corpus.fingerprint(split),
      tokenizerFingerprint: tokenizer.fingerprint(),
      maxSeqLength: settings.maxSeqLength,
      ...(split === 'train' ? { validationFraction: settings.validationFraction, seed: settings.seed } : {}),
    };
    this.cachePath = featuresCachePath(settings, this.cacheKey, tokenizer.name);

    const started = process.hrtime.bigint();
    let stored: StoredFeatures | undefined;
    if (!settings.overwriteCache && fs.existsSync(this.cachePath)) {
      try {
        stored = readFeatures(this.cachePath, this.cacheKey);
      } catch (e) {
        log(`nlpbook: features cache ${this.cachePath} is unusable (${(e as Error).message}); rebuilding it`);
      }
    }
    this.fromCache = stored !== undefined;
    if (!stored) {
      const examples = corpus.examples(split);
      const chosen = split === 'test' ? range(examples.length) : splitTrainValidation(examples, settings)[mode as 'train' | 'validation'];
      log(`nlpbook: tokenizing ${chosen.length.toLocaleString('en-US')} ${mode} examples -> ${this.cachePath}`);
      const bar = progress(chosen.length, `tokenizing ${mode}`, settings.tqdmEnabled);
      try {
        stored = buildFeatures(examples, chosen, tokenizer, settings.maxSeqLength, (done) => bar.update(done));
      } finally {
        bar.stop();
      }
      writeFeatures(this.cachePath, this.cacheKey, stored);
    }
    this.seconds = Number(process.hrtime.bigint() - started) / 1e9;
    ({ ids: this.ids, offsets: this.offsets, labels: this.labelArray, sources: this.sources } = stored);
  }

  /** Number of examples. */
  get length(): number {
    return this.labelArray.length;
  }

  /** Example i's token ids (a view, not a copy) and label. */
  get(i: number): Feature {
    this.checkIndex(i);
    return { inputIds: this.ids.subarray(this.offsets[i], this.offsets[i + 1]), label: this.labelArray[i] };
  }

  /** Example i's label (0 negative, 1 positive for NSMC). */
  label(i: number): number {
    this.checkIndex(i);
    return this.labelArray[i];
  }

  /** Where example i came from: its index in corpus.examples(split) (split = 'test' for test, else 'train'). */
  sourceIndex(i: number): number {
    this.checkIndex(i);
    return this.sources[i];
  }

  /** Token count of every example, [CLS] and [SEP] included (a fresh array). */
  lengths(): Int32Array {
    const out = new Int32Array(this.length);
    for (let i = 0; i < out.length; i++) out[i] = this.offsets[i + 1] - this.offsets[i];
    return out;
  }

  /** Every label, in dataset order (a fresh array). */
  labels(): Uint8Array {
    return this.labelArray.slice();
  }

  /** Token-length statistics: what padding to a fixed length would waste. */
  stats(): LengthStats {
    return lengthStats(this.lengths(), this.maxSeqLength);
  }

  private checkIndex(i: number): void {
    if (!(Number.isInteger(i) && i >= 0 && i < this.length)) {
      throw new NlpbookError(`${this.mode} dataset: index ${i} is out of range 0..${this.length - 1}`);
    }
  }
}

/**
 * The seeded hold-out: for each label separately, shuffle that label's examples and
 * take round(fraction * count) of them for validation, so both parts keep the
 * corpus's label balance. Both lists are in corpus order.
 */
export function splitTrainValidation(
  examples: readonly { label: number }[],
  settings: Pick<Settings, 'validationFraction' | 'seed'>,
): { train: number[]; validation: number[] } {
  const byLabel = new Map<number, number[]>();
  examples.forEach((e, i) => {
    const list = byLabel.get(e.label) ?? [];
    list.push(i);
    byLabel.set(e.label, list);
  });
  const rng = new Rng(settings.seed).fork('train-validation-split');
  const inValidation = new Uint8Array(examples.length);
  // Labels in sorted order, so the draws never depend on which label appears first.
  for (const label of [...byLabel.keys()].sort((a, b) => a - b)) {
    const members = rng.shuffle(byLabel.get(label)!);
    const take = Math.round(members.length * settings.validationFraction);
    for (let k = 0; k < take; k++) inValidation[members[k]] = 1;
  }
  const train: number[] = [];
  const validation: number[] = [];
  for (let i = 0; i < examples.length; i++) (inValidation[i] ? validation : train).push(i);
  return { train, validation };
}

/** Mean, median, 95th percentile and extremes of token lengths. */
export function lengthStats(lengths: ArrayLike<number>, maxSeqLength?: number): LengthStats {
  const n = lengths.length;
  if (n === 0) return { count: 0, mean: 0, p50: 0, p95: 0, max: 0, min: 0, atMaxLength: 0 };
  const sorted = Int32Array.from(lengths).sort();
  let sum = 0;
  let atMax = 0;
  for (let i = 0; i < n; i++) {
    sum += sorted[i];
    if (sorted[i] === maxSeqLength) atMax++;
  }
  // Nearest-rank percentile: the smallest length that covers p% of the examples.
  const percentile = (p: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))];
  return { count: n, mean: sum / n, p50: percentile(50), p95: percentile(95), max: sorted[n - 1], min: sorted[0], atMaxLength: atMax };
}

/** The cache file for a key: readable parts (like ratsnlp's names) plus a hash of the whole key. */
export function featuresCachePath(
  settings: Pick<Settings, 'downstreamCorpusRootDir' | 'downstreamCorpusName'>,
  key: FeaturesCacheKey,
  tokenizerName: string,
): string {
  // The name is for people ("kcbert-base" whether it came from a hub id or a folder);
  // the hash of the key is what tells caches apart.
  const name = ['cached', key.mode, safeName(path.basename(tokenizerName)), String(key.maxSeqLength), safeName(key.task), keyHash(key)].join('_');
  return path.join(settings.downstreamCorpusRootDir, settings.downstreamCorpusName, 'cache', `${name}.bin`);
}

function keyHash(key: FeaturesCacheKey): string {
  return sha256(JSON.stringify(key)).slice(0, 16);
}

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-+|-+$/g, '') || 'x';
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

// ---------------------------------------------------------------------------
// Building and the cache file

interface StoredFeatures {
  /** All token ids, example after example. */
  ids: Int32Array;
  /** Example i is ids[offsets[i] .. offsets[i+1]). */
  offsets: Int32Array;
  labels: Uint8Array;
  /** Index of each example in corpus.examples(split). */
  sources: Int32Array;
}

function buildFeatures(
  examples: readonly { text: string; label: number }[],
  chosen: readonly number[],
  tokenizer: TokenizerSource,
  maxSeqLength: number,
  onProgress: (done: number) => void,
): StoredFeatures {
  const offsets = new Int32Array(chosen.length + 1);
  const labels = new Uint8Array(chosen.length);
  const sources = Int32Array.from(chosen);
  // Grow one buffer instead of keeping 150k small arrays around.
  let ids = new Int32Array(Math.max(1024, chosen.length * 24));
  let used = 0;
  for (let k = 0; k < chosen.length; k++) {
    const example = examples[chosen[k]];
    const encoded = tokenizer.encode(example.text, { maxLength: maxSeqLength }).inputIds;
    if (encoded.length > maxSeqLength) {
      throw new NlpbookError(`tokenizer ${tokenizer.name}: encode(maxLength=${maxSeqLength}) returned ${encoded.length} ids`);
    }
    if (used + encoded.length > ids.length) {
      const bigger = new Int32Array(Math.max(ids.length * 2, used + encoded.length));
      bigger.set(ids.subarray(0, used));
      ids = bigger;
    }
    ids.set(encoded, used);
    used += encoded.length;
    offsets[k + 1] = used;
    check(example.label === 0 || example.label === 1, () => `corpus example ${chosen[k]}: label ${example.label} is not 0 or 1`);
    labels[k] = example.label;
    if (k % 2000 === 1999) onProgress(k + 1);
  }
  onProgress(chosen.length);
  return { ids: ids.slice(0, used), offsets, labels, sources };
}

// File layout (little-endian, every array 4-byte aligned):
//   "NLPBFEAT" | uint32 header length | header JSON (space-padded) |
//   offsets Int32[count+1] | ids Int32[tokens] | sources Int32[count] | labels Uint8[count]
interface FeaturesHeader {
  format: 'nlpbook-features';
  version: number;
  key: FeaturesCacheKey;
  count: number;
  tokens: number;
  payloadBytes: number;
  payloadSha256: string;
}

function writeFeatures(file: string, key: FeaturesCacheKey, f: StoredFeatures): void {
  const count = f.labels.length;
  const payload = Buffer.concat([bytesOf(f.offsets), bytesOf(f.ids), bytesOf(f.sources), bytesOf(f.labels)]);
  const header: FeaturesHeader = {
    format: 'nlpbook-features',
    version: FEATURES_FORMAT_VERSION,
    key,
    count,
    tokens: f.ids.length,
    payloadBytes: payload.length,
    payloadSha256: sha256(payload),
  };
  let json = JSON.stringify(header);
  while ((MAGIC.length + 4 + Buffer.byteLength(json)) % 4 !== 0) json += ' ';
  const jsonBytes = Buffer.from(json, 'utf8');
  const lengthBytes = Buffer.alloc(4);
  lengthBytes.writeUInt32LE(jsonBytes.length, 0);
  writeFileAtomic(file, Buffer.concat([Buffer.from(MAGIC, 'latin1'), lengthBytes, jsonBytes, payload]));
}

function readFeatures(file: string, expected: FeaturesCacheKey): StoredFeatures {
  check(os.endianness() === 'LE', 'features cache: only little-endian machines are supported');
  const buf = fs.readFileSync(file);
  const fail = (why: string): never => {
    throw new NlpbookError(why);
  };
  if (buf.length < MAGIC.length + 4 || buf.toString('latin1', 0, MAGIC.length) !== MAGIC) fail('not a features file');
  const headerLength = buf.readUInt32LE(MAGIC.length);
  const payloadStart = MAGIC.length + 4 + headerLength;
  if (payloadStart > buf.length || payloadStart % 4 !== 0) fail('bad header length');
  let header: FeaturesHeader;
  try {
    header = JSON.parse(buf.toString('utf8', MAGIC.length + 4, payloadStart));
  } catch {
    return fail('header is not JSON');
  }
  if (header.format !== 'nlpbook-features' || header.version !== FEATURES_FORMAT_VERSION) fail(`format ${header.format} v${header.version}`);
  if (JSON.stringify(header.key) !== JSON.stringify(expected)) fail('made for other settings, corpus or tokenizer');
  const { count, tokens } = header;
  if (!(Number.isInteger(count) && count >= 0 && Number.isInteger(tokens) && tokens >= 0)) fail('bad counts');
  const payloadBytes = 4 * (count + 1) + 4 * tokens + 4 * count + count;
  if (header.payloadBytes !== payloadBytes || buf.length - payloadStart !== payloadBytes) {
    fail(`size ${buf.length - payloadStart} bytes, expected ${payloadBytes}`);
  }
  const payload = buf.subarray(payloadStart);
  if (sha256(payload) !== header.payloadSha256) fail('checksum mismatch');
  // Copy into a fresh, aligned buffer so the typed arrays can view it directly.
  const aligned = new Uint8Array(payloadBytes);
  aligned.set(payload);
  let at = 0;
  const take = <T>(make: (buffer: ArrayBuffer, offset: number, length: number) => T, length: number, bytesPer: number): T => {
    const view = make(aligned.buffer, at, length);
    at += length * bytesPer;
    return view;
  };
  const offsets = take((b, o, n) => new Int32Array(b, o, n), count + 1, 4);
  const ids = take((b, o, n) => new Int32Array(b, o, n), tokens, 4);
  const sources = take((b, o, n) => new Int32Array(b, o, n), count, 4);
  const labels = take((b, o, n) => new Uint8Array(b, o, n), count, 1);
  // The checksum proves the bytes are what was written; these prove they make sense.
  if (offsets[0] !== 0 || offsets[count] !== tokens) fail('offsets do not span the ids');
  for (let i = 0; i < count; i++) if (offsets[i + 1] < offsets[i]) fail(`offsets decrease at ${i}`);
  return { ids, offsets, labels, sources };
}

function bytesOf(a: Int32Array | Uint8Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}
