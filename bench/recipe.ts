// Recipes for the main job, compared on validation accuracy (not a test): one row =
// pretraining on NSMC's training texts (settings over the offline profile's, for a time
// budget that a measured trial of a few steps turns into a number of steps, so that the
// learning-rate schedule ends when the budget does) + fine-tuning (settings over the
// offline profile's) → held-out MLM accuracy and validation accuracy. The test split is
// never read here: the course reads it once, for the recipe chosen on these rows.
//
//   NLPBOOK_MIRROR=../shared node --import tsx bench/recipe.ts --name NAME --minutes 38 \
//     [--pretrain key=value]... [--finetune key=value]... [--config key=value]... [--steps N] [--pretrained DIR]
//
// --steps fixes the pretraining steps instead of the budget; --pretrained skips pretraining
// and fine-tunes that folder; --config fine-tunes a copy of the model folder whose
// config.json has these fields changed (hidden_dropout_prob=0: fine-tuning takes its dropout
// from there). Folders: data/recipes/NAME/{pretrained,pretrained-config,finetuned}. Appends one
// JSON line per run to bench/results/recipes.jsonl (its load average says how busy the
// machine was: minutes are wall-clock on this machine, as the main job's).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';
import { coursePlan, measurePretraining } from '../src/course/course-path';
import { pretrain, type PretrainResult } from '../src/pretrain/index';
import { parsePretrainSetArgs } from '../src/pretrain/pretrain-settings';
import { makeSettings, parseSetArgs } from '../src/settings/index';
import { BertTokenizer } from '../src/tokenizer/index';
import { fit } from '../src/train/index';
import type { RecipeRun } from '../src/bench/results';

const { values } = parseArgs({
  options: {
    name: { type: 'string' }, minutes: { type: 'string' }, steps: { type: 'string' }, pretrained: { type: 'string' },
    pretrain: { type: 'string', multiple: true, default: [] }, finetune: { type: 'string', multiple: true, default: [] },
    config: { type: 'string', multiple: true, default: [] },
  },
});
if (!values.name) throw new Error('--name is required');
const name = values.name;
const dir = path.join('data', 'recipes', name);

(async () => {
  const started = Date.now();
  const load = () => os.loadavg().map((x) => Math.round(x * 100) / 100);
  const loadBefore = load();
  const plan = coursePlan('offline');
  const tokenizer = await BertTokenizer.fromPretrained('beomi/kcbert-base', { modelMirror: plan.settings.modelMirror });
  let pretrained: PretrainResult | null = null;
  let trial: Awaited<ReturnType<typeof measurePretraining>> | null = null;
  let modelDir = values.pretrained ?? '';
  const pretrainOverrides = parsePretrainSetArgs(values.pretrain);
  const base = { ...plan.pretrain!, ...pretrainOverrides, outputDir: path.join(dir, 'pretrained'), minutes: 0 };
  if (!values.pretrained) {
    let steps = Number(values.steps ?? 0);
    if (!steps) {
      if (!values.minutes) throw new Error('--minutes or --steps is required');
      trial = await measurePretraining({ ...base, steps: 1000 }, { tokenizer });
      steps = Math.floor(Number(values.minutes) * 60 * trial.stepsPerSecond);
      console.error(`recipe ${name}: ${trial.stepsPerSecond.toFixed(2)} steps/s (${trial.tokensPerSecond} tokens/s) measured -> ${steps} steps for ${values.minutes} minutes`);
    }
    pretrained = await pretrain({ ...base, steps }, { tokenizer });
    modelDir = pretrained.model;
  }
  const configOverrides = parseConfigArgs(values.config);
  if (Object.keys(configOverrides).length) modelDir = withConfig(modelDir, configOverrides, path.join(dir, 'pretrained-config'));
  const settings = makeSettings({ ...plan.settings, pretrainedModelName: modelDir, downstreamModelDir: path.join(dir, 'finetuned'), ...parseSetArgs(values.finetune) });
  const tuned = await fit(settings, { tokenizer });
  const row: RecipeRun = {
    name,
    date: new Date().toISOString(),
    pretrain: values.pretrained ? { reused: values.pretrained } : {
      model: `L${base.layers}/H${base.hidden}/A${base.heads}/I${base.intermediate}`, objective: base.objective, dropout: base.dropout,
      overrides: pretrainOverrides, budgetMinutes: values.minutes ? Number(values.minutes) : null,
      measured: trial && { stepsPerSecond: Math.round(trial.stepsPerSecond * 1000) / 1000, tokensPerSecond: trial.tokensPerSecond },
      steps: pretrained!.steps, epochs: Math.round((pretrained!.trainedTokens / pretrained!.data.trainTokens) * 100) / 100,
      minutes: pretrained!.minutes, tokensPerSecond: pretrained!.tokensPerSecond, mlmAccuracy: pretrained!.mlmAccuracy, mlmLoss: pretrained!.mlmLoss,
    },
    finetune: { overrides: parseSetArgs(values.finetune), config: configOverrides, epochs: tuned.epochs, steps: tuned.steps, minutes: tuned.minutes },
    validationAccuracy: tuned.best?.accuracy ?? null,
    validationHistory: tuned.history.map((h) => ({ epoch: h.epoch, accuracy: h.accuracy, loss: h.loss })),
    wallMinutes: Math.round(((Date.now() - started) / 60000) * 100) / 100,
    loadAverage: { before: loadBefore, after: load() },
    cores: os.cpus().length,
  };
  fs.mkdirSync('bench/results', { recursive: true });
  fs.appendFileSync('bench/results/recipes.jsonl', `${JSON.stringify(row)}\n`);
  console.log(JSON.stringify(row));
})().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});

/** --config key=value pairs: config.json fields and their JSON values (numbers, true/false, null). */
function parseConfigArgs(args: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new Error(`--config ${arg}: expected key=value (a config.json field, e.g. hidden_dropout_prob=0)`);
    const text = arg.slice(eq + 1);
    try {
      out[arg.slice(0, eq)] = JSON.parse(text);
    } catch {
      throw new Error(`--config ${arg}: the value must be JSON (a number, true, false or null), got ${text}`);
    }
  }
  return out;
}

/** A copy of model folder `from` in `to` whose config.json has `changes` (fields it already has). */
function withConfig(from: string, changes: Record<string, unknown>, to: string): string {
  const config = JSON.parse(fs.readFileSync(path.join(from, 'config.json'), 'utf8'));
  for (const key of Object.keys(changes)) if (!(key in config)) throw new Error(`--config ${key}: ${from}/config.json has no such field`);
  fs.mkdirSync(to, { recursive: true });
  for (const name of fs.readdirSync(from)) {
    if (name === 'config.json' || !fs.statSync(path.join(from, name)).isFile()) continue;
    fs.copyFileSync(path.join(from, name), path.join(to, name));
  }
  fs.writeFileSync(path.join(to, 'config.json'), `${JSON.stringify({ ...config, ...changes }, null, 2)}\n`);
  return to;
}
