// `nlpbook serve` (course step 9): a trained classifier behind a small web page and a
// JSON API, on Node's own http module.
//
//   GET  /             the demo page (src/inference/serve-page.ts)
//   POST /api/predict  {"text": "..."} -> {"text","label","positive_prob","logits","ms"}
//   GET  /api/health   {"status":"ok","model",...}
//
// Every error is JSON {"error": "..."} with a 4xx status, and the server goes on serving.
// It listens on 127.0.0.1 unless told otherwise: a demo, not a public service. The API
// takes only Content-Type application/json, so another web site open in the same browser
// cannot post to it with a plain form; and it answers only requests whose Host header is a
// name it is meant to be reached by (see hostAllowed), so a web page cannot drive it through
// DNS rebinding either.
import * as http from 'http';
import * as net from 'net';
import type { AddressInfo } from 'net';
import { performance } from 'perf_hooks';
import { NlpbookError } from '../util/errors';
import { SentenceClassifier, type ClassifierOptions, type Prediction } from '../train/index';
import { demoPage } from './serve-page';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8000;
/** Largest request body accepted (bytes); larger ones get 413. */
export const MAX_BODY_BYTES = 16 * 1024;
/** Longest text accepted (UTF-16 code units, what a browser's maxlength counts); longer ones get 422. */
export const MAX_TEXT_CHARS = 1000;

export interface ServeOptions extends ClassifierOptions {
  /** Model folder to load (nlpbook train's best/, or any Hugging Face classifier folder). */
  modelDir?: string;
  /** An already loaded classifier instead of modelDir; close() leaves it loaded. */
  classifier?: SentenceClassifier;
  /** Default 8000; 0 picks any free port. */
  port?: number;
  /** Default 127.0.0.1 (this machine only); "0.0.0.0" listens on every interface. */
  host?: string;
  /**
   * More names the server may be reached by (the Host header; see hostAllowed): "name",
   * ".example.org" for it and its subdomains, or "*" for any name (no DNS-rebinding guard).
   */
  allowedHosts?: string[];
  maxBodyBytes?: number;
  maxTextChars?: number;
  /** One line per request (method, path, status, ms); default none. */
  log?: (line: string) => void;
}

/** What POST /api/predict answers. */
export interface PredictResponse extends Prediction {
  /** Milliseconds the model took for the batch this text was scored in (tokenizing included). */
  ms: number;
}

export interface RunningServer {
  /** Where to point a browser, e.g. http://127.0.0.1:8000/ */
  url: string;
  host: string;
  port: number;
  classifier: SentenceClassifier;
  /** Stops listening, drops open connections and frees the model (unless it was passed in). */
  close(): Promise<void>;
}

/** A request the server refuses: sent as {"error": message} with this status. */
class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

/** Loads the model and starts listening; resolves once the server accepts connections. */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const host = options.host ?? DEFAULT_HOST;
  const port = options.port ?? DEFAULT_PORT;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new NlpbookError(`port: expected an integer from 0 to 65535, got ${port}`);
  if (!options.classifier && options.modelDir === undefined) throw new NlpbookError('serve: give modelDir (a trained model folder) or a loaded classifier');
  const classifier = options.classifier ?? (await SentenceClassifier.load(options.modelDir!, options));
  const owned = !options.classifier;
  const limits = { body: options.maxBodyBytes ?? MAX_BODY_BYTES, text: options.maxTextChars ?? MAX_TEXT_CHARS };
  const page = demoPage({ maxTextChars: limits.text });
  const allowedHosts = [host, ...(options.allowedHosts ?? [])].map(normalizeHostName);
  const queue = new InferenceQueue(classifier);

  const server = http.createServer((req, res) => {
    const start = performance.now();
    route(req, res)
      .catch((e) => {
        const known = e instanceof HttpError;
        if (!known) console.error(`nlpbook serve: ${req.method} ${req.url}: ${(e as Error).stack ?? e}`);
        const status = known ? e.status : 500;
        sendJson(res, status, { error: known ? e.message : 'internal error (see the server log)' }, known ? e.headers : {});
      })
      .finally(() => options.log?.(`${req.method} ${req.url} ${res.statusCode} ${(performance.now() - start).toFixed(1)} ms`));
  });

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const hostHeader = req.headers.host;
    if (!hostAllowed(hostHeader, allowedHosts)) {
      const name = hostName(hostHeader ?? '');
      throw new HttpError(
        403,
        `Host ${JSON.stringify(hostHeader)} is not allowed: this server answers only to localhost, IP addresses, its --host and --allow-host names (a guard against DNS rebinding)` +
          (name ? `; to reach it as ${name}, start it with --allow-host ${name}` : ''),
      );
    }
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      throw new HttpError(400, 'malformed request path');
    }
    const method = req.method ?? 'GET';
    const allow = (...methods: string[]) => {
      if (!methods.includes(method)) throw new HttpError(405, `${method} is not allowed on ${pathname} (use ${methods.join(' or ')})`, { Allow: methods.join(', ') });
    };
    if (pathname === '/') {
      allow('GET', 'HEAD');
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': page.csp, ...COMMON_HEADERS });
      res.end(method === 'HEAD' ? undefined : page.html);
    } else if (pathname === '/api/predict') {
      allow('POST');
      const text = parsePredictRequest(req.headers['content-type'], await readBody(req, limits.body), limits.text);
      sendJson(res, 200, await queue.predict(text));
    } else if (pathname === '/api/health') {
      allow('GET');
      sendJson(res, 200, { status: 'ok', model: classifier.dir, labels: classifier.labels, maxLength: classifier.maxLength, maxTextChars: limits.text });
    } else {
      throw new HttpError(404, `no such path: ${pathname} (try / or POST /api/predict)`);
    }
  }

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    if (owned) classifier.dispose();
    throw listenError(e as NodeJS.ErrnoException, host, port);
  }
  const actualPort = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${browsableHost(host)}:${actualPort}/`,
    host,
    port: actualPort,
    classifier,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }).then(() => {
        if (owned) classifier.dispose();
      });
      return closed;
    },
  };
}

const COMMON_HEADERS = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...COMMON_HEADERS, ...headers });
  res.end(`${JSON.stringify(body)}\n`);
}

/** Most bytes of an oversized body read (and dropped) before the connection is closed. */
const DRAIN_LIMIT = 1024 * 1024;

/**
 * The request body, refused with 413 when it passes `limit` bytes. An oversized body is
 * still read to its end and dropped, because answering while the client is sending can
 * reset the connection before the client reads the answer; past DRAIN_LIMIT bytes the
 * connection is closed instead.
 */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = (close: boolean) => new HttpError(413, `request body over ${limit} bytes`, close ? { Connection: 'close' } : {});
  if (Number(req.headers['content-length']) > DRAIN_LIMIT) return Promise.reject(tooLarge(true));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else if (size > DRAIN_LIMIT) {
        req.removeAllListeners('data');
        req.pause();
        reject(tooLarge(true));
      }
    });
    req.on('end', () => (size > limit ? reject(tooLarge(false)) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The text of a POST /api/predict body, or the HttpError that says what is wrong with it. */
function parsePredictRequest(contentType: string | undefined, body: Buffer, maxTextChars: number): string {
  if (!/^application\/json\s*(;|$)/i.test(contentType ?? '')) {
    throw new HttpError(415, `expected Content-Type: application/json, got ${contentType ? `"${contentType}"` : 'none'}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(body));
  } catch (e) {
    throw new HttpError(400, e instanceof SyntaxError ? `body is not valid JSON (${e.message})` : 'body is not valid UTF-8');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError(400, 'expected a JSON object like {"text": "..."}');
  if (!('text' in value)) throw new HttpError(400, 'missing field "text"');
  const text = (value as { text: unknown }).text;
  if (typeof text !== 'string') throw new HttpError(400, `"text" must be a string, got ${text === null ? 'null' : typeof text}`);
  if (!text.trim()) throw new HttpError(400, '"text" is empty');
  if (text.length > maxTextChars) throw new HttpError(422, `"text" has ${text.length} characters; the limit is ${maxTextChars}`);
  return text;
}

/**
 * One model, so one forward pass at a time. Texts that arrive while the model is busy
 * wait here and go through together as one batch (up to 32), which is faster than one
 * by one; between batches the event loop gets a turn, so new requests are read.
 */
class InferenceQueue {
  private waiting: { text: string; resolve: (r: PredictResponse) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  constructor(private readonly classifier: SentenceClassifier, private readonly maxBatch = 32) {}

  predict(text: string): Promise<PredictResponse> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ text, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.waiting.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.runBatch();
      this.schedule();
    });
  }

  private runBatch(): void {
    const batch = this.waiting.splice(0, this.maxBatch);
    try {
      const start = performance.now();
      const predictions = this.classifier.predict(batch.map((w) => w.text), { batchSize: batch.length });
      const ms = Math.round((performance.now() - start) * 100) / 100;
      batch.forEach((w, i) => w.resolve({ ...predictions[i], ms }));
    } catch (e) {
      batch.forEach((w) => w.reject(e));
    }
  }
}

/**
 * Whether a request's Host header names this server in a way no other web site can borrow.
 * DNS rebinding needs a host NAME the attacker controls (evil.example, first resolving to their
 * server, then to 127.0.0.1), and the browser sends that name as Host. So a request is answered
 * when its Host (port ignored) is:
 *   - absent (HTTP/1.0; browsers always send one);
 *   - an IP address, v4 or [v6]: a browser sends one only when it connected to that address;
 *   - localhost or a *.localhost name (browsers resolve those to this machine themselves);
 *   - one of `allowed` (the --host given, and --allow-host names: "name", ".domain" for the
 *     domain and its subdomains, "*" for anything).
 * Anything else gets a 403 JSON error that says how to allow the name.
 */
export function hostAllowed(hostHeader: string | undefined, allowed: readonly string[] = []): boolean {
  if (hostHeader === undefined) return true;
  const name = hostName(hostHeader);
  if (name === undefined) return false;
  if (net.isIPv4(name) || (name.startsWith('[') && net.isIPv6(name.slice(1, -1)))) return true;
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  return allowed.some((a) => a === '*' || a === name || (a.startsWith('.') && (name.endsWith(a) || name === a.slice(1))));
}

/** The host name of a Host header (lowercase, port and a final dot dropped; IPv6 in brackets), or undefined when malformed. */
function hostName(header: string): string | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/.exec(header.trim());
  return m ? normalizeHostName(m[1]) : undefined;
}

/** A name as hostAllowed compares it: lowercase, no final dot, an IPv6 address in brackets. */
function normalizeHostName(name: string): string {
  const n = name.trim().toLowerCase().replace(/\.$/, '');
  return net.isIPv6(n) ? `[${n}]` : n;
}

/** A URL host a browser can open: the loopback address for "any interface", IPv6 in brackets. */
function browsableHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

function listenError(e: NodeJS.ErrnoException, host: string, port: number): Error {
  const where = `${host}:${port}`;
  switch (e.code) {
    case 'EADDRINUSE': return new NlpbookError(`port ${port} is already in use on ${host}; choose another with --port N (0: any free port)`);
    case 'EACCES': return new NlpbookError(`no permission to listen on ${where} (ports below 1024 need root); choose another with --port N`);
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN': return new NlpbookError(`--host ${host}: not an address of this machine (${e.code}); the default is ${DEFAULT_HOST}`);
    default: return e;
  }
}
