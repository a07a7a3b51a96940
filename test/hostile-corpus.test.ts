// The NSMC cache against files that lie, on real copies of the official files:
//   - an edit of the same size with the mtime put back (and a same-size file renamed into
//     place) is not taken for the official file: the sidecar's cheap signals include the
//     inode and the ctime, which no user call can set back; the sha256 decides;
//   - the fast path stays: an unchanged file is not read again;
//   - the edited file is kept beside the fresh download, never deleted;
//   - a file that starts with a UTF-8 byte-order mark (Excel, Windows editors) reads as the
//     same examples as without it.
import { test, mock } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { NSMC_DIR, tempDir } from './helpers';
import { fetchNsmc, NSMC_FILES, NsmcCorpus, readNsmcFile } from '../src/corpus/corpus';
import { fileSha256, hasSha256, sha256SidecarPath } from '../src/util/download';
import { sha256File } from '../src/util/fsutil';
import { DEFAULT_SETTINGS } from '../src/settings/index';

/** A corpus root with copies of the official files (mtime set to a round second, so it can be put back exactly). */
function copyCorpus(): { root: string; train: string; test: string } {
  const root = tempDir('nlpbook-hostile-corpus-');
  fs.mkdirSync(path.join(root, 'nsmc'));
  const train = path.join(root, 'nsmc', 'ratings_train.txt');
  const testFile = path.join(root, 'nsmc', 'ratings_test.txt');
  fs.copyFileSync(path.join(NSMC_DIR, 'ratings_train.txt'), train);
  fs.copyFileSync(path.join(NSMC_DIR, 'ratings_test.txt'), testFile);
  for (const f of [train, testFile]) fs.utimesSync(f, 1_700_000_000, 1_700_000_000);
  return { root, train, test: testFile };
}

/** How many times `file` is opened (sha256File opens it to hash it) while `fn` runs. */
function opensOf(file: string, fn: () => void): number {
  // The fs module itself (an `import * as` namespace is a copy of it).
  const spy = mock.method(require('fs') as typeof fs, 'openSync');
  try {
    fn();
    return spy.mock.calls.filter((c) => c.arguments[0] === file).length;
  } finally {
    spy.mock.restore();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('an edit of the same size with the mtime put back is not the official file; an unchanged file is not re-read', async () => {
  const { root, train } = copyCorpus();
  // Hash once; the record is trusted only once it is older than the file's last change by 3 s
  // (an edit within the same clock tick as the record could otherwise keep the ctime).
  assert.equal(fileSha256(train), NSMC_FILES.train.sha256);
  await sleep(3100);
  assert.equal(fileSha256(train), NSMC_FILES.train.sha256);
  const record = JSON.parse(fs.readFileSync(sha256SidecarPath(train), 'utf8'));
  assert.deepEqual(Object.keys(record).sort(), ['checkedAtMs', 'ctimeNs', 'dev', 'ino', 'mtimeMs', 'mtimeNs', 'sha256', 'size']);

  // The fast path: size, mtime, ctime, inode and device prove the file unchanged: not opened.
  assert.equal(opensOf(train, () => assert.equal(hasSha256(train, NSMC_FILES.train.sha256), true)), 0);

  // The hostile edit: one label flipped (same size), the mtime put back to the exact nanosecond.
  const before = fs.statSync(train, { bigint: true });
  const bytes = fs.readFileSync(train);
  const at = bytes.indexOf('\t0\n') + 1;
  bytes[at] = '1'.charCodeAt(0);
  fs.writeFileSync(train, bytes);
  fs.utimesSync(train, 1_700_000_000, 1_700_000_000);
  const after = fs.statSync(train, { bigint: true });
  assert.equal(after.size, before.size);
  assert.equal(after.mtimeNs, before.mtimeNs, 'the mtime is back where it was');
  assert.equal(String(after.mtimeNs), record.mtimeNs);
  assert.notEqual(after.ctimeNs, before.ctimeNs, 'the ctime is not');

  assert.equal(opensOf(train, () => assert.equal(hasSha256(train, NSMC_FILES.train.sha256), false)), 1, 'hashed again');
  assert.equal(fileSha256(train), sha256File(train));
  assert.notEqual(fileSha256(train), NSMC_FILES.train.sha256);
  // The fingerprint (feature caches' key) follows the content, not the cheap signals.
  const settings = { ...DEFAULT_SETTINGS, downstreamCorpusRootDir: root, tqdmEnabled: false };
  assert.notEqual(new NsmcCorpus(settings).fingerprint('train'), fingerprintOfOfficial('train'));

  // fetch replaces it with the official file from the mirror and keeps the edit beside it.
  const r = await fetchNsmc({ ...settings, corpusMirror: path.dirname(NSMC_DIR), forceDownload: false }, { env: {} });
  assert.deepEqual(r.map((x) => x.action), ['downloaded', 'cached']);
  assert.equal(sha256File(train), NSMC_FILES.train.sha256);
  assert.match(r[0].kept!, /ratings_train\.txt\.modified-\d{8}-\d{6}$/);
  assert.deepEqual(fs.readFileSync(r[0].kept!), bytes, "the user's file is kept as it was");
  assert.equal(r[1].kept, undefined);
});

test('a same-size file renamed into place with the same mtime (another inode) is hashed, not trusted', async () => {
  const { train } = copyCorpus();
  fileSha256(train);
  await sleep(3100);
  fileSha256(train);
  assert.equal(opensOf(train, () => assert.equal(hasSha256(train, NSMC_FILES.train.sha256), true)), 0);
  const forged = `${train}.forged`;
  const bytes = fs.readFileSync(train);
  bytes[bytes.indexOf('\t1\n') + 1] = '0'.charCodeAt(0);
  fs.writeFileSync(forged, bytes);
  fs.utimesSync(forged, 1_700_000_000, 1_700_000_000);
  fs.renameSync(forged, train);
  assert.equal(hasSha256(train, NSMC_FILES.train.sha256), false);
  // An old-format sidecar (size + mtime only) is never trusted either.
  const official = copyCorpus().train;
  fs.writeFileSync(sha256SidecarPath(official), JSON.stringify({ size: fs.statSync(official).size, mtimeMs: fs.statSync(official).mtimeMs, sha256: 'f'.repeat(64) }));
  assert.equal(fileSha256(official), NSMC_FILES.train.sha256);
});

test('a byte-order mark at the start of an NSMC file is accepted: the same examples as without it', () => {
  const dir = tempDir('nlpbook-bom-');
  const plain = path.join(NSMC_DIR, 'ratings_test.txt');
  const bom = path.join(dir, 'ratings_test.txt');
  fs.writeFileSync(bom, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), fs.readFileSync(plain)]));
  const want = readNsmcFile(plain);
  const got = readNsmcFile(bom);
  assert.equal(got.examples.length, 50_000);
  assert.deepEqual(got.examples, want.examples);
  assert.deepEqual(got.lines, want.lines);
  assert.deepEqual(got.quotedLines, want.quotedLines);
  assert.deepEqual(got.emptyLines, want.emptyLines);
  // As Excel saves it: BOM and CRLF line ends.
  const excel = path.join(dir, 'excel.txt');
  fs.writeFileSync(excel, '\ufeffid\tdocument\tlabel\r\n9976970\t아 더빙.. 진짜 짜증나네요 목소리\t0\r\n3819312\t"흠...포스터보고 ""초딩영화""줄"\t1\r\n');
  assert.deepEqual(readNsmcFile(excel).examples, [
    { id: '9976970', text: '아 더빙.. 진짜 짜증나네요 목소리', label: 0 },
    { id: '3819312', text: '흠...포스터보고 "초딩영화"줄', label: 1 },
  ]);
  // Only a leading BOM is dropped; the header check still holds for anything else.
  const twice = path.join(dir, 'twice.txt');
  fs.writeFileSync(twice, '\ufeff\ufeffid\tdocument\tlabel\n1\ta\t1\n');
  assert.throws(() => readNsmcFile(twice), /twice\.txt:1: header must be "id\\tdocument\\tlabel", got "\ufeffid\\tdocument\\tlabel"/);
});

/** The fingerprint an untouched copy of the official split has. */
function fingerprintOfOfficial(split: 'train' | 'test'): string {
  const { root } = copyCorpus();
  return new NsmcCorpus({ ...DEFAULT_SETTINGS, downstreamCorpusRootDir: root, tqdmEnabled: false }).fingerprint(split);
}
