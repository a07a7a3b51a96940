// A checkpoints/last/trainer-state.json with the right format tag but missing or mistyped
// fields (hand-edited, a broken copy): a resume used to crash with "TypeError: Cannot read
// properties of undefined". Now fit() and pretrain() refuse it in one line that names the
// file, the field and what was expected, and say which folder to delete; after deleting it
// the run starts over. Real runs (tiny models) make the checkpoints; only the JSON is damaged.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { initBackend } from '../src/util/backend';
import { NlpbookError } from '../src/util/errors';
import { fit, lastDir } from '../src/train/index';
import { TRAINER_STATE_FILE } from '../src/train/checkpoints';
import { BertTokenizer } from '../src/tokenizer/index';
import { pretrain } from '../src/pretrain/pretrain';
import { makePretrainSettings } from '../src/pretrain/pretrain-settings';
import type { Settings } from '../src/settings/index';
import { KCBERT_DIR, NSMC_DIR, runCli, tempDir } from './helpers';
import { nsmcSlice, quickSettings } from './train-helpers';

const quiet = () => {};
let tokenizer: BertTokenizer;

before(async () => {
  await initBackend();
  tokenizer = BertTokenizer.fromFolder(KCBERT_DIR);
});

/** Rewrites <last>/trainer-state.json as `edit` makes it (from the real one). */
function damage(last: string, edit: (state: any) => unknown): void {
  const file = path.join(last, TRAINER_STATE_FILE);
  fs.writeFileSync(file, JSON.stringify(edit(JSON.parse(fs.readFileSync(file, 'utf8')))));
}

/** Asserts `run` rejects with one NlpbookError line naming the file, `message` and the folder to delete. */
async function refused(run: () => Promise<unknown>, last: string, message: RegExp): Promise<void> {
  await assert.rejects(run, (e: Error) => {
    assert.ok(e instanceof NlpbookError, `${e.constructor.name}: ${e.message}`);
    assert.ok(!e.message.includes('\n'), e.message);
    assert.ok(e.message.startsWith(`${path.join(last, TRAINER_STATE_FILE)}: `), e.message);
    assert.match(e.message, message);
    assert.ok(e.message.endsWith(`delete ${last} to start over`), e.message);
    return true;
  });
}

describe('fine-tuning', () => {
  let settings: Settings;
  let good: string;

  before(async () => {
    settings = quickSettings(nsmcSlice(64, 20), { epochs: 2 });
    // Stopped after the first epoch: checkpoints/last is a run to resume.
    await fit(settings, { tokenizer, log: quiet, stopAt: { epochs: 1 } });
    good = fs.readFileSync(path.join(lastDir(settings.downstreamModelDir), TRAINER_STATE_FILE), 'utf8');
  });

  const restore = () => fs.writeFileSync(path.join(lastDir(settings.downstreamModelDir), TRAINER_STATE_FILE), good);

  test('the format tag and no fields, and each kind of wrong field, is refused in one line naming the field', async () => {
    const last = lastDir(settings.downstreamModelDir);
    const cases: [(s: any) => unknown, RegExp][] = [
      [() => ({ format: 'nlpbook-trainer-state/1' }), /: field "settings" is missing \(expected an object\); the checkpoint cannot be resumed/],
      [(s) => ({ ...s, settings: null }), /field "settings" is null, expected an object/],
      [(s) => ({ ...s, data: undefined }), /field "data" is missing/],
      [(s) => ({ ...s, window: { ...s.window, steps: '3' } }), /field "window\.steps" is "3", expected a whole number >= 0/],
      [(s) => ({ ...s, step: -1 }), /field "step" is -1, expected a whole number >= 0/],
      [(s) => ({ ...s, loader: { ...s.loader, shuffle: 1 } }), /field "loader\.shuffle" is 1, expected true or false/],
      [(s) => ({ ...s, task: { ...s.task, dropoutRng: [1, 2, 3] } }), /field "task\.dropoutRng" is \[1,2,3\], expected a list of 4/],
      [(s) => ({ ...s, history: [{ ...s.history[0], loss: 'low' }] }), /field "history\[0\]\.loss" is "low", expected a number or null/],
      [(s) => ({ ...s, best: 'epoch 1' }), /field "best" is "epoch 1", expected an object or null/],
      [(s) => ({ ...s, topK: {} }), /field "topK" is \{\}, expected a list/],
      [(s) => ({ ...s, finished: 'no' }), /field "finished" is "no", expected true or false/],
    ];
    for (const [edit, message] of cases) {
      restore();
      damage(last, edit);
      await refused(() => fit(settings, { tokenizer, log: quiet }), last, message);
    }
  });

  test('the real CLI: one line on stderr, exit 1, no stack trace', () => {
    restore();
    const last = lastDir(settings.downstreamModelDir);
    damage(last, () => ({ format: 'nlpbook-trainer-state/1' }));
    const config = path.join(tempDir(), 'settings.json');
    fs.writeFileSync(config, JSON.stringify(settings));
    const r = runCli(['train', '--config', config]);
    assert.equal(r.status, 1, r.stderr);
    // TensorFlow's own start-up log lines (absl's WARNING, I0000 ...) are not the program's.
    const lines = r.stderr.trim().split('\n').filter((l) => !/^([IWE]\d{4} |WARNING: All log messages before absl)/.test(l));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^nlpbook train: .+trainer-state\.json: field "settings" is missing \(expected an object\); the checkpoint cannot be resumed, delete .+last to start over$/);
    assert.doesNotMatch(r.stderr, /TypeError|    at /);
  });

  test('a state with a diverged loss (NaN written as null) still resumes; so does the untouched file', async () => {
    restore();
    damage(lastDir(settings.downstreamModelDir), (s) => ({ ...s, window: { ...s.window, lossSum: null } }));
    const r = await fit(settings, { tokenizer, log: quiet });
    assert.deepEqual(r.resumedFrom, { epoch: 1, step: JSON.parse(good).step });
  });

  test('deleting the folder the message names starts the run over', async () => {
    const s = quickSettings(nsmcSlice(64, 20), { epochs: 1 });
    await fit(s, { tokenizer, log: quiet, stopAt: { steps: 2 } });
    const last = lastDir(s.downstreamModelDir);
    damage(last, () => ({ format: 'nlpbook-trainer-state/1' }));
    await refused(() => fit(s, { tokenizer, log: quiet }), last, /field "settings" is missing/);
    fs.rmSync(last, { recursive: true });
    const r = await fit(s, { tokenizer, log: quiet });
    assert.equal(r.resumedFrom, null);
    assert.ok(fs.existsSync(path.join(r.model, 'model.safetensors')));
  });
});

describe('pretraining', () => {
  test('the format tag and no fields, or a wrong field, is refused in one line; deleting last starts over', async () => {
    const root = tempDir('nlpbook-pretrain-corpus-');
    fs.mkdirSync(path.join(root, 'nsmc'));
    const lines = fs.readFileSync(path.join(NSMC_DIR, 'ratings_train.txt'), 'utf8').split('\n').slice(0, 201);
    fs.writeFileSync(path.join(root, 'nsmc', 'ratings_train.txt'), `${lines.join('\n')}\n`);
    const s = makePretrainSettings({
      tokenizer: KCBERT_DIR, corpusRootDir: root, outputDir: path.join(tempDir('nlpbook-pretrain-'), 'model'),
      layers: 1, hidden: 32, heads: 2, intermediate: 64, maxPositions: 64, maxSeqLength: 64,
      batchSize: 16, steps: 6, heldOutDocuments: 20, logEverySteps: 5, tqdmEnabled: false, checkpointEveryMinutes: 0,
    });
    const stopped = await pretrain(s, { tokenizer, log: quiet, stopAt: { steps: 3 } });
    assert.equal(stopped.finished, false);
    const last = lastDir(s.outputDir!);
    const good = fs.readFileSync(path.join(last, TRAINER_STATE_FILE), 'utf8');
    damage(last, () => ({ format: 'nlpbook-pretrain-state/1' }));
    await refused(() => pretrain(s, { tokenizer, log: quiet }), last, /field "settings" is missing \(expected an object\)/);
    for (const [edit, message] of [
      [(st: any) => ({ ...st, window: { ...st.window, masked: 'x' } }), /field "window\.masked" is "x", expected a whole number >= 0/],
      [(st: any) => ({ ...st, stoppedBy: 'later' }), /field "stoppedBy" is "later", expected "steps" or "minutes" or null/],
      [(st: any) => ({ ...st, data: { ...st.data, fingerprint: 7 } }), /field "data\.fingerprint" is 7, expected a string/],
    ] as const) {
      fs.writeFileSync(path.join(last, TRAINER_STATE_FILE), good);
      damage(last, edit);
      await refused(() => pretrain(s, { tokenizer, log: quiet }), last, message);
    }
    fs.rmSync(last, { recursive: true });
    const fresh = await pretrain(s, { tokenizer, log: quiet });
    assert.equal(fresh.finished, true);
    assert.equal(fresh.resumedFrom, null);
  });
});
