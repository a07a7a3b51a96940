// The step-8 charts: plotly figures built from real numbers, PNGs drawn by the system's
// chromium (real PNG, requested size, Korean glyphs rather than empty boxes), the skip
// reason without chromium, and the notebook display bundle.
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { analyzePredictions, type TrainingCurves } from '../src/evaluate/index';
import { NlpbookError } from '../src/util/errors';
import {
  confusionMatrixFigure, evaluationFigures, FONT_FAMILY, histogramFigure, lineFigure, rocFigure, trainingCurveFigure, type PlotlyFigure,
} from '../src/charts/plotly';
import { histogram } from '../src/charts/histogram';
import { findChromium, PngRenderer, pngSize, saveCharts } from '../src/charts/render';
import { chartOutputMode, displayBundle, figureBundle, showFigure } from '../src/charts/show';
import { decodePng, darkPixels, rows, type Image } from './png-decode';
import { FIXTURES, NSMC_DIR, tempDir } from './helpers';

const fixture = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'evaluation.json'), 'utf8'));
const random = fixture.cases[0];
const probs: number[] = random.probs.map(Number);
const analysis = analyzePredictions(random.labels, probs, { lengths: random.lengths });
const exampleRows = random.labels.map((label: number, i: number) => ({ label, positive_prob: probs[i] }));
const curves: TrainingCurves = {
  file: 'metrics.jsonl',
  train: { step: [10, 20, 30, 40], epoch: [1, 1, 2, 2], loss: [0.69, 0.6, 0.5, 0.45], accuracy: [0.5, 0.62, 0.74, 0.8], lr: [1e-5, 2e-5, 1e-5, 0] },
  validation: { epoch: [1, 2], step: [20, 40], loss: [0.62, 0.55], accuracy: [0.66, 0.72], precision: [0.6, 0.7], recall: [0.7, 0.75], f1: [0.65, 0.72] },
};

/** Character lengths of every NSMC training review (150,000 real whole numbers, 0 to 158). */
let lengthsCache: number[] | undefined;
const nsmcLengths = (): number[] =>
  (lengthsCache ??= fs.readFileSync(path.join(NSMC_DIR, 'ratings_train.txt'), 'utf8').split('\n').slice(1).filter(Boolean).map((l) => [...l.split('\t')[1]].length));

/** A warmup + linear decay learning-rate schedule, as notebook 6 draws it (tiny y values). */
const lrPoints = (total = 1000, warmup = 100): [number, number][] =>
  Array.from({ length: total + 1 }, (_, s) => [s, 5e-5 * (s < warmup ? s / warmup : (total - s) / (total - warmup))]);

const simple = (title?: string): PlotlyFigure => ({
  data: [{ type: 'scatter', mode: 'lines', x: [0, 1, 2], y: [1, 3, 2], line: { color: '#4c78a8' } }],
  layout: { ...(title ? { title: { text: title, x: 0.5, xanchor: 'center' } } : {}), font: { family: FONT_FAMILY, size: 22 }, margin: { t: 80 }, paper_bgcolor: 'white' },
});

describe('figures', () => {
  test('every chart of step 8, with Korean titles and a font list that starts with NanumGothic', () => {
    const figures = evaluationFigures({ ...analysis, rows: exampleRows }, curves);
    assert.deepEqual(Object.keys(figures), [
      'confusion-matrix', 'roc', 'precision-recall', 'reliability', 'probabilities', 'accuracy-by-length', 'training-loss', 'training-accuracy',
    ]);
    for (const [name, f] of Object.entries(figures)) {
      const layout = f.layout as { title: { text: string }; font: { family: string } };
      assert.match(layout.title.text, /[가-힣]/, `${name} has a Korean title`);
      assert.ok(layout.font.family.startsWith('NanumGothic'), name);
      assert.doesNotThrow(() => JSON.parse(JSON.stringify(f)));
      assert.ok(!JSON.stringify(f).includes('Infinity') && !JSON.stringify(f).includes('NaN'), `${name}: JSON-safe numbers`);
    }
    assert.equal(Object.keys(evaluationFigures(analysis)).length, 5, 'no rows, no training log: five charts');
  });

  test('figures carry the numbers: confusion cells, ROC points and AUC, training series', () => {
    const c = confusionMatrixFigure(analysis.confusion).data[0] as { z: number[][] };
    assert.deepEqual(c.z, [[random.confusion.tn, random.confusion.fp], [random.confusion.fn, random.confusion.tp]]);
    const roc = rocFigure(analysis.roc, analysis.auc);
    assert.deepEqual((roc.data[1] as { x: number[] }).x, analysis.roc.fpr);
    assert.equal((roc.data[1] as { customdata: (number | null)[] }).customdata[0], null, 'the threshold at infinity');
    assert.match((roc.layout.title as { text: string }).text, new RegExp(`AUC = ${random.auc.toFixed(4)}`));
    const loss = trainingCurveFigure(curves, 'loss');
    assert.deepEqual((loss.data[0] as { y: number[] }).y, curves.train.loss);
    assert.deepEqual((loss.data[1] as { x: number[] }).x, curves.validation.step);
  });
});

describe('histogram and line figures (the plotly replacements of the SVG charts)', () => {
  test('histogramFigure: bars are histogram()\'s counts of the real values, and only the counts travel', () => {
    const lengths = nsmcLengths();
    assert.equal(lengths.length, 150_000);
    const f = histogramFigure(lengths, { bins: 30, title: 'NSMC 학습 데이터: 리뷰 길이 분포', xLabel: '리뷰 길이 (글자 수)' });
    const { edges, counts } = histogram(lengths, 30);
    const bar = f.data[0] as { type: string; x: number[]; y: number[]; width: number };
    assert.equal(bar.type, 'bar');
    assert.deepEqual(bar.y, counts);
    assert.deepEqual(bar.x, counts.map((_, i) => (edges[i] + edges[i + 1]) / 2));
    assert.equal(bar.width, edges[1] - edges[0]);
    assert.equal(bar.y.reduce((a, b) => a + b, 0), 150_000, 'every review in some bar');
    // 150,000 values become a few kB of JSON: the notebook gets bar heights, not the data.
    const json = JSON.stringify(f);
    assert.ok(json.length < 5_000, `${json.length} characters of figure JSON`);
    const layout = f.layout as { title: { text: string }; font: { family: string }; xaxis: { title: { text: string } }; yaxis: { title: { text: string } } };
    assert.equal(layout.title.text, 'NSMC 학습 데이터: 리뷰 길이 분포');
    assert.ok(layout.font.family.startsWith('NanumGothic'));
    assert.equal(layout.xaxis.title.text, '리뷰 길이 (글자 수)');
    assert.equal(layout.yaxis.title.text, '개수', 'the SVG histogram\'s default y label');
    // Whole-number bins: the hover names the lengths a bar holds.
    assert.equal((f.data[0] as { customdata: string[] }).customdata[0], `${edges[0]}–${edges[1] - 1}`);
  });

  test('histogramFigure with a range and fractional values: model probabilities in 20 bins over [0, 1]', () => {
    const f = histogramFigure(probs, { bins: 20, range: [0, 1], xLabel: '긍정 확률', yLabel: '문장 수' });
    assert.deepEqual((f.data[0] as { y: number[] }).y, histogram(probs, 20, [0, 1]).counts);
    assert.equal((f.data[0] as { y: number[] }).y.reduce((a, b) => a + b, 0), probs.length);
    assert.deepEqual((f.layout.xaxis as { range: number[] }).range, [0, 1]);
    assert.equal((f.data[0] as { customdata: string[] }).customdata[1], '0.05–0.1');
  });

  test('lineFigure keeps series names, points and dots; legend only for several series; yFromZero', () => {
    const train: [number, number][] = curves.train.step.map((s, i) => [s, curves.train.loss[i]]);
    const validation: [number, number][] = curves.validation.step.map((s, i) => [s, curves.validation.loss[i]]);
    const f = lineFigure([{ name: '학습 손실', points: train }, { name: '검증 손실', points: validation, dots: true }], { title: '손실', xLabel: '옵티마이저 스텝', yLabel: '손실' });
    const traces = f.data as { name: string; x: number[]; y: number[]; mode: string }[];
    assert.deepEqual(traces.map((t) => t.name), ['학습 손실', '검증 손실']);
    assert.deepEqual(traces[0].x, curves.train.step);
    assert.deepEqual(traces[0].y, curves.train.loss);
    assert.deepEqual(traces[1].x.map((x, i) => [x, traces[1].y[i]]), validation);
    assert.deepEqual(traces.map((t) => t.mode), ['lines', 'lines+markers']);
    assert.equal(f.layout.showlegend, true);
    assert.equal((f.layout.yaxis as { rangemode?: string }).rangemode, undefined, 'fitted to the values unless yFromZero');
    assert.ok((f.layout.font as { family: string }).family.startsWith('NanumGothic'));

    const lr = lineFigure([{ name: 'lr', points: lrPoints() }], { title: '웜업 + 선형 감소 학습률', xLabel: '옵티마이저 스텝', yLabel: '학습률', yFromZero: true });
    assert.equal(lr.layout.showlegend, false);
    const yaxis = lr.layout.yaxis as { rangemode: string; exponentformat: string; title: { text: string } };
    assert.equal(yaxis.rangemode, 'tozero');
    assert.equal(yaxis.exponentformat, 'e', 'a learning rate reads 5e-5, not plotly\'s SI "50µ"');
    assert.equal(yaxis.title.text, '학습률');
    assert.equal((lr.data[0] as { y: number[] }).y[100], 5e-5);
  });
});

describe('PNG rendering with the system chromium', () => {
  let renderer: PngRenderer;
  before(() => {
    const found = findChromium();
    assert.ok('path' in found, `these tests need chromium: ${'skipped' in found ? found.skipped : ''}`);
    renderer = new PngRenderer();
  });
  after(() => renderer.close());

  test('a real PNG of the requested size', async () => {
    const r = await renderer.render(simple('크기'), { width: 400, height: 300 });
    assert.ok('png' in r, 'skipped' in r ? r.skipped : '');
    assert.deepEqual([...r.png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.deepEqual(pngSize(r.png), { width: 400, height: 300 });
    assert.deepEqual([r.width, r.height], [400, 300]);
    const big = await renderer.render(simple(), { width: 200, height: 100, scale: 2 });
    assert.ok('png' in big);
    assert.deepEqual(pngSize(big.png), { width: 400, height: 200 });
  });

  test('Korean titles render as glyphs: two different titles differ in the title area, no title leaves it blank', async () => {
    const images = [];
    for (const title of ['가나다라마바사', '아자차카타파하', undefined]) {
      const r = await renderer.render(simple(title), { width: 500, height: 300 });
      assert.ok('png' in r);
      images.push(decodePng(r.png));
    }
    const [first, second, none] = images;
    const titleArea = [10, 60] as const;
    assert.equal(darkPixels(none, ...titleArea), 0, 'nothing drawn where the title would be');
    assert.ok(darkPixels(first, ...titleArea) > 150, `title pixels: ${darkPixels(first, ...titleArea)}`);
    // Missing glyphs would be drawn as the same empty box for every syllable: equal pixels.
    assert.notDeepEqual(rows(first, ...titleArea), rows(second, ...titleArea));
    assert.deepEqual(rows(first, 100, 290), rows(none, 100, 290), 'the plot below the title is the same');
  });

  test('saveCharts: a JSON and a PNG for every figure', async () => {
    const out = tempDir();
    const saved = await saveCharts(evaluationFigures({ ...analysis, rows: exampleRows }, curves), out, { renderer });
    assert.equal(saved.skipped, null);
    assert.equal(saved.charts.length, 8);
    for (const png of saved.charts) {
      assert.deepEqual(pngSize(fs.readFileSync(png)), { width: 720, height: 480 }, png);
      const figure = JSON.parse(fs.readFileSync(png.replace(/\.png$/, '.json'), 'utf8'));
      assert.ok(Array.isArray(figure.data) && figure.layout.title.text, png);
    }
  });

  test('chromium gone mid-session (killed, computer asleep): the next render starts a new one', async () => {
    // What a crash looks like from here: the browser behind the renderer is no longer connected.
    const started = await (renderer as unknown as { started: Promise<{ browser: { close(): Promise<void> } }> }).started;
    await started.browser.close();
    const r = await renderer.render(simple('다시'), { width: 300, height: 200 });
    assert.ok('png' in r && pngSize(r.png).width === 300);
  });

  test('a size chromium cannot draw: a one-line error before any drawing', async () => {
    await assert.rejects(renderer.render(simple(), { width: -5 }), (e: Error) => e instanceof NlpbookError && e.message === 'PNG width must be a whole number of pixels from 1 to 10000, got -5');
    await assert.rejects(renderer.render(simple(), { height: 1.5 }), /PNG height must be a whole number/);
    await assert.rejects(renderer.render(simple(), { scale: 0 }), /PNG scale must be above 0/);
  });
});

describe('without chromium', () => {
  test('the PNG step says why it was skipped, and nothing throws', async () => {
    const missing = path.join(tempDir(), 'no-chromium');
    const r = await new PngRenderer({ executablePath: missing }).render(simple('제목'));
    assert.deepEqual(r, { skipped: `PNG skipped: no chromium at ${missing} (executablePath); apt-get install chromium fonts-nanum` });
    const fromEnv = findChromium({ env: { NLPBOOK_CHROMIUM: missing, PATH: process.env.PATH } });
    assert.ok('skipped' in fromEnv && fromEnv.skipped.includes('(NLPBOOK_CHROMIUM)'));
    const out = tempDir();
    const saved = await saveCharts({ roc: rocFigure(analysis.roc, analysis.auc) }, out, { executablePath: missing });
    assert.deepEqual(saved.charts, []);
    assert.equal(saved.figures.length, 1);
    assert.match(saved.skipped ?? '', /^PNG skipped: no chromium at /);
    assert.ok(fs.existsSync(path.join(out, 'roc.json')) && !fs.existsSync(path.join(out, 'roc.png')));
  });
});

const chromium = findChromium();
const noChromium = 'skipped' in chromium ? chromium.skipped : false;

/** Pixels of the histogram's bar colour (#4c78a8) in column x. */
function barPixels(image: Image, x: number): number {
  let n = 0;
  for (let y = 0; y < image.height; y++) {
    const i = (y * image.width + x) * image.channels;
    if (Math.abs(image.pixels[i] - 0x4c) < 12 && Math.abs(image.pixels[i + 1] - 0x78) < 12 && Math.abs(image.pixels[i + 2] - 0xa8) < 12) n++;
  }
  return n;
}

describe('PNGs of the histogram and line figures', { skip: noChromium }, () => {
  let renderer: PngRenderer;
  before(() => { renderer = new PngRenderer(); });
  after(() => renderer?.close());

  test('the NSMC length histogram: bar heights in the PNG follow the counts, and the file stays small', async () => {
    const lengths = nsmcLengths();
    const f = histogramFigure(lengths, { bins: 30, title: 'NSMC 학습 데이터: 리뷰 길이 분포', xLabel: '리뷰 길이 (글자 수)' });
    const r = await renderer.render(f);
    assert.ok('png' in r, 'skipped' in r ? r.skipped : '');
    assert.deepEqual(pngSize(r.png), { width: 720, height: 480 });
    assert.ok(r.png.length < 150_000, `${r.png.length} bytes`);
    // Plot area: 720 px less the 80 + 30 px margins, x range = the bin edges.
    const { edges, counts } = histogram(lengths, 30);
    const image = decodePng(r.png);
    const column = (v: number) => Math.round(80 + ((v - edges[0]) / (edges[edges.length - 1] - edges[0])) * 610);
    const heights = counts.map((_, i) => barPixels(image, column((edges[i] + edges[i + 1]) / 2)));
    const top = Math.max(...counts);
    const tallest = heights[counts.indexOf(top)];
    assert.ok(tallest > 250, `tallest bar ${tallest} px`);
    counts.forEach((c, i) => assert.ok(Math.abs(heights[i] - (tallest * c) / top) <= 3, `bin ${i}: ${heights[i]} px for ${c} (tallest ${tallest} px for ${top})`));
  });

  test('a learning-rate line chart renders under 150 kB too', async () => {
    const figure = lineFigure([{ name: 'lr', points: lrPoints() }], { title: '웜업 + 선형 감소 학습률', xLabel: '옵티마이저 스텝', yLabel: '학습률', yFromZero: true });
    const r = await renderer.render(figure);
    assert.ok('png' in r, 'skipped' in r ? r.skipped : '');
    assert.deepEqual(pngSize(r.png), { width: 720, height: 480 });
    assert.ok(r.png.length < 150_000, `${r.png.length} bytes`);
    // In a committed notebook the output is the base64 PNG (4/3 of its bytes) and the title.
    const bundle = JSON.stringify(figureBundle(figure, { png: r.png, mode: 'png' }));
    assert.ok(bundle.length < 200_000, `${bundle.length} characters`);
  });
});

describe('notebook display bundle', () => {
  test('NLPBOOK_CHARTS picks the output mode: unset or "interactive" the full bundle, "png" the PNG only, anything else an error', () => {
    assert.equal(chartOutputMode({}), 'interactive');
    assert.equal(chartOutputMode({ NLPBOOK_CHARTS: '' }), 'interactive');
    assert.equal(chartOutputMode({ NLPBOOK_CHARTS: 'interactive' }), 'interactive');
    assert.equal(chartOutputMode({ NLPBOOK_CHARTS: 'png' }), 'png');
    assert.equal(chartOutputMode({ NLPBOOK_CHARTS: ' PNG ' }), 'png');
    assert.throws(() => chartOutputMode({ NLPBOOK_CHARTS: 'pgn' }), (e: Error) => e instanceof NlpbookError && e.message === 'NLPBOOK_CHARTS must be "png" or "interactive" (or unset), got "pgn"');
  });

  test('PNG mode: exactly image/png and text/plain (no plotly JSON, HTML or plotly.js); without a PNG, the title only', () => {
    const figure = histogramFigure(probs, { bins: 20, range: [0, 1], title: '긍정 확률' });
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
    const bundle = figureBundle(figure, { png, mode: 'png', includePlotly: true });
    assert.deepEqual(Object.keys(bundle).sort(), ['image/png', 'text/plain']);
    assert.equal(bundle['image/png'], png.toString('base64'));
    assert.equal(bundle['text/plain'], '<plotly figure: 긍정 확률>');
    assert.deepEqual(figureBundle(figure, { mode: 'png' }), { 'text/plain': '<plotly figure: 긍정 확률>' });
    // The mode comes from the environment when not given.
    const saved = process.env.NLPBOOK_CHARTS;
    process.env.NLPBOOK_CHARTS = 'png';
    try {
      assert.deepEqual(Object.keys(figureBundle(figure, { png })).sort(), ['image/png', 'text/plain']);
    } finally {
      if (saved === undefined) delete process.env.NLPBOOK_CHARTS;
      else process.env.NLPBOOK_CHARTS = saved;
    }
  });

  test('showFigure in PNG mode without chromium: the skip note and a text/plain-only output', async () => {
    // What the tslab kernel does at start-up: it sets the function displayBundle sends through.
    const jupyter = require('tslab/dist/jupyter') as { lastWriteDisplayData: unknown };
    const shown: { data: Record<string, unknown> }[] = [];
    const logged: string[] = [];
    const log = console.log;
    jupyter.lastWriteDisplayData = (display: { data: Record<string, unknown> }) => shown.push(display);
    console.log = (...args: unknown[]) => { logged.push(args.join(' ')); };
    const missing = path.join(tempDir(), 'no-chromium');
    try {
      await showFigure(lineFigure([{ name: 'lr', points: lrPoints(10, 2) }], { title: '학습률' }), { mode: 'png', renderer: new PngRenderer({ executablePath: missing }) });
    } finally {
      jupyter.lastWriteDisplayData = null;
      console.log = log;
    }
    assert.deepEqual(logged, [`PNG skipped: no chromium at ${missing} (executablePath); apt-get install chromium fonts-nanum`]);
    assert.deepEqual(shown.map((d) => d.data), [{ 'text/plain': '<plotly figure: 학습률>' }]);
  });

  test('one output with the plotly MIME type, HTML (plotly.js only when asked), the PNG and plain text', () => {
    const figure = rocFigure(analysis.roc, analysis.auc);
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
    // mode given: these tests hold whatever NLPBOOK_CHARTS the suite runs under.
    const light = figureBundle(figure, { png, mode: 'interactive' });
    assert.deepEqual(Object.keys(light).sort(), ['application/vnd.plotly.v1+json', 'image/png', 'text/html', 'text/plain']);
    assert.deepEqual((light['application/vnd.plotly.v1+json'] as PlotlyFigure).data, figure.data);
    assert.equal(light['image/png'], png.toString('base64'));
    const html = light['text/html'] as string;
    assert.ok(html.length < 100_000, `${html.length} characters without plotly.js`);
    assert.ok(html.includes('window.Plotly.newPlot') && html.includes(`data:image/png;base64,${png.toString('base64')}`));
    const heavy = figureBundle(figure, { includePlotly: true, mode: 'interactive' })['text/html'] as string;
    assert.ok(heavy.length > 4_000_000, 'the first chart carries plotly.js');
    assert.ok(!/<\/script/i.test(heavy.slice(heavy.indexOf('>') + 1, heavy.indexOf('</script>'))), 'plotly.js cannot end its own script tag');
    assert.ok(!('image/png' in figureBundle(figure, { mode: 'interactive' })), 'no PNG, no image/png');
  });

  test('outside a notebook kernel: a one-line error', () => {
    assert.throws(() => displayBundle({ 'text/plain': 'x' }), (e: Error) => e instanceof NlpbookError && /not running in a Jupyter notebook/.test(e.message));
  });
});
