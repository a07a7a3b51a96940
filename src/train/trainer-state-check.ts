// What a trainer-state.json must hold before a resume reads it. The format tag alone says
// nothing about the fields: a hand-edited, truncated-then-repaired or foreign file with the
// right tag would otherwise crash deep in the resume (TypeError on undefined). Each field is
// checked for its type here, so such a file is refused in one line that names the field.
//
// Types only (and whole numbers where counts are): whether the numbers fit this run is the
// resume's own check (settings, data, planned steps, optimizer step).

/** A field's expected shape: a type name, a nested object, or a list of choices. */
type Shape =
  | 'count' // a whole number >= 0
  | 'number' // a finite number
  | 'score' // a number, or null (JSON's NaN/Infinity: a run whose loss diverged)
  | 'string'
  | 'boolean'
  | 'object' // any JSON object (its own reader checks it)
  | { object: Record<string, Shape> }
  | { array: Shape }
  | { tuple: Shape[] }
  | { nullable: Shape }
  | { oneOf: readonly (string | null)[] };

const count: Shape = 'count';
const score: Shape = 'score';

const VALIDATION: Record<string, Shape> = {
  epoch: count, step: count, n: count, loss: score, accuracy: score, precision: score, recall: score, f1: score,
};

/** checkpoints.ts's TrainerState (fine-tuning, 'nlpbook-trainer-state/1'). */
const FINE_TUNING: Record<string, Shape> = {
  format: 'string',
  settings: 'object',
  data: { object: { corpusFingerprint: 'string', tokenizerFingerprint: 'string', trainExamples: count, validationExamples: count } },
  step: count,
  epoch: count,
  batchInEpoch: count,
  epochsCompleted: count,
  batchesPerEpoch: count,
  totalSteps: count,
  loader: {
    object: {
      epoch: count, batchIndex: count, seed: 'number', batchSize: count, shuffle: 'boolean', dropLast: 'boolean',
      lengthBucketing: 'boolean', bucketChunkBatches: count, datasetLength: count,
    },
  },
  task: { object: { step: count, dropoutRng: { tuple: [count, count, count, count] } } },
  lr: 'number',
  window: { object: { steps: count, lossSum: score, accuracySum: score } },
  monitor: 'string',
  best: { nullable: { object: { ...VALIDATION, value: score } } },
  topK: { array: { object: { name: 'string', value: score, epoch: count, step: count } } },
  history: { array: { object: VALIDATION } },
  epochsWithoutImprovement: count,
  finished: 'boolean',
  stoppedEarly: 'boolean',
  seconds: 'number',
  metricsBytes: count,
  savedAt: 'string',
};

/** pretrain/mlm-training.ts's PretrainState ('nlpbook-pretrain-state/1'; the literal here, as pretrain/ imports train/). */
const PRETRAINING: Record<string, Shape> = {
  format: 'string',
  settings: 'object',
  data: { object: { fingerprint: 'string', documents: count, trainSequences: count, trainTokens: count, heldOutDocuments: count } },
  step: count,
  totalSteps: count,
  batchesPerEpoch: count,
  trainedTokens: count,
  window: { object: { steps: count, masked: count, lossSum: score, accuracySum: score, tokens: count } },
  stoppedBy: { oneOf: ['steps', 'minutes', null] },
  seconds: 'number',
  metricsBytes: count,
  savedAt: 'string',
};

const SHAPES: Record<string, Record<string, Shape>> = {
  'nlpbook-trainer-state/1': FINE_TUNING,
  'nlpbook-pretrain-state/1': PRETRAINING,
};

/**
 * The first field of `state` (whose format tag was checked already) that does not have its
 * type, as "field "window.steps" is missing (expected a whole number >= 0)"; null when all
 * do, or when the format is one this module has no shape for.
 */
export function trainerStateProblem(state: { format: string }): string | null {
  const shape = SHAPES[state.format];
  return shape ? problem(state, { object: shape }, '') : null;
}

function problem(value: unknown, shape: Shape, at: string): string | null {
  const field = at ? `field ${JSON.stringify(at)}` : 'the file';
  if (value === undefined) return `${field} is missing (expected ${expected(shape)})`;
  const wrong = () => `${field} is ${shown(value)}, expected ${expected(shape)}`;
  if (typeof shape === 'object' && 'nullable' in shape) {
    if (value === null) return null;
    // Not even the kind of value it should be: say "X or null"; else the inner field that is wrong.
    const inner = shape.nullable;
    const kindOk = typeof inner === 'string' ? accepts(inner, value) : 'object' in inner ? isObject(value) : Array.isArray(value);
    return kindOk ? problem(value, inner, at) : wrong();
  }
  if (typeof shape === 'string') return accepts(shape, value) ? null : wrong();
  if ('oneOf' in shape) return shape.oneOf.includes(value as string | null) ? null : wrong();
  if ('object' in shape) {
    if (!isObject(value)) return wrong();
    for (const [key, inner] of Object.entries(shape.object)) {
      const p = problem(value[key], inner, at ? `${at}.${key}` : key);
      if (p) return p;
    }
    return null;
  }
  if (!Array.isArray(value)) return wrong();
  if ('tuple' in shape && value.length !== shape.tuple.length) return wrong();
  for (let i = 0; i < value.length; i++) {
    const p = problem(value[i], 'tuple' in shape ? shape.tuple[i] : shape.array, `${at}[${i}]`);
    if (p) return p;
  }
  return null;
}

function accepts(shape: Exclude<Shape, object>, value: unknown): boolean {
  switch (shape) {
    case 'count':
      return Number.isSafeInteger(value) && (value as number) >= 0;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'score':
      return value === null || (typeof value === 'number' && Number.isFinite(value));
    case 'string':
      return typeof value === 'string';
    case 'boolean':
      return typeof value === 'boolean';
    case 'object':
      return isObject(value);
  }
}

function expected(shape: Shape): string {
  if (typeof shape === 'string') {
    return { count: 'a whole number >= 0', number: 'a number', score: 'a number or null', string: 'a string', boolean: 'true or false', object: 'an object' }[shape];
  }
  if ('nullable' in shape) return `${expected(shape.nullable)} or null`;
  if ('oneOf' in shape) return shape.oneOf.map((v) => JSON.stringify(v)).join(' or ');
  if ('object' in shape) return 'an object';
  if ('tuple' in shape) return `a list of ${shape.tuple.length}`;
  return 'a list';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value as the message shows it: short. */
function shown(value: unknown): string {
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}
