// The folders a training run leaves under settings.downstreamModelDir:
//
//   <dir>/settings.json
//   <dir>/metrics.jsonl                       one JSON line per log step and per validation
//   <dir>/checkpoints/last/                   the newest state: where a rerun resumes
//   <dir>/checkpoints/epoch=2-step=846-val_loss=0.2791/   the saveTopK best (by monitor)
//   <dir>/best/                               the best model: what predict/evaluate/Python load
//
// Every checkpoint folder is a complete Hugging Face model folder (config.json,
// model.safetensors, tokenizer files, settings.json) plus, for resuming,
// optimizer.safetensors (AdamW's moments) and trainer-state.json (step, epoch, data
// loader position, random generator, best scores).
//
// Never half a checkpoint: a folder is written under a temporary name and renamed
// into place, so a folder with its real name is always complete. Replacing `last` is
// two renames (old aside, new in); a crash between them leaves the old one aside,
// and recoverLast() puts it back. Top-k and best folders are hard links to `last`'s
// files (no copy of a 440 MB model; files are never modified in place, only replaced).
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { NlpbookError } from '../util/errors';
import { TEMP_FILE_NAME, writeJsonAtomic } from '../util/fsutil';
import type { LoaderState } from '../data/index';
import { saveModel, readSafetensors, writeSafetensors, type BertPreTrainedModel } from '../model/index';
import type { AdamWState, TaskState } from '../task/index';
import type { Settings } from '../settings/index';
import { writeTokenizerFiles } from '../tokenizer/index';
import { trainerStateProblem } from './trainer-state-check';

export const TRAINER_STATE_FILE = 'trainer-state.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
/** trainer-state.json's format of a fine-tuning run (pretraining has its own). */
export const TRAINER_STATE_FORMAT = 'nlpbook-trainer-state/1';

/** Scores of one validation pass. */
export interface ValidationResult {
  /** 1-based epoch that just ended. */
  epoch: number;
  /** Optimizer steps done at that point. */
  step: number;
  n: number;
  loss: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
}

/** One of the kept best checkpoints. */
export interface RankedCheckpoint {
  /** Folder name under checkpoints/. */
  name: string;
  /** The monitored value (val_loss or val_accuracy). */
  value: number;
  epoch: number;
  step: number;
}

/** Everything besides weights and optimizer moments that an exact resume needs. */
export interface TrainerState {
  format: string;
  /** The settings of the run (a resume must have the same ones, see RESUME_FREE_FIELDS). */
  settings: Settings;
  /** What the features came from: a resume on other data would not be the same run. */
  data: { corpusFingerprint: string; tokenizerFingerprint: string; trainExamples: number; validationExamples: number };
  /** Optimizer steps done. */
  step: number;
  /** 0-based index of the epoch to continue (the next one when an epoch just ended). */
  epoch: number;
  /** Batches of that epoch already trained on. */
  batchInEpoch: number;
  epochsCompleted: number;
  batchesPerEpoch: number;
  totalSteps: number;
  /** The training loader's state, positioned at (epoch, batchInEpoch). */
  loader: LoaderState;
  /** Step count and dropout generator of the task. */
  task: TaskState;
  /** Learning rate of the next step. */
  lr: number;
  /** Training steps since the last metrics line, read to the host: the next line averages them with the rest. */
  window: { steps: number; lossSum: number; accuracySum: number };
  monitor: string;
  best: (ValidationResult & { value: number }) | null;
  topK: RankedCheckpoint[];
  history: ValidationResult[];
  epochsWithoutImprovement: number;
  finished: boolean;
  stoppedEarly: boolean;
  /** Wall seconds of training and validation so far (all sessions). */
  seconds: number;
  /** Size of metrics.jsonl when this was saved: a resume cuts off lines written after it. */
  metricsBytes: number;
  savedAt: string;
}

/**
 * Settings that may differ between a run and its resume: where things are, how
 * progress is shown, caching. Every other field changes the numbers, so a checkpoint
 * made with another value is a different run and is not resumed.
 */
export const RESUME_FREE_FIELDS: readonly (keyof Settings)[] = [
  'downstreamModelDir', 'downstreamCorpusRootDir', 'corpusMirror', 'modelMirror', 'overwriteCache', 'forceDownload',
  'tqdmEnabled', 'cpuWorkers', 'logEverySteps',
];

/** The fields whose values differ and matter for resuming: "learningRate 5e-5 -> 1e-4" each. */
export function resumeConflicts(saved: Settings, current: Settings): string[] {
  const free = new Set<string>(RESUME_FREE_FIELDS);
  const out: string[] = [];
  for (const key of Object.keys(current) as (keyof Settings)[]) {
    if (free.has(key)) continue;
    if (JSON.stringify(saved[key]) !== JSON.stringify(current[key])) {
      out.push(`${key} ${JSON.stringify(saved[key])} -> ${JSON.stringify(current[key])}`);
    }
  }
  return out;
}

/** <dir>/checkpoints */
export function checkpointsDir(dir: string): string {
  return path.join(dir, 'checkpoints');
}

/** <dir>/checkpoints/last */
export function lastDir(dir: string): string {
  return path.join(checkpointsDir(dir), 'last');
}

/** <dir>/best */
export function bestDir(dir: string): string {
  return path.join(dir, 'best');
}

/** Lightning-style folder name: epoch=2-step=846-val_loss=0.2791. */
export function checkpointName(monitor: string, epoch: number, step: number, value: number): string {
  const metric = monitor.split(' ')[1] ?? monitor;
  return `epoch=${epoch}-step=${step}-${metric}=${value.toFixed(4)}`;
}

/** What a checkpoint folder holds. `S` is the run's state (trainer-state.json); pretraining has its own. */
export interface CheckpointContents<S extends { format: string } = TrainerState> {
  model: BertPreTrainedModel;
  /** Written as settings.json (fine-tuning runs). */
  settings?: Settings;
  /** More JSON files for the folder, by file name (e.g. pretrain-settings.json). */
  files?: Record<string, unknown>;
  /** tokenizerFiles(tokenizer) */
  tokenizer: Map<string, string>;
  optimizer: AdamWState;
  state: S;
  /** Writes more into the folder being saved (e.g. the weight average's running sum). */
  extra?: (folder: string) => void;
}

/** Writes a full checkpoint as <dir>/checkpoints/last, replacing the previous one; returns its path. */
export function saveLastCheckpoint<S extends { format: string } = TrainerState>(dir: string, contents: CheckpointContents<S>): string {
  const target = lastDir(dir);
  const tmp = tempDirFor(target);
  try {
    fs.mkdirSync(tmp, { recursive: true });
    saveModel(contents.model, tmp, { settings: contents.settings });
    for (const [name, value] of Object.entries(contents.files ?? {})) writeJsonAtomic(path.join(tmp, name), value);
    writeTokenizerFiles(contents.tokenizer, tmp);
    writeOptimizerState(path.join(tmp, OPTIMIZER_FILE), contents.optimizer);
    contents.extra?.(tmp);
    writeJsonAtomic(path.join(tmp, TRAINER_STATE_FILE), contents.state);
    replaceDir(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return target;
}

/** tempDirFor and replaceDir below: ".<name>.tmp-<pid>-<8 hex>", ".<name>.old-<8 hex>". */
export const TEMP_DIR = /^\..+\.(tmp-\d+-|old-)[0-9a-f]{8}$/;

/** A name only an interrupted write of this project leaves (any other hidden file is someone's, and kept). */
function isLeftover(name: string): boolean {
  return TEMP_FILE_NAME.test(name) || TEMP_DIR.test(name);
}

/**
 * Puts `last` back if a crash left it renamed aside, and removes leftovers of
 * interrupted writes. Returns the trainer state in `last`, or null when there is none.
 * `format` is the state's expected format (default: the fine-tuning trainer's).
 */
export function recoverLast<S extends { format: string } = TrainerState>(dir: string, format = TRAINER_STATE_FORMAT): S | null {
  const folder = checkpointsDir(dir);
  if (!fs.existsSync(folder)) return null;
  const target = lastDir(dir);
  for (const name of fs.readdirSync(folder)) {
    const full = path.join(folder, name);
    if (name.startsWith('.last.old-') && !fs.existsSync(target) && fs.existsSync(path.join(full, TRAINER_STATE_FILE))) {
      fs.renameSync(full, target);
    } else if (isLeftover(name)) {
      fs.rmSync(full, { recursive: true, force: true });
    }
  }
  // Leftovers of an interrupted swap of best/ (syncRankedFolders makes it again if needed).
  if (fs.existsSync(dir)) {
    for (const name of fs.readdirSync(dir)) {
      if (name.startsWith('.best.') && isLeftover(name)) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    }
  }
  if (!fs.existsSync(target)) return null;
  return readTrainerState<S>(target, format);
}

/** Reads and checks <checkpoint>/trainer-state.json (`format`: as in recoverLast). */
export function readTrainerState<S extends { format: string } = TrainerState>(checkpoint: string, format = TRAINER_STATE_FORMAT): S {
  const file = path.join(checkpoint, TRAINER_STATE_FILE);
  let state: S;
  try {
    state = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new NlpbookError(`${file}: cannot read the trainer state (${(e as Error).message.split('\n')[0]}); delete ${checkpoint} to start over`);
  }
  if (state?.format !== format) {
    throw new NlpbookError(`${file}: format ${JSON.stringify(state?.format)}, expected "${format}"; delete ${checkpoint} to start over`);
  }
  // The right tag with missing or mistyped fields would crash the resume later (TypeError).
  const problem = trainerStateProblem(state);
  if (problem) throw new NlpbookError(`${file}: ${problem}; the checkpoint cannot be resumed, delete ${checkpoint} to start over`);
  return state;
}

/** AdamW's state as a safetensors file (moments as tensors, step and hyperparameters as metadata). */
export function writeOptimizerState(file: string, state: AdamWState): void {
  const tensors = new Map(Object.entries(state.tensors).map(([name, data]) => [name, { shape: state.shapes[name], data }]));
  writeSafetensors(file, tensors, state.meta);
}

export function readOptimizerState(file: string): AdamWState {
  if (!fs.existsSync(file)) throw new NlpbookError(`${file}: not found (a checkpoint to resume needs the optimizer state)`);
  const { tensors, metadata } = readSafetensors(file);
  const out: AdamWState = { tensors: {}, shapes: {}, meta: metadata };
  for (const [name, t] of tensors) {
    if (!(t.data instanceof Float32Array)) throw new NlpbookError(`${file}: ${name} is ${t.dtype}, expected float32`);
    out.tensors[name] = t.data;
    out.shapes[name] = t.shape;
  }
  return out;
}

/** Files of a checkpoint that make the model folder (the rest are for resuming). */
const RESUME_ONLY = new Set([TRAINER_STATE_FILE, OPTIMIZER_FILE]);

/**
 * Makes `target` a folder with the same files as `source` (hard links, else copies),
 * replacing what was there. `modelOnly` leaves out the resume files.
 */
export function linkFolder(source: string, target: string, options: { modelOnly?: boolean; extra?: Record<string, unknown> } = {}): void {
  const tmp = tempDirFor(target);
  try {
    fs.mkdirSync(tmp, { recursive: true });
    for (const name of fs.readdirSync(source)) {
      if (options.modelOnly && RESUME_ONLY.has(name)) continue;
      const from = path.join(source, name);
      const to = path.join(tmp, name);
      try {
        fs.linkSync(from, to);
      } catch {
        fs.copyFileSync(from, to);
      }
    }
    for (const [name, value] of Object.entries(options.extra ?? {})) writeJsonAtomic(path.join(tmp, name), value);
    replaceDir(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Makes the top-k folders and best/ agree with `state` (saved in `last`): links the
 * newest checkpoint where the state lists it, removes top-k folders it no longer
 * lists. Safe to repeat, so a resume after a crash mid-way finishes the job.
 */
export function syncRankedFolders(
  dir: string,
  state: { step: number; monitor: string; topK: RankedCheckpoint[]; best: ({ step: number } & object) | null },
): void {
  const last = lastDir(dir);
  const folder = checkpointsDir(dir);
  const keep = new Set(state.topK.map((c) => c.name));
  for (const c of state.topK) {
    if (c.step === state.step && !fs.existsSync(path.join(folder, c.name))) linkFolder(last, path.join(folder, c.name));
  }
  for (const name of fs.readdirSync(folder)) {
    if (name.startsWith('epoch=') && !keep.has(name)) fs.rmSync(path.join(folder, name), { recursive: true, force: true });
  }
  const best = state.best;
  if (best && best.step === state.step && readBestStep(dir) !== best.step) {
    linkFolder(last, bestDir(dir), { modelOnly: true, extra: { 'validation.json': { monitor: state.monitor, ...best } } });
  }
}

/** The step of the model in <dir>/best (from its validation.json), or null. */
function readBestStep(dir: string): number | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(bestDir(dir), 'validation.json'), 'utf8')).step ?? null;
  } catch {
    return null;
  }
}

/** Moves `source` to `target`, replacing a folder there (old one aside first, then removed). */
function replaceDir(source: string, target: string): void {
  let aside: string | null = null;
  if (fs.existsSync(target)) {
    aside = path.join(path.dirname(target), `.${path.basename(target)}.old-${crypto.randomBytes(4).toString('hex')}`);
    fs.renameSync(target, aside);
  }
  fs.renameSync(source, target);
  if (aside) fs.rmSync(aside, { recursive: true, force: true });
}

function tempDirFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
}

/** One row per folder of a run (the run folder, best/, checkpoints/ and each checkpoint): for console.table. */
export function listRunFolder(dir: string): { folder: string; files: number; megabytes: number }[] {
  const rows: { folder: string; files: number; megabytes: number }[] = [];
  const visit = (folder: string, depth: number) => {
    const entries = fs.readdirSync(folder, { withFileTypes: true }).filter((e) => !e.name.startsWith('.')).sort((a, b) => a.name.localeCompare(b.name));
    const files = entries.filter((e) => e.isFile());
    const bytes = files.reduce((sum, f) => sum + fs.statSync(path.join(folder, f.name)).size, 0);
    rows.push({ folder: `${path.relative(dir, folder) || '.'}/`, files: files.length, megabytes: Math.round(bytes / 1e4) / 100 });
    if (depth > 0) for (const e of entries) if (e.isDirectory()) visit(path.join(folder, e.name), depth - 1);
  };
  visit(dir, 2);
  return rows;
}

/** Largest absolute difference between the weights (model.safetensors) of two model folders. */
export function maxWeightDifference(dirA: string, dirB: string): number {
  const a = readSafetensors(path.join(dirA, 'model.safetensors')).tensors;
  const b = readSafetensors(path.join(dirB, 'model.safetensors')).tensors;
  let max = 0;
  for (const [name, t] of a) {
    const other = b.get(name);
    if (!other || other.data.length !== t.data.length) return Infinity;
    for (let i = 0; i < t.data.length; i++) max = Math.max(max, Math.abs(t.data[i] - other.data[i]));
  }
  return b.size === a.size ? max : Infinity;
}
