// `nlpbook corpus fetch|stats`: download NSMC (cache first) and show its figures.
//   nlpbook corpus fetch [--root DIR] [--mirror URL_OR_DIR] [--force] [--json]
//   nlpbook corpus stats [--root DIR] [--mirror URL_OR_DIR] [--empty keep|skip|error] [--json]
import { NlpbookError } from '../util/errors';
import { CorpusStats, FetchResult, NsmcCorpus, SPLITS, Split } from '../corpus/index';
import { formatBytes } from '../util/progress';
import { DEFAULT_SETTINGS, Settings } from '../settings/index';
import { defineCommand } from './command';

const SYNOPSIS = 'usage: nlpbook corpus fetch [--root DIR] [--mirror URL_OR_DIR] [--force] [--json] | nlpbook corpus stats [--root DIR] [--mirror URL_OR_DIR] [--empty keep|skip|error] [--json]';

const USAGE = `${SYNOPSIS}

fetch: downloads NSMC's ratings_train.txt and ratings_test.txt into ROOT/nsmc unless they are
there (the cache); stats: fetches, then shows each split's figures.

  --root DIR             corpus folder (default ${DEFAULT_SETTINGS.downstreamCorpusRootDir})
  --mirror URL_OR_DIR    where to download from first (settings' corpusMirror)
  --force                download again even when cached
  --empty keep|skip|error   what to do with an empty document (default ${DEFAULT_SETTINGS.emptyDocuments})
  --json                 one line: fetch {split: {path, action, bytes, source}}, stats {split: figures}`;

type Fetched = Record<string, Omit<FetchResult, 'split'>>;

export const command = defineCommand({
  name: 'corpus',
  summary: 'download NSMC (cache first) and show its figures: fetch [--force] | stats [--json]',
  usage: USAGE,
  options: { root: { type: 'string' }, mirror: { type: 'string' }, force: { type: 'boolean' }, empty: { type: 'string' } },
  positionals: true,
  json: true,
  async run({ values, positionals }): Promise<Fetched | Record<Split, CorpusStats>> {
    const sub = positionals.join(' ');
    if (sub !== 'fetch' && sub !== 'stats') throw new NlpbookError(`expected "fetch" or "stats", got ${JSON.stringify(sub)}; ${SYNOPSIS}`);
    const empty = values.empty ?? DEFAULT_SETTINGS.emptyDocuments;
    if (empty !== 'keep' && empty !== 'skip' && empty !== 'error') throw new NlpbookError(`--empty must be keep, skip or error, got ${JSON.stringify(empty)}`);
    const settings: Settings = {
      ...DEFAULT_SETTINGS,
      downstreamCorpusRootDir: values.root ?? DEFAULT_SETTINGS.downstreamCorpusRootDir,
      corpusMirror: values.mirror ?? null,
      forceDownload: values.force ?? false,
      emptyDocuments: empty,
    };
    const corpus = new NsmcCorpus(settings);
    const fetched = await corpus.fetch();
    if (sub === 'fetch') return Object.fromEntries(fetched.map(({ split, ...r }) => [split, r]));
    return Object.fromEntries(SPLITS.map((s) => [s, corpus.stats(s)])) as Record<Split, CorpusStats>;
  },
  text(result, { positionals }) {
    if (positionals[0] === 'fetch') {
      for (const [split, r] of Object.entries(result as Fetched)) {
        const from = r.source ? ` from ${r.source}` : '';
        console.log(`${split.padEnd(5)} ${r.action.padEnd(10)} ${r.path} (${formatBytes(r.bytes)})${from}`);
      }
      return;
    }
    const stats = result as Record<Split, CorpusStats>;
    const keys = Object.keys(stats.train) as (keyof CorpusStats)[];
    const width = Math.max(...keys.map((k) => k.length));
    console.log(`${''.padEnd(width)}  ${'train'.padStart(10)}  ${'test'.padStart(10)}`);
    for (const k of keys) console.log(`${k.padEnd(width)}  ${String(stats.train[k]).padStart(10)}  ${String(stats.test[k]).padStart(10)}`);
  },
});
