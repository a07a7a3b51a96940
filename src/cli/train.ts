// `nlpbook train`: fine-tunes the classifier as the settings say (course steps 6 and 7),
// resuming a matching checkpoint in downstreamModelDir. Progress on stderr; the last
// stdout line is one JSON object with the best model's folder and its validation scores.
import { settingsFromCli } from '../settings/index';
import { fit } from '../train/index';
import { defineTrainingCommand } from './command';

const USAGE = `usage: nlpbook train [--config FILE] [--set key=value]...

Trains settings.pretrainedModelName on NSMC's training split (validation: a held-out part
of it; the test split is not used). Writes to settings.downstreamModelDir:
  checkpoints/last/   resumable checkpoint (a rerun with the same settings continues from it;
                      saved at every epoch end, every 30 minutes, and on Ctrl+C)
  checkpoints/epoch=E-step=S-val_loss=L/   the saveTopK best checkpoints
  best/               the best model, Hugging Face layout (nlpbook evaluate/predict --model)
  metrics.jsonl       one JSON line per logEverySteps steps and per validation

  --config FILE       settings JSON (see nlpbook settings)
  --set key=value     override one setting, e.g. --set epochs=1 --set batchSize=16`;

export const command = defineTrainingCommand({
  name: 'train',
  summary: 'fine-tune on NSMC ([--config FILE] [--set key=value]...); resumes; last stdout line: JSON',
  usage: USAGE,
  settings: settingsFromCli,
  train: fit,
  result: (r) => ({
    model: r.model,
    checkpoint: r.checkpoint,
    validationAccuracy: r.best?.accuracy ?? null,
    validationLoss: r.best?.loss ?? null,
    validationPrecision: r.best?.precision ?? null,
    validationRecall: r.best?.recall ?? null,
    validationF1: r.best?.f1 ?? null,
    bestEpoch: r.best?.epoch ?? null,
    monitor: r.monitor,
    epochs: r.epochs,
    steps: r.steps,
    minutes: r.minutes,
    finished: r.finished,
    stoppedEarly: r.stoppedEarly,
    resumed: r.resumedFrom !== null,
    metrics: r.metrics,
  }),
});
