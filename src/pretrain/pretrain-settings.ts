// The settings of MLM pretraining (`nlpbook pretrain`, notebook 03b): a separate,
// validated object saved as pretrain-settings.json next to the pretrained model.
//
// Why not more fields on Settings: Settings is ratsnlp's ClassificationTrainArguments
// (fine-tuning), saved with every fine-tuned model and compared field by field when a
// fine-tuning run resumes. Pretraining fields (model size, masking) mean nothing there;
// a pretrained model is an INPUT to fine-tuning (settings.pretrainedModelName = the
// folder), just like kcbert-base. So pretraining gets its own table, validated by the
// same machinery (settings/settings.ts's validateFields), with the same one-line errors.
import * as fs from 'fs';
import * as path from 'path';
import { NlpbookError } from '../util/errors';
import { writeJsonAtomic } from '../util/fsutil';
import { closestField, parseSetPairs, readSettingsJson, validateFields, type FieldRule, type FieldTable } from '../settings/index';

export interface PretrainSettings {
  // --- data ---
  /** Tokenizer (its vocabulary is the model's): hub id or folder. */
  tokenizer: string;
  /** Pretrain on NSMC's TRAINING documents (labels unused; the test split is never read). */
  nsmc: boolean;
  /** More text files, one document per line (UTF-8). */
  textFiles: string[];
  /** Where NSMC is (or is fetched to): <root>/nsmc/ratings_train.txt; the token cache goes to <root>/pretraining-cache/. */
  corpusRootDir: string;
  /** Corpus mirror (URL or folder); null: env NLPBOOK_CORPUS_MIRROR, else $NLPBOOK_MIRROR/data, else GitHub. */
  corpusMirror: string | null;
  /** Model mirror for the tokenizer; null: env NLPBOOK_MODEL_MIRROR, else $NLPBOOK_MIRROR/models. */
  modelMirror: string | null;
  /** Documents held out (seeded, from the training texts) to score the finished model's MLM loss/accuracy. */
  heldOutDocuments: number;
  // --- model ---
  /** Output folder (Hugging Face layout); null: data/pretrained/mlm-L<layers>-H<hidden>. */
  outputDir: string | null;
  layers: number;
  hidden: number;
  heads: number;
  intermediate: number;
  /** Position embeddings (longest input the model can take; fine-tuning's maxSeqLength must fit). */
  maxPositions: number;
  // --- sequences and masking ---
  /** Longest sequence in tokens, [CLS] and [SEP] included. */
  maxSeqLength: number;
  /** Pack several documents into each sequence ([CLS] d1 [SEP] d2 [SEP] ...) instead of one per sequence. */
  packing: boolean;
  /** Share of the (non-special) tokens of a sequence chosen for prediction. */
  maskProb: number;
  /** Of the chosen tokens: share replaced by [MASK]. */
  maskTokenProb: number;
  /** Of the chosen tokens: share replaced by a random token (the rest stay as they are). */
  randomTokenProb: number;
  /** Choose whole words: all ## pieces of a word are chosen together. */
  wholeWordMasking: boolean;
  /** BERT's dropout while pretraining (false: none; fine-tuning keeps config.json's 0.1 either way). */
  dropout: boolean;
  // --- optimisation ---
  /** Sequences per optimizer step. */
  batchSize: number;
  /** Optimizer steps; 0: `epochs` passes over the training documents. */
  steps: number;
  /** Passes over the training documents when steps is 0. */
  epochs: number;
  /** Time budget in minutes (0: none): stop at the first step boundary after it and save the model. */
  minutes: number;
  learningRate: number;
  warmupRatio: number;
  weightDecay: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEpsilon: number;
  maxGradNorm: number;
  /** Seed of every random choice (init, held-out slice, batch order, masks, dropout). */
  seed: number;
  // --- runtime ---
  /** Write a metrics line (and update the progress info) every this many steps. */
  logEverySteps: number;
  /** Save checkpoints/last (for resuming) when this many minutes passed since the previous save. */
  checkpointEveryMinutes: number;
  tqdmEnabled: boolean;
  /** A few steps on a few batches: a smoke test of the whole pipeline. */
  testMode: boolean;
}

/**
 * The course's choice for ~35 minutes on 2 cores (bench/results/pretrain-step.json, README):
 * BERT-Mini's shape (4 layers, hidden 256, 4 heads, feed-forward 1024; 11M parameters, 7.7M
 * of them the 30,000-word embedding), one document per sequence of at most 64 tokens, batches
 * of 128 (~2,800 tokens), four passes over NSMC's 150k training documents (4,644 steps) as
 * training graphs at ~5,800 tokens/s: 33 minutes on a quiet machine.
 */
export const DEFAULT_PRETRAIN_SETTINGS: Readonly<PretrainSettings> = Object.freeze({
  tokenizer: 'beomi/kcbert-base',
  nsmc: true,
  textFiles: [] as string[],
  corpusRootDir: 'data/Korpora',
  corpusMirror: null,
  modelMirror: null,
  heldOutDocuments: 1000,
  outputDir: null,
  layers: 4,
  hidden: 256,
  heads: 4,
  intermediate: 1024,
  maxPositions: 128,
  maxSeqLength: 64,
  packing: false,
  maskProb: 0.15,
  maskTokenProb: 0.8,
  randomTokenProb: 0.1,
  wholeWordMasking: true,
  dropout: true,
  batchSize: 128,
  steps: 0,
  epochs: 4,
  minutes: 0,
  learningRate: 1e-3,
  warmupRatio: 0.06,
  weightDecay: 0.01,
  adamBeta1: 0.9,
  adamBeta2: 0.98,
  adamEpsilon: 1e-6,
  maxGradNorm: 1.0,
  seed: 7,
  logEverySteps: 20,
  checkpointEveryMinutes: 5,
  tqdmEnabled: true,
  testMode: false,
});

type Rule = Readonly<FieldRule>;
const int = (doc: string, min: number, max?: number): Rule => ({ type: 'integer', doc, min, max });
const share = (doc: string): Rule => ({ type: 'number', doc, min: 0, max: 1 });

export const PRETRAIN_FIELDS: { readonly [K in keyof PretrainSettings]: Rule } = {
  tokenizer: { type: 'string', nonEmpty: true, doc: 'Tokenizer whose vocabulary the model gets: a hub id (beomi/kcbert-base) or a folder.' },
  nsmc: { type: 'boolean', doc: 'Pretrain on NSMC\'s training documents (labels unused; the test split is never read).' },
  textFiles: { type: 'string list', nonEmpty: true, doc: 'More UTF-8 text files, one document per line (CLI: comma-separated).' },
  corpusRootDir: { type: 'string', nonEmpty: true, doc: 'Where NSMC is or is fetched to (<root>/nsmc/ratings_train.txt); the token cache goes to <root>/pretraining-cache/.' },
  corpusMirror: { type: 'nullable string', doc: 'Corpus mirror (URL or folder); null: env NLPBOOK_CORPUS_MIRROR, else $NLPBOOK_MIRROR/data, else GitHub.' },
  modelMirror: { type: 'nullable string', doc: 'Model mirror for the tokenizer; null: env NLPBOOK_MODEL_MIRROR, else $NLPBOOK_MIRROR/models.' },
  heldOutDocuments: int('Documents held out from training (seeded) to score the finished model\'s MLM loss and accuracy.', 0, 1_000_000),
  outputDir: { type: 'nullable string', doc: 'Output folder (Hugging Face layout); null: data/pretrained/mlm-L<layers>-H<hidden>.' },
  layers: int('Transformer layers (num_hidden_layers).', 1, 48),
  hidden: int('Hidden size (hidden_size); a multiple of heads.', 8, 4096),
  heads: int('Attention heads (num_attention_heads).', 1, 64),
  intermediate: int('Feed-forward size (intermediate_size), usually 4 x hidden.', 8, 16384),
  maxPositions: int('Position embeddings (max_position_embeddings): the longest input the model takes.', 8, 512),
  maxSeqLength: int('Longest training sequence in tokens, [CLS] and [SEP] included (at most maxPositions).', 8, 512),
  packing: { type: 'boolean', doc: 'Pack several documents into each sequence ([CLS] d1 [SEP] d2 [SEP] ...) instead of one document per sequence.' },
  maskProb: { type: 'number', min: 0, minExclusive: true, max: 1, maxExclusive: true, doc: 'Share of a sequence\'s (non-special) tokens chosen for prediction (BERT: 0.15).' },
  maskTokenProb: share('Of the chosen tokens, the share replaced by [MASK] (BERT: 0.8).'),
  randomTokenProb: share('Of the chosen tokens, the share replaced by a random token (BERT: 0.1); the rest stay as they are.'),
  wholeWordMasking: { type: 'boolean', doc: 'Choose whole words: all ## pieces of a word are chosen together.' },
  dropout: { type: 'boolean', doc: 'BERT\'s dropout (0.1) while pretraining; false: none, as Cramming (Geiping & Goldstein 2022) found best on a short budget. Fine-tuning keeps config.json\'s 0.1 either way.' },
  batchSize: int('Sequences per optimizer step.', 1, 8192),
  steps: int('Optimizer steps; 0: `epochs` passes over the training documents.', 0),
  epochs: int('Passes over the training documents when steps is 0.', 1, 1000),
  minutes: { type: 'number', min: 0, doc: 'Time budget in minutes (0: none): training stops at the first step boundary after it and the model is saved.' },
  learningRate: { type: 'number', min: 0, minExclusive: true, max: 1, doc: 'Peak learning rate of AdamW (after warm-up; linear decay to 0 at the last step).' },
  warmupRatio: share('Share of the steps spent warming the learning rate up from 0.'),
  weightDecay: { type: 'number', min: 0, doc: 'AdamW\'s decoupled weight decay (not on biases and LayerNorm).' },
  adamBeta1: { type: 'number', min: 0, max: 1, maxExclusive: true, doc: 'AdamW\'s decay rate of the running mean of gradients.' },
  adamBeta2: { type: 'number', min: 0, max: 1, maxExclusive: true, doc: 'AdamW\'s decay rate of the running mean of squared gradients (0.98 as in RoBERTa: steadier with a high rate).' },
  adamEpsilon: { type: 'number', min: 0, minExclusive: true, doc: 'AdamW\'s small constant in the denominator.' },
  maxGradNorm: { type: 'number', min: 0, doc: 'Clip the global gradient norm to this (0 turns clipping off).' },
  seed: int('Seed of every random choice (init, held-out slice, batch order, masks, dropout).', 0, 2 ** 32 - 1),
  logEverySteps: int('Write a metrics line (and refresh the progress info) every this many steps.', 1),
  checkpointEveryMinutes: { type: 'number', min: 0, doc: 'Save checkpoints/last for resuming every this many minutes (0: only when stopping).' },
  tqdmEnabled: { type: 'boolean', doc: 'Show progress (a bar on a terminal, a short line every few seconds elsewhere).' },
  testMode: { type: 'boolean', doc: 'A few steps on a few batches: a smoke test of the whole pipeline.' },
};

export const PRETRAIN_TABLE: FieldTable<PretrainSettings> = {
  fields: PRETRAIN_FIELDS,
  defaults: DEFAULT_PRETRAIN_SETTINGS,
  example: 'pretraining settings like {"steps": 2000}',
  listedBy: 'src/pretrain/pretrain-settings.ts (PRETRAIN_FIELDS)',
};

/** The file the settings are saved as, next to the pretrained model and in its checkpoints. */
export const PRETRAIN_SETTINGS_FILE = 'pretrain-settings.json';

/**
 * Settings that may differ between a run and its resume (or reuse): where things are,
 * how progress is shown. Every other field changes the weights.
 */
export const PRETRAIN_RESUME_FREE: readonly (keyof PretrainSettings)[] = [
  'outputDir', 'corpusRootDir', 'corpusMirror', 'modelMirror', 'logEverySteps', 'checkpointEveryMinutes', 'tqdmEnabled',
];

/** Checks `obj` field by field (defaults for missing ones), then the fields against each other. */
export function validatePretrainSettings(obj: unknown, source = 'pretrain settings'): PretrainSettings {
  const s = validateFields(PRETRAIN_TABLE, obj, source);
  const fail = (field: keyof PretrainSettings, why: string): never => {
    throw new NlpbookError(`${source}: field "${field}" ${why}`);
  };
  if (s.hidden % s.heads !== 0) fail('hidden', `(${s.hidden}) must be a multiple of heads (${s.heads})`);
  if (s.maxSeqLength > s.maxPositions) fail('maxSeqLength', `(${s.maxSeqLength}) must be at most maxPositions (${s.maxPositions})`);
  if (s.maskTokenProb + s.randomTokenProb > 1 + 1e-12) {
    fail('randomTokenProb', `(${s.randomTokenProb}) plus maskTokenProb (${s.maskTokenProb}) must be at most 1`);
  }
  if (!s.nsmc && s.textFiles.length === 0) fail('textFiles', 'must name at least one file when nsmc is false (there is nothing to pretrain on)');
  return s;
}

/** The defaults with `overrides` applied, validated (a new plain object). */
export function makePretrainSettings(overrides: Partial<PretrainSettings> = {}): PretrainSettings {
  return validatePretrainSettings({ ...DEFAULT_PRETRAIN_SETTINGS, ...overrides });
}

/** The output folder: settings.outputDir, else data/pretrained/mlm-L<layers>-H<hidden>. */
export function pretrainOutputDir(s: Pick<PretrainSettings, 'outputDir' | 'layers' | 'hidden'>): string {
  return s.outputDir ?? path.join('data', 'pretrained', `mlm-L${s.layers}-H${s.hidden}`);
}

/** Writes <dir>/pretrain-settings.json atomically (validated first); returns the path. */
export function savePretrainSettings(s: PretrainSettings, dir: string): string {
  const file = path.join(dir, PRETRAIN_SETTINGS_FILE);
  writeJsonAtomic(file, validatePretrainSettings(s, `saving ${file}`));
  return file;
}

/** Reads and validates a pretraining settings file. */
export function loadPretrainSettings(file: string): PretrainSettings {
  return validatePretrainSettings(readSettingsJson(file), file);
}

/** The effective settings of `nlpbook pretrain`: defaults <- --config file <- --set pairs. */
export function pretrainSettingsFromCli(options: { config?: string; set?: readonly string[] } = {}): PretrainSettings {
  const base = options.config ? loadPretrainSettings(options.config) : makePretrainSettings();
  return validatePretrainSettings({ ...base, ...parsePretrainSetArgs(options.set ?? [], base) }, '--set');
}

/** `--set key=value` pairs as overrides (converted by type, validated, each error naming its pair). */
export function parsePretrainSetArgs(pairs: readonly string[], base: PretrainSettings = makePretrainSettings()): Partial<PretrainSettings> {
  return parseSetPairs(PRETRAIN_TABLE, pairs, base);
}

/** The fields that differ and matter for resuming or reusing: "steps 2000 -> 3000" each. */
export function pretrainConflicts(saved: PretrainSettings, current: PretrainSettings): string[] {
  const free = new Set<string>(PRETRAIN_RESUME_FREE);
  const out: string[] = [];
  for (const key of Object.keys(PRETRAIN_FIELDS) as (keyof PretrainSettings)[]) {
    if (free.has(key)) continue;
    if (JSON.stringify(saved[key]) !== JSON.stringify(current[key])) out.push(`${key} ${JSON.stringify(saved[key])} -> ${JSON.stringify(current[key])}`);
  }
  return out;
}

/** Reads <dir>/pretrain-settings.json if there is one (null otherwise). */
export function readSavedPretrainSettings(dir: string): PretrainSettings | null {
  const file = path.join(dir, PRETRAIN_SETTINGS_FILE);
  if (!fs.existsSync(file)) return null;
  return loadPretrainSettings(file);
}

/** The pretraining field a mistyped name most likely meant. */
export function suggestPretrainField(name: string): keyof PretrainSettings | undefined {
  return closestField(name, Object.keys(PRETRAIN_FIELDS) as (keyof PretrainSettings)[]);
}

/** One row per field (value, default, meaning), in table order: for console.table in notebooks. */
export function describePretrainSettings(s: PretrainSettings = makePretrainSettings()): { field: string; value: unknown; default: unknown; doc: string }[] {
  return (Object.keys(PRETRAIN_FIELDS) as (keyof PretrainSettings)[]).map((field) => ({
    field,
    value: s[field],
    default: DEFAULT_PRETRAIN_SETTINGS[field],
    doc: PRETRAIN_FIELDS[field].doc,
  }));
}
