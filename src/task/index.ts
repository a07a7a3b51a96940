// Step 6: the task. The classifier's training and evaluation step (loss, AdamW with
// clipping and the linear schedule), and the metrics it reports. Notebook 06-task.
export { ClassificationTask, type TaskBatch, type TaskState } from './task';
export {
  accuracy, AdamW, clipGradNorm, clipScale, crossEntropy, linearSchedule, lrAt, sparseCrossEntropy, symmetricKl, warmupStepsFor,
  type AdamWKernel, type AdamWState, type LinearSchedule,
} from './optim/index';
export {
  argmaxRows, classificationScores, confusion, crossEntropyRow, scoresFromConfusion, softmaxRow,
  type ClassificationScores, type Confusion,
} from './metrics';
