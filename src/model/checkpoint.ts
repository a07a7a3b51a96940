// Loading and saving models in Hugging Face's folder layout: config.json, weights
// (model.safetensors, else pytorch_model.bin) and the tokenizer files. Key handling
// follows transformers' from_pretrained: a checkpoint saved from BertModel (no
// "bert." prefix) or from BertForPreTraining / BertForMaskedLM (extra heads) loads
// into any task model; what does not fit is reported in transformers' words.
import * as fs from 'fs';
import * as path from 'path';
import { tf } from '../util/backend';
import { NlpbookError } from '../util/errors';
import { writeFileAtomic, writeJsonAtomic } from '../util/fsutil';
import { resolveModelDir } from './hub';
import { saveSettings, type Settings } from '../settings/index';
import { BertConfig } from './config';
import { SafetensorsFile, writeSafetensors, type TensorSource } from './safetensors';
import { TorchCheckpoint, type CheckpointLimits } from './torch-pickle';

export const WEIGHTS_FILES = ['model.safetensors', 'pytorch_model.bin'] as const;
/** Tokenizer files copied next to a saved model (the ones present). */
export const SAVED_TOKENIZER_FILES = ['vocab.txt', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.json'] as const;

/** What a model is built from: a value for some parameters (the rest are initialised). */
export type WeightSource = (name: string, shape: number[]) => tf.Tensor | Float32Array | undefined;

/**
 * What loading and saving need of a model: bert.ts's BertPreTrainedModel has it. Named
 * here so this file does not import bert.ts (which imports loadPretrained from here).
 */
export interface CheckpointModel {
  /** The Python class (config.json "architectures"). */
  readonly architecture: string;
  /** config.json's "architectures" when it lists more than `architecture` (default: [architecture]). */
  readonly architectures?: string[];
  readonly config: BertConfig;
  /** Parameters by Hugging Face name. */
  readonly weights: Map<string, tf.Variable>;
  loadReport?: LoadReport;
}

export interface LoadReport {
  /** The weights file read. */
  file: string;
  /** Model parameters the checkpoint did not have (left as initialised). */
  missingKeys: string[];
  /** Checkpoint tensors the model has no place for (not used). */
  unexpectedKeys: string[];
  /** With ignoreMismatchedSizes: parameters whose checkpoint shape differed (newly initialised instead). */
  mismatchedKeys: { name: string; checkpoint: number[]; model: number[] }[];
  /** transformers-style warning texts (empty when everything matched). */
  warnings: string[];
}

/** Largest safetensors header (JSON) read: about 150 bytes per tensor, so 16 MiB is ~100,000 tensors. */
const MAX_HEADER_BYTES = 16 * 1024 * 1024;

/**
 * The most tensor bytes a checkpoint for a model with these parameter shapes can need: every
 * parameter as float64 (8 bytes), plus one more copy of the largest (an MLM decoder stored apart
 * from the word embeddings) and 16 MiB for small heads and buffers (pooler, NSP, position_ids).
 * A float32 checkpoint of the model is under half of it. Bounds each storage and their sum.
 */
export function weightsByteLimit(shapes: Iterable<readonly number[]>): number {
  let total = 0;
  let largest = 0;
  for (const shape of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    total += n;
    largest = Math.max(largest, n);
  }
  return 8 * (total + largest) + 16 * 1024 * 1024;
}

/**
 * The weights file in `dir`: model.safetensors, else pytorch_model.bin. `limits` (loadWeights
 * and loadPretrained pass weightsByteLimit of the model) bound what is read before anything is
 * allocated: the pickle and the safetensors header, each storage and their sum.
 */
export function openWeights(dir: string, limits: CheckpointLimits = {}): TensorSource {
  if (!fs.existsSync(dir)) throw new NlpbookError(`model folder not found: ${dir}`);
  if (!fs.statSync(dir).isDirectory()) throw new NlpbookError(`${dir}: expected a model folder, found a file`);
  const safetensors = path.join(dir, 'model.safetensors');
  if (fs.existsSync(safetensors)) {
    checkSafetensorsHeader(safetensors, limits.maxHeaderBytes ?? MAX_HEADER_BYTES);
    return SafetensorsFile.open(safetensors);
  }
  const bin = path.join(dir, 'pytorch_model.bin');
  if (fs.existsSync(bin)) return TorchCheckpoint.open(bin, limits);
  throw new NlpbookError(`${dir}: no weights file (expected ${WEIGHTS_FILES.join(' or ')})`);
}

/** Refuses a safetensors file whose header length (its first 8 bytes) is over `max`, before the header is read. */
function checkSafetensorsHeader(file: string, max: number): void {
  const head = Buffer.alloc(8);
  const fd = fs.openSync(file, 'r');
  let size: number;
  try {
    size = fs.fstatSync(fd).size;
    if (fs.readSync(fd, head, 0, 8, 0) < 8) return; // too short: SafetensorsFile.open says so
  } finally {
    fs.closeSync(fd);
  }
  const n = head.readBigUInt64LE(0);
  // Past the end of the file: SafetensorsFile.open says that (truncated), without reading it.
  if (n > BigInt(max) && n <= BigInt(size - 8)) throw new NlpbookError(`${file}: header length ${n} is over ${max} bytes, more than a model's tensor list needs; refusing to read it`);
}

/** The bound openWeights applies for a model with these parameter shapes. */
function limitsFor(shapes: Iterable<readonly number[]>, configFile: string): CheckpointLimits {
  return { maxBytes: weightsByteLimit(shapes), maxBytesFor: `what a model of ${configFile} can hold` };
}

/** Legacy TF-era names: LayerNorm.gamma/beta are LayerNorm.weight/bias. */
function modernName(key: string): string {
  return key.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
}

/** Buffers some checkpoints carry that are not parameters; skipped silently, as transformers does. */
function isBuffer(key: string): boolean {
  return /(^|\.)embeddings\.(position_ids|token_type_ids)$/.test(key);
}

/**
 * Pairs checkpoint keys with model parameter names. Returns checkpoint key by
 * model name, plus the checkpoint keys the model does not use.
 */
export function matchKeys(checkpointKeys: string[], modelNames: string[]): { byName: Map<string, string>; unexpected: string[] } {
  const model = new Set(modelNames);
  const prefix = 'bert.';
  const modelHasPrefix = modelNames.some((n) => n.startsWith(prefix));
  const ckptHasPrefix = checkpointKeys.some((k) => modernName(k).startsWith(prefix));
  const byName = new Map<string, string>();
  const unexpected: string[] = [];
  const hasMlmHead = model.has('cls.predictions.bias');
  for (const key of checkpointKeys) {
    let name = modernName(key);
    if (modelHasPrefix && !ckptHasPrefix && !model.has(name) && model.has(prefix + name)) name = prefix + name; // saved from BertModel
    if (!modelHasPrefix && ckptHasPrefix && name.startsWith(prefix)) name = name.slice(prefix.length); // into a bare BertModel
    if (isBuffer(name)) continue;
    if (hasMlmHead && name === 'cls.predictions.decoder.weight') continue; // tied to the word embeddings
    if (hasMlmHead && name === 'cls.predictions.decoder.bias') {
      // Older checkpoints store the output bias twice; use it only when cls.predictions.bias is absent.
      if (!checkpointKeys.some((k) => modernName(k) === 'cls.predictions.bias')) byName.set('cls.predictions.bias', key);
      continue;
    }
    if (model.has(name) && !byName.has(name)) byName.set(name, key);
    else unexpected.push(key);
  }
  return { byName, unexpected };
}

function pyList(keys: string[]): string {
  return `[${keys.map((k) => `'${k}'`).join(', ')}]`;
}

function warningsFor(report: Omit<LoadReport, 'warnings'>, architecture: string, where: string): string[] {
  const warnings: string[] = [];
  if (report.mismatchedKeys.length) {
    const list = report.mismatchedKeys.map((m) => `${m.name}: found shape [${m.checkpoint}] in the checkpoint and [${m.model}] in the model instantiated`).join('; ');
    warnings.push(`Some weights of ${architecture} were not initialized from the model checkpoint at ${where} and are newly initialized because the shapes did not match: ${list}`);
  }
  if (report.unexpectedKeys.length) {
    warnings.push(`Some weights of the model checkpoint at ${where} were not used when initializing ${architecture}: ${pyList(report.unexpectedKeys)}`);
  }
  if (report.missingKeys.length) {
    warnings.push(`Some weights of ${architecture} were not initialized from the model checkpoint at ${where} and are newly initialized: ${pyList(report.missingKeys)}` +
      ' - You should probably TRAIN this model on a down-stream task to be able to use it for predictions and inference.');
  }
  return warnings;
}

/**
 * Checks every matched tensor's shape against the model's before anything is read.
 * A mismatch is an error, or (ignoreMismatchedSizes, like transformers) a parameter
 * left out of `byName` so it is newly initialised; those are returned.
 */
function checkShapes(source: TensorSource, byName: Map<string, string>, shapes: Map<string, number[]>, configFile: string,
  ignoreMismatchedSizes = false): LoadReport['mismatchedKeys'] {
  const mismatched: LoadReport['mismatchedKeys'] = [];
  for (const [name, want] of shapes) {
    const key = byName.get(name);
    if (key === undefined) continue;
    const got = source.shape(key);
    if (tf.util.arraysEqual(got, want)) continue;
    if (!ignoreMismatchedSizes) {
      throw new NlpbookError(`${source.file}: tensor ${key} has shape [${got}] but the model built from ${configFile} expects [${want}] for ${name}` +
        ' (pass ignoreMismatchedSizes to start it fresh)');
    }
    mismatched.push({ name, checkpoint: got, model: want });
    byName.delete(name);
  }
  return mismatched;
}

/**
 * Loads weights from `dir` (model.safetensors, else pytorch_model.bin) into an
 * existing model, by Hugging Face name. Parameters the checkpoint lacks keep their
 * current values. Prints transformers-style warnings to stderr unless `quiet`.
 */
export function loadWeights(model: CheckpointModel, dir: string, options: { quiet?: boolean; ignoreMismatchedSizes?: boolean } = {}): LoadReport {
  const source = openWeights(dir, limitsFor([...model.weights.values()].map((v) => v.shape), 'its config'));
  try {
    const names = [...model.weights.keys()];
    const { byName, unexpected } = matchKeys(source.names(), names);
    const shapes = new Map(names.map((n) => [n, model.weights.get(n)!.shape]));
    const mismatchedKeys = checkShapes(source, byName, shapes, 'its config', options.ignoreMismatchedSizes);
    for (const [name, key] of byName) {
      const v = model.weights.get(name)!;
      tf.tidy(() => v.assign(tf.tensor(source.readFloat32(key), v.shape, 'float32')));
    }
    const mismatched = new Set(mismatchedKeys.map((m) => m.name));
    const base = { file: source.file, missingKeys: names.filter((n) => !byName.has(n) && !mismatched.has(n)), unexpectedKeys: unexpected, mismatchedKeys };
    const report = { ...base, warnings: warningsFor(base, model.architecture, dir) };
    if (!options.quiet) for (const w of report.warnings) console.warn(w);
    return report;
  } finally {
    source.close();
  }
}

export interface PretrainedOptions {
  /** Number of classes of a new classifier head; default: the config's (id2label), else 2. */
  numLabels?: number;
  /** Class names by index (e.g. ["negative", "positive"]). */
  labels?: readonly string[];
  /** Seed of the initialisation of what the checkpoint lacks (e.g. the new classifier). */
  seed?: number;
  /** Don't print the missing/unexpected weight warnings. */
  quiet?: boolean;
  /** The model mirror setting, used when `nameOrDir` is a hub id. */
  modelMirror?: string | null;
  /** Start parameters whose checkpoint shape differs (e.g. a classifier for another label count) fresh instead of failing. */
  ignoreMismatchedSizes?: boolean;
}

/** The pieces of a model class `loadPretrained` uses (its constructor and parameter list). */
export interface ModelClass<M extends CheckpointModel> {
  new (config: BertConfig, source?: WeightSource, seed?: number): M;
  paramShapes(config: BertConfig): Map<string, number[]>;
}

/**
 * Builds a model from a folder in Hugging Face layout (or a hub id found in the
 * model mirror / Hugging Face cache): config.json + weights, new parameters
 * initialised like transformers. The load report is on `model.loadReport`.
 */
export function loadPretrained<M extends CheckpointModel>(cls: ModelClass<M>, nameOrDir: string, options: PretrainedOptions = {}): M {
  const dir = resolveModelDir(nameOrDir, { modelMirror: options.modelMirror, files: ['config.json'] });
  const configFile = path.join(dir, 'config.json');
  let config = BertConfig.fromFile(configFile);
  if (options.numLabels !== undefined || options.labels !== undefined) {
    config = config.withLabels(options.numLabels ?? options.labels!.length, options.labels);
  }
  const shapes = cls.paramShapes(config);
  const source = openWeights(dir, limitsFor(shapes.values(), configFile));
  try {
    const names = [...shapes.keys()];
    const { byName, unexpected } = matchKeys(source.names(), names);
    const mismatchedKeys = checkShapes(source, byName, shapes, configFile, options.ignoreMismatchedSizes);
    // Tensors are read one at a time as the model asks for them: peak memory is one tensor, not the file.
    const model = new cls(config, (name) => {
      const key = byName.get(name);
      return key === undefined ? undefined : source.readFloat32(key);
    }, options.seed ?? 0);
    const mismatched = new Set(mismatchedKeys.map((m) => m.name));
    const base = { file: source.file, missingKeys: names.filter((n) => !byName.has(n) && !mismatched.has(n)), unexpectedKeys: unexpected, mismatchedKeys };
    model.loadReport = { ...base, warnings: warningsFor(base, model.architecture, nameOrDir) };
    if (!options.quiet) for (const w of model.loadReport.warnings) console.warn(w);
    return model;
  } finally {
    source.close();
  }
}

export interface SaveOptions {
  /** Folder with the tokenizer files to copy next to the model (vocab.txt, tokenizer_config.json, ...). */
  tokenizerDir?: string;
  /** Written as settings.json, so the run that made the model can be repeated. */
  settings?: Settings;
}

/**
 * Saves `model` in Hugging Face layout so Python's
 * AutoModelForSequenceClassification.from_pretrained(dir) loads it: config.json,
 * model.safetensors (float32, Hugging Face names), the tokenizer files and
 * settings.json when given. Every file is written atomically.
 */
export function saveModel(model: CheckpointModel, dir: string, options: SaveOptions = {}): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const tensors = new Map([...model.weights].map(([name, v]) => [name, { shape: v.shape, data: () => v.dataSync() as Float32Array }]));
  const weightsFile = path.join(dir, 'model.safetensors');
  writeSafetensors(weightsFile, tensors, { format: 'pt' });
  written.push(weightsFile);
  const configFile = path.join(dir, 'config.json');
  writeJsonAtomic(configFile, model.config.toJSON(model.architectures ?? [model.architecture]));
  written.push(configFile);
  if (options.tokenizerDir !== undefined) {
    if (!fs.existsSync(path.join(options.tokenizerDir, 'vocab.txt'))) {
      throw new NlpbookError(`${options.tokenizerDir}: no vocab.txt to copy next to the model (tokenizerDir)`);
    }
    for (const name of SAVED_TOKENIZER_FILES) {
      const from = path.join(options.tokenizerDir, name);
      if (!fs.existsSync(from)) continue;
      const to = path.join(dir, name);
      if (path.resolve(from) !== path.resolve(to)) writeFileAtomic(to, fs.readFileSync(from));
      written.push(to);
    }
  }
  if (options.settings !== undefined) {
    written.push(saveSettings(options.settings, dir));
  }
  return written;
}
