// The main job: the course pipeline end to end, one step after another, the way the
// notebooks go. Each step logs a line on stderr; the result is one plain object (the
// CLI prints it as its last stdout line). Later steps of the course add their stages here.
import { initBackend } from './backend';
import { NsmcCorpus, SPLITS } from './corpus';
import { ClassificationDataset, type DatasetMode } from './dataset';
import { comparePadding } from './loader';
import { modelMirror } from './mirror';
import { saveSettings, type Settings } from './settings';
import { BertTokenizer } from './tokenizer';

export interface CourseResult {
  settings: string;
  backend: { backend: string; native: boolean; threads: number };
  corpus: Record<string, { rows: number; positive: number; path: string }>;
  tokenizer: { name: string; vocabSize: number };
  features: Record<DatasetMode, { examples: number; meanTokens: number; p95Tokens: number; fromCache: boolean }>;
  padding: { fixed128: number; dynamic: number; bucketed: number };
  minutes: number;
}

export async function runCourse(settings: Settings, log: (line: string) => void = (l) => console.error(l)): Promise<CourseResult> {
  const started = Date.now();
  const step = (n: string, text: string) => log(`[${n}] ${text}`);

  step('1 settings', `saved to ${saveSettings(settings, settings.downstreamModelDir)}`);
  const backend = await initBackend();
  step('1 settings', `TensorFlow.js ${backend.tfjs}, backend ${backend.backend} (${backend.threads} threads)`);

  const corpus = new NsmcCorpus(settings);
  for (const r of await corpus.fetch()) step('2 corpus', `${r.split}: ${r.action} ${r.path}`);
  const corpusInfo: CourseResult['corpus'] = {};
  for (const split of SPLITS) {
    const s = corpus.stats(split);
    corpusInfo[split] = { rows: s.rows, positive: s.positive, path: corpus.path(split) };
    step('2 corpus', `${split}: ${s.rows} rows, ${s.positive} positive, ${s.empty} empty, ${s.quoted} quoted`);
  }

  const tokenizer = await BertTokenizer.fromPretrained(settings.pretrainedModelName, { modelMirror: modelMirror(settings.modelMirror) });
  step('4 tokenizer', `${settings.pretrainedModelName}: ${tokenizer.vocabSize} wordpieces from ${tokenizer.name}`);

  const features = {} as CourseResult['features'];
  const datasets = {} as Record<DatasetMode, ClassificationDataset>;
  for (const mode of ['train', 'validation', 'test'] as const) {
    const ds = new ClassificationDataset(settings, corpus, tokenizer, mode, { log });
    const st = ds.stats();
    datasets[mode] = ds;
    features[mode] = { examples: ds.length, meanTokens: round(st.mean, 2), p95Tokens: st.p95, fromCache: ds.fromCache };
    step('5 data', `${mode}: ${ds.length} examples, ${round(st.mean, 1)} tokens on average (p95 ${st.p95}), ${ds.fromCache ? 'cached' : 'built'} in ${ds.seconds.toFixed(1)} s`);
  }
  const pad = comparePadding(datasets.train, { batchSize: settings.batchSize, fixedLength: settings.maxSeqLength, seed: settings.seed });
  const padding = { fixed128: round(pad.fixed.paddingShare, 4), dynamic: round(pad.dynamic.paddingShare, 4), bucketed: round(pad.bucketed.paddingShare, 4) };
  step('5 data', `padding share per epoch: fixed ${settings.maxSeqLength} ${pct(padding.fixed128)}, dynamic ${pct(padding.dynamic)}, dynamic + length buckets ${pct(padding.bucketed)}`);

  return {
    settings: saveSettings(settings, settings.downstreamModelDir),
    backend: { backend: backend.backend, native: backend.native, threads: backend.threads },
    corpus: corpusInfo,
    tokenizer: { name: tokenizer.name, vocabSize: tokenizer.vocabSize },
    features,
    padding,
    minutes: round((Date.now() - started) / 60000, 2),
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}
