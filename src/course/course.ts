// The main job: the whole course pipeline, one step after another, the way the notebooks
// go: settings → corpus → (pretraining) → tokenizer → features → fine-tuning → one
// evaluation on the test split → report. Each step logs a line on stderr; the result is
// one plain object (the CLI prints it as its last stdout line). Profiles: src/course/profiles.ts.
import * as fs from 'fs';
import * as path from 'path';
import { initBackend } from '../util/backend';
import { evaluationFigures, saveCharts, lineChartSvg } from '../charts/index';
import { SPLITS } from '../corpus/index';
import { courseCorpus, courseFineTuned, coursePlan, coursePretrained, type BudgetPlan, type StageEstimate } from './course-path';
import { ClassificationDataset, comparePadding, type DatasetMode } from '../data/index';
import { evaluateModel, readTrainingCurves, type EvaluationResult } from '../evaluate/index';
import { writeFileAtomic, writeJsonAtomic } from '../util/fsutil';
import { modelMirror } from '../util/mirror';
import type { ProfileName } from './profiles';
import { saveSettings, type Settings } from '../settings/index';
import { BertTokenizer } from '../tokenizer/index';
import { metricsByType, type FitResult } from '../train/index';

export interface CourseOptions {
  profile?: ProfileName;
  /** Fine-tuning settings over the profile's (the CLI's --config / --set). */
  overrides?: Partial<Settings>;
  log?: (line: string) => void;
  /** Skip the few timed trial steps before pretraining and fine-tuning (their estimate is only logged). */
  noTrial?: boolean;
  /** The whole job's budget in minutes (default: the profile's; null: none). */
  minutes?: number | null;
}

export interface CourseResult {
  /** The fine-tuned model's folder (Hugging Face layout). */
  model: string;
  testAccuracy: number;
  validationAccuracy: number | null;
  minutes: number;
  profile: ProfileName;
  test: EvaluationResult;
  validation: FitResult['best'];
  pretrained: { model: string; reused: boolean; minutes: number; mlmAccuracy: number | null; steps: number; passes: number } | null;
  /** How the budget (--minutes) was shared out before pretraining; null when pretraining was reused or there is no budget. */
  budget: BudgetPlan | null;
  stageMinutes: Record<string, number>;
  features: Record<DatasetMode, { examples: number; meanTokens: number; p95Tokens: number }>;
  padding: { fixed: number; dynamic: number; bucketed: number };
  /** Area under the ROC curve on the test split. */
  testAuc: number | null;
  /** Step 8's charts (PNG where chromium runs; plotly JSON always) in downstreamModelDir/charts. */
  charts: { files: string[]; pngSkipped: string | null };
  report: string;
  settings: string;
}

export async function runCourse(options: CourseOptions = {}): Promise<CourseResult> {
  const started = Date.now();
  const log = options.log ?? ((l: string) => console.error(l));
  const profileName = options.profile ?? 'offline';
  const plan = coursePlan(profileName, options.overrides, process.env, { minutes: options.minutes });
  const settings = plan.settings;
  const stageMinutes: Record<string, number> = {};
  let stageStart = Date.now();
  const stage = (name: string) => {
    stageMinutes[name] = round((Date.now() - stageStart) / 60000, 2);
    stageStart = Date.now();
  };
  const step = (n: string, text: string) => log(`[${n}] ${text}`);
  const estimate = (n: string) => (e: StageEstimate) =>
    step(n, `${e.steps} steps to go at ${e.stepsPerSecond.toFixed(2)} steps/s${e.tokensPerSecond ? ` (${e.tokensPerSecond} tokens/s)` : ''} measured here: about ${e.minutes.toFixed(1)} minutes`);

  step('1 settings', `profile ${profileName}: ${plan.description}`);
  const backend = await initBackend();
  step('1 settings', `TensorFlow.js ${backend.tfjs}, backend ${backend.backend} (${backend.threads} threads)`);

  if (!plan.pretrain) {
    // Step 3 first: where the hub can't be reached this fails in seconds, before any other work.
    const got = await coursePretrained(plan);
    step('3 pretrained model', `${settings.pretrainedModelName}: ${got.model}`);
  }

  const fetched = await courseCorpus(plan);
  for (const r of fetched.fetched) step('2 corpus', `${r.split}: ${r.action} ${r.path}`);
  if (fetched.slice) step('2 corpus', `using the first ${plan.slice!.train} / ${plan.slice!.test} rows in ${fetched.slice}`);
  const corpus = fetched.corpus;
  for (const split of SPLITS) {
    const s = corpus.stats(split);
    step('2 corpus', `${split}: ${s.rows} rows, ${s.positive} positive, ${s.empty} empty, ${s.quoted} quoted`);
  }
  stage('corpus');

  let pretrained: CourseResult['pretrained'] = null;
  let budget: BudgetPlan | null = null;
  // kcbert-base's vocabulary is the pretrained model's (step 4 loads the same files from its folder).
  const kcbert = await BertTokenizer.fromPretrained('beomi/kcbert-base', { modelMirror: settings.modelMirror });
  if (plan.pretrain) {
    // Pretraining reads only the training split's texts (never the test split).
    const got = await coursePretrained(plan, {
      log, startedAt: started, onEstimate: estimate('3a pretraining'), measure: !options.noTrial,
      onBudget: (b) => step('3a pretraining', `budget ${b.minutes} min: ${b.spent} spent, fine-tuning ${b.fineTuning} and evaluation ${b.evaluation} measured here, ` +
        `${b.margin} kept free -> pretraining ${b.pretraining} min = ${b.steps} steps (${b.passes} passes) at ${b.tokensPerSecond} tokens/s`),
      pretrain: { tokenizer: kcbert }, fit: { corpus },
    });
    budget = got.budget;
    const result = got.result!;
    pretrained = {
      model: result.model, reused: got.reused, minutes: result.minutes, mlmAccuracy: result.mlmAccuracy, steps: result.steps,
      passes: Math.round((result.trainedTokens / result.data.trainTokens) * 100) / 100,
    };
    step('3a pretraining', `${got.reused ? 'reused' : 'trained'} ${result.model}: ${result.steps} steps, MLM accuracy ${result.mlmAccuracy?.toFixed(3)} on held-out training texts`);
  }
  stage('pretraining');

  const tokenizer = await BertTokenizer.fromPretrained(settings.pretrainedModelName, { modelMirror: modelMirror(settings.modelMirror) });
  step('4 tokenizer', `${tokenizer.vocabSize} wordpieces from ${tokenizer.name}`);
  const features = {} as CourseResult['features'];
  let train: ClassificationDataset | undefined;
  for (const mode of ['train', 'validation', 'test'] as const) {
    const ds = new ClassificationDataset(settings, corpus, tokenizer, mode, { log });
    const st = ds.stats();
    if (mode === 'train') train = ds;
    features[mode] = { examples: ds.length, meanTokens: round(st.mean, 2), p95Tokens: st.p95 };
    step('5 data', `${mode}: ${ds.length} examples, ${round(st.mean, 1)} tokens on average (p95 ${st.p95})`);
  }
  const pad = comparePadding(train!, { batchSize: settings.batchSize, fixedLength: settings.maxSeqLength, seed: settings.seed });
  const padding = { fixed: round(pad.fixed.paddingShare, 4), dynamic: round(pad.dynamic.paddingShare, 4), bucketed: round(pad.bucketed.paddingShare, 4) };
  step('5 data', `padding share per epoch: fixed ${settings.maxSeqLength} ${pct(padding.fixed)}, dynamic ${pct(padding.dynamic)}, dynamic + length buckets ${pct(padding.bucketed)}`);
  stage('features');

  // A budget already measured fine-tuning (step 3a): no second trial.
  if (budget) step('7 training', `planned for ${budget.fineTuning} minutes in the budget` + (budget.afterPretraining !== undefined ? `; with evaluation, ${budget.afterPretraining} as the last look rescaled it` : ''));
  const tuned = await courseFineTuned(plan, { log, onEstimate: estimate('7 training'), measure: !options.noTrial && !budget, fit: { tokenizer, corpus, log } });
  const trained = tuned.result;
  step('7 training', `${tuned.reused ? 'reused' : 'trained'}: best ${trained.monitor}: epoch ${trained.best?.epoch}, validation accuracy ${trained.best?.accuracy.toFixed(4)} → ${trained.model}`);
  stage('fine-tuning');

  // The test split is looked at once, here, after every choice was made on validation.
  // One pass gives both the scores and step 8's charts (ROC, calibration, by length, ...).
  const scored = await evaluateModel(trained.model, corpus.path('test'), { maxLength: settings.maxSeqLength });
  const test: EvaluationResult = { n: scored.n, accuracy: scored.accuracy, precision: scored.precision, recall: scored.recall, f1: scored.f1, loss: scored.loss };
  step('8 evaluation', `test: accuracy ${test.accuracy.toFixed(4)}, F1 ${test.f1.toFixed(4)}, AUC ${scored.auc?.toFixed(4)} on ${test.n} sentences`);
  const saved = await saveCharts(evaluationFigures(scored, readTrainingCurves(settings.downstreamModelDir)), path.join(settings.downstreamModelDir, 'charts'));
  const charts = { files: saved.charts.length ? saved.charts : saved.figures, pngSkipped: saved.skipped };
  step('8 charts', saved.skipped ? `${saved.figures.length} plotly figures (${saved.skipped})` : `${saved.charts.length} PNG charts in ${path.join(settings.downstreamModelDir, 'charts')}`);
  stage('evaluation');

  const minutes = round((Date.now() - started) / 60000, 2);
  const result: CourseResult = {
    model: trained.model,
    testAccuracy: test.accuracy,
    validationAccuracy: trained.best?.accuracy ?? null,
    minutes,
    profile: profileName,
    test,
    testAuc: scored.auc,
    charts,
    validation: trained.best,
    pretrained,
    budget,
    stageMinutes,
    features,
    padding,
    report: path.join(settings.downstreamModelDir, 'report.md'),
    settings: saveSettings(settings, settings.downstreamModelDir),
  };
  writeReport(result, settings);
  step('8 report', result.report);
  return result;
}

/** report.md + report.json + the loss curve, and one line per run in runs.jsonl (accuracy vs minutes). */
function writeReport(r: CourseResult, settings: Settings): void {
  const dir = settings.downstreamModelDir;
  const { train, validation } = metricsByType(dir);
  const svg = lineChartSvg([
    { name: 'train loss', points: train.map((m) => [m.step, m.loss] as const) },
    { name: 'validation loss', points: validation.map((m) => [m.step, m.loss] as const), dots: true },
  ], { title: 'loss', xLabel: 'optimizer step', yLabel: 'cross-entropy' });
  writeFileAtomic(path.join(dir, 'loss.svg'), svg);
  writeJsonAtomic(path.join(dir, 'report.json'), r);
  const run = { date: new Date().toISOString(), profile: r.profile, model: modelSize(settings.pretrainedModelName), minutes: r.minutes, stageMinutes: r.stageMinutes,
    pretrained: r.pretrained, budget: r.budget, epochs: settings.epochs, testAccuracy: r.testAccuracy, validationAccuracy: r.validationAccuracy };
  fs.mkdirSync(dir, { recursive: true });
  fs.appendFileSync(path.join(dir, 'runs.jsonl'), `${JSON.stringify(run)}\n`);
  const runs = fs.readFileSync(path.join(dir, 'runs.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const lines = [
    `# NSMC sentiment — course run (${r.profile})`,
    '',
    `- fine-tuned model: \`${r.model}\``,
    `- pretrained from: \`${settings.pretrainedModelName}\`${r.pretrained ? ` (pretrained here in ${r.pretrained.minutes.toFixed(1)} min, MLM accuracy ${r.pretrained.mlmAccuracy?.toFixed(3)})` : ''}`,
    `- validation accuracy (best epoch): ${fmt(r.validationAccuracy)}`,
    `- **test accuracy: ${fmt(r.testAccuracy)}** (precision ${fmt(r.test.precision)}, recall ${fmt(r.test.recall)}, F1 ${fmt(r.test.f1)}, n=${r.test.n})`,
    `- wall-clock: ${r.minutes.toFixed(1)} min (${Object.entries(r.stageMinutes).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')})`,
    ...(r.budget ? [`- budget: ${r.budget.minutes} min; pretraining planned for ${r.budget.pretraining} min = ${r.budget.steps} steps (${r.budget.passes} passes over the training texts) at ${r.budget.tokensPerSecond} tokens/s measured here` +
      (r.budget.replanned ? `; planned again ${replannedText(r.budget.replanned)}` : '') +
      (r.budget.afterPretraining !== undefined ? `; fine-tuning and evaluation then expected to take ${r.budget.afterPretraining} min (planned ${round(r.budget.fineTuning + r.budget.evaluation, 2)})` : '')] : []),
    '',
    '![loss](loss.svg)',
    '',
    ...(r.charts.pngSkipped
      ? [`Step 8 charts: plotly figures in \`charts/\` (PNG skipped: ${r.charts.pngSkipped}).`]
      : r.charts.files.map((f) => `![${path.basename(f, '.png')}](${path.relative(dir, f).split(path.sep).join('/')})`)),
    '',
    '## Runs in this folder: accuracy vs wall-clock minutes',
    '',
    '| date | profile | model | pretraining (min, steps, passes, MLM acc.) | fine-tuning epochs | minutes | validation accuracy | test accuracy |',
    '|---|---|---|---|---|---|---|---|',
    ...runs.map((x) => `| ${x.date} | ${x.profile} | ${x.model ?? '—'} | ${x.pretrained ? `${x.pretrained.reused ? 'reused' : x.pretrained.minutes.toFixed(1)}, ${x.pretrained.steps}, ${x.pretrained.passes ?? '—'}, ${fmt(x.pretrained.mlmAccuracy)}` : '—'} | ${x.epochs ?? '—'} | ${x.minutes.toFixed(1)} | ${fmt(x.validationAccuracy)} | ${fmt(x.testAccuracy)} |`),
    '',
  ];
  writeFileAtomic(r.report, lines.join('\n'));
}

/** The replan in words: "at step 380 from the run's own 5463 tokens/s, 9 looks to step 5444 (last 4897 tokens/s): 5445 steps (4.69 passes)". */
function replannedText(r: NonNullable<BudgetPlan['replanned']>): string {
  const later = r.looks > 1 ? `, ${r.looks} looks to step ${r.lastAtStep} (last ${r.lastTokensPerSecond} tokens/s)` : '';
  return `at step ${r.atStep} from the run's own ${r.tokensPerSecond} tokens/s${later}: ${r.steps} steps (${r.passes} passes)`;
}

/** "L4/H256/A4/I1024" from a model folder's config.json (null when it can't be read, e.g. a hub id). */
function modelSize(dir: string): string | null {
  try {
    const c = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    return `L${c.num_hidden_layers}/H${c.hidden_size}/A${c.num_attention_heads}/I${c.intermediate_size}`;
  } catch {
    return null;
  }
}

function fmt(x: number | null | undefined): string {
  return x === null || x === undefined ? '—' : x.toFixed(4);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}
