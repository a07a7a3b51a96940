// Executes every notebook headlessly with the registered "nlpbook" kernel, the way a
// study-club member would run it top to bottom; a failing cell fails the test.
// Offline: NLPBOOK_MIRROR points the corpus and model downloads at ../shared. The tiny
// profile (NLPBOOK_PROFILE=tiny, the readers' quick look) keeps each run to seconds; its
// folders go to one temp folder for the whole file, so a notebook reuses what an earlier
// one made, as a reader's would. The committed notebooks are executed as copies: their
// outputs (a real offline run, test/committed-notebooks.test.ts) are never rewritten.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { findChromium } from '../src/charts/render';
import { exportPost } from '../src/export/write-post';
import { REPO, SHARED, tempDir } from './helpers';
import { assertImageFile, checkPost } from './post-checks';

const dir = path.join(REPO, 'notebooks');
const courseDir = tempDir('nlpbook-course-');
const notebooks = fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb')).sort();

test('there are notebooks to run', () => {
  assert.ok(notebooks.length > 0, 'no notebooks in notebooks/');
});

for (const name of notebooks) {
  test(`notebook ${name} runs top to bottom`, { timeout: 15 * 60 * 1000 }, async () => {
    const out = tempDir('nlpbook-nb-');
    // nbclient clears each cell's outputs before running it, so the committed outputs never pass for this run's.
    const r = cp.spawnSync('jupyter-nbconvert', ['--to', 'notebook', '--execute',
      '--ExecutePreprocessor.timeout=900', '--ExecutePreprocessor.kernel_name=nlpbook',
      path.join(dir, name), '--output-dir', out, '--output', name], {
      cwd: REPO,
      env: { ...process.env, NLPBOOK_MIRROR: SHARED, HF_HOME: path.join(out, 'hf'), NLPBOOK_PROFILE: 'tiny', NLPBOOK_COURSE_DIR: courseDir },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    assert.ok(!r.error, `jupyter-nbconvert could not start (${r.error?.message}); install it: apt-get install jupyter-nbconvert`);
    // nbclient names the failing cell and the kernel's error after this marker.
    const err = r.stderr || '';
    const at = err.indexOf('An error occurred while executing');
    const tail = (at >= 0 ? err.slice(at) : err.split('\n').slice(-25).join('\n')).slice(0, 4000);
    assert.equal(r.status, 0, `${name} failed:\n${tail}`);
    const executed = JSON.parse(fs.readFileSync(path.join(out, name), 'utf8'));
    const errors = executed.cells.flatMap((c: any) => (c.outputs ?? []).filter((o: any) => o.output_type === 'error'));
    assert.deepEqual(errors, [], `${name} has error outputs`);
    const printed = executed.cells.flatMap((c: any) => c.outputs ?? [])
      .map((o: any) => [o.text ?? '', o.data?.['text/plain'] ?? ''].flat().join('')).join('\n');
    assert.match(printed, /프로필: tiny/, `${name} does not say which profile it runs with`);
    // The executed notebook as a blog post (nlpbook export-post): every image link resolves,
    // no <script>; with a Chromium every chart is a PNG.
    const post = await exportPost(path.join(out, name), { outDir: path.join(out, 'post'), date: '2025-01-01' });
    const images = checkPost(post.post).images;
    images.forEach(assertImageFile);
    const charts = executed.cells.flatMap((c: any) => c.outputs ?? []).filter((o: any) => o.data &&
      (o.data['image/png'] || o.data['image/svg+xml'] || /<svg\b/.test([o.data['text/html'] ?? ''].flat().join('')))).length;
    assert.ok(images.length >= charts, `${name}: ${charts} chart outputs but ${images.length} images in the post`);
    if ('path' in findChromium()) assert.equal(post.svg, 0, `${name}: charts left as SVG`);
  });
}
