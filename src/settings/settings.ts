// Step 1 of the course: one settings object drives every step, like ratsnlp's
// ClassificationTrainArguments (same fields, camelCase), plus what this course adds.
// It is saved as settings.json next to every output and loads back identical.
// Each field is declared once below (schema.ts): the Settings type, the defaults,
// validation, `--set` and docs/settings.md all come from SETTINGS_FIELDS.
import * as os from 'os';
import * as path from 'path';
import { defineSchema, field, type FieldRow, type FieldSpec, type GroupOf, type ValuesOf } from './schema';
import { BF16_FIELD, MIRROR_FIELDS, OPTIMIZER_FIELDS, RUN_FIELDS } from './shared-fields';

const { learningRate, ...ADAMW_FIELDS } = OPTIMIZER_FIELDS;
const { seed, testMode, tqdmEnabled, logEverySteps } = RUN_FIELDS;

/** The fields in the order of settings.json: ratsnlp's first, then what the course adds. */
export const SETTINGS_FIELDS = {
  // --- ratsnlp's ClassificationTrainArguments, camelCase ---
  pretrainedModelName: field.string({
    default: 'beomi/kcbert-base', group: 'model', ratsnlp: 'pretrained_model_name', nonEmpty: true,
    doc: 'Pretrained model: a Hugging Face hub id (beomi/kcbert-base) or a local folder in Hugging Face layout.',
  }),
  downstreamTaskName: field.string({
    default: 'document-classification', group: 'model', ratsnlp: 'downstream_task_name', nonEmpty: true,
    doc: 'Task name; also the name of the tokenized features cache folder.',
  }),
  downstreamCorpusName: field.oneOf(['nsmc'] as string[], {
    default: 'nsmc', group: 'corpus', ratsnlp: 'downstream_corpus_name',
    doc: 'Corpus name as in Korpora; this course fine-tunes on NSMC only.',
  }),
  downstreamCorpusRootDir: field.string({
    default: 'data/Korpora', group: 'corpus', ratsnlp: 'downstream_corpus_root_dir', nonEmpty: true, resumeFree: true,
    doc: 'Where corpora live: <root>/nsmc/ratings_train.txt, like Korpora\'s root_dir.',
  }),
  downstreamModelDir: field.string({
    default: 'data/checkpoint-doccls', group: 'checkpoints', ratsnlp: 'downstream_model_dir', nonEmpty: true, resumeFree: true,
    doc: 'Where checkpoints, logs, settings.json and the final model are written.',
  }),
  maxSeqLength: field.integer({
    default: 128, min: 2, max: 512, group: 'features', ratsnlp: 'max_seq_length',
    doc: 'Longest input in tokens, [CLS] and [SEP] included; longer sentences are cut (BERT has 512 positions).',
  }),
  saveTopK: field.integer({ default: 1, min: -1, group: 'checkpoints', ratsnlp: 'save_top_k', doc: 'How many best checkpoints (by `monitor`) to keep; -1 keeps all, 0 none.' }),
  // `as string[]` keeps the type string: a notebook may try 'max val_acc' and see validation refuse it.
  monitor: field.oneOf(['min val_loss', 'max val_accuracy'] as string[], {
    default: 'min val_loss', group: 'checkpoints', ratsnlp: 'monitor',
    doc: 'Which validation metric picks the best checkpoint, and whether lower or higher is better.',
  }),
  seed,
  overwriteCache: field.boolean({ default: false, group: 'features', ratsnlp: 'overwrite_cache', resumeFree: true, doc: 'Rebuild the tokenized features cache even when it is valid.' }),
  forceDownload: field.boolean({ default: false, group: 'corpus', ratsnlp: 'force_download', resumeFree: true, doc: 'Download the corpus again even when valid files exist.' }),
  testMode,
  learningRate,
  epochs: field.integer({ default: 3, min: 1, group: 'training', ratsnlp: 'epochs', doc: 'How many passes over the training split.' }),
  batchSize: field.integer({ default: 32, min: 1, max: 4096, group: 'training', ratsnlp: 'batch_size', doc: 'Sentences per optimizer step.' }),
  cpuWorkers: field.integer({
    default: Math.max(1, os.cpus().length), // like os.cpu_count(); some sandboxes report 0 CPUs
    min: 1, group: 'runtime', ratsnlp: 'cpu_workers', resumeFree: true,
    doc: 'Data loader worker processes in ratsnlp.',
    noEffect: 'no effect here: batches are built in-process and TensorFlow sizes its own thread pool',
    defaultNote: 'number of CPU cores',
  }),
  fp16: field.boolean({
    default: false, group: 'runtime', ratsnlp: 'fp16',
    doc: 'Mixed-precision (16-bit) training in ratsnlp.',
    only: { value: false, reason: 'TF.js has no float16 training; bf16 is the mixed precision here' },
    noEffect: 'kept for parity with ratsnlp',
  }),
  tpuCores: field.integer({
    default: 0, group: 'runtime', ratsnlp: 'tpu_cores',
    doc: 'TPU cores to train on in ratsnlp (Colab TPUs).',
    only: { value: 0, reason: 'TF.js on Node has no TPU support' },
    noEffect: 'kept for parity with ratsnlp',
  }),
  tqdmEnabled,

  // --- what this course adds ---
  ...MIRROR_FIELDS,
  emptyDocuments: field.oneOf(['keep', 'skip', 'error'], {
    default: 'keep', group: 'corpus',
    doc: 'What to do with NSMC\'s empty documents (5 train, 3 test rows): keep them as "", skip them, or fail.',
  }),
  validationFraction: field.number({
    default: 0.1, min: 0, minExclusive: true, max: 1, maxExclusive: true, group: 'corpus',
    doc: 'Share of the training split held out for validation (the test split is never used for choices).',
  }),
  ...ADAMW_FIELDS,
  lengthBucketing: field.boolean({ default: true, group: 'training', doc: 'Group training batches by sentence length so little compute is spent on padding.' }),
  dropLast: field.boolean({ default: false, group: 'training', doc: 'Drop the last incomplete training batch of each epoch.' }),
  earlyStoppingPatience: field.integer({ default: 0, min: 0, group: 'checkpoints', doc: 'Stop after this many epochs without improvement of `monitor` (0 turns early stopping off).' }),
  layerLrDecay: field.number({
    default: 1, min: 0, minExclusive: true, max: 1, group: 'training',
    doc: 'Layer-wise learning-rate decay d (ELECTRA\'s fine-tuning): classifier and pooler train at the learning rate lr, encoder layer L-1 (the top one) at lr·d, layer L-2 at lr·d², ..., the embeddings at lr·d^(L+1) (1 turns it off).',
  }),
  labelSmoothing: field.number({
    default: 0, min: 0, max: 1, maxExclusive: true, group: 'training',
    doc: 'Label smoothing ε of the training loss: cross-entropy against (1 − ε)·one-hot + ε/classes, as transformers\' label_smoothing_factor (0 turns it off; validation scores the plain cross-entropy).',
  }),
  rDropWeight: field.number({
    default: 0, min: 0, group: 'training',
    doc: 'R-Drop (Liang et al. 2021) weight α: each training batch runs twice with different dropout masks, and the loss adds α/4 times the two predictions\' symmetric KL divergence to their mean cross-entropy (the paper\'s loss, halved); a step costs about twice as much (0 turns it off).',
  }),
  averageCheckpoints: field.integer({
    default: 1, min: 1, group: 'training',
    doc: 'The final model is the mean of the weights at the last this-many checkpoints, taken every `averageEverySteps` steps up to the last step (checkpoint averaging; 1 keeps the last weights as they are; a run that stops before its last step keeps its last weights).',
  }),
  averageEverySteps: field.integer({ default: 500, min: 1, group: 'training', doc: 'Optimizer steps between two of the averaged checkpoints (`averageCheckpoints`).' }),
  freezeWordEmbeddings: field.boolean({
    default: false, group: 'training',
    doc: 'Keep the word embeddings (vocab x hidden: most of a small model\'s parameters) as pretraining left them: no gradient and no AdamW update, as requires_grad=False in PyTorch. Each step skips their dense gradient and its update.',
  }),
  bf16: BF16_FIELD,
  logEverySteps,
};

/** The settings of a fine-tuning run: one property per field of SETTINGS_FIELDS. */
export interface Settings extends ValuesOf<typeof SETTINGS_FIELDS> {}
export type SettingsFieldName = keyof Settings;
/** Groups for docs and notebooks. */
export type SettingsGroup = GroupOf<typeof SETTINGS_FIELDS>;
/** A field's declaration (rule, default, docs). */
export type SettingsField = FieldSpec<unknown, SettingsGroup>;
export type SettingsRow = FieldRow<Settings, SettingsGroup>;

export const SETTINGS_SCHEMA = defineSchema(SETTINGS_FIELDS, {
  source: 'settings',
  example: 'settings like {"batchSize": 32}',
  listedBy: '`nlpbook settings` and in docs/settings.md',
  groups: {
    model: 'Model and task',
    corpus: 'Corpus',
    features: 'Tokenized features',
    training: 'Training',
    checkpoints: 'Checkpoints',
    runtime: 'Runtime',
  },
});

export const DEFAULT_SETTINGS: Readonly<Settings> = SETTINGS_SCHEMA.defaults;
/** Every field name, in the order of SETTINGS_FIELDS (also the order of settings.json). */
export const SETTINGS_FIELD_NAMES: readonly SettingsFieldName[] = SETTINGS_SCHEMA.names;
/** The fields that may differ between a fine-tuning run and its resume (resumeFree in SETTINGS_FIELDS). */
export const SETTINGS_RESUME_FREE: readonly SettingsFieldName[] = SETTINGS_SCHEMA.resumeFree;

/** What a field accepts, as the error messages and docs say it, e.g. "an integer from 1 to 4096". */
export function settingAccepts(name: SettingsFieldName): string {
  return SETTINGS_SCHEMA.accepts(name);
}

/** The field a mistyped name most likely meant, or undefined when none is close. */
export function suggestField(name: string): SettingsFieldName | undefined {
  return SETTINGS_SCHEMA.suggest(name);
}

/**
 * Checks a settings object (e.g. parsed settings.json) and returns a new, complete
 * Settings: missing fields take their defaults, so a partial config works; an
 * `undefined` value counts as missing. Throws a one-line NlpbookError naming
 * `source` and the field for the first problem found.
 */
export function validateSettings(obj: unknown, source = 'settings'): Settings {
  return SETTINGS_SCHEMA.validate(obj, source);
}

/** The defaults with `overrides` applied, validated: a new plain object (not frozen, change it freely). */
export function makeSettings(overrides: Partial<Settings> = {}): Settings {
  return SETTINGS_SCHEMA.make(overrides);
}

/**
 * Writes `settings` as `<dir>/<file>` (pretty JSON, fields in table order) and returns
 * the path. Invalid settings throw before anything is written, and the write is
 * atomic, so a good settings.json is never replaced by a bad or half-written one.
 */
export function saveSettings(settings: Settings, dir: string, file = 'settings.json'): string {
  return SETTINGS_SCHEMA.save(settings, path.join(dir, file));
}

/** Reads and validates a settings JSON file (missing fields take defaults). */
export function loadSettings(file: string): Settings {
  return SETTINGS_SCHEMA.load(file);
}

/**
 * Parses CLI `--set key=value` pairs into overrides. Values convert by the field's
 * type (numbers, true/false, null for nullable fields) and are validated like a
 * config file, each error naming its argument. The last pair for a key wins.
 */
export function parseSetArgs(pairs: readonly string[], base: Settings = DEFAULT_SETTINGS): Partial<Settings> {
  return SETTINGS_SCHEMA.parseSet(pairs, base);
}

/** The effective settings of a command: defaults <- the --config file <- --set pairs. */
export function settingsFromCli(options: { config?: string; set?: readonly string[] } = {}): Settings {
  return SETTINGS_SCHEMA.fromCli(options);
}

/** The fields that differ and matter for resuming a fine-tuning run: "learningRate 0.00005 -> 0.0001" each. */
export function settingsConflicts(saved: Settings, current: Settings): string[] {
  return SETTINGS_SCHEMA.conflicts(saved, current);
}

/** One row per field, in table order: for console.table in notebooks and for docs. */
export function describeSettings(settings: Settings = DEFAULT_SETTINGS): SettingsRow[] {
  return SETTINGS_SCHEMA.describe(settings);
}
