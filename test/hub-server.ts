// A small stand-in for the Hugging Face hub on 127.0.0.1, for tests: exactly the endpoints
// and headers that @huggingface/hub's modelInfo, pathsInfo and downloadFile use (read from
// its dist code), answering the way huggingface.co does:
//   GET  /api/models/<repo>/revision/<rev>?expand=...   model info; "sha" = the revision's commit
//   POST /api/models/<repo>/paths-info/<rev>            {paths} -> [{type, path, oid, size, lfs?}] for those that exist
//   GET  /<repo>/resolve/<rev>/<file>                   git files: the bytes (Range honoured), ETag = git object id;
//                                                       LFS files: 302 to /cdn/<repo>/<sha256>, X-Linked-Etag / X-Linked-Size
//   GET  /cdn/<repo>/<sha256>                           LFS bytes (Range honoured)
// Errors carry X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound) like the hub.
// Not emulated: Xet storage (the server never answers with application/vnd.xet-fileinfo+json).
import * as crypto from 'crypto';
import * as http from 'http';
import type { AddressInfo } from 'net';

export interface HubRepo {
  /** Branch/tag -> commit hash (40 hex). */
  refs: Record<string, string>;
  /** File path -> bytes. */
  files: Record<string, Buffer>;
  /** Only requests with "Authorization: Bearer <token>" see the repo (a private repo). */
  token?: string;
  /** Files served with their first byte changed (paths-info still lists the true hashes). */
  corrupt?: string[];
}

export interface HubServer {
  url: string;
  /** "METHOD /path" of every request, in order (query strings left out). */
  requests: string[];
  /** Authorization header of every request ('' when none). */
  authorizations: string[];
  close(): Promise<void>;
}

/** Files stored through LFS on the hub (weights); everything else is a plain git file. */
export function isLfs(file: string): boolean {
  return /\.(safetensors|bin|h5|msgpack|onnx)$/.test(file);
}

/** The git object id of a file: sha1("blob <size>\0" + bytes). */
export function gitOid(bytes: Buffer): string {
  return crypto.createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

export function sha256Hex(bytes: Buffer): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

export async function startHubServer(repos: Record<string, HubRepo>): Promise<HubServer> {
  const requests: string[] = [];
  const authorizations: string[] = [];
  let base = '';

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', base);
      requests.push(`${req.method} ${url.pathname}`);
      authorizations.push(req.headers.authorization ?? '');
      try {
        handle(req, res, url, Buffer.concat(chunks));
      } catch (e) {
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end(String(e));
      }
    });
  });

  const json = (res: http.ServerResponse, status: number, value: unknown, headers: http.OutgoingHttpHeaders = {}): void => {
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(value));
  };

  /** The repo and commit a request may see, or null when an error was sent. */
  const lookup = (req: http.IncomingMessage, res: http.ServerResponse, name: string, rev: string): { repo: HubRepo; commit: string } | null => {
    const repo = repos[name];
    if (!repo) {
      json(res, 404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
      return null;
    }
    if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) {
      // The hub hides private repos: 401 "Repository not found".
      json(res, 401, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
      return null;
    }
    const commit = repo.refs[rev] ?? (Object.values(repo.refs).includes(rev) ? rev : undefined);
    if (!commit) {
      json(res, 404, { error: `Invalid rev id: ${rev}` }, { 'X-Error-Code': 'RevisionNotFound' });
      return null;
    }
    return { repo, commit };
  };

  /** Sends `bytes` whole (200) or the asked Range (206). */
  const sendBytes = (req: http.IncomingMessage, res: http.ServerResponse, bytes: Buffer, headers: http.OutgoingHttpHeaders): void => {
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const common = { 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes', ...headers };
    if (range) {
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), bytes.length - 1) : bytes.length - 1;
      const part = bytes.subarray(start, end + 1);
      res.writeHead(206, { ...common, 'Content-Length': part.length, 'Content-Range': `bytes ${start}-${end}/${bytes.length}` });
      res.end(req.method === 'HEAD' ? undefined : part);
    } else {
      res.writeHead(200, { ...common, 'Content-Length': bytes.length });
      res.end(req.method === 'HEAD' ? undefined : bytes);
    }
  };

  const served = (repo: HubRepo, file: string): Buffer => {
    const bytes = repo.files[file];
    if (!repo.corrupt?.includes(file)) return bytes;
    const bad = Buffer.from(bytes);
    bad[0] ^= 0xff;
    return bad;
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse, url: URL, body: Buffer): void => {
    const p = decodeURIComponent(url.pathname);
    const readable = req.method === 'GET' || req.method === 'HEAD';
    let m: RegExpExecArray | null;

    if ((m = /^\/api\/models\/(.+)\/revision\/([^/]+)$/.exec(p)) && req.method === 'GET') {
      const found = lookup(req, res, m[1], m[2]);
      if (!found) return;
      const info: Record<string, unknown> = { _id: `id-${m[1]}`, id: m[1], private: !!found.repo.token, lastModified: '2024-01-01T00:00:00.000Z' };
      if (url.searchParams.getAll('expand').includes('sha')) info.sha = found.commit;
      return json(res, 200, info);
    }

    if ((m = /^\/api\/models\/(.+)\/paths-info\/([^/]+)$/.exec(p)) && req.method === 'POST') {
      const found = lookup(req, res, m[1], m[2]);
      if (!found) return;
      const { paths, expand } = JSON.parse(body.toString('utf8')) as { paths: string[]; expand?: boolean };
      const list = paths
        .filter((f) => found.repo.files[f] !== undefined)
        .map((f) => {
          const bytes = found.repo.files[f];
          const lfs = isLfs(f);
          // An LFS file's git object is its pointer file: the hub lists the pointer's oid and the LFS sha256.
          const pointer = Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256Hex(bytes)}\nsize ${bytes.length}\n`);
          return {
            type: 'file',
            oid: gitOid(lfs ? pointer : bytes),
            size: bytes.length,
            ...(lfs && { lfs: { oid: sha256Hex(bytes), size: bytes.length, pointerSize: pointer.length } }),
            path: f,
            ...(expand && { lastCommit: { id: found.commit, title: 'upload', date: '2024-01-01T00:00:00.000Z' } }),
          };
        });
      return json(res, 200, list);
    }

    if ((m = /^\/cdn\/(.+)\/([0-9a-f]{64})$/.exec(p)) && readable) {
      const repo = repos[m[1]];
      const file = Object.keys(repo?.files ?? {}).find((f) => isLfs(f) && sha256Hex(repo.files[f]) === m![2]);
      if (!file) return json(res, 404, { error: 'not found' });
      return sendBytes(req, res, served(repo, file), { ETag: `"${m[2]}"` });
    }

    if ((m = /^\/([^/]+\/[^/]+|[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(p)) && readable) {
      const found = lookup(req, res, m[1], m[2]);
      if (!found) return;
      const bytes = found.repo.files[m[3]];
      if (bytes === undefined) {
        res.writeHead(404, { 'Content-Type': 'text/plain', 'X-Error-Code': 'EntryNotFound', 'X-Repo-Commit': found.commit }).end('Entry not found');
        return;
      }
      if (isLfs(m[3])) {
        const sha = sha256Hex(bytes);
        res.writeHead(302, {
          Location: `${base}/cdn/${m[1]}/${sha}`,
          'X-Repo-Commit': found.commit,
          'X-Linked-Etag': `"${sha}"`,
          'X-Linked-Size': String(bytes.length),
        }).end();
        return;
      }
      return sendBytes(req, res, served(found.repo, m[3]), { ETag: `"${gitOid(bytes)}"`, 'X-Repo-Commit': found.commit });
    }

    json(res, 404, { error: `no route for ${req.method} ${p}` });
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    requests,
    authorizations,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
