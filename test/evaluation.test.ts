// Step 8's numbers: the curves and bins of src/evaluate/evaluation.ts against scikit-learn
// (test/fixtures/evaluation.json, made by scripts/fixtures/evaluation.py), a real trainer
// log read into training curves, a real (tiny) model scored on a slice of NSMC with its
// misclassified table, and one-line errors for bad input.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { initBackend } from '../src/util/backend';
import { readNsmc } from '../src/corpus/index';
import { NlpbookError } from '../src/util/errors';
import {
  evaluate, evaluateModel, misclassified, misclassifiedFrame, findMetricsFile, readTrainingCurves, type ExampleRow,
} from '../src/evaluate/index';
import {
  accuracyByLength, analyzePredictions, averagePrecision, binIndex, calibrationCurve, precisionRecallCurve,
  reliabilityDiagram, rocAuc, rocCurve,
} from '../src/evaluate/evaluation';
import { BertTokenizer, tokenLengths } from '../src/tokenizer/index';
import { fit } from '../src/train/index';
import { main } from '../src/cli/main';
import { FIXTURES, jsonLines, KCBERT_DIR, runCli, tempDir } from './helpers';
import { nsmcSlice, quickSettings } from './train-helpers';

const fixture = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'evaluation.json'), 'utf8'));
type Case = (typeof fixture.cases)[number];
const num = (x: number | string) => (x === 'inf' ? Infinity : (x as number));
const nums = (xs: (number | string)[]) => xs.map(num);

function assertClose(actual: readonly (number | null)[], expected: readonly (number | null)[], what: string, tol = 1e-12): void {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} values, expected ${expected.length}`);
  actual.forEach((a, i) => {
    const e = expected[i];
    if (a === null || e === null || !Number.isFinite(a) || !Number.isFinite(e)) assert.equal(a, e, `${what}[${i}]`);
    else assert.ok(Math.abs(a - e) <= tol, `${what}[${i}]: ${a} vs scikit-learn ${e}`);
  });
}

describe('metrics against scikit-learn', () => {
  for (const c of fixture.cases as Case[]) {
    const labels: number[] = c.labels;
    const probs: number[] = nums(c.probs);
    test(`${c.name}: confusion, accuracy, precision, recall, F1`, () => {
      const a = analyzePredictions(labels, probs, { lengths: c.lengths });
      assert.deepEqual(a.confusion, { trueNegative: c.confusion.tn, falsePositive: c.confusion.fp, falseNegative: c.confusion.fn, truePositive: c.confusion.tp });
      assertClose([a.accuracy, a.precision, a.recall, a.f1], [c.accuracy, c.precision, c.recall, c.f1], 'scores');
      assertClose([a.auc, a.averagePrecision, a.ece], [c.auc, c.average_precision, c.ece], 'auc, ap, ece');
    });
    test(`${c.name}: ROC curve (ties as one step, collinear points dropped or kept) and AUC`, () => {
      const roc = rocCurve(labels, probs);
      assertClose(roc.fpr, c.roc.fpr, 'fpr');
      assertClose(roc.tpr, c.roc.tpr, 'tpr');
      assert.deepEqual(roc.thresholds, nums(c.roc.thresholds));
      const all = rocCurve(labels, probs, { dropIntermediate: false });
      assertClose(all.fpr, c.roc_all.fpr, 'fpr (all thresholds)');
      assertClose(all.tpr, c.roc_all.tpr, 'tpr (all thresholds)');
      assert.deepEqual(all.thresholds, nums(c.roc_all.thresholds));
      assertClose([rocAuc(labels, probs)], [c.auc], 'roc_auc_score');
    });
    test(`${c.name}: precision-recall curve and average precision`, () => {
      const pr = precisionRecallCurve(labels, probs);
      assertClose(pr.precision, c.pr.precision, 'precision');
      assertClose(pr.recall, c.pr.recall, 'recall');
      assert.deepEqual(pr.thresholds, nums(c.pr.thresholds));
      assertClose([averagePrecision(labels, probs)], [c.average_precision], 'average_precision_score');
    });
    test(`${c.name}: calibration curve, reliability bins and ECE, accuracy by length`, () => {
      const cal = calibrationCurve(labels, probs);
      assertClose(cal.probTrue, c.calibration.prob_true, 'prob_true');
      assertClose(cal.probPred, c.calibration.prob_pred, 'prob_pred');
      assert.deepEqual(cal.count, c.calibration.count);
      const r = reliabilityDiagram(labels, probs);
      assert.deepEqual(r.bins.map((b) => b.count), c.reliability.map((b: { count: number }) => b.count));
      assertClose(r.bins.map((b) => b.confidence), c.reliability.map((b: { confidence: number | null }) => b.confidence), 'bin confidence');
      assertClose(r.bins.map((b) => b.accuracy), c.reliability.map((b: { accuracy: number | null }) => b.accuracy), 'bin accuracy');
      assertClose([r.ece], [c.ece], 'ece');
      const buckets = accuracyByLength(c.lengths, labels, probs.map((p) => (p > 0.5 ? 1 : 0)), fixture.length_edges);
      assert.deepEqual(buckets.map((b) => b.count), c.by_length.map((b: { count: number }) => b.count));
      assertClose(buckets.map((b) => b.accuracy), c.by_length.map((b: { accuracy: number | null }) => b.accuracy), 'accuracy by length');
    });
  }
});

describe('curves', () => {
  const random = (fixture.cases as Case[])[0];
  test('AUC is the chance a positive outscores a negative, ties counting half', () => {
    const labels: number[] = random.labels;
    const probs = nums(random.probs);
    let wins = 0;
    let pairs = 0;
    labels.forEach((y, i) => {
      if (y !== 1) return;
      labels.forEach((z, j) => {
        if (z !== 0) return;
        pairs++;
        wins += probs[i] > probs[j] ? 1 : probs[i] === probs[j] ? 0.5 : 0;
      });
    });
    assert.ok(Math.abs(rocAuc(labels, probs) - wins / pairs) < 1e-12);
  });

  test('tied scores make one diagonal step whatever the order of the tied examples', () => {
    const a = rocCurve([1, 0, 1, 0], [0.9, 0.5, 0.5, 0.1]);
    const b = rocCurve([1, 1, 0, 0], [0.9, 0.5, 0.5, 0.1]);
    assert.deepEqual(a, b);
    assert.deepEqual(a.tpr, [0, 0.5, 1, 1]);
    assert.deepEqual(a.fpr, [0, 0, 0.5, 1]);
    assert.equal(rocAuc([1, 0, 1, 0], [0.9, 0.5, 0.5, 0.1]), 0.875);
  });

  test('bin edges fall where numpy.linspace puts them: (lo, hi], the first bin closed', () => {
    assert.deepEqual([0, 0.1, 0.10000001, 0.3, 0.30000000000000004, 0.5, 0.7, 1].map((p) => binIndex(p, 10)), [0, 0, 1, 2, 2, 4, 6, 9]);
  });

  test('a perfectly calibrated bin has no gap; an overconfident model has an ECE', () => {
    // 10 examples all 90% positive, 9 of them positive: accuracy 0.9 at confidence 0.9.
    const labels = [1, 1, 1, 1, 1, 1, 1, 1, 1, 0];
    const calm = reliabilityDiagram(labels, new Array(10).fill(0.9));
    assert.ok(calm.ece < 1e-12);
    assert.equal(calm.bins[8].count, 10);
    const sure = reliabilityDiagram(labels, new Array(10).fill(0.99));
    assert.ok(Math.abs(sure.ece - 0.09) < 1e-12);
    assert.equal(sure.bins[9].count, 10);
  });

  test('length buckets are named by their token ranges', () => {
    const buckets = accuracyByLength([3, 10, 11, 61, 200], [1, 1, 0, 0, 1], [1, 0, 0, 1, 1]);
    assert.deepEqual(buckets.map((b) => b.label), ['≤10', '11–20', '21–30', '31–40', '41–60', '61+']);
    assert.deepEqual(buckets.map((b) => b.count), [2, 1, 0, 0, 0, 2]);
    assert.deepEqual(buckets.map((b) => b.accuracy), [0.5, 1, null, null, null, 0.5]);
  });

  test('one class only: AUC and AP are null, the rest still works', () => {
    const a = analyzePredictions([1, 1, 1], [0.2, 0.7, 0.9]);
    assert.equal(a.auc, null);
    assert.ok(a.averagePrecision !== null);
    assert.equal(analyzePredictions([0, 0], [0.2, 0.7]).averagePrecision, null);
    assert.throws(() => rocAuc([0, 0], [0.2, 0.7]), /only one class/);
    assert.equal(a.accuracy, 2 / 3);
  });

  test('bad input: one-line errors naming what is wrong', () => {
    assert.throws(() => rocCurve([0, 1], [0.5]), (e: Error) => e instanceof NlpbookError && /2 labels but 1 scores/.test(e.message));
    assert.throws(() => rocCurve([0, 2], [0.5, 0.6]), /labels\[1\] must be 0 or 1, got 2/);
    assert.throws(() => analyzePredictions([0, 1], [0.5, NaN]), /probabilities\[1\] must be a finite number/);
    assert.throws(() => analyzePredictions([], []), /no examples/);
    assert.throws(() => reliabilityDiagram([0], [0.5], { bins: 0 }), /bins must be a positive integer/);
    assert.throws(() => accuracyByLength([1], [0], [0], [10, 5]), /length edges must be increasing/);
  });
});

describe('a trained model on NSMC', () => {
  let runDir: string;
  let testFile: string;
  before(async () => {
    await initBackend();
    const root = nsmcSlice(96, 60);
    testFile = path.join(root, 'nsmc', 'ratings_test.txt');
    const settings = quickSettings(root, { epochs: 2, batchSize: 16, learningRate: 1e-2, logEverySteps: 2 });
    runDir = settings.downstreamModelDir;
    await fit(settings, { tokenizer: BertTokenizer.fromFolder(KCBERT_DIR), log: () => {} });
  });

  test("the trainer's metrics.jsonl becomes per-step and per-epoch series", () => {
    const curves = readTrainingCurves(runDir);
    assert.equal(curves.file, path.join(runDir, 'metrics.jsonl'));
    assert.ok(curves.train.step.length >= 4, `${curves.train.step.length} train points`);
    assert.deepEqual(curves.validation.epoch, [1, 2]);
    assert.deepEqual(curves.train.step, [...curves.train.step].sort((a, b) => a - b));
    assert.ok(curves.train.step.every((s) => s % 2 === 0), 'a train line every 2 steps');
    for (const series of [curves.train.loss, curves.train.accuracy, curves.validation.loss, curves.validation.f1]) {
      assert.ok(series.every(Number.isFinite));
    }
    assert.equal(curves.validation.step[1], curves.train.step[curves.train.step.length - 1] + (curves.validation.step[1] % 2));
    assert.deepEqual(readTrainingCurves(curves.file), curves);
    assert.equal(findMetricsFile(path.join(runDir, 'best')), curves.file);
    assert.equal(findMetricsFile(tempDir()), null);
  });

  test('broken training logs: one-line errors with the line number', () => {
    const dir = tempDir();
    const file = path.join(dir, 'metrics.jsonl');
    fs.writeFileSync(file, '{"type":"train","step":1,"epoch":1,"loss":0.7,"accuracy":0.5,"lr":1e-5,"seconds":1}\n{"type":"train","step":2,\n');
    assert.throws(() => readTrainingCurves(file), (e: Error) => e instanceof NlpbookError && e.message.startsWith(`${file}:2: not JSON`));
    fs.writeFileSync(file, '{"type":"validation","epoch":1,"step":5,"accuracy":0.5}\n');
    assert.throws(() => readTrainingCurves(dir), /metrics\.jsonl:1: "validation" line needs a number "loss", got undefined/);
    fs.writeFileSync(file, '{"type":"heldout","step":3}\n');
    assert.throws(() => readTrainingCurves(file), /no "train" or "validation" lines/);
    assert.throws(() => readTrainingCurves(path.join(dir, 'nope.jsonl')), /nope\.jsonl: not found/);
    assert.throws(() => readTrainingCurves(tempDir()), /no metrics\.jsonl in this folder/);
  });

  test('evaluateModel: the scores of `nlpbook evaluate`, per-example rows, curves and buckets', async () => {
    const best = path.join(runDir, 'best');
    const report = await evaluateModel(best, testFile, { progress: false });
    const plain = await evaluate(best, testFile, { progress: false });
    const examples = readNsmc(testFile);
    assert.equal(report.n, 60);
    assert.equal(report.rows.length, 60);
    for (const key of ['accuracy', 'precision', 'recall', 'f1', 'loss'] as const) assert.equal(report[key], plain[key], key);
    assert.equal(report.data, testFile);
    assert.deepEqual(report.rows.map((r) => r.text), examples.map((e) => e.text));
    assert.deepEqual(report.rows.map((r) => r.id), examples.map((e) => e.id));
    assert.deepEqual(report.rows.map((r) => r.length), tokenLengths(BertTokenizer.fromFolder(KCBERT_DIR), examples.map((e) => e.text)));
    for (const r of report.rows) {
      assert.ok(r.positive_prob >= 0 && r.positive_prob <= 1);
      assert.equal(r.predicted, r.positive_prob > 0.5 ? 1 : 0, `predicted vs probability of "${r.text}"`);
    }
    const c = report.confusion;
    assert.equal(c.truePositive + c.falsePositive + c.trueNegative + c.falseNegative, 60);
    assert.equal(report.byLength!.reduce((s, b) => s + b.count, 0), 60);
    assert.equal(report.reliability.reduce((s, b) => s + b.count, 0), 60);
    assert.ok(report.auc !== null && report.auc >= 0 && report.auc <= 1);
    assert.equal(report.roc.fpr[report.roc.fpr.length - 1], 1);
    // The first `limit` rows only (batched with other lengths, so float32 sums differ in the last bits).
    const first = await evaluateModel(best, testFile, { progress: false, limit: 10 });
    assert.deepEqual(first.rows.map((r) => r.id), report.rows.slice(0, 10).map((r) => r.id));
    first.rows.forEach((r, i) => assert.ok(Math.abs(r.positive_prob - report.rows[i].positive_prob) < 1e-5));
  });

  test('misclassified examples: a danfojs table, most confidently wrong first', async () => {
    const report = await evaluateModel(path.join(runDir, 'best'), testFile, { progress: false, limit: 40 });
    const wrong = misclassified(report.rows);
    assert.equal(wrong.length, report.rows.filter((r) => r.label !== r.predicted).length);
    assert.ok(wrong.length > 0, 'the tiny model makes mistakes');
    const frame = misclassifiedFrame(report.rows);
    assert.deepEqual(frame.columns, ['id', 'text', 'label', 'predicted', 'positive_prob', 'confidence', 'length']);
    assert.equal(frame.shape[0], wrong.length);
    const confidence = frame.column('confidence').values as number[];
    assert.deepEqual(confidence, [...confidence].sort((a, b) => b - a));
    const labels = frame.column('label').values as number[];
    const predicted = frame.column('predicted').values as number[];
    labels.forEach((l, i) => assert.notEqual(l, predicted[i]));
    assert.equal(misclassifiedFrame(report.rows, 3).shape[0], Math.min(3, wrong.length));

    const rows: ExampleRow[] = [
      { id: 'a', text: '좋다', label: 1, predicted: 0, positive_prob: 0.4, length: 3 },
      { id: 'b', text: '별로', label: 0, predicted: 1, positive_prob: 0.95, length: 3 },
      { id: 'c', text: '최고', label: 1, predicted: 1, positive_prob: 0.9, length: 3 },
      { id: 'd', text: '싫다', label: 1, predicted: 0, positive_prob: 0.1, length: 3 },
    ];
    assert.deepEqual(misclassified(rows).map((r) => r.id), ['b', 'd', 'a']);
    assert.deepEqual(misclassifiedFrame(rows).column('confidence').values, [0.95, 0.9, 0.6]);
    const none = misclassifiedFrame(rows.filter((r) => r.label === r.predicted));
    assert.equal(none.shape[0], 0);
    assert.deepEqual(none.columns, ['id', 'text', 'label', 'predicted', 'positive_prob', 'confidence', 'length']);
  });

  test('bad input to evaluateModel: one-line errors', async () => {
    const missing = path.join(tempDir(), 'no-such-model');
    await assert.rejects(evaluateModel(missing, testFile), (e: Error) => e instanceof NlpbookError && e.message === `model folder not found: ${missing}`);
    await assert.rejects(evaluateModel(path.join(runDir, 'best'), path.join(runDir, 'nope.tsv')), /nope\.tsv: not found/);
    await assert.rejects(evaluateModel(path.join(runDir, 'best'), testFile, { limit: 0 }), /limit must be a positive integer, got 0/);
    const bad = path.join(tempDir(), 'bad.tsv');
    fs.writeFileSync(bad, 'id\tdocument\tlabel\n1\t좋아요\t2\n');
    await assert.rejects(evaluateModel(path.join(runDir, 'best'), bad), /bad\.tsv:2: label must be 0 or 1, got "2"/);
  });

  test('nlpbook report: PNG and plotly JSON of every chart, metrics.json, one JSON line', () => {
    const out = path.join(tempDir(), 'report');
    const r = runCli(['report', '--model', path.join(runDir, 'best'), '--data', testFile, '--out', out, '--json']);
    assert.equal(r.status, 0, r.stderr.slice(-2000));
    assert.ok(r.stderr.includes(`training curves from ${path.join(runDir, 'metrics.jsonl')}`), r.stderr);
    const result = jsonLines(r.stdout).pop();
    for (const key of ['n', 'accuracy', 'precision', 'recall', 'f1', 'loss', 'auc', 'averagePrecision', 'ece', 'metrics', 'charts', 'figures']) {
      assert.ok(key in result, `no "${key}" in ${JSON.stringify(result)}`);
    }
    assert.equal(result.n, 60);
    assert.equal(result.pngSkipped, null);
    const names = ['confusion-matrix', 'roc', 'precision-recall', 'reliability', 'probabilities', 'accuracy-by-length', 'training-loss', 'training-accuracy'];
    assert.deepEqual(result.charts, names.map((n) => path.join(out, `${n}.png`)));
    assert.deepEqual(result.figures, names.map((n) => path.join(out, `${n}.json`)));
    for (const png of result.charts) assert.equal(fs.readFileSync(png).subarray(1, 4).toString('latin1'), 'PNG', png);
    const metrics = JSON.parse(fs.readFileSync(result.metrics, 'utf8'));
    assert.equal(metrics.accuracy, result.accuracy);
    assert.equal(metrics.confusion.truePositive + metrics.confusion.falsePositive + metrics.confusion.trueNegative + metrics.confusion.falseNegative, 60);
    assert.equal(metrics.trainingLog, path.join(runDir, 'metrics.jsonl'));
    assert.ok(metrics.misclassified.length <= 20 && metrics.misclassified.every((m: { label: number; predicted: number }) => m.label !== m.predicted));
    assert.equal(metrics.roc.thresholds[0], null, 'Infinity is null in JSON');
  });

  test('nlpbook report without chromium: the charts as JSON, the reason on stderr', async () => {
    const out = tempDir();
    const missing = path.join(out, 'no-chromium');
    const printed: string[] = [];
    const [log, error] = [console.log, console.error];
    console.log = (...a: unknown[]) => printed.push(a.join(' '));
    console.error = (...a: unknown[]) => printed.push(`stderr: ${a.join(' ')}`);
    process.env.NLPBOOK_CHROMIUM = missing;
    try {
      await main(['report', '--model', path.join(runDir, 'best'), '--data', testFile, '--out', out, '--limit', '20', '--json']);
    } finally {
      [console.log, console.error] = [log, error];
      delete process.env.NLPBOOK_CHROMIUM;
    }
    assert.equal(process.exitCode ?? 0, 0, printed.join('\n'));
    assert.ok(printed.includes(`stderr: nlpbook report: PNG skipped: no chromium at ${missing} (NLPBOOK_CHROMIUM); apt-get install chromium fonts-nanum`), printed.join('\n'));
    const result = JSON.parse(printed[printed.length - 1]);
    assert.equal(result.n, 20);
    assert.deepEqual(result.charts, []);
    assert.equal(result.figures.length, 8);
    assert.match(result.pngSkipped, /^PNG skipped: no chromium at /);
  });

  test('nlpbook report: bad input gives one line naming what is wrong', async () => {
    const out = tempDir();
    const best = path.join(runDir, 'best');
    const badLog = path.join(tempDir(), 'metrics.jsonl');
    fs.writeFileSync(badLog, 'not json\n');
    const missing = path.join(out, 'no-such-model');
    const cases: [string[], string][] = [
      [['--data', testFile, '--out', out], '--model DIR is required (a trained model folder, e.g. data/checkpoint-doccls/best)'],
      [['--model', best, '--data', testFile], '--out DIR is required (where the charts and metrics.json go)'],
      [['--model', missing, '--data', testFile, '--out', out], `model folder not found: ${missing}`],
      [['--model', best, '--data', testFile, '--out', badLog], `--out ${badLog}: is a file, expected a folder`],
      [['--model', best, '--data', testFile, '--out', out, '--metrics', badLog], `${badLog}:1: not JSON (expected one metrics object per line), got "not json"`],
      [['--model', best, '--data', testFile, '--out', out, '--width', '0'], '--width must be an integer of at least 1, got "0"'],
      [['--model', best, '--data', testFile, '--out', out, '--scale', 'big'], '--scale must be a number above 0 and at most 8, got "big"'],
    ];
    for (const [args, message] of cases) {
      const printed: string[] = [];
      const error = console.error;
      console.error = (...a: unknown[]) => printed.push(a.join(' '));
      try {
        await main(['report', ...args]);
      } finally {
        console.error = error;
      }
      assert.equal(process.exitCode, 1, args.join(' '));
      process.exitCode = undefined;
      assert.deepEqual(printed.filter((l) => l.startsWith('nlpbook report: ') && !l.includes('training curves')), [`nlpbook report: ${message}`]);
    }
    assert.ok(!fs.existsSync(path.join(out, 'metrics.json')), 'nothing written');
  });
});
