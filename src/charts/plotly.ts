// The evaluation charts as plain plotly.js figures ({data, layout} JSON): the same object
// draws interactively in Jupyter (show.ts), becomes a PNG in headless chromium
// (render.ts) and is saved as <name>.json by `nlpbook report`. Korean titles and axis
// labels; the font list starts with NanumGothic so they render on Debian (fonts-nanum).
import type { Confusion } from '../task/index';
import type { LengthBucket, PrCurve, ReliabilityBin, RocCurve, TrainingCurves } from '../evaluate/index';
import { histogram } from './histogram';

/** A plotly.js figure as JSON: traces and layout (plotly's own types are not needed to build one). */
export interface PlotlyFigure {
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
}

/** Korean-capable fonts, Debian's fonts-nanum first, then macOS's and Windows' Korean fonts. */
export const FONT_FAMILY = 'NanumGothic, "Nanum Gothic", "Apple SD Gothic Neo", "Malgun Gothic", "Noto Sans CJK KR", sans-serif';

/** Default PNG size in CSS pixels. */
export const CHART_SIZE = { width: 720, height: 480 } as const;

const BLUE = '#4c78a8';
const ORANGE = '#f58518';
const RED = '#e45756';
const GREY = '#9d9d9d';

/** Class names on the charts, by label: 0 = 부정 (negative), 1 = 긍정 (positive). */
const CLASS_NAMES = ['부정', '긍정'] as const;

function axis(title: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { title: { text: title }, gridcolor: '#e5e5e5', zeroline: false, linecolor: '#444', ticks: 'outside', ...extra };
}

/** The layout every chart shares: title, fonts, white background, "." as the decimal point whatever the browser's locale. */
export function baseLayout(title: string, xTitle: string, yTitle: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    title: { text: title, x: 0.5, xanchor: 'center' },
    font: { family: FONT_FAMILY, size: 14, color: '#222' },
    separators: '.,',
    paper_bgcolor: 'white',
    plot_bgcolor: 'white',
    margin: { t: 70, r: 30, b: 70, l: 80 },
    xaxis: axis(xTitle),
    yaxis: axis(yTitle),
    legend: { bgcolor: 'rgba(255,255,255,0.8)', bordercolor: '#ddd', borderwidth: 1 },
    ...extra,
  };
}

const fixed = (x: number | null, digits = 3) => (x === null || !Number.isFinite(x) ? '–' : x.toFixed(digits));
/** JSON has no Infinity/NaN: such values go out as null (plotly leaves a gap). */
const finite = (xs: readonly number[]) => xs.map((x) => (Number.isFinite(x) ? x : null));

/** 2×2 confusion matrix: rows the true class, columns the predicted one, each cell its count and its share of the row. */
export function confusionMatrixFigure(c: Confusion): PlotlyFigure {
  const z = [
    [c.trueNegative, c.falsePositive],
    [c.falseNegative, c.truePositive],
  ];
  const text = z.map((row) => {
    const total = row[0] + row[1];
    return row.map((v) => `${v.toLocaleString('en-US')}<br>(${total ? ((100 * v) / total).toFixed(1) : '0.0'}%)`);
  });
  const n = z[0][0] + z[0][1] + z[1][0] + z[1][1];
  const accuracy = n ? (c.trueNegative + c.truePositive) / n : 0;
  return {
    data: [{
      type: 'heatmap',
      z,
      x: [...CLASS_NAMES],
      y: [...CLASS_NAMES],
      text,
      texttemplate: '%{text}',
      textfont: { size: 18, color: '#222' },
      // Light to mid blue: the counts stay readable in dark text on every cell.
      colorscale: [[0, '#f4f8fc'], [1, '#6fa8d6']],
      showscale: false,
      hovertemplate: '실제 %{y}, 예측 %{x}: %{z}<extra></extra>',
    }],
    layout: baseLayout(`혼동 행렬 (정확도 ${fixed(accuracy)})`, '예측', '실제', {
      xaxis: axis('예측', { side: 'bottom', type: 'category', ticks: '' }),
      yaxis: axis('실제', { autorange: 'reversed', type: 'category', ticks: '' }),
    }),
  };
}

/** ROC curve with its AUC and the diagonal of a random guess; hovering a point shows its threshold. */
export function rocFigure(roc: RocCurve, auc: number | null): PlotlyFigure {
  const title = auc === null ? 'ROC 곡선 (클래스가 하나뿐이라 정의되지 않음)' : `ROC 곡선 (AUC = ${fixed(auc, 4)})`;
  return {
    data: [
      { type: 'scatter', mode: 'lines', x: [0, 1], y: [0, 1], name: '무작위 (AUC = 0.5)', line: { color: GREY, dash: 'dash' }, hoverinfo: 'skip' },
      {
        type: 'scatter', mode: 'lines', x: finite(roc.fpr), y: finite(roc.tpr), customdata: finite(roc.thresholds),
        name: auc === null ? '모델' : `모델 (AUC = ${fixed(auc, 4)})`, line: { color: BLUE, width: 2.5 },
        hovertemplate: 'FPR %{x:.3f}, TPR %{y:.3f}<br>임계값 %{customdata:.4f}<extra></extra>',
      },
    ],
    layout: baseLayout(title, '거짓 양성 비율 (FPR)', '참 양성 비율 (TPR, 재현율)', {
      xaxis: axis('거짓 양성 비율 (FPR)', { range: [0, 1], constrain: 'domain' }),
      yaxis: axis('참 양성 비율 (TPR, 재현율)', { range: [0, 1.02], scaleanchor: 'x', scaleratio: 1 }),
      legend: { x: 0.98, xanchor: 'right', y: 0.04, yanchor: 'bottom', bgcolor: 'rgba(255,255,255,0.8)', bordercolor: '#ddd', borderwidth: 1 },
    }),
  };
}

/** Precision-recall curve as steps (what average precision sums), with the positive rate as the baseline. */
export function precisionRecallFigure(pr: PrCurve, averagePrecision: number | null, positiveRate: number): PlotlyFigure {
  const title = averagePrecision === null ? '정밀도-재현율 곡선 (긍정 예가 없어 정의되지 않음)' : `정밀도-재현율 곡선 (AP = ${fixed(averagePrecision, 4)})`;
  return {
    data: [
      { type: 'scatter', mode: 'lines', x: [0, 1], y: [positiveRate, positiveRate], name: `무작위 (긍정 비율 ${fixed(positiveRate)})`, line: { color: GREY, dash: 'dash' }, hoverinfo: 'skip' },
      {
        type: 'scatter', mode: 'lines', x: pr.recall, y: pr.precision, customdata: [...finite(pr.thresholds), null],
        line: { shape: 'hv', color: ORANGE, width: 2.5 }, name: averagePrecision === null ? '모델' : `모델 (AP = ${fixed(averagePrecision, 4)})`,
        hovertemplate: '재현율 %{x:.3f}, 정밀도 %{y:.3f}<br>임계값 %{customdata:.4f}<extra></extra>',
      },
    ],
    layout: baseLayout(title, '재현율', '정밀도', {
      xaxis: axis('재현율', { range: [0, 1.01] }),
      yaxis: axis('정밀도', { range: [0, 1.02] }),
      legend: { x: 0.02, y: 0.04, yanchor: 'bottom', bgcolor: 'rgba(255,255,255,0.8)', bordercolor: '#ddd', borderwidth: 1 },
    }),
  };
}

/**
 * Reliability diagram: for each confidence bin, the accuracy (bars), the gap to the
 * bin's mean confidence (red) and the diagonal of perfect calibration. The x axis starts
 * at the first non-empty bin (a two-class model is never less than 50% sure).
 */
export function reliabilityFigure(bins: readonly ReliabilityBin[], ece: number): PlotlyFigure {
  const used = bins.filter((b) => b.count > 0);
  const centers = used.map((b) => (b.lo + b.hi) / 2);
  const width = used.map((b) => (b.hi - b.lo) * 0.92);
  const lo = used.length ? used[0].lo : 0;
  return {
    data: [
      {
        type: 'bar', x: centers, y: used.map((b) => b.accuracy), width, name: '정확도', marker: { color: BLUE },
        text: used.map((b) => `n=${b.count.toLocaleString('en-US')}`), textposition: 'inside', insidetextanchor: 'start',
        customdata: used.map((b) => [b.lo, b.hi, b.confidence, b.count]),
        hovertemplate: '확신도 (%{customdata[0]:.1f}, %{customdata[1]:.1f}]<br>정확도 %{y:.3f}, 평균 확신도 %{customdata[2]:.3f}<br>%{customdata[3]}개<extra></extra>',
      },
      {
        type: 'bar', x: centers, base: used.map((b) => b.accuracy), y: used.map((b) => (b.confidence as number) - (b.accuracy as number)), width,
        name: '평균 확신도와의 차이', marker: { color: RED, opacity: 0.35, line: { color: RED, width: 1.5 } }, hoverinfo: 'skip',
      },
      { type: 'scatter', mode: 'lines', x: [lo, 1], y: [lo, 1], name: '완벽한 보정', line: { color: GREY, dash: 'dash' }, hoverinfo: 'skip' },
    ],
    layout: baseLayout(`신뢰도 다이어그램 (ECE = ${fixed(ece, 4)})`, '확신도 (예측한 클래스의 확률)', '정확도', {
      barmode: 'overlay',
      xaxis: axis('확신도 (예측한 클래스의 확률)', { range: [lo, 1] }),
      yaxis: axis('정확도', { range: [0, 1.02] }),
      legend: { orientation: 'h', x: 0.5, xanchor: 'center', y: 1.01, yanchor: 'bottom' },
      margin: { t: 100, r: 30, b: 70, l: 80 },
    }),
  };
}

/** Accuracy per token-length bucket, each bar labelled with its size, and the overall accuracy as a line. */
export function lengthAccuracyFigure(buckets: readonly LengthBucket[], overallAccuracy?: number): PlotlyFigure {
  const data: Record<string, unknown>[] = [{
    type: 'bar', x: buckets.map((b) => b.label), y: buckets.map((b) => b.accuracy), name: '정확도', marker: { color: BLUE },
    text: buckets.map((b) => `n=${b.count.toLocaleString('en-US')}`), textposition: 'inside', insidetextanchor: 'start',
    hovertemplate: '%{x} 토큰: 정확도 %{y:.3f}<br>%{text}<extra></extra>',
  }];
  if (overallAccuracy !== undefined) {
    data.push({
      type: 'scatter', mode: 'lines', x: [buckets[0]?.label, buckets[buckets.length - 1]?.label], y: [overallAccuracy, overallAccuracy],
      name: `전체 정확도 ${fixed(overallAccuracy)}`, line: { color: RED, dash: 'dash' }, hoverinfo: 'skip',
    });
  }
  return {
    data,
    layout: baseLayout('문장 길이별 정확도', '문장 길이 (kcbert 토큰 수, [CLS]·[SEP] 포함)', '정확도', {
      xaxis: axis('문장 길이 (kcbert 토큰 수, [CLS]·[SEP] 포함)', { type: 'category' }),
      yaxis: axis('정확도', { range: [0, 1.15], tickvals: [0, 0.2, 0.4, 0.6, 0.8, 1] }),
      legend: { orientation: 'h', x: 0.5, xanchor: 'center', y: 0.99, yanchor: 'top', bgcolor: 'rgba(255,255,255,0.8)', bordercolor: '#ddd', borderwidth: 1 },
    }),
  };
}

/** How the positive probability is spread for truly negative and truly positive sentences (20 bins over [0, 1]). */
export function probabilityFigure(rows: readonly { label: number; positive_prob: number }[], bins = 20): PlotlyFigure {
  const data = [0, 1].map((label) => {
    const { edges, counts } = histogram(rows.filter((r) => r.label === label).map((r) => r.positive_prob), bins, [0, 1]);
    return {
      type: 'bar', x: counts.map((_, i) => (edges[i] + edges[i + 1]) / 2), y: counts, width: 1 / bins,
      name: `실제 ${CLASS_NAMES[label]}`, marker: { color: label ? ORANGE : BLUE, opacity: 0.6 },
      hovertemplate: `실제 ${CLASS_NAMES[label]}, 긍정 확률 %{x:.3f} 근처: %{y}개<extra></extra>`,
    };
  });
  return {
    data,
    layout: baseLayout('긍정 확률의 분포', '모델이 준 긍정 확률', '문장 수', {
      barmode: 'overlay',
      xaxis: axis('모델이 준 긍정 확률', { range: [0, 1] }),
      legend: { x: 0.5, xanchor: 'center', y: 0.98, bgcolor: 'rgba(255,255,255,0.8)', bordercolor: '#ddd', borderwidth: 1 },
    }),
  };
}

/** Training curve of `metric`: the trainer's per-step means (line) and the per-epoch validation (dots). */
export function trainingCurveFigure(curves: TrainingCurves, metric: 'loss' | 'accuracy'): PlotlyFigure {
  const name = metric === 'loss' ? '손실' : '정확도';
  const t = curves.train;
  const v = curves.validation;
  return {
    data: [
      {
        type: 'scatter', mode: 'lines', x: t.step, y: finite(t[metric]), customdata: t.epoch, name: `학습 ${name} (스텝 평균)`, line: { color: BLUE, width: 1.8 },
        hovertemplate: `스텝 %{x} (에폭 %{customdata}): ${name} %{y:.4f}<extra></extra>`,
      },
      {
        type: 'scatter', mode: 'lines+markers', x: v.step, y: finite(v[metric]), customdata: v.epoch, name: `검증 ${name} (에폭마다)`,
        line: { color: ORANGE, width: 2.5 }, marker: { size: 9 },
        hovertemplate: `에폭 %{customdata} 끝 (스텝 %{x}): 검증 ${name} %{y:.4f}<extra></extra>`,
      },
    ],
    layout: baseLayout(`학습 곡선: ${name}`, '옵티마이저 스텝', name, {
      yaxis: axis(name, metric === 'accuracy' ? { range: [0, 1.02] } : { rangemode: 'tozero' }),
      // Above the plot: curves can be anywhere (a flat loss sits at the top).
      legend: { orientation: 'h', x: 0.5, xanchor: 'center', y: 1.01, yanchor: 'bottom' },
      margin: { t: 100, r: 30, b: 70, l: 80 },
    }),
  };
}

/**
 * Tick labels in one style per axis: plain numbers with thousands separators, or exponents
 * (2e-5) when the values are tiny (learning rates). Plotly's default writes SI prefixes
 * instead: "20µ" for a learning rate, "150k" for a count.
 */
function plainNumbers(values: readonly (number | null)[]): Record<string, unknown> {
  let largest = 0;
  for (const v of values) if (v !== null && Number.isFinite(v)) largest = Math.max(largest, Math.abs(v));
  const tiny = largest > 0 && largest < 1e-2;
  return tiny ? { exponentformat: 'e', showexponent: 'all' } : { exponentformat: 'none', separatethousands: true };
}

/** Options of histogramFigure: those of the old SVG histogram (histogram.ts) less its pixel size (the PNG size is the renderer's). */
export interface HistogramFigureOptions {
  /** Number of equal-width bins (default 30; whole-number data gets whole-number bins, see histogram()). */
  bins?: number;
  /** [low, high] of the binned range (default: min and max of the values). */
  range?: [number, number];
  title?: string;
  xLabel?: string;
  /** Default '개수' (count). */
  yLabel?: string;
}

/** A short label for a bin edge: whole numbers as they are, others to 4 significant digits (0.05, not 0.1). */
const edgeLabel = (v: number) => (Number.isInteger(v) ? v.toLocaleString('en-US') : String(Number(v.toPrecision(4))));

/** The hover label of bin [lo, hi): for whole-number data the values it holds ("12–17", or "12"), else the interval. */
function binLabel(lo: number, hi: number, wholeNumbers: boolean): string {
  if (!wholeNumbers) return `${edgeLabel(lo)}–${edgeLabel(hi)}`;
  return hi - lo === 1 ? edgeLabel(lo) : `${edgeLabel(lo)}–${edgeLabel(hi - 1)}`;
}

/**
 * Histogram of `values` as bars, binned here by histogram(): the figure holds one height
 * per bin, never the values themselves, so 150,000 sentence lengths stay a few hundred
 * numbers in the notebook (plotly's own histogram trace would carry every value).
 */
export function histogramFigure(values: readonly number[], options: HistogramFigureOptions = {}): PlotlyFigure {
  const { edges, counts } = histogram(values, options.bins ?? 30, options.range);
  const width = edges[1] - edges[0];
  // histogram()'s whole-number bins (no range given): each bin holds the whole numbers lo..hi-1.
  const wholeNumbers = !options.range && values.every(Number.isInteger);
  const yLabel = options.yLabel ?? '개수';
  const xLabel = options.xLabel ?? '';
  return {
    data: [{
      type: 'bar', x: counts.map((_, i) => edges[i] + width / 2), y: counts, width,
      // A thin white edge keeps neighbouring bars apart, like the SVG's 1-pixel gap.
      marker: { color: BLUE, line: { color: 'white', width: 1 } },
      customdata: counts.map((_, i) => binLabel(edges[i], edges[i + 1], wholeNumbers)),
      hovertemplate: `%{customdata}: %{y:,}<extra></extra>`,
      showlegend: false,
    }],
    layout: baseLayout(options.title ?? '', xLabel, yLabel, {
      bargap: 0,
      xaxis: axis(xLabel, { range: [edges[0], edges[edges.length - 1]], ...plainNumbers(edges) }),
      yaxis: axis(yLabel, { rangemode: 'tozero', ...plainNumbers(counts) }),
      ...(options.title ? {} : { margin: { t: 30, r: 30, b: 70, l: 80 } }),
    }),
  };
}

/** One line of lineFigure: the old SVG line chart's series (line.ts). */
export interface LineFigureSeries {
  name: string;
  /** [x, y] pairs, in x order. */
  points: readonly (readonly [number, number])[];
  color?: string;
  /** A dot at every point (short series such as one value per epoch). */
  dots?: boolean;
}

/** Options of lineFigure: the old SVG line chart's, less its pixel size. */
export interface LineFigureOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Start the y axis at 0 (default: plotly fits it to the values). */
  yFromZero?: boolean;
}

const SERIES_COLORS = [BLUE, ORANGE, '#54a24b', RED, '#72b7b2'];

/** One or more lines (a learning-rate schedule, loss curves), with a legend when there are several. */
export function lineFigure(series: readonly LineFigureSeries[], options: LineFigureOptions = {}): PlotlyFigure {
  const xLabel = options.xLabel ?? '';
  const yLabel = options.yLabel ?? '';
  const data = series.map((s, i) => {
    const color = s.color ?? SERIES_COLORS[i % SERIES_COLORS.length];
    return {
      type: 'scatter', mode: s.dots ? 'lines+markers' : 'lines', name: s.name,
      x: finite(s.points.map((p) => p[0])), y: finite(s.points.map((p) => p[1])),
      line: { color, width: 2 }, ...(s.dots ? { marker: { color, size: 7 } } : {}),
      // The series name shows beside the hover label (plotly's default "extra" box).
      hovertemplate: '%{x}: %{y}',
    };
  });
  const xs = data.flatMap((d) => d.x);
  const ys = data.flatMap((d) => d.y);
  return {
    data,
    layout: baseLayout(options.title ?? '', xLabel, yLabel, {
      showlegend: series.length > 1,
      xaxis: axis(xLabel, plainNumbers(xs)),
      yaxis: axis(yLabel, { ...(options.yFromZero ? { rangemode: 'tozero' } : {}), ...plainNumbers(ys) }),
      // Above the plot: a curve can be anywhere (a flat loss sits at the top).
      legend: { orientation: 'h', x: 0.5, xanchor: 'center', y: 1.01, yanchor: 'bottom' },
      margin: { t: series.length > 1 ? 100 : options.title ? 70 : 30, r: 30, b: 70, l: 80 },
    }),
  };
}

/** What evaluationFigures needs: an analysis (evaluate/evaluation.ts), optionally with per-example rows. */
export interface FigureInputs {
  accuracy: number;
  confusion: Confusion;
  roc: RocCurve;
  auc: number | null;
  pr: PrCurve;
  averagePrecision: number | null;
  positiveRate: number;
  reliability: readonly ReliabilityBin[];
  ece: number;
  byLength: readonly LengthBucket[] | null;
  rows?: readonly { label: number; positive_prob: number }[];
}

/**
 * Every chart of step 8 by file name: confusion-matrix, roc, precision-recall,
 * reliability, probabilities and accuracy-by-length (when there are rows / lengths),
 * training-loss and training-accuracy (when `curves` is given).
 */
export function evaluationFigures(report: FigureInputs, curves?: TrainingCurves | null): Record<string, PlotlyFigure> {
  const figures: Record<string, PlotlyFigure> = {
    'confusion-matrix': confusionMatrixFigure(report.confusion),
    roc: rocFigure(report.roc, report.auc),
    'precision-recall': precisionRecallFigure(report.pr, report.averagePrecision, report.positiveRate),
    reliability: reliabilityFigure(report.reliability, report.ece),
  };
  if (report.rows) figures.probabilities = probabilityFigure(report.rows);
  if (report.byLength) figures['accuracy-by-length'] = lengthAccuracyFigure(report.byLength, report.accuracy);
  if (curves) {
    figures['training-loss'] = trainingCurveFigure(curves, 'loss');
    figures['training-accuracy'] = trainingCurveFigure(curves, 'accuracy');
  }
  return figures;
}

/** The title text of a figure (for alt text and file listings). */
export function figureTitle(figure: PlotlyFigure): string {
  const title = figure.layout.title as { text?: unknown } | string | undefined;
  const text = typeof title === 'string' ? title : title?.text;
  return typeof text === 'string' && text ? text : 'chart';
}
