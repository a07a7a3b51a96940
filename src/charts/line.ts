// A small SVG line chart for the notebooks (tslab.display.html(svg)): a learning-rate
// schedule, a loss curve. Same idea as histogram.ts: no chart library, a few kB of SVG.
import { niceTicks } from './histogram';

export interface LineSeries {
  name: string;
  /** [x, y] pairs, in x order. */
  points: readonly (readonly [number, number])[];
  color?: string;
  /** Draw a dot at every point (for short series such as one value per epoch). */
  dots?: boolean;
}

export interface LineChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  /** Start the y axis at 0 (default: at the smallest value's tick). */
  yFromZero?: boolean;
}

const COLORS = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2'];

/** An SVG chart of one or more series, with a legend when there are several. */
export function lineChartSvg(series: readonly LineSeries[], options: LineChartOptions = {}): string {
  const W = options.width ?? 640;
  const H = options.height ?? 320;
  const m = { top: options.title ? 36 : 16, right: 16, bottom: 48, left: 76 };
  const plotW = W - m.left - m.right;
  const plotH = H - m.top - m.bottom;
  const all = series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const xLo = xs.length ? Math.min(...xs) : 0;
  const xHi = xs.length ? Math.max(...xs) : 1;
  const yTicks = niceTicks(options.yFromZero ? 0 : Math.min(...(ys.length ? ys : [0])), ys.length ? Math.max(...ys) : 1);
  const yLo = yTicks[0];
  const yHi = yTicks[yTicks.length - 1] === yLo ? yLo + 1 : yTicks[yTicks.length - 1];
  const x = (v: number) => m.left + ((v - xLo) / (xHi - xLo || 1)) * plotW;
  const y = (v: number) => m.top + plotH - ((v - yLo) / (yHi - yLo)) * plotH;
  const xTicks = niceTicks(xLo, xHi).filter((t) => t >= xLo && t <= xHi);
  const fmtX = axisFormat(xTicks);
  const fmtY = axisFormat(yTicks);

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  if (options.title) parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(options.title)}</text>`);
  for (const t of yTicks) {
    parts.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${y(t)}" y2="${y(t)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.left - 6}" y="${y(t) + 4}" text-anchor="end">${fmtY(t)}</text>`);
  }
  parts.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${m.top + plotH}" y2="${m.top + plotH}" stroke="#333"/>`);
  for (const t of xTicks) {
    parts.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${m.top + plotH}" y2="${m.top + plotH + 4}" stroke="#333"/>`);
    parts.push(`<text x="${x(t)}" y="${m.top + plotH + 17}" text-anchor="middle">${fmtX(t)}</text>`);
  }
  series.forEach((s, i) => {
    const color = s.color ?? COLORS[i % COLORS.length];
    const d = s.points.map((p, k) => `${k ? 'L' : 'M'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ');
    if (d) parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"><title>${esc(s.name)}</title></path>`);
    if (s.dots) {
      for (const p of s.points) parts.push(`<circle cx="${x(p[0]).toFixed(1)}" cy="${y(p[1]).toFixed(1)}" r="3.5" fill="${color}"><title>${esc(s.name)} ${fmtX(p[0])}: ${fmtY(p[1])}</title></circle>`);
    }
    if (series.length > 1) {
      const ly = m.top + 8 + i * 18;
      parts.push(`<line x1="${m.left + plotW - 130}" x2="${m.left + plotW - 110}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
      parts.push(`<text x="${m.left + plotW - 104}" y="${ly + 4}">${esc(s.name)}</text>`);
    }
  });
  if (options.xLabel) parts.push(`<text x="${m.left + plotW / 2}" y="${H - 8}" text-anchor="middle">${esc(options.xLabel)}</text>`);
  if (options.yLabel) parts.push(`<text transform="translate(16 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(options.yLabel)}</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}

/** One style for all labels of an axis: exponents when the values are tiny or huge (learning rates), else plain. */
function axisFormat(ticks: readonly number[]): (v: number) => string {
  const largest = Math.max(...ticks.map(Math.abs), 0);
  const exponent = largest >= 1e5 || (largest > 0 && largest < 1e-2);
  return (v) => (exponent ? (v === 0 ? '0' : v.toExponential(1)) : String(Number(v.toPrecision(6))));
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
}
