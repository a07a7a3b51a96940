// Showing a plotly figure in a notebook (tslab kernel). Each chart is ONE output holding
// several MIME types, and the frontend picks the richest it can show:
//
//   application/vnd.plotly.v1+json  the figure itself; JupyterLab / Notebook 7 with the
//                                   plotly extension and VS Code draw it natively.
//   text/html                       a div drawn by window.Plotly (plain JupyterLab, classic
//                                   Notebook, nbconvert's HTML export). plotly.js (4.8 MB) is
//                                   NOT in every output: only the first chart of a kernel
//                                   session carries it (like Python plotly's "notebook"
//                                   renderer); later charts reuse window.Plotly, which the page
//                                   keeps. The PNG is inside the div as a placeholder, so where
//                                   scripts don't run (GitHub's viewer) the picture still shows.
//   image/png                       when chromium rendered one (render.ts): exported posts.
//   text/plain                      the title, for consoles.
//
// Loading plotly.js from a URL instead would need internet (CDN) or knowing where the
// Jupyter server's root is; embedding it once works offline and in exported HTML. If
// the output that carried it was cleared, showFigure(fig, { includePlotly: true }) sends it again.
//
// PNG-only mode (NLPBOOK_CHARTS=png, read by chartOutputMode()): the bundle is just the
// image/png and the text/plain title. That is for notebooks committed with their outputs:
// GitHub shows only the PNG anyway, and neither the plotly JSON nor plotly.js should
// count against the notebook file's size.
//
// tslab's display API sends one MIME type per output, so the bundle goes through the
// function tslab itself uses (tslab/dist/jupyter's lastWriteDisplayData).
import * as fs from 'fs';
import { NlpbookError } from '../util/errors';
import { CHART_SIZE, figureTitle, type PlotlyFigure } from './plotly';
import { PngRenderer, type PngResult, type PngSize } from './render';

export type MimeBundle = Record<string, unknown>;

/** 'interactive': plotly JSON + HTML (+ PNG when rendered); 'png': the PNG and the title only. */
export type ChartOutputMode = 'interactive' | 'png';

/**
 * How showFigure shows charts, from the environment variable NLPBOOK_CHARTS: 'png' for
 * PNG-only outputs, unset (or 'interactive') for the interactive bundle. The one place
 * that reads it. Any other value throws, so a typo cannot quietly put plotly.js into a
 * notebook meant to be committed.
 */
export function chartOutputMode(env: NodeJS.ProcessEnv = process.env): ChartOutputMode {
  const value = (env.NLPBOOK_CHARTS ?? '').trim().toLowerCase();
  if (value === '' || value === 'interactive') return 'interactive';
  if (value === 'png') return 'png';
  throw new NlpbookError(`NLPBOOK_CHARTS must be "png" or "interactive" (or unset), got ${JSON.stringify(env.NLPBOOK_CHARTS)}`);
}

export interface BundleOptions {
  /** 'png' leaves out the plotly JSON and the HTML (default: chartOutputMode()). */
  mode?: ChartOutputMode;
  /** The chart's PNG, when there is one. */
  png?: Uint8Array;
  /** Put plotly.js itself into the text/html (the first chart of a session). */
  includePlotly?: boolean;
  /** Height of the interactive chart in CSS pixels (default 480). */
  height?: number;
}

let plotlySource: string | undefined;
let plotlySent = false;
let counter = 0;

/** Inside <script>: no "</script" and no U+2028/2029 can end or break it. */
function scriptSafe(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
}

/** The display bundle of one chart (see the top of this file). */
export function figureBundle(figure: PlotlyFigure, options: BundleOptions = {}): MimeBundle {
  const mode = options.mode ?? chartOutputMode();
  if (mode === 'png') {
    const bundle: MimeBundle = { 'text/plain': `<plotly figure: ${figureTitle(figure)}>` };
    if (options.png) bundle['image/png'] = Buffer.from(options.png).toString('base64');
    return bundle;
  }
  const id = `nlpbook-plot-${process.pid}-${Date.now().toString(36)}-${counter++}`;
  const title = figureTitle(figure);
  const height = options.height ?? CHART_SIZE.height;
  const pngBase64 = options.png ? Buffer.from(options.png).toString('base64') : undefined;
  const placeholder = pngBase64 ? `<img src="data:image/png;base64,${pngBase64}" alt="${escapeHtml(title)}" style="max-width:100%">` : '';
  const json = JSON.stringify({ data: figure.data, layout: figure.layout }).replace(/</g, '\\u003c');
  if (options.includePlotly) plotlySource ??= scriptSafe(fs.readFileSync(require.resolve('plotly.js-dist-min'), 'utf8'));
  const loader = options.includePlotly ? `<script type="text/javascript">${plotlySource}</script>\n` : '';
  const html = `${loader}<div id="${id}" style="width:100%;max-width:960px;min-height:${height}px">${placeholder}</div>
<script type="text/javascript">(function () {
  var el = document.getElementById(${JSON.stringify(id)});
  var fig = ${json};
  if (!el) return;
  if (!window.Plotly) {
    el.insertAdjacentHTML('beforeend', '<p style="color:#888">plotly.js is not loaded on this page: run the first chart cell again (or showFigure(fig, { includePlotly: true })).</p>');
    return;
  }
  el.innerHTML = '';
  el.style.height = ${JSON.stringify(`${height}px`)};
  window.Plotly.newPlot(el, fig.data, fig.layout, { responsive: true, displaylogo: false });
})();</script>`;
  const bundle: MimeBundle = {
    'application/vnd.plotly.v1+json': { data: figure.data, layout: figure.layout, config: { displaylogo: false } },
    'text/html': html,
    'text/plain': `<plotly figure: ${title}>`,
  };
  if (pngBase64) bundle['image/png'] = pngBase64;
  return bundle;
}

/** Sends a MIME bundle as one display output of the running tslab cell. */
export function displayBundle(bundle: MimeBundle): void {
  let jupyter: { lastWriteDisplayData?: (data: object, update: boolean) => void };
  try {
    jupyter = require('tslab/dist/jupyter');
  } catch {
    jupyter = {};
  }
  if (typeof jupyter.lastWriteDisplayData !== 'function') {
    throw new NlpbookError('showFigure: not running in a Jupyter notebook (tslab kernel); save the charts as files with saveCharts() instead');
  }
  jupyter.lastWriteDisplayData({ data: bundle, metadata: {}, transient: {} }, false);
}

export interface ShowOptions extends PngSize, BundleOptions {
  /** Render a PNG too (default true; it needs chromium). */
  pngImage?: boolean;
  /** The renderer to use (default: one shared by the notebook, closed by closeCharts()). */
  renderer?: PngRenderer;
}

let sharedRenderer: PngRenderer | undefined;

/**
 * Shows `figure` in the notebook: interactive, plus its PNG when chromium is there
 * (otherwise a one-line note says why the PNG was skipped). With NLPBOOK_CHARTS=png
 * (chartOutputMode()) only the PNG, or only the title when chromium is missing.
 * Returns nothing, so that `await showFigure(fig)` as a cell's last line prints nothing more.
 */
export async function showFigure(figure: PlotlyFigure, options: ShowOptions = {}): Promise<void> {
  const mode = options.mode ?? chartOutputMode();
  let result: PngResult | null = null;
  if (options.pngImage ?? true) {
    const renderer = options.renderer ?? (sharedRenderer ??= new PngRenderer());
    result = await renderer.render(figure, options);
    if ('skipped' in result) console.log(result.skipped);
  }
  // Only an output that really carries plotly.js counts as "sent" (not a PNG-only one).
  const includePlotly = mode === 'interactive' && (options.includePlotly ?? !plotlySent);
  displayBundle(figureBundle(figure, { ...options, mode, png: result && 'png' in result ? result.png : undefined, includePlotly }));
  if (includePlotly) plotlySent = true;
}

/** Closes the notebook's shared chromium (started by the first showFigure). */
export async function closeCharts(): Promise<void> {
  const r = sharedRenderer;
  sharedRenderer = undefined;
  await r?.close();
}
