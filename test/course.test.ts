// The main job end to end on the tiny profile (the full offline profile is a benchmark:
// README "Measured here"), and the book profile's fail-fast where the hub can't be reached.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { profileFromEnv } from '../src/course/index';
import { budgetReplan, courseCorpus, coursePlan, coursePretrained, planPretraining, pretrainedReady, type BudgetPlan } from '../src/course/course-path';
import { pretrain, readPretrainResult } from '../src/pretrain/index';
import { BertTokenizer } from '../src/tokenizer/index';
import { openCourse } from '../src/course/index';
import { PROFILES } from '../src/course/profiles';
import { bf16Flags, bf16FromCpuinfo, nativeBf16 } from '../src/util/cpu';
import { jsonLines, runCli, SHARED, tempDir } from './helpers';

test('nlpbook course --profile tiny runs every step and ends with one JSON line', { timeout: 5 * 60 * 1000 }, () => {
  const dir = path.join(tempDir(), 'run');
  const r = runCli(['course', '--profile', 'tiny', '--set', `downstreamModelDir=${dir}`], { env: { NLPBOOK_MIRROR: SHARED } });
  assert.equal(r.status, 0, r.stderr.slice(-2000));
  const lines = r.stdout.trim().split('\n');
  const result = JSON.parse(lines[lines.length - 1]);
  for (const key of ['model', 'testAccuracy', 'validationAccuracy', 'minutes']) assert.ok(key in result, `no "${key}" in the result`);
  assert.equal(result.model, path.join(dir, 'best'));
  for (const file of ['config.json', 'model.safetensors', 'vocab.txt']) assert.ok(fs.existsSync(path.join(result.model, file)), `best/ lacks ${file}`);
  assert.equal(result.test.n, 500, 'the tiny profile tests on the first 500 test rows');
  assert.ok(result.testAccuracy >= 0 && result.testAccuracy <= 1);
  assert.ok(result.pretrained && fs.existsSync(path.join(result.pretrained.model, 'config.json')), 'pretrained model folder');
  for (const stage of ['[2 corpus]', '[3a pretraining]', '[4 tokenizer]', '[5 data]', '[7 training]', '[8 evaluation]']) {
    assert.ok(r.stderr.includes(stage), `no ${stage} progress line`);
  }
  const report = fs.readFileSync(path.join(dir, 'report.md'), 'utf8');
  assert.match(report, /test accuracy: 0\.\d{4}/);
  // Step 8's charts: PNGs (CI installs chromium) linked from the report, each file there.
  assert.equal(result.charts.pngSkipped, null, `charts skipped: ${result.charts.pngSkipped}`);
  assert.ok(result.charts.files.length >= 6 && result.charts.files.every((f: string) => f.endsWith('.png') && fs.statSync(f).size > 1000));
  for (const [, link] of report.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)) assert.ok(fs.existsSync(path.join(dir, link)), `report links a missing ${link}`);
  assert.match(report, /\| L1\/H32\/A2\/I64 \|/, 'the runs table names the model size');
  assert.equal(fs.readFileSync(path.join(dir, 'runs.jsonl'), 'utf8').trim().split('\n').length, 1);

  // A second run reuses the pretrained model and the finished fine-tuning, and records a second run.
  const again = runCli(['course', '--profile', 'tiny', '--set', `downstreamModelDir=${dir}`], { env: { NLPBOOK_MIRROR: SHARED } });
  assert.equal(again.status, 0, again.stderr.slice(-2000));
  const second = jsonLines(again.stdout).pop();
  assert.equal(second.pretrained.reused, true);
  assert.equal(second.testAccuracy, result.testAccuracy);
  assert.equal(fs.readFileSync(path.join(dir, 'runs.jsonl'), 'utf8').trim().split('\n').length, 2);
});

test('nlpbook course --profile book fails fast with what it tried when the hub is unreachable', () => {
  const home = tempDir();
  const r = runCli(['course', '--profile', 'book', '--set', `downstreamModelDir=${path.join(home, 'run')}`], {
    env: { NLPBOOK_MIRROR: SHARED, HF_HOME: path.join(home, 'hf'), HF_ENDPOINT: 'http://127.0.0.1:9' },
  });
  assert.equal(r.status, 1);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('nlpbook course:'));
  assert.equal(errors.length, 1, r.stderr);
  assert.match(errors[0], /beomi\/kcbert-base/);
  assert.match(errors[0], /127\.0\.0\.1:9/);
  assert.ok(!fs.existsSync(path.join(home, 'run', 'checkpoints')), 'no training started');
});

test('a notebook set up in the book profile without kcbert-base weights says in its first line what to do offline', async () => {
  const home = tempDir();
  const saved = { ...process.env };
  Object.assign(process.env, { NLPBOOK_MIRROR: SHARED, HF_HOME: path.join(home, 'hf'), HF_ENDPOINT: 'http://127.0.0.1:9', NLPBOOK_COURSE_DIR: path.join(home, 'course') });
  try {
    assert.throws(() => profileFromEnv({ NLPBOOK_PROFILE: 'full' }), /^NlpbookError: NLPBOOK_PROFILE: "full" is not a profile; use offline, book, tiny \(offline is the default\)$/);
    const course = await openCourse('book');
    await assert.rejects(course.pretrainedModel(), (e: Error) => {
      assert.match(e.message.split('\n')[0], /^book 프로필에 필요한 beomi\/kcbert-base의 가중치를 구하지 못했습니다\. 오프라인이라면 NLPBOOK_PROFILE=offline\(기본값\)으로 실행하세요/);
      assert.match(e.message, /127\.0\.0\.1:9/, 'the details say where it looked');
      return true;
    });
    assert.ok(!fs.existsSync(path.join(home, 'course', 'book', 'checkpoints')), 'nothing was trained');
  } finally {
    process.env = saved;
  }
});

test('a budget plans the pretraining steps from measured speeds, and a finished model planned for other steps is reused', { timeout: 5 * 60 * 1000 }, async () => {
  const home = tempDir();
  const saved = { ...process.env };
  Object.assign(process.env, { NLPBOOK_MIRROR: SHARED });
  try {
    const plan = coursePlan('tiny', { downstreamModelDir: path.join(home, 'run') }, process.env, { minutes: 6 });
    await courseCorpus(plan);
    const tokenizer = await BertTokenizer.fromPretrained('beomi/kcbert-base', { modelMirror: null });
    const started = Date.now();
    const { settings, budget } = await planPretraining(plan, started, { tokenizer });
    // The pretraining share is what the measured fine-tuning and evaluation leave of the budget.
    assert.ok(Math.abs(budget.pretraining - (6 - budget.spent - budget.fineTuning - budget.evaluation - budget.margin)) < 0.02, JSON.stringify(budget));
    assert.ok(budget.fineTuning > 0 && budget.evaluation > 0 && budget.tokensPerSecond > 0, JSON.stringify(budget));
    assert.equal(settings.steps, budget.steps);
    assert.ok(budget.steps > 100, `${budget.steps} steps planned for ${budget.pretraining} minutes`);
    assert.ok(budget.passes > 0);
    // A finished pretrained model whose settings differ only in the planned steps is the profile's model.
    const quick = { ...settings, steps: 5 };
    await pretrain(quick, { tokenizer, log: () => {} });
    assert.equal(pretrainedReady(plan), true);
    const got = await coursePretrained(plan, { pretrain: { tokenizer } });
    assert.deepEqual([got.reused, got.result?.steps, got.budget], [true, 5, null]);
    // ... but not one of another size.
    assert.equal(pretrainedReady({ ...plan, pretrain: { ...plan.pretrain!, hidden: 64, heads: 2 } }), false);
    // A model of other settings in the profile's folder (one masked 15%, the profile now 40%) is a
    // one-line error before any trial is measured, naming the field and not the planned steps.
    const masked40 = { ...plan, pretrain: { ...plan.pretrain!, maskProb: 0.4 } };
    let planned = false;
    await assert.rejects(coursePretrained(masked40, { pretrain: { tokenizer }, onBudget: () => { planned = true; } }), (e: Error) => {
      assert.match(e.message, /^[^\n]*pretrained: holds a pretraining run with other settings \(maskProb 0\.15 -> 0\.4\); set another outputDir, or delete that folder to start over$/);
      return true;
    });
    assert.equal(planned, false, 'no budget was planned');
    assert.equal(readPretrainResult(plan.pretrain!.outputDir!)?.steps, 5, 'the finished model is left as it was');
  } finally {
    process.env = saved;
  }
});

test('the budget\'s replan: after warmup, the steps that end pretraining on time at the run\'s own speed, within half and twice the plan; fine-tuning\'s share moves with the machine\'s speed', () => {
  const settings = { ...coursePlan('offline').pretrain!, warmupRatio: 0.06 };
  const budget = (steps: number, secondsLeft: number) => ({ steps, pretrainingEndsAt: Date.now() + secondsLeft * 1000, tokensPerSecond: 0, fineTuning: 10, evaluation: 1 }) as BudgetPlan;
  const replan = budgetReplan(budget(4000, 300), settings)!;
  assert.equal(replan.atStep, 240, '6% of 4,000 steps: the learning rate has warmed up');
  assert.equal(replan.everySteps, 400, 'then every tenth of the plan');
  assert.equal(budgetReplan(budget(500, 100), settings)!.everySteps, 100, 'at least 100 steps between looks');
  assert.equal(budgetReplan(budget(1000, 100), settings)!.atStep, 120, 'at least 100 steps measured after the 20 that build the graphs');
  assert.equal(budgetReplan(budget(120, 100), settings), undefined, 'a run too short to measure keeps its plan');
  // 300 seconds left at 10 steps/s (1,000 tokens/s, 100 tokens a step): 3,000 steps more.
  const at = (tokensPerSecond: number) => replan.steps({ step: 240, totalSteps: 4000, fromStep: 20, tokensPerSecond, tokensPerStep: 100, sessionTokensPerSecond: tokensPerSecond });
  const steps = at(1000);
  assert.ok(steps >= 3235 && steps <= 3240, `${steps}`);
  assert.equal(at(1e6), 8000, 'at most twice the plan');
  assert.equal(at(1), 2000, 'at least half');
  // The trial read 800 tokens/s and the run goes 1,000: fine-tuning and evaluation, timed in the
  // trial's minute, shrink with it (11 minutes -> 8.8), and pretraining gets the 2.2 minutes.
  const b = { ...budget(4000, 300), tokensPerSecond: 800 };
  const moved = budgetReplan(b, settings)!.steps({ step: 240, totalSteps: 4000, fromStep: 20, tokensPerSecond: 1000, tokensPerStep: 100, sessionTokensPerSecond: 1000 });
  assert.equal(b.afterPretraining, 8.8);
  assert.ok(moved >= 3235 + 1320 && moved <= 3240 + 1320, `${moved}: 132 seconds more at 10 steps/s`);
  const slower = { ...budget(4000, 300), tokensPerSecond: 3000 };
  budgetReplan(slower, settings)!.steps({ step: 240, totalSteps: 4000, fromStep: 20, tokensPerSecond: 1000, tokensPerStep: 100, sessionTokensPerSecond: 1000 });
  assert.equal(slower.afterPretraining, 16.5, 'at most 1.5x the trial\'s minutes');
  const stretch = { ...budget(4000, 300), tokensPerSecond: 800 };
  budgetReplan(stretch, settings)!.steps({ step: 1000, totalSteps: 4000, fromStep: 600, tokensPerSecond: 400, tokensPerStep: 100, sessionTokensPerSecond: 1000 });
  assert.equal(stretch.afterPretraining, 8.8, 'a slow last stretch does not move fine-tuning\'s share: the session\'s speed does');
});

test('mixed precision: the offline profile trains with bf16 exactly where it measured faster (AMX-BF16, or AVX512-BF16 on AMD); book and tiny never', () => {
  assert.equal(nativeBf16(), bf16FromCpuinfo(fs.readFileSync('/proc/cpuinfo', 'utf8'), process.env));
  const flags = (list: string, vendor = 'GenuineIntel') => `processor\t: 0\nvendor_id\t: ${vendor}\nflags\t\t: fpu sse2 avx2 ${list}\nbugs\t\t: spectre_v1\n`;
  assert.equal(bf16FromCpuinfo(flags('avx512f amx_bf16 amx_tile'), {}), true);
  assert.equal(bf16FromCpuinfo(flags('avx512f avx512_bf16'), {}), false, 'AVX512-BF16 on a Xeon without AMX ran slower than float32');
  assert.equal(bf16FromCpuinfo(flags('avx512f avx512_bf16', 'AuthenticAMD'), {}), true, 'AVX512-BF16 on an AMD EPYC ran faster');
  assert.equal(bf16FromCpuinfo(flags('avx2 fma', 'AuthenticAMD'), {}), false, 'an AMD CPU without AVX512-BF16');
  assert.equal(bf16FromCpuinfo(flags('avx512f avx512_bf16', 'AuthenticAMD'), { TF_ENABLE_ONEDNN_OPTS: '0' }), false);
  assert.deepEqual(bf16Flags(flags('avx512f avx512_bf16 amx_bf16 amx_tile')), ['amx_bf16', 'avx512_bf16']);
  assert.deepEqual(bf16Flags(flags('avx512f avx512_fp16')), []);
  assert.equal(bf16FromCpuinfo(flags('avx512f avx512_fp16 amx_int8'), {}), false, 'only the bfloat16 flags count');
  assert.equal(bf16FromCpuinfo(flags('amx_bf16'), { TF_ENABLE_ONEDNN_OPTS: '0' }), false, 'oneDNN off: emulated');
  assert.equal(bf16FromCpuinfo('', {}), false, 'no cpuinfo (not Linux)');
  assert.equal(PROFILES.offline.pretrain!.bf16, nativeBf16());
  assert.equal(PROFILES.offline.settings.bf16, nativeBf16());
  for (const p of [PROFILES.book, PROFILES.tiny]) assert.equal(p.settings.bf16 ?? p.pretrain?.bf16 ?? false, false);
});

