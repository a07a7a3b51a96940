// fetchModel against a local stand-in for the hub (test/hub-server.ts): downloads land in
// the Hugging Face cache in Python's layout, the cache answers later calls without any
// request, and every failure is one line naming what was tried.
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { NlpbookError } from '../src/util/errors';
import { fetchModel, FetchModelOptions, resolveModelDir } from '../src/model/hub';
import { BertTokenizer } from '../src/tokenizer/index';
import { FIXTURES, KCBERT_DIR, tempDir } from './helpers';
import { gitOid, HubServer, isLfs, sha256Hex, startHubServer } from './hub-server';

const TMP = tempDir('nlpbook-hub-download-');
const TINY = path.join(FIXTURES, 'tiny-bert');
const C1 = '1111111111222222222233333333334444444444';
const C2 = 'aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd';
const C3 = '5555555555666666666677777777778888888888';
const read = (dir: string, file: string): Buffer => fs.readFileSync(path.join(dir, file));

const tinyFiles = {
  'config.json': read(TINY, 'config.json'),
  'model.safetensors': read(TINY, 'model.safetensors'),
  'pytorch_model.bin': read(TINY, 'pytorch_model.bin'),
  'vocab.txt': read(KCBERT_DIR, 'vocab.txt'),
  'tokenizer_config.json': read(KCBERT_DIR, 'tokenizer_config.json'),
};
const { 'model.safetensors': _, ...binOnlyFiles } = tinyFiles;

/** What a BERT loader asks for. */
const MODEL: FetchModelOptions = {
  files: ['config.json', 'vocab.txt', 'tokenizer_config.json'],
  oneOf: [['model.safetensors', 'pytorch_model.bin']],
  optionalFiles: ['special_tokens_map.json'],
  progress: false,
};

let hub: HubServer;
before(async () => {
  hub = await startHubServer({
    'nlpbook/tiny-bert': { refs: { main: C1, 'v1.0': C1 }, files: tinyFiles },
    'nlpbook/tiny-bert-bin': { refs: { main: C2 }, files: binOnlyFiles },
    'nlpbook/private': { refs: { main: C3 }, files: tinyFiles, token: 'hf_testtoken' },
    'nlpbook/broken': { refs: { main: C3 }, files: tinyFiles, corrupt: ['model.safetensors'] },
  });
});
after(() => hub.close());

/** An environment with its own empty HF_HOME and no mirror, talking to the test hub. */
function envWith(name: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv & { HF_HOME: string } {
  return { HOME: path.join(TMP, 'home'), HF_HOME: path.join(TMP, name), HF_ENDPOINT: hub.url, ...extra };
}

async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof NlpbookError, String(e));
    assert.ok(!e.message.includes('\n'), 'one line');
    return e.message;
  }
  assert.fail('expected an NlpbookError');
}

const ENV1 = () => envWith('hf1');
const REPO1 = () => path.join(ENV1().HF_HOME, 'hub', 'models--nlpbook--tiny-bert');

test('downloads into the HF cache in Python\'s layout: refs/main, snapshot symlinks to blobs, same bytes', async () => {
  const dir = await fetchModel('nlpbook/tiny-bert', { ...MODEL, env: ENV1() });
  const repo = REPO1();
  assert.equal(dir, path.join(repo, 'snapshots', C1));
  assert.equal(fs.readFileSync(path.join(repo, 'refs', 'main'), 'utf8'), C1);
  for (const file of ['config.json', 'model.safetensors', 'vocab.txt', 'tokenizer_config.json']) {
    const bytes = tinyFiles[file as keyof typeof tinyFiles];
    const link = path.join(dir, file);
    assert.ok(fs.lstatSync(link).isSymbolicLink(), `${file} is a symlink`);
    // Blob names are the hub's etags: sha256 for LFS files, the git object id for the rest.
    const etag = isLfs(file) ? sha256Hex(bytes) : gitOid(bytes);
    assert.equal(fs.readlinkSync(link), path.join('..', '..', 'blobs', etag), file);
    assert.ok(fs.readFileSync(link).equals(bytes), `${file} byte-identical`);
  }
  // The weights alternative the repo has first wins; the other one is never asked for.
  assert.ok(!fs.existsSync(path.join(dir, 'pytorch_model.bin')));
  assert.ok(!hub.requests.some((r) => r.includes('pytorch_model.bin')), hub.requests.join(', '));
  // A file the repo lacks is recorded as Python does, so offline loads know it is not coming.
  assert.ok(fs.existsSync(path.join(repo, '.no_exist', C1, 'special_tokens_map.json')));
  assert.deepEqual(fs.readdirSync(path.join(repo, 'blobs')).length, 4, 'no temp files left');
  // The model file came through the LFS redirect; the others straight from resolve/.
  assert.ok(hub.requests.some((r) => r.startsWith('GET /cdn/')), hub.requests.join(', '));
});

test('the second call makes no request; resolveModelDir (sync) finds the snapshot too', async () => {
  const before = hub.requests.length;
  const dir = await fetchModel('nlpbook/tiny-bert', { ...MODEL, env: ENV1() });
  assert.equal(dir, path.join(REPO1(), 'snapshots', C1));
  assert.equal(await fetchModel('nlpbook/tiny-bert', { files: ['vocab.txt'], env: ENV1() }), dir);
  assert.equal(resolveModelDir('nlpbook/tiny-bert', { files: ['config.json'], env: ENV1() }), dir);
  assert.equal(hub.requests.length, before, hub.requests.slice(before).join(', '));
  // Offline with the files cached: fine, still no request.
  assert.equal(await fetchModel('nlpbook/tiny-bert', { ...MODEL, env: { ...ENV1(), TRANSFORMERS_OFFLINE: '1' } }), dir);
  assert.equal(hub.requests.length, before);
});

test('an optional file the cache knows nothing about: asked once (no re-download), else the cache is used', async () => {
  const ask = { ...MODEL, optionalFiles: ['special_tokens_map.json', 'tokenizer.json'] };
  // The hub is unreachable: the cache has everything needed, so it is used.
  const down = await startHubServer({});
  await down.close();
  const deadEnv = { ...ENV1(), HF_ENDPOINT: down.url };
  assert.equal(await fetchModel('nlpbook/tiny-bert', { ...ask, env: deadEnv }), path.join(REPO1(), 'snapshots', C1));
  const before = hub.requests.length;
  await fetchModel('nlpbook/tiny-bert', { ...ask, env: ENV1() });
  const asked = hub.requests.slice(before);
  assert.deepEqual(asked, ['GET /api/models/nlpbook/tiny-bert/revision/main', `POST /api/models/nlpbook/tiny-bert/paths-info/${C1}`]);
  assert.ok(fs.existsSync(path.join(REPO1(), '.no_exist', C1, 'tokenizer.json')));
  await fetchModel('nlpbook/tiny-bert', { ...ask, env: ENV1() });
  assert.equal(hub.requests.length, before + 2, 'now known: no more requests');
});

test('a tag gets its own refs/ file; forceDownload fetches again and shows progress for big files', async () => {
  const dir = await fetchModel('nlpbook/tiny-bert', { ...MODEL, revision: 'v1.0', env: ENV1() });
  assert.equal(dir, path.join(REPO1(), 'snapshots', C1));
  assert.equal(fs.readFileSync(path.join(REPO1(), 'refs', 'v1.0'), 'utf8'), C1);

  const before = hub.requests.length;
  const lines: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string) => lines.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    assert.equal(await fetchModel('nlpbook/tiny-bert', { ...MODEL, progress: true, forceDownload: true, env: ENV1() }), dir);
  } finally {
    process.stderr.write = write;
  }
  assert.ok(hub.requests.slice(before).some((r) => r.startsWith('GET /cdn/')), 'downloaded again');
  assert.ok(fs.readFileSync(path.join(dir, 'model.safetensors')).equals(tinyFiles['model.safetensors']));
  // One bar for the 2 MB weights (not for the small text files), as a line when stderr is not a terminal.
  assert.equal(lines.filter((l) => l.startsWith('download ')).length, 1, lines.join(''));
  assert.match(lines.join(''), /^download model\.safetensors: 2\.1 MB\/2\.1 MB \(100%\) done in/m);
});

test('a repo with only pytorch_model.bin: the weights fall back to it', async () => {
  const env = envWith('hf-bin');
  const dir = await fetchModel('nlpbook/tiny-bert-bin', { ...MODEL, env });
  assert.equal(dir, path.join(env.HF_HOME, 'hub', 'models--nlpbook--tiny-bert-bin', 'snapshots', C2));
  assert.ok(read(dir, 'pytorch_model.bin').equals(tinyFiles['pytorch_model.bin']));
  assert.ok(!fs.existsSync(path.join(dir, 'model.safetensors')));
  assert.ok(fs.existsSync(path.join(env.HF_HOME, 'hub', 'models--nlpbook--tiny-bert-bin', '.no_exist', C2, 'model.safetensors')));
});

test('HF_HUB_OFFLINE=1 with an empty cache: one line saying what was tried, and no request', async () => {
  const env = envWith('hf-offline', { HF_HUB_OFFLINE: '1' });
  const before = hub.requests.length;
  const msg = await failure(fetchModel('nlpbook/tiny-bert', { ...MODEL, env }));
  assert.equal(hub.requests.length, before);
  assert.match(msg, /^model "nlpbook\/tiny-bert" not found; tried folder .*nlpbook\/tiny-bert \(none\), mirror \(none set/);
  assert.ok(msg.includes(`HF cache ${path.join(env.HF_HOME, 'hub', 'models--nlpbook--tiny-bert')} (none)`), msg);
  assert.match(msg, /HF_HUB_OFFLINE is set, so the hub was not asked/);
});

test('errors name the URL and the HTTP status: unknown repo, missing file, private repo, bad download', async () => {
  const env = envWith('hf-errors');
  const unknown = await failure(fetchModel('nobody/nothing', { ...MODEL, env }));
  assert.ok(unknown.includes(`hub ${hub.url}/api/models/nobody/nothing/revision/main (HTTP 404: Repository not found)`), unknown);

  const noFile = await failure(fetchModel('nlpbook/tiny-bert-bin', { files: ['config.json', 'merges.txt'], env }));
  assert.ok(noFile.includes(`hub ${hub.url}/nlpbook/tiny-bert-bin/resolve/main/merges.txt (404: not in the repo`), noFile);

  const noRevision = await failure(fetchModel('nlpbook/tiny-bert', { ...MODEL, revision: 'v9', env }));
  assert.ok(noRevision.includes(`(HTTP 404: Invalid rev id: v9)`), noRevision);

  // A private repo: 401 without a token, downloaded with HF_TOKEN (sent on every request).
  const privateMsg = await failure(fetchModel('nlpbook/private', { ...MODEL, env }));
  assert.match(privateMsg, /revision\/main \(HTTP 401: Repository not found; private or gated\? set HF_TOKEN\)/);
  const before = hub.requests.length;
  const dir = await fetchModel('nlpbook/private', { ...MODEL, env: { ...env, HF_TOKEN: 'hf_testtoken' } });
  assert.ok(read(dir, 'config.json').equals(tinyFiles['config.json']));
  const auths = hub.authorizations.slice(before);
  const requests = hub.requests.slice(before);
  // The CDN gets no token (it is signed by the hub in real life); every hub request carries it.
  requests.forEach((r, i) => assert.equal(auths[i], r.startsWith('GET /cdn/') ? auths[i] : 'Bearer hf_testtoken', r));
  const badToken = envWith('hf-bad-token', { HF_TOKEN: 'secret' });
  assert.match(await failure(fetchModel('nlpbook/private', { ...MODEL, env: badToken })), /^HF_TOKEN: .*starts with "hf_"/);

  // Bytes that do not match the hub's sha256 are not kept, and refs/main is not written.
  const broken = await failure(fetchModel('nlpbook/broken', { ...MODEL, env }));
  assert.match(broken, /model\.safetensors \(sha256 mismatch: expected [0-9a-f]{64}, got [0-9a-f]{64}; not kept\)/);
  const repo = path.join(env.HF_HOME, 'hub', 'models--nlpbook--broken');
  assert.ok(!fs.existsSync(path.join(repo, 'refs', 'main')));
  assert.ok(!fs.readdirSync(path.join(repo, 'blobs')).some((f) => f === sha256Hex(tinyFiles['model.safetensors']) || f.endsWith('.tmp')));
});

test('the hub unreachable: the error lists folder, mirror, cache and the request that failed', async () => {
  const down = await startHubServer({});
  const url = down.url;
  await down.close();
  const mirror = path.join(TMP, 'empty-mirror');
  fs.mkdirSync(mirror, { recursive: true });
  const env = envWith('hf-down', { HF_ENDPOINT: url });
  const msg = await failure(fetchModel('nlpbook/tiny-bert', { ...MODEL, modelMirror: mirror, env }));
  const port = new URL(url).port;
  assert.match(msg, /^model "nlpbook\/tiny-bert" not found; tried folder .*\(none\)/);
  assert.ok(msg.includes(`mirror ${path.join(mirror, 'nlpbook', 'tiny-bert')} (none)`), msg);
  assert.ok(msg.includes(`HF cache ${path.join(env.HF_HOME, 'hub', 'models--nlpbook--tiny-bert')} (none)`), msg);
  assert.ok(msg.includes(`hub GET ${url}/api/models/nlpbook/tiny-bert/revision/main (network error: connect ECONNREFUSED 127.0.0.1:${port})`), msg);
  assert.match(msg, /no internet\? set NLPBOOK_MIRROR/);
});

test('BertTokenizer.fromPretrained downloads through the hub and tokenizes like the kcbert folder', async () => {
  const env = envWith('hf-tokenizer');
  const keys = ['HF_HOME', 'HF_ENDPOINT', 'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE', 'NLPBOOK_MIRROR', 'NLPBOOK_MODEL_MIRROR'];
  const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
  for (const k of keys) delete process.env[k];
  process.env.HF_HOME = env.HF_HOME;
  process.env.HF_ENDPOINT = hub.url;
  try {
    const t = await BertTokenizer.fromPretrained('nlpbook/tiny-bert');
    assert.equal(t.name, 'nlpbook/tiny-bert');
    assert.equal(t.fingerprint(), BertTokenizer.fromFolder(KCBERT_DIR).fingerprint());
    assert.deepEqual(t.tokenize('영화 최고ㅋㅋ'), ['영화', '최고', '##ㅋㅋ']);
    const snapshot = path.join(env.HF_HOME, 'hub', 'models--nlpbook--tiny-bert', 'snapshots', C1);
    assert.deepEqual(fs.readdirSync(snapshot).sort(), ['tokenizer_config.json', 'vocab.txt'], 'no weights for a tokenizer');
  } finally {
    for (const k of keys) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
});
