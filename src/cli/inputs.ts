// What the commands' inputs share: texts come either as arguments or one per line of
// --file (`-` is stdin), integer flags are checked the same way, and every command that
// loads a classifier folder takes --model DIR, --tokenizer DIR and --max-length N.
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

/** --model DIR, --tokenizer DIR, --max-length N: the flags of the commands that load a classifier folder. */
export const MODEL_FLAGS = { model: { type: 'string' }, tokenizer: { type: 'string' }, 'max-length': { type: 'string' } } as const;

type ModelFlagValues = { model?: string; tokenizer?: string; 'max-length'?: string };

/** The --model folder, which is required. */
export function requireModel(values: ModelFlagValues): string {
  check(values.model !== undefined, '--model DIR is required (a trained model folder, e.g. data/checkpoint-doccls/best)');
  return values.model;
}

/** How to load the --model folder: --tokenizer and --max-length (at least 2) as the loaders take them. */
export function loaderFlags(values: ModelFlagValues): { tokenizerDir: string | undefined; maxLength: number | undefined } {
  return { tokenizerDir: values.tokenizer, maxLength: optionalInt(values['max-length'], '--max-length', 2) };
}
