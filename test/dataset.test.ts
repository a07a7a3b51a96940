// The features dataset on real data: the first rows of the real NSMC files, read by the
// real corpus module, tokenized by the real kcbert tokenizer.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { NsmcCorpus } from '../src/corpus/index';
import { ClassificationDataset, DatasetMode, lengthStats, splitTrainValidation } from '../src/data/dataset';
import { NlpbookError } from '../src/util/errors';
import { DEFAULT_SETTINGS, Settings } from '../src/settings/index';
import { BertTokenizer } from '../src/tokenizer/index';
import { KCBERT_DIR, NSMC_DIR, tempDir } from './helpers';

const TRAIN_ROWS = 3000;
const TEST_ROWS = 500;

/** A corpus root holding the first `rows` rows of the real files (Korpora's layout). */
function sliceRoot(trainRows = TRAIN_ROWS, testRows = TEST_ROWS): string {
  const root = tempDir('nlpbook-dataset-');
  fs.mkdirSync(path.join(root, 'nsmc'));
  for (const [name, rows] of [['ratings_train.txt', trainRows], ['ratings_test.txt', testRows]] as const) {
    const lines = fs.readFileSync(path.join(NSMC_DIR, name), 'utf8').split('\n').slice(0, rows + 1);
    fs.writeFileSync(path.join(root, 'nsmc', name), lines.join('\n') + '\n');
  }
  return root;
}

function settingsFor(root: string, overrides: Partial<Settings> = {}): Settings {
  return { ...DEFAULT_SETTINGS, downstreamCorpusRootDir: root, tqdmEnabled: false, ...overrides };
}

const tokenizer = BertTokenizer.fromFolder(KCBERT_DIR);
const root = sliceRoot();
const corpus = new NsmcCorpus(settingsFor(root));

function build(mode: DatasetMode, overrides: Partial<Settings> = {}, on: { root?: string; corpus?: NsmcCorpus; tokenizer?: BertTokenizer } = {}) {
  const lines: string[] = [];
  const ds = new ClassificationDataset(settingsFor(on.root ?? root, overrides), on.corpus ?? corpus, on.tokenizer ?? tokenizer, mode, {
    log: (l) => lines.push(l),
  });
  return { ds, lines };
}

function sources(ds: ClassificationDataset): number[] {
  return Array.from({ length: ds.length }, (_, i) => ds.sourceIndex(i));
}

test('train and validation split the training rows: sizes, no overlap, label balance, deterministic', () => {
  const train = build('train').ds;
  const validation = build('validation').ds;
  const examples = corpus.examples('train');
  assert.equal(examples.length, TRAIN_ROWS);
  // Stratified: round(10%) of each label.
  const positives = examples.filter((e) => e.label === 1).length;
  const expectedValidation = Math.round(positives * 0.1) + Math.round((TRAIN_ROWS - positives) * 0.1);
  assert.equal(validation.length, expectedValidation);
  assert.equal(train.length + validation.length, TRAIN_ROWS);
  const t = sources(train);
  const v = sources(validation);
  assert.equal(new Set([...t, ...v]).size, TRAIN_ROWS, 'every training row is in exactly one part');
  assert.deepEqual([...t].sort((a, b) => a - b), t, 'train keeps corpus order');
  assert.deepEqual([...v].sort((a, b) => a - b), v, 'validation keeps corpus order');
  const vPositives = v.filter((i) => examples[i].label === 1).length;
  assert.equal(vPositives, Math.round(positives * 0.1));
  // Not simply the first or last rows.
  assert.ok(v[0] < TRAIN_ROWS / 10 && v[v.length - 1] > TRAIN_ROWS * 0.9, `validation spans the file: ${v[0]}..${v[v.length - 1]}`);

  // Same seed in a fresh cache folder: the same split; another seed: another split.
  const otherRoot = sliceRoot();
  const otherCorpus = new NsmcCorpus(settingsFor(otherRoot));
  assert.deepEqual(sources(build('validation', {}, { root: otherRoot, corpus: otherCorpus }).ds), v);
  const reseeded = sources(build('validation', { seed: 8 }, { root: otherRoot, corpus: otherCorpus }).ds);
  assert.equal(reseeded.length, v.length);
  assert.notDeepEqual(reseeded, v);
  const bigger = build('validation', { validationFraction: 0.2 }).ds;
  assert.ok(Math.abs(bigger.length - 0.2 * TRAIN_ROWS) <= 1);
});

test('splitTrainValidation: fraction 0 keeps everything for training; labels are split separately', () => {
  const examples = Array.from({ length: 100 }, (_, i) => ({ label: i < 90 ? 0 : 1 }));
  assert.deepEqual(splitTrainValidation(examples, { validationFraction: 0, seed: 1 }).validation, []);
  const { train, validation } = splitTrainValidation(examples, { validationFraction: 0.3, seed: 1 });
  assert.equal(validation.filter((i) => i >= 90).length, 3);
  assert.equal(validation.length, 30);
  assert.equal(train.length, 70);
});

test('features are the tokenizer ids of the source rows; test mode is the test split in order', () => {
  const validation = build('validation').ds;
  const examples = corpus.examples('train');
  for (const i of [0, 1, 17, validation.length - 1]) {
    const f = validation.get(i);
    const source = examples[validation.sourceIndex(i)];
    assert.deepEqual(Array.from(f.inputIds), tokenizer.encode(source.text, { maxLength: 128 }).inputIds);
    assert.equal(f.label, source.label);
    assert.equal(validation.label(i), source.label);
    assert.ok(f.inputIds instanceof Int32Array);
  }
  const testSet = build('test').ds;
  assert.equal(testSet.length, TEST_ROWS);
  assert.deepEqual(sources(testSet), Array.from({ length: TEST_ROWS }, (_, i) => i));
  const first = corpus.examples('test')[0];
  assert.deepEqual(Array.from(testSet.get(0).inputIds), tokenizer.encode(first.text, { maxLength: 128 }).inputIds);
  assert.deepEqual(Array.from(testSet.labels()), corpus.examples('test').map((e) => e.label));
  assert.throws(() => testSet.get(TEST_ROWS), /index 500 is out of range 0\.\.499/);
  assert.throws(() => testSet.get(-1), NlpbookError);
});

test('truncation at maxSeqLength keeps [CLS] first and the final [SEP]', () => {
  const full = build('train').ds;
  const short = build('train', { maxSeqLength: 8 }).ds;
  assert.equal(short.length, full.length);
  let truncated = 0;
  for (let i = 0; i < short.length; i++) {
    const ids = short.get(i).inputIds;
    const whole = full.get(i).inputIds;
    assert.ok(ids.length <= 8);
    assert.equal(ids[0], tokenizer.clsTokenId);
    assert.equal(ids[ids.length - 1], tokenizer.sepTokenId);
    if (whole.length > 8) {
      truncated++;
      assert.deepEqual(Array.from(ids.subarray(0, 7)), Array.from(whole.subarray(0, 7)), 'a prefix of the untruncated pieces');
    } else {
      assert.deepEqual(ids, whole);
    }
  }
  assert.ok(truncated > short.length / 2, `most NSMC rows are longer than 8 tokens (${truncated})`);
  assert.equal(short.stats().max, 8);
  assert.equal(short.stats().atMaxLength, truncated + Array.from(full.lengths()).filter((n) => n === 8).length);
});

test('lengths() and stats() describe the token counts', () => {
  const ds = build('train').ds;
  const lengths = ds.lengths();
  assert.equal(lengths.length, ds.length);
  for (const i of [0, 5, 99]) assert.equal(lengths[i], ds.get(i).inputIds.length);
  const s = ds.stats();
  const sorted = Array.from(lengths).sort((a, b) => a - b);
  assert.equal(s.count, ds.length);
  assert.equal(s.max, sorted[sorted.length - 1]);
  assert.equal(s.min, sorted[0]);
  assert.ok(Math.abs(s.mean - sorted.reduce((a, b) => a + b, 0) / sorted.length) < 1e-9);
  assert.ok(s.p50 <= s.p95 && s.p95 <= s.max);
  // NSMC sentences are short: ~20 kcbert tokens on average.
  assert.ok(s.mean > 12 && s.mean < 30, `mean ${s.mean}`);
  assert.deepEqual(lengthStats([5, 1, 3, 2, 4, 10, 7, 8, 9, 6], 10), { count: 10, mean: 5.5, p50: 5, p95: 10, max: 10, min: 1, atMaxLength: 1 });
  assert.deepEqual(lengthStats([]), { count: 0, mean: 0, p50: 0, p95: 0, max: 0, min: 0, atMaxLength: 0 });
});

test('a second build loads the cache, identical; overwriteCache rebuilds', () => {
  const cacheRoot = sliceRoot();
  const c = new NsmcCorpus(settingsFor(cacheRoot));
  const first = build('validation', {}, { root: cacheRoot, corpus: c });
  assert.equal(first.ds.fromCache, false);
  assert.match(first.lines.join('\n'), /tokenizing \d+ validation examples/);
  assert.ok(first.ds.cachePath.startsWith(path.join(cacheRoot, 'nsmc', 'cache', 'cached_validation_kcbert-base_128_document-classification_')));
  assert.ok(fs.existsSync(first.ds.cachePath));
  const second = build('validation', {}, { root: cacheRoot, corpus: c });
  assert.equal(second.ds.fromCache, true);
  assert.deepEqual(second.lines, []);
  assert.equal(second.ds.cachePath, first.ds.cachePath);
  assert.equal(second.ds.length, first.ds.length);
  assert.deepEqual(sources(second.ds), sources(first.ds));
  assert.deepEqual(second.ds.lengths(), first.ds.lengths());
  assert.deepEqual(second.ds.labels(), first.ds.labels());
  for (let i = 0; i < first.ds.length; i++) assert.deepEqual(second.ds.get(i).inputIds, first.ds.get(i).inputIds);

  const stamp = new Date(2000, 0, 1);
  fs.utimesSync(first.ds.cachePath, stamp, stamp);
  const rebuilt = build('validation', { overwriteCache: true }, { root: cacheRoot, corpus: c });
  assert.equal(rebuilt.ds.fromCache, false);
  assert.match(rebuilt.lines.join('\n'), /tokenizing/);
  assert.ok(fs.statSync(first.ds.cachePath).mtimeMs > stamp.getTime(), 'the file was written again');
  assert.deepEqual(rebuilt.ds.lengths(), first.ds.lengths());
});

test('the cache key covers maxSeqLength, seed, validationFraction, mode, task, tokenizer and corpus', () => {
  // A fresh root, so nothing is cached yet.
  const keyRoot = sliceRoot(1500, 100);
  const keyCorpus = new NsmcCorpus(settingsFor(keyRoot));
  const make = (mode: DatasetMode, overrides: Partial<Settings> = {}, tok = tokenizer) =>
    build(mode, overrides, { root: keyRoot, corpus: keyCorpus, tokenizer: tok });
  const base = make('train').ds;
  const paths = new Set<string>([base.cachePath]);
  const expectNew = (ds: ClassificationDataset, what: string) => {
    assert.ok(!paths.has(ds.cachePath), `${what} must change the cache file`);
    assert.equal(ds.fromCache, false, `${what}: built, not loaded`);
    paths.add(ds.cachePath);
  };
  expectNew(make('train', { maxSeqLength: 64 }).ds, 'maxSeqLength');
  expectNew(make('train', { seed: 123 }).ds, 'seed');
  expectNew(make('train', { validationFraction: 0.05 }).ds, 'validationFraction');
  expectNew(make('validation').ds, 'mode');
  expectNew(make('train', { downstreamTaskName: 'other-task' }).ds, 'task name');

  // Another tokenizer: the same vocabulary but lower-casing.
  const tokDir = tempDir('nlpbook-tok-');
  fs.copyFileSync(path.join(KCBERT_DIR, 'vocab.txt'), path.join(tokDir, 'vocab.txt'));
  fs.writeFileSync(path.join(tokDir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: true, model_max_length: 300 }));
  const lower = BertTokenizer.fromFolder(tokDir, 'kcbert-base');
  assert.notEqual(lower.fingerprint(), tokenizer.fingerprint());
  expectNew(make('train', {}, lower).ds, 'tokenizer');

  // Another corpus file under the same root: fewer rows.
  const smallerRoot = sliceRoot(TRAIN_ROWS);
  const before = build('train', {}, { root: smallerRoot, corpus: new NsmcCorpus(settingsFor(smallerRoot)) }).ds;
  const trainFile = path.join(smallerRoot, 'nsmc', 'ratings_train.txt');
  fs.writeFileSync(trainFile, fs.readFileSync(trainFile, 'utf8').split('\n').slice(0, 1001).join('\n') + '\n');
  const after = build('train', {}, { root: smallerRoot, corpus: new NsmcCorpus(settingsFor(smallerRoot)) }).ds;
  assert.notEqual(after.cachePath, before.cachePath);
  assert.equal(after.fromCache, false);
  assert.ok(after.length < 1000 && after.length > 850);

  // The test split does not depend on the hold-out: one cache for every seed.
  const test1 = make('test', { seed: 1 }).ds;
  const test2 = make('test', { seed: 2, validationFraction: 0.3 }).ds;
  assert.equal(test2.cachePath, test1.cachePath);
  assert.equal(test2.fromCache, true);

  // Loading through another name for the same tokenizer reuses the cache.
  const renamed = BertTokenizer.fromFolder(KCBERT_DIR, 'beomi/kcbert-base');
  const again = make('train', {}, renamed).ds;
  assert.equal(again.cachePath, base.cachePath);
  assert.equal(again.fromCache, true);
});

test('a corrupt or foreign cache file is rebuilt with a one-line notice', () => {
  const cacheRoot = sliceRoot(800, 50);
  const c = new NsmcCorpus(settingsFor(cacheRoot));
  const good = build('train', {}, { root: cacheRoot, corpus: c }).ds;
  const file = good.cachePath;
  const original = fs.readFileSync(file);
  const damage: [string, (b: Buffer) => Buffer][] = [
    ['flipped payload byte', (b) => {
      const copy = Buffer.from(b);
      copy[copy.length - 900] ^= 0x55;
      return copy;
    }],
    ['truncated', (b) => b.subarray(0, b.length - 10)],
    ['empty', () => Buffer.alloc(0)],
    ['not a features file', () => Buffer.from('hello world, this is not a cache')],
    ['header for other settings', (b) => Buffer.from(b.toString('latin1').replace('"maxSeqLength":128', '"maxSeqLength":256'), 'latin1')],
  ];
  for (const [what, corrupt] of damage) {
    fs.writeFileSync(file, corrupt(original));
    const { ds, lines } = build('train', {}, { root: cacheRoot, corpus: c });
    assert.equal(ds.fromCache, false, what);
    assert.equal(lines.length, 2, `${what}: ${lines.join(' | ')}`);
    assert.match(lines[0], /^nlpbook: features cache .* is unusable \(.+\); rebuilding it$/, what);
    assert.deepEqual(ds.lengths(), good.lengths(), what);
    // The rebuilt file is good again.
    assert.deepEqual(fs.readFileSync(file), original, `${what}: rewritten identically`);
    assert.equal(build('train', {}, { root: cacheRoot, corpus: c }).ds.fromCache, true, what);
  }
});

test('bad settings are refused with one-line errors', () => {
  assert.throws(() => build('train', { validationFraction: 1 }), /settings\.validationFraction: expected a number in \[0, 1\)/);
  assert.throws(() => build('train', { maxSeqLength: 1 }), /settings\.maxSeqLength/);
  assert.throws(() => build('dev' as DatasetMode), /dataset mode: expected "train", "validation" or "test"/);
});
