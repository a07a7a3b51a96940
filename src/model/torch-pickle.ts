// Reads PyTorch's pytorch_model.bin WITHOUT running any of it. The file is a zip:
// <prefix>/data.pkl is a pickle program describing the state dict, and
// <prefix>/data/<key> holds each storage's raw little-endian bytes. A pickle can
// call any Python function, so instead of Python's unpickler this is a tiny
// pickle machine that knows only the opcodes torch.save emits and calls only an
// allow-list of "globals" (tensor rebuilders, storage types, OrderedDict) that it
// implements itself; any other global is refused with the file's name.
import * as fs from 'fs';
import { NlpbookError } from '../util/errors';
import { int64ToInt32, numel, toFloat32, type SafetensorsDtype, type TensorSource } from './safetensors';
import { ZipReader } from './zip';

/** Storage classes torch.save names, and the element type of their bytes. */
const STORAGE_DTYPES: Record<string, SafetensorsDtype> = {
  'torch.FloatStorage': 'F32',
  'torch.HalfStorage': 'F16',
  'torch.BFloat16Storage': 'BF16',
  'torch.DoubleStorage': 'F64',
  'torch.LongStorage': 'I64',
  'torch.IntStorage': 'I32',
  'torch.ShortStorage': 'I16',
  'torch.CharStorage': 'I8',
  'torch.ByteStorage': 'U8',
  'torch.BoolStorage': 'BOOL',
};
const ELEMENT_BYTES: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** Every global this reader will call; anything else in data.pkl is refused. */
const ALLOWED_GLOBALS = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  ...Object.keys(STORAGE_DTYPES),
]);

class PyGlobal {
  constructor(readonly name: string) {}
}

class StorageRef {
  constructor(readonly dtype: SafetensorsDtype, readonly key: string, readonly numel: number) {}
}

/** A tensor as torch.save describes it: a view (offset, shape, strides) into a storage. */
export class TorchTensor {
  constructor(readonly storage: StorageRef, readonly offset: number, readonly shape: number[], readonly stride: number[]) {}

  get dtype(): SafetensorsDtype {
    return this.storage.dtype;
  }

  get isContiguous(): boolean {
    let expected = 1;
    for (let d = this.shape.length - 1; d >= 0; d--) {
      if (this.shape[d] !== 1 && this.stride[d] !== expected) return false;
      expected *= this.shape[d];
    }
    return true;
  }
}

const MARK = Symbol('mark');
/** Longest LONG1/LONG4 integer accepted, in bytes (torch.save's sizes and offsets need at most 8). */
const MAX_LONG_BYTES = 256;
/**
 * Most opcodes a pickle may run (each makes at most one object). A state dict needs about 40 per
 * tensor (BERT-large: ~16,000); without a bound a few MB of one-byte "new dict" opcodes, which
 * deflate to almost nothing, would make millions of objects.
 */
const MAX_PICKLE_OPS = 1_000_000;

/**
 * Runs the pickle program in `data` with the allow-list above. Returns the
 * top-level object (for torch.save(state_dict): a Map of name -> TorchTensor).
 */
export function unpickle(data: Uint8Array, file: string): unknown {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let p = 0;
  const fail = (what: string): never => {
    throw new NlpbookError(`${file}: ${what} (at byte ${p} of the pickle)`);
  };
  const need = (n: number) => {
    if (p + n > buf.length) fail('the pickle ends early (truncated file)');
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) fail('stack underflow (malformed pickle)');
    return stack.pop();
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) fail('no MARK on the stack (malformed pickle)');
    return stack.splice(m as number);
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('stack underflow (malformed pickle)');
    return stack[stack.length - 1];
  };
  const line = (): string => {
    const end = buf.indexOf(0x0a, p);
    if (end < 0) fail('unterminated text argument');
    const s = buf.toString('latin1', p, end);
    p = end + 1;
    return s;
  };
  /**
   * A length read from the stream: must be non-negative and fit in what is left of the pickle
   * (a negative one would move `p` backwards, a huge one would allocate before failing).
   */
  const length = (n: number | bigint, what: string): number => {
    if (n < 0) fail(`negative ${what} length ${n} (malformed pickle)`);
    if (n > buf.length - p) fail(`${what} length ${n} runs past the end of the pickle (${buf.length - p} bytes left; truncated or malformed)`);
    return Number(n);
  };
  const str = (n: number | bigint, encoding: BufferEncoding, what: string): string => {
    const len = length(n, what);
    const s = buf.toString(encoding, p, p + len);
    p += len;
    return s;
  };
  /** A memo index or a text integer argument: decimal digits only. */
  const index = (s: string, what: string): number => {
    if (!/^\d{1,15}$/.test(s)) fail(`${what} ${JSON.stringify(s.slice(0, 20))} is not a memo index (malformed pickle)`);
    return Number(s);
  };
  const global = (name: string): PyGlobal => {
    if (!ALLOWED_GLOBALS.has(name)) throw new NlpbookError(`refusing to load pickle global ${name} from ${file} (only tensors and state dicts are allowed)`);
    return new PyGlobal(name);
  };
  const setItems = (dict: unknown, items: unknown[]) => {
    if (!(dict instanceof Map)) fail('SETITEM(S) on something that is not a dict');
    for (let i = 0; i + 1 < items.length; i += 2) (dict as Map<unknown, unknown>).set(items[i], items[i + 1]);
  };

  let ops = 0;
  for (;;) {
    need(1);
    if (++ops > MAX_PICKLE_OPS) fail(`more than ${MAX_PICKLE_OPS} opcodes (a state dict needs a few dozen per tensor); refusing to go on`);
    const at = p;
    const op = buf[p++];
    switch (op) {
      case 0x80: need(1); p += 1; break; // PROTO
      case 0x95: { // FRAME: the length of the next frame, which must lie inside the pickle
        need(8);
        const n = buf.readBigUInt64LE(p);
        p += 8;
        length(n, 'FRAME');
        break;
      }
      case 0x2e: return pop(); // STOP '.'
      case 0x28: marks.push(stack.length); break; // MARK '('
      case 0x30: pop(); break; // POP '0'
      case 0x31: popMark(); break; // POP_MARK '1'
      case 0x32: stack.push(top()); break; // DUP '2'
      case 0x4e: stack.push(null); break; // NONE 'N'
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: need(4); stack.push(buf.readInt32LE(p)); p += 4; break; // BININT 'J'
      case 0x4b: need(1); stack.push(buf[p]); p += 1; break; // BININT1 'K'
      case 0x4d: need(2); stack.push(buf.readUInt16LE(p)); p += 2; break; // BININT2 'M'
      case 0x8a: case 0x8b: { // LONG1 / LONG4: little-endian two's complement
        let raw: number;
        if (op === 0x8a) { need(1); raw = buf[p]; p += 1; } else { need(4); raw = buf.readInt32LE(p); p += 4; }
        const n = length(raw, op === 0x8a ? 'LONG1' : 'LONG4');
        // torch.save's integers (sizes, offsets, numels) fit in 8 bytes; a huge one would only cost time.
        if (n > MAX_LONG_BYTES) fail(`LONG4 integer of ${n} bytes (at most ${MAX_LONG_BYTES} are supported)`);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[p + i]);
        if (n > 0 && buf[p + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        p += n;
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x49: { // INT 'I' (text)
        const s = line();
        if (!/^-?\d{1,18}$/.test(s)) fail(`INT argument ${JSON.stringify(s.slice(0, 20))} is not an integer (malformed pickle)`);
        stack.push(s === '00' ? false : s === '01' ? true : Number(s));
        break;
      }
      case 0x47: need(8); stack.push(buf.readDoubleBE(p)); p += 8; break; // BINFLOAT 'G'
      case 0x58: need(4); { const n = buf.readUInt32LE(p); p += 4; stack.push(str(n, 'utf8', 'BINUNICODE')); } break; // BINUNICODE 'X'
      case 0x8c: need(1); { const n = buf[p]; p += 1; stack.push(str(n, 'utf8', 'SHORT_BINUNICODE')); } break; // SHORT_BINUNICODE
      case 0x8d: need(8); { const n = buf.readBigUInt64LE(p); p += 8; stack.push(str(n, 'utf8', 'BINUNICODE8')); } break; // BINUNICODE8
      case 0x54: need(4); { const n = buf.readInt32LE(p); p += 4; stack.push(str(n, 'latin1', 'BINSTRING')); } break; // BINSTRING 'T' (signed length)
      case 0x55: need(1); { const n = buf[p]; p += 1; stack.push(str(n, 'latin1', 'SHORT_BINSTRING')); } break; // SHORT_BINSTRING 'U'
      case 0x42: case 0x43: case 0x8e: { // BINBYTES 'B', SHORT_BINBYTES 'C', BINBYTES8
        let raw: number | bigint;
        if (op === 0x43) { need(1); raw = buf[p]; p += 1; } else if (op === 0x42) { need(4); raw = buf.readUInt32LE(p); p += 4; } else { need(8); raw = buf.readBigUInt64LE(p); p += 8; }
        const n = length(raw, op === 0x43 ? 'SHORT_BINBYTES' : op === 0x42 ? 'BINBYTES' : 'BINBYTES8');
        stack.push(Uint8Array.prototype.slice.call(buf, p, p + n));
        p += n;
        break;
      }
      case 0x29: stack.push([]); break; // EMPTY_TUPLE ')'
      case 0x74: stack.push(popMark()); break; // TUPLE 't'
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push([a, b]); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push([a, b, c]); break; } // TUPLE3
      case 0x5d: stack.push([]); break; // EMPTY_LIST ']'
      case 0x6c: stack.push(popMark()); break; // LIST 'l'
      case 0x61: { const v = pop(); const list = top(); if (!Array.isArray(list)) fail('APPEND to a non-list'); (list as unknown[]).push(v); break; } // APPEND 'a'
      case 0x65: { // APPENDS 'e' (a loop: push(...items) overflows the call stack on long lists)
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) fail('APPENDS to a non-list');
        for (const item of items) (list as unknown[]).push(item);
        break;
      }
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT '}'
      case 0x64: { const items = popMark(); const d = new Map(); setItems(d, items); stack.push(d); break; } // DICT 'd'
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM 's'
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS 'u'
      case 0x71: need(1); memo.set(buf[p], top()); p += 1; break; // BINPUT 'q'
      case 0x72: need(4); memo.set(buf.readUInt32LE(p), top()); p += 4; break; // LONG_BINPUT 'r'
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x70: memo.set(index(line(), 'PUT'), top()); break; // PUT 'p'
      case 0x68: case 0x6a: case 0x67: { // BINGET 'h', LONG_BINGET 'j', GET 'g'
        let k: number;
        if (op === 0x68) { need(1); k = buf[p]; p += 1; } else if (op === 0x6a) { need(4); k = buf.readUInt32LE(p); p += 4; } else k = index(line(), 'GET');
        if (!memo.has(k)) fail(`memo key ${k} is not set (malformed pickle)`);
        stack.push(memo.get(k));
        break;
      }
      case 0x63: { const module = line(); const name = line(); stack.push(global(`${module}.${name}`)); break; } // GLOBAL 'c'
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(global(`${module}.${name}`));
        break;
      }
      case 0x51: stack.push(persistentLoad(pop(), file)); break; // BINPERSID 'Q'
      case 0x52: { const args = pop(); const fn = pop(); stack.push(call(fn, args, file)); break; } // REDUCE 'R'
      case 0x62: pop(); break; // BUILD 'b': state for OrderedDict (_metadata) or tensors; not needed
      default:
        fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}; only what torch.save writes for a state dict is supported`);
    }
    // Every opcode consumes its own byte and its arguments: the machine always moves forward.
    if (p <= at) fail('the pickle machine made no progress (malformed pickle)');
  }
}

function persistentLoad(pid: unknown, file: string): StorageRef {
  // ('storage', storage_type, key, location, numel)
  if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) throw new NlpbookError(`${file}: unsupported persistent id ${describe(pid)}`);
  const [, type, key, , count] = pid;
  if (!(type instanceof PyGlobal) || !(type.name in STORAGE_DTYPES)) throw new NlpbookError(`${file}: unsupported storage type in persistent id`);
  if (typeof key !== 'string' || !Number.isSafeInteger(count) || (count as number) < 0) throw new NlpbookError(`${file}: malformed storage reference`);
  return new StorageRef(STORAGE_DTYPES[type.name], key, count);
}

function call(fn: unknown, args: unknown, file: string): unknown {
  if (!(fn instanceof PyGlobal) || !Array.isArray(args)) throw new NlpbookError(`${file}: REDUCE on something that is not an allowed global`);
  switch (fn.name) {
    case 'collections.OrderedDict':
      if (args.length && !(Array.isArray(args[0]) && args[0].every((kv) => Array.isArray(kv) && kv.length === 2))) {
        throw new NlpbookError(`${file}: malformed OrderedDict arguments (expected a list of key-value pairs)`);
      }
      return new Map(args.length ? (args[0] as [unknown, unknown][]) : []);
    case 'torch._utils._rebuild_tensor_v2': {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      const [storage, offsetArg, size, stride] = args;
      if (!(storage instanceof StorageRef) || !Number.isSafeInteger(offsetArg) || !isIntList(size) || !isIntList(stride) || size.length !== stride.length ||
        !Number.isSafeInteger(numel(size))) {
        throw new NlpbookError(`${file}: malformed tensor record (_rebuild_tensor_v2 arguments)`);
      }
      const offset = offsetArg as number;
      let last = offset;
      for (let d = 0; d < size.length; d++) if (size[d] > 0) last += (size[d] - 1) * stride[d];
      if (numel(size) > 0 && (offset < 0 || last >= storage.numel)) {
        throw new NlpbookError(`${file}: tensor view [${size}] at offset ${offset} runs past its storage of ${storage.numel} elements`);
      }
      return new TorchTensor(storage, offset, [...size], [...stride]);
    }
    case 'torch._utils._rebuild_parameter':
    case 'torch._utils._rebuild_parameter_with_state':
      return args[0];
    default:
      // Storage classes are only meaningful inside persistent ids.
      throw new NlpbookError(`refusing to call pickle global ${fn.name} from ${file}`);
  }
}

/** A short description of a pickled value for an error message (it may be huge, or contain itself). */
function describe(x: unknown): string {
  if (Array.isArray(x)) return `a tuple of ${x.length}${x.length && typeof x[0] === 'string' ? ` starting ${JSON.stringify(x[0].slice(0, 40))}` : ''}`;
  if (typeof x === 'string') return JSON.stringify(x.slice(0, 40));
  return x === null ? 'None' : typeof x;
}

function isIntList(x: unknown): x is number[] {
  return Array.isArray(x) && x.every((v) => Number.isSafeInteger(v) && v >= 0);
}

/** Largest data.pkl read: a state dict's pickle takes a few hundred bytes per tensor (BERT-large's is under 100 KB). */
const MAX_PICKLE_BYTES = 16 * 1024 * 1024;

export interface CheckpointLimits {
  /** Most bytes one storage and all the state dict's storages together may declare (default: no bound). */
  maxBytes?: number;
  /** What `maxBytes` comes from, for the error ("what a model of <config> can hold"). */
  maxBytesFor?: string;
  /** Most bytes of the tensor list: data.pkl here, the JSON header of a safetensors file (default 16 MiB). */
  maxHeaderBytes?: number;
}

/** An open pytorch_model.bin: the state dict's tensors, read on request. */
export class TorchCheckpoint implements TensorSource {
  readonly tensors: Map<string, TorchTensor>;
  private readonly zip: ZipReader;
  private readonly prefix: string;

  private constructor(readonly file: string, zip: ZipReader, prefix: string, tensors: Map<string, TorchTensor>) {
    this.zip = zip;
    this.prefix = prefix;
    this.tensors = tensors;
  }

  /**
   * Opens `file` and runs its data.pkl. `limits.maxBytes` (from the model's config: see
   * checkpoint.ts's weightsByteLimit) bounds every storage a tensor uses and their sum, checked
   * against the sizes the archive declares before anything is inflated or allocated.
   */
  static open(file: string, limits: CheckpointLimits = {}): TorchCheckpoint {
    if (!fs.existsSync(file)) throw new NlpbookError(`${file}: no such file`);
    if (!ZipReader.isZip(file)) {
      throw new NlpbookError(`${file}: unsupported legacy (non-zip) PyTorch checkpoint; re-save it with a current torch.save or convert it to model.safetensors`);
    }
    const maxBytes = limits.maxBytes ?? Infinity;
    const zip = new ZipReader(file, { maxEntryBytes: maxBytes });
    try {
      const pkl = [...zip.entries.keys()].find((n) => n.endsWith('data.pkl') && n.split('/').length === 2);
      if (!pkl) throw new NlpbookError(`${file}: not a PyTorch checkpoint (no <name>/data.pkl in the zip)`);
      const maxPickle = limits.maxHeaderBytes ?? MAX_PICKLE_BYTES;
      const pklSize = zip.entries.get(pkl)!.size;
      if (pklSize > maxPickle) throw new NlpbookError(`${file}: ${pkl} declares ${pklSize} bytes, more than a state dict's pickle needs (at most ${maxPickle}); refusing to read it`);
      const prefix = pkl.slice(0, -'data.pkl'.length);
      const order = zip.entries.get(`${prefix}byteorder`);
      if (order && order.size > 16) throw new NlpbookError(`${file}: ${order.name} declares ${order.size} bytes (expected "little" or "big")`);
      const byteorder = order ? Buffer.from(zip.read(order.name)).toString('latin1') : 'little';
      if (byteorder !== 'little') throw new NlpbookError(`${file}: big-endian checkpoints are not supported (byteorder ${byteorder})`);
      let root = unpickle(zip.read(pkl), file);
      // Some training scripts wrap the weights: {"state_dict": {...}}.
      if (root instanceof Map && !hasTensors(root) && root.get('state_dict') instanceof Map) root = root.get('state_dict');
      if (!(root instanceof Map)) throw new NlpbookError(`${file}: expected a state dict (name -> tensor) at the top of data.pkl`);
      const tensors = new Map<string, TorchTensor>();
      for (const [k, v] of root) if (typeof k === 'string' && v instanceof TorchTensor) tensors.set(k, v);
      const bound = (): string => `${limits.maxBytesFor ?? 'the limit'} (${maxBytes} bytes)`;
      const seen = new Set<string>();
      let total = 0;
      for (const t of tensors.values()) {
        const entry = zip.entries.get(`${prefix}data/${t.storage.key}`);
        if (!entry) throw new NlpbookError(`${file}: storage ${t.storage.key} is missing from the archive`);
        if (entry.size < t.storage.numel * ELEMENT_BYTES[t.dtype]) throw new NlpbookError(`${file}: storage ${t.storage.key} is shorter than its ${t.storage.numel} elements`);
        if (seen.has(entry.name)) continue; // tied weights share one storage
        seen.add(entry.name);
        total += entry.size;
        if (entry.size > maxBytes) throw new NlpbookError(`${file}: storage ${t.storage.key} declares ${entry.size} bytes, more than ${bound()}; refusing to read it`);
        if (total > maxBytes) throw new NlpbookError(`${file}: the state dict's storages declare over ${total} bytes, more than ${bound()}; refusing to read them`);
      }
      return new TorchCheckpoint(file, zip, prefix, tensors);
    } catch (e) {
      zip.close();
      throw e;
    }
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  shape(name: string): number[] {
    return [...this.get(name).shape];
  }

  dtype(name: string): SafetensorsDtype {
    return this.get(name).dtype;
  }

  /** The tensor's values in row-major order, floats converted to float32 (strided views copied). */
  readFloat32(name: string): Float32Array {
    const t = this.get(name);
    if (!['F32', 'F16', 'BF16', 'F64'].includes(t.dtype)) throw new NlpbookError(`${this.file}: tensor ${name} has dtype ${t.dtype}, expected a floating-point weight`);
    const { values, base } = this.storageRange(t);
    const all = t.dtype === 'F32' ? new Float32Array(values.buffer, values.byteOffset, values.byteLength / 4) : toFloat32(values, t.dtype);
    return gatherStrided(all, t, base) as Float32Array;
  }

  /** Integer tensors (I64/I32) as Int32Array. */
  readInt32(name: string): Int32Array {
    const t = this.get(name);
    const { values, base } = this.storageRange(t);
    let all: Int32Array;
    if (t.dtype === 'I64') all = int64ToInt32(values, `${this.file}: tensor ${name}`);
    else if (t.dtype === 'I32') all = new Int32Array(values.buffer, values.byteOffset, values.byteLength / 4);
    else throw new NlpbookError(`${this.file}: tensor ${name} has dtype ${t.dtype}, expected an integer tensor`);
    return gatherStrided(all, t, base) as Int32Array;
  }

  close(): void {
    this.zip.close();
  }

  private get(name: string): TorchTensor {
    const t = this.tensors.get(name);
    if (!t) throw new NlpbookError(`${this.file}: no tensor named ${name}`);
    return t;
  }

  /** Reads only the part of the storage the view touches; `base` is the element index it starts at. */
  private storageRange(t: TorchTensor): { values: Uint8Array; base: number } {
    const es = ELEMENT_BYTES[t.dtype];
    let last = t.offset;
    for (let d = 0; d < t.shape.length; d++) if (t.shape[d] > 0) last += (t.shape[d] - 1) * t.stride[d];
    const count = numel(t.shape) === 0 ? 0 : last - t.offset + 1;
    const bytes = this.zip.read(`${this.prefix}data/${t.storage.key}`, t.offset * es, count * es);
    // Copy into a fresh, aligned buffer (zip data need not be 4-byte aligned in memory).
    const values = new Uint8Array(bytes.length);
    values.set(bytes);
    return { values, base: t.offset };
  }
}

function hasTensors(m: Map<unknown, unknown>): boolean {
  for (const v of m.values()) if (v instanceof TorchTensor) return true;
  return false;
}

/** Copies a strided view into a dense row-major array (returns `all` itself when already dense). */
function gatherStrided(all: Float32Array | Int32Array, t: TorchTensor, base: number): Float32Array | Int32Array {
  const n = numel(t.shape);
  if (t.isContiguous) return all.length === n ? all : all.slice(0, n);
  const out = new (all.constructor as Float32ArrayConstructor | Int32ArrayConstructor)(n);
  const rank = t.shape.length;
  const index = new Array(rank).fill(0);
  let src = t.offset - base;
  for (let i = 0; i < n; i++) {
    out[i] = all[src];
    // Advance the multi-index like an odometer, keeping src in step.
    for (let d = rank - 1; d >= 0; d--) {
      index[d]++;
      src += t.stride[d];
      if (index[d] < t.shape[d]) break;
      src -= t.stride[d] * t.shape[d];
      index[d] = 0;
    }
  }
  return out;
}
