// Where a pretrained model's files are: like `from_pretrained` in transformers, a name is
// either a local folder or a Hugging Face hub id ("beomi/kcbert-base"). This machine has no
// internet, so an id is looked up in the model mirror and in Python's Hugging Face cache
// (read-only: a model Python already downloaded is reused as is). Downloading comes later;
// the function is async-free now but its shape stays the same then.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { NlpbookError } from './errors';
import { modelMirror } from './mirror';

export interface ResolveModelOptions {
  /** The model mirror setting (settings.modelMirror); null/undefined: NLPBOOK_MODEL_MIRROR, else $NLPBOOK_MIRROR/models. */
  modelMirror?: string | null;
  /** Files the caller needs (e.g. ["vocab.txt"]); a mirror or cache folder without them is skipped. */
  files?: string[];
  /** Environment to read (default process.env); tests pass their own. */
  env?: NodeJS.ProcessEnv;
}

/**
 * The local folder holding model `nameOrDir`. Tried in order:
 *  (a) an existing local folder;
 *  (b) the model mirror: <mirror>/<id>, then <mirror>/<last part of id>;
 *  (c) the Hugging Face cache: <HF_HUB_CACHE or $HF_HOME/hub or ~/.cache/huggingface/hub>/models--<org>--<name>/snapshots/<refs/main>/.
 * Otherwise throws a one-line NlpbookError that lists every place tried.
 */
export function resolveModelDir(nameOrDir: string, options: ResolveModelOptions = {}): string {
  const env = options.env ?? process.env;
  const files = options.files ?? [];
  const tried: string[] = [];

  // (a) A folder on disk wins, like transformers (a relative "beomi/kcbert-base" folder too).
  if (isDir(nameOrDir)) return path.resolve(nameOrDir);
  if (looksLikePath(nameOrDir)) throw new NlpbookError(`model folder not found: ${nameOrDir}`);
  if (!isHubId(nameOrDir)) {
    throw new NlpbookError(`model "${nameOrDir}" is neither a folder nor a hub id like "beomi/kcbert-base"`);
  }
  tried.push(`folder ${path.resolve(nameOrDir)} (none)`);

  // (b) The mirror: a folder of model folders, named by full id or by the last part.
  const mirror = modelMirror(options.modelMirror, env);
  if (mirror) {
    const last = nameOrDir.split('/').pop() as string;
    const candidates = [...new Set([path.join(mirror, nameOrDir), path.join(mirror, last)])];
    for (const dir of candidates) {
      const why = whyNot(dir, files);
      if (!why) return path.resolve(dir);
      tried.push(`mirror ${dir} (${why})`);
    }
  } else {
    tried.push('mirror (none set: NLPBOOK_MIRROR / NLPBOOK_MODEL_MIRROR / modelMirror)');
  }

  // (c) Python's Hugging Face cache, the layout huggingface_hub writes.
  const repo = path.join(hfHubCache(env), `models--${nameOrDir.replace(/\//g, '--')}`);
  const snapshot = hfSnapshot(repo);
  if (snapshot.dir) {
    const why = whyNot(snapshot.dir, files);
    if (!why) return snapshot.dir;
    tried.push(`HF cache ${snapshot.dir} (${why})`);
  } else {
    tried.push(`HF cache ${repo} (${snapshot.why})`);
  }

  const download =
    env.HF_HUB_OFFLINE === '1' || env.HF_HUB_OFFLINE === 'true'
      ? 'HF_HUB_OFFLINE is set, so nothing is downloaded'
      : 'downloading from the Hugging Face hub is not available yet';
  throw new NlpbookError(
    `model "${nameOrDir}" not found; tried ${tried.join(', ')}; ${download} — set NLPBOOK_MIRROR (or settings.modelMirror) to a folder that holds it`,
  );
}

/** The hub cache folder, as huggingface_hub computes it. */
export function hfHubCache(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.HF_HUB_CACHE ?? env.HUGGINGFACE_HUB_CACHE;
  if (cache) return cache;
  const home = env.HF_HOME ?? path.join(env.XDG_CACHE_HOME ?? path.join(env.HOME ?? os.homedir(), '.cache'), 'huggingface');
  return path.join(home, 'hub');
}

/** The snapshot folder that refs/main points to, or why there is none. */
function hfSnapshot(repo: string): { dir?: string; why: string } {
  if (!isDir(repo)) return { why: 'none' };
  const ref = path.join(repo, 'refs', 'main');
  if (!fs.existsSync(ref)) return { why: 'no refs/main' };
  const commit = fs.readFileSync(ref, 'utf8').trim();
  const dir = path.join(repo, 'snapshots', commit);
  if (!/^[0-9a-f]{40}$/.test(commit) || !isDir(dir)) return { why: `refs/main names a missing snapshot "${commit}"` };
  return { dir, why: '' };
}

/** Empty when `dir` is a folder with every file in `files`; otherwise the reason. */
function whyNot(dir: string, files: string[]): string {
  if (!isDir(dir)) return 'none';
  const missing = files.filter((f) => !fs.existsSync(path.join(dir, f)));
  return missing.length ? `no ${missing.join(', ')}` : '';
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
