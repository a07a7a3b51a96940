// The data loader on a real dataset: the first rows of the real NSMC train file, read by
// the real corpus module and tokenized by the real kcbert tokenizer.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { initBackend, tf } from '../src/util/backend';
import { NsmcCorpus } from '../src/corpus/index';
import { ClassificationDataset } from '../src/data/index';
import { NlpbookError } from '../src/util/errors';
import { comparePadding, DataLoader, DataLoaderOptions, evaluationLoader, LoaderState, PlainBatch, trainingLoader } from '../src/data/loader';
import { Rng } from '../src/util/random';
import { DEFAULT_SETTINGS } from '../src/settings/index';
import { BertTokenizer } from '../src/tokenizer/index';
import { KCBERT_DIR, NSMC_DIR, tempDir } from './helpers';

const ROWS = 2000;
const root = tempDir('nlpbook-loader-');
fs.mkdirSync(path.join(root, 'nsmc'));
for (const name of ['ratings_train.txt', 'ratings_test.txt']) {
  const lines = fs.readFileSync(path.join(NSMC_DIR, name), 'utf8').split('\n').slice(0, ROWS + 1);
  fs.writeFileSync(path.join(root, 'nsmc', name), lines.join('\n') + '\n');
}
const settings = { ...DEFAULT_SETTINGS, downstreamCorpusRootDir: root, tqdmEnabled: false };
const tokenizer = BertTokenizer.fromFolder(KCBERT_DIR);
const dataset = new ClassificationDataset(settings, new NsmcCorpus(settings), tokenizer, 'train', { log: () => {} });
const N = dataset.length; // 1800: 90% of the rows
const lengths = dataset.lengths();

const loader = (options: Partial<DataLoaderOptions> = {}) => new DataLoader(dataset, { batchSize: 32, ...options });
const indicesOf = (l: DataLoader, epoch = 0) => Array.from(l.plainBatches(epoch), (b) => b.indices);
const sortedFlat = (batches: number[][]) => batches.flat().sort((a, b) => a - b);
const all = Array.from({ length: N }, (_, i) => i);

test('sequential loader: dataset order, ceil(n / batchSize) batches, last one short', () => {
  const l = loader();
  const batches = indicesOf(l);
  assert.equal(N, 1800);
  assert.equal(l.length, Math.ceil(N / 32));
  assert.equal(batches.length, l.length);
  assert.deepEqual(batches.flat(), all);
  assert.equal(batches[batches.length - 1].length, N % 32);
  assert.deepEqual(indicesOf(l), batches, 'a second pass gives the whole epoch again');
});

test('shuffled loader: same seed same batches, other seed or epoch other batches', () => {
  for (const lengthBucketing of [false, true]) {
    const a = indicesOf(loader({ shuffle: true, seed: 7, lengthBucketing }), 0);
    assert.deepEqual(indicesOf(loader({ shuffle: true, seed: 7, lengthBucketing }), 0), a);
    assert.notDeepEqual(indicesOf(loader({ shuffle: true, seed: 8, lengthBucketing }), 0), a);
    assert.notDeepEqual(indicesOf(loader({ shuffle: true, seed: 7, lengthBucketing }), 1), a);
    assert.notDeepEqual(a.flat(), all, 'shuffled');
  }
  // A generator as the seed source: same generator state, same order.
  const viaRng = indicesOf(loader({ shuffle: true, rng: new Rng(3) }));
  assert.deepEqual(indicesOf(loader({ shuffle: true, rng: new Rng(3) })), viaRng);
  assert.notDeepEqual(indicesOf(loader({ shuffle: true, rng: new Rng(4) })), viaRng);
});

test('every example comes exactly once per epoch, with and without bucketing and dropLast', () => {
  for (const lengthBucketing of [false, true]) {
    for (const shuffle of [false, true]) {
      for (const epoch of [0, 1, 5]) {
        const what = `bucketing=${lengthBucketing} shuffle=${shuffle} epoch=${epoch}`;
        const whole = loader({ shuffle, lengthBucketing, seed: 11 });
        const batches = indicesOf(whole, epoch);
        assert.deepEqual(sortedFlat(batches), all, what);
        assert.equal(batches.length, Math.ceil(N / 32), what);
        assert.equal(batches.filter((b) => b.length !== 32).length, 1, `${what}: only one short batch`);

        const dropping = loader({ shuffle, lengthBucketing, seed: 11, dropLast: true, batchSize: 48 });
        const kept = indicesOf(dropping, epoch);
        assert.equal(kept.length, Math.floor(N / 48), what);
        assert.equal(dropping.length, kept.length);
        assert.ok(kept.every((b) => b.length === 48), `${what}: all batches full`);
        const flat = sortedFlat(kept);
        assert.equal(new Set(flat).size, flat.length, `${what}: no duplicates`);
        assert.equal(flat.length, N - (N % 48), `${what}: only the remainder is dropped`);
      }
    }
  }
});

test('length bucketing makes batches of similar lengths while keeping the epoch random', () => {
  const plain = loader({ shuffle: true, seed: 1 });
  const bucketed = loader({ shuffle: true, seed: 1, lengthBucketing: true, bucketChunkBatches: 10 });
  const p = plain.paddingStats();
  const b = bucketed.paddingStats();
  assert.equal(p.realTokens, b.realTokens);
  assert.equal(p.realTokens, lengths.reduce((s, n) => s + n, 0));
  assert.ok(b.padTokens < p.padTokens / 4, `bucketed pads ${b.padTokens}, plain ${p.padTokens}`);
  // Batch order is shuffled: not sorted by length across the epoch.
  const longest = bucketed.plan(0).map((batch) => Math.max(...batch.map((i) => lengths[i])));
  const ascending = longest.every((v, i) => i === 0 || longest[i - 1] <= v);
  const descending = longest.every((v, i) => i === 0 || longest[i - 1] >= v);
  assert.ok(!ascending && !descending, 'batch order is random');
  // Without shuffle (evaluation): longest first over the whole set.
  const evalOrder = loader({ lengthBucketing: true }).plan(0).flat().map((i) => lengths[i]);
  assert.deepEqual(evalOrder, [...evalOrder].sort((x, y) => y - x));
});

test('batchSlots: what each batch costs, its rows times its longest row as collate pads it', () => {
  const l = loader({ shuffle: true, seed: 3, lengthBucketing: true, bucketChunkBatches: 10 });
  const slots = l.batchSlots(1);
  assert.deepEqual(slots, [...l.plainBatches(1)].map((b) => b.seqLength * b.indices.length));
  const p = l.paddingStats(1);
  assert.equal(slots.reduce((a, b) => a + b, 0), p.realTokens + p.padTokens);
});

test('collate pads to the longest row with [PAD] 0, and the mask marks the real tokens', () => {
  assert.equal(tokenizer.padTokenId, 0);
  assert.equal(tokenizer.idToToken(0), '[PAD]');
  const l = loader({ shuffle: true, seed: 5 });
  assert.equal(l.padTokenId, 0, 'taken from the dataset');
  let sawPadding = false;
  for (const batch of l.plainBatches(0)) {
    const rowLengths = batch.indices.map((i) => lengths[i]);
    assert.equal(batch.seqLength, Math.max(...rowLengths));
    assert.equal(batch.inputIds.length, batch.indices.length);
    batch.indices.forEach((index, r) => {
      const feature = dataset.get(index);
      const n = feature.inputIds.length;
      assert.equal(batch.inputIds[r].length, batch.seqLength);
      assert.deepEqual(batch.inputIds[r].slice(0, n), Array.from(feature.inputIds));
      assert.ok(batch.inputIds[r].slice(n).every((id) => id === 0));
      assert.deepEqual(batch.attentionMask[r], batch.inputIds[r].map((_, t) => (t < n ? 1 : 0)));
      assert.ok(batch.tokenTypeIds[r].length === batch.seqLength && batch.tokenTypeIds[r].every((t) => t === 0));
      assert.equal(batch.labels[r], feature.label);
      assert.equal(batch.inputIds[r][n - 1], tokenizer.sepTokenId);
      if (n < batch.seqLength) sawPadding = true;
    });
  }
  assert.ok(sawPadding);
  // Another pad id is honoured: a short row next to a longer one.
  const shortRow = all.find((i) => lengths[i] < lengths[0])!;
  const other = loader({ padTokenId: 7 }).collate([0, shortRow]);
  assert.equal(other.seqLength, lengths[0]);
  assert.deepEqual(other.inputIds[1].slice(lengths[shortRow]), new Array(lengths[0] - lengths[shortRow]).fill(7));
  assert.throws(() => loader().collate([]), NlpbookError);
});

test('resuming from a saved state yields exactly the remaining batches', () => {
  for (const lengthBucketing of [false, true]) {
    const options = { shuffle: true, seed: 21, lengthBucketing, batchSize: 40 };
    const reference = [indicesOf(loader(options), 0), indicesOf(loader(options), 1), indicesOf(loader(options), 2)];

    const first = loader(options);
    const done: number[][] = [];
    let saved: LoaderState | undefined;
    for (const batch of first.plainBatches(1)) {
      done.push(batch.indices);
      if (done.length === 13) {
        saved = JSON.parse(JSON.stringify(first.state()));
        break;
      }
    }
    assert.deepEqual(saved && { epoch: saved.epoch, batchIndex: saved.batchIndex, seed: saved.seed }, { epoch: 1, batchIndex: 13, seed: 21 });

    // A new process: a loader with another seed, restored from the checkpoint.
    const resumed = loader({ ...options, seed: 999 });
    resumed.restore(saved!);
    assert.deepEqual(resumed.state(), saved);
    const rest = indicesOf(resumed, 1);
    assert.deepEqual([...done, ...rest], reference[1]);
    assert.deepEqual(resumed.state().batchIndex, reference[1].length);
    // The next epochs come whole and as in the uninterrupted run.
    assert.deepEqual(indicesOf(resumed, 2), reference[2]);
    assert.deepEqual(indicesOf(resumed, 1), reference[1], 'the restore point is used once');
  }
  // A state from a differently configured loader is refused.
  const state = loader({ shuffle: true }).state();
  assert.throws(() => loader({ shuffle: true, batchSize: 16 }).restore(state), /batchSize is 32 in the saved state but 16 here/);
  assert.throws(() => loader({ shuffle: false }).restore(state), /shuffle is true in the saved state but false here/);
  assert.throws(() => loader({ shuffle: true }).restore({ ...state, batchIndex: 1000 }), /batchIndex 1000 is outside 0\.\.57/);
});

test('tensor batches: int32 [B, L] and [B], same values as the plain ones, no tensor left behind', async () => {
  await initBackend({ quiet: true });
  const l = loader({ shuffle: true, seed: 3, lengthBucketing: true, dropLast: false });
  const plain: PlainBatch[] = Array.from(l.plainBatches(0));
  const start = tf.memory().numTensors;
  let k = 0;
  for await (const batch of l.batches(0)) {
    const expected = plain[k++];
    const B = expected.indices.length;
    const L = expected.seqLength;
    assert.deepEqual(batch.indices, expected.indices);
    assert.equal(batch.size, B);
    assert.equal(batch.seqLength, L);
    for (const [name, t] of [['inputIds', batch.inputIds], ['attentionMask', batch.attentionMask], ['tokenTypeIds', batch.tokenTypeIds]] as const) {
      assert.deepEqual(t.shape, [B, L], name);
      assert.equal(t.dtype, 'int32', name);
    }
    assert.deepEqual(batch.labels.shape, [B]);
    assert.equal(batch.labels.dtype, 'int32');
    if (k <= 3 || k === plain.length) {
      assert.deepEqual(batch.inputIds.arraySync(), expected.inputIds);
      assert.deepEqual(batch.attentionMask.arraySync(), expected.attentionMask);
      assert.deepEqual(batch.tokenTypeIds.arraySync(), expected.tokenTypeIds);
      assert.deepEqual(batch.labels.arraySync(), expected.labels);
    }
    assert.equal(tf.memory().numTensors, start + 4);
    batch.dispose();
    assert.equal(tf.memory().numTensors, start);
  }
  assert.equal(k, l.length);
  assert.equal(tf.memory().numTensors, start);
});

test('padding figures: fixed 128 vs dynamic vs bucketed', () => {
  const figures = comparePadding(dataset, { batchSize: 32, fixedLength: 128, seed: 7 });
  const real = lengths.reduce((s, n) => s + n, 0);
  for (const f of Object.values(figures)) {
    assert.equal(f.realTokens, real);
    assert.equal(f.padTokens, f.paddedTokens - f.realTokens);
    assert.ok(Math.abs(f.paddingShare - f.padTokens / f.paddedTokens) < 1e-12);
    assert.equal(f.batches, Math.ceil(N / 32));
  }
  assert.equal(figures.fixed.paddedTokens, N * 128);
  // NSMC is short: fixed-length padding wastes most of the work, bucketing almost none.
  assert.ok(figures.fixed.paddingShare > 0.75, `fixed ${figures.fixed.paddingShare}`);
  assert.ok(figures.dynamic.paddingShare < figures.fixed.paddingShare);
  assert.ok(figures.bucketed.paddingShare < 0.15, `bucketed ${figures.bucketed.paddingShare}`);
  // dropLast: the fixed figure counts the same examples as the dynamic one.
  const dropped = comparePadding(dataset, { batchSize: 32, fixedLength: 128, seed: 7, dropLast: true });
  assert.equal(dropped.fixed.paddedTokens, Math.floor(N / 32) * 32 * 128);
  assert.equal(dropped.fixed.realTokens, dropped.dynamic.realTokens);
});

test('trainingLoader and evaluationLoader follow the settings', () => {
  const train = trainingLoader(dataset, { ...settings, batchSize: 16, dropLast: true, lengthBucketing: true });
  assert.deepEqual(
    { ...train.state(), epoch: undefined, batchIndex: undefined },
    { epoch: undefined, batchIndex: undefined, seed: settings.seed, batchSize: 16, shuffle: true, dropLast: true, lengthBucketing: true, bucketChunkBatches: 50, datasetLength: N },
  );
  assert.deepEqual(indicesOf(train), indicesOf(loader({ batchSize: 16, shuffle: true, seed: settings.seed, dropLast: true, lengthBucketing: true })));
  const evaluation = evaluationLoader(dataset, { batchSize: 64, lengthBucketing: false });
  assert.deepEqual(indicesOf(evaluation).flat(), all);
  assert.equal(evaluationLoader(dataset, { batchSize: 64, lengthBucketing: true }).length, Math.ceil(N / 64));
});

test('bad options are refused', () => {
  assert.throws(() => loader({ batchSize: 0 }), /batchSize: expected an integer >= 1, got 0/);
  assert.throws(() => loader({ bucketChunkBatches: 0 }), /bucketChunkBatches/);
  assert.throws(() => loader().plan(-1), /epoch: expected an integer >= 0/);
});
