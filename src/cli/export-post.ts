// `nlpbook export-post`: a notebook as a Jekyll blog post with its charts as PNG files
// beside it (course steps 8-9: share what the notebook showed).
import { check } from '../util/errors';
import { DEFAULT_MAX_OUTPUT_LINES } from '../export/post';
import { exportPost } from '../export/write-post';
import { defineCommand } from './command';

const USAGE = `usage: nlpbook export-post NOTEBOOK --out DIR [--date YYYY-MM-DD] [--slug SLUG] [--title TEXT]
       [--max-output-lines N] [--svg] [--json]

Writes DIR/YYYY-MM-DD-SLUG.md, a Jekyll post (front matter: layout, title, date,
categories: [NLP]) with the notebook's markdown cells, its code as \`\`\`typescript blocks and its
outputs: text as blocks, tables as Markdown tables, every chart and image as a file
DIR/SLUG-N.png linked by a relative path. SVG charts are drawn to PNG by Chromium
($NLPBOOK_CHROMIUM, $CHROME_PATH, chromium on PATH; without one they stay .svg files). Scripts are never
copied; interactive charts without a PNG get a note. Cells tagged remove-cell (Jupyter
Book's tags, in the cell's metadata) are left out, remove-input ones show only their outputs,
remove-output ones only their code. Run it on an executed notebook (jupyter nbconvert
--execute) to get the outputs.

  --out DIR          folder for the post and its images (created if missing)
  --date YYYY-MM-DD  the post's date (default: today)
  --slug SLUG        ASCII name part (default: from NOTEBOOK, e.g. 07-training)
  --title TEXT       title (default: the notebook's first heading)
  --max-output-lines N
                     a text output (e.g. a training log) longer than N lines shows its
                     first and last lines and how many were left out (default ${DEFAULT_MAX_OUTPUT_LINES})
  --svg              keep SVG charts as .svg files (no Chromium)
  --json             one line: {"post","title","images","svg","interactive_only","removed"}`;

export const command = defineCommand({
  name: 'export-post',
  summary: 'a notebook as a Jekyll blog post with PNG charts (NOTEBOOK --out DIR [--date YYYY-MM-DD])',
  usage: USAGE,
  options: {
    out: { type: 'string' },
    date: { type: 'string' },
    slug: { type: 'string' },
    title: { type: 'string' },
    'max-output-lines': { type: 'string' },
    svg: { type: 'boolean' },
  },
  positionals: true,
  json: true,
  async run({ values, positionals, notice }) {
    check(positionals.length === 1, `expected one NOTEBOOK (.ipynb), got ${positionals.length === 0 ? 'none' : positionals.length}; see nlpbook export-post --help`);
    check(values.out !== undefined, '--out DIR is required (the folder for the post and its images)');
    const maxLines = values['max-output-lines'];
    check(maxLines === undefined || (/^[1-9]\d*$/.test(maxLines.trim()) && Number.isSafeInteger(Number(maxLines))), () => `--max-output-lines: expected a positive whole number of lines, got ${JSON.stringify(maxLines)}`);
    const r = await exportPost(positionals[0], {
      outDir: values.out,
      date: values.date,
      slug: values.slug,
      title: values.title,
      maxOutputLines: maxLines === undefined ? undefined : Number(maxLines),
      png: values.svg ? false : 'auto',
    });
    if (r.pngSkipped) notice(`${r.svg} chart(s) kept as .svg: ${r.pngSkipped}`);
    if (r.interactiveOnly > 0) notice(`${r.interactiveOnly} interactive chart(s) had no PNG; the post notes them`);
    return { post: r.post, title: r.title, images: r.images, svg: r.svg, interactive_only: r.interactiveOnly, removed: r.removed };
  },
  text(r) {
    console.log(r.post);
  },
});
