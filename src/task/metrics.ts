// Binary classification scores from predictions and labels: what the trainer reports
// after every validation and `nlpbook evaluate` prints. Plain numbers on the host:
// the counts are tiny next to the model's work, and the formulas stay readable.

/** Counts of a binary confusion matrix (positive = the class `positive`, 1 for NSMC). */
export interface Confusion {
  truePositive: number;
  falsePositive: number;
  trueNegative: number;
  falseNegative: number;
}

export interface ClassificationScores {
  /** Examples scored. */
  n: number;
  /** Share of correct predictions. */
  accuracy: number;
  /** Of the examples predicted positive, the share that are positive (0 when none is predicted positive). */
  precision: number;
  /** Of the positive examples, the share predicted positive (0 when there are none). */
  recall: number;
  /** Harmonic mean of precision and recall (0 when both are 0). */
  f1: number;
}

/** The confusion counts of `predictions` against `labels` for class `positive`. */
export function confusion(predictions: ArrayLike<number>, labels: ArrayLike<number>, positive = 1): Confusion {
  if (predictions.length !== labels.length) {
    throw new RangeError(`confusion: ${predictions.length} predictions but ${labels.length} labels`);
  }
  const c: Confusion = { truePositive: 0, falsePositive: 0, trueNegative: 0, falseNegative: 0 };
  for (let i = 0; i < labels.length; i++) {
    const predicted = predictions[i] === positive;
    const actual = labels[i] === positive;
    if (predicted && actual) c.truePositive++;
    else if (predicted) c.falsePositive++;
    else if (actual) c.falseNegative++;
    else c.trueNegative++;
  }
  return c;
}

/** Accuracy, precision, recall and F1 from confusion counts (scikit-learn's zero_division=0). */
export function scoresFromConfusion(c: Confusion): ClassificationScores {
  const n = c.truePositive + c.falsePositive + c.trueNegative + c.falseNegative;
  const predictedPositive = c.truePositive + c.falsePositive;
  const actualPositive = c.truePositive + c.falseNegative;
  const precision = predictedPositive ? c.truePositive / predictedPositive : 0;
  const recall = actualPositive ? c.truePositive / actualPositive : 0;
  return {
    n,
    accuracy: n ? (c.truePositive + c.trueNegative) / n : 0,
    precision,
    recall,
    f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0,
  };
}

/** Accuracy, precision, recall and F1 of `predictions` against `labels` (positive class `positive`). */
export function classificationScores(predictions: ArrayLike<number>, labels: ArrayLike<number>, positive = 1): ClassificationScores {
  return scoresFromConfusion(confusion(predictions, labels, positive));
}

/** Index of the largest value of each row of a flat [rows, classes] array (ties: the first, like argmax). */
export function argmaxRows(values: ArrayLike<number>, classes: number): Int32Array {
  const rows = Math.floor(values.length / classes);
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (values[r * classes + k] > values[r * classes + best]) best = k;
    out[r] = best;
  }
  return out;
}

/** Softmax of one row of logits, in float64 (stable: the row maximum is subtracted first). */
export function softmaxRow(logits: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let k = 0; k < logits.length; k++) max = Math.max(max, logits[k]);
  const exps = Array.from(logits, (x) => Math.exp(x - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** Cross-entropy of one row of logits against class `label`: -log softmax(logits)[label], float64. */
export function crossEntropyRow(logits: ArrayLike<number>, label: number): number {
  let max = -Infinity;
  for (let k = 0; k < logits.length; k++) max = Math.max(max, logits[k]);
  let sum = 0;
  for (let k = 0; k < logits.length; k++) sum += Math.exp(logits[k] - max);
  return Math.log(sum) + max - logits[label];
}
