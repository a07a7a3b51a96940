// Just enough HTML → Markdown for notebook outputs (tslab.display.html): the tables
// frameHtml makes, inline SVG charts, <b>/<i>/<br>/<p>/lists. The HTML goes through the
// allow-list sanitizer first (sanitize.ts): scripts, styles, handlers and everything else
// not on the list are dropped, never copied: a blog post must not run code from a
// notebook's output. What is left becomes Markdown text, its <, > and & as entities.
import { sanitizeHtml } from './sanitize';

/** True when the HTML holds a script (an interactive widget such as a plotly chart). */
export function hasScript(html: string): boolean {
  return /<script\b/i.test(html);
}

/** The outermost <svg> elements of well-formed (sanitized) `html`, in order, nested ones inside theirs. */
export function findSvgs(html: string): string[] {
  const found: string[] = [];
  const tags = /<(\/?)svg\b[^>]*?(\/?)>/gi;
  let depth = 0;
  let start = -1;
  let m: RegExpExecArray | null;
  while ((m = tags.exec(html))) {
    if (m[2]) {
      if (depth === 0) found.push(m[0]);
    } else if (!m[1]) {
      if (depth++ === 0) start = m.index;
    } else if (depth > 0 && --depth === 0) {
      found.push(html.slice(start, m.index + m[0].length));
    }
  }
  return found;
}

/** `html` with each outermost <svg> element replaced by what `replace` returns for it. */
function replaceSvgs(html: string, replace: (svg: string) => string): string {
  let out = '';
  let at = 0;
  for (const svg of findSvgs(html)) {
    const i = html.indexOf(svg, at);
    out += html.slice(at, i) + replace(svg);
    at = i + svg.length;
  }
  return out + html.slice(at);
}

/** Decodes the entities HTML text commonly holds. */
export function decodeEntities(text: string): string {
  const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', '#39': "'" };
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (all, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : all;
    }
    return named[name.toLowerCase()] ?? all;
  });
}

/**
 * Text for Markdown from HTML text: entities decoded, then <, > and & written as entities
 * again so nothing in the text can become a tag in the post.
 */
function markdownText(htmlText: string): string {
  return decodeEntities(htmlText).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Text inside an element: tags removed, whitespace collapsed. */
function innerText(html: string): string {
  return markdownText(html.replace(/<br\s*\/?>/gi, ' ').replace(/<[^>]*>/g, '')).replace(/\s+/g, ' ').trim();
}

/** A Markdown (GFM/kramdown) table from one <table> element. */
export function tableToMarkdown(table: string): string {
  const rows: string[][] = [];
  for (const tr of table.match(/<tr\b[\s\S]*?(<\/tr\s*>|(?=<tr\b)|$)/gi) ?? []) {
    const cells = tr.match(/<t[hd]\b[^>]*>[\s\S]*?(?=<\/t[hd]\s*>|<t[hd]\b|<\/tr|$)/gi) ?? [];
    rows.push(cells.map((c) => innerText(c.replace(/^<t[hd]\b[^>]*>/i, '')).replace(/\|/g, '\\|')));
  }
  if (rows.length === 0) return '';
  const width = Math.max(...rows.map((r) => r.length), 1);
  const line = (r: string[]) => `| ${Array.from({ length: width }, (_, i) => r[i] ?? '').join(' | ')} |`;
  return [line(rows[0]), `|${' --- |'.repeat(width)}`, ...rows.slice(1).map(line)].join('\n');
}

export interface HtmlParts {
  /** Markdown with the placeholder `\u0000SVG<n>\u0000` where the n-th SVG stood. */
  markdown: string;
  svgs: string[];
  /** `<img src="data:...">` images: MIME type and base64 payload, placeholder `\u0000IMG<n>\u0000`. */
  images: { mime: string; base64: string; alt: string }[];
  /** The HTML had a script (dropped). */
  hadScript: boolean;
}

/** Placeholder for the n-th SVG / inline image in HtmlParts.markdown. */
export const svgMark = (n: number) => `\u0000SVG${n}\u0000`;
export const imgMark = (n: number) => `\u0000IMG${n}\u0000`;

/** Converts an HTML output to Markdown; SVGs and data-URL images are left to the caller. */
export function htmlToMarkdown(html: string): HtmlParts {
  const hadScript = hasScript(html);
  const svgs: string[] = [];
  const images: HtmlParts['images'] = [];
  const blocks: string[] = [];
  // Block placeholders keep tables and SVGs out of the inline clean-up below.
  const block = (md: string) => `\u0001${blocks.push(md) - 1}\u0001`;
  let s = replaceSvgs(sanitizeHtml(html), (svg) => block(svgMark(svgs.push(svg) - 1)));
  s = s.replace(/<table\b[\s\S]*?(<\/table\s*>|$)/gi, (t) => block(tableToMarkdown(t)));
  s = s.replace(/<pre\b[^>]*>([\s\S]*?)(<\/pre\s*>|$)/gi, (_, body: string) => {
    const text = decodeEntities(body.replace(/<[^>]*>/g, ''));
    const fence = fenceFor(text);
    return block(`${fence}text\n${text.replace(/\n$/, '')}\n${fence}`);
  });
  s = s.replace(/<img\b[^>]*>/gi, (tag) => {
    const src = /\bsrc\s*=\s*("([^"]*)"|'([^']*)')/i.exec(tag);
    const url = src ? (src[2] ?? src[3]) : '';
    const alt = /\balt\s*=\s*("([^"]*)"|'([^']*)')/i.exec(tag);
    const data = /^data:(image\/(?:png|jpeg|gif|svg\+xml))(?:;[^,]*)?;base64,([\s\S]*)$/i.exec(url.trim());
    if (!data) return '';
    return block(imgMark(images.push({ mime: data[1].toLowerCase(), base64: data[2].replace(/\s+/g, ''), alt: alt ? innerText(alt[2] ?? alt[3]) : '' }) - 1));
  });
  s = s
    .replace(/\s*\n\s*/g, ' ')
    .replace(/<br\s*\/?>/gi, '  \n')
    .replace(/<h([1-6])\b[^>]*>([\s\S]*?)<\/h\1\s*>/gi, (_, n: string, body: string) => `\n\n${'#'.repeat(Number(n))} ${body}\n\n`)
    .replace(/<li\b[^>]*>/gi, '\n- ')
    .replace(/<\/?(p|div|ul|ol|section|article|header|footer|blockquote)\b[^>]*>/gi, '\n\n')
    .replace(/<\/?(b|strong)\b[^>]*>/gi, '**')
    .replace(/<\/?(i|em)\b[^>]*>/gi, '*')
    .replace(/<\/?code\b[^>]*>/gi, '`')
    .replace(/<[^>\u0001]*>/g, '');
  s = markdownText(s).replace(/\u00a0/g, ' ');
  const markdown = s
    .split('\n')
    .map((l) => l.replace(/^[ \t]+(?=\S)/, '').replace(/[ \t]+$/, (t) => (t === '  ' ? t : '')))
    .join('\n')
    .replace(/\s*\u0001(\d+)\u0001\s*/g, '\n\n\u0001$1\u0001\n\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()
    // Blocks go back last: a <pre>'s indentation and blank lines stay as they were.
    .replace(/\u0001(\d+)\u0001/g, (_, i: string) => blocks[Number(i)]);
  return { markdown, svgs, images, hadScript };
}

/** A backtick fence longer than any backtick run in `text` (at least three). */
export function fenceFor(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((r) => r.length));
  return '`'.repeat(Math.max(3, longest + 1));
}
