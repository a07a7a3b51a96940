// SVG charts → PNG files for the blog export, drawn by a headless Chromium (playwright-core
// drives the system's browser; Korean labels need a Korean font such as fonts-nanum).
// Which Chromium: the same rule as the notebooks' plotly PNGs (src/charts/render.ts).
import { launchChromium } from '../charts/render';

export interface SvgToPngOptions {
  /** Chromium executable (default: findChromium's: NLPBOOK_CHROMIUM, CHROME_PATH, PATH, /usr/bin/chromium). */
  executablePath?: string;
  /** Device pixels per SVG pixel (default 1: the PNG has the SVG's size). */
  scale?: number;
}

/**
 * Renders each SVG document to PNG bytes at the SVG's own size, with one browser start;
 * { skipped } says why not when there is no Chromium or it does not start.
 */
export async function svgToPng(svgs: string[], options: SvgToPngOptions = {}): Promise<Uint8Array[] | { skipped: string }> {
  if (svgs.length === 0) return [];
  const launched = await launchChromium({ executablePath: options.executablePath });
  if ('skipped' in launched) return launched;
  // render.ts types only what it calls; this module uses more of playwright's Browser.
  const browser = launched.browser as unknown as import('playwright-core').Browser;
  try {
    const page = await browser.newPage({ deviceScaleFactor: options.scale ?? 1 });
    const pngs: Uint8Array[] = [];
    for (const svg of svgs) {
      // The SVG alone in the body, no margin: the element's screenshot is the chart.
      await page.setContent(`<!doctype html><html><head><meta charset="utf-8"><style>body{margin:0;background:white}svg{display:block}</style></head><body>${svg}</body></html>`);
      const element = await page.$('svg');
      if (!element) throw new Error('svgToPng: an SVG document without an <svg> element');
      pngs.push(new Uint8Array(await element.screenshot({ type: 'png' })));
    }
    return pngs;
  } finally {
    await browser.close();
  }
}
