// metrics.jsonl: the log every training run keeps in its folder (fine-tuning and
// pretraining alike), one JSON object a line, `type` first:
//
//   {"type":"train","step":10,"epoch":1,"loss":0.61,"accuracy":0.68,"lr":0.0001,...,"seconds":12.3}
//   {"type":"validation","epoch":1,"step":45,"n":80,"loss":0.52,...}     fine-tuning, each epoch end
//   {"type":"heldout","step":40,"loss":6.1,"accuracy":0.12,...}          pretraining, at the end
//
// The trainer (trainer.ts) appends to it through MetricsLog and cuts it back to the size
// saved in a checkpoint when it resumes; readMetricsLog is the one reader (metricsByType,
// pretrainMetrics, the training curves and the course's time estimates all use it).
import * as fs from 'fs';
import * as path from 'path';
import { NlpbookError } from '../util/errors';
import type { ValidationResult } from './checkpoints';

export const METRICS_FILE = 'metrics.jsonl';

/** One line of metrics.jsonl; `type` says which kind ("train", "validation", "heldout"). */
export interface MetricsLine {
  type: string;
  [field: string]: unknown;
}

/**
 * The lines of a metrics.jsonl (`fileOrDir`: the file, or the run folder holding it), in
 * file order; [] when there is no such file yet. Every line is checked: one that is not a
 * JSON object with a "type" is an error naming its place (file:line). `onLine` sees each
 * line with that place, for checks of its own.
 */
export function readMetricsLog(fileOrDir: string, onLine?: (line: MetricsLine, at: string) => void): MetricsLine[] {
  const file = fs.existsSync(fileOrDir) && fs.statSync(fileOrDir).isDirectory() ? path.join(fileOrDir, METRICS_FILE) : fileOrDir;
  if (!fs.existsSync(file)) return [];
  const lines: MetricsLine[] = [];
  fs.readFileSync(file, 'utf8').split('\n').forEach((text, i) => {
    if (!text.trim()) return;
    const at = `${file}:${i + 1}`;
    let line: unknown;
    try {
      line = JSON.parse(text);
    } catch {
      throw new NlpbookError(`${at}: not JSON (expected one metrics object per line), got ${JSON.stringify(text.slice(0, 60))}`);
    }
    if (typeof line !== 'object' || line === null || Array.isArray(line)) throw new NlpbookError(`${at}: expected a JSON object, got ${text.slice(0, 60)}`);
    if (typeof (line as MetricsLine).type !== 'string') throw new NlpbookError(`${at}: no "type" (expected "train", "validation" or "heldout")`);
    onLine?.(line as MetricsLine, at);
    lines.push(line as MetricsLine);
  });
  return lines;
}

/** A run's metrics.jsonl as the trainer writes it. */
export class MetricsLog {
  readonly file: string;

  constructor(dir: string) {
    this.file = path.join(dir, METRICS_FILE);
  }

  append(line: MetricsLine): void {
    fs.appendFileSync(this.file, `${JSON.stringify(line)}\n`);
  }

  /** Its size now (a checkpoint records it). */
  bytes(): number {
    return fs.existsSync(this.file) ? fs.statSync(this.file).size : 0;
  }

  /** Cuts off what was written after a checkpoint of `bytes`: a resume does that work again. */
  truncate(bytes: number): void {
    if (this.bytes() > bytes) fs.truncateSync(this.file, bytes);
  }

  remove(): void {
    fs.rmSync(this.file, { force: true });
  }

  read(): MetricsLine[] {
    return readMetricsLog(this.file);
  }
}

/**
 * A train line as the trainer writes it, every logEverySteps steps, for any task (a task may
 * add fields of its own before `seconds`: pretraining's tokens and tokensPerSecond).
 */
export interface TrainLine {
  type: 'train';
  step: number;
  /** 1-based epoch the step belongs to (runs planned in epochs), or the fractional epoch (runs planned in steps). */
  epoch: number;
  /** Mean loss and accuracy of the steps since the previous line (weighted by the task's step weight). */
  loss: number;
  accuracy: number;
  /** Learning rate of this step. */
  lr: number;
  /** Wall seconds since the run began (all sessions). */
  seconds: number;
}

/** A fine-tuning run's line for a training log step. */
export type TrainMetricsLine = TrainLine;

/** A fine-tuning run's line for a validation. */
export type ValidationMetricsLine = { type: 'validation'; seconds: number } & ValidationResult;

/** Reads <dir>/metrics.jsonl of a fine-tuning run (for charts and notebooks). */
export function readMetrics(dir: string): (TrainMetricsLine | ValidationMetricsLine)[] {
  return readMetricsLog(dir) as unknown as (TrainMetricsLine | ValidationMetricsLine)[];
}

/** <dir>/metrics.jsonl of a fine-tuning run split by line type, each in file order. */
export function metricsByType(dir: string): { train: TrainMetricsLine[]; validation: ValidationMetricsLine[] } {
  const lines = readMetrics(dir);
  return {
    train: lines.filter((l): l is TrainMetricsLine => l.type === 'train'),
    validation: lines.filter((l): l is ValidationMetricsLine => l.type === 'validation'),
  };
}
