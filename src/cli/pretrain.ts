// `nlpbook pretrain`: masked-language-model pretraining of a small BERT with kcbert's
// vocabulary (course step 3b), resuming a matching checkpoint and reusing a finished
// model. Progress on stderr; the last stdout line is one JSON object.
import { parseArgs } from 'util';
import { pretrainSettingsFromCli, pretrain } from '../pretrain/index';

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

export const command = {
  summary: 'MLM-pretrain a small BERT with kcbert\'s vocabulary ([--config FILE] [--set key=value]...); resumes; last stdout line: JSON',
  async run(argv: string[]): Promise<void> {
    const { values } = parseArgs({
      args: argv,
      options: { config: { type: 'string' }, set: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      console.log(USAGE);
      return;
    }
    const settings = pretrainSettingsFromCli({ config: values.config, set: values.set });
    // Ctrl+C (or a polite kill): finish the current step, save checkpoints/last, print the result.
    const stop = new AbortController();
    const onSignal = (signal: NodeJS.Signals) => {
      if (stop.signal.aborted) process.exit(130);
      console.error(`nlpbook pretrain: ${signal}: stopping after this step and saving a checkpoint (again to quit now)`);
      stop.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let r;
    try {
      r = await pretrain(settings, { signal: stop.signal });
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    if (!r.finished) process.exitCode = 130;
    console.log(
      JSON.stringify({
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
    );
  },
};
