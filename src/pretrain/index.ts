// Step 3a: pretraining a small BERT with kcbert's vocabulary on NSMC's training texts
// (masked-language model), built from later steps' parts: tokenizer, loader, optimizer,
// checkpoints. Notebook 03a-pretraining.
export {
  maskingOptions, pretrain, pretrainConfig, PRETRAIN_STATE_FORMAT, pretrainMetrics, readPretrainResult,
  type PretrainOptions, type PretrainResult, type PretrainState,
} from './pretrain';
export {
  DEFAULT_PRETRAIN_SETTINGS, describePretrainSettings, makePretrainSettings, pretrainConflicts, PRETRAIN_SCHEMA, pretrainSettingsFromCli,
  readSavedPretrainSettings, type PretrainSettings,
} from './pretrain-settings';
export { maskCandidates, maskingVocab, maskSequence } from './masking';
export { fillMask } from './fill-mask';
