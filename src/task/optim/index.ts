// The optimizer's parts, as PyTorch has them: AdamW (ops or TensorFlow's fused kernel),
// gradient clipping by global norm, the losses and the linear warmup/decay schedule.
export { AdamW, adamWOptions, decayApplies, type AdamWKernel, type AdamWOptions, type AdamWState, type StepOptions } from './adamw';
export { clipCoefficient, clipGradNorm, clipScale, globalNorm, type ClipScale, type NamedTensors } from './clip';
export { accuracy, crossEntropy, sparseCrossEntropy, symmetricKl } from './loss';
export { linearSchedule, lrAt, warmupStepsFor, type LinearSchedule } from './schedule';
export { nativeKernelsAvailable } from './tf-kernels';
