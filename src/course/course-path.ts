// The course's path through its steps, shared by the main job (`nlpbook course`) and
// the notebooks: which profile (src/course/profiles.ts), where its folders are, and for each
// long step whether its result is already on disk (reused as it is) or must be computed
// — in which case the time it will take is measured first, on this machine.
//
//   <root>/<profile>/            root: env NLPBOOK_COURSE_DIR, default data/course
//     corpus/                    tiny only: the first rows of each NSMC split
//     pretrained/                offline / tiny: the model pretrained in step 3a
//     settings.json, best/, checkpoints/, metrics.jsonl   the fine-tuning run (step 7)
//
// The notebooks call it through notebook-course.ts (Korean messages); course.ts runs it
// end to end. Both build the same settings, so each finds what the other left.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { lastDir, readTrainerState, recoverLast, fit, readMetrics, type FitOptions, type FitResult } from '../train/index';
import { ClassificationDataset, evaluationLoader, trainingLoader } from '../data/index';
import { ensureCorpus, NsmcCorpus, nsmcPath, readNsmcFile, SPLITS, type FetchResult, type Split } from '../corpus/index';
import { NlpbookError } from '../util/errors';
import { writeFileAtomic } from '../util/fsutil';
import { BertForMaskedLM, fetchModel, saveModel } from '../model/index';
import { BertTokenizer } from '../tokenizer/index';
import {
  otherRunError, PRETRAIN_STATE_FORMAT, pretrain, pretrainConfig, pretrainMetrics, readPretrainResult, makePretrainSettings, pretrainConflicts, readSavedPretrainSettings,
  SPEED_FROM_STEP, type PretrainOptions, type PretrainResult, type PretrainState, type PretrainSettings,
} from '../pretrain/index';
import { PROFILE_NAMES, PROFILES, type ProfileName } from './profiles';
import { DEFAULT_SETTINGS, makeSettings, type Settings } from '../settings/index';
import { warmupStepsFor } from '../task/index';

/** The environment variable that picks the profile (the notebooks' one visible line names it). */
export const PROFILE_ENV = 'NLPBOOK_PROFILE';
/** The environment variable for the folder the profiles' folders go in (default data/course). */
export const COURSE_DIR_ENV = 'NLPBOOK_COURSE_DIR';

/** The profile named by NLPBOOK_PROFILE, else 'offline' (the only one that needs no download). */
export function profileFromEnv(env: NodeJS.ProcessEnv = process.env): ProfileName {
  return checkProfile(env[PROFILE_ENV]?.trim() || 'offline', PROFILE_ENV);
}

export function checkProfile(name: string, where = 'profile'): ProfileName {
  if (!(PROFILE_NAMES as readonly string[]).includes(name)) {
    throw new NlpbookError(`${where}: "${name}" is not a profile; use ${PROFILE_NAMES.join(', ')} (offline is the default)`);
  }
  return name as ProfileName;
}

/** Everything a profile fixes: its folders and the settings of each stage. */
export interface CoursePlan {
  profile: ProfileName;
  description: string;
  /** <root>/<profile>: the fine-tuning run's folder (settings.downstreamModelDir). */
  dir: string;
  /** Fine-tuning settings; pretrainedModelName is the pretrained folder when the profile pretrains. */
  settings: Settings;
  /** Pretraining settings (null: the profile starts from settings.pretrainedModelName as it is). */
  pretrain: PretrainSettings | null;
  /** Rows of each NSMC split the profile uses (null: all). */
  slice: Record<Split, number> | null;
  /** Where the full NSMC files are fetched to (the slice is cut from them). */
  corpusRoot: string;
  /**
   * Wall-clock budget of the whole job in minutes (null: none). With one, the pretraining
   * steps are planned (planPretraining) so that pretraining, fine-tuning and the evaluation
   * end within it on this machine.
   */
  minutes: number | null;
}

/** The plan of a profile; `overrides` change fine-tuning settings (the CLI's --set). */
export function coursePlan(
  profile: ProfileName, overrides: Partial<Settings> = {}, env: NodeJS.ProcessEnv = process.env, options: { minutes?: number | null } = {},
): CoursePlan {
  const p = PROFILES[profile];
  // Everything the profile writes goes under one folder (the fine-tuning run's): moving it moves all.
  const dir = overrides.downstreamModelDir ?? path.join(env[COURSE_DIR_ENV] || path.join('data', 'course'), profile);
  const corpusRoot = overrides.downstreamCorpusRootDir ?? DEFAULT_SETTINGS.downstreamCorpusRootDir;
  const pretrainedDir = path.join(dir, 'pretrained');
  const settings = makeSettings({
    ...p.settings,
    downstreamModelDir: dir,
    ...(p.slice ? { downstreamCorpusRootDir: path.join(dir, 'corpus') } : {}),
    ...(p.pretrain ? { pretrainedModelName: pretrainedDir } : {}),
    ...overrides,
  });
  const pretrainSettings = p.pretrain
    ? makePretrainSettings({
        ...p.pretrain,
        tokenizer: 'beomi/kcbert-base',
        corpusRootDir: settings.downstreamCorpusRootDir,
        corpusMirror: settings.corpusMirror,
        modelMirror: settings.modelMirror,
        outputDir: pretrainedDir,
        seed: settings.seed,
        // A task objective leaves out the labels of fine-tuning's validation split: the same draw.
        validationFraction: settings.validationFraction,
        tqdmEnabled: settings.tqdmEnabled,
      })
    : null;
  if (pretrainSettings && pretrainSettings.taskWeight > 0 && settings.emptyDocuments !== 'keep') {
    throw new NlpbookError(`settings.emptyDocuments: expected "keep" with a pretraining task objective (taskWeight ${pretrainSettings.taskWeight}), which holds out fine-tuning's validation split as "keep" draws it; got "${settings.emptyDocuments}"`);
  }
  const minutes = options.minutes === undefined ? p.minutes ?? null : options.minutes;
  if (minutes !== null && !(minutes > 0)) throw new NlpbookError(`--minutes: expected a positive number of minutes, got ${minutes}`);
  return { profile, description: p.description, dir, settings, pretrain: pretrainSettings, slice: p.slice ? { ...p.slice } : null, corpusRoot, minutes };
}

// --- step 2: the corpus -------------------------------------------------------------------

export interface CourseCorpus {
  corpus: NsmcCorpus;
  /** What fetching the full files did (cached: found valid on disk, no network). */
  fetched: FetchResult[];
  /** The folder of the slice the profile uses, else null. */
  slice: string | null;
}

/** NSMC as the plan uses it: both files fetched cache-first; the tiny profile's slice cut from them. */
export async function courseCorpus(plan: CoursePlan): Promise<CourseCorpus> {
  const s = plan.settings;
  const full = makeSettings({ ...s, downstreamCorpusRootDir: plan.corpusRoot });
  const fetched = await new NsmcCorpus(full).fetch();
  if (!plan.slice) return { corpus: new NsmcCorpus(s), fetched, slice: null };
  writeSlice(fetched, plan.slice, s.downstreamCorpusRootDir);
  return { corpus: new NsmcCorpus(s), fetched, slice: s.downstreamCorpusRootDir };
}

/** <root>/nsmc/ratings_*.txt with the header and the first `rows` records of each split, cut at record boundaries. */
function writeSlice(fetched: FetchResult[], rows: Record<Split, number>, root: string): void {
  for (const split of SPLITS) {
    const source = fetched.find((f) => f.split === split)!.path;
    const parsed = readNsmcFile(source);
    const lines = fs.readFileSync(source, 'utf8').split('\n');
    // parsed.lines are 1-based line numbers of the records: keep everything before record `rows`.
    const end = rows[split] < parsed.lines.length ? parsed.lines[rows[split]] - 1 : lines.length;
    const text = `${lines.slice(0, end).join('\n').replace(/\n$/, '')}\n`;
    const dest = nsmcPath(root, split);
    // Unchanged files keep their mtime (and so every cache keyed on them).
    if (!fs.existsSync(dest) || fs.readFileSync(dest, 'utf8') !== text) writeFileAtomic(dest, text);
  }
}

// --- measuring this machine ---------------------------------------------------------------

/** What a short trial of a training stage measured on this machine, and what the whole stage will take. */
export interface StageEstimate {
  /** Optimizer steps still to do. */
  steps: number;
  stepsPerSecond: number;
  /** Real (non-padding) tokens per second; pretraining only. */
  tokensPerSecond: number | null;
  minutes: number;
  /** Bytes the stage leaves on disk (model + resume checkpoint). */
  diskBytes: number;
  /** Resident memory of this process after the trial, bytes (a lower bound for the stage). */
  memoryBytes: number;
  /** Seconds the trial itself took. */
  trialSeconds: number;
  /** Optimizer steps in one pass over the training data. */
  stepsPerPass: number;
}

// The trial's length. Batches of short and long sentences differ ~10x in tokens, so a
// short trial's steps per second depend on which lengths it drew; the rates below are
// therefore per token (pretraining: real tokens; fine-tuning: token slots, padding
// included), and the first steps, which build the graph, are left out. On the fresh clones
// of 2026-12-05, 40-step trials read each stage 12-16% slower than the run then went, and
// a 72-step fine-tuning trial read per step 15% faster.
const TRIAL_STEPS = 72;
/** Steps left out of the rate: the first ones build the training graph. */
const TRIAL_WARMUP = 12;

function scratch(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `nlpbook-trial-${name}-`));
}

/** How fast `count` (default: steps) grew between the metrics lines of step `from` and the last one, per second. */
function rateOf<L extends { step: number; seconds: number }>(lines: L[], from: number, count: (l: L) => number = (l) => l.step): number {
  const a = lines.find((l) => l.step === from);
  const b = lines[lines.length - 1];
  if (!a || !b || b.seconds <= a.seconds) return 0;
  return (count(b) - count(a)) / (b.seconds - a.seconds);
}

/** Times a few pretraining steps of these settings in a scratch folder (removed after). */
export async function measurePretraining(s: PretrainSettings, options: Pick<PretrainOptions, 'tokenizer'> = {}): Promise<StageEstimate> {
  const dir = scratch('pretrain');
  const started = Date.now();
  try {
    const trial = await pretrain(
      { ...s, outputDir: dir, steps: TRIAL_STEPS + 1, minutes: 0, logEverySteps: 1, tqdmEnabled: false, checkpointEveryMinutes: 0 },
      { tokenizer: options.tokenizer, log: () => {}, stopAt: { steps: TRIAL_STEPS } },
    );
    const lines = pretrainMetrics(dir).train;
    // All real tokens over all seconds, not a mean of per-step rates.
    const tokensPerSecond = rateOf(lines, TRIAL_WARMUP, (l) => l.tokens);
    const stepsPerPass = Math.ceil(trial.data.trainSequences / s.batchSize);
    // A whole pass's steps average trainTokens / stepsPerPass tokens, whatever lengths the trial drew.
    const stepsPerSecond = tokensPerSecond / (trial.data.trainTokens / stepsPerPass);
    const total = s.steps > 0 ? s.steps : s.epochs * stepsPerPass;
    const done = pretrainStepsDone(s);
    const steps = Math.max(0, total - done);
    // Seconds of a stage: steps at the measured rate, capped by the settings' time budget.
    let seconds = stepsPerSecond > 0 ? steps / stepsPerSecond : 0;
    if (s.minutes > 0) seconds = Math.min(seconds, s.minutes * 60);
    const params = trial.parameters;
    return {
      steps, stepsPerSecond, tokensPerSecond: Math.round(tokensPerSecond), minutes: seconds / 60,
      diskBytes: params * 4 * 4, memoryBytes: process.memoryUsage().rss, trialSeconds: (Date.now() - started) / 1000, stepsPerPass,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Times a few fine-tuning steps of these settings in a scratch folder (removed after). */
export async function measureFineTuning(s: Settings, options: Pick<FitOptions, 'tokenizer' | 'corpus'> = {}): Promise<StageEstimate> {
  const dir = scratch('finetune');
  const started = Date.now();
  try {
    const corpus = options.corpus ?? (await ensureCorpus(s));
    const tokenizer = options.tokenizer ?? (await BertTokenizer.fromPretrained(s.pretrainedModelName, { modelMirror: s.modelMirror }));
    const trial = await fit(
      { ...s, downstreamModelDir: dir, logEverySteps: 1, tqdmEnabled: false },
      { tokenizer, corpus, log: () => {}, stopAt: { steps: TRIAL_STEPS } },
    );
    const state = readTrainerState(trial.checkpoint);
    // The trial trained the first batches of the run's own first epoch (same seed, same
    // plan): its rate is read per token slot (real + padding), which is what a step costs,
    // and a whole epoch's slots turn it into the run's mean steps per second.
    const quiet = { log: () => {} };
    const slots = trainingLoader(new ClassificationDataset(s, corpus, tokenizer, 'train', quiet), s).batchSlots(0);
    const lines = readMetrics(dir).filter((l) => l.type === 'train');
    const slotsDone = (l: { step: number }) => slots.slice(0, l.step).reduce((a, b) => a + b, 0);
    const slotsPerSecond = rateOf(lines, TRIAL_WARMUP, slotsDone);
    const epochSlots = slots.reduce((a, b) => a + b, 0);
    const slotsPerStep = epochSlots / slots.length;
    const stepsPerSecond = slotsPerSecond / slotsPerStep;
    const total = state.totalSteps;
    const done = fineTuningStepsDone(s);
    const steps = Math.max(0, total - done);
    // Validation once per epoch left: a forward pass over its slots, about half a training
    // step's cost per slot (measured: 15,000 sentences in 24 s at 10.3 training steps/s).
    const validationSlots = evaluationLoader(new ClassificationDataset(s, corpus, tokenizer, 'validation', quiet), s).batchSlots(0).reduce((a, b) => a + b, 0);
    const validations = s.epochs - Math.floor((done / Math.max(1, total)) * s.epochs);
    const seconds = slotsPerSecond > 0 ? (steps * slotsPerStep + (validations * validationSlots) / 2) / slotsPerSecond : 0;
    const params = trialParameters(trial.checkpoint);
    return {
      steps, stepsPerSecond, tokensPerSecond: null, minutes: seconds / 60,
      // best/ + the top-k checkpoints + last with AdamW's two moments
      diskBytes: params * 4 * (2 + Math.max(0, s.saveTopK) + 2), memoryBytes: process.memoryUsage().rss, trialSeconds: (Date.now() - started) / 1000,
      stepsPerPass: state.batchesPerEpoch,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function trialParameters(checkpoint: string): number {
  const file = path.join(checkpoint, 'model.safetensors');
  return fs.existsSync(file) ? Math.round(fs.statSync(file).size / 4) : 0;
}

function pretrainStepsDone(s: PretrainSettings): number {
  const saved = recoverLast<PretrainState>(s.outputDir!, PRETRAIN_STATE_FORMAT);
  return saved && pretrainConflicts(saved.settings, s).length === 0 ? saved.step : 0;
}

function fineTuningStepsDone(s: Settings): number {
  const saved = recoverLast(s.downstreamModelDir);
  return saved ? saved.step : 0;
}

// --- step 3: the pretrained model ---------------------------------------------------------

export interface CoursePretrained {
  /** The model folder (Hugging Face layout), or the hub id's local snapshot. */
  model: string;
  /** Found finished on disk (or in a cache / mirror) and used as it is. */
  reused: boolean;
  /** The pretraining run, when the profile pretrains. */
  result: PretrainResult | null;
  /** The measured estimate, when something had to be computed. */
  estimate: StageEstimate | null;
  /** The budget's plan, when pretraining was planned to fit plan.minutes. */
  budget: BudgetPlan | null;
}

export interface StageOptions {
  /** When the whole job began (Date.now()): the budget counts from there. */
  startedAt?: number;
  /** Called with the budget's plan before pretraining starts. */
  onBudget?: (budget: BudgetPlan) => void;
  log?: (line: string) => void;
  /** Called with the estimate before a long computation starts. */
  onEstimate?: (estimate: StageEstimate) => void;
  /** Skip the trial run (no estimate; the tests and resumed runs). */
  measure?: boolean;
  pretrain?: PretrainOptions;
  fit?: FitOptions;
}

/**
 * What a budget decides about pretraining (how long it runs), not what the model is: a
 * finished model that differs from the plan only here is the profile's model (a faster
 * machine trained it for more steps in the same minutes).
 */
const PLANNED: readonly (keyof PretrainSettings)[] = ['steps', 'epochs', 'minutes'];

function modelConflicts(saved: PretrainSettings, plan: PretrainSettings): string[] {
  return pretrainConflicts({ ...saved, ...Object.fromEntries(PLANNED.map((k) => [k, plan[k]])) }, plan);
}

/**
 * The finished pretrained model in the plan's folder, read once: its result, and how its settings
 * differ from the plan's (the budget's planned steps aside; empty: it is the plan's model). null:
 * none finished there, or no pretraining in this profile.
 */
export function finishedPretraining(plan: CoursePlan): { result: PretrainResult; conflicts: string[] } | null {
  if (!plan.pretrain) return null;
  const dir = plan.pretrain.outputDir!;
  const result = readPretrainResult(dir);
  const saved = result ? readSavedPretrainSettings(dir) : null;
  return result && saved ? { result, conflicts: modelConflicts(saved, plan.pretrain) } : null;
}

/** The pretrained model is finished on disk with the plan's settings (the budget's planned steps aside). */
export function pretrainedReady(plan: CoursePlan): boolean {
  return finishedPretraining(plan)?.conflicts.length === 0;
}

/** How the whole job's minutes were shared out, as planned before pretraining. */
export interface BudgetPlan {
  /** The whole job's budget. */
  minutes: number;
  /** Minutes already gone when planning ended (corpus, features, the trial steps). */
  spent: number;
  /** Measured estimates of what comes after pretraining. */
  fineTuning: number;
  evaluation: number;
  /** Left unplanned for what varies (loading, checkpoints, a busier machine). */
  margin: number;
  /** What pretraining gets, and the steps and passes it makes of them at the measured speed. */
  pretraining: number;
  steps: number;
  passes: number;
  tokensPerSecond: number;
  /** Disk pretraining leaves (model + resume checkpoint) and this process's memory after the trial, bytes. */
  diskBytes: number;
  memoryBytes: number;
  /** When pretraining is to end (ms since 1970): the plan's time for it, counted from the end of planning. */
  pretrainingEndsAt: number;
  /**
   * The steps planned again from the run's own speed, once the learning rate has warmed up and
   * then every tenth of the plan (budgetReplan): the trial's few steps can read a machine 10-25%
   * slower or faster than the run then goes, and the machine can drift. The first look's step and
   * speed, the steps in the end, how many looks, the last look's step and speed. Set after
   * pretraining; null when it kept the plan's steps.
   */
  replanned?: Omit<NonNullable<PretrainResult['replanned']>, 'fromSteps'> | null;
  /**
   * Fine-tuning and evaluation's minutes as the last look saw them: `fineTuning + evaluation`
   * scaled by the trial's speed over the session's until then (within 2/3 and 1.5), which moves
   * pretraining's end by the difference. Absent when no look was made.
   */
  afterPretraining?: number;
}

/** Minutes kept free of the plan: checkpoints, model loading, load spikes. */
const BUDGET_MARGIN = 2;

/**
 * Plans the pretraining steps so that the whole job ends within plan.minutes (the budget-aware
 * schedule of Cramming, Geiping & Goldstein 2022): fine-tuning and evaluation are measured on
 * this machine (a few fine-tuning steps of a model of the same shape), pretraining gets the
 * rest, and its steps are that time at its measured speed. The learning rate then decays to
 * 0 exactly at the last planned step: a fast machine trains more, a slow one less, and neither
 * cuts its schedule short.
 */
export async function planPretraining(
  plan: CoursePlan, startedAt: number, options: { tokenizer: BertTokenizer; corpus?: FitOptions['corpus'] },
): Promise<{ settings: PretrainSettings; budget: BudgetPlan }> {
  const s = plan.pretrain!;
  const minutes = plan.minutes!;
  // A random model of the pretrained model's shape trains at the same speed.
  const shape = scratch('shape');
  try {
    const model = BertForMaskedLM.init(pretrainConfig(s, options.tokenizer), s.seed);
    saveModel(model, shape); // fine-tuning's trial gets the tokenizer itself
    model.dispose();
    const ft = await measureFineTuning({ ...plan.settings, pretrainedModelName: shape }, { tokenizer: options.tokenizer, corpus: options.corpus });
    const pre = await measurePretraining(s, { tokenizer: options.tokenizer });
    // Scoring the test split: a forward pass per sentence, about a quarter of a training step's
    // work (measured: 50,000 sentences in 0.6 min at 10.4 training steps/s), plus the charts.
    const testSentences = plan.slice?.test ?? 50_000;
    const evaluation = testSentences / (4 * plan.settings.batchSize * Math.max(ft.stepsPerSecond, 1e-3)) / 60 + 0.3;
    const spent = (Date.now() - startedAt) / 60000;
    const pretraining = minutes - spent - ft.minutes - evaluation - BUDGET_MARGIN;
    if (pretraining < 1) {
      throw new NlpbookError(
        `--minutes ${minutes}: fine-tuning (${ft.minutes.toFixed(1)} min measured here) and evaluation (${evaluation.toFixed(1)}) leave no time to pretrain; ` +
          `give at least ${Math.ceil(spent + ft.minutes + evaluation + BUDGET_MARGIN + 5)} minutes`,
      );
    }
    const steps = Math.max(1, Math.floor(pretraining * 60 * pre.stepsPerSecond));
    const round = (x: number) => Math.round(x * 100) / 100;
    const pretrainingEndsAt = Math.round(Date.now() + pretraining * 60000);
    return {
      // A safety cap well past the plan: only a machine that slows down a lot mid-run hits it.
      settings: { ...s, steps, minutes: round(pretraining * 1.3) },
      budget: {
        minutes, spent: round(spent), fineTuning: round(ft.minutes), evaluation: round(evaluation), margin: BUDGET_MARGIN,
        pretraining: round(pretraining), steps, passes: round(steps / pre.stepsPerPass), tokensPerSecond: pre.tokensPerSecond ?? 0,
        diskBytes: pre.diskBytes, memoryBytes: pre.memoryBytes, pretrainingEndsAt,
      },
    };
  } finally {
    fs.rmSync(shape, { recursive: true, force: true });
  }
}

/** Steps measured over before the run's own speed replaces the trial's (budgetReplan). */
const REPLAN_MIN_STEPS = 100;
/** After the first look, budgetReplan looks again every tenth of the planned steps. */
const REPLAN_LOOKS = 10;

/**
 * The budget's later looks (PretrainOptions.replan): once the learning rate has warmed up
 * (settings.warmupRatio of the planned steps, at least REPLAN_MIN_STEPS measured after the
 * graphs are built), the steps that end pretraining when the plan said, at the speed this run
 * has shown so far; then again every tenth of the planned steps, at the speed since the look
 * before. The trial's minute can catch the machine in a slow or fast patch (the 2026-12-06
 * runs: 4,619 tokens/s measured, 5,300-5,900 run), and the machine can drift after one look
 * (the 2026-12-07 run: 5,970 at the look, 5,000-5,900 after, 3.5 minutes over its share).
 * Each look moves the rate's decay a little (to the schedule of a run that long), and moves
 * pretraining's end by what the same drift does to fine-tuning and evaluation's minutes
 * (BudgetPlan.afterPretraining). Between half and twice the steps planned so far, whatever the
 * measurement says.
 */
export function budgetReplan(budget: BudgetPlan, s: PretrainSettings): PretrainOptions['replan'] {
  const atStep = Math.max(warmupStepsFor(budget.steps, s.warmupRatio), SPEED_FROM_STEP + REPLAN_MIN_STEPS);
  if (atStep >= budget.steps) return undefined;
  return {
    atStep,
    everySteps: Math.max(REPLAN_MIN_STEPS, Math.round(budget.steps / REPLAN_LOOKS)),
    steps: (speed) => {
      // Fine-tuning and evaluation were timed in the same minute as the pretraining trial, so the
      // machine's drift since then (the trial's speed against the session's so far) moves their
      // share too: a trial in a slow patch (2026-12-07, no AMX: 5,833 tokens/s, then 6,300-7,200)
      // planned 22.2 minutes of fine-tuning that took 16.3, and the job ended 8 minutes early.
      // The whole session's speed, not the last stretch's: read from one slow stretch, a look's
      // estimate rose by 3.6 minutes, which cut 539 of the 1,306 steps that look took off.
      const scale = budget.tokensPerSecond > 0 ? Math.min(1.5, Math.max(2 / 3, budget.tokensPerSecond / speed.sessionTokensPerSecond)) : 1;
      const after = budget.fineTuning + budget.evaluation;
      budget.afterPretraining = Math.round(after * scale * 100) / 100;
      const endsAt = budget.pretrainingEndsAt + (after - budget.afterPretraining) * 60000;
      const secondsLeft = Math.max(0, (endsAt - Date.now()) / 1000);
      const steps = speed.step + Math.floor((secondsLeft * speed.tokensPerSecond) / speed.tokensPerStep);
      return Math.min(2 * speed.totalSteps, Math.max(Math.ceil(speed.totalSteps / 2), steps));
    },
  };
}

/**
 * Step 3's model: the profile's pretrained folder (reused when finished, else pretrained
 * now, after a measured estimate), or the book's hub model with its weights.
 */
export async function coursePretrained(plan: CoursePlan, options: StageOptions = {}): Promise<CoursePretrained> {
  if (!plan.pretrain) {
    const dir = await fetchModel(plan.settings.pretrainedModelName, {
      modelMirror: plan.settings.modelMirror, files: ['config.json'], oneOf: [['model.safetensors', 'pytorch_model.bin']], progress: plan.settings.tqdmEnabled,
    }).catch((e: Error) => {
      throw new NlpbookError(
        `profile ${plan.profile} needs the weights of ${plan.settings.pretrainedModelName}, and they are not here: offline, use the profile offline ` +
          `(${PROFILE_ENV}=offline, the default: it pretrains its own model) — ${e.message}`,
      );
    });
    return { model: dir, reused: true, result: null, estimate: null, budget: null };
  }
  const dir = plan.pretrain.outputDir!;
  const finished = finishedPretraining(plan);
  if (finished) {
    // One of other settings (an older profile's, say) is refused now, before the trial spends
    // a minute measuring; pretrain() would refuse it only after.
    if (finished.conflicts.length) throw otherRunError(dir, finished.conflicts);
    return { model: dir, reused: true, result: { ...finished.result, model: dir, reused: true }, estimate: null, budget: null };
  }
  let settings = plan.pretrain;
  let estimate: StageEstimate | null = null;
  let budget: BudgetPlan | null = null;
  // An interrupted run resumes with the steps it was planned with.
  const interrupted = recoverLast<PretrainState>(dir, PRETRAIN_STATE_FORMAT);
  if (interrupted && modelConflicts(interrupted.settings, settings).length === 0) {
    settings = { ...settings, ...Object.fromEntries(PLANNED.map((k) => [k, interrupted.settings[k]])) };
  } else if (plan.minutes !== null && !settings.testMode) {
    const tokenizer = options.pretrain?.tokenizer ?? (await BertTokenizer.fromPretrained(settings.tokenizer, { modelMirror: settings.modelMirror }));
    const planned = await planPretraining(plan, options.startedAt ?? Date.now(), { tokenizer, corpus: options.fit?.corpus });
    settings = planned.settings;
    budget = planned.budget;
    options.onBudget?.(budget);
  } else if (options.measure ?? true) {
    estimate = await measurePretraining(settings, { tokenizer: options.pretrain?.tokenizer });
    options.onEstimate?.(estimate);
  }
  const replan = budget ? budgetReplan(budget, settings) : undefined;
  const result = await pretrain(settings, { log: options.log, replan, ...options.pretrain });
  if (!result.finished) throw new NlpbookError(`pretraining stopped before the end (${result.steps} of ${result.totalSteps} steps); run again to resume`);
  if (budget) {
    budget.replanned = null;
    if (result.replanned) {
      const { fromSteps: _plannedSteps, ...replanned } = result.replanned; // the budget's own `steps`
      budget.replanned = replanned;
    }
  }
  return { model: result.model, reused: false, result, estimate, budget };
}

// --- step 7: fine-tuning ------------------------------------------------------------------

export interface CourseFineTuned {
  result: FitResult;
  /** A finished run with the same settings was found and returned without training. */
  reused: boolean;
  estimate: StageEstimate | null;
}

/** The fine-tuning run of the plan is finished on disk (with any settings: fit() says if they differ). */
export function fineTunedReady(plan: CoursePlan): boolean {
  const last = lastDir(plan.settings.downstreamModelDir);
  return fs.existsSync(path.join(last, 'trainer-state.json')) && readTrainerState(last).finished;
}

/** Step 7: fine-tunes as the plan says, or returns the finished run with the same settings. */
export async function courseFineTuned(plan: CoursePlan, options: StageOptions = {}): Promise<CourseFineTuned> {
  if (fineTunedReady(plan)) {
    const result = await fit(plan.settings, { log: () => {}, ...options.fit });
    return { result, reused: true, estimate: null };
  }
  let estimate: StageEstimate | null = null;
  if (options.measure ?? true) {
    estimate = await measureFineTuning(plan.settings, { tokenizer: options.fit?.tokenizer, corpus: options.fit?.corpus });
    options.onEstimate?.(estimate);
  }
  const result = await fit(plan.settings, { log: options.log, ...options.fit });
  if (!result.finished) throw new NlpbookError(`fine-tuning stopped before the end (${result.epochs} epochs); run again to resume`);
  return { result, reused: false, estimate };
}
