// A notebook as a Jekyll blog post (`nlpbook export-post`): front matter, the Korean
// markdown cells as they are, code cells as ```typescript fences, text outputs as
// blocks (long logs shortened), tables as Markdown tables, and every image (charts included)
// as a file beside the post, linked by a relative path. Jupyter Book's remove-cell,
// remove-input and remove-output tags leave out what they name. Pure: text in,
// { markdown, files } out; writing and PNG rendering are write-post.ts's and svg-png.ts's jobs.
// Nothing live gets through: markdown (cells and outputs) goes through sanitizeMarkdown, HTML
// outputs through the allow-list sanitizer, SVG files through the SVG allow-list (sanitize.ts),
// and the body is kept from Jekyll's Liquid (liquidRaw).
import { NlpbookError } from '../util/errors';
import { fenceFor, findSvgs, htmlToMarkdown, imgMark, svgMark } from './html';
import { mapProse } from './markdown';
import { sanitizeMarkdown, sanitizeSvg } from './sanitize';
import { cellTags, joinText, Notebook, NotebookCell, NotebookOutput } from './notebook';

export interface PostOptions {
  /** The post's date, YYYY-MM-DD (Jekyll takes it from the file name and the front matter). */
  date: string;
  /** ASCII slug for the file names: YYYY-MM-DD-<slug>.md, <slug>-<n>.png. */
  slug: string;
  /** Default: the notebook's first heading. */
  title?: string;
  /** Default: ['NLP'] (the course's posts). */
  categories?: string[];
  /** Jekyll layout, default 'post'. */
  layout?: string;
  /**
   * Text outputs longer than this many lines are shortened to this many: their first and last
   * lines around one "… (N줄 생략) …" line (default DEFAULT_MAX_OUTPUT_LINES).
   */
  maxOutputLines?: number;
  /** The notebook's name in error messages (default "notebook"). */
  source?: string;
}

/** A file that goes beside the post; `name` is also the relative link in the markdown. */
export interface PostFile {
  name: string;
  mime: string;
  data: Uint8Array | string;
}

export interface Post {
  /** File name of the post: YYYY-MM-DD-<slug>.md. */
  name: string;
  /**
   * Image files are "<imagePrefix><n>.<ext>" (the slug and a dash). No date in front: Jekyll
   * reads every date-named file in _posts as a post.
   */
  imagePrefix: string;
  title: string;
  markdown: string;
  files: PostFile[];
  /** Outputs that could not be shown statically (interactive charts without a PNG). */
  interactiveOnly: number;
}

const IMAGE_EXT: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif', 'image/svg+xml': 'svg' };
const PLOTLY = 'application/vnd.plotly.v1+json';
/**
 * 40 lines: a training log's progress lines (one every few seconds, hundreds per run) would
 * otherwise fill the post; 19 from the start and 20 from the end still show the setup and the
 * final numbers.
 */
export const DEFAULT_MAX_OUTPUT_LINES = 40;

/**
 * Jupyter Book's tags that hide part of a cell on the page. Its hide-* tags only fold content
 * behind a button, which a static post cannot do, so those cells are shown as usual.
 */
export const REMOVE_CELL = 'remove-cell';
export const REMOVE_INPUT = 'remove-input';
export const REMOVE_OUTPUT = 'remove-output';

export const INTERACTIVE_NOTE = '> (대화형 차트: 이 글에는 그림을 싣지 못했습니다. 노트북에서 실행해 보세요.)';

/**
 * An ASCII slug from a notebook file name: "notebooks/07-training.ipynb" → "07-training";
 * an executed copy's ".nbconvert" / ".out" suffix is dropped ("07-training.out.ipynb" → "07-training").
 */
export function slugFor(notebookPath: string): string {
  const base = notebookPath.replace(/\\/g, '/').split('/').pop()!.replace(/\.ipynb$/i, '').replace(/\.(nbconvert|out)$/i, '');
  const slug = base.normalize('NFKD').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return slug || 'notebook';
}

/** Checks YYYY-MM-DD and that it is a real calendar day. */
export function checkDate(date: string, what = '--date'): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
  if (!m || !d || d.toISOString().slice(0, 10) !== date) throw new NlpbookError(`${what}: expected a date YYYY-MM-DD, got ${JSON.stringify(date)}`);
  return date;
}

/** Today in local time, YYYY-MM-DD. */
export function today(now = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** Converts a parsed notebook (see parseNotebook) to a post. */
export function notebookToPost(nb: Notebook, options: PostOptions): Post {
  checkDate(options.date, 'date');
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(options.slug)) {
    throw new NlpbookError(`slug: expected lowercase ASCII letters, digits and dashes, got ${JSON.stringify(options.slug)}`);
  }
  const categories = options.categories ?? ['NLP'];
  for (const c of categories) {
    if (!/^[\p{L}\p{N}][\p{L}\p{N} _.-]*$/u.test(c)) throw new NlpbookError(`category: letters, digits, spaces, "_", "." and "-" only, got ${JSON.stringify(c)}`);
  }
  const source = options.source ?? 'notebook';
  const files: PostFile[] = [];
  const language = fenceLanguage(nb.metadata?.language_info?.name ?? nb.metadata?.kernelspec?.language ?? 'typescript');
  const layout = options.layout ?? 'post';
  if (!/^[A-Za-z0-9_-]+$/.test(layout)) throw new NlpbookError(`layout: expected letters, digits, "_" and "-", got ${JSON.stringify(layout)}`);
  const maxLines = options.maxOutputLines ?? DEFAULT_MAX_OUTPUT_LINES;
  if (!Number.isSafeInteger(maxLines) || maxLines < 1) {
    throw new NlpbookError(`maxOutputLines: expected a positive whole number, got ${String(options.maxOutputLines)}`);
  }

  /** Adds an image file and returns its Markdown link. */
  const addImage = (mime: string, data: Uint8Array | string, alt: string): string => {
    const name = `${options.slug}-${files.length + 1}.${IMAGE_EXT[mime]}`;
    files.push({ name, mime, data });
    return `![${altText(alt) || `그림 ${files.length}`}](${name})`;
  };
  const decodeImage = (mime: string, value: unknown, where: string): Uint8Array | string => {
    const text = Array.isArray(value) ? value.join('') : value;
    if (typeof text !== 'string') throw new NlpbookError(`${source}: ${where}: ${mime} must be text, found ${typeof value}`);
    if (mime === 'image/svg+xml') {
      const svg = /<svg\b/i.test(text) ? cleanSvg(text) : '';
      if (!svg) throw new NlpbookError(`${source}: ${where}: ${mime} holds no <svg> element`);
      return svg;
    }
    const bytes = Buffer.from(text.replace(/\s+/g, ''), 'base64');
    if (!/^[A-Za-z0-9+/=\s]*$/.test(text) || !hasSignature(mime, bytes)) {
      throw new NlpbookError(`${source}: ${where}: ${mime} is not base64 ${IMAGE_EXT[mime].toUpperCase()} data`);
    }
    return new Uint8Array(bytes);
  };

  const title = options.title ?? firstHeading(nb.cells) ?? options.slug;
  let titleDropped = options.title !== undefined;
  const parts: string[] = [];
  let interactiveOnly = 0;

  nb.cells.forEach((cell, i) => {
    const where = `cell ${i + 1}`;
    const tags = cellTags(cell);
    if (tags.includes(REMOVE_CELL)) return;
    if (cell.cell_type === 'markdown') {
      let md = joinText(cell.source);
      if (!titleDropped) {
        // The layout prints the title; the same H1 again at the top would repeat it.
        const dropped = dropHeading(md, title);
        if (dropped !== undefined) {
          md = dropped;
          titleDropped = true;
        }
      }
      // Sanitized first (attachment: links allowed through), so nothing a dropped element held becomes a file.
      md = mapProse(sanitizeMarkdown(md, { extraSchemes: ['attachment'] }), (prose) =>
        replaceAttachments(prose, cell, (name, mime, value) => addImage(mime, decodeImage(mime, value, `${where} attachment ${JSON.stringify(name)}`), name.replace(/\.[a-z]+$/i, '')), `${source}: ${where}`),
      );
      if (md.trim()) parts.push(md.trim());
      return;
    }
    if (cell.cell_type !== 'code') return;
    const code = joinText(cell.source).replace(/\s+$/, '');
    if (code.trim() && !tags.includes(REMOVE_INPUT)) {
      const fence = fenceFor(code);
      parts.push(`${fence}${language}\n${code}\n${fence}`);
    }
    // Removed outputs are skipped before they are looked at, so their images are never written.
    const outputs = tags.includes(REMOVE_OUTPUT) ? [] : cell.outputs ?? [];
    const cellHasImage = outputs.some((o) => o.data && Object.keys(o.data).some((m) => IMAGE_EXT[m]));
    // Consecutive outputs of one stream are one block (a training run's stderr arrives as many
    // small chunks, one per progress line), shortened as a whole; stdout and stderr stay apart.
    let stream: { name: string; text: string } | undefined;
    const flush = () => {
      if (stream) parts.push(textBlock(stream.text, maxLines));
      stream = undefined;
    };
    outputs.forEach((o, j) => {
      const at = `${where} output ${j + 1}`;
      if (o.output_type === 'stream') {
        const text = joinText(o.text);
        if (stream && stream.name === (o.name ?? 'stdout')) stream.text += text;
        else {
          flush();
          stream = { name: o.name ?? 'stdout', text };
        }
        return;
      }
      flush();
      if (o.output_type === 'error') {
        parts.push(textBlock(`${o.ename ?? 'Error'}: ${o.evalue ?? ''}`.trim(), maxLines));
        return;
      }
      if (o.output_type !== 'display_data' && o.output_type !== 'execute_result') return;
      const md = richOutput(o, at);
      if (md === 'interactive') {
        if (!cellHasImage) {
          parts.push(INTERACTIVE_NOTE);
          interactiveOnly++;
        }
      } else if (md) parts.push(md);
    });
    flush();
  });

  /** Markdown for a display_data / execute_result, or 'interactive' for a script-only chart. */
  function richOutput(o: NotebookOutput, at: string): string | 'interactive' | '' {
    const data = o.data ?? {};
    for (const mime of ['image/png', 'image/jpeg', 'image/gif']) {
      if (data[mime] !== undefined) return addImage(mime, decodeImage(mime, data[mime], at), imageTitle(data) ?? '');
    }
    if (data['image/svg+xml'] !== undefined) {
      const svg = decodeImage('image/svg+xml', data['image/svg+xml'], at) as string;
      return addImage('image/svg+xml', svg, svgTitle(svg) ?? '');
    }
    if (data['text/markdown'] !== undefined) {
      return sanitizeMarkdown(joinText(data['text/markdown'] as string | string[])).trim();
    }
    if (data['text/html'] !== undefined) {
      const html = joinText(data['text/html'] as string | string[]);
      const parts = htmlToMarkdown(html);
      let md = parts.markdown;
      parts.svgs.forEach((svg, n) => {
        const clean = cleanSvg(svg);
        md = md.replace(svgMark(n), () => (clean ? addImage('image/svg+xml', clean, svgTitle(clean) ?? '') : ''));
      });
      parts.images.forEach((img, n) => {
        md = md.replace(imgMark(n), () => addImage(img.mime, decodeImage(img.mime, img.base64, `${at} <img>`), img.alt));
      });
      // The text of an HTML output may still spell Markdown links or kramdown attribute lists.
      if (md.trim()) return sanitizeMarkdown(md);
      if (parts.hadScript || data[PLOTLY] !== undefined) return 'interactive';
    }
    if (data[PLOTLY] !== undefined) return 'interactive';
    if (data['text/plain'] !== undefined) return textBlock(joinText(data['text/plain'] as string | string[]), maxLines);
    if (data['text/latex'] !== undefined) return textBlock(joinText(data['text/latex'] as string | string[]), maxLines);
    return '';
  }

  const frontMatter = [
    '---',
    `layout: ${layout}`,
    `title: ${JSON.stringify(title)}`,
    `date: ${options.date}`,
    `categories: [${categories.join(', ')}]`,
    '---',
  ].join('\n');
  const markdown = `${frontMatter}\n\n${liquidRaw(parts.join('\n\n'))}\n`;
  return { name: `${options.date}-${options.slug}.md`, imagePrefix: `${options.slug}-`, title, markdown, files, interactiveOnly };
}

/**
 * Jekyll runs Liquid over a post: "{{" or "{%" in code or outputs would be evaluated (or break
 * the build), so such a body goes inside {% raw %} ... {% endraw %}. Liquid ends a raw block at
 * the first tag whose name is endraw, wherever it stands, "{%endraw%}", "{%- endraw -%}" and
 * "{% x {% endraw %}" alike; so each "{%" that would start one is written through Liquid
 * instead: the raw block is closed, {{ "{%" }} prints the two characters, and a new raw block
 * goes on. Jekyll renders the body exactly as written.
 */
export function liquidRaw(body: string): string {
  if (!/\{\{|\{%/.test(body)) return body;
  const safe = body.replace(/\{%(?=-?\s*endraw(?!\w))/g, '{% endraw %}{{ "{%" }}{% raw %}');
  return `{% raw %}\n${safe}\n{% endraw %}`;
}

/** A code fence's language from the notebook's metadata: a plain word, else "text" (it goes on the fence line). */
export function fenceLanguage(name: unknown): string {
  return typeof name === 'string' && /^[A-Za-z0-9_+-]+$/.test(name) ? name : 'text';
}

/**
 * Output text as a fenced block: ANSI colours removed, carriage-return overwrites applied, and
 * more than `maxLines` lines shortened to `maxLines`: the first ⌊(maxLines-1)/2⌋ lines, one
 * "… (N줄 생략) …" line, and the rest from the end (the end of a log has the results).
 */
export function textBlock(text: string, maxLines = DEFAULT_MAX_OUTPUT_LINES): string {
  let lines = stripAnsi(text)
    .replace(/\r\n/g, '\n')
    .replace(/\n$/, '')
    .split('\n')
    .map((line) => {
      // A progress line rewrites itself with \r: what stays on screen is the last non-empty part.
      if (!line.includes('\r')) return line;
      const segments = line.split('\r').filter((s) => s !== '');
      return segments[segments.length - 1] ?? '';
    });
  if (lines.length > maxLines) {
    const head = Math.floor((maxLines - 1) / 2);
    const tail = maxLines - 1 - head;
    lines = [...lines.slice(0, head), `… (${lines.length - head - tail}줄 생략) …`, ...lines.slice(lines.length - tail)];
  }
  const body = lines.join('\n');
  const fence = fenceFor(body);
  return `${fence}text\n${body}\n${fence}`;
}

/** Removes ANSI escape sequences (colours, cursor moves, OSC titles). */
export function stripAnsi(text: string): string {
  return text.replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, '').replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '').replace(/\x1b[@-Z\\-_]/g, '');
}

/** The first Markdown heading of the notebook, as plain text. */
function firstHeading(cells: NotebookCell[]): string | undefined {
  for (const cell of cells) {
    // A removed cell's heading is not on the page, so it cannot be the title either.
    if (cell.cell_type !== 'markdown' || cellTags(cell).includes(REMOVE_CELL)) continue;
    let inFence = false;
    for (const line of joinText(cell.source).split('\n')) {
      if (/^ {0,3}(```|~~~)/.test(line)) inFence = !inFence;
      const m = !inFence && /^ {0,3}#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
      if (m) return plainText(m[1]);
    }
  }
  return undefined;
}

/** Removes the first level-1 heading whose text is `title`; undefined when there is none. */
function dropHeading(md: string, title: string): string | undefined {
  const lines = md.split('\n');
  const i = lines.findIndex((l) => {
    const m = /^ {0,3}#\s+(.+?)\s*#*\s*$/.exec(l);
    return m !== null && plainText(m[1]) === title;
  });
  if (i < 0) return undefined;
  lines.splice(i, 1);
  return lines.join('\n').replace(/^\s*\n/, '');
}

/** Heading Markdown as plain text: links to their text, HTML tags, emphasis and code marks removed. */
function plainText(md: string): string {
  return md.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/<\/?[A-Za-z][^>]*>/g, '').replace(/[*_`]/g, '').replace(/\s+/g, ' ').trim();
}

/** Alt text for ![alt](file): no brackets or newlines to end it, no "<" to start a tag. */
function altText(alt: string): string {
  return alt.replace(/[\[\]\n\r<>\\]/g, ' ').replace(/\s+/g, ' ').trim();
}

/** Rewrites `attachment:NAME` links of a markdown cell to the files `add` makes. */
function replaceAttachments(md: string, cell: NotebookCell, add: (name: string, mime: string, value: unknown) => string, where: string): string {
  const attachments = cell.attachments ?? {};
  const linkFor = new Map<string, string>();
  const fileFor = (raw: string): string => {
    let name = raw;
    try {
      if (!(name in attachments)) name = decodeURIComponent(raw);
    } catch {
      // not %-encoded: keep the raw name
    }
    const bundle = attachments[name];
    if (!bundle) throw new NlpbookError(`${where}: links to attachment:${raw} but the cell has no such attachment`);
    const mime = ['image/png', 'image/jpeg', 'image/gif', 'image/svg+xml'].find((m) => bundle[m] !== undefined);
    if (!mime) throw new NlpbookError(`${where}: attachment ${JSON.stringify(name)} has no png, jpeg, gif or svg image`);
    if (!linkFor.has(name)) {
      // add() returns "![alt](file)": only the file is wanted here.
      const link = add(name, mime, bundle[mime]);
      linkFor.set(name, /\]\(([^)]+)\)$/.exec(link)![1]);
    }
    return linkFor.get(name)!;
  };
  return md
    .replace(/(!\[[^\]]*\]\(\s*<?)attachment:([^)\s>]+)/g, (_, head: string, name: string) => head + fileFor(name))
    .replace(/(<img\b[^>]*\bsrc\s*=\s*["'])attachment:([^"']+)/gi, (_, head: string, name: string) => head + fileFor(name));
}

/**
 * A standalone SVG file: the first <svg> element of the document after the SVG allow-list (no
 * script, handler, style sheet, foreign content or outside reference), with the SVG namespace
 * (an <img> needs it); '' when no <svg> is left.
 */
function cleanSvg(svg: string): string {
  const s = (findSvgs(sanitizeSvg(svg))[0] ?? '').trim();
  if (!s) return '';
  return /^<svg\b[^>]*\bxmlns\s*=/.test(s) ? s : s.replace(/^<svg\b/, '<svg xmlns="http://www.w3.org/2000/svg"');
}

/**
 * An SVG chart's title: a <title> right at the top (not a bar's tooltip), else its first
 * <text> (our charts draw the title first).
 */
function svgTitle(svg: string): string | undefined {
  const m = /^<svg\b[^>]*>\s*<title\b[^>]*>([\s\S]*?)<\/title>/i.exec(svg) ?? /<text\b[^>]*>([\s\S]*?)<\/text>/i.exec(svg);
  return m ? m[1].replace(/<[^>]*>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&').trim() || undefined : undefined;
}

/** A plotly figure's title, when a PNG came with it. */
function imageTitle(data: Record<string, unknown>): string | undefined {
  const layout = (data[PLOTLY] as { layout?: { title?: string | { text?: string } } } | undefined)?.layout;
  const t = typeof layout?.title === 'string' ? layout.title : layout?.title?.text;
  return t ? t.replace(/<[^>]*>/g, '') : undefined;
}

function hasSignature(mime: string, bytes: Buffer): boolean {
  if (mime === 'image/png') return bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  if (mime === 'image/jpeg') return bytes[0] === 0xff && bytes[1] === 0xd8;
  if (mime === 'image/gif') return bytes.subarray(0, 3).toString('latin1') === 'GIF';
  return bytes.length > 0;
}

/**
 * The post with every SVG image rendered to PNG by `toPng` (one call for all, so one
 * browser start), links rewritten to the .png names; unchanged when `toPng` gives null.
 */
export async function withPngImages(post: Post, toPng: (svgs: string[]) => Promise<Uint8Array[] | null>): Promise<Post> {
  const svgs = post.files.filter((f) => f.mime === 'image/svg+xml');
  if (svgs.length === 0) return post;
  const pngs = await toPng(svgs.map((f) => String(f.data)));
  if (pngs === null) return post;
  let markdown = post.markdown;
  const files = post.files.map((f) => {
    const k = svgs.indexOf(f);
    if (k < 0) return f;
    const name = f.name.replace(/\.svg$/, '.png');
    markdown = markdown.split(`](${f.name})`).join(`](${name})`).split(`src="${f.name}"`).join(`src="${name}"`);
    return { name, mime: 'image/png', data: pngs[k] };
  });
  return { ...post, markdown, files };
}
