// How long reading NSMC takes: this library's reader (src/corpus/corpus.ts, Python csv
// semantics) next to the reference, ratsnlp's NsmcCorpus way in CPython
// (list(csv.reader(...)) + the unpacking loop), on the same machine in one run.
// Usage: node --import tsx bench/corpus-parse.ts [--repeat 5]
//   -> one JSON line on stdout, also written to bench/results/corpus-parse.json
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';
import { readNsmcFile } from '../src/corpus/index';

const REPO = path.resolve(__dirname, '..');
const NSMC = path.resolve(process.env.NLPBOOK_SHARED ?? path.join(REPO, '..', 'shared'), 'data', 'nsmc');
const { values } = parseArgs({ options: { repeat: { type: 'string', default: '5' } } });
const repeat = Number(values.repeat);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

function timeOurs(file: string): { ms: number; rows: number } {
  const times: number[] = [];
  let rows = 0;
  for (let i = 0; i < repeat; i++) {
    const t0 = process.hrtime.bigint();
    rows = readNsmcFile(file).examples.length;
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { ms: Math.round(median(times) * 10) / 10, rows };
}

const PY = `
import csv, sys, time, json
f, n = sys.argv[1], int(sys.argv[2])
ts = []
for _ in range(n):
    t0 = time.perf_counter()
    lines = list(csv.reader(open(f, "r", encoding="utf-8"), delimiter="\\t", quotechar='"'))
    ex = []
    for i, line in enumerate(lines):
        if i == 0:
            continue
        _, text_a, label = line
        ex.append((text_a, label))
    ts.append((time.perf_counter() - t0) * 1000)
ts.sort()
print(json.dumps({"ms": round(ts[len(ts) // 2], 1), "rows": len(ex), "python": sys.version.split()[0]}))
`;

function timePython(file: string): { ms: number; rows: number; python: string } | { skipped: string } {
  const py = path.join(REPO, '.venv', 'bin', 'python');
  if (!fs.existsSync(py)) return { skipped: 'no .venv/bin/python' };
  const r = cp.spawnSync(py, ['-c', PY, file, String(repeat)], { encoding: 'utf8' });
  if (r.status !== 0) return { skipped: r.stderr.trim().split('\n').pop() ?? 'python failed' };
  return JSON.parse(r.stdout);
}

const result: Record<string, unknown> = {
  bench: 'corpus-parse',
  node: process.version,
  cpu: os.cpus()[0]?.model,
  cores: os.cpus().length,
  repeat,
};
for (const split of ['train', 'test']) {
  const file = path.join(NSMC, `ratings_${split}.txt`);
  result[split] = { nlpbook: timeOurs(file), python: timePython(file) };
}
console.log(JSON.stringify(result));
const out = path.join(REPO, 'bench', 'results', 'corpus-parse.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
