// Throughput probe (not a test) for MLM pretraining on this machine: real (non-padding)
// tokens per second of the real pretraining loop (src/pretrain/pretrain.ts: masking, forward and
// backward at the masked positions, clipping, AdamW) for a few model sizes, sequence
// lengths, batch sizes, one document per sequence vs packed. NSMC training documents,
// kcbert's vocabulary. Each case runs `--steps` steps; the first window (warm-up: kernel
// set-up) is left out, the rest averaged. Every case runs in this one process, one after
// the other, so they share the machine's conditions; the load average is recorded. Each case
// runs in both step modes side by side: graph (MlmTrainGraph, the default) and eager (tfjs ops
// and autodiff, the path before it); `--modes graph,graph-bf16` sets the graph against itself
// with bf16 matmuls (mixed precision, settings.bf16), a mode with -seen predicts the seen
// tokens only (settings.predictSeenTokensOnly), -top8192 scores the 8,192 most frequent tokens and the
// batch's labels per step (settings.softmaxTokens), `--mask 0.4` masks as the course does.
//
//   NLPBOOK_MIRROR=/work/shared node --import tsx bench/pretrain-step.ts [--steps 30] [--quick] [--filter TEXT] [--modes graph,eager,graph-bf16,graph-bf16-seen,graph-bf16-seen-top8192] [--mask 0.15] [--batches 64,128] [--rounds 2] [--out FILE]
// Writes bench/results/pretrain-step.json and prints one JSON line per case.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';
import { initBackend } from '../src/util/backend';
import { pretrain, pretrainMetrics, type PretrainSettings } from '../src/pretrain/index';
import { BertTokenizer } from '../src/tokenizer/index';
import { cpuBf16Flags } from '../src/util/cpu';
import type { PretrainStepBench, PretrainStepCase } from '../src/bench/results';

const { values } = parseArgs({
  options: { steps: { type: 'string', default: '30' }, rounds: { type: 'string', default: '2' }, filter: { type: 'string' }, quick: { type: 'boolean', default: false }, modes: { type: 'string', default: 'graph,eager' }, mask: { type: 'string', default: '0.15' }, batches: { type: 'string' }, out: { type: 'string' } },
});
const rounds = Number(values.rounds);
const steps = Number(values.steps);
const window = Math.max(2, Math.floor(steps / 6));
// --quick measures batch 128 only, unless --batches names others.
const batchSizes = (values.batches ?? (values.quick ? '128' : '64,128')).split(',').map(Number);

const SIZES = [
  { name: 'L2/H128/A2/I512', layers: 2, hidden: 128, heads: 2, intermediate: 512 },
  { name: 'L4/H192/A3/I768', layers: 4, hidden: 192, heads: 3, intermediate: 768 },
  { name: 'L4/H256/A4/I1024', layers: 4, hidden: 256, heads: 4, intermediate: 1024 },
];

interface Case { size: (typeof SIZES)[number]; maxSeqLength: number; batchSize: number; packing: boolean; mode: string }

function cases(): Case[] {
  const out: Case[] = [];
  for (const size of SIZES) {
    for (const packing of [false, true]) {
      for (const maxSeqLength of [64, 128]) {
        for (const batchSize of batchSizes) {
          // Packed batches are full: 128 x 128 = 16k tokens per step is more than the other cases by far; keep it comparable.
          if (values.quick && maxSeqLength !== 128) continue;
          for (const mode of values.modes.split(',')) out.push({ size, maxSeqLength, batchSize: packing && maxSeqLength === 128 ? batchSize / 2 : batchSize, packing, mode });
        }
      }
    }
  }
  // Drop duplicates the halving made; --filter keeps the cases whose label contains it (e.g. "L4/H256 sentence 128x128").
  return out
    .filter((c, i) => out.findIndex((d) => d.size === c.size && d.maxSeqLength === c.maxSeqLength && d.batchSize === c.batchSize && d.packing === c.packing && d.mode === c.mode) === i)
    .filter((c) => !values.filter || label(c).includes(values.filter));
}

function label(c: Case): string {
  return `${c.size.name} ${c.packing ? 'packed' : 'sentence'} ${c.batchSize}x${c.maxSeqLength} ${c.mode}`;
}

(async () => {
  const backend = await initBackend();
  const tokenizer = await BertTokenizer.fromPretrained('beomi/kcbert-base');
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nlpbook-pretrain-bench-'));
  const results: PretrainStepCase[] = [];
  const loadBefore = os.loadavg();
  const rows = new Map<string, { c: Case; tokensPerSecond: number[]; msPerStep: number[]; load: number[]; tokensPerStep: number; parameters: number }>();
  try {
    // Rounds over all cases (not case after case), so a burst of load elsewhere on the
    // machine hits every case a little instead of one case a lot; the best round counts.
    for (let round = 0; round < rounds; round++) {
      for (const c of cases()) {
        const outputDir = path.join(scratch, `${round}-${results.length}-${Date.now()}`);
        const settings: Partial<PretrainSettings> = {
          outputDir, layers: c.size.layers, hidden: c.size.hidden, heads: c.size.heads, intermediate: c.size.intermediate,
          maxPositions: 128, maxSeqLength: c.maxSeqLength, packing: c.packing, batchSize: c.batchSize, steps, heldOutDocuments: 0,
          logEverySteps: window, tqdmEnabled: false, checkpointEveryMinutes: 0, maskProb: Number(values.mask), bf16: c.mode.includes('bf16'), predictSeenTokensOnly: c.mode.includes('-seen'), softmaxTokens: Number(/-top(\d+)/.exec(c.mode)?.[1] ?? 0),
        };
        const load = os.loadavg()[0];
        const r = await pretrain(settings, { tokenizer, log: () => {}, graph: c.mode !== 'eager' });
        const lines = pretrainMetrics(outputDir).train;
        const first = lines[0];
        const last = lines[lines.length - 1];
        const secs = last.seconds - first.seconds; // the first window (warm-up) left out
        const key = JSON.stringify([c.size.name, c.packing, c.maxSeqLength, c.batchSize, c.mode]);
        const row = rows.get(key) ?? { c, tokensPerSecond: [], msPerStep: [], load: [], tokensPerStep: Math.round(r.trainedTokens / r.steps), parameters: r.parameters };
        row.tokensPerSecond.push(Math.round((last.tokens - first.tokens) / secs));
        row.msPerStep.push(Math.round((1000 * secs) / (last.step - first.step)));
        row.load.push(+load.toFixed(2));
        rows.set(key, row);
        console.log(JSON.stringify({ round, size: c.size.name, mode: c.mode, packing: c.packing, maxSeqLength: c.maxSeqLength, batchSize: c.batchSize, tokensPerSecond: row.tokensPerSecond[round], msPerStep: row.msPerStep[round], load }));
        fs.rmSync(outputDir, { recursive: true, force: true });
      }
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  for (const { c, ...row } of rows.values()) {
    results.push({
      size: c.size.name, mode: c.mode, packing: c.packing, maxSeqLength: c.maxSeqLength, batchSize: c.batchSize,
      bestTokensPerSecond: Math.max(...row.tokensPerSecond), tokensPerSecond: row.tokensPerSecond, msPerStep: row.msPerStep,
      tokensPerStep: row.tokensPerStep, parameters: row.parameters, loadAverage1m: row.load,
    });
  }
  const summary: PretrainStepBench = {
    what: 'MLM pretraining loop (src/pretrain/pretrain.ts): real tokens/s after the first window, NSMC train documents, kcbert vocab (30000)',
    maskProb: Number(values.mask),
    steps, window, rounds, env: { MALLOC_MMAP_THRESHOLD_: process.env.MALLOC_MMAP_THRESHOLD_ ?? null }, backend: backend.backend, threads: backend.threads, cores: os.cpus().length, cpu: os.cpus()[0]?.model ?? '', cpuBf16Flags: cpuBf16Flags(),
    node: process.version, loadAverageBefore: loadBefore.map((x) => +x.toFixed(2)), loadAverageAfter: os.loadavg().map((x) => +x.toFixed(2)),
    date: new Date().toISOString(), results,
  };
  const file = values.out ?? path.join(__dirname, 'results', 'pretrain-step.json');
  fs.writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
  console.error(`wrote ${file}`);
})();
