// Recipes for the main job, compared on validation accuracy (not a test): one row =
// pretraining on NSMC's training texts (settings over the offline profile's, for a time
// budget that a measured trial of a few steps turns into a number of steps, so that the
// learning-rate schedule ends when the budget does) + fine-tuning (settings over the
// offline profile's) → held-out MLM accuracy and validation accuracy. The test split is
// never read here: the course reads it once, for the recipe chosen on these rows.
//
//   NLPBOOK_MIRROR=../shared node --import tsx bench/recipe.ts --name NAME --minutes 38 \
//     [--pretrain key=value]... [--finetune key=value]... [--steps N] [--pretrained DIR]
//
// --steps fixes the pretraining steps instead of the budget; --pretrained skips pretraining
// and fine-tunes that folder. Folders: data/recipes/NAME/{pretrained,finetuned}. Appends one
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

const { values } = parseArgs({
  options: {
    name: { type: 'string' }, minutes: { type: 'string' }, steps: { type: 'string' }, pretrained: { type: 'string' },
    pretrain: { type: 'string', multiple: true, default: [] }, finetune: { type: 'string', multiple: true, default: [] },
  },
});
if (!values.name) throw new Error('--name is required');
const dir = path.join('data', 'recipes', values.name);

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
      console.error(`recipe ${values.name}: ${trial.stepsPerSecond.toFixed(2)} steps/s (${trial.tokensPerSecond} tokens/s) measured -> ${steps} steps for ${values.minutes} minutes`);
    }
    pretrained = await pretrain({ ...base, steps }, { tokenizer });
    modelDir = pretrained.model;
  }
  const settings = makeSettings({ ...plan.settings, pretrainedModelName: modelDir, downstreamModelDir: path.join(dir, 'finetuned'), ...parseSetArgs(values.finetune) });
  const tuned = await fit(settings, { tokenizer });
  const row = {
    name: values.name,
    date: new Date().toISOString(),
    pretrain: values.pretrained ? { reused: values.pretrained } : {
      model: `L${base.layers}/H${base.hidden}/A${base.heads}/I${base.intermediate}`, objective: base.objective, dropout: base.dropout,
      overrides: pretrainOverrides, budgetMinutes: values.minutes ? Number(values.minutes) : null,
      measured: trial && { stepsPerSecond: Math.round(trial.stepsPerSecond * 1000) / 1000, tokensPerSecond: trial.tokensPerSecond },
      steps: pretrained!.steps, epochs: Math.round((pretrained!.trainedTokens / pretrained!.data.trainTokens) * 100) / 100,
      minutes: pretrained!.minutes, tokensPerSecond: pretrained!.tokensPerSecond, mlmAccuracy: pretrained!.mlmAccuracy, mlmLoss: pretrained!.mlmLoss,
    },
    finetune: { overrides: parseSetArgs(values.finetune), epochs: tuned.epochs, steps: tuned.steps, minutes: tuned.minutes },
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
