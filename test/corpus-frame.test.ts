// The notebook helpers of step 2: the danfojs view of the corpus and the SVG histogram.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'path';
import { NSMC_DIR } from './helpers';
import { corpusStats, documentLengths, readNsmc } from '../src/corpus/corpus';
import { frameHtml, labelCounts, lengthStats, toDataFrame } from '../src/corpus/index';
import { histogram, histogramSvg, niceTicks } from '../src/charts/histogram';

const examples = readNsmc(path.join(NSMC_DIR, 'ratings_test.txt'));

test('toDataFrame, labelCounts and lengthStats agree with corpusStats on the test split', () => {
  const df = toDataFrame(examples);
  assert.deepEqual(df.columns, ['id', 'document', 'label', 'length']);
  assert.deepEqual(df.shape, [50000, 4]);
  const stats = corpusStats(examples);
  const counts = labelCounts(df);
  assert.deepEqual(counts.column('count').values, [stats.negative, stats.positive]);
  assert.deepEqual(counts.column('name').values, ['부정', '긍정']);
  const lengths = lengthStats(df);
  assert.deepEqual(lengths.column('group').values, ['전체', '부정', '긍정']);
  const all = Object.fromEntries((lengths.columns as string[]).map((c) => [c, lengths.column(c).values[0]]));
  assert.equal(all.count, 50000);
  assert.equal(all.mean, stats.meanChars);
  assert.equal(all.p50, stats.p50Chars);
  assert.equal(all.p95, stats.p95Chars);
  assert.equal(all.max, stats.maxChars);
  assert.equal(all.min, 0);
  const html = frameHtml(df, 3);
  assert.equal((html.match(/<tr>/g) ?? []).length, 4);
  assert.match(html, /49997 more rows/);
  assert.ok(html.includes(examples[0].text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')));
});

test('histogram: whole-number bins for whole numbers, every value counted once', () => {
  const lengths = documentLengths(examples);
  const h = histogram(lengths, 30);
  assert.equal(h.counts.reduce((a, b) => a + b, 0), lengths.length);
  assert.ok(h.edges.every(Number.isInteger));
  assert.equal(h.counts.length + 1, h.edges.length);
  assert.deepEqual(histogram([0, 1, 2, 3], 2), { edges: [0, 2, 4], counts: [2, 2] });
  assert.deepEqual(histogram([0, 0.5, 1], 2), { edges: [0, 0.5, 1], counts: [1, 2] });
  assert.deepEqual(niceTicks(0, 146), [0, 50, 100, 150]);
});

test('histogramSvg: one bar per bin, escaped Korean labels', () => {
  const svg = histogramSvg([1, 2, 2, 3, 3, 3], { bins: 3, title: '길이 <분포>', xLabel: '글자 수' });
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>$/);
  assert.equal((svg.match(/<rect x=/g) ?? []).length, 3);
  assert.ok(svg.includes('길이 &lt;분포&gt;'));
  assert.ok(svg.includes('글자 수'));
  assert.ok(svg.includes('<title>3–4: 3</title>'));
});
