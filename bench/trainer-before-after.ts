// Before/after benchmark (not a test) of the training loops' speed across the refactor that
// replaced two loops with one: fine-tuning's old fit loop (src/train/trainer.ts) and
// pretraining's PretrainRun class (src/pretrain/pretrain.ts) became one `Trainer` class
// (src/train/trainer.ts + src/train/training-task.ts; commit 0326119, merged in 5baa1fa).
//
// What it measures, side by side, on two source trees of the project:
//   - pretraining (`nlpbook pretrain`): BERT L4/H256/A4/I1024, `--pretrain-steps` steps,
//     dropout=false (a setting in both trees), into a fresh folder; the steady-state rate is
//     read from metrics.jsonl's train lines after the first one (the first window holds the
//     graph set-up): real (non-padding) tokens per second = Δtokens / Δseconds between the
//     first and the last train line (both trees write `tokens` and `seconds` in their train
//     lines; the script checks), steps per second alike; plus pretrain-result.json's
//     tokensPerSecond (the whole run, set-up included).
//   - fine-tuning (`nlpbook train`): NSMC classification with a small model (pretrained once,
//     with the after tree, `--finetune-base-steps` steps, the same L4/H256 shape, into a temp
//     folder that both trees load); fine-tuning has no time budget setting in the before tree
//     (no `minutes`) and testMode is far too small (2 batches an epoch), so the run is bounded
//     the way both trees support alike: `--finetune-seconds` seconds after its first train line
//     the script sends SIGINT (Ctrl+C: both trees save checkpoints/last and exit 130). One epoch
//     is ~4,200 steps, so no validation falls inside the window. Steps per second from the
//     train lines after the first (Δstep / Δseconds), sentences per second = that x batchSize.
//
// Why: the loop is shared now but the step graphs (MlmTrainGraph, the classification step,
// AdamW) are unchanged by the refactor, so the loop itself (batching, reading metrics to the
// host every logEverySteps steps, progress, checkpoints) must cost no more than before: the
// ratio after/before should be ~1. Note that "after" (main) also holds later commits (ELECTRA,
// layer-wise learning-rate decay: AdamW's per-parameter lrScale); they are measured too.
//
// How: each tree's CLI runs as a child process (`node bin/nlpbook.js ...` in that tree, the
// `nlpbook` command: tsx, no build step), one run at a time, before/after order alternating
// round by round (round 1: before then after, round 2: after then before, ...), each run into a
// fresh temp folder removed afterwards. Each tree gets its own corpus folder (NSMC copied from
// the mirror, its token/feature caches built by its first run, outside the measured window),
// kept for all rounds and removed at the end. Children inherit this process's niceness.
//
// Make the before tree (a git worktree of the commit before the refactor, sharing node_modules):
//   git worktree add /tmp/before ae3ba900f9b38f0cef5b69594fb2c4a2a92c7436
//   ln -s $PWD/node_modules /tmp/before/node_modules
// Run it (from the project root; ~8-10 minutes on an idle 2-core machine with the defaults):
//   NLPBOOK_MIRROR=/work/shared node --import tsx bench/trainer-before-after.ts --before /tmp/before --after . \
//     [--rounds 2] [--pretrain-steps 150] [--finetune-seconds 60] [--finetune-base-steps 30] \
//     [--out bench/results/trainer-before-after.json]
// Writes the JSON (commits, per-run figures, medians, ratios after/before, load average before
// and after, cores, CPU, date) and prints a one-line summary; the children's stdout/stderr stay in
// /tmp/trainer-bench-logs-* (named in the JSON). A quick check that everything runs (pretraining
// needs >= 40 steps: a train line every 20 steps, two are needed):
//   --rounds 1 --pretrain-steps 40 --finetune-seconds 5 --finetune-base-steps 5 --out /tmp/x.json
import { spawn, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';

const { values } = parseArgs({
  options: {
    before: { type: 'string' },
    after: { type: 'string' },
    rounds: { type: 'string', default: '2' },
    'pretrain-steps': { type: 'string', default: '150' },
    'finetune-seconds': { type: 'string', default: '60' },
    'finetune-base-steps': { type: 'string', default: '30' },
    'finetune-batch-size': { type: 'string', default: '32' },
    'run-timeout': { type: 'string', default: '900' },
    mirror: { type: 'string' },
    out: { type: 'string', default: 'bench/results/trainer-before-after.json' },
  },
});
if (!values.before || !values.after) {
  console.error('usage: node --import tsx bench/trainer-before-after.ts --before DIR --after DIR [--rounds 2] [--pretrain-steps 150] [--finetune-seconds 60] [--finetune-base-steps 30] [--out FILE]');
  process.exit(2);
}
const rounds = Number(values.rounds);
const pretrainSteps = Number(values['pretrain-steps']);
const finetuneSeconds = Number(values['finetune-seconds']);
const baseSteps = Number(values['finetune-base-steps']);
const finetuneBatch = Number(values['finetune-batch-size']);
const runTimeoutMs = Number(values['run-timeout']) * 1000;
for (const [k, v] of Object.entries({ rounds, pretrainSteps, finetuneSeconds, baseSteps, finetuneBatch })) {
  if (!(v > 0)) throw new Error(`--${k}: expected a positive number, got ${v}`);
}
const mirror = values.mirror ?? process.env.NLPBOOK_MIRROR ?? '/work/shared';

type TreeName = 'before' | 'after';
interface Tree { name: TreeName; dir: string; commit: string; subject: string; dirty: string[]; dropout: boolean; corpusRoot: string }

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const load = () => os.loadavg().map((x) => round(x));
const git = (dir: string, ...args: string[]) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8' }).trim();

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'trainer-bench-'));
// The children's stdout/stderr, kept after the run (the run folders and corpus copies are not).
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trainer-bench-logs-'));

function makeTree(name: TreeName, dirArg: string): Tree {
  const dir = path.resolve(dirArg);
  for (const f of ['bin/nlpbook.js', 'src/cli/pretrain.ts', 'src/cli/train.ts', 'node_modules/tsx']) {
    if (!fs.existsSync(path.join(dir, f))) throw new Error(`--${name} ${dir}: no ${f} (a source tree of nlpbook-ts with node_modules is expected)`);
  }
  const settingsSrc = fs.readFileSync(path.join(dir, 'src/pretrain/pretrain-settings.ts'), 'utf8');
  return {
    name, dir,
    commit: git(dir, 'rev-parse', 'HEAD'),
    subject: git(dir, 'log', '-1', '--format=%s').slice(0, 120),
    dirty: git(dir, 'status', '--porcelain', '--untracked-files=no').split('\n').filter(Boolean),
    dropout: /\bdropout:\s*field\./.test(settingsSrc),
    corpusRoot: path.join(tmpRoot, `corpus-${name}`),
  };
}

interface ChildResult { code: number | null; signal: string | null; wallSeconds: number; sentSigint: boolean }

/**
 * Runs `node bin/nlpbook.js args...` in tree.dir; stdout/stderr to logDir/label.{out,err}.
 * With onPoll, calls it every 250 ms; when it returns true the child gets SIGINT (once).
 */
function runCli(tree: Tree, label: string, args: string[], onPoll?: () => boolean): Promise<ChildResult> {
  const out = fs.openSync(path.join(logDir, `${label}.out`), 'w');
  const err = fs.openSync(path.join(logDir, `${label}.err`), 'w');
  const start = Date.now();
  const child = spawn(process.execPath, ['bin/nlpbook.js', ...args], {
    cwd: tree.dir, stdio: ['ignore', out, err], env: { ...process.env, NLPBOOK_MIRROR: mirror },
  });
  let sentSigint = false;
  const poll = onPoll ? setInterval(() => {
    if (!sentSigint && onPoll()) { sentSigint = true; child.kill('SIGINT'); }
  }, 250) : undefined;
  const killer = setTimeout(() => { console.error(`${label}: over ${runTimeoutMs / 1000}s, killed`); child.kill('SIGKILL'); }, runTimeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (poll) clearInterval(poll);
      clearTimeout(killer);
      fs.closeSync(out);
      fs.closeSync(err);
      resolve({ code, signal, wallSeconds: round((Date.now() - start) / 1000, 1), sentSigint });
    });
  });
}

function failure(label: string, why: string): Error {
  const tail = (f: string) => { try { return fs.readFileSync(path.join(logDir, f), 'utf8').split('\n').slice(-15).join('\n'); } catch { return ''; } };
  return new Error(`${label}: ${why}\n--- stderr (last lines) ---\n${tail(`${label}.err`)}\n--- stdout (last lines) ---\n${tail(`${label}.out`)}`);
}

type Line = Record<string, unknown> & { type: string };
function readLines(file: string): Line[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).flatMap((l) => {
    try { return [JSON.parse(l) as Line]; } catch { return []; } // a line being written
  });
}
const trainLines = (file: string) => readLines(file).filter((l) => l.type === 'train');

/** The rate between the first and the last train line (the first window, set-up included, left out). */
function steadyRate(lines: Line[], label: string, needTokens: boolean) {
  for (const l of lines) {
    if (typeof l.step !== 'number' || typeof l.seconds !== 'number') throw new Error(`${label}: a train line without step/seconds: ${JSON.stringify(l)}`);
    if (needTokens && typeof l.tokens !== 'number') throw new Error(`${label}: a train line without tokens: ${JSON.stringify(l)}`);
  }
  if (lines.length < 2) throw new Error(`${label}: ${lines.length} train line(s); at least 2 are needed (more steps or seconds)`);
  const a = lines[0];
  const b = lines[lines.length - 1];
  const seconds = (b.seconds as number) - (a.seconds as number);
  const steps = (b.step as number) - (a.step as number);
  const r = {
    trainLines: lines.length, fromStep: a.step as number, toStep: b.step as number, steps, seconds: round(seconds, 3),
    stepsPerSecond: round(steps / seconds, 3),
  };
  if (!needTokens) return r;
  const tokens = (b.tokens as number) - (a.tokens as number);
  return { ...r, tokens, tokensPerSecond: Math.round(tokens / seconds) };
}

const SIZE = ['layers=4', 'hidden=256', 'heads=4', 'intermediate=1024'];
const sets = (kv: string[]) => kv.flatMap((x) => ['--set', x]);

function pretrainArgs(tree: Tree, outputDir: string, steps: number): string[] {
  return ['pretrain', ...sets([...SIZE, `steps=${steps}`, ...(tree.dropout ? ['dropout=false'] : []), `outputDir=${outputDir}`, `corpusRootDir=${tree.corpusRoot}`])];
}

let runNo = 0;
async function pretrainRun(tree: Tree, r: number, position: number) {
  const label = `r${r}-pretrain-${tree.name}`;
  const dir = path.join(tmpRoot, `run-${++runNo}`);
  console.error(`[${new Date().toISOString().slice(11, 19)}] round ${r}: pretrain, ${tree.name} (${pretrainSteps} steps)`);
  try {
    const res = await runCli(tree, label, pretrainArgs(tree, dir, pretrainSteps));
    if (res.code !== 0) throw failure(label, `exit ${res.code ?? res.signal}`);
    const result = JSON.parse(fs.readFileSync(path.join(dir, 'pretrain-result.json'), 'utf8'));
    // needTokens: the rate has tokens and tokensPerSecond (checked in steadyRate).
    const rate = steadyRate(trainLines(path.join(dir, 'metrics.jsonl')), label, true) as ReturnType<typeof steadyRate> & { tokens: number; tokensPerSecond: number };
    return {
      tree: tree.name, round: r, position, wallSeconds: res.wallSeconds, ...rate,
      resultTokensPerSecond: result.tokensPerSecond as number, resultSteps: result.steps as number, resultMinutes: result.minutes as number, stoppedBy: result.stoppedBy ?? null,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function finetuneRun(tree: Tree, r: number, position: number, baseModel: string) {
  const label = `r${r}-finetune-${tree.name}`;
  const dir = path.join(tmpRoot, `run-${++runNo}`);
  const metrics = path.join(dir, 'metrics.jsonl');
  console.error(`[${new Date().toISOString().slice(11, 19)}] round ${r}: fine-tune, ${tree.name} (${finetuneSeconds}s after the first train line, then SIGINT)`);
  let firstLineAt = 0;
  try {
    const res = await runCli(tree, label, ['train', ...sets([
      `pretrainedModelName=${baseModel}`, `downstreamModelDir=${dir}`, `downstreamCorpusRootDir=${tree.corpusRoot}`, `batchSize=${finetuneBatch}`,
    ])], () => {
      const n = trainLines(metrics).length;
      if (!firstLineAt) {
        if (n > 0) firstLineAt = Date.now();
        return false;
      }
      // The window is over, and there are at least two train lines to measure between.
      return Date.now() - firstLineAt >= finetuneSeconds * 1000 && n >= 2;
    });
    // 130: stopped by our SIGINT (checkpoints/last saved); 0: the run ended on its own first.
    if (!(res.code === 0 || (res.code === 130 && res.sentSigint))) throw failure(label, `exit ${res.code ?? res.signal}`);
    const lines = trainLines(metrics);
    const rate = steadyRate(lines, label, false);
    return {
      tree: tree.name, round: r, position, wallSeconds: res.wallSeconds, exitCode: res.code, stoppedBySigint: res.sentSigint, ...rate,
      sentencesPerSecond: round(rate.stepsPerSecond * finetuneBatch, 1),
      epochsInWindow: [...new Set(lines.map((l) => l.epoch))],
      validationLines: readLines(metrics).filter((l) => l.type === 'validation').length,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

(async () => {
  const started = Date.now();
  const loadBefore = load();
  const trees: Record<TreeName, Tree> = { before: makeTree('before', values.before!), after: makeTree('after', values.after!) };
  for (const t of Object.values(trees)) {
    console.error(`${t.name}: ${t.dir} ${t.commit.slice(0, 7)} ${t.subject.slice(0, 60)}${t.dirty.length ? ` (${t.dirty.length} modified files)` : ''}`);
  }
  const dropoutBoth = trees.before.dropout && trees.after.dropout;
  if (!dropoutBoth) {
    console.error('note: the pretraining setting dropout is not in both trees: left at its default (on) in both');
    trees.before.dropout = trees.after.dropout = false;
  }
  const pretrainRuns: Awaited<ReturnType<typeof pretrainRun>>[] = [];
  const finetuneRuns: Awaited<ReturnType<typeof finetuneRun>>[] = [];
  let baseWall = 0;
  try {
    // The small model both trees fine-tune: pretrained once, with the after tree.
    const baseModel = path.join(tmpRoot, 'base-model');
    console.error(`[${new Date().toISOString().slice(11, 19)}] base model for fine-tuning: pretrain ${baseSteps} steps with the after tree`);
    const base = await runCli(trees.after, 'base-pretrain', pretrainArgs(trees.after, baseModel, baseSteps));
    if (base.code !== 0) throw failure('base-pretrain', `exit ${base.code ?? base.signal}`);
    baseWall = base.wallSeconds;

    for (let r = 1; r <= rounds; r++) {
      const order: TreeName[] = r % 2 === 1 ? ['before', 'after'] : ['after', 'before'];
      for (const [i, name] of order.entries()) pretrainRuns.push(await pretrainRun(trees[name], r, i + 1));
      for (const [i, name] of order.entries()) finetuneRuns.push(await finetuneRun(trees[name], r, i + 1, baseModel));
    }
  } finally {
    fs.rmSync(tmpRoot, { recursive: true, force: true });
  }

  const med = <T extends { tree: TreeName }>(runs: T[], key: keyof T) => {
    const m = (t: TreeName) => round(median(runs.filter((x) => x.tree === t).map((x) => x[key] as unknown as number)), 3);
    const before = m('before');
    const after = m('after');
    return { before, after, ratioAfterBefore: round(after / before, 3) };
  };
  const medians = {
    pretrainTokensPerSecond: med(pretrainRuns, 'tokensPerSecond'),
    pretrainStepsPerSecond: med(pretrainRuns, 'stepsPerSecond'),
    pretrainResultTokensPerSecond: med(pretrainRuns, 'resultTokensPerSecond'),
    finetuneStepsPerSecond: med(finetuneRuns, 'stepsPerSecond'),
  };
  const cpus = os.cpus();
  const report = {
    what: 'Training loop speed before/after the one Trainer (src/train/trainer.ts + training-task.ts): each tree\'s CLI as a child process, alternating order; rates from metrics.jsonl train lines after the first (steady state)',
    before: { dir: trees.before.dir, commit: trees.before.commit, subject: trees.before.subject, modifiedFiles: trees.before.dirty },
    after: { dir: trees.after.dir, commit: trees.after.commit, subject: trees.after.subject, modifiedFiles: trees.after.dirty },
    rounds,
    pretrain: {
      model: 'BERT L4/H256/A4/I1024', steps: pretrainSteps, dropout: dropoutBoth ? false : 'default (on): the setting is not in both trees',
      other: 'the trees\' defaults (batchSize 128, maxSeqLength 64, logEverySteps 20, heldOutDocuments 1000)',
    },
    finetune: {
      model: `BERT L4/H256/A4/I1024 pretrained ${baseSteps} steps with the after tree (${baseWall}s)`, corpus: 'NSMC train split (validation held out by the trees)',
      batchSize: finetuneBatch, windowSeconds: finetuneSeconds, stop: 'SIGINT sent finetuneSeconds after the first train line appeared in metrics.jsonl',
      other: 'the trees\' defaults otherwise (maxSeqLength 128, lengthBucketing, logEverySteps 10)',
    },
    medians,
    pretrainRuns,
    finetuneRuns,
    mirror,
    logs: logDir,
    loadAverageBefore: loadBefore,
    loadAverageAfter: load(),
    cores: cpus.length,
    cpu: cpus[0]?.model ?? 'unknown',
    niceness: os.getPriority(),
    node: process.version,
    wallSeconds: round((Date.now() - started) / 1000, 1),
    date: new Date().toISOString(),
  };
  const out = path.resolve(values.out!);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  const fmt = (m: { before: number; after: number; ratioAfterBefore: number }, unit: string) => `${m.before} -> ${m.after} ${unit} (x${m.ratioAfterBefore})`;
  console.log(
    `trainer before ${trees.before.commit.slice(0, 7)} / after ${trees.after.commit.slice(0, 7)}, ${rounds} round(s), medians: ` +
    `pretrain ${fmt(medians.pretrainTokensPerSecond, 'tok/s')}, result ${fmt(medians.pretrainResultTokensPerSecond, 'tok/s')}; ` +
    `fine-tune ${fmt(medians.finetuneStepsPerSecond, 'steps/s')}; load ${loadBefore.join('/')} -> ${report.loadAverageAfter.join('/')}; ${report.wallSeconds}s -> ${out}`,
  );
})().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
