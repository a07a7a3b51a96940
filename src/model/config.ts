// The model's shape and hyper-parameters, read from a Hugging Face config.json and
// written back in a form Python's transformers loads. Field defaults are
// transformers' BertConfig defaults, so any config.json Python accepts loads here too.
import * as fs from 'fs';
import * as path from 'path';
import { NlpbookError } from '../util/errors';

/** Activations BERT configs use; "gelu" is the exact erf GELU (PyTorch's default). */
export type HiddenAct = 'gelu' | 'gelu_new' | 'gelu_pytorch_tanh' | 'gelu_fast' | 'relu';
const HIDDEN_ACTS: readonly HiddenAct[] = ['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'relu'];

/** The fields of config.json this project reads, as Python writes them (snake_case). */
export interface BertConfigJson {
  model_type?: string;
  architectures?: string[];
  vocab_size?: number;
  hidden_size?: number;
  num_hidden_layers?: number;
  num_attention_heads?: number;
  intermediate_size?: number;
  hidden_act?: string;
  hidden_dropout_prob?: number;
  attention_probs_dropout_prob?: number;
  max_position_embeddings?: number;
  type_vocab_size?: number;
  initializer_range?: number;
  layer_norm_eps?: number;
  pad_token_id?: number | null;
  classifier_dropout?: number | null;
  num_labels?: number;
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
  position_embedding_type?: string;
  is_decoder?: boolean;
  [other: string]: unknown;
}

/** Fields this class owns; everything else in config.json is kept as is and written back. */
const OWN_FIELDS = new Set([
  'model_type', 'architectures', 'vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads',
  'intermediate_size', 'hidden_act', 'hidden_dropout_prob', 'attention_probs_dropout_prob', 'max_position_embeddings',
  'type_vocab_size', 'initializer_range', 'layer_norm_eps', 'pad_token_id', 'classifier_dropout', 'num_labels',
  'id2label', 'label2id',
]);

/** The settable fields of BertConfig (what `new BertConfig({...})` takes). */
export type BertConfigFields = Partial<Pick<BertConfig, 'vocabSize' | 'hiddenSize' | 'numHiddenLayers' | 'numAttentionHeads'
  | 'intermediateSize' | 'hiddenAct' | 'hiddenDropoutProb' | 'attentionProbsDropoutProb' | 'maxPositionEmbeddings'
  | 'typeVocabSize' | 'initializerRange' | 'layerNormEps' | 'padTokenId' | 'classifierDropout' | 'id2label'
  | 'architectures' | 'extra'>>;

export class BertConfig {
  vocabSize = 30522;
  hiddenSize = 768;
  numHiddenLayers = 12;
  numAttentionHeads = 12;
  intermediateSize = 3072;
  hiddenAct: HiddenAct = 'gelu';
  hiddenDropoutProb = 0.1;
  attentionProbsDropoutProb = 0.1;
  maxPositionEmbeddings = 512;
  typeVocabSize = 2;
  initializerRange = 0.02;
  layerNormEps = 1e-12;
  /** Row of the word embeddings that HF's init leaves at zero; null: none. */
  padTokenId: number | null = 0;
  /** Dropout before the classifier; null means hiddenDropoutProb (as in transformers). */
  classifierDropout: number | null = null;
  /** Class names by label index; its length is the number of labels. */
  id2label: string[] = ['LABEL_0', 'LABEL_1'];
  architectures: string[] = [];
  /** Fields of the source config.json this class does not interpret, written back unchanged. */
  extra: Record<string, unknown> = {};

  /** A config with transformers' defaults, overridden by `fields`, validated; `source` names it in errors. */
  constructor(fields: BertConfigFields = {}, source = 'BertConfig') {
    Object.assign(this, fields);
    this.validate(source);
  }

  get numLabels(): number {
    return this.id2label.length;
  }

  /** label name -> index, the inverse of id2label. */
  get label2id(): Record<string, number> {
    return Object.fromEntries(this.id2label.map((name, i) => [name, i]));
  }

  /** Size of one attention head. */
  get headSize(): number {
    return this.hiddenSize / this.numAttentionHeads;
  }

  /** The dropout rate in front of the classifier. */
  get classifierDropoutProb(): number {
    return this.classifierDropout ?? this.hiddenDropoutProb;
  }

  /** A copy with some fields changed (validated). */
  with(fields: BertConfigFields): BertConfig {
    return new BertConfig({ ...this.fields(), ...fields });
  }

  /** Labels as `numLabels` generic names (LABEL_0...) unless names are given. */
  withLabels(numLabels: number, names?: readonly string[]): BertConfig {
    if (!Number.isInteger(numLabels) || numLabels < 1) throw new NlpbookError(`numLabels: expected a positive integer, got ${numLabels}`);
    if (names && names.length !== numLabels) {
      throw new NlpbookError(`label names: expected ${numLabels} names (numLabels), got ${names.length}`);
    }
    const id2label = names ? [...names] : this.id2label.length === numLabels ? this.id2label : generic(numLabels);
    return this.with({ id2label });
  }

  /** Reads <dir>/config.json (or the file itself when `file` ends in .json). */
  static fromFile(file: string): BertConfig {
    if (!file.endsWith('.json')) file = path.join(file, 'config.json');
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new NlpbookError(`${file}: cannot read the model config (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new NlpbookError(`${file}: invalid JSON (${(e as Error).message})`);
    }
    return BertConfig.fromJSON(json, file);
  }

  /** Builds a config from parsed config.json; `source` names the file in error messages. */
  static fromJSON(json: unknown, source = 'config.json'): BertConfig {
    if (!json || typeof json !== 'object' || Array.isArray(json)) throw new NlpbookError(`${source}: expected a JSON object`);
    const j = json as BertConfigJson;
    const where = (field: string) => `${source}: ${field}`;
    if (j.model_type !== undefined && j.model_type !== 'bert') {
      throw new NlpbookError(`${where('model_type')}: expected "bert", got ${JSON.stringify(j.model_type)}`);
    }
    if (j.position_embedding_type !== undefined && j.position_embedding_type !== 'absolute') {
      throw new NlpbookError(`${where('position_embedding_type')}: only "absolute" is supported, got ${JSON.stringify(j.position_embedding_type)}`);
    }
    if (j.is_decoder === true) throw new NlpbookError(`${where('is_decoder')}: decoder BERT is not supported (expected false)`);
    const c: Record<string, unknown> = {};
    const num = (field: keyof BertConfigJson, key: keyof BertConfigFields) => {
      const v = j[field];
      if (v === undefined) return;
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new NlpbookError(`${where(field as string)}: expected a number, got ${JSON.stringify(v)}`);
      c[key] = v;
    };
    num('vocab_size', 'vocabSize');
    num('hidden_size', 'hiddenSize');
    num('num_hidden_layers', 'numHiddenLayers');
    num('num_attention_heads', 'numAttentionHeads');
    num('intermediate_size', 'intermediateSize');
    num('hidden_dropout_prob', 'hiddenDropoutProb');
    num('attention_probs_dropout_prob', 'attentionProbsDropoutProb');
    num('max_position_embeddings', 'maxPositionEmbeddings');
    num('type_vocab_size', 'typeVocabSize');
    num('initializer_range', 'initializerRange');
    num('layer_norm_eps', 'layerNormEps');
    if (j.hidden_act !== undefined) c.hiddenAct = j.hidden_act as HiddenAct;
    if (j.pad_token_id !== undefined) c.padTokenId = j.pad_token_id;
    if (j.classifier_dropout !== undefined) c.classifierDropout = j.classifier_dropout;
    if (j.architectures !== undefined) {
      if (!Array.isArray(j.architectures) || !j.architectures.every((a) => typeof a === 'string')) {
        throw new NlpbookError(`${where('architectures')}: expected a list of class names, got ${JSON.stringify(j.architectures)}`);
      }
      c.architectures = [...j.architectures];
    }
    c.id2label = readLabels(j, source);
    c.extra = Object.fromEntries(Object.entries(j).filter(([k]) => !OWN_FIELDS.has(k)));
    return new BertConfig(c as BertConfigFields, source);
  }

  /** config.json as Python's transformers writes it (snake_case, string keys in id2label). */
  toJSON(architectures: string[] = this.architectures): Record<string, unknown> {
    const id2label = Object.fromEntries(this.id2label.map((name, i) => [String(i), name]));
    return {
      ...this.extra,
      architectures,
      model_type: 'bert',
      vocab_size: this.vocabSize,
      hidden_size: this.hiddenSize,
      num_hidden_layers: this.numHiddenLayers,
      num_attention_heads: this.numAttentionHeads,
      intermediate_size: this.intermediateSize,
      hidden_act: this.hiddenAct,
      hidden_dropout_prob: this.hiddenDropoutProb,
      attention_probs_dropout_prob: this.attentionProbsDropoutProb,
      max_position_embeddings: this.maxPositionEmbeddings,
      type_vocab_size: this.typeVocabSize,
      initializer_range: this.initializerRange,
      layer_norm_eps: this.layerNormEps,
      pad_token_id: this.padTokenId,
      classifier_dropout: this.classifierDropout,
      id2label,
      label2id: this.label2id,
    };
  }

  private fields(): BertConfigFields {
    const { vocabSize, hiddenSize, numHiddenLayers, numAttentionHeads, intermediateSize, hiddenAct, hiddenDropoutProb,
      attentionProbsDropoutProb, maxPositionEmbeddings, typeVocabSize, initializerRange, layerNormEps, padTokenId,
      classifierDropout, id2label, architectures, extra } = this;
    return { vocabSize, hiddenSize, numHiddenLayers, numAttentionHeads, intermediateSize, hiddenAct, hiddenDropoutProb,
      attentionProbsDropoutProb, maxPositionEmbeddings, typeVocabSize, initializerRange, layerNormEps, padTokenId,
      classifierDropout, id2label: [...id2label], architectures: [...architectures], extra: { ...extra } };
  }

  private validate(source: string): void {
    const field = (name: string) => `${source}: ${snake(name)}`;
    const positiveInt = (name: keyof BertConfig) => {
      const v = this[name] as unknown;
      if (!Number.isInteger(v) || (v as number) < 1) throw new NlpbookError(`${field(name)}: expected a positive integer, got ${JSON.stringify(v)}`);
    };
    const probability = (name: keyof BertConfig) => {
      const v = this[name] as unknown;
      if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new NlpbookError(`${field(name)}: expected a probability in [0, 1), got ${JSON.stringify(v)}`);
    };
    for (const n of ['vocabSize', 'hiddenSize', 'numHiddenLayers', 'numAttentionHeads', 'intermediateSize', 'maxPositionEmbeddings', 'typeVocabSize'] as const) positiveInt(n);
    probability('hiddenDropoutProb');
    probability('attentionProbsDropoutProb');
    if (this.classifierDropout !== null) probability('classifierDropout');
    if (this.hiddenSize % this.numAttentionHeads !== 0) {
      throw new NlpbookError(`${source}: hidden_size ${this.hiddenSize} is not a multiple of num_attention_heads ${this.numAttentionHeads}`);
    }
    if (!HIDDEN_ACTS.includes(this.hiddenAct)) {
      throw new NlpbookError(`${field('hiddenAct')}: unsupported activation ${JSON.stringify(this.hiddenAct)} (expected one of ${HIDDEN_ACTS.join(', ')})`);
    }
    if (!(typeof this.initializerRange === 'number' && this.initializerRange > 0)) {
      throw new NlpbookError(`${field('initializerRange')}: expected a positive number, got ${JSON.stringify(this.initializerRange)}`);
    }
    if (!(typeof this.layerNormEps === 'number' && this.layerNormEps > 0 && this.layerNormEps < 1)) {
      throw new NlpbookError(`${field('layerNormEps')}: expected a small positive number, got ${JSON.stringify(this.layerNormEps)}`);
    }
    if (this.padTokenId !== null && !(Number.isInteger(this.padTokenId) && this.padTokenId >= 0 && this.padTokenId < this.vocabSize)) {
      throw new NlpbookError(`${field('padTokenId')}: expected null or an id in 0..${this.vocabSize - 1}, got ${JSON.stringify(this.padTokenId)}`);
    }
    if (!Array.isArray(this.id2label) || this.id2label.length < 1 || !this.id2label.every((n) => typeof n === 'string')) {
      throw new NlpbookError(`${source}: id2label: expected at least one label name, got ${JSON.stringify(this.id2label)}`);
    }
    if (new Set(this.id2label).size !== this.id2label.length) {
      throw new NlpbookError(`${source}: id2label: label names must be unique, got ${JSON.stringify(this.id2label)}`);
    }
  }
}

/** id2label from config.json: keys "0".."n-1"; else num_labels generic names; else 2 (transformers' default). */
function readLabels(j: BertConfigJson, source: string): string[] {
  const n = j.num_labels;
  if (n !== undefined && !(Number.isInteger(n) && n >= 1)) {
    throw new NlpbookError(`${source}: num_labels: expected a positive integer, got ${JSON.stringify(n)}`);
  }
  if (j.id2label === undefined || j.id2label === null) return generic(n ?? 2);
  if (typeof j.id2label !== 'object' || Array.isArray(j.id2label)) {
    throw new NlpbookError(`${source}: id2label: expected an object like {"0": "negative"}, got ${JSON.stringify(j.id2label)}`);
  }
  const entries = Object.entries(j.id2label);
  const labels: string[] = new Array(entries.length);
  for (const [key, name] of entries) {
    const i = Number(key);
    if (!Number.isInteger(i) || i < 0 || i >= entries.length || labels[i] !== undefined) {
      throw new NlpbookError(`${source}: id2label: keys must be 0..${entries.length - 1}, got ${JSON.stringify(key)}`);
    }
    if (typeof name !== 'string') throw new NlpbookError(`${source}: id2label["${key}"]: expected a string, got ${JSON.stringify(name)}`);
    labels[i] = name;
  }
  if (n !== undefined && n !== labels.length) {
    throw new NlpbookError(`${source}: num_labels ${n} does not match id2label with ${labels.length} entries`);
  }
  return labels;
}

function generic(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `LABEL_${i}`);
}

/** hiddenDropoutProb -> hidden_dropout_prob, for error messages that name config.json's field. */
function snake(name: string): string {
  return name === 'padTokenId' ? 'pad_token_id' : name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
