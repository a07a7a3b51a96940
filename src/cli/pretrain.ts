// `nlpbook pretrain`: masked-language-model pretraining of a small BERT with kcbert's
// vocabulary (course step 3b), resuming a matching checkpoint and reusing a finished
// model. Progress on stderr; the last stdout line is one JSON object.
import { pretrainSettingsFromCli, pretrain } from '../pretrain/index';
import { defineTrainingCommand } from './command';

const USAGE = `usage: nlpbook pretrain [--config FILE] [--set key=value]...

Pretrains a BERT with a masked-language-model objective on NSMC's TRAINING documents
(labels unused; the test split is never read) and/or textFiles, with the tokenizer's
vocabulary (default beomi/kcbert-base). Writes to outputDir (default
data/pretrained/mlm-L<layers>-H<hidden>) a Hugging Face model folder that step 3 loads
like kcbert-base (settings.pretrainedModelName = that folder), plus metrics.jsonl and
pretrain-result.json. A rerun with the same settings resumes an interrupted run
(checkpoints/last, saved every checkpointEveryMinutes and on Ctrl+C) or returns the
finished model.

  --config FILE       pretraining settings JSON (fields: src/pretrain/pretrain-settings.ts)
  --set key=value     override one setting, e.g. --set steps=2000 --set minutes=25`;

export const command = defineTrainingCommand({
  name: 'pretrain',
  summary: 'MLM-pretrain a small BERT with kcbert\'s vocabulary ([--config FILE] [--set key=value]...); resumes; last stdout line: JSON',
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
