import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { User } from '@hearth/store';
import { ApiError, errorBody, toApiError } from './api-error.js';
import { DEFAULT_QUOTAS, type ApiOptions, type Quotas } from './api-options.js';
import { Router, type Reply, type RequestContext, type RouteSpec } from './router.js';
import { taskRoutes } from './routes/task-routes.js';
import { jobRoutes } from './routes/job-routes.js';
import { poolRoutes } from './routes/pool-routes.js';
import { accountRoutes } from './routes/account-routes.js';
import { secretRoutes } from './routes/secret-routes.js';
import { executionRoutes } from './routes/execution-routes.js';
import { openApiDocument } from './openapi.js';

/** What route modules receive: the options with defaults resolved. */
export interface ApiContext extends ApiOptions {
  readonly quotas: Quotas;
}

const JSON_TYPE = 'application/json; charset=utf-8';
/** Most requests have no query string: one shared empty instance saves an allocation on the hot path. */
const NO_QUERY = new URLSearchParams();

/** The Qarnot-compatible REST API on `node:http`. `handle` can also be mounted in another server. */
export class ApiServer {
  readonly router = new Router();
  private server: Server | undefined;
  private readonly maxBody: number;
  private readonly ctx: ApiContext;
  private closing: Promise<void> | undefined;

  constructor(options: ApiOptions) {
    this.ctx = { ...options, quotas: { ...DEFAULT_QUOTAS, ...options.quotas } };
    this.maxBody = options.maxBodyBytes ?? 16 * 2 ** 20;
    for (const routes of [taskRoutes, executionRoutes, jobRoutes, poolRoutes, accountRoutes, secretRoutes]) {
      for (const r of routes(this.ctx)) this.router.add(r);
    }
    // Built on first request, so the document lists every route, itself included.
    let doc: string | undefined;
    this.router.add({
      method: 'GET',
      path: '/openapi.json',
      summary: 'This OpenAPI document',
      tag: 'meta',
      auth: false,
      handler: () => ({ status: 200, raw: (doc ??= JSON.stringify(openApiDocument(this.router.routes))), contentType: JSON_TYPE }),
    });
  }

  async listen(options: { host?: string; port?: number } = {}): Promise<string> {
    const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => void this.handle(req, res));
    server.headersTimeout = 66_000;
    // Requests Node's HTTP parser refuses (unknown method, bad header) still get the one JSON error body.
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (!socket.writable || err.code === 'ECONNRESET') {
        socket.destroy();
        return;
      }
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      const body = errorBody(new ApiError('invalid_request', `Malformed HTTP request (${err.code ?? 'parse error'})`));
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${JSON_TYPE}\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
    });
    const addr = server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return `http://${host}:${addr.port}`;
  }

  /** Stops accepting connections and waits for in-flight requests; idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      const server = this.server;
      if (!server) return resolve();
      server.close(() => resolve());
      server.closeIdleConnections();
      // In-flight requests get a grace period, then their sockets are closed.
      setTimeout(() => server.closeAllConnections(), 5000).unref();
    });
    return this.closing;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let reply: Reply;
    try {
      reply = await this.dispatch(req, res);
    } catch (e) {
      const err = toApiError(e);
      if (err.code === 'internal') console.error('hearth api: unhandled error', e);
      reply = { status: err.status, raw: errorBody(err), contentType: JSON_TYPE };
    }
    send(res, reply);
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<Reply> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const pathname = q === -1 ? url : url.slice(0, q);
    const match = this.router.match(req.method ?? 'GET', pathname);
    if (match.kind === 'none') {
      drain(req);
      throw new ApiError('not_found', `No route for ${req.method} ${pathname}`);
    }
    if (match.kind === 'method') {
      drain(req);
      res.setHeader('Allow', match.allowed.join(', '));
      throw new ApiError('method_not_allowed', `Method ${req.method} is not allowed on ${pathname}`);
    }
    const route: RouteSpec = match.route;
    let user: User | undefined;
    if (route.auth !== false) {
      user = this.authenticate(req);
      if (!user) {
        drain(req);
        throw new ApiError('unauthorized', 'Unauthorized: missing or unknown API token');
      }
    }
    let bodyPromise: Promise<unknown> | undefined;
    const ctx: RequestContext = {
      req,
      res,
      user: user as User,
      params: match.params,
      query: q === -1 ? NO_QUERY : new URLSearchParams(url.slice(q + 1)),
      body: () => (bodyPromise ??= readJsonBody(req, this.maxBody)),
    };
    const reply = await route.handler(ctx);
    if (!bodyPromise) drain(req);
    return reply;
  }

  private authenticate(req: IncomingMessage): User | undefined {
    const header = req.headers.authorization;
    if (!header) return undefined;
    const token = header.startsWith('Bearer ') || header.startsWith('bearer ') ? header.slice(7).trim() : header.trim();
    if (token === '') return undefined;
    return this.ctx.store.findUserByToken(token);
  }
}

function send(res: ServerResponse, reply: Reply): void {
  if ('json' in reply) {
    const body = JSON.stringify(reply.json);
    res.writeHead(reply.status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  } else if ('raw' in reply) {
    res.writeHead(reply.status, { 'content-type': reply.contentType, 'content-length': Buffer.byteLength(reply.raw) });
    res.end(reply.raw);
  } else {
    res.writeHead(reply.status, { 'content-length': 0 });
    res.end();
  }
}

/** Discards an unread body so the keep-alive connection stays usable. */
function drain(req: IncomingMessage): void {
  if (!req.complete) req.resume();
}

async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) {
    req.resume();
    throw new ApiError('payload_too_large', `Request body is over the ${limit} bytes limit`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      throw new ApiError('payload_too_large', `Request body is over the ${limit} bytes limit`);
    }
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  const text = Buffer.concat(chunks, size).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (e) {
    throw new ApiError('invalid_request', `Malformed JSON body: ${(e as Error).message}`);
  }
  // Validation is recursive: a body nested thousands of levels deep would overflow the stack (a 500) there.
  if (nestedDeeperThan(value, MAX_JSON_DEPTH)) {
    throw new ApiError('invalid_request', `Invalid request body: nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  return value;
}

/** Deep enough for any Qarnot body (a filter tree 32 levels deep is about 66). */
const MAX_JSON_DEPTH = 100;

/** Iterative, so that measuring the depth cannot itself overflow the stack. */
function nestedDeeperThan(root: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[root, 0]];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [value, depth] = item;
    if (value === null || typeof value !== 'object') continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(value) ? value : Object.values(value)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}
