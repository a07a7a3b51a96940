// `nlpbook bench train`: the real CLI on a tiny BERT for 2 steps prints one JSON line
// with the timing fields and the shape it was asked for (no timing assertions: speed
// figures live in bench/results). Bad flags give one-line errors.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { jsonLines, runCli } from './helpers';

test('bench train --json: one JSON line with msPerStep, tokensPerSec, shape, params', () => {
  const r = runCli(['bench', 'train', '--layers', '1', '--hidden', '16', '--heads', '2', '--intermediate', '32', '--vocab', '100',
    '--batch', '4', '--seq', '8', '--steps', '2', '--warmup', '1', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const lines = jsonLines(r.stdout);
  assert.equal(lines.length, 1);
  const out = lines[0];
  for (const k of ['msPerStep', 'tokensPerSec', 'medianMs', 'minMs', 'cpuMsPerStep']) {
    assert.ok(typeof out[k] === 'number' && out[k] > 0 && Number.isFinite(out[k]), `${k}: ${out[k]}`);
  }
  assert.ok(out.minMs <= out.medianMs);
  assert.equal(out.msPerStep, out.medianMs);
  // tokensPerSec counts batch x seq positions per median step.
  assert.ok(Math.abs(out.tokensPerSec / ((4 * 8) / (out.msPerStep / 1000)) - 1) < 2e-3);
  assert.deepEqual(out.shape, { layers: 1, hidden: 16, heads: 2, intermediate: 32, vocab: 100, batch: 4, seq: 8 });
  assert.equal(out.steps, 2);
  assert.equal(out.warmupSteps, 1);
  // Embeddings 100·16 + 300·16 + 2·16 + 2·16, one layer 4·(16·16+16) + 2·16 + 16·32+32 + 32·16+16 + 2·16, pooler 16·16+16, classifier 2·16+2.
  assert.equal(out.params, 100 * 16 + 300 * 16 + 32 + 32 + 4 * 272 + 32 + 544 + 528 + 32 + 272 + 34);
  assert.equal(typeof out.backend, 'string');
  assert.equal(out.bf16, false);
  assert.equal(out.freezeWordEmbeddings, false);
  assert.ok(Array.isArray(out.loadavg) && out.loadavg.length === 3);
  // --bf16: the same step with bfloat16 matmuls, said in the result (on the graph path only).
  const b = runCli(['bench', 'train', '--layers', '1', '--hidden', '16', '--heads', '2', '--intermediate', '32', '--vocab', '100',
    '--batch', '4', '--seq', '8', '--steps', '2', '--warmup', '1', '--bf16', '--freeze-word-embeddings', '--json']);
  assert.equal(b.status, 0, b.stderr);
  const bf = jsonLines(b.stdout)[0];
  assert.equal(bf.bf16, bf.mode === 'graph');
  // --freeze-word-embeddings: said in the result and in the step's description.
  assert.equal(bf.freezeWordEmbeddings, true);
  assert.match(bf.step, /word embeddings frozen/);
});

test('bench: unknown benchmark and bad numbers are one-line errors', () => {
  const a = runCli(['bench', 'fly']);
  assert.equal(a.status, 1);
  assert.match(a.stderr.trim(), /^nlpbook bench: expected the benchmark name "train"/m);
  const b = runCli(['bench', 'train', '--hidden', '10', '--heads', '3', '--steps', '1']);
  assert.equal(b.status, 1);
  assert.match(b.stderr, /nlpbook bench: bench train: --hidden 10 is not a multiple of --heads 3/);
  const c = runCli(['bench', 'train', '--steps', 'x']);
  assert.equal(c.status, 1);
  assert.match(c.stderr, /nlpbook bench: --steps: expected a whole number, got "x"/);
});
