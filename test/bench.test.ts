// `nlpbook bench train`: the real CLI on a tiny BERT for 2 steps prints one JSON line
// with the timing fields and the shape it was asked for (no timing assertions: speed
// figures live in bench/results). Bad flags give one-line errors. The typed readers of the
// committed bench results (src/bench/results.ts) and displayPath, which 03a and 03b print with.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { jsonLines, REPO, runCli, tempDir } from './helpers';
import { readPretrainStepBench, readRecipeRuns } from '../src/bench/results';
import { displayPath, NlpbookError } from '../src/util/index';

test('bench train --json: one JSON line with msPerStep, tokensPerSec, shape, params', () => {
  const r = runCli(['bench', 'train', '--layers', '1', '--hidden', '16', '--heads', '2', '--intermediate', '32', '--vocab', '100',
    '--batch', '4', '--seq', '8', '--steps', '2', '--warmup', '1', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const lines = jsonLines(r.stdout);
  assert.equal(lines.length, 1);
  const out = lines[0];
  for (const k of ['msPerStep', 'tokensPerSec', 'medianMs', 'minMs', 'cpuMsPerStep']) {
    assert.ok(typeof out[k] === 'number' && out[k] > 0 && Number.isFinite(out[k]), `${k}: ${out[k]}`);
  }
  assert.ok(out.minMs <= out.medianMs);
  assert.equal(out.msPerStep, out.medianMs);
  // tokensPerSec counts batch x seq positions per median step.
  assert.ok(Math.abs(out.tokensPerSec / ((4 * 8) / (out.msPerStep / 1000)) - 1) < 2e-3);
  assert.deepEqual(out.shape, { layers: 1, hidden: 16, heads: 2, intermediate: 32, vocab: 100, batch: 4, seq: 8 });
  assert.equal(out.steps, 2);
  assert.equal(out.warmupSteps, 1);
  // Embeddings 100·16 + 300·16 + 2·16 + 2·16, one layer 4·(16·16+16) + 2·16 + 16·32+32 + 32·16+16 + 2·16, pooler 16·16+16, classifier 2·16+2.
  assert.equal(out.params, 100 * 16 + 300 * 16 + 32 + 32 + 4 * 272 + 32 + 544 + 528 + 32 + 272 + 34);
  assert.equal(typeof out.backend, 'string');
  assert.equal(out.bf16, false);
  assert.equal(out.freezeWordEmbeddings, false);
  assert.ok(Array.isArray(out.loadavg) && out.loadavg.length === 3);
  // --bf16: the same step with bfloat16 matmuls, said in the result (on the graph path only).
  const b = runCli(['bench', 'train', '--layers', '1', '--hidden', '16', '--heads', '2', '--intermediate', '32', '--vocab', '100',
    '--batch', '4', '--seq', '8', '--steps', '2', '--warmup', '1', '--bf16', '--freeze-word-embeddings', '--json']);
  assert.equal(b.status, 0, b.stderr);
  const bf = jsonLines(b.stdout)[0];
  assert.equal(bf.bf16, bf.mode === 'graph');
  // --freeze-word-embeddings: said in the result and in the step's description.
  assert.equal(bf.freezeWordEmbeddings, true);
  assert.match(bf.step, /word embeddings frozen/);
});

test('bench: unknown benchmark and bad numbers are one-line errors', () => {
  const a = runCli(['bench', 'fly']);
  assert.equal(a.status, 1);
  assert.match(a.stderr.trim(), /^nlpbook bench: expected the benchmark name "train"/m);
  const b = runCli(['bench', 'train', '--hidden', '10', '--heads', '3', '--steps', '1']);
  assert.equal(b.status, 1);
  assert.match(b.stderr, /nlpbook bench: bench train: --hidden 10 is not a multiple of --heads 3/);
  const c = runCli(['bench', 'train', '--steps', 'x']);
  assert.equal(c.status, 1);
  assert.match(c.stderr, /nlpbook bench: --steps: expected a whole number, got "x"/);
});

// The committed result files that notebook 03a quotes, through the typed readers it uses.
test('bench results: the committed pretraining-step and recipe files read as typed rows; bad files are one-line errors', () => {
  const top = readPretrainStepBench(path.join(REPO, 'bench/results/pretrain-step-top.json'));
  assert.ok(top.results.length >= 3);
  for (const c of top.results) {
    assert.match(c.size, /^L\d+\/H\d+\/A\d+\/I\d+$/);
    assert.equal(c.bestTokensPerSecond, Math.max(...c.tokensPerSecond));
    assert.equal(c.tokensPerSecond.length, top.rounds);
  }
  assert.ok(top.results.some((c) => c.mode.endsWith('-top4096')));
  const runs = readRecipeRuns(path.join(REPO, 'bench/results/recipes.jsonl'));
  assert.ok(runs.length >= 12);
  const electra = runs.find((r) => r.name === 'electra-nodrop-40')!;
  assert.ok(!('reused' in electra.pretrain) && electra.pretrain.objective === 'electra');
  assert.ok(runs.every((r) => r.validationHistory.every((h) => h.accuracy > 0.5 && h.accuracy < 1)));

  const dir = tempDir('nlpbook-bench-results-');
  const missing = path.join(dir, 'none.json');
  assert.throws(() => readPretrainStepBench(missing), (e: Error) => e instanceof NlpbookError && e.message === `${missing}: not found (run the bench that writes it, or check the path)`);
  const bad = path.join(dir, 'recipes.jsonl');
  fs.writeFileSync(bad, `${fs.readFileSync(path.join(REPO, 'bench/results/recipes.jsonl'), 'utf8').split('\n')[0]}\n{"name": \n`);
  assert.throws(() => readRecipeRuns(bad), (e: Error) => e instanceof NlpbookError && e.message.startsWith(`${bad}:2: not JSON (`) && !e.message.includes('\n'));
  fs.writeFileSync(bad, '{"name": "x"}\n');
  assert.throws(() => readRecipeRuns(bad), (e: Error) => e instanceof NlpbookError && e.message === `${bad}:1: expected a run of bench/recipe.ts (pretrain, finetune, validationHistory)`);
  fs.writeFileSync(missing, '{"what": "x"}');
  assert.throws(() => readPretrainStepBench(missing), /none\.json: expected a "results" list of cases/);
});

test('displayPath: relative where it climbs at most one folder, else ~ for the home folder, else absolute', () => {
  assert.equal(displayPath('/w/exp/shared/models/kcbert-base', '/w/exp/main', '/root'), '../shared/models/kcbert-base');
  assert.equal(displayPath('data/course/offline/pretrained', '/w/exp/main', '/root'), 'data/course/offline/pretrained');
  assert.equal(displayPath('/w/exp/main', '/w/exp/main', '/root'), '.');
  assert.equal(displayPath('/root/.cache/huggingface/hub/models--beomi--kcbert-base', '/w/exp/main', '/root'), '~/.cache/huggingface/hub/models--beomi--kcbert-base');
  assert.equal(displayPath('/opt/models/kcbert-base', '/w/exp/main', '/root'), '/opt/models/kcbert-base');
  assert.equal(displayPath('/root2/x', '/w/exp/main', '/root'), '/root2/x');
});
