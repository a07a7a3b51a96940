// `nlpbook predict`: the sentiment of texts with a trained model folder (course step 9).
import { predict } from '../inference/index';
import { defineCommand } from './command';
import { inputTexts, loaderFlags, MODEL_FLAGS, optionalInt, requireModel } from './inputs';

const USAGE = `usage: nlpbook predict --model DIR [--tokenizer DIR] [--max-length N] [--json] (--file FILE | TEXT...)

Classifies each TEXT (or each line of FILE; "-" reads stdin) with the model in DIR (any Hugging
Face-layout folder: nlpbook train's best/, or one Python saved).

  --model DIR        model folder
  --tokenizer DIR    tokenizer folder when DIR has no vocab.txt / tokenizer.json
  --max-length N     longest input in tokens (default: DIR/settings.json's maxSeqLength, else 128)
  --json             one line per input, in order: {"text","label","positive_prob","logits"}
  --file FILE        one text per line`;

export const command = defineCommand({
  name: 'predict',
  summary: 'sentiment of texts with a model folder (--model DIR [--max-length N] --json (--file FILE | TEXT...))',
  usage: USAGE,
  options: { ...MODEL_FLAGS, 'batch-size': { type: 'string' }, file: { type: 'string' } },
  positionals: true,
  json: true,
  async run({ values, positionals }) {
    const model = requireModel(values);
    const texts = inputTexts(values.file, positionals, 'classify');
    const results = await predict(model, texts, { ...loaderFlags(values), batchSize: optionalInt(values['batch-size'], '--batch-size', 1) });
    for (const r of results) {
      if (values.json) console.log(JSON.stringify({ text: r.text, label: r.label, positive_prob: r.positive_prob, logits: r.logits }));
      else console.log(`${r.label}\t${r.positive_prob.toFixed(4)}\t${r.text}`);
    }
  },
});
