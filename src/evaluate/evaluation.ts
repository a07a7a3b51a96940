// Step 8 of the course: the numbers behind the evaluation charts, from the true labels
// and the model's positive-class probabilities. Each function gives what scikit-learn's
// namesake gives (roc_curve, roc_auc_score, precision_recall_curve,
// average_precision_score, calibration_curve), tested against it
// (scripts/fixtures/evaluation.py). Plain numbers on the host: no tensors needed.
import { check, NlpbookError } from '../util/errors';
import { confusion, scoresFromConfusion, type ClassificationScores, type Confusion } from '../task/index';

/** Points of a ROC curve, thresholds decreasing; thresholds[0] is Infinity (nothing predicted positive), as in scikit-learn ≥ 1.3. */
export interface RocCurve {
  /** False positive rate at each threshold: negatives scored ≥ threshold / all negatives. */
  fpr: number[];
  /** True positive rate (recall) at each threshold. */
  tpr: number[];
  thresholds: number[];
}

/** Precision and recall at each threshold, recall decreasing, ending at (precision 1, recall 0) as in scikit-learn. */
export interface PrCurve {
  precision: number[];
  recall: number[];
  /** Increasing; one fewer than the points (the last point has no threshold). */
  thresholds: number[];
}

/** One bin of the reliability diagram. Bins are (lo, hi], the first one [0, hi]. */
export interface ReliabilityBin {
  lo: number;
  hi: number;
  count: number;
  /** Mean confidence (probability of the predicted class) of the bin's examples; null when empty. */
  confidence: number | null;
  /** Share of the bin's examples predicted correctly; null when empty. */
  accuracy: number | null;
}

/** scikit-learn's calibration_curve (strategy "uniform"), non-empty bins only, with their sizes. */
export interface CalibrationCurve {
  /** Share of label 1 in each bin (prob_true). */
  probTrue: number[];
  /** Mean positive probability in each bin (prob_pred). */
  probPred: number[];
  count: number[];
}

/** Examples whose token count lies in (lo, hi] (hi null: no upper end). */
export interface LengthBucket {
  /** "≤10", "11–20", …, "61+". */
  label: string;
  lo: number;
  hi: number | null;
  count: number;
  correct: number;
  /** correct / count; null when empty. */
  accuracy: number | null;
}

/** Every number of the evaluation charts. */
export interface PredictionAnalysis extends ClassificationScores {
  confusion: Confusion;
  /** Share of label 1 (the precision of a model that says "positive" to everything: the PR chart's baseline). */
  positiveRate: number;
  roc: RocCurve;
  /** Area under the ROC curve; null when the labels hold only one class (undefined there). */
  auc: number | null;
  pr: PrCurve;
  /** scikit-learn's average_precision_score; null without positive examples. */
  averagePrecision: number | null;
  reliability: ReliabilityBin[];
  /** Expected calibration error: Σ count/n · |accuracy − confidence| over the reliability bins. */
  ece: number;
  /** Accuracy by token length; null when no lengths were given. */
  byLength: LengthBucket[] | null;
}

/** Default reliability bins (equal width over [0, 1]). */
export const DEFAULT_BINS = 10;
/** Default upper ends of the length buckets, in kcbert tokens with [CLS] and [SEP] (NSMC test: median 15, p95 53). */
export const DEFAULT_LENGTH_EDGES: readonly number[] = [10, 20, 30, 40, 60];

type Labels = ArrayLike<number>;
type Scores = ArrayLike<number>;

function checkInputs(labels: Labels, scores: Scores, what = 'scores'): void {
  check(labels.length === scores.length, `${labels.length} labels but ${scores.length} ${what}`);
  check(labels.length > 0, `no examples: the labels are empty`);
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 0 && labels[i] !== 1) throw new NlpbookError(`labels[${i}] must be 0 or 1, got ${labels[i]}`);
    if (!Number.isFinite(scores[i])) throw new NlpbookError(`${what}[${i}] must be a finite number, got ${scores[i]}`);
  }
}

/**
 * Cumulative true/false positives at each distinct score, highest first (scikit-learn's
 * confusion_matrix_at_thresholds): tied scores form one step, so the curve goes diagonally
 * through them instead of depending on the order of the tied examples.
 */
function thresholdCounts(labels: Labels, scores: Scores): { tps: number[]; fps: number[]; thresholds: number[] } {
  checkInputs(labels, scores);
  const order = Array.from({ length: labels.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  const tps: number[] = [];
  const fps: number[] = [];
  const thresholds: number[] = [];
  let tp = 0;
  for (let k = 0; k < order.length; k++) {
    tp += labels[order[k]];
    // The last example of a run of equal scores closes one threshold.
    if (k === order.length - 1 || scores[order[k + 1]] !== scores[order[k]]) {
      tps.push(tp);
      fps.push(k + 1 - tp);
      thresholds.push(scores[order[k]]);
    }
  }
  return { tps, fps, thresholds };
}

/** The ROC curve of `scores` (higher = more positive) against 0/1 `labels`, like sklearn.metrics.roc_curve. */
export function rocCurve(labels: Labels, scores: Scores, options: { dropIntermediate?: boolean } = {}): RocCurve {
  let { tps, fps, thresholds } = thresholdCounts(labels, scores);
  if ((options.dropIntermediate ?? true) && fps.length > 2) {
    // Drop points on a straight line between their neighbours: they change neither the
    // area nor the drawing, and a 50,000-example curve gets much shorter.
    const keep = fps.map((_, i) => i === 0 || i === fps.length - 1 ||
      fps[i + 1] - 2 * fps[i] + fps[i - 1] !== 0 || tps[i + 1] - 2 * tps[i] + tps[i - 1] !== 0);
    tps = tps.filter((_, i) => keep[i]);
    fps = fps.filter((_, i) => keep[i]);
    thresholds = thresholds.filter((_, i) => keep[i]);
  }
  const P = tps[tps.length - 1];
  const N = fps[fps.length - 1];
  return {
    fpr: [0, ...fps].map((v) => (N > 0 ? v / N : NaN)),
    tpr: [0, ...tps].map((v) => (P > 0 ? v / P : NaN)),
    thresholds: [Infinity, ...thresholds],
  };
}

/** Area under a curve by the trapezoidal rule (sklearn.metrics.auc; x monotonic). */
export function trapezoidArea(x: readonly number[], y: readonly number[]): number {
  let area = 0;
  for (let i = 1; i < x.length; i++) area += ((x[i] - x[i - 1]) * (y[i] + y[i - 1])) / 2;
  return area;
}

/** ROC AUC (sklearn.metrics.roc_auc_score): the chance that a random positive scores above a random negative, ties counting half. */
export function rocAuc(labels: Labels, scores: Scores): number {
  const roc = rocCurve(labels, scores);
  if (Number.isNaN(roc.fpr[1]) || Number.isNaN(roc.tpr[1])) {
    throw new NlpbookError('ROC AUC is undefined when the labels hold only one class');
  }
  return trapezoidArea(roc.fpr, roc.tpr);
}

/** The precision-recall curve, like sklearn.metrics.precision_recall_curve (recall 1 everywhere when there are no positives, as there). */
export function precisionRecallCurve(labels: Labels, scores: Scores, options: { dropIntermediate?: boolean } = {}): PrCurve {
  let { tps, fps, thresholds } = thresholdCounts(labels, scores);
  if (options.dropIntermediate && tps.length > 2) {
    // Points with the same recall draw one vertical line: keep its two ends.
    const keep = tps.map((_, i) => i === 0 || i === tps.length - 1 || tps[i] !== tps[i - 1] || tps[i + 1] !== tps[i]);
    tps = tps.filter((_, i) => keep[i]);
    fps = fps.filter((_, i) => keep[i]);
    thresholds = thresholds.filter((_, i) => keep[i]);
  }
  const P = tps[tps.length - 1];
  const precision = tps.map((tp, i) => (tp + fps[i] ? tp / (tp + fps[i]) : 0));
  const recall = tps.map((tp) => (P > 0 ? tp / P : 1));
  return { precision: [...precision.reverse(), 1], recall: [...recall.reverse(), 0], thresholds: thresholds.reverse() };
}

/** Average precision (sklearn.metrics.average_precision_score): Σ (R_k − R_{k−1}) · P_k, no interpolation. */
export function averagePrecision(labels: Labels, scores: Scores): number {
  const { precision, recall } = precisionRecallCurve(labels, scores);
  let sum = 0;
  for (let i = 0; i + 1 < recall.length; i++) sum -= (recall[i + 1] - recall[i]) * precision[i];
  return Math.max(0, sum);
}

/**
 * Bin of a probability among `bins` equal-width bins (lo, hi], the first [0, hi]. The
 * edges are i · (1 / bins) as numpy.linspace makes them, so a value on an edge lands
 * where scikit-learn's calibration_curve puts it.
 */
export function binIndex(p: number, bins: number): number {
  const width = 1 / bins;
  let k = 0;
  while (k < bins - 1 && (k + 1) * width < p) k++;
  return k;
}

function checkBins(bins: number): void {
  check(Number.isInteger(bins) && bins >= 1, `bins must be a positive integer, got ${bins}`);
}

/** Predicted classes from positive probabilities: 1 when p > 0.5 (a tie is negative, like argmax of equal logits). */
export function predictFromProbs(positiveProbs: Scores): number[] {
  return Array.from(positiveProbs, (p) => (p > 0.5 ? 1 : 0));
}

/**
 * The reliability diagram: examples binned by confidence (the probability of the class
 * they were predicted as), each bin's mean confidence against its accuracy, and the
 * expected calibration error. A calibrated model is right 80% of the time when it is 80% sure.
 */
export function reliabilityDiagram(
  labels: Labels,
  positiveProbs: Scores,
  options: { bins?: number; predicted?: ArrayLike<number> } = {},
): { bins: ReliabilityBin[]; ece: number } {
  checkInputs(labels, positiveProbs, 'probabilities');
  const bins = options.bins ?? DEFAULT_BINS;
  checkBins(bins);
  const predicted = options.predicted ?? predictFromProbs(positiveProbs);
  check(predicted.length === labels.length, `${labels.length} labels but ${predicted.length} predictions`);
  const count = new Array<number>(bins).fill(0);
  const confidenceSum = new Array<number>(bins).fill(0);
  const correct = new Array<number>(bins).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const p = positiveProbs[i];
    const confidence = predicted[i] === 1 ? p : 1 - p;
    const b = binIndex(confidence, bins);
    count[b]++;
    confidenceSum[b] += confidence;
    if (predicted[i] === labels[i]) correct[b]++;
  }
  let ece = 0;
  const out = count.map((c, b): ReliabilityBin => {
    const lo = b / bins;
    const hi = (b + 1) / bins;
    if (c === 0) return { lo, hi, count: 0, confidence: null, accuracy: null };
    const confidence = confidenceSum[b] / c;
    const accuracy = correct[b] / c;
    ece += (c / labels.length) * Math.abs(accuracy - confidence);
    return { lo, hi, count: c, confidence, accuracy };
  });
  return { bins: out, ece };
}

/** sklearn.calibration.calibration_curve(labels, positiveProbs, n_bins=bins, strategy="uniform"), plus bin sizes. */
export function calibrationCurve(labels: Labels, positiveProbs: Scores, bins = DEFAULT_BINS): CalibrationCurve {
  checkInputs(labels, positiveProbs, 'probabilities');
  checkBins(bins);
  const count = new Array<number>(bins).fill(0);
  const probSum = new Array<number>(bins).fill(0);
  const positives = new Array<number>(bins).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const p = positiveProbs[i];
    check(p >= 0 && p <= 1, `probabilities[${i}] must lie in [0, 1], got ${p}`);
    const b = binIndex(p, bins);
    count[b]++;
    probSum[b] += p;
    positives[b] += labels[i];
  }
  const used = count.map((c, b) => b).filter((b) => count[b] > 0);
  return { probTrue: used.map((b) => positives[b] / count[b]), probPred: used.map((b) => probSum[b] / count[b]), count: used.map((b) => count[b]) };
}

/** Accuracy in buckets of token length (lo, hi]; `edges` are the increasing upper ends, the last bucket has none. */
export function accuracyByLength(
  lengths: ArrayLike<number>,
  labels: Labels,
  predicted: ArrayLike<number>,
  edges: readonly number[] = DEFAULT_LENGTH_EDGES,
): LengthBucket[] {
  check(lengths.length === labels.length && predicted.length === labels.length, `${labels.length} labels, ${predicted.length} predictions and ${lengths.length} lengths: expected as many of each`);
  check(edges.every((e, i) => Number.isFinite(e) && e > 0 && (i === 0 || e > edges[i - 1])), `length edges must be increasing positive numbers, got [${edges.join(', ')}]`);
  const buckets: LengthBucket[] = [...edges, null].map((hi, i) => {
    const lo = i === 0 ? 0 : edges[i - 1];
    const label = i === 0 ? `≤${hi}` : hi === null ? `${lo + 1}+` : `${lo + 1}–${hi}`;
    return { label, lo, hi, count: 0, correct: 0, accuracy: null };
  });
  for (let i = 0; i < labels.length; i++) {
    let b = 0;
    while (b < edges.length && lengths[i] > edges[b]) b++;
    buckets[b].count++;
    if (predicted[i] === labels[i]) buckets[b].correct++;
  }
  for (const b of buckets) b.accuracy = b.count ? b.correct / b.count : null;
  return buckets;
}

/**
 * Everything the evaluation charts show, from 0/1 `labels` and positive-class
 * probabilities. `predicted` defaults to p > 0.5; `lengths` (tokens per example) adds
 * the accuracy-by-length buckets.
 */
export function analyzePredictions(
  labels: Labels,
  positiveProbs: Scores,
  options: { predicted?: ArrayLike<number>; lengths?: ArrayLike<number>; bins?: number; lengthEdges?: readonly number[] } = {},
): PredictionAnalysis {
  checkInputs(labels, positiveProbs, 'probabilities');
  const predicted = options.predicted ?? predictFromProbs(positiveProbs);
  check(predicted.length === labels.length, `${labels.length} labels but ${predicted.length} predictions`);
  const c = confusion(predicted, labels, 1);
  const positives = c.truePositive + c.falseNegative;
  const bothClasses = positives > 0 && positives < labels.length;
  const roc = rocCurve(labels, positiveProbs);
  const { bins, ece } = reliabilityDiagram(labels, positiveProbs, { bins: options.bins, predicted });
  return {
    ...scoresFromConfusion(c),
    confusion: c,
    positiveRate: positives / labels.length,
    roc,
    auc: bothClasses ? trapezoidArea(roc.fpr, roc.tpr) : null,
    // The chart needs only the corners of the step curve; the AP sum uses every point.
    pr: precisionRecallCurve(labels, positiveProbs, { dropIntermediate: true }),
    averagePrecision: positives > 0 ? averagePrecision(labels, positiveProbs) : null,
    reliability: bins,
    ece,
    byLength: options.lengths ? accuracyByLength(options.lengths, labels, predicted, options.lengthEdges) : null,
  };
}
