// The result files of two benches, typed: bench/pretrain-step.ts writes a PretrainStepBench
// (one JSON file per comparison) and bench/recipe.ts appends a RecipeRun per line to
// bench/results/recipes.jsonl. Notebook 03a quotes both; it reads them here instead of
// parsing JSON by hand.
import * as fs from 'fs';
import { NlpbookError } from '../util/errors';

/** One case of a pretraining-step bench, over its rounds (the best round counts). */
export interface PretrainStepCase {
  /** The model's shape, e.g. "L4/H256/A4/I1024". */
  size: string;
  /** graph or eager, then -bf16, -seen (predictSeenTokensOnly) and -topN (softmaxTokens N) where on. */
  mode: string;
  /** true: documents packed into full sequences; false: one sentence per sequence. */
  packing: boolean;
  maxSeqLength: number;
  batchSize: number;
  bestTokensPerSecond: number;
  /** Real (non-padding) tokens per second, one per round. */
  tokensPerSecond: number[];
  msPerStep: number[];
  tokensPerStep: number;
  parameters: number;
  /** The 1-minute load average as each round began. */
  loadAverage1m: number[];
}

export interface PretrainStepBench {
  what: string;
  maskProb: number;
  steps: number;
  window: number;
  rounds: number;
  backend: string;
  threads: number;
  cores: number;
  cpu: string;
  /** The CPU's bfloat16 flags (amx_bf16, avx512_bf16); absent in results written before it was recorded. */
  cpuBf16Flags?: string[];
  node: string;
  /** Environment variables that change the allocator's behaviour, as the bench saw them. */
  env: Record<string, string | null>;
  loadAverageBefore: number[];
  loadAverageAfter: number[];
  /** ISO time the bench ended. */
  date: string;
  results: PretrainStepCase[];
}

/** One run of bench/recipe.ts: pretraining (or a reused model) + fine-tuning, scored on validation. */
export interface RecipeRun {
  name: string;
  date: string;
  /** The pretraining it ran, or { reused: folder } when it fine-tuned an earlier run's model. */
  pretrain: RecipePretraining | { reused: string };
  finetune: { overrides: Record<string, unknown>; config?: Record<string, unknown>; epochs: number; steps: number; minutes: number };
  validationAccuracy: number | null;
  validationHistory: { epoch: number; accuracy: number; loss: number }[];
  wallMinutes: number;
  loadAverage: { before: number[]; after: number[] };
  cores: number;
}

export interface RecipePretraining {
  /** e.g. "L4/H256/A4/I1024". */
  model: string;
  objective: string;
  dropout: boolean;
  overrides: Record<string, unknown>;
  budgetMinutes: number | null;
  measured: { stepsPerSecond: number; tokensPerSecond: number | null } | null;
  steps: number;
  /** Passes over the training tokens. */
  epochs: number;
  minutes: number;
  tokensPerSecond: number;
  /** Held-out MLM accuracy and loss (null with no held-out documents). */
  mlmAccuracy: number | null;
  mlmLoss: number | null;
}

/** A pretraining-step bench's result file (bench/results/pretrain-step*.json). */
export function readPretrainStepBench(file: string): PretrainStepBench {
  const bench = parse(file, readText(file), 'bench/pretrain-step.ts') as PretrainStepBench;
  if (!Array.isArray(bench?.results)) throw new NlpbookError(`${file}: expected a "results" list of cases (bench/pretrain-step.ts writes it)`);
  return bench;
}

/** Every run in a recipes file (bench/results/recipes.jsonl), oldest first. */
export function readRecipeRuns(file: string): RecipeRun[] {
  return readText(file)
    .split('\n')
    .map((line, i) => ({ line, where: `${file}:${i + 1}` }))
    .filter(({ line }) => line.trim())
    .map(({ line, where }) => {
      const run = parse(where, line, 'bench/recipe.ts') as RecipeRun;
      if (!run?.pretrain || !Array.isArray(run.validationHistory)) throw new NlpbookError(`${where}: expected a run of bench/recipe.ts (pretrain, finetune, validationHistory)`);
      return run;
    });
}

function readText(file: string): string {
  if (!fs.existsSync(file)) throw new NlpbookError(`${file}: not found (run the bench that writes it, or check the path)`);
  return fs.readFileSync(file, 'utf8');
}

function parse(where: string, text: string, writer: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new NlpbookError(`${where}: not JSON (${(e as Error).message.split('\n')[0]}); ${writer} writes it`);
  }
}
