// The settings of MLM pretraining (`nlpbook pretrain`, notebook 03a): a separate,
// validated object saved as pretrain-settings.json next to the pretrained model.
//
// Why not more fields on Settings: Settings is ratsnlp's ClassificationTrainArguments
// (fine-tuning), saved with every fine-tuned model and compared field by field when a
// fine-tuning run resumes. Pretraining fields (model size, masking) mean nothing there;
// a pretrained model is an INPUT to fine-tuning (settings.pretrainedModelName = the
// folder), just like kcbert-base. So pretraining gets its own schema, declared the same
// way (settings/schema.ts), with the same one-line errors, and the optimizer, run and
// mirror fields declared once for both (settings/shared-fields.ts).
import * as fs from 'fs';
import * as path from 'path';
import {
  BF16_FIELD, defineSchema, field, MIRROR_FIELDS, OPTIMIZER_FIELDS, RUN_FIELDS, withDefaults, type FieldRow, type FieldTable, type ValuesOf,
} from '../settings/index';

const { seed, testMode, tqdmEnabled, logEverySteps } = withDefaults(RUN_FIELDS, {
  seed: { doc: 'Seed of every random choice (init, held-out slice, batch order, masks, dropout).' },
  testMode: { doc: 'A few steps on a few batches: a smoke test of the whole pipeline.' },
  logEverySteps: { default: 20 },
});

/**
 * The fields in the order of pretrain-settings.json. The defaults are the course's choice
 * for ~35 minutes on 2 cores (bench/results/pretrain-step.json, README): BERT-Mini's shape
 * (4 layers, hidden 256, 4 heads, feed-forward 1024; 11M parameters, 7.7M of them the
 * 30,000-word embedding), one document per sequence of at most 128 tokens (fine-tuning's
 * length: 2% of NSMC's documents are longer than 64), batches of 128 (~2,500 tokens), four
 * passes over NSMC's 150k training documents (4,644 steps) as training graphs at ~5,800
 * tokens/s: 33 minutes on a quiet machine.
 */
export const PRETRAIN_FIELDS = {
  // --- data ---
  tokenizer: field.string({ default: 'beomi/kcbert-base', group: 'model', nonEmpty: true, doc: 'Tokenizer whose vocabulary the model gets: a hub id (beomi/kcbert-base) or a folder.' }),
  nsmc: field.boolean({ default: true, group: 'corpus', doc: 'Pretrain on NSMC\'s training documents (their labels only with taskWeight; the test split is never read).' }),
  textFiles: field.stringList({ default: [], group: 'corpus', nonEmpty: true, doc: 'More UTF-8 text files, one document per line (CLI: comma-separated).' }),
  corpusRootDir: field.string({
    default: 'data/Korpora', group: 'corpus', nonEmpty: true, resumeFree: true,
    doc: 'Where NSMC is or is fetched to (<root>/nsmc/ratings_train.txt); the token cache goes to <root>/pretraining-cache/.',
  }),
  ...MIRROR_FIELDS,
  heldOutDocuments: field.integer({ default: 1000, min: 0, max: 1_000_000, group: 'corpus', doc: 'Documents held out from training (seeded) to score the finished model\'s MLM loss and accuracy.' }),
  // --- model ---
  outputDir: field.nullableString({ default: null, group: 'model', resumeFree: true, doc: 'Output folder (Hugging Face layout); null: data/pretrained/<objective>-L<layers>-H<hidden>.' }),
  layers: field.integer({ default: 4, min: 1, max: 48, group: 'model', doc: 'Transformer layers (num_hidden_layers).' }),
  hidden: field.integer({ default: 256, min: 8, max: 4096, group: 'model', doc: 'Hidden size (hidden_size); a multiple of heads.' }),
  heads: field.integer({ default: 4, min: 1, max: 64, group: 'model', doc: 'Attention heads (num_attention_heads).' }),
  intermediate: field.integer({ default: 1024, min: 8, max: 16384, group: 'model', doc: 'Feed-forward size (intermediate_size), usually 4 x hidden.' }),
  maxPositions: field.integer({ default: 128, min: 8, max: 512, group: 'model', doc: 'Position embeddings (max_position_embeddings): the longest input the model takes.' }),
  // --- sequences and masking ---
  maxSeqLength: field.integer({ default: 128, min: 8, max: 512, group: 'masking', doc: 'Longest training sequence in tokens, [CLS] and [SEP] included (at most maxPositions).' }),
  packing: field.boolean({ default: false, group: 'masking', doc: 'Pack several documents into each sequence ([CLS] d1 [SEP] d2 [SEP] ...) instead of one document per sequence.' }),
  maskProb: field.number({
    default: 0.15, min: 0, minExclusive: true, max: 1, maxExclusive: true, group: 'masking',
    doc: 'Share of a sequence\'s (non-special) tokens chosen for prediction (BERT: 0.15).',
  }),
  maskProbEnd: field.number({
    default: 0, min: 0, max: 1, maxExclusive: true, group: 'masking',
    doc: '> 0: the masking rate falls in a straight line from maskProb at the first step to maskProbEnd at the last (Ankner et al. 2023: a high rate early, a low one late, beat either fixed rate); the held-out score masks at maskProbEnd. A replan moves the line\'s end with the plan. 0: maskProb throughout.',
  }),
  maskTokenProb: field.number({ default: 0.8, min: 0, max: 1, group: 'masking', doc: 'Of the chosen tokens, the share replaced by [MASK] (BERT: 0.8).' }),
  randomTokenProb: field.number({ default: 0.1, min: 0, max: 1, group: 'masking', doc: 'Of the chosen tokens, the share replaced by a random token (BERT: 0.1); the rest stay as they are.' }),
  wholeWordMasking: field.boolean({ default: true, group: 'masking', doc: 'Choose whole words: all ## pieces of a word are chosen together.' }),
  predictSeenTokensOnly: field.boolean({
    default: false, group: 'masking',
    doc: 'mlm only: predict only the tokens that occur in the pretraining documents, held-out ones included (NSMC\'s training split: 23,216 of kcbert\'s 30,000). The others get a fixed output bias of -10000, so their probability is 0 (in Python\'s BertForMaskedLM too), and the training graph leaves their rows out of the projection onto the vocabulary, the largest matmul of a step.',
  }),
  softmaxTokens: field.integer({
    default: 0, min: 0, max: 1_000_000, group: 'masking',
    doc: 'mlm only: > 0 scores each step\'s masked tokens against only the softmaxTokens most frequent tokens of the training documents plus the batch\'s own labels, not the whole vocabulary: a sampled softmax. Every label still counts, and each rare row\'s logit is raised by −log Q in the step (Q: the chance the batch holds it; Jean et al. 2015), so the full softmax stays calibrated. On NSMC the 4,096 most frequent of 23,216 tokens are 87% of all tokens, and the projection onto the vocabulary is the largest matmul of a step. 0: the whole vocabulary (or the seen tokens, with predictSeenTokensOnly). The held-out score and the saved model use the full softmax.',
  }),
  dropout: field.boolean({
    default: true, group: 'training',
    doc: 'BERT\'s dropout (0.1) while pretraining; false: none, as Cramming (Geiping & Goldstein 2022) found best on a short budget. Fine-tuning keeps config.json\'s 0.1 either way.',
  }),
  objective: field.oneOf(['mlm', 'electra'], {
    default: 'mlm', group: 'training',
    doc: 'mlm: BERT\'s masked language model; electra: replaced-token detection (Clark et al. 2020): a small generator fills the masked positions, the model learns to tell every replaced token from an original one. Either way the saved model is a BERT encoder.',
  }),
  generatorLayers: field.integer({ default: 1, min: 1, max: 48, group: 'model', doc: 'ELECTRA only: layers of the generator (its embeddings are the model\'s own, shared).' }),
  discriminatorWeight: field.number({ default: 50, min: 0, minExclusive: true, group: 'training', doc: 'ELECTRA only: weight of the replaced-token loss next to the generator\'s masked-LM loss (the paper\'s λ = 50).' }),
  taskWeight: field.number({
    default: 0, min: 0, group: 'training',
    doc: 'Weight of a sentence-classification loss learned alongside the masked LM on the same masked batch (TLM, Yao et al. 2022): BertForSequenceClassification\'s pooler and classifier on [CLS], trained on NSMC\'s training labels, minus the validation slice that fine-tuning holds out (validationFraction, seed). The saved model keeps that head; fine-tuning starts from it. 0 turns it off.',
  }),
  validationFraction: field.number({
    default: 0.1, min: 0, minExclusive: true, max: 1, maxExclusive: true, group: 'training',
    doc: 'With taskWeight: the share of NSMC\'s training split whose labels the task loss never sees, drawn exactly as fine-tuning draws its validation split (the same value and seed in settings; emptyDocuments "keep").',
  }),
  // --- optimisation ---
  batchSize: field.integer({ default: 128, min: 1, max: 8192, group: 'training', doc: 'Sequences per optimizer step.' }),
  steps: field.integer({ default: 0, min: 0, group: 'training', doc: 'Optimizer steps; 0: `epochs` passes over the training documents.' }),
  epochs: field.integer({ default: 4, min: 1, max: 1000, group: 'training', doc: 'Passes over the training documents when steps is 0.' }),
  minutes: field.number({ default: 0, min: 0, group: 'training', doc: 'Time budget in minutes (0: none): training stops at the first step boundary after it and the model is saved.' }),
  ...withDefaults(OPTIMIZER_FIELDS, {
    learningRate: { default: 1e-3 },
    warmupRatio: { default: 0.06 },
    adamBeta2: { default: 0.98, doc: 'AdamW\'s decay rate of the running mean of squared gradients (0.98 as in RoBERTa: steadier with a high rate).' },
  }),
  bf16: BF16_FIELD,
  seed,
  // --- runtime ---
  logEverySteps,
  checkpointEveryMinutes: field.number({ default: 5, min: 0, group: 'runtime', resumeFree: true, doc: 'Save checkpoints/last for resuming every this many minutes (0: only when stopping).' }),
  tqdmEnabled,
  testMode,
};

/** The settings of a pretraining run: one property per field of PRETRAIN_FIELDS. */
export interface PretrainSettings extends ValuesOf<typeof PRETRAIN_FIELDS> {}

export const PRETRAIN_SCHEMA = defineSchema(PRETRAIN_FIELDS, {
  source: 'pretrain settings',
  example: 'pretraining settings like {"steps": 2000}',
  listedBy: 'src/pretrain/pretrain-settings.ts (PRETRAIN_FIELDS)',
  groups: { corpus: 'Data', model: 'Model', masking: 'Sequences and masking', training: 'Training', runtime: 'Runtime' },
  checks: [
    {
      field: 'hidden', doc: '`hidden` is a multiple of `heads`',
      problem: (s) => (s.hidden % s.heads !== 0 ? `(${s.hidden}) must be a multiple of heads (${s.heads})` : undefined),
    },
    {
      field: 'maxSeqLength', doc: '`maxSeqLength` is at most `maxPositions`',
      problem: (s) => (s.maxSeqLength > s.maxPositions ? `(${s.maxSeqLength}) must be at most maxPositions (${s.maxPositions})` : undefined),
    },
    {
      field: 'randomTokenProb', doc: '`maskTokenProb + randomTokenProb` is at most 1',
      problem: (s) => (s.maskTokenProb + s.randomTokenProb > 1 + 1e-12
        ? `(${s.randomTokenProb}) plus maskTokenProb (${s.maskTokenProb}) must be at most 1` : undefined),
    },
    {
      field: 'taskWeight', doc: '`taskWeight` > 0 needs `nsmc`, the `mlm` objective and no `packing` (one labelled sentence per sequence)',
      problem: (s) => (s.taskWeight > 0 && (!s.nsmc || s.objective !== 'mlm' || s.packing)
        ? `(${s.taskWeight}) needs nsmc true, objective "mlm" and packing false (the labels are NSMC's, one sentence per sequence)` : undefined),
    },
    {
      field: 'predictSeenTokensOnly', doc: '`predictSeenTokensOnly` needs the `mlm` objective',
      problem: (s) => (s.predictSeenTokensOnly && s.objective !== 'mlm' ? `(true) needs objective "mlm" (ELECTRA's generator scores the whole vocabulary)` : undefined),
    },
    {
      field: 'softmaxTokens', doc: '`softmaxTokens` > 0 needs the `mlm` objective',
      problem: (s) => (s.softmaxTokens > 0 && s.objective !== 'mlm' ? `(${s.softmaxTokens}) needs objective "mlm" (ELECTRA's generator scores the whole vocabulary)` : undefined),
    },
    {
      field: 'textFiles', doc: '`textFiles` names a file when `nsmc` is false',
      problem: (s) => (!s.nsmc && s.textFiles.length === 0 ? 'must name at least one file when nsmc is false (there is nothing to pretrain on)' : undefined),
    },
  ],
});
/** The schema by its earlier name. */
export const PRETRAIN_TABLE: FieldTable<PretrainSettings> = PRETRAIN_SCHEMA;

export const DEFAULT_PRETRAIN_SETTINGS: Readonly<PretrainSettings> = PRETRAIN_SCHEMA.defaults;

/** The file the settings are saved as, next to the pretrained model and in its checkpoints. */
export const PRETRAIN_SETTINGS_FILE = 'pretrain-settings.json';

/**
 * Settings that may differ between a run and its resume (or reuse): where things are,
 * how progress is shown (resumeFree in PRETRAIN_FIELDS). Every other field changes the weights.
 */
export const PRETRAIN_RESUME_FREE: readonly (keyof PretrainSettings)[] = PRETRAIN_SCHEMA.resumeFree;

/** Checks `obj` field by field (defaults for missing ones), then the fields against each other. */
export function validatePretrainSettings(obj: unknown, source = 'pretrain settings'): PretrainSettings {
  return PRETRAIN_SCHEMA.validate(obj, source);
}

/** The defaults with `overrides` applied, validated (a new plain object). */
export function makePretrainSettings(overrides: Partial<PretrainSettings> = {}): PretrainSettings {
  return PRETRAIN_SCHEMA.make(overrides);
}

/** The output folder: settings.outputDir, else data/pretrained/mlm-L<layers>-H<hidden>. */
export function pretrainOutputDir(s: Pick<PretrainSettings, 'outputDir' | 'layers' | 'hidden' | 'objective'>): string {
  return s.outputDir ?? path.join('data', 'pretrained', `${s.objective}-L${s.layers}-H${s.hidden}`);
}

/** Writes <dir>/pretrain-settings.json atomically (validated first); returns the path. */
export function savePretrainSettings(s: PretrainSettings, dir: string): string {
  return PRETRAIN_SCHEMA.save(s, path.join(dir, PRETRAIN_SETTINGS_FILE));
}

/** Reads and validates a pretraining settings file. */
export function loadPretrainSettings(file: string): PretrainSettings {
  return PRETRAIN_SCHEMA.load(file);
}

/** The effective settings of `nlpbook pretrain`: defaults <- --config file <- --set pairs. */
export function pretrainSettingsFromCli(options: { config?: string; set?: readonly string[] } = {}): PretrainSettings {
  return PRETRAIN_SCHEMA.fromCli(options);
}

/** `--set key=value` pairs as overrides (converted by type, validated, each error naming its pair). */
export function parsePretrainSetArgs(pairs: readonly string[], base: PretrainSettings = makePretrainSettings()): Partial<PretrainSettings> {
  return PRETRAIN_SCHEMA.parseSet(pairs, base);
}

/** The fields that differ and matter for resuming or reusing: "steps 2000 -> 3000" each. */
export function pretrainConflicts(saved: PretrainSettings, current: PretrainSettings): string[] {
  const conflicts = PRETRAIN_SCHEMA.conflicts(saved, current);
  // validationFraction only says which labels a task objective leaves out: without one it changes nothing.
  return saved.taskWeight === 0 && current.taskWeight === 0 ? conflicts.filter((c) => !c.startsWith('validationFraction ')) : conflicts;
}

/** Reads <dir>/pretrain-settings.json if there is one (null otherwise). */
export function readSavedPretrainSettings(dir: string): PretrainSettings | null {
  const file = path.join(dir, PRETRAIN_SETTINGS_FILE);
  if (!fs.existsSync(file)) return null;
  return loadPretrainSettings(file);
}

/** The pretraining field a mistyped name most likely meant. */
export function suggestPretrainField(name: string): keyof PretrainSettings | undefined {
  return PRETRAIN_SCHEMA.suggest(name);
}

/** One row per field (value, default, meaning, group, note), in field order: for console.table in notebooks. */
export function describePretrainSettings(s: PretrainSettings = makePretrainSettings()): FieldRow<PretrainSettings>[] {
  return PRETRAIN_SCHEMA.describe(s);
}
