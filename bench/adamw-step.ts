// How long one optimizer step takes on parameters shaped like kcbert-base (~109M
// floats) and like a 2-layer, hidden-128 BERT, for both AdamW kernels of
// src/task/optim/adamw.ts ('ops': tfjs ops; 'fused': TensorFlow's ResourceApplyAdam), with
// and without global-norm clipping, next to the reference in the same run:
// torch.optim.AdamW (+ clip_grad_norm_, single-tensor and foreach) in CPython on the
// same shapes and threads. Each side interleaves its contenders round by round, so a
// busy machine slows them alike; min (the undisturbed cost) and median are reported.
// Usage: node --import tsx bench/adamw-step.ts [--repeat 7] [--no-python] [--out bench/results/adamw-step.json]
//   -> one JSON line on stdout (progress on stderr)
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';
import { initBackend, tf } from '../src/util/backend';
import { writeJsonAtomic } from '../src/util/fsutil';
import { AdamW, clipScale } from '../src/task/index';

const REPO = path.resolve(__dirname, '..');
const { values } = parseArgs({
  options: {
    repeat: { type: 'string', default: '7' },
    'no-python': { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(REPO, 'bench', 'results', 'adamw-step.json') },
  },
});
const repeat = Number(values.repeat);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

interface Shape {
  name: string;
  hidden: number;
  layers: number;
  intermediate: number;
}
const MODELS: Shape[] = [
  { name: 'kcbert-base', hidden: 768, layers: 12, intermediate: 3072 },
  { name: 'bert-2L-H128', hidden: 128, layers: 2, intermediate: 512 },
];

/** Hugging Face parameter names and shapes of BertForSequenceClassification (2 labels, kcbert's vocab). */
function bertShapes({ hidden: h, layers, intermediate: i }: Shape): [string, number[]][] {
  const s: [string, number[]][] = [
    ['bert.embeddings.word_embeddings.weight', [30000, h]],
    ['bert.embeddings.position_embeddings.weight', [300, h]],
    ['bert.embeddings.token_type_embeddings.weight', [2, h]],
    ['bert.embeddings.LayerNorm.weight', [h]],
    ['bert.embeddings.LayerNorm.bias', [h]],
  ];
  for (let l = 0; l < layers; l++) {
    const p = `bert.encoder.layer.${l}`;
    for (const m of ['attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense']) {
      s.push([`${p}.${m}.weight`, [h, h]], [`${p}.${m}.bias`, [h]]);
    }
    s.push([`${p}.attention.output.LayerNorm.weight`, [h]], [`${p}.attention.output.LayerNorm.bias`, [h]]);
    s.push([`${p}.intermediate.dense.weight`, [i, h]], [`${p}.intermediate.dense.bias`, [i]]);
    s.push([`${p}.output.dense.weight`, [h, i]], [`${p}.output.dense.bias`, [h]]);
    s.push([`${p}.output.LayerNorm.weight`, [h]], [`${p}.output.LayerNorm.bias`, [h]]);
  }
  s.push(['bert.pooler.dense.weight', [h, h]], ['bert.pooler.dense.bias', [h]]);
  s.push(['classifier.weight', [2, h]], ['classifier.bias', [2]]);
  return s;
}

interface Timing {
  min: number;
  median: number;
}
const summarize = (xs: number[]): Timing => ({ min: round(Math.min(...xs)), median: round(median(xs)) });

/** Both kernels, with and without clipping, on one shared set of gradients, taking turns. */
function timeTfjs(shape: Shape, rounds: number): Record<string, Timing> {
  const shapes = bertShapes(shape);
  const grads: tf.NamedTensorMap = Object.fromEntries(shapes.map(([name, s]) => [name, tf.randomNormal(s, 0, 1e-3)]));
  const contenders = (['ops', 'fused'] as const).map((kernel) => {
    const params = new Map(shapes.map(([name, s]) => [name, tf.variable(tf.randomNormal(s, 0, 0.02), true, `${name}/${kernel}`)]));
    const opt = new AdamW(params, { lr: 5e-5, weightDecay: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-6, kernel });
    return { kernel, params, opt };
  });
  const times: Record<string, number[]> = {};
  for (let r = -1; r < rounds; r++) {
    for (const clip of [false, true]) {
      for (const { kernel, params, opt } of contenders) {
        const t0 = performance.now();
        if (clip) {
          const { totalNorm, scale } = clipScale(grads, 1.0);
          opt.step(grads, { gradScale: scale });
          tf.dispose([totalNorm, scale]);
        } else {
          opt.step(grads);
        }
        // tfjs-node runs ops synchronously; reading one value makes sure nothing is pending.
        params.get('classifier.bias')!.dataSync();
        const ms = performance.now() - t0;
        if (r >= 0) (times[`${shape.name}/${kernel}/${clip ? 'clip+step' : 'step'}`] ??= []).push(ms); // round -1 warms up
      }
    }
  }
  for (const { params, opt } of contenders) {
    opt.dispose();
    tf.dispose([...params.values()]);
  }
  tf.dispose(grads);
  return Object.fromEntries(Object.entries(times).map(([k, xs]) => [k, summarize(xs)]));
}

const PYTHON = String.raw`
import json, sys, time, torch
shapes, rounds = json.loads(sys.argv[1]), json.loads(sys.argv[2])
out = {}
for model, named in shapes.items():
    grads = [torch.randn(s) * 1e-3 for _, s in named]
    no_decay = [n.endswith('.bias') or n.endswith('LayerNorm.weight') for n, _ in named]
    contenders = []
    for foreach in (False, True):
        params = [torch.nn.Parameter(torch.randn(s) * 0.02) for _, s in named]
        groups = [{'params': [p for p, nd in zip(params, no_decay) if not nd], 'weight_decay': 0.01},
                  {'params': [p for p, nd in zip(params, no_decay) if nd], 'weight_decay': 0.0}]
        contenders.append((foreach, params, torch.optim.AdamW(groups, lr=5e-5, eps=1e-6, foreach=foreach)))
    times = {}
    for r in range(-1, rounds[model]):
        for clip in (False, True):
            for foreach, params, opt in contenders:
                for p, g in zip(params, grads): p.grad = g.clone()  # clipping scales gradients in place
                t0 = time.perf_counter()
                if clip: torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=foreach)
                opt.step()
                ms = (time.perf_counter() - t0) * 1000
                if r >= 0: times.setdefault(f"{model}/{'foreach' if foreach else 'single'}/{'clip+step' if clip else 'step'}", []).append(ms)
    for k, xs in times.items():
        out[k] = {'min': round(min(xs), 1), 'median': round(sorted(xs)[len(xs) // 2], 1)}
    del contenders, grads
print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'ms': out}))
`;

async function main() {
  const backend = await initBackend();
  const roundsOf = (m: Shape) => (m.hidden >= 768 ? repeat : repeat * 6);
  const result: Record<string, unknown> = {
    bench: 'adamw-step',
    date: new Date().toISOString(),
    cpu: os.cpus()[0]?.model,
    cores: os.cpus().length,
    loadavg: os.loadavg().map((x) => round(x, 2)),
    backend,
    models: Object.fromEntries(
      MODELS.map((m) => [
        m.name,
        { tensors: bertShapes(m).length, floats: bertShapes(m).reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0), rounds: roundsOf(m) },
      ]),
    ),
  };
  const tfjs: Record<string, Timing> = {};
  for (const model of MODELS) {
    for (const [key, t] of Object.entries(timeTfjs(model, roundsOf(model)))) {
      tfjs[key] = t;
      console.error(`${key}: min ${t.min} ms, median ${t.median} ms`);
    }
  }
  result.tfjs_ms = tfjs;
  if (!values['no-python']) {
    const py = path.join(REPO, '.venv', 'bin', 'python');
    const shapes = Object.fromEntries(MODELS.map((m) => [m.name, bertShapes(m)]));
    const rounds = Object.fromEntries(MODELS.map((m) => [m.name, roundsOf(m)]));
    const r = cp.spawnSync(py, ['-c', PYTHON, JSON.stringify(shapes), JSON.stringify(rounds)], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (r.status === 0) {
      const torch = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
      result.pytorch = torch;
      for (const [k, t] of Object.entries<Timing>(torch.ms)) console.error(`pytorch ${k}: min ${t.min} ms, median ${t.median} ms`);
    } else {
      result.pytorch = { error: (r.stderr || String(r.error)).trim().split('\n').at(-1) };
    }
  }
  result.loadavg_after = os.loadavg().map((x) => round(x, 2));
  console.log(JSON.stringify(result));
  if (values.out) writeJsonAtomic(values.out, result);
}

main();
