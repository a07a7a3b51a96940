// PNGs of plotly figures, drawn by plotly.js itself in headless chromium (the system's
// Debian chromium through playwright-core; no browser download). The PNG is what GitHub,
// exported blog posts and `nlpbook report` show; the notebook shows the interactive chart
// as well. Without chromium nothing fails: render() says why the PNG was skipped.
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic, writeJsonAtomic } from '../util/fsutil';
import { check, NlpbookError } from '../util/errors';
import { CHART_SIZE, figureTitle, type PlotlyFigure } from './plotly';

export interface PngSize {
  /** CSS pixels (default 720 × 480). */
  width?: number;
  height?: number;
  /** Device pixels per CSS pixel (default 1; 2 for sharp images on high-density screens). */
  scale?: number;
}

/** A rendered PNG (width/height in image pixels), or why there is none. */
export type PngResult = { png: Buffer; width: number; height: number } | { skipped: string };

export interface RendererOptions {
  /** The chromium (or Chrome) executable; default: env NLPBOOK_CHROMIUM, CHROME_PATH, then chromium / chromium-browser / google-chrome on PATH. */
  executablePath?: string;
  env?: NodeJS.ProcessEnv;
}

const INSTALL = 'apt-get install chromium fonts-nanum';
const NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Where chromium is, or a one-line reason why PNGs will be skipped. */
export function findChromium(options: RendererOptions = {}): { path: string } | { skipped: string } {
  const env = options.env ?? process.env;
  const given: [string, string | undefined][] = [['executablePath', options.executablePath], ['NLPBOOK_CHROMIUM', env.NLPBOOK_CHROMIUM], ['CHROME_PATH', env.CHROME_PATH]];
  for (const [name, value] of given) {
    if (!value) continue;
    // A path someone set on purpose: say it is wrong rather than quietly using another browser.
    return isExecutable(value) ? { path: value } : { skipped: `PNG skipped: no chromium at ${value} (${name}); ${INSTALL}` };
  }
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    for (const name of NAMES) if (isExecutable(path.join(dir, name))) return { path: path.join(dir, name) };
  }
  if (isExecutable('/usr/bin/chromium')) return { path: '/usr/bin/chromium' };
  return { skipped: `PNG skipped: no chromium found (${INSTALL})` };
}

/** Width and height of a PNG from its IHDR chunk (throws on anything that is not a PNG). */
export function pngSize(png: Uint8Array): { width: number; height: number } {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (buf.length < 24 || signature.some((b, i) => buf[i] !== b) || buf.toString('latin1', 12, 16) !== 'IHDR') {
    throw new NlpbookError('not a PNG (no PNG signature and IHDR chunk)');
  }
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

// playwright-core's types, kept to what is used (loaded lazily: the CLI's other commands don't pay for it).
interface Page {
  setContent(html: string): Promise<void>;
  addScriptTag(options: { path: string }): Promise<unknown>;
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
}
interface Browser {
  newPage(): Promise<Page>;
  close(): Promise<void>;
  isConnected(): boolean;
}


/**
 * A headless Chromium (findChromium's), or { skipped } saying why not: no chromium,
 * playwright-core missing, or the browser did not start. The caller closes the browser.
 */
export async function launchChromium(options: RendererOptions = {}): Promise<{ browser: Browser } | { skipped: string }> {
  const found = findChromium(options);
  if ('skipped' in found) return found;
  let chromium: { launch(options: { executablePath: string; args?: string[] }): Promise<Browser> };
  try {
    // Loaded here: most commands never draw a chart.
    chromium = require('playwright-core').chromium;
  } catch {
    return { skipped: 'PNG skipped: playwright-core is not installed (npm install)' };
  }
  try {
    return { browser: await chromium.launch({ executablePath: found.path, args: ['--disable-gpu'] }) };
  } catch (e) {
    const first = String((e as Error).message).split('\n').find((l) => l.trim()) ?? 'unknown error';
    return { skipped: `PNG skipped: chromium at ${found.path} did not start: ${first.slice(0, 200)}` };
  }
}

/**
 * Renders figures to PNG in one headless chromium, started on the first render and
 * reused for the next ones (plotly.js is loaded into its page once). Call close() when
 * done; if chromium is missing or does not start, every render() returns the reason.
 */
export class PngRenderer {
  private started: Promise<{ browser: Browser; page: Page } | { skipped: string }> | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: RendererOptions = {}) {}

  /** Why PNGs are skipped, or null once chromium runs (starts it if needed). */
  async skipped(): Promise<string | null> {
    const s = await this.start();
    return 'skipped' in s ? s.skipped : null;
  }

  /** The figure as a PNG (plotly's toImage), or { skipped } without chromium. Throws only for a figure plotly.js rejects. */
  render(figure: PlotlyFigure, size: PngSize = {}): Promise<PngResult> {
    // One page, one figure at a time: queued so parallel calls don't interleave.
    const job = this.queue.then(() => this.renderNow(figure, size));
    this.queue = job.catch(() => undefined);
    return job;
  }

  /** Closes chromium (if started). The renderer can be used again afterwards: it starts a new one. */
  async close(): Promise<void> {
    const started = this.started;
    this.started = undefined;
    if (!started) return;
    const s = await started;
    if ('browser' in s) await s.browser.close();
  }

  private start(): Promise<{ browser: Browser; page: Page } | { skipped: string }> {
    this.started ??= this.launch();
    return this.started;
  }

  private async launch(): Promise<{ browser: Browser; page: Page } | { skipped: string }> {
    const launched = await launchChromium(this.options);
    if ('skipped' in launched) return launched;
    const browser = launched.browser;
    try {
      const page = await browser.newPage();
      await page.setContent('<!doctype html><html><head><meta charset="utf-8"></head><body></body></html>');
      await page.addScriptTag({ path: require.resolve('plotly.js-dist-min') });
      return { browser, page };
    } catch (e) {
      await browser.close().catch(() => undefined);
      return { skipped: `PNG skipped: plotly.js did not load in chromium: ${String((e as Error).message).split('\n')[0]}` };
    }
  }

  private async renderNow(figure: PlotlyFigure, size: PngSize, retry = true): Promise<PngResult> {
    const width = size.width ?? CHART_SIZE.width;
    const height = size.height ?? CHART_SIZE.height;
    const scale = size.scale ?? 1;
    for (const [name, v] of [['width', width], ['height', height]] as const) {
      check(Number.isInteger(v) && v > 0 && v <= 10000, `PNG ${name} must be a whole number of pixels from 1 to 10000, got ${v}`);
    }
    check(scale > 0 && scale <= 8, `PNG scale must be above 0 and at most 8, got ${scale}`);
    const s = await this.start();
    if ('skipped' in s) return s;
    let url: string;
    try {
      url = await s.page.evaluate(
        ({ figure, width, height, scale }) =>
          (globalThis as any).Plotly.toImage({ data: figure.data, layout: figure.layout }, { format: 'png', width, height, scale }) as Promise<string>,
        { figure, width, height, scale },
      );
    } catch (e) {
      if (!s.browser.isConnected() && retry) {
        // Chromium went away (killed, or the computer slept in a long notebook session): start a new one once.
        this.started = undefined;
        return this.renderNow(figure, size, false);
      }
      throw new NlpbookError(`PNG of "${figureTitle(figure)}": plotly.js refused the figure: ${String((e as Error).message).split('\n')[0]}`);
    }
    const png = Buffer.from(url.slice(url.indexOf(',') + 1), 'base64');
    return { png, ...pngSize(png) };
  }
}

/** What saveCharts wrote. */
export interface SavedCharts {
  /** <out>/<name>.png of each rendered chart. */
  charts: string[];
  /** <out>/<name>.json of every figure (plotly JSON: Plotly.newPlot(div, fig.data, fig.layout)). */
  figures: string[];
  /** Why there are no PNGs (no chromium), else null. */
  skipped: string | null;
}

/** Writes each figure as <out>/<name>.json and, with chromium, <out>/<name>.png (one browser for all). */
export async function saveCharts(figures: Record<string, PlotlyFigure>, outDir: string, options: RendererOptions & PngSize & { renderer?: PngRenderer } = {}): Promise<SavedCharts> {
  fs.mkdirSync(outDir, { recursive: true });
  const renderer = options.renderer ?? new PngRenderer(options);
  const saved: SavedCharts = { charts: [], figures: [], skipped: null };
  try {
    for (const [name, figure] of Object.entries(figures)) {
      const json = path.join(outDir, `${name}.json`);
      writeJsonAtomic(json, figure);
      saved.figures.push(json);
      const r = await renderer.render(figure, options);
      if ('skipped' in r) {
        saved.skipped = r.skipped;
        continue;
      }
      const png = path.join(outDir, `${name}.png`);
      writeFileAtomic(png, r.png);
      saved.charts.push(png);
    }
  } finally {
    if (!options.renderer) await renderer.close();
  }
  return saved;
}
