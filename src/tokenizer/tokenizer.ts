// Step 4 of the course: the tokenizer. kcbert was pretrained on WordPiece pieces of its own
// vocab.txt, so fine-tuning must cut sentences exactly the same way: the ids here equal those of
// Python's slow `BertTokenizer(vocab_file, do_lower_case=False)` that the book (ratsnlp) uses.
//
// The tokenization itself is done by @huggingface/tokenizers (the JS port of HF tokenizers),
// driven by a tokenizer.json definition. kcbert publishes only vocab.txt + tokenizer_config.json,
// so the definition is built here the way Python's BertTokenizerFast builds it, plus one NFC step
// that the slow tokenizer does and the fast one does not (decomposed Hangul jamo).
import * as fs from 'fs';
import * as path from 'path';
import { NlpbookError, check } from '../util/errors';
import { sha256, writeFileAtomic } from '../util/fsutil';
import { fetchModel } from '../model/index';

// The CJS build: `require` keeps this working under CommonJS, tsx and tslab alike.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const hf: typeof import('@huggingface/tokenizers') = require('@huggingface/tokenizers');
type HfTokenizer = InstanceType<typeof hf.Tokenizer>;

/** One encoded sentence: [CLS] pieces… [SEP], no padding. */
export interface Encoding {
  tokens: string[];
  inputIds: number[];
  attentionMask: number[];
  tokenTypeIds: number[];
}

export interface EncodeOptions {
  /** Longest result in tokens, [CLS] and [SEP] included (like Python's truncation=True, max_length=N). */
  maxLength?: number;
}

/** The tokenizer_config.json fields a BERT WordPiece tokenizer uses (Python's defaults when absent). */
export interface BertTokenizerConfig {
  doLowerCase: boolean;
  stripAccents: boolean | null;
  tokenizeChineseChars: boolean;
  modelMaxLength: number;
  unkToken: string;
  sepToken: string;
  padToken: string;
  clsToken: string;
  maskToken: string;
}

/** Files a tokenizer folder may hold; vocab.txt or tokenizer.json is needed. */
export const TOKENIZER_FILES = ['vocab.txt', 'tokenizer_config.json', 'tokenizer.json'];

const REQUIRED_SPECIALS = ['padToken', 'unkToken', 'clsToken', 'sepToken'] as const;

export class BertTokenizer {
  /** The folder or hub id it came from. */
  readonly name: string;
  /** Entries in the WordPiece vocabulary (30,000 for kcbert). */
  readonly vocabSize: number;
  readonly padTokenId: number;
  readonly unkTokenId: number;
  readonly clsTokenId: number;
  readonly sepTokenId: number;
  /** null when the vocabulary has no mask token (it is only needed for pretraining). */
  readonly maskTokenId: number | null;
  /** The longest input the model was pretrained on (tokenizer_config.json's model_max_length; 300 for kcbert). */
  readonly modelMaxLength: number;
  readonly config: Readonly<BertTokenizerConfig>;

  private readonly hf: HfTokenizer;
  private readonly definition: string;
  private readonly tokenIds: Map<string, number>;
  private readonly clsToken: string;
  private readonly sepToken: string;

  private constructor(name: string, definition: string, config: BertTokenizerConfig, where: string) {
    this.name = name;
    this.definition = definition;
    this.config = Object.freeze({ ...config });
    this.modelMaxLength = config.modelMaxLength;
    const json = parseJson(definition, where);
    check(json?.model?.type === 'WordPiece', `${where}: expected a WordPiece model (BERT), got ${json?.model?.type}`);
    this.hf = new hf.Tokenizer(json, { clean_up_tokenization_spaces: true });
    const model = this.hf.model as NonNullable<HfTokenizer['model']>;
    this.tokenIds = model.tokens_to_ids;
    this.vocabSize = Object.keys(json.model.vocab).length;
    const id = (token: string): number | undefined => this.tokenIds.get(token);
    const missing = REQUIRED_SPECIALS.filter((k) => id(config[k]) === undefined).map((k) => config[k]);
    check(missing.length === 0, `${where}: vocabulary lacks ${missing.join(', ')} (a BERT vocabulary needs [PAD], [UNK], [CLS], [SEP])`);
    this.padTokenId = id(config.padToken) as number;
    this.unkTokenId = id(config.unkToken) as number;
    this.clsTokenId = id(config.clsToken) as number;
    this.sepTokenId = id(config.sepToken) as number;
    this.maskTokenId = id(config.maskToken) ?? null;
    this.clsToken = config.clsToken;
    this.sepToken = config.sepToken;
    // encode() adds [CLS]/[SEP] itself (cheaper, and truncation must keep [SEP]); make sure
    // that is what this definition's post-processor would do.
    const probe = this.hf.encode('x').tokens;
    const pieces = this.hf.tokenize('x');
    check(
      JSON.stringify(probe) === JSON.stringify([this.clsToken, ...pieces, this.sepToken]),
      `${where}: post_processor must give ${this.clsToken} … ${this.sepToken}, got ${JSON.stringify(probe)}`,
    );
    fixLibraryDifferences(this.hf, json);
  }

  /**
   * Loads a tokenizer by hub id or folder, like `BertTokenizer.from_pretrained`: a local folder,
   * the model mirror, Python's Hugging Face cache, or a download from the hub into that cache (see model/hub.ts).
   */
  static async fromPretrained(nameOrDir: string, options: { modelMirror?: string | null } = {}): Promise<BertTokenizer> {
    // tokenizer_config.json is optional, as in transformers: readTokenizerConfig has the BERT defaults.
    const dir = await fetchModel(nameOrDir, {
      modelMirror: options.modelMirror,
      files: ['vocab.txt'],
      optionalFiles: ['tokenizer_config.json', 'tokenizer.json', 'special_tokens_map.json'],
    });
    return BertTokenizer.fromFolder(dir, nameOrDir);
  }

  /** Loads from a folder with tokenizer.json, or vocab.txt (+ tokenizer_config.json). */
  static fromFolder(dir: string, name: string = dir): BertTokenizer {
    check(isDir(dir), `model folder not found: ${dir}`);
    const config = readTokenizerConfig(dir);
    const jsonFile = path.join(dir, 'tokenizer.json');
    if (fs.existsSync(jsonFile)) {
      return new BertTokenizer(name, fs.readFileSync(jsonFile, 'utf8'), config, jsonFile);
    }
    const vocabFile = path.join(dir, 'vocab.txt');
    check(fs.existsSync(vocabFile), `${dir}: no vocab.txt (nor tokenizer.json): not a BERT tokenizer folder`);
    const definition = tokenizerJsonText(readVocab(vocabFile), config);
    return new BertTokenizer(name, definition, config, vocabFile);
  }

  /** [CLS] pieces… [SEP]; with maxLength, the pieces are cut so that the result fits, [SEP] kept. */
  encode(text: string, options: EncodeOptions = {}): Encoding {
    check(typeof text === 'string', `encode: expected a string, got ${typeof text}`);
    const keep = piecesToKeep(options.maxLength);
    const pieces = this.hf.tokenize(text);
    if (pieces.length > keep) pieces.length = keep;
    const n = pieces.length + 2;
    const tokens = new Array<string>(n);
    const inputIds = new Array<number>(n);
    tokens[0] = this.clsToken;
    inputIds[0] = this.clsTokenId;
    for (let i = 0; i < pieces.length; i++) {
      tokens[i + 1] = pieces[i];
      inputIds[i + 1] = this.tokenIds.get(pieces[i]) ?? this.unkTokenId;
    }
    tokens[n - 1] = this.sepToken;
    inputIds[n - 1] = this.sepTokenId;
    return { tokens, inputIds, attentionMask: new Array<number>(n).fill(1), tokenTypeIds: new Array<number>(n).fill(0) };
  }

  encodeBatch(texts: string[], options: EncodeOptions = {}): Encoding[] {
    piecesToKeep(options.maxLength); // fail before the work, not after
    return texts.map((t) => this.encode(t, options));
  }

  /** WordPiece pieces without [CLS]/[SEP] ("##" marks a piece that continues a word). */
  tokenize(text: string): string[] {
    check(typeof text === 'string', `tokenize: expected a string, got ${typeof text}`);
    return this.hf.tokenize(text);
  }

  /** Ids back to text (pieces joined, "##" glued), like Python's tokenizer.decode. */
  decode(ids: number[], options: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return '';
    return this.hf.decode(ids, { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /** The piece for an id (undefined when out of range). */
  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  /** The id of a piece (undefined when it is not in the vocabulary). */
  tokenToId(token: string): number | undefined {
    return this.tokenIds.get(token);
  }

  /** The tokenizer.json text this tokenizer runs (built from vocab.txt when the folder has none). */
  tokenizerJson(): string {
    return this.definition;
  }

  /** sha256 of the tokenizer definition (the tokenizer.json content): a key for tokenized caches. */
  fingerprint(): string {
    return sha256(this.definition);
  }
}

/**
 * Writes <dir>/tokenizer.json built from <dir>/vocab.txt and tokenizer_config.json (atomically),
 * so the folder loads the same in Python's fast tokenizer. Returns the file path.
 */
export function writeTokenizerJson(dir: string): string {
  check(isDir(dir), `model folder not found: ${dir}`);
  const vocabFile = path.join(dir, 'vocab.txt');
  check(fs.existsSync(vocabFile), `${dir}: no vocab.txt to build tokenizer.json from`);
  const text = tokenizerJsonText(readVocab(vocabFile), readTokenizerConfig(dir));
  const file = path.join(dir, 'tokenizer.json');
  writeFileAtomic(file, text);
  return file;
}

/** The vocabulary: one token per line, id = line number (like transformers' load_vocab). */
export function readVocab(file: string): string[] {
  // Python reads it in text mode, where \r\n and \r end lines too.
  const lines = fs.readFileSync(file, 'utf8').split(/\r\n|\r|\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  check(lines.length > 0, `${file}: empty vocabulary (expected one WordPiece token per line)`);
  return lines;
}

/** tokenizer_config.json's fields, with Python BertTokenizer's defaults for absent ones. */
export function readTokenizerConfig(dir: string): BertTokenizerConfig {
  const file = path.join(dir, 'tokenizer_config.json');
  const raw: Record<string, unknown> = fs.existsSync(file) ? parseJson(fs.readFileSync(file, 'utf8'), file) : {};
  check(raw !== null && typeof raw === 'object' && !Array.isArray(raw), `${file}: expected a JSON object`);
  const bool = (key: string, fallback: boolean): boolean => {
    const v = raw[key] ?? fallback;
    // Explicit throws rather than check(): tslab's compiler does not narrow through assertion functions.
    if (typeof v !== 'boolean') throw new NlpbookError(`${file}: "${key}" must be true or false, got ${JSON.stringify(v)}`);
    return v;
  };
  const token = (key: string, fallback: string): string => {
    const v = raw[key] ?? fallback;
    // Saved configs write special tokens either as "[UNK]" or as {"content": "[UNK]", ...}.
    const content = typeof v === 'object' && v !== null ? (v as { content?: unknown }).content : v;
    if (typeof content !== 'string' || content === '') throw new NlpbookError(`${file}: "${key}" must be a token string, got ${JSON.stringify(v)}`);
    return content;
  };
  let strip: boolean | null = null;
  if (typeof raw.strip_accents === 'boolean') strip = raw.strip_accents;
  else if (raw.strip_accents !== undefined && raw.strip_accents !== null) {
    throw new NlpbookError(`${file}: "strip_accents" must be true, false or null, got ${JSON.stringify(raw.strip_accents)}`);
  }
  const configured = raw.model_max_length ?? modelPositions(dir) ?? 512;
  if (typeof configured !== 'number' || !(configured > 2)) {
    throw new NlpbookError(`${file}: "model_max_length" must be a number above 2, got ${JSON.stringify(configured)}`);
  }
  // Python writes 1e30 ("no limit") when the model did not say; the position table is the real limit.
  const maxLength = configured > 1e6 ? modelPositions(dir) ?? 512 : configured;
  return {
    doLowerCase: bool('do_lower_case', true),
    stripAccents: strip,
    tokenizeChineseChars: bool('tokenize_chinese_chars', true),
    modelMaxLength: Math.floor(maxLength),
    unkToken: token('unk_token', '[UNK]'),
    sepToken: token('sep_token', '[SEP]'),
    padToken: token('pad_token', '[PAD]'),
    clsToken: token('cls_token', '[CLS]'),
    maskToken: token('mask_token', '[MASK]'),
  };
}

/**
 * The tokenizer.json Python's BertTokenizerFast builds from vocab.txt, except the normalizer:
 * the slow tokenizer NFC-composes after cleaning (so decomposed Hangul jamo become syllables)
 * and the fast one does not, so NFC follows BertNormalizer in a Sequence. With
 * do_lower_case=true, lowercasing and accent stripping come after NFC, as in the slow one.
 */
export function buildTokenizerJson(vocab: string[], config: BertTokenizerConfig): Record<string, any> {
  const ids: Record<string, number> = Object.create(null); // "__proto__" is a token like any other
  vocab.forEach((token, i) => (ids[token] = i)); // a repeated token keeps its last line, as in Python
  const specials = [config.padToken, config.unkToken, config.clsToken, config.sepToken, config.maskToken];
  const added = [...new Set(specials)]
    .filter((t) => ids[t] !== undefined)
    .sort((a, b) => ids[a] - ids[b])
    .map((content) => ({ id: ids[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  const bert = {
    type: 'BertNormalizer',
    clean_text: true,
    handle_chinese_chars: config.tokenizeChineseChars,
    strip_accents: config.doLowerCase ? false : config.stripAccents,
    lowercase: false,
  };
  const normalizers: object[] = [bert, { type: 'NFC' }];
  if (config.doLowerCase) {
    normalizers.push({ type: 'BertNormalizer', clean_text: false, handle_chinese_chars: false, strip_accents: config.stripAccents, lowercase: true });
  }
  const special = (t: string) => ({ id: t, ids: ids[t] === undefined ? [] : [ids[t]], tokens: [t] });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'Sequence', normalizers },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: config.clsToken, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: config.sepToken, type_id: 0 } }],
      pair: [
        { SpecialToken: { id: config.clsToken, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: config.sepToken, type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: config.sepToken, type_id: 1 } },
      ],
      special_tokens: { [config.clsToken]: special(config.clsToken), [config.sepToken]: special(config.sepToken) },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: config.unkToken, continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: ids },
  };
}

/**
 * buildTokenizerJson as file text, vocab in id order like the Rust library writes it
 * (JSON.stringify would move number-like tokens such as "1" to the front).
 */
export function tokenizerJsonText(vocab: string[], config: BertTokenizerConfig): string {
  const json = buildTokenizerJson(vocab, config);
  const ids = json.model.vocab as Record<string, number>;
  const order = Object.keys(ids).sort((a, b) => ids[a] - ids[b]);
  const entries = order.map((t) => `      ${JSON.stringify(t)}: ${ids[t]}`).join(',\n');
  const text = JSON.stringify({ ...json, model: { ...json.model, vocab: '@VOCAB@' } }, null, 2);
  return `${text.replace('"@VOCAB@"', `{\n${entries}\n    }`)}\n`;
}

/** Token counts of `texts` ([CLS] and [SEP] included, nothing cut): how long the sentences really are. */
export function tokenLengths(tokenizer: BertTokenizer, texts: readonly string[]): number[] {
  return texts.map((t) => tokenizer.tokenize(t).length + 2);
}

export interface TokenLengthSummary {
  count: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** How many are longer than maxLength, i.e. would be cut by truncation. */
  longer: number;
  longerShare: number;
}

/** Mean, nearest-rank percentiles and the share longer than `maxLength`. */
export function summarizeLengths(lengths: readonly number[], maxLength: number): TokenLengthSummary {
  const sorted = Float64Array.from(lengths).sort();
  const n = sorted.length;
  const rank = (q: number) => (n === 0 ? 0 : sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]);
  const longer = lengths.filter((x) => x > maxLength).length;
  const mean = n === 0 ? 0 : sorted.reduce((a, b) => a + b, 0) / n;
  return { count: n, mean: Math.round(mean * 100) / 100, p50: rank(0.5), p95: rank(0.95), p99: rank(0.99), max: n ? sorted[n - 1] : 0, longer, longerShare: n ? longer / n : 0 };
}

// ---------------------------------------------------------------------------------------------
// Where @huggingface/tokenizers 0.2.0 differs from Python's slow BertTokenizer, fixed on this
// tokenizer's own instances (never on the shared library). Each is pinned by a fixture case.

/** Python's _is_chinese_char ranges (CJK ideographs, including those beyond U+FFFF). */
const CJK = /[\u4E00-\u9FFF\u3400-\u4DBF\uF900-\uFAFF\u{20000}-\u{2A6DF}\u{2A700}-\u{2B73F}\u{2B740}-\u{2B81F}\u{2B820}-\u{2CEAF}\u{2F800}-\u{2FA1F}]/gu;
/** Removed by clean_text: every "C*" category (Cn unassigned included) except \t \n \r, and U+FFFD. */
const REMOVED = /(?![\t\n\r])[\p{C}\uFFFD]/gu;
/** Turned into a space by clean_text: \t \n \r and Zs. */
const SPACES = /[\t\n\r\p{Zs}]/gu;

function fixLibraryDifferences(tokenizer: HfTokenizer, json: any): void {
  // 1) BertNormalizer: the library steps through UTF-16 units, so CJK ideographs beyond U+FFFF
  //    (e.g. U+20000) get no spaces, and it keeps unassigned code points (Cn) that Python drops.
  //    Both steps are replaced by whole-string versions of Python's rules (also faster).
  const fixNormalizer = (n: any): void => {
    if (!n) return;
    if (n instanceof hf.SequenceNormalizer) n.normalizers.forEach(fixNormalizer);
    if (n instanceof hf.BertNormalizer) {
      const bert: any = n; // the two steps are private in the library's types
      bert.clean_text = (text: string) => text.replace(REMOVED, '').replace(SPACES, ' ');
      bert.tokenize_chinese_chars = (text: string) => text.replace(CJK, ' $& ');
    }
  };
  fixNormalizer(tokenizer.normalizer);

  // 2) BertPreTokenizer: Python never splits a whitespace-separated word that IS a special token
  //    after cleaning (e.g. "[MA\u200bSK]" → "[MASK]"), and WordPiece then finds it whole.
  //    Raw "[MASK]" text is already matched by the added-token splitter before this point.
  const pre: any = tokenizer.pre_tokenizer;
  if (pre instanceof hf.BertPreTokenizer) {
    const list: string[] = (json.added_tokens ?? []).filter((t: any) => t.special).map((t: any) => t.content);
    const specials = new Set(list);
    const split = pre.pre_tokenize_text.bind(pre);
    pre.pre_tokenize_text = (text: string, options: unknown): string[] => {
      if (!list.some((s) => text.includes(s))) return split(text, options);
      const out: string[] = [];
      for (const word of text.split(/\s+/u)) {
        if (!word) continue;
        if (specials.has(word)) out.push(word);
        else out.push(...split(word, options));
      }
      return out;
    };
  }

  // 3) Speed: the added-token splitter walks every character of every text; a text that holds
  //    none of the added tokens' first characters (for BERT: no "[") cannot contain one.
  const lib: any = tokenizer;
  const added: any[] = json.added_tokens ?? [];
  const firstChars = [...new Set(added.map((t) => String(t.content)[0]).filter(Boolean))];
  const splitRaw = lib.splitter_unnormalized;
  lib.splitter_unnormalized = {
    split: (text: string): string[] => (firstChars.some((c) => text.includes(c)) ? splitRaw.split(text) : [text]),
  };
  if (added.every((t) => t.normalized === false || (t.normalized === undefined && t.special))) {
    lib.splitter_normalized = { split: (text: string): string[] => [text] }; // no normalized added tokens to find
  }

  // 4) Speed: the same words come back again and again in a corpus, so the WordPiece model's
  //    answer per word is remembered (the library itself still does every split).
  const model: any = tokenizer.model;
  const encode = model.encode.bind(model);
  const cache = new Map<string, string[]>();
  model.encode = (words: string[]): string[] => {
    const out: string[] = [];
    for (const word of words) {
      let pieces = cache.get(word);
      if (pieces === undefined) {
        pieces = encode([word]) as string[];
        if (cache.size >= 500_000) cache.clear();
        cache.set(word, pieces);
      }
      for (const p of pieces) out.push(p);
    }
    return out;
  };
}

// ---------------------------------------------------------------------------------------------

function piecesToKeep(maxLength: number | undefined): number {
  if (maxLength === undefined) return Infinity;
  check(Number.isInteger(maxLength) && maxLength >= 2, `maxLength must be an integer of at least 2 ([CLS] and [SEP]), got ${maxLength}`);
  return maxLength - 2;
}

function parseJson(text: string, file: string): any {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new NlpbookError(`${file}: invalid JSON (${(e as Error).message})`);
  }
}

/** config.json's max_position_embeddings, when the folder has one. */
function modelPositions(dir: string): number | undefined {
  const file = path.join(dir, 'config.json');
  if (!fs.existsSync(file)) return undefined;
  const v = parseJson(fs.readFileSync(file, 'utf8'), file)?.max_position_embeddings;
  return typeof v === 'number' ? v : undefined;
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
