// Step 5 of the course, second half: the data loader (PyTorch's DataLoader with
// ratsnlp's collate). It decides which examples go together in a batch and pads
// each batch only to its own longest sentence ("dynamic padding"): NSMC sentences
// are ~20 kcbert tokens on average, so padding everything to 128 like the book
// would spend most of the model's work on [PAD].
//
// Epoch order is a pure function of (seed, epoch): a run resumed from a checkpoint
// regenerates the same order and skips the batches already done (state/restore).
import { initBackend, tf } from '../util/backend';
import { check, NlpbookError } from '../util/errors';
import { Rng } from '../util/random';
import type { Settings } from '../settings/index';

/** What the loader needs from a dataset (ClassificationDataset has it). */
export interface FeatureSource {
  readonly length: number;
  get(i: number): { inputIds: ArrayLike<number>; label: number };
  lengths(): Int32Array;
  readonly padTokenId?: number;
}

export interface DataLoaderOptions {
  batchSize: number;
  /** Random order each epoch (training); false keeps dataset order (evaluation). Default false. */
  shuffle?: boolean;
  /** Seed of the sampler; default 0. Ignored when `rng` is given. */
  seed?: number;
  /** Draws the sampler seed from this generator (advancing it once) instead of `seed`. */
  rng?: Rng;
  /** Drop the last, smaller batch. Default false. */
  dropLast?: boolean;
  /**
   * Group sentences of similar length. With shuffle: shuffle, sort within chunks of
   * bucketChunkBatches × batchSize by length, cut batches, shuffle the batch order.
   * Without shuffle: longest first over the whole dataset (for evaluation).
   */
  lengthBucketing?: boolean;
  /** Chunk size for bucketing, in batches. Default 50. */
  bucketChunkBatches?: number;
  /** Id used for padding; default the dataset's padTokenId, else 0 ([PAD] in kcbert). */
  padTokenId?: number;
}

/** A padded batch as plain arrays (for tests and looking at). Row r is dataset example indices[r]. */
export interface PlainBatch {
  /** Dataset indices of the rows. */
  indices: number[];
  /** [batch][seqLength] token ids, padded with padTokenId. */
  inputIds: number[][];
  /** 1 for real tokens, 0 for padding. */
  attentionMask: number[][];
  /** All 0: single-sentence classification. */
  tokenTypeIds: number[][];
  labels: number[];
  /** Longest sequence in the batch = padded length. */
  seqLength: number;
}

/** A padded batch as int32 tensors ready for the model. The caller owns them: call dispose(). */
export interface TensorBatch {
  indices: number[];
  /** int32 [batch, seqLength] */
  inputIds: tf.Tensor2D;
  /** int32 [batch, seqLength] */
  attentionMask: tf.Tensor2D;
  /** int32 [batch, seqLength] */
  tokenTypeIds: tf.Tensor2D;
  /** int32 [batch] */
  labels: tf.Tensor1D;
  size: number;
  seqLength: number;
  /** Frees the four tensors. */
  dispose(): void;
}

/** Where the loader is: the next batch it will hand out, and how its order was made. */
export interface LoaderState {
  epoch: number;
  /** Batches of `epoch` already handed out; the next one to come is this index. */
  batchIndex: number;
  seed: number;
  // The rest must match on restore, or the remaining batches would be different ones.
  batchSize: number;
  shuffle: boolean;
  dropLast: boolean;
  lengthBucketing: boolean;
  bucketChunkBatches: number;
  datasetLength: number;
}

export class DataLoader {
  readonly dataset: FeatureSource;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly lengthBucketing: boolean;
  readonly bucketChunkBatches: number;
  readonly padTokenId: number;
  private seedValue: number;
  /** The last batch handed out (what state() reports). */
  private position = { epoch: 0, batchIndex: 0 };
  /** Set by restore(): where the next iteration of that epoch starts. */
  private resumeFrom?: { epoch: number; batchIndex: number };
  private lengthCache?: Int32Array;
  private planCache?: { epoch: number; batches: number[][] };

  constructor(dataset: FeatureSource, options: DataLoaderOptions) {
    check(
      Number.isInteger(options.batchSize) && options.batchSize >= 1,
      `data loader batchSize: expected an integer >= 1, got ${options.batchSize}`,
    );
    this.dataset = dataset;
    this.batchSize = options.batchSize;
    this.shuffle = options.shuffle ?? false;
    this.dropLast = options.dropLast ?? false;
    this.lengthBucketing = options.lengthBucketing ?? false;
    this.bucketChunkBatches = options.bucketChunkBatches ?? 50;
    check(
      Number.isInteger(this.bucketChunkBatches) && this.bucketChunkBatches >= 1,
      `data loader bucketChunkBatches: expected an integer >= 1, got ${this.bucketChunkBatches}`,
    );
    this.padTokenId = options.padTokenId ?? dataset.padTokenId ?? 0;
    this.seedValue = options.rng ? options.rng.next() : options.seed ?? 0;
    check(Number.isSafeInteger(this.seedValue), `data loader seed: expected a safe integer, got ${this.seedValue}`);
  }

  /** The sampler seed (also in state()). */
  get seed(): number {
    return this.seedValue;
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** Dataset indices of every batch of `epoch`, in the order they come (same inputs, same plan). */
  plan(epoch = 0): number[][] {
    check(Number.isInteger(epoch) && epoch >= 0, `data loader epoch: expected an integer >= 0, got ${epoch}`);
    if (this.planCache?.epoch === epoch) return this.planCache.batches;
    const n = this.dataset.length;
    const rng = new Rng(this.seedValue).fork(`epoch-${epoch}`);
    let order: Int32Array;
    if (this.shuffle) order = rng.permutation(n);
    else order = Int32Array.from({ length: n }, (_, i) => i);

    let batches: number[][];
    if (this.lengthBucketing && this.shuffle) {
      const lengths = this.lengths();
      const chunk = this.bucketChunkBatches * this.batchSize;
      batches = [];
      for (let start = 0; start < n; start += chunk) {
        // Stable sort: equal lengths keep their shuffled order.
        const part = Array.from(order.subarray(start, start + chunk)).sort((a, b) => lengths[a] - lengths[b]);
        batches.push(...cut(part, this.batchSize));
      }
      // Only the very last batch can be short (every chunk but the last is whole batches).
      if (this.dropLast && batches.length && batches[batches.length - 1].length < this.batchSize) batches.pop();
      rng.shuffle(batches);
    } else {
      let list = Array.from(order);
      if (this.lengthBucketing) {
        // Evaluation: longest first, so the biggest batch (memory peak) comes at once.
        const lengths = this.lengths();
        list = list.sort((a, b) => lengths[b] - lengths[a]);
      }
      batches = cut(list, this.batchSize);
      if (this.dropLast && batches.length && batches[batches.length - 1].length < this.batchSize) batches.pop();
    }
    this.planCache = { epoch, batches };
    return batches;
  }

  /** Pads the examples at `indices` into one batch of plain arrays. */
  collate(indices: readonly number[]): PlainBatch {
    check(indices.length > 0, 'data loader: cannot collate an empty batch');
    const rows = indices.map((i) => this.dataset.get(i));
    const seqLength = Math.max(...rows.map((r) => r.inputIds.length));
    const inputIds: number[][] = [];
    const attentionMask: number[][] = [];
    const tokenTypeIds: number[][] = [];
    for (const row of rows) {
      const ids = new Array<number>(seqLength).fill(this.padTokenId);
      const mask = new Array<number>(seqLength).fill(0);
      for (let t = 0; t < row.inputIds.length; t++) {
        ids[t] = row.inputIds[t];
        mask[t] = 1;
      }
      inputIds.push(ids);
      attentionMask.push(mask);
      tokenTypeIds.push(new Array<number>(seqLength).fill(0));
    }
    return { indices: [...indices], inputIds, attentionMask, tokenTypeIds, labels: rows.map((r) => r.label), seqLength };
  }

  /**
   * The batches of `epoch` as plain arrays: all of them, or right after restore(state)
   * for state.epoch, only those not yet handed out. Updates state() as it goes.
   */
  *plainBatches(epoch = 0): Generator<PlainBatch> {
    const batches = this.plan(epoch);
    let start = 0;
    if (this.resumeFrom?.epoch === epoch) {
      start = this.resumeFrom.batchIndex;
      this.resumeFrom = undefined;
    }
    this.position = { epoch, batchIndex: start };
    for (let b = start; b < batches.length; b++) {
      const batch = this.collate(batches[b]);
      this.position = { epoch, batchIndex: b + 1 };
      yield batch;
    }
  }

  /**
   * The batches of `epoch` as int32 tensors (loads the TensorFlow backend first).
   * Each batch's tensors belong to the caller: call batch.dispose() when done with it.
   * `for await (const batch of loader.batches(epoch)) { ...; batch.dispose(); }`
   */
  async *batches(epoch = 0): AsyncGenerator<TensorBatch> {
    await initBackend();
    for (const plain of this.plainBatches(epoch)) yield toTensors(plain);
  }

  /** Where the loader stands; save it with a checkpoint. */
  state(): LoaderState {
    return {
      epoch: this.position.epoch,
      batchIndex: this.position.batchIndex,
      seed: this.seedValue,
      batchSize: this.batchSize,
      shuffle: this.shuffle,
      dropLast: this.dropLast,
      lengthBucketing: this.lengthBucketing,
      bucketChunkBatches: this.bucketChunkBatches,
      datasetLength: this.dataset.length,
    };
  }

  /** Continues from a saved state: the next batches(state.epoch) yields exactly the batches not yet handed out. */
  restore(state: LoaderState): void {
    const mine = this.state();
    for (const field of ['batchSize', 'shuffle', 'dropLast', 'lengthBucketing', 'bucketChunkBatches', 'datasetLength'] as const) {
      if (state[field] !== mine[field]) {
        throw new NlpbookError(`data loader state: ${field} is ${state[field]} in the saved state but ${mine[field]} here`);
      }
    }
    check(Number.isSafeInteger(state.seed), `data loader state: seed must be a safe integer, got ${state.seed}`);
    check(Number.isInteger(state.epoch) && state.epoch >= 0, `data loader state: bad epoch ${state.epoch}`);
    check(
      Number.isInteger(state.batchIndex) && state.batchIndex >= 0 && state.batchIndex <= this.length,
      `data loader state: batchIndex ${state.batchIndex} is outside 0..${this.length}`,
    );
    this.seedValue = state.seed;
    this.planCache = undefined;
    this.position = { epoch: state.epoch, batchIndex: state.batchIndex };
    this.resumeFrom = { ...this.position };
  }

  /** Real vs padded token counts of `epoch`'s batches (see PaddingStats). */
  paddingStats(epoch = 0): PaddingStats {
    const lengths = this.lengths();
    let real = 0;
    for (const batch of this.plan(epoch)) for (const i of batch) real += lengths[i];
    const slots = this.batchSlots(epoch).reduce((a, b) => a + b, 0);
    return paddingFigures(real, slots, this.length);
  }

  /** Token slots (real + padding) of each of `epoch`'s batches, in order: what its step costs. */
  batchSlots(epoch = 0): number[] {
    const lengths = this.lengths();
    return this.plan(epoch).map((batch) => batch.reduce((longest, i) => Math.max(longest, lengths[i]), 0) * batch.length);
  }

  private lengths(): Int32Array {
    return (this.lengthCache ??= this.dataset.lengths());
  }
}

/** The training loader the settings ask for: shuffled by settings.seed, dropLast and lengthBucketing as set. */
export function trainingLoader(
  dataset: FeatureSource,
  settings: Pick<Settings, 'batchSize' | 'seed' | 'dropLast' | 'lengthBucketing'>,
): DataLoader {
  return new DataLoader(dataset, {
    batchSize: settings.batchSize,
    shuffle: true,
    seed: settings.seed,
    dropLast: settings.dropLast,
    lengthBucketing: settings.lengthBucketing,
  });
}

/**
 * An evaluation loader: every example once, nothing dropped. With settings.lengthBucketing
 * the batches go longest first (less padding); each batch's `indices` say which rows it holds.
 */
export function evaluationLoader(dataset: FeatureSource, settings: Pick<Settings, 'batchSize' | 'lengthBucketing'>): DataLoader {
  return new DataLoader(dataset, { batchSize: settings.batchSize, shuffle: false, lengthBucketing: settings.lengthBucketing });
}

/** Makes int32 tensors from a plain batch (the TensorFlow backend must be initialised). */
export function toTensors(batch: PlainBatch): TensorBatch {
  const size = batch.indices.length;
  const shape: [number, number] = [size, batch.seqLength];
  const inputIds = tf.tensor2d(batch.inputIds, shape, 'int32');
  const attentionMask = tf.tensor2d(batch.attentionMask, shape, 'int32');
  const tokenTypeIds = tf.tensor2d(batch.tokenTypeIds, shape, 'int32');
  const labels = tf.tensor1d(batch.labels, 'int32');
  return {
    indices: batch.indices,
    inputIds,
    attentionMask,
    tokenTypeIds,
    labels,
    size,
    seqLength: batch.seqLength,
    dispose: () => tf.dispose([inputIds, attentionMask, tokenTypeIds, labels]),
  };
}

/** How much of a padded batch is real text. */
export interface PaddingStats {
  batches: number;
  /** Real tokens ([CLS] and [SEP] included). */
  realTokens: number;
  /** Token slots the model computes on: real + padding. */
  paddedTokens: number;
  /** paddedTokens - realTokens. */
  padTokens: number;
  /** padTokens / paddedTokens: the share of the model's work spent on [PAD]. */
  paddingShare: number;
  /** paddedTokens / realTokens: how many times the necessary work. */
  overhead: number;
}

function paddingFigures(real: number, slots: number, batches: number): PaddingStats {
  return {
    batches,
    realTokens: real,
    paddedTokens: slots,
    padTokens: slots - real,
    paddingShare: slots ? (slots - real) / slots : 0,
    overhead: real ? slots / real : 0,
  };
}

/** Padding of one epoch three ways: everything to a fixed length (the book), per-batch (dynamic), per-batch with bucketing. */
export function comparePadding(
  dataset: FeatureSource,
  options: { batchSize: number; fixedLength: number; seed?: number; epoch?: number; dropLast?: boolean },
): { fixed: PaddingStats; dynamic: PaddingStats; bucketed: PaddingStats } {
  const common = { batchSize: options.batchSize, seed: options.seed ?? 0, shuffle: true, dropLast: options.dropLast ?? false };
  const dynamic = new DataLoader(dataset, { ...common, lengthBucketing: false });
  const bucketed = new DataLoader(dataset, { ...common, lengthBucketing: true });
  const epoch = options.epoch ?? 0;
  const dyn = dynamic.paddingStats(epoch);
  // Same examples as the dynamic epoch (dropLast included), each padded to fixedLength.
  const fixedSlots = dynamic.plan(epoch).reduce((sum, batch) => sum + batch.length * options.fixedLength, 0);
  return {
    fixed: paddingFigures(dyn.realTokens, fixedSlots, dynamic.length),
    dynamic: dyn,
    bucketed: bucketed.paddingStats(epoch),
  };
}

function cut(list: number[], size: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}
