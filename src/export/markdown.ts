// Markdown helpers for the blog export: telling code (fenced blocks, `inline code`)
// from prose, so clean-ups touch only prose, and finding image links.

export interface MarkdownPiece {
  /** True for a fenced code block or an inline code span (shown as text, never as HTML). */
  code: boolean;
  text: string;
  /** With `separate`: true for a fenced block, false for an inline span (absent on prose). */
  fence?: boolean;
}

/**
 * Splits Markdown into code (fences, inline spans) and prose, in order; joined back it is the
 * input. Neighbouring pieces of one kind are joined, unless `separate` (then each fence and
 * each span is a piece of its own).
 */
export function splitCode(markdown: string, options: { separate?: boolean } = {}): MarkdownPiece[] {
  const pieces: MarkdownPiece[] = [];
  const push = (code: boolean, text: string, fence = false) => {
    if (!text) return;
    const last = pieces[pieces.length - 1];
    if (last && last.code === code && !(code && options.separate)) last.text += text;
    else pieces.push(code && options.separate ? { code, text, fence } : { code, text });
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
    push(true, block, true);
    i = j;
  }
  splitInline(prose, push);
  return pieces;
}

/** Inline code spans: a run of N backticks up to the next run of exactly N (in one pass over the runs). */
function splitInline(text: string, push: (code: boolean, text: string) => void): void {
  const runs = [...text.matchAll(/`+/g)].map((m) => ({ at: m.index!, length: m[0].length }));
  // For each run length, the indices (into runs) of the runs of that length, and how far they were used.
  const byLength = new Map<number, { list: number[]; next: number }>();
  runs.forEach((r, k) => {
    const entry = byLength.get(r.length) ?? { list: [], next: 0 };
    entry.list.push(k);
    byLength.set(r.length, entry);
  });
  let at = 0;
  for (let k = 0; k < runs.length; k++) {
    const entry = byLength.get(runs[k].length)!;
    while (entry.next < entry.list.length && entry.list[entry.next] <= k) entry.next++;
    if (entry.next >= entry.list.length) continue;
    const j = entry.list[entry.next];
    const end = runs[j].at + runs[j].length;
    push(false, text.slice(at, runs[k].at));
    push(true, text.slice(runs[k].at, end));
    at = end;
    k = j;
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
