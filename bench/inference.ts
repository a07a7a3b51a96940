// Inference speed (course step 9): our SentenceClassifier.predict next to Python's
// transformers on the same model folder and the same NSMC test sentences, in one run.
//   throughput: sentences/s over the first --sentences test sentences at batch sizes 1, 32, 128
//               (tokenizing, forward and softmax; ours sorts by length inside predict, Python is
//               timed both as usually written, chunks in input order, and sorted like ours)
//   latency:    one sentence per call, p50/p95 over the first --latency sentences
// Models: random weights in Hugging Face layout with kcbert's vocabulary and tokenizer, saved by
// our saveModel and loaded by both sides (AutoModelForSequenceClassification reads our folders):
//   4L-H256   the offline course profile's shape (4 layers, hidden 256, 4 heads, intermediate 1024)
//   12L-H768  kcbert-base's shape (12 layers, 768, 12 heads, 3072): latency, and throughput at
//             batch 32 on --big-sentences sentences
// The first 100 sentences' logits of both sides are compared (maxAbsLogitDiff).
//
// Usage: nice -n 10 node --import tsx bench/inference.ts [--sentences 5000] [--big-sentences 512]
//          [--latency 200] [--shapes 4L-H256,12L-H768] [--rounds 1] [--torch-env KEY=VALUE]...
//          [--out bench/results/inference.json]   (Python: NLPBOOK_PYTHON or .venv/bin/python)
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { parseArgs } from 'util';
import { initBackend } from '../src/util/backend';
import { readNsmcFile } from '../src/corpus/index';
import { writeJsonAtomic } from '../src/util/fsutil';
import { BertForSequenceClassification, saveModel, BertConfig } from '../src/model/index';
import { SentenceClassifier } from '../src/train/index';

const REPO = path.resolve(__dirname, '..');
const SHARED = path.resolve(process.env.NLPBOOK_SHARED ?? path.join(REPO, '..', 'shared'));
const KCBERT = path.join(SHARED, 'models', 'kcbert-base');
const TEST_FILE = path.join(SHARED, 'data', 'nsmc', 'ratings_test.txt');
const PYTHON = process.env.NLPBOOK_PYTHON || path.join(REPO, '.venv', 'bin', 'python');

const { values } = parseArgs({
  options: {
    sentences: { type: 'string', default: '5000' },
    'big-sentences': { type: 'string', default: '512' },
    latency: { type: 'string', default: '200' },
    shapes: { type: 'string', default: '4L-H256,12L-H768' },
    rounds: { type: 'string', default: '1' },
    'torch-env': { type: 'string', multiple: true, default: [] },
    out: { type: 'string', default: path.join(REPO, 'bench', 'results', 'inference.json') },
  },
});

interface Shape { name: string; layers: number; hidden: number; heads: number; intermediate: number; sentences: number; batchSizes: number[] }
const SHAPES: Shape[] = [
  { name: '4L-H256', layers: 4, hidden: 256, heads: 4, intermediate: 1024, sentences: Number(values.sentences), batchSizes: [1, 32, 128] },
  { name: '12L-H768', layers: 12, hidden: 768, heads: 12, intermediate: 3072, sentences: Number(values['big-sentences']), batchSizes: [32] },
];
const LATENCY = Number(values.latency);
const CHECK = 100;

interface Throughput { batchSize: number; order: 'input' | 'sorted'; sentences: number; seconds: number; sentencesPerSec: number; cpuSeconds: number }
interface SideResult { loadMs: number; throughput: Throughput[]; latency: { n: number; p50Ms: number; p95Ms: number; meanMs: number; cpuP50Ms: number } | null; checkLogits: number[][]; loadavg1: number }

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const quantile = (xs: number[], q: number) => {
  // Linear interpolation between closest ranks (Python's statistics.quantiles 'inclusive').
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
};
const median = (xs: number[]) => quantile(xs, 0.5);

/** A random-weight classifier of this shape in Hugging Face layout with kcbert's tokenizer files. */
function makeModel(shape: Shape, dir: string): void {
  const config = new BertConfig({
    vocabSize: 30000, hiddenSize: shape.hidden, numHiddenLayers: shape.layers, numAttentionHeads: shape.heads,
    intermediateSize: shape.intermediate, maxPositionEmbeddings: 300,
  }).withLabels(2, ['negative', 'positive']);
  const model = BertForSequenceClassification.init(config, 42);
  saveModel(model, dir, { tokenizerDir: KCBERT });
  model.dispose();
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function ours(dir: string, texts: string[], shape: Shape): Promise<SideResult> {
  const loadavg1 = os.loadavg()[0];
  let t0 = performance.now();
  const classifier = await SentenceClassifier.load(dir);
  const loadMs = performance.now() - t0;
  try {
    const work = texts.slice(0, shape.sentences);
    const throughput: Throughput[] = [];
    for (const batchSize of shape.batchSizes) {
      classifier.predict(work.slice(0, Math.max(2 * batchSize, 64)), { batchSize }); // warm-up
      t0 = performance.now();
      const c0 = cpuSeconds();
      classifier.predict(work, { batchSize });
      const seconds = (performance.now() - t0) / 1000;
      throughput.push({ batchSize, order: 'sorted', sentences: work.length, seconds: round(seconds, 3), sentencesPerSec: round(work.length / seconds, 1), cpuSeconds: round(cpuSeconds() - c0, 3) });
    }
    let latency: SideResult['latency'] = null;
    if (LATENCY > 0) {
      for (const t of texts.slice(0, 10)) classifier.predict([t]);
      const wall: number[] = [];
      const cpu: number[] = [];
      for (const t of texts.slice(0, LATENCY)) {
        const w = performance.now();
        const c = cpuSeconds();
        classifier.predict([t]);
        wall.push(performance.now() - w);
        cpu.push((cpuSeconds() - c) * 1000);
      }
      latency = { n: wall.length, p50Ms: round(median(wall)), p95Ms: round(quantile(wall, 0.95)), meanMs: round(wall.reduce((a, b) => a + b, 0) / wall.length), cpuP50Ms: round(median(cpu)) };
    }
    const checkLogits = classifier.predict(texts.slice(0, CHECK), { batchSize: 32 }).map((p) => p.logits);
    return { loadMs: round(loadMs, 1), throughput, latency, checkLogits, loadavg1: round(loadavg1) };
  } finally {
    classifier.dispose();
  }
}

function python(dir: string, textsFile: string, shape: Shape): SideResult {
  const loadavg1 = os.loadavg()[0];
  const env = { ...process.env, ...Object.fromEntries(values['torch-env']!.map((kv) => kv.split('=', 2) as [string, string])) };
  const args = [path.join(REPO, 'bench', 'inference_py.py'), '--model', dir, '--texts', textsFile, '--batch-sizes', shape.batchSizes.join(','),
    '--throughput', String(shape.sentences), '--latency', String(LATENCY), '--check', String(CHECK), '--threads', '2'];
  const r = cp.spawnSync(PYTHON, args, { cwd: REPO, env, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`inference_py.py failed (${r.status}): ${(r.stderr || String(r.error)).trim().split('\n').slice(-3).join(' | ')}`);
  const json = JSON.parse(r.stdout.trim().split('\n').pop()!);
  return { ...json, loadavg1: round(loadavg1) };
}

async function main(): Promise<void> {
  const backend = await initBackend({ quiet: true });
  const rounds = Number(values.rounds);
  const shapes = SHAPES.filter((s) => values.shapes!.split(',').includes(s.name));
  const count = Math.max(LATENCY, CHECK, ...shapes.map((s) => s.sentences));
  const texts = readNsmcFile(TEST_FILE).examples.slice(0, count).map((e) => e.text);
  if (!fs.existsSync(PYTHON)) throw new Error(`no Python at ${PYTHON} (set NLPBOOK_PYTHON)`);

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nlpbook-bench-inference-'));
  const loadavgStart = os.loadavg().map((x) => round(x));
  try {
    const textsFile = path.join(work, 'texts.json');
    fs.writeFileSync(textsFile, JSON.stringify(texts));
    const table = [];
    const runs: Record<string, { ours: SideResult[]; pytorch: SideResult[] }> = {};
    let pythonAbout: Record<string, unknown> = {};
    for (const shape of shapes) {
      const dir = path.join(work, shape.name);
      makeModel(shape, dir);
      const res = (runs[shape.name] = { ours: [] as SideResult[], pytorch: [] as SideResult[] });
      for (let r = 0; r < rounds; r++) {
        // Who goes first alternates, so a machine getting busier slows both alike.
        for (const who of r % 2 === 0 ? (['ours', 'pytorch'] as const) : (['pytorch', 'ours'] as const)) {
          console.error(`round ${r + 1}/${rounds} ${shape.name} ${who} (load ${os.loadavg()[0].toFixed(2)})...`);
          const result = who === 'ours' ? await ours(dir, texts, shape) : python(dir, textsFile, shape);
          res[who].push(result);
          if (who === 'pytorch') pythonAbout = { runtime: (result as any).runtime, threads: (result as any).threads, attention: (result as any).attention };
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
      table.push(summarize(shape, res.ours, res.pytorch));
    }
    const result = {
      bench: 'inference',
      date: new Date().toISOString(),
      commit: cp.spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).stdout.trim(),
      cpu: os.cpus()[0]?.model,
      cores: os.cpus().length,
      nice: os.getPriority(),
      rounds,
      texts: `first NSMC test sentences (${TEST_FILE.replace(SHARED, '$SHARED')}), max 128 tokens`,
      what: 'texts in -> label probabilities out: tokenizing, forward (no dropout), softmax; model loaded once beforehand (loadMs separate)',
      ratio: 'ours sentences/s / PyTorch sentences/s (> 1: ours faster); latency ratio = PyTorch ms / ours ms',
      ours: { runtime: `tfjs-node ${backend.tfjs} (${backend.backend})`, threads: backend.threads, batching: 'predict sorts by token length, pads each batch to its longest' },
      pytorch: { ...pythonAbout, torchEnv: values['torch-env'], mode: 'eval + torch.inference_mode(), AutoTokenizer (fast) with padding=True' },
      loadavgStart,
      loadavgEnd: os.loadavg().map((x) => round(x)),
      table,
      runs: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, {
        ours: v.ours.map(({ checkLogits, ...rest }) => rest),
        pytorch: v.pytorch.map(({ checkLogits, ...rest }) => rest),
      }])),
    };
    for (const t of table) console.error(JSON.stringify(t));
    console.log(JSON.stringify(result));
    if (values.out) writeJsonAtomic(values.out, result);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Medians over rounds, per batch size and for latency, side by side. */
function summarize(shape: Shape, o: SideResult[], p: SideResult[]) {
  const sps = (runs: SideResult[], bs: number, order: 'input' | 'sorted') => {
    const xs = runs.map((r) => r.throughput.find((t) => t.batchSize === bs && t.order === order)?.sentencesPerSec).filter((x): x is number => x !== undefined);
    return xs.length ? median(xs) : NaN;
  };
  const throughput = shape.batchSizes.map((bs) => {
    const ours = sps(o, bs, 'sorted');
    const torchInput = sps(p, bs, 'input');
    const torchSorted = sps(p, bs, 'sorted');
    return {
      batchSize: bs, oursPerSec: round(ours, 1), pytorchPerSec: round(torchInput, 1), pytorchSortedPerSec: round(torchSorted, 1),
      ratio: round(ours / torchInput), ratioVsSorted: round(ours / torchSorted),
    };
  });
  const lat = (runs: SideResult[], key: 'p50Ms' | 'p95Ms') => median(runs.map((r) => r.latency![key]));
  let maxAbsLogitDiff = 0;
  o[0].checkLogits.forEach((row, i) => row.forEach((x, k) => (maxAbsLogitDiff = Math.max(maxAbsLogitDiff, Math.abs(x - p[0].checkLogits[i][k])))));
  return {
    shape: shape.name, layers: shape.layers, hidden: shape.hidden, heads: shape.heads, intermediate: shape.intermediate, vocab: 30000,
    sentences: shape.sentences,
    throughput,
    latency: LATENCY > 0 ? {
      n: LATENCY, oursP50Ms: round(lat(o, 'p50Ms')), pytorchP50Ms: round(lat(p, 'p50Ms')), ratioP50: round(lat(p, 'p50Ms') / lat(o, 'p50Ms')),
      oursP95Ms: round(lat(o, 'p95Ms')), pytorchP95Ms: round(lat(p, 'p95Ms')), ratioP95: round(lat(p, 'p95Ms') / lat(o, 'p95Ms')),
    } : null,
    loadMs: { ours: median(o.map((r) => r.loadMs)), pytorch: median(p.map((r) => r.loadMs)) },
    maxAbsLogitDiff: Number(maxAbsLogitDiff.toExponential(2)),
    loadavg1: round(median([...o, ...p].map((r) => r.loadavg1))),
  };
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
