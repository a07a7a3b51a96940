// Course step 3a: pretraining our own small Korean BERT with a masked-language-model
// objective (or ELECTRA's replaced-token detection, settings.objective: model/electra.ts), because kcbert-base's 438 MB weights cannot be downloaded here. The
// vocabulary is kcbert-base's real one, so step 4's tokenizer and everything after it
// stay the same; step 3 loads the result exactly like kcbert-base
// (settings.pretrainedModelName = the output folder).
//
//   for each step (batches of unlabeled sentences, shuffled per epoch by the seed):
//     mask ~15% of the tokens (masking.ts; the masks are a function of seed and step)
//     scores = BertForMaskedLM(masked batch, dropout on) at the chosen positions only
//     loss   = cross-entropy against the original tokens; MLM accuracy alongside
//     AdamW step with clipping and the linear warmup/decay schedule (src/task/optim)
//   at the end: the model in Hugging Face layout + a held-out MLM loss/accuracy
//
// The output folder (settings.outputDir, default data/pretrained/mlm-L<layers>-H<hidden>):
//   config.json (architectures ["BertForMaskedLM"]), model.safetensors, vocab.txt,
//   tokenizer_config.json, tokenizer.json   the model, loadable by Python's transformers
//   pretrain-settings.json                  the settings of the run
//   pretrain-result.json                    steps, minutes, held-out scores (written last:
//                                           its presence means "finished")
//   metrics.jsonl                           one line per logEverySteps steps, one held-out line
//   checkpoints/last/                       while training: weights, AdamW moments and state
//                                           for an exact resume (train/checkpoints.ts); removed when done
//
// The pooler: BertForMaskedLM has none (nor does transformers'); there is no
// next-sentence task here that could train one. Fine-tuning therefore starts the pooler
// fresh, as it starts the classifier. That is what RoBERTa-style models (MLM only)
// always do, and a randomly initialised pooler saved here would be no better than the
// one fine-tuning draws itself, only less honest in the load report.
import * as fs from 'fs';
import * as path from 'path';
import { initBackend, tf } from '../util/backend';
import { checkpointsDir, lastDir, METRICS_FILE, OPTIMIZER_FILE, readOptimizerState, recoverLast, saveLastCheckpoint } from '../train/index';
import { check, NlpbookError } from '../util/errors';
import { writeJsonAtomic } from '../util/fsutil';
import { DataLoader } from '../data/index';
import { maskBatch, maskingVocab, type MaskingOptions, type MaskingVocab, type MlmBatch } from './masking';
import {
  BertForMaskedLM, saveModel, BertConfig, ElectraForPreTraining, ElectraTrainGraph, MlmTrainGraph, skipPaddingPays, weightShapes,
} from '../model/index';
import { AdamW, clipScale, accuracy, sparseCrossEntropy, linearSchedule, lrAt, type AdamWKernel, type LinearSchedule } from '../task/index';
import { buildSequences, documentSources, holdOut, tokenizeDocuments, type SequenceStore } from './pretrain-data';
import {
  PRETRAIN_SETTINGS_FILE, pretrainConflicts, pretrainOutputDir, readSavedPretrainSettings, savePretrainSettings,
  validatePretrainSettings, type PretrainSettings,
} from './pretrain-settings';
import { progress } from '../util/progress';
import { Rng } from '../util/random';
import { graphAvailable } from '../util/tfgraph/session';
import { BertTokenizer, tokenizerFiles, writeTokenizerFiles } from '../tokenizer/index';

export const PRETRAIN_STATE_FORMAT = 'nlpbook-pretrain-state/1';
export const PRETRAIN_RESULT_FILE = 'pretrain-result.json';
/** Steps (and held-out batches) of a testMode run. */
export const PRETRAIN_TEST_MODE_STEPS = 3;

export interface PretrainOptions {
  /** Tokenizer instead of BertTokenizer.fromPretrained(settings.tokenizer). */
  tokenizer?: BertTokenizer;
  /** Where one-line notices go (default stderr). */
  log?: (line: string) => void;
  /** Where the progress bar / lines go (default stderr). */
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** End this call early, as an interruption would, once this many steps are done; `last` is saved there. */
  stopAt?: { steps?: number };
  /** When aborted (Ctrl+C), stop after the current step, save `last` and return unfinished. */
  signal?: AbortSignal;
  /** AdamW kernel (default: fused on the native backend). */
  kernel?: AdamWKernel;
  /**
   * Forward + backward of each step as one TensorFlow graph (model/train-graph.ts
   * MlmTrainGraph; ~2x the eager speed). Default: on wherever the native backend runs;
   * false: tfjs ops and autodiff.
   */
  graph?: boolean;
}

/** What the data of a run was: a resume on other data would not be the same run. */
export interface PretrainDataInfo {
  /** sha256 of the texts and the tokenizer (the token cache's key). */
  fingerprint: string;
  documents: number;
  trainSequences: number;
  /** Tokens of the training sequences, [CLS]/[SEP] included. */
  trainTokens: number;
  heldOutDocuments: number;
}

/** Everything besides weights and AdamW moments that an exact resume needs (checkpoints/last/trainer-state.json). */
export interface PretrainState {
  format: string;
  settings: PretrainSettings;
  data: PretrainDataInfo;
  /** Optimizer steps done. */
  step: number;
  totalSteps: number;
  batchesPerEpoch: number;
  /** Real (non-padding) tokens trained on so far. */
  trainedTokens: number;
  /** Steps since the last metrics line, already read to the host; sums weighted by masked tokens. */
  window: { steps: number; masked: number; lossSum: number; accuracySum: number; tokens: number; discriminatorSum?: number };
  /** Why training ended ('steps': all done; 'minutes': the time budget), null while it goes on. */
  stoppedBy: 'steps' | 'minutes' | null;
  /** Wall seconds of training so far (all sessions). */
  seconds: number;
  /** Size of metrics.jsonl when saved: a resume cuts off what was written after. */
  metricsBytes: number;
  savedAt: string;
}

export interface PretrainResult {
  /** The model folder (Hugging Face layout); loads like kcbert-base. */
  model: string;
  /** True when the model is complete; false after stopAt or an interruption (run again to resume). */
  finished: boolean;
  /** True when a finished model with the same settings was found and returned without training. */
  reused: boolean;
  steps: number;
  totalSteps: number;
  stoppedBy: 'steps' | 'minutes' | null;
  /** Minutes of training, all sessions together. */
  minutes: number;
  trainedTokens: number;
  /** Real tokens per second over the whole run. */
  tokensPerSecond: number;
  /** MLM loss and accuracy over the masked tokens of the last logged window of training steps. */
  trainLoss: number | null;
  trainAccuracy: number | null;
  /** MLM loss and accuracy on the held-out documents (dropout off, fixed masks); null until finished. ELECTRA: its generator's. */
  mlmLoss: number | null;
  mlmAccuracy: number | null;
  /** ELECTRA: the discriminator's held-out accuracy over the real tokens (null for MLM). */
  discriminatorAccuracy?: number | null;
  /** Masked tokens the held-out scores are over. */
  heldOutMasked: number;
  parameters: number;
  data: PretrainDataInfo;
  /** The step a resumed call started from, else null. */
  resumedFrom: number | null;
  /** <model>/metrics.jsonl */
  metrics: string;
}

/** One metrics.jsonl line of training. */
export interface PretrainMetricsLine {
  type: 'train';
  step: number;
  /** Fractional epoch at this step. */
  epoch: number;
  /** Mean cross-entropy and accuracy over the masked tokens of the steps since the previous line (dropout on). */
  loss: number;
  accuracy: number;
  lr: number;
  /** Real tokens trained on so far (all steps up to this one). */
  tokens: number;
  /** Real tokens per second since the previous line. */
  tokensPerSecond: number;
  seconds: number;
  /** ELECTRA: the discriminator's accuracy over the real tokens (loss and accuracy above are its generator's masked LM). */
  discriminatorAccuracy?: number;
}

/** The metrics.jsonl line of the held-out scores (at the end). */
export interface HeldOutMetricsLine {
  type: 'heldout';
  step: number;
  loss: number;
  accuracy: number;
  masked: number;
  sequences: number;
  seconds: number;
}

/** <dir>/metrics.jsonl of a pretraining run, split by line type. */
export function pretrainMetrics(dir: string): { train: PretrainMetricsLine[]; heldout: HeldOutMetricsLine[] } {
  const file = path.join(dir, METRICS_FILE);
  const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l)) : [];
  return { train: lines.filter((l) => l.type === 'train'), heldout: lines.filter((l) => l.type === 'heldout') };
}

/** The finished run in `dir` (its pretrain-result.json), or null. */
export function readPretrainResult(dir: string): PretrainResult | null {
  const file = path.join(dir, PRETRAIN_RESULT_FILE);
  if (!fs.existsSync(file)) return null;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new NlpbookError(`${file}: cannot read (${(e as Error).message.split('\n')[0]}); delete ${dir} to pretrain again`);
  }
}

/** The BertConfig of a model pretrained with these settings and this tokenizer. */
export function pretrainConfig(s: PretrainSettings, tokenizer: Pick<BertTokenizer, 'vocabSize' | 'padTokenId'>): BertConfig {
  return new BertConfig({
    vocabSize: tokenizer.vocabSize,
    hiddenSize: s.hidden,
    numHiddenLayers: s.layers,
    numAttentionHeads: s.heads,
    intermediateSize: s.intermediate,
    maxPositionEmbeddings: s.maxPositions,
    padTokenId: tokenizer.padTokenId,
    architectures: ['BertForMaskedLM'],
  }, 'pretrain settings');
}

/** The masking options of the settings. */
export function maskingOptions(s: PretrainSettings): MaskingOptions {
  return { maskProb: s.maskProb, maskTokenProb: s.maskTokenProb, randomTokenProb: s.randomTokenProb, wholeWordMasking: s.wholeWordMasking };
}

/**
 * Pretrains as the settings say and returns where the model is. A finished model with
 * the same settings in the output folder is returned as it is; a `last` checkpoint
 * of the same run is resumed (and ends with exactly the weights of an uninterrupted run).
 */
export async function pretrain(input: Partial<PretrainSettings>, options: PretrainOptions = {}): Promise<PretrainResult> {
  const settings = validatePretrainSettings(input, 'pretrain settings');
  const log = options.log ?? ((line: string) => console.error(line));
  const dir = pretrainOutputDir(settings);

  // A finished model is not trained again (delete the folder, or change outputDir, to start over).
  const done = readPretrainResult(dir);
  if (done) {
    const saved = readSavedPretrainSettings(dir);
    const conflicts = saved ? pretrainConflicts(saved, settings) : [`${PRETRAIN_SETTINGS_FILE} is missing`];
    if (conflicts.length) throw otherRunError(dir, conflicts);
    // A crash between writing the result and removing the resume checkpoint leaves it behind.
    fs.rmSync(checkpointsDir(dir), { recursive: true, force: true });
    log(`nlpbook: ${dir} already holds a model pretrained with these settings (${done.steps} steps); delete it to pretrain again`);
    return { ...done, model: dir, metrics: path.join(dir, METRICS_FILE), reused: true, resumedFrom: null };
  }
  const saved = recoverLast<PretrainState>(dir, PRETRAIN_STATE_FORMAT);
  if (saved) {
    const conflicts = pretrainConflicts(saved.settings, settings);
    if (conflicts.length) throw otherRunError(lastDir(dir), conflicts);
  }

  await initBackend();
  const tokenizer = options.tokenizer ?? (await BertTokenizer.fromPretrained(settings.tokenizer, { modelMirror: settings.modelMirror }));
  const run = await PretrainRun.create(settings, tokenizer, dir, saved, log, options);
  try {
    return await run.go();
  } finally {
    run.dispose();
  }
}

function otherRunError(where: string, conflicts: string[]): NlpbookError {
  return new NlpbookError(
    `${where}: holds a pretraining run with other settings (${conflicts.slice(0, 3).join('; ')}${conflicts.length > 3 ? '; ...' : ''}); ` +
      'set another outputDir, or delete that folder to start over',
  );
}

/** The training sequences, the held-out ones and what they were made from. */
export interface PretrainData {
  train: SequenceStore;
  heldOut: SequenceStore;
  info: PretrainDataInfo;
}

/**
 * Reads, tokenizes (cache first) and splits the documents, then forms the sequences:
 * training ones as settings.packing says, held-out ones always one document per
 * sequence (the inputs fine-tuning gives; comparable between packing choices).
 */
export async function preparePretrainData(
  s: PretrainSettings,
  tokenizer: BertTokenizer,
  vocab: MaskingVocab,
  log: (line: string) => void = (line) => console.error(line),
): Promise<PretrainData> {
  const sources = await documentSources(s);
  const docs = tokenizeDocuments(sources, tokenizer, { cacheDir: path.join(s.corpusRootDir, 'pretraining-cache'), tqdmEnabled: s.tqdmEnabled, log });
  const split = holdOut(docs.pieces.length, s.heldOutDocuments, s.seed);
  const common = { maxSeqLength: s.maxSeqLength, clsTokenId: tokenizer.clsTokenId, sepTokenId: tokenizer.sepTokenId, padTokenId: tokenizer.padTokenId };
  const train = buildSequences(docs.pieces, split.train, vocab, { ...common, packing: s.packing });
  const heldOut = buildSequences(docs.pieces, split.heldOut, vocab, { ...common, packing: false });
  check(train.length > 0, 'pretrain: no training text (every document is empty or held out)');
  return {
    train,
    heldOut,
    info: { fingerprint: docs.fingerprint, documents: docs.pieces.length, trainSequences: train.length, trainTokens: train.tokens, heldOutDocuments: split.heldOut.length },
  };
}

/** A masked batch as tensors (the caller disposes them). */
interface MlmTensors {
  inputIds: tf.Tensor2D;
  attentionMask?: tf.Tensor2D;
  maskedPositions: tf.Tensor1D;
  labels: tf.Tensor1D;
}

function toTensors(b: MlmBatch): MlmTensors {
  const shape: [number, number] = [b.batch, b.length];
  return {
    inputIds: tf.tensor2d(b.inputIds, shape, 'int32'),
    attentionMask: b.attentionMask ? tf.tensor2d(b.attentionMask, shape, 'int32') : undefined,
    maskedPositions: tf.tensor1d(b.positions, 'int32'),
    labels: tf.tensor1d(b.labels, 'int32'),
  };
}

function disposeTensors(t: MlmTensors): void {
  tf.dispose([t.inputIds, t.maskedPositions, t.labels, ...(t.attentionMask ? [t.attentionMask] : [])]);
}

/**
 * Held-out MLM scores: every sequence once, masks drawn from `seed` (the same masks
 * every time), dropout off. Loss is the mean over all masked tokens.
 */
export function mlmScores(
  model: BertForMaskedLM | ElectraForPreTraining,
  sequences: SequenceStore,
  vocab: MaskingVocab,
  masking: MaskingOptions,
  options: { batchSize: number; seed: number; maxBatches?: number },
): { loss: number; accuracy: number; masked: number; sequences: number; discriminatorAccuracy?: number } {
  const rng = new Rng(options.seed).fork('held-out-masks');
  let lossSum = 0;
  let correct = 0;
  // ELECTRA: the generator's masked-LM scores, and how often the discriminator tells replaced from original.
  let discRight = 0;
  let realTokens = 0;
  let masked = 0;
  let seen = 0;
  const batches = Math.min(Math.ceil(sequences.length / options.batchSize), options.maxBatches ?? Infinity);
  for (let b = 0; b < batches; b++) {
    const rows: Int32Array[] = [];
    for (let i = b * options.batchSize; i < Math.min(sequences.length, (b + 1) * options.batchSize); i++) rows.push(sequences.sequence(i));
    const t = toTensors(maskBatch(rows, vocab, masking, rng));
    try {
      if (model instanceof ElectraForPreTraining) {
        const real = rows.reduce((n, r) => n + r.length, 0);
        const [l, a, d] = tf.tidy(() => {
          const r = model.losses({ ...t, attentionMask: t.attentionMask ?? tf.onesLike(t.inputIds) }, { training: false, seed: options.seed + b });
          return [r.generatorLoss, r.generatorAccuracy, r.discriminatorAccuracy].map((x) => tf.keep(x));
        });
        const M = t.labels.shape[0];
        lossSum += l.dataSync()[0] * M;
        correct += a.dataSync()[0] * M;
        discRight += d.dataSync()[0] * real;
        realTokens += real;
        tf.dispose([l, a, d]);
        continue;
      }
      const [l, c] = tf.tidy(() => {
        const logits = model.forward(t, { training: false }) as tf.Tensor2D;
        return [
          tf.mul(sparseCrossEntropy(logits, t.labels), t.labels.shape[0]),
          tf.sum(tf.cast(tf.equal(tf.argMax(logits, -1), t.labels), 'float32')),
        ];
      });
      lossSum += l.dataSync()[0];
      correct += c.dataSync()[0];
      tf.dispose([l, c]);
    } finally {
      masked += t.labels.shape[0];
      seen += rows.length;
      disposeTensors(t);
    }
  }
  const scores = { loss: masked ? lossSum / masked : 0, accuracy: masked ? correct / masked : 0, masked, sequences: seen };
  return model instanceof ElectraForPreTraining ? { ...scores, discriminatorAccuracy: realTokens ? discRight / realTokens : 0 } : scores;
}

/** One pretraining run's moving parts (pretrain() builds it, go() trains and saves). */
class PretrainRun {
  private readonly metricsFile: string;
  private readonly rootRng: Rng;
  private readonly masking: MaskingOptions;
  private readonly schedule: LinearSchedule;
  private readonly optimizer: AdamW;
  private readonly loader: DataLoader;
  private state!: PretrainState;
  private pending: { loss: tf.Scalar; accuracy: tf.Scalar; discriminatorAccuracy?: tf.Scalar; masked: number }[] = [];
  private sessionStart = Date.now();
  private secondsBefore = 0;
  private lastSave = Date.now();
  private windowStart = { time: Date.now(), tokens: 0 };
  private lastWindow: { loss: number; accuracy: number } | null = null;
  private resumedFrom: number | null = null;
  private readonly useGraph: boolean;
  /** Training graphs, built on first use: one that skips padded positions, one for batches with (almost) none. */
  private graphs: { skipPadding?: MlmTrainGraph | ElectraTrainGraph; full?: MlmTrainGraph | ElectraTrainGraph } = {};

  private constructor(
    private readonly settings: PretrainSettings,
    private readonly tokenizer: BertTokenizer,
    private readonly dir: string,
    private readonly vocab: MaskingVocab,
    private readonly data: PretrainData,
    private readonly model: BertForMaskedLM | ElectraForPreTraining,
    private readonly log: (line: string) => void,
    private readonly options: PretrainOptions,
    saved: PretrainState | null,
  ) {
    const s = settings;
    this.metricsFile = path.join(dir, METRICS_FILE);
    this.rootRng = new Rng(s.seed);
    this.masking = maskingOptions(s);
    this.loader = new DataLoader(data.train, { batchSize: s.batchSize, shuffle: true, seed: s.seed, lengthBucketing: !s.packing });
    let totalSteps = s.steps > 0 ? s.steps : s.epochs * this.loader.length;
    if (s.testMode) totalSteps = Math.min(totalSteps, PRETRAIN_TEST_MODE_STEPS);
    this.schedule = linearSchedule(s, totalSteps);
    this.optimizer = new AdamW(model.weights, {
      lr: s.learningRate, weightDecay: s.weightDecay, beta1: s.adamBeta1, beta2: s.adamBeta2, eps: s.adamEpsilon, kernel: options.kernel,
    });
    this.useGraph = options.graph ?? graphAvailable();
    check(!this.useGraph || graphAvailable(), `pretrain: graph: true needs the native tensorflow backend; this one is "${tf.getBackend()}"`);
    if (saved) this.resume(saved);
    else this.start();
  }

  static async create(
    s: PretrainSettings, tokenizer: BertTokenizer, dir: string, saved: PretrainState | null, log: (line: string) => void, options: PretrainOptions,
  ): Promise<PretrainRun> {
    const vocab = maskingVocab(tokenizer);
    const data = await preparePretrainData(s, tokenizer, vocab, log);
    if (saved && saved.data.fingerprint !== data.info.fingerprint) {
      throw new NlpbookError(`${lastDir(dir)}: was trained on other texts or with another tokenizer; delete ${dir} to start over`);
    }
    const electra = s.objective === 'electra';
    const config = electra ? ElectraForPreTraining.configWith(pretrainConfig(s, tokenizer), s.generatorLayers) : pretrainConfig(s, tokenizer);
    const model = electra
      ? (saved ? ElectraForPreTraining.fromPretrained(lastDir(dir), { quiet: true }) : ElectraForPreTraining.init(config, { seed: s.seed, generatorLayers: s.generatorLayers }))
      : (saved ? BertForMaskedLM.fromPretrained(lastDir(dir), { quiet: true }) : BertForMaskedLM.init(config, s.seed));
    if (saved && JSON.stringify(model.config.toJSON(['x'])) !== JSON.stringify(config.toJSON(['x']))) {
      model.dispose();
      throw new NlpbookError(`${lastDir(dir)}: config.json differs from what the settings make; delete ${dir} to start over`);
    }
    return new PretrainRun(s, tokenizer, dir, vocab, data, model, log, options, saved);
  }

  private start(): void {
    const s = this.settings;
    fs.mkdirSync(this.dir, { recursive: true });
    fs.rmSync(this.metricsFile, { force: true });
    fs.rmSync(checkpointsDir(this.dir), { recursive: true, force: true });
    this.state = {
      format: PRETRAIN_STATE_FORMAT,
      settings: s,
      data: this.data.info,
      step: 0,
      totalSteps: this.schedule.totalSteps,
      batchesPerEpoch: this.loader.length,
      trainedTokens: 0,
      window: { steps: 0, masked: 0, lossSum: 0, accuracySum: 0, tokens: 0 },
      stoppedBy: null,
      seconds: 0,
      metricsBytes: 0,
      savedAt: '',
    };
    const d = this.data.info;
    this.log(
      `nlpbook: pretraining BERT L${s.layers}/H${s.hidden}/A${s.heads}/I${s.intermediate} (${(this.model.parameterCount() / 1e6).toFixed(1)}M parameters) ` +
        `on ${d.trainSequences.toLocaleString('en-US')} sequences (${d.trainTokens.toLocaleString('en-US')} tokens${s.packing ? ', packed' : ''}; ` +
        `${d.heldOutDocuments} documents held out), ${this.schedule.totalSteps} steps of ${s.batchSize} (${(this.schedule.totalSteps / this.loader.length).toFixed(2)} epochs)` +
        `${s.minutes > 0 ? `, at most ${s.minutes} minutes` : ''}${s.testMode ? ' (testMode)' : ''}; -> ${this.dir}`,
    );
  }

  private resume(saved: PretrainState): void {
    check(saved.totalSteps === this.schedule.totalSteps, `${lastDir(this.dir)}: planned ${saved.totalSteps} steps, this run ${this.schedule.totalSteps}`);
    this.optimizer.loadState(readOptimizerState(path.join(lastDir(this.dir), OPTIMIZER_FILE)));
    check(this.optimizer.stepCount === saved.step, `${lastDir(this.dir)}: optimizer at step ${this.optimizer.stepCount}, state at ${saved.step}`);
    if (fs.existsSync(this.metricsFile) && fs.statSync(this.metricsFile).size > saved.metricsBytes) fs.truncateSync(this.metricsFile, saved.metricsBytes);
    this.state = { ...saved, settings: this.settings };
    this.secondsBefore = saved.seconds;
    this.resumedFrom = saved.step;
    const lines = pretrainMetrics(this.dir).train;
    const last = lines[lines.length - 1];
    if (last) this.lastWindow = { loss: last.loss, accuracy: last.accuracy };
    this.log(`nlpbook: resuming ${lastDir(this.dir)} at step ${saved.step}/${saved.totalSteps}`);
  }

  /** The masked batch of optimizer step `step` (0-based): a pure function of the seed and the step. */
  batchAt(step: number): MlmBatch {
    const epoch = Math.floor(step / this.loader.length);
    const indices = this.loader.plan(epoch)[step % this.loader.length];
    const rows = indices.map((i) => this.data.train.sequence(i));
    return maskBatch(rows, this.vocab, this.masking, this.rootRng.fork(`masks-${step}`));
  }

  private trainStep(batch: MlmBatch, step: number): void {
    const lr = lrAt(this.schedule, step);
    const seed = this.rootRng.fork(`dropout-${step}`).next();
    const t = toTensors(batch);
    try {
      const out = tf.tidy(() => {
        if (this.model instanceof ElectraForPreTraining) return this.electraStep(t, batch, lr, seed);
        if (this.useGraph) {
          // The graph also takes the norm and clips, so AdamW gets ready gradients.
          const r = (this.graphFor(batch) as MlmTrainGraph).run([...this.model.weights.values()], {
            inputIds: t.inputIds, attentionMask: t.attentionMask ?? tf.onesLike(t.inputIds), maskedPositions: t.maskedPositions, labels: t.labels,
          }, seed);
          this.optimizer.step(r.grads, { lr });
          return { loss: r.loss, accuracy: r.accuracy };
        }
        let acc: tf.Scalar | undefined;
        const mlm = this.model as BertForMaskedLM;
        const { value, grads } = tf.variableGrads(() => {
          const logits = mlm.forward(t, { training: this.settings.dropout, seed }) as tf.Tensor2D;
          acc = tf.keep(accuracy(logits, t.labels));
          return sparseCrossEntropy(logits, t.labels);
        }, this.model.trainableVariables());
        const clip = this.settings.maxGradNorm > 0 ? clipScale(grads, this.settings.maxGradNorm) : null;
        this.optimizer.step(grads, { lr, gradScale: clip?.scale });
        return { loss: value, accuracy: acc as tf.Scalar };
      });
      this.pending.push({ ...out, masked: batch.positions.length });
    } finally {
      disposeTensors(t);
    }
  }

  /**
   * One ELECTRA step: the generator's masked-LM loss plus λ times the discriminator's
   * replaced-token loss (model/electra.ts). Logged as the generator's MLM loss and accuracy
   * (comparable with an MLM run's) and the discriminator's accuracy.
   */
  private electraStep(t: MlmTensors, batch: MlmBatch, lr: number, seed: number): { loss: tf.Scalar; accuracy: tf.Scalar; discriminatorAccuracy: tf.Scalar } {
    const model = this.model as ElectraForPreTraining;
    const inputs = { inputIds: t.inputIds, attentionMask: t.attentionMask ?? tf.onesLike(t.inputIds), maskedPositions: t.maskedPositions, labels: t.labels };
    if (this.useGraph) {
      const r = (this.graphFor(batch) as ElectraTrainGraph).run([...model.weights.values()], inputs, seed);
      this.optimizer.step(r.grads, { lr });
      return { loss: r.generatorLoss, accuracy: r.generatorAccuracy, discriminatorAccuracy: r.discriminatorAccuracy };
    }
    const r = model.lossesAndGrads(inputs, { training: this.settings.dropout, seed, discriminatorWeight: this.settings.discriminatorWeight });
    const clip = this.settings.maxGradNorm > 0 ? clipScale(r.grads, this.settings.maxGradNorm) : null;
    this.optimizer.step(r.grads, { lr, gradScale: clip?.scale });
    // lossesAndGrads keeps its outputs past any tidy: free what is not returned.
    tf.dispose([r.loss, r.discriminatorLoss, r.replacedShare, r.sampled, ...r.grads.values()]);
    return { loss: r.generatorLoss, accuracy: r.generatorAccuracy, discriminatorAccuracy: r.discriminatorAccuracy };
  }

  /** The training graph for `batch`: with padding skipped where that pays (skipPaddingPays). */
  private graphFor(batch: MlmBatch): MlmTrainGraph | ElectraTrainGraph {
    const skipPadding = skipPaddingPays(1 - batch.realTokens / (batch.batch * batch.length));
    const key = skipPadding ? 'skipPadding' : 'full';
    const options = { maxGradNorm: this.settings.maxGradNorm, skipPadding, dropout: this.settings.dropout };
    return (this.graphs[key] ??= this.model instanceof ElectraForPreTraining
      ? new ElectraTrainGraph(this.model.config, weightShapes(this.model.weights), { ...options, discriminatorWeight: this.settings.discriminatorWeight })
      : new MlmTrainGraph(this.model.config, weightShapes(this.model.weights), options));
  }

  async go(): Promise<PretrainResult> {
    const s = this.settings;
    const st = this.state;
    this.sessionStart = Date.now();
    this.lastSave = Date.now();
    this.windowStart = { time: Date.now(), tokens: st.window.tokens };
    const everyMs = s.checkpointEveryMinutes * 60_000;
    if (st.stoppedBy === null && st.step < st.totalSteps) {
      const bar = progress(st.totalSteps, 'pretraining', s.tqdmEnabled, { stream: this.options.progressStream });
      bar.update(st.step);
      try {
        while (st.step < st.totalSteps) {
          const batch = this.batchAt(st.step);
          this.trainStep(batch, st.step);
          st.step += 1;
          st.trainedTokens += batch.realTokens;
          st.window.tokens += batch.realTokens;
          // Let signal handlers and timers run between steps.
          await new Promise((resolve) => setImmediate(resolve));
          if (st.step % s.logEverySteps === 0 || st.step === st.totalSteps) bar.update(st.step, await this.logLine());
          else bar.update(st.step);
          if (st.step >= st.totalSteps) st.stoppedBy = 'steps';
          else if (s.minutes > 0 && this.seconds() >= s.minutes * 60) {
            st.stoppedBy = 'minutes';
            if (st.window.steps + this.pending.length > 0) bar.update(st.step, await this.logLine());
            this.log(`nlpbook: time budget of ${s.minutes} minutes reached at step ${st.step}/${st.totalSteps}`);
          }
          if (st.stoppedBy) break;
          const why = this.options.signal?.aborted ? 'interrupted' : st.step >= (this.options.stopAt?.steps ?? Infinity) ? 'stopAt' : null;
          if (why) {
            await this.saveLast();
            this.log(`nlpbook: stopped at step ${st.step} (${why}), saved ${lastDir(this.dir)}; run again with the same settings to resume`);
            return this.result(false, null);
          }
          if (everyMs > 0 && Date.now() - this.lastSave >= everyMs) await this.saveLast();
        }
      } finally {
        bar.stop();
      }
      // The finished state first: a crash while writing the model resumes straight into finish().
      await this.saveLast();
    }
    return this.finish();
  }

  /** Held-out scores, the model folder, then pretrain-result.json (the "finished" mark); checkpoints go. */
  private finish(): PretrainResult {
    const s = this.settings;
    const scores = mlmScores(this.model, this.data.heldOut, this.vocab, this.masking, {
      batchSize: s.batchSize, seed: s.seed, maxBatches: s.testMode ? PRETRAIN_TEST_MODE_STEPS : undefined,
    });
    this.appendMetrics({ type: 'heldout', step: this.state.step, ...scores, seconds: round(this.seconds(), 3) } satisfies HeldOutMetricsLine);
    this.log(
      `nlpbook: held-out ${scores.discriminatorAccuracy === undefined ? 'MLM' : 'generator MLM'} loss ${scores.loss.toFixed(4)}, accuracy ${scores.accuracy.toFixed(4)} ` +
        `(${scores.masked} masked tokens in ${scores.sequences} documents never trained on)` +
        `${scores.discriminatorAccuracy === undefined ? '' : `; discriminator accuracy ${scores.discriminatorAccuracy.toFixed(4)} on every real token`}`,
    );
    // ELECTRA keeps its discriminator, saved as a BERT encoder (its generator only served pretraining).
    if (this.model instanceof ElectraForPreTraining) this.model.saveDiscriminator(this.dir);
    else saveModel(this.model, this.dir);
    writeTokenizerFiles(tokenizerFiles(this.tokenizer), this.dir);
    savePretrainSettings(s, this.dir);
    const result = this.result(true, scores);
    writeJsonAtomic(path.join(this.dir, PRETRAIN_RESULT_FILE), { ...result, reused: false, resumedFrom: null });
    fs.rmSync(checkpointsDir(this.dir), { recursive: true, force: true });
    this.log(`nlpbook: pretrained model saved to ${this.dir} (step 3 loads it: settings.pretrainedModelName = "${this.dir}")`);
    return result;
  }

  private result(finished: boolean, scores: { loss: number; accuracy: number; masked: number; discriminatorAccuracy?: number } | null): PretrainResult {
    const st = this.state;
    const seconds = this.seconds();
    return {
      model: this.dir,
      finished,
      reused: false,
      steps: st.step,
      totalSteps: st.totalSteps,
      stoppedBy: st.stoppedBy,
      minutes: round(seconds / 60, 3),
      trainedTokens: st.trainedTokens,
      tokensPerSecond: Math.round(st.trainedTokens / Math.max(1e-9, seconds)),
      trainLoss: this.lastWindow?.loss ?? null,
      trainAccuracy: this.lastWindow?.accuracy ?? null,
      mlmLoss: scores?.loss ?? null,
      mlmAccuracy: scores?.accuracy ?? null,
      discriminatorAccuracy: scores?.discriminatorAccuracy ?? null,
      heldOutMasked: scores?.masked ?? 0,
      parameters: this.model.parameterCount(),
      data: this.data.info,
      resumedFrom: this.resumedFrom,
      metrics: this.metricsFile,
    };
  }

  /** Reads pending step results (the only place the host waits for them). */
  private async drainPending(): Promise<void> {
    const w = this.state.window;
    for (const p of this.pending) {
      const [loss, acc, disc] = await Promise.all([p.loss.data(), p.accuracy.data(), p.discriminatorAccuracy?.data()]);
      w.steps += 1;
      w.masked += p.masked;
      w.lossSum += loss[0] * p.masked;
      w.accuracySum += acc[0] * p.masked;
      if (disc) w.discriminatorSum = (w.discriminatorSum ?? 0) + disc[0];
      tf.dispose([p.loss, p.accuracy, ...(p.discriminatorAccuracy ? [p.discriminatorAccuracy] : [])]);
    }
    this.pending = [];
  }

  /** Writes a metrics line for the steps since the previous one; returns the progress info text. */
  private async logLine(): Promise<string> {
    await this.drainPending();
    const st = this.state;
    const w = st.window;
    const now = Date.now();
    const tokensPerSecond = Math.round((w.tokens - this.windowStart.tokens) / Math.max(1e-3, (now - this.windowStart.time) / 1000));
    const line: PretrainMetricsLine = {
      type: 'train',
      step: st.step,
      epoch: round(st.step / st.batchesPerEpoch, 4),
      loss: w.lossSum / w.masked,
      accuracy: w.accuracySum / w.masked,
      lr: lrAt(this.schedule, st.step - 1),
      tokens: st.trainedTokens,
      tokensPerSecond,
      seconds: round(this.seconds(), 3),
      ...(w.discriminatorSum !== undefined ? { discriminatorAccuracy: w.discriminatorSum / w.steps } : {}),
    };
    this.appendMetrics(line);
    this.lastWindow = { loss: line.loss, accuracy: line.accuracy };
    st.window = { steps: 0, masked: 0, lossSum: 0, accuracySum: 0, tokens: 0 };
    this.windowStart = { time: now, tokens: 0 };
    const disc = line.discriminatorAccuracy === undefined ? '' : ` disc ${line.discriminatorAccuracy.toFixed(3)}`;
    return `loss ${line.loss.toFixed(3)} acc ${line.accuracy.toFixed(3)}${disc} lr ${line.lr.toExponential(2)} ${tokensPerSecond} tok/s`;
  }

  private async saveLast(): Promise<void> {
    await this.drainPending();
    const st = this.state;
    st.seconds = this.seconds();
    st.metricsBytes = fs.existsSync(this.metricsFile) ? fs.statSync(this.metricsFile).size : 0;
    st.savedAt = new Date().toISOString();
    saveLastCheckpoint(this.dir, {
      model: this.model,
      files: { [PRETRAIN_SETTINGS_FILE]: this.settings },
      tokenizer: tokenizerFiles(this.tokenizer),
      optimizer: this.optimizer.state(),
      state: st,
    });
    this.lastSave = Date.now();
  }

  private appendMetrics(line: object): void {
    fs.appendFileSync(this.metricsFile, `${JSON.stringify(line)}\n`);
  }

  private seconds(): number {
    return this.secondsBefore + (Date.now() - this.sessionStart) / 1000;
  }

  dispose(): void {
    this.graphs.skipPadding?.dispose();
    this.graphs.full?.dispose();
    this.graphs = {};
    for (const p of this.pending) tf.dispose([p.loss, p.accuracy, ...(p.discriminatorAccuracy ? [p.discriminatorAccuracy] : [])]);
    this.pending = [];
    this.optimizer.dispose();
    this.model.dispose();
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
