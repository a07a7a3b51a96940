// Hostile weight files: a pytorch_model.bin is a zip holding a pickle program and raw
// storages, and every length, count and size in it comes from whoever made the file. The
// loader must refuse bad ones at once with one line naming the file: a negative length that
// would send the pickle machine backwards (it used to loop forever), lengths past the end, a
// zip bomb (1 MB that inflates to 1 GiB: refused before inflating, or as soon as the output
// passes the declared size, never by allocating it), sizes beyond what the model's config can
// use, a safetensors header of absurd length. Real files, built here byte by byte.
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { initBackend } from '../src/util/backend';
import { NlpbookError } from '../src/util/errors';
import { BertForSequenceClassification } from '../src/model/index';
import { loadWeights, openWeights, weightsByteLimit } from '../src/model/checkpoint';
import { TorchCheckpoint, unpickle } from '../src/model/torch-pickle';
import { ZipReader } from '../src/model/zip';
import { FIXTURES, REPO, tempDir } from './helpers';

const TINY = path.join(FIXTURES, 'tiny-bert');
const GiB = 1024 * 1024 * 1024;

before(async () => {
  await initBackend({ quiet: true });
});

function assertOneLine(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof NlpbookError, `expected NlpbookError, got ${String(e)}`);
    assert.ok(!e.message.includes('\n'), `expected one line, got: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

// ---------------------------------------------------------------- building files

interface Entry {
  name: string;
  /** The bytes as stored in the archive (already deflated when `method` is 8). */
  data: Uint8Array;
  method?: 0 | 8;
  /** The uncompressed size the archive declares (default: data's length, for stored entries). */
  size?: number;
}

/** A zip archive with exactly the declared sizes given (true or not). */
function makeZip(entries: Entry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const size = e.size ?? e.data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(e.method ?? 0, 8);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(e.method ?? 0, 10);
    central.writeUInt32LE(e.data.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, Buffer.from(e.data));
    centrals.push(central, name);
    offset += 30 + name.length + e.data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** A raw deflate stream of `mib` MiB of zeros, built without ever holding them: one 1 MiB block
 * compressed with a full flush (so it depends on nothing before it) repeated, then a final empty block. */
function zeroBomb(mib: number): Buffer {
  const block = zlib.deflateRawSync(Buffer.alloc(1 << 20), { finishFlush: zlib.constants.Z_FULL_FLUSH });
  return Buffer.concat([...Array<Buffer>(mib).fill(block), zlib.deflateRawSync(Buffer.alloc(0))]);
}

type Part = string | number[] | { str: string } | { int: number } | { global: string };

/** Pickle bytes: opcodes as latin1 strings or byte lists, BINUNICODE strings, BININT ints, GLOBALs; STOP added. */
function pickle(...parts: Part[]): Buffer {
  const out: Buffer[] = [Buffer.from([0x80, 2])];
  for (const p of parts) {
    if (typeof p === 'string') out.push(Buffer.from(p, 'latin1'));
    else if (Array.isArray(p)) out.push(Buffer.from(p));
    else if ('str' in p) {
      const b = Buffer.from(p.str);
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.length);
      out.push(Buffer.from('X'), len, b);
    } else if ('int' in p) {
      const b = Buffer.alloc(5);
      b.write('J', 'latin1');
      b.writeInt32LE(p.int, 1);
      out.push(b);
    } else {
      const dot = p.global.lastIndexOf('.');
      out.push(Buffer.from(`c${p.global.slice(0, dot)}\n${p.global.slice(dot + 1)}\n`));
    }
  }
  out.push(Buffer.from('.'));
  return Buffer.concat(out);
}

/** torch.save's record of a float32 tensor: a `shape` view at offset 0 of storage `key` holding `numel` elements. */
function tensorRecord(key: string, numel: number, shape: number[]): Part[] {
  const stride = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  return [
    { global: 'torch._utils._rebuild_tensor_v2' }, '((', { str: 'storage' }, { global: 'torch.FloatStorage' }, { str: key }, { str: 'cpu' }, { int: numel }, 't', 'Q',
    { int: 0 }, '(', ...shape.map((d) => ({ int: d })), 't', '(', ...stride.map((d) => ({ int: d })), 't', [0x89],
    { global: 'collections.OrderedDict' }, ')', 'R', 't', 'R',
  ];
}

/** A model folder: the tiny config and `bin` as pytorch_model.bin. */
function modelDir(bin: Buffer): string {
  const dir = tempDir('nlpbook-hostile-');
  fs.copyFileSync(path.join(TINY, 'config.json'), path.join(dir, 'config.json'));
  fs.writeFileSync(path.join(dir, 'pytorch_model.bin'), bin);
  return dir;
}

const WORD_EMBEDDINGS = 'bert.embeddings.word_embeddings.weight';
const WORD_SHAPE = [30000, 16]; // the tiny config's vocab_size x hidden_size

// ---------------------------------------------------------------- the pickle machine

/** The 11-byte pickles of the report: PROTO 2, an opcode with length -7 (back to byte 0), NONE NONE NONE, STOP. */
const NEGATIVE_BINSTRING = Buffer.from([0x80, 0x02, 0x54, 0xf9, 0xff, 0xff, 0xff, 0x4e, 0x4e, 0x4e, 0x2e]);
const NEGATIVE_LONG4 = Buffer.from([0x80, 0x02, 0x8b, 0xf9, 0xff, 0xff, 0xff, 0x4e, 0x4e, 0x4e, 0x2e]);

test('a negative BINSTRING / LONG4 length (the 11-byte pickle) is refused at once, not looped on forever', () => {
  assert.equal(NEGATIVE_BINSTRING.length, 11);
  const files = [NEGATIVE_BINSTRING, NEGATIVE_LONG4].map((pkl) => {
    const file = path.join(tempDir(), 'pytorch_model.bin');
    fs.writeFileSync(file, makeZip([{ name: 'archive/data.pkl', data: pkl }]));
    return file;
  });
  // In a child with a time limit: were the machine to loop again, this fails instead of hanging the suite.
  const code = `
    const { TorchCheckpoint } = require(${JSON.stringify(path.join(REPO, 'src', 'model', 'torch-pickle'))});
    for (const file of ${JSON.stringify(files)}) {
      try { TorchCheckpoint.open(file); console.log('OPENED'); } catch (e) { console.log(e.constructor.name + ': ' + e.message); }
    }`;
  const t0 = Date.now();
  const r = cp.spawnSync(process.execPath, ['--import', 'tsx', '-e', code], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.signal, null, `the loader was stopped by ${r.signal} after ${Date.now() - t0} ms: it loops`);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.deepEqual(lines, [
    `NlpbookError: ${files[0]}: negative BINSTRING length -7 (malformed pickle) (at byte 7 of the pickle)`,
    `NlpbookError: ${files[1]}: negative LONG4 length -7 (malformed pickle) (at byte 7 of the pickle)`,
  ]);
  // And through the model loader, in this process.
  assertOneLine(() => BertForSequenceClassification.fromPretrained(modelDir(fs.readFileSync(files[0])), { quiet: true }),
    /pytorch_model\.bin: negative BINSTRING length -7/);
});

test('every length and index in the pickle is checked: past the end, too large, negative, unset, not a number', () => {
  const u32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
  const u64max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
  const cases: [string, Part[], RegExp][] = [
    ['BINUNICODE past the end', ['X', u32(1000), 'abc'], /BINUNICODE length 1000 runs past the end of the pickle \(3 bytes left/],
    ['BINUNICODE8 of 2^64-1', [[0x8d, ...u64max]], /BINUNICODE8 length 18446744073709551615 runs past the end/],
    ['BINBYTES8 of 2^64-1', [[0x8e, ...u64max]], /BINBYTES8 length 18446744073709551615 runs past the end/],
    ['BINBYTES past the end', ['B', u32(0xfffffff0)], /BINBYTES length 4294967280 runs past the end/],
    ['SHORT_BINBYTES past the end', [[0x43, 200], 'ab'], /SHORT_BINBYTES length 200 runs past the end/],
    ['SHORT_BINSTRING past the end', [[0x55, 50], 'ab'], /SHORT_BINSTRING length 50 runs past the end/],
    ['SHORT_BINUNICODE past the end', [[0x8c, 50], 'ab'], /SHORT_BINUNICODE length 50 runs past the end/],
    ['BINSTRING of -1', ['T', u32(0xffffffff)], /negative BINSTRING length -1/],
    ['LONG1 past the end', [[0x8a, 20, 1, 2]], /LONG1 length 20 runs past the end/],
    ['LONG4 of -2^31', [[0x8b, 0, 0, 0, 0x80]], /negative LONG4 length -2147483648/],
    ['LONG4 of 4000 bytes', [[0x8b, ...u32(4000)], Array(4000).fill(1)], /LONG4 integer of 4000 bytes \(at most 256 are supported\)/],
    ['FRAME past the end', [[0x95, ...u32(1 << 30), 0, 0, 0, 0]], /FRAME length 1073741824 runs past the end/],
    ['BINGET of an unset memo', [[0x68, 7]], /memo key 7 is not set/],
    ['LONG_BINGET of an unset memo', [[0x6a, ...u32(0xffffffff)]], /memo key 4294967295 is not set/],
    ['GET of a non-number', ['N', 'g-1\n'], /GET "-1" is not a memo index/],
    ['PUT of a non-number', ['N', 'pabc\n'], /PUT "abc" is not a memo index/],
    ['INT of a non-number', ['Inan\n'], /INT argument "nan" is not an integer/],
    ['text argument without its newline', ['g12'], /unterminated text argument/],
    ['a truncated BININT', [[0x4a, 1, 2]], /the pickle ends early/],
    ['a storage with a negative element count', ['(', { str: 'storage' }, { global: 'torch.FloatStorage' }, { str: '0' }, { str: 'cpu' }, { int: -5 }, 't', 'Q'],
      /malformed storage reference/],
    ['a storage id that contains itself', [']', [0x32], 'a', 'Q'], /unsupported persistent id a tuple of 1/],
    ['OrderedDict of non-pairs', [{ global: 'collections.OrderedDict' }, '(', ']', 'K', [1], 'a', 't', 'R'], /malformed OrderedDict arguments/],
    ['an opcode torch.save never writes', ['i'], /unsupported pickle opcode 0x69/],
  ];
  for (const [what, parts, pattern] of cases) {
    const pkl = pickle(...parts).subarray(0, -1); // without STOP: each case is the end of the pickle
    assert.throws(() => unpickle(pkl, 'x/pytorch_model.bin'), (e: unknown) => {
      assert.ok(e instanceof NlpbookError && !e.message.includes('\n'), `${what}: expected a one-line NlpbookError, got ${String(e)}`);
      assert.match(e.message, new RegExp(`^x/pytorch_model\\.bin: .*${pattern.source}`), what);
      return true;
    }, what);
  }
  // A long APPENDS is fine (a loop, not push(...items) and its call-stack limit).
  const n = 300_000;
  const long = pickle(']', '(', 'N'.repeat(n), 'e');
  assert.equal((unpickle(long, 'x') as unknown[]).length, n);
  // Millions of one-byte "new dict, append" opcodes (4 MB, deflating to 4 KB) stop at the opcode budget.
  const many = pickle(']', '}a'.repeat(2_000_000));
  assertOneLine(() => unpickle(many, 'x/pytorch_model.bin'), /^x\/pytorch_model\.bin: more than 1000000 opcodes \(a state dict needs a few dozen per tensor\); refusing to go on/);
});

// ---------------------------------------------------------------- sizes: the zip and the config

/** Runs `fromPretrained` on `dir` in a fresh child; its error, time and peak-memory growth (VmHWM). */
function loadInChild(dir: string): { message: string | null; ms: number; peakGrowth: number } {
  const code = `
    const fs = require('fs');
    const { initBackend } = require(${JSON.stringify(path.join(REPO, 'src', 'util', 'backend'))});
    const { BertForSequenceClassification } = require(${JSON.stringify(path.join(REPO, 'src', 'model', 'index'))});
    const peak = () => {
      try { return Number(/VmHWM:\\s+(\\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024; }
      catch { return process.memoryUsage().rss; }
    };
    initBackend({ quiet: true }).then(() => {
      try { fs.writeFileSync('/proc/self/clear_refs', '5'); } catch {} // peak := now (Linux)
      const before = Math.max(peak(), process.memoryUsage().rss);
      const t0 = Date.now();
      let message = null;
      try { BertForSequenceClassification.fromPretrained(process.argv[1], { quiet: true }); } catch (e) { message = e.constructor.name + ': ' + e.message; }
      console.log(JSON.stringify({ message, ms: Date.now() - t0, peakGrowth: peak() - before }));
    });`;
  const r = cp.spawnSync(process.execPath, ['--import', 'tsx', '-e', code, dir], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `child: ${r.signal ?? ''} ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

test('zip bomb: 1 MB that inflates to 1 GiB is refused fast, without the memory (declared honestly, or lying)', (t) => {
  const bomb = zeroBomb(1024);
  assert.ok(bomb.length < 1.1e6, `${bomb.length} bytes`);
  // The construction is sound: a 4-block version inflates to exactly 4 MiB of zeros.
  const check = zlib.inflateRawSync(zeroBomb(4));
  assert.ok(check.length === 4 << 20 && check.every((b) => b === 0));

  const numel = WORD_SHAPE[0] * WORD_SHAPE[1];
  const pkl = (storageNumel: number): Buffer => pickle('}(', { str: WORD_EMBEDDINGS }, ...tensorRecord('0', storageNumel, WORD_SHAPE), 'u');
  // (1) The archive says it: a storage of 1 GiB (2^28 floats) for a model whose config needs ~25 MB at most.
  const honest = modelDir(makeZip([
    { name: 'archive/data.pkl', data: pkl(GiB / 4) },
    { name: 'archive/data/0', data: bomb, method: 8, size: GiB },
  ]));
  // (2) The archive lies: it declares the 1.9 MB the tensor needs, the stream inflates to 1 GiB.
  const lying = modelDir(makeZip([
    { name: 'archive/data.pkl', data: pkl(numel) },
    { name: 'archive/data/0', data: bomb, method: 8, size: numel * 4 },
  ]));
  const [a, b] = [loadInChild(honest), loadInChild(lying)];
  const limit = weightsByteLimit(BertForSequenceClassification.paramShapes(BertForSequenceClassification.fromPretrained(TINY, { quiet: true }).config).values());
  assert.match(a.message ?? '', new RegExp(`^NlpbookError: .*pytorch_model\\.bin: storage 0 declares ${GiB} bytes, more than what a model of .*config\\.json can hold \\(${limit} bytes\\); refusing to read it$`));
  assert.match(b.message ?? '', new RegExp(`^NlpbookError: .*pytorch_model\\.bin: entry archive/data/0 inflates past its declared ${numel * 4} bytes \\(corrupt, or a zip bomb\\); refused$`));
  for (const [what, r] of [['honest', a], ['lying', b]] as const) {
    t.diagnostic(`${what}: refused in ${r.ms} ms, peak memory +${(r.peakGrowth / 1e6).toFixed(1)} MB`);
    assert.ok(r.ms < 5000, `${what}: refused after ${r.ms} ms`);
    assert.ok(r.peakGrowth < 200 * 1024 * 1024, `${what}: peak memory grew by ${(r.peakGrowth / 1e6).toFixed(0)} MB`);
  }
});

test('zip: declared sizes are checked against the archive before anything is read', () => {
  const dir = tempDir();
  const file = path.join(dir, 'x.zip');
  // Deflate cannot expand 1 KB to 1 GiB (at most 1032:1): a declared size like that is a lie.
  fs.writeFileSync(file, makeZip([{ name: 'a', data: zlib.deflateRawSync(Buffer.alloc(1 << 20)), method: 8, size: GiB }]));
  assertOneLine(() => new ZipReader(file), /x\.zip: entry a declares 1073741824 bytes from \d+ compressed, more than deflate can produce \(corrupt, or a zip bomb\)/);
  // A stored entry is as long as it says, and inside the file.
  fs.writeFileSync(file, makeZip([{ name: 'a', data: Buffer.alloc(10), size: 5000 }]));
  assertOneLine(() => new ZipReader(file), /x\.zip: entry a: stored \(uncompressed\) but declares 5000 bytes from 10/);
  const cut = makeZip([{ name: 'a', data: Buffer.alloc(100) }]);
  cut.writeUInt32LE(1 << 30, 30 + 1 + 100 + 20); // the central directory's compressed size
  cut.writeUInt32LE(1 << 30, 30 + 1 + 100 + 24);
  fs.writeFileSync(file, cut);
  assertOneLine(() => new ZipReader(file), /x\.zip: entry a: 1073741824 bytes of data at offset 0 run past the end of the \d+-byte file/);
  // The caller's bound: refused before reading.
  fs.writeFileSync(file, makeZip([{ name: 'a', data: Buffer.alloc(1000) }]));
  const zip = new ZipReader(file, { maxEntryBytes: 999 });
  try {
    assertOneLine(() => zip.read('a'), /x\.zip: entry a declares 1000 bytes, more than the 999 allowed; refusing to read it/);
  } finally {
    zip.close();
  }
  // Corrupt deflate data is one line too.
  fs.writeFileSync(file, makeZip([{ name: 'a', data: Buffer.from([0xff, 0xff, 0xff]), method: 8, size: 10 }]));
  const bad = new ZipReader(file);
  try {
    assertOneLine(() => bad.read('a'), /x\.zip: entry a: corrupt deflate data/);
  } finally {
    bad.close();
  }
});

test('the config bounds the state dict: each storage and their sum; the pickle has its own bound', () => {
  // Two honest, stored storages of 16 MB each: each under the tiny config's bound (~25 MB), together over it.
  const big = 4_000_000;
  const sum = modelDir(makeZip([
    { name: 'archive/data.pkl', data: pickle('}(', { str: WORD_EMBEDDINGS }, ...tensorRecord('0', big, WORD_SHAPE), { str: 'x' }, ...tensorRecord('1', big, [2]), 'u') },
    { name: 'archive/data/0', data: Buffer.alloc(big * 4) },
    { name: 'archive/data/1', data: Buffer.alloc(big * 4) },
  ]));
  assertOneLine(() => BertForSequenceClassification.fromPretrained(sum, { quiet: true }), /pytorch_model\.bin: the state dict's storages declare over 32000000 bytes, more than what a model of .*config\.json can hold/);
  // loadWeights applies the same bound (the model's own shapes).
  const model = BertForSequenceClassification.fromPretrained(TINY, { quiet: true });
  assertOneLine(() => loadWeights(model, sum, { quiet: true }), /the state dict's storages declare over 32000000 bytes, more than what a model of its config can hold/);
  // Without a config (a bare reader) the file opens: the bound is the caller's.
  openWeights(sum).close();
  // data.pkl over 16 MiB is refused before it is read.
  const hugePickle = modelDir(makeZip([{ name: 'archive/data.pkl', data: zeroBomb(17), method: 8, size: 17 << 20 }]));
  assertOneLine(() => TorchCheckpoint.open(path.join(hugePickle, 'pytorch_model.bin')), /archive\/data\.pkl declares 17825792 bytes, more than a state dict's pickle needs \(at most 16777216\)/);
  // The real checkpoint loads as before, well inside its bound.
  const fine = modelDir(fs.readFileSync(path.join(TINY, 'pytorch_model.bin')));
  assert.deepEqual(BertForSequenceClassification.fromPretrained(fine, { quiet: true }).loadReport!.missingKeys, []);
});

test('safetensors: a header length over the bound is refused before the header is read', () => {
  const dir = tempDir('nlpbook-hostile-st-');
  fs.copyFileSync(path.join(TINY, 'config.json'), path.join(dir, 'config.json'));
  // 8 bytes saying "a 10 GB header follows", then a short real file: the length check in
  // SafetensorsFile catches "past the end"; a header that is really there but absurd (17 MiB) is refused by the bound.
  const n = (17 << 20) + 8;
  const file = Buffer.alloc(8 + n, 0x20);
  file.writeBigUInt64LE(BigInt(n));
  file.write('{}', 8);
  fs.writeFileSync(path.join(dir, 'model.safetensors'), file);
  assertOneLine(() => BertForSequenceClassification.fromPretrained(dir, { quiet: true }),
    new RegExp(`model\\.safetensors: header length ${n} is over 16777216 bytes, more than a model's tensor list needs; refusing to read it`));
  const lie = Buffer.alloc(100);
  lie.writeBigUInt64LE(10_000_000_000n);
  fs.writeFileSync(path.join(dir, 'model.safetensors'), lie);
  assertOneLine(() => openWeights(dir), /header length 10000000000 runs past the end of the file \(100 bytes\)/);
});
