// Step 7: training. fit() trains the classifier epoch by epoch with validation and
// checkpoints (resumable exactly); SentenceClassifier loads a trained folder back. Notebook 07-training.
export {
  fit, metricsByType, NSMC_LABELS, pretrainedClassifier, readMetrics,
  type FitOptions, type FitResult, type TrainMetricsLine, type ValidationMetricsLine,
} from './trainer';
export {
  checkpointsDir, lastDir, listRunFolder, maxWeightDifference, METRICS_FILE, OPTIMIZER_FILE, readOptimizerState, readTrainerState,
  recoverLast, saveLastCheckpoint, type TrainerState, type ValidationResult,
} from './checkpoints';
export { SentenceClassifier, type ClassifierOptions, type Prediction } from './classifier';
