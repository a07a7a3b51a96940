// Quick runs: the course's pipeline on a tiny model and a slice of NSMC, in seconds
// instead of hours. The notebook test sets NLPBOOK_NOTEBOOK_TEST=1 and the notebooks
// switch to these; the lesson is the same, only the sizes shrink.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { NsmcCorpus, nsmcPath, readNsmcFile, SPLITS, type Split } from './corpus';
import { writeFileAtomic } from './fsutil';
import type { Settings } from './settings';

/**
 * A tiny random BERT with kcbert's 30,000-word vocabulary (hidden size 16, 2 layers),
 * made by Python's transformers (scripts/fixtures/bert.py). Relative to the repo root,
 * where the notebooks and the CLI run. It has no tokenizer files: use kcbert's tokenizer.
 */
export const TINY_MODEL_DIR = path.join('test', 'fixtures', 'tiny-bert');

/** True when the notebooks run as a test (env NLPBOOK_NOTEBOOK_TEST=1): use a tiny model and little data. */
export function quickRun(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NLPBOOK_NOTEBOOK_TEST === '1';
}

const scratch: string[] = [];

/** A fresh empty folder under the system's temp folder, for a run whose output is not kept: removed when the process (kernel) exits. */
export function scratchDir(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `nlpbook-${name}-`));
  if (scratch.length === 0) process.on('exit', () => scratch.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  scratch.push(dir);
  return dir;
}

/**
 * A corpus root (<root>/nsmc/ratings_*.txt) holding the header and the first rows of
 * each NSMC split, cut at record boundaries. The full files are fetched first
 * (cache-first) under settings.downstreamCorpusRootDir. Returns `root`.
 */
export async function smallCorpus(
  settings: Pick<Settings, 'downstreamCorpusRootDir' | 'forceDownload' | 'corpusMirror' | 'tqdmEnabled' | 'emptyDocuments'>,
  rows: Record<Split, number>,
  root: string,
): Promise<string> {
  const corpus = new NsmcCorpus(settings);
  await corpus.fetch();
  for (const split of SPLITS) {
    const parsed = readNsmcFile(corpus.path(split));
    const lines = fs.readFileSync(corpus.path(split), 'utf8').split('\n');
    // lines[] of the file are 1-based in `parsed.lines`: keep everything before record `rows`.
    const end = rows[split] < parsed.lines.length ? parsed.lines[rows[split]] - 1 : lines.length;
    writeFileAtomic(nsmcPath(root, split), `${lines.slice(0, end).join('\n').replace(/\n$/, '')}\n`);
  }
  return root;
}
