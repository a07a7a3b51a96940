// Step 2: NSMC download (the real download path against a local HTTP server laid out
// like GitHub) and reading (Python's csv.reader semantics, checked against a fixture
// made by Python from the full real files).
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
import { FIXTURES, NSMC_DIR, SHARED, jsonLines, runCli, tempDir } from './helpers';
import { corpusStats, fetchNsmc, FetchSettings, NSMC_FILES, NsmcCorpus, readNsmc, readNsmcFile } from '../src/corpus/corpus';
import { download, hasSha256, sha256SidecarPath } from '../src/util/download';
import { NlpbookError } from '../src/util/errors';
import { sha256File } from '../src/util/fsutil';
import { progress } from '../src/util/progress';
import { forEachCsvRecord, readCsvRecords } from '../src/corpus/pycsv';
import { DEFAULT_SETTINGS } from '../src/settings/index';

const fixture = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'nsmc_csv.json'), 'utf8'));
const TRAIN = path.join(NSMC_DIR, 'ratings_train.txt');
const TEST = path.join(NSMC_DIR, 'ratings_test.txt');

// --- a local server laid out like raw.githubusercontent.com/e9t/nsmc/master --------------
type Mode = 'ok' | 'truncate' | 'corrupt';
let mode: Mode = 'ok';
let requests: string[] = [];
let server: http.Server;
let base = '';

before(async () => {
  server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    const url = req.url ?? '';
    if (url.startsWith('/redirect/')) {
      res.writeHead(302, { location: url.slice('/redirect'.length) });
      res.end();
      return;
    }
    const m = /^\/nsmc\/(ratings_(?:train|test)\.txt)$/.exec(url);
    if (!m) {
      res.writeHead(404);
      res.end('not found');
      return;
    }
    const body = fs.readFileSync(path.join(NSMC_DIR, m[1]));
    if (mode === 'truncate') {
      // Promise the whole file, send half of it, hang up.
      res.writeHead(200, { 'content-length': body.length });
      res.write(body.subarray(0, body.length >> 1), () => res.socket?.destroy());
      return;
    }
    if (mode === 'corrupt') body[100] ^= 1; // same size, one bit different
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

/** A port on 127.0.0.1 where nothing listens. */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

const root = tempDir('nlpbook-corpus-');
const settings = (over: Partial<FetchSettings> = {}): FetchSettings => ({
  downstreamCorpusRootDir: root,
  forceDownload: false,
  corpusMirror: base,
  tqdmEnabled: false,
  ...over,
});
const trainDest = () => path.join(root, 'nsmc', 'ratings_train.txt');
const tempFiles = () => fs.readdirSync(path.join(root, 'nsmc')).filter((f) => f.endsWith('.tmp'));

// --- download ------------------------------------------------------------------------

test('fetchNsmc downloads both files from the mirror URL into <root>/nsmc and verifies sha256', async () => {
  requests = [];
  const r = await fetchNsmc(settings());
  assert.deepEqual(r.map((x) => [x.split, x.action]), [['train', 'downloaded'], ['test', 'downloaded']]);
  assert.deepEqual(requests, ['/nsmc/ratings_train.txt', '/nsmc/ratings_test.txt']);
  assert.equal(sha256File(trainDest()), NSMC_FILES.train.sha256);
  assert.equal(sha256File(path.join(root, 'nsmc', 'ratings_test.txt')), NSMC_FILES.test.sha256);
  assert.equal(r[0].bytes, 14628807);
  assert.deepEqual(tempFiles(), []);
});

test('a second fetch is cache-first: no request at all', async () => {
  requests = [];
  const r = await fetchNsmc(settings());
  assert.deepEqual(r.map((x) => x.action), ['cached', 'cached']);
  assert.deepEqual(requests, []);
  // and it remembers the hash in a sidecar (trusted while inode, size, mtime and ctime prove the file unchanged)
  const side = JSON.parse(fs.readFileSync(sha256SidecarPath(trainDest()), 'utf8'));
  assert.equal(side.sha256, NSMC_FILES.train.sha256);
  assert.equal(side.size, 14628807);
});

test('a changed cached file (same size, new mtime) is noticed and downloaded again', async () => {
  const file = trainDest();
  const good = fs.readFileSync(file);
  const bad = Buffer.from(good);
  bad[10] ^= 1;
  fs.writeFileSync(file, bad);
  fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
  assert.equal(hasSha256(file, NSMC_FILES.train.sha256), false);
  requests = [];
  const r = await fetchNsmc(settings());
  assert.deepEqual(r.map((x) => x.action), ['downloaded', 'cached']);
  assert.deepEqual(requests, ['/nsmc/ratings_train.txt']);
  assert.equal(sha256File(file), NSMC_FILES.train.sha256);
  // The changed file is kept beside it, not deleted.
  assert.match(r[0].kept ?? '', /ratings_train\.txt\.modified-\d{8}-\d{6}$/);
  assert.deepEqual(fs.readFileSync(r[0].kept!), bad);
  fs.rmSync(r[0].kept!);
});

test('forceDownload downloads again even when the files are valid', async () => {
  requests = [];
  const r = await fetchNsmc(settings({ forceDownload: true }));
  assert.deepEqual(r.map((x) => x.action), ['downloaded', 'downloaded']);
  assert.equal(requests.length, 2);
});

test('redirects are followed', async () => {
  requests = [];
  const r = await fetchNsmc(settings({ forceDownload: true, corpusMirror: `${base}/redirect` }));
  assert.deepEqual(r.map((x) => x.action), ['downloaded', 'downloaded']);
  assert.deepEqual(requests, ['/redirect/nsmc/ratings_train.txt', '/nsmc/ratings_train.txt', '/redirect/nsmc/ratings_test.txt', '/nsmc/ratings_test.txt']);
});

test('a truncated body is an error; the good file stays and no temp file is left', async () => {
  const before = fs.statSync(trainDest());
  mode = 'truncate';
  try {
    await assert.rejects(fetchNsmc(settings({ forceDownload: true })), (e: Error) => {
      assert.ok(e instanceof NlpbookError);
      assert.match(e.message, new RegExp(`^could not download ${base}/nsmc/ratings_train\\.txt: truncated at \\d+ of 14628807 bytes`));
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
  } finally {
    mode = 'ok';
  }
  assert.equal(sha256File(trainDest()), NSMC_FILES.train.sha256);
  assert.equal(fs.statSync(trainDest()).mtimeMs, before.mtimeMs);
  assert.deepEqual(tempFiles(), []);
});

test('a wrong checksum is an error; the good file stays and no temp file is left', async () => {
  mode = 'corrupt';
  try {
    await assert.rejects(fetchNsmc(settings({ forceDownload: true })), (e: Error) => {
      assert.match(e.message, new RegExp(`ratings_train\\.txt: sha256 mismatch: expected ${NSMC_FILES.train.sha256}, got [0-9a-f]{64}`));
      return true;
    });
  } finally {
    mode = 'ok';
  }
  assert.equal(sha256File(trainDest()), NSMC_FILES.train.sha256);
  assert.deepEqual(tempFiles(), []);
});

test('HTTP errors name the status', async () => {
  await assert.rejects(fetchNsmc(settings({ forceDownload: true, corpusMirror: `${base}/nowhere` })), /ratings_train\.txt: HTTP 404 Not Found; corpus mirror .* from setting corpusMirror/);
  assert.equal(sha256File(trainDest()), NSMC_FILES.train.sha256);
});

test('mirror server down: the error names the mirror setting', async () => {
  const port = await closedPort();
  await assert.rejects(fetchNsmc(settings({ forceDownload: true, corpusMirror: `http://127.0.0.1:${port}` })), (e: Error) => {
    assert.match(e.message, /network error \(.*ECONNREFUSED/);
    assert.match(e.message, /from setting corpusMirror/);
    return true;
  });
  // from the environment, the message says which variable
  await assert.rejects(
    fetchNsmc(settings({ forceDownload: true, corpusMirror: null }), { env: { NLPBOOK_CORPUS_MIRROR: `http://127.0.0.1:${port}` } }),
    /from env NLPBOOK_CORPUS_MIRROR/,
  );
});

test('offline with no mirror: the error says how to set one', async () => {
  const port = await closedPort();
  const fresh = tempDir('nlpbook-corpus-offline-');
  // No mirror anywhere; the origin (GitHub) is stood in for by a closed local port.
  await assert.rejects(
    fetchNsmc({ ...settings(), downstreamCorpusRootDir: fresh, corpusMirror: null }, { env: {}, origin: `http://127.0.0.1:${port}` }),
    (e: Error) => {
      assert.match(e.message, /offline\? set a corpus mirror: the setting corpusMirror .*NLPBOOK_CORPUS_MIRROR=.*NLPBOOK_MIRROR=/);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    },
  );
  assert.equal(fs.existsSync(path.join(fresh, 'nsmc', 'ratings_train.txt')), false);
});

test('a local folder works as a mirror (NLPBOOK_MIRROR layout) with the same checks', async () => {
  const fresh = tempDir('nlpbook-corpus-folder-');
  const r = await fetchNsmc({ ...settings(), downstreamCorpusRootDir: fresh, corpusMirror: null }, { env: { NLPBOOK_MIRROR: SHARED } });
  assert.deepEqual(r.map((x) => [x.action, x.source]), [['downloaded', TRAIN], ['downloaded', TEST]]);
  assert.equal(sha256File(path.join(fresh, 'nsmc', 'ratings_test.txt')), NSMC_FILES.test.sha256);
  // a wrong expected hash: refused, and a good destination is untouched
  const dest = path.join(fresh, 'nsmc', 'ratings_test.txt');
  await assert.rejects(download(TRAIN, dest, { sha256: NSMC_FILES.test.sha256 }), /sha256 mismatch: expected 8ac9f6/);
  assert.equal(sha256File(dest), NSMC_FILES.test.sha256);
  await assert.rejects(download(path.join(fresh, 'missing.txt'), dest), /missing\.txt: no such file$/);
  assert.deepEqual(fs.readdirSync(path.join(fresh, 'nsmc')).filter((f) => f.endsWith('.tmp')), []);
});

test('progress prints a short line, not a redrawn bar, when stderr is not a terminal', () => {
  const lines: string[] = [];
  const stream = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream;
  const p = progress(2_000_000, 'nsmc x', true, { unit: 'bytes', stream, everySeconds: 0 });
  p.update(1_000_000);
  p.stop();
  assert.match(lines[0], /^nsmc x: 1\.0 MB\/2\.0 MB \(50%\), \d+s\n$/);
  assert.match(lines[1], /^nsmc x: 1\.0 MB\/2\.0 MB \(50%\) done in \d+\.\ds\n$/);
  const silent: string[] = [];
  progress(10, 'y', false, { stream: { isTTY: false, write: (s: string) => silent.push(s) } as unknown as NodeJS.WritableStream }).stop();
  assert.deepEqual(silent, []);
});

// --- reading ---------------------------------------------------------------------------

const canonicalSha = (rows: string[][]) => crypto.createHash('sha256').update(JSON.stringify(rows)).digest('hex');

for (const [split, file] of [['train', TRAIN], ['test', TEST]] as const) {
  const fx = fixture.splits[split];

  test(`${split}: every csv row equals Python's csv.reader (digest of all ${fx.records} rows)`, () => {
    const rows: string[][] = [];
    forEachCsvRecord(fs.readFileSync(file, 'utf8'), (fields) => rows.push(fields));
    assert.equal(rows.length, fx.records);
    if (canonicalSha(rows) !== fx.allRowsSha256) {
      // name the first block of 10,000 rows that differs
      const block = fx.blockSha256.findIndex((h: string, i: number) => canonicalSha(rows.slice(i * 10000, (i + 1) * 10000)) !== h);
      assert.fail(`rows differ from Python's in block ${block} (rows ${block * 10000}..)`);
    }
  });

  test(`${split}: readNsmc gives ${fx.rows} examples, ${fx.positive} positive, the quoted lines as Python reads them`, () => {
    const parsed = readNsmcFile(file);
    const ex = parsed.examples;
    assert.equal(ex.length, fx.rows);
    assert.equal(ex.filter((e) => e.label === 1).length, fx.positive);
    // the same digest, through the Example objects (header + [id, text, label])
    assert.equal(canonicalSha([fx.header, ...ex.map((e) => [e.id, e.text, String(e.label)])]), fx.allRowsSha256);
    // every line with a quote: line number, id, document, label
    assert.equal(parsed.quotedLines.length, fx.quotedLines.length);
    assert.deepEqual(parsed.quotedLines, fx.quotedLines.map((q: { line: number }) => q.line));
    assert.equal(parsed.lines.length, ex.length);
    const byLine = new Map<number, number>();
    parsed.lines.forEach((line, i) => byLine.set(line, i));
    for (const q of fx.quotedLines) {
      const e = ex[byLine.get(q.line) as number];
      assert.deepEqual({ line: q.line, id: e.id, document: e.text, label: String(e.label) }, q);
    }
    assert.deepEqual(parsed.emptyLines, fx.empty);
    const stats = corpusStats(ex, { quoted: parsed.quotedLines.length });
    assert.equal(stats.empty, fx.empty.length);
    assert.equal(stats.negative, fx.negative);
  });
}

test('edge cases parse exactly as Python 3.11 csv.reader parses them', () => {
  for (const e of fixture.edgeCases) {
    const got = readCsvRecords(e.text).map((r) => ({ line: r.line, endLine: r.endLine, fields: r.fields }));
    assert.deepEqual(got, e.records, e.name);
  }
});

test('emptyDocuments: keep (as "", default), skip, error with file:line', () => {
  const keep = readNsmc(TEST);
  assert.equal(keep.length, 50000);
  assert.equal(keep.filter((e) => e.text === '').length, 3);
  const skipped = readNsmcFile(TEST, { emptyDocuments: 'skip' });
  const skip = skipped.examples;
  assert.equal(skip.length, 49997);
  assert.equal(skip.filter((e) => e.text === '').length, 0);
  assert.deepEqual(skipped.emptyLines, fixture.splits.test.empty);
  for (const line of fixture.splits.test.empty) assert.equal(skipped.lines.includes(line), false);
  assert.equal(skipped.lines[skipped.lines.length - 1], 50001);
  assert.throws(() => readNsmc(TEST, { emptyDocuments: 'error' }), (e: Error) => {
    assert.ok(e instanceof NlpbookError);
    assert.equal(e.message.startsWith(`${TEST}:${fixture.splits.test.empty[0]}: empty document (id `), true, e.message);
    return true;
  });
});

test('malformed files: one-line errors with file:line', () => {
  const dir = tempDir('nlpbook-bad-');
  const write = (name: string, text: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };
  const head = 'id\tdocument\tlabel\n';
  const cols = write('cols.txt', `${head}1\tgood\t1\n2\tno label\n`);
  assert.throws(() => readNsmc(cols), { message: `${cols}:3: expected 3 tab-separated columns (id, document, label), got 2` });
  const extra = write('extra.txt', `${head}1\ta\tb\t1\n`);
  assert.throws(() => readNsmc(extra), { message: `${extra}:2: expected 3 tab-separated columns (id, document, label), got 4` });
  const label = write('label.txt', `${head}1\tgood\t1\n2\t"multi\nline"\t0\n3\tbad\t2\n`);
  assert.throws(() => readNsmc(label), { message: `${label}:5: label must be 0 or 1, got "2" (id 3)` });
  const header = write('header.txt', 'id\ttext\tlabel\n1\ta\t1\n');
  assert.throws(() => readNsmc(header), { message: `${header}:1: header must be "id\\tdocument\\tlabel", got "id\\ttext\\tlabel"` });
  // a UTF-8 BOM (Excel, Windows editors) is not part of the header (test/hostile-corpus.test.ts)
  const bom = write('bom.txt', '\ufeffid\tdocument\tlabel\n1\ta\t1\n');
  assert.deepEqual(readNsmc(bom), [{ id: '1', text: 'a', label: 1 }]);
  // ... but only at the very start: anywhere else it is a character of the field
  const bom2 = write('bom2.txt', ' \ufeffid\tdocument\tlabel\n1\ta\t1\n');
  assert.throws(() => readNsmc(bom2), { message: `${bom2}:1: header must be "id\\tdocument\\tlabel", got " \ufeffid\\tdocument\\tlabel"` });
  const blank = write('blank.txt', `${head}1\ta\t1\n\n`);
  assert.throws(() => readNsmc(blank), { message: `${blank}:3: expected 3 tab-separated columns (id, document, label), got 0` });
  const empty = write('empty.txt', '');
  assert.throws(() => readNsmc(empty), /empty\.txt: empty file/);
  const latin = path.join(dir, 'latin.txt');
  fs.writeFileSync(latin, Buffer.concat([Buffer.from(`${head}1\tok\t1\n2\t`), Buffer.from([0xe9]), Buffer.from('\t0\n')]));
  assert.throws(() => readNsmc(latin), { message: `${latin}:3: not valid UTF-8 (the corpus must be UTF-8 text)` });
  // CRLF files read like Python's text mode
  const crlf = write('crlf.txt', 'id\tdocument\tlabel\r\n1\t"a ""b"""\t1\r\n');
  assert.deepEqual(readNsmc(crlf), [{ id: '1', text: 'a "b"', label: 1 }]);
});

test('NsmcCorpus: path, memoized examples, fingerprint, missing-file advice', async () => {
  const s = { ...DEFAULT_SETTINGS, downstreamCorpusRootDir: root, corpusMirror: base, tqdmEnabled: false };
  const corpus = new NsmcCorpus(s);
  assert.equal(corpus.path('train'), path.join(root, 'nsmc', 'ratings_train.txt'));
  requests = [];
  await corpus.fetch();
  assert.deepEqual(requests, []);
  const a = corpus.examples('test');
  assert.equal(corpus.examples('test'), a);
  assert.equal(a.length, 50000);
  assert.equal(corpus.stats('test').quoted, 233);
  const fp = corpus.fingerprint('test');
  assert.match(fp, /^[0-9a-f]{64}$/);
  assert.equal(new NsmcCorpus(s).fingerprint('test'), fp);
  assert.notEqual(new NsmcCorpus({ ...s, emptyDocuments: 'skip' }).fingerprint('test'), fp);
  assert.notEqual(corpus.fingerprint('train'), fp);

  const none = new NsmcCorpus({ ...s, downstreamCorpusRootDir: tempDir('nlpbook-empty-') });
  assert.throws(() => none.examples('train'), (e: Error) => e instanceof NlpbookError && /not found; download it first: await corpus\.fetch\(\).*nlpbook corpus fetch/.test(e.message));
});

test('nlpbook corpus stats --json prints one object with the exact figures', () => {
  const dir = tempDir('nlpbook-cli-');
  const r = runCli(['corpus', 'stats', '--root', dir, '--json'], { env: { NLPBOOK_CORPUS_MIRROR: path.join(SHARED, 'data'), NLPBOOK_MIRROR: '' } });
  assert.equal(r.status, 0, r.stderr);
  const out = jsonLines(r.stdout);
  assert.equal(out.length, 1);
  assert.deepEqual(out[0], {
    train: { rows: 150000, positive: 74827, negative: 75173, positiveShare: 0.4988, empty: 5, quoted: 623, meanChars: 35.2, p50Chars: 27, p95Chars: 107, maxChars: 146 },
    test: { rows: 50000, positive: 25173, negative: 24827, positiveShare: 0.5035, empty: 3, quoted: 233, meanChars: 35.32, p50Chars: 27, p95Chars: 108, maxChars: 144 },
  });
  // fetch again: cached
  const f = runCli(['corpus', 'fetch', '--root', dir, '--json'], { env: { NLPBOOK_CORPUS_MIRROR: '/nonexistent', NLPBOOK_MIRROR: '' } });
  assert.equal(f.status, 0, f.stderr);
  assert.deepEqual(Object.values(jsonLines(f.stdout)[0]).map((x: any) => x.action), ['cached', 'cached']);
  // a bad mirror folder with --force: exit 1, one line naming the mirror option
  const bad = runCli(['corpus', 'fetch', '--root', dir, '--force', '--mirror', path.join(dir, 'nope')]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^nlpbook corpus: could not download .*nope\/nsmc\/ratings_train\.txt: no such file; corpus mirror .* from setting corpusMirror/);
  assert.equal(sha256File(path.join(dir, 'nsmc', 'ratings_train.txt')), NSMC_FILES.train.sha256);
});
