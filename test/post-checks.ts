// Checks every exported blog post must pass (used by export-post.test.ts and, on the
// executed notebooks, by notebooks.test.ts): Jekyll front matter, balanced code fences,
// no <script> outside code, and every image link a relative path to a file that exists.
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { imageTargets } from '../src/export/markdown';

export interface CheckedPost {
  markdown: string;
  title: string;
  /** Image files the post links to (absolute paths). */
  images: string[];
  /** The post with fenced blocks and inline code removed. */
  prose: string;
}

export function checkPost(postFile: string): CheckedPost {
  const name = path.basename(postFile);
  assert.match(name, /^\d{4}-\d{2}-\d{2}-[a-z0-9-]+\.md$/, `${name}: Jekyll post names are YYYY-MM-DD-slug.md`);
  const markdown = fs.readFileSync(postFile, 'utf8');
  const fm = /^---\nlayout: post\ntitle: (".*")\ndate: (\d{4}-\d{2}-\d{2})\ncategories: \[NLP\]\n---\n/.exec(markdown);
  assert.ok(fm, `${name}: front matter with layout, title, date and categories: [NLP]:\n${markdown.slice(0, 300)}`);
  const title = JSON.parse(fm[1]) as string;
  assert.ok(title.trim().length > 0, `${name}: empty title`);
  assert.equal(fm[2], name.slice(0, 10), `${name}: front matter date differs from the file name's`);

  // Fences: every opening ``` / ~~~ line has its closing line (same character, at least as long).
  const lines = markdown.split('\n');
  const proseLines: string[] = [];
  let open: { char: string; len: number; line: number } | undefined;
  lines.forEach((line, i) => {
    const m = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(line);
    if (open) {
      if (m && m[1][0] === open.char && m[1].length >= open.len && m[2].trim() === '') open = undefined;
      return;
    }
    if (m) open = { char: m[1][0], len: m[1].length, line: i + 1 };
    else proseLines.push(line);
  });
  assert.equal(open, undefined, `${name}: the code fence opened on line ${open?.line} is never closed`);
  const prose = proseLines.join('\n').replace(/(`+)[\s\S]*?\1/g, '');
  assert.doesNotMatch(prose, /<script/i, `${name}: <script> outside code`);

  const dir = path.dirname(postFile);
  const images = imageTargets(markdown).map((target) => {
    assert.doesNotMatch(target, /^([a-z][a-z0-9+.-]*:|\/|\\)/i, `${name}: image link ${target} is not a relative path`);
    const file = path.resolve(dir, decodeURI(target));
    assert.ok(!path.relative(dir, file).startsWith('..'), `${name}: image link ${target} leaves the post's folder`);
    assert.ok(fs.existsSync(file) && fs.statSync(file).isFile(), `${name}: image link ${target} does not resolve to a file`);
    // Jekyll reads every date-named file in _posts as a post: images must not look like one.
    assert.doesNotMatch(path.basename(file), /^\d{2,4}-\d{1,2}-\d{1,2}-/, `${name}: image ${target} is named like a post`);
    return file;
  });
  return { markdown, title, images, prose };
}

const SIGNATURES: Record<string, number[]> = { '.png': [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], '.jpg': [0xff, 0xd8], '.gif': [0x47, 0x49, 0x46] };

/** The image file starts with its format's signature (a real PNG, not a renamed SVG). */
export function assertImageFile(file: string): void {
  const ext = path.extname(file);
  const head = fs.readFileSync(file).subarray(0, 8);
  if (ext === '.svg') assert.match(head.toString('utf8') + fs.readFileSync(file, 'utf8').slice(0, 200), /<svg/, `${file}: not an SVG`);
  else assert.deepEqual([...head.subarray(0, SIGNATURES[ext].length)], SIGNATURES[ext], `${file}: not a ${ext} file`);
}
