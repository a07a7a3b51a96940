// A small builder for TensorFlow graphs (GraphDef), written as a SavedModel that
// tfjs-node's native backend loads and runs in ONE call (session.ts).
//
// Why a graph: tfjs-node runs every op eagerly, one N-API call and one full pass
// over memory at a time. A TensorFlow graph runs the same kernels inside
// libtensorflow, where grappler fuses patterns (MatMul + BiasAdd, ...), independent
// ops run side by side, and buffers are reused; a BERT training step runs about
// twice as fast for small models (src/model/train-graph.ts has the figures).
//
// Tensors here are symbolic (`Sym`: "node:output" plus dtype). Every op method adds
// one NodeDef with the attributes TensorFlow needs (those without defaults).
import { ProtoWriter } from './protobuf';

export type DType = 'float32' | 'int32' | 'bool' | 'bfloat16';

/** TensorFlow's DataType enum values (types.proto). */
const DT: Record<DType | 'int64', number> = { float32: 1, int32: 3, int64: 9, bool: 10, bfloat16: 14 };

/** A symbolic tensor: output `index` of node `node`. */
export interface Sym {
  readonly node: string;
  readonly index: number;
  readonly dtype: DType;
}

/** "node:index", the name feeds and fetches use. */
export function ref(t: Sym): string {
  return `${t.node}:${t.index}`;
}

type Attr =
  | { type: DType | 'int64' }
  | { i: number }
  | { f: number }
  | { b: boolean }
  | { s: string }
  | { shape: readonly number[] }
  | { strings: readonly string[] }
  | { ints: readonly number[] }
  | { tensor: { dtype: DType; shape: readonly number[]; values: readonly number[] } };

function attrValue(a: Attr): ProtoWriter {
  // AttrValue: list = 1, s = 2, i = 3, f = 4, b = 5, type = 6, shape = 7, tensor = 8.
  const w = new ProtoWriter();
  if ('type' in a) return w.int(6, DT[a.type]);
  if ('i' in a) return w.int(3, a.i);
  if ('f' in a) return w.float(4, a.f);
  if ('b' in a) return w.int(5, a.b);
  if ('s' in a) return w.bytesField(2, a.s);
  if ('shape' in a) return w.message(7, shapeProto(a.shape));
  if ('strings' in a) {
    const list = new ProtoWriter();
    for (const s of a.strings) list.bytesField(2, s);
    return w.message(1, list);
  }
  if ('ints' in a) return w.message(1, new ProtoWriter().packedInts(3, a.ints));
  // TensorProto: dtype = 1, tensor_shape = 2, tensor_content = 4 (raw little-endian values).
  const { dtype, shape, values } = a.tensor;
  const raw = dtype === 'float32' ? new Float32Array(values) : dtype === 'int32' ? new Int32Array(values) : Uint8Array.from(values);
  const t = new ProtoWriter().int(1, DT[dtype]).message(2, shapeProto(shape));
  if (values.length > 0) t.bytesField(4, new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength));
  return w.message(8, t);
}

/** TensorShapeProto: dim = 2 { size = 1 }; -1 is an unknown size. */
function shapeProto(dims: readonly number[]): ProtoWriter {
  const s = new ProtoWriter();
  for (const d of dims) s.message(2, new ProtoWriter().int(1, d));
  return s;
}

interface NodeOptions {
  name?: string;
  /** Number of outputs (default 1). */
  outputs?: number;
  /** dtype of the outputs (default: the first input's). */
  dtype?: DType;
}

export class GraphBuilder {
  private readonly nodes: ProtoWriter[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  /** Adds one node; returns its outputs. */
  node(op: string, inputs: readonly Sym[], attrs: Record<string, Attr> = {}, options: NodeOptions = {}): Sym[] {
    const name = options.name ?? `${op}_${this.counter++}`;
    if (this.names.has(name)) throw new Error(`graph: duplicate node name ${name}`);
    this.names.add(name);
    // NodeDef: name = 1, op = 2, input = 3, attr = 5 (map entries: key = 1, value = 2).
    const n = new ProtoWriter().bytesField(1, name).bytesField(2, op);
    for (const i of inputs) n.bytesField(3, i.index === 0 ? i.node : ref(i));
    for (const [key, value] of Object.entries(attrs)) n.message(5, new ProtoWriter().bytesField(1, key).message(2, attrValue(value)));
    this.nodes.push(n);
    const dtype = options.dtype ?? inputs[0]?.dtype ?? 'float32';
    return Array.from({ length: options.outputs ?? 1 }, (_, index) => ({ node: name, index, dtype }));
  }

  private one(op: string, inputs: readonly Sym[], attrs: Record<string, Attr> = {}, options: NodeOptions = {}): Sym {
    return this.node(op, inputs, attrs, options)[0];
  }

  /** A SavedModel (saved_model.pb contents) holding this graph under the tag "serve". */
  savedModel(): Uint8Array {
    // GraphDef: node = 1, versions = 4 { producer = 1 }.
    const graph = new ProtoWriter();
    for (const n of this.nodes) graph.message(1, n);
    graph.message(4, new ProtoWriter().int(1, 1205));
    // MetaGraphDef: meta_info_def = 1 { tags = 4 }, graph_def = 2. SavedModel: schema version = 1, meta_graphs = 2.
    const meta = new ProtoWriter().message(1, new ProtoWriter().bytesField(4, 'serve')).message(2, graph);
    return new ProtoWriter().int(1, 1).message(2, meta).finish();
  }

  get size(): number {
    return this.nodes.length;
  }

  // ------------------------------------------------------------ sources

  placeholder(name: string, dtype: DType, shape: readonly number[]): Sym {
    return this.one('Placeholder', [], { dtype: { type: dtype }, shape: { shape } }, { name, dtype });
  }

  constant(values: number | readonly number[], dtype: DType = 'float32', shape?: readonly number[]): Sym {
    const list = typeof values === 'number' ? [values] : values;
    const dims = shape ?? (typeof values === 'number' ? [] : [list.length]);
    return this.one('Const', [], { dtype: { type: dtype }, value: { tensor: { dtype, shape: dims, values: list } } }, { dtype });
  }

  int(values: number | readonly number[]): Sym {
    return this.constant(values, 'int32');
  }

  identity(x: Sym, name?: string): Sym {
    return this.one('Identity', [x], { T: { type: x.dtype } }, { name });
  }

  // ------------------------------------------------------------ elementwise

  private binary(op: string, a: Sym, b: Sym): Sym {
    return this.one(op, [a, b], { T: { type: a.dtype } });
  }

  add(a: Sym, b: Sym): Sym { return this.binary('AddV2', a, b); }
  sub(a: Sym, b: Sym): Sym { return this.binary('Sub', a, b); }
  mul(a: Sym, b: Sym): Sym { return this.binary('Mul', a, b); }
  div(a: Sym, b: Sym): Sym { return this.binary('RealDiv', a, b); }
  greaterEqual(a: Sym, b: Sym): Sym { return this.one('GreaterEqual', [a, b], { T: { type: a.dtype } }, { dtype: 'bool' }); }
  equal(a: Sym, b: Sym): Sym { return this.one('Equal', [a, b], { T: { type: a.dtype }, incompatible_shape_error: { b: true } }, { dtype: 'bool' }); }
  notEqual(a: Sym, b: Sym): Sym { return this.one('NotEqual', [a, b], { T: { type: a.dtype }, incompatible_shape_error: { b: true } }, { dtype: 'bool' }); }
  logicalOr(a: Sym, b: Sym): Sym { return this.one('LogicalOr', [a, b], {}, { dtype: 'bool' }); }

  addN(xs: readonly Sym[]): Sym {
    return xs.length === 1 ? xs[0] : this.one('AddN', xs, { N: { i: xs.length }, T: { type: xs[0].dtype } });
  }

  private unary(op: string, x: Sym): Sym {
    return this.one(op, [x], { T: { type: x.dtype } });
  }

  square(x: Sym): Sym { return this.unary('Square', x); }
  rsqrt(x: Sym): Sym { return this.unary('Rsqrt', x); }
  exp(x: Sym): Sym { return this.unary('Exp', x); }
  erf(x: Sym): Sym { return this.unary('Erf', x); }
  tanh(x: Sym): Sym { return this.unary('Tanh', x); }
  /** dy · (1 − y²), the gradient through y = tanh(x). */
  tanhGrad(y: Sym, dy: Sym): Sym { return this.binary('TanhGrad', y, dy); }
  softmax(x: Sym): Sym { return this.unary('Softmax', x); }

  cast(x: Sym, to: DType): Sym {
    return this.one('Cast', [x], { SrcT: { type: x.dtype }, DstT: { type: to }, Truncate: { b: false } }, { dtype: to });
  }

  // ------------------------------------------------------------ reductions

  sum(x: Sym, axes: readonly number[], keepDims = false): Sym {
    return this.one('Sum', [x, this.int(axes)], { T: { type: x.dtype }, Tidx: { type: 'int32' }, keep_dims: { b: keepDims } });
  }

  max(x: Sym, axes: readonly number[], keepDims = false): Sym {
    return this.one('Max', [x, this.int(axes)], { T: { type: x.dtype }, Tidx: { type: 'int32' }, keep_dims: { b: keepDims } });
  }

  /** Index of the largest value along `axis` (int32; ties: the first). */
  argMax(x: Sym, axis: number): Sym {
    return this.one('ArgMax', [x, this.int(axis)], { T: { type: x.dtype }, Tidx: { type: 'int32' }, output_type: { type: 'int32' } }, { dtype: 'int32' });
  }

  /** Running sum along `axis`; exclusive: each element gets the sum of those before it. */
  cumsum(x: Sym, axis: number, exclusive = false): Sym {
    return this.one('Cumsum', [x, this.int(axis)], { T: { type: x.dtype }, Tidx: { type: 'int32' }, exclusive: { b: exclusive }, reverse: { b: false } });
  }

  mean(x: Sym, axes: readonly number[], keepDims = false): Sym {
    return this.one('Mean', [x, this.int(axes)], { T: { type: x.dtype }, Tidx: { type: 'int32' }, keep_dims: { b: keepDims } });
  }

  /** Sum over every axis but the last: the gradient of a bias added along the last axis. */
  biasAddGrad(dy: Sym): Sym {
    return this.one('BiasAddGrad', [dy], { T: { type: dy.dtype }, data_format: { s: 'NHWC' } });
  }

  // ------------------------------------------------------------ matrices

  matMul(a: Sym, b: Sym, transposeA = false, transposeB = false): Sym {
    return this.one('MatMul', [a, b], { T: { type: a.dtype }, transpose_a: { b: transposeA }, transpose_b: { b: transposeB } });
  }

  batchMatMul(a: Sym, b: Sym, adjX = false, adjY = false): Sym {
    return this.one('BatchMatMulV2', [a, b], { T: { type: a.dtype }, adj_x: { b: adjX }, adj_y: { b: adjY } });
  }

  /** x + b along the last axis. */
  biasAdd(x: Sym, b: Sym): Sym {
    return this.one('BiasAdd', [x, b], { T: { type: x.dtype }, data_format: { s: 'NHWC' } });
  }

  // ------------------------------------------------------------ shapes

  reshape(x: Sym, shape: Sym | readonly number[]): Sym {
    const s = Array.isArray(shape) ? this.int(shape as number[]) : (shape as Sym);
    return this.one('Reshape', [x, s], { T: { type: x.dtype }, Tshape: { type: 'int32' } });
  }

  transpose(x: Sym, perm: readonly number[]): Sym {
    return this.one('Transpose', [x, this.int(perm)], { T: { type: x.dtype }, Tperm: { type: 'int32' } });
  }

  shape(x: Sym): Sym {
    return this.one('Shape', [x], { T: { type: x.dtype }, out_type: { type: 'int32' } }, { dtype: 'int32' });
  }

  /** 0, 1, ..., limit − 1 (int32). */
  range(limit: Sym): Sym {
    return this.one('Range', [this.int(0), limit, this.int(1)], { Tidx: { type: 'int32' } }, { dtype: 'int32' });
  }

  expandDims(x: Sym, axis: number): Sym {
    return this.one('ExpandDims', [x, this.int(axis)], { T: { type: x.dtype }, Tdim: { type: 'int32' } });
  }

  concat(xs: readonly Sym[], axis: number): Sym {
    return this.one('ConcatV2', [...xs, this.int(axis)], { T: { type: xs[0].dtype }, N: { i: xs.length }, Tidx: { type: 'int32' } });
  }

  /** `x` cut into `n` equal parts along `axis`. */
  split(x: Sym, n: number, axis: number): Sym[] {
    return this.node('Split', [this.int(axis), x], { T: { type: x.dtype }, num_split: { i: n } }, { outputs: n, dtype: x.dtype });
  }

  /** Tensors of equal shape stacked along a new first axis. */
  stackTensors(xs: readonly Sym[]): Sym {
    return this.one('Pack', xs, { T: { type: xs[0].dtype }, N: { i: xs.length }, axis: { i: 0 } });
  }

  /** Scalars (int32 Syms or numbers) stacked into a vector: a shape computed in the graph. */
  stack(parts: readonly (Sym | number)[]): Sym {
    const syms = parts.map((p) => (typeof p === 'number' ? this.int(p) : p));
    return this.one('Pack', syms, { T: { type: syms[0].dtype }, N: { i: syms.length }, axis: { i: 0 } });
  }

  /** The outputs of splitting `x` along axis 0 into its `n` rows. */
  unstack(x: Sym, n: number): Sym[] {
    return this.node('Unpack', [x], { T: { type: x.dtype }, num: { i: n }, axis: { i: 0 } }, { outputs: n });
  }

  /** Element `i` of a vector, as a scalar. */
  element(x: Sym, i: number): Sym {
    return this.stridedSlice(x, [i], [i + 1], [1], { shrinkAxisMask: 1 });
  }

  stridedSlice(x: Sym, begin: readonly number[], end: readonly number[], strides: readonly number[], masks: StridedSliceMasks = {}): Sym {
    return this.one('StridedSlice', [x, this.int(begin), this.int(end), this.int(strides)], { T: { type: x.dtype }, Index: { type: 'int32' }, ...maskAttrs(masks) });
  }

  /** The gradient of stridedSlice: `dy` placed into zeros of `shape`. */
  stridedSliceGrad(shape: Sym, begin: readonly number[], end: readonly number[], strides: readonly number[], dy: Sym, masks: StridedSliceMasks = {}): Sym {
    return this.one('StridedSliceGrad', [shape, this.int(begin), this.int(end), this.int(strides), dy], { T: { type: dy.dtype }, Index: { type: 'int32' }, ...maskAttrs(masks) }, { dtype: dy.dtype });
  }

  slice(x: Sym, begin: Sym | readonly number[], size: Sym | readonly number[]): Sym {
    const b = Array.isArray(begin) ? this.int(begin as number[]) : (begin as Sym);
    const s = Array.isArray(size) ? this.int(size as number[]) : (size as Sym);
    return this.one('Slice', [x, b, s], { T: { type: x.dtype }, Index: { type: 'int32' } });
  }

  /** Zero padding; `paddings` is [rank, 2] int32 (before, after) per axis. */
  pad(x: Sym, paddings: Sym): Sym {
    return this.one('Pad', [x, paddings], { T: { type: x.dtype }, Tpaddings: { type: 'int32' } });
  }

  // ------------------------------------------------------------ indexing

  gather(params: Sym, indices: Sym): Sym {
    return this.one('GatherV2', [params, indices, this.int(0)], { Tparams: { type: params.dtype }, Tindices: { type: 'int32' }, Taxis: { type: 'int32' }, batch_dims: { i: 0 } });
  }

  /** Flat positions (int32 [count]) of the true elements of a bool vector, in order. */
  whereTrue(mask: Sym): Sym {
    const where = this.one('Where', [mask], { T: { type: 'bool' } }, { dtype: 'int32' }); // int64 [count, 1]
    const asInt = this.one('Cast', [where], { SrcT: { type: 'int64' }, DstT: { type: 'int32' }, Truncate: { b: false } }, { dtype: 'int32' });
    return this.reshape(asInt, [-1]);
  }

  /** Rows `updates` [k, ...] placed at rows `rows` [k] of zeros shaped `shape` (the gradient of gathering those rows). */
  scatterRows(rows: Sym, updates: Sym, shape: Sym): Sym {
    return this.one('ScatterNd', [this.expandDims(rows, 1), updates, shape], { T: { type: updates.dtype }, Tindices: { type: 'int32' } }, { dtype: updates.dtype });
  }

  /** Rows of `data` summed into `numSegments` rows by `ids` (the gradient of gather). */
  unsortedSegmentSum(data: Sym, ids: Sym, numSegments: number | Sym): Sym {
    return this.one('UnsortedSegmentSum', [data, ids, typeof numSegments === 'number' ? this.int(numSegments) : numSegments], { T: { type: data.dtype }, Tindices: { type: 'int32' }, Tnumsegments: { type: 'int32' } });
  }

  /** The distinct values of a vector in order of first appearance, and each element's index into them. */
  unique(x: Sym): { values: Sym; index: Sym } {
    const [values, index] = this.node('Unique', [x], { T: { type: x.dtype }, out_idx: { type: 'int32' } }, { outputs: 2 });
    return { values, index: { ...index, dtype: 'int32' } };
  }

  // ------------------------------------------------------------ random numbers and losses

  /** Uniform [0, 1) floats of `shape` from a [2] int32 seed: the same numbers for the same seed and shape, in graphs and eagerly. */
  statelessUniform(shape: Sym, seed: Sym): Sym {
    return this.one('StatelessRandomUniform', [shape, seed], { dtype: { type: 'float32' }, T: { type: 'int32' }, Tseed: { type: 'int32' } }, { dtype: 'float32' });
  }

  /** Per-row cross-entropy [rows] against target distributions [rows, classes], and its gradient with respect to the logits (softmax − targets). */
  softmaxCrossEntropy(logits: Sym, targets: Sym): { loss: Sym; backprop: Sym } {
    const [loss, backprop] = this.node('SoftmaxCrossEntropyWithLogits', [logits, targets], { T: { type: 'float32' } }, { outputs: 2, dtype: 'float32' });
    return { loss, backprop };
  }

  /** Per-row cross-entropy [rows] and its gradient with respect to the logits (softmax − one-hot). */
  sparseSoftmaxCrossEntropy(logits: Sym, labels: Sym): { loss: Sym; backprop: Sym } {
    const [loss, backprop] = this.node('SparseSoftmaxCrossEntropyWithLogits', [logits, labels], { T: { type: 'float32' }, Tlabels: { type: 'int32' } }, { outputs: 2, dtype: 'float32' });
    return { loss, backprop };
  }
}

export interface StridedSliceMasks {
  beginMask?: number;
  endMask?: number;
  shrinkAxisMask?: number;
}

function maskAttrs(m: StridedSliceMasks): Record<string, Attr> {
  return {
    begin_mask: { i: m.beginMask ?? 0 }, end_mask: { i: m.endMask ?? 0 }, ellipsis_mask: { i: 0 },
    new_axis_mask: { i: 0 }, shrink_axis_mask: { i: m.shrinkAxisMask ?? 0 },
  };
}
