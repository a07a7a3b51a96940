// The CLI's shared pattern (src/cli/command.ts): option parsing with one-line errors,
// --help, --json against text(), --config/--set, the Ctrl+C handling of long runs and
// the last stdout line as JSON; then a few real commands through bin/nlpbook.js.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Command, defineCommand, defineTrainingCommand, untilAborted } from '../src/cli/command';
import { NlpbookError } from '../src/util/errors';
import { runCli } from './helpers';

interface Printed { stdout: string[]; stderr: string[]; error?: Error }

/** Runs a command in this process, catching what it printed (console.log / console.error) and what it threw. */
async function capture(command: Command, argv: string[], during?: () => void): Promise<Printed> {
  const printed: Printed = { stdout: [], stderr: [] };
  const { log, error } = console;
  console.log = (...args: unknown[]) => printed.stdout.push(args.join(' '));
  console.error = (...args: unknown[]) => printed.stderr.push(args.join(' '));
  try {
    const running = command.run(argv);
    during?.();
    await running;
  } catch (e) {
    printed.error = e as Error;
  } finally {
    console.log = log;
    console.error = error;
  }
  return printed;
}

const demo = defineCommand({
  name: 'demo',
  summary: 'a demo',
  usage: 'usage: nlpbook demo --size N [--json] WORD...',
  options: { size: { type: 'string' }, loud: { type: 'boolean' } },
  positionals: true,
  json: true,
  async run({ values, positionals, notice }) {
    notice('working');
    return { size: Number(values.size), words: positionals, loud: values.loud ?? false };
  },
  text(r) {
    console.log(`${r.words.length} words of size ${r.size}`);
  },
});

test('--help and -h print the usage on stdout and run nothing', async () => {
  for (const flag of ['--help', '-h']) {
    const r = await capture(demo, ['--size', '3', flag]);
    assert.equal(r.error, undefined);
    assert.deepEqual(r.stdout, ['usage: nlpbook demo --size N [--json] WORD...']);
    assert.deepEqual(r.stderr, []);
  }
});

test('the result: text() for people, one JSON line with --json; notices on stderr', async () => {
  const text = await capture(demo, ['--size', '3', 'a', 'b']);
  assert.deepEqual(text.stdout, ['2 words of size 3']);
  assert.deepEqual(text.stderr, ['nlpbook demo: working']);
  const json = await capture(demo, ['--json', '--size=-3', 'a']);
  assert.deepEqual(json.stdout.map((l) => JSON.parse(l)), [{ size: -3, words: ['a'], loud: false }]);
});

test('bad flags are one-line NlpbookErrors; "--flag -3" says how to give a value with a dash', async () => {
  const cases: [string[], string][] = [
    [['--bogus'], "Unknown option '--bogus'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- \"--bogus\""],
    [['--size'], "Option '--size <value>' argument missing"],
    [['--loud=yes'], "Option '--loud' does not take an argument"],
    [['a', '--size', '-3'], "Option '--size' argument is ambiguous: \"-3\" could be its value or the next option (write --size=-3 for a value)"],
    [['--size', '--loud'], "Option '--size' argument is ambiguous: \"--loud\" could be its value or the next option (write --size=--loud for a value)"],
  ];
  for (const [argv, message] of cases) {
    const r = await capture(demo, argv);
    assert.ok(r.error instanceof NlpbookError, `${argv.join(' ')}: ${r.error}`);
    assert.equal(r.error.message, message);
    assert.deepEqual(r.stdout, []);
  }
  const noPositionals = defineCommand({ name: 'p', summary: '', usage: '', options: {}, async run() {} });
  const r = await capture(noPositionals, ['extra']);
  assert.equal(r.error?.message, "Unexpected argument 'extra'. This command does not take positional arguments");
});

test('a command without text() always prints its result as JSON; without --json it has no such flag', async () => {
  const always = defineCommand({ name: 'always', summary: '', usage: '', options: {}, async run() { return { ok: true }; } });
  assert.deepEqual((await capture(always, [])).stdout, ['{"ok":true}']);
  assert.match((await capture(always, ['--json'])).error?.message ?? '', /Unknown option '--json'/);
  const silent = defineCommand({ name: 'silent', summary: '', usage: '', options: {}, json: true, async run() { console.log('own line'); } });
  assert.deepEqual((await capture(silent, ['--json'])).stdout, ['own line']);
});

test('settings: --config and --set (repeatable) reach the settings function before the run', async () => {
  const seen: unknown[] = [];
  const withSettings = defineCommand({
    name: 's', summary: '', usage: '', options: {},
    settings: (args) => { seen.push(args); return { n: args.set?.length ?? 0 }; },
    async run({ settings }) { return settings; },
  });
  const r = await capture(withSettings, ['--config', 'c.json', '--set', 'a=1', '--set', 'b=2']);
  assert.deepEqual(seen, [{ config: 'c.json', set: ['a=1', 'b=2'] }]);
  assert.deepEqual(r.stdout, ['{"n":2}']);
  const failing = defineCommand({
    name: 's', summary: '', usage: '', options: {},
    settings: () => { throw new NlpbookError('bad setting'); },
    async run() { throw new Error('must not run'); },
  });
  assert.equal((await capture(failing, [])).error?.message, 'bad setting');
});

test('onSignal: the first SIGINT/SIGTERM aborts the run, which returns its result; a second exits 130', async (t) => {
  const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
  const exits: unknown[] = [];
  t.mock.method(process, 'exit', (code: number) => { exits.push(code); });
  const serving = defineCommand({
    name: 'serve', summary: '', usage: '', options: {}, onSignal: 'stopping',
    async run({ signal }) {
      await untilAborted(signal);
      return { stopped: signal.aborted };
    },
  });
  const r = await capture(serving, [], () => {
    process.emit('SIGTERM', 'SIGTERM');
    process.emit('SIGINT', 'SIGINT');
  });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.stderr, ['nlpbook serve: SIGTERM: stopping']);
  assert.deepEqual(r.stdout, ['{"stopped":true}']);
  assert.deepEqual(exits, [130]);
  assert.deepEqual([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')], before, 'the handlers are gone after the run');

  // Without onSignal a command leaves the signals alone.
  let during = 0;
  const plain = defineCommand({ name: 'plain', summary: '', usage: '', options: {}, async run() { during = process.listenerCount('SIGINT'); } });
  await capture(plain, []);
  assert.equal(during, before[0]);
});

test('defineTrainingCommand: Ctrl+C message, exit 130 when the run did not finish, the result as JSON', async (t) => {
  t.after(() => { process.exitCode = undefined; });
  const command = defineTrainingCommand({
    name: 'train', summary: '', usage: 'usage: nlpbook train',
    settings: (args) => ({ epochs: args.set?.length ?? 0 }),
    async train(settings, { signal }) {
      await untilAborted(signal);
      return { finished: false, epochs: settings.epochs };
    },
    result: (run) => ({ epochs: run.epochs, finished: run.finished }),
  });
  const r = await capture(command, ['--set', 'epochs=1'], () => process.emit('SIGINT', 'SIGINT'));
  assert.equal(r.error, undefined);
  assert.deepEqual(r.stderr, ['nlpbook train: SIGINT: stopping after this step and saving a checkpoint (again to quit now)']);
  assert.deepEqual(r.stdout, ['{"epochs":1,"finished":false}']);
  assert.equal(process.exitCode, 130);
});

test('nlpbook: parse errors are one line and exit 1; every command has --help', () => {
  const ambiguous = runCli(['evaluate', '--model', 'm', '--data', 'd', '--max-length', '-3']);
  assert.equal(ambiguous.status, 1);
  assert.equal(ambiguous.stderr, `nlpbook evaluate: Option '--max-length' argument is ambiguous: "-3" could be its value or the next option (write --max-length=-3 for a value)\n`);
  const unknown = runCli(['train', '--json']);
  assert.equal(unknown.status, 1);
  assert.equal(unknown.stderr, "nlpbook train: Unknown option '--json'\n");
  for (const name of ['env', 'settings', 'corpus', 'pretrain']) {
    const help = runCli([name, '--help']);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, new RegExp(`^usage: nlpbook ${name}`));
  }
});
