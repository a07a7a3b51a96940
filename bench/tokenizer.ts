// How fast our tokenizer is next to Python's: all 150,000 NSMC training sentences, truncated to
// 128 tokens (the settings' maxSeqLength), with src/tokenizer/tokenizer.ts and, in the same run on the same
// machine, Hugging Face's Rust BertTokenizerFast in one batch call (bench/tokenizer_py.py).
// Usage: node --import tsx bench/tokenizer.ts [--max-length 128] [--slow-sample 10000]
//   (NLPBOOK_PYTHON picks the Python; default .venv/bin/python)
//   -> one JSON line on stdout, also written to bench/results/tokenizer.json
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';
import { BertTokenizer } from '../src/tokenizer/index';

const REPO = path.resolve(__dirname, '..');
const SHARED = path.resolve(process.env.NLPBOOK_SHARED ?? path.join(REPO, '..', 'shared'));
const MODEL = path.join(SHARED, 'models', 'kcbert-base');
const TRAIN = path.join(SHARED, 'data', 'nsmc', 'ratings_train.txt');
const { values } = parseArgs({
  options: { 'max-length': { type: 'string', default: '128' }, 'slow-sample': { type: 'string', default: '10000' } },
});
const maxLength = Number(values['max-length']);

// The file read simply (lines, tab-split), the same way on both sides: the bench times tokenizing.
const texts = fs.readFileSync(TRAIN, 'utf8').split('\n').slice(1).filter(Boolean).map((line) => line.split('\t')[1]);

function timeOurs() {
  let t0 = performance.now();
  const tokenizer = BertTokenizer.fromFolder(MODEL);
  const loadMs = performance.now() - t0;
  const runs: number[] = [];
  let ids = 0;
  for (let r = 0; r < 2; r++) {
    // The first run is the honest figure: the per-word cache starts empty.
    t0 = performance.now();
    const encoded = tokenizer.encodeBatch(texts, { maxLength });
    runs.push((performance.now() - t0) / 1000);
    ids = encoded.reduce((n, e) => n + e.inputIds.length, 0);
  }
  return {
    tokenizer: 'src/tokenizer/tokenizer.ts (@huggingface/tokenizers, one thread)',
    sentences: texts.length,
    ids,
    seconds: round(runs[0], 3),
    sentencesPerSec: Math.round(texts.length / runs[0]),
    secondRunSentencesPerSec: Math.round(texts.length / runs[1]),
    loadMs: round(loadMs, 1),
    node: process.version,
  };
}

function timePython(): Record<string, any> {
  const python = process.env.NLPBOOK_PYTHON ?? path.join(REPO, '.venv', 'bin', 'python');
  if (!fs.existsSync(python)) return { skipped: `no Python at ${python} (set NLPBOOK_PYTHON)` };
  const script = path.join(REPO, 'bench', 'tokenizer_py.py');
  const r = cp.spawnSync(python, [script, MODEL, TRAIN, String(maxLength), String(values['slow-sample'])], { encoding: 'utf8' });
  if (r.status !== 0) return { skipped: r.stderr.trim().split('\n').pop() ?? 'python failed' };
  return JSON.parse(r.stdout);
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

const ts = timeOurs();
const python = timePython();
const result = {
  sentences: texts.length,
  maxLength,
  ts,
  python,
  ratio: python.sentencesPerSec ? round(ts.sentencesPerSec / python.sentencesPerSec, 2) : null,
  sameIdCount: python.ids === undefined ? null : python.ids === ts.ids,
  cpu: os.cpus()[0]?.model,
  cores: os.cpus().length,
  loadAverage: os.loadavg().map((x) => round(x, 2)),
};
console.log(JSON.stringify(result));
const out = path.join(REPO, 'bench', 'results', 'tokenizer.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
