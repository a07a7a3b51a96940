// `npm run notebooks`: executes the course notebooks for real and writes their outputs back,
// so the committed notebooks carry one real run (test/committed-notebooks.test.ts checks them),
// then exports each as a Jekyll post with its PNG charts.
//
//   NLPBOOK_MIRROR=../shared npm run notebooks [-- --only 03,07] [--notebooks-dir DIR] [--posts DIR] [--timeout-minutes 20]
//
// Each notebook runs headlessly (jupyter-nbconvert, kernel "nlpbook") in the profile of
// NLPBOOK_PROFILE (default offline) with charts as PNG only. A notebook is written back only
// when every cell ran without an error; the first failure stops the run (later steps build on
// earlier ones) and prints the failing cell's stderr.
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';
import { exportPost } from '../src/export/write-post';
import { slugFor, today } from '../src/export/post';
import { NlpbookError } from '../src/util/errors';
import { writeFileAtomic } from '../src/util/fsutil';

const REPO = path.resolve(__dirname, '..');
const COMMAND = 'npm run notebooks';
const INSTALL = 'apt-get install jupyter-nbconvert python3-nbclient';
/** A JavaScript stack frame, as tslab prints a thrown error on stderr (the same pattern as the test). */
const STACK_LINE = /^\s+at .+\(.+:\d+:\d+\)$/m;
const MAX_BYTES = 2 * 1024 * 1024;

class Failure extends Error {}

interface Options {
  only: string[];
  notebooksDir: string;
  postsDir: string;
  timeoutSeconds: number;
}

function usage(): string {
  return [
    'usage: npm run notebooks [-- --only 03,07] [--notebooks-dir DIR] [--posts DIR] [--timeout-minutes 20]',
    '',
    'Executes notebooks/*.ipynb in order (kernel "nlpbook", NLPBOOK_PROFILE or offline, charts as PNG),',
    'writes each executed notebook back over itself, then exports them as Jekyll posts into data/posts/<slug>/.',
    '  --only P1,P2          only the notebooks whose file name starts with one of these prefixes',
    '  --notebooks-dir DIR   the notebooks to run and rewrite (default notebooks/)',
    '  --posts DIR           where the posts go (default data/posts/)',
    '  --timeout-minutes N   limit for one cell (default 20)',
  ].join('\n');
}

function parseOptions(argv: string[]): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        only: { type: 'string' },
        'notebooks-dir': { type: 'string' },
        posts: { type: 'string' },
        'timeout-minutes': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new Failure(`${(e as Error).message}\n${usage()}`);
  }
  if (values.help) {
    console.log(usage());
    process.exit(0);
  }
  const minutes = Number(values['timeout-minutes'] ?? 20);
  if (!Number.isFinite(minutes) || minutes <= 0) throw new Failure(`--timeout-minutes: expected a positive number, got ${JSON.stringify(values['timeout-minutes'])}`);
  const only = (values.only ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  if (values.only !== undefined && only.length === 0) throw new Failure('--only: expected prefixes such as 03,07');
  return {
    only,
    notebooksDir: path.resolve(values['notebooks-dir'] ?? path.join(REPO, 'notebooks')),
    postsDir: path.resolve(values.posts ?? path.join(REPO, 'data', 'posts')),
    timeoutSeconds: Math.round(minutes * 60),
  };
}

/** Full path of a command on PATH, or null. */
function which(command: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const file = path.join(dir, command);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch { /* not here */ }
  }
  return null;
}

/**
 * Fails up front, in one line, when nbconvert, nbclient or the kernel is missing, instead of
 * after minutes of a run. The check uses the Python that jupyter-nbconvert runs with (its
 * shebang), so it sees the same packages and kernel specs.
 */
function checkJupyter(): void {
  const nbconvert = which('jupyter-nbconvert');
  if (!nbconvert) throw new Failure(`jupyter-nbconvert is not installed (not on PATH): ${INSTALL}`);
  const shebang = /^#!\s*(\S+)(?:[ \t]+(\S+))?/.exec(fs.readFileSync(nbconvert, 'utf8').slice(0, 200));
  if (!shebang) return; // not a Python script we can ask; nbconvert itself will say what is wrong
  const python = path.basename(shebang[1]) === 'env' && shebang[2] ? [shebang[2]] : [shebang[1], ...(shebang[2] ? [shebang[2]] : [])];
  const code = [
    'import sys',
    'try:\n import nbclient\nexcept ImportError:\n sys.exit(4)',
    'from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel',
    'try:\n KernelSpecManager().get_kernel_spec("nlpbook")\nexcept NoSuchKernel:\n sys.exit(3)',
  ].join('\n');
  const r = cp.spawnSync(python[0], [...python.slice(1), '-c', code], { encoding: 'utf8' });
  if (r.status === 4) throw new Failure(`nbclient (which jupyter-nbconvert --execute needs) is not installed: ${INSTALL}`);
  if (r.status === 3) throw new Failure('the Jupyter kernel "nlpbook" is not registered: npm run kernel');
  if (r.status !== 0) console.error(`run-notebooks: could not check the "nlpbook" kernel (${(r.error?.message ?? r.stderr ?? '').trim().split('\n').pop()}); trying anyway`);
}

function listNotebooks(opts: Options): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(opts.notebooksDir).filter((f) => f.endsWith('.ipynb') && !f.startsWith('.')).sort();
  } catch (e) {
    throw new Failure(`--notebooks-dir ${opts.notebooksDir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (names.length === 0) throw new Failure(`no notebooks (*.ipynb) in ${opts.notebooksDir}`);
  if (opts.only.length === 0) return names;
  const unmatched = opts.only.filter((p) => !names.some((n) => n.startsWith(p)));
  if (unmatched.length > 0) throw new Failure(`--only ${unmatched.join(',')}: no notebook name starts with that (have: ${names.join(', ')})`);
  return names.filter((n) => opts.only.some((p) => n.startsWith(p)));
}

// Two nbclient hooks, in a config file passed to nbconvert:
// - on_cell_executed: tslab sends no execute_input message, so nbclient never learns the
//   execution count and leaves every cell at null; the kernel's count is in its reply.
// - on_cell_error: called with the failing cell just before nbclient stops (the run is not
//   made with --allow-errors, so no later cell runs after a failure). tslab answers a thrown
//   error with an empty error reply and the stack on stderr, so nbconvert's own message says
//   only "<Error>: "; the cell's outputs saved here carry the real message.
const HOOK_CONFIG = (dumpFile: string) => `import json

def _nlpbook_count(cell=None, cell_index=None, execute_reply=None, **_):
    count = ((execute_reply or {}).get("content") or {}).get("execution_count")
    if cell.get("execution_count") is None and isinstance(count, int):
        cell["execution_count"] = count

def _nlpbook_dump_failing_cell(cell=None, cell_index=None, execute_reply=None, **_):
    with open(${JSON.stringify(dumpFile)}, "w", encoding="utf-8") as f:
        json.dump({"cell_index": cell_index, "execution_count": cell.get("execution_count"),
                   "source": cell.get("source", ""), "outputs": cell.get("outputs", []),
                   "reply": (execute_reply or {}).get("content", {})}, f, ensure_ascii=False)

c.ExecutePreprocessor.on_cell_executed = _nlpbook_count
c.ExecutePreprocessor.on_cell_error = _nlpbook_dump_failing_cell
`;

interface Executed { ok: boolean; seconds: number; file: string; stderr: string; dumpFile: string }

/** Runs one notebook with jupyter-nbconvert into `tmp`; never touches the committed file. */
async function execute(name: string, text: string, tmp: string, profile: string, opts: Options): Promise<Executed> {
  const base = name.replace(/\.ipynb$/, '');
  const dumpFile = path.join(tmp, `${base}.failed-cell.json`);
  const config = path.join(tmp, `${base}.nbconvert_config.py`);
  fs.writeFileSync(config, HOOK_CONFIG(dumpFile));
  const env: NodeJS.ProcessEnv = { ...process.env, NLPBOOK_PROFILE: profile, NLPBOOK_CHARTS: 'png' };
  // The committed outputs are a reader's real run, not the test suite's.
  delete env.NLPBOOK_NOTEBOOK_TEST;
  const started = Date.now();
  // The notebook goes in on stdin, so the kernel starts in the repository root (cwd) wherever
  // --notebooks-dir points: scripts/kernel.js walks up from the kernel's folder to the checkout.
  const child = cp.spawn('jupyter-nbconvert', ['--to', 'notebook', '--execute',
    `--ExecutePreprocessor.timeout=${opts.timeoutSeconds}`, '--ExecutePreprocessor.kernel_name=nlpbook',
    `--config=${config}`, '--stdin', '--output-dir', tmp, '--output', name], { cwd: REPO, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-200_000); });
  child.stdout.resume();
  child.stdin.on('error', () => { /* nbconvert died early; its stderr says why */ });
  child.stdin.end(text);
  // A long notebook (pretraining, training) is silent in nbconvert; say it is still going.
  const beat = setInterval(() => console.log(`  … ${name} still running (${Math.round((Date.now() - started) / 60000)} min)`), 5 * 60 * 1000);
  const status = await new Promise<number | null>((resolve) => {
    child.on('error', (e) => { stderr += `\n${e.message}`; resolve(null); });
    child.on('close', (code) => resolve(code));
  }).finally(() => clearInterval(beat));
  const seconds = (Date.now() - started) / 1000;
  const file = path.join(tmp, name);
  return { ok: status === 0 && fs.existsSync(file), seconds, file, stderr, dumpFile };
}

const joinText = (t: unknown) => (Array.isArray(t) ? t.join('') : typeof t === 'string' ? t : '');

/** The stderr text of a cell's outputs (stderr streams and error outputs). */
function stderrText(outputs: any[]): string {
  return outputs.map((o) => {
    if (o.output_type === 'stream' && o.name === 'stderr') return joinText(o.text);
    if (o.output_type === 'error') return [`${o.ename}: ${o.evalue}`, ...(o.traceback ?? [])].join('\n');
    return '';
  }).filter(Boolean).join('');
}

/** Cells of an executed notebook that failed without stopping nbconvert: an error output or a stack trace on stderr. */
function errorCells(nb: any): { index: number; text: string }[] {
  return (nb.cells ?? []).flatMap((cell: any, index: number) => {
    const outputs = cell.outputs ?? [];
    const bad = outputs.some((o: any) => o.output_type === 'error' ||
      (o.output_type === 'stream' && o.name === 'stderr' && STACK_LINE.test(joinText(o.text))));
    return bad ? [{ index, text: stderrText(outputs) }] : [];
  });
}

const tail = (text: string, lines = 60) => {
  const all = text.replace(/\s+$/, '').split('\n');
  return all.length <= lines ? all.join('\n') : [`… (${all.length - lines} lines above)`, ...all.slice(-lines)].join('\n');
};
/** A path as the user would type it from the repository root. */
const shown = (file: string) => (path.relative(REPO, file).startsWith('..') ? file : path.relative(REPO, file) || '.');
const indent = (text: string) => text.split('\n').map((l) => `    ${l}`).join('\n');
const firstLine = (source: unknown) => joinText(source).split('\n').find((l) => l.trim()) ?? '';

function failureMessage(name: string, committed: string, run: Executed): string {
  let dump: any = null;
  try {
    dump = JSON.parse(fs.readFileSync(run.dumpFile, 'utf8'));
  } catch { /* no hook call: a timeout, a dead kernel or nbconvert itself failed */ }
  const head = `run-notebooks: ${name} failed after ${Math.round(run.seconds)} s; ${shown(committed)} left as it was`;
  if (dump) {
    const text = stderrText(dump.outputs ?? []) ||
      [dump.reply?.ename, dump.reply?.evalue].filter(Boolean).join(': ') ||
      `(no stderr; last stdout:)\n${joinText((dump.outputs ?? []).filter((o: any) => o.output_type === 'stream').map((o: any) => joinText(o.text)))}`;
    return `${head}\n  cell[${dump.cell_index}] (execution count ${dump.execution_count ?? '-'}): ${firstLine(dump.source)}\n${indent(tail(text))}`;
  }
  // nbclient names the failing cell and the error after this marker (timeouts, dead kernels).
  const at = run.stderr.indexOf('An error occurred while executing');
  const why = at >= 0 ? run.stderr.slice(at) : run.stderr;
  const hint = /CellTimeoutError|timed out/.test(run.stderr) ? '\n  (a cell ran longer than --timeout-minutes allows; raise it for a slow machine)' : '';
  return `${head}${hint}\n${indent(tail(why, 40))}`;
}

/** Key-sorted JSON with a 1-space indent and a final newline: what nbformat writes (json.dumps(sort_keys=True, indent=1, ensure_ascii=False)). */
export function nbformatJson(value: unknown): string {
  const sorted = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sorted);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return `${JSON.stringify(sorted(value), null, 1)}\n`;
}

/** The executed notebook as committed: run metadata added, per-run noise (cell timings, widget state) removed. */
function forCommit(nb: any, profile: string, seconds: number): any {
  for (const cell of nb.cells ?? []) {
    if (cell.metadata) delete cell.metadata.execution;
  }
  // Every code cell ran once, top to bottom: number them so (tslab's reply sometimes repeats
  // the previous cell's count).
  let count = 0;
  for (const cell of nb.cells ?? []) {
    if (cell.cell_type === 'code' && joinText(cell.source).trim() !== '') cell.execution_count = ++count;
  }
  delete nb.metadata.widgets;
  nb.metadata.nlpbook = { profile, executed: new Date().toISOString(), seconds: Math.round(seconds), command: COMMAND };
  return nb;
}

/** Warnings for what test/committed-notebooks.test.ts rejects besides errors. */
function commitWarnings(name: string, nb: any, bytes: number, profile: string): string[] {
  const warnings: string[] = [];
  if (bytes > MAX_BYTES) warnings.push(`${name} is ${(bytes / 1e6).toFixed(1)} MB (the committed notebooks' limit is 2 MB)`);
  if (profile !== 'offline') warnings.push(`${name} ran in the ${profile} profile; the committed notebooks must be offline runs`);
  let expected = 1;
  (nb.cells ?? []).forEach((cell: any, i: number) => {
    if (cell.cell_type !== 'code' || joinText(cell.source).trim() === '') return;
    if (cell.execution_count !== expected) warnings.push(`${name} cell[${i}]: execution_count ${cell.execution_count}, expected ${expected}`);
    expected += 1;
  });
  (nb.cells ?? []).forEach((cell: any, i: number) => (cell.outputs ?? []).forEach((o: any) => {
    const json = JSON.stringify(o);
    if (json.includes('<script') || json.includes('application/vnd.plotly.v1+json')) warnings.push(`${name} cell[${i}]: a script or interactive plotly output (NLPBOOK_CHARTS=png should prevent it)`);
  }));
  return warnings;
}

const pngCount = (nb: any) => (nb.cells ?? []).reduce((n: number, c: any) =>
  n + (c.outputs ?? []).filter((o: any) => o.data?.['image/png']).length, 0);
const size = (bytes: number) => (bytes >= 1e6 ? `${(bytes / 1e6).toFixed(2)} MB` : `${(bytes / 1e3).toFixed(1)} kB`);

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  checkJupyter();
  const names = listNotebooks(opts);
  const profile = process.env.NLPBOOK_PROFILE?.trim() || 'offline';
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nlpbook-run-notebooks-'));
  process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
  const mirror = process.env.NLPBOOK_MIRROR ? `, NLPBOOK_MIRROR=${process.env.NLPBOOK_MIRROR}` : '';
  console.log(`run-notebooks: ${names.length} notebook(s) from ${shown(opts.notebooksDir)} in the ${profile} profile${mirror}, charts as PNG, ${opts.timeoutSeconds / 60} min per cell`);

  const done: { name: string; file: string; seconds: number; bytes: number; pngs: number }[] = [];
  for (const name of names) {
    const committed = path.join(opts.notebooksDir, name);
    const text = fs.readFileSync(committed, 'utf8');
    console.log(`▶ ${name}`);
    const run = await execute(name, text, tmp, profile, opts);
    if (!run.ok) throw new Failure(failureMessage(name, committed, run));
    const nb = JSON.parse(fs.readFileSync(run.file, 'utf8'));
    // nbconvert succeeded, but a cell may still have printed an error (caught and logged): not committed either.
    const bad = errorCells(nb);
    if (bad.length > 0) {
      throw new Failure(`run-notebooks: ${name} ran, but cell[${bad[0].index}] shows an error (${firstLine(nb.cells[bad[0].index].source)}); ${shown(committed)} left as it was\n${indent(tail(bad[0].text))}`);
    }
    // Someone may have edited the notebook while it ran: their edit wins, this run's outputs are dropped.
    if (fs.readFileSync(committed, 'utf8') !== text) throw new Failure(`run-notebooks: ${shown(committed)} changed while it ran; not overwritten, run it again`);
    const out = nbformatJson(forCommit(nb, profile, run.seconds));
    writeFileAtomic(committed, out); // temp file in the same folder + rename
    const bytes = Buffer.byteLength(out);
    for (const w of commitWarnings(name, nb, bytes, profile)) console.log(`  warning: ${w}`);
    done.push({ name, file: committed, seconds: run.seconds, bytes, pngs: pngCount(nb) });
    console.log(`✓ ${name} ${Math.round(run.seconds)} s, written back`);
  }

  // Posts only after every notebook ran, so data/posts never mixes two runs' notebooks.
  const date = today();
  console.log(`\nposts (${shown(opts.postsDir)}/<slug>/, one folder per post for jekyll-postfiles):`);
  const width = Math.max(...done.map((d) => d.name.length));
  for (const d of done) {
    const slug = slugFor(d.name);
    const outDir = path.join(opts.postsDir, slug);
    const post = await exportPost(d.file, { outDir, date });
    // A post exported on another day has another file name; two dated copies would be two posts.
    for (const old of fs.readdirSync(outDir)) {
      if (old !== path.basename(post.post) && new RegExp(`^\\d{4}-\\d{2}-\\d{2}-${slug}\\.md$`).test(old)) fs.rmSync(path.join(outDir, old));
    }
    console.log(`${d.name.padEnd(width)}  ${String(Math.round(d.seconds)).padStart(5)} s  ${size(d.bytes).padStart(9)}  ${String(d.pngs).padStart(3)} PNG  → ${shown(post.post)}`);
  }
  const total = (k: 'seconds' | 'bytes' | 'pngs') => done.reduce((s, d) => s + d[k], 0);
  console.log(`${'total'.padEnd(width)}  ${String(Math.round(total('seconds'))).padStart(5)} s  ${size(total('bytes')).padStart(9)}  ${String(total('pngs')).padStart(3)} PNG  (${done.length} notebook(s), ${(total('seconds') / 60).toFixed(1)} min)`);
}

if (require.main === module) {
  main().catch((e) => {
    // Our own and the library's errors are messages for the user; anything else is a bug: full stack.
    const message = e instanceof Failure || e instanceof NlpbookError ? e.message : String((e as Error).stack ?? e);
    console.error(message.startsWith('run-notebooks:') ? message : `run-notebooks: ${message}`);
    process.exit(1);
  });
}
