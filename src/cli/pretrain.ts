// `nlpbook pretrain`: pretraining of a small BERT with kcbert's vocabulary (course step 3a),
// masked LM or ELECTRA (--objective), resuming a matching checkpoint and reusing a finished
// model. Progress on stderr; the last stdout line is one JSON object.
import { pretrainSettingsFromCli, pretrain } from '../pretrain/index';
import { defineTrainingCommand } from './command';

const USAGE = `usage: nlpbook pretrain [--objective mlm|electra] [--config FILE] [--set key=value]...

Pretrains a BERT with a masked-language-model objective (or ELECTRA's replaced-token detection,
saved as the discriminator's BERT encoder) on NSMC's TRAINING documents
(labels unused; the test split is never read) and/or textFiles, with the tokenizer's
vocabulary (default beomi/kcbert-base). Writes to outputDir (default
data/pretrained/<objective>-L<layers>-H<hidden>) a Hugging Face model folder that step 3 loads
like kcbert-base (settings.pretrainedModelName = that folder), plus metrics.jsonl and
pretrain-result.json. A rerun with the same settings resumes an interrupted run
(checkpoints/last, saved every checkpointEveryMinutes and on Ctrl+C) or returns the
finished model.

  --objective NAME    mlm (default) or electra: the same as --set objective=NAME
  --config FILE       pretraining settings JSON (fields: src/pretrain/pretrain-settings.ts)
  --set key=value     override one setting, e.g. --set steps=2000 --set minutes=25`;

const training = defineTrainingCommand({
  name: 'pretrain',
  summary: 'pretrain a small BERT with kcbert\'s vocabulary, MLM or ELECTRA ([--objective mlm|electra] [--set key=value]...); resumes; last stdout line: JSON',
  usage: USAGE,
  settings: pretrainSettingsFromCli,
  train: pretrain,
  result: (r) => ({
    model: r.model,
    steps: r.steps,
    totalSteps: r.totalSteps,
    minutes: r.minutes,
    mlmLoss: r.mlmLoss,
    mlmAccuracy: r.mlmAccuracy,
    ...(r.discriminatorAccuracy != null ? { discriminatorAccuracy: r.discriminatorAccuracy } : {}),
    trainLoss: r.trainLoss,
    trainAccuracy: r.trainAccuracy,
    tokensPerSecond: r.tokensPerSecond,
    parameters: r.parameters,
    finished: r.finished,
    stoppedBy: r.stoppedBy,
    reused: r.reused,
    resumed: r.resumedFrom !== null,
    metrics: r.metrics,
  }),
});

/** --objective NAME is the one setting with a flag of its own (as the issue names it): it becomes --set objective=NAME. */
function objectiveAsSet(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const m = /^--objective(?:=(.*))?$/.exec(argv[i]);
    if (!m) out.push(argv[i]);
    else out.push('--set', `objective=${m[1] ?? argv[++i] ?? ''}`);
  }
  return out;
}

export const command = { summary: training.summary, run: (argv: string[]) => training.run(objectiveAsSet(argv)) };
