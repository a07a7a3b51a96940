// Checkpoint averaging (settings.averageCheckpoints): the final model is the mean of the
// weights at the last checkpoints, exactly those a run without averaging passes through;
// a run stopped inside the averaging span resumes to the same weights; a checkpoint that
// lost the running sum is refused in one line.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { initBackend } from '../src/util/backend';
import { readSafetensors } from '../src/model/index';
import type { Settings } from '../src/settings/index';
import { BertTokenizer } from '../src/tokenizer/index';
import { fit, type FitOptions } from '../src/train/trainer';
import { AVERAGE_FILE, averagedSteps } from '../src/train/weight-average';
import { NlpbookError } from '../src/util/errors';
import { KCBERT_DIR } from './helpers';
import { nsmcSlice, quickSettings } from './train-helpers';

let tokenizer: BertTokenizer;
let corpusRoot: string;
const quiet: FitOptions['log'] = () => {};

before(async () => {
  await initBackend();
  tokenizer = BertTokenizer.fromFolder(KCBERT_DIR);
  corpusRoot = nsmcSlice(160); // 144 training sentences: 9 batches of 16 an epoch, 18 steps in 2 epochs
});

// Steps 14, 16 and 18 (the last) are averaged.
const settings = (overrides: Partial<Settings> = {}) =>
  quickSettings(corpusRoot, { batchSize: 16, learningRate: 1e-2, epochs: 2, averageCheckpoints: 3, averageEverySteps: 2, ...overrides });
const run = (s: Settings, options: FitOptions = {}) => fit(s, { tokenizer, log: quiet, ...options });
const lastWeights = (s: Settings) => new Map([...readSafetensors(path.join(s.downstreamModelDir, 'checkpoints', 'last', 'model.safetensors')).tensors].map(([k, t]) => [k, t.data as Float32Array]));

describe('checkpoint averaging', () => {
  test('the averaged steps end at the last step, every everySteps, never before step 1', () => {
    assert.deepEqual(averagedSteps({ checkpoints: 3, everySteps: 2 }, 18), [14, 16, 18]);
    assert.deepEqual(averagedSteps({ checkpoints: 5, everySteps: 500 }, 8438), [6438, 6938, 7438, 7938, 8438]);
    assert.deepEqual(averagedSteps({ checkpoints: 4, everySteps: 10 }, 25), [5, 15, 25]);
    assert.deepEqual(averagedSteps({ checkpoints: 1, everySteps: 10 }, 25), [25]);
  });

  test('the final weights are the mean of the weights at steps 14, 16 and 18 of the same run without averaging', async () => {
    const plain = settings({ averageCheckpoints: 1 });
    const snapshots: Map<string, Float32Array>[] = [];
    for (const stop of [14, 16]) {
      await run(plain, { stopAt: { steps: stop } });
      snapshots.push(lastWeights(plain));
    }
    const done = await run(plain);
    assert.equal(done.finished, true);
    snapshots.push(lastWeights(plain));

    const logs: string[] = [];
    const averaged = settings();
    const r = await run(averaged, { log: (l) => logs.push(l) });
    assert.equal(r.finished, true);
    assert.ok(logs.some((l) => l.includes('mean of the last 3 checkpoints (steps 14, 16, 18)')), logs.join('\n'));
    const got = lastWeights(averaged);
    let max = 0;
    let moved = 0;
    for (const [name, w] of got) {
      const [a, b, c] = snapshots.map((m) => m.get(name)!);
      for (let i = 0; i < w.length; i++) {
        max = Math.max(max, Math.abs(w[i] - (a[i] + b[i] + c[i]) / 3));
        moved = Math.max(moved, Math.abs(w[i] - c[i]));
      }
    }
    assert.ok(max < 1e-6, `max difference from the mean ${max}`);
    assert.ok(moved > 1e-4, 'the average differs from the last weights');
    // The final validation scored the averaged model; the finished checkpoint keeps no sum.
    assert.equal(fs.existsSync(path.join(averaged.downstreamModelDir, 'checkpoints', 'last', AVERAGE_FILE)), false);
  });

  test('a run stopped inside the averaging span resumes to exactly the weights of a straight run', async () => {
    const straight = settings();
    await run(straight);
    const resumed = settings();
    await run(resumed, { stopAt: { steps: 15 } });
    assert.ok(fs.existsSync(path.join(resumed.downstreamModelDir, 'checkpoints', 'last', AVERAGE_FILE)), 'the running sum is in the checkpoint');
    const r = await run(resumed);
    assert.deepEqual(r.resumedFrom, { epoch: 1, step: 15 });
    for (const [name, w] of lastWeights(straight)) assert.deepEqual(lastWeights(resumed).get(name), w, name);
  });

  test('a checkpoint inside the span without its running sum is refused in one line', async () => {
    const s = settings();
    await run(s, { stopAt: { steps: 17 } });
    const file = path.join(s.downstreamModelDir, 'checkpoints', 'last', AVERAGE_FILE);
    fs.rmSync(file);
    await assert.rejects(run(s), (e: Error) => e instanceof NlpbookError && e.message.includes(file) && e.message.includes('steps 14, 16, 18') && !e.message.includes('\n'));
  });
});
