// Export for other runtimes (course step 9): the fine-tuned classifier as an ONNX graph,
// in the folder layout that transformers.js (@huggingface/transformers) and Hugging Face
// Optimum use, so a web page or another Node program runs the model without this project:
//
//   DIR2/config.json              the model's config.json (id2label, model_type "bert")
//   DIR2/tokenizer.json           the tokenizer this project runs, with the model's max length
//   DIR2/tokenizer_config.json    (+ vocab.txt, special_tokens_map.json for Python)
//   DIR2/onnx/model.onnx          the graph, float32 weights inside
//
// The graph is BertForSequenceClassification written out op by op with standard ONNX ops
// (opset 17): the inputs input_ids / attention_mask / token_type_ids (int64, [batch, sequence])
// and the output logits ([batch, labels]) carry the names Optimum's exports use, which is
// what transformers.js feeds and reads. The math is Hugging Face's (the same as
// src/model/bert.ts): exact erf GELU, LayerNorm, a padding mask of float32's lowest value.
import * as fs from 'fs';
import * as path from 'path';
import * as crypto from 'crypto';
import * as os from 'os';
import { onnx } from 'onnx-proto';
import { NlpbookError } from '../util/errors';
import { softmaxRow } from '../task/index';
import type { HiddenAct, BertForSequenceClassification } from '../model/index';
import { SentenceClassifier, type ClassifierOptions } from '../train/index';
import { tokenizerFiles } from '../tokenizer/index';

/** The ONNX operator set the graph uses (17: the first with LayerNormalization). */
export const ONNX_OPSET = 17;
/** IR version 8 is the one that goes with opset 17 (ONNX 1.12). */
const IR_VERSION = 8;
/** HF's additive padding mask: (1 - mask) · torch.finfo(float32).min. */
const MASK_VALUE = -3.4028234663852886e38;
/** The model file transformers.js loads by default in Node (device "cpu", dtype "fp32"). */
export const ONNX_MODEL_FILE = path.join('onnx', 'model.onnx');

const { DataType } = onnx.TensorProto;
const Attr = onnx.AttributeProto.AttributeType;

// ---------------------------------------------------------------- a small graph builder

type AttrValue = number | number[] | { float: number };

/** Collects nodes and weights in order (ONNX wants nodes topologically sorted: built in order, they are). */
class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private used = new Map<string, number>();
  private constants = new Set<string>();

  /** Adds one node; returns the name of its (single) output. `name` reads like a path: "/bert/encoder/layer.0/query/MatMul". */
  op(opType: string, inputs: string[], name: string, attrs: Record<string, AttrValue> = {}): string {
    const n = (this.used.get(name) ?? 0) + 1;
    this.used.set(name, n);
    const unique = n === 1 ? name : `${name}_${n}`;
    const output = `${unique}_output_0`;
    this.nodes.push({
      name: unique,
      opType,
      input: inputs,
      output: [output],
      attribute: Object.entries(attrs).map(([key, v]) => attribute(key, v)),
    });
    return output;
  }

  /** A float32 weight (or constant) called `name`. */
  floats(name: string, dims: number[], values: Float32Array, docString?: string): string {
    this.initializers.push({ name, dims, dataType: DataType.FLOAT, rawData: bytesOf(values), docString });
    return name;
  }

  /** A float32 scalar constant, added once however often it is asked for. */
  scalar(name: string, value: number): string {
    if (!this.constants.has(name)) this.floats(name, [], Float32Array.of(value));
    this.constants.add(name);
    return name;
  }

  /** An int64 constant (shapes, axes, indices); dims [] makes a scalar. */
  int64s(name: string, values: number[], dims: number[] = [values.length]): string {
    this.initializers.push({ name, dims, dataType: DataType.INT64, rawData: bytesOf(BigInt64Array.from(values.map(BigInt))) });
    return name;
  }
}

function attribute(name: string, v: AttrValue): onnx.IAttributeProto {
  if (Array.isArray(v)) return { name, type: Attr.INTS, ints: v };
  if (typeof v === 'object') return { name, type: Attr.FLOAT, f: v.float };
  return { name, type: Attr.INT, i: v };
}

/** Little-endian bytes of a typed array, as TensorProto.raw_data wants them (no copy). */
function bytesOf(a: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** A [batch, sequence] int64 graph input, both axes named so any size goes. */
function tokenInput(name: string): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: DataType.INT64, shape: { dim: [{ dimParam: 'batch_size' }, { dimParam: 'sequence_length' }] } } },
  };
}

// ---------------------------------------------------------------- BERT as ONNX

/**
 * The ONNX ModelProto (encoded bytes) of `model`: BertForSequenceClassification in
 * inference mode (no dropout), inputs input_ids / attention_mask / token_type_ids
 * (int64 [batch, sequence]), output logits (float32 [batch, labels]). Linear weights
 * are stored transposed ([in, out], as torch.onnx.export does) so each layer is one MatMul.
 */
export function bertClassifierToOnnx(model: BertForSequenceClassification): Uint8Array {
  const c = model.config;
  if (os.endianness() !== 'LE') {
    throw new NlpbookError('ONNX export needs a little-endian machine (raw_data is little-endian)');
  }
  const g = new GraphBuilder();
  const p = model.basePrefix; // "bert."
  const weight = (name: string): string => {
    const w = model.weight(name);
    return g.floats(name, w.shape, w.dataSync() as Float32Array);
  };
  /** x·Wᵀ + b with W from PyTorch's [out, in], stored as [in, out]. */
  const linear = (x: string, prefix: string, scope: string): string => {
    const w = model.weight(`${prefix}.weight`);
    const [out, inp] = w.shape;
    const wT = g.floats(`${prefix}.weight.T`, [inp, out], transpose(w.dataSync() as Float32Array, out, inp), `${prefix}.weight transposed to [in, out]`);
    return g.op('Add', [g.op('MatMul', [x, wT], `${scope}/MatMul`), weight(`${prefix}.bias`)], `${scope}/Add`);
  };
  const layerNorm = (x: string, prefix: string, scope: string): string =>
    g.op('LayerNormalization', [x, weight(`${prefix}.weight`), weight(`${prefix}.bias`)], `${scope}/LayerNorm`, { axis: -1, epsilon: { float: c.layerNormEps } });

  // Embeddings: LayerNorm(word + token type + position), HF's order of additions.
  const e = `${p}embeddings`;
  const words = g.op('Gather', [weight(`${e}.word_embeddings.weight`), 'input_ids'], '/embeddings/word_embeddings/Gather');
  const types = g.op('Gather', [weight(`${e}.token_type_embeddings.weight`), 'token_type_ids'], '/embeddings/token_type_embeddings/Gather');
  const length = g.op('Shape', ['input_ids'], '/embeddings/Shape', { start: 1, end: 2 }); // [sequence]
  const zero = g.int64s('const_zero_1d', [0]);
  const positions = g.op('Slice', [weight(`${e}.position_embeddings.weight`), zero, length, zero], '/embeddings/position_embeddings/Slice');
  let x = g.op('Add', [g.op('Add', [words, types], '/embeddings/Add'), positions], '/embeddings/Add');
  x = layerNorm(x, `${e}.LayerNorm`, '/embeddings');

  // Padding mask [batch, 1, 1, sequence]: 0 at tokens, float32's lowest at padding.
  const maskFloat = g.op('Cast', ['attention_mask'], '/mask/Cast', { to: DataType.FLOAT });
  const inverted = g.op('Sub', [g.scalar('const_one', 1), maskFloat], '/mask/Sub');
  const maskAdd = g.op('Unsqueeze', [g.op('Mul', [inverted, g.scalar('const_mask_value', MASK_VALUE)], '/mask/Mul'),
    g.int64s('const_axes_1_2', [1, 2])], '/mask/Unsqueeze');

  const heads = c.numAttentionHeads;
  const headSize = c.headSize;
  const toHeads = g.int64s('const_shape_heads', [0, 0, heads, headSize]); // [batch, seq, heads, headSize]; 0 keeps a dim
  const toHidden = g.int64s('const_shape_hidden', [0, 0, c.hiddenSize]);
  const scale = g.scalar('const_sqrt_head_size', Math.sqrt(headSize));
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const w = `${p}encoder.layer.${i}`;
    const s = `/encoder/layer.${i}`;
    // Self-attention: softmax(q·kᵀ/√d + mask)·v per head.
    const split = (t: string, name: string, perm: number[]) =>
      g.op('Transpose', [g.op('Reshape', [t, toHeads], `${s}/attention/${name}/Reshape`)], `${s}/attention/${name}/Transpose`, { perm });
    const q = split(linear(x, `${w}.attention.self.query`, `${s}/attention/query`), 'query', [0, 2, 1, 3]); // [b, h, seq, d]
    const kT = split(linear(x, `${w}.attention.self.key`, `${s}/attention/key`), 'key', [0, 2, 3, 1]); // [b, h, d, seq]
    const v = split(linear(x, `${w}.attention.self.value`, `${s}/attention/value`), 'value', [0, 2, 1, 3]);
    const scores = g.op('Add', [g.op('Div', [g.op('MatMul', [q, kT], `${s}/attention/scores/MatMul`), scale], `${s}/attention/scores/Div`), maskAdd],
      `${s}/attention/scores/Add`);
    const probs = g.op('Softmax', [scores], `${s}/attention/Softmax`, { axis: -1 });
    const context = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [probs, v], `${s}/attention/context/MatMul`)], `${s}/attention/context/Transpose`,
      { perm: [0, 2, 1, 3] }), toHidden], `${s}/attention/context/Reshape`);
    const attended = g.op('Add', [linear(context, `${w}.attention.output.dense`, `${s}/attention/output`), x], `${s}/attention/output/Residual`);
    const a = layerNorm(attended, `${w}.attention.output.LayerNorm`, `${s}/attention/output`);
    // Feed-forward: LayerNorm(act(a·W_i + b)·W_o + b + a).
    const h = activation(g, c.hiddenAct, linear(a, `${w}.intermediate.dense`, `${s}/intermediate`), `${s}/intermediate`);
    x = layerNorm(g.op('Add', [linear(h, `${w}.output.dense`, `${s}/output`), a], `${s}/output/Residual`), `${w}.output.LayerNorm`, `${s}/output`);
  }

  // Pooler: tanh(dense(first token's state)); then the classifier.
  const first = g.op('Gather', [x, g.int64s('const_zero', [0], [])], '/pooler/Gather', { axis: 1 }); // [batch, hidden]
  const pooled = g.op('Tanh', [linear(first, `${p}pooler.dense`, '/pooler/dense')], '/pooler/Tanh');
  const logits = linear(pooled, 'classifier', '/classifier');

  const graph: onnx.IGraphProto = {
    name: 'BertForSequenceClassification',
    node: [...g.nodes, { name: '/logits/Identity', opType: 'Identity', input: [logits], output: ['logits'] }],
    initializer: g.initializers,
    input: [tokenInput('input_ids'), tokenInput('attention_mask'), tokenInput('token_type_ids')],
    output: [{
      name: 'logits',
      type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'batch_size' }, { dimValue: c.numLabels }] } } },
    }],
  };
  const proto: onnx.IModelProto = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'nlpbook-ts',
    docString: `BertForSequenceClassification (${c.numHiddenLayers} layers, hidden ${c.hiddenSize}, labels ${c.id2label.join(', ')})`,
    graph,
  };
  return onnx.ModelProto.encode(proto).finish();
}

/** config.hidden_act as ONNX ops: "gelu" is exact (erf), the gelu_* variants the tanh approximation. */
function activation(g: GraphBuilder, act: HiddenAct, x: string, scope: string): string {
  const k = (name: string, v: number) => g.scalar(`const_${name}`, v);
  switch (act) {
    case 'gelu': {
      // x · ½(1 + erf(x/√2))
      const erf = g.op('Erf', [g.op('Div', [x, k('sqrt2', Math.SQRT2)], `${scope}/gelu/Div`)], `${scope}/gelu/Erf`);
      const half = g.op('Mul', [g.op('Add', [erf, k('one', 1)], `${scope}/gelu/Add`), k('gelu_half', 0.5)], `${scope}/gelu/Mul`);
      return g.op('Mul', [x, half], `${scope}/gelu/Mul`);
    }
    case 'gelu_new': case 'gelu_pytorch_tanh': case 'gelu_fast': {
      // ½x · (1 + tanh(√(2/π)·(x + 0.044715·x³)))
      const cube = g.op('Mul', [g.op('Mul', [x, x], `${scope}/gelu/Mul`), x], `${scope}/gelu/Mul`);
      const inner = g.op('Add', [x, g.op('Mul', [cube, k('gelu_c', 0.044715)], `${scope}/gelu/Mul`)], `${scope}/gelu/Add`);
      const t = g.op('Tanh', [g.op('Mul', [inner, k('sqrt_2_over_pi', Math.sqrt(2 / Math.PI))], `${scope}/gelu/Mul`)], `${scope}/gelu/Tanh`);
      const onePlus = g.op('Add', [t, k('one', 1)], `${scope}/gelu/Add`);
      return g.op('Mul', [g.op('Mul', [x, k('gelu_half', 0.5)], `${scope}/gelu/Mul`), onePlus], `${scope}/gelu/Mul`);
    }
    case 'relu':
      return g.op('Relu', [x], `${scope}/Relu`);
  }
}

/** [rows, cols] row-major -> [cols, rows]. */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) {
    for (let col = 0; col < cols; col++) out[col * rows + r] = a[r * cols + col];
  }
  return out;
}

// ---------------------------------------------------------------- the folder transformers.js loads

export interface OnnxExportOptions extends ClassifierOptions {
  /** Replace `outDir` when it exists (the old folder stays in place until the new one is complete). */
  force?: boolean;
  /**
   * Load the finished folder with transformers.js and compare its probabilities with this
   * project's model on a few sentences before installing it (default true).
   */
  check?: boolean;
}

export interface OnnxExportResult {
  /** The folder written. */
  out: string;
  /** Its files, relative to `out`. */
  files: string[];
  onnxBytes: number;
  opset: number;
  /** Longest input in tokens, written as tokenizer_config.json's model_max_length. */
  maxLength: number;
  labels: string[];
  /** What the transformers.js check found (null when skipped). */
  check: ExportCheck | null;
}

export interface ExportCheck {
  sentences: number;
  /** Largest |p_transformers.js − p_nlpbook| over every sentence and label. */
  maxProbDiff: number;
}

/** How far transformers.js's probabilities may be from ours before the export is refused. */
export const CHECK_TOLERANCE = 1e-4;

/** Sentences of varied length for the check (padding inside one batch included). */
const CHECK_SENTENCES = [
  '정말 재미있어요',
  '최악의 영화. 시간 아깝다 ㅡㅡ',
  '배우들 연기가 좋았고 음악도 훌륭했다 다시 보고 싶다',
  '그냥 그랬어요...',
  'OST가 너무 좋아서 계속 듣고 있습니다 강추!!',
  '스토리는 뻔하지만 배우들 연기가 살렸다',
  'ㅋㅋㅋ',
];

/**
 * Writes `outDir` for transformers.js: config.json, the tokenizer files and onnx/model.onnx,
 * made from the classifier in `modelDir` (any folder `nlpbook predict` takes). Everything
 * goes into a temp folder beside `outDir` that is renamed into place only when complete
 * (and checked, unless `check: false`), so `outDir` is never half-written.
 */
export async function exportOnnx(modelDir: string, outDir: string, options: OnnxExportOptions = {}): Promise<OnnxExportResult> {
  const out = path.resolve(outDir);
  if (fs.existsSync(out)) {
    if (!fs.statSync(out).isDirectory()) throw new NlpbookError(`${outDir}: exists and is not a folder`);
    if (!options.force && fs.readdirSync(out).length > 0) throw new NlpbookError(`${outDir}: already exists (pass --force to replace it)`);
    const model = path.resolve(modelDir);
    if (model === out || model.startsWith(out + path.sep)) throw new NlpbookError(`${outDir}: holds the model folder ${modelDir}; choose another output folder`);
    // --force replaces an earlier export, never a folder with anything else in it.
    const foreign = foreignExportEntry(out);
    if (foreign) {
      throw new NlpbookError(`${path.join(outDir, path.relative(out, foreign))}: not a file nlpbook export onnx writes; --force replaces only an earlier export (move it out, or choose another --out)`);
    }
  }
  const classifier = await SentenceClassifier.load(modelDir, options);
  try {
    const files = exportFiles(classifier);
    const tmp = makeTempFolder(out, outDir);
    try {
      for (const [name, data] of files) {
        fs.mkdirSync(path.dirname(path.join(tmp, name)), { recursive: true });
        fs.writeFileSync(path.join(tmp, name), data);
      }
      const check = options.check === false ? null : await checkWithTransformersJs(tmp, classifier, modelDir);
      install(tmp, out, outDir);
      return {
        out, files: [...files.keys()], onnxBytes: files.get(ONNX_MODEL_FILE)!.length, opset: ONNX_OPSET,
        maxLength: classifier.maxLength, labels: [...classifier.labels], check,
      };
    } catch (e) {
      fs.rmSync(tmp, { recursive: true, force: true });
      if (e instanceof NlpbookError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code) throw new NlpbookError(`${outDir}: cannot write (${code})`);
      throw e;
    }
  } finally {
    classifier.dispose();
  }
}

/** The files exportFiles writes (relative to the folder). */
export const EXPORTED_FILES: readonly string[] = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt', ONNX_MODEL_FILE];

/** The first entry of `dir` (recursively) that is not one of EXPORTED_FILES or a folder holding them, or null. */
function foreignExportEntry(dir: string, under = ''): string | null {
  for (const name of fs.readdirSync(path.join(dir, under)).sort()) {
    const rel = path.join(under, name);
    const st = fs.lstatSync(path.join(dir, rel));
    if (st.isFile() && EXPORTED_FILES.includes(rel)) continue;
    if (st.isDirectory() && EXPORTED_FILES.some((f) => f.startsWith(rel + path.sep))) {
      const inner = foreignExportEntry(dir, rel);
      if (inner) return inner;
      continue;
    }
    return path.join(dir, rel);
  }
  return null;
}

/** File name (relative) -> contents of the exported folder. */
export function exportFiles(classifier: SentenceClassifier): Map<string, string | Uint8Array> {
  const model = classifier.model;
  const config = {
    ...model.config.toJSON([model.architecture]),
    // A browser defaults to the 8-bit model file (model_quantized.onnx); this folder has the float32 one.
    'transformers.js_config': { ...(model.config.extra['transformers.js_config'] as object | undefined), dtype: 'fp32' },
  };
  const tokenizer = tokenizerFiles(classifier.tokenizer);
  // transformers.js (and Python's pipeline) cut inputs at model_max_length: make that the length
  // the classifier was trained with (nlpbook predict's max length), not the pretrained model's.
  const tokenizerConfig = { ...JSON.parse(tokenizer.get('tokenizer_config.json')!), model_max_length: classifier.maxLength };
  const t = classifier.tokenizer.config;
  const specialTokens = { unk_token: t.unkToken, sep_token: t.sepToken, pad_token: t.padToken, cls_token: t.clsToken, mask_token: t.maskToken };
  const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
  return new Map<string, string | Uint8Array>([
    ['config.json', json(config)],
    ['tokenizer.json', tokenizer.get('tokenizer.json')!],
    ['tokenizer_config.json', json(tokenizerConfig)],
    ['special_tokens_map.json', json(specialTokens)],
    ['vocab.txt', tokenizer.get('vocab.txt')!],
    [ONNX_MODEL_FILE, bertClassifierToOnnx(model)],
  ]);
}

/** An empty hidden folder beside `out` (same file system, so the final rename is atomic). */
function makeTempFolder(out: string, shown: string): string {
  const parent = path.dirname(out);
  try {
    fs.mkdirSync(parent, { recursive: true });
    const tmp = path.join(parent, `.${path.basename(out)}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
    fs.mkdirSync(tmp); // not mkdtemp: that one is private (0700), and the folder becomes `out` as it is
    return tmp;
  } catch (e) {
    let blocker = parent; // mkdir says EEXIST or ENOTDIR when a file stands where a folder should be
    while (!fs.existsSync(blocker) && path.dirname(blocker) !== blocker) blocker = path.dirname(blocker);
    const why = fs.existsSync(blocker) && !fs.statSync(blocker).isDirectory() ? `${blocker} is a file` : (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new NlpbookError(`${shown}: cannot write there (${why})`);
  }
}

/** Renames the finished `tmp` to `out`; an existing `out` is swapped out and removed only after that worked. */
function install(tmp: string, out: string, shown: string): void {
  if (!fs.existsSync(out)) {
    fs.renameSync(tmp, out);
    return;
  }
  const old = path.join(path.dirname(out), `.${path.basename(out)}.old-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  fs.renameSync(out, old);
  try {
    fs.renameSync(tmp, out);
  } catch (e) {
    fs.renameSync(old, out);
    throw new NlpbookError(`${shown}: cannot replace it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  fs.rmSync(old, { recursive: true, force: true });
}

/**
 * Runs the folder `dir` the way a user would (transformers.js text-classification pipeline,
 * local files only) on CHECK_SENTENCES that fit the max length, and compares every label's
 * probability with this project's model; an NlpbookError when one differs by more than CHECK_TOLERANCE.
 */
export async function checkWithTransformersJs(dir: string, classifier: SentenceClassifier, modelDir: string): Promise<ExportCheck> {
  // Sentences longer than the max length are left out: transformers.js truncates by cutting the
  // end, [SEP] included, where this project (and Python) keep [SEP] (see README).
  const texts = CHECK_SENTENCES.filter((t) => classifier.tokenizer.encode(t).inputIds.length <= classifier.maxLength);
  if (texts.length === 0) texts.push('');
  const ours = classifier.predict(texts);
  let got: number[][];
  try {
    got = await transformersJsProbabilities(dir, texts, classifier.labels);
  } catch (e) {
    if (e instanceof NlpbookError) throw e;
    throw new NlpbookError(`export check: transformers.js cannot run the exported folder (${String((e as Error).message ?? e).split('\n')[0]}); nothing was written`);
  }
  let maxProbDiff = 0;
  ours.forEach((o, i) => {
    const probs = softmaxRow(o.logits);
    probs.forEach((p, k) => {
      const d = Math.abs(p - got[i][k]);
      if (!(d <= CHECK_TOLERANCE)) {
        throw new NlpbookError(`export check: transformers.js gives P(${classifier.labels[k]}) = ${got[i][k]} for ${JSON.stringify(texts[i])}, ` +
          `${modelDir} gives ${p} (limit ${CHECK_TOLERANCE}); nothing was written`);
      }
      maxProbDiff = Math.max(maxProbDiff, d);
    });
  });
  return { sentences: texts.length, maxProbDiff };
}

/**
 * Every label's probability for each text, in id2label order, from transformers.js's
 * text-classification pipeline on the folder `dir` (local files only, nothing downloaded).
 */
export async function transformersJsProbabilities(dir: string, texts: string[], labels: readonly string[]): Promise<number[][]> {
  const { pipeline } = await import('@huggingface/transformers');
  // An absolute path is never taken for a hub id, so the folder is read directly.
  const classify = await pipeline('text-classification', path.resolve(dir), { local_files_only: true, dtype: 'fp32' });
  try {
    const results = (await classify(texts, { top_k: null })) as unknown as { label: string; score: number }[][];
    return results.map((scores) => labels.map((label) => {
      const hit = scores.find((s) => s.label === label);
      if (!hit) throw new NlpbookError(`${dir}: transformers.js returned no score for label ${label}`);
      return hit.score;
    }));
  } finally {
    await classify.dispose();
  }
}
