// Fields that fine-tuning (settings.ts) and pretraining (src/pretrain/pretrain-settings.ts)
// share: the optimizer, how a run shows itself and repeats itself, where mirrors are.
// Declared once here with fine-tuning's defaults; each schema spreads them in, and the
// pretraining schema changes the defaults it needs with withDefaults(...).
import { field } from './schema';

/** AdamW with linear warm-up and decay, and gradient clipping. */
export const OPTIMIZER_FIELDS = {
  learningRate: field.number({ default: 5e-5, min: 0, minExclusive: true, max: 1, group: 'training', ratsnlp: 'learning_rate', doc: 'Peak learning rate of AdamW (reached at the end of warm-up).' }),
  warmupRatio: field.number({ default: 0.1, min: 0, max: 1, group: 'training', doc: 'Share of all optimizer steps spent warming the learning rate up from 0.' }),
  weightDecay: field.number({ default: 0.01, min: 0, group: 'training', doc: 'AdamW\'s decoupled weight decay (not applied to biases and LayerNorm).' }),
  adamBeta1: field.number({ default: 0.9, min: 0, max: 1, maxExclusive: true, group: 'training', doc: 'AdamW\'s decay rate of the running mean of gradients.' }),
  adamBeta2: field.number({ default: 0.999, min: 0, max: 1, maxExclusive: true, group: 'training', doc: 'AdamW\'s decay rate of the running mean of squared gradients.' }),
  adamEpsilon: field.number({ default: 1e-6, min: 0, minExclusive: true, group: 'training', doc: 'AdamW\'s small constant in the denominator that keeps updates finite.' }),
  maxGradNorm: field.number({ default: 1.0, min: 0, group: 'training', doc: 'Clip the global gradient norm to this (0 turns clipping off).' }),
};

/** Mixed precision of the training step (both schemas; evaluation and inference always run in float32). */
export const BF16_FIELD = field.boolean({
  default: false, group: 'training',
  doc: 'Mixed precision, as transformers\' TrainingArguments.bf16: the training step\'s dense matmuls take bfloat16 operands and sum in float32; weights, LayerNorm, softmax, losses and AdamW stay float32, and evaluation and inference run in float32. About 1.4x faster steps where the CPU has AMX-BF16, 1.1-1.5x on an AMD EPYC with AVX512-BF16 (the offline profile turns it on where nativeBf16() says so); slower on a Xeon without AMX, even where AVX512-BF16 is there (1.26-1.50x slower, measured). Needs the native backend\'s training graph (the eager path is float32).',
});

/** The seed, the smoke-test switch and how progress is shown. */
export const RUN_FIELDS = {
  seed: field.integer({ default: 7, min: 0, max: 2 ** 32 - 1, group: 'training', ratsnlp: 'seed', doc: 'Seed of every random choice (validation split, batch order, dropout, classifier init).' }),
  testMode: field.boolean({
    default: false, group: 'runtime', ratsnlp: 'test_mode',
    doc: 'Run only a couple of batches per phase: a quick smoke test of the whole pipeline (Lightning\'s fast_dev_run).',
  }),
  tqdmEnabled: field.boolean({
    default: true, group: 'runtime', ratsnlp: 'tqdm_enabled', resumeFree: true,
    doc: 'Show progress bars (a bar on a terminal, a short line every few seconds elsewhere).',
  }),
  logEverySteps: field.integer({ default: 10, min: 1, group: 'runtime', resumeFree: true, doc: 'Write training metrics every this many optimizer steps.' }),
};

/** Where corpora and models come from instead of GitHub and the hub. */
export const MIRROR_FIELDS = {
  corpusMirror: field.nullableString({
    default: null, group: 'corpus', resumeFree: true,
    doc: 'Base URL or local folder laid out like Korpora\'s root (nsmc/ratings_*.txt), used instead of GitHub; null: env NLPBOOK_CORPUS_MIRROR, else $NLPBOOK_MIRROR/data, else GitHub.',
  }),
  modelMirror: field.nullableString({
    default: null, group: 'model', resumeFree: true,
    doc: 'Local folder holding model folders (<mirror>/kcbert-base or <mirror>/beomi/kcbert-base), tried before the hub; null: env NLPBOOK_MODEL_MIRROR, else $NLPBOOK_MIRROR/models.',
  }),
};
