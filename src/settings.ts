// Step 1 of the course: one settings object drives every step, like ratsnlp's
// ClassificationTrainArguments (same fields, camelCase), plus what this course adds.
// It is saved as settings.json next to every output and loads back identical.
import * as os from 'os';

export interface Settings {
  // --- ratsnlp's ClassificationTrainArguments, camelCase ---
  /** Pretrained model: a Hugging Face hub id or a local folder in Hugging Face layout. */
  pretrainedModelName: string;
  /** Task name; also the name of the features cache folder. */
  downstreamTaskName: string;
  /** Corpus name (Korpora's name): only "nsmc" here. */
  downstreamCorpusName: string;
  /** Where corpora live: <root>/nsmc/ratings_train.txt, like Korpora's root_dir. */
  downstreamCorpusRootDir: string;
  /** Where checkpoints, logs and the final model are written. */
  downstreamModelDir: string;
  /** Longest input in tokens, [CLS] and [SEP] included. */
  maxSeqLength: number;
  /** How many best checkpoints to keep (by `monitor`); -1 keeps all, 0 none. */
  saveTopK: number;
  /** Checkpoint choice: "min val_loss" or "max val_accuracy". */
  monitor: string;
  /** Seed of every random choice (sampler, dropout, init, split). */
  seed: number;
  /** Rebuild the tokenized features cache even when it is valid. */
  overwriteCache: boolean;
  /** Download the corpus again even when valid files exist. */
  forceDownload: boolean;
  /** Run only a couple of batches per phase: a smoke test of the pipeline. */
  testMode: boolean;
  learningRate: number;
  epochs: number;
  batchSize: number;
  /** Kept for parity; no effect: loading runs in-process and TensorFlow sizes its own thread pool. */
  cpuWorkers: number;
  /** Kept for parity; must be false: TF.js has no mixed-precision training. */
  fp16: boolean;
  /** Kept for parity; must be 0: there are no TPUs in TF.js on Node. */
  tpuCores: number;
  /** Show progress bars (ratsnlp's tqdm_enabled). */
  tqdmEnabled: boolean;

  // --- what this course adds ---
  /** Base URL or local folder laid out like Korpora's root (nsmc/ratings_*.txt), used instead of GitHub; null: env NLPBOOK_CORPUS_MIRROR, else $NLPBOOK_MIRROR/data, else GitHub. */
  corpusMirror: string | null;
  /** Local folder holding model folders (<mirror>/kcbert-base or <mirror>/beomi/kcbert-base), tried before the hub; null: env NLPBOOK_MODEL_MIRROR, else $NLPBOOK_MIRROR/models. */
  modelMirror: string | null;
  /** What to do with empty documents (5 train, 3 test rows): keep them as "", skip them, or fail. */
  emptyDocuments: 'keep' | 'skip' | 'error';
  /** Share of the training split held out for validation (the test split is never used for choices). */
  validationFraction: number;
  /** Share of all optimizer steps spent warming the learning rate up from 0. */
  warmupRatio: number;
  /** AdamW's decoupled weight decay (not applied to biases and LayerNorm). */
  weightDecay: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEpsilon: number;
  /** Clip the global gradient norm to this (0 turns clipping off). */
  maxGradNorm: number;
  /** Group training batches by sentence length so padding is small. */
  lengthBucketing: boolean;
  /** Drop the last incomplete training batch. */
  dropLast: boolean;
  /** Stop after this many epochs without improvement of `monitor` (0 turns it off). */
  earlyStoppingPatience: number;
  /** Write training metrics every this many optimizer steps. */
  logEverySteps: number;
}

export const DEFAULT_SETTINGS: Readonly<Settings> = Object.freeze({
  pretrainedModelName: 'beomi/kcbert-base',
  downstreamTaskName: 'document-classification',
  downstreamCorpusName: 'nsmc',
  downstreamCorpusRootDir: 'data/Korpora',
  downstreamModelDir: 'data/checkpoint-doccls',
  maxSeqLength: 128,
  saveTopK: 1,
  monitor: 'min val_loss',
  seed: 7,
  overwriteCache: false,
  forceDownload: false,
  testMode: false,
  learningRate: 5e-5,
  epochs: 3,
  batchSize: 32,
  cpuWorkers: os.cpus().length,
  fp16: false,
  tpuCores: 0,
  tqdmEnabled: true,
  corpusMirror: null,
  modelMirror: null,
  emptyDocuments: 'keep',
  validationFraction: 0.1,
  warmupRatio: 0.1,
  weightDecay: 0.01,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEpsilon: 1e-6,
  maxGradNorm: 1.0,
  lengthBucketing: true,
  dropLast: false,
  earlyStoppingPatience: 0,
  logEverySteps: 10,
});
