// `nlpbook bench train`: milliseconds per training step (forward, backward, clipping,
// AdamW) of a BERT classifier of any shape, random weights and inputs. Progress on
// stderr; the last stdout line is one JSON object (see TrainBenchResult).
import { NlpbookError } from '../util/errors';
import { benchTrainStep } from '../bench/train-bench';
import { defineCommand } from './command';

const USAGE = `usage: nlpbook bench train [--layers L] [--hidden H] [--heads A] [--intermediate I]
                          [--vocab V] [--batch B] [--seq S] [--steps N] [--warmup W] [--eager] [--full-mask] [--bf16]
                          [--freeze-word-embeddings] [--json]

Times N training steps (after W untimed ones) of BertForSequenceClassification with
random weights: forward with dropout, cross-entropy, backward, clipping, AdamW
(ClassificationTask.trainStep). Defaults: 2 layers, hidden 128, 2 heads, intermediate 512,
vocab 30000, batch 32, seq 64, 10 steps, 3 warm-up steps. --eager: tfjs ops and autodiff
instead of one TensorFlow graph per step (the default on the native backend). Batch: random ids,
rows padded from full length down to about half (--full-mask: no padding). --bf16: the graph's
matmuls in bfloat16 with float32 sums (settings.bf16; fast only where the CPU has AMX-BF16: AVX512-BF16 alone is slower than float32).
--freeze-word-embeddings: no gradient and no AdamW update for the word embeddings (settings.freezeWordEmbeddings).
Threads: TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS (read by TensorFlow at start).`;

const NUMBERS = { layers: '2', hidden: '128', heads: '2', intermediate: '512', vocab: '30000', batch: '32', seq: '64', steps: '10', warmup: '3' } as const;

export const command = defineCommand({
  name: 'bench',
  summary: 'time training steps: bench train --layers L --hidden H --heads A --intermediate I --vocab V --batch B --seq S --steps N [--json]',
  usage: USAGE,
  options: {
    ...(Object.fromEntries(Object.entries(NUMBERS).map(([k, d]) => [k, { type: 'string', default: d }])) as Record<keyof typeof NUMBERS, { type: 'string'; default: string }>),
    eager: { type: 'boolean', default: false },
    'full-mask': { type: 'boolean', default: false },
    bf16: { type: 'boolean', default: false },
    'freeze-word-embeddings': { type: 'boolean', default: false },
  },
  positionals: true,
  json: true,
  async run({ values, positionals }) {
    if (positionals.length !== 1 || positionals[0] !== 'train') {
      throw new NlpbookError(`expected the benchmark name "train" (nlpbook bench train ...), got ${positionals.length ? `"${positionals.join(' ')}"` : 'none'}`);
    }
    const num = (k: keyof typeof NUMBERS): number => {
      const text = values[k];
      const n = Number(text);
      if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) throw new NlpbookError(`--${k}: expected a whole number, got "${text}"`);
      return n;
    };
    return benchTrainStep({
      layers: num('layers'), hidden: num('hidden'), heads: num('heads'), intermediate: num('intermediate'),
      vocab: num('vocab'), batch: num('batch'), seq: num('seq'), steps: num('steps'), warmupSteps: num('warmup'),
      graph: values.eager ? false : undefined,
      fullMask: values['full-mask'],
      bf16: values.bf16,
      freezeWordEmbeddings: values['freeze-word-embeddings'],
    });
  },
  text(r) {
    const s = r.shape;
    console.log(`${s.layers}L H${s.hidden} A${s.heads} I${s.intermediate} V${s.vocab}, batch ${s.batch} x ${s.seq}, ${r.params} parameters, ${r.backend} ${r.mode} (${r.threads} threads)`);
    console.log(`${r.msPerStep} ms/step (median of ${r.steps}; min ${r.minMs} ms; CPU ${r.cpuMsPerStep} ms/step), ${r.tokensPerSec} tokens/s`);
  },
});
