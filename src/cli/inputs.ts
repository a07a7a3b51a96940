// What `tokenize` and `predict` share: texts come either as arguments or one per line
// of --file (`-` is stdin), and integer flags are checked the same way.
import * as fs from 'fs';
import { check, NlpbookError } from '../util/errors';

/** The texts to work on: TEXT arguments or the lines of --file, never both and never none. */
export function inputTexts(file: string | undefined, positionals: string[], verb: string): string[] {
  check(file === undefined || positionals.length === 0, 'give either --file FILE or TEXT arguments, not both');
  check(file !== undefined || positionals.length > 0, `nothing to ${verb}: give TEXT arguments or --file FILE (see --help)`);
  return file !== undefined ? readLines(file) : positionals;
}

/** One text per line; a final newline does not add an empty text, "\r\n" endings are fine. */
export function readLines(file: string): string[] {
  let content: string;
  try {
    content = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new NlpbookError(`--file ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const lines = content.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** An integer flag of at least `min`, or undefined when not given. */
export function optionalInt(text: string | undefined, flag: string, min: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  check(Number.isInteger(n) && n >= min, `${flag} must be an integer of at least ${min}, got "${text}"`);
  return n;
}
