// `nlpbook export-post`'s file work: read the notebook, make the post (post.ts), draw the
// SVG charts as PNG when a Chromium is there, and write everything atomically into the
// output folder: images first, the post last, so a post never links to a missing image.
import * as fs from 'fs';
import * as path from 'path';
import { NlpbookError } from '../util/errors';
import { writeFileAtomic } from '../util/fsutil';
import { parseNotebook } from './notebook';
import { checkDate, notebookToPost, Post, PostOptions, slugFor, today, withPngImages } from './post';
import { svgToPng } from './svg-png';

export interface ExportPostOptions extends Partial<PostOptions> {
  /** Folder for the post and its images (created if missing). */
  outDir: string;
  /**
   * SVG charts as PNG: 'auto' (default) when a Chromium is found, true requires one,
   * false keeps them as .svg files.
   */
  png?: boolean | 'auto';
}

export interface ExportPostResult {
  /** Path of the written post. */
  post: string;
  title: string;
  /** Paths of the images written beside it. */
  images: string[];
  /** SVG charts kept as SVG (no Chromium, or --svg). */
  svg: number;
  /** Why the SVG charts were not drawn as PNG, when Chromium was wanted but missing. */
  pngSkipped?: string;
  /** Interactive charts without a PNG (noted in the post). */
  interactiveOnly: number;
  /** Old images of an earlier export of the same post that were removed. */
  removed: string[];
}

/** Reads `notebookFile` and writes its post and images into `options.outDir`. */
export async function exportPost(notebookFile: string, options: ExportPostOptions): Promise<ExportPostResult> {
  let text: string;
  try {
    text = fs.readFileSync(notebookFile, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new NlpbookError(`${notebookFile}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, expected a .ipynb file' : `cannot read (${code ?? (e as Error).message})`}`);
  }
  const nb = parseNotebook(text, notebookFile);
  const date = checkDate(options.date ?? today());
  let post = notebookToPost(nb, { ...options, date, slug: options.slug ?? slugFor(notebookFile), source: options.source ?? notebookFile });
  checkOutDir(options.outDir);
  const wantPng = options.png ?? 'auto';
  let pngSkipped: string | undefined;
  if (wantPng !== false) {
    post = await withPngImages(post, async (svgs) => {
      const pngs = await svgToPng(svgs);
      if (!('skipped' in pngs)) return pngs;
      if (wantPng === true) throw new NlpbookError(`${notebookFile}: ${svgs.length} SVG chart(s) need Chromium: ${pngs.skipped}`);
      pngSkipped = pngs.skipped;
      return null;
    });
  }
  return { ...writePost(post, options.outDir), pngSkipped };
}

/** Writes a post and its files into `outDir`; removes images an earlier export of the same post left. */
export function writePost(post: Post, outDir: string): ExportPostResult {
  checkOutDir(outDir);
  const images: string[] = [];
  const write = (file: string, data: string | Uint8Array) => {
    try {
      writeFileAtomic(file, data);
    } catch (e) {
      throw new NlpbookError(`--out ${outDir}: cannot write ${path.basename(file)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  };
  for (const f of post.files) {
    const file = path.join(outDir, f.name);
    write(file, f.data);
    images.push(file);
  }
  const postFile = path.join(outDir, post.name);
  write(postFile, post.markdown);
  // Images of an earlier export with more charts: same "<slug>-<n>.<ext>" pattern, not written now.
  const ours = new Set(post.files.map((f) => f.name));
  const removed: string[] = [];
  for (const name of fs.readdirSync(outDir)) {
    if (name.startsWith(post.imagePrefix) && /^\d+\.(png|jpg|gif|svg)$/.test(name.slice(post.imagePrefix.length)) && !ours.has(name)) {
      fs.rmSync(path.join(outDir, name), { force: true });
      removed.push(path.join(outDir, name));
    }
  }
  return {
    post: postFile,
    title: post.title,
    images,
    svg: post.files.filter((f) => f.mime === 'image/svg+xml').length,
    interactiveOnly: post.interactiveOnly,
    removed,
  };
}

/** The output folder exists as a folder we can write to, or can be made. */
function checkOutDir(outDir: string): void {
  try {
    fs.mkdirSync(outDir, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'a file is in the way, expected a folder' : `cannot create it (${code ?? (e as Error).message})`;
    throw new NlpbookError(`--out ${outDir}: ${why}`);
  }
  if (!fs.statSync(outDir).isDirectory()) throw new NlpbookError(`--out ${outDir}: is a file, expected a folder`);
  try {
    fs.accessSync(outDir, fs.constants.W_OK);
  } catch (e) {
    throw new NlpbookError(`--out ${outDir}: cannot write here (${(e as NodeJS.ErrnoException).code})`);
  }
}
