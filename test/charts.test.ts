// The step-8 charts: plotly figures built from real numbers, PNGs drawn by the system's
// chromium (real PNG, requested size, Korean glyphs rather than empty boxes), the skip
// reason without chromium, and the notebook display bundle.
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { analyzePredictions } from '../src/evaluation';
import { NlpbookError } from '../src/errors';
import {
  confusionMatrixFigure, evaluationFigures, FONT_FAMILY, rocFigure, trainingCurveFigure, type PlotlyFigure,
} from '../src/charts/plotly';
import { findChromium, PngRenderer, pngSize, saveCharts } from '../src/charts/render';
import { displayBundle, figureBundle } from '../src/charts/show';
import type { TrainingCurves } from '../src/training-curves';
import { decodePng, darkPixels, rows } from './png-decode';
import { FIXTURES, tempDir } from './helpers';

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

describe('notebook display bundle', () => {
  test('one output with the plotly MIME type, HTML (plotly.js only when asked), the PNG and plain text', () => {
    const figure = rocFigure(analysis.roc, analysis.auc);
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
    const light = figureBundle(figure, { png });
    assert.deepEqual(Object.keys(light).sort(), ['application/vnd.plotly.v1+json', 'image/png', 'text/html', 'text/plain']);
    assert.deepEqual((light['application/vnd.plotly.v1+json'] as PlotlyFigure).data, figure.data);
    assert.equal(light['image/png'], png.toString('base64'));
    const html = light['text/html'] as string;
    assert.ok(html.length < 100_000, `${html.length} characters without plotly.js`);
    assert.ok(html.includes('window.Plotly.newPlot') && html.includes(`data:image/png;base64,${png.toString('base64')}`));
    const heavy = figureBundle(figure, { includePlotly: true })['text/html'] as string;
    assert.ok(heavy.length > 4_000_000, 'the first chart carries plotly.js');
    assert.ok(!/<\/script/i.test(heavy.slice(heavy.indexOf('>') + 1, heavy.indexOf('</script>'))), 'plotly.js cannot end its own script tag');
    assert.ok(!('image/png' in figureBundle(figure)), 'no PNG, no image/png');
  });

  test('outside a notebook kernel: a one-line error', () => {
    assert.throws(() => displayBundle({ 'text/plain': 'x' }), (e: Error) => e instanceof NlpbookError && /not running in a Jupyter notebook/.test(e.message));
  });
});
