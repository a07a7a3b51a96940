// A small SVG histogram for the notebooks (tslab.display.html(svg)): no chart library,
// no browser needed, and the notebook file stays small. Korean labels are fine.
export interface HistogramOptions {
  /** Number of equal-width bins (default 30). */
  bins?: number;
  /** [low, high] of the binned range (default: min and max of the values). */
  range?: [number, number];
  title?: string;
  xLabel?: string;
  /** Default '개수' (count). */
  yLabel?: string;
  width?: number;
  height?: number;
  color?: string;
}

export interface Histogram {
  /** bins + 1 edges; bin i is [edges[i], edges[i+1]), the last one closed (like numpy). Whole-number data gets whole-number edges. */
  edges: number[];
  counts: number[];
}

/** Counts of `values` in `bins` equal-width bins over `range` (values outside are left out). */
export function histogram(values: readonly number[], bins = 30, range?: [number, number]): Histogram {
  if (!(Number.isInteger(bins) && bins > 0)) throw new RangeError(`bins must be a positive integer, got ${bins}`);
  let [lo, hi] = range ?? minMax(values);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1]; // no values
  let width: number;
  if (!range && values.every(Number.isInteger)) {
    // Whole numbers (lengths, counts): whole-number bins, so no bin gets one value more
    // than its neighbour just from where the edges fall.
    width = Math.max(1, Math.ceil((hi - lo + 1) / bins));
    bins = Math.ceil((hi - lo + 1) / width);
    hi = lo + bins * width;
  } else {
    if (hi === lo) hi = lo + 1;
    width = (hi - lo) / bins;
  }
  const edges = Array.from({ length: bins + 1 }, (_, i) => lo + i * width);
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) {
    if (v < lo || v > hi) continue;
    counts[Math.min(bins - 1, Math.floor((v - lo) / width))]++;
  }
  return { edges, counts };
}

function minMax(values: readonly number[]): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

/** An SVG bar chart of the histogram of `values`. */
export function histogramSvg(values: readonly number[], options: HistogramOptions = {}): string {
  const { edges, counts } = histogram(values, options.bins ?? 30, options.range);
  const W = options.width ?? 640;
  const H = options.height ?? 320;
  const color = options.color ?? '#4c78a8';
  const m = { top: options.title ? 36 : 16, right: 16, bottom: 48, left: 76 };
  const plotW = W - m.left - m.right;
  const plotH = H - m.top - m.bottom;
  const lo = edges[0];
  const hi = edges[edges.length - 1];
  const maxCount = Math.max(1, ...counts);
  const yTicks = niceTicks(0, maxCount);
  const yMax = yTicks[yTicks.length - 1];
  const x = (v: number) => m.left + ((v - lo) / (hi - lo)) * plotW;
  const y = (c: number) => m.top + plotH - (c / yMax) * plotH;
  const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  if (options.title) parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(options.title)}</text>`);
  for (const t of yTicks) {
    parts.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${y(t)}" y2="${y(t)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.left - 6}" y="${y(t) + 4}" text-anchor="end">${t.toLocaleString('en-US')}</text>`);
  }
  counts.forEach((c, i) => {
    const x0 = x(edges[i]);
    const x1 = x(edges[i + 1]);
    const range = `${fmt(edges[i])}–${fmt(edges[i + 1])}`;
    parts.push(
      `<rect x="${x0 + 0.5}" y="${y(c)}" width="${Math.max(0, x1 - x0 - 1)}" height="${m.top + plotH - y(c)}" fill="${color}"><title>${range}: ${c}</title></rect>`,
    );
  });
  parts.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${m.top + plotH}" y2="${m.top + plotH}" stroke="#333"/>`);
  for (const t of niceTicks(lo, hi)) {
    if (t < lo || t > hi) continue;
    parts.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${m.top + plotH}" y2="${m.top + plotH + 4}" stroke="#333"/>`);
    parts.push(`<text x="${x(t)}" y="${m.top + plotH + 17}" text-anchor="middle">${fmt(t)}</text>`);
  }
  if (options.xLabel) parts.push(`<text x="${m.left + plotW / 2}" y="${H - 8}" text-anchor="middle">${esc(options.xLabel)}</text>`);
  const yLabel = options.yLabel ?? '개수';
  parts.push(`<text transform="translate(16 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}

/** About five round tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo || 1;
  const raw = span / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * pow).find((s) => s >= raw) as number;
  const first = Math.floor(lo / step) * step;
  const ticks: number[] = [];
  for (let t = first; t < hi + step - 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
}
