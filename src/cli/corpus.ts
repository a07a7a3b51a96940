// `nlpbook corpus fetch|stats`: download NSMC (cache first) and show its figures.
//   nlpbook corpus fetch [--root DIR] [--mirror URL_OR_DIR] [--force] [--json]
//   nlpbook corpus stats [--root DIR] [--mirror URL_OR_DIR] [--empty keep|skip|error] [--json]
import { parseArgs } from 'util';
import { NlpbookError } from '../util/errors';
import { CorpusStats, NsmcCorpus, SPLITS, Split } from '../corpus/index';
import { formatBytes } from '../util/progress';
import { DEFAULT_SETTINGS, Settings } from '../settings/index';

const USAGE = 'usage: nlpbook corpus fetch [--root DIR] [--mirror URL_OR_DIR] [--force] [--json] | nlpbook corpus stats [--root DIR] [--mirror URL_OR_DIR] [--empty keep|skip|error] [--json]';

export const command = {
  summary: 'download NSMC (cache first) and show its figures: fetch [--force] | stats [--json]',
  async run(argv: string[]): Promise<void> {
    const [sub, ...rest] = argv;
    if (sub !== 'fetch' && sub !== 'stats') throw new NlpbookError(`expected "fetch" or "stats", got ${JSON.stringify(sub ?? '')}; ${USAGE}`);
    const { values } = parseArgs({
      args: rest,
      options: {
        root: { type: 'string' },
        mirror: { type: 'string' },
        force: { type: 'boolean' },
        empty: { type: 'string' },
        json: { type: 'boolean' },
      },
    });
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

    if (sub === 'fetch') {
      if (values.json) {
        console.log(JSON.stringify(Object.fromEntries(fetched.map(({ split, ...r }) => [split, r]))));
      } else {
        for (const r of fetched) {
          const from = r.source ? ` from ${r.source}` : '';
          console.log(`${r.split.padEnd(5)} ${r.action.padEnd(10)} ${r.path} (${formatBytes(r.bytes)})${from}`);
        }
      }
      return;
    }

    const stats = Object.fromEntries(SPLITS.map((s) => [s, corpus.stats(s)])) as Record<Split, CorpusStats>;
    if (values.json) {
      console.log(JSON.stringify(stats));
      return;
    }
    const keys = Object.keys(stats.train) as (keyof CorpusStats)[];
    const width = Math.max(...keys.map((k) => k.length));
    console.log(`${''.padEnd(width)}  ${'train'.padStart(10)}  ${'test'.padStart(10)}`);
    for (const k of keys) console.log(`${k.padEnd(width)}  ${String(stats.train[k]).padStart(10)}  ${String(stats.test[k]).padStart(10)}`);
  },
};
