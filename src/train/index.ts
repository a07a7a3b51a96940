// Step 7: training. The one training loop (Trainer: epochs or steps, checkpoints, exact
// resume, metrics.jsonl) for any task; fit() trains the classifier with it epoch by epoch
// with validation and checkpoints (resumable exactly); SentenceClassifier loads a trained
// folder back. Notebook 07-training.
export {
  fit, NSMC_LABELS, pretrainedClassifier, rankTopK, Trainer,
  type FitOptions, type FitResult, type TrainerOptions,
} from './trainer';
export {
  epochPlan, evaluationBatches, stepPlan, TEST_MODE,
  type CheckpointParts, type LoopState, type Ranking, type RunSummary, type StepOutput, type TrainingPlan, type TrainingTask,
} from './training-task';
export {
  METRICS_FILE, MetricsLog, metricsByType, readMetrics, readMetricsLog,
  type MetricsLine, type TrainLine, type TrainMetricsLine, type ValidationMetricsLine,
} from './metrics-log';
export {
  checkpointsDir, lastDir, listRunFolder, maxWeightDifference, OPTIMIZER_FILE, readOptimizerState, readTrainerState,
  recoverLast, saveLastCheckpoint, type TrainerState, type ValidationResult,
} from './checkpoints';
export { FineTuning } from './fine-tuning';
export { SentenceClassifier, type ClassifierOptions, type Prediction } from './classifier';
export { foreignEntry, refuseForeign } from './run-files';
