// The committed notebooks carry the outputs of one real offline run (`npm run notebooks`):
// GitHub and the blog posts show them as they are. This reads them only (nothing is executed)
// and fails when they are unrun, half-run, partly rerun by hand, show an error, or carry what
// a static page cannot show (scripts, interactive plotly charts, oversized files).
// NLPBOOK_NOTEBOOKS_DIR points it at another folder (to check a run made elsewhere).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { REPO } from './helpers';

const dir = path.resolve(process.env.NLPBOOK_NOTEBOOKS_DIR ?? path.join(REPO, 'notebooks'));
const notebooks = fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb') && !f.startsWith('.')).sort();
/** A JavaScript stack frame: how tslab shows a thrown error (on stderr, with an empty error reply). */
const STACK_LINE = /^\s+at .+\(.+:\d+:\d+\)$/m;
const MAX_BYTES = 2 * 1024 * 1024;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const text = (t: unknown): string => (Array.isArray(t) ? t.join('') : typeof t === 'string' ? t : '');

/** Everything a reader sees of an output as text (streams, text/plain, HTML, markdown...), images left out. */
function outputText(o: any): string {
  if (o.output_type === 'stream') return text(o.text);
  if (o.output_type === 'error') return [o.ename, o.evalue, ...(o.traceback ?? [])].join('\n');
  return Object.entries(o.data ?? {}).filter(([mime]) => !mime.startsWith('image/') || mime === 'image/svg+xml')
    .map(([, v]) => (typeof v === 'string' || Array.isArray(v) ? text(v) : JSON.stringify(v))).join('\n');
}

/** Why a base64 image/png value is not a PNG, or null. */
function pngProblem(value: unknown): string | null {
  if (typeof value !== 'string' && !Array.isArray(value)) return `image/png is ${typeof value}, expected base64 text`;
  const b64 = text(value).replace(/\s+/g, ''); // nbformat may wrap base64 over lines
  if (b64.length === 0 || b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return 'image/png is not valid base64';
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.length <= PNG_SIGNATURE.length || !bytes.subarray(0, 8).equals(PNG_SIGNATURE)) return 'image/png does not start with the PNG signature';
  return null;
}

/** Every problem of one committed notebook, each naming the notebook and the cell index. */
function notebookProblems(name: string, raw: string): string[] {
  const problems: string[] = [];
  const bytes = Buffer.byteLength(raw);
  if (bytes > MAX_BYTES) problems.push(`${name}: ${(bytes / 1e6).toFixed(2)} MB, more than 2 MB`);
  let nb: any;
  try {
    nb = JSON.parse(raw);
  } catch (e) {
    return [...problems, `${name}: not JSON (${(e as Error).message})`];
  }
  const profile = nb.metadata?.nlpbook?.profile;
  if (profile !== 'offline') {
    problems.push(`${name}: metadata.nlpbook.profile is ${JSON.stringify(profile)}, expected "offline" (run \`NLPBOOK_MIRROR=../shared npm run notebooks\`)`);
  }
  // Empty code cells are skipped by nbclient: no count expected.
  const counted = (cell: any) => cell.cell_type === 'code' && text(cell.source).trim() !== '';
  const neverRun = (nb.cells ?? []).filter(counted).every((cell: any) => cell.execution_count == null);
  if (neverRun) problems.push(`${name}: not executed (no code cell has an execution_count)`);
  let expected = 1;
  let saysProfile = false;
  (nb.cells ?? []).forEach((cell: any, i: number) => {
    if (cell.cell_type !== 'code') return;
    const at = `${name} cell[${i}]`;
    if (counted(cell) && !neverRun) {
      if (cell.execution_count !== expected) {
        problems.push(`${at}: execution_count ${JSON.stringify(cell.execution_count)}, expected ${expected} (one top-to-bottom run counts 1, 2, 3, ...)`);
      }
      expected += 1; // by position: one wrong count is reported once, not for every later cell
    }
    (cell.outputs ?? []).forEach((o: any, j: number) => {
      const where = `${at} output ${j}`;
      if (o.output_type === 'error') problems.push(`${where}: error output ${o.ename}: ${o.evalue}`);
      if (o.output_type === 'stream' && o.name === 'stderr' && STACK_LINE.test(text(o.text))) {
        problems.push(`${where}: stack trace on stderr: ${text(o.text).trim().split('\n').slice(0, 2).join(' / ').slice(0, 300)}`);
      }
      const json = JSON.stringify(o);
      if (json.includes('<script')) problems.push(`${where}: contains <script (a static page cannot run it)`);
      if (o.data && 'application/vnd.plotly.v1+json' in o.data) problems.push(`${where}: interactive plotly output (commit PNG charts: NLPBOOK_CHARTS=png)`);
      else if (json.includes('application/vnd.plotly.v1+json')) problems.push(`${where}: mentions application/vnd.plotly.v1+json (interactive plotly)`);
      if (o.data && 'image/png' in o.data) {
        const why = pngProblem(o.data['image/png']);
        if (why) problems.push(`${where}: ${why}`);
      }
      if (outputText(o).includes('프로필: offline')) saysProfile = true;
    });
  });
  if (!saysProfile) problems.push(`${name}: no output says "프로필: offline" (the set-up cell prints the profile it ran with)`);
  return problems;
}

test('there are committed notebooks', () => {
  assert.ok(notebooks.length > 0, `no notebooks in ${dir}`);
});

for (const name of notebooks) {
  test(`committed notebook ${name} carries one clean offline run`, () => {
    const problems = notebookProblems(name, fs.readFileSync(path.join(dir, name), 'utf8'));
    const shown = problems.length > 25 ? [...problems.slice(0, 25), `... and ${problems.length - 25} more`] : problems;
    if (problems.length > 0) assert.fail(`${path.join(dir, name)}:\n${shown.join('\n')}`);
  });
}
