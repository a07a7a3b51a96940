// Markdown helpers for the blog export: telling code (fenced blocks, `inline code`)
// from prose, so clean-ups touch only prose, and finding image links.

export interface MarkdownPiece {
  /** True for a fenced code block or an inline code span (shown as text, never as HTML). */
  code: boolean;
  text: string;
}

/** Splits Markdown into code (fences, inline spans) and prose, in order; joined back it is the input. */
export function splitCode(markdown: string): MarkdownPiece[] {
  const pieces: MarkdownPiece[] = [];
  const push = (code: boolean, text: string) => {
    if (!text) return;
    const last = pieces[pieces.length - 1];
    if (last && last.code === code) last.text += text;
    else pieces.push({ code, text });
  };
  const lines = markdown.split(/(?<=\n)/);
  let prose = '';
  for (let i = 0; i < lines.length; i++) {
    const open = /^ {0,3}(`{3,}|~{3,})/.exec(lines[i]);
    if (!open || (open[1][0] === '`' && lines[i].slice(open[0].length).includes('`'))) {
      prose += lines[i];
      continue;
    }
    splitInline(prose, push);
    prose = '';
    // A fence closes with the same character, at least as long, alone on its line.
    const closer = new RegExp(`^ {0,3}${open[1][0] === '`' ? '`' : '~'}{${open[1].length},}\\s*$`);
    let block = lines[i];
    let j = i + 1;
    while (j < lines.length) {
      block += lines[j];
      if (closer.test(lines[j].replace(/\n$/, ''))) break;
      j++;
    }
    push(true, block);
    i = j;
  }
  splitInline(prose, push);
  return pieces;
}

/** Inline code spans: a run of N backticks up to the next run of exactly N. */
function splitInline(text: string, push: (code: boolean, text: string) => void): void {
  let at = 0;
  const runs = /`+/g;
  let m: RegExpExecArray | null;
  while ((m = runs.exec(text))) {
    const close = new RegExp(`(?<!\`)\`{${m[0].length}}(?!\`)`, 'g');
    close.lastIndex = m.index + m[0].length;
    const end = close.exec(text);
    if (!end) continue;
    push(false, text.slice(at, m.index));
    push(true, text.slice(m.index, end.index + end[0].length));
    at = end.index + end[0].length;
    runs.lastIndex = at;
  }
  push(false, text.slice(at));
}

/** Applies `fn` to the prose parts of `markdown` only. */
export function mapProse(markdown: string, fn: (prose: string) => string): string {
  return splitCode(markdown).map((p) => (p.code ? p.text : fn(p.text))).join('');
}

/** The prose of `markdown` (code removed), e.g. to check that no <script> is left in it. */
export function proseOnly(markdown: string): string {
  return splitCode(markdown).filter((p) => !p.code).map((p) => p.text).join('');
}

/** Targets of image links in prose: `![alt](target)` and `<img src="target">`. */
export function imageTargets(markdown: string): string[] {
  const prose = proseOnly(markdown);
  const md = [...prose.matchAll(/!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]);
  const html = [...prose.matchAll(/<img\b[^>]*\bsrc\s*=\s*["']([^"']+)["']/gi)].map((m) => m[1]);
  return [...md, ...html];
}
