// Downloads a file safely: stream to a temp file beside the destination, check the
// size (Content-Length) and, when known, the sha256, then rename into place. On any
// failure the temp file is removed and a good file already at the destination is left
// as it was; so it is when the process is interrupted (Ctrl+C, SIGTERM) or exits mid-way.
// A server that stops sending fails the download after NLPBOOK_DOWNLOAD_TIMEOUT seconds
// without a byte (default 60). The source is an http(s) URL, or a local path / file://
// URL (a mirror folder), copied with the same checks. Used for the corpus and the model files.
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as path from 'path';
import * as crypto from 'crypto';
import { Transform } from 'stream';
import { pipeline } from 'stream/promises';
import { fileURLToPath } from 'url';
import { NlpbookError } from './errors';
import { sha256File, tempPathFor, writeJsonAtomic } from './fsutil';
import { progress as makeProgress, Progress } from './progress';

export interface DownloadOptions {
  /** Expected sha256 (hex); a different file is an error and is not kept. */
  sha256?: string;
  /** Show a progress bar on stderr (default false). */
  progress?: boolean;
  /** Name on the progress bar (default: the file name). */
  label?: string;
  /** Give up when no data arrives for this long (default: NLPBOOK_DOWNLOAD_TIMEOUT seconds, else 60 s). */
  timeoutMs?: number;
  /** Most redirects to follow (default 10). */
  maxRedirects?: number;
}

export interface DownloadResult {
  /** Where the file came from (after redirects), and where it is now. */
  source: string;
  dest: string;
  bytes: number;
  sha256: string;
}

/** What went wrong, for callers that add advice (e.g. "set a mirror"). */
export type DownloadFailure = 'http' | 'truncated' | 'sha256' | 'network' | 'missing' | 'io';

/** A failed download: one line naming the source and what went wrong. */
export class DownloadError extends NlpbookError {
  constructor(readonly source: string, readonly failure: DownloadFailure, readonly detail: string) {
    super(`could not download ${source}: ${detail}`);
  }
}

/** True for http:// and https:// sources (everything else is a local path or file:// URL). */
export function isHttpUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/** A local path for a local source ("file:///x" or a path). */
function localPath(source: string): string {
  return /^file:\/\//i.test(source) ? fileURLToPath(source) : source;
}

/**
 * Fetches `source` (http(s) URL, file:// URL or local path) to `dest` atomically.
 * Throws a DownloadError (one line) on an HTTP error status, a body shorter than its
 * Content-Length, a sha256 mismatch, a network or file error.
 */
export async function download(source: string, dest: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const tmp = tempPathFor(dest);
  const controller = new AbortController();
  const forget = removeOnInterrupt(tmp, (why) => controller.abort(new DownloadError(source, 'network', why)));
  try {
    const got = isHttpUrl(source) ? await fetchHttp(source, tmp, options, controller.signal) : await copyLocal(source, tmp, options, controller.signal);
    const expected = options.sha256?.toLowerCase();
    if (expected && got.sha256 !== expected) {
      throw new DownloadError(source, 'sha256', `sha256 mismatch: expected ${expected}, got ${got.sha256} (${got.bytes} bytes)`);
    }
    fs.renameSync(tmp, dest);
    rememberSha256(dest, got.sha256);
    return { source: got.source, dest, bytes: got.bytes, sha256: got.sha256 };
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    if (controller.signal.aborted) throw controller.signal.reason;
    if (e instanceof NlpbookError) throw e;
    throw new DownloadError(source, 'io', oneLine(e));
  } finally {
    forget();
  }
}

/** Seconds without a byte after which a download gives up: NLPBOOK_DOWNLOAD_TIMEOUT, else 60. */
export function downloadIdleTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.NLPBOOK_DOWNLOAD_TIMEOUT;
  if (raw === undefined || raw.trim() === '') return 60_000;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new NlpbookError(`NLPBOOK_DOWNLOAD_TIMEOUT: expected seconds (a number > 0), got ${JSON.stringify(raw)}`);
  return Math.ceil(seconds * 1000);
}

/** "1.5 s", "60 s": a timeout for a message. */
export function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

// --- temp files of running downloads ---------------------------------------------------
// A temp file must not outlive its download, also when the process is interrupted: Node's
// default for SIGINT/SIGTERM/SIGHUP is to die at once, without running any finally block.
// From the first download on, a handler removes the temp files of running downloads and
// aborts them; when it is the only handler for that signal it then ends the process by the
// same signal, as Node's default would. Where the program has its own handler (a training
// loop's graceful stop, a notebook kernel), that one decides, and the downloads fail with
// "interrupted (SIGINT)". The handler stays installed once added: removing it when a download
// ends could swallow a Ctrl+C that arrived just before (Node has caught it, not yet run it).

const running = new Map<string, (why: string) => void>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let watching = false;

function removeRunning(): void {
  for (const file of running.keys()) fs.rmSync(file, { force: true });
}

function onSignal(signal: NodeJS.Signals): void {
  const aborts = [...running.values()];
  removeRunning();
  running.clear();
  for (const abort of aborts) abort(`interrupted (${signal})`);
  if (process.listenerCount(signal) === 1) {
    // Alone: do what the signal does without any handler (end the process by it).
    for (const s of SIGNALS) process.off(s, onSignal);
    process.off('exit', removeRunning);
    watching = false;
    process.kill(process.pid, signal);
  }
}

/**
 * Removes `file` (a download's temp file) if the process is interrupted or exits before the
 * returned function is called, and calls `abort` on an interrupt. Call the returned function
 * when the download is over (it removes nothing).
 */
export function removeOnInterrupt(file: string, abort: (why: string) => void = () => {}): () => void {
  if (!watching) {
    for (const signal of SIGNALS) process.on(signal, onSignal);
    process.on('exit', removeRunning);
    watching = true;
  }
  running.set(file, abort);
  return () => {
    running.delete(file);
  };
}

interface Received {
  source: string;
  bytes: number;
  sha256: string;
}

/** A body that sent nothing for the download timeout. */
class Stalled extends Error {}

/**
 * Streams `body` into `tmp`, hashing and counting on the way. With `idleMs`, a body that sends
 * no byte for that long fails with Stalled; `signal` aborts it (an interrupt).
 */
async function receive(body: NodeJS.ReadableStream, tmp: string, bar: Progress, signal: AbortSignal, idleMs?: number): Promise<{ bytes: number; sha256: string }> {
  const hash = crypto.createHash('sha256');
  let bytes = 0;
  const idle = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    if (idleMs === undefined) return;
    clearTimeout(timer);
    timer = setTimeout(() => idle.abort(new Stalled(`no data for ${seconds(idleMs)}`)), idleMs);
  };
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      arm();
      hash.update(chunk);
      bytes += chunk.length;
      bar.update(bytes);
      done(null, chunk);
    },
  });
  arm();
  try {
    await pipeline(body, tap, fs.createWriteStream(tmp), { signal: AbortSignal.any([signal, idle.signal]) });
  } catch (e) {
    // Say how far it got: the caller turns a short body into "truncated at N of M bytes".
    const why = idle.signal.aborted ? idle.signal.reason : signal.aborted ? signal.reason : e;
    throw Object.assign(why as Error, { received: bytes });
  } finally {
    clearTimeout(timer);
    bar.stop();
  }
  return { bytes, sha256: hash.digest('hex') };
}

async function fetchHttp(url: string, tmp: string, options: DownloadOptions, signal: AbortSignal): Promise<Received> {
  const timeoutMs = options.timeoutMs ?? downloadIdleTimeoutMs();
  const { response, finalUrl } = await request(url, url, options.maxRedirects ?? 10, timeoutMs, signal);
  const lengthHeader = response.headers['content-length'];
  const total = lengthHeader !== undefined ? Number(lengthHeader) : -1;
  const bar = makeProgress(total, options.label ?? path.basename(new URL(finalUrl).pathname), options.progress ?? false, { unit: 'bytes' });
  let got: { bytes: number; sha256: string };
  try {
    got = await receive(response, tmp, bar, signal, timeoutMs);
  } catch (e) {
    const received = (e as { received?: number }).received ?? 0;
    if (e instanceof DownloadError) throw e; // interrupted
    if (e instanceof Stalled) throw new DownloadError(url, 'network', `${e.message} after ${received}${total >= 0 ? ` of ${total}` : ''} bytes`);
    if (total >= 0 && received < total) throw new DownloadError(url, 'truncated', `truncated at ${received} of ${total} bytes (${oneLine(e)})`);
    throw new DownloadError(url, 'network', `network error after ${received} bytes (${oneLine(e)})`);
  }
  if (total >= 0 && got.bytes !== total) {
    throw new DownloadError(url, 'truncated', `truncated at ${got.bytes} of ${total} bytes`);
  }
  return { source: finalUrl, ...got };
}

/** GET `url`, following redirects; resolves with a 200 response. */
function request(
  original: string,
  url: string,
  redirectsLeft: number,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<{ response: http.IncomingMessage; finalUrl: string }> {
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      reject(new DownloadError(original, 'http', `bad URL ${JSON.stringify(url)}`));
      return;
    }
    const client = target.protocol === 'https:' ? https : http;
    // identity: the Content-Length check and the sha256 are about the file's own bytes
    const req = client.get(target, { headers: { 'user-agent': 'nlpbook-ts', 'accept-encoding': 'identity' }, signal }, (res) => {
      // From here the body's own watchdog (receive) says when the server stalls.
      req.setTimeout(0);
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if ([301, 302, 303, 307, 308].includes(status) && location) {
        res.resume();
        if (redirectsLeft <= 0) {
          reject(new DownloadError(original, 'http', `too many redirects (last: ${url})`));
          return;
        }
        request(original, new URL(location, target).toString(), redirectsLeft - 1, timeoutMs, signal).then(resolve, reject);
        return;
      }
      if (status !== 200) {
        res.resume();
        const via = url !== original ? ` (redirected to ${url})` : '';
        reject(new DownloadError(original, 'http', `HTTP ${status} ${res.statusMessage ?? ''}`.trimEnd() + via));
        return;
      }
      resolve({ response: res, finalUrl: url });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no response for ${seconds(timeoutMs)}`)));
    // Before a response: a network error. After it, the body stream reports the error.
    req.on('error', (e) => reject(new DownloadError(original, 'network', `network error (${oneLine(e)})`)));
  });
}

async function copyLocal(source: string, tmp: string, options: DownloadOptions, signal: AbortSignal): Promise<Received> {
  const file = localPath(source);
  let size: number;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new DownloadError(source, 'missing', 'not a file');
    size = st.size;
  } catch (e) {
    if (e instanceof DownloadError) throw e;
    throw new DownloadError(source, 'missing', (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : oneLine(e));
  }
  const bar = makeProgress(size, options.label ?? path.basename(file), options.progress ?? false, { unit: 'bytes' });
  let got: { bytes: number; sha256: string };
  try {
    got = await receive(fs.createReadStream(file), tmp, bar, signal);
  } catch (e) {
    if (e instanceof DownloadError) throw e; // interrupted
    throw new DownloadError(source, 'io', `copy failed after ${(e as { received?: number }).received ?? 0} of ${size} bytes (${oneLine(e)})`);
  }
  // The local twin of the Content-Length check: the file must not change under us.
  if (got.bytes !== size) throw new DownloadError(source, 'truncated', `truncated at ${got.bytes} of ${size} bytes`);
  return { source: file, ...got };
}

function oneLine(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const msg = (err?.message ?? String(e)).split('\n')[0];
  return err?.code && !msg.includes(err.code) ? `${err.code}: ${msg}` : msg;
}

// --- verified-hash cache --------------------------------------------------------------
// Checking a 14 MB file's sha256 on every run costs ~50 ms; a sidecar file remembers the
// hash of the file as it was, so an unchanged file is trusted without reading it. The
// sha256 is the contract; the sidecar only saves re-reading a file that provably did not
// change. What proves it: the same device, inode, size, mtime and ctime (nanoseconds).
// mtime alone proves nothing (anyone can put it back with touch -d / utimes), but ctime is
// set by the kernel on every write, rename or utimes and no user call can set it back; a
// different inode means another file (replaced, copied). When any of these differ, or the
// platform cannot vouch for them, the file is hashed again:
//   - Windows (its change time can be set by any program), a zero inode, and on Linux a file
//     system outside a known list with kernel-kept ctime (e.g. FAT/exFAT, NTFS through FUSE,
//     WSL's /mnt/c, SMB: their ctime is the mtime or settable): always hashed;
//   - a record made less than RACY_MS after the file's ctime ("racy", as git calls it: with
//     a coarse clock an edit in the same tick could keep the ctime): hashed again next time,
//     and trusted once the record is older than the last change by that much.
// Not covered: someone who rewrites the sidecar itself, or root changing the clock.

interface HashRecord {
  size: number;
  mtimeMs: number;
  sha256: string;
  /** bigint stat fields as decimal strings. */
  mtimeNs?: string;
  ctimeNs?: string;
  ino?: string;
  dev?: string;
  /** When the stat these fields come from was taken (ms since the epoch). */
  checkedAtMs?: number;
}

/** A record this close (ms) to the file's last change does not vouch for it. */
const RACY_MS = 3000;

/** Linux file systems whose ctime the kernel keeps (statfs f_type). */
const CTIME_FILE_SYSTEMS = new Set([
  0xef53, // ext2/3/4
  0x58465342, // xfs
  0x9123683e, // btrfs
  0x01021994, // tmpfs
  0x794c7630, // overlayfs
  0x2fc12fc1, // zfs
  0xf2f52010, // f2fs
  0xca451a4e, // bcachefs
  0x6969, // nfs (the server keeps it)
]);

/** The sidecar beside `file`: `.<name>.sha256.json`. */
export function sha256SidecarPath(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.sha256.json`);
}

/** Whether this platform and file system keep a ctime that no user can set back. */
function ctimeIsKernelKept(file: string): boolean {
  if (process.platform === 'win32') return false;
  if (process.platform !== 'linux') return true; // macOS (APFS, HFS+), the BSDs (UFS, ZFS)
  try {
    return CTIME_FILE_SYSTEMS.has(Number(fs.statfsSync(file).type));
  } catch {
    return false;
  }
}

/** The stat the record is made from: taken before hashing, so a change during hashing shows next time. */
function statNow(file: string): { st: fs.BigIntStats; at: number } {
  const at = Date.now();
  return { st: fs.statSync(file, { bigint: true }), at };
}

function rememberSha256(file: string, sha256: string, taken: { st: fs.BigIntStats; at: number } = statNow(file)): void {
  const { st, at } = taken;
  try {
    writeJsonAtomic(sha256SidecarPath(file), {
      size: Number(st.size),
      mtimeMs: Number(st.mtimeMs),
      sha256,
      mtimeNs: String(st.mtimeNs),
      ctimeNs: String(st.ctimeNs),
      ino: String(st.ino),
      dev: String(st.dev),
      checkedAtMs: at,
    } satisfies HashRecord);
  } catch {
    // a read-only folder (e.g. a mirror used in place): hashing again next time is fine
  }
}

/** True when the record provably describes the file as it is now (see the notes above). */
function recordHolds(file: string, st: fs.BigIntStats, rec: HashRecord): boolean {
  if (!/^[0-9a-f]{64}$/.test(rec.sha256)) return false;
  if (rec.ino === undefined || rec.dev === undefined || rec.ctimeNs === undefined || rec.mtimeNs === undefined || rec.checkedAtMs === undefined) return false;
  if (st.ino === 0n) return false;
  const same = rec.size === Number(st.size) && rec.mtimeNs === String(st.mtimeNs) && rec.ctimeNs === String(st.ctimeNs) && rec.ino === String(st.ino) && rec.dev === String(st.dev);
  if (!same) return false;
  if (rec.checkedAtMs - Number(st.ctimeMs) < RACY_MS) return false;
  return ctimeIsKernelKept(file);
}

/**
 * The sha256 of `file`: from the sidecar when device, inode, size, mtime and ctime prove the
 * file unchanged since it was hashed, else computed (and remembered). Throws if the file
 * cannot be read.
 */
export function fileSha256(file: string): string {
  const taken = statNow(file);
  try {
    const rec = JSON.parse(fs.readFileSync(sha256SidecarPath(file), 'utf8')) as HashRecord;
    if (recordHolds(file, taken.st, rec)) return rec.sha256;
  } catch {
    // no sidecar or a broken one: hash the file
  }
  const hash = sha256File(file);
  rememberSha256(file, hash, taken);
  return hash;
}

/** True when `file` exists and its sha256 is `expected` (the hash cached while the file provably did not change). */
export function hasSha256(file: string, expected: string): boolean {
  try {
    return fs.statSync(file).isFile() && fileSha256(file) === expected.toLowerCase();
  } catch {
    return false;
  }
}
