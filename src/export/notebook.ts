// Reading a Jupyter notebook (.ipynb, nbformat 4) with one-line errors that name the
// file and what was wrong, so `nlpbook export-post` never fails deep inside a cell loop.
import { NlpbookError } from '../util/errors';

/** Multiline text as nbformat stores it: one string, or a list of lines. */
export type MultilineText = string | string[];

export interface NotebookOutput {
  output_type: 'stream' | 'display_data' | 'execute_result' | 'error' | string;
  /** stream: "stdout" or "stderr". */
  name?: string;
  text?: MultilineText;
  /** display_data / execute_result: one entry per MIME type. */
  data?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

export interface NotebookCell {
  cell_type: 'markdown' | 'code' | 'raw';
  id?: string;
  source: MultilineText;
  metadata?: Record<string, unknown>;
  outputs?: NotebookOutput[];
  /** Markdown cells: images pasted into the cell, by name, then by MIME type (base64). */
  attachments?: Record<string, Record<string, MultilineText>>;
}

export interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, any>;
  cells: NotebookCell[];
}

/** A cell's tags (metadata.tags, checked by parseNotebook); none when it has no tags. */
export function cellTags(cell: NotebookCell): string[] {
  const tags = cell.metadata?.tags;
  return Array.isArray(tags) ? tags : [];
}

/** Joins nbformat's multiline text. */
export function joinText(text: MultilineText | undefined): string {
  if (text === undefined) return '';
  return Array.isArray(text) ? text.join('') : text;
}

/**
 * Parses and checks the parts of a notebook that export needs. `file` only names the
 * notebook in error messages.
 */
export function parseNotebook(text: string, file: string): Notebook {
  let nb: any;
  try {
    nb = JSON.parse(text);
  } catch (e) {
    throw new NlpbookError(`${file}: not valid JSON (${jsonErrorWhere(text, (e as Error).message)})`);
  }
  const where = (i: number) => `${file}: cell ${i + 1}`;
  if (nb === null || typeof nb !== 'object' || Array.isArray(nb)) {
    throw new NlpbookError(`${file}: not a Jupyter notebook (expected a JSON object with "cells", found ${describe(nb)})`);
  }
  if (!Array.isArray(nb.cells)) {
    const old = Array.isArray(nb.worksheets) ? ` (nbformat ${nb.nbformat ?? 3}: open and save it in Jupyter to upgrade to nbformat 4)` : '';
    throw new NlpbookError(`${file}: not a Jupyter notebook: no "cells" list${old}`);
  }
  if (typeof nb.nbformat === 'number' && nb.nbformat !== 4) {
    throw new NlpbookError(`${file}: nbformat ${nb.nbformat} is not supported (expected 4)`);
  }
  if (nb.metadata !== undefined && (typeof nb.metadata !== 'object' || nb.metadata === null)) {
    throw new NlpbookError(`${file}: "metadata" must be an object, found ${describe(nb.metadata)}`);
  }
  nb.cells.forEach((cell: any, i: number) => {
    if (cell === null || typeof cell !== 'object') throw new NlpbookError(`${where(i)} is ${describe(cell)}, expected an object`);
    if (!['markdown', 'code', 'raw'].includes(cell.cell_type)) {
      throw new NlpbookError(`${where(i)}: "cell_type" is ${JSON.stringify(cell.cell_type)}, expected "markdown", "code" or "raw"`);
    }
    if (!isMultiline(cell.source)) throw new NlpbookError(`${where(i)}: "source" must be a string or a list of strings, found ${describe(cell.source)}`);
    if (cell.outputs !== undefined) {
      if (!Array.isArray(cell.outputs)) throw new NlpbookError(`${where(i)}: "outputs" must be a list, found ${describe(cell.outputs)}`);
      cell.outputs.forEach((o: any, j: number) => {
        const at = `${where(i)} output ${j + 1}`;
        if (o === null || typeof o !== 'object' || typeof o.output_type !== 'string') {
          throw new NlpbookError(`${at}: expected an object with "output_type"`);
        }
        if (o.output_type === 'stream' && !isMultiline(o.text)) throw new NlpbookError(`${at}: stream "text" must be a string or a list of strings`);
        if ((o.output_type === 'display_data' || o.output_type === 'execute_result') && (o.data === null || typeof o.data !== 'object')) {
          throw new NlpbookError(`${at}: ${o.output_type} has no "data" object`);
        }
      });
    }
    if (cell.metadata !== undefined && (cell.metadata === null || typeof cell.metadata !== 'object' || Array.isArray(cell.metadata))) {
      throw new NlpbookError(`${where(i)}: "metadata" must be an object, found ${describe(cell.metadata)}`);
    }
    // Jupyter Book's cell tags (remove-cell, remove-input, ...) decide what the post shows, so a
    // misspelt shape must fail here rather than silently publish a cell meant to be hidden.
    const tags = cell.metadata?.tags;
    if (tags !== undefined && !(Array.isArray(tags) && tags.every((t) => typeof t === 'string'))) {
      const found = Array.isArray(tags) ? `a list holding ${describe(tags.find((t) => typeof t !== 'string'))}` : describe(tags);
      const hint = typeof tags === 'string' ? ` (write ${JSON.stringify([tags])})` : '';
      throw new NlpbookError(`${where(i)}: "metadata.tags" must be a list of strings, found ${found}${hint}`);
    }
    if (cell.attachments !== undefined && (cell.attachments === null || typeof cell.attachments !== 'object')) {
      throw new NlpbookError(`${where(i)}: "attachments" must be an object`);
    }
  });
  nb.metadata ??= {};
  return nb as Notebook;
}

function isMultiline(v: unknown): v is MultilineText {
  return typeof v === 'string' || (Array.isArray(v) && v.every((s) => typeof s === 'string'));
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (v === undefined) return 'nothing';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** "line L column C: <V8's message>" when the parser says where it stopped. */
function jsonErrorWhere(text: string, message: string): string {
  const m = /at position (\d+)/.exec(message);
  const short = message.replace(/\s*in JSON at position \d+.*$/, '').replace(/, ".*" is not valid JSON$/, '');
  if (text.trim() === '') return 'the file is empty';
  if (!m) return short;
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  return `line ${line} column ${column}: ${short}`;
}
