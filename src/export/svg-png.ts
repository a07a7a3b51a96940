// SVG charts → PNG files for the blog export, drawn by a headless Chromium (playwright-core
// drives the system's browser; Korean labels need a Korean font such as fonts-nanum).
import * as fs from 'fs';
import { NlpbookError } from '../errors';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/** The Chromium to use: $NLPBOOK_CHROMIUM, else the first system browser found; undefined when none. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const chosen = env.NLPBOOK_CHROMIUM;
  if (chosen) {
    if (!fs.existsSync(chosen)) throw new NlpbookError(`NLPBOOK_CHROMIUM: ${chosen} does not exist`);
    return chosen;
  }
  return CANDIDATES.find((p) => fs.existsSync(p));
}

export interface SvgToPngOptions {
  /** Chromium executable (default: findChromium()). */
  executablePath?: string;
  /** Device pixels per SVG pixel (default 1: the PNG has the SVG's size). */
  scale?: number;
}

/** Renders each SVG document to PNG bytes at the SVG's own size, with one browser start. */
export async function svgToPng(svgs: string[], options: SvgToPngOptions = {}): Promise<Uint8Array[]> {
  if (svgs.length === 0) return [];
  const executablePath = options.executablePath ?? findChromium();
  if (!executablePath) throw new NlpbookError('no Chromium found to draw PNG charts (install chromium or set NLPBOOK_CHROMIUM)');
  // Loaded here: most commands never draw a chart.
  const { chromium } = require('playwright-core') as typeof import('playwright-core');
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage({ deviceScaleFactor: options.scale ?? 1 });
    const pngs: Uint8Array[] = [];
    for (const svg of svgs) {
      // The SVG alone in the body, no margin: the element's screenshot is the chart.
      await page.setContent(`<!doctype html><html><head><meta charset="utf-8"><style>body{margin:0;background:white}svg{display:block}</style></head><body>${svg}</body></html>`);
      const element = await page.$('svg');
      if (!element) throw new NlpbookError('svgToPng: the page has no <svg> element');
      pngs.push(new Uint8Array(await element.screenshot({ type: 'png', omitBackground: false })));
    }
    return pngs;
  } finally {
    await browser.close();
  }
}
