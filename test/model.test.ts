// The BERT model against Python's transformers: same logits for the same weights
// and inputs (test/fixtures/tiny-bert, made by scripts/fixtures/bert.py), weight
// files read and written in Hugging Face's formats, and one-line errors for bad files.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { tf, initBackend } from '../src/util/backend';
import { NlpbookError } from '../src/util/errors';
import { loadSettings, makeSettings } from '../src/settings/index';
import { BertConfig, BertForMaskedLM, BertForSequenceClassification, BertModel } from '../src/model/index';
import { loadWeights, matchKeys, saveModel } from '../src/model/checkpoint';
import { readSafetensors, SafetensorsFile, writeSafetensors, type TensorToWrite } from '../src/model/safetensors';
import { TorchCheckpoint } from '../src/model/torch-pickle';
import { activation, dropoutMask, dropoutMaskTensor, geluErf, layerNorm, SeedStream } from '../src/model/ops';
import { FIXTURES, KCBERT_DIR, tempDir } from './helpers';

const TINY = path.join(FIXTURES, 'tiny-bert');
const TOL = 1e-4;

interface RefBatch { input_ids: number[][]; attention_mask: number[][]; token_type_ids: number[][]; logits: number[][] }
const refClassification = (): RefBatch[] => JSON.parse(fs.readFileSync(path.join(TINY, 'reference-classification.json'), 'utf8')).batches;

before(async () => {
  await initBackend({ quiet: true });
});

function maxAbsDiff(a: number[][], b: number[][]): number {
  assert.equal(a.length, b.length);
  let d = 0;
  a.forEach((row, i) => {
    assert.equal(row.length, b[i].length);
    row.forEach((v, j) => { d = Math.max(d, Math.abs(v - b[i][j])); });
  });
  return d;
}

function classify(model: BertForSequenceClassification, b: Pick<RefBatch, 'input_ids' | 'attention_mask' | 'token_type_ids'>): number[][] {
  return tf.tidy(() => model.forward({ inputIds: b.input_ids, attentionMask: b.attention_mask, tokenTypeIds: b.token_type_ids }).arraySync());
}

/** Worst difference from Python's logits over every reference batch (padding, masks and sentence pairs included). */
function worstDiff(model: BertForSequenceClassification): number {
  return Math.max(...refClassification().map((b) => maxAbsDiff(classify(model, b), b.logits)));
}

/** A model folder holding the tiny config and the tiny safetensors' tensors, renamed/filtered by `edit`. */
function variantDir(edit: (name: string) => string | null, configEdit: (c: Record<string, unknown>) => void = () => {}): string {
  const dir = tempDir('nlpbook-bert-variant-');
  const { tensors } = readSafetensors(path.join(TINY, 'model.safetensors'));
  const out = new Map<string, TensorToWrite>();
  for (const [name, t] of tensors) {
    const renamed = edit(name);
    if (renamed !== null) out.set(renamed, { shape: t.shape, data: t.data });
  }
  writeSafetensors(path.join(dir, 'model.safetensors'), out);
  const config = JSON.parse(fs.readFileSync(path.join(TINY, 'config.json'), 'utf8'));
  configEdit(config);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

function assertOneLine(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof NlpbookError, `expected NlpbookError, got ${String(e)}`);
    assert.ok(!e.message.includes('\n'), `expected one line, got: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

// ---------------------------------------------------------------- config

test('config: kcbert-base config.json reads with transformers defaults and writes back what Python expects', () => {
  const c = BertConfig.fromFile(KCBERT_DIR);
  assert.equal(c.vocabSize, 30000);
  assert.equal(c.hiddenSize, 768);
  assert.equal(c.numHiddenLayers, 12);
  assert.equal(c.maxPositionEmbeddings, 300);
  assert.equal(c.layerNormEps, 1e-12); // not in the file: transformers' default
  assert.equal(c.padTokenId, 0);
  assert.equal(c.hiddenAct, 'gelu');
  assert.equal(c.numLabels, 2);
  assert.equal(c.headSize, 64);
  assert.deepEqual(c.architectures, ['BertForMaskedLM']);
  const j = c.withLabels(2, ['negative', 'positive']).toJSON(['BertForSequenceClassification']);
  assert.equal(j.model_type, 'bert');
  assert.deepEqual(j.architectures, ['BertForSequenceClassification']);
  assert.deepEqual(j.id2label, { 0: 'negative', 1: 'positive' });
  assert.deepEqual(Object.keys(j.id2label as object), ['0', '1']);
  assert.deepEqual(j.label2id, { negative: 0, positive: 1 });
  assert.equal(j.pooler_type, 'first_token_transform'); // unknown fields are kept
  const back = BertConfig.fromJSON(JSON.parse(JSON.stringify(j)));
  assert.deepEqual(back.id2label, ['negative', 'positive']);
  assert.equal(back.vocabSize, 30000);
});

test('config: invalid fields give one-line errors naming config.json and the field', () => {
  const base = JSON.parse(fs.readFileSync(path.join(KCBERT_DIR, 'config.json'), 'utf8'));
  const bad = (patch: Record<string, unknown>, pattern: RegExp) => assertOneLine(() => BertConfig.fromJSON({ ...base, ...patch }, 'x/config.json'), pattern);
  bad({ hidden_size: 100 }, /x\/config\.json: hidden_size 100 is not a multiple of num_attention_heads 12/);
  bad({ hidden_act: 'swish' }, /x\/config\.json: hidden_act: unsupported activation "swish"/);
  bad({ vocab_size: '30000' }, /x\/config\.json: vocab_size: expected a number/);
  bad({ num_hidden_layers: 0 }, /num_hidden_layers: expected a positive integer/);
  bad({ hidden_dropout_prob: 1.5 }, /hidden_dropout_prob: expected a probability/);
  bad({ model_type: 'gpt2' }, /model_type: expected "bert"/);
  bad({ position_embedding_type: 'relative_key' }, /position_embedding_type: only "absolute"/);
  bad({ id2label: { 0: 'a', 2: 'b' } }, /id2label: keys must be 0\.\.1/);
  bad({ num_labels: 3, id2label: { 0: 'a', 1: 'b' } }, /num_labels 3 does not match id2label/);
  assert.equal(BertConfig.fromJSON({ ...base, num_labels: 3 }).numLabels, 3);
  assertOneLine(() => BertConfig.fromFile('/nonexistent/model'), /\/nonexistent\/model\/config\.json: cannot read the model config \(ENOENT\)/);
});

// ---------------------------------------------------------------- safetensors

test('safetensors: round trip of F32/I32/I64 with metadata, header padded to 8 bytes', () => {
  const dir = tempDir();
  const file = path.join(dir, 'x.safetensors');
  writeSafetensors(file, {
    'b.weight': { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, 1e-8, -7]) },
    'a.ids': { shape: [4], data: Int32Array.from([0, 1, -5, 2147483647]), dtype: 'I64' },
    'c.i32': { shape: [1, 2], data: () => Int32Array.from([7, 8]), dtype: 'I32' },
    'd.scalar': { shape: [], data: Float32Array.from([2]) },
  }, { format: 'pt', note: 'hi' });
  const bytes = fs.readFileSync(file);
  const headerLen = Number(bytes.readBigUInt64LE(0));
  assert.equal(headerLen % 8, 0);
  const header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString());
  assert.deepEqual(header.__metadata__, { format: 'pt', note: 'hi' });
  assert.deepEqual(Object.keys(header).filter((k) => k !== '__metadata__'), ['a.ids', 'b.weight', 'c.i32', 'd.scalar']);
  assert.equal(header['a.ids'].dtype, 'I64');
  const { tensors, metadata } = readSafetensors(file);
  assert.deepEqual(metadata, { format: 'pt', note: 'hi' });
  assert.deepEqual(Array.from(tensors.get('b.weight')!.data), Array.from(Float32Array.from([1, -2, 3.5, 0, 1e-8, -7])));
  assert.deepEqual(tensors.get('b.weight')!.shape, [2, 3]);
  assert.deepEqual(Array.from(tensors.get('a.ids')!.data), [0, 1, -5, 2147483647]);
  assert.equal(tensors.get('a.ids')!.dtype, 'int32');
  assert.deepEqual(Array.from(tensors.get('c.i32')!.data), [7, 8]);
  assert.deepEqual(tensors.get('d.scalar')!.shape, []);
  assert.ok(!fs.readdirSync(dir).some((f) => f.endsWith('.tmp')), 'no temp file left behind');
});

/** A safetensors file from a raw header object and data bytes. */
function rawSafetensors(header: unknown, data: Uint8Array, headerText?: string): string {
  const file = path.join(tempDir(), 'model.safetensors');
  const json = Buffer.from(headerText ?? JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, data]));
  return file;
}

test('safetensors: F16 and BF16 are read as float32', () => {
  const f16 = Buffer.alloc(8);
  [0x3c00, 0xc000, 0x3555, 0x0001].forEach((h, i) => f16.writeUInt16LE(h, i * 2)); // 1, -2, ~1/3, smallest subnormal
  const bf16 = Buffer.alloc(4);
  [0x3f80, 0xc0a0].forEach((h, i) => bf16.writeUInt16LE(h, i * 2)); // 1, -5
  const file = rawSafetensors({ h: { dtype: 'F16', shape: [4], data_offsets: [0, 8] }, b: { dtype: 'BF16', shape: [2], data_offsets: [8, 12] } }, Buffer.concat([f16, bf16]));
  const f = SafetensorsFile.open(file);
  const h = f.readFloat32('h');
  assert.equal(h[0], 1);
  assert.equal(h[1], -2);
  assert.ok(Math.abs(h[2] - 1 / 3) < 1e-3);
  assert.equal(h[3], 2 ** -24);
  assert.deepEqual(Array.from(f.readFloat32('b')), [1, -5]);
  f.close();
});

test('safetensors: malformed files give one-line errors naming the file and tensor', () => {
  const data = new Uint8Array(16);
  // Header length past the end of the file (a truncated download).
  const truncated = path.join(tempDir(), 'model.safetensors');
  const full = fs.readFileSync(path.join(TINY, 'model.safetensors'));
  fs.writeFileSync(truncated, full.subarray(0, 100));
  assertOneLine(() => SafetensorsFile.open(truncated), /model\.safetensors: header length \d+ runs past the end of the file \(100 bytes\)/);
  const tiny = path.join(tempDir(), 'model.safetensors');
  fs.writeFileSync(tiny, Buffer.from([1, 2, 3]));
  assertOneLine(() => SafetensorsFile.open(tiny), /not a safetensors file \(3 bytes/);
  assertOneLine(() => SafetensorsFile.open(rawSafetensors(null, data, '{"a": ')), /model\.safetensors: the safetensors header is not valid JSON/);
  assertOneLine(() => SafetensorsFile.open(rawSafetensors({ w: { dtype: 'F32', shape: [4], data_offsets: [8, 24] } }, data)),
    /model\.safetensors: tensor w: data_offsets \[8, 24\] are out of range \(the data section has 16 bytes\)/);
  assertOneLine(() => SafetensorsFile.open(rawSafetensors({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, data)),
    /tensor w: data_offsets \[0, 16\] span 16 bytes, but F32 \[3\] needs 12/);
  assertOneLine(() => SafetensorsFile.open(rawSafetensors({ w: { dtype: 'Q4', shape: [4], data_offsets: [0, 4] } }, data)),
    /model\.safetensors: tensor w: unknown dtype "Q4"/);
  assertOneLine(() => SafetensorsFile.open(rawSafetensors({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, data)),
    /tensor b: data_offsets \[4,12\] overlap tensor a/);
  assertOneLine(() => SafetensorsFile.open(rawSafetensors({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, data)), /tensor w: shape must be a list of non-negative integers/);
  assertOneLine(() => SafetensorsFile.open(path.join(tempDir(), 'missing.safetensors')), /missing\.safetensors: cannot open \(ENOENT\)/);
});

// ---------------------------------------------------------------- pytorch_model.bin

test('pytorch_model.bin: same tensors as model.safetensors; tied alias shares storage; int64 buffer readable', () => {
  const bin = TorchCheckpoint.open(path.join(TINY, 'pytorch_model.bin'));
  const st = SafetensorsFile.open(path.join(TINY, 'model.safetensors'));
  try {
    for (const name of st.names()) {
      assert.deepEqual(bin.shape(name), st.shape(name), name);
      assert.deepEqual(bin.readFloat32(name), st.readFloat32(name), name);
    }
    assert.deepEqual(bin.readFloat32('cls.predictions.decoder.weight'), st.readFloat32('bert.embeddings.word_embeddings.weight'));
    assert.equal(bin.tensors.get('cls.predictions.decoder.weight')!.storage, bin.tensors.get('bert.embeddings.word_embeddings.weight')!.storage);
    assert.equal(bin.dtype('bert.embeddings.position_ids'), 'I64');
    assert.deepEqual(Array.from(bin.readInt32('bert.embeddings.position_ids').subarray(0, 5)), [0, 1, 2, 3, 4]);
  } finally {
    bin.close();
    st.close();
  }
});

/**
 * A zip archive of stored (uncompressed) or deflated entries, as the test's crafted
 * checkpoints need. `zip64`: sizes and offsets only in zip64 records (what archives
 * over 4 GB carry), to exercise that path on a small file.
 */
function makeZip(entries: [string, Uint8Array][], deflate = false, zip64 = false): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, raw] of entries) {
    const data = deflate ? zlib.deflateRawSync(raw) : Buffer.from(raw);
    const nameBuf = Buffer.from(name);
    const crc = zlib.crc32(raw);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(45, 4);
    central.writeUInt16LE(45, 6);
    central.writeUInt16LE(deflate ? 8 : 0, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(zip64 ? 0xffffffff : data.length, 20);
    central.writeUInt32LE(zip64 ? 0xffffffff : raw.length, 24);
    central.writeUInt16LE(nameBuf.length, 28);
    central.writeUInt32LE(zip64 ? 0xffffffff : offset, 42);
    const extra = Buffer.alloc(zip64 ? 28 : 0);
    if (zip64) {
      extra.writeUInt16LE(0x0001, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(raw.length), 4);
      extra.writeBigUInt64LE(BigInt(data.length), 12);
      extra.writeBigUInt64LE(BigInt(offset), 20);
      central.writeUInt16LE(extra.length, 30);
    }
    locals.push(local, nameBuf, data);
    centrals.push(central, nameBuf, extra);
    offset += 30 + nameBuf.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const tail: Buffer[] = [];
  if (zip64) {
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeUInt16LE(45, 12);
    rec.writeUInt16LE(45, 14);
    rec.writeBigUInt64LE(BigInt(entries.length), 24);
    rec.writeBigUInt64LE(BigInt(entries.length), 32);
    rec.writeBigUInt64LE(BigInt(cd.length), 40);
    rec.writeBigUInt64LE(BigInt(offset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(offset + cd.length), 8);
    locator.writeUInt32LE(1, 16);
    tail.push(rec, locator);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(zip64 ? 0xffff : entries.length, 8);
  end.writeUInt16LE(zip64 ? 0xffff : entries.length, 10);
  end.writeUInt32LE(zip64 ? 0xffffffff : cd.length, 12);
  end.writeUInt32LE(zip64 ? 0xffffffff : offset, 16);
  return Buffer.concat([...locals, cd, ...tail, end]);
}

/** Pickle bytes from opcodes and arguments (strings are written as BINUNICODE). */
function pickle(...parts: (string | number[] | { text: string } | { global: string })[]): Buffer {
  const out: Buffer[] = [Buffer.from([0x80, 2])];
  for (const p of parts) {
    if (typeof p === 'string') out.push(Buffer.from(p, 'latin1'));
    else if (Array.isArray(p)) out.push(Buffer.from(p));
    else if ('text' in p) {
      const b = Buffer.from(p.text);
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.length);
      out.push(Buffer.from('X'), len, b);
    } else {
      const [module, name] = [p.global.slice(0, p.global.lastIndexOf('.')), p.global.slice(p.global.lastIndexOf('.') + 1)];
      out.push(Buffer.from(`c${module}\n${name}\n`));
    }
  }
  out.push(Buffer.from('.'));
  return Buffer.concat(out);
}

test('pytorch_model.bin: a pickle calling a forbidden global is refused before anything runs', () => {
  const dir = tempDir();
  const file = path.join(dir, 'pytorch_model.bin');
  // os.system("echo pwned"): what a malicious checkpoint would do.
  fs.writeFileSync(file, makeZip([['archive/data.pkl', pickle({ global: 'os.system' }, { text: 'echo pwned' }, [0x85], 'R')]]));
  assertOneLine(() => TorchCheckpoint.open(file), new RegExp(`refusing to load pickle global os\\.system from ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
  fs.writeFileSync(file, makeZip([['archive/data.pkl', pickle({ global: 'builtins.eval' }, { text: '1' }, [0x85], 'R')]]));
  assertOneLine(() => TorchCheckpoint.open(file), /refusing to load pickle global builtins\.eval from/);
  // Legacy (pre-1.6, non-zip) torch.save files start with the pickle itself.
  fs.writeFileSync(file, Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]));
  assertOneLine(() => TorchCheckpoint.open(file), /pytorch_model\.bin: unsupported legacy \(non-zip\) PyTorch checkpoint/);
});

test('pytorch_model.bin: storage offsets and non-contiguous views are copied out in row-major order (stored, deflated and zip64 archives)', () => {
  // {'t': storage[0..5] viewed as shape (3, 2) with strides (1, 3) = the transpose; 's': storage[2..5] (offset 2)}
  type Part = Parameters<typeof pickle>[number];
  const tensor = (offset: number, size: number[], stride: number[]): Part[] => [
    { global: 'torch._utils._rebuild_tensor_v2' }, '((', { text: 'storage' }, { global: 'torch.FloatStorage' }, { text: '0' }, { text: 'cpu' }, [0x4b, 6], 't', 'Q',
    [0x4b, offset], '(', ...size.map((d) => [0x4b, d]), 't', '(', ...stride.map((d) => [0x4b, d]), 't', [0x89],
    { global: 'collections.OrderedDict' }, ')', 'R', 't', 'R',
  ];
  const pkl = pickle('}(', { text: 't' }, ...tensor(0, [3, 2], [1, 3]), { text: 's' }, ...tensor(2, [2, 2], [2, 1]), 'u');
  const storage = new Uint8Array(Float32Array.from([0, 1, 2, 3, 4, 5]).buffer);
  for (const [deflate, zip64] of [[false, false], [true, false], [false, true]]) {
    const file = path.join(tempDir(), 'pytorch_model.bin');
    fs.writeFileSync(file, makeZip([['m/data.pkl', pkl], ['m/byteorder', Buffer.from('little')], ['m/data/0', storage]], deflate, zip64));
    const c = TorchCheckpoint.open(file);
    assert.deepEqual(c.names(), ['t', 's']);
    assert.deepEqual(c.shape('t'), [3, 2]);
    assert.deepEqual(Array.from(c.readFloat32('t')), [0, 3, 1, 4, 2, 5]);
    assert.deepEqual(Array.from(c.readFloat32('s')), [2, 3, 4, 5]);
    c.close();
  }
  // A view past the end of its storage is caught when the file is opened.
  const bad = pickle('}(', { text: 't' }, ...tensor(4, [2, 2], [2, 1]), 'u');
  const file = path.join(tempDir(), 'pytorch_model.bin');
  fs.writeFileSync(file, makeZip([['m/data.pkl', bad], ['m/data/0', storage]]));
  assertOneLine(() => TorchCheckpoint.open(file), /tensor view \[2,2\] at offset 4 runs past its storage of 6 elements/);
});

// ---------------------------------------------------------------- the model against Python

test('BertForSequenceClassification: logits equal Python\'s within 1e-4 from model.safetensors and from pytorch_model.bin', () => {
  const fromSafetensors = BertForSequenceClassification.fromPretrained(TINY, { quiet: true });
  const d1 = worstDiff(fromSafetensors);
  assert.ok(d1 < TOL, `safetensors: max |diff| ${d1}`);
  // The reference logits are far from constant, so agreement is not an accident of tiny weights.
  const all = refClassification().flatMap((b) => b.logits.map((r) => r[0] - r[1]));
  assert.ok(Math.max(...all) - Math.min(...all) > 0.5, 'reference logits vary across sentences');
  fromSafetensors.dispose();

  const binOnly = tempDir();
  fs.copyFileSync(path.join(TINY, 'config.json'), path.join(binOnly, 'config.json'));
  fs.copyFileSync(path.join(TINY, 'pytorch_model.bin'), path.join(binOnly, 'pytorch_model.bin'));
  const fromBin = BertForSequenceClassification.fromPretrained(binOnly, { quiet: true });
  assert.match(fromBin.loadReport!.file, /pytorch_model\.bin$/);
  const d2 = worstDiff(fromBin);
  assert.ok(d2 < TOL, `pytorch_model.bin: max |diff| ${d2}`);
  // position_ids (a buffer) is skipped silently; the tied decoder weight counts as an unused head weight here.
  assert.ok(!fromBin.loadReport!.unexpectedKeys.includes('bert.embeddings.position_ids'));
  assert.ok(fromBin.loadReport!.unexpectedKeys.includes('cls.predictions.decoder.weight'));
  fromBin.dispose();
});

test('padding does not change a sentence\'s logits (the attention mask works)', () => {
  const model = BertForSequenceClassification.fromPretrained(TINY, { quiet: true });
  const b = refClassification()[0];
  const row = b.attention_mask.findIndex((m) => m.includes(0)); // a padded sentence
  const len = b.attention_mask[row].indexOf(0);
  const alone = classify(model, { input_ids: [b.input_ids[row].slice(0, len)], attention_mask: [b.attention_mask[row].slice(0, len)], token_type_ids: [b.token_type_ids[row].slice(0, len)] });
  assert.ok(maxAbsDiff(alone, [b.logits[row]]) < TOL);
  // Without the mask the padding leaks into attention and the logits move.
  const unmasked = tf.tidy(() => model.forward({ inputIds: [b.input_ids[row]] }).arraySync());
  assert.ok(maxAbsDiff(unmasked, [b.logits[row]]) > 1e-3);
  model.dispose();
});

test('BertForMaskedLM: scores at masked positions equal Python\'s; the projection runs only there', () => {
  const r = JSON.parse(fs.readFileSync(path.join(TINY, 'reference-mlm.json'), 'utf8'));
  const mlm = BertForMaskedLM.fromPretrained(TINY, { quiet: true });
  const scores = tf.tidy(() => mlm.forward({ inputIds: r.input_ids, attentionMask: r.attention_mask, maskedPositions: r.masked_positions }).arraySync()) as number[][];
  assert.equal(scores.length, r.masked_positions.length);
  assert.equal(scores[0].length, 30000);
  const picked = scores.map((row) => r.columns.map((c: number) => row[c]));
  assert.ok(maxAbsDiff(picked, r.logits) < TOL);
  scores.forEach((row, i) => {
    assert.equal(row.indexOf(Math.max(...row)), r.argmax[i]);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    assert.ok(Math.abs(lse - r.logsumexp[i]) < TOL);
  });
  // Without maskedPositions: every position, [batch, length, vocab], same values at the masked ones.
  const full = tf.tidy(() => {
    const all = mlm.forward({ inputIds: r.input_ids, attentionMask: r.attention_mask }) as tf.Tensor3D;
    assert.deepEqual(all.shape, [r.input_ids.length, r.input_ids[0].length, 30000]);
    return tf.gather(all.reshape([-1, 30000]), r.masked_positions as number[]).arraySync() as number[][];
  });
  assert.ok(maxAbsDiff(full, scores) < 1e-5);
  assert.equal(mlm.weights.has('cls.predictions.decoder.weight'), false); // tied: the word embeddings are the decoder
  assert.deepEqual(mlm.loadReport!.unexpectedKeys, ['bert.pooler.dense.bias', 'bert.pooler.dense.weight', 'classifier.bias', 'classifier.weight', 'cls.seq_relationship.bias', 'cls.seq_relationship.weight']);
  mlm.dispose();
});

test('forward inside tf.tidy leaks no tensors; dropout only in training, reproducible by seed', () => {
  const model = BertForSequenceClassification.fromPretrained(TINY, { quiet: true });
  const b = refClassification()[1];
  const inputs = { inputIds: b.input_ids, attentionMask: b.attention_mask };
  const run = (opts: { training?: boolean; seed?: number }) => tf.tidy(() => model.forward(inputs, opts).arraySync());
  run({});
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    run({});
    run({ training: true, seed: i });
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => tf.mean(model.forward(inputs, { training: true })) as tf.Scalar, model.trainableVariables());
      assert.equal(Object.keys(grads).length, model.trainableVariables().length);
      assert.ok(Number.isFinite(value.arraySync() as number));
    });
  }
  assert.equal(tf.memory().numTensors, before);
  assert.ok(maxAbsDiff(run({}), b.logits) < TOL);
  assert.deepEqual(run({ training: true, seed: 5 }), run({ training: true, seed: 5 }));
  assert.ok(maxAbsDiff(run({ training: true, seed: 5 }), run({ training: true, seed: 6 })) > 1e-4);
  assert.ok(maxAbsDiff(run({ training: true, seed: 5 }), b.logits) > 1e-4);
  // Without a seed, each training call draws new masks from the model's own stream.
  assert.ok(maxAbsDiff(run({ training: true }), run({ training: true })) > 1e-4);
  model.dispose();
});

test('gradients of the cross-entropy loss equal PyTorch\'s for every parameter (backward pass end to end)', () => {
  const ref = JSON.parse(fs.readFileSync(path.join(TINY, 'reference-grads.json'), 'utf8'));
  const model = BertForSequenceClassification.fromPretrained(TINY, { quiet: true });
  const b = refClassification()[0];
  tf.tidy(() => {
    const labels = tf.oneHot(tf.tensor1d(ref.labels, 'int32'), 2);
    const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels,
      model.forward({ inputIds: b.input_ids, attentionMask: b.attention_mask, tokenTypeIds: b.token_type_ids })) as tf.Scalar, model.trainableVariables());
    assert.ok(Math.abs((value.arraySync() as number) - ref.loss) < 1e-5);
    let worst = 0;
    for (const [name, v] of model.weights) {
      const g = grads[v.name].dataSync();
      if (name === 'bert.embeddings.word_embeddings.weight') {
        const rows = tf.gather(grads[v.name], ref.word_embedding_rows.ids as number[]).arraySync() as number[][];
        worst = Math.max(worst, maxAbsDiff(rows, ref.word_embedding_rows.rows));
        const total = tf.sum(tf.abs(grads[v.name])).arraySync() as number;
        const used = rows.flat().reduce((s, x) => s + Math.abs(x), 0);
        assert.ok(Math.abs(total - used) < 1e-4, 'no gradient outside the rows of the batch\'s ids');
        continue;
      }
      const want = ref.grads[name] as number[];
      assert.equal(g.length, want.length, name);
      const scale = Math.max(1e-3, ...want.map(Math.abs));
      let d = 0;
      for (let i = 0; i < g.length; i++) d = Math.max(d, Math.abs(g[i] - want[i]));
      assert.ok(d / scale < 1e-3, `${name}: max |diff| ${d} vs max |grad| ${scale}`);
      worst = Math.max(worst, d);
    }
    assert.ok(worst < 1e-4, `worst gradient difference ${worst}`);
  });
  model.dispose();
});

/**
 * BertForSequenceClassification written with plain tfjs ops and autodiff, drawing the
 * same dropout masks in the same order: the reference for the hand-written backward passes.
 */
function referenceLogits(model: BertForSequenceClassification, b: RefBatch, seed: number | null): tf.Tensor2D {
  const c = model.config;
  const w = (n: string) => model.weight(n) as tf.Tensor as tf.Tensor2D;
  const seeds = seed === null ? null : new SeedStream(seed);
  const drop = (x: tf.Tensor, rate: number) => (seeds ? tf.mul(x, dropoutMaskTensor(x.shape, rate, seeds.next())) : x);
  const ln = (x: tf.Tensor, g: tf.Tensor, bb: tf.Tensor) => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, c.layerNormEps))), g), bb);
  };
  const lin = (x: tf.Tensor, name: string) => tf.add(tf.matMul(x as tf.Tensor2D, w(`${name}.weight`), false, true), w(`${name}.bias`));
  const [B, L, H, h] = [b.input_ids.length, b.input_ids[0].length, c.hiddenSize, c.numAttentionHeads];
  const ids = tf.tensor2d(b.input_ids, undefined, 'int32');
  const types = tf.tensor2d(b.token_type_ids, undefined, 'int32');
  let x = tf.add(tf.add(tf.gather(w('bert.embeddings.word_embeddings.weight'), ids), tf.gather(w('bert.embeddings.token_type_embeddings.weight'), types)),
    tf.slice(w('bert.embeddings.position_embeddings.weight'), [0, 0], [L, H])).reshape([B * L, H]);
  x = drop(ln(x, w('bert.embeddings.LayerNorm.weight'), w('bert.embeddings.LayerNorm.bias')), c.hiddenDropoutProb) as tf.Tensor2D;
  const maskAdd = tf.mul(tf.sub(1, tf.tensor2d(b.attention_mask)), -3.4028234663852886e38).reshape([B, 1, 1, L]);
  const heads = (t: tf.Tensor) => t.reshape([B, L, h, H / h]).transpose([0, 2, 1, 3]);
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const l = `bert.encoder.layer.${i}`;
    const scores = tf.add(tf.mul(tf.matMul(heads(lin(x, `${l}.attention.self.query`)), heads(lin(x, `${l}.attention.self.key`)), false, true), 1 / Math.sqrt(H / h)), maskAdd);
    const probs = drop(tf.softmax(scores), c.attentionProbsDropoutProb);
    const ctx = tf.matMul(probs as tf.Tensor4D, heads(lin(x, `${l}.attention.self.value`)) as tf.Tensor4D).transpose([0, 2, 1, 3]).reshape([B * L, H]);
    const a = ln(tf.add(drop(lin(ctx, `${l}.attention.output.dense`), c.hiddenDropoutProb), x), w(`${l}.attention.output.LayerNorm.weight`), w(`${l}.attention.output.LayerNorm.bias`));
    const inter = lin(a, `${l}.intermediate.dense`);
    const g = tf.mul(tf.mul(inter, 0.5), tf.add(tf.erf(tf.div(inter, Math.SQRT2)), 1));
    x = ln(tf.add(drop(lin(g, `${l}.output.dense`), c.hiddenDropoutProb), a), w(`${l}.output.LayerNorm.weight`), w(`${l}.output.LayerNorm.bias`)) as tf.Tensor2D;
  }
  const pooled = tf.tanh(lin(x.reshape([B, L, H]).slice([0, 0, 0], [B, 1, H]).reshape([B, H]), 'bert.pooler.dense'));
  return lin(drop(pooled, c.classifierDropoutProb), 'classifier') as tf.Tensor2D;
}

test('training mode: logits and gradients equal a plain-autodiff reference drawing the same dropout masks', () => {
  const model = BertForSequenceClassification.fromPretrained(TINY, { quiet: true });
  const b = refClassification()[8]; // sentence pairs: token types 0 and 1, padding
  const vars = model.trainableVariables();
  tf.tidy(() => {
    const labels = tf.oneHot(tf.tensor1d(b.input_ids.map((_, i) => (i * 7) % 2), 'int32'), 2);
    for (const seed of [null, 11]) {
      const ours = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels,
        model.forward({ inputIds: b.input_ids, attentionMask: b.attention_mask, tokenTypeIds: b.token_type_ids }, seed === null ? {} : { training: true, seed })) as tf.Scalar, vars);
      const ref = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels, referenceLogits(model, b, seed)) as tf.Scalar, vars);
      assert.ok(Math.abs((ours.value.arraySync() as number) - (ref.value.arraySync() as number)) < 1e-5, `loss, seed ${seed}`);
      for (const v of vars) {
        const d = tf.max(tf.abs(tf.sub(ours.grads[v.name], ref.grads[v.name]))).arraySync() as number;
        const scale = Math.max(1e-3, tf.max(tf.abs(ref.grads[v.name])).arraySync() as number);
        assert.ok(d / scale < 1e-3 && d < 1e-4, `${v.name} (seed ${seed}): max |diff| ${d}, max |grad| ${scale}`);
      }
    }
  });
  model.dispose();
});

test('activations: GELU (erf and tanh forms) and ReLU match their formulas and autodiff gradients', () => {
  tf.tidy(() => {
    const x = tf.randomNormal([64, 8], 0, 2, 'float32', 5);
    const w = tf.randomNormal([64, 8], 0, 1, 'float32', 6);
    const formulas: Record<string, (t: tf.Tensor) => tf.Tensor> = {
      gelu: (t) => tf.mul(tf.mul(t, 0.5), tf.add(tf.erf(tf.div(t, Math.SQRT2)), 1)),
      gelu_new: (t) => tf.mul(tf.mul(t, 0.5), tf.add(tf.tanh(tf.mul(tf.add(t, tf.mul(tf.pow(t, 3), 0.044715)), Math.sqrt(2 / Math.PI))), 1)),
      relu: (t) => tf.relu(t),
    };
    for (const [name, formula] of Object.entries(formulas)) {
      const act = name as 'gelu' | 'gelu_new' | 'relu';
      assert.ok((tf.max(tf.abs(tf.sub(activation(act, x), formula(x)))).arraySync() as number) < 1e-6, name);
      const ours = tf.grad((t) => tf.sum(tf.mul(activation(act, t), w)))(x);
      const ref = tf.grad((t) => tf.sum(tf.mul(formula(t), w)))(x);
      assert.ok((tf.max(tf.abs(tf.sub(ours, ref))).arraySync() as number) < 1e-5, `${name} gradient`);
    }
  });
});

test('dropout masks: the requested rate, scaled survivors', () => {
  const m = dropoutMask(200000, 0.1, 42);
  const dropped = m.filter((v) => v === 0).length / m.length;
  assert.ok(Math.abs(dropped - 0.1) < 0.005, `dropped ${dropped}`);
  assert.ok(m.every((v) => v === 0 || Math.abs(v - 1 / 0.9) < 1e-6));
  assert.notDeepEqual(dropoutMask(1000, 0.1, 1), dropoutMask(1000, 0.1, 2));
});

test('LayerNorm and GELU closed-form gradients equal autodiff\'s', () => {
  tf.tidy(() => {
    const x = tf.randomNormal([6, 16], 0, 2, 'float32', 1) as tf.Tensor2D;
    const g = tf.randomNormal([16], 1, 0.3, 'float32', 2) as tf.Tensor1D;
    const b = tf.randomNormal([16], 0, 0.3, 'float32', 3) as tf.Tensor1D;
    const w = tf.randomNormal([6, 16], 0, 1, 'float32', 4);
    const plainLn = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
      const { mean, variance } = tf.moments(xx, -1, true);
      return tf.add(tf.mul(tf.div(tf.sub(xx, mean), tf.sqrt(tf.add(variance, 1e-12))), gg), bb);
    };
    const ours = tf.grads((xx, gg, bb) => tf.sum(tf.mul(layerNorm(xx as tf.Tensor2D, gg as tf.Tensor1D, bb as tf.Tensor1D, 1e-12), w)))([x, g, b]);
    const ref = tf.grads((xx, gg, bb) => tf.sum(tf.mul(plainLn(xx, gg, bb), w)))([x, g, b]);
    ours.forEach((t, i) => assert.ok(tf.max(tf.abs(tf.sub(t, ref[i]))).arraySync() as number < 1e-4, `LayerNorm grad ${i}`));
    assert.ok((tf.max(tf.abs(tf.sub(layerNorm(x, g, b, 1e-12), plainLn(x, g, b)))).arraySync() as number) < 1e-5);
    const plainGelu = (xx: tf.Tensor) => tf.mul(tf.mul(xx, 0.5), tf.add(tf.erf(tf.div(xx, Math.SQRT2)), 1));
    const gOurs = tf.grad((xx) => tf.sum(tf.mul(geluErf(xx), w)))(x);
    const gRef = tf.grad((xx) => tf.sum(tf.mul(plainGelu(xx), w)))(x);
    assert.ok((tf.max(tf.abs(tf.sub(gOurs, gRef))).arraySync() as number) < 1e-5);
    // GELU(1) = Φ(1) = 0.8413447
    assert.ok(Math.abs((geluErf(tf.scalar(1)).arraySync() as number) - 0.8413447) < 1e-6);
  });
});

// ---------------------------------------------------------------- init, parameters

test('init: transformers\' initialisation (normal(0, 0.02), zero padding row, LayerNorm 1/0), seeded; parameter counts match Python', () => {
  const config = BertConfig.fromFile(TINY);
  const a = BertForSequenceClassification.init(config, 3);
  const b = BertForSequenceClassification.init(config, 3);
  const c = BertForSequenceClassification.init(config, 4);
  const word = a.weight('bert.embeddings.word_embeddings.weight');
  assert.deepEqual(Array.from(word.slice([0, 0], [1, 16]).dataSync()), new Array(16).fill(0)); // [PAD] row
  const values = word.dataSync();
  let sq = 0;
  for (let i = 16; i < values.length; i++) sq += values[i] * values[i];
  const std = Math.sqrt(sq / (values.length - 16));
  assert.ok(Math.abs(std - 0.02) < 0.001, `std ${std}`);
  assert.deepEqual(Array.from(a.weight('bert.encoder.layer.1.output.LayerNorm.weight').dataSync()), new Array(16).fill(1));
  assert.deepEqual(Array.from(a.weight('classifier.bias').dataSync()), [0, 0]);
  assert.deepEqual(a.weight('classifier.weight').dataSync(), b.weight('classifier.weight').dataSync());
  assert.notDeepEqual(a.weight('classifier.weight').dataSync(), c.weight('classifier.weight').dataSync());
  // Stable order = PyTorch's state-dict order; names exactly Hugging Face's.
  const names = [...a.weights.keys()];
  assert.equal(names[0], 'bert.embeddings.word_embeddings.weight');
  assert.equal(names[5], 'bert.encoder.layer.0.attention.self.query.weight');
  assert.deepEqual(names.slice(-2), ['classifier.weight', 'classifier.bias']);
  assert.deepEqual(a.trainableVariables().map((v) => v.name.replace(/^bert\d+\//, '')), names);
  const python = new Set(SafetensorsFile.open(path.join(TINY, 'model.safetensors')).names().filter((n) => !n.startsWith('cls.')));
  assert.deepEqual(new Set(names), python);
  for (const m of [a, b, c]) m.dispose();
  // kcbert-base sizes, counted without allocating: transformers reports 108,920,066 / 108,950,064 / 108,918,528.
  const kc = BertConfig.fromFile(KCBERT_DIR);
  const count = (shapes: Map<string, number[]>) => [...shapes.values()].reduce((s, sh) => s + sh.reduce((x, y) => x * y, 1), 0);
  assert.equal(count(BertForSequenceClassification.paramShapes(kc)), 108920066);
  assert.equal(count(BertForMaskedLM.paramShapes(kc)), 108950064);
  assert.equal(count(BertModel.paramShapes(kc)), 108918528);
  const tiny = BertForSequenceClassification.init(config);
  assert.equal(tiny.parameterCount(), count(BertForSequenceClassification.paramShapes(config)));
  tiny.dispose();
});

// ---------------------------------------------------------------- checkpoints: keys, saving

test('checkpoint keys: BertModel layout (no "bert." prefix) and legacy gamma/beta load to the same logits', () => {
  const noPrefix = variantDir((n) => (n.startsWith('bert.') ? n.slice(5) : n));
  const m1 = BertForSequenceClassification.fromPretrained(noPrefix, { quiet: true });
  assert.ok(worstDiff(m1) < TOL);
  assert.deepEqual(m1.loadReport!.missingKeys, []);
  m1.dispose();
  const legacy = variantDir((n) => n.replace(/LayerNorm\.weight$/, 'LayerNorm.gamma').replace(/LayerNorm\.bias$/, 'LayerNorm.beta'));
  const m2 = BertForSequenceClassification.fromPretrained(legacy, { quiet: true });
  assert.ok(worstDiff(m2) < TOL);
  assert.deepEqual(m2.loadReport!.missingKeys, []);
  m2.dispose();
  // A bare BertModel takes "bert."-prefixed checkpoints and leaves the heads out.
  const bare = BertModel.fromPretrained(TINY, { quiet: true });
  assert.equal(bare.weights.has('embeddings.word_embeddings.weight'), true);
  assert.deepEqual(bare.loadReport!.unexpectedKeys.filter((k) => !k.startsWith('cls.')), ['classifier.bias', 'classifier.weight']);
  bare.dispose();
  // Pure key mapping, as transformers does it.
  assert.deepEqual([...matchKeys(['embeddings.LayerNorm.gamma', 'pooler.dense.bias'], ['bert.embeddings.LayerNorm.weight', 'bert.pooler.dense.bias']).byName],
    [['bert.embeddings.LayerNorm.weight', 'embeddings.LayerNorm.gamma'], ['bert.pooler.dense.bias', 'pooler.dense.bias']]);
});

test('checkpoint keys: a pretraining checkpoint gets a new classifier, reported like transformers', () => {
  const pretrained = variantDir((n) => (n.startsWith('classifier.') ? null : n), (c) => { c.architectures = ['BertForPreTraining']; delete c.id2label; delete c.label2id; });
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (msg: string) => warnings.push(msg);
  let model: BertForSequenceClassification;
  try {
    model = BertForSequenceClassification.fromPretrained(pretrained, { numLabels: 3, seed: 1 });
  } finally {
    console.warn = warn;
  }
  assert.deepEqual(model.loadReport!.missingKeys, ['classifier.weight', 'classifier.bias']);
  assert.deepEqual(model.loadReport!.unexpectedKeys, ['cls.predictions.bias', 'cls.predictions.transform.LayerNorm.bias', 'cls.predictions.transform.LayerNorm.weight',
    'cls.predictions.transform.dense.bias', 'cls.predictions.transform.dense.weight', 'cls.seq_relationship.bias', 'cls.seq_relationship.weight']);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0], new RegExp(`^Some weights of the model checkpoint at ${pretrained} were not used when initializing BertForSequenceClassification: \\['cls\\.predictions\\.bias', `));
  assert.match(warnings[1], new RegExp(`^Some weights of BertForSequenceClassification were not initialized from the model checkpoint at ${pretrained} and are newly initialized: \\['classifier\\.weight', 'classifier\\.bias'\\]`));
  assert.equal(model.config.numLabels, 3);
  assert.deepEqual(model.weight('classifier.weight').shape, [3, 16]);
  assert.deepEqual(Array.from(model.weight('classifier.bias').dataSync()), [0, 0, 0]);
  const w = model.weight('classifier.weight').dataSync();
  assert.ok(w.some((v) => v !== 0) && w.every((v) => Math.abs(v) < 0.02 * 6));
  model.dispose();
  // loadWeights into an existing model reports the same way.
  const existing = BertForSequenceClassification.init(BertConfig.fromFile(TINY), 9);
  const report = loadWeights(existing, pretrained, { quiet: true });
  assert.deepEqual(report.missingKeys, ['classifier.weight', 'classifier.bias']);
  assert.deepEqual(existing.weight('bert.pooler.dense.bias').dataSync(), readSafetensors(path.join(TINY, 'model.safetensors')).tensors.get('bert.pooler.dense.bias')!.data);
  existing.dispose();
});

test('checkpoint errors: shape mismatch names the tensor and both shapes; missing folder or weights are one line', () => {
  assertOneLine(() => BertForSequenceClassification.fromPretrained(TINY, { numLabels: 3, quiet: true }),
    /model\.safetensors: tensor classifier\.weight has shape \[2,16\] but the model built from .*config\.json expects \[3,16\] for classifier\.weight/);
  const fresh = BertForSequenceClassification.fromPretrained(TINY, { numLabels: 3, ignoreMismatchedSizes: true, quiet: true });
  assert.deepEqual(fresh.loadReport!.mismatchedKeys, [{ name: 'classifier.weight', checkpoint: [2, 16], model: [3, 16] }, { name: 'classifier.bias', checkpoint: [2], model: [3] }]);
  assert.deepEqual(fresh.loadReport!.missingKeys, []);
  assert.match(fresh.loadReport!.warnings.join('\n'), /newly initialized because the shapes did not match: classifier\.weight: found shape \[2,16\] in the checkpoint and \[3,16\] in the model instantiated/);
  assert.deepEqual(Array.from(fresh.weight('classifier.bias').dataSync()), [0, 0, 0]);
  fresh.dispose();
  const wider = variantDir((n) => n, (c) => { c.intermediate_size = 32; });
  assertOneLine(() => BertForSequenceClassification.fromPretrained(wider, { quiet: true }),
    /tensor bert\.encoder\.layer\.0\.intermediate\.dense\.weight has shape \[64,16\] but the model built from .*config\.json expects \[32,16\]/);
  assertOneLine(() => BertForSequenceClassification.fromPretrained(path.join(tempDir(), 'no-such-model')), /model folder not found: .*no-such-model/);
  const empty = tempDir();
  fs.copyFileSync(path.join(TINY, 'config.json'), path.join(empty, 'config.json'));
  assertOneLine(() => BertForSequenceClassification.fromPretrained(empty), /no weights file \(expected model\.safetensors or pytorch_model\.bin\)/);
  const model = BertForSequenceClassification.init(BertConfig.fromFile(TINY));
  assertOneLine(() => model.forward({ inputIds: [new Array(301).fill(5)] }), /inputIds: 301 tokens per row, but the model has only 300 positions/);
  assertOneLine(() => model.forward({ inputIds: [[2, 5, 3]], attentionMask: [[1, 1]] }), /attentionMask: shape \[1,2\] differs from inputIds \[1,3\]/);
  model.dispose();
});

test('saveModel: Hugging Face layout that loads back to identical weights and logits', () => {
  const model = BertForSequenceClassification.fromPretrained(TINY, { quiet: true });
  const dir = path.join(tempDir(), 'saved');
  const written = saveModel(model, dir, { tokenizerDir: KCBERT_DIR, settings: makeSettings({ seed: 3 }) });
  assert.deepEqual(fs.readdirSync(dir).sort(), ['config.json', 'model.safetensors', 'settings.json', 'tokenizer_config.json', 'vocab.txt']);
  assert.equal(written.length, 5);
  assert.equal(loadSettings(path.join(dir, 'settings.json')).seed, 3);
  assert.equal(fs.readFileSync(path.join(dir, 'vocab.txt'), 'utf8'), fs.readFileSync(path.join(KCBERT_DIR, 'vocab.txt'), 'utf8'));
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  assert.deepEqual(config.architectures, ['BertForSequenceClassification']);
  assert.equal(config.model_type, 'bert');
  assert.deepEqual(config.id2label, { 0: 'negative', 1: 'positive' });
  assert.deepEqual(config.label2id, { negative: 0, positive: 1 });
  assert.equal(config.vocab_size, 30000);
  const f = SafetensorsFile.open(path.join(dir, 'model.safetensors'));
  assert.deepEqual(f.metadata, { format: 'pt' });
  const pythonNames = SafetensorsFile.open(path.join(TINY, 'model.safetensors')).names().filter((n) => !n.startsWith('cls.')).sort();
  assert.deepEqual(f.names().sort(), pythonNames);
  assert.ok(f.names().every((n) => f.info(n).dtype === 'F32'));
  f.close();
  const back = BertForSequenceClassification.fromPretrained(dir, { quiet: true });
  assert.deepEqual(back.loadReport!.missingKeys, []);
  assert.deepEqual(back.loadReport!.unexpectedKeys, []);
  for (const [name, v] of model.weights) assert.deepEqual(back.weight(name).dataSync(), v.dataSync(), name);
  const b = refClassification()[2];
  assert.deepEqual(classify(back, b), classify(model, b));
  model.dispose();
  back.dispose();
});
