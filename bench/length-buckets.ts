// Validation accuracy of fine-tuned models by sentence length (not a test): how much cutting
// reviews at maxLength costs. Each model folder is read with the validation split its own
// settings.json carved (validationFraction, seed) and at the maxLength given after a colon
// (default: the folder's maxSeqLength); lengths are counted whole, [CLS] and [SEP] included.
//
//   node --import tsx bench/length-buckets.ts DIR[:maxLength]...
// e.g. the same model read whole and cut at 64: DIR:128 DIR:64. Appends one JSON line per
// model to bench/results/length-buckets.jsonl and prints it.
import * as fs from 'fs';
import * as path from 'path';
import { NsmcCorpus } from '../src/corpus/index';
import { splitTrainValidation } from '../src/data/dataset';
import { loadSettings } from '../src/settings/index';
import { SentenceClassifier } from '../src/train/index';

const BUCKETS: [number, number][] = [[1, 16], [17, 32], [33, 48], [49, 64], [65, Infinity]];

(async () => {
  const args = process.argv.slice(2);
  if (!args.length) throw new Error('usage: node --import tsx bench/length-buckets.ts DIR[:maxLength]...');
  for (const arg of args) {
    const [dir, max] = arg.split(':');
    const settings = loadSettings(path.join(dir, 'settings.json'));
    const maxLength = max ? Number(max) : settings.maxSeqLength;
    const examples = new NsmcCorpus(settings).examples('train');
    const validation = splitTrainValidation(examples, settings).validation.map((i) => examples[i]);
    const classifier = await SentenceClassifier.load(dir, { maxLength });
    const lengths = validation.map((e) => classifier.tokenizer.encode(e.text).inputIds.length);
    const predictions = classifier.predict(validation.map((e) => e.text), { batchSize: 64 });
    const right = validation.map((e, i) => (predictions[i].positive_prob > 0.5 ? 1 : 0) === e.label);
    classifier.dispose();
    const buckets = BUCKETS.map(([lo, hi]) => {
      const inside = lengths.map((n, i) => i).filter((i) => lengths[i] >= lo && lengths[i] <= hi);
      const correct = inside.filter((i) => right[i]).length;
      return { tokens: hi === Infinity ? `>${lo - 1}` : `${lo}-${hi}`, sentences: inside.length, accuracy: Math.round((correct / inside.length) * 10000) / 10000 };
    });
    const row = {
      model: dir, maxLength, trainedWith: settings.maxSeqLength, date: new Date().toISOString(),
      accuracy: Math.round((right.filter(Boolean).length / right.length) * 10000) / 10000, sentences: right.length, buckets,
    };
    fs.mkdirSync('bench/results', { recursive: true });
    fs.appendFileSync('bench/results/length-buckets.jsonl', `${JSON.stringify(row)}\n`);
    console.log(JSON.stringify(row));
  }
})().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
