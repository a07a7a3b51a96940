// `nlpbook export-post` against hostile notebooks (real .ipynb files through exportPost):
//   - live HTML in markdown cells and outputs (<img onerror>, <svg onload>, <object>,
//     javascript: links in HTML and in Markdown, kramdown attribute lists) does not reach the post;
//   - "{% endraw %}" in a cell does not end the Liquid raw wrapper: a small model of Liquid 4's
//     tokenizer and raw tag renders the body back exactly, evaluating nothing else;
//   - a newline in the notebook's language name does not escape the code fence;
//   - SVG charts are drawn with JavaScript and network off: an SVG whose <script> would repaint
//     it, and whose style sheet, <image> and <use> ask a local server for files, draws like the
//     same SVG without them, and the server sees no request.
// What a user wrote otherwise stays: Korean prose, quotes, "a < b", safe links, inline code.
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
import { findChromium } from '../src/charts/render';
import { parseNotebook } from '../src/export/notebook';
import { notebookToPost } from '../src/export/post';
import { svgToPng } from '../src/export/svg-png';
import { exportPost } from '../src/export/write-post';
import { tempDir } from './helpers';

const PNG_1x1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
const hasChromium = 'path' in findChromium();

// --- a local server that counts every request an SVG (or a page) makes ------------------
let hits: string[] = [];
let server: http.Server;
let base = '';
before(async () => {
  server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    res.writeHead(200, { 'Content-Type': req.url?.endsWith('.css') ? 'text/css' : 'image/svg+xml' });
    res.end(req.url?.endsWith('.css') ? 'rect { fill: red !important; }' : '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect id="a" width="40" height="20" fill="red"/></svg>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const md = (source: string) => ({ cell_type: 'markdown', metadata: {}, source });
const code = (source: string, outputs: any[] = []) => ({ cell_type: 'code', metadata: {}, execution_count: 1, source, outputs });
const html = (text: string) => ({ output_type: 'display_data', metadata: {}, data: { 'text/html': text } });

/**
 * Writes a notebook file and exports it (SVGs kept as .svg unless png is asked for). The post's
 * prose (fenced blocks and inline code removed) is cut as test/post-checks.ts does; its image
 * links are not checked here (<img src=x> is part of the attack).
 */
async function exportNotebook(nb: any, png: boolean | 'auto' = false): Promise<{ markdown: string; prose: string; images: string[]; dir: string }> {
  const dir = tempDir('nlpbook-hostile-post-');
  const file = path.join(dir, 'hostile.ipynb');
  fs.writeFileSync(file, JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, ...nb }));
  const r = await exportPost(file, { outDir: path.join(dir, '_posts'), date: '2025-03-14', png });
  const markdown = fs.readFileSync(r.post, 'utf8');
  assert.match(markdown, /^---\nlayout: post\ntitle: ".*"\ndate: 2025-03-14\ncategories: \[NLP\]\n---\n/);
  const proseLines: string[] = [];
  let open: { char: string; len: number } | undefined;
  for (const line of markdown.split('\n')) {
    const m = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(line);
    if (open) {
      if (m && m[1][0] === open.char && m[1].length >= open.len && m[2].trim() === '') open = undefined;
    } else if (m) open = { char: m[1][0], len: m[1].length };
    else proseLines.push(line);
  }
  assert.equal(open, undefined, 'every fence is closed');
  return { markdown, prose: proseLines.join('\n').replace(/(`+)[\s\S]*?\1/g, ''), images: r.images, dir };
}

/** Elements and attributes a post's prose may hold as HTML (sanitize.ts's list for markdown). */
const ALLOWED = new Set('a abbr b big blockquote br caption center cite code col colgroup dd del details dfn div dl dt em figcaption figure font h1 h2 h3 h4 h5 h6 hr i img ins kbd li mark ol p pre q rp rt ruby s samp small span strike strong sub summary sup table tbody td tfoot th thead tr tt u ul var wbr'.split(' '));

/** Fails on anything in the post's prose that a browser would run or that loads from elsewhere. */
function assertNothingLive(prose: string, where: string): void {
  // Autolinks to safe schemes are links, not tags (the Markdown reader makes them <a href>).
  const tags = prose.replace(/<(https?|mailto|ftp):[^\s<>"'`]*>/gi, '');
  for (const tag of tags.match(/<[A-Za-z][^>]*>/g) ?? []) {
    const name = /^<([A-Za-z][\w-]*)/.exec(tag)![1].toLowerCase();
    assert.ok(ALLOWED.has(name), `${where}: <${name}> in the post: ${tag}`);
    // Attributes as a browser reads them: name, then an optional quoted or bare value.
    for (const m of tag.slice(name.length + 1).matchAll(/([^\s"'>\/=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]+))?/g)) {
      const attr = m[1].toLowerCase();
      const value = (m[2] ?? '').replace(/^["']|["']$/g, '');
      assert.doesNotMatch(attr, /^on/, `${where}: event handler in ${tag}`);
      if (['href', 'src', 'cite', 'action', 'formaction', 'data', 'srcdoc'].includes(attr)) {
        assert.match(value, /^(https?:|mailto:|#|[^:]*$|data:image\/(png|jpeg|gif);)/i, `${where}: ${attr}="${value}"`);
      }
    }
  }
  // Markdown links: none to a scheme other than http(s)/mailto (relative ones have no scheme).
  for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]*)/g)) assert.match(m[1], /^(https?:|mailto:|#|[^:]*$)/i, `${where}: link to ${m[1]}`);
  for (const m of prose.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S*)/gm)) assert.match(m[1], /^(https?:|mailto:|#|[^:]*$)/i, `${where}: definition of ${m[1]}`);
  // kramdown attribute lists and extensions, which could add attributes to an element.
  assert.doesNotMatch(prose.replace(/\\\\/g, ''), /(^|[^\\])\{:/, `${where}: a kramdown attribute list survived`);
  assert.doesNotMatch(prose, /<(script|style|iframe|object|embed|svg|math|form|input|textarea|base|meta|link)\b/i, where);
}

test('live HTML and javascript: links in markdown cells and outputs do not reach the post; the text stays', async () => {
  const hostileHtml = [
    '<img src=x onerror=alert(1)>',
    '<svg onload=alert(2)><circle r="4"/></svg>',
    '<object data="javascript:alert(3)"></object><embed src="x.swf">',
    '<iframe srcdoc="<script>alert(4)</script>"></iframe>',
    '<a href="javascript:alert(5)">링크</a> <a href=" JaVaScRiPt:alert(6)">b</a> <a href="&#106;avascript:alert(7)">c</a>',
    '<details open ontoggle=alert(8)><summary>열기</summary>내용</details>',
    '<math><mtext><table><mglyph><style><!--</style><img title="--&gt;&lt;img src=1 onerror=alert(9)&gt;"></mglyph></table></mtext></math>',
    '<div style="position:fixed;inset:0;background:url(javascript:alert(10))" onmouseover="alert(11)">덮개</div>',
    '<<x></x>img src=x onerror=alert(12)>',
    '<form action="javascript:alert(13)"><input autofocus onfocus=alert(14)></form>',
  ].join('\n');
  const markdownCell = [
    '# 적대적인 노트북',
    '',
    '> 인용문은 그대로: a < b, b > c & d',
    '',
    hostileHtml,
    '',
    '[누르기](javascript:alert(20)) [entity](&#x6A;avascript&colon;alert(21)) [angle](<javascript:alert(22)>) ![img](javascript:alert(23))',
    '[괜찮은 링크](https://github.com/e9t/nsmc) <https://example.com> [상대](notes/a.md#b)',
    '',
    '[ref]: javascript:alert(24)',
    '',
    '*강조*{: onmouseover="alert(25)"} {::nomarkdown}<script>alert(26)</script>{:/nomarkdown}',
    '',
    '코드는 글자: `<img src=x onerror=alert(27)>` 그리고 끝.',
  ].join('\n');
  const nb = {
    cells: [
      md(markdownCell),
      code('show()', [
        html(`<p>출력</p>${hostileHtml}<p>[출력 링크](javascript:alert(30)) {: onclick="alert(31)"}</p>`),
        { output_type: 'display_data', metadata: {}, data: { 'text/markdown': `**마크다운 출력** ${hostileHtml} [x](javascript:alert(32))` } },
        { output_type: 'display_data', metadata: {}, data: { 'image/svg+xml': `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" onload="alert(33)"><script>alert(34)</script><a href="javascript:alert(35)"><rect width="10" height="10"/></a><foreignObject><iframe src="javascript:alert(36)"/></foreignObject></svg>` } },
      ]),
      // An unclosed <style> takes the rest of its own cell (as in a browser), not the next one.
      md('<style>body { display: none }\n숨겨진 줄'),
      md('다음 셀은 보입니다.'),
    ],
  };
  const post = await exportNotebook(nb);
  assertNothingLive(post.prose, 'post');
  assert.doesNotMatch(post.prose, /alert\((1|2|3|4|5|6|7|8|10|11|13|14|26|33|34|35|36)\)/, 'removed with their elements or attributes');
  // What was written stays: the quote, the safe links, the inline code, the Korean text.
  assert.doesNotMatch(post.markdown, /display: none|숨겨진 줄/);
  for (const kept of ['다음 셀은 보입니다.', '> 인용문은 그대로: a < b, b > c & d', '[괜찮은 링크](https://github.com/e9t/nsmc)', '[상대](notes/a.md#b)', '`<img src=x onerror=alert(27)>`', '링크', '<summary>열기</summary>내용', '덮개', '**마크다운 출력**']) {
    assert.ok(post.markdown.includes(kept), `kept: ${kept}`);
  }
  // Text that only looks like a tag once a dropped element is gone is shown as text; an attribute's text stays text.
  assert.ok(post.markdown.includes('&lt;img src=x onerror=alert(12)>'));
  assert.ok(post.markdown.includes('<img title="--&gt;&lt;img src=1 onerror=alert(9)&gt;" />'));
  // An autolink stays a link, written [url](url): a bare "<" could be read as a tag in an HTML block.
  assert.ok(post.markdown.includes('[https://example.com](https://example.com)'));
  // A javascript: link shows as the characters written, linking nowhere.
  assert.ok(post.markdown.includes('[누르기]\\(javascript:alert(20))'));
  assert.ok(post.markdown.includes('[ref]\\: javascript:alert(24)'));
  assert.ok(post.markdown.includes('*강조*\\{: onmouseover="alert(25)"}'));
  // The SVG file carries no script, handler, link or foreign content either.
  const svgs = post.images.filter((f) => f.endsWith('.svg')).map((f) => fs.readFileSync(f, 'utf8'));
  for (const svg of svgs) assert.doesNotMatch(svg, /script|onload|javascript|foreignObject|iframe|<a\b|alert/i, svg);
  // The HTML output's inline <svg onload> is a chart file like any other, the image/svg+xml output
  // too (markdown, a cell's or an output's, keeps no SVG).
  assert.deepEqual(svgs, [
    '<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"></circle></svg>',
    '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"></rect></svg>',
  ]);
});

/**
 * Liquid 4 (Jekyll's) as far as this post needs: the template is split into tokens by Liquid's
 * own pattern ({%...%}, {{...}}, a lone {% or {{), {% raw %} keeps everything up to the first
 * tag named endraw (the text before that tag's {% included, as Liquid's Raw#parse does), and
 * {{ "..." }} prints a string. Any other tag or variable would be evaluated: it is recorded.
 */
function renderLiquid(template: string): { output: string; evaluated: string[] } {
  const tokens = template.split(/(\{%.*?%\}|\{\{.*?\}\}?|\{\{|\{%)/s).filter((t) => t !== '');
  const full = /^([\s\S]*)\{%-?\s*(\w+)\s*([\s\S]*?)?-?%\}$/;
  let output = '';
  const evaluated: string[] = [];
  while (tokens.length) {
    const token = tokens.shift()!;
    const tag = /^\{%-?\s*(\w+)/.exec(token);
    if (tag && tag[1] === 'raw') {
      for (;;) {
        const t = tokens.shift();
        if (t === undefined) throw new Error('raw never closed');
        const m = full.exec(t);
        if (m && m[2] === 'endraw') {
          output += m[1];
          break;
        }
        output += t;
      }
    } else if (token.startsWith('{{') && /^\{\{\s*"([^"]*)"\s*\}\}$/.test(token)) {
      output += /^\{\{\s*"([^"]*)"\s*\}\}$/.exec(token)![1];
    } else if (token.startsWith('{%') || token.startsWith('{{')) {
      evaluated.push(token);
    } else {
      output += token;
    }
  }
  return { output, evaluated };
}

test('"{% endraw %}" in a cell does not end the Liquid raw block: Jekyll renders the body as written', () => {
  const sources = [
    'const a = "{% endraw %}{{ site.github.token }}{% include secret.html %}";',
    'x {%endraw%} {%- endraw -%} {% endrawn %} {% x {% endraw %} y',
    '{{ page.title }} {% raw %} nested {% endraw %} after',
  ];
  const nb = parseNotebook(
    JSON.stringify({ nbformat: 4, cells: [md('# 제목\n\n본문 {% endraw %}{{ site.url }} 끝'), ...sources.map((s) => code(s, [{ output_type: 'stream', name: 'stdout', text: `${s}\n` }]))] }),
    'l.ipynb',
  );
  const post = notebookToPost(nb, { date: '2025-03-14', slug: 'l' });
  const [, frontMatter, body] = /^(---\n[\s\S]*?\n---\n\n)([\s\S]*)$/.exec(post.markdown)!;
  assert.ok(frontMatter);
  // The exact form: the whole body in one raw block, each endraw-starting "{%" printed through Liquid.
  assert.ok(body.startsWith('{% raw %}\n') && body.endsWith('\n{% endraw %}\n'));
  assert.ok(body.includes('const a = "{% endraw %}{{ "{%" }}{% raw %} endraw %}{{ site.github.token }}{% include secret.html %}";'), body);
  const { output, evaluated } = renderLiquid(body);
  assert.deepEqual(evaluated.filter((t) => t !== '{{ "{%" }}'), [], 'Liquid evaluates nothing of the notebook');
  // Rendered, the body is the post as it would be without Liquid.
  const intended = body.slice('{% raw %}\n'.length, -'\n{% endraw %}\n'.length).split('{% endraw %}{{ "{%" }}{% raw %}').join('{%');
  assert.equal(output, `\n${intended}\n\n`);
  for (const s of sources) assert.ok(output.includes(`\`\`\`typescript\n${s}\n\`\`\``), s);
  assert.ok(output.includes('본문 {% endraw %}{{ site.url }} 끝'));
  // The model of Liquid is not too kind: without the fix the same body leaks.
  const naive = renderLiquid(`{% raw %}\n${intended}\n{% endraw %}\n`);
  assert.ok(naive.evaluated.length > 0);
});

test("a newline in the notebook's language name does not escape the code fence", async () => {
  const nb = {
    metadata: { language_info: { name: 'typescript\n```\n<img src=x onerror=alert(1)>\n```js' } },
    cells: [code('console.log(1)')],
  };
  const post = await exportNotebook(nb);
  assert.ok(post.markdown.includes('```text\nconsole.log(1)\n```'), post.markdown);
  assert.doesNotMatch(post.markdown, /onerror/);
  assertNothingLive(post.prose, 'fence');
  // A plain language name is used as it is.
  const ok = await exportNotebook({ metadata: { kernelspec: { language: 'typescript' } }, cells: [code('1')] });
  assert.ok(ok.markdown.includes('```typescript\n1\n```'));
});

/** An SVG that, drawn with scripts and network on, is red and asks `base` for five files. */
const hostileSvg = () =>
  `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="40" height="20">` +
  `<style>@import url(${base}/a.css); .x { fill: url(${base}/b.svg#a) }</style>` +
  `<rect id="r" width="40" height="20" fill="green"/>` +
  // (outside the 40 x 20 picture: a blocked <image> draws a broken-image mark where it stands)
  `<image href="${base}/c.svg" x="60" y="0" width="20" height="20"/>` +
  `<use xlink:href="${base}/d.svg#a"/>` +
  `<script>document.getElementById('r').setAttribute('fill', 'red'); fetch('${base}/e');</script>` +
  `</svg>`;
const greenSvg = '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20" fill="green"/></svg>';
const redSvg = '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20" fill="red"/></svg>';

test('SVGs are drawn with JavaScript and network off: no request, no script, the same pixels as without them', { skip: !hasChromium && 'no Chromium' }, async () => {
  hits = [];
  // The second wall alone: svgToPng gets the raw hostile SVG.
  const pngs = await svgToPng([hostileSvg(), greenSvg, redSvg]);
  assert.ok(!('skipped' in pngs), JSON.stringify(pngs));
  const [hostile, green, red] = pngs as Uint8Array[];
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(hits, [], 'no request reached the server');
  assert.deepEqual(Buffer.from(hostile), Buffer.from(green), 'drawn as if the script, style sheet and references were not there');
  assert.notDeepEqual(Buffer.from(green), Buffer.from(red), 'a repaint would show');
  // Through export-post: the chart is sanitized, then drawn the same way.
  const post = await exportNotebook({ cells: [code('chart()', [{ output_type: 'display_data', metadata: {}, data: { 'image/svg+xml': hostileSvg() } }])] }, true);
  assert.deepEqual(hits, []);
  assert.equal(post.images.length, 1);
  assert.deepEqual(fs.readFileSync(post.images[0]), Buffer.from(green));
});

test('an output image that is not SVG or has no <svg> left after sanitizing is one clear error', () => {
  const nb = parseNotebook(JSON.stringify({ nbformat: 4, cells: [code('x', [{ output_type: 'display_data', data: { 'image/svg+xml': '<script>"<svg>"</script>' } }])] }), 's.ipynb');
  assert.throws(() => notebookToPost(nb, { date: '2025-03-14', slug: 's', source: 's.ipynb' }), /s\.ipynb: cell 1 output 1: image\/svg\+xml holds no <svg> element$/);
  // An attachment image that is fine stays an image file.
  const ok = notebookToPost(parseNotebook(JSON.stringify({ nbformat: 4, cells: [{ cell_type: 'markdown', source: '<img src="attachment:a.png" alt="그림" onerror="x()">', attachments: { 'a.png': { 'image/png': PNG_1x1 } } }] }), 'a.ipynb'), { date: '2025-03-14', slug: 'a' });
  assert.equal(ok.files.length, 1);
  assert.match(ok.markdown, /<img src="a-1\.png" alt="그림" \/>/);
});
