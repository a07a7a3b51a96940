// Benchmarks (a side tool, not a step): the training-step probe behind `nlpbook bench train`,
// and typed readers of the bench scripts' committed results, which notebook 03a quotes.
export { readPretrainStepBench, readRecipeRuns, type PretrainStepBench, type PretrainStepCase, type RecipePretraining, type RecipeRun } from './results';
export { BENCH_INPUTS, BENCH_INPUTS_FULL, benchBatch, benchTrainStep, type TrainBenchOptions, type TrainBenchResult } from './train-bench';
