import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Rng } from '../src/util/random';
import { NlpbookError } from '../src/util/errors';

test('xoshiro128** matches the reference C implementation on a known state', () => {
  // Expected words printed by the authors' xoshiro128starstar.c with this state.
  const rng = Rng.fromState([0x9e3779b9, 0xdeadbeef, 123456789, 0xffffffff]);
  const got = Array.from({ length: 8 }, () => rng.next());
  assert.deepEqual(got, [1162347276, 2003232075, 4030867362, 672650598, 821386542, 1168166328, 2776743195, 1303379782]);
});

test('same seed gives the same sequence; different seeds differ', () => {
  const draw = (seed: number) => {
    const r = new Rng(seed);
    return Array.from({ length: 20 }, () => r.next());
  };
  assert.deepEqual(draw(7), draw(7));
  assert.notDeepEqual(draw(7), draw(8));
  assert.notDeepEqual(draw(0), draw(2 ** 32)); // high bits of the seed count too
  assert.notDeepEqual(draw(-1), draw(1));
  for (const w of draw(42)) assert.ok(Number.isInteger(w) && w >= 0 && w < 2 ** 32);
});

test('state round trip through JSON continues the exact sequence', () => {
  const a = new Rng(123);
  for (let i = 0; i < 37; i++) a.next();
  const saved = JSON.parse(JSON.stringify(a.getState()));
  const b = Rng.fromState(saved);
  const fromA = [a.next(), a.float(), a.int(1000), ...a.shuffle([1, 2, 3, 4, 5, 6])];
  const fromB = [b.next(), b.float(), b.int(1000), ...b.shuffle([1, 2, 3, 4, 5, 6])];
  assert.deepEqual(fromB, fromA);
  const c = a.clone();
  assert.equal(c.next(), a.next());
});

test('bad seeds and states are refused with one-line errors', () => {
  assert.throws(() => new Rng(1.5), NlpbookError);
  assert.throws(() => Rng.fromState([0, 0, 0, 0]), /all four words are 0/);
  assert.throws(() => Rng.fromState([1, 2, 3]), /expected 4 uint32 words/);
  assert.throws(() => Rng.fromState([1, 2, 3, 2 ** 32]), /expected 4 uint32 words/);
  assert.throws(() => new Rng(1).int(0), /expected an integer range/);
});

test('int(n) is uniform: chi-square over 10 bins stays under the 99.9% bound', () => {
  const rng = new Rng(2024);
  const bins = 10;
  const n = 100_000;
  const counts = new Array(bins).fill(0);
  for (let i = 0; i < n; i++) counts[rng.int(bins)]++;
  const expected = n / bins;
  const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
  assert.ok(chi2 < 27.88, `chi-square ${chi2.toFixed(2)} >= 27.88 (df=9, p=0.001): counts ${counts}`);
  // A degenerate generator (e.g. always the same bin) would fail this loudly.
  assert.ok(Math.min(...counts) > 0.9 * expected);
});

test('float() is in [0, 1) with mean about 1/2 and uses the low bits too', () => {
  const rng = new Rng(5);
  let sum = 0;
  let odd = 0;
  const n = 50_000;
  for (let i = 0; i < n; i++) {
    const x = rng.float();
    assert.ok(x >= 0 && x < 1);
    sum += x;
    if (Math.floor(x * 2 ** 40) % 2 === 1) odd++;
  }
  // Standard error of the mean is 1/sqrt(12n) ~ 0.0013; 5 sigma.
  assert.ok(Math.abs(sum / n - 0.5) < 0.0065, `mean ${sum / n}`);
  assert.ok(Math.abs(odd / n - 0.5) < 0.02, `bit 40 set in ${odd / n} of draws`);
});

test('shuffle is a permutation and every position is reachable with equal chance', () => {
  const rng = new Rng(99);
  const firstCounts = new Array(5).fill(0);
  const n = 20_000;
  for (let t = 0; t < n; t++) {
    const arr = rng.shuffle([0, 1, 2, 3, 4]);
    assert.deepEqual([...arr].sort(), [0, 1, 2, 3, 4]);
    firstCounts[arr[0]]++;
  }
  const expected = n / 5;
  const chi2 = firstCounts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
  assert.ok(chi2 < 18.47, `chi-square ${chi2.toFixed(2)} >= 18.47 (df=4, p=0.001): ${firstCounts}`);
  const perm = new Rng(1).permutation(1000);
  assert.deepEqual(Array.from(perm).sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
});

test('fork gives independent, reproducible streams without advancing the parent', () => {
  const parent = new Rng(7);
  const before = parent.getState();
  const a1 = parent.fork('epoch-1');
  const a2 = parent.fork('epoch-1');
  const b = parent.fork('epoch-2');
  assert.deepEqual(parent.getState(), before);
  const seq = (r: Rng) => Array.from({ length: 10 }, () => r.next());
  const sa = seq(a1);
  assert.deepEqual(seq(a2), sa);
  assert.notDeepEqual(seq(b), sa);
  assert.notDeepEqual(seq(parent.clone()), sa);
  // Streams of different labels are uncorrelated: matching bits near 50%.
  const x = parent.fork('x');
  const y = parent.fork('y');
  let same = 0;
  for (let i = 0; i < 2000; i++) same += popcount(~(x.next() ^ y.next()));
  const share = same / (2000 * 32);
  assert.ok(Math.abs(share - 0.5) < 0.01, `matching-bit share ${share}`);
});

function popcount(v: number): number {
  v >>>= 0;
  let c = 0;
  while (v) {
    c += v & 1;
    v >>>= 1;
  }
  return c;
}
