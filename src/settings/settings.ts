// Step 1 of the course: one settings object drives every step, like ratsnlp's
// ClassificationTrainArguments (same fields, camelCase), plus what this course adds.
// It is saved as settings.json next to every output and loads back identical.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { distance } from 'fastest-levenshtein';
import { NlpbookError } from '../util/errors';
import { writeJsonAtomic } from '../util/fsutil';

export interface Settings {
  // --- ratsnlp's ClassificationTrainArguments, camelCase ---
  /** Pretrained model: a Hugging Face hub id or a local folder in Hugging Face layout. */
  pretrainedModelName: string;
  /** Task name; also the name of the features cache folder. */
  downstreamTaskName: string;
  /** Corpus name (Korpora's name): only "nsmc" here. */
  downstreamCorpusName: string;
  /** Where corpora live: <root>/nsmc/ratings_train.txt, like Korpora's root_dir. */
  downstreamCorpusRootDir: string;
  /** Where checkpoints, logs and the final model are written. */
  downstreamModelDir: string;
  /** Longest input in tokens, [CLS] and [SEP] included. */
  maxSeqLength: number;
  /** How many best checkpoints to keep (by `monitor`); -1 keeps all, 0 none. */
  saveTopK: number;
  /** Checkpoint choice: "min val_loss" or "max val_accuracy". */
  monitor: string;
  /** Seed of every random choice (sampler, dropout, init, split). */
  seed: number;
  /** Rebuild the tokenized features cache even when it is valid. */
  overwriteCache: boolean;
  /** Download the corpus again even when valid files exist. */
  forceDownload: boolean;
  /** Run only a couple of batches per phase: a smoke test of the pipeline. */
  testMode: boolean;
  /** Peak learning rate of AdamW (reached at the end of warm-up). */
  learningRate: number;
  /** How many passes over the training split. */
  epochs: number;
  /** Sentences per optimizer step. */
  batchSize: number;
  /** Kept for parity; no effect: loading runs in-process and TensorFlow sizes its own thread pool. */
  cpuWorkers: number;
  /** Kept for parity; must be false: TF.js has no mixed-precision training. */
  fp16: boolean;
  /** Kept for parity; must be 0: there are no TPUs in TF.js on Node. */
  tpuCores: number;
  /** Show progress bars (ratsnlp's tqdm_enabled). */
  tqdmEnabled: boolean;

  // --- what this course adds ---
  /** Base URL or local folder laid out like Korpora's root (nsmc/ratings_*.txt), used instead of GitHub; null: env NLPBOOK_CORPUS_MIRROR, else $NLPBOOK_MIRROR/data, else GitHub. */
  corpusMirror: string | null;
  /** Local folder holding model folders (<mirror>/kcbert-base or <mirror>/beomi/kcbert-base), tried before the hub; null: env NLPBOOK_MODEL_MIRROR, else $NLPBOOK_MIRROR/models. */
  modelMirror: string | null;
  /** What to do with empty documents (5 train, 3 test rows): keep them as "", skip them, or fail. */
  emptyDocuments: 'keep' | 'skip' | 'error';
  /** Share of the training split held out for validation (the test split is never used for choices). */
  validationFraction: number;
  /** Share of all optimizer steps spent warming the learning rate up from 0. */
  warmupRatio: number;
  /** AdamW's decoupled weight decay (not applied to biases and LayerNorm). */
  weightDecay: number;
  /** AdamW's decay rate of the running mean of gradients. */
  adamBeta1: number;
  /** AdamW's decay rate of the running mean of squared gradients. */
  adamBeta2: number;
  /** AdamW's small constant that keeps the update finite. */
  adamEpsilon: number;
  /** Clip the global gradient norm to this (0 turns clipping off). */
  maxGradNorm: number;
  /** Group training batches by sentence length so padding is small. */
  lengthBucketing: boolean;
  /** Drop the last incomplete training batch. */
  dropLast: boolean;
  /** Stop after this many epochs without improvement of `monitor` (0 turns it off). */
  earlyStoppingPatience: number;
  /** Write training metrics every this many optimizer steps. */
  logEverySteps: number;
}

export const DEFAULT_SETTINGS: Readonly<Settings> = Object.freeze({
  pretrainedModelName: 'beomi/kcbert-base',
  downstreamTaskName: 'document-classification',
  downstreamCorpusName: 'nsmc',
  downstreamCorpusRootDir: 'data/Korpora',
  downstreamModelDir: 'data/checkpoint-doccls',
  maxSeqLength: 128,
  saveTopK: 1,
  monitor: 'min val_loss',
  seed: 7,
  overwriteCache: false,
  forceDownload: false,
  testMode: false,
  learningRate: 5e-5,
  epochs: 3,
  batchSize: 32,
  cpuWorkers: Math.max(1, os.cpus().length), // like os.cpu_count(); some sandboxes report 0 CPUs
  fp16: false,
  tpuCores: 0,
  tqdmEnabled: true,
  corpusMirror: null,
  modelMirror: null,
  emptyDocuments: 'keep',
  validationFraction: 0.1,
  warmupRatio: 0.1,
  weightDecay: 0.01,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEpsilon: 1e-6,
  maxGradNorm: 1.0,
  lengthBucketing: true,
  dropLast: false,
  earlyStoppingPatience: 0,
  logEverySteps: 10,
});

// ---------------------------------------------------------------------------
// The field table: one entry per field. Validation, `nlpbook settings`, the
// notebook table and docs/settings.md all read it, so they cannot disagree.

export type SettingsFieldName = keyof Settings;
export type SettingType = 'string' | 'nullable string' | 'string list' | 'integer' | 'number' | 'boolean' | 'enum';
/** Groups for docs and notebooks, in the order the course uses them. */
export type SettingsGroup = 'model' | 'corpus' | 'features' | 'training' | 'checkpoints' | 'runtime';

/**
 * What a value of one field must be. Shared by every settings-like object of the
 * course (these Settings, the pretraining settings of src/pretrain/pretrain-settings.ts), so
 * they all validate and word their one-line errors the same way.
 */
export interface FieldRule {
  type: SettingType;
  /** What the field means (one sentence). */
  doc: string;
  /** Allowed values of an enum. */
  values?: readonly string[];
  /** Number range; the ends are included unless the *Exclusive flag says otherwise. */
  min?: number;
  max?: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
  /** Strings (and list items) that must not be empty. */
  nonEmpty?: boolean;
  /** A field kept for parity with ratsnlp that can only have this one value here, and why. */
  only?: { value: boolean | number; reason: string };
}

export interface SettingsField extends FieldRule {
  group: SettingsGroup;
  /** The same field's name in ratsnlp's ClassificationTrainArguments; null for what the course adds. */
  ratsnlp: string | null;
  /** Why changing this field has no effect here (it is still validated and saved). */
  noEffect?: string;
  /** Shown instead of the default value where the default depends on the machine. */
  defaultNote?: string;
}

export const SETTINGS_FIELDS: { readonly [K in SettingsFieldName]: Readonly<SettingsField> } = {
  pretrainedModelName: {
    type: 'string', group: 'model', ratsnlp: 'pretrained_model_name', nonEmpty: true,
    doc: 'Pretrained model: a Hugging Face hub id (beomi/kcbert-base) or a local folder in Hugging Face layout.',
  },
  downstreamTaskName: {
    type: 'string', group: 'model', ratsnlp: 'downstream_task_name', nonEmpty: true,
    doc: 'Task name; also the name of the tokenized features cache folder.',
  },
  downstreamCorpusName: {
    type: 'enum', group: 'corpus', ratsnlp: 'downstream_corpus_name', values: ['nsmc'],
    doc: 'Corpus name as in Korpora; this course fine-tunes on NSMC only.',
  },
  downstreamCorpusRootDir: {
    type: 'string', group: 'corpus', ratsnlp: 'downstream_corpus_root_dir', nonEmpty: true,
    doc: 'Where corpora live: <root>/nsmc/ratings_train.txt, like Korpora\'s root_dir.',
  },
  downstreamModelDir: {
    type: 'string', group: 'checkpoints', ratsnlp: 'downstream_model_dir', nonEmpty: true,
    doc: 'Where checkpoints, logs, settings.json and the final model are written.',
  },
  maxSeqLength: {
    type: 'integer', group: 'features', ratsnlp: 'max_seq_length', min: 2, max: 512,
    doc: 'Longest input in tokens, [CLS] and [SEP] included; longer sentences are cut (BERT has 512 positions).',
  },
  saveTopK: {
    type: 'integer', group: 'checkpoints', ratsnlp: 'save_top_k', min: -1,
    doc: 'How many best checkpoints (by `monitor`) to keep; -1 keeps all, 0 none.',
  },
  monitor: {
    type: 'enum', group: 'checkpoints', ratsnlp: 'monitor', values: ['min val_loss', 'max val_accuracy'],
    doc: 'Which validation metric picks the best checkpoint, and whether lower or higher is better.',
  },
  seed: {
    type: 'integer', group: 'training', ratsnlp: 'seed', min: 0, max: 2 ** 32 - 1,
    doc: 'Seed of every random choice (validation split, batch order, dropout, classifier init).',
  },
  overwriteCache: {
    type: 'boolean', group: 'features', ratsnlp: 'overwrite_cache',
    doc: 'Rebuild the tokenized features cache even when it is valid.',
  },
  forceDownload: {
    type: 'boolean', group: 'corpus', ratsnlp: 'force_download',
    doc: 'Download the corpus again even when valid files exist.',
  },
  testMode: {
    type: 'boolean', group: 'runtime', ratsnlp: 'test_mode',
    doc: 'Run only a couple of batches per phase: a quick smoke test of the whole pipeline (Lightning\'s fast_dev_run).',
  },
  learningRate: {
    type: 'number', group: 'training', ratsnlp: 'learning_rate', min: 0, minExclusive: true, max: 1,
    doc: 'Peak learning rate of AdamW (reached at the end of warm-up).',
  },
  epochs: {
    type: 'integer', group: 'training', ratsnlp: 'epochs', min: 1,
    doc: 'How many passes over the training split.',
  },
  batchSize: {
    type: 'integer', group: 'training', ratsnlp: 'batch_size', min: 1, max: 4096,
    doc: 'Sentences per optimizer step.',
  },
  cpuWorkers: {
    type: 'integer', group: 'runtime', ratsnlp: 'cpu_workers', min: 1,
    doc: 'Data loader worker processes in ratsnlp.',
    noEffect: 'no effect here: batches are built in-process and TensorFlow sizes its own thread pool',
    defaultNote: 'number of CPU cores',
  },
  fp16: {
    type: 'boolean', group: 'runtime', ratsnlp: 'fp16',
    doc: 'Mixed-precision (16-bit) training in ratsnlp.',
    only: { value: false, reason: 'TF.js has no mixed-precision training' },
    noEffect: 'kept for parity with ratsnlp',
  },
  tpuCores: {
    type: 'integer', group: 'runtime', ratsnlp: 'tpu_cores',
    doc: 'TPU cores to train on in ratsnlp (Colab TPUs).',
    only: { value: 0, reason: 'TF.js on Node has no TPU support' },
    noEffect: 'kept for parity with ratsnlp',
  },
  tqdmEnabled: {
    type: 'boolean', group: 'runtime', ratsnlp: 'tqdm_enabled',
    doc: 'Show progress bars (a bar on a terminal, a short line every few seconds elsewhere).',
  },
  corpusMirror: {
    type: 'nullable string', group: 'corpus', ratsnlp: null,
    doc: 'Base URL or local folder laid out like Korpora\'s root (nsmc/ratings_*.txt), used instead of GitHub; null: env NLPBOOK_CORPUS_MIRROR, else $NLPBOOK_MIRROR/data, else GitHub.',
  },
  modelMirror: {
    type: 'nullable string', group: 'model', ratsnlp: null,
    doc: 'Local folder holding model folders (<mirror>/kcbert-base or <mirror>/beomi/kcbert-base), tried before the hub; null: env NLPBOOK_MODEL_MIRROR, else $NLPBOOK_MIRROR/models.',
  },
  emptyDocuments: {
    type: 'enum', group: 'corpus', ratsnlp: null, values: ['keep', 'skip', 'error'],
    doc: 'What to do with NSMC\'s empty documents (5 train, 3 test rows): keep them as "", skip them, or fail.',
  },
  validationFraction: {
    type: 'number', group: 'corpus', ratsnlp: null, min: 0, minExclusive: true, max: 1, maxExclusive: true,
    doc: 'Share of the training split held out for validation (the test split is never used for choices).',
  },
  warmupRatio: {
    type: 'number', group: 'training', ratsnlp: null, min: 0, max: 1,
    doc: 'Share of all optimizer steps spent warming the learning rate up from 0.',
  },
  weightDecay: {
    type: 'number', group: 'training', ratsnlp: null, min: 0,
    doc: 'AdamW\'s decoupled weight decay (not applied to biases and LayerNorm).',
  },
  adamBeta1: {
    type: 'number', group: 'training', ratsnlp: null, min: 0, max: 1, maxExclusive: true,
    doc: 'AdamW\'s decay rate of the running mean of gradients.',
  },
  adamBeta2: {
    type: 'number', group: 'training', ratsnlp: null, min: 0, max: 1, maxExclusive: true,
    doc: 'AdamW\'s decay rate of the running mean of squared gradients.',
  },
  adamEpsilon: {
    type: 'number', group: 'training', ratsnlp: null, min: 0, minExclusive: true,
    doc: 'AdamW\'s small constant in the denominator that keeps updates finite.',
  },
  maxGradNorm: {
    type: 'number', group: 'training', ratsnlp: null, min: 0,
    doc: 'Clip the global gradient norm to this (0 turns clipping off).',
  },
  lengthBucketing: {
    type: 'boolean', group: 'training', ratsnlp: null,
    doc: 'Group training batches by sentence length so little compute is spent on padding.',
  },
  dropLast: {
    type: 'boolean', group: 'training', ratsnlp: null,
    doc: 'Drop the last incomplete training batch of each epoch.',
  },
  earlyStoppingPatience: {
    type: 'integer', group: 'checkpoints', ratsnlp: null, min: 0,
    doc: 'Stop after this many epochs without improvement of `monitor` (0 turns early stopping off).',
  },
  logEverySteps: {
    type: 'integer', group: 'runtime', ratsnlp: null, min: 1,
    doc: 'Write training metrics every this many optimizer steps.',
  },
};

/** Every field name, in the order of the field table (also the order of settings.json). */
export const SETTINGS_FIELD_NAMES = Object.keys(SETTINGS_FIELDS) as readonly SettingsFieldName[];

/** What a field accepts, as the error messages and docs say it, e.g. "an integer from 1 to 4096". */
export function settingAccepts(name: SettingsFieldName): string {
  return ruleAccepts(SETTINGS_FIELDS[name]);
}

/** What a field with this rule accepts, in words. */
export function ruleAccepts(f: Readonly<FieldRule>): string {
  if (f.only) return String(f.only.value);
  switch (f.type) {
    case 'string': return f.nonEmpty ? 'a non-empty string' : 'a string';
    case 'nullable string': return 'a string or null';
    case 'string list': return f.nonEmpty ? 'a list of non-empty strings' : 'a list of strings';
    case 'boolean': return 'true or false';
    case 'enum': return `one of ${f.values!.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'integer':
    case 'number': {
      const noun = f.type === 'integer' ? 'an integer' : 'a number';
      const { min, max, minExclusive, maxExclusive } = f;
      if (min !== undefined && max !== undefined) {
        if (!minExclusive && !maxExclusive) return `${noun} from ${min} to ${max}`;
        if (minExclusive && maxExclusive) return `${noun} between ${min} and ${max}, both excluded`;
      }
      const parts: string[] = [];
      if (min !== undefined) parts.push(`${minExclusive ? '>' : '>='} ${min}`);
      if (max !== undefined) parts.push(`${maxExclusive ? '<' : '<='} ${max}`);
      return parts.length ? `${noun} ${parts.join(' and ')}` : noun;
    }
  }
}

/** True when `value` is acceptable for the field. */
function fieldAccepts(f: Readonly<FieldRule>, value: unknown): boolean {
  if (f.only) return value === f.only.value;
  switch (f.type) {
    case 'string': return typeof value === 'string' && (!f.nonEmpty || value.trim() !== '');
    case 'nullable string': return value === null || typeof value === 'string';
    case 'string list': return Array.isArray(value) && value.every((v) => typeof v === 'string' && (!f.nonEmpty || v.trim() !== ''));
    case 'boolean': return typeof value === 'boolean';
    case 'enum': return typeof value === 'string' && f.values!.includes(value);
    case 'integer':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return false;
      if (f.type === 'integer' && !Number.isSafeInteger(value)) return false;
      if (f.min !== undefined && (f.minExclusive ? value <= f.min : value < f.min)) return false;
      if (f.max !== undefined && (f.maxExclusive ? value >= f.max : value > f.max)) return false;
      return true;
    }
  }
}

/** A value as it would be typed, short and on one line, for "(got ...)". */
function shown(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return String(value);
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Throws the one-line error for a bad value of a known field. */
function checkRule(f: Readonly<FieldRule>, name: string, value: unknown, source: string): void {
  if (fieldAccepts(f, value)) return;
  const why = f.only ? `: ${f.only.reason}` : '';
  throw new NlpbookError(`${source}: field "${name}" must be ${ruleAccepts(f)} (got ${shown(value)})${why}`);
}

// ---------------------------------------------------------------------------
// Unknown fields: suggest the closest one, so a typo in a config file or a
// snake_case name copied from the book's Python code is a one-line fix.

/** Lower case without separators: learning_rate, learning-rate, LearningRate -> learningrate. */
function squash(name: string): string {
  return name.replace(/[\s_-]/g, '').toLowerCase();
}

/** The field a mistyped name most likely meant, or undefined when none is close. */
export function suggestField(name: string): SettingsFieldName | undefined {
  return closestField(name, SETTINGS_FIELD_NAMES);
}

/** Of `fields`, the one a mistyped `name` most likely meant, or undefined when none is close. */
export function closestField<K extends string>(name: string, fields: readonly K[]): K | undefined {
  const key = squash(name);
  if (!key) return undefined;
  let best: K | undefined;
  let bestDistance = Infinity;
  for (const field of fields) {
    const d = distance(key, field.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [field, d];
  }
  if (best && bestDistance <= Math.max(2, Math.ceil(best.length / 4))) return best;
  // A clear prefix ("batch" -> batchSize) is a good guess too, if only one field starts so.
  const prefixed = fields.filter((f) => key.length >= 4 && f.toLowerCase().startsWith(key));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/**
 * A field table with its defaults: what validateFields checks an object against.
 * `example` is shown when the input is not an object at all, `listedBy` when an
 * unknown field has no close match.
 */
export interface FieldTable<T extends object> {
  fields: { readonly [K in keyof T & string]: Readonly<FieldRule> };
  defaults: Readonly<T>;
  /** e.g. 'settings like {"batchSize": 32}' */
  example: string;
  /** e.g. '`nlpbook settings` and docs/settings.md' */
  listedBy: string;
}

const SETTINGS_TABLE: FieldTable<Settings> = {
  fields: SETTINGS_FIELDS,
  defaults: DEFAULT_SETTINGS,
  example: 'settings like {"batchSize": 32}',
  listedBy: '`nlpbook settings` and in docs/settings.md',
};

function unknownFieldError(name: string, source: string, table: FieldTable<object>): NlpbookError {
  const guess = closestField(name, Object.keys(table.fields));
  const hint = guess ? `did you mean "${guess}"?` : `the fields are listed by ${table.listedBy}`;
  return new NlpbookError(`${source}: unknown field "${name}" (${hint})`);
}

function isFieldOf(table: FieldTable<object>, name: string): boolean {
  return Object.prototype.hasOwnProperty.call(table.fields, name);
}

// ---------------------------------------------------------------------------
// Making, checking, saving and loading settings.

/**
 * Checks a settings object (e.g. parsed settings.json) and returns a new, complete
 * Settings: missing fields take their defaults, so a partial config works; an
 * `undefined` value counts as missing. Throws a one-line NlpbookError naming
 * `source` and the field for the first problem found.
 */
export function validateSettings(obj: unknown, source = 'settings'): Settings {
  return validateFields(SETTINGS_TABLE, obj, source);
}

/**
 * validateSettings for any field table: a new, complete object in table order,
 * missing (or undefined) fields taking their defaults; the first problem throws a
 * one-line NlpbookError naming `source` and the field. List values are copied.
 */
export function validateFields<T extends object>(table: FieldTable<T>, obj: unknown, source: string): T {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new NlpbookError(`${source}: expected an object of ${table.example} (got ${Array.isArray(obj) ? 'an array' : shown(obj)})`);
  }
  const given = obj as Record<string, unknown>;
  for (const key of Object.keys(given)) if (!isFieldOf(table, key)) throw unknownFieldError(key, source, table);
  const out: Record<string, unknown> = {};
  const fields = table.fields as Record<string, Readonly<FieldRule>>;
  const defaults = table.defaults as Record<string, unknown>;
  for (const name of Object.keys(fields)) {
    const value = given[name] === undefined ? defaults[name] : given[name];
    checkRule(fields[name], name, value, source);
    out[name] = Array.isArray(value) ? [...value] : value;
  }
  return out as T;
}

/** The defaults with `overrides` applied, validated: a new plain object (not frozen, change it freely). */
export function makeSettings(overrides: Partial<Settings> = {}): Settings {
  return validateSettings({ ...DEFAULT_SETTINGS, ...overrides });
}

/**
 * Writes `settings` as `<dir>/<file>` (pretty JSON, fields in table order) and returns
 * the path. Invalid settings throw before anything is written, and the write is
 * atomic, so a good settings.json is never replaced by a bad or half-written one.
 */
export function saveSettings(settings: Settings, dir: string, file = 'settings.json'): string {
  const target = path.join(dir, file);
  const checked = validateSettings(settings, `saving ${target}`);
  writeJsonAtomic(target, checked);
  return target;
}

/** Reads and validates a settings JSON file (missing fields take defaults). */
export function loadSettings(file: string): Settings {
  return validateSettings(readSettingsJson(file), file);
}

/** The parsed JSON of a settings file, not yet validated; one-line errors for a missing or malformed file. */
export function readSettingsJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new NlpbookError(`${file}: settings file not found`);
    if (code === 'EISDIR') throw new NlpbookError(`${file}: is a folder, expected a settings JSON file`);
    throw new NlpbookError(`${file}: cannot read the settings file (${code ?? (e as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.replace(/^\uFEFF/, '')); // editors on Windows may add a BOM
  } catch (e) {
    const reason = firstLine((e as Error).message).replace(/ in JSON at position \d+.*$/, '');
    throw new NlpbookError(`${file}: not valid JSON${jsonErrorWhere(text, e as Error)} (${reason})`);
  }
  return parsed;
}

/** " at line L, column C" from JSON.parse's "at position N", or "" when it gives none. */
function jsonErrorWhere(text: string, error: Error): string {
  const m = /position (\d+)/.exec(error.message);
  if (!m) return '';
  const before = text.replace(/^\uFEFF/, '').slice(0, Number(m[1])).split('\n');
  return ` at line ${before.length}, column ${before[before.length - 1].length + 1}`;
}

function firstLine(message: string): string {
  return message.split('\n')[0];
}

// ---------------------------------------------------------------------------
// Command line: `--set key=value` pairs and --config files.

/** Converts a --set value by the field's type; leaves what does not convert as text, so validation names it. */
function convertCliValue(f: Readonly<FieldRule>, text: string): unknown {
  switch (f.type) {
    case 'integer':
    case 'number': {
      const n = Number(text);
      return text.trim() !== '' && !Number.isNaN(n) ? n : text;
    }
    case 'boolean': return text === 'true' ? true : text === 'false' ? false : text;
    case 'nullable string': return text === 'null' ? null : text;
    // Comma-separated; an empty value is the empty list.
    case 'string list': return text.trim() === '' ? [] : text.split(',').map((t) => t.trim());
    default: return text;
  }
}

/**
 * Parses CLI `--set key=value` pairs into overrides. Values convert by the field's
 * type (numbers, true/false, null for nullable fields) and are validated like a
 * config file, each error naming its argument. The last pair for a key wins.
 */
export function parseSetArgs(pairs: readonly string[], base: Settings = DEFAULT_SETTINGS): Partial<Settings> {
  return parseSetPairs(SETTINGS_TABLE, pairs, base);
}

/** parseSetArgs for any field table. */
export function parseSetPairs<T extends object>(table: FieldTable<T>, pairs: readonly string[], base: T = table.defaults as T): Partial<T> {
  const overrides: Record<string, unknown> = {};
  const fields = table.fields as Record<string, Readonly<FieldRule>>;
  for (const pair of pairs) {
    const source = `--set ${pair}`;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new NlpbookError(`${source}: expected key=value, e.g. --set batchSize=16`);
    const key = pair.slice(0, eq).trim();
    if (!isFieldOf(table, key)) throw unknownFieldError(key, source, table);
    const value = convertCliValue(fields[key], pair.slice(eq + 1));
    checkRule(fields[key], key, value, source);
    overrides[key] = value;
  }
  validateFields(table, { ...base, ...overrides }, '--set');
  return overrides as Partial<T>;
}

/** The effective settings of a command: defaults <- the --config file <- --set pairs. */
export function settingsFromCli(options: { config?: string; set?: readonly string[] } = {}): Settings {
  const base = options.config ? loadSettings(options.config) : makeSettings();
  return validateSettings({ ...base, ...parseSetArgs(options.set ?? [], base) }, '--set');
}

// ---------------------------------------------------------------------------
// Describing settings (notebooks, `nlpbook settings`, docs).

export interface SettingsRow {
  field: SettingsFieldName;
  group: SettingsGroup;
  value: Settings[SettingsFieldName];
  default: Settings[SettingsFieldName];
  doc: string;
  /** Why the field has no effect here and the one value it allows, or "". */
  note: string;
}

function fieldNote(name: SettingsFieldName): string {
  const f = SETTINGS_FIELDS[name];
  const only = f.only ? `must be ${f.only.value}: ${f.only.reason}` : undefined;
  return [f.noEffect, only].filter(Boolean).join('; ');
}

/** One row per field, in table order: for console.table in notebooks and for docs. */
export function describeSettings(settings: Settings = DEFAULT_SETTINGS): SettingsRow[] {
  return SETTINGS_FIELD_NAMES.map((field) => ({
    field,
    group: SETTINGS_FIELDS[field].group,
    value: settings[field],
    default: DEFAULT_SETTINGS[field],
    doc: SETTINGS_FIELDS[field].doc,
    note: fieldNote(field),
  }));
}
