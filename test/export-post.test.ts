// `nlpbook export-post`: notebooks as Jekyll posts. The committed notebooks (no outputs),
// a notebook the test writes with every kind of output, re-export, Jupyter Book's remove-*
// tags, long logs shortened, and bad input.
// (Executed notebooks are exported in notebooks.test.ts, right after each one runs.)
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { main } from '../src/cli/main';
import { parseNotebook } from '../src/export/notebook';
import { DEFAULT_MAX_OUTPUT_LINES, INTERACTIVE_NOTE, notebookToPost, slugFor, textBlock } from '../src/export/post';
import { findChromium } from '../src/charts/render';
import { exportPost } from '../src/export/write-post';
import { jsonLines, REPO, runCli, tempDir } from './helpers';
import { assertImageFile, checkPost } from './post-checks';

const NOTEBOOKS = path.join(REPO, 'notebooks');
const PNG_1x1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
const CHART_SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="60"><rect width="120" height="60" fill="white"/><text x="10" y="30">손실 곡선</text><script>alert(1)</script></svg>';

test('every committed notebook exports to a post with front matter and balanced fences', async () => {
  const out = tempDir('nlpbook-post-');
  const names = fs.readdirSync(NOTEBOOKS).filter((f) => f.endsWith('.ipynb')).sort();
  assert.ok(names.length >= 8, `expected the course's notebooks, found ${names.length}`);
  for (const name of names) {
    const r = await exportPost(path.join(NOTEBOOKS, name), { outDir: out, date: '2025-03-14' });
    assert.equal(path.basename(r.post), `2025-03-14-${slugFor(name)}.md`);
    const post = checkPost(r.post);
    const nb = JSON.parse(fs.readFileSync(path.join(NOTEBOOKS, name), 'utf8'));
    const text = (c: any) => [c.source].flat().join('');
    // Cells tagged remove-cell are not in the post; remove-input ones have no code block.
    const tagged = (c: any, tag: string) => (c.metadata?.tags ?? []).includes(tag);
    nb.cells = nb.cells.filter((c: any) => !tagged(c, 'remove-cell'));
    const prose = nb.cells.filter((c: any) => c.cell_type === 'markdown').map(text).join('\n');
    // The title is the notebook's first heading (else the slug), and an H1 title is not repeated below the front matter.
    const heading = /^#{1,6}\s+(.+)$/m.exec(prose)?.[1].trim();
    assert.equal(post.title, heading?.replace(/[*_`]/g, '') ?? slugFor(name), name);
    if (heading) assert.ok(!post.markdown.includes(`\n# ${heading}\n`), `${name}: title repeated as an H1`);
    // Every code cell is a typescript block (fences counted: one per non-empty code cell).
    const code = nb.cells.filter((c: any) => c.cell_type === 'code' && text(c).trim() && !tagged(c, 'remove-input')).length;
    assert.equal((post.markdown.match(/^`{3,}typescript$/gm) ?? []).length, code, `${name}: one typescript block per code cell`);
    // Korean prose survives as written.
    const firstProse = prose.split('\n').find((l: string) => /[가-힣]/.test(l) && !l.startsWith('#'));
    if (firstProse) assert.ok(post.markdown.includes(firstProse.trim()), `${name}: prose line missing: ${firstProse}`);
  }
});

/** A notebook with one output of every kind the export handles. */
function syntheticNotebook(): any {
  const cells = [
    {
      cell_type: 'markdown', id: 'a1', metadata: {},
      source: ['# 합성 노트북: **모든** 출력\n', '\n', '그림을 붙였습니다: ![붙인 그림](attachment:image.png)\n',
        '<script>alert("prose")</script>태그는 지워집니다. 코드 안의 `<script>`는 글자일 뿐입니다.\n'],
      attachments: { 'image.png': { 'image/png': PNG_1x1 } },
    },
    {
      cell_type: 'code', id: 'c1', metadata: {}, execution_count: 1,
      source: ['const md = "```"; // a fence inside code\n', 'console.log(md);'],
      outputs: [
        { output_type: 'stream', name: 'stdout', text: ['\u001b[32m초록\u001b[0m 글자\n', 'step 1/3\rstep 2/3\rstep 3/3\n'] },
        { output_type: 'stream', name: 'stdout', text: 'same block\n' },
        { output_type: 'stream', name: 'stderr', text: 'a warning\n' },
        { output_type: 'execute_result', execution_count: 1, metadata: {}, data: { 'text/plain': "{ accuracy: 0.85 }" } },
      ],
    },
    {
      cell_type: 'code', id: 'c2', metadata: {}, execution_count: 2, source: 'show()',
      outputs: [
        { output_type: 'display_data', metadata: {}, data: { 'text/html': '<b>표</b><table><thead><tr><th></th><th>a|b</th></tr></thead><tbody><tr><th>0</th><td>&lt;x&gt;</td></tr></tbody></table><script>evil()</script>' } },
        { output_type: 'display_data', metadata: {}, data: { 'text/html': `<div>${CHART_SVG}</div>` } },
        { output_type: 'display_data', metadata: {}, data: { 'image/svg+xml': CHART_SVG.split(/(?<=>)/) } },
        { output_type: 'display_data', metadata: {}, data: { 'image/png': PNG_1x1, 'text/plain': '<Figure>' } },
      ],
    },
    {
      cell_type: 'code', id: 'c3', metadata: {}, execution_count: 3, source: 'plot()',
      outputs: [
        { output_type: 'display_data', metadata: {}, data: { 'application/vnd.plotly.v1+json': { data: [], layout: {} }, 'text/html': '<div id="p"></div><script>Plotly.newPlot("p")</script>' } },
        { output_type: 'error', ename: 'TypeError', evalue: '\u001b[31mx is not a function\u001b[0m', traceback: ['...'] },
      ],
    },
  ];
  return { nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: 'nlpbook', display_name: 'TypeScript (nlpbook)', language: 'typescript' } }, cells };
}

test('a notebook with every kind of output: images beside the post, text as blocks, no script', async () => {
  const dir = tempDir('nlpbook-post-');
  const nbFile = path.join(dir, 'Synthetic Notebook.nbconvert.ipynb');
  fs.writeFileSync(nbFile, JSON.stringify(syntheticNotebook()));
  const out = path.join(dir, 'blog', '_posts');
  const r = runCli(['export-post', nbFile, '--out', out, '--date', '2025-03-14', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const [result] = jsonLines(r.stdout);
  assert.equal(result.post, path.join(out, '2025-03-14-synthetic-notebook.md'));
  const post = checkPost(result.post);
  assert.equal(post.title, '합성 노트북: 모든 출력');

  // attachment, png output, svg inside html, image/svg+xml: four files, links in order.
  assert.equal(post.images.length, 4);
  assert.deepEqual(post.images.map((f) => path.basename(f)), [1, 2, 3, 4].map((n) => `synthetic-notebook-${n}.${n === 1 || n === 4 || 'path' in findChromium() ? 'png' : 'svg'}`));
  assert.deepEqual(result.images, post.images);
  post.images.forEach(assertImageFile);
  assert.equal(result.svg, 'path' in findChromium() ? 0 : 2);
  assert.match(post.markdown, /!\[붙인 그림\]\(synthetic-notebook-1\.png\)/);
  assert.match(post.markdown, /!\[손실 곡선\]\(synthetic-notebook-2\.(png|svg)\)/, 'a chart is named after its title');
  if ('path' in findChromium()) {
    // Drawn at the SVG's size: 120 x 60 (PNG IHDR width and height).
    const png = fs.readFileSync(post.images[1]);
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [120, 60]);
  }
  // Chart files never carry the SVG's script either.
  for (const f of post.images) assert.ok(!fs.readFileSync(f, 'latin1').includes('<script'), f);

  assert.ok(post.markdown.includes('````typescript\nconst md = "```"; // a fence inside code\nconsole.log(md);\n````'), 'code with ``` gets a longer fence');
  assert.ok(post.markdown.includes('```text\n초록 글자\nstep 3/3\nsame block\n```'), 'stdout: one block, ANSI removed, \\r overwrites applied');
  assert.ok(post.markdown.includes('```text\na warning\n```'));
  assert.ok(post.markdown.includes('```text\n{ accuracy: 0.85 }\n```'));
  assert.ok(post.markdown.includes('**표**\n\n|  | a\\|b |\n| --- | --- |\n| 0 | &lt;x&gt; |'), 'html table as a Markdown table');
  assert.ok(post.markdown.includes('```text\nTypeError: x is not a function\n```'));
  assert.ok(post.markdown.includes(INTERACTIVE_NOTE), 'plotly without a PNG gets the note');
  assert.ok(post.markdown.includes('코드 안의 `<script>`는 글자일 뿐입니다.'), 'inline code is left alone');
  assert.doesNotMatch(post.markdown, /alert|evil|Plotly\.newPlot/);
  assert.ok(!post.markdown.includes('\n# 합성'), 'title not repeated');
});

test('re-exporting with fewer images removes the old ones; other files stay', async () => {
  const dir = tempDir('nlpbook-post-');
  const nb = syntheticNotebook();
  const nbFile = path.join(dir, 'nb.ipynb');
  fs.writeFileSync(nbFile, JSON.stringify(nb));
  fs.writeFileSync(path.join(dir, 'keep-1.png'), 'not ours');
  fs.writeFileSync(path.join(dir, 'nb-x.png'), 'not ours either');
  const first = await exportPost(nbFile, { outDir: dir, date: '2025-03-14', png: false });
  assert.equal(first.images.length, 4);
  nb.cells = nb.cells.slice(0, 2);
  fs.writeFileSync(nbFile, JSON.stringify(nb));
  const second = await exportPost(nbFile, { outDir: dir, date: '2025-03-14', png: false });
  assert.equal(second.images.length, 1);
  assert.deepEqual(second.removed.map((f) => path.basename(f)).sort(), ['nb-2.svg', 'nb-3.svg', 'nb-4.png']);
  assert.ok(fs.existsSync(path.join(dir, 'keep-1.png')) && fs.existsSync(path.join(dir, 'nb-x.png')));
  checkPost(second.post);
  // The checks themselves catch a missing image.
  fs.rmSync(second.images[0]);
  assert.throws(() => checkPost(second.post), /image link nb-1\.png does not resolve to a file/);
  // No temp files left behind by the atomic writes.
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
});

test('without Chromium the charts stay SVG files, linked, and the CLI says why', async () => {
  const dir = tempDir('nlpbook-post-');
  const nbFile = path.join(dir, 'nb.ipynb');
  fs.writeFileSync(nbFile, JSON.stringify(syntheticNotebook()));
  const missing = path.join(dir, 'no-chromium');
  const r = runCli(['export-post', nbFile, '--out', dir, '--date', '2025-03-14', '--json'], { env: { NLPBOOK_CHROMIUM: missing } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`^nlpbook export-post: 2 chart\\(s\\) kept as \\.svg: PNG skipped: no chromium at ${missing} \\(NLPBOOK_CHROMIUM\\)`, 'm'));
  const post = checkPost(jsonLines(r.stdout)[0].post);
  assert.deepEqual(post.images.map((f) => path.extname(f)), ['.png', '.svg', '.svg', '.png']);
  post.images.forEach(assertImageFile);
  // Asking for PNGs outright fails instead, naming the notebook.
  const saved = process.env.NLPBOOK_CHROMIUM;
  process.env.NLPBOOK_CHROMIUM = missing;
  try {
    await assert.rejects(exportPost(nbFile, { outDir: dir, png: true }), /nb\.ipynb: 2 SVG chart\(s\) need Chromium: PNG skipped: no chromium at/);
  } finally {
    if (saved === undefined) delete process.env.NLPBOOK_CHROMIUM;
    else process.env.NLPBOOK_CHROMIUM = saved;
  }
});

test('text blocks: long outputs keep head and tail; pure conversion needs no files', () => {
  const long = Array.from({ length: 500 }, (_, i) => `line ${i}`).join('\n');
  const block = textBlock(long, 40).split('\n');
  assert.equal(block.length, 40 + 2);
  assert.equal(block[1], 'line 0');
  assert.equal(block[40], 'line 499');
  assert.match(block.join('\n'), /… \(461줄 생략\) …/);
  const post = notebookToPost(parseNotebook(JSON.stringify(syntheticNotebook()), 'x.ipynb'), { date: '2024-02-29', slug: 'x', categories: ['NLP', 'BERT'] });
  assert.match(post.markdown, /^---\nlayout: post\ntitle: "합성 노트북: 모든 출력"\ndate: 2024-02-29\ncategories: \[NLP, BERT\]\n---\n/);
  assert.equal(post.files.length, 4);
  assert.equal(post.interactiveOnly, 1);
  assert.ok(!post.markdown.includes('{% raw %}'));
  // Liquid syntax in code is kept away from Jekyll's Liquid pass.
  const liquid = notebookToPost(parseNotebook(JSON.stringify({ nbformat: 4, cells: [{ cell_type: 'code', source: 'const t = `{{ name }}`;' }] }), 'l.ipynb'), { date: '2024-02-29', slug: 'l' });
  assert.match(liquid.markdown, /\n---\n\n\{% raw %\}\n```typescript\nconst t = `\{\{ name \}\}`;\n```\n\{% endraw %\}\n$/);
  assert.equal(liquid.title, 'l', 'no heading: the slug is the title');
});

/** A code cell with `tags` (none: no metadata.tags at all) and outputs. */
function codeCell(source: string, outputs: any[], tags?: string[]): any {
  return { cell_type: 'code', metadata: tags === undefined ? {} : { tags }, execution_count: 1, source, outputs };
}
const stdout = (text: string) => ({ output_type: 'stream', name: 'stdout', text });
const stderr = (text: string) => ({ output_type: 'stream', name: 'stderr', text });
const png = { output_type: 'display_data', metadata: {}, data: { 'image/png': PNG_1x1, 'text/plain': '<Figure>' } };
const toPost = (nb: any, options: { maxOutputLines?: number } = {}) => notebookToPost(parseNotebook(JSON.stringify(nb), 't.ipynb'), { date: '2025-03-14', slug: 't', ...options });

test("Jupyter Book's remove-cell, remove-input and remove-output tags leave out what they name", () => {
  const cells = [
    { cell_type: 'markdown', metadata: { tags: ['remove-cell'] }, source: '# 숨긴 제목\n\n숨긴 설명입니다.' },
    { cell_type: 'markdown', metadata: {}, source: '# 보이는 제목\n\n보이는 설명입니다.' },
    // remove-input and remove-output do not apply to markdown: the cell stays as written.
    { cell_type: 'markdown', metadata: { tags: ['remove-input', 'remove-output'] }, source: '남는 설명입니다.' },
    codeCell('hiddenCell()', [stdout('hidden cell output\n'), png], ['remove-cell']),
    codeCell('hiddenInput()', [stdout('shown output of hidden input\n'), png], ['remove-input']),
    codeCell('shownCode()', [stdout('removed output\n'), stderr('removed log\n'), png, { output_type: 'error', ename: 'Error', evalue: 'removed error' }], ['remove-output']),
    codeCell('bothRemoved()', [stdout('gone\n')], ['remove-input', 'remove-output']),
    // hide-* folds content in Jupyter Book; a static post cannot fold, so the cell is shown whole.
    codeCell('foldedInBook()', [stdout('folded output\n')], ['hide-input', 'hide-output', 'thebe-init']),
  ];
  const post = toPost({ nbformat: 4, cells });
  const md = post.markdown;
  // remove-cell: neither the markdown cell nor the code cell, input or output; the title is the first heading left.
  assert.equal(post.title, '보이는 제목');
  assert.doesNotMatch(md, /숨긴|hiddenCell|hidden cell output/);
  assert.ok(md.includes('보이는 설명입니다.') && md.includes('남는 설명입니다.'));
  // remove-input: the outputs (its image too) without the code.
  assert.doesNotMatch(md, /hiddenInput/);
  assert.ok(md.includes('```text\nshown output of hidden input\n```'));
  // remove-output: the code without any output, and its image is not written.
  assert.ok(md.includes('```typescript\nshownCode()\n```'));
  assert.doesNotMatch(md, /removed output|removed log|removed error/);
  // Both: nothing at all.
  assert.doesNotMatch(md, /bothRemoved|gone/);
  assert.equal(post.files.length, 1, 'only the remove-input cell image is a file');
  assert.match(md, /!\[그림 1\]\(t-1\.png\)/);
  assert.ok(md.includes('```typescript\nfoldedInBook()\n```\n\n```text\nfolded output\n```'));
  // Exactly what is left, in order: prose, prose, output, image, code, code + output.
  assert.deepEqual((md.match(/^```\w+$/gm) ?? []), ['```text', '```typescript', '```typescript', '```text']);
});

test('cells without tags (or with an empty or unrelated tag list) export as before', () => {
  const plain = syntheticNotebook();
  for (const c of plain.cells) delete c.metadata;
  const withEmpty = syntheticNotebook();
  for (const c of withEmpty.cells) c.metadata = { tags: [] };
  const withOther = syntheticNotebook();
  for (const c of withOther.cells) c.metadata = { tags: ['hide-input', 'full-width'], collapsed: false };
  const expected = toPost(syntheticNotebook());
  for (const nb of [plain, withEmpty, withOther]) assert.deepEqual(toPost(nb), expected);
  assert.equal(expected.files.length, 4);
});

/** `n` stderr chunks, one progress line each, as a training run in a notebook writes them. */
function progressChunks(n: number, label = 'pretraining'): any[] {
  return Array.from({ length: n }, (_, i) => stderr(`${label}: ${i + 1}/${n} (${Math.floor((100 * (i + 1)) / n)}%), ${5 * (i + 1)}s, loss ${(5 - i / 200).toFixed(3)}\n`));
}

test('a long training log: consecutive stderr chunks become one block, shortened with a count', () => {
  const log = progressChunks(500);
  const line = (i: number) => joinedText(log[i - 1]);
  const cell = codeCell('await pretrain()', [stdout('start\n'), ...log, stdout('saved to models/x\n')]);
  const md = toPost({ nbformat: 4, cells: [cell] }).markdown;
  const blocks = [...md.matchAll(/^```text\n([\s\S]*?)\n```$/gm)].map((m) => m[1].split('\n'));
  // stdout before, the stderr log, stdout after: three blocks, streams never mixed.
  assert.deepEqual(blocks.map((b) => b.length), [1, DEFAULT_MAX_OUTPUT_LINES, 1]);
  assert.deepEqual([blocks[0][0], blocks[2][0]], ['start', 'saved to models/x']);
  // Default 40 lines: the first 19, "… (461줄 생략) …", the last 20.
  const [, shortened] = blocks;
  assert.equal(DEFAULT_MAX_OUTPUT_LINES, 40);
  assert.deepEqual(shortened.slice(0, 19), Array.from({ length: 19 }, (_, i) => line(i + 1)));
  assert.equal(shortened[19], '… (461줄 생략) …');
  assert.deepEqual(shortened.slice(20), Array.from({ length: 20 }, (_, i) => line(481 + i)));
  assert.equal(19 + 461 + 20, 500);
  // A log that fits is left whole; one line more and it is shortened.
  const fits = toPost({ nbformat: 4, cells: [codeCell('x', progressChunks(40, 'epoch 1'))] }).markdown;
  assert.ok(fits.includes('epoch 1: 1/40') && fits.includes('epoch 1: 20/40') && !fits.includes('생략'));
  const over = toPost({ nbformat: 4, cells: [codeCell('x', progressChunks(41, 'epoch 1'))] }).markdown;
  assert.ok(over.includes('… (2줄 생략) …') && over.includes('epoch 1: 41/41'));
  // A long text/plain result is shortened the same way, to the limit asked for.
  const result = { output_type: 'execute_result', execution_count: 1, metadata: {}, data: { 'text/plain': Array.from({ length: 100 }, (_, i) => `row ${i}`).join('\n') } };
  const short = toPost({ nbformat: 4, cells: [codeCell('rows', [result])] }, { maxOutputLines: 5 }).markdown;
  assert.ok(short.includes('```text\nrow 0\nrow 1\n… (96줄 생략) …\nrow 98\nrow 99\n```'), short);
  assert.throws(() => toPost({ nbformat: 4, cells: [] }, { maxOutputLines: 0 }), /maxOutputLines: expected a positive whole number, got 0$/);
});

test('--max-output-lines sets the limit from the command line', () => {
  const dir = tempDir('nlpbook-post-');
  const nbFile = path.join(dir, 'log.ipynb');
  fs.writeFileSync(nbFile, JSON.stringify({ nbformat: 4, cells: [codeCell('await train()', progressChunks(500, 'epoch 1'))] }));
  const r = runCli(['export-post', nbFile, '--out', dir, '--date', '2025-03-14', '--max-output-lines', '10', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const md = fs.readFileSync(jsonLines(r.stdout)[0].post, 'utf8');
  const block = /```text\n([\s\S]*?)\n```/.exec(md)![1].split('\n');
  assert.equal(block.length, 10);
  assert.match(block[0], /^epoch 1: 1\/500 /);
  assert.equal(block[4], '… (491줄 생략) …');
  assert.match(block[9], /^epoch 1: 500\/500 /);
});

function joinedText(o: any): string {
  return [o.text].flat().join('').replace(/\n$/, '');
}

/** Runs src/cli/main.ts's main() in this process: exit status and what it printed on stderr. */
async function runMain(argv: string[]): Promise<{ status: number | undefined; stderr: string }> {
  const printed: string[] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => printed.push(args.join(' '));
  try {
    await main(argv);
  } finally {
    console.error = consoleError;
  }
  const status = process.exitCode === undefined ? 0 : Number(process.exitCode);
  process.exitCode = undefined;
  return { status, stderr: printed.join('\n') };
}

test('bad input: one-line errors that name the file and what was wrong', async () => {
  const dir = tempDir('nlpbook-post-');
  const write = (name: string, text: string) => {
    fs.writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };
  const cases: [string[], RegExp][] = [
    [[write('broken.ipynb', '{\n  "cells": [\n    {"cell_type": "code",}\n  ]\n}')], /broken\.ipynb: not valid JSON \(line 3 column 2\d: .+\)$/],
    [[write('empty.ipynb', '')], /empty\.ipynb: not valid JSON \(the file is empty\)$/],
    [[write('list.ipynb', '[1, 2]')], /list\.ipynb: not a Jupyter notebook \(expected a JSON object with "cells", found a list\)$/],
    [[write('nocells.ipynb', '{"metadata": {}}')], /nocells\.ipynb: not a Jupyter notebook: no "cells" list$/],
    [[write('v3.ipynb', '{"nbformat": 3, "worksheets": []}')], /v3\.ipynb: not a Jupyter notebook: no "cells" list \(nbformat 3: open and save it in Jupyter/],
    [[write('type.ipynb', '{"nbformat": 4, "cells": [{"cell_type": "markdown", "source": ""}, {"cell_type": "heading", "source": ""}]}')], /type\.ipynb: cell 2: "cell_type" is "heading", expected "markdown", "code" or "raw"$/],
    [[write('source.ipynb', '{"nbformat": 4, "cells": [{"cell_type": "code", "source": 5}]}')], /source\.ipynb: cell 1: "source" must be a string or a list of strings, found a number$/],
    [[write('tags.ipynb', JSON.stringify({ nbformat: 4, cells: [{ cell_type: 'markdown', source: '' }, { cell_type: 'code', source: '', metadata: { tags: 'remove-cell' } }] }))], /tags\.ipynb: cell 2: "metadata\.tags" must be a list of strings, found a string \(write \["remove-cell"\]\)$/],
    [[write('tags2.ipynb', JSON.stringify({ nbformat: 4, cells: [{ cell_type: 'code', source: '', metadata: { tags: ['remove-input', 3] } }] }))], /tags2\.ipynb: cell 1: "metadata\.tags" must be a list of strings, found a list holding a number$/],
    [[write('meta.ipynb', JSON.stringify({ nbformat: 4, cells: [{ cell_type: 'code', source: '', metadata: ['remove-cell'] }] }))], /meta\.ipynb: cell 1: "metadata" must be an object, found a list$/],
    [[write('png.ipynb', JSON.stringify({ nbformat: 4, cells: [{ cell_type: 'code', source: '', outputs: [{ output_type: 'display_data', data: { 'image/png': 'PHN2Zz4=' } }] }] }))], /png\.ipynb: cell 1 output 1: image\/png is not base64 PNG data$/],
    [[write('att.ipynb', JSON.stringify({ nbformat: 4, cells: [{ cell_type: 'markdown', source: '![x](attachment:gone.png)' }] }))], /att\.ipynb: cell 1: links to attachment:gone\.png but the cell has no such attachment$/],
    [[path.join(dir, 'missing.ipynb')], /missing\.ipynb: no such file$/],
    [[dir], /: is a folder, expected a \.ipynb file$/],
  ];
  const good = path.join(NOTEBOOKS, '01-settings.ipynb');
  const file = write('a-file', 'x');
  cases.push([[good, '--out', file], /--out .*a-file: a file is in the way, expected a folder$/]);
  cases.push([[good, '--out', path.join(file, 'sub')], /--out .*a-file\/sub: a file is in the way, expected a folder$/]);
  cases.push([[good, '--date', '2025-02-30'], /--date: expected a date YYYY-MM-DD, got "2025-02-30"$/]);
  for (const bad of ['0', '-3', '1.5', 'many', '']) {
    // "=": parseArgs reads a value after a space that starts with "-" as a missing value.
    cases.push([[good, `--max-output-lines=${bad}`], new RegExp(`--max-output-lines: expected a positive whole number of lines, got ${JSON.stringify(JSON.stringify(bad)).slice(1, -1)}$`)]);
  }
  cases.push([[good, '--slug', '한글'], /slug: expected lowercase ASCII letters, digits and dashes, got "한글"$/]);
  cases.push([[], /expected one NOTEBOOK \(\.ipynb\), got none/]);
  cases.push([[good], /--out DIR is required/]);
  for (const [i, [args, expected]] of cases.entries()) {
    // Every case writes to dir/out unless it names its own --out (or tests a missing one).
    const argv = ['export-post', ...args];
    if (args.length > 0 && !args.includes('--out') && expected.source !== '--out DIR is required') argv.push('--out', path.join(dir, 'out'));
    // The first two as a user runs them (a child process); the rest through the same main() in-process (faster).
    const r = i < 2 ? runCli(argv) : await runMain(argv);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
    assert.match(lines[0], /^nlpbook export-post: /);
    assert.match(lines[0], expected);
  }
  // Nothing was written for the bad notebooks.
  assert.deepEqual(fs.existsSync(path.join(dir, 'out')) ? fs.readdirSync(path.join(dir, 'out')) : [], []);
});
