// A pandas-like look at the corpus for the notebook, with danfojs (the JavaScript
// pandas). Kept apart from src/corpus/corpus.ts because danfojs-node loads TensorFlow: the
// CLI and the training code do not need it.
import type { DataFrame } from 'danfojs-node';
import type { Example } from './corpus';
import { codePoints } from './pycsv';

type Danfo = typeof import('danfojs-node');
let danfo: Danfo | undefined;

/** danfojs-node, loaded on first use with libtensorflow's start-up chatter turned down. */
export function dfd(): Danfo {
  if (!danfo) {
    process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
    danfo = require('danfojs-node') as Danfo;
  }
  return danfo;
}

/** The label names the book uses: 0 = 부정 (negative), 1 = 긍정 (positive). */
export const LABEL_NAMES: Readonly<Record<0 | 1, string>> = { 0: '부정', 1: '긍정' };

/** A DataFrame with columns id, document, label, length (characters, as Python's len()). */
export function toDataFrame(examples: readonly Example[]): DataFrame {
  return new (dfd().DataFrame)({
    id: examples.map((e) => e.id),
    document: examples.map((e) => e.text),
    label: examples.map((e) => e.label),
    length: examples.map((e) => codePoints(e.text)),
  });
}

/** Rows per label: label, name (부정/긍정), count, share of all rows. */
export function labelCounts(frame: DataFrame): DataFrame {
  const labels = frame.column('label').values as number[];
  const counts = [0, 0];
  for (const l of labels) counts[l]++;
  const total = labels.length;
  return new (dfd().DataFrame)({
    label: [0, 1],
    name: [LABEL_NAMES[0], LABEL_NAMES[1]],
    count: counts,
    share: counts.map((c) => (total ? round(c / total, 4) : 0)),
  });
}

/** Length statistics (characters) for all rows and per label: count, mean, std, min, p50, p95, max. */
export function lengthStats(frame: DataFrame): DataFrame {
  const lengths = frame.column('length').values as number[];
  const labels = frame.column('label').values as number[];
  const groups: [string, number[]][] = [
    ['전체', lengths],
    [LABEL_NAMES[0], lengths.filter((_, i) => labels[i] === 0)],
    [LABEL_NAMES[1], lengths.filter((_, i) => labels[i] === 1)],
  ];
  const rows = groups.map(([group, values]) => ({ group, ...summarize(values) }));
  return new (dfd().DataFrame)(rows);
}

function summarize(values: number[]): { count: number; mean: number; std: number; min: number; p50: number; p95: number; max: number } {
  const n = values.length;
  if (n === 0) return { count: 0, mean: 0, std: 0, min: 0, p50: 0, p95: 0, max: 0 };
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / n;
  let sq = 0;
  for (const v of values) sq += (v - mean) ** 2;
  const at = (q: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]; // nearest rank
  return {
    count: n,
    mean: round(mean, 2),
    std: round(n > 1 ? Math.sqrt(sq / (n - 1)) : 0, 2), // sample std, like pandas
    min: sorted[0],
    p50: at(0.5),
    p95: at(0.95),
    max: sorted[n - 1],
  };
}

/** An HTML table of the first `maxRows` rows (for tslab.display.html), Korean text intact. */
export function frameHtml(frame: DataFrame, maxRows = 20): string {
  const columns = frame.columns as string[];
  const index = frame.index as (string | number)[];
  const values = frame.values as unknown[][];
  const shown = Math.min(maxRows, values.length);
  const cell = (v: unknown, tag = 'td') => `<${tag}>${escapeHtml(String(v))}</${tag}>`;
  const head = `<tr>${cell('', 'th')}${columns.map((c) => cell(c, 'th')).join('')}</tr>`;
  const body = values
    .slice(0, shown)
    .map((row, i) => `<tr>${cell(index[i], 'th')}${row.map((v) => cell(v)).join('')}</tr>`)
    .join('');
  const more = values.length > shown ? `<p>… ${values.length - shown} more rows (${values.length} in all)</p>` : '';
  return `<table><thead>${head}</thead><tbody>${body}</tbody></table>${more}`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
