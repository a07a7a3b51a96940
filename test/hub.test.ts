import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { NlpbookError } from '../src/util/errors';
import { hfHubCache, resolveModelDir } from '../src/model/hub';
import { BertTokenizer } from '../src/tokenizer/index';
import { KCBERT_DIR, SHARED, tempDir } from './helpers';

const TMP = tempDir('nlpbook-hub-');
const COMMIT = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';

/** A Hugging Face hub cache as huggingface_hub lays it out: blobs, refs/main, snapshot symlinks. */
function hfCache(root: string, id: string, files: string[]): string {
  const repo = path.join(root, `models--${id.replace('/', '--')}`);
  fs.mkdirSync(path.join(repo, 'blobs'), { recursive: true });
  fs.mkdirSync(path.join(repo, 'refs'), { recursive: true });
  fs.writeFileSync(path.join(repo, 'refs', 'main'), COMMIT);
  const snapshot = path.join(repo, 'snapshots', COMMIT);
  fs.mkdirSync(snapshot, { recursive: true });
  for (const f of files) {
    const blob = path.join(repo, 'blobs', `blob-${f}`);
    fs.copyFileSync(path.join(KCBERT_DIR, f), blob);
    fs.symlinkSync(path.relative(snapshot, blob), path.join(snapshot, f));
  }
  return snapshot;
}

function error(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof NlpbookError, String(e));
    assert.ok(!e.message.includes('\n'), 'one line');
    return e.message;
  }
  assert.fail('expected an NlpbookError');
}

const noEnv = { HOME: path.join(TMP, 'home') }; // no mirror, an empty default cache

test('(a) an existing local folder wins, even when it looks like a hub id', () => {
  assert.equal(resolveModelDir(KCBERT_DIR, { env: noEnv }), KCBERT_DIR);
  const cwd = process.cwd();
  fs.mkdirSync(path.join(TMP, 'work', 'beomi', 'kcbert-base'), { recursive: true });
  process.chdir(path.join(TMP, 'work'));
  try {
    const mirror = path.join(SHARED, 'models');
    assert.equal(resolveModelDir('beomi/kcbert-base', { modelMirror: mirror, env: noEnv }), path.join(TMP, 'work', 'beomi', 'kcbert-base'));
  } finally {
    process.chdir(cwd);
  }
  assert.match(error(() => resolveModelDir('./no/such/folder', { env: noEnv })), /^model folder not found: \.\/no\/such\/folder$/);
  assert.match(error(() => resolveModelDir('/no/such/folder', { env: noEnv })), /^model folder not found/);
});

test('(b) the model mirror: <mirror>/<id>, then <mirror>/<last part>; NLPBOOK_MIRROR maps to shared/models', () => {
  const mirror = path.join(TMP, 'mirror');
  fs.mkdirSync(path.join(mirror, 'org', 'model'), { recursive: true });
  fs.mkdirSync(path.join(mirror, 'model'), { recursive: true });
  assert.equal(resolveModelDir('org/model', { modelMirror: mirror, env: noEnv }), path.join(mirror, 'org', 'model'));
  // A folder without the needed files is passed over.
  fs.writeFileSync(path.join(mirror, 'model', 'vocab.txt'), '[PAD]\n');
  assert.equal(resolveModelDir('org/model', { modelMirror: mirror, files: ['vocab.txt'], env: noEnv }), path.join(mirror, 'model'));
  // The environment variable, as the notebooks and the CLI use it.
  assert.equal(resolveModelDir('beomi/kcbert-base', { env: { ...noEnv, NLPBOOK_MIRROR: SHARED } }), KCBERT_DIR);
  assert.equal(resolveModelDir('beomi/kcbert-base', { env: { ...noEnv, NLPBOOK_MODEL_MIRROR: path.join(SHARED, 'models') } }), KCBERT_DIR);
});

test('(c) Python\'s Hugging Face cache: HF_HUB_CACHE, else $HF_HOME/hub, snapshot of refs/main', () => {
  const hub = path.join(TMP, 'hf', 'hub');
  const snapshot = hfCache(hub, 'beomi/kcbert-base', ['vocab.txt', 'tokenizer_config.json']);
  assert.equal(resolveModelDir('beomi/kcbert-base', { files: ['vocab.txt'], env: { ...noEnv, HF_HUB_CACHE: hub } }), snapshot);
  assert.equal(resolveModelDir('beomi/kcbert-base', { files: ['vocab.txt'], env: { ...noEnv, HF_HOME: path.join(TMP, 'hf') } }), snapshot);
  assert.equal(hfHubCache({ HOME: '/h', XDG_CACHE_HOME: '/x' }), path.join('/x', 'huggingface', 'hub'));
  // The mirror comes first.
  const viaMirror = resolveModelDir('beomi/kcbert-base', { modelMirror: path.join(SHARED, 'models'), env: { ...noEnv, HF_HUB_CACHE: hub } });
  assert.equal(viaMirror, KCBERT_DIR);
  // A snapshot without a requested file is not used.
  const msg = error(() => resolveModelDir('beomi/kcbert-base', { files: ['config.json'], env: { ...noEnv, HF_HUB_CACHE: hub } }));
  assert.match(msg, new RegExp(`HF cache ${snapshot.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(no config\\.json\\)`));
});

test('the tokenizer loads from the HF cache layout (symlinked snapshot files)', async () => {
  const hub = path.join(TMP, 'hf2', 'hub');
  hfCache(hub, 'beomi/kcbert-base', ['vocab.txt', 'tokenizer_config.json']);
  const saved = process.env.HF_HUB_CACHE;
  const savedOffline = process.env.HF_HUB_OFFLINE;
  process.env.HF_HUB_CACHE = hub;
  process.env.HF_HUB_OFFLINE = '1'; // optional tokenizer files are unknown to this cache: don't ask the real hub
  try {
    const t = await BertTokenizer.fromPretrained('beomi/kcbert-base', { modelMirror: path.join(TMP, 'empty-mirror') });
    assert.equal(t.name, 'beomi/kcbert-base');
    assert.equal(t.fingerprint(), BertTokenizer.fromFolder(KCBERT_DIR).fingerprint());
    assert.deepEqual(t.tokenize('영화 최고ㅋㅋ'), ['영화', '최고', '##ㅋㅋ']);
  } finally {
    if (saved === undefined) delete process.env.HF_HUB_CACHE;
    else process.env.HF_HUB_CACHE = saved;
    if (savedOffline === undefined) delete process.env.HF_HUB_OFFLINE;
    else process.env.HF_HUB_OFFLINE = savedOffline;
  }
});

test('not found: one line listing every place tried, and that this function does not download', () => {
  const mirror = path.join(TMP, 'mirror2');
  fs.mkdirSync(mirror, { recursive: true });
  const hub = path.join(TMP, 'hf3', 'hub');
  fs.mkdirSync(path.join(hub, 'models--beomi--kcbert-base'), { recursive: true }); // no refs/main
  const msg = error(() => resolveModelDir('beomi/kcbert-base', { modelMirror: mirror, env: { ...noEnv, HF_HUB_CACHE: hub } }));
  assert.match(msg, /^model "beomi\/kcbert-base" not found; tried folder .*beomi\/kcbert-base \(none\)/);
  assert.ok(msg.includes(`mirror ${path.join(mirror, 'beomi', 'kcbert-base')} (none)`), msg);
  assert.ok(msg.includes(`mirror ${path.join(mirror, 'kcbert-base')} (none)`), msg);
  assert.ok(msg.includes(`HF cache ${path.join(hub, 'models--beomi--kcbert-base')} (no refs/main)`), msg);
  assert.match(msg, /not downloaded here \(fetchModel downloads from the hub\)/);

  const offline = error(() => resolveModelDir('beomi/kcbert-base', { env: { ...noEnv, HF_HUB_OFFLINE: '1' } }));
  assert.match(offline, /mirror \(none set: NLPBOOK_MIRROR/);
  assert.match(offline, /HF_HUB_OFFLINE is set, so nothing is downloaded/);
  assert.match(error(() => resolveModelDir('not a model!', { env: noEnv })), /neither a folder nor a hub id/);
});
