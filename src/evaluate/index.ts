// Step 8: evaluation. A trained model scored once on the test split: accuracy, precision,
// recall, F1, the curves and bins behind the charts, the mistakes. Notebook 08-evaluation.
export { evaluate, evaluateExamples, type EvaluateOptions, type EvaluationResult } from './evaluate';
export { evaluateModel, misclassified, misclassifiedFrame, type EvaluationReport, type ExampleRow } from './evaluation-report';
export { analyzePredictions, type LengthBucket, type PrCurve, type ReliabilityBin, type RocCurve } from './evaluation';
export { findMetricsFile, readTrainingCurves, type TrainingCurves } from './training-curves';
