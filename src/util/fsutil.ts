// File helpers every step uses: writes go to a temp file in the same folder and are
// renamed into place, so an interrupted run never leaves a half-written file where
// a good one was.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** Writes `data` to `file` atomically (temp file + rename), creating the folder. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tempPathFor(file);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Writes pretty JSON atomically. */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** The names tempPathFor makes (".<name>.<pid>.<8 hex>.tmp"): what an interrupted atomic write leaves. */
export const TEMP_FILE_NAME = /^\..+\.\d+\.[0-9a-f]{8}\.tmp$/;

/** A unique temp name beside `file` (same folder, so rename is atomic). */
export function tempPathFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
}

/**
 * `file` as a reader would type it: relative to `cwd` where that climbs at most one folder
 * ("../shared/models/kcbert-base"), else absolute with the home folder as "~". Notebooks print
 * folders this way, so a committed output shows no path of the machine that ran it.
 */
export function displayPath(file: string, cwd = process.cwd(), home = os.homedir()): string {
  const absolute = path.resolve(cwd, file);
  const relative = path.relative(cwd, absolute) || '.';
  const climbs = relative.split(path.sep).filter((part) => part === '..').length;
  if (climbs <= 1 && !path.isAbsolute(relative)) return relative;
  return home && (absolute === home || absolute.startsWith(home + path.sep)) ? `~${absolute.slice(home.length)}` : absolute;
}

/** sha256 of a file, hex, read in chunks. */
export function sha256File(file: string): string {
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let n: number;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** sha256 of a string or bytes, hex. */
export function sha256(data: string | Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

const scratch: string[] = [];

/** A fresh empty folder under the system's temp folder for output that is not kept: removed when the process (the kernel) exits. */
export function scratchDir(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `nlpbook-${name}-`));
  if (scratch.length === 0) process.on('exit', () => scratch.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  scratch.push(dir);
  return dir;
}
