// SVG charts → PNG files for the blog export, drawn by a headless Chromium (playwright-core
// drives the system's browser; Korean labels need a Korean font such as fonts-nanum).
// Which Chromium: the same rule as the notebooks' plotly PNGs (src/charts/render.ts).
//
// An SVG from a notebook is untrusted (post.ts has sanitized it already; this is the second
// wall): the browser context has JavaScript off and no network (offline, and every request
// aborted), and each SVG is shown as an <img> from a data: URL, never as a page: an SVG
// image runs no script and loads nothing, in any browser.
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
    const context = await browser.newContext({ javaScriptEnabled: false, offline: true, deviceScaleFactor: options.scale ?? 1, serviceWorkers: 'block' });
    // Nothing is fetched: the page comes from setContent and the image from a data: URL.
    await context.route('**/*', (route) => route.abort('blockedbyclient'));
    const page = await context.newPage();
    const pngs: Uint8Array[] = [];
    for (const [i, svg] of svgs.entries()) {
      const src = `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`;
      // The image alone in the body, no margin: the element's screenshot is the chart.
      await page.setContent(`<!doctype html><html><head><meta charset="utf-8"><style>body{margin:0;background:white}img{display:block}</style></head><body><img src="${src}" alt=""></body></html>`);
      const image = await page.$('img');
      const box = await image?.boundingBox();
      // A broken image (not an SVG the browser can draw) has no size of its own.
      if (!image || !box || box.width < 1 || box.height < 1) throw new Error(`svgToPng: SVG ${i + 1} could not be drawn (not a valid SVG document?)`);
      pngs.push(new Uint8Array(await image.screenshot({ type: 'png' })));
    }
    return pngs;
  } finally {
    await browser.close();
  }
}
