// `nlpbook train`, `nlpbook evaluate` and `nlpbook predict` as a user runs them: the
// output shapes other tools rely on, a training process killed with SIGKILL after its
// first epoch and started again (it resumes and ends like an uninterrupted run), any
// Hugging Face folder as --model (ours, or the Python-made tiny-bert fixture), and
// one-line errors.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { initBackend } from '../src/util/backend';
import { readTrainerState, readMetrics } from '../src/train/index';
import { BertModel, saveModel, BertConfig, readSafetensors } from '../src/model/index';
import { jsonLines, KCBERT_DIR, REPO, runCli, tempDir } from './helpers';
import { nsmcSlice, TINY_BERT, tinyPretrainedFolder } from './train-helpers';

let corpusRoot: string;
let pretrained: string;

before(async () => {
  await initBackend();
  corpusRoot = nsmcSlice(800, 60); // 720 training sentences: 45 batches of 16 per epoch
  pretrained = tinyPretrainedFolder();
});

function trainArgs(dir: string, extra: string[] = []): string[] {
  const set = {
    pretrainedModelName: pretrained,
    downstreamCorpusRootDir: corpusRoot,
    downstreamModelDir: dir,
    epochs: 3,
    batchSize: 16,
    learningRate: 0.005,
    logEverySteps: 10,
  };
  return ['train', ...Object.entries(set).flatMap(([k, v]) => ['--set', `${k}=${v}`]), ...extra];
}

const lastLine = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!);

/** The stderr lines a failing command printed about itself (libtensorflow adds its own start-up lines). */
const errorLines = (stderr: string, cmd: string) => stderr.split('\n').filter((l) => l.startsWith(`nlpbook ${cmd}:`));

/** A model folder with a bare BertModel (no classifier) and kcbert's vocabulary. */
function encoderOnly(): string {
  const dir = tempDir();
  const model = BertModel.init(new BertConfig({ vocabSize: 30000, hiddenSize: 16, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 32 }));
  saveModel(model, dir, { tokenizerDir: KCBERT_DIR });
  model.dispose();
  return dir;
}

const weights = (dir: string) => readSafetensors(path.join(dir, 'model.safetensors')).tensors;

let straightDir: string;

describe('nlpbook train / evaluate / predict', () => {
  test('train prints the best model and its validation scores; evaluate and predict read that folder', () => {
    straightDir = path.join(tempDir(), 'run');
    const r = runCli(trainArgs(straightDir));
    assert.equal(r.status, 0, r.stderr);
    const out = lastLine(r.stdout);
    assert.equal(out.model, path.join(straightDir, 'best'));
    for (const k of ['validationAccuracy', 'validationLoss', 'validationF1', 'minutes']) assert.equal(typeof out[k], 'number', k);
    assert.equal(out.epochs, 3);
    assert.equal(out.steps, 3 * 45);
    assert.equal(out.finished, true);
    assert.equal(out.resumed, false);
    assert.match(r.stderr, /epoch 1\/3 validation: loss/);

    const test = path.join(corpusRoot, 'nsmc', 'ratings_test.txt');
    const ev = runCli(['evaluate', '--model', out.model, '--data', test, '--json']);
    assert.equal(ev.status, 0, ev.stderr);
    const scores = lastLine(ev.stdout);
    assert.deepEqual(Object.keys(scores), ['n', 'accuracy', 'precision', 'recall', 'f1', 'loss']);
    assert.equal(scores.n, 60);
    for (const k of ['accuracy', 'precision', 'recall', 'f1']) assert.ok(scores[k] >= 0 && scores[k] <= 1, k);
    assert.ok(scores.loss > 0);

    const texts = ['정말 재미있어요. 배우들 연기가 최고!', '최악', '', '시간 아까운 영화... 다시는 안 봄', 'ㅋㅋ'];
    const pr = runCli(['predict', '--model', out.model, '--json', ...texts]);
    assert.equal(pr.status, 0, pr.stderr);
    const predictions = jsonLines(pr.stdout);
    assert.deepEqual(predictions.map((p) => p.text), texts, 'one line per input, in input order');
    for (const p of predictions) {
      assert.deepEqual(Object.keys(p), ['text', 'label', 'positive_prob', 'logits']);
      assert.ok(['negative', 'positive'].includes(p.label));
      assert.equal(p.logits.length, 2);
      assert.ok(p.positive_prob > 0 && p.positive_prob < 1);
      assert.equal(p.label, p.logits[1] > p.logits[0] ? 'positive' : 'negative');
      const expected = 1 / (1 + Math.exp(p.logits[0] - p.logits[1]));
      assert.ok(Math.abs(p.positive_prob - expected) < 1e-9);
    }
    // --file, reversed: the same results per text, whatever the batches inside (other batch
    // mates can change a batch's padded length, and with it float rounding: 1e-6, not bits).
    const file = path.join(tempDir(), 'texts.txt');
    fs.writeFileSync(file, `${[...texts].reverse().join('\n')}\n`);
    const fromFile = jsonLines(runCli(['predict', '--model', out.model, '--max-length', String(128), '--json', '--file', file]).stdout).reverse();
    assert.deepEqual(fromFile.map((p) => [p.text, p.label]), predictions.map((p) => [p.text, p.label]));
    fromFile.forEach((p, i) => {
      assert.ok(Math.abs(p.positive_prob - predictions[i].positive_prob) < 1e-6, p.text);
      p.logits.forEach((x: number, k: number) => assert.ok(Math.abs(x - predictions[i].logits[k]) < 1e-6, p.text));
    });
  });

  test('a training process killed after its first epoch resumes there and ends like an uninterrupted run', async () => {
    assert.ok(straightDir, 'needs the first test\'s run');
    const dir = path.join(tempDir(), 'run');
    const state = path.join(dir, 'checkpoints', 'last', 'trainer-state.json');
    const child = cp.spawn(process.execPath, [path.join(REPO, 'bin', 'nlpbook.js'), ...trainArgs(dir)], { cwd: REPO, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let killed = false;
    for (let waited = 0; waited < 60_000 && child.exitCode === null; waited += 5) {
      if (fs.existsSync(state)) {
        child.kill('SIGKILL');
        killed = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await exited;
    assert.ok(killed, 'the first epoch\'s checkpoint never appeared');
    const atKill = readTrainerState(path.dirname(state));
    assert.ok(atKill.epochsCompleted >= 1 && !atKill.finished, `killed at epoch ${atKill.epochsCompleted}, finished ${atKill.finished}`);

    const r = runCli(trainArgs(dir));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`resuming .* at epoch ${atKill.epochsCompleted + 1}/3, batch 0/45, step ${atKill.step}/135`));
    const out = lastLine(r.stdout);
    assert.equal(out.resumed, true);
    assert.equal(out.finished, true);
    assert.equal(out.steps, 135);

    const lines = readMetrics(dir);
    assert.deepEqual(lines.filter((l) => l.type === 'validation').map((l) => l.epoch), [1, 2, 3], 'one validation per epoch, none lost or repeated');
    const steps = lines.filter((l) => l.type === 'train').map((l) => l.step);
    assert.deepEqual(steps, Array.from({ length: 13 }, (_, i) => 10 * (i + 1)));
    const noSeconds = (ls: object[]) => ls.map((l) => ({ ...l, seconds: 0 }));
    assert.deepEqual(noSeconds(lines), noSeconds(readMetrics(straightDir)));
    const a = weights(path.join(straightDir, 'checkpoints', 'last'));
    const b = weights(path.join(dir, 'checkpoints', 'last'));
    let max = 0;
    for (const [name, t] of a) t.data.forEach((x, i) => (max = Math.max(max, Math.abs(x - b.get(name)!.data[i]))));
    assert.ok(max <= 1e-6, `final weights differ from the uninterrupted run by ${max}`);
  });

  test('Ctrl+C (SIGINT) stops training after the current step with a checkpoint to resume from', async () => {
    const dir = path.join(tempDir(), 'run');
    const metrics = path.join(dir, 'metrics.jsonl');
    const child = cp.spawn(process.execPath, [path.join(REPO, 'bin', 'nlpbook.js'), ...trainArgs(dir)], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    for (let waited = 0; waited < 60_000 && child.exitCode === null && !fs.existsSync(metrics); waited += 5) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGINT');
    assert.equal(await exited, 130, stderr);
    assert.match(stderr, /SIGINT: stopping after this step/);
    const out = lastLine(stdout);
    assert.equal(out.finished, false);
    const state = readTrainerState(path.join(dir, 'checkpoints', 'last'));
    assert.equal(state.finished, false);
    assert.equal(state.step, out.steps);
    assert.ok(state.step >= 10 && state.step < 135, `stopped at step ${state.step}`);
  });

  test('predict reads a Python-made folder: the tiny-bert fixture (safetensors) and a copy with only pytorch_model.bin', () => {
    const texts = ['재밌다', '노잼... 돈 아까움', '그냥 그랬다'];
    const missing = runCli(['predict', '--model', TINY_BERT, '--json', ...texts]);
    assert.equal(missing.status, 1);
    assert.match(errorLines(missing.stderr, 'predict')[0], /no vocab\.txt or tokenizer\.json; pass the tokenizer folder/);

    const viaSafetensors = runCli(['predict', '--model', TINY_BERT, '--tokenizer', KCBERT_DIR, '--json', ...texts]);
    assert.equal(viaSafetensors.status, 0, viaSafetensors.stderr);
    const a = jsonLines(viaSafetensors.stdout);
    assert.deepEqual(a.map((p) => p.label).every((l) => l === 'negative' || l === 'positive'), true, 'labels from the fixture\'s id2label');

    const binOnly = tempDir();
    fs.copyFileSync(path.join(TINY_BERT, 'config.json'), path.join(binOnly, 'config.json'));
    fs.copyFileSync(path.join(TINY_BERT, 'pytorch_model.bin'), path.join(binOnly, 'pytorch_model.bin'));
    fs.copyFileSync(path.join(KCBERT_DIR, 'vocab.txt'), path.join(binOnly, 'vocab.txt'));
    fs.copyFileSync(path.join(KCBERT_DIR, 'tokenizer_config.json'), path.join(binOnly, 'tokenizer_config.json'));
    const viaBin = runCli(['predict', '--model', binOnly, '--json', ...texts]);
    assert.equal(viaBin.status, 0, viaBin.stderr);
    const b = jsonLines(viaBin.stdout);
    a.forEach((p, i) => p.logits.forEach((x: number, k: number) => assert.ok(Math.abs(x - b[i].logits[k]) < 1e-6, `${texts[i]}: ${x} vs ${b[i].logits[k]}`)));
  });

  test('settings and arguments that cannot work fail with one line', () => {
    const cases: [string[], string, RegExp][] = [
      [['train', '--set', 'fp16=true'], 'train', /fp16.*must be false/],
      [trainArgs(path.join(tempDir(), 'x'), ['--set', 'maxSeqLength=400']), 'train', /maxSeqLength: 400 is more than the model's 300 positions/],
      [trainArgs(path.join(tempDir(), 'x'), ['--set', 'batchSize=4000', '--set', 'dropLast=true']), 'train', /batchSize: 4000 is more than the 720 training examples/],
      [['evaluate', '--data', 'x.tsv', '--json'], 'evaluate', /--model DIR is required/],
      [['predict', '--model', path.join(tempDir(), 'nothing'), '--json', 'text'], 'predict', /model folder not found/],
      [['predict', '--model', encoderOnly(), '--json', 'text'], 'predict', /no classifier weights .*not a fine-tuned classification model/],
    ];
    for (const [args, cmd, pattern] of cases) {
      const r = runCli(args);
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      const lines = errorLines(r.stderr, cmd);
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], pattern);
    }
  });
});
