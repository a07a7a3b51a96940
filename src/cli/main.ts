// `nlpbook <command> ...`: one small module per command in this folder. Machine
// output (--json) goes to stdout, one JSON object per line; progress and notices
// go to stderr, so scripts can parse stdout.
import { NlpbookError } from '../util/errors';

type Command = { summary: string; run: (argv: string[]) => Promise<void> };

// Loaded on demand so `nlpbook env` does not pay for the tokenizer, etc.
const commands: Record<string, () => Command> = {
  course: () => require('./course').command,
  env: () => require('./env').command,
  settings: () => require('./settings').command,
  corpus: () => require('./corpus').command,
  tokenize: () => require('./tokenize').command,
  train: () => require('./train').command,
  evaluate: () => require('./evaluate').command,
  report: () => require('./report').command,
  predict: () => require('./predict').command,
  serve: () => require('./serve').command,
  pretrain: () => require('./pretrain').command,
  bench: () => require('./bench').command,
  'export-post': () => require('./export-post').command,
  export: () => require('./export').command,
};

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    printHelp();
    return;
  }
  const load = commands[name];
  if (!load) {
    console.error(`nlpbook: unknown command "${name}" (expected one of: ${Object.keys(commands).join(', ')})`);
    process.exitCode = 2;
    return;
  }
  try {
    await load().run(rest);
  } catch (e) {
    if (e instanceof NlpbookError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`nlpbook ${name}: ${(e as Error).message}`);
      process.exitCode = process.exitCode || 1;
      return;
    }
    throw e;
  }
}

function printHelp(): void {
  const lines = Object.entries(commands).map(([name, load]) => `  ${name.padEnd(10)} ${load().summary}`);
  console.log(['usage: nlpbook <command> [options]', '', 'commands:', ...lines].join('\n'));
}
