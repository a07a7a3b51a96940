// The safetensors format (Hugging Face's weight files): 8 bytes little-endian header
// length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__},
// then the raw little-endian tensor bytes. Reading opens the file and reads only the
// header; each tensor is read on request straight into its own typed array, so a
// 438 MB checkpoint never sits in memory whole. Nothing in the file is executed.
import * as fs from 'fs';
import * as path from 'path';
import { NlpbookError } from '../util/errors';
import { tempPathFor } from '../util/fsutil';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
/** The dtypes `read` converts (floats to Float32Array, integers to Int32Array). */
const READABLE = new Set<SafetensorsDtype>(['F32', 'F16', 'BF16', 'F64', 'I64', 'I32']);

export interface TensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte offsets into the data section (after the header), [begin, end). */
  dataOffsets: [number, number];
}

export interface TensorData {
  dtype: 'float32' | 'int32';
  shape: number[];
  data: Float32Array | Int32Array;
}

/** What the checkpoint loader needs from a weights file (safetensors or pytorch_model.bin). */
export interface TensorSource {
  readonly file: string;
  names(): string[];
  shape(name: string): number[];
  /** The tensor converted to float32 (floating dtypes only). */
  readFloat32(name: string): Float32Array;
  close(): void;
}

/** An open .safetensors file: header parsed and checked, tensors read on demand. */
export class SafetensorsFile implements TensorSource {
  readonly metadata: Record<string, string>;
  private readonly tensors: Map<string, TensorInfo>;
  private fd: number | null;

  private constructor(readonly file: string, fd: number, private readonly dataStart: number, header: Map<string, TensorInfo>, metadata: Record<string, string>) {
    this.fd = fd;
    this.tensors = header;
    this.metadata = metadata;
  }

  /** Opens and validates `file`; one-line NlpbookError naming the file (and tensor) when it is malformed. */
  static open(file: string): SafetensorsFile {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (e) {
      throw new NlpbookError(`${file}: cannot open (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size < 8) throw new NlpbookError(`${file}: not a safetensors file (${size} bytes, shorter than the 8-byte header length)`);
      const lenBuf = Buffer.alloc(8);
      fs.readSync(fd, lenBuf, 0, 8, 0);
      const headerLen = lenBuf.readBigUInt64LE(0);
      if (headerLen > BigInt(size - 8)) {
        throw new NlpbookError(`${file}: header length ${headerLen} runs past the end of the file (${size} bytes); the file is truncated or not safetensors`);
      }
      const n = Number(headerLen);
      const headerBuf = Buffer.alloc(n);
      fs.readSync(fd, headerBuf, 0, n, 8);
      const { tensors, metadata } = parseHeader(headerBuf, size - 8 - n, file);
      return new SafetensorsFile(file, fd, 8 + n, tensors, metadata);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new NlpbookError(`${this.file}: no tensor named ${name}`);
    return t;
  }

  shape(name: string): number[] {
    return [...this.info(name).shape];
  }

  /** Reads one tensor: floats as Float32Array (F16/BF16/F64 converted), I32/I64 as Int32Array. */
  read(name: string): TensorData {
    const t = this.info(name);
    if (!READABLE.has(t.dtype)) throw new NlpbookError(`${this.file}: tensor ${name} has dtype ${t.dtype}, which this reader does not convert (F32, F16, BF16, F64, I64, I32)`);
    const count = numel(t.shape);
    if (t.dtype === 'F32') {
      // Read straight into the Float32Array's memory: no intermediate copy.
      const data = new Float32Array(count);
      this.readInto(t, new Uint8Array(data.buffer));
      return { dtype: 'float32', shape: [...t.shape], data };
    }
    if (t.dtype === 'I32') {
      const data = new Int32Array(count);
      this.readInto(t, new Uint8Array(data.buffer));
      return { dtype: 'int32', shape: [...t.shape], data };
    }
    const bytes = new Uint8Array(count * DTYPE_BYTES[t.dtype]);
    this.readInto(t, bytes);
    if (t.dtype === 'I64') return { dtype: 'int32', shape: [...t.shape], data: int64ToInt32(bytes, `${this.file}: tensor ${name}`) };
    return { dtype: 'float32', shape: [...t.shape], data: toFloat32(bytes, t.dtype) };
  }

  readFloat32(name: string): Float32Array {
    const t = this.read(name);
    if (t.dtype !== 'float32') throw new NlpbookError(`${this.file}: tensor ${name} has integer dtype ${this.info(name).dtype}, expected a floating-point weight`);
    return t.data as Float32Array;
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  private readInto(t: TensorInfo, target: Uint8Array): void {
    if (this.fd === null) throw new NlpbookError(`${this.file}: already closed`);
    let done = 0;
    while (done < target.length) {
      const n = fs.readSync(this.fd, target, done, target.length - done, this.dataStart + t.dataOffsets[0] + done);
      if (n <= 0) throw new NlpbookError(`${this.file}: unexpected end of file while reading tensor data`);
      done += n;
    }
  }
}

/** Reads a whole safetensors file into memory (small files, tests). */
export function readSafetensors(file: string): { tensors: Map<string, TensorData>; metadata: Record<string, string> } {
  const f = SafetensorsFile.open(file);
  try {
    const tensors = new Map<string, TensorData>();
    for (const name of f.names()) tensors.set(name, f.read(name));
    return { tensors, metadata: f.metadata };
  } finally {
    f.close();
  }
}

export interface TensorToWrite {
  shape: readonly number[];
  /**
   * Float32Array is written as F32, Int32Array as I32 (or I64 with `dtype: 'I64'`).
   * A function is called only when that tensor is written, so a model can be saved
   * one tensor at a time instead of all at once in memory (give `dtype` unless it is F32).
   */
  data: Float32Array | Int32Array | (() => Float32Array | Int32Array);
  dtype?: 'F32' | 'I32' | 'I64';
}

/**
 * Writes tensors as safetensors, atomically (temp file + rename) and streaming.
 * Header like Python's writer: tensors in name order, header padded with spaces
 * to a multiple of 8 bytes. `metadata` defaults to { format: 'pt' }, which
 * Python's transformers requires to load the file.
 */
export function writeSafetensors(
  file: string,
  tensors: Map<string, TensorToWrite> | Record<string, TensorToWrite>,
  metadata: Record<string, string> = { format: 'pt' },
): void {
  const entries = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const plan: { name: string; t: TensorToWrite; dtype: 'F32' | 'I32' | 'I64'; count: number }[] = [];
  for (const [name, t] of entries) {
    const dtype = t.dtype ?? (t.data instanceof Int32Array ? 'I32' : 'F32');
    const count = numel(t.shape);
    const bytes = count * DTYPE_BYTES[dtype];
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
    plan.push({ name, t, dtype, count });
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBuf = Buffer.from(json, 'utf8');
  const lenBuf = Buffer.alloc(8);
  lenBuf.writeBigUInt64LE(BigInt(headerBuf.length));

  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tempPathFor(file);
  const fd = fs.openSync(tmp, 'w');
  try {
    writeAll(fd, lenBuf);
    writeAll(fd, headerBuf);
    for (const { name, t, dtype, count } of plan) {
      const data = typeof t.data === 'function' ? t.data() : t.data;
      if (data.length !== count) throw new NlpbookError(`${file}: tensor ${name}: shape [${t.shape}] holds ${count} values, data has ${data.length}`);
      if ((dtype === 'F32') !== data instanceof Float32Array) throw new NlpbookError(`${file}: tensor ${name}: dtype ${dtype} does not match its ${data.constructor.name}`);
      writeAll(fd, dtype === 'I64' ? int32ToInt64(data as Int32Array) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
  } catch (e) {
    try { fs.closeSync(fd); } catch { /* already closed */ }
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done);
}

function parseHeader(buf: Buffer, dataSize: number, file: string): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
  let json: unknown;
  try {
    json = JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw new NlpbookError(`${file}: the safetensors header is not valid JSON (${(e as Error).message})`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new NlpbookError(`${file}: the safetensors header is not a JSON object`);
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    const where = `${file}: tensor ${name}`;
    if (name === '__metadata__') {
      if (!value || typeof value !== 'object' || Array.isArray(value) || !Object.values(value).every((v) => typeof v === 'string')) {
        throw new NlpbookError(`${file}: __metadata__ must map names to strings`);
      }
      metadata = value as Record<string, string>;
      continue;
    }
    if (!value || typeof value !== 'object') throw new NlpbookError(`${where}: expected {dtype, shape, data_offsets}`);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
      throw new NlpbookError(`${where}: unknown dtype ${JSON.stringify(dtype)} (expected one of ${Object.keys(DTYPE_BYTES).join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new NlpbookError(`${where}: shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new NlpbookError(`${where}: data_offsets must be [begin, end], got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataSize) {
      throw new NlpbookError(`${where}: data_offsets [${begin}, ${end}] are out of range (the data section has ${dataSize} bytes)`);
    }
    const expected = numel(shape) * DTYPE_BYTES[dtype as SafetensorsDtype];
    if (end - begin !== expected) {
      throw new NlpbookError(`${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes, but ${dtype} [${shape}] needs ${expected}`);
    }
    tensors.set(name, { dtype: dtype as SafetensorsDtype, shape: shape as number[], dataOffsets: [begin, end] });
  }
  const byStart = [...tensors.entries()].sort(([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0]);
  for (let i = 1; i < byStart.length; i++) {
    const [prevName, prev] = byStart[i - 1];
    const [name, t] = byStart[i];
    if (t.dataOffsets[0] < prev.dataOffsets[1] && t.dataOffsets[1] > t.dataOffsets[0]) {
      throw new NlpbookError(`${file}: tensor ${name}: data_offsets [${t.dataOffsets}] overlap tensor ${prevName} [${prev.dataOffsets}]`);
    }
  }
  return { tensors, metadata };
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** F16 / BF16 / F64 little-endian bytes -> Float32Array. */
export function toFloat32(bytes: Uint8Array, dtype: SafetensorsDtype): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'F64') {
    const out = new Float32Array(bytes.length / 8);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(i * 8, true);
    return out;
  }
  const out = new Float32Array(bytes.length / 2);
  if (dtype === 'BF16') {
    // bfloat16 is the top half of a float32.
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < out.length; i++) bits[i] = view.getUint16(i * 2, true) << 16;
    return out;
  }
  if (dtype !== 'F16') throw new NlpbookError(`cannot convert ${dtype} to float32`);
  for (let i = 0; i < out.length; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
  return out;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** I64 bytes -> Int32Array; values outside int32 are an error (token ids and buffers fit). */
export function int64ToInt32(bytes: Uint8Array, where: string): Int32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Int32Array(bytes.length / 8);
  for (let i = 0; i < out.length; i++) {
    const lo = view.getUint32(i * 8, true);
    const hi = view.getInt32(i * 8 + 4, true);
    // Fits in int32 when the high word is the sign extension of the low word.
    if (hi !== (lo & 0x80000000 ? -1 : 0)) throw new NlpbookError(`${where}: int64 value does not fit in int32`);
    out[i] = lo | 0;
  }
  return out;
}

function int32ToInt64(data: Int32Array): Uint8Array {
  const out = new Uint8Array(data.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    view.setInt32(i * 8, data[i], true);
    view.setInt32(i * 8 + 4, data[i] < 0 ? -1 : 0, true);
  }
  return out;
}
