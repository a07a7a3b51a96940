// `nlpbook <command> ...`: one small module per command in this folder, each declared
// with defineCommand (./command.ts: options, --help, --json, --config/--set, Ctrl+C).
// Machine output (--json) goes to stdout, one JSON object per line; progress and
// notices go to stderr, so scripts can parse stdout.
import { NlpbookError } from '../util/errors';
import type { Command } from './command';

// In `nlpbook --help` order; each is ./<name>.ts, loaded on demand so `nlpbook env`
// does not pay for the tokenizer, etc.
const NAMES = ['course', 'env', 'settings', 'corpus', 'tokenize', 'train', 'evaluate', 'report', 'predict', 'serve', 'pretrain', 'bench', 'export-post', 'export'];
const commands: Record<string, () => Command> = Object.fromEntries(NAMES.map((name) => [name, () => require(`./${name}`).command]));

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
