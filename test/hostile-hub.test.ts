// Hostile servers: a download whose body stalls must fail within the download timeout
// (NLPBOOK_DOWNLOAD_TIMEOUT) with one line, and leave no temp file in the Hugging Face cache
// or beside a corpus file, also when the process is interrupted (Ctrl+C) mid-download.
// Real servers on 127.0.0.1 (test/hub-server.ts behind a proxy that stalls chosen requests),
// real child processes for the interrupts.
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
import { NlpbookError } from '../src/util/errors';
import { download, downloadIdleTimeoutMs } from '../src/util/download';
import { fetchModel, FetchModelOptions } from '../src/model/hub';
import { FIXTURES, KCBERT_DIR, REPO, tempDir } from './helpers';
import { HubServer, startHubServer } from './hub-server';

const TMP = tempDir('nlpbook-hostile-hub-');
const TINY = path.join(FIXTURES, 'tiny-bert');
const C1 = '1111111111222222222233333333334444444444';
const TIMEOUT_S = 1.5;
const files = {
  'config.json': fs.readFileSync(path.join(TINY, 'config.json')),
  'model.safetensors': fs.readFileSync(path.join(TINY, 'model.safetensors')),
  'vocab.txt': fs.readFileSync(path.join(KCBERT_DIR, 'vocab.txt')),
};
const MODEL: FetchModelOptions = { files: ['config.json', 'vocab.txt'], oneOf: [['model.safetensors']], progress: false };

/** Which requests the proxy stalls: after the headers and `bytes` of the body, nothing more. */
let stall: { match: (method: string, url: string, range: string | undefined) => boolean; bytes: number } | null = null;
let hub: HubServer;
let proxy: http.Server;
let proxyUrl = '';

before(async () => {
  hub = await startHubServer({ 'nlpbook/tiny-bert': { refs: { main: C1 }, files } });
  // Forwards to the test hub (redirects rewritten to come back here); stalls what `stall` matches.
  proxy = http.createServer((req, res) => {
    const up = http.request(`${hub.url}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      const headers = { ...answer.headers };
      if (typeof headers.location === 'string') headers.location = headers.location.replace(hub.url, proxyUrl);
      res.writeHead(answer.statusCode ?? 502, headers);
      if (stall?.match(req.method ?? 'GET', req.url ?? '', req.headers.range)) {
        const limit = stall.bytes;
        let sent = 0;
        answer.on('data', (chunk: Buffer) => {
          if (sent < limit) res.write(chunk.subarray(0, limit - sent));
          sent += chunk.length;
        });
        return; // never ends
      }
      answer.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

after(async () => {
  proxy.closeAllConnections();
  await new Promise<void>((resolve) => proxy.close(() => resolve()));
  await hub.close();
});

/** The weights' body from the CDN (not the library's 1-byte Range probe). */
const weightsBody = (method: string, url: string, range: string | undefined): boolean => method === 'GET' && url.startsWith('/cdn/') && !range;

/** Runs `fn` with NLPBOOK_DOWNLOAD_TIMEOUT set to the test's timeout. */
async function withTimeout<T>(fn: () => Promise<T>): Promise<T> {
  const saved = process.env.NLPBOOK_DOWNLOAD_TIMEOUT;
  process.env.NLPBOOK_DOWNLOAD_TIMEOUT = String(TIMEOUT_S);
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.NLPBOOK_DOWNLOAD_TIMEOUT;
    else process.env.NLPBOOK_DOWNLOAD_TIMEOUT = saved;
  }
}

/** The one-line NlpbookError `promise` rejects with, and how long it took. */
async function failure(promise: Promise<unknown>): Promise<{ message: string; ms: number }> {
  const t0 = Date.now();
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof NlpbookError, String(e));
    assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
    return { message: e.message, ms: Date.now() - t0 };
  }
  assert.fail('expected an NlpbookError');
}

/** Every file under `dir` (recursively), relative. */
function listAll(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

/** fetchModel's environment: its NLPBOOK_DOWNLOAD_TIMEOUT is the one that counts (not process.env's). */
const envFor = (name: string): NodeJS.ProcessEnv & { HF_HOME: string } =>
  ({ HOME: path.join(TMP, 'home'), HF_HOME: path.join(TMP, name), HF_ENDPOINT: proxyUrl, NLPBOOK_DOWNLOAD_TIMEOUT: String(TIMEOUT_S) });

test('NLPBOOK_DOWNLOAD_TIMEOUT: seconds, default 60; anything else is a one-line error', () => {
  assert.equal(downloadIdleTimeoutMs({}), 60_000);
  assert.equal(downloadIdleTimeoutMs({ NLPBOOK_DOWNLOAD_TIMEOUT: '2' }), 2000);
  assert.equal(downloadIdleTimeoutMs({ NLPBOOK_DOWNLOAD_TIMEOUT: '0.5' }), 500);
  for (const bad of ['0', '-1', 'soon']) {
    assert.throws(() => downloadIdleTimeoutMs({ NLPBOOK_DOWNLOAD_TIMEOUT: bad }), /^NlpbookError: NLPBOOK_DOWNLOAD_TIMEOUT: expected seconds \(a number > 0\)/);
  }
});

test("hub: fetchModel reads NLPBOOK_DOWNLOAD_TIMEOUT from its env, and a bad value there is its own one-line error", async () => {
  const { message } = await failure(fetchModel('nlpbook/tiny-bert', { ...MODEL, env: { ...envFor('hf-bad-timeout'), NLPBOOK_DOWNLOAD_TIMEOUT: 'soon' } }));
  assert.equal(message, 'NLPBOOK_DOWNLOAD_TIMEOUT: expected seconds (a number > 0), got "soon"');
});

test('hub: a weights body that stalls after its headers fails within the timeout, one line, no temp file in the cache', async () => {
  const env = envFor('hf-stall');
  stall = { match: weightsBody, bytes: 64 * 1024 };
  try {
    const { message, ms } = await failure(fetchModel('nlpbook/tiny-bert', { ...MODEL, env }));
    assert.ok(ms < TIMEOUT_S * 1000 + 4000, `failed after ${ms} ms`);
    assert.match(message, /^model "nlpbook\/tiny-bert" not found; tried .*hub .*\/nlpbook\/tiny-bert\/resolve\/main\/model\.safetensors \(download failed: no data for 1\.5 s after 65536 of \d+ bytes\)/);
  } finally {
    stall = null;
  }
  const repo = path.join(env.HF_HOME, 'hub', 'models--nlpbook--tiny-bert');
  const left = listAll(repo);
  assert.ok(!left.some((f) => f.endsWith('.tmp')), `temp files left: ${left.join(', ')}`);
  assert.ok(!fs.existsSync(path.join(repo, 'refs', 'main')), 'no refs/main for a failed download');
  // The same cache then downloads fine once the server behaves.
  const dir = await fetchModel('nlpbook/tiny-bert', { ...MODEL, env });
  assert.ok(fs.readFileSync(path.join(dir, 'model.safetensors')).equals(files['model.safetensors']));
});

test('hub: an API answer whose body stalls fails within the timeout too', async () => {
  stall = { match: (method, url) => method === 'POST' && url.includes('/paths-info/'), bytes: 10 };
  try {
    const { message, ms } = await failure(fetchModel('nlpbook/tiny-bert', { ...MODEL, env: envFor('hf-stall-api') }));
    assert.ok(ms < TIMEOUT_S * 1000 + 4000, `failed after ${ms} ms`);
    assert.match(message, /hub POST http:\/\/127\.0\.0\.1:\d+\/api\/models\/nlpbook\/tiny-bert\/paths-info\/[0-9a-f]{40} \(no data for 1\.5 s\)/);
  } finally {
    stall = null;
  }
});

// --- interrupts: a child process downloading from the stalling proxy gets SIGINT ---------------

interface Child { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; tmpSeen: string }

/**
 * Runs `code` in a child (the repo's TS through tsx), waits until a *.tmp file under `watch`
 * stays at `minBytes` (the download stalled there), sends SIGINT, and reports how the child ended.
 */
async function interruptChild(code: string, env: NodeJS.ProcessEnv, watch: string, minBytes: number): Promise<Child> {
  const child = cp.spawn(process.execPath, ['--import', 'tsx', '-e', code], { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => { stdout += c; });
  child.stderr.on('data', (c) => { stderr += c; });
  const ended = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (status, signal) => resolve({ status, signal })));
  let tmpSeen = '';
  let candidate = '';
  const deadline = Date.now() + 30_000;
  // The stalled download: a temp file held at exactly minBytes on two polls in a row (another
  // file's temp, e.g. vocab.txt's 250 kB on its way through, must not be taken for it).
  while (!tmpSeen && Date.now() < deadline && child.exitCode === null) {
    await new Promise((r) => setTimeout(r, 100));
    const now = listAll(watch).find((f) => f.endsWith('.tmp') && fileSize(path.join(watch, f)) === minBytes) ?? '';
    if (now && now === candidate) tmpSeen = now;
    candidate = now;
  }
  child.kill('SIGINT');
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const { status, signal } = await ended;
  clearTimeout(killer);
  return { status, signal, stdout, stderr, tmpSeen };
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return -1;
  }
}

const fetchCode = (extra = ''): string => `
  const { fetchModel } = require(${JSON.stringify(path.join(REPO, 'src', 'model', 'hub'))});
  ${extra}
  fetchModel('nlpbook/tiny-bert', ${JSON.stringify(MODEL)}).then(
    () => console.log('DONE'),
    (e) => { console.log('FAILED ' + e.message); });
`;

test('hub: Ctrl+C mid-download removes the temp file; without a handler of its own the process still dies of SIGINT', async () => {
  const env = envFor('hf-sigint');
  stall = { match: weightsBody, bytes: 64 * 1024 };
  let r: Child;
  try {
    r = await interruptChild(fetchCode(), { ...env, NLPBOOK_DOWNLOAD_TIMEOUT: '60' }, env.HF_HOME, 64 * 1024);
  } finally {
    stall = null;
  }
  assert.ok(r.tmpSeen, `the child never started writing (stderr: ${r.stderr})`);
  assert.equal(r.signal, 'SIGINT', `status ${r.status}, stdout ${r.stdout}, stderr ${r.stderr}, interrupted while writing ${r.tmpSeen}`);
  const left = listAll(env.HF_HOME);
  assert.ok(!left.some((f) => f.endsWith('.tmp')), `temp files left: ${left.join(', ')}`);
});

test('hub: Ctrl+C where the program handles SIGINT itself: the download fails with one line, temp file removed, the program goes on', async () => {
  const env = envFor('hf-sigint-handled');
  stall = { match: weightsBody, bytes: 64 * 1024 };
  let r: Child;
  try {
    r = await interruptChild(fetchCode("process.on('SIGINT', () => console.log('HANDLER'));"), { ...env, NLPBOOK_DOWNLOAD_TIMEOUT: '60' }, env.HF_HOME, 64 * 1024);
  } finally {
    stall = null;
  }
  assert.ok(r.tmpSeen, `the child never started writing (stderr: ${r.stderr})`);
  assert.equal(r.status, 0, `signal ${r.signal}, stdout ${r.stdout}, stderr ${r.stderr}`);
  assert.match(r.stdout, /HANDLER/);
  assert.match(r.stdout, /^FAILED model "nlpbook\/tiny-bert" not found; .*model\.safetensors \(download failed: interrupted \(SIGINT\) after 65536 of \d+ bytes\)/m);
  const left = listAll(env.HF_HOME);
  assert.ok(!left.some((f) => f.endsWith('.tmp')), `temp files left: ${left.join(', ')}`);
});

// --- the corpus download (src/util/download.ts) -------------------------------------------------

test('corpus download: a body that stalls fails within its timeout, one line, no temp file; Ctrl+C removes it too', async () => {
  const body = Buffer.alloc(1 << 20, 7);
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-length': body.length });
    res.write(body.subarray(0, 1000)); // then nothing
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/nsmc/ratings_train.txt`;
  try {
    const dir = path.join(TMP, 'corpus');
    const { message, ms } = await failure(withTimeout(() => download(url, path.join(dir, 'ratings_train.txt'))));
    assert.ok(ms < TIMEOUT_S * 1000 + 4000, `failed after ${ms} ms`);
    assert.equal(message, `could not download ${url}: no data for 1.5 s after 1000 of ${body.length} bytes`);
    assert.deepEqual(listAll(dir), []);

    const dir2 = path.join(TMP, 'corpus-sigint');
    const code = `require(${JSON.stringify(path.join(REPO, 'src', 'util', 'download'))}).download(${JSON.stringify(url)}, ${JSON.stringify(path.join(dir2, 'ratings_train.txt'))})`;
    const r = await interruptChild(code, {}, dir2, 1000);
    assert.ok(r.tmpSeen, `the child never started writing (stderr: ${r.stderr})`);
    assert.equal(r.signal, 'SIGINT', `status ${r.status}, stderr ${r.stderr}`);
    assert.deepEqual(listAll(dir2), []);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
