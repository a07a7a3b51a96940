// What `nlpbook export-post` lets through into a blog post, by allow-list (sanitize-html):
//   - sanitizeHtml: HTML of a notebook's outputs (tables, <pre>, data-URL images, inline
//     SVG charts) before it is turned into Markdown;
//   - sanitizeMarkdown: a markdown cell (or a text/markdown output) for Jekyll's kramdown
//     with GFM input: its inline HTML through the allow-list, its text and code kept as
//     written, and the Markdown that could still make live content neutralized;
//   - sanitizeSvg: an SVG chart file (also what Chromium draws into a PNG).
// No element, attribute or URL scheme outside the lists below reaches the post.
import { splitCode } from './markdown';

/** The part of sanitize-html's options used here (its own types are not installed). */
interface SanitizeOptions {
  allowedTags: string[];
  allowedAttributes: Record<string, string[]>;
  allowedSchemes: string[];
  allowedSchemesByTag?: Record<string, string[]>;
  allowedSchemesAppliedToAttributes?: string[];
  allowProtocolRelative?: boolean;
  allowedStyles?: Record<string, Record<string, RegExp[]>>;
  nonTextTags?: string[];
  selfClosing?: string[];
  disallowedTagsMode?: 'discard';
  transformTags?: Record<string, (tagName: string, attribs: Record<string, string>) => { tagName: string; attribs: Record<string, string> }>;
  parser?: { recognizeSelfClosing?: boolean };
}
// eslint-disable-next-line @typescript-eslint/no-var-requires
const sanitizeLib: (html: string, options: SanitizeOptions) => string = require('sanitize-html');

// --- the allow-lists --------------------------------------------------------------------

/** Link schemes a post may hold (plus relative links and #anchors). */
const SAFE_SCHEMES = ['http', 'https', 'mailto'];
/** Images inline as data: URLs: raster formats only. */
const DATA_IMAGE = /^data:image\/(png|jpeg|gif|webp)[;,]/i;

/** Elements a markdown cell may write as HTML (what kramdown passes through). */
const MARKDOWN_TAGS = [
  'a', 'abbr', 'b', 'big', 'blockquote', 'br', 'caption', 'center', 'cite', 'code', 'col', 'colgroup', 'dd', 'del', 'details', 'dfn',
  'div', 'dl', 'dt', 'em', 'figcaption', 'figure', 'font', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'i', 'img', 'ins', 'kbd', 'li',
  'mark', 'ol', 'p', 'pre', 'q', 'rp', 'rt', 'ruby', 's', 'samp', 'small', 'span', 'strike', 'strong', 'sub', 'summary', 'sup',
  'table', 'tbody', 'td', 'tfoot', 'th', 'thead', 'tr', 'tt', 'u', 'ul', 'var', 'wbr',
];
const MARKDOWN_ATTRIBUTES: Record<string, string[]> = {
  '*': ['title', 'class', 'style', 'align', 'lang', 'dir'],
  a: ['href'],
  img: ['src', 'alt', 'width', 'height'],
  font: ['color', 'size', 'face'],
  ol: ['start', 'type', 'reversed'],
  ul: ['type'],
  li: ['value'],
  td: ['colspan', 'rowspan', 'width', 'valign'],
  th: ['colspan', 'rowspan', 'width', 'valign', 'scope'],
  col: ['span', 'width'],
  colgroup: ['span', 'width'],
  table: ['width', 'border', 'cellpadding', 'cellspacing'],
  details: ['open'],
  q: ['cite'],
  blockquote: ['cite'],
};

/** A CSS value without url(), image(), expression() or escapes: colours, lengths, keywords. */
const CSS_VALUE = [/^(?![\s\S]*(url|image|image-set|expression|element|paint|env|attr)\s*\()(?![\s\S]*[\\@<>{};])[^:]*$/i];
const MARKDOWN_STYLES: Record<string, Record<string, RegExp[]>> = {
  '*': Object.fromEntries(
    ['color', 'background-color', 'text-align', 'vertical-align', 'font-size', 'font-weight', 'font-style', 'font-family', 'text-decoration',
      'width', 'max-width', 'height', 'margin', 'margin-left', 'margin-right', 'padding', 'border', 'border-collapse', 'white-space'].map((p) => [p, CSS_VALUE]),
  ),
};

/** SVG elements of charts (ours, plotly's and matplotlib's), with their camelCase names. */
const SVG_TAGS = [
  'svg', 'g', 'defs', 'title', 'desc', 'symbol', 'use', 'rect', 'circle', 'ellipse', 'line', 'polyline', 'polygon', 'path', 'text',
  'tspan', 'textPath', 'linearGradient', 'radialGradient', 'stop', 'clipPath', 'mask', 'pattern', 'marker', 'image',
];
const SVG_ATTRIBUTES = [
  'id', 'class', 'style', 'transform', 'x', 'y', 'x1', 'x2', 'y1', 'y2', 'cx', 'cy', 'r', 'rx', 'ry', 'fx', 'fy', 'fr', 'width', 'height',
  'd', 'points', 'dx', 'dy', 'rotate', 'textLength', 'lengthAdjust', 'viewBox', 'preserveAspectRatio', 'xmlns', 'xmlns:xlink', 'version',
  'fill', 'fill-opacity', 'fill-rule', 'stroke', 'stroke-width', 'stroke-opacity', 'stroke-dasharray', 'stroke-dashoffset', 'stroke-linecap',
  'stroke-linejoin', 'stroke-miterlimit', 'opacity', 'clip-path', 'clip-rule', 'mask', 'marker-start', 'marker-mid', 'marker-end',
  'font-family', 'font-size', 'font-weight', 'font-style', 'font-variant', 'text-anchor', 'dominant-baseline', 'alignment-baseline',
  'baseline-shift', 'letter-spacing', 'word-spacing', 'text-decoration', 'writing-mode', 'visibility', 'display', 'color', 'paint-order',
  'shape-rendering', 'text-rendering', 'vector-effect', 'offset', 'stop-color', 'stop-opacity', 'gradientUnits', 'gradientTransform',
  'spreadMethod', 'patternUnits', 'patternContentUnits', 'patternTransform', 'clipPathUnits', 'maskUnits', 'maskContentUnits',
  'markerWidth', 'markerHeight', 'markerUnits', 'refX', 'refY', 'orient', 'startOffset', 'href', 'xlink:href', 'data-*',
];
/** CSS properties an SVG chart's style="" may set: its presentation attributes, and white-space (plotly). */
const SVG_STYLES: Record<string, Record<string, RegExp[]>> = {
  '*': Object.fromEntries(
    [...SVG_ATTRIBUTES.filter((a) => /^[a-z]+(-[a-z]+)+$|^(fill|stroke|opacity|mask|display|visibility|color)$/.test(a)), 'white-space', 'pointer-events', 'cursor'].map((p) => [
      p,
      [...CSS_VALUE, /^\s*url\(\s*(["']?)#[\w.:-]+\1\s*\)\s*$/i],
    ]),
  ),
};

/** HTML a notebook output may hold before it becomes Markdown (html.ts's htmlToMarkdown). */
const OUTPUT_TAGS = [...new Set([...MARKDOWN_TAGS, ...SVG_TAGS])];

/**
 * Elements dropped with what is in them: the raw-text ones (a browser shows their content as
 * text or runs it, never as the page: unclosed, they take the rest of the cell with them, in a
 * browser too) and those whose content is not for the page. Any other element not on the list
 * is dropped and its content kept.
 */
const DROP_WITH_CONTENT = ['script', 'style', 'textarea', 'option', 'xmp', 'noscript', 'noembed', 'noframes', 'iframe', 'template', 'foreignObject', 'foreignobject'];

/** lowercased name → the SVG spelling (the HTML parser lowercases; SVG files are case-sensitive XML). */
const SVG_CASE = new Map([...SVG_TAGS, ...SVG_ATTRIBUTES].filter((n) => n !== n.toLowerCase()).map((n) => [n.toLowerCase(), n]));

/** An attribute value that points outside the document (url(...) to anything but #id). */
function externalUrl(value: string): boolean {
  return /url\s*\(/i.test(value) && !/^\s*url\(\s*(["']?)#[\w.:-]+\1\s*\)\s*$/i.test(value);
}

/**
 * Per element: SVG names back to their camelCase; SVG references (href, xlink:href) only to
 * #ids in the same file, or a raster data: URL on <image>; no presentation attribute with an
 * external url(...). A chart file then loads nothing from anywhere.
 */
function svgElement(tagName: string, attribs: Record<string, string>): { tagName: string; attribs: Record<string, string> } {
  const name = SVG_CASE.get(tagName) ?? tagName;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(attribs)) {
    const attr = SVG_CASE.get(key) ?? key;
    if (attr === 'href' || attr === 'xlink:href') {
      const local = /^#[\w.:-]+$/.test(value.trim());
      if (!(local || (name === 'image' && DATA_IMAGE.test(value.trim())))) continue;
    } else if (attr !== 'style' && externalUrl(value)) continue;
    out[attr] = value;
  }
  return { tagName: name, attribs: out };
}

function svgOptions(tags: string[], htmlAttributes: Record<string, string[]>, styles: Record<string, Record<string, RegExp[]>>): SanitizeOptions {
  const allowedAttributes: Record<string, string[]> = { ...htmlAttributes };
  for (const t of SVG_TAGS) allowedAttributes[t] = [...new Set([...(allowedAttributes[t] ?? []), ...SVG_ATTRIBUTES, ...(htmlAttributes['*'] ?? [])])];
  return {
    allowedTags: tags,
    allowedAttributes,
    allowedSchemes: SAFE_SCHEMES,
    // <image>/<use> references are checked in svgElement (local #ids, raster data: URLs).
    allowedSchemesByTag: { img: [...SAFE_SCHEMES, 'data'], image: ['data'], use: [] },
    allowedSchemesAppliedToAttributes: ['href', 'src', 'cite', 'xlink:href'],
    allowProtocolRelative: false,
    allowedStyles: styles,
    nonTextTags: DROP_WITH_CONTENT,
    disallowedTagsMode: 'discard',
    transformTags: { '*': svgElement },
    // <rect/> closes itself in SVG (and in a browser's inline SVG).
    parser: { recognizeSelfClosing: true },
  };
}

const SVG_OPTIONS = svgOptions(SVG_TAGS, {}, SVG_STYLES);
const OUTPUT_OPTIONS = svgOptions(OUTPUT_TAGS, MARKDOWN_ATTRIBUTES, { '*': { ...SVG_STYLES['*'], ...MARKDOWN_STYLES['*'] } });

function markdownOptions(extraImageSchemes: string[]): SanitizeOptions {
  return {
    allowedTags: MARKDOWN_TAGS,
    allowedAttributes: MARKDOWN_ATTRIBUTES,
    allowedSchemes: SAFE_SCHEMES,
    allowedSchemesByTag: { img: [...SAFE_SCHEMES, 'data', ...extraImageSchemes] },
    allowedSchemesAppliedToAttributes: ['href', 'src', 'cite'],
    allowProtocolRelative: false,
    allowedStyles: MARKDOWN_STYLES,
    nonTextTags: DROP_WITH_CONTENT,
    disallowedTagsMode: 'discard',
    transformTags: {
      // data: images only as raster formats.
      img: (tagName, attribs) => {
        const { src, ...rest } = attribs;
        return { tagName, attribs: src !== undefined && (!/^\s*data:/i.test(src) || DATA_IMAGE.test(src.trim())) ? { src, ...rest } : rest };
      },
    },
  };
}

/** HTML of an output through the allow-list (tables, text, images, inline SVG); scripts and their content gone. */
export function sanitizeHtml(html: string): string {
  return sanitizeLib(html, OUTPUT_OPTIONS);
}

/** An SVG document through the SVG allow-list: no script, handler, foreign content or outside reference. */
export function sanitizeSvg(svg: string): string {
  return sanitizeLib(svg, SVG_OPTIONS);
}

// --- markdown ------------------------------------------------------------------------------

export interface MarkdownSanitizeOptions {
  /** URL schemes a link or image may use besides http(s) and mailto, e.g. 'attachment' in a cell. */
  extraSchemes?: string[];
}

/**
 * A markdown cell made safe for a Jekyll post while its text and code stay as written:
 *   - inline HTML goes through the allow-list (sanitize-html); text between tags and every
 *     code span or fence is set aside first and put back unchanged, so Markdown such as
 *     "> quote", "a < b" and `<tag>` in code is not touched;
 *   - a "<" that could still open a tag (a broken or unterminated one) is written &lt;, which
 *     renders the same; an autolink <https://...> stays unless its scheme is unsafe;
 *   - links and link definitions whose URL has another scheme than http(s)/mailto (or a
 *     raster data: image), e.g. [x](javascript:...), are escaped: they show as the text
 *     they are and link nowhere;
 *   - kramdown's attribute lists and extensions ({: ...}, {::...}) are escaped, so they can't
 *     add onclick= to an element;
 *   - a fence gets its closing line when the cell forgot it, its info string only a language
 *     word; a code span that holds tag or attribute syntax is written as <code> with entities
 *     (it renders the same, and is code to every Markdown reader); code inside an HTML element
 *     (raw to kramdown) has its "<" escaped.
 */
export function sanitizeMarkdown(markdown: string, options: MarkdownSanitizeOptions = {}): string {
  const extra = (options.extraSchemes ?? []).map((s) => s.toLowerCase());
  try {
    return sanitizeParts(markdown, extra);
  } catch (e) {
    // A cell crafted to make the tag scan slow: no HTML from it at all, all of it as text.
    if (e instanceof TooComplex) return escapeAllTags(markdown, extra);
    throw e;
  }
}

function sanitizeParts(markdown: string, extra: string[]): string {
  const [open, close] = markers(markdown);
  const mark = (n: number) => `${open}${n}${close}`;

  // 1. Code pieces and prose text become numbered markers; tags stay.
  const saved: Piece[] = [];
  let input = '';
  let before = '';
  for (const piece of splitCode(dropComments(markdown), { separate: true })) {
    if (piece.code) {
      const fence = piece.fence === true;
      input += mark(saved.push({ code: fence ? 'fence' : 'span', text: piece.text, readAlike: fence || spanReadAlike(before, piece.text) }) - 1);
    } else {
      for (const token of htmlTokens(piece.text)) {
        input += token.html ? token.text : mark(saved.push({ code: false, text: token.text, readAlike: true }) - 1);
      }
    }
    before = piece.text;
  }
  if (!input.includes('<')) return restore(input, saved, mark, extra, markdown);
  // 2. The allow-list over the tags; the markers are text to it (dropped with a <script>'s content).
  return restore(sanitizeLib(input, markdownOptions(extra)), saved, mark, extra, markdown);
}

/**
 * HTML comments removed (the sanitizer drops them anyway), read as Markdown reads them: from a
 * "<!--" outside code to the next "-->", code-like text inside included, so `x` or a fence
 * inside a comment stays hidden. An unterminated "<!--" is left (and shows as text).
 */
function dropComments(markdown: string): string {
  if (!markdown.includes('<!--')) return markdown;
  let out = '';
  let rest = markdown;
  // Re-reading what follows is needed only when a comment reaches into what looked like code.
  for (let resplits = 0; resplits < 100; resplits++) {
    let cut: [number, number] | undefined;
    let offset = 0;
    let text = '';
    for (const p of splitCode(rest)) {
      if (p.code) {
        text += p.text;
        offset += p.text.length;
        continue;
      }
      // Comments inside this piece of prose: dropped in place, no new reading needed.
      let from = 0;
      let kept = '';
      for (;;) {
        const open = p.text.indexOf('<!--', from);
        if (open < 0) break;
        const close = p.text.indexOf('-->', open + 4);
        if (close >= 0) {
          kept += p.text.slice(from, open);
          from = close + 3;
          continue;
        }
        // It ends past this piece (or never): cut there, then read the rest again.
        const end = rest.indexOf('-->', offset + open + 4);
        if (end >= 0) cut = [offset + open, end + 3];
        break;
      }
      if (cut) {
        text += kept + p.text.slice(from, cut[0] - offset);
        break;
      }
      text += kept + p.text.slice(from);
      offset += p.text.length;
    }
    if (!cut) return out + text;
    out += text;
    rest = rest.slice(cut[1]);
  }
  return out + rest;
}

/** Two private-use characters that the text does not hold, to mark set-aside pieces. */
function markers(text: string): [string, string] {
  const free: string[] = [];
  for (let c = 0xe000; c <= 0xf8ff && free.length < 2; c++) if (!text.includes(String.fromCharCode(c))) free.push(String.fromCharCode(c));
  if (free.length < 2) throw new TooComplex();
  return [free[0], free[1]];
}

/** A set-aside piece: prose text, a fence or a code span (readAlike: every Markdown reader takes it for one). */
interface Piece {
  code: 'fence' | 'span' | false;
  text: string;
  readAlike: boolean;
}

/**
 * Whether kramdown and CommonMark both read this code span (found by splitCode) as code: on
 * one line (a reader may see a new block on the next: a code span never crosses blocks), its
 * opening backticks not escaped, not a lone ` between blanks (kramdown reads that as a
 * character), and no run of its own length inside (kramdown closes at the first one).
 */
function spanReadAlike(before: string, span: string): boolean {
  if (span.includes('\n')) return false;
  const run = /^`+/.exec(span)![0].length;
  let slashes = 0;
  while (slashes < before.length && before[before.length - 1 - slashes] === '\\') slashes++;
  if (slashes % 2 === 1) return false;
  if (run === 1 && /\s/.test(before.slice(-1)) && /\s/.test(span[1] ?? '')) return false;
  return !span.slice(run, span.length - run).includes('`'.repeat(run));
}

/**
 * The post being written, with what a Markdown reader will make of the place it has reached:
 * CommonMark reads the lines from one that starts with a tag up to the next blank line as a
 * raw HTML block (no code spans or fences in it). kramdown is narrower; the wider reading is kept.
 */
class Output {
  text = '';
  /** Since the last blank line, a line started with a tag. */
  htmlBlock = false;
  /** The last finished line is blank (or there is none). */
  afterBlank = true;
  private line = '';

  append(s: string, isTag = false): void {
    if (isTag && this.atLineStart()) this.htmlBlock = true;
    const lines = s.split('\n');
    this.line += lines[0];
    for (let i = 1; i < lines.length; i++) {
      this.afterBlank = this.line.trim() === '';
      if (this.afterBlank) this.htmlBlock = false;
      this.line = lines[i];
    }
    this.text += s;
  }

  /** Nothing but up to three spaces on the current line so far. */
  atLineStart(): boolean {
    return /^ {0,3}$/.test(this.line);
  }

  /** Starts a block (a fence) on a line of its own after a blank line, so that no HTML block holds it. */
  blankLineBefore(): void {
    if (this.text === '') return;
    if (this.line !== '') this.append('\n');
    if (!this.afterBlank) this.append('\n');
  }
}

/** Puts the set-aside pieces back into sanitized HTML, each as the context it lands in allows. */
function restore(clean: string, saved: Piece[], mark: (n: number) => string, extra: string[], original: string): string {
  const open = mark(0)[0];
  const markerRe = new RegExp(`(${open}\\d+${mark(0).slice(-1)})`);
  // The sanitizer writes every "<" of text and attributes as &lt;: each "<" here starts a tag.
  const parts = clean.split(/(<[^>]*>)/);
  const stack: string[] = [];
  const out = new Output();
  const rawHtml = () => stack.length > 0 || out.htmlBlock;
  // Text runs: what lies between two kept tags or code pieces, read as one piece. A dropped
  // tag joins the text around it, so "{<x>:" or "<<x>img" are checked as "{:" and "<img".
  let run = '';
  const flush = () => {
    // A blank line ends an HTML block: what follows it is Markdown again (links, autolinks).
    for (const part of run.split(/(?<=\n[ \t]*\n)/)) out.append(safeText(part, rawHtml(), extra));
    run = '';
  };
  for (const part of parts) {
    if (part.startsWith('<')) {
      if (part.includes(open)) {
        // A piece of text ended up inside a tag: this tokenizer and the HTML parser disagreed.
        // Give up on HTML for this cell rather than guess: all of it as text.
        return escapeAllTags(original, extra);
      }
      flush();
      trackElement(part, stack);
      out.append(part, true);
      continue;
    }
    for (const bit of part.split(markerRe)) {
      const m = bit.startsWith(open) ? saved[Number(bit.slice(1, -1))] : undefined;
      if (!m) run += bit;
      else if (!m.code) run += m.text;
      else {
        flush();
        if (m.code === 'fence') {
          out.blankLineBefore();
          out.append(safeFence(m.text, stack.length > 0));
        } else {
          // A span of 3+ backticks at a line start: kramdown may take its line for a fence opener.
          const lineStart = out.atLineStart() && /^```/.test(m.text);
          out.append(safeSpan(m.text, extra, m.readAlike && !rawHtml() && !lineStart));
        }
      }
    }
  }
  flush();
  return out.text;
}

/** The fallback: every tag-like "<" as &lt;, links and attribute lists neutralized, code as is. */
function escapeAllTags(markdown: string, extra: string[]): string {
  return splitCode(markdown, { separate: true })
    .map((p) => (p.code ? (p.fence ? safeFence(p.text, false) : safeSpan(p.text, extra, false)) : safeText(p.text, true, extra)))
    .join('');
}
// (No tag is left in it, so no HTML block either: fences and spans are read as code.)

const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr']);

/** Keeps the stack of open elements of the sanitizer's (well-formed) output. */
function trackElement(tag: string, stack: string[]): void {
  const m = /^<(\/?)([A-Za-z][\w:-]*)[^>]*?(\/?)>$/.exec(tag);
  if (!m) return;
  const name = m[2].toLowerCase();
  if (m[1]) {
    const at = stack.lastIndexOf(name);
    if (at >= 0) stack.length = at;
  } else if (!m[3] && !VOID.has(name)) stack.push(name);
}

/** <scheme:...> and <user@host> autolinks, or a "<" that could open a tag (or ends the text, before a tag or code). */
const ANGLE = /<([A-Za-z][A-Za-z0-9+.-]{1,31}):([^\s<>"'`]*)>|<([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>|<(?=[A-Za-z\/!?]|$)/g;

/**
 * Prose text with no "<" left that a reader could take for the start of a tag:
 *   - an autolink to a safe scheme becomes the same link in [text](url) form (a raw "<" could
 *     be read as a tag inside an HTML block), any other autolink and tag-like "<" become &lt;;
 *   - a [x](<url with spaces>) destination is written without its brackets, percent-encoded;
 *   - unsafe links and kramdown attribute lists are neutralized (neutralizeLinks, "\{:");
 *   - backticks, which pair with nothing here, are written &#96; (see below).
 * Inside raw HTML (`rawHtml`) Markdown is not read: there "<" is only ever &lt;.
 */
function safeText(text: string, rawHtml: boolean, extra: string[]): string {
  if (!text) return text;
  // Links first: whether "](" is still a link decides what a "<" right after it is.
  let s = neutralizeLinks(text, extra);
  if (!rawHtml) {
    s = s.replace(/(\\*)\](\s*)\(\s*<([^<>\n]*)>/g, (all, slashes: string, space: string, url: string) =>
      slashes.length % 2 === 1 ? all : `${slashes}]${space}(${encodeDestination(url)}`,
    );
  }
  s = s.replace(ANGLE, (all, scheme: string | undefined, rest: string | undefined, email: string | undefined) => {
    if (rawHtml || all === '<') return `&lt;${all.slice(1)}`;
    if (email) return `[${linkText(email)}](mailto:${encodeDestination(email)})`;
    if (scheme && [...SAFE_SCHEMES, 'ftp'].includes(scheme.toLowerCase())) {
      const url = `${scheme}:${rest}`;
      return `[${linkText(url)}](${encodeDestination(url)})`;
    }
    return `&lt;${all.slice(1)}`;
  });
  // kramdown: {: .class onclick="..."} (IAL/ALD) and {::nomarkdown} (extensions): "\{" shows "{".
  s = s.replace(/(\\*)\{(?=:)/g, (all, slashes: string) => (slashes.length % 2 === 0 ? `${slashes}\\{` : all));
  // A backtick in prose pairs with nothing (the pairs are the code pieces), but once a dropped
  // tag joins two runs, a reader could pair it with a code piece's and read that code as prose:
  // written &#96;, it shows the same and pairs with nothing. Likewise "~~~" at a line start
  // (a dropped tag can bring it there) must not open a fence.
  return s.replace(/`/g, '&#96;').replace(/(^|\n)( {0,3})~~~/g, '$1$2&#126;~~');
}

/** A link destination without blanks, brackets, quotes or braces (percent-encoded). */
function encodeDestination(url: string): string {
  return url.trim().replace(/[\s<>"'()`{}\\]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/** Link text that shows `text` as it is (Markdown's special characters escaped). */
function linkText(text: string): string {
  return text.replace(/[\\`*_[\]{}<>]/g, (c) => `\\${c}`);
}

/**
 * [text](url), ![alt](url) and [id]: url definitions whose url, read as a browser would
 * (entities decoded, backslashes, blanks and control characters dropped), has a scheme other
 * than http(s)/mailto (or a raster data: image): "](" / "]:" become "]\(" / "]\:", which
 * Markdown shows as the characters and never as a link.
 */
function neutralizeLinks(text: string, extra: string[]): string {
  return text.replace(/\](\s*)([(:])/g, (all, space: string, kind: string, at: number) => {
    const after = text.slice(at + all.length, at + all.length + 400);
    return unsafeUrl(after, extra) ? `]${space}\\${kind}` : all;
  });
}

/** True when the start of `text` (a link destination) is a URL with a scheme a post must not link to. */
function unsafeUrl(text: string, extra: string[]): boolean {
  const url = decodeUrlEntities(text)
    .replace(/\\/g, '')
    .replace(/[\u0000-\u0020\u007f-\u00a0\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f\u3000\ufeff]/g, '')
    .replace(/^<+/, '');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1].toLowerCase();
  if (scheme === undefined) return false;
  if (scheme === 'data') return !DATA_IMAGE.test(url);
  return ![...SAFE_SCHEMES, ...extra].includes(scheme);
}

/** Entities a browser would decode in a URL: numeric ones (also without ";") and the named ones a URL could hide behind. */
function decodeUrlEntities(text: string): string {
  const named: Record<string, string> = { colon: ':', tab: '\t', newline: '\n', sol: '/', period: '.', lpar: '(', rpar: ')', nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
  return text
    .replace(/&#(x[0-9a-f]+|\d+);?/gi, (all, n: string) => {
      const code = n[0] === 'x' || n[0] === 'X' ? parseInt(n.slice(1), 16) : parseInt(n, 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : all;
    })
    .replace(/&([a-z]+);?/gi, (all, n: string) => named[n.toLowerCase()] ?? all);
}

/** A fenced block: closed, a plain language word as info; escaped inside an HTML element (raw to kramdown). */
function safeFence(block: string, insideHtml: boolean): string {
  const lines = block.split('\n');
  const first = /^( {0,3})(`{3,}|~{3,})(.*)$/.exec(lines[0])!;
  const [, indent, fence, info] = first;
  const lang = /^\s*([A-Za-z0-9_+.#-]+)/.exec(info)?.[1] ?? '';
  lines[0] = `${indent}${fence}${lang}`;
  const closer = new RegExp(`^ {0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`);
  // The last line that is not the trailing newline's empty string.
  const trailing = lines[lines.length - 1] === '' ? 1 : 0;
  const last = lines[lines.length - 1 - trailing];
  const closed = lines.length - trailing > 1 && closer.test(last);
  let body = lines.slice(1, closed ? lines.length - 1 - trailing : lines.length - trailing);
  if (insideHtml) body = body.map((l) => l.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'));
  const end = closed ? last : `${indent}${fence}`;
  return [lines[0], ...body, end].join('\n') + (trailing ? '\n' : '');
}

/**
 * An inline code span, as written when every reader takes it for code (`readAlike`, outside
 * HTML elements). Otherwise, when it holds a tag, an attribute list or an unsafe link, it is
 * written as <code> with every ASCII punctuation mark an entity: the same text on the page,
 * and code to every reader.
 */
function safeSpan(span: string, extra: string[], readAlike: boolean): string {
  if (readAlike) return span;
  const risky = /<[A-Za-z\/!?]/.test(span) || /\{:/.test(span) || /^```/.test(span) || /\n/.test(span) || (/\]\s*[(:]/.test(span) && neutralizeLinks(span, extra) !== span);
  if (!risky) return span;
  const run = /^`+/.exec(span)![0].length;
  let inner = span.slice(run, span.length - run).replace(/\n/g, ' ');
  // CommonMark: one space stripped from each side when both are there (and not all spaces).
  if (/^ [\s\S]*[^ ][\s\S]* $/.test(inner)) inner = inner.slice(1, -1);
  return `<code>${inner.replace(/[!-\/:-@\[-`{-~]/g, (c) => `&#${c.charCodeAt(0)};`)}</code>`;
}

interface HtmlToken {
  html: boolean;
  text: string;
}

/**
 * Prose split into HTML (tags, comments, declarations, as an HTML parser reads them) and
 * text. An autolink (<https://...>, <a@b.c>) is text; so is anything unterminated, which a
 * Markdown reader shows as text too (its "<" is escaped later).
 */
export function htmlTokens(prose: string): HtmlToken[] {
  const tokens: HtmlToken[] = [];
  const scan = new Scanner(prose);
  let text = '';
  let i = 0;
  while (i < prose.length) {
    const lt = prose.indexOf('<', i);
    if (lt < 0) break;
    // [x](<a url>): a link destination, not a tag (safeText decides what may stay of it).
    const end = /\]\(\s*$/.test(prose.slice(Math.max(0, lt - 40), lt)) ? -1 : markupEnd(scan, lt);
    if (end < 0) {
      text += prose.slice(i, lt + 1);
      i = lt + 1;
      continue;
    }
    text += prose.slice(i, lt);
    if (text) tokens.push({ html: false, text });
    text = '';
    tokens.push({ html: true, text: prose.slice(lt, end) });
    i = end;
  }
  text += prose.slice(i);
  if (text) tokens.push({ html: false, text });
  return tokens;
}

/** Too much work for one cell (a crafted one): sanitizeMarkdown then writes all of it as text. */
class TooComplex extends Error {}

/**
 * Index lookups on one string that stay cheap over a whole pass (a crafted cell cannot make
 * them quadratic): each needle's positions are found once, then binary-searched; the
 * characters a tag scan steps over are counted against a budget.
 */
class Scanner {
  private readonly positions = new Map<string, number[]>();
  private budget: number;

  constructor(readonly s: string) {
    this.budget = 16 * s.length + 100_000;
  }

  /** s.indexOf(needle, from). */
  indexOf(needle: string, from: number): number {
    let all = this.positions.get(needle);
    if (!all) {
      all = [];
      for (let at = this.s.indexOf(needle); at >= 0; at = this.s.indexOf(needle, at + 1)) all.push(at);
      this.positions.set(needle, all);
    }
    let lo = 0;
    let hi = all.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (all[mid] < from) lo = mid + 1;
      else hi = mid;
    }
    return lo < all.length ? all[lo] : -1;
  }

  /** Regex `re` (sticky) matches at `at`. */
  matchesAt(re: RegExp, at: number): boolean {
    re.lastIndex = at;
    return re.test(this.s);
  }

  spend(n: number): void {
    this.budget -= n;
    if (this.budget < 0) throw new TooComplex();
  }
}

const URI_AUTOLINK_AT = /<[A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*>/y;
const EMAIL_AUTOLINK_AT = /<[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*>/y;

/** Where the markup starting with "<" at `at` ends (exclusive), or -1 when it is text. */
function markupEnd(scan: Scanner, at: number): number {
  const s = scan.s;
  if (scan.matchesAt(URI_AUTOLINK_AT, at) || scan.matchesAt(EMAIL_AUTOLINK_AT, at)) return -1;
  const c = s[at + 1] ?? '';
  if (s.startsWith('<!--', at)) {
    const close = scan.indexOf('-->', at + 4);
    return close < 0 ? -1 : close + 3;
  }
  if (c === '!' || c === '?' || (c === '/' && /[A-Za-z]/.test(s[at + 2] ?? ''))) {
    const close = scan.indexOf('>', at + 1);
    return close < 0 ? -1 : close + 1;
  }
  if (/[A-Za-z]/.test(c)) return startTagEnd(scan, at);
  return -1;
}

const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f';

/** The end of the start tag at `at`, read as the HTML tokenizer does (quotes count only after "="), or -1. */
function startTagEnd(scan: Scanner, at: number): number {
  const s = scan.s;
  // No ">" after it: never a tag (and no need to read further).
  if (scan.indexOf('>', at) < 0) return -1;
  let i = at + 1;
  const step = () => {
    i++;
    scan.spend(1);
  };
  while (i < s.length && !isSpace(s[i]) && s[i] !== '/' && s[i] !== '>') step();
  for (;;) {
    while (i < s.length && (isSpace(s[i]) || s[i] === '/')) step();
    if (i >= s.length) return -1;
    if (s[i] === '>') return i + 1;
    // attribute name (may start with "=")
    step();
    while (i < s.length && !isSpace(s[i]) && s[i] !== '/' && s[i] !== '>' && s[i] !== '=') step();
    while (i < s.length && isSpace(s[i])) step();
    if (s[i] !== '=') continue;
    step();
    while (i < s.length && isSpace(s[i])) step();
    if (s[i] === '"' || s[i] === "'") {
      const close = scan.indexOf(s[i], i + 1);
      if (close < 0) return -1;
      scan.spend(close - i);
      i = close + 1;
    } else {
      while (i < s.length && !isSpace(s[i]) && s[i] !== '>') step();
    }
  }
}
