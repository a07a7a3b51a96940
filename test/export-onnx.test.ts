// `nlpbook export onnx`: the exported folder runs in transformers.js (offline) with the
// probabilities of `nlpbook predict`, the raw graph in onnxruntime gives our logits (and
// Python's, on the fixture transformers made), and bad input leaves no half-written folder.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { tf, initBackend } from '../src/util/backend';
import { NlpbookError } from '../src/util/errors';
import { BertForSequenceClassification, saveModel } from '../src/model/index';
import { SentenceClassifier } from '../src/train/index';
import { BertTokenizer } from '../src/tokenizer/index';
import { bertClassifierToOnnx, EXPORTED_FILES, exportOnnx, ONNX_MODEL_FILE } from '../src/export/onnx';
import { FIXTURES, jsonLines, KCBERT_DIR, NSMC_DIR, runCli, tempDir } from './helpers';

const TINY = path.join(FIXTURES, 'tiny-bert');
interface RefBatch { input_ids: number[][]; attention_mask: number[][]; token_type_ids: number[][]; logits: number[][] }
const refBatches = (): RefBatch[] => JSON.parse(fs.readFileSync(path.join(TINY, 'reference-classification.json'), 'utf8')).batches;

let modelDir: string;
let exported: string;

/**
 * The tiny random BERT (made by transformers, kcbert's vocabulary) with kcbert's tokenizer
 * files. Its classifier is scaled and shifted so the probabilities spread over (0, 1):
 * the random one gives ~0.5 everywhere, which would make the comparison say little.
 */
function classifierFolder(configEdit: (c: Record<string, unknown>) => void = () => {}): string {
  const dir = tempDir('nlpbook-onnx-model-');
  const model = BertForSequenceClassification.fromPretrained(TINY, { quiet: true });
  tf.tidy(() => {
    model.weight('classifier.weight').assign(tf.mul(model.weight('classifier.weight'), 4));
    model.weight('classifier.bias').assign(tf.tensor1d([1.5, 0]));
  });
  saveModel(model, dir, { tokenizerDir: KCBERT_DIR });
  model.dispose();
  const configFile = path.join(dir, 'config.json');
  const config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  configEdit(config);
  fs.writeFileSync(configFile, JSON.stringify(config));
  return dir;
}

/** The first `n` documents of NSMC's test file, plus an empty one. */
function nsmcTexts(n: number): string[] {
  const rows = fs.readFileSync(path.join(NSMC_DIR, 'ratings_test.txt'), 'utf8').split('\n').slice(1, n + 1);
  return [...rows.map((row) => row.split('\t')[1]), ''];
}

async function rejectsOneLine(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof NlpbookError, `expected NlpbookError, got ${String(e)}`);
    assert.ok(!e.message.includes('\n'), `expected one line, got: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

/** Hidden temp/old folders an export left beside its output (there should be none). */
function leftovers(parent: string): string[] {
  return fs.readdirSync(parent).filter((f) => /^\..*\.(tmp|old)-/.test(f));
}

before(async () => {
  await initBackend({ quiet: true });
  modelDir = classifierFolder();
  exported = path.join(tempDir('nlpbook-onnx-out-'), 'onnx-model');
  const r = runCli(['export', 'onnx', '--model', modelDir, '--out', exported, '--json']);
  assert.equal(r.status, 0, r.stderr.slice(-2000));
  const result = jsonLines(r.stdout).pop();
  assert.equal(result.out, exported);
  assert.deepEqual(result.files.sort(), ['config.json', 'onnx/model.onnx', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt']);
  assert.equal(result.opset, 17);
  assert.equal(result.max_length, 128, 'no settings.json: the default max length');
  assert.deepEqual(result.labels, ['negative', 'positive']);
  assert.ok(result.check.sentences >= 5 && result.check.max_prob_diff <= 1e-4, JSON.stringify(result.check));
  assert.equal(result.onnx_bytes, fs.statSync(path.join(exported, ONNX_MODEL_FILE)).size);
});

test('transformers.js pipeline("text-classification", DIR2) offline gives nlpbook predict\'s probabilities within 1e-4', async () => {
  const texts = nsmcTexts(50);
  const classifier = await SentenceClassifier.load(modelDir);
  const ours = classifier.predict(texts);
  const lengths = texts.map((t) => classifier.tokenizer.encode(t).inputIds.length);
  classifier.dispose();
  assert.ok(Math.max(...lengths) <= 128, 'every text fits the max length (longer ones are cut differently, see README)');
  assert.ok(new Set(lengths).size > 10, 'one batch of many lengths: padding inside the batch');

  // The README's call.
  const { pipeline, env } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  const classify = await pipeline('text-classification', exported);
  try {
    const results = (await classify(texts, { top_k: null })) as unknown as { label: string; score: number }[][];
    assert.equal(results.length, texts.length);
    let worst = 0;
    results.forEach((scores, i) => {
      const positive = scores.find((s) => s.label === 'positive')!.score;
      const negative = scores.find((s) => s.label === 'negative')!.score;
      worst = Math.max(worst, Math.abs(positive - ours[i].positive_prob), Math.abs(negative - (1 - ours[i].positive_prob)));
      assert.equal(scores[0].label, ours[i].label, `top label of ${JSON.stringify(texts[i])}`);
    });
    assert.ok(worst <= 1e-4, `worst probability difference ${worst}`);
    const probs = ours.map((o) => o.positive_prob);
    assert.ok(Math.min(...probs) < 0.3 && Math.max(...probs) > 0.9, `probabilities spread: ${Math.min(...probs)}..${Math.max(...probs)}`);
  } finally {
    await classify.dispose();
  }
});

test('transformers.js cuts NSMC text into kcbert\'s ids, and the exported config is what it reads', async () => {
  const { AutoTokenizer, AutoConfig } = await import('@huggingface/transformers');
  const theirs = await AutoTokenizer.from_pretrained(exported, { local_files_only: true });
  const ours = BertTokenizer.fromFolder(KCBERT_DIR);
  const texts = nsmcTexts(1000);
  const differ = texts.filter((t) => JSON.stringify(theirs.encode(t)) !== JSON.stringify(ours.encode(t).inputIds));
  assert.deepEqual(differ, []);
  const config = (await AutoConfig.from_pretrained(exported, { local_files_only: true })) as unknown as Record<string, any>;
  assert.equal(config.model_type, 'bert');
  assert.deepEqual(config.id2label, { 0: 'negative', 1: 'positive' });
  assert.equal(config['transformers.js_config'].dtype, 'fp32', 'browsers (wasm) would otherwise look for model_quantized.onnx');
  const tokenizerConfig = JSON.parse(fs.readFileSync(path.join(exported, 'tokenizer_config.json'), 'utf8'));
  assert.equal(tokenizerConfig.model_max_length, 128);
  assert.equal(tokenizerConfig.do_lower_case, false);
});

test('onnxruntime on the raw graph: our logits on padded batches and sentence pairs, and Python\'s for the unchanged fixture', async () => {
  const feeds = (b: RefBatch) => {
    const dims = [b.input_ids.length, b.input_ids[0].length];
    const t = (a: number[][]) => new ort.Tensor('int64', BigInt64Array.from(a.flat().map(BigInt)), dims);
    return { input_ids: t(b.input_ids), attention_mask: t(b.attention_mask), token_type_ids: t(b.token_type_ids) };
  };
  const worst = async (session: ort.InferenceSession, expected: (b: RefBatch) => number[][]) => {
    let d = 0;
    for (const b of refBatches()) {
      const logits = (await session.run(feeds(b))).logits;
      assert.deepEqual(logits.dims, [b.input_ids.length, 2]);
      expected(b).flat().forEach((v, i) => { d = Math.max(d, Math.abs(v - (logits.data as Float32Array)[i])); });
    }
    return d;
  };
  assert.ok(refBatches().some((b) => b.token_type_ids.flat().includes(1)) && refBatches().some((b) => b.attention_mask.flat().includes(0)));

  const session = await ort.InferenceSession.create(path.join(exported, ONNX_MODEL_FILE));
  assert.deepEqual(session.inputNames, ['input_ids', 'attention_mask', 'token_type_ids']);
  assert.deepEqual(session.outputNames, ['logits']);
  const model = BertForSequenceClassification.fromPretrained(modelDir, { quiet: true });
  const ours = (b: RefBatch) => tf.tidy(() => model.forward({ inputIds: b.input_ids, attentionMask: b.attention_mask, tokenTypeIds: b.token_type_ids }).arraySync());
  assert.ok((await worst(session, ours)) < 1e-5);
  model.dispose();
  await session.release();

  // The fixture as transformers made it, against the logits PyTorch computed.
  const fixture = BertForSequenceClassification.fromPretrained(TINY, { quiet: true });
  const file = path.join(tempDir(), 'fixture.onnx');
  fs.writeFileSync(file, bertClassifierToOnnx(fixture));
  fixture.dispose();
  const python = await ort.InferenceSession.create(file);
  assert.ok((await worst(python, (b) => b.logits)) < 1e-5);
  await python.release();
});

test('bad input: one-line errors, and the output folder is never half-written', async () => {
  const parent = tempDir('nlpbook-onnx-bad-');
  const r = runCli(['export', 'onnx', '--model', path.join(parent, 'no-such-model'), '--out', path.join(parent, 'out')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^nlpbook export: model folder not found: .*no-such-model\n$/m);
  assert.equal(fs.existsSync(path.join(parent, 'out')), false);
  const format = runCli(['export', 'tflite', '--model', modelDir, '--out', path.join(parent, 'out')]);
  assert.equal(format.status, 1);
  assert.match(format.stderr, /nlpbook export: expected the format: nlpbook export onnx/);

  // An output folder that cannot be written: its parent is a file.
  const file = path.join(parent, 'a-file');
  fs.writeFileSync(file, 'x');
  await rejectsOneLine(exportOnnx(modelDir, path.join(file, 'out'), { check: false }), /a-file\/out: cannot write there \(.*a-file is a file\)/);
  await rejectsOneLine(exportOnnx(modelDir, file, { check: false }), /a-file: exists and is not a folder/);

  // An existing folder is kept unless --force; --force replaces only an earlier export:
  // a folder with anything else in it (here or in onnx/) is refused, naming the file, and kept.
  const out = path.join(parent, 'existing');
  fs.mkdirSync(out);
  fs.writeFileSync(path.join(out, 'keep.txt'), 'mine');
  await rejectsOneLine(exportOnnx(modelDir, out, { check: false }), /existing: already exists \(pass --force to replace it\)/);
  await rejectsOneLine(exportOnnx(modelDir, out, { check: false, force: true }), /existing\/keep\.txt: not a file nlpbook export onnx writes; --force replaces only an earlier export/);
  assert.equal(fs.readFileSync(path.join(out, 'keep.txt'), 'utf8'), 'mine');
  const cli = runCli(['export', 'onnx', '--model', modelDir, '--out', out, '--force', '--no-check']);
  assert.equal(cli.status, 1);
  assert.match(cli.stderr, /^nlpbook export: .*existing\/keep\.txt: not a file nlpbook export onnx writes; .*\n$/m);
  assert.equal(fs.readFileSync(path.join(out, 'keep.txt'), 'utf8'), 'mine');
  fs.renameSync(path.join(out, 'keep.txt'), path.join(parent, 'keep.txt'));
  await exportOnnx(modelDir, out, { check: false, force: true });
  assert.ok(fs.existsSync(path.join(out, ONNX_MODEL_FILE)));
  // An earlier export is replaced whole ...
  await exportOnnx(modelDir, out, { check: false, force: true });
  assert.deepEqual(exportedFiles(out), [...EXPORTED_FILES].sort());
  // ... unless someone added to it.
  fs.writeFileSync(path.join(out, 'onnx', 'model_quantized.onnx'), 'mine');
  await rejectsOneLine(exportOnnx(modelDir, out, { check: false, force: true }), /existing\/onnx\/model_quantized\.onnx: not a file nlpbook export onnx writes/);
  assert.equal(fs.readFileSync(path.join(out, 'onnx', 'model_quantized.onnx'), 'utf8'), 'mine');
  await rejectsOneLine(exportOnnx(modelDir, path.dirname(modelDir), { force: true, check: false }), /holds the model folder/);

  // A model transformers.js would read differently (sigmoid for multi-label) fails the check: nothing is written.
  const multiLabel = classifierFolder((c) => { c.problem_type = 'multi_label_classification'; });
  const refused = path.join(parent, 'refused');
  await rejectsOneLine(exportOnnx(multiLabel, refused), /export check: transformers\.js gives P\(negative\) = .* nothing was written/);
  assert.equal(fs.existsSync(refused), false);
  assert.deepEqual(leftovers(parent), []);
});

/** The files under `dir`, relative, sorted. */
function exportedFiles(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}
