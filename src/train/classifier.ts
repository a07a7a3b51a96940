// A trained classifier loaded back to score sentences: what step 7's training leaves is
// checked with it, step 8 evaluates with it and step 9 (`nlpbook predict`, the demo) serves
// it. Loads any Hugging Face-layout folder (ours, or one Python saved: config.json +
// model.safetensors or pytorch_model.bin + vocab.txt / tokenizer.json), cuts sentences as
// in training, and scores them in batches. Sentences are sorted by length inside so each
// batch pads little; results come back in input order.
import * as fs from 'fs';
import * as path from 'path';
import { initBackend, tf } from '../util/backend';
import { NlpbookError } from '../util/errors';
import { argmaxRows, softmaxRow } from '../task/index';
import { BertForSequenceClassification, ClassificationForwardGraph, skipPaddingPays, weightShapes } from '../model/index';
import { graphAvailable } from '../util/tfgraph/session';
import { BertTokenizer } from '../tokenizer/index';

/** Up to five names, then how many more: a list that fits one line. */
function someNames(names: readonly string[]): string {
  return names.length > 5 ? `${names.slice(0, 5).join(', ')} and ${names.length - 5} more` : names.join(', ');
}

/** Names of the weights that hold a NaN or an infinity (checked on the backend, one read for all). */
export function nonFiniteWeights(weights: Map<string, tf.Tensor>): string[] {
  const names = [...weights.keys()];
  if (!names.length) return [];
  const ok = tf.tidy(() => tf.stack(names.map((n) => tf.all(tf.isFinite(weights.get(n)!)))).dataSync());
  return names.filter((_, i) => !ok[i]);
}

/** Default longest input when the model folder has no settings.json (the book's max_seq_length). */
export const DEFAULT_MAX_LENGTH = 128;

export interface ClassifierOptions {
  /** Folder with the tokenizer files when the model folder has none (e.g. kcbert-base's). */
  tokenizerDir?: string;
  /** Longest input in tokens ([CLS], [SEP] included); default the folder's settings.json maxSeqLength, else 128. */
  maxLength?: number;
}

export interface Prediction {
  text: string;
  /** The predicted class's name (config.json id2label, e.g. "positive"). */
  label: string;
  /** Softmax probability of class 1 (positive for NSMC). */
  positive_prob: number;
  /** Raw class scores. */
  logits: number[];
}

/** A loaded model folder ready to score sentences. Call dispose() when done. */
export class SentenceClassifier {
  private constructor(
    readonly dir: string,
    readonly model: BertForSequenceClassification,
    readonly tokenizer: BertTokenizer,
    /** Class names by index (id2label). */
    readonly labels: string[],
    readonly maxLength: number,
  ) {}

  /** Forward passes as one TensorFlow graph (model/forward-graph.ts) where the native backend runs; set false for the eager model. */
  useGraph = graphAvailable();
  private graphs: { skipPadding?: ClassificationForwardGraph; full?: ClassificationForwardGraph } = {};

  /** Loads `modelDir` (any Hugging Face-layout BERT classifier folder). */
  static async load(modelDir: string, options: ClassifierOptions = {}): Promise<SentenceClassifier> {
    await initBackend();
    if (!fs.existsSync(modelDir) || !fs.statSync(modelDir).isDirectory()) throw new NlpbookError(`model folder not found: ${modelDir}`);
    if (!fs.existsSync(path.join(modelDir, 'config.json'))) throw new NlpbookError(`${modelDir}: no config.json (expected a Hugging Face model folder)`);
    const tokenizerDir = options.tokenizerDir ?? modelDir;
    if (!['vocab.txt', 'tokenizer.json'].some((f) => fs.existsSync(path.join(tokenizerDir, f)))) {
      throw new NlpbookError(
        `${tokenizerDir}: no vocab.txt or tokenizer.json${options.tokenizerDir ? '' : '; pass the tokenizer folder (CLI: --tokenizer DIR, e.g. the kcbert-base folder)'}`,
      );
    }
    const tokenizer = BertTokenizer.fromFolder(tokenizerDir);
    const model = BertForSequenceClassification.fromPretrained(modelDir, { quiet: true });
    try {
      const c = model.config;
      if (c.vocabSize !== tokenizer.vocabSize) {
        throw new NlpbookError(`${modelDir}: config.json's vocab_size is ${c.vocabSize} but the tokenizer in ${tokenizerDir} has ${tokenizer.vocabSize} tokens`);
      }
      const missing = model.loadReport?.missingKeys.filter((k) => k.startsWith('classifier.')) ?? [];
      if (missing.length) {
        throw new NlpbookError(`${modelDir}: no classifier weights (${missing.join(', ')}): not a fine-tuned classification model`);
      }
      // Training may start from a partial checkpoint (a warning, as in Python), but scoring
      // with randomly initialised encoder weights gives confident nonsense: refused.
      const report = model.loadReport;
      const encoderMissing = report?.missingKeys ?? [];
      if (encoderMissing.length) {
        throw new NlpbookError(
          `${report!.file}: lacks ${encoderMissing.length} of the model's ${model.weights.size} weights (${someNames(encoderMissing)}): ` +
            'they would be random; expected a complete classifier (nlpbook train\'s best/ or a save_pretrained folder)',
        );
      }
      const broken = nonFiniteWeights(model.weights);
      if (broken.length) {
        throw new NlpbookError(
          `${report?.file ?? modelDir}: ${broken.length} weights hold NaN or infinite values (${someNames(broken)}): ` +
            'the run that saved them diverged; use an earlier checkpoint or train again (a lower learningRate)',
        );
      }
      const maxLength = options.maxLength ?? savedMaxLength(modelDir) ?? Math.min(DEFAULT_MAX_LENGTH, c.maxPositionEmbeddings);
      if (!(Number.isInteger(maxLength) && maxLength >= 2 && maxLength <= c.maxPositionEmbeddings)) {
        throw new NlpbookError(`max length: expected an integer from 2 to ${c.maxPositionEmbeddings} (the model's positions), got ${maxLength}`);
      }
      return new SentenceClassifier(modelDir, model, tokenizer, [...c.id2label], maxLength);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }

  get numLabels(): number {
    return this.labels.length;
  }

  /** Class scores of every text, flat [texts.length, numLabels], in input order. */
  logits(texts: readonly string[], options: { batchSize?: number; onBatch?: (done: number) => void } = {}): Float32Array {
    const batchSize = options.batchSize ?? 64;
    const ids = texts.map((t) => this.tokenizer.encode(t, { maxLength: this.maxLength }).inputIds);
    // Longest first: similar lengths share a batch, and the memory peak comes at once.
    const order = ids.map((_, i) => i).sort((a, b) => ids[b].length - ids[a].length || a - b);
    const k = this.numLabels;
    const out = new Float32Array(texts.length * k);
    const pad = this.tokenizer.padTokenId;
    for (let start = 0; start < order.length; start += batchSize) {
      const rows = order.slice(start, start + batchSize);
      const length = ids[rows[0]].length;
      const flatIds = new Int32Array(rows.length * length).fill(pad);
      const mask = new Int32Array(rows.length * length);
      rows.forEach((row, r) => {
        flatIds.set(ids[row], r * length);
        mask.fill(1, r * length, r * length + ids[row].length);
      });
      const padded = rows.reduce((n, row) => n + length - ids[row].length, 0) / (rows.length * length);
      const scores = tf.tidy(() => {
        const batch = {
          inputIds: tf.tensor2d(flatIds, [rows.length, length], 'int32'),
          attentionMask: tf.tensor2d(mask, [rows.length, length], 'int32'),
          tokenTypeIds: tf.zeros([rows.length, length], 'int32') as tf.Tensor2D,
        };
        const graph = this.forwardGraph(padded);
        return graph ? graph.run([...this.model.weights.values()], batch) : this.model.forward(batch);
      });
      const values = scores.dataSync();
      scores.dispose();
      rows.forEach((row, r) => out.set(values.subarray(r * k, (r + 1) * k), row * k));
      options.onBatch?.(Math.min(order.length, start + batchSize));
    }
    return out;
  }

  /** The forward graph, with padding skipped where that pays (native backend only; null: the eager model); each built once. */
  private forwardGraph(paddedShare: number): ClassificationForwardGraph | null {
    if (!this.useGraph) return null;
    const skipPadding = skipPaddingPays(paddedShare);
    return (this.graphs[skipPadding ? 'skipPadding' : 'full'] ??= new ClassificationForwardGraph(this.model.config, weightShapes(this.model.weights), skipPadding));
  }

  /** Predicted label, positive probability and logits of every text, in input order. */
  predict(texts: readonly string[], options: { batchSize?: number } = {}): Prediction[] {
    const k = this.numLabels;
    const logits = this.logits(texts, options);
    const best = argmaxRows(logits, k);
    return texts.map((text, i) => {
      const row = Array.from(logits.subarray(i * k, (i + 1) * k));
      return { text, label: this.labels[best[i]], positive_prob: softmaxRow(row)[1] ?? 0, logits: row };
    });
  }

  dispose(): void {
    this.graphs.skipPadding?.dispose();
    this.graphs.full?.dispose();
    this.graphs = {};
    this.model.dispose();
  }
}

/** maxSeqLength of the settings.json the trainer saved next to the model, if any. */
function savedMaxLength(dir: string): number | undefined {
  try {
    const value = JSON.parse(fs.readFileSync(path.join(dir, 'settings.json'), 'utf8')).maxSeqLength;
    return typeof value === 'number' ? value : undefined;
  } catch {
    return undefined;
  }
}
