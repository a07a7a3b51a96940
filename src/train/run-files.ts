// What this project writes into a run folder's checkpoints/ and best/, so that a fresh run
// removes only that: a file or folder anyone else put there is kept, by refusing to start.
import * as fs from 'fs';
import * as path from 'path';
import { NlpbookError } from '../util/errors';
import { SAVED_TOKENIZER_FILES } from '../model/index';
import { OPTIMIZER_FILE, TEMP_DIR, TRAINER_STATE_FILE } from './checkpoints';
import { TEMP_FILE_NAME } from '../util/fsutil';

/** Files of a checkpoint (or best/) folder: the model folder, settings, resume state, best/'s validation.json. */
const CHECKPOINT_FILES = new Set<string>([
  'config.json', 'model.safetensors', ...SAVED_TOKENIZER_FILES, 'settings.json', 'validation.json', OPTIMIZER_FILE, TRAINER_STATE_FILE,
  // pretraining's settings (the literal: pretrain/ imports train/)
  'pretrain-settings.json',
]);

/** Folders of checkpoints/: last and the top-k ones (checkpointName). */
const CHECKPOINT_DIR = /^(last|epoch=\d+-step=\d+-.+=.+)$/;

/**
 * The first entry under `folder` (checkpoints/ with `kind` 'checkpoints', best/ or one
 * checkpoint with 'checkpoint') that this project does not write, as a path; null when
 * there is none or `folder` does not exist. Links count as foreign (what they point to is not ours to judge).
 */
export function foreignEntry(folder: string, kind: 'checkpoints' | 'checkpoint'): string | null {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(folder);
  } catch {
    return null;
  }
  if (!st.isDirectory()) return folder;
  for (const name of fs.readdirSync(folder).sort()) {
    const full = path.join(folder, name);
    const entry = fs.lstatSync(full);
    if (kind === 'checkpoint') {
      if (!(entry.isFile() && (CHECKPOINT_FILES.has(name) || TEMP_FILE_NAME.test(name)))) return full;
    } else {
      if (!(entry.isDirectory() && (CHECKPOINT_DIR.test(name) || TEMP_DIR.test(name)))) return full;
      const inner = foreignEntry(full, 'checkpoint');
      if (inner) return inner;
    }
  }
  return null;
}

/**
 * Throws a one-line NlpbookError when `folder` holds anything this project did not write:
 * a fresh run is about to delete it, and the file is someone's.
 */
export function refuseForeign(folder: string, kind: 'checkpoints' | 'checkpoint'): void {
  const found = foreignEntry(folder, kind);
  if (found) {
    throw new NlpbookError(
      `${found}: not a file nlpbook writes, and a fresh run would delete ${folder}; move it out of there, or train into another folder`,
    );
  }
}
