// MLM pretraining (course step 3b) on a tiny BERT and a slice of NSMC's TRAINING file:
// the masking rules, the sequences, that training lowers the loss, that the saved folder
// loads as a classifier like kcbert-base does, exact resume, reuse of a finished model,
// one-line errors for bad settings, that the test split is never read, and the CLI
// (including a process killed with SIGKILL that resumes and ends like a straight run).
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { initBackend, tf } from '../src/util/backend';
import { maxWeightDifference } from '../src/train/index';
import { NlpbookError } from '../src/util/errors';
import { fillMask } from '../src/pretrain/index';
import { maskBatch, maskCandidates, maskingVocab, maskRateAt, maskSequence, tokensToPredict, type MaskingOptions, type MaskingVocab } from '../src/pretrain/masking';
import { BertForMaskedLM, BertForSequenceClassification } from '../src/model/index';
import { pretrain, pretrainMetrics, PRETRAIN_RESULT_FILE, type PretrainOptions, type RunSpeed } from '../src/pretrain/pretrain';
import { buildSequences, SequenceStore, taskLabels } from '../src/pretrain/pretrain-data';
import { NsmcCorpus } from '../src/corpus/index';
import { ClassificationDataset } from '../src/data/index';
import { makeSettings } from '../src/settings/index';
import {
  makePretrainSettings, parsePretrainSetArgs, pretrainConflicts, PRETRAIN_SETTINGS_FILE, validatePretrainSettings, type PretrainSettings,
} from '../src/pretrain/pretrain-settings';
import { crossEntropy, linearSchedule, lrAt, sparseCrossEntropy } from '../src/task/index';
import { Rng } from '../src/util/random';
import { frequentTokenIds, SoftmaxRowPicker, tokenCounts, UNSEEN_TOKEN_BIAS } from '../src/pretrain/seen-tokens';
import { BertTokenizer } from '../src/tokenizer/index';
import { KCBERT_DIR, NSMC_DIR, REPO, runCli, tempDir } from './helpers';

const TRAIN_ROWS = 300;
let tokenizer: BertTokenizer;
let vocab: MaskingVocab;
let corpusRoot: string;
let sentences: string[];
const quiet: PretrainOptions['log'] = () => {};
const BERT: MaskingOptions = { maskProb: 0.15, maskTokenProb: 0.8, randomTokenProb: 0.1, wholeWordMasking: true };

/**
 * A corpus root with the first rows of NSMC's training file, and in place of
 * ratings_test.txt a FOLDER: anything that tried to read or hash the test split would fail.
 */
function trainOnlyCorpus(rows: number): string {
  const root = tempDir('nlpbook-pretrain-corpus-');
  fs.mkdirSync(path.join(root, 'nsmc', 'ratings_test.txt'), { recursive: true });
  const lines = fs.readFileSync(path.join(NSMC_DIR, 'ratings_train.txt'), 'utf8').split('\n').slice(0, rows + 1);
  fs.writeFileSync(path.join(root, 'nsmc', 'ratings_train.txt'), `${lines.join('\n')}\n`);
  return root;
}

before(async () => {
  await initBackend();
  tokenizer = BertTokenizer.fromFolder(KCBERT_DIR);
  vocab = maskingVocab(tokenizer);
  corpusRoot = trainOnlyCorpus(TRAIN_ROWS);
  sentences = fs.readFileSync(path.join(NSMC_DIR, 'ratings_train.txt'), 'utf8').split('\n').slice(1, 2001).map((l) => l.split('\t')[1]).filter(Boolean);
});

/** Tiny-model settings on the train-only slice, writing to a fresh folder. */
function tiny(overrides: Partial<PretrainSettings> = {}): PretrainSettings {
  return makePretrainSettings({
    tokenizer: KCBERT_DIR,
    corpusRootDir: corpusRoot,
    outputDir: path.join(tempDir('nlpbook-pretrain-'), 'model'),
    layers: 1, hidden: 32, heads: 2, intermediate: 64, maxPositions: 64, maxSeqLength: 64,
    batchSize: 32, steps: 20, learningRate: 1e-2, warmupRatio: 0.1, heldOutDocuments: 40,
    logEverySteps: 5, tqdmEnabled: false, checkpointEveryMinutes: 0,
    ...overrides,
  });
}

const run = (s: PretrainSettings, options: PretrainOptions = {}) => pretrain(s, { tokenizer, log: quiet, ...options });

describe('masking', () => {
  test('15% of the real tokens are chosen; of those 80% [MASK], 10% random, 10% kept', () => {
    const rng = new Rng(1);
    const n = 200;
    let chosen = 0;
    let real = 0;
    const kinds = { mask: 0, random: 0, kept: 0 };
    for (let draw = 0; draw < 300; draw++) {
      const ids = [tokenizer.clsTokenId, ...Array.from({ length: n }, () => 5 + rng.int(tokenizer.vocabSize - 5)), tokenizer.sepTokenId];
      const m = maskSequence(ids, vocab, BERT, rng);
      real += n;
      chosen += m.positions.length;
      assert.equal(m.positions.length, tokensToPredict(n, 0.15)); // 30: single pieces always fit
      m.positions.forEach((p, k) => {
        assert.equal(m.labels[k], ids[p], 'the label is the original token');
        const shown = m.inputIds[p];
        if (shown === tokenizer.maskTokenId) kinds.mask++;
        else if (shown === ids[p]) kinds.kept++;
        else {
          kinds.random++;
          assert.equal(vocab.special[shown], 0, 'random replacements are never special tokens');
        }
      });
      // Positions not chosen are untouched.
      const chosenSet = new Set(m.positions);
      for (let i = 0; i < ids.length; i++) if (!chosenSet.has(i)) assert.equal(m.inputIds[i], ids[i]);
    }
    assert.equal(chosen / real, 0.15);
    const total = kinds.mask + kinds.random + kinds.kept;
    assert.ok(Math.abs(kinds.mask / total - 0.8) < 0.02, `[MASK] share ${kinds.mask / total}`);
    assert.ok(Math.abs(kinds.random / total - 0.1) < 0.02, `random share ${kinds.random / total}`);
    assert.ok(Math.abs(kinds.kept / total - 0.1) < 0.02, `kept share ${kinds.kept / total}`);
  });

  test('special tokens and padding are never chosen; every sequence gets at least one; a batch is padded and flat-indexed', () => {
    const rng = new Rng(2);
    const { clsTokenId: cls, sepTokenId: sep, unkTokenId: unk, maskTokenId } = tokenizer;
    const seqs = [
      [cls, 100, unk, 200, sep, 300, sep],
      [cls, 400, sep],
      [cls, maskTokenId!, 500, 600, 700, sep],
    ];
    for (let draw = 0; draw < 200; draw++) {
      const b = maskBatch(seqs, vocab, BERT, rng);
      assert.equal(b.length, 7);
      assert.equal(b.batch, 3);
      assert.deepEqual([...b.attentionMask!], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0]);
      assert.equal(b.realTokens, 16);
      const rowsHit = new Set<number>();
      b.positions.forEach((flat, k) => {
        const row = Math.floor(flat / b.length);
        const col = flat % b.length;
        rowsHit.add(row);
        assert.ok(col < seqs[row].length, 'never padding');
        assert.equal(vocab.special[seqs[row][col]], 0, `never a special token (row ${row} col ${col})`);
        assert.equal(b.labels[k], seqs[row][col]);
      });
      assert.deepEqual([...rowsHit].sort(), [0, 1, 2], 'each sequence has at least one chosen token');
      for (let i = 0; i < b.inputIds.length; i++) if (b.attentionMask![i] === 0) assert.equal(b.inputIds[i], tokenizer.padTokenId);
    }
    // A batch without padding has no mask at all (the model skips it).
    assert.equal(maskBatch([seqs[0], seqs[0]], vocab, BERT, rng).attentionMask, null);
  });

  test('whole-word masking chooses every ## piece of a word together; without it, words get split', () => {
    const split = (wholeWordMasking: boolean) => {
      const rng = new Rng(3);
      let partial = 0;
      let chosenTotal = 0;
      let realTotal = 0;
      for (const text of sentences.slice(0, 400)) {
        const ids = tokenizer.encode(text, { maxLength: 64 }).inputIds;
        const words = maskCandidates(ids, vocab, true);
        const m = maskSequence(ids, vocab, { ...BERT, wholeWordMasking }, rng);
        const chosen = new Set(m.positions);
        for (const w of words) {
          const hit = w.filter((p) => chosen.has(p)).length;
          if (hit > 0 && hit < w.length) partial++;
        }
        chosenTotal += m.positions.length;
        realTotal += words.reduce((a, w) => a + w.length, 0);
      }
      return { partial, share: chosenTotal / realTotal };
    };
    const wwm = split(true);
    const pieces = split(false);
    assert.equal(wwm.partial, 0, 'no word is ever partly chosen');
    assert.ok(pieces.partial > 20, `without whole-word masking words are split (${pieces.partial})`);
    // Short sentences get at least one token, so the share is a little over 15%.
    for (const r of [wwm, pieces]) assert.ok(r.share > 0.14 && r.share < 0.2, `chosen share ${r.share}`);
    // A short sentence whose every word is longer than the target still gets one whole word.
    const twoPieceWords = tokenizer.encode('재밌었어요 기대됩니다').inputIds;
    assert.equal(tokensToPredict(maskCandidates(twoPieceWords, vocab, true).flat().length, 0.15), 1);
    for (let seed = 0; seed < 20; seed++) {
      const m = maskSequence(twoPieceWords, vocab, BERT, new Rng(seed));
      const words = maskCandidates(twoPieceWords, vocab, true);
      assert.ok(words.some((w) => JSON.stringify(w) === JSON.stringify(m.positions)), `one whole word: ${m.positions}`);
    }
    // The grouping itself: "##" pieces join the piece before them, specials split words.
    const ids = tokenizer.encode('재밌었어요 완전').inputIds;
    const tokens = ids.map((id) => tokenizer.idToToken(id)!);
    const groups = maskCandidates(ids, vocab, true).map((g) => g.map((p) => tokens[p]).join(' '));
    assert.ok(groups.every((g) => !g.startsWith('##')), JSON.stringify(groups));
    assert.equal(groups.join(' '), tokens.slice(1, -1).join(' '));
  });

  test('a falling masking rate runs in a straight line from maskProb at the first step to maskProbEnd at the last', () => {
    assert.equal(maskRateAt(0.4, 0, 0, 100), 0.4, 'maskProbEnd 0: the fixed rate');
    assert.equal(maskRateAt(0.4, 0, 99, 100), 0.4);
    assert.equal(maskRateAt(0.55, 0.25, 0, 101), 0.55);
    assert.ok(Math.abs(maskRateAt(0.55, 0.25, 50, 101) - 0.4) < 1e-12);
    assert.ok(Math.abs(maskRateAt(0.55, 0.25, 100, 101) - 0.25) < 1e-12);
    assert.ok(Math.abs(maskRateAt(0.55, 0.25, 150, 101) - 0.25) < 1e-12, 'past the plan (a budget cut short by a replan): the end rate');
  });

  test('the same generator state gives the same masks', () => {
    const ids = tokenizer.encode(sentences[0]).inputIds;
    assert.deepEqual(maskSequence(ids, vocab, BERT, new Rng(9)), maskSequence(ids, vocab, BERT, new Rng(9)));
  });
});

describe('sequences', () => {
  const pieces = new SequenceStore(Int32Array.from([10, 11, 12, 20, 21, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39]), Int32Array.from([0, 3, 5, 15]));
  const ids = { clsTokenId: 2, sepTokenId: 3, padTokenId: 0 };
  test('one document per sequence: [CLS] pieces [SEP], cut to maxSeqLength', () => {
    const s = buildSequences(pieces, [0, 1, 2], vocab, { ...ids, maxSeqLength: 8, packing: false });
    assert.deepEqual([0, 1, 2].map((i) => [...s.sequence(i)]), [[2, 10, 11, 12, 3], [2, 20, 21, 3], [2, 30, 31, 32, 33, 34, 35, 3]]);
  });
  test('packing: [CLS] d1 [SEP] d2 [SEP] ... up to maxSeqLength; long documents split', () => {
    const s = buildSequences(pieces, [0, 1, 2], vocab, { ...ids, maxSeqLength: 8, packing: true });
    assert.deepEqual([...Array(s.length).keys()].map((i) => [...s.sequence(i)]), [
      [2, 10, 11, 12, 3, 20, 21, 3],
      [2, 30, 31, 32, 33, 34, 35, 3],
      [2, 36, 37, 38, 39, 3],
    ]);
  });
});

describe('pretrain', () => {
  /** The 40-step run several tests compare with: run once, by whichever test needs it first (so any one test runs alone). */
  let straightRun: Promise<{ straightSettings: PretrainSettings; straight: Awaited<ReturnType<typeof run>> }> | undefined;
  const straightOnce = () => (straightRun ??= (async () => {
    const straightSettings = tiny({ steps: 40 });
    return { straightSettings, straight: await run(straightSettings) };
  })());

  test('trains (loss falls), saves a Hugging Face folder that loads as a classifier like kcbert-base', async () => {
    const { straightSettings, straight } = await straightOnce();
    const dir = straightSettings.outputDir!;
    assert.equal(straight.finished, true);
    assert.equal(straight.steps, 40);
    assert.equal(straight.stoppedBy, 'steps');
    assert.equal(straight.data.documents, TRAIN_ROWS, 'the train slice\'s documents, nothing else');
    assert.equal(straight.data.heldOutDocuments, 40);

    const { train, heldout } = pretrainMetrics(dir);
    assert.deepEqual(train.map((l) => l.step), [5, 10, 15, 20, 25, 30, 35, 40]);
    const first = train[0].loss;
    const last = train[train.length - 1].loss;
    assert.ok(last < first - 1.5, `MLM loss ${first.toFixed(3)} -> ${last.toFixed(3)}: expected a clear fall`);
    assert.ok(first > 9 && first < 11, `starts near ln(30000) = 10.3: ${first}`);
    assert.equal(heldout.length, 1);
    assert.ok(straight.mlmLoss !== null && straight.mlmLoss < first - 1, `held-out loss ${straight.mlmLoss}`);
    assert.ok(straight.mlmAccuracy !== null && straight.mlmAccuracy > 0 && straight.mlmAccuracy < 1);
    assert.ok(straight.heldOutMasked > 40);

    for (const f of ['config.json', 'model.safetensors', 'vocab.txt', 'tokenizer_config.json', 'tokenizer.json', PRETRAIN_SETTINGS_FILE, PRETRAIN_RESULT_FILE, 'metrics.jsonl']) {
      assert.ok(fs.existsSync(path.join(dir, f)), f);
    }
    assert.ok(!fs.existsSync(path.join(dir, 'checkpoints')), 'the resume checkpoint is removed once the model is saved');
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    assert.deepEqual(config.architectures, ['BertForMaskedLM']);
    assert.deepEqual([config.vocab_size, config.hidden_size, config.num_hidden_layers, config.num_attention_heads, config.max_position_embeddings], [30000, 32, 1, 2, 64]);

    // Step 3 loads it like kcbert-base: only the new head (and the pooler MLM never trains) are fresh.
    const classifier = BertForSequenceClassification.fromPretrained(dir, { numLabels: 2, quiet: true });
    assert.deepEqual(classifier.loadReport!.missingKeys.sort(), ['bert.pooler.dense.bias', 'bert.pooler.dense.weight', 'classifier.bias', 'classifier.weight']);
    assert.deepEqual(classifier.loadReport!.unexpectedKeys.sort(), [
      'cls.predictions.bias', 'cls.predictions.transform.LayerNorm.bias', 'cls.predictions.transform.LayerNorm.weight',
      'cls.predictions.transform.dense.bias', 'cls.predictions.transform.dense.weight',
    ]);
    classifier.dispose();
    assert.equal(BertTokenizer.fromFolder(dir).fingerprint(), tokenizer.fingerprint(), 'the saved tokenizer is kcbert\'s');

    // And back as a masked-language model: fill-mask gives k candidates, most likely first.
    const mlm = BertForMaskedLM.fromPretrained(dir, { quiet: true });
    assert.deepEqual(mlm.loadReport!.missingKeys, []);
    const [candidates] = fillMask(mlm, tokenizer, '이 영화 정말 [MASK]', 4);
    assert.equal(candidates.length, 4);
    assert.ok(candidates.every((c, i) => i === 0 || c.score <= candidates[i - 1].score));
    assert.ok(candidates.every((c) => c.sequence.startsWith('이 영화 정말') && typeof c.token === 'string'));
    mlm.dispose();
  });

  test('a run stopped part-way and resumed equals a straight run (weights and metrics)', async () => {
    const { straightSettings, straight } = await straightOnce();
    const s = { ...straightSettings, outputDir: path.join(tempDir('nlpbook-pretrain-'), 'model') };
    const stopped = await run(s, { stopAt: { steps: 13 } });
    assert.equal(stopped.finished, false);
    assert.equal(stopped.steps, 13);
    assert.ok(fs.existsSync(path.join(s.outputDir!, 'checkpoints', 'last', 'optimizer.safetensors')));
    assert.ok(!fs.existsSync(path.join(s.outputDir!, PRETRAIN_RESULT_FILE)), 'not finished: no result file');
    const resumed = await run(s);
    assert.equal(resumed.finished, true);
    assert.equal(resumed.resumedFrom, 13);
    assert.equal(resumed.steps, 40);
    assert.equal(maxWeightDifference(straightSettings.outputDir!, s.outputDir!), 0);
    const strip = (dir: string) => pretrainMetrics(dir).train.map(({ seconds: _s, tokensPerSecond: _t, ...rest }) => rest);
    assert.deepEqual(strip(s.outputDir!), strip(straightSettings.outputDir!));
    assert.equal(resumed.mlmLoss, straight.mlmLoss);
  });

  test('replan: the steps planned again after a step, from the run\'s own speed; the schedule ends at the new last step, and a resume after it equals a straight run', async () => {
    const { straightSettings } = await straightOnce();
    const speeds: RunSpeed[] = [];
    const replan = { atStep: 25, steps: (speed: RunSpeed) => (speeds.push(speed), 50) };
    const lines: string[] = [];
    const s = { ...straightSettings, outputDir: path.join(tempDir('nlpbook-pretrain-'), 'model') };
    const r = await run(s, { replan, log: (l: string) => lines.push(l) });
    assert.deepEqual([r.finished, r.steps, r.totalSteps, r.replanned?.atStep, r.replanned?.fromSteps, r.replanned?.steps], [true, 50, 50, 25, 40, 50]);
    assert.equal(speeds.length, 1);
    const [speed] = speeds;
    assert.deepEqual([speed.step, speed.totalSteps, speed.fromStep], [25, 40, 20]);
    assert.ok(speed.tokensPerSecond > 0, `${speed.tokensPerSecond} tokens/s`);
    assert.equal(speed.tokensPerStep, r.data.trainTokens / Math.ceil(r.data.trainSequences / s.batchSize));
    const said = lines.find((l) => l.includes('steps planned again'));
    assert.match(said ?? lines.join('\n'), /^nlpbook: steps planned again at step 25: \d+ tokens\/s since step 20 -> 50 steps \([\d.]+ epochs\), \+10 on the plan$/);
    // Up to the replan the run is the 40-step run; after it, the rate decays to 0 at step 50.
    const strip = (dir: string) => pretrainMetrics(dir).train.map(({ seconds: _s, tokensPerSecond: _t, ...rest }) => rest);
    const replanned = strip(s.outputDir!);
    assert.deepEqual(replanned.slice(0, 5), strip(straightSettings.outputDir!).slice(0, 5));
    assert.deepEqual(replanned.map((l) => l.step), [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]);
    const schedule = linearSchedule(s, 50);
    assert.equal(replanned[5].lr, lrAt(schedule, 29));
    assert.equal(replanned[9].lr, lrAt(schedule, 49));
    assert.ok(replanned[5].lr > lrAt(linearSchedule(s, 40), 29), 'a longer run decays more slowly');
    // The saved settings are the plan the run followed: a resume continues it.
    assert.equal(JSON.parse(fs.readFileSync(path.join(s.outputDir!, PRETRAIN_SETTINGS_FILE), 'utf8')).steps, 50);
    const t = { ...s, outputDir: path.join(tempDir('nlpbook-pretrain-'), 'model') };
    assert.equal((await run(t, { replan, stopAt: { steps: 33 } })).finished, false);
    const saved = JSON.parse(fs.readFileSync(path.join(t.outputDir!, 'checkpoints', 'last', 'trainer-state.json'), 'utf8'));
    assert.deepEqual([saved.step, saved.totalSteps, saved.settings.steps], [33, 50, 50]);
    const resumed = await run({ ...t, steps: 50 }, { replan });
    assert.deepEqual([resumed.finished, resumed.resumedFrom, resumed.steps, resumed.replanned], [true, 33, 50, null]);
    assert.equal(maxWeightDifference(s.outputDir!, t.outputDir!), 0);
    assert.deepEqual(strip(t.outputDir!), replanned);
  });

  test('replan every N steps: each later look reads the speed since the look before, the schedule follows the last plan, and a resume after a later look equals a straight run', async () => {
    const { straightSettings } = await straightOnce();
    const speeds: RunSpeed[] = [];
    const totals = [50, 46, 46];
    const replan = { atStep: 25, everySteps: 10, steps: (speed: RunSpeed) => (speeds.push(speed), totals[speeds.length - 1]) };
    const lines: string[] = [];
    const s = { ...straightSettings, outputDir: path.join(tempDir('nlpbook-pretrain-'), 'model') };
    const r = await run(s, { replan, log: (l: string) => lines.push(l) });
    assert.deepEqual([r.finished, r.steps, r.totalSteps], [true, 46, 46]);
    assert.deepEqual(r.replanned && { ...r.replanned, tokensPerSecond: 0, lastTokensPerSecond: 0, passes: 0 },
      { atStep: 25, fromSteps: 40, steps: 46, passes: 0, tokensPerSecond: 0, looks: 3, lastAtStep: 45, lastTokensPerSecond: 0 });
    assert.deepEqual(speeds.map((x) => [x.step, x.totalSteps, x.fromStep]), [[25, 40, 20], [35, 50, 25], [45, 46, 35]]);
    assert.ok(speeds.every((x) => x.tokensPerSecond > 0 && x.sessionTokensPerSecond > 0));
    assert.equal(speeds[0].sessionTokensPerSecond, speeds[0].tokensPerSecond, 'at the first look the session so far is the stretch measured');
    assert.deepEqual(lines.filter((l) => l.includes('steps planned again')).map((l) => l.replace(/: \d+ tokens\/s/, ': N tokens/s').replace(/\([\d.]+ epochs\)/, '(E epochs)')), [
      'nlpbook: steps planned again at step 25: N tokens/s since step 20 -> 50 steps (E epochs), +10 on the plan',
      'nlpbook: steps planned again at step 35: N tokens/s since step 25 -> 46 steps (E epochs), -4 on the plan',
      'nlpbook: steps planned again at step 45: N tokens/s since step 35 -> 46 steps (E epochs), +0 on the plan',
    ]);
    // Between the looks the rate follows the plan of the look before; after the last, it decays to 0 at step 46.
    const strip = (dir: string) => pretrainMetrics(dir).train.map(({ seconds: _s, tokensPerSecond: _t, ...rest }) => rest);
    const replanned = strip(s.outputDir!);
    assert.deepEqual(replanned.map((l) => l.step), [5, 10, 15, 20, 25, 30, 35, 40, 45, 46]);
    assert.equal(replanned[5].lr, lrAt(linearSchedule(s, 50), 29));
    assert.equal(replanned[7].lr, lrAt(linearSchedule(s, 46), 39));
    assert.equal(replanned[9].lr, lrAt(linearSchedule(s, 46), 45));
    const t = { ...s, outputDir: path.join(tempDir('nlpbook-pretrain-'), 'model') };
    speeds.length = 0;
    assert.equal((await run(t, { replan, stopAt: { steps: 38 } })).finished, false);
    const saved = JSON.parse(fs.readFileSync(path.join(t.outputDir!, 'checkpoints', 'last', 'trainer-state.json'), 'utf8'));
    assert.deepEqual([saved.step, saved.totalSteps, saved.settings.steps], [38, 46, 46]);
    const resumed = await run({ ...t, steps: 46 }, { replan });
    assert.deepEqual([resumed.finished, resumed.resumedFrom, resumed.steps, resumed.replanned], [true, 38, 46, null]);
    assert.equal(maxWeightDifference(s.outputDir!, t.outputDir!), 0);
    assert.deepEqual(strip(t.outputDir!), replanned);
  });

  test('bf16: trains with bfloat16 matmuls, says so in its start line, and ends near the float32 run', async () => {
    const results = [];
    for (const bf16 of [false, true]) {
      const lines: string[] = [];
      results.push(await run(tiny({ bf16, dropout: false }), { log: (l: string) => lines.push(l) }));
      const start = lines.find((l) => l.startsWith('nlpbook: pretraining BERT'));
      assert.ok(start, lines.join('\n'));
      assert.equal(start.includes(', bf16 matmuls'), bf16, start);
    }
    const [f32, bf16] = results.map((r) => r.mlmLoss!);
    assert.notEqual(bf16, f32);
    assert.ok(Math.abs(bf16 - f32) < 0.05 * f32, `held-out MLM loss ${bf16} with bf16, ${f32} without`);
  });

  test('predictSeenTokensOnly: scores the tokens of the pretraining documents only, says so, saves the others at UNSEEN_TOKEN_BIAS, learns as well', async () => {
    const results = [];
    let start = '';
    for (const predictSeenTokensOnly of [false, true]) {
      const lines: string[] = [];
      const s = tiny({ predictSeenTokensOnly, dropout: false });
      results.push({ r: await run(s, { log: (l: string) => lines.push(l) }), dir: s.outputDir! });
      start = lines.find((l) => l.startsWith('nlpbook: pretraining BERT')) ?? lines.join('\n');
      assert.equal(/predicting the [\d,]+ tokens seen of 30,000/.test(start), predictSeenTokensOnly, start);
    }
    const seen = Number(/predicting the ([\d,]+) tokens/.exec(start)![1].replace(/,/g, ''));
    assert.ok(seen > 1000 && seen < 30000, start);
    const model = BertForMaskedLM.fromPretrained(results[1].dir, { quiet: true });
    const bias = model.weights.get('cls.predictions.bias')!.dataSync();
    assert.equal(bias.filter((b) => b === UNSEEN_TOKEN_BIAS).length, 30000 - seen, 'every unseen token, and only those, at -10000');
    model.dispose();
    // Every held-out label is scored (its ids are counted as seen), so the held-out loss stays finite and near the full vocabulary's.
    const [all, trimmed] = results.map((x) => x.r.mlmLoss!);
    assert.ok(trimmed < 1.05 * all, `held-out MLM loss ${trimmed} predicting seen tokens, ${all} with all 30,000`);
    assert.throws(() => makePretrainSettings({ predictSeenTokensOnly: true, objective: 'electra' }), /predictSeenTokensOnly.*needs objective "mlm"/);
  });

  test('softmaxTokens: each step scores the most frequent training tokens and its own labels, says so, learns nearly as well, graph and eager alike; held-out scores use the full softmax', async () => {
    const full = await run(tiny({ predictSeenTokensOnly: true, dropout: false }));
    const results = [];
    for (const graph of [true, false]) {
      const lines: string[] = [];
      results.push(await run(tiny({ predictSeenTokensOnly: true, softmaxTokens: 256, dropout: false }), { log: (l: string) => lines.push(l), graph }));
      const start = lines.find((l) => l.startsWith('nlpbook: pretraining BERT')) ?? lines.join('\n');
      assert.match(start, /, each step's softmax over the 256 most frequent tokens and the batch's labels/);
    }
    const [sampled, eager] = results.map((r) => r.mlmLoss!);
    // 256 rows and the labels stand in for the ~3,000 seen: a different run, near the full one.
    assert.notEqual(sampled, full.mlmLoss);
    assert.ok(sampled < 1.1 * full.mlmLoss!, `held-out MLM loss ${sampled} sampled, ${full.mlmLoss} full`);
    assert.ok(Math.abs(eager - sampled) < 0.02 * sampled, `held-out MLM loss ${eager} eager, ${sampled} graph`);
    assert.throws(() => makePretrainSettings({ softmaxTokens: 256, objective: 'electra' }), /softmaxTokens.*needs objective "mlm"/);
  });

  test('softmaxTokens picks the most frequent non-special training tokens (ties: the lower id), then each batch\'s other labels, shifted by −log Q', () => {
    const special = new Uint8Array(20).fill(1, 0, 5);
    const vocab: MaskingVocab = { vocabSize: 20, maskTokenId: 4, padTokenId: 0, special, continuation: new Uint8Array(20) };
    const store = new SequenceStore(Int32Array.from([2, 10, 11, 10, 3, 2, 12, 10, 11, 13, 3]), Int32Array.from([0, 5, 11]));
    const tokens = tokenCounts(store, vocab);
    assert.equal(tokens.total, 7, 'the specials [CLS] and [SEP] are not counted');
    assert.deepEqual(frequentTokenIds(tokens.counts, 2), [10, 11]);
    assert.deepEqual(frequentTokenIds(tokens.counts, 3), [10, 11, 12]);
    assert.deepEqual(frequentTokenIds(tokens.counts, 100), [10, 11, 12, 13]);
    const rows = new SoftmaxRowPicker(tokens, 2).pick([13, 10, 13, 12, 11]);
    assert.deepEqual([...rows.ids], [10, 11, 13, 12]);
    assert.deepEqual([...rows.targets], [2, 0, 2, 3, 1]);
    // The frequent rows are always scored (Q = 1); 12 and 13 each make 1 of the 7 tokens, so with 5 labels Q = 1 − (6/7)^5.
    const shift = -Math.log(1 - (6 / 7) ** 5);
    assert.deepEqual([...rows.shift].map((x) => +x.toFixed(5)), [0, 0, shift, shift].map((x) => +x.toFixed(5)));
  });

  test('a task objective learns the labels less fine-tuning\'s validation split, resumes exactly, and leaves its trained head to fine-tuning', async () => {
    const s = tiny({ steps: 40, taskWeight: 1, dropout: false });
    // The labels it may see: every training document except the validation split that
    // fine-tuning, with the same fraction and seed, draws from the same file.
    const corpus = new NsmcCorpus({ downstreamCorpusRootDir: corpusRoot, forceDownload: false, corpusMirror: null, emptyDocuments: 'keep', tqdmEnabled: false });
    const validation = new ClassificationDataset(makeSettings({ downstreamCorpusRootDir: corpusRoot, seed: s.seed, validationFraction: s.validationFraction, maxSeqLength: 64 }),
      corpus, tokenizer, 'validation', { log: quiet });
    const examples = corpus.examples('train');
    const held = new Set(Array.from({ length: validation.length }, (_, i) => examples[validation.sourceIndex(i)].id));
    assert.equal(held.size, Math.round(TRAIN_ROWS * s.validationFraction));
    const labels = taskLabels([{ kind: 'nsmc-train', corpus }], s);
    assert.deepEqual([...labels], examples.map((e) => (held.has(e.id) ? -1 : e.label)));

    const straightRun = await run(s);
    assert.ok(straightRun.data.labelledSequences! > 0 && straightRun.data.labelledSequences! < straightRun.data.trainSequences - held.size + 40);
    const { train } = pretrainMetrics(s.outputDir!);
    assert.ok(train.every((l) => typeof l.taskLoss === 'number' && typeof l.taskAccuracy === 'number'), 'each train line has the task\'s loss and accuracy');
    const config = JSON.parse(fs.readFileSync(path.join(s.outputDir!, 'config.json'), 'utf8'));
    assert.deepEqual(config.architectures, ['BertForMaskedLM', 'BertForSequenceClassification']);
    // Fine-tuning starts from the trained pooler and classifier: nothing is new.
    const classifier = BertForSequenceClassification.fromPretrained(s.outputDir!, { quiet: true });
    assert.deepEqual(classifier.loadReport!.missingKeys, []);
    classifier.dispose();
    const mlm = BertForMaskedLM.fromPretrained(s.outputDir!, { quiet: true });
    assert.deepEqual(mlm.loadReport!.missingKeys, []);
    mlm.dispose();

    const r = { ...s, outputDir: path.join(tempDir('nlpbook-pretrain-'), 'model') };
    assert.equal((await run(r, { stopAt: { steps: 13 } })).finished, false);
    const resumed = await run(r);
    assert.equal(resumed.resumedFrom, 13);
    assert.equal(maxWeightDifference(s.outputDir!, r.outputDir!), 0);
    const strip = (dir: string) => pretrainMetrics(dir).train.map(({ seconds: _s, tokensPerSecond: _t, ...rest }) => rest);
    assert.deepEqual(strip(r.outputDir!), strip(s.outputDir!));

    assert.throws(() => makePretrainSettings({ taskWeight: 1, packing: true }), /taskWeight.*packing false/);
    // validationFraction matters only with a task objective (a finished MLM model stays reusable).
    assert.deepEqual(pretrainConflicts(makePretrainSettings({}), makePretrainSettings({ validationFraction: 0.2 })), []);
    assert.deepEqual(pretrainConflicts(makePretrainSettings({ taskWeight: 1 }), makePretrainSettings({ taskWeight: 1, validationFraction: 0.2 })), ['validationFraction 0.1 -> 0.2']);
  });

  test('ELECTRA: the discriminator learns, a stopped-and-resumed run equals a straight one, and the folder loads as a BERT classifier', async () => {
    const e = (overrides: Partial<PretrainSettings> = {}) => tiny({ objective: 'electra', steps: 30, dropout: false, ...overrides });
    const straightE = e();
    const done = await run(straightE);
    assert.equal(done.finished, true);
    const lines = pretrainMetrics(done.model).train;
    assert.ok(lines.every((l) => typeof l.discriminatorAccuracy === 'number'), 'every metrics line has the discriminator accuracy');
    assert.ok(done.discriminatorAccuracy! > 0.5, `held-out discriminator accuracy ${done.discriminatorAccuracy}`);
    const stoppedDir = path.join(tempDir('nlpbook-pretrain-'), 'model');
    assert.equal((await run(e({ outputDir: stoppedDir }), { stopAt: { steps: 11 } })).finished, false);
    const resumed = await run(e({ outputDir: stoppedDir }));
    assert.equal(resumed.resumedFrom, 11);
    assert.equal(maxWeightDifference(straightE.outputDir!, stoppedDir), 0);
    const model = BertForSequenceClassification.fromPretrained(done.model, { quiet: true });
    try {
      assert.deepEqual(model.loadReport!.missingKeys.sort(), ['bert.pooler.dense.bias', 'bert.pooler.dense.weight', 'classifier.bias', 'classifier.weight']);
      assert.ok(model.loadReport!.unexpectedKeys.every((k) => k.startsWith('discriminator_predictions.')), model.loadReport!.unexpectedKeys.join(' '));
    } finally {
      model.dispose();
    }
  });

  test('a finished model with the same settings is reused; other settings are a one-line error', async () => {
    const { straightSettings, straight } = await straightOnce();
    const started = Date.now();
    const again = await run({ ...straightSettings, tqdmEnabled: true, logEverySteps: 7 }); // display-only fields may differ
    assert.equal(again.reused, true);
    assert.equal(again.steps, straight.steps);
    assert.equal(again.mlmLoss, straight.mlmLoss);
    assert.ok(Date.now() - started < 5000);
    await assert.rejects(run({ ...straightSettings, learningRate: 5e-3 }), (e: unknown) => {
      assert.ok(e instanceof NlpbookError);
      assert.match(e.message, /holds a pretraining run with other settings \(learningRate 0\.01 -> 0\.005\)/);
      assert.ok(!e.message.includes('\n'));
      return true;
    });
  });

  test('text files add documents; nsmc=false trains on them alone; testMode, the time budget and packing work end to end', async () => {
    const file = path.join(tempDir(), 'extra.txt');
    fs.writeFileSync(file, '영화가 참 좋았다\n\n배우들 연기가 최고\r\n   \n다시 보고 싶은 영화\n');
    const both = await run(tiny({ textFiles: [file], steps: 2, heldOutDocuments: 5 }));
    assert.equal(both.data.documents, TRAIN_ROWS + 3);
    const alone = await run(tiny({ nsmc: false, textFiles: [file], steps: 2, heldOutDocuments: 1, batchSize: 2 }));
    assert.equal(alone.data.documents, 3);
    assert.equal(alone.finished, true);
    const smoke = await run(tiny({ testMode: true, steps: 500 }));
    assert.deepEqual([smoke.steps, smoke.totalSteps, smoke.finished], [3, 3, true], 'testMode: a few steps only');
    const timed = await run(tiny({ minutes: 1e-6, steps: 500 }));
    assert.deepEqual([timed.steps, timed.stoppedBy, timed.finished], [1, 'minutes', true], 'the time budget stops at the first step boundary and saves the model');
    assert.ok(fs.existsSync(path.join(timed.model, 'model.safetensors')));
    const packed = await run(tiny({ packing: true, steps: 3 }));
    assert.ok(packed.data.trainSequences < (TRAIN_ROWS - 40) / 2, `packed into fewer sequences: ${packed.data.trainSequences}`);
    assert.equal(packed.finished, true);
  });
});

describe('a falling masking rate (maskProbEnd)', () => {
  test('the masked share of the training lines falls from maskProb to maskProbEnd; the held-out score masks at maskProbEnd', async () => {
    const falling = tiny({ steps: 40, maskProb: 0.5, maskProbEnd: 0.2 });
    const result = await run(falling);
    const shares = pretrainMetrics(falling.outputDir!).train.map((l) => (l as { maskedShare?: number }).maskedShare);
    assert.equal(shares.length, 8);
    assert.ok(shares.every((x) => typeof x === 'number'), JSON.stringify(shares));
    const [first, last] = [shares[0]!, shares[shares.length - 1]!];
    // Whole words that overshoot are skipped and every sentence gets one, so shares sit near, not on, the rate.
    assert.ok(first > 0.42 && first < 0.56, `steps 1-5 (rate 0.50-0.46): masked share ${first}`);
    assert.ok(last > 0.17 && last < 0.28, `steps 36-40 (rate 0.23-0.20): masked share ${last}`);
    assert.ok(shares.every((x, i) => i === 0 || x! < shares[i - 1]! + 0.03), `falls: ${shares.join(', ')}`);
    // The same documents masked at a fixed 0.2 give the same held-out count: the score is at the end rate.
    const fixedSettings = tiny({ steps: 5, maskProb: 0.2 });
    const fixed = await run(fixedSettings);
    assert.equal(result.heldOutMasked, fixed.heldOutMasked);
    assert.ok(pretrainMetrics(fixedSettings.outputDir!).train.every((l) => !('maskedShare' in l)), 'a fixed rate keeps the lines as they were');
  });
});

describe('pretrain settings', () => {
  const throwsLine = (fn: () => unknown, pattern: RegExp) =>
    assert.throws(fn, (e: unknown) => e instanceof NlpbookError && pattern.test(e.message) && !e.message.includes('\n'));

  test('bad values and combinations give one line naming the field', () => {
    throwsLine(() => validatePretrainSettings({ hidden: 100, heads: 3 }), /field "hidden" \(100\) must be a multiple of heads \(3\)/);
    throwsLine(() => validatePretrainSettings({ maxSeqLength: 256, maxPositions: 128 }), /field "maxSeqLength" \(256\) must be at most maxPositions \(128\)/);
    throwsLine(() => validatePretrainSettings({ maskProb: 0 }), /field "maskProb" must be a number between 0 and 1, both excluded \(got 0\)/);
    throwsLine(() => validatePretrainSettings({ maskTokenProb: 0.9, randomTokenProb: 0.2 }), /field "randomTokenProb" \(0\.2\) plus maskTokenProb \(0\.9\) must be at most 1/);
    throwsLine(() => validatePretrainSettings({ nsmc: false }), /field "textFiles" must name at least one file when nsmc is false/);
    throwsLine(() => validatePretrainSettings({ textFiles: 'a.txt' }), /field "textFiles" must be a list of non-empty strings \(got "a\.txt"\)/);
    throwsLine(() => validatePretrainSettings({ mask_prob: 0.2 }), /unknown field "mask_prob" \(did you mean "maskProb"\?\)/);
    throwsLine(() => validatePretrainSettings({ layer: 2 }), /unknown field "layer" \(did you mean "layers"\?\)/);
    throwsLine(() => parsePretrainSetArgs(['steps=-1']), /^--set steps=-1: field "steps" must be an integer >= 0 \(got -1\)$/);
  });

  test('--set converts by type, lists split on commas; defaults are BERT\'s masking', () => {
    assert.deepEqual(parsePretrainSetArgs(['steps=2000', 'textFiles=a.txt, b.txt', 'outputDir=null', 'packing=true']),
      { steps: 2000, textFiles: ['a.txt', 'b.txt'], outputDir: null, packing: true });
    const d = makePretrainSettings();
    assert.deepEqual([d.maskProb, d.maskTokenProb, d.randomTokenProb, d.wholeWordMasking, d.tokenizer, d.nsmc], [0.15, 0.8, 0.1, true, 'beomi/kcbert-base', true]);
  });

  test('a held-out slice as large as the corpus is refused before training', async () => {
    await assert.rejects(run(tiny({ heldOutDocuments: TRAIN_ROWS })), /field "heldOutDocuments" \(300\) must be less than the number of documents \(300\)/);
  });
});

test('sparseCrossEntropy (fused TensorFlow kernel) equals crossEntropy in value and gradient', () => {
  const logits = tf.mul(tf.randomNormal([37, 3000], 0, 1, 'float32', 5), 4) as tf.Tensor2D;
  const labels = tf.tensor1d(Array.from({ length: 37 }, (_, i) => (i * 811) % 3000), 'int32');
  const a = crossEntropy(logits, labels).dataSync()[0];
  const b = sparseCrossEntropy(logits, labels).dataSync()[0];
  assert.ok(Math.abs(a - b) < 1e-5 * Math.abs(a), `${a} vs ${b}`);
  const ga = tf.grad((x: tf.Tensor) => tf.mul(crossEntropy(x as tf.Tensor2D, labels), 3))(logits);
  const gb = tf.grad((x: tf.Tensor) => tf.mul(sparseCrossEntropy(x as tf.Tensor2D, labels), 3))(logits);
  assert.ok(tf.max(tf.abs(tf.sub(ga, gb))).dataSync()[0] < 1e-7);
  tf.dispose([logits, labels, ga, gb]);
});

describe('nlpbook pretrain', () => {
  const cliArgs = (out: string, extra: string[] = []) => {
    const sets = [`tokenizer=${KCBERT_DIR}`, `corpusRootDir=${corpusRoot}`, `outputDir=${out}`, 'layers=1', 'hidden=32', 'heads=2', 'intermediate=64',
      'maxPositions=64', 'maxSeqLength=64', 'batchSize=16', 'steps=12', 'logEverySteps=3', 'heldOutDocuments=20', 'tqdmEnabled=false', ...extra];
    return ['pretrain', ...sets.flatMap((s) => ['--set', s])];
  };
  const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!);
  let straight = '';

  test('trains and prints one JSON line; bad settings are one line and exit 1', () => {
    straight = path.join(tempDir('nlpbook-pretrain-cli-'), 'model');
    const r = runCli(cliArgs(straight));
    assert.equal(r.status, 0, r.stderr);
    const result = lastJson(r.stdout);
    assert.equal(result.model, straight);
    assert.equal(result.steps, 12);
    assert.equal(result.finished, true);
    assert.equal(result.resumed, false);
    for (const k of ['minutes', 'mlmLoss', 'mlmAccuracy']) assert.equal(typeof result[k], 'number', k);
    assert.ok(fs.existsSync(path.join(straight, 'model.safetensors')));
    const bad = runCli(['pretrain', '--set', 'hidden=100', '--set', 'heads=3']);
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr.trim(), 'nlpbook pretrain: --set: field "hidden" (100) must be a multiple of heads (3)');
  });

  test('a process killed with SIGKILL mid-run resumes from its checkpoint and ends like an uninterrupted run', async () => {
    assert.ok(straight, 'needs the previous test\'s run');
    const out = path.join(tempDir('nlpbook-pretrain-kill-'), 'model');
    const args = cliArgs(out, ['checkpointEveryMinutes=0.00001']); // a checkpoint after every step
    const state = path.join(out, 'checkpoints', 'last', 'trainer-state.json');
    const child = cp.spawn(process.execPath, [path.join(REPO, 'bin', 'nlpbook.js'), ...args], { cwd: REPO, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let killedAt = -1;
    for (let waited = 0; waited < 60_000 && child.exitCode === null; waited += 5) {
      const step = fs.existsSync(state) ? JSON.parse(fs.readFileSync(state, 'utf8')).step : 0;
      if (step >= 4) {
        child.kill('SIGKILL');
        killedAt = step;
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await exited;
    assert.ok(killedAt >= 4 && killedAt < 12, `killed at step ${killedAt}`);
    const r = runCli(args);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /resuming .*checkpoints\/last at step \d+\/12/);
    const result = lastJson(r.stdout);
    assert.equal(result.resumed, true);
    assert.equal(result.finished, true);
    assert.equal(result.steps, 12);
    assert.ok(maxWeightDifference(straight, out) <= 1e-6, `weights differ from the uninterrupted run by ${maxWeightDifference(straight, out)}`);
    const strip = (dir: string) => pretrainMetrics(dir).train.map(({ seconds: _s, tokensPerSecond: _t, ...rest }) => rest);
    assert.deepEqual(strip(out), strip(straight));
  });
});

test("a finished pretraining removes its own resume checkpoint and keeps a user's file in checkpoints/", async () => {
  const s = tiny({ steps: 6 });
  const stopped = await run(s, { stopAt: { steps: 3 } });
  assert.equal(stopped.finished, false);
  const mine = path.join(s.outputDir!, 'checkpoints', '.my-notes.txt');
  fs.writeFileSync(mine, '내 메모');
  const done = await run(s);
  assert.equal(done.finished, true);
  assert.equal(fs.existsSync(path.join(s.outputDir!, 'checkpoints', 'last')), false, 'last/ was ours: removed');
  assert.equal(fs.readFileSync(mine, 'utf8'), '내 메모', "the user's file is kept");
  // Reusing the finished model keeps it too.
  assert.equal((await run(s)).reused, true);
  assert.equal(fs.readFileSync(mine, 'utf8'), '내 메모');
});
