// Step 3a: pretraining a small BERT with kcbert's vocabulary on NSMC's training texts
// (masked-language model, or ELECTRA's replaced-token detection), built from later steps' parts: tokenizer, loader, optimizer,
// and step 7's training loop (the masked-LM task in mlm-training.ts). Notebook 03a-pretraining.
export {
  otherRunError, pretrain, pretrainConfig, pretrainMetrics, PRETRAIN_RESULT_FILE, readPretrainResult,
  type HeldOutMetricsLine, type PretrainMetricsLine, type PretrainOptions, type PretrainResult, type RunSpeed,
} from './pretrain';
export { MaskedLmTraining, maskingOptions, PRETRAIN_STATE_FORMAT, SPEED_FROM_STEP, type HeldOutScores, type PretrainState } from './mlm-training';
export {
  DEFAULT_PRETRAIN_SETTINGS, describePretrainSettings, makePretrainSettings, pretrainConflicts, PRETRAIN_SCHEMA, pretrainSettingsFromCli,
  readSavedPretrainSettings, type PretrainSettings,
} from './pretrain-settings';
export { maskCandidates, maskingVocab, maskSequence } from './masking';
export { fillMask } from './fill-mask';
