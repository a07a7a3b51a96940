// Python's `csv.reader(open(path, encoding="utf-8"), delimiter=..., quotechar=...)`,
// ported from CPython's Modules/_csv.c (3.11+) so the corpus reads exactly as the
// reference Python loaders (ratsnlp's NsmcCorpus) read it, quirks included:
//   - QUOTE_MINIMAL, doublequote=True, skipinitialspace=False, strict=False,
//     escapechar=None (so the escape states of _csv.c can never be entered and are left out);
//   - a quote inside an unquoted field is an ordinary character;
//   - after a closing quote, further characters are appended to the field;
//   - a quoted field may span lines (its newlines are kept);
//   - an unterminated quoted field at the end of the file is kept, not an error;
//   - a blank line is a record with no fields.
// The file is opened in text mode, so "\r\n" and "\r" become "\n" first (universal newlines).
import { NlpbookError } from '../util/errors';

export interface CsvDialect {
  /** One character that separates fields. */
  delimiter: string;
  /** One character that quotes a field ("" inside it stands for one quote). */
  quotechar: string;
  /** csv.field_size_limit(): a longer field is an error (Python's default 131072). */
  fieldSizeLimit?: number;
}

/** What ratsnlp's NsmcCorpus passes: tab-separated, '"' quotes. */
export const NSMC_DIALECT: CsvDialect = { delimiter: '\t', quotechar: '"' };

export interface CsvRecord {
  fields: string[];
  /** 1-based line (as in the file) where the record starts. */
  line: number;
  /** 1-based line where it ends (> line when a quoted field spans lines). */
  endLine: number;
  /** Whether any field started with the quote character. */
  quoted: boolean;
}

/** Python's text-mode newline translation (newline=None): "\r\n" and "\r" read as "\n". */
export function universalNewlines(text: string): string {
  return text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
}

// The reader states of _csv.c (the escape states are unreachable without an escapechar).
const START_RECORD = 0;
const START_FIELD = 1;
const IN_FIELD = 2;
const IN_QUOTED_FIELD = 3;
const QUOTE_IN_QUOTED_FIELD = 4;
const EAT_CRNL = 5;

const LF = 10;
const CR = 13;
/** _csv.c's end-of-line pseudo character, fed after every line (never a real char code). */
const EOL = -2;

/**
 * Parses CSV text the way csv.reader does and calls `visit` for each record, in order,
 * with its fields, first and last line (1-based) and whether a field was quoted.
 * `rawText` is the decoded file content; newlines are translated here (text mode).
 * `where` names the source in error messages.
 */
export function forEachCsvRecord(
  rawText: string,
  visit: (fields: string[], line: number, endLine: number, quoted: boolean) => void,
  dialect: CsvDialect = NSMC_DIALECT,
  where = '<text>',
): void {
  if (dialect.delimiter.length !== 1 || dialect.quotechar.length !== 1) {
    throw new NlpbookError(`csv dialect: delimiter and quotechar must be one character each`);
  }
  const text = universalNewlines(rawText);
  const delimiter = dialect.delimiter.charCodeAt(0);
  const quotechar = dialect.quotechar.charCodeAt(0);
  const limit = dialect.fieldSizeLimit ?? 131072;

  let state = START_RECORD;
  let fields: string[] = [];
  let quoted = false;
  // The field being built: finished parts in `field`, plus the pending run of characters
  // text[segStart, segEnd). Every added character is the input character at its own
  // position, so consecutive ones are taken as one slice (fast, and no per-char concat).
  let field = '';
  let segStart = -1;
  let segEnd = -1;
  let line = 1; // the line being read
  let recordLine = 1; // the line the current record started on

  const addChar = (i: number): void => {
    if (i === segEnd) {
      segEnd++;
    } else {
      if (segStart >= 0) field += text.slice(segStart, segEnd);
      segStart = i;
      segEnd = i + 1;
    }
  };
  const fieldLen = (): number => field.length + (segStart >= 0 ? segEnd - segStart : 0);
  const saveField = (): void => {
    if (segStart >= 0) field += text.slice(segStart, segEnd);
    // Python counts code points; check that only when the UTF-16 length is already over.
    if (field.length > limit && codePoints(field) > limit) {
      throw new NlpbookError(`${where}:${recordLine}: field larger than field limit (${limit}), as Python's csv module would refuse`);
    }
    fields.push(field);
    field = '';
    segStart = -1;
    segEnd = -1;
  };

  // parse_process_char: one step of the state machine for char code `c` at position `i`.
  const step = (c: number, i: number): void => {
    switch (state) {
      case START_RECORD:
        if (c === EOL) break; // empty line: the record is []
        if (c === LF || c === CR) {
          state = EAT_CRNL;
          break;
        }
        state = START_FIELD;
      // falls through: a normal character starts the first field
      case START_FIELD:
        if (c === LF || c === CR || c === EOL) {
          saveField(); // empty last field
          state = c === EOL ? START_RECORD : EAT_CRNL;
        } else if (c === quotechar) {
          quoted = true;
          state = IN_QUOTED_FIELD;
        } else if (c === delimiter) {
          saveField(); // empty field
        } else {
          addChar(i);
          state = IN_FIELD;
        }
        break;
      case IN_FIELD:
        if (c === LF || c === CR || c === EOL) {
          saveField();
          state = c === EOL ? START_RECORD : EAT_CRNL;
        } else if (c === delimiter) {
          saveField();
          state = START_FIELD;
        } else {
          addChar(i); // a quote here is literal
        }
        break;
      case IN_QUOTED_FIELD:
        if (c === EOL) {
          // the line's "\n" was already added: the field goes on to the next line
        } else if (c === quotechar) {
          state = QUOTE_IN_QUOTED_FIELD;
        } else {
          addChar(i);
        }
        break;
      case QUOTE_IN_QUOTED_FIELD:
        if (c === quotechar) {
          addChar(i); // "" inside quotes is one "
          state = IN_QUOTED_FIELD;
        } else if (c === delimiter) {
          saveField();
          state = START_FIELD;
        } else if (c === LF || c === CR || c === EOL) {
          saveField();
          state = c === EOL ? START_RECORD : EAT_CRNL;
        } else {
          addChar(i); // strict=False: text after the closing quote joins the field
          state = IN_FIELD;
        }
        break;
      case EAT_CRNL:
        if (c === LF || c === CR) {
          // nothing
        } else if (c === EOL) {
          state = START_RECORD;
        } else {
          throw new NlpbookError(`${where}:${line}: new-line character seen in unquoted field`);
        }
        break;
    }
  };

  // Reader_iternext: feed each line's characters, then EOL; a record is complete when the
  // state is back at START_RECORD after a line.
  const endOfLine = (): void => {
    step(EOL, -1);
    if (state === START_RECORD) {
      visit(fields, recordLine, line, quoted);
      fields = [];
      quoted = false;
      recordLine = line + 1;
    }
    line++;
  };
  // endOfLine() for a line the fast path read whole: the state stays START_RECORD.
  const endOfLineFast = (): void => {
    visit(fields, line, line, false);
    fields = [];
    recordLine = line + 1;
    line++;
  };

  const n = text.length;
  const quoteStr = dialect.quotechar;
  let nextQuote = text.indexOf(quoteStr); // first quote at or after the current line (-1: none left)
  let pos = 0;
  while (pos < n) {
    const eol = text.indexOf('\n', pos);
    const lineEnd = eol < 0 ? n : eol; // the line is text[pos, lineEnd) plus its "\n" if any
    if (nextQuote >= 0 && nextQuote < pos) nextQuote = text.indexOf(quoteStr, pos);
    if (state === START_RECORD && (nextQuote < 0 || nextQuote > lineEnd)) {
      // Fast path, same result as the state machine: a line with no quote character
      // (and no CR, already translated) is its text split on the delimiter; a blank line is [].
      if (lineEnd > pos) {
        const parts = text.slice(pos, lineEnd).split(dialect.delimiter);
        for (const p of parts) {
          if (p.length > limit && codePoints(p) > limit) {
            throw new NlpbookError(`${where}:${line}: field larger than field limit (${limit}), as Python's csv module would refuse`);
          }
        }
        fields = parts;
      }
      endOfLineFast();
    } else {
      const stop = eol < 0 ? n : eol + 1;
      for (let i = pos; i < stop; i++) {
        const c = text.charCodeAt(i);
        // Hot path, same transitions as step(): ordinary characters extend the pending run
        // (a newline inside a quoted field is kept; the EOL after it changes nothing).
        if (state === IN_FIELD ? c !== delimiter && c !== LF && c !== CR : state === IN_QUOTED_FIELD && c !== quotechar) {
          if (i === segEnd) segEnd++;
          else addChar(i);
        } else {
          step(c, i);
        }
      }
      endOfLine();
    }
    pos = eol < 0 ? n : eol + 1;
  }

  // End of input inside a record (only an unterminated quoted field can get here):
  // strict=False keeps what was read.
  if (fieldLen() !== 0 || state === IN_QUOTED_FIELD) {
    saveField();
    visit(fields, recordLine, line - 1, quoted);
  }
}

/** All records of `text`, as csv.reader yields them. */
export function readCsvRecords(text: string, dialect: CsvDialect = NSMC_DIALECT, where = '<text>'): CsvRecord[] {
  const out: CsvRecord[] = [];
  forEachCsvRecord(text, (fields, line, endLine, quoted) => out.push({ fields, line, endLine, quoted }), dialect, where);
  return out;
}

/** Length in code points (what Python's len() counts). */
export function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // a high surrogate followed by a low one is one code point
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}
