import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request the server received. */
export interface RecordedRequest {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** Body parsed as JSON, or undefined. */
  readonly json: unknown;
}

/** What a handler answers. `destroy` drops the connection without an answer. */
export type Reply =
  | { status?: number; json?: unknown; text?: string; headers?: Record<string, string>; delayMs?: number }
  | { destroy: true };

export type Handler = (req: RecordedRequest, res: ServerResponse) => Reply | Promise<Reply> | undefined;

/**
 * A tiny real HTTP server that records every request and answers from route handlers, for request-level tests of
 * the wire format. Routes are matched on `METHOD /path` (exact) after stripping the base prefix; unmatched → 404.
 */
export class RecordingServer {
  readonly requests: RecordedRequest[] = [];
  private readonly routes: { key: string | RegExp; handler: Handler }[] = [];
  private readonly server: Server;
  url = '';

  private constructor(private readonly prefix: string) {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
  }

  /** Starts on a free port; `prefix` is the base path clients are given (e.g. `/api`). */
  static async start(prefix = ''): Promise<RecordingServer> {
    const s = new RecordingServer(prefix);
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
    const { port } = s.server.address() as AddressInfo;
    s.url = `http://127.0.0.1:${port}${prefix}`;
    return s;
  }

  /** Adds a route; a later route for the same key wins. `key` is `METHOD /path` or a RegExp over it. */
  on(key: string | RegExp, handler: Handler | Reply): this {
    this.routes.unshift({ key, handler: typeof handler === 'function' ? handler : () => handler });
    return this;
  }

  /** The standard bootstrap: `/settings` (storage as given) and `/info`. */
  withBootstrap(storage: string | null = null, email = 'user@example.com'): this {
    return this.on('GET /settings', { json: { storage } }).on('GET /info', { json: { email, maxTask: 64 } });
  }

  /** Requests whose `METHOD /path` matches. */
  find(key: string | RegExp): RecordedRequest[] {
    return this.requests.filter((r) => matches(key, `${r.method} ${r.path}`));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://x');
    let path = url.pathname;
    if (this.prefix && path.startsWith(this.prefix)) path = path.slice(this.prefix.length) || '/';
    else if (this.prefix) path = `!unprefixed${path}`;
    let json: unknown;
    try {
      json = body ? JSON.parse(body) : undefined;
    } catch {
      json = undefined;
    }
    const recorded: RecordedRequest = { method: req.method ?? '', path, query: url.searchParams, headers: req.headers, body, json };
    this.requests.push(recorded);
    const route = this.routes.find((r) => matches(r.key, `${recorded.method} ${path}`));
    const reply: Reply = (route ? await route.handler(recorded, res) : undefined) ?? { status: 404, json: { message: 'not found' } };
    if ('destroy' in reply) {
      req.socket.destroy();
      return;
    }
    if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
    if (res.writableEnded) return;
    const headers: Record<string, string> = { ...(reply.headers ?? {}) };
    let out = '';
    if (reply.json !== undefined) {
      headers['content-type'] ??= 'application/json';
      out = JSON.stringify(reply.json);
    } else if (reply.text !== undefined) {
      headers['content-type'] ??= 'text/plain';
      out = reply.text;
    }
    res.writeHead(reply.status ?? 200, headers);
    res.end(out);
  }
}

function matches(key: string | RegExp, value: string): boolean {
  return typeof key === 'string' ? key === value : key.test(value);
}
