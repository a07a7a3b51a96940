// Shared by the tests: where the real data is, temp folders, and running the CLI.
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const REPO = path.resolve(__dirname, '..');
/** ../shared beside the checkout (read-only real data); NLPBOOK_SHARED overrides. */
export const SHARED = path.resolve(process.env.NLPBOOK_SHARED ?? path.join(REPO, '..', 'shared'));
export const NSMC_DIR = path.join(SHARED, 'data', 'nsmc');
export const KCBERT_DIR = path.join(SHARED, 'models', 'kcbert-base');
export const FIXTURES = path.join(REPO, 'test', 'fixtures');

const tempDirs: string[] = [];
process.on('exit', () => { for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true }); });

/** A fresh temp folder, removed when the process exits. */
export function tempDir(prefix = 'nlpbook-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export interface CliResult { status: number | null; stdout: string; stderr: string }

/** Runs `nlpbook ...args` in a child process (the real CLI, as a user would). */
export function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): CliResult {
  const r = cp.spawnSync(process.execPath, [path.join(REPO, 'bin', 'nlpbook.js'), ...args], {
    cwd: options.cwd ?? REPO,
    env: { ...process.env, ...options.env },
    input: options.input,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The JSON objects a --json command printed, one per stdout line. */
export function jsonLines(stdout: string): any[] {
  return stdout.split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l));
}
