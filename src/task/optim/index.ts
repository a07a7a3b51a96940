// The optimization pieces of the classification task (course step 6), in one import.
export * from './adamw';
export * from './clip';
export * from './loss';
export * from './schedule';
export { nativeKernelsAvailable } from './tf-kernels';
