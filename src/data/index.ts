// Step 5: the data loader. Sentences become features (ids, masks; cached on disk), batched
// with dynamic padding and length buckets, shuffled by a seeded generator. Notebook 05-dataloader.
export { ClassificationDataset, splitTrainValidation, type CorpusSource, type DatasetMode, type Feature } from './dataset';
export {
  comparePadding, DataLoader, evaluationLoader, toTensors, trainingLoader,
  type FeatureSource, type LoaderState, type PlainBatch, type TensorBatch,
} from './loader';
