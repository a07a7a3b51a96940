// A small seeded random number generator whose whole state is four integers, so a
// training run can save it in a checkpoint and resume with exactly the same draws.
// Math.random() cannot be seeded or saved, hence this. Algorithm: xoshiro128**
// (Blackman & Vigna), seeded through splitmix32 so that nearby seeds (7, 8, ...)
// still give unrelated streams.
import { check } from './errors';

/** Four uint32 words: everything an `Rng` needs to continue its sequence. */
export type RngState = [number, number, number, number];

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** A generator seeded from an integer (any safe integer, negative included). */
  constructor(seed: number) {
    check(Number.isSafeInteger(seed), `random seed: expected a safe integer, got ${seed}`);
    // Fold the high bits in too, so seeds that differ only above bit 32 differ.
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 0x1_0000_0000) >>> 0;
    const mix = splitmix32(lo ^ Math.imul(hi, 0x9e3779b9));
    this.s0 = mix();
    this.s1 = mix();
    this.s2 = mix();
    this.s3 = mix();
    // xoshiro must never be all zeros (it would stay zero forever).
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Continues exactly where the generator that produced `state` (via getState) stopped. */
  static fromState(state: readonly number[]): Rng {
    check(
      Array.isArray(state) && state.length === 4 && state.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff),
      () => `random state: expected 4 uint32 words, got ${JSON.stringify(state)}`,
    );
    check(state.some((w) => w !== 0), 'random state: all four words are 0 (not a valid xoshiro128** state)');
    const rng = new Rng(0);
    [rng.s0, rng.s1, rng.s2, rng.s3] = state as RngState;
    return rng;
  }

  /** The full state, as plain numbers (JSON-friendly). */
  getState(): RngState {
    return [this.s0, this.s1, this.s2, this.s3];
  }

  /** A copy that continues the same sequence independently. */
  clone(): Rng {
    return Rng.fromState(this.getState());
  }

  /** The next uniformly distributed uint32. */
  next(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    this.s3 >>>= 0;
    return result;
  }

  /** A uniform float in [0, 1) with 53 random bits. */
  float(): number {
    const high = this.next() >>> 5; // 27 bits
    const low = this.next() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** A uniform integer in [0, n), without modulo bias (1 <= n <= 2^32). */
  int(n: number): number {
    check(Number.isInteger(n) && n >= 1 && n <= 0x1_0000_0000, `random int: expected an integer range 1..2^32, got ${n}`);
    // Reject the top sliver of the uint32 range that would make some values more likely.
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % n);
    for (;;) {
      const x = this.next();
      if (x < limit) return x % n;
    }
  }

  /** Shuffles `array` in place (Fisher–Yates) and returns it. */
  shuffle<T, A extends { length: number; [i: number]: T }>(array: A): A {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /** 0..n-1 in random order. */
  permutation(n: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    return this.shuffle(out);
  }

  /**
   * An independent generator for one named purpose ("split", "epoch-3", ...), derived
   * from this generator's current state and the label. It does not advance this
   * generator, so adding a new fork elsewhere never changes the existing streams,
   * and the same (state, label) always gives the same stream.
   */
  fork(label: string | number): Rng {
    const h = hashLabel(String(label));
    const mix = splitmix32((this.s0 ^ h) >>> 0);
    const child = new Rng(0);
    child.s0 = (mix() ^ this.s1) >>> 0;
    child.s1 = (mix() ^ this.s2) >>> 0;
    child.s2 = (mix() ^ this.s3) >>> 0;
    child.s3 = (mix() ^ h) >>> 0;
    // Scramble once more so the child's words do not share bits with the parent's.
    const again = splitmix32(child.s0 ^ child.s1 ^ child.s2 ^ child.s3);
    child.s0 = (child.s0 ^ again()) >>> 0;
    child.s1 = (child.s1 ^ again()) >>> 0;
    child.s2 = (child.s2 ^ again()) >>> 0;
    child.s3 = (child.s3 ^ again()) >>> 0;
    if ((child.s0 | child.s1 | child.s2 | child.s3) === 0) child.s0 = 1;
    return child;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** splitmix32: turns one 32-bit seed into a stream of well-mixed words. */
function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** FNV-1a over the label's UTF-16 code units: a stable 32-bit name for a stream. */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
