// How long the features of the training split take: building them (tokenizing every
// sentence, src/data/dataset.ts) and loading them back from the cache, next to the reference,
// ratsnlp's ClassificationDataset in CPython on the same texts in the same run:
// BertTokenizer (slow, as the book uses it) with padding="max_length", InputFeatures,
// torch.save / torch.load of the cache. The fast (Rust) tokenizer is timed too, for scale.
// Python tokenizes each sentence list once per tokenizer (its first, cold build).
// Usage: node --import tsx bench/dataset-cache.ts [--rows 150000] [--repeat 3] [--no-python] [--out FILE]
//   -> one JSON line on stdout, also written (pretty) to bench/results/dataset-cache.json (progress on stderr)
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';
import { NsmcCorpus, nsmcPath } from '../src/corpus/index';
import { ClassificationDataset } from '../src/data/index';
import { writeJsonAtomic } from '../src/util/fsutil';
import { DEFAULT_SETTINGS } from '../src/settings/index';
import { BertTokenizer } from '../src/tokenizer/index';

const REPO = path.resolve(__dirname, '..');
const SHARED = path.resolve(process.env.NLPBOOK_SHARED ?? path.join(REPO, '..', 'shared'));
const KCBERT = path.join(SHARED, 'models', 'kcbert-base');
const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '150000' },
    repeat: { type: 'string', default: '3' },
    'no-python': { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(REPO, 'bench', 'results', 'dataset-cache.json') },
  },
});
const rows = Number(values.rows);
const repeat = Number(values.repeat);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
const loadAtStart = os.loadavg()[0];

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nlpbook-bench-'));
process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));
fs.mkdirSync(path.join(root, 'nsmc'));
for (const split of ['train', 'test'] as const) {
  const lines = fs.readFileSync(path.join(SHARED, 'data', 'nsmc', path.basename(nsmcPath('', split))), 'utf8').split('\n');
  fs.writeFileSync(nsmcPath(root, split), lines.slice(0, rows + 1).join('\n') + '\n');
}
const settings = { ...DEFAULT_SETTINGS, downstreamCorpusRootDir: root, tqdmEnabled: false };
const corpus = new NsmcCorpus(settings);
const tokenizer = BertTokenizer.fromFolder(KCBERT, 'beomi/kcbert-base');
corpus.examples('train'); // parse once: bench/corpus-parse.ts times that
const quiet = { log: () => {} };

function timed<T>(f: () => T): [T, number] {
  const t0 = process.hrtime.bigint();
  const value = f();
  return [value, Number(process.hrtime.bigint() - t0) / 1e9];
}

const builds: number[] = [];
const loads: number[] = [];
let dataset!: ClassificationDataset;
for (let i = 0; i < repeat; i++) {
  const [built, b] = timed(() => new ClassificationDataset({ ...settings, overwriteCache: true }, corpus, tokenizer, 'train', quiet));
  const [loaded, l] = timed(() => new ClassificationDataset(settings, corpus, tokenizer, 'train', quiet));
  if (built.fromCache || !loaded.fromCache) throw new Error('expected a build, then a cache load');
  builds.push(b);
  loads.push(l);
  dataset = loaded;
}
const cacheBytes = fs.statSync(dataset.cachePath).size;

// ratsnlp's way, on exactly the same sentences (the train part of the same split).
const PY = `
import json, sys, time, pickle, os, dataclasses, tempfile
from typing import List, Optional
import torch
from transformers import BertTokenizer, BertTokenizerFast
texts, labels = json.load(open(sys.argv[1], encoding="utf-8"))
kcbert, max_len = sys.argv[2], 128

@dataclasses.dataclass
class ClassificationFeatures:  # ratsnlp.nlpbook.classification.corpus
    input_ids: List[int]
    attention_mask: Optional[List[int]] = None
    token_type_ids: Optional[List[int]] = None
    label: Optional[int] = None

def build(tok):
    t0 = time.perf_counter()
    enc = tok(texts, max_length=max_len, padding="max_length", truncation=True)
    feats = []
    for i in range(len(texts)):
        inputs = {k: enc[k][i] for k in enc}
        feats.append(ClassificationFeatures(**inputs, label=labels[i]))
    return feats, time.perf_counter() - t0

out = {"python": sys.version.split()[0], "torch": torch.__version__}
slow = BertTokenizer.from_pretrained(kcbert, do_lower_case=False)
feats, out["buildSlowSeconds"] = build(slow)
fast = BertTokenizerFast.from_pretrained(kcbert, do_lower_case=False)
_, out["buildFastSeconds"] = build(fast)
path = os.path.join(tempfile.mkdtemp(), "cached_train")
t0 = time.perf_counter(); torch.save(feats, path); out["saveSeconds"] = time.perf_counter() - t0
loads = []
for _ in range(int(sys.argv[3])):
    t0 = time.perf_counter(); torch.load(path, weights_only=False); loads.append(time.perf_counter() - t0)
out["loadSeconds"] = sorted(loads)[len(loads) // 2]
out["cacheBytes"] = os.path.getsize(path)
os.remove(path)
print(json.dumps(out))
`;

function timePython(): Record<string, unknown> {
  if (values['no-python']) return { skipped: '--no-python' };
  const py = path.join(REPO, '.venv', 'bin', 'python');
  if (!fs.existsSync(py)) return { skipped: 'no .venv/bin/python' };
  const examples = corpus.examples('train');
  const indices = Array.from({ length: dataset.length }, (_, i) => dataset.sourceIndex(i));
  const input = path.join(root, 'texts.json');
  fs.writeFileSync(input, JSON.stringify([indices.map((i) => examples[i].text), indices.map((i) => examples[i].label)]));
  console.error(`python: tokenizing ${indices.length} sentences with the slow and the fast tokenizer...`);
  const r = cp.spawnSync(py, ['-c', PY, input, KCBERT, String(repeat)], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) return { skipped: r.stderr.trim().split('\n').pop() ?? 'python failed' };
  const out = JSON.parse(r.stdout);
  for (const k of Object.keys(out)) if (typeof out[k] === 'number' && k.endsWith('Seconds')) out[k] = round(out[k]);
  return out;
}

const result = {
  bench: 'dataset-cache',
  node: process.version,
  cpu: os.cpus()[0]?.model,
  cores: os.cpus().length,
  // Other work on the machine skews both sides: the 1-minute load average at the start and the end.
  loadAverage: [round(loadAtStart, 2), round(os.loadavg()[0], 2)],
  repeat,
  examples: dataset.length,
  // The first build is the one a user waits for (cold JIT, empty tokenizer word cache); later ones are warm.
  nlpbook: {
    firstBuildSeconds: round(builds[0]),
    buildSeconds: round(median(builds)),
    loadSeconds: round(median(loads)),
    builds: builds.map((b) => round(b)),
    loads: loads.map((l) => round(l)),
    cacheBytes,
    stats: dataset.stats(),
  },
  python: timePython(),
};
console.log(JSON.stringify(result));
writeJsonAtomic(values.out!, result);
