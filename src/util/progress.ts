// Progress for long steps (downloads, tokenizing, training), like tqdm in the book.
// On a terminal: a cli-progress bar on stderr. Elsewhere (notebooks, CI logs), where a
// redrawn bar turns into pages of noise: one short line every few seconds, and a last
// line when done.
import { SingleBar } from 'cli-progress';

export interface Progress {
  /** Sets the count done so far; `info` (e.g. "loss 0.41 acc 0.82") is shown after the count until replaced. */
  update(n: number, info?: string): void;
  /** Adds `n` (default 1) to the count done; `info` as in update. */
  increment(n?: number, info?: string): void;
  /** Changes the total (a run whose steps were planned again). */
  setTotal(total: number): void;
  /** Ends the bar (prints the final line when not on a terminal). */
  stop(): void;
}

export interface ProgressOptions {
  /** 'bytes' shows sizes as kB/MB; default: plain counts. */
  unit?: 'items' | 'bytes';
  /** Seconds between lines when stderr is not a terminal (default 5). */
  everySeconds?: number;
  /** Where lines go (default process.stderr); mostly for tests. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

const NOOP: Progress = { update() {}, increment() {}, setTotal() {}, stop() {} };

/**
 * A progress display for `total` steps (0 or less: total unknown) named `label`.
 * `enabled` false (settings.tqdmEnabled) gives one that prints nothing.
 */
export function progress(total: number, label: string, enabled = true, options: ProgressOptions = {}): Progress {
  if (!enabled) return NOOP;
  const stream = options.stream ?? process.stderr;
  const fmt = options.unit === 'bytes' ? formatBytes : (n: number) => String(n);
  return stream.isTTY ? terminalBar(total, label, stream, fmt) : lineProgress(total, label, stream, fmt, options.everySeconds ?? 5);
}

function terminalBar(total: number, label: string, stream: NodeJS.WritableStream, fmt: (n: number) => string): Progress {
  const known = total > 0;
  const bar = new SingleBar({
    stream,
    format: known ? `${label} [{bar}] {percentage}% | {value}/{total} | {eta_formatted}{info}` : `${label} {value}{info}`,
    formatValue: (v, _o, type) => (type === 'value' || type === 'total' ? fmt(v) : String(v)),
    hideCursor: true,
    clearOnComplete: false,
    etaBuffer: 50,
  });
  bar.start(known ? total : 1, 0, { info: '' });
  let done = 0;
  const payload = (info: string | undefined) => (info === undefined ? undefined : { info: info ? ` | ${info}` : '' });
  return {
    update(n, info) {
      done = n;
      bar.update(n, payload(info));
    },
    increment(n = 1, info) {
      done += n;
      bar.update(done, payload(info));
    },
    setTotal(n) {
      if (known) bar.setTotal(n);
    },
    stop() {
      bar.stop();
    },
  };
}

function lineProgress(initialTotal: number, label: string, stream: NodeJS.WritableStream, fmt: (n: number) => string, everySeconds: number): Progress {
  const start = Date.now();
  let total = initialTotal;
  let last = start;
  let done = 0;
  // A resumed run starts at its saved count: the rate (and so the ETA) counts only what this bar saw done.
  let first: number | null = null;
  let stopped = false;
  let info = '';
  const line = (final: boolean): string => {
    const secs = (Date.now() - start) / 1000;
    const amount = total > 0 ? `${fmt(done)}/${fmt(total)} (${Math.floor((100 * done) / total)}%)` : fmt(done);
    const rate = first !== null && secs > 0 ? (done - first) / secs : 0;
    const eta = total > 0 && rate > 0 && done < total ? `, ETA ${formatDuration((total - done) / rate)}` : '';
    return `${label}: ${amount}${final ? ` done in ${secs.toFixed(1)}s` : `, ${secs.toFixed(0)}s${eta}`}${info ? `, ${info}` : ''}\n`;
  };
  const maybePrint = (): void => {
    const now = Date.now();
    if (now - last >= everySeconds * 1000) {
      last = now;
      stream.write(line(false));
    }
  };
  return {
    update(n, text) {
      first ??= n;
      done = n;
      if (text !== undefined) info = text;
      maybePrint();
    },
    increment(n = 1, text) {
      first ??= done;
      done += n;
      if (text !== undefined) info = text;
      maybePrint();
    },
    setTotal(n) {
      if (total > 0) total = n;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      stream.write(line(true));
    },
  };
}

/** 754 -> "12m34s", 42 -> "42s", 3700 -> "1h01m". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** 14628807 -> "14.6 MB". */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
