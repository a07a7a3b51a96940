// `nlpbook serve` and DNS rebinding: a web page on evil.example whose name is made to resolve
// to 127.0.0.1 sends requests with "Host: evil.example". The server answers only to the names
// it is meant to be reached by (localhost, IP addresses, --host, --allow-host); everything
// else gets a 403 JSON error, and the server goes on answering good requests, 200 at a time.
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'http';
import { initBackend } from '../src/util/backend';
import { fit, SentenceClassifier } from '../src/train/index';
import { BertTokenizer } from '../src/tokenizer/index';
import { hostAllowed, startServer, type RunningServer } from '../src/inference/serve';
import { KCBERT_DIR } from './helpers';
import { nsmcSlice, quickSettings } from './train-helpers';

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: any; raw: string }

/** One request with a Host header of our choosing (fetch() does not let a page set it; a rebinding browser sends its own name). */
function request(server: RunningServer, method: string, urlPath: string, host: string | undefined, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = body === undefined ? {} : { 'Content-Type': 'application/json' };
    const req = http.request({ host: '127.0.0.1', port: server.port, method, path: urlPath, headers, setHost: host === undefined ? false : undefined }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => {
        const raw = Buffer.concat(parts).toString('utf8');
        let parsed: any;
        try {
          parsed = JSON.parse(raw);
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode!, headers: res.headers, body: parsed, raw });
      });
    });
    if (host !== undefined) req.setHeader('Host', host);
    req.on('error', reject);
    req.end(body);
  });
}

let server: RunningServer;
let wide: RunningServer;

let classifier: SentenceClassifier;

before(async () => {
  await initBackend();
  // A really trained (if tiny) model, as in test/serve.test.ts: about a second.
  const settings = quickSettings(nsmcSlice(320, 20), { epochs: 2, learningRate: 5e-3 });
  const modelDir = (await fit(settings, { tokenizer: BertTokenizer.fromFolder(KCBERT_DIR), log: () => {} })).model;
  classifier = await SentenceClassifier.load(modelDir);
  server = await startServer({ classifier, port: 0 });
  wide = await startServer({ classifier, port: 0, host: '127.0.0.1', allowedHosts: ['nlpbook.test', '.lab.example'] });
});

after(async () => {
  await server?.close();
  await wide?.close();
  classifier?.dispose();
});

const predict = JSON.stringify({ text: '재미있다' });

describe('the Host header', () => {
  test('a rebinding name (and other foreign names) gets 403 JSON on every path, and says how to allow a name', async () => {
    const port = server.port;
    for (const host of ['evil.example', `evil.example:${port}`, 'EVIL.example.', 'localhost.evil.example', '127.0.0.1.nip.io', 'attacker.com:80', 'nlpbook.test']) {
      for (const [method, p, body] of [['GET', '/', undefined], ['POST', '/api/predict', predict], ['GET', '/api/health', undefined], ['GET', '/admin', undefined]] as const) {
        const r = await request(server, method, p, host, body);
        assert.equal(r.status, 403, `${host} ${method} ${p}: ${r.raw}`);
        assert.match(String(r.headers['content-type']), /^application\/json/);
        assert.deepEqual(Object.keys(r.body), ['error']);
        assert.match(r.body.error, /^Host ".*" is not allowed: this server answers only to localhost, IP addresses, its --host and --allow-host names \(a guard against DNS rebinding\); to reach it as .+, start it with --allow-host .+$/, r.body.error);
        assert.doesNotMatch(r.raw, /positive_prob|<html/);
      }
    }
    const r = await request(server, 'GET', '/', `evil.example:${port}`);
    assert.match(r.body.error, /to reach it as evil\.example, start it with --allow-host evil\.example$/);
    // A malformed Host (what no browser sends) is refused too, without a suggestion.
    for (const host of ['evil.example/x', 'a b', 'user@evil.example', '[::1', '']) {
      const m = await request(server, 'GET', '/api/health', host);
      assert.ok(m.status === 403 || m.status === 400, `${JSON.stringify(host)}: ${m.status} ${m.raw}`);
      if (m.status === 403) assert.doesNotMatch(m.body.error, /start it with/);
    }
  });

  test('the names the server listens on are answered: localhost, 127.0.0.1, [::1], IP addresses, with or without a port', async () => {
    const port = server.port;
    for (const host of ['localhost', `localhost:${port}`, 'LOCALHOST.', `127.0.0.1:${port}`, '127.0.0.1', `[::1]:${port}`, '[::1]', 'app.localhost:8000', '192.168.0.10:8000', '[fe80::1]']) {
      const h = await request(server, 'GET', '/api/health', host);
      assert.equal(h.status, 200, `${host}: ${h.raw}`);
      assert.equal(h.body.status, 'ok');
      const p = await request(server, 'POST', '/api/predict', host, predict);
      assert.equal(p.status, 200, `${host}: ${p.raw}`);
      assert.ok(['positive', 'negative'].includes(p.body.label), p.raw);
    }
    const page = await request(server, 'GET', '/', `localhost:${port}`);
    assert.equal(page.status, 200);
    assert.match(page.raw, /<html lang="ko">/);
  });

  test('--host and --allow-host names (a domain with a leading dot) are answered; others still are not', async () => {
    for (const host of ['nlpbook.test', 'NLPBOOK.TEST:8000', 'lab.example', 'gpu1.lab.example:8000', 'localhost']) {
      assert.equal((await request(wide, 'GET', '/api/health', host)).status, 200, host);
    }
    for (const host of ['evil.example', 'nlpbook.test.evil.example', 'xlab.example']) {
      assert.equal((await request(wide, 'GET', '/api/health', host)).status, 403, host);
    }
    // A name given as --host is one the server is meant to be reached by.
    assert.equal(hostAllowed('myhost:8000', ['myhost']), true);
    assert.equal(hostAllowed('evil.example', ['*']), true);
    assert.equal(hostAllowed('evil.example', ['0.0.0.0']), false);
    assert.equal(hostAllowed('0x7f.1', []), false, 'not an address a browser would send');
  });

  test('200 requests at once, half of them with a foreign Host: each gets its own answer, and the server goes on', async () => {
    const port = server.port;
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? request(server, 'POST', '/api/predict', `127.0.0.1:${port}`, JSON.stringify({ text: `문장 ${i}` })) : request(server, 'POST', '/api/predict', 'evil.example', predict))),
    );
    replies.forEach((r, i) => {
      if (i % 2 === 0) {
        assert.equal(r.status, 200, r.raw);
        assert.equal(r.body.text, `문장 ${i}`);
      } else {
        assert.equal(r.status, 403, r.raw);
      }
    });
    const after = await request(server, 'GET', '/api/health', 'localhost');
    assert.equal(after.status, 200);
  });

  test('the other 4xx answers are unchanged for an allowed Host', async () => {
    assert.equal((await request(server, 'GET', '/api/predict', 'localhost')).status, 405);
    assert.equal((await request(server, 'GET', '/nowhere', 'localhost')).status, 404);
    assert.equal((await request(server, 'POST', '/api/predict', 'localhost', '{"text": ')).status, 400);
  });
});
