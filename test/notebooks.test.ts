// Executes every notebook headlessly with the registered "nlpbook" kernel, the way a
// study-club member would run it top to bottom; a failing cell fails the test.
// Offline: NLPBOOK_MIRROR points the corpus and model downloads at ../shared.
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
const notebooks = fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb')).sort();

test('there are notebooks to run', () => {
  assert.ok(notebooks.length > 0, 'no notebooks in notebooks/');
});

for (const name of notebooks) {
  test(`notebook ${name} runs top to bottom`, { timeout: 15 * 60 * 1000 }, async () => {
    const out = tempDir('nlpbook-nb-');
    const r = cp.spawnSync('jupyter-nbconvert', ['--to', 'notebook', '--execute',
      '--ExecutePreprocessor.timeout=900', '--ExecutePreprocessor.kernel_name=nlpbook',
      path.join(dir, name), '--output-dir', out, '--output', name], {
      cwd: REPO,
      env: { ...process.env, NLPBOOK_MIRROR: SHARED, HF_HOME: path.join(out, 'hf'), NLPBOOK_NOTEBOOK_TEST: '1' },
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
