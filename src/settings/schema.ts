// The settings schema: each field is declared once (type, default, range, help text,
// docs group, ratsnlp name) and everything else comes from that declaration: the
// TypeScript type (ValuesOf), the defaults, validation with one-line errors and typo
// suggestions, `--set key=value` parsing, saving and loading, the rows of
// `nlpbook settings` and the tables of docs/settings.md. The fine-tuning settings
// (settings.ts) and the pretraining settings (src/pretrain/pretrain-settings.ts) are two
// schemas built this way; they share the fields of shared-fields.ts.
//
//   const FIELDS = {
//     batchSize: field.integer({ default: 32, min: 1, max: 4096, group: 'training', doc: 'Sentences per optimizer step.' }),
//     emptyDocuments: field.oneOf(['keep', 'skip', 'error'], { default: 'keep', group: 'corpus', doc: '...' }),
//   };
//   type MySettings = ValuesOf<typeof FIELDS>;   // { batchSize: number; emptyDocuments: 'keep' | 'skip' | 'error' }
//   const SCHEMA = defineSchema(FIELDS, { source: 'settings', groups: { training: 'Training', corpus: 'Corpus' }, ... });
//   SCHEMA.make({ batchSize: 16 }); SCHEMA.parseSet(['batchSize=16']); SCHEMA.load('settings.json');
import * as fs from 'fs';
import { distance } from 'fastest-levenshtein';
import { NlpbookError } from '../util/errors';
import { writeJsonAtomic } from '../util/fsutil';

// ---------------------------------------------------------------------------
// Declaring fields.

export type SettingType = 'string' | 'nullable string' | 'string list' | 'integer' | 'number' | 'boolean' | 'enum';

/**
 * What a value of one field must be. Every schema validates and words its one-line
 * errors from these rules, so all settings objects of the course read alike.
 */
export interface FieldRule {
  type: SettingType;
  /** What the field means (one sentence). */
  doc: string;
  /** Allowed values of an enum. */
  values?: readonly string[];
  /** Number range; the ends are included unless the *Exclusive flag says otherwise. */
  min?: number;
  max?: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
  /** Strings (and list items) that must not be empty. */
  nonEmpty?: boolean;
  /** A field kept for parity with ratsnlp that can only have this one value here, and why. */
  only?: { value: boolean | number; reason: string };
}

/** One field as declared: its rule, its default (of type V) and what the docs say about it. */
export interface FieldSpec<V = unknown, G extends string = string> extends FieldRule {
  default: V;
  /** Section of the docs and notebook tables. */
  group: G;
  /** The same field's name in ratsnlp's ClassificationTrainArguments; null for what the course adds. */
  ratsnlp: string | null;
  /** Why changing this field has no effect here (it is still validated and saved). */
  noEffect?: string;
  /** Shown in the docs instead of the default value where the default depends on the machine. */
  defaultNote?: string;
  /** May differ between a run and its resume (where things are, how progress shows); every other field changes the numbers. */
  resumeFree?: boolean;
}

/** A schema's fields, by name, in the order of the saved JSON. */
export type FieldSpecs = { readonly [name: string]: FieldSpec<unknown, string> };

/** The settings object a schema's fields describe: `{ batchSize: number; ... }`. */
export type ValuesOf<F extends FieldSpecs> = { -readonly [K in keyof F]: F[K] extends FieldSpec<infer V, string> ? V : never };

/** The docs groups a schema's fields use. */
export type GroupOf<F extends FieldSpecs> = F[keyof F]['group'];

/** What every declaration says besides its type and default. */
interface Described<G extends string> {
  doc: string;
  group: G;
  ratsnlp?: string | null;
  noEffect?: string;
  defaultNote?: string;
  resumeFree?: boolean;
}
interface Range {
  min?: number;
  max?: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
}

function declare<V, G extends string>(type: SettingType, spec: Described<G> & Omit<Partial<FieldRule>, 'type'> & { default: V }): FieldSpec<V, G> {
  return { type, ratsnlp: null, ...spec };
}

/** The field declarations; the value type of each follows from the call (`field.boolean` gives boolean). */
export const field = {
  string: <G extends string>(spec: Described<G> & { default: string; nonEmpty?: boolean }) => declare<string, G>('string', spec),
  /** A string or null (null: "not set", e.g. look in the environment). `--set x=null` gives null. */
  nullableString: <G extends string>(spec: Described<G> & { default: string | null }) => declare<string | null, G>('nullable string', spec),
  /** A list of strings; `--set x=a,b` gives ["a", "b"], `--set x=` the empty list. */
  stringList: <G extends string>(spec: Described<G> & { default: readonly string[]; nonEmpty?: boolean }) =>
    declare<string[], G>('string list', { ...spec, default: [...spec.default] }),
  integer: <G extends string>(spec: Described<G> & Range & { default: number; only?: { value: number; reason: string } }) => declare<number, G>('integer', spec),
  number: <G extends string>(spec: Described<G> & Range & { default: number }) => declare<number, G>('number', spec),
  boolean: <G extends string>(spec: Described<G> & { default: boolean; only?: { value: boolean; reason: string } }) => declare<boolean, G>('boolean', spec),
  /**
   * One of `values`. The value type is their union; pass `values as string[]` to keep it
   * `string` where code or notebooks pass other strings and let validation refuse them.
   */
  oneOf: <V extends string, G extends string>(values: readonly V[], spec: Described<G> & { default: V }) =>
    declare<V, G>('enum', { ...spec, values }),
};

/**
 * Shared fields with this schema's own defaults (or wording): the same rules, declared
 * once, e.g. `withDefaults(OPTIMIZER_FIELDS, { learningRate: { default: 1e-3 } })`.
 */
export function withDefaults<F extends FieldSpecs>(
  fields: F, changes: { [K in keyof F]?: Partial<Pick<F[K], 'default' | 'doc'>> },
): F {
  const out: Record<string, FieldSpec> = {};
  for (const [name, spec] of Object.entries(fields)) out[name] = { ...spec, ...changes[name] };
  return out as F;
}

// ---------------------------------------------------------------------------
// Checking one value against its rule.

/** What each type accepts, how it words that, and how a `--set` text becomes a value of it. */
interface Kind {
  words(f: Readonly<FieldRule>): string;
  accepts(f: Readonly<FieldRule>, value: unknown): boolean;
  /** What does not convert stays text, so validation names it. */
  fromText(text: string): unknown;
}

const asText = (text: string): unknown => text;
const isText = (f: Readonly<FieldRule>, value: unknown) => typeof value === 'string' && (!f.nonEmpty || value.trim() !== '');

function numeric(noun: string, integer: boolean): Kind {
  return {
    words(f) {
      const { min, max, minExclusive, maxExclusive } = f;
      if (min !== undefined && max !== undefined) {
        if (!minExclusive && !maxExclusive) return `${noun} from ${min} to ${max}`;
        if (minExclusive && maxExclusive) return `${noun} between ${min} and ${max}, both excluded`;
      }
      const parts: string[] = [];
      if (min !== undefined) parts.push(`${minExclusive ? '>' : '>='} ${min}`);
      if (max !== undefined) parts.push(`${maxExclusive ? '<' : '<='} ${max}`);
      return parts.length ? `${noun} ${parts.join(' and ')}` : noun;
    },
    accepts(f, value) {
      if (typeof value !== 'number' || !Number.isFinite(value)) return false;
      if (integer && !Number.isSafeInteger(value)) return false;
      if (f.min !== undefined && (f.minExclusive ? value <= f.min : value < f.min)) return false;
      return f.max === undefined || (f.maxExclusive ? value < f.max : value <= f.max);
    },
    fromText(text) {
      const n = Number(text);
      return text.trim() !== '' && !Number.isNaN(n) ? n : text;
    },
  };
}

const KINDS: { readonly [T in SettingType]: Kind } = {
  string: { words: (f) => (f.nonEmpty ? 'a non-empty string' : 'a string'), accepts: isText, fromText: asText },
  'nullable string': {
    words: () => 'a string or null',
    accepts: (_f, value) => value === null || typeof value === 'string',
    fromText: (text) => (text === 'null' ? null : text),
  },
  'string list': {
    words: (f) => (f.nonEmpty ? 'a list of non-empty strings' : 'a list of strings'),
    accepts: (f, value) => Array.isArray(value) && value.every((v) => isText(f, v)),
    // Comma-separated; an empty value is the empty list.
    fromText: (text) => (text.trim() === '' ? [] : text.split(',').map((t) => t.trim())),
  },
  integer: numeric('an integer', true),
  number: numeric('a number', false),
  boolean: {
    words: () => 'true or false',
    accepts: (_f, value) => typeof value === 'boolean',
    fromText: (text) => (text === 'true' ? true : text === 'false' ? false : text),
  },
  enum: {
    words: (f) => `one of ${f.values!.map((v) => JSON.stringify(v)).join(', ')}`,
    accepts: (f, value) => typeof value === 'string' && f.values!.includes(value),
    fromText: asText,
  },
};

/** What a field with this rule accepts, in words, e.g. "an integer from 1 to 4096". */
export function ruleAccepts(f: Readonly<FieldRule>): string {
  return f.only ? String(f.only.value) : KINDS[f.type].words(f);
}

function ruleHolds(f: Readonly<FieldRule>, value: unknown): boolean {
  return f.only ? value === f.only.value : KINDS[f.type].accepts(f, value);
}

/** A value as it would be typed, short and on one line, for "(got ...)". */
function shown(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return String(value);
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Throws the one-line error for a bad value of a known field. */
function checkRule(f: Readonly<FieldRule>, name: string, value: unknown, source: string): void {
  if (ruleHolds(f, value)) return;
  const why = f.only ? `: ${f.only.reason}` : '';
  throw new NlpbookError(`${source}: field "${name}" must be ${ruleAccepts(f)} (got ${shown(value)})${why}`);
}

// ---------------------------------------------------------------------------
// Unknown fields: suggest the closest one, so a typo in a config file or a
// snake_case name copied from the book's Python code is a one-line fix.

/** Lower case without separators: learning_rate, learning-rate, LearningRate -> learningrate. */
function squash(name: string): string {
  return name.replace(/[\s_-]/g, '').toLowerCase();
}

/** Of `fields`, the one a mistyped `name` most likely meant, or undefined when none is close. */
export function closestField<K extends string>(name: string, fields: readonly K[]): K | undefined {
  const key = squash(name);
  if (!key) return undefined;
  let best: K | undefined;
  let bestDistance = Infinity;
  for (const f of fields) {
    const d = distance(key, f.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [f, d];
  }
  if (best && bestDistance <= Math.max(2, Math.ceil(best.length / 4))) return best;
  // A clear prefix ("batch" -> batchSize) is a good guess too, if only one field starts so.
  const prefixed = fields.filter((f) => key.length >= 4 && f.toLowerCase().startsWith(key));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

// ---------------------------------------------------------------------------
// Files.

/** The parsed JSON of a settings file, not yet validated; one-line errors for a missing or malformed file. */
export function readSettingsJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new NlpbookError(`${file}: settings file not found`);
    if (code === 'EISDIR') throw new NlpbookError(`${file}: is a folder, expected a settings JSON file`);
    throw new NlpbookError(`${file}: cannot read the settings file (${code ?? (e as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.replace(/^\uFEFF/, '')); // editors on Windows may add a BOM
  } catch (e) {
    const reason = (e as Error).message.split('\n')[0].replace(/ in JSON at position \d+.*$/, '');
    throw new NlpbookError(`${file}: not valid JSON${jsonErrorWhere(text, e as Error)} (${reason})`);
  }
  return parsed;
}

/** " at line L, column C" from JSON.parse's "at position N", or "" when it gives none. */
function jsonErrorWhere(text: string, error: Error): string {
  const m = /position (\d+)/.exec(error.message);
  if (!m) return '';
  const before = text.replace(/^\uFEFF/, '').slice(0, Number(m[1])).split('\n');
  return ` at line ${before.length}, column ${before[before.length - 1].length + 1}`;
}

// ---------------------------------------------------------------------------
// A schema: the fields plus what its messages say.

export interface SchemaOptions<T extends object, G extends string = string> {
  /** The source named by errors when none is given, e.g. 'settings'. */
  source: string;
  /** Shown when the input is not an object at all, e.g. 'settings like {"batchSize": 32}'. */
  example: string;
  /** Where the fields are listed, for an unknown field with no close match. */
  listedBy: string;
  /** Docs section titles by group, in the order the docs show them. */
  groups: { readonly [K in G]: string };
  /** Checks between fields, in order, after each field passed its own rule. */
  checks?: readonly CrossCheck<T>[];
}

/** A rule between fields: when `problem` returns a text, validation throws `<source>: field "<field>" <text>`. */
export interface CrossCheck<T extends object> {
  field: keyof T & string;
  /** The rule in words, for the docs. */
  doc: string;
  problem(values: T): string | undefined;
}

/** One row per field (notebook tables, `nlpbook settings`, docs). */
export interface FieldRow<T extends object, G extends string = string> {
  field: keyof T & string;
  group: G;
  value: T[keyof T];
  default: T[keyof T];
  doc: string;
  /** Why the field has no effect here and the one value it allows, or "". */
  note: string;
}

export class SettingsSchema<T extends object, G extends string = string> {
  /** Field names in declaration order: the order of validated objects and saved JSON. */
  readonly names: readonly (keyof T & string)[];
  /** A frozen object of the defaults, in field order. */
  readonly defaults: Readonly<T>;
  /** The fields that may differ between a run and its resume. */
  readonly resumeFree: readonly (keyof T & string)[];

  constructor(
    readonly fields: { readonly [K in keyof T & string]: Readonly<FieldSpec<T[K], G>> },
    readonly options: SchemaOptions<T, G>,
  ) {
    this.names = Object.keys(fields) as (keyof T & string)[];
    const specs = this.names.map((name) => [name, fields[name]] as const);
    this.defaults = Object.freeze(Object.fromEntries(specs.map(([name, f]) => [name, f.default]))) as T;
    this.resumeFree = specs.filter(([, f]) => f.resumeFree).map(([name]) => name);
    for (const [name, f] of specs) checkRule(f, name, f.default, `${options.source} schema: the default`);
  }

  private has(name: string): name is keyof T & string {
    return Object.prototype.hasOwnProperty.call(this.fields, name);
  }

  private spec(name: keyof T & string): Readonly<FieldSpec<unknown, G>> {
    return this.fields[name];
  }

  /** The field a mistyped name most likely meant: a ratsnlp (snake_case) name, else the closest name. */
  suggest(name: string): (keyof T & string) | undefined {
    return this.names.find((n) => this.spec(n).ratsnlp === name) ?? closestField(name, this.names);
  }

  private unknownField(name: string, source: string): NlpbookError {
    const guess = this.suggest(name);
    const hint = guess ? `did you mean "${guess}"?` : `the fields are listed by ${this.options.listedBy}`;
    return new NlpbookError(`${source}: unknown field "${name}" (${hint})`);
  }

  /** What a field accepts, in words. */
  accepts(name: keyof T & string): string {
    return ruleAccepts(this.spec(name));
  }

  /** Each field by its own rule: a new, complete object in field order (defaults for missing or undefined fields, lists copied). */
  private checkFields(obj: unknown, source: string): T {
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      throw new NlpbookError(`${source}: expected an object of ${this.options.example} (got ${Array.isArray(obj) ? 'an array' : shown(obj)})`);
    }
    const given = obj as Record<string, unknown>;
    for (const key of Object.keys(given)) if (!this.has(key)) throw this.unknownField(key, source);
    const out: Record<string, unknown> = {};
    for (const name of this.names) {
      const value = given[name] === undefined ? this.defaults[name] : given[name];
      checkRule(this.spec(name), name, value, source);
      out[name] = Array.isArray(value) ? [...value] : value;
    }
    return out as T;
  }

  /**
   * Checks an object (e.g. parsed JSON) field by field, then the fields against each
   * other, and returns a new, complete object: missing (or undefined) fields take their
   * defaults. The first problem throws a one-line NlpbookError naming `source` and the field.
   */
  validate(obj: unknown, source = this.options.source): T {
    const values = this.checkFields(obj, source);
    for (const check of this.options.checks ?? []) {
      const why = check.problem(values);
      if (why !== undefined) throw new NlpbookError(`${source}: field "${check.field}" ${why}`);
    }
    return values;
  }

  /** The defaults with `overrides` applied, validated: a new plain object (not frozen). */
  make(overrides: Partial<T> = {}): T {
    return this.validate({ ...this.defaults, ...overrides });
  }

  /**
   * `--set key=value` pairs as overrides. Values convert by the field's type (numbers,
   * true/false, null for nullable fields, comma-separated lists) and are checked like a
   * config file, each error naming its pair. The last pair for a key wins.
   */
  parseSet(pairs: readonly string[], base: T = this.defaults): Partial<T> {
    const overrides: Record<string, unknown> = {};
    for (const pair of pairs) {
      const source = `--set ${pair}`;
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new NlpbookError(`${source}: expected key=value, e.g. --set batchSize=16`);
      const key = pair.slice(0, eq).trim();
      if (!this.has(key)) throw this.unknownField(key, source);
      const f = this.spec(key);
      const value = KINDS[f.type].fromText(pair.slice(eq + 1));
      checkRule(f, key, value, source);
      overrides[key] = value;
    }
    this.checkFields({ ...base, ...overrides }, '--set');
    return overrides as Partial<T>;
  }

  /** The effective settings of a command: defaults <- the --config file <- --set pairs. */
  fromCli(options: { config?: string; set?: readonly string[] } = {}): T {
    const base = options.config ? this.load(options.config) : this.make();
    return this.validate({ ...base, ...this.parseSet(options.set ?? [], base) }, '--set');
  }

  /**
   * Writes `values` to `file` (pretty JSON, fields in order) and returns the path. Invalid
   * values throw before anything is written, and the write is atomic, so a good file is
   * never replaced by a bad or half-written one.
   */
  save(values: T, file: string): string {
    writeJsonAtomic(file, this.validate(values, `saving ${file}`));
    return file;
  }

  /** Reads and validates a settings JSON file (missing fields take defaults). */
  load(file: string): T {
    return this.validate(readSettingsJson(file), file);
  }

  /** The fields that differ and matter for resuming: "learningRate 0.00005 -> 0.0001" each. */
  conflicts(saved: T, current: T): string[] {
    const out: string[] = [];
    for (const name of this.names) {
      if (this.spec(name).resumeFree) continue;
      const [a, b] = [JSON.stringify(saved[name]), JSON.stringify(current[name])];
      if (a !== b) out.push(`${name} ${a} -> ${b}`);
    }
    return out;
  }

  /** Why a field has no effect here and the one value it allows, or "". */
  note(name: keyof T & string): string {
    const f = this.spec(name);
    const only = f.only ? `must be ${f.only.value}: ${f.only.reason}` : undefined;
    return [f.noEffect, only].filter(Boolean).join('; ');
  }

  /** One row per field, in field order: for console.table in notebooks and for docs. */
  describe(values: T = this.defaults): FieldRow<T, G>[] {
    return this.names.map((name) => ({
      field: name,
      group: this.spec(name).group,
      value: values[name],
      default: this.defaults[name],
      doc: this.spec(name).doc,
      note: this.note(name),
    }));
  }
}

/** A schema from field declarations; its value type is ValuesOf<typeof fields>. */
export function defineSchema<F extends FieldSpecs>(fields: F, options: SchemaOptions<ValuesOf<F>, GroupOf<F>>): SettingsSchema<ValuesOf<F>, GroupOf<F>> {
  // Each F[K] is a FieldSpec<ValuesOf<F>[K]> by the definition of ValuesOf; TypeScript cannot see it through the mapped type.
  type Declared = SettingsSchema<ValuesOf<F>, GroupOf<F>>['fields'];
  return new SettingsSchema<ValuesOf<F>, GroupOf<F>>(fields as unknown as Declared, options);
}

// ---------------------------------------------------------------------------
// The names the pretraining settings used before schemas had methods.

/** A schema, by its earlier name. */
export type FieldTable<T extends object> = SettingsSchema<T>;

/** schema.validate(obj, source). */
export function validateFields<T extends object>(table: FieldTable<T>, obj: unknown, source: string): T {
  return table.validate(obj, source);
}

/** schema.parseSet(pairs, base). */
export function parseSetPairs<T extends object>(table: FieldTable<T>, pairs: readonly string[], base?: T): Partial<T> {
  return table.parseSet(pairs, base);
}
