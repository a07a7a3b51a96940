// Downloads files of a hub model into the Hugging Face cache, in the layout Python's
// huggingface_hub writes, so that transformers finds them too (and we find Python's):
//
//   <cache>/models--<org>--<name>/blobs/<etag>                   the file's bytes
//   <cache>/models--<org>--<name>/snapshots/<commit>/<file>      relative symlink to the blob
//   <cache>/models--<org>--<name>/refs/<revision>                the commit hash
//   <cache>/models--<org>--<name>/.no_exist/<commit>/<file>      empty: the repo has no such file
//
// The hub protocol (URLs, auth, redirects to the CDN, Xet storage, API errors) is left to
// @huggingface/hub; this module only decides which files to get and writes the cache. The
// library's own downloadFileToCacheDir is not used because it names the snapshot folder
// after the last commit that touched each file (Python uses the revision's commit, so files
// would scatter over several folders), writes no refs/, prints to stdout (breaking --json
// output) and offers no progress.
//
// Every hub response is watched while its body arrives: no byte for NLPBOOK_DOWNLOAD_TIMEOUT
// seconds (default 60) aborts it, and a download's temp file is removed on every failure,
// also when the process is interrupted (Ctrl+C) mid-download.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Readable, Transform } from 'stream';
import { pipeline } from 'stream/promises';
import type { PathInfo } from '@huggingface/hub';
import { downloadIdleTimeoutMs, removeOnInterrupt, seconds } from '../util/download';
import { tempPathFor, writeFileAtomic } from '../util/fsutil';
import { progress as makeProgress } from '../util/progress';

export interface HubDownloadRequest {
  /** Hub id, "org/name" or "name". */
  repo: string;
  /** Branch, tag or commit hash. */
  revision: string;
  /** Files that must exist. */
  files: string[];
  /** Files taken when the repo has them. */
  optionalFiles: string[];
  /** Groups of alternatives: the first that the repo has is taken; the group fails when it has none. */
  oneOf: string[][];
  /** The hub cache folder (hfHubCache()). */
  cacheDir: string;
  /** Base URL of the hub, without trailing slash. */
  endpoint: string;
  /** An access token (hf_...), sent as a Bearer header. */
  token?: string;
  /** Download again even when the blob is cached. */
  forceDownload: boolean;
  /** Show progress bars for big files. */
  progress: boolean;
  /** Give up on a request whose response headers take longer than this. */
  timeoutMs: number;
  /** Give up on a response body that sends no byte for this long (default: NLPBOOK_DOWNLOAD_TIMEOUT seconds, else 60 s). */
  idleTimeoutMs?: number;
}

/** Files of this size or more get a progress bar. */
const PROGRESS_MIN_BYTES = 1_000_000;

/**
 * A failed hub request or a bad download; `attempt` is one line for the "tried ..." list:
 * the URL and the HTTP status, the network error, or what was wrong with the file.
 */
export class HubAttemptError extends Error {
  /** `network`: the hub could not be reached at all (no answer), rather than answering "no"; `detail`: the why alone. */
  constructor(readonly attempt: string, readonly network = false, readonly detail = attempt) {
    super(attempt);
    this.name = 'HubAttemptError';
  }
}

/** The cache folder of one model repo, as huggingface_hub names it. */
export function repoCacheDir(cacheDir: string, repo: string): string {
  return path.join(cacheDir, `models--${repo.replace(/\//g, '--')}`);
}

/**
 * Downloads what `request` asks for into the cache (files already in the snapshot are kept)
 * and returns the snapshot folder. Throws HubAttemptError for hub and download failures.
 */
export async function downloadToCache(request: HubDownloadRequest): Promise<string> {
  // Loaded here, not at the top: reading a model from disk should not pay for the library.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const hub: typeof import('@huggingface/hub') = require('@huggingface/hub');
  const { repo, revision, endpoint } = request;
  const idleMs = request.idleTimeoutMs ?? downloadIdleTimeoutMs();
  const common = {
    hubUrl: endpoint,
    accessToken: request.token,
    fetch: requestFetch(request.timeoutMs, idleMs),
  };

  // The commit the revision names now: all files come from it, so the snapshot is consistent.
  const commitHash = isCommitHash(revision)
    ? revision
    : (await apiCall(() => hub.modelInfo({ ...common, name: repo, revision, additionalFields: ['sha'] }))).sha;
  if (typeof commitHash !== 'string' || !isCommitHash(commitHash)) {
    throw new HubAttemptError(`${endpoint}/api/models/${repo}/revision/${revision} (no commit hash in the answer)`);
  }

  // One request says which of the wanted files exist, with their sizes and hashes.
  const wanted = [...new Set([...request.files, ...request.oneOf.flat(), ...request.optionalFiles])];
  const infos = await apiCall(() => hub.pathsInfo({ ...common, repo: { type: 'model', name: repo }, paths: wanted, revision: commitHash }));
  const inRepo = new Map<string, PathInfo>(infos.filter((i) => i.type === 'file').map((i) => [i.path, i]));
  const fileUrl = (file: string): string => `${endpoint}/${repo}/resolve/${revision}/${file}`;

  const missing = request.files.filter((f) => !inRepo.has(f));
  for (const group of request.oneOf) if (!group.some((f) => inRepo.has(f))) missing.push(group.join(' or '));
  if (missing.length) throw new HubAttemptError(`${missing.map(fileUrl).join(', ')} (404: not in the repo at ${commitHash.slice(0, 7)})`);

  const repoDir = repoCacheDir(request.cacheDir, repo);
  const snapshot = path.join(repoDir, 'snapshots', commitHash);
  const store = async (file: string): Promise<boolean> => {
    const info = inRepo.get(file);
    if (!info) {
      // Python records files a repo lacks, so that offline loads know they are not coming.
      writeFileAtomic(path.join(repoDir, '.no_exist', commitHash, file), '');
      return false;
    }
    return storeFile(hub, common, request, repoDir, commitHash, info, fileUrl(file));
  };

  for (const file of request.files) {
    if (!(await store(file))) throw new HubAttemptError(`${fileUrl(file)} (404: not in the repo)`);
  }
  for (const group of request.oneOf) {
    let got = false;
    for (const file of group) {
      if (!got) got = await store(file);
    }
    if (!got) throw new HubAttemptError(`${group.map(fileUrl).join(', ')} (404: not in the repo)`);
  }
  for (const file of request.optionalFiles) await store(file);

  // Written last: a refs/main that names a half-downloaded snapshot would hide an older complete one.
  if (revision !== commitHash) writeFileAtomic(path.join(repoDir, 'refs', revision), commitHash);
  return snapshot;
}

type Hub = typeof import('@huggingface/hub');
type Common = { hubUrl: string; accessToken?: string; fetch: typeof fetch };

/**
 * Puts one file into the snapshot: links an existing blob, or downloads it first (to a
 * temp file, checked against the size and hash the hub gave, then renamed into place).
 * False when the hub says the file is not there after all (404).
 */
async function storeFile(hub: Hub, common: Common, request: HubDownloadRequest, repoDir: string, commit: string, info: PathInfo, url: string): Promise<boolean> {
  const pointer = path.join(repoDir, 'snapshots', commit, info.path);
  if (!request.forceDownload && isFile(pointer)) return true;

  // Blob names are the file's etag on the hub: sha256 for LFS files, the git object id otherwise.
  const etag = info.lfs?.oid ?? info.xetHash ?? info.oid;
  if (!etag || !/^[0-9a-f]{40,64}$/.test(etag)) throw new HubAttemptError(`${url} (the hub gave no usable hash for it)`);
  const blob = path.join(repoDir, 'blobs', etag);

  if (request.forceDownload || fileSize(blob) !== info.size) {
    // The file's requests get their own signal: an interrupt aborts them.
    const abort = new AbortController();
    const fetch = requestFetch(request.timeoutMs, request.idleTimeoutMs ?? downloadIdleTimeoutMs(), abort.signal);
    const content = await apiCall(() => hub.downloadFile({ ...common, fetch, repo: { type: 'model', name: request.repo }, path: info.path, revision: commit }));
    if (!content) return false;
    await saveVerified(content, blob, info, url, request.progress, abort);
  }
  linkIntoSnapshot(blob, pointer);
  return true;
}

/**
 * Streams `content` to `dest` through a temp file; keeps it only when size and hash match the hub's.
 * The temp file goes on every failure, and on an interrupt (which also aborts `abort`'s requests).
 */
async function saveVerified(content: Blob, dest: string, info: PathInfo, url: string, showProgress: boolean, abort: AbortController): Promise<void> {
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const tmp = tempPathFor(dest);
  const forget = removeOnInterrupt(tmp, (why) => abort.abort(new HubAttemptError(`${url} (${why})`, true, why)));
  const sha256 = crypto.createHash('sha256');
  // A git object id is sha1("blob <size>\0" + bytes): checkable for files outside LFS too.
  const gitSha1 = crypto.createHash('sha1').update(`blob ${info.size}\0`);
  const bar = makeProgress(info.size, `download ${info.path}`, showProgress && info.size >= PROGRESS_MIN_BYTES, { unit: 'bytes' });
  let bytes = 0;
  const check = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      sha256.update(chunk);
      gitSha1.update(chunk);
      bar.update(bytes);
      done(null, chunk);
    },
  });
  try {
    try {
      await pipeline(Readable.fromWeb(content.stream() as import('stream/web').ReadableStream), check, fs.createWriteStream(tmp), { signal: abort.signal });
    } catch (e) {
      // A stalled or interrupted body: the watchdog's or the interrupt's reason, not the stream's echo of it.
      const cause = abort.signal.aborted ? abort.signal.reason : e;
      const why = cause instanceof HubAttemptError ? cause.detail : reason(cause);
      throw new HubAttemptError(`${url} (download failed: ${why} after ${bytes} of ${info.size} bytes)`, true, why);
    } finally {
      bar.stop();
    }
    if (bytes !== info.size) throw new HubAttemptError(`${url} (got ${bytes} bytes, the hub lists ${info.size})`);
    const [kind, expected, got] = info.lfs ? ['sha256', info.lfs.oid, sha256.digest('hex')] : ['git sha1', info.oid, gitSha1.digest('hex')];
    if (expected && got !== expected) throw new HubAttemptError(`${url} (${kind} mismatch: expected ${expected}, got ${got}; not kept)`);
    fs.renameSync(tmp, dest);
  } finally {
    fs.rmSync(tmp, { force: true });
    forget();
  }
}

/** snapshots/<commit>/<file> → ../../blobs/<etag> (relative, like Python, so the cache can move); a copy where symlinks fail. */
function linkIntoSnapshot(blob: string, pointer: string): void {
  fs.mkdirSync(path.dirname(pointer), { recursive: true });
  const tmp = tempPathFor(pointer);
  try {
    try {
      fs.symlinkSync(path.relative(path.dirname(pointer), blob), tmp);
    } catch {
      fs.copyFileSync(blob, tmp); // e.g. Windows without developer mode
    }
    fs.renameSync(tmp, pointer);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * `fetch` for the library: a time limit for the response headers and one for each pause in
 * the body (a hung server must not hang a notebook), network failures that name the request,
 * and `signal` (an interrupt) aborting it at any point.
 */
function requestFetch(timeoutMs: number, idleMs: number, signal?: AbortSignal): typeof fetch {
  return async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const what = `${init?.method ?? 'GET'} ${url.split('?')[0]}`;
    const controller = new AbortController();
    const stop = (why: string): void => controller.abort(new HubAttemptError(`${what} (${why})`, true, why));
    // The library's own signal and ours abort this request too.
    const outer = [init?.signal, signal].filter((s): s is AbortSignal => !!s);
    for (const s of outer) {
      if (s.aborted) controller.abort(s.reason);
      else s.addEventListener('abort', () => controller.abort(s.reason), { once: true });
    }
    const timer = setTimeout(() => stop(`no response in ${seconds(timeoutMs)}`), timeoutMs);
    let response: Response;
    try {
      response = await fetch(input, { ...init, signal: controller.signal });
    } catch (e) {
      if (controller.signal.aborted && controller.signal.reason instanceof HubAttemptError) throw controller.signal.reason;
      throw new HubAttemptError(`${what} (network error: ${reason(e)})`, true);
    } finally {
      clearTimeout(timer);
    }
    return watchBody(response, idleMs, () => stop(`no data for ${seconds(idleMs)}`));
  };
}

/**
 * `response` with a body that calls `onIdle` (which aborts the request) when no byte comes for
 * `idleMs`: the library reads bodies (JSON answers, file bytes) without a time limit of its own.
 */
function watchBody(response: Response, idleMs: number, onIdle: () => void): Response {
  if (!response.body) return response;
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    // unref: a body nobody reads (a probe the library cancels) must not keep the process alive.
    timer = setTimeout(onIdle, idleMs).unref();
  };
  arm();
  const body = response.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, out) {
      arm();
      out.enqueue(chunk);
    },
    flush() {
      clearTimeout(timer);
    },
  }));
  const watched = new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  // The library reads the URL (error messages, redirects) off the response.
  Object.defineProperty(watched, 'url', { value: response.url });
  Object.defineProperty(watched, 'redirected', { value: response.redirected });
  return watched;
}

/** Runs a library call; its HubApiError becomes "URL (HTTP status: message)". */
async function apiCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (e instanceof HubAttemptError) throw e;
    const api = e as { statusCode?: unknown; url?: unknown; message?: unknown };
    if (typeof api.statusCode === 'number' && typeof api.url === 'string') {
      // The library appends ". URL: ..." to the message; the URL is shown once, without the query.
      const message = String(api.message ?? '').replace(/\.?\s*URL: .*$/, '').replace(/^Api error with status \d+$/, '');
      const hint = api.statusCode === 401 || api.statusCode === 403 ? '; private or gated? set HF_TOKEN' : '';
      throw new HubAttemptError(`${api.url.split('?')[0]} (HTTP ${api.statusCode}${message ? `: ${message}` : ''}${hint})`);
    }
    throw new HubAttemptError(`${reason(e)}`);
  }
}

/** The innermost useful message of an error (fetch hides the socket error in `cause`). */
function reason(e: unknown): string {
  if (typeof e === 'string') return e;
  const err = e as { message?: unknown; cause?: { message?: unknown } };
  const cause = err?.cause?.message;
  return String(typeof cause === 'string' && cause ? cause : err?.message ?? e).replace(/\s+/g, ' ');
}

export function isCommitHash(revision: string): boolean {
  return /^[0-9a-f]{40}$/.test(revision);
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function fileSize(p: string): number {
  try {
    return fs.statSync(p).size;
  } catch {
    return -1;
  }
}
