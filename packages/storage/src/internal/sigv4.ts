import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { S3Error } from './s3-error.js';

/** SigV4 for S3, server side: the Authorization-header form and presigned URLs, plus chunk signatures. */

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const MAX_SKEW_MS = 15 * 60 * 1000;
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

export type PayloadMode =
  | { kind: 'sha256'; hash: string }
  | { kind: 'unsigned' }
  | { kind: 'chunked'; signed: boolean; trailer: boolean };

export interface AuthResult {
  readonly accessKeyId: string;
  readonly payload: PayloadMode;
  /** What chunk signatures chain from. */
  readonly seedSignature: string;
  readonly signingKey: Buffer;
  readonly amzDate: string;
  readonly scope: string;
}

export interface ParsedQuery {
  /** Decoded name/value pairs in request order. */
  readonly pairs: ReadonlyArray<readonly [string, string]>;
  get(name: string): string | undefined;
  has(name: string): boolean;
}

/** Strict RFC 3986 encoding as SigV4 wants it: everything but `A-Za-z0-9-_.~` (and `/` when kept). */
export function uriEncode(s: string, keepSlash = false): string {
  const e = encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return keepSlash ? e.replace(/%2F/g, '/') : e;
}

export function decodeComponent(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new S3Error('InvalidURI', "Couldn't parse the specified URI.");
  }
}

export function parseQuery(raw: string): ParsedQuery {
  const pairs: Array<[string, string]> = [];
  if (raw) {
    for (const part of raw.split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const k = eq < 0 ? part : part.slice(0, eq);
      const v = eq < 0 ? '' : part.slice(eq + 1);
      pairs.push([decodeComponent(k), decodeComponent(v)]);
    }
  }
  const map = new Map<string, string>();
  for (const [k, v] of pairs) if (!map.has(k)) map.set(k, v);
  return { pairs, get: (n) => map.get(n), has: (n) => map.has(n) };
}

export function sha256hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

const keyCache = new Map<string, Buffer>();

/** The SigV4 signing key of `secret` for a credential scope (`date` is YYYYMMDD), cached. */
export function signingKey(secret: string, scope: { date: string; region: string; service: string }): Buffer {
  const { date, region, service } = scope;
  const id = `${secret}\0${date}\0${region}\0${service}`;
  let k = keyCache.get(id);
  if (!k) {
    const kDate = createHmac('sha256', `AWS4${secret}`).update(date).digest();
    const kRegion = createHmac('sha256', kDate).update(region).digest();
    const kService = createHmac('sha256', kRegion).update(service).digest();
    k = createHmac('sha256', kService).update('aws4_request').digest();
    if (keyCache.size > 1000) keyCache.clear();
    keyCache.set(id, k);
  }
  return k;
}

export function hmacHex(key: Buffer, data: string): string {
  return createHmac('sha256', key).update(data).digest('hex');
}

function headerValue(headers: IncomingHttpHeaders, distinct: NodeJS.Dict<string[]> | undefined, name: string): string | undefined {
  const list = distinct?.[name];
  if (list) return list.map((v) => v.trim().replace(/\s+/g, ' ')).join(',');
  const v = headers[name];
  if (v === undefined) return undefined;
  return (Array.isArray(v) ? v.join(',') : v).trim().replace(/\s+/g, ' ');
}

export interface CanonicalInput {
  readonly method: string;
  /** The request path exactly as sent (still percent-encoded). */
  readonly rawPath: string;
  readonly query: ParsedQuery;
  readonly headers: IncomingHttpHeaders;
  readonly headersDistinct?: NodeJS.Dict<string[]>;
  readonly signedHeaders: readonly string[];
  readonly payloadHash: string;
  /** Query parameter left out (the signature itself, for presigned URLs). */
  readonly omitQuery?: string;
}

export function canonicalRequest(input: CanonicalInput): string {
  // S3 signs the URI-encoded path once, segment by segment; re-encoding the decoded path tolerates clients that send
  // safe characters raw.
  const uri = input.rawPath
    .split('/')
    .map((seg) => uriEncode(decodeComponent(seg)))
    .join('/');
  const q = input.query.pairs
    .filter(([k]) => k !== input.omitQuery)
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const hdrs = input.signedHeaders.map((h) => `${h}:${headerValue(input.headers, input.headersDistinct, h) ?? ''}\n`).join('');
  return [input.method, uri || '/', q, hdrs, input.signedHeaders.join(';'), input.payloadHash].join('\n');
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256hex(canonical)}`;
}

function parseAmzDate(s: string | undefined): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s ?? '');
  if (!m) return undefined;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isFinite(t) ? t : undefined;
}

function safeEqualHex(a: string, b: string): boolean {
  if (a.length !== b.length || !/^[0-9a-f]*$/.test(b)) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

export interface VerifyInput {
  readonly method: string;
  readonly rawPath: string;
  readonly query: ParsedQuery;
  readonly headers: IncomingHttpHeaders;
  readonly headersDistinct?: NodeJS.Dict<string[]>;
  readonly now?: number;
  readonly secretOf: (accessKeyId: string) => Promise<string | undefined>;
}

function parseCredential(cred: string, malformed: () => S3Error): { accessKeyId: string; date: string; region: string; service: string } {
  const parts = cred.split('/');
  if (parts.length < 5 || parts[parts.length - 1] !== 'aws4_request') throw malformed();
  const [date, region, service] = parts.slice(-4) as [string, string, string];
  const accessKeyId = parts.slice(0, -4).join('/');
  if (!/^\d{8}$/.test(date) || !accessKeyId || service !== 's3') throw malformed();
  return { accessKeyId, date, region, service };
}

/** Verifies a request's signature; throws the S3 error AWS would answer with. */
export async function verifyRequest(input: VerifyInput): Promise<AuthResult> {
  const now = input.now ?? Date.now();
  const auth = input.headers.authorization;
  const presigned = input.query.get('X-Amz-Algorithm') !== undefined || input.query.get('X-Amz-Signature') !== undefined;
  if (auth && presigned) throw new S3Error('InvalidArgument', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified.');
  if (!auth && !presigned) throw new S3Error('AccessDenied', 'Access Denied.');

  let accessKeyId: string;
  let date: string;
  let region: string;
  let service: string;
  let signedHeaders: string[];
  let signature: string;
  let amzDate: string;
  let payloadHash: string;
  if (auth) {
    if (!auth.startsWith('AWS4-HMAC-SHA256 ')) {
      throw new S3Error('InvalidArgument', 'Unsupported Authorization Type; only AWS4-HMAC-SHA256 signatures are accepted.');
    }
    // Built only when thrown: capturing a stack trace on every request costs more than the rest of the parsing.
    const malformed = (): S3Error => new S3Error('AuthorizationHeaderMalformed', 'The authorization header is malformed.');
    const fields = new Map<string, string>();
    for (const f of auth.slice(17).split(',')) {
      const eq = f.indexOf('=');
      if (eq > 0) fields.set(f.slice(0, eq).trim(), f.slice(eq + 1).trim());
    }
    const cred = fields.get('Credential');
    const sh = fields.get('SignedHeaders');
    const sig = fields.get('Signature');
    if (!cred || !sh || !sig) throw malformed();
    ({ accessKeyId, date, region, service } = parseCredential(cred, malformed));
    signedHeaders = sh.split(';');
    signature = sig;
    const d = input.headers['x-amz-date'];
    amzDate = (Array.isArray(d) ? d[0] : d) ?? '';
    let t = parseAmzDate(amzDate);
    if (t === undefined && input.headers.date) {
      const alt = Date.parse(input.headers.date);
      if (Number.isFinite(alt)) {
        t = alt;
        amzDate = new Date(alt).toISOString().replace(/[-:]|\.\d{3}/g, '');
      }
    }
    if (t === undefined) throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header.');
    if (Math.abs(now - t) > MAX_SKEW_MS) {
      throw new S3Error('RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', {
        extra: { RequestTime: amzDate, ServerTime: new Date(now).toISOString(), MaxAllowedSkewMilliseconds: String(MAX_SKEW_MS) },
      });
    }
    const ph = input.headers['x-amz-content-sha256'];
    if (typeof ph !== 'string' || ph === '') throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256.');
    payloadHash = ph;
  } else {
    const q = input.query;
    const malformed = (): S3Error =>
      new S3Error('AuthorizationQueryParametersError', 'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.');
    if (q.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') throw malformed();
    const cred = q.get('X-Amz-Credential');
    const sh = q.get('X-Amz-SignedHeaders');
    const sig = q.get('X-Amz-Signature');
    const exp = q.get('X-Amz-Expires');
    amzDate = q.get('X-Amz-Date') ?? '';
    if (!cred || !sh || !sig || !exp) throw malformed();
    ({ accessKeyId, date, region, service } = parseCredential(cred, malformed));
    signedHeaders = sh.split(';');
    signature = sig;
    const t = parseAmzDate(amzDate);
    const seconds = Number(exp);
    if (t === undefined || !/^\d+$/.test(exp)) throw malformed();
    if (seconds > MAX_PRESIGN_SECONDS) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds.');
    if (now > t + seconds * 1000) throw new S3Error('AccessDenied', 'Request has expired.', { extra: { Expires: new Date(t + seconds * 1000).toISOString(), ServerTime: new Date(now).toISOString() } });
    if (t - now > MAX_SKEW_MS) throw new S3Error('AccessDenied', 'Request is not valid yet.');
    const ph = input.headers['x-amz-content-sha256'];
    payloadHash = typeof ph === 'string' && ph ? ph : 'UNSIGNED-PAYLOAD';
  }
  if (amzDate.slice(0, 8) !== date) throw new S3Error('SignatureDoesNotMatch', 'The credential date does not match the request date.');
  if (!signedHeaders.includes('host')) throw new S3Error('AccessDenied', 'The host header must be signed.');

  const secret = await input.secretOf(accessKeyId);
  if (secret === undefined) throw new S3Error('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', { extra: { AWSAccessKeyId: accessKeyId } });
  const key = signingKey(secret, { date, region, service });
  const scope = `${date}/${region}/${service}/aws4_request`;
  const canonical = canonicalRequest({
    method: input.method,
    rawPath: input.rawPath,
    query: input.query,
    headers: input.headers,
    ...(input.headersDistinct ? { headersDistinct: input.headersDistinct } : {}),
    signedHeaders,
    payloadHash,
    ...(auth ? {} : { omitQuery: 'X-Amz-Signature' }),
  });
  const sts = stringToSign(amzDate, scope, canonical);
  const expected = hmacHex(key, sts);
  if (!safeEqualHex(expected, signature)) {
    throw new S3Error('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', {
      extra: { AWSAccessKeyId: accessKeyId, StringToSign: sts, CanonicalRequest: canonical },
    });
  }
  return { accessKeyId, payload: payloadMode(payloadHash), seedSignature: signature, signingKey: key, amzDate, scope };
}

function payloadMode(h: string): PayloadMode {
  switch (h) {
    case 'UNSIGNED-PAYLOAD':
      return { kind: 'unsigned' };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD':
      return { kind: 'chunked', signed: true, trailer: false };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER':
      return { kind: 'chunked', signed: true, trailer: true };
    case 'STREAMING-UNSIGNED-PAYLOAD-TRAILER':
      return { kind: 'chunked', signed: false, trailer: true };
    default:
      if (/^[0-9a-f]{64}$/.test(h)) return { kind: 'sha256', hash: h };
      if (h.startsWith('STREAMING-')) throw new S3Error('NotImplemented', `The payload signing mode ${h} is not supported.`);
      throw new S3Error('InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING-* value, or a SHA-256 hex digest.');
  }
}

export function chunkStringToSign(auth: Pick<AuthResult, 'amzDate' | 'scope'>, prev: string, chunkHash: string): string {
  return `AWS4-HMAC-SHA256-PAYLOAD\n${auth.amzDate}\n${auth.scope}\n${prev}\n${EMPTY_SHA256}\n${chunkHash}`;
}

export function trailerStringToSign(auth: Pick<AuthResult, 'amzDate' | 'scope'>, prev: string, trailerHash: string): string {
  return `AWS4-HMAC-SHA256-TRAILER\n${auth.amzDate}\n${auth.scope}\n${prev}\n${trailerHash}`;
}

export { safeEqualHex };
