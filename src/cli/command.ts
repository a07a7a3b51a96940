// What every `nlpbook <command>` shares, written once. A command declares its usage text,
// its options (util.parseArgs config) and a run function; defineCommand does the rest:
//   - parses the arguments: an unknown or malformed flag is a one-line NlpbookError
//     (main.ts prints it as `nlpbook <command>: <message>` and exits 1);
//   - -h/--help prints the usage text on stdout;
//   - json: true adds --json; settings: adds --config FILE and --set key=value (repeatable)
//     and resolves them before the run (settingsFromCli, pretrainSettingsFromCli, ...);
//   - onSignal: the first SIGINT/SIGTERM prints `nlpbook <command>: SIGINT: <onSignal>` on
//     stderr and aborts ctx.signal (the run then saves what it must and returns); a second
//     one exits 130 at once. Without onSignal the command leaves the signals alone;
//   - the run's result (unless undefined) is the last stdout line, one JSON object; a
//     command with text() prints it for people instead, unless --json. Progress and
//     notices go to stderr (ctx.notice), so scripts can parse stdout.
import { parseArgs, ParseArgsConfig } from 'util';
import { NlpbookError } from '../util/errors';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** The parsed flags of options O, typed as util.parseArgs types them. */
export type Values<O extends OptionsConfig> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>['values'];

/** --config FILE and --set key=value pairs, as settingsFromCli takes them. */
export interface SettingsArgs {
  config?: string;
  set?: string[];
}

export interface Context<O extends OptionsConfig, S> {
  /** The command's own flags (plus json when it takes --json). */
  readonly values: Values<O> & { json?: boolean };
  readonly positionals: string[];
  /** What spec.settings made of --config/--set (undefined without spec.settings). */
  readonly settings: S;
  /** Aborted by the first SIGINT/SIGTERM when the command has onSignal; never otherwise. */
  readonly signal: AbortSignal;
  /** One line on stderr: `nlpbook <command>: <message>`. */
  notice(message: string): void;
}

export interface CommandSpec<O extends OptionsConfig, S, R> {
  /** The command's name, as typed after `nlpbook` (for messages). */
  name: string;
  /** One line for `nlpbook --help`. */
  summary: string;
  /** Printed by -h/--help. */
  usage: string;
  /** The command's own flags; help (and json, config, set when asked for) are added. */
  options: O;
  /** Whether the command takes positional arguments (default: none allowed). */
  positionals?: boolean;
  /** Adds --json: the result as one JSON line even when the command has text(). */
  json?: boolean;
  /** Adds --config FILE and --set key=value; the function turns them into ctx.settings. */
  settings?: (args: SettingsArgs) => S;
  /** What the first SIGINT/SIGTERM does, after "SIGINT: " (e.g. "stopping"); see above. */
  onSignal?: string;
  /** The work. Its result (unless undefined) is the last stdout line, as JSON, or text()'s lines. */
  run(ctx: Context<O, S>): Promise<R>;
  /** The result for people (not with --json); without text() the result is always JSON. */
  text?(result: Exclude<R, undefined | void>, ctx: Context<O, S>): void;
}

/** What main.ts runs. */
export interface Command {
  summary: string;
  run(argv: string[]): Promise<void>;
}

const HELP = { help: { type: 'boolean', short: 'h' } } as const;
const JSON_FLAG = { json: { type: 'boolean' } } as const;
const SETTINGS_FLAGS = { config: { type: 'string' }, set: { type: 'string', multiple: true } } as const;

export function defineCommand<const O extends OptionsConfig, S = undefined, R = void>(spec: CommandSpec<O, S, R>): Command {
  const options: OptionsConfig = {
    ...spec.options,
    ...(spec.json ? JSON_FLAG : {}),
    ...(spec.settings ? SETTINGS_FLAGS : {}),
    ...HELP,
  };
  return {
    summary: spec.summary,
    async run(argv: string[]): Promise<void> {
      const { values, positionals } = parseFlags(argv, options, spec.positionals ?? false);
      if (values.help) {
        console.log(spec.usage);
        return;
      }
      const settings = (spec.settings ? spec.settings({ config: values.config as string | undefined, set: values.set as string[] | undefined }) : undefined) as S;
      const notice = (message: string) => console.error(`nlpbook ${spec.name}: ${message}`);
      const stop = new AbortController();
      const ctx: Context<O, S> = { values: values as Context<O, S>['values'], positionals, settings, signal: stop.signal, notice };
      const onFirst = spec.onSignal === undefined ? undefined : (signal: NodeJS.Signals) => notice(`${signal}: ${spec.onSignal}`);
      const result = await interruptible(stop, onFirst, () => spec.run(ctx));
      if (result === undefined) return;
      if (spec.text && !values.json) spec.text(result as Exclude<R, undefined | void>, ctx);
      else console.log(JSON.stringify(result));
    },
  };
}

/** util.parseArgs with every complaint on one line. */
function parseFlags(argv: string[], options: OptionsConfig, allowPositionals: boolean): { values: Record<string, unknown>; positionals: string[] } {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (!code?.startsWith('ERR_PARSE_ARGS')) throw e;
    throw new NlpbookError(parseErrorLine((e as Error).message, argv, options));
  }
}

/** Node's own message, except the three-line "ambiguous" one (`--max-length -3`), which says what to type instead. */
function parseErrorLine(message: string, argv: string[], options: OptionsConfig): string {
  const raw = /^Option '(-[^']*)' argument is ambiguous/.exec(message)?.[1];
  const at = raw === undefined ? -1 : argv.findIndex((a, i) => a === raw && argv[i + 1]?.startsWith('-'));
  if (raw === undefined || at < 0) return message.replace(/\s*\n\s*/g, ' ');
  const value = argv[at + 1];
  const long = raw.startsWith('--') ? raw.slice(2) : Object.keys(options).find((k) => options[k].short === raw.slice(1)) ?? raw.slice(1);
  return `Option '${raw}' argument is ambiguous: ${JSON.stringify(value)} could be its value or the next option (write --${long}=${value} for a value)`;
}

/**
 * Runs work(). With onFirst, the first SIGINT/SIGTERM calls it and aborts `stop`, a second
 * exits 130; the handlers are gone when work returns. Without it, signals are left alone.
 */
async function interruptible<R>(stop: AbortController, onFirst: ((signal: NodeJS.Signals) => void) | undefined, work: () => Promise<R>): Promise<R> {
  if (!onFirst) return work();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) return process.exit(130);
    onFirst(signal);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await work();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Resolves once `signal` is aborted (a command that runs until Ctrl+C, e.g. serve). */
export function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
}

/**
 * A command that trains (train, pretrain): settings from --config/--set; the first Ctrl+C
 * (or a polite kill) finishes the current step, saves checkpoints/last and prints the result,
 * a second quits at once (the previous checkpoint is still there); exit 130 when the run did
 * not finish. The last stdout line is result(run) as JSON.
 */
export function defineTrainingCommand<S, T extends { finished: boolean }, J extends object>(spec: {
  name: string;
  summary: string;
  usage: string;
  settings: (args: SettingsArgs) => S;
  train: (settings: S, options: { signal: AbortSignal }) => Promise<T>;
  result: (run: T) => J;
}): Command {
  return defineCommand({
    name: spec.name,
    summary: spec.summary,
    usage: spec.usage,
    options: {},
    settings: spec.settings,
    onSignal: 'stopping after this step and saving a checkpoint (again to quit now)',
    async run({ settings, signal }) {
      const run = await spec.train(settings, { signal });
      if (!run.finished) process.exitCode = 130;
      return spec.result(run);
    },
  });
}
