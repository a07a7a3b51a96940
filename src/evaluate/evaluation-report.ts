// Step 8 of the course: a trained model scored on a labelled file, with everything the
// evaluation charts need: the scores `nlpbook evaluate` prints (through evaluate.ts),
// the curves and bins of evaluation.ts, and one row per example (text, label,
// prediction, positive probability, token length) for looking at the mistakes.
import type { DataFrame } from 'danfojs-node';
import { readNsmc, dfd, type Example } from '../corpus/index';
import { check } from '../util/errors';
import { evaluateExamples, type EvaluateOptions } from './evaluate';
import { analyzePredictions, type PredictionAnalysis } from './evaluation';
import { argmaxRows, softmaxRow } from '../task/index';
import { SentenceClassifier } from '../train/index';
import { tokenLengths } from '../tokenizer/index';

/** One scored example. */
export interface ExampleRow {
  id: string;
  text: string;
  /** True label (0 negative, 1 positive). */
  label: number;
  /** Predicted label (argmax of the logits). */
  predicted: number;
  /** Softmax probability of label 1. */
  positive_prob: number;
  /** kcbert tokens with [CLS] and [SEP], before truncation. */
  length: number;
}

export interface EvaluationReport extends PredictionAnalysis {
  /** The model folder and the labelled file (null when examples were passed in). */
  model: string;
  data: string | null;
  /** Mean cross-entropy. */
  loss: number;
  rows: ExampleRow[];
}

export interface ReportOptions extends EvaluateOptions {
  /** Reliability bins (default 10). */
  bins?: number;
  /** Upper ends of the length buckets (default DEFAULT_LENGTH_EDGES). */
  lengthEdges?: readonly number[];
}

/** Scores `examples` with a loaded classifier: scores, curves, bins and per-example rows. */
export function evaluationReport(
  classifier: SentenceClassifier,
  examples: readonly (Pick<Example, 'text' | 'label'> & { id?: string })[],
  options: ReportOptions = {},
): EvaluationReport {
  let logits: Float32Array | undefined;
  const scores = evaluateExamples(classifier, examples, { ...options, onLogits: (l) => (logits = l) });
  const predicted = argmaxRows(logits!, 2);
  const lengths = tokenLengths(classifier.tokenizer, examples.map((e) => e.text));
  const rows = examples.map((e, i): ExampleRow => ({
    id: e.id ?? String(i),
    text: e.text,
    label: e.label,
    predicted: predicted[i],
    positive_prob: softmaxRow(logits!.subarray(2 * i, 2 * i + 2))[1],
    length: lengths[i],
  }));
  const analysis = analyzePredictions(
    rows.map((r) => r.label),
    rows.map((r) => r.positive_prob),
    { predicted, lengths, bins: options.bins, lengthEdges: options.lengthEdges },
  );
  return { model: classifier.dir, data: null, ...analysis, loss: scores.loss, rows };
}

/**
 * Scores the model in `modelDir` on `tsvFile` (NSMC format) for the evaluation charts.
 * `limit` keeps the first rows only (quick runs).
 */
export async function evaluateModel(modelDir: string, tsvFile: string, options: ReportOptions & { limit?: number } = {}): Promise<EvaluationReport> {
  check(options.limit === undefined || (Number.isInteger(options.limit) && options.limit > 0), `limit must be a positive integer, got ${options.limit}`);
  let examples = readNsmc(tsvFile);
  if (options.limit !== undefined) examples = examples.slice(0, options.limit);
  const classifier = await SentenceClassifier.load(modelDir, options);
  try {
    return { ...evaluationReport(classifier, examples, options), data: tsvFile };
  } finally {
    classifier.dispose();
  }
}

/** A wrong prediction with how sure the model was of it. */
export interface MistakeRow extends ExampleRow {
  /** Probability the model gave its (wrong) prediction. */
  confidence: number;
}

/** The misclassified rows, most confidently wrong first (ties keep file order). */
export function misclassified(rows: readonly ExampleRow[]): MistakeRow[] {
  return rows
    .filter((r) => r.predicted !== r.label)
    .map((r) => ({ ...r, confidence: r.predicted === 1 ? r.positive_prob : 1 - r.positive_prob }))
    .sort((a, b) => b.confidence - a.confidence);
}

/**
 * The misclassified rows as a danfojs DataFrame, most confidently wrong first: columns
 * id, text, label, predicted, positive_prob, confidence, length (probabilities to 4 places).
 * `limit` keeps the first rows.
 */
export function misclassifiedFrame(rows: readonly ExampleRow[], limit?: number): DataFrame {
  const wrong = misclassified(rows).slice(0, limit);
  const round4 = (x: number) => Math.round(x * 1e4) / 1e4;
  const columns = {
    id: wrong.map((r) => r.id),
    text: wrong.map((r) => r.text),
    label: wrong.map((r) => r.label),
    predicted: wrong.map((r) => r.predicted),
    positive_prob: wrong.map((r) => round4(r.positive_prob)),
    confidence: wrong.map((r) => round4(r.confidence)),
    length: wrong.map((r) => r.length),
  };
  const { DataFrame } = dfd();
  // danfojs refuses a dict of empty columns; an empty frame is made from no rows and the names.
  return wrong.length ? new DataFrame(columns) : new DataFrame([], { columns: Object.keys(columns) });
}
