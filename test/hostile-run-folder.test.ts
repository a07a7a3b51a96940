// A fresh `nlpbook train` into a downstreamModelDir that already has best/ and checkpoints/:
// what an earlier run wrote there is replaced, and anything else (a user's notes in best/, a
// backup folder in checkpoints/, a link) makes the run refuse in one line naming it, before
// anything is deleted. Real runs of the tiny model on an NSMC slice.
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { initBackend } from '../src/util/backend';
import { NlpbookError } from '../src/util/errors';
import { checkpointsDir, fit, lastDir } from '../src/train/index';
import { bestDir } from '../src/train/checkpoints';
import { BertTokenizer } from '../src/tokenizer/index';
import { KCBERT_DIR } from './helpers';
import { nsmcSlice, quickSettings } from './train-helpers';

let corpus: string;
const tokenizer = () => BertTokenizer.fromFolder(KCBERT_DIR);

before(async () => {
  await initBackend();
  corpus = nsmcSlice(64, 20);
});

/** Every file under `dir`, relative, sorted. */
function filesUnder(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.lstatSync(path.join(dir, f)).isFile()).sort();
}

test("a fresh run refuses to delete a user's files in best/ or checkpoints/, naming them; an earlier run's own files are replaced", async () => {
  const settings = quickSettings(corpus, { epochs: 1 });
  const dir = settings.downstreamModelDir;
  await fit(settings, { tokenizer: tokenizer(), log: () => {} });
  // The earlier run's resume checkpoint gone: the next run is a fresh one.
  fs.rmSync(lastDir(dir), { recursive: true });
  const ours = filesUnder(dir);

  const TOP_K = 'epoch=9-step=99-accuracy=0.5000';
  const attempts: [string, () => void, () => void][] = [
    [path.join(bestDir(dir), 'notes.txt'), () => fs.writeFileSync(path.join(bestDir(dir), 'notes.txt'), '내 메모'), () => fs.rmSync(path.join(bestDir(dir), 'notes.txt'))],
    [path.join(checkpointsDir(dir), 'my-backup'), () => fs.mkdirSync(path.join(checkpointsDir(dir), 'my-backup')), () => fs.rmSync(path.join(checkpointsDir(dir), 'my-backup'), { recursive: true })],
    [path.join(checkpointsDir(dir), TOP_K, 'model.safetensors'), () => {
      // A link where a checkpoint file would be (in a folder named like ours): not ours to remove.
      fs.mkdirSync(path.join(checkpointsDir(dir), TOP_K));
      fs.symlinkSync(path.join(bestDir(dir), 'model.safetensors'), path.join(checkpointsDir(dir), TOP_K, 'model.safetensors'));
    }, () => fs.rmSync(path.join(checkpointsDir(dir), TOP_K), { recursive: true })],
  ];
  for (const [named, add, remove] of attempts) {
    add();
    const before = filesUnder(dir);
    await assert.rejects(fit(settings, { tokenizer: tokenizer(), log: () => {} }), (e: Error) => {
      assert.ok(e instanceof NlpbookError, e.stack);
      assert.equal(e.message, `${named}: not a file nlpbook writes, and a fresh run would delete ${named.includes(`${path.sep}best${path.sep}`) ? bestDir(dir) : checkpointsDir(dir)}; move it out of there, or train into another folder`);
      return true;
    });
    assert.deepEqual(filesUnder(dir), before, 'nothing deleted');
    remove();
  }
  assert.deepEqual(filesUnder(dir), ours);
  // Only its own files there: the fresh run replaces them.
  const again = await fit(settings, { tokenizer: tokenizer(), log: () => {} });
  assert.ok(fs.existsSync(path.join(again.model, 'model.safetensors')));
  assert.ok(fs.existsSync(path.join(lastDir(dir), 'trainer-state.json')));
});

test("resuming removes only an interrupted write's leftovers: a user's hidden files in checkpoints/ and the run folder stay", async () => {
  const settings = quickSettings(corpus, { epochs: 2 });
  const dir = settings.downstreamModelDir;
  const first = await fit(settings, { tokenizer: tokenizer(), log: () => {}, stopAt: { steps: 2 } });
  assert.equal(first.finished, false);
  const hidden = [path.join(checkpointsDir(dir), '.my-notes'), path.join(dir, '.best.backup')];
  for (const f of hidden) fs.writeFileSync(f, 'mine');
  // What an interrupted swap leaves (checkpoints.ts's temp folder names) does go.
  const leftover = path.join(checkpointsDir(dir), `.last.tmp-${process.pid}-0badf00d`);
  fs.mkdirSync(leftover);
  const resumed = await fit(settings, { tokenizer: tokenizer(), log: () => {} });
  assert.equal(resumed.finished, true);
  for (const f of hidden) assert.equal(fs.readFileSync(f, 'utf8'), 'mine', f);
  assert.equal(fs.existsSync(leftover), false);
});
