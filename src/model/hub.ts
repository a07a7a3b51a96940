// Where a pretrained model's files are: like `from_pretrained` in transformers, a name is
// either a local folder or a Hugging Face hub id ("beomi/kcbert-base"). An id is looked up in
// the model mirror, then in Python's Hugging Face cache (a model Python already downloaded is
// reused as is), and only then downloaded from the hub into that same cache, in Python's
// layout, so Python finds what we downloaded too (see hub-download.ts).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { NlpbookError, check } from '../util/errors';
import { HubAttemptError, downloadToCache, isCommitHash, repoCacheDir } from './hub-download';
import { modelMirror } from '../util/mirror';
import { downloadIdleTimeoutMs } from '../util/download';

export interface ResolveModelOptions {
  /** The model mirror setting (settings.modelMirror); null/undefined: NLPBOOK_MODEL_MIRROR, else $NLPBOOK_MIRROR/models. */
  modelMirror?: string | null;
  /** Files the caller needs (e.g. ["vocab.txt"]); a mirror or cache folder without them is skipped. */
  files?: string[];
  /** Environment to read (default process.env); tests pass their own. */
  env?: NodeJS.ProcessEnv;
}

/**
 * The local folder holding model `nameOrDir`, without downloading (for code that cannot
 * wait; `fetchModel` also downloads). Tried in order:
 *  (a) an existing local folder;
 *  (b) the model mirror: <mirror>/<id>, then <mirror>/<last part of id>;
 *  (c) the Hugging Face cache: <HF_HUB_CACHE or $HF_HOME/hub or ~/.cache/huggingface/hub>/models--<org>--<name>/snapshots/<refs/main>/.
 * Otherwise throws a one-line NlpbookError that lists every place tried.
 */
export function resolveModelDir(nameOrDir: string, options: ResolveModelOptions = {}): string {
  const env = options.env ?? process.env;
  const found = findOnDisk(nameOrDir, { modelMirror: options.modelMirror, files: options.files ?? [], oneOf: [], revision: 'main', env });
  if (found.dir) return found.dir;
  const offline = offlineVariable(env);
  const download = offline ? `${offline} is set, so nothing is downloaded` : 'not downloaded here (fetchModel downloads from the hub)';
  throw new NlpbookError(
    `model "${nameOrDir}" not found; tried ${found.tried.join(', ')}; ${download} — set NLPBOOK_MIRROR (or settings.modelMirror) to a folder that holds it`,
  );
}

export interface FetchModelOptions {
  /** The model mirror setting (settings.modelMirror); null/undefined: NLPBOOK_MODEL_MIRROR, else $NLPBOOK_MIRROR/models. */
  modelMirror?: string | null;
  /** Files that must be there (e.g. ["config.json"]). */
  files: string[];
  /** Files fetched when the hub repo has them (e.g. ["special_tokens_map.json"]). */
  optionalFiles?: string[];
  /** Alternatives, best first: [["model.safetensors", "pytorch_model.bin"]] takes the first the repo has. */
  oneOf?: string[][];
  /** Branch, tag or commit hash on the hub (default "main"). */
  revision?: string;
  /** Skip the Hugging Face cache and download again (the local folder and the mirror still win). */
  forceDownload?: boolean;
  /** Progress bars on stderr for big files (default true; settings.tqdmEnabled). */
  progress?: boolean;
  /** Environment to read (default process.env); tests pass their own. */
  env?: NodeJS.ProcessEnv;
}

/** How long to wait for a hub response to start (a hung server must not hang a notebook). */
const HUB_TIMEOUT_MS = 30_000;

/**
 * A local folder holding model `nameOrDir`'s files, downloading them when needed. Tried in order:
 *  (a) an existing local folder (returned as is);
 *  (b) the model mirror (as in resolveModelDir), when it has `files` and one of each `oneOf` group;
 *  (c) the Hugging Face cache snapshot of `revision`, likewise (no network at all then);
 *  (d) the hub at HF_ENDPOINT (default https://huggingface.co), with HF_TOKEN if set: the files
 *      go into the Hugging Face cache in Python's layout and the snapshot folder is returned.
 * With HF_HUB_OFFLINE=1 (or TRANSFORMERS_OFFLINE=1) step (d) is skipped. Failing all, throws a
 * one-line NlpbookError listing what was tried (folders, cache path, URL with HTTP status or
 * network error).
 */
export async function fetchModel(nameOrDir: string, options: FetchModelOptions): Promise<string> {
  const env = options.env ?? process.env;
  const revision = options.revision ?? 'main';
  const oneOf = options.oneOf ?? [];
  const optionalFiles = options.optionalFiles ?? [];
  check(
    /^[\w.-]+(\/[\w.-]+)*$/.test(revision) && !revision.split('/').includes('..'),
    `revision "${revision}" is not a branch, tag or commit name`,
  );
  for (const file of [...options.files, ...oneOf.flat(), ...optionalFiles]) {
    check(!path.isAbsolute(file) && !file.split(/[\\/]/).includes('..'), `model file "${file}" must be a path inside the model folder`);
  }

  const offline = offlineVariable(env);
  const found = findOnDisk(nameOrDir, {
    modelMirror: options.modelMirror,
    files: options.files,
    oneOf,
    // Offline, optional files are simply absent; online, the hub is asked about those the cache does not know.
    optionalFiles: offline ? [] : optionalFiles,
    revision,
    env,
    skipCache: options.forceDownload,
  });
  if (found.dir) return found.dir;
  const tried = found.tried;
  const notFound = (): string => `model "${nameOrDir}" not found; tried ${tried.join(', ')}`;
  const useMirror = 'set NLPBOOK_MIRROR (or settings.modelMirror) to a folder that holds the model';

  if (offline) throw new NlpbookError(`${notFound()}; ${offline} is set, so the hub was not asked — unset it, or ${useMirror}`);

  const token = env.HF_TOKEN || undefined;
  check(!token || token.startsWith('hf_'), 'HF_TOKEN: a Hugging Face access token starts with "hf_"');
  const endpoint = hubEndpoint(env);
  // From the same environment as the rest (a bad value is its own one-line error, before any request).
  const idleTimeoutMs = downloadIdleTimeoutMs(env);
  try {
    return await downloadToCache({
      repo: nameOrDir,
      revision,
      files: options.files,
      optionalFiles,
      oneOf,
      cacheDir: hfHubCache(env),
      endpoint,
      token,
      forceDownload: options.forceDownload ?? false,
      progress: options.progress ?? true,
      timeoutMs: HUB_TIMEOUT_MS,
      idleTimeoutMs,
    });
  } catch (e) {
    // The cache has everything needed, only some optional file is unknown: like Python, carry on with it.
    if (found.usableCache) return found.usableCache;
    const attempt = e instanceof HubAttemptError ? e.attempt : `${endpoint} into ${hfHubCache(env)} (${oneLine(e)})`;
    tried.push(`hub ${attempt}`);
    const noNetwork = e instanceof HubAttemptError && e.network;
    throw new NlpbookError(`${notFound()} — ${noNetwork ? `no internet? ${useMirror}, or HF_ENDPOINT to a hub mirror` : useMirror}`);
  }
}

/** The hub's base URL: HF_ENDPOINT (as in Python), else https://huggingface.co. */
export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return (env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, '');
}

/** The variable that forbids network access (HF_HUB_OFFLINE, TRANSFORMERS_OFFLINE), or null. Truthy as in Python: 1/true/yes/on. */
function offlineVariable(env: NodeJS.ProcessEnv): string | null {
  const on = (v: string | undefined): boolean => ['1', 'ON', 'YES', 'TRUE'].includes((v ?? '').trim().toUpperCase());
  if (on(env.HF_HUB_OFFLINE)) return 'HF_HUB_OFFLINE';
  if (on(env.TRANSFORMERS_OFFLINE)) return 'TRANSFORMERS_OFFLINE';
  return null;
}

interface DiskLookup {
  modelMirror?: string | null;
  files: string[];
  oneOf: string[][];
  /** Optional files: a cache snapshot counts as complete when each is there or known absent (.no_exist). */
  optionalFiles?: string[];
  revision: string;
  env: NodeJS.ProcessEnv;
  skipCache?: boolean;
}

/**
 * Steps (a)-(c): the folder that has the files, or every place tried and why it did not do;
 * `usableCache`: a snapshot with the needed files whose optional files are not all known.
 */
function findOnDisk(nameOrDir: string, o: DiskLookup): { dir?: string; tried: string[]; usableCache?: string } {
  const tried: string[] = [];

  // (a) A folder on disk wins, like transformers (a relative "beomi/kcbert-base" folder too).
  if (isDir(nameOrDir)) return { dir: path.resolve(nameOrDir), tried };
  if (looksLikePath(nameOrDir)) throw new NlpbookError(`model folder not found: ${nameOrDir}`);
  if (!isHubId(nameOrDir)) {
    throw new NlpbookError(`model "${nameOrDir}" is neither a folder nor a hub id like "beomi/kcbert-base"`);
  }
  tried.push(`folder ${path.resolve(nameOrDir)} (none)`);

  // (b) The mirror: a folder of model folders, named by full id or by the last part.
  const mirror = modelMirror(o.modelMirror, o.env);
  if (mirror) {
    const last = nameOrDir.split('/').pop() as string;
    const candidates = [...new Set([path.join(mirror, nameOrDir), path.join(mirror, last)])];
    for (const dir of candidates) {
      const why = whyNot(dir, o.files, o.oneOf);
      if (!why) return { dir: path.resolve(dir), tried };
      tried.push(`mirror ${dir} (${why})`);
    }
  } else {
    tried.push('mirror (none set: NLPBOOK_MIRROR / NLPBOOK_MODEL_MIRROR / modelMirror)');
  }

  // (c) The Hugging Face cache, the layout huggingface_hub writes.
  const repo = repoCacheDir(hfHubCache(o.env), nameOrDir);
  if (o.skipCache) {
    tried.push(`HF cache ${repo} (skipped: forceDownload)`);
    return { tried };
  }
  const snapshot = hfSnapshot(repo, o.revision);
  if (snapshot.dir) {
    const why = whyNot(snapshot.dir, o.files, o.oneOf);
    if (!why) {
      const noExist = path.join(repo, '.no_exist', path.basename(snapshot.dir));
      const unknown = (o.optionalFiles ?? []).filter((f) => !fs.existsSync(path.join(snapshot.dir!, f)) && !fs.existsSync(path.join(noExist, f)));
      if (!unknown.length) return { dir: snapshot.dir, tried };
      tried.push(`HF cache ${snapshot.dir} (not known: ${unknown.join(', ')})`);
      return { tried, usableCache: snapshot.dir };
    }
    tried.push(`HF cache ${snapshot.dir} (${why})`);
  } else {
    tried.push(`HF cache ${repo} (${snapshot.why})`);
  }
  return { tried };
}

/** The hub cache folder, as huggingface_hub computes it. */
export function hfHubCache(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.HF_HUB_CACHE ?? env.HUGGINGFACE_HUB_CACHE;
  if (cache) return cache;
  const home = env.HF_HOME ?? path.join(env.XDG_CACHE_HOME ?? path.join(env.HOME ?? os.homedir(), '.cache'), 'huggingface');
  return path.join(home, 'hub');
}

/** The snapshot folder of `revision` (a commit hash, or refs/<revision> names one), or why there is none. */
function hfSnapshot(repo: string, revision: string): { dir?: string; why: string } {
  if (!isDir(repo)) return { why: 'none' };
  let commit = revision;
  if (!isCommitHash(revision)) {
    const ref = path.join(repo, 'refs', revision);
    if (!fs.existsSync(ref)) return { why: `no refs/${revision}` };
    commit = fs.readFileSync(ref, 'utf8').trim();
  }
  const dir = path.join(repo, 'snapshots', commit);
  if (!isCommitHash(commit) || !isDir(dir)) return { why: `refs/${revision} names a missing snapshot "${commit}"` };
  return { dir, why: '' };
}

/** Empty when `dir` is a folder with every file in `files` and one of each `oneOf` group; otherwise the reason. */
function whyNot(dir: string, files: string[], oneOf: string[][]): string {
  if (!isDir(dir)) return 'none';
  const has = (f: string): boolean => fs.existsSync(path.join(dir, f)); // follows snapshot symlinks
  const missing = files.filter((f) => !has(f));
  for (const group of oneOf) if (!group.some(has)) missing.push(group.join(' or '));
  return missing.length ? `no ${missing.join(', ')}` : '';
}

function oneLine(e: unknown): string {
  return String((e as Error)?.message ?? e).replace(/\s+/g, ' ');
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** "./x", "../x", "/x", "~/x", "C:\x" are paths, never hub ids. */
function looksLikePath(name: string): boolean {
  return /^(\.{1,2}([\\/]|$)|[\\/]|~|[A-Za-z]:[\\/])/.test(name) || name.includes('\\');
}

/** A hub id: "name" or "org/name" of letters, digits, '-', '_', '.'. */
function isHubId(name: string): boolean {
  return /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/.test(name) && !name.includes('..');
}
