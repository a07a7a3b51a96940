// A small zip reader: enough for PyTorch's checkpoint archives (stored entries,
// deflate when present, zip64 for files over 4 GB). Node has no built-in one.
// It reads the central directory once and each entry on request, by file
// position, so a large archive is never loaded whole. Sizes are not trusted: each
// entry's declared sizes are checked against the archive (stored data must be in the
// file, deflate cannot expand more than 1032:1), an entry over the caller's bound is
// refused before anything is allocated, and inflating stops as soon as the output
// passes the declared size (a zip bomb costs at most that much memory).
import * as fs from 'fs';
import * as zlib from 'zlib';
import { NlpbookError } from '../util/errors';

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
/** Deflate's best ratio is 1032:1 (258-byte matches in 2 bits); a bigger declared size is a lie. */
const MAX_DEFLATE_RATIO = 1032;

export interface ZipLimits {
  /** Refuse to read (inflate or allocate) an entry that declares more bytes than this (default: no bound). */
  maxEntryBytes?: number;
}

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  private fd: number | null;
  private readonly size: number;
  private readonly maxEntryBytes: number;

  constructor(readonly file: string, limits: ZipLimits = {}) {
    this.maxEntryBytes = limits.maxEntryBytes ?? Infinity;
    try {
      this.fd = fs.openSync(file, 'r');
    } catch (e) {
      throw new NlpbookError(`${file}: cannot open (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    try {
      this.size = fs.fstatSync(this.fd).size;
      this.readCentralDirectory();
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** True when the file starts like a zip archive (local file header signature). */
  static isZip(file: string): boolean {
    const fd = fs.openSync(file, 'r');
    try {
      const b = Buffer.alloc(4);
      return fs.readSync(fd, b, 0, 4, 0) === 4 && b.readUInt32LE(0) === LOCAL;
    } finally {
      fs.closeSync(fd);
    }
  }

  /** The bytes of entry `name` from `start` (uncompressed offset), `length` bytes (default: to the end). */
  read(name: string, start = 0, length?: number): Uint8Array {
    const e = this.entries.get(name);
    if (!e) throw new NlpbookError(`${this.file}: the archive has no entry ${name}`);
    if (e.size > this.maxEntryBytes) {
      throw new NlpbookError(`${this.file}: entry ${name} declares ${e.size} bytes, more than the ${this.maxEntryBytes} allowed; refusing to read it`);
    }
    const len = length ?? e.size - start;
    if (start < 0 || len < 0 || start + len > e.size) {
      throw new NlpbookError(`${this.file}: entry ${name}: bytes ${start}..${start + len} are outside its ${e.size} bytes`);
    }
    const header = this.bytes(e.localHeaderOffset, 30);
    if (header.readUInt32LE(0) !== LOCAL) throw new NlpbookError(`${this.file}: entry ${name}: bad local header (corrupt zip)`);
    const dataStart = e.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
    if (e.method === 0) return this.bytes(dataStart + start, len);
    if (e.method === 8) {
      const raw = this.inflate(e, this.bytes(dataStart, e.compressedSize));
      if (raw.length !== e.size) throw new NlpbookError(`${this.file}: entry ${name}: inflated to ${raw.length} bytes, expected ${e.size}`);
      return raw.subarray(start, start + len);
    }
    throw new NlpbookError(`${this.file}: entry ${name}: unsupported zip compression method ${e.method} (expected stored or deflate)`);
  }

  /** Inflates entry `e`'s data, stopping with an error as soon as the output passes its declared size. */
  private inflate(e: ZipEntry, compressed: Buffer): Buffer {
    try {
      // maxOutputLength makes zlib give up mid-stream (one 16 KB chunk past the limit at most).
      return zlib.inflateRawSync(compressed, { maxOutputLength: Math.max(1, e.size) });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ERR_BUFFER_TOO_LARGE') {
        throw new NlpbookError(`${this.file}: entry ${e.name} inflates past its declared ${e.size} bytes (corrupt, or a zip bomb); refused`);
      }
      throw new NlpbookError(`${this.file}: entry ${e.name}: corrupt deflate data (${code ?? (err as Error).message})`);
    }
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  private bytes(position: number, length: number): Buffer {
    if (this.fd === null) throw new NlpbookError(`${this.file}: already closed`);
    if (position < 0 || position + length > this.size) throw new NlpbookError(`${this.file}: zip structure points past the end of the file (truncated?)`);
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd, buf, done, length - done, position + done);
      if (n <= 0) throw new NlpbookError(`${this.file}: unexpected end of file`);
      done += n;
    }
    return buf;
  }

  private readCentralDirectory(): void {
    // The end-of-central-directory record is in the last 22 + 65535 (comment) bytes.
    const tailLen = Math.min(this.size, 22 + 65535);
    const tail = this.bytes(this.size - tailLen, tailLen);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD) { eocd = i; break; }
    }
    if (eocd < 0) throw new NlpbookError(`${this.file}: not a zip archive or truncated (no end-of-central-directory record)`);
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || tail.readUInt32LE(loc) !== ZIP64_LOCATOR) throw new NlpbookError(`${this.file}: zip64 archive without a zip64 locator (corrupt)`);
      const rec = this.bytes(Number(tail.readBigUInt64LE(loc + 8)), 56);
      if (rec.readUInt32LE(0) !== ZIP64_EOCD) throw new NlpbookError(`${this.file}: bad zip64 end-of-central-directory record`);
      count = Number(rec.readBigUInt64LE(32));
      cdSize = Number(rec.readBigUInt64LE(40));
      cdOffset = Number(rec.readBigUInt64LE(48));
    }
    const cd = this.bytes(cdOffset, cdSize);
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL) throw new NlpbookError(`${this.file}: bad central directory entry ${i} (corrupt zip)`);
      const method = cd.readUInt16LE(p + 10);
      let compressedSize = cd.readUInt32LE(p + 20);
      let size = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      let localHeaderOffset = cd.readUInt32LE(p + 42);
      if (p + 46 + nameLen + extraLen + commentLen > cd.length) throw new NlpbookError(`${this.file}: central directory entry ${i} runs past the directory (corrupt zip)`);
      const name = cd.toString('utf8', p + 46, p + 46 + nameLen);
      // Zip64 extra field: the 64-bit values, only for the fields set to 0xffffffff above.
      let x = p + 46 + nameLen;
      const extraEnd = x + extraLen;
      while (x + 4 <= extraEnd) {
        const id = cd.readUInt16LE(x);
        const len = cd.readUInt16LE(x + 2);
        if (id === 0x0001) {
          let q = x + 4;
          const fieldEnd = Math.min(x + 4 + len, extraEnd);
          const next = (): number => {
            if (q + 8 > fieldEnd) throw new NlpbookError(`${this.file}: entry ${name}: zip64 extra field too short (corrupt zip)`);
            return Number(cd.readBigUInt64LE(q));
          };
          if (size === 0xffffffff) { size = next(); q += 8; }
          if (compressedSize === 0xffffffff) { compressedSize = next(); q += 8; }
          if (localHeaderOffset === 0xffffffff) { localHeaderOffset = next(); q += 8; }
        }
        x += 4 + len;
      }
      // The declared sizes must be possible in this archive: checked here, before anyone allocates by them.
      if (localHeaderOffset + 30 + compressedSize > this.size) {
        throw new NlpbookError(`${this.file}: entry ${name}: ${compressedSize} bytes of data at offset ${localHeaderOffset} run past the end of the ${this.size}-byte file (truncated or corrupt zip)`);
      }
      if (method === 0 && size !== compressedSize) {
        throw new NlpbookError(`${this.file}: entry ${name}: stored (uncompressed) but declares ${size} bytes from ${compressedSize} (corrupt zip)`);
      }
      if (method === 8 && size > compressedSize * MAX_DEFLATE_RATIO + 1024) {
        throw new NlpbookError(`${this.file}: entry ${name} declares ${size} bytes from ${compressedSize} compressed, more than deflate can produce (corrupt, or a zip bomb)`);
      }
      this.entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
      p = extraEnd + commentLen;
    }
  }
}
