// `nlpbook evaluate`: scores a trained model folder on a labelled file in NSMC's format.
import { check } from '../util/errors';
import { evaluate } from '../evaluate/index';
import { defineCommand } from './command';
import { loaderFlags, MODEL_FLAGS, optionalInt, requireModel } from './inputs';

const USAGE = `usage: nlpbook evaluate --model DIR --data TSV [--tokenizer DIR] [--max-length N] [--batch-size N] [--json]

Scores the classifier in DIR (any Hugging Face-layout folder: nlpbook train's best/, or one
Python saved) on TSV (NSMC format: id<TAB>document<TAB>label with a header), e.g. the test split
data/Korpora/nsmc/ratings_test.txt. Positive class: label 1.

  --model DIR        model folder
  --data TSV         labelled file
  --tokenizer DIR    tokenizer folder when DIR has no vocab.txt / tokenizer.json
  --max-length N     longest input in tokens (default: DIR/settings.json's maxSeqLength, else 128)
  --batch-size N     sentences per batch (default 64)
  --json             last stdout line: {"n","accuracy","precision","recall","f1","loss"}`;

export const command = defineCommand({
  name: 'evaluate',
  summary: 'accuracy/precision/recall/F1/loss of a model on an NSMC-format file (--model DIR --data TSV --json)',
  usage: USAGE,
  options: { ...MODEL_FLAGS, data: { type: 'string' }, 'batch-size': { type: 'string' } },
  json: true,
  async run({ values }) {
    const model = requireModel(values);
    check(values.data !== undefined, '--data TSV is required (a labelled file in NSMC format)');
    const r = await evaluate(model, values.data, { ...loaderFlags(values), batchSize: optionalInt(values['batch-size'], '--batch-size', 1) });
    return { n: r.n, accuracy: r.accuracy, precision: r.precision, recall: r.recall, f1: r.f1, loss: r.loss };
  },
  text(out, { values }) {
    console.log(`${values.data}: ${out.n} examples`);
    for (const [k, v] of Object.entries(out)) if (k !== 'n') console.log(`  ${k.padEnd(9)} ${v.toFixed(4)}`);
  },
});
