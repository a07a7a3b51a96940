// Small training setups shared by the task, trainer and CLI tests: a slice of the real
// NSMC files in a temp corpus root, the tiny random BERT (test/fixtures/tiny-bert, kcbert's
// 30000-word vocabulary, hidden size 16) as the "pretrained" model, kcbert's tokenizer.
import * as fs from 'fs';
import * as path from 'path';
import { makeSettings, type Settings } from '../src/settings/index';
import { FIXTURES, KCBERT_DIR, NSMC_DIR, tempDir } from './helpers';

export const TINY_BERT = path.join(FIXTURES, 'tiny-bert');

/** A corpus root holding nsmc/ratings_{train,test}.txt with the header and the first rows of the real files. */
export function nsmcSlice(trainRows: number, testRows = 40): string {
  const root = tempDir('nlpbook-corpus-');
  fs.mkdirSync(path.join(root, 'nsmc'));
  for (const [name, rows] of [['ratings_train.txt', trainRows], ['ratings_test.txt', testRows]] as const) {
    const lines = fs.readFileSync(path.join(NSMC_DIR, name), 'utf8').split('\n').slice(0, rows + 1);
    fs.writeFileSync(path.join(root, 'nsmc', name), `${lines.join('\n')}\n`);
  }
  return root;
}

/** A complete pretrained model folder: tiny-bert's config and weights plus kcbert's tokenizer files. */
export function tinyPretrainedFolder(): string {
  const dir = tempDir('nlpbook-tiny-');
  for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(TINY_BERT, f), path.join(dir, f));
  for (const f of ['vocab.txt', 'tokenizer_config.json']) fs.copyFileSync(path.join(KCBERT_DIR, f), path.join(dir, f));
  return dir;
}

/** Settings for a quick run on `corpusRoot` writing to a fresh folder. */
export function quickSettings(corpusRoot: string, overrides: Partial<Settings> = {}): Settings {
  return makeSettings({
    pretrainedModelName: TINY_BERT,
    downstreamCorpusRootDir: corpusRoot,
    downstreamModelDir: path.join(tempDir('nlpbook-run-'), 'model'),
    epochs: 2,
    batchSize: 16,
    learningRate: 3e-3,
    tqdmEnabled: false,
    logEverySteps: 5,
    ...overrides,
  });
}
