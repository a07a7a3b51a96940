// `nlpbook report`: step 8 in one command. Scores a model folder on a labelled file and
// writes the evaluation charts (PNG + plotly JSON each), plus metrics.json with every number.
import * as fs from 'fs';
import * as path from 'path';
import { evaluationFigures, saveCharts } from '../charts/index';
import { check } from '../util/errors';
import { evaluateModel, misclassified, findMetricsFile, readTrainingCurves } from '../evaluate/index';
import { writeJsonAtomic } from '../util/fsutil';
import { defineCommand } from './command';
import { loaderFlags, MODEL_FLAGS, optionalInt, requireModel } from './inputs';

const USAGE = `usage: nlpbook report --model DIR --data TSV --out DIR [--metrics FILE] [--json] [options]

Scores the classifier in DIR on TSV (NSMC format, e.g. data/Korpora/nsmc/ratings_test.txt)
and writes into --out:
  confusion-matrix, roc, precision-recall, reliability, probabilities, accuracy-by-length
  and, with a training log, training-loss and training-accuracy: <name>.png (drawn by the
  system's chromium; skipped with a notice when there is none) and <name>.json (plotly figure)
  metrics.json   every number: scores, confusion matrix, AUC, AP, ECE, curves, bins,
                 accuracy by length, the 20 most confidently wrong sentences

  --model DIR        model folder (nlpbook train's best/, or one Python saved)
  --data TSV         labelled file
  --out DIR          where the charts and metrics.json go (created if needed)
  --metrics FILE     the trainer's metrics.jsonl for the training curves (default: the one
                     in DIR or its parent, e.g. data/checkpoint-doccls/metrics.jsonl for .../best)
  --tokenizer DIR    tokenizer folder when DIR has no vocab.txt / tokenizer.json
  --max-length N     longest input in tokens (default: DIR/settings.json's maxSeqLength, else 128)
  --batch-size N     sentences per batch (default 64)
  --limit N          score only the first N rows
  --width N, --height N, --scale N   PNG size in CSS pixels (default 720 x 480) and pixel density (default 1)
  --json             last stdout line: {"n","accuracy","precision","recall","f1","loss","auc",
                     "averagePrecision","ece","metrics","charts":[png paths],"figures":[json paths],"pngSkipped"}`;

export const command = defineCommand({
  name: 'report',
  summary: 'evaluation charts (PNG + plotly JSON) and metrics.json of a model on an NSMC-format file (--model DIR --data TSV --out DIR)',
  usage: USAGE,
  options: {
    ...MODEL_FLAGS,
    data: { type: 'string' },
    out: { type: 'string' },
    metrics: { type: 'string' },
    'batch-size': { type: 'string' },
    limit: { type: 'string' },
    width: { type: 'string' },
    height: { type: 'string' },
    scale: { type: 'string' },
  },
  json: true,
  async run({ values, notice }) {
    const model = requireModel(values);
    check(values.data !== undefined, '--data TSV is required (a labelled file in NSMC format)');
    check(values.out !== undefined, '--out DIR is required (where the charts and metrics.json go)');
    check(!fs.existsSync(values.out) || fs.statSync(values.out).isDirectory(), `--out ${values.out}: is a file, expected a folder`);
    const scale = values.scale === undefined ? undefined : Number(values.scale);
    check(scale === undefined || (scale > 0 && scale <= 8), `--scale must be a number above 0 and at most 8, got "${values.scale}"`);
    const size = { width: optionalInt(values.width, '--width', 1), height: optionalInt(values.height, '--height', 1), scale };
    // The training log is read before the slow part, so a bad one fails at once.
    const logFile = values.metrics ?? findMetricsFile(model);
    const curves = logFile ? readTrainingCurves(logFile) : null;
    if (!values.metrics) notice(curves ? `training curves from ${curves.file}` : `no metrics.jsonl next to ${model}: no training curves (--metrics FILE)`);

    const report = await evaluateModel(model, values.data, {
      ...loaderFlags(values),
      batchSize: optionalInt(values['batch-size'], '--batch-size', 1),
      limit: optionalInt(values.limit, '--limit', 1),
    });
    const saved = await saveCharts(evaluationFigures(report, curves), values.out, size);
    if (saved.skipped) notice(saved.skipped);

    const summary = {
      n: report.n, accuracy: report.accuracy, precision: report.precision, recall: report.recall, f1: report.f1, loss: report.loss,
      auc: report.auc, averagePrecision: report.averagePrecision, ece: report.ece,
    };
    const metricsFile = path.join(values.out, 'metrics.json');
    const { rows, ...numbers } = report;
    writeJsonAtomic(metricsFile, {
      ...numbers,
      trainingLog: curves?.file ?? null,
      // The rest of the rows stay out: 50,000 sentences would make this file tens of MB.
      misclassified: misclassified(rows).slice(0, 20),
      charts: saved.charts,
      figures: saved.figures,
      pngSkipped: saved.skipped,
    });
    return { ...summary, metrics: metricsFile, charts: saved.charts, figures: saved.figures, pngSkipped: saved.skipped };
  },
  text(out, { values }) {
    const { metrics, charts, figures, pngSkipped, ...summary } = out;
    console.log(`${values.data}: ${summary.n} examples`);
    for (const [k, v] of Object.entries(summary)) if (k !== 'n') console.log(`  ${k.padEnd(16)} ${v === null ? 'n/a' : v.toFixed(4)}`);
    console.log(`metrics: ${metrics}`);
    for (const file of charts.length ? charts : figures) console.log(`chart:   ${file}`);
  },
});
