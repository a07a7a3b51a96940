// Course step 3a: pretraining our own small Korean BERT with a masked-language-model
// objective (or ELECTRA's replaced-token detection, settings.objective: model/electra.ts),
// because kcbert-base's 438 MB weights cannot be downloaded here. The
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
// The output folder (settings.outputDir, default data/pretrained/<objective>-L<layers>-H<hidden>):
//   config.json (architectures ["BertForMaskedLM"]), model.safetensors, vocab.txt,
//   tokenizer_config.json, tokenizer.json   the model, loadable by Python's transformers
//   pretrain-settings.json                  the settings of the run
//   pretrain-result.json                    steps, minutes, held-out scores (written last:
//                                           its presence means "finished")
//   metrics.jsonl                           one line per logEverySteps steps, one held-out line
//   checkpoints/last/                       while training: weights, AdamW moments and state
//                                           for an exact resume (train/checkpoints.ts); removed when done
//
// The loop is the fine-tuning one (src/train/trainer.ts's Trainer); the masked-LM task
// it trains is mlm-training.ts's MaskedLmTraining (ELECTRA's too). pretrain() finds a finished or a
// half-done run in the output folder, prepares the data and the model, and writes
// pretrain-result.json once the model folder is complete.
//
// The pooler: BertForMaskedLM has none (nor does transformers'); there is no
// next-sentence task here that could train one. Fine-tuning therefore starts the pooler
// fresh, as it starts the classifier. That is what RoBERTa-style models (MLM only)
// always do, and a randomly initialised pooler saved here would be no better than the
// one fine-tuning draws itself, only less honest in the load report.
import * as fs from 'fs';
import * as path from 'path';
import { initBackend } from '../util/backend';
import { checkpointsDir, foreignEntry, lastDir, METRICS_FILE, readMetricsLog, recoverLast, Trainer, type RunSummary, type TrainLine } from '../train/index';
import { NlpbookError } from '../util/errors';
import { writeJsonAtomic } from '../util/fsutil';
import { maskingVocab, type MlmBatch } from './masking';
import { BertForMaskedLM, BertConfig, ElectraForPreTraining } from '../model/index';
import { type AdamWKernel } from '../task/index';
import { preparePretrainData, type PretrainDataInfo } from './pretrain-data';
import { MaskedLmTraining, PRETRAIN_STATE_FORMAT, type HeldOutScores, type PretrainState } from './mlm-training';
import {
  PRETRAIN_SETTINGS_FILE, pretrainConflicts, pretrainOutputDir, readSavedPretrainSettings,
  validatePretrainSettings, type PretrainSettings,
} from './pretrain-settings';
import { BertTokenizer } from '../tokenizer/index';

export { maskingOptions, mlmScores, PRETRAIN_STATE_FORMAT, type HeldOutScores, type PretrainState } from './mlm-training';
export { preparePretrainData, type PretrainData, type PretrainDataInfo } from './pretrain-data';

export const PRETRAIN_RESULT_FILE = 'pretrain-result.json';

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
  /**
   * Plan the steps again from this run's own speed (the course's time budget): right after
   * step `atStep` of a fresh run, `steps` gets the speed measured since the run's 20th step and
   * returns the run's total steps; the learning rate then decays to 0 at that step. With
   * `everySteps`, it looks again every that many steps, each time with the speed since the
   * previous look, so a machine that slows down or speeds up mid-run still ends on time.
   * A resumed run keeps the steps it saved.
   */
  replan?: { atStep: number; everySteps?: number; steps: (speed: RunSpeed) => number };
}

/** What a replan knows: where the run is and how fast it goes. */
export interface RunSpeed {
  step: number;
  /** Steps planned so far. */
  totalSteps: number;
  /** Real tokens per second since step `fromStep`. */
  tokensPerSecond: number;
  fromStep: number;
  /** Real tokens per second of the whole session so far (since the graphs were built): steadier than the last stretch's. */
  sessionTokensPerSecond: number;
  /** Real tokens of an average step (a pass's tokens over its steps). */
  tokensPerStep: number;
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
  /**
   * When the steps were planned again during the run (PretrainOptions.replan): the first look's
   * step and speed, the steps planned before it and after the last look (and passes), how many
   * looks, and the last look's step and speed.
   */
  replanned?: {
    atStep: number; fromSteps: number; steps: number; passes: number; tokensPerSecond: number;
    looks: number; lastAtStep: number; lastTokensPerSecond: number;
  } | null;
  /** <model>/metrics.jsonl */
  metrics: string;
}

/** One metrics.jsonl line of training: the trainer's train line (epoch fractional) and the tokens. */
export interface PretrainMetricsLine extends TrainLine {
  /** Real tokens trained on so far (all steps up to this one). */
  tokens: number;
  /** Real tokens per second since the previous line. */
  tokensPerSecond: number;
  /** ELECTRA: the discriminator's accuracy over the real tokens (loss and accuracy above are its generator's masked LM). */
  discriminatorAccuracy?: number;
  /** A task objective (taskWeight): the classifier's mean cross-entropy and accuracy over the labelled sequences since the previous line. */
  taskLoss?: number;
  taskAccuracy?: number;
}

/** The metrics.jsonl line of the held-out scores (at the end). */
export type HeldOutMetricsLine = { type: 'heldout' } & HeldOutScores & { seconds: number };

/** <dir>/metrics.jsonl of a pretraining run, split by line type. */
export function pretrainMetrics(dir: string): { train: PretrainMetricsLine[]; heldout: HeldOutMetricsLine[] } {
  const lines = readMetricsLog(dir) as unknown as (PretrainMetricsLine | HeldOutMetricsLine)[];
  return {
    train: lines.filter((l): l is PretrainMetricsLine => l.type === 'train'),
    heldout: lines.filter((l): l is HeldOutMetricsLine => l.type === 'heldout'),
  };
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
    // With a task objective the model also carries BertForSequenceClassification's head (hasTaskHead).
    architectures: s.taskWeight > 0 ? ['BertForMaskedLM', 'BertForSequenceClassification'] : ['BertForMaskedLM'],
  }, 'pretrain settings');
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
    removeResumeCheckpoint(dir, log);
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
  const vocab = maskingVocab(tokenizer);
  const data = await preparePretrainData(settings, tokenizer, vocab, log);
  if (saved && saved.data.fingerprint !== data.info.fingerprint) {
    throw new NlpbookError(`${lastDir(dir)}: was trained on other texts or with another tokenizer; delete ${dir} to start over`);
  }
  const electra = settings.objective === 'electra';
  const config = electra ? ElectraForPreTraining.configWith(pretrainConfig(settings, tokenizer), settings.generatorLayers) : pretrainConfig(settings, tokenizer);
  const model = electra
    ? (saved ? ElectraForPreTraining.fromPretrained(lastDir(dir), { quiet: true }) : ElectraForPreTraining.init(config, { seed: settings.seed, generatorLayers: settings.generatorLayers }))
    : (saved ? BertForMaskedLM.fromPretrained(lastDir(dir), { quiet: true }) : BertForMaskedLM.init(config, settings.seed));
  let task: MaskedLmTraining | null = null;
  let trainer: Trainer<MlmBatch, HeldOutScores, PretrainState> | null = null;
  try {
    if (saved && JSON.stringify(model.config.toJSON(['x'])) !== JSON.stringify(config.toJSON(['x']))) {
      throw new NlpbookError(`${lastDir(dir)}: config.json differs from what the settings make; delete ${dir} to start over`);
    }
    task = new MaskedLmTraining(settings, tokenizer, dir, vocab, data, model, { log, kernel: options.kernel, graph: options.graph });
    const mlm = task;
    let replanned: PretrainResult['replanned'] = null;
    let lastLook: { step: number; time: number; tokens: number } | null = null;
    const replan = options.replan && !saved && !settings.testMode && options.replan.atStep < mlm.plan.totalSteps ? options.replan : null;
    trainer = new Trainer(task, {
      log, progressStream: options.progressStream, tqdmEnabled: settings.tqdmEnabled, logEverySteps: settings.logEverySteps,
      stopAt: options.stopAt, signal: options.signal, checkpointEveryMinutes: settings.checkpointEveryMinutes, minutes: settings.minutes,
      replan: replan ? {
        atStep: replan.atStep,
        everySteps: replan.everySteps,
        totalSteps: () => {
          const planned = mlm.plan.totalSteps;
          const step = trainer!.state.step;
          // The first look reads the speed since the graphs were built; each later one the speed
          // since the look before, which is what the steps left will run at.
          const session = mlm.measuredSpeed();
          const speed = lastLook ? mlm.speedSince(lastLook) : session;
          lastLook = { step, time: Date.now(), tokens: mlm.trainedTokens };
          if (!speed) return planned;
          const sessionTokensPerSecond = session?.tokensPerSecond ?? speed.tokensPerSecond;
          const steps = Math.max(step + 1, Math.round(replan.steps({ step, totalSteps: planned, ...speed, sessionTokensPerSecond })));
          const tokensPerSecond = Math.round(speed.tokensPerSecond);
          const passes = steps / mlm.plan.batchesPerEpoch;
          const first = replanned ?? { atStep: step, fromSteps: planned, tokensPerSecond, looks: 0 };
          replanned = { ...first, steps, passes: round(passes, 2), looks: first.looks + 1, lastAtStep: step, lastTokensPerSecond: tokensPerSecond };
          log(`nlpbook: steps planned again at step ${step}: ${tokensPerSecond} tokens/s since step ${speed.fromStep} -> ` +
            `${steps} steps (${passes.toFixed(2)} epochs), ${steps >= planned ? '+' : ''}${steps - planned} on the plan`);
          return steps;
        },
      } : undefined,
    });
    const complete = await trainer.train(saved);
    const result = { ...resultOf(task, trainer.summary(), complete ? trainer.evaluation : null, saved ? saved.step : null), replanned };
    if (complete) {
      // The "finished" mark, once the model folder is complete; the resume checkpoint goes.
      writeJsonAtomic(path.join(dir, PRETRAIN_RESULT_FILE), { ...result, reused: false, resumedFrom: null });
      removeResumeCheckpoint(dir, log);
      log(`nlpbook: pretrained model saved to ${dir} (step 3 loads it: settings.pretrainedModelName = "${dir}")`);
    }
    return result;
  } finally {
    trainer?.dispose();
    if (task) task.dispose();
    else model.dispose();
  }
}

/** The result of a run as the trainer left it (`scores`: the held-out ones of a finished run, else null). */
function resultOf(task: MaskedLmTraining, run: RunSummary<HeldOutScores>, scores: HeldOutScores | null, resumedFrom: number | null): PretrainResult {
  const st = run.loop;
  return {
    model: task.dir,
    finished: scores !== null,
    reused: false,
    steps: st.step,
    totalSteps: task.plan.totalSteps,
    stoppedBy: st.stoppedBy === 'early' ? 'steps' : st.stoppedBy,
    minutes: round(run.seconds / 60, 3),
    trainedTokens: task.trainedTokens,
    tokensPerSecond: Math.round(task.trainedTokens / Math.max(1e-9, run.seconds)),
    trainLoss: run.lastTrainLine?.loss ?? null,
    trainAccuracy: run.lastTrainLine?.accuracy ?? null,
    mlmLoss: scores?.loss ?? null,
    mlmAccuracy: scores?.accuracy ?? null,
    discriminatorAccuracy: scores?.discriminatorAccuracy ?? null,
    heldOutMasked: scores?.masked ?? 0,
    parameters: task.model.parameterCount(),
    data: task.data.info,
    resumedFrom,
    metrics: path.join(task.dir, METRICS_FILE),
  };
}

/**
 * Removes what pretraining wrote into checkpoints/ (last/, the resume checkpoint) once the
 * model is finished, and checkpoints/ when that leaves it empty; a file anyone else put
 * there is kept (and last/ with it, when the file is inside).
 */
function removeResumeCheckpoint(dir: string, log: (line: string) => void): void {
  const last = lastDir(dir);
  const foreign = foreignEntry(last, 'checkpoint');
  if (foreign) log(`nlpbook: kept ${last}: it holds ${foreign}, which nlpbook did not write`);
  else fs.rmSync(last, { recursive: true, force: true });
  try {
    fs.rmdirSync(checkpointsDir(dir));
  } catch {
    // not empty (someone's files) or already gone: nothing else is ours to remove
  }
}

/** The one-line error for a folder that holds a pretraining run with other settings. */
export function otherRunError(where: string, conflicts: string[]): NlpbookError {
  return new NlpbookError(
    `${where}: holds a pretraining run with other settings (${conflicts.slice(0, 3).join('; ')}${conflicts.length > 3 ? '; ...' : ''}); ` +
      'set another outputDir, or delete that folder to start over',
  );
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
