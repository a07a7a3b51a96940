// Step 3b: the pretrained model. BERT on TensorFlow.js with Hugging Face's names, loaded
// from and saved to Hugging Face folders, found in a mirror, Python's cache or the hub.
// Notebook 03b-pretrained-model (03a-pretraining builds one from scratch with these parts).
export { BertConfig, type HiddenAct } from './config';
export { BertForMaskedLM, hasTaskHead, BertForSequenceClassification, BertModel, BertPreTrainedModel, type BertInputs } from './bert';
export {
  loadWeights, openWeights, SAVED_TOKENIZER_FILES, saveModel, WEIGHTS_FILES,
  type CheckpointModel, type LoadReport, type PretrainedOptions, type SaveOptions, type WeightSource,
} from './checkpoint';
export { readSafetensors, writeSafetensors } from './safetensors';
export { fetchModel, hfHubCache, type FetchModelOptions } from './hub';
// Whole training and inference steps as single TensorFlow graphs (the task, pretraining and inference run them).
export { ClassificationTrainGraph, MlmTrainGraph, skipPaddingPays, weightShapes, WORD_EMBEDDINGS, type SampledSoftmaxTensors } from './train-graph';
export { ClassificationForwardGraph } from './forward-graph';
// ELECTRA (replaced-token detection), the second pretraining objective: the eager model and its one-graph step.
export {
  corrupt, DEFAULT_DISCRIMINATOR_WEIGHT, ElectraForPreTraining, electraSeeds, GENERATOR_LAYERS_FIELD, generatorLayersOf,
  type ElectraInputs, type ElectraLosses, type ElectraLossOptions,
} from './electra';
export { ElectraTrainGraph, type ElectraTrainGraphOptions, type ElectraTrainGraphResult } from './electra-graph';
