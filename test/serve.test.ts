// `nlpbook serve` (course step 9) on a tiny model trained here: the JSON API answers what
// SentenceClassifier.predict gives, every bad request gets a 4xx JSON error and the next
// good one still works, the CLI prints its URL and stops cleanly on SIGTERM, and the demo
// page works end to end in a real headless Chromium (playwright-core).
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { chromium } from 'playwright-core';
import { initBackend } from '../src/util/backend';
import { NlpbookError } from '../src/util/errors';
import { SentenceClassifier, fit, type Prediction } from '../src/train/index';
import { EXAMPLE_SENTENCES } from '../src/inference/serve-page';
import { MAX_BODY_BYTES, MAX_TEXT_CHARS, startServer, type RunningServer } from '../src/inference/index';
import { BertTokenizer } from '../src/tokenizer/index';
import { KCBERT_DIR, REPO, runCli, tempDir } from './helpers';
import { nsmcSlice, quickSettings } from './train-helpers';

let modelDir: string;
let reference: SentenceClassifier;
let server: RunningServer;

before(async () => {
  await initBackend();
  // A really trained (if tiny) model: 288 NSMC sentences, 2 epochs, about a second.
  const settings = quickSettings(nsmcSlice(320, 20), { epochs: 2, learningRate: 5e-3 });
  modelDir = (await fit(settings, { tokenizer: BertTokenizer.fromFolder(KCBERT_DIR), log: () => {} })).model;
  reference = await SentenceClassifier.load(modelDir);
  server = await startServer({ modelDir, port: 0 });
});

after(async () => {
  await server?.close();
  reference?.dispose();
});

const TEXTS = [
  '배우들 연기가 정말 최고였다',
  '시간 아까운 영화... 다시는 안 봄',
  'ㅋㅋㅋㅋ 이게 뭐야',
  'This movie was great! 👍',
  '재미'.repeat(300), // longer than the model's 128 tokens: cut as in training
];

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: any; raw: string }

/** One HTTP request with Node's own client, so the body can be streamed, cut or malformed at will. */
function request(method: string, urlPath: string, options: { headers?: Record<string, string>; body?: string | Buffer; chunks?: Buffer[]; sendNothing?: boolean } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(urlPath, server.url), { method, headers: options.headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => {
        const raw = Buffer.concat(parts).toString('utf8');
        let body: any;
        try {
          body = JSON.parse(raw);
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode!, headers: res.headers, body, raw });
        if (options.sendNothing) req.destroy();
      });
    });
    req.on('error', reject);
    if (options.sendNothing) req.flushHeaders();
    else if (options.chunks) {
      for (const c of options.chunks) req.write(c);
      req.end();
    } else req.end(options.body);
  });
}

const JSON_TYPE = { 'Content-Type': 'application/json' };
const predictText = (text: string) => request('POST', '/api/predict', { headers: JSON_TYPE, body: JSON.stringify({ text }) });

function assertSamePrediction(got: Prediction, want: Prediction, tolerance = 0): void {
  assert.equal(got.text, want.text);
  assert.equal(got.label, want.label, want.text);
  got.logits.forEach((x, i) => assert.ok(Math.abs(x - want.logits[i]) <= tolerance, `${want.text}: logit ${i} ${x} vs ${want.logits[i]}`));
  assert.ok(Math.abs(got.positive_prob - want.positive_prob) <= tolerance + 1e-12, `${want.text}: ${got.positive_prob} vs ${want.positive_prob}`);
}

describe('the JSON API', () => {
  test('listens on 127.0.0.1 by default and answers what SentenceClassifier.predict gives', async () => {
    assert.equal(server.host, '127.0.0.1');
    assert.equal(server.url, `http://127.0.0.1:${server.port}/`);
    // Not reachable through this machine's other addresses.
    const external = Object.values(os.networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal);
    if (external) {
      const refused = await new Promise<string>((resolve) => {
        const s = net.connect(server.port, external.address, () => {
          s.destroy();
          resolve('connected');
        });
        s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
        s.setTimeout(3000, () => {
          s.destroy();
          resolve('timeout');
        });
      });
      assert.notEqual(refused, 'connected', `reachable on ${external.address}`);
    }

    for (const text of TEXTS) {
      const r = await predictText(text);
      assert.equal(r.status, 200, r.raw);
      assert.match(String(r.headers['content-type']), /^application\/json/);
      assert.deepEqual(Object.keys(r.body), ['text', 'label', 'positive_prob', 'logits', 'ms']);
      assert.ok(r.body.ms >= 0);
      // One request is one batch of one, as in predict([text]): the same numbers.
      assertSamePrediction(r.body, reference.predict([text])[0]);
    }
    // Requests that arrive together are scored together (one batch, padded): the same up to float rounding.
    const together = await Promise.all(TEXTS.map(predictText));
    const want = reference.predict(TEXTS);
    together.forEach((r, i) => assertSamePrediction(r.body, want[i], 1e-5));
  });

  test('every bad request gets a 4xx JSON error, and the next good request still works', async () => {
    const good = reference.predict(['최고의 영화'])[0];
    const cases: [string, () => Promise<Reply>, number, RegExp][] = [
      ['malformed JSON', () => request('POST', '/api/predict', { headers: JSON_TYPE, body: '{"text": "좋아' }), 400, /not valid JSON/],
      ['no "text" field', () => request('POST', '/api/predict', { headers: JSON_TYPE, body: '{"sentence": "좋아"}' }), 400, /missing field "text"/],
      ['"text" not a string', () => request('POST', '/api/predict', { headers: JSON_TYPE, body: '{"text": ["좋아"]}' }), 400, /"text" must be a string/],
      ['"text" null', () => request('POST', '/api/predict', { headers: JSON_TYPE, body: '{"text": null}' }), 400, /must be a string, got null/],
      ['empty text', () => predictText(' \n '), 400, /"text" is empty/],
      ['a JSON array', () => request('POST', '/api/predict', { headers: JSON_TYPE, body: '["좋아"]' }), 400, /expected a JSON object/],
      ['empty body', () => request('POST', '/api/predict', { headers: JSON_TYPE }), 400, /not valid JSON/],
      ['invalid UTF-8', () => request('POST', '/api/predict', { headers: JSON_TYPE, body: Buffer.from([0x7b, 0x22, 0x74, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]) }), 400, /not valid UTF-8/],
      ['text too long', () => predictText('가'.repeat(MAX_TEXT_CHARS + 1)), 422, /1001 characters; the limit is 1000/],
      ['body too large (Content-Length)', () => predictText('a'.repeat(MAX_BODY_BYTES)), 413, /over 16384 bytes/],
      ['body too large (chunked, no length)', () => request('POST', '/api/predict', { headers: JSON_TYPE, chunks: Array.from({ length: 40 }, () => Buffer.alloc(1024, 0x20)) }), 413, /over 16384 bytes/],
      ['body declared far too large (answered at once, connection closed)', () => request('POST', '/api/predict', { headers: { ...JSON_TYPE, 'Content-Length': String(4 << 20) }, sendNothing: true }), 413, /over 16384 bytes/],
      ['not JSON content type', () => request('POST', '/api/predict', { headers: { 'Content-Type': 'text/plain' }, body: '{"text":"좋아"}' }), 415, /application\/json/],
      ['wrong method', () => request('GET', '/api/predict'), 405, /GET is not allowed on \/api\/predict/],
      ['unknown path', () => request('GET', '/admin'), 404, /no such path: \/admin/],
    ];
    for (const [name, send, status, pattern] of cases) {
      const r = await send();
      assert.equal(r.status, status, `${name}: ${r.raw}`);
      assert.match(String(r.headers['content-type']), /^application\/json/, name);
      assert.deepEqual(Object.keys(r.body), ['error'], name);
      assert.match(r.body.error, pattern, name);
      if (status === 405) assert.equal(r.headers.allow, 'POST');
      if (/connection closed/.test(name)) assert.equal(r.headers.connection, 'close', name);
      const after = await predictText('최고의 영화');
      assert.equal(after.status, 200, `after ${name}: ${after.raw}`);
      assertSamePrediction(after.body, good);
    }
  });

  test('GET / is the demo page, /api/health says which model', async () => {
    const page = await request('GET', '/');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html; charset=utf-8/);
    assert.match(page.raw, /<html lang="ko">/);
    assert.match(page.raw, /분석하기/);
    assert.match(String(page.headers['content-security-policy']), /script-src 'sha256-[A-Za-z0-9+/]+='/);
    const health = await request('GET', '/api/health');
    assert.deepEqual(health.body, { status: 'ok', model: modelDir, labels: ['negative', 'positive'], maxLength: 128, maxTextChars: MAX_TEXT_CHARS });
  });

  test('a taken port fails with one line', async () => {
    await assert.rejects(startServer({ classifier: reference, port: server.port }), (e: Error) => e instanceof NlpbookError && /port \d+ is already in use/.test(e.message));
  });
});

describe('nlpbook serve', () => {
  test('prints its URL, serves, and exits 0 on SIGTERM', async () => {
    const child = cp.spawn(process.execPath, [path.join(REPO, 'bin', 'nlpbook.js'), 'serve', '--model', modelDir, '--port', '0'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      for (let waited = 0; waited < 60_000 && !stdout.includes('\n') && child.exitCode === null; waited += 20) await new Promise((r) => setTimeout(r, 20));
      const started = JSON.parse(stdout.split('\n')[0]);
      assert.deepEqual(Object.keys(started), ['url', 'host', 'port', 'model']);
      assert.equal(started.host, '127.0.0.1');
      assert.match(stderr, new RegExp(`nlpbook serve: ${started.url.replace(/[.]/g, '\\.')} \\(Ctrl\\+C to stop\\)`));
      const r = await fetch(new URL('api/predict', started.url), { method: 'POST', headers: JSON_TYPE, body: JSON.stringify({ text: TEXTS[0] }) });
      assert.equal(r.status, 200);
      assertSamePrediction((await r.json()) as Prediction, reference.predict([TEXTS[0]])[0]);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /POST \/api\/predict 200/);
    assert.match(stderr, /SIGTERM: stopping/);
  });

  test('an unknown model folder fails with one line', () => {
    const missing = path.join(tempDir(), 'no-such-model');
    const r = runCli(['serve', '--model', missing, '--port', '0']);
    assert.equal(r.status, 1);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('nlpbook serve:'));
    assert.deepEqual(lines, [`nlpbook serve: model folder not found: ${missing}`]);
  });
});

/** Chromium for the page test: NLPBOOK_CHROMIUM, else Debian's /usr/bin/chromium. */
function chromiumPath(): string {
  const file = process.env.NLPBOOK_CHROMIUM ?? '/usr/bin/chromium';
  assert.ok(fs.existsSync(file), `no Chromium at ${file}: install it (apt-get install chromium) or set NLPBOOK_CHROMIUM to a Chromium binary`);
  return file;
}

describe('the demo page in headless Chromium', () => {
  test('typing a Korean sentence and clicking 분석하기 shows the label and probability the API gives; so does an example', async () => {
    const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true });
    try {
      const page = await browser.newPage();
      page.setDefaultTimeout(10_000);
      const problems: string[] = [];
      page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
      page.on('pageerror', (e) => problems.push(e.message));
      await page.goto(server.url);
      assert.equal(await page.title(), '영화 리뷰 감성 분석 · nlpbook');

      const shown = async () => ({
        label: await page.textContent('#label'),
        prob: await page.textContent('#prob'),
        text: await page.textContent('#analyzed'),
        width: await page.$eval('#bar', (e: any) => e.style.width), // (no DOM types in this project's lib)
      });
      const expected = async (text: string) => {
        const api = (await predictText(text)).body;
        const percent = `${(api.positive_prob * 100).toFixed(1)}%`;
        return { label: { positive: '긍정', negative: '부정' }[api.label as string], prob: percent, text, width: percent };
      };

      const sentence = '주인공이 너무 멋있고 결말도 감동적이었어요';
      await page.fill('#text', sentence);
      await page.click('#go');
      await page.waitForSelector('#result:not([hidden])', { timeout: 10_000 });
      assert.deepEqual(await shown(), await expected(sentence));

      // An example button fills the box and asks again.
      await page.click(`.example >> nth=1`);
      await page.waitForFunction((t: string) => (globalThis as any).document.getElementById('analyzed').textContent === t, EXAMPLE_SENTENCES[1], { timeout: 10_000 });
      assert.equal(await page.inputValue('#text'), EXAMPLE_SENTENCES[1]);
      assert.deepEqual(await shown(), await expected(EXAMPLE_SENTENCES[1]));

      // An empty box is answered on the page, without a request.
      await page.fill('#text', '   ');
      await page.click('#go');
      assert.equal(await page.textContent('#error'), '문장을 입력하세요.');
      assert.deepEqual(problems, [], 'no script errors or CSP violations');
    } finally {
      await browser.close();
    }
  });
});
