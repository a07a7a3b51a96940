// The trainer's log (metrics.jsonl, one JSON object per line) as series for the training
// charts: loss and accuracy every logEverySteps optimizer steps ("train" lines) and the
// validation scores at the end of each epoch ("validation" lines). Other line types
// (pretraining's "heldout") are skipped. The file is read by train/'s readMetricsLog, the one
// reader of metrics.jsonl, which checks every line, so a broken file is named with its line number.
import * as fs from 'fs';
import * as path from 'path';
import { METRICS_FILE, readMetricsLog } from '../train/index';
import { NlpbookError } from '../util/errors';

export interface TrainingCurves {
  /** The metrics.jsonl read. */
  file: string;
  /** One entry per "train" line: means over the steps since the previous line. */
  train: { step: number[]; epoch: number[]; loss: number[]; accuracy: number[]; lr: number[] };
  /** One entry per "validation" line (per epoch). precision/recall/f1 are NaN where a line lacks them. */
  validation: { epoch: number[]; step: number[]; loss: number[]; accuracy: number[]; precision: number[]; recall: number[]; f1: number[] };
}

/** metrics.jsonl in `dir` or, for a model folder such as <run>/best, in its parent; null when neither has one. */
export function findMetricsFile(dir: string): string | null {
  for (const candidate of [path.join(dir, METRICS_FILE), path.join(dir, '..', METRICS_FILE)]) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return candidate;
  }
  return null;
}

/** Reads a trainer's metrics.jsonl (the file, or the run folder holding it) into series. */
export function readTrainingCurves(fileOrDir: string): TrainingCurves {
  if (!fs.existsSync(fileOrDir)) throw new NlpbookError(`${fileOrDir}: not found (expected a trainer's ${METRICS_FILE} or the run folder holding it)`);
  const file = fs.statSync(fileOrDir).isDirectory() ? path.join(fileOrDir, METRICS_FILE) : fileOrDir;
  if (!fs.existsSync(file)) throw new NlpbookError(`${fileOrDir}: no ${METRICS_FILE} in this folder (the trainer writes it into downstreamModelDir)`);
  const curves: TrainingCurves = {
    file,
    train: { step: [], epoch: [], loss: [], accuracy: [], lr: [] },
    validation: { epoch: [], step: [], loss: [], accuracy: [], precision: [], recall: [], f1: [] },
  };
  readMetricsLog(file, (line, at) => {
    const num = (key: string, required = true): number => {
      const v = line[key];
      if (typeof v === 'number') return v;
      if (!required && v === undefined) return NaN;
      throw new NlpbookError(`${at}: "${line.type}" line needs a number "${key}", got ${JSON.stringify(v)}`);
    };
    if (line.type === 'train') {
      const t = curves.train;
      t.step.push(num('step'));
      t.epoch.push(num('epoch'));
      t.loss.push(num('loss'));
      t.accuracy.push(num('accuracy'));
      t.lr.push(num('lr', false));
    } else if (line.type === 'validation') {
      const v = curves.validation;
      v.epoch.push(num('epoch'));
      v.step.push(num('step'));
      v.loss.push(num('loss'));
      v.accuracy.push(num('accuracy'));
      v.precision.push(num('precision', false));
      v.recall.push(num('recall', false));
      v.f1.push(num('f1', false));
    }
  });
  if (curves.train.step.length === 0 && curves.validation.step.length === 0) {
    throw new NlpbookError(`${file}: no "train" or "validation" lines (is this a trainer's ${METRICS_FILE}?)`);
  }
  return curves;
}
