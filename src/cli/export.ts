// `nlpbook export onnx`: a trained model folder as an ONNX folder that transformers.js
// (and other ONNX runtimes) load without this project (course step 9).
import { check } from '../util/errors';
import { exportOnnx } from '../export/onnx';
import { defineCommand } from './command';
import { loaderFlags, MODEL_FLAGS, requireModel } from './inputs';

const USAGE = `usage: nlpbook export onnx --model DIR --out DIR2 [--tokenizer DIR] [--max-length N] [--force] [--no-check] [--json]

Writes DIR2 for transformers.js (@huggingface/transformers) and other ONNX runtimes:
config.json, tokenizer.json, tokenizer_config.json, vocab.txt, special_tokens_map.json and
onnx/model.onnx (BertForSequenceClassification, opset 17, float32). DIR2 appears only when
complete; before that, transformers.js runs it on a few sentences and its probabilities must
match this project's within 1e-4.

  --model DIR        trained model folder (nlpbook train's best/, or one Python saved)
  --out DIR2         folder to write (must not exist, or be empty, unless --force)
  --tokenizer DIR    tokenizer folder when DIR has no vocab.txt / tokenizer.json
  --max-length N     longest input in tokens (default: DIR/settings.json's maxSeqLength, else 128)
  --force            replace DIR2 if it exists
  --no-check         skip the transformers.js check
  --json             one line: {"out","files","onnx_bytes","opset","max_length","labels","check"}`;

export const command = defineCommand({
  name: 'export',
  summary: 'export a trained model for other runtimes (onnx --model DIR --out DIR2: transformers.js folder)',
  usage: USAGE,
  options: { ...MODEL_FLAGS, out: { type: 'string' }, force: { type: 'boolean' }, 'no-check': { type: 'boolean' } },
  positionals: true,
  json: true,
  async run({ values, positionals }) {
    check(positionals.length === 1 && positionals[0] === 'onnx',
      `expected the format: nlpbook export onnx --model DIR --out DIR2 (got ${positionals.length ? JSON.stringify(positionals.join(' ')) : 'none'})`);
    const model = requireModel(values);
    check(values.out !== undefined, '--out DIR2 is required (the folder to write, e.g. data/onnx-doccls)');
    const r = await exportOnnx(model, values.out, { ...loaderFlags(values), force: values.force, check: !values['no-check'] });
    return {
      out: r.out, files: r.files, onnx_bytes: r.onnxBytes, opset: r.opset, max_length: r.maxLength, labels: r.labels,
      check: r.check && { sentences: r.check.sentences, max_prob_diff: r.check.maxProbDiff },
    };
  },
  text(r) {
    console.log(`${r.out}: ${r.files.join(', ')} (model.onnx ${(r.onnx_bytes / 1e6).toFixed(1)} MB, opset ${r.opset}, max length ${r.max_length})`);
    if (r.check) console.log(`checked with transformers.js on ${r.check.sentences} sentences: probabilities within ${r.check.max_prob_diff.toExponential(1)}`);
  },
});
