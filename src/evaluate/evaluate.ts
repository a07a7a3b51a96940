// Scoring a trained classifier on a labelled file in NSMC's format (id<TAB>document<TAB>label,
// read with the corpus reader): accuracy, precision, recall and F1 of the positive class
// (label 1), and the mean cross-entropy. What `nlpbook evaluate` prints; the test split
// is scored only here, after training has made all its choices on the validation split.
import { readNsmc, type Example } from '../corpus/index';
import { NlpbookError } from '../util/errors';
import { argmaxRows, classificationScores, crossEntropyRow } from '../task/index';
import { SentenceClassifier, type ClassifierOptions } from '../train/index';
import { progress } from '../util/progress';

export interface EvaluationResult {
  n: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  /** Mean cross-entropy of the examples. */
  loss: number;
}

export interface EvaluateOptions extends ClassifierOptions {
  batchSize?: number;
  /** Progress on stderr (default true). */
  progress?: boolean;
  /** Receives the class scores, flat [examples, 2] in input order (per-example reports: src/evaluate/evaluation.ts). */
  onLogits?: (logits: Float32Array) => void;
}

/** Scores `examples` (label 0/1) with a loaded classifier. */
export function evaluateExamples(classifier: SentenceClassifier, examples: readonly Pick<Example, 'text' | 'label'>[], options: EvaluateOptions = {}): EvaluationResult {
  if (classifier.numLabels !== 2) throw new NlpbookError(`${classifier.dir}: ${classifier.numLabels} labels; NSMC evaluation needs a 2-class model`);
  if (examples.length === 0) throw new NlpbookError('evaluate: no examples to score');
  const bar = progress(examples.length, 'evaluating', options.progress ?? true);
  let logits: Float32Array;
  try {
    logits = classifier.logits(examples.map((e) => e.text), { batchSize: options.batchSize, onBatch: (done) => bar.update(done) });
  } finally {
    bar.stop();
  }
  options.onLogits?.(logits);
  const labels = examples.map((e) => e.label);
  const scores = classificationScores(argmaxRows(logits, 2), labels, 1);
  let lossSum = 0;
  labels.forEach((y, i) => (lossSum += crossEntropyRow(logits.subarray(2 * i, 2 * i + 2), y)));
  return { ...scores, loss: lossSum / labels.length };
}

/** Scores the model in `modelDir` on `tsvFile` (NSMC format: header, then id, document, label). */
export async function evaluate(modelDir: string, tsvFile: string, options: EvaluateOptions = {}): Promise<EvaluationResult> {
  const examples = readNsmc(tsvFile);
  const classifier = await SentenceClassifier.load(modelDir, options);
  try {
    return evaluateExamples(classifier, examples, options);
  } finally {
    classifier.dispose();
  }
}
