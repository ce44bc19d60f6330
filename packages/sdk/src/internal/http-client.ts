import http from 'node:http';
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import {
  AbortError,
  NetworkError,
  QarnotError,
  QarnotGenericError,
  RequestTimeoutError,
  fromResponse,
  type ErrorOperation,
  type ErrorSubject,
} from '../errors.js';
import { sleep } from './abort.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';

/** Settings of the transport, resolved by `Connection.connect`. */
export interface HttpClientOptions {
  /** Cluster URL; any path prefix is kept (`https://host/api` + `/tasks`). */
  readonly baseUrl: string;
  readonly token: string;
  /** Per-attempt timeout, ms. */
  readonly timeoutMs: number;
  /** Skip TLS verification. */
  readonly unsafe: boolean;
  /** Retries after the first attempt. */
  readonly retryCount: number;
  /** First backoff, ms; doubles each retry. */
  readonly retryWaitMs: number;
  /** Cap of one backoff, ms. */
  readonly maxRetryWaitMs: number;
  readonly userAgent: string;
  /** Random source in [0, 1) for jitter (tests pin it). */
  readonly random?: () => number;
}

/** One request. */
export interface HttpRequest {
  readonly method: HttpMethod;
  /** Path starting with `/`, appended to the base URL as is. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** JSON body; `undefined` sends no body and no Content-Type. */
  readonly body?: unknown;
  readonly signal?: AbortSignal | undefined;
  /**
   * Whether repeating the request is harmless. Decides which failures are retried.
   * @default true for GET, HEAD, PUT, DELETE; false for POST and PATCH
   */
  readonly idempotent?: boolean;
  /** Sent as `Idempotency-Key`: a server that honours it never applies the request twice, so it may be retried. */
  readonly idempotencyKey?: string;
  /** Per-attempt timeout for this request, ms (long polls add their hold time). */
  readonly timeoutMs?: number;
  /** Selects the error classes of a failure (reference §1.3). */
  readonly subject: ErrorSubject;
  readonly operation?: ErrorOperation;
}

/** A 2xx response. */
export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** Statuses worth another try: 429 and 503 mean the request was not processed; the others may have been. */
const ALWAYS_RETRIED = new Set([429, 503]);
const RETRIED_WHEN_IDEMPOTENT = new Set([408, 500, 502, 504]);
const NETWORK_CODES_NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
]);

/**
 * The REST transport: keep-alive sockets, retries with exponential backoff, jitter and `Retry-After`, and every
 * failure turned into a typed error by `fromResponse`.
 */
export class HttpClient {
  readonly options: HttpClientOptions;
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;
  private readonly base: URL;

  constructor(options: HttpClientOptions) {
    this.options = options;
    this.base = new URL(options.baseUrl);
    const isHttps = this.base.protocol === 'https:';
    this.transport = isHttps ? https : http;
    // Idle sockets are dropped after 4 s, before the usual 5 s server keep-alive timeout closes them under us.
    const agentOptions = { keepAlive: true, maxSockets: 64, timeout: 4000 };
    this.agent = isHttps
      ? new https.Agent({ ...agentOptions, rejectUnauthorized: !options.unsafe })
      : new http.Agent(agentOptions);
  }

  /** The URL a request goes to: plain concatenation, so a base path prefix is kept. */
  url(path: string, query?: HttpRequest['query']): string {
    const base = this.options.baseUrl.replace(/\/+$/, '');
    let url = base + path;
    if (query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
      const qs = params.toString();
      if (qs) url += (url.includes('?') ? '&' : '?') + qs;
    }
    return url;
  }

  /** Sends a request, retrying what is safe to retry; resolves with a 2xx response or rejects with a typed error. */
  async request(req: HttpRequest): Promise<HttpResponse> {
    const idempotent = req.idempotent ?? (req.method !== 'POST' && req.method !== 'PATCH');
    const repeatable = idempotent || req.idempotencyKey !== undefined;
    const url = this.url(req.path, req.query);
    const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    const { retryCount } = this.options;
    for (let attempt = 0; ; attempt++) {
      if (req.signal?.aborted) throw new AbortError(req.signal.reason);
      let res: RawResponse;
      try {
        res = await this.once(req, url, payload);
      } catch (e) {
        if (e instanceof AbortError) throw e;
        const err = e as NodeJS.ErrnoException;
        const code = err.code ?? '';
        const timedOut = e instanceof RequestTimeoutError;
        // A reset may come after the server applied the request (even on a reused keep-alive socket), so only
        // requests that are safe to repeat, or that certainly never left (refused, DNS), are retried. Idle sockets
        // are dropped after 4 s, before servers close them, to make resets on reuse rare.
        const safe = repeatable || NETWORK_CODES_NOT_SENT.has(code);
        if (attempt < retryCount && safe && (timedOut || NETWORK_CODES.has(code))) {
          await sleep(this.backoff(attempt, undefined), req.signal);
          continue;
        }
        if (e instanceof QarnotError) throw e;
        throw new NetworkError(`${req.method} ${url} failed: ${err.message}`, { cause: e });
      }
      if (res.status >= 200 && res.status < 300) return res;
      const retryable = ALWAYS_RETRIED.has(res.status) || (repeatable && RETRIED_WHEN_IDEMPOTENT.has(res.status));
      if (attempt < retryCount && retryable) {
        await sleep(this.backoff(attempt, res.headers['retry-after']), req.signal);
        continue;
      }
      throw fromResponse(
        { method: req.method, url, status: res.status, statusText: res.statusText, body: res.body },
        { subject: req.subject, ...(req.operation ? { operation: req.operation } : {}) },
      );
    }
  }

  /** `request` and parse the body as JSON (`undefined` for an empty body). */
  async json<T>(req: HttpRequest): Promise<T> {
    const res = await this.request(req);
    if (res.body.trim() === '') return undefined as T;
    try {
      return JSON.parse(res.body) as T;
    } catch (e) {
      throw new QarnotGenericError(`${req.method} ${this.url(req.path)} answered ${res.status} with a body that is not JSON: ${res.body.slice(0, 200)}`, {
        cause: e,
      });
    }
  }

  /** Delay before retry number `attempt + 1`: exponential, equal jitter, at least `Retry-After`. */
  backoff(attempt: number, retryAfter: string | undefined): number {
    const { retryWaitMs, maxRetryWaitMs } = this.options;
    const random = this.options.random ?? Math.random;
    const exp = Math.min(maxRetryWaitMs, retryWaitMs * 2 ** attempt);
    let delay = exp / 2 + (random() * exp) / 2;
    const after = parseRetryAfter(retryAfter);
    if (after !== undefined) delay = Math.max(delay, Math.min(after, 60_000));
    return delay;
  }

  /** Drops the keep-alive sockets. Idempotent. */
  close(): void {
    this.agent.destroy();
  }

  private once(req: HttpRequest, url: string, payload: Buffer | undefined): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = {
        Authorization: this.options.token,
        'User-Agent': this.options.userAgent,
        Accept: 'application/json, text/plain, */*',
      };
      if (payload) {
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = String(payload.length);
      } else if (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH') {
        headers['Content-Length'] = '0';
      }
      if (req.idempotencyKey) headers['Idempotency-Key'] = req.idempotencyKey;
      const signal = req.signal;
      const clientReq = this.transport.request(url, { method: req.method, headers, agent: this.agent });
      const onAbort = (): void => {
        clientReq.destroy(new AbortError(signal?.reason));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const timeoutMs = req.timeoutMs ?? this.options.timeoutMs;
      clientReq.setTimeout(timeoutMs, () => {
        clientReq.destroy(new RequestTimeoutError(`${req.method} ${url} got no answer within ${timeoutMs} ms`));
      });
      clientReq.on('error', (e) => {
        signal?.removeEventListener('abort', onAbort);
        reject(e);
      });
      clientReq.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        });
        res.on('end', () => {
          signal?.removeEventListener('abort', onAbort);
          resolve({
            status: res.statusCode ?? 0,
            statusText: res.statusMessage ?? '',
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
      });
      clientReq.end(payload);
    });
  }
}

interface RawResponse extends HttpResponse {
  readonly statusText: string;
}

/** `Retry-After` as ms: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
