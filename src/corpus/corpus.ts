// Step 2 of the course: the NSMC corpus (Naver sentiment movie corpus), as Korpora
// downloads it and ratsnlp's NsmcCorpus reads it.
//   - Files: <downstreamCorpusRootDir>/nsmc/ratings_{train,test}.txt (Korpora's layout),
//     from GitHub (Korpora's addresses) or a mirror (URL or folder with nsmc/...).
//   - Cache first: a file whose sha256 is right is never downloaded again (unless
//     forceDownload), so runs after the first need no network at all.
//   - Reading: exactly Python's csv.reader(open(path, encoding="utf-8"), delimiter="\t",
//     quotechar='"') (see src/corpus/pycsv.ts), then every row is checked: 3 columns, label 0/1.
import * as fs from 'fs';
import { isUtf8, transcode } from 'buffer';
import * as path from 'path';
import { check, NlpbookError } from '../util/errors';
import { sha256 } from '../util/fsutil';
import { download, DownloadError, fileSha256, hasSha256, isHttpUrl } from '../util/download';
import { corpusMirror } from '../util/mirror';
import { codePoints, forEachCsvRecord, NSMC_DIALECT, universalNewlines } from './pycsv';
import type { Settings } from '../settings/index';

export type Split = 'train' | 'test';
export const SPLITS: readonly Split[] = ['train', 'test'];

export interface Example {
  id: string;
  text: string;
  label: 0 | 1;
}

export type EmptyDocuments = Settings['emptyDocuments'];

/** The official files (README of ../shared/data/nsmc): name, sha256, Korpora's address. */
export const NSMC_FILES: Readonly<Record<Split, { name: string; sha256: string; url: string; rows: number; positive: number }>> = {
  train: {
    name: 'ratings_train.txt',
    sha256: 'e03b7d14e9e41be8d464a28057cd25d7396c53e67aa7fd5f7e552c59b0ee2940',
    url: 'https://raw.githubusercontent.com/e9t/nsmc/master/ratings_train.txt',
    rows: 150_000,
    positive: 74_827,
  },
  test: {
    name: 'ratings_test.txt',
    sha256: '8ac9f64052f11dbf6ae0acb5e038f03d90a76f0eda7820cfb3a92d02edfcebda',
    url: 'https://raw.githubusercontent.com/e9t/nsmc/master/ratings_test.txt',
    rows: 50_000,
    positive: 25_173,
  },
};

/** The corpus folder name under the root, as in Korpora. */
export const NSMC_DIR_NAME = 'nsmc';
const HEADER = ['id', 'document', 'label'];

/** <root>/nsmc/ratings_<split>.txt */
export function nsmcPath(root: string, split: Split): string {
  return path.join(root, NSMC_DIR_NAME, NSMC_FILES[split].name);
}

// ---------------------------------------------------------------------------------------
// Download (cache first)

export type FetchSettings = Pick<Settings, 'downstreamCorpusRootDir' | 'forceDownload' | 'corpusMirror' | 'tqdmEnabled'>;

export interface FetchResult {
  split: Split;
  path: string;
  /** 'cached': a valid file was already there (no network); 'downloaded': fetched now. */
  action: 'cached' | 'downloaded';
  /** Where it came from (downloaded only). */
  source?: string;
  bytes: number;
  /**
   * A file that was in the way and differed from the official one (edited, a slice, another
   * version) is never deleted: it is kept here, beside it, before the download replaces it.
   */
  kept?: string;
}

export interface FetchOptions {
  /** Environment for the mirror variables (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Base address used when there is no mirror (default GitHub, Korpora's). */
  origin?: string;
}

const ORIGIN = 'https://raw.githubusercontent.com/e9t/nsmc/master';

const MIRROR_HOW_TO =
  'set a corpus mirror: the setting corpusMirror (CLI: --mirror), or env NLPBOOK_CORPUS_MIRROR=<URL or folder with nsmc/ratings_*.txt>, or NLPBOOK_MIRROR=<folder with data/nsmc/ratings_*.txt>';

/** Where the mirror setting came from, for error messages. */
function mirrorOrigin(setting: string | null, env: NodeJS.ProcessEnv): string {
  if (setting != null) return 'setting corpusMirror';
  if (env.NLPBOOK_CORPUS_MIRROR != null) return 'env NLPBOOK_CORPUS_MIRROR';
  return 'env NLPBOOK_MIRROR';
}

/** The address of one file: in the mirror (URL or folder, Korpora's layout) or at the origin. */
export function nsmcSource(split: Split, mirror: string | null, origin = ORIGIN): string {
  const name = NSMC_FILES[split].name;
  if (mirror == null) return origin === ORIGIN ? NSMC_FILES[split].url : `${origin.replace(/\/+$/, '')}/${name}`;
  if (isHttpUrl(mirror)) return `${mirror.replace(/\/+$/, '')}/${NSMC_DIR_NAME}/${name}`;
  if (/^file:\/\//i.test(mirror)) return `${mirror.replace(/\/+$/, '')}/${NSMC_DIR_NAME}/${name}`;
  return path.join(mirror, NSMC_DIR_NAME, name);
}

/**
 * Makes sure both NSMC files are in <root>/nsmc/ with the right sha256 (Korpora's
 * fetch, but verified). A valid file is kept without any network access unless
 * settings.forceDownload. Throws a one-line NlpbookError on failure, saying how to set
 * a mirror; a good file already in place is never damaged.
 */
export async function fetchNsmc(settings: FetchSettings, options: FetchOptions = {}): Promise<FetchResult[]> {
  const env = options.env ?? process.env;
  const mirror = corpusMirror(settings.corpusMirror, env);
  const results: FetchResult[] = [];
  for (const split of SPLITS) {
    const dest = nsmcPath(settings.downstreamCorpusRootDir, split);
    const expected = NSMC_FILES[split].sha256;
    if (!settings.forceDownload && hasSha256(dest, expected)) {
      results.push({ split, path: dest, action: 'cached', bytes: fs.statSync(dest).size });
      continue;
    }
    const source = nsmcSource(split, mirror, options.origin);
    // A file in the way that is not the official one is someone's work: keep it.
    const kept = fs.existsSync(dest) && !hasSha256(dest, expected) ? keepAside(dest) : undefined;
    try {
      const got = await download(source, dest, { sha256: expected, progress: settings.tqdmEnabled, label: `nsmc ${NSMC_FILES[split].name}` });
      results.push({ split, path: dest, action: 'downloaded', source: got.source, bytes: got.bytes, ...(kept ? { kept } : {}) });
    } catch (e) {
      // The file is still in place (a download only ever renames a verified file over it).
      if (kept) fs.rmSync(kept, { force: true });
      if (!(e instanceof DownloadError)) throw e;
      // Add what to do about it: which mirror was used and how to change it.
      const advice =
        mirror == null
          ? e.failure === 'sha256'
            ? 'the origin file changed? ' + MIRROR_HOW_TO
            : `offline? ${MIRROR_HOW_TO}`
          : `corpus mirror ${JSON.stringify(mirror)} from ${mirrorOrigin(settings.corpusMirror, env)}; fix or change it (${MIRROR_HOW_TO.replace('set a corpus mirror: ', '')})`;
      throw new NlpbookError(`${e.message}; ${advice}`);
    }
  }
  return results;
}

/**
 * A second name for `file`, "<file>.modified-YYYYMMDD-HHMMSS" (then -2, -3, ...), that keeps
 * its content when a download renames the official file over it: a hard link (no copy of
 * 14 MB), or a copy where links are not possible.
 */
function keepAside(file: string, now = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}-${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
  for (let n = 1; ; n++) {
    const kept = `${file}.modified-${stamp}${n > 1 ? `-${n}` : ''}`;
    if (fs.existsSync(kept)) continue;
    try {
      fs.linkSync(file, kept);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      fs.copyFileSync(file, kept, fs.constants.COPYFILE_EXCL);
    }
    return kept;
  }
}

// ---------------------------------------------------------------------------------------
// Reading

export interface ReadOptions {
  /** What to do with rows whose document is empty (default 'keep', as Python does). */
  emptyDocuments?: EmptyDocuments;
}

/** A parsed file and what was noticed while reading it. */
export interface NsmcFile {
  file: string;
  examples: Example[];
  /** The file line (1-based) each example starts on: examples[i] is at line lines[i]. */
  lines: Int32Array;
  /** File lines (1-based) of rows that held a quoted field. */
  quotedLines: number[];
  /** File lines of rows with an empty document (kept, skipped or refused per the option). */
  emptyLines: number[];
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The file's text as Python's open(path, encoding="utf-8") reads it (strict UTF-8, BOM kept: readNsmcFile drops it). */
function readUtf8(file: string): string {
  const buf = fs.readFileSync(file);
  if (isUtf8(buf)) {
    // Same string as buf.toString('utf8'), about 3x faster for Korean text (ICU's converter
    // versus V8's): decoding was most of the reading time. Plain decoding without ICU.
    try {
      return transcode(buf, 'utf8', 'utf16le').toString('utf16le');
    } catch {
      return buf.toString('utf8');
    }
  }
  // Name the first line that is not UTF-8 (Python would stop there with UnicodeDecodeError).
  let start = 0;
  for (let line = 1; ; line++) {
    let end = buf.indexOf(10, start);
    if (end < 0) end = buf.length;
    try {
      decoder.decode(buf.subarray(start, end));
    } catch {
      throw new NlpbookError(`${file}:${line}: not valid UTF-8 (the corpus must be UTF-8 text)`);
    }
    start = end + 1;
  }
}

/** Reads one NSMC file (ratings_*.txt) with Python's csv semantics and checks every row. */
export function readNsmcFile(file: string, options: ReadOptions = {}): NsmcFile {
  const emptyDocuments = options.emptyDocuments ?? 'keep';
  check(['keep', 'skip', 'error'].includes(emptyDocuments), `emptyDocuments must be 'keep', 'skip' or 'error', got ${JSON.stringify(emptyDocuments)}`);
  check(fs.existsSync(file), `${file}: not found (download it first: NsmcCorpus.fetch() or \`nlpbook corpus fetch\`)`);
  // A UTF-8 byte-order mark (Excel and Windows editors write one) is not part of the header.
  // Python's open(encoding="utf-8") would keep it in the first field ("\ufeffid"), which
  // ratsnlp never looks at (it skips line 1 unread), so ratsnlp reads such a file too; here
  // the header is checked, so the mark is dropped first. Lines and fields are otherwise the same.
  const raw = readUtf8(file);
  const text = raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
  const examples: Example[] = [];
  const lines: number[] = [];
  const quotedLines: number[] = [];
  const emptyLines: number[] = [];
  let first = true;
  forEachCsvRecord(
    text,
    (fields, line, _endLine, quoted) => {
      if (first) {
        first = false;
        check(
          fields.length === 3 && fields[0] === HEADER[0] && fields[1] === HEADER[1] && fields[2] === HEADER[2],
          () => `${file}:${line}: header must be "id\\tdocument\\tlabel", got ${JSON.stringify(fields.join('\t'))}`,
        );
        return;
      }
      if (fields.length !== 3) {
        throw new NlpbookError(`${file}:${line}: expected 3 tab-separated columns (id, document, label), got ${fields.length}`);
      }
      const [id, text, label] = fields;
      if (label !== '0' && label !== '1') {
        throw new NlpbookError(`${file}:${line}: label must be 0 or 1, got ${JSON.stringify(label)} (id ${id})`);
      }
      if (quoted) quotedLines.push(line);
      if (text === '') {
        emptyLines.push(line);
        if (emptyDocuments === 'error') {
          throw new NlpbookError(`${file}:${line}: empty document (id ${id}); set emptyDocuments to 'keep' or 'skip' to accept such rows`);
        }
        if (emptyDocuments === 'skip') return;
      }
      examples.push({ id, text, label: label === '1' ? 1 : 0 });
      lines.push(line);
    },
    NSMC_DIALECT,
    file,
  );
  check(!first, `${file}: empty file, expected the header "id\\tdocument\\tlabel"`);
  return { file, examples, lines: Int32Array.from(lines), quotedLines, emptyLines };
}

/** Lines `first`..`first + count - 1` (1-based) of a text file as they are in it, to show the raw format. */
export function rawLines(file: string, first: number, count = 1): string[] {
  check(fs.existsSync(file), `${file}: not found`);
  return universalNewlines(fs.readFileSync(file, 'utf8')).split('\n').slice(first - 1, first - 1 + count);
}

/** The examples of one NSMC file (see readNsmcFile). */
export function readNsmc(file: string, options: ReadOptions = {}): Example[] {
  return readNsmcFile(file, options).examples;
}

// ---------------------------------------------------------------------------------------
// Statistics

export interface CorpusStats {
  rows: number;
  positive: number;
  negative: number;
  /** positive / rows */
  positiveShare: number;
  /** Rows whose document is "" (0 when they were skipped). */
  empty: number;
  /** Rows that held a quoted field (when known from the file). */
  quoted?: number;
  /** Document length in characters (code points, like Python's len()). */
  meanChars: number;
  p50Chars: number;
  p95Chars: number;
  maxChars: number;
}

/** Counts and document-length figures of `examples`. */
export function corpusStats(examples: readonly Example[], extra: { quoted?: number } = {}): CorpusStats {
  const lengths = documentLengths(examples);
  let positive = 0;
  let empty = 0;
  let sum = 0;
  for (let i = 0; i < examples.length; i++) {
    if (examples[i].label === 1) positive++;
    if (lengths[i] === 0) empty++;
    sum += lengths[i];
  }
  const sorted = Float64Array.from(lengths).sort();
  const rows = examples.length;
  return {
    rows,
    positive,
    negative: rows - positive,
    positiveShare: rows ? round(positive / rows, 4) : 0,
    empty,
    ...(extra.quoted !== undefined ? { quoted: extra.quoted } : {}),
    meanChars: rows ? round(sum / rows, 2) : 0,
    p50Chars: percentile(sorted, 0.5),
    p95Chars: percentile(sorted, 0.95),
    maxChars: rows ? sorted[rows - 1] : 0,
  };
}

/** Each document's length in characters (code points). */
export function documentLengths(examples: readonly Example[]): number[] {
  return examples.map((e) => codePoints(e.text));
}

/** Nearest-rank percentile of ascending `sorted` (0 when empty). */
function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

// ---------------------------------------------------------------------------------------
// The corpus object the later steps use

export type CorpusSettings = Pick<Settings, 'downstreamCorpusRootDir' | 'forceDownload' | 'corpusMirror' | 'emptyDocuments' | 'tqdmEnabled'>;

/** Bump when parsing changes in a way that changes examples(): old feature caches are then rebuilt. */
const READER_VERSION = 'nsmc-pycsv-1';

/** NSMC as ratsnlp's NsmcCorpus gives it, plus Korpora's download. */
export class NsmcCorpus {
  private readonly settings: CorpusSettings;
  private readonly parsed = new Map<Split, NsmcFile>();

  constructor(settings: CorpusSettings) {
    this.settings = { ...settings };
  }

  /** Downloads what is missing or invalid (cache first; see fetchNsmc). */
  async fetch(options: FetchOptions = {}): Promise<FetchResult[]> {
    const results = await fetchNsmc(this.settings, options);
    // A re-downloaded file may differ from what was parsed before.
    for (const r of results) if (r.action === 'downloaded') this.parsed.delete(r.split);
    return results;
  }

  /** <root>/nsmc/ratings_<split>.txt */
  path(split: Split): string {
    checkSplit(split);
    return nsmcPath(this.settings.downstreamCorpusRootDir, split);
  }

  /** The split's examples in file order (parsed once, then memoized). */
  examples(split: Split): Example[] {
    return this.file(split).examples;
  }

  /** The parsed file with what was noticed (quoted and empty rows). */
  file(split: Split): NsmcFile {
    let parsed = this.parsed.get(split);
    if (!parsed) {
      const file = this.path(split);
      check(fs.existsSync(file), `${file}: not found; download it first: await corpus.fetch() in a notebook, or \`nlpbook corpus fetch --root ${this.settings.downstreamCorpusRootDir}\``);
      parsed = readNsmcFile(file, { emptyDocuments: this.settings.emptyDocuments });
      this.parsed.set(split, parsed);
    }
    return parsed;
  }

  /** corpusStats of the split, with the number of quoted rows. */
  stats(split: Split): CorpusStats {
    const f = this.file(split);
    return corpusStats(f.examples, { quoted: f.quotedLines.length });
  }

  /**
   * A stable id of what examples(split) returns: the file's sha256, the empty-document
   * option and the reader version. Feature caches use it as part of their key.
   */
  fingerprint(split: Split): string {
    const file = this.path(split);
    check(fs.existsSync(file), `${file}: not found; download it first: await corpus.fetch() or \`nlpbook corpus fetch\``);
    return sha256(JSON.stringify({ reader: READER_VERSION, file: fileSha256(file), emptyDocuments: this.settings.emptyDocuments }));
  }
}

/**
 * The NSMC corpus of the settings, its files used as they are (so a slice made for a
 * quick run works too); downloaded (cache-first, verified) only when the training file
 * is missing or settings.forceDownload.
 */
export async function ensureCorpus(
  settings: Pick<Settings, 'downstreamCorpusRootDir' | 'forceDownload' | 'corpusMirror' | 'tqdmEnabled' | 'emptyDocuments'>,
): Promise<NsmcCorpus> {
  const corpus = new NsmcCorpus(settings);
  if (settings.forceDownload || !fs.existsSync(corpus.path('train'))) await corpus.fetch();
  return corpus;
}

function checkSplit(split: string): asserts split is Split {
  check(split === 'train' || split === 'test', `split must be "train" or "test", got ${JSON.stringify(split)}`);
}
