import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';

/**
 * A deliberately separate, minimal SigV4 client for raw requests the SDKs will not send (bad hashes, skewed clocks,
 * signed aws-chunked bodies, hostile paths). Written from the AWS documentation, not from the gateway's code.
 */
export interface RawRequest {
  method: string;
  /** Path and query exactly as sent on the wire. */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Override the signed payload hash (default: SHA-256 of body). */
  payloadHash?: string;
  date?: Date;
  /** Send without signing. */
  unsigned?: boolean;
  /** Declared Content-Length (default: body length); a larger value with `destroyAfterBody` simulates a cut. */
  contentLength?: number;
  destroyAfterBody?: boolean;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
}

const enc = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const sha = (d: string | Buffer): string => createHash('sha256').update(d).digest('hex');
const hmac = (k: Buffer | string, d: string): Buffer => createHmac('sha256', k).update(d).digest();

export function amzDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

export function signingKeyFor(secret: string, day: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, day), 'us-east-1'), 's3'), 'aws4_request');
}

/** Signs `as.headers` in place: adds host, x-amz-date, x-amz-content-sha256 and Authorization. Returns the seed signature. */
export function sign(endpoint: URL, req: RawRequest, as: { creds: Creds; headers: Record<string, string> }): string {
  const { creds, headers } = as;
  const date = req.date ?? new Date();
  const t = amzDate(date);
  const day = t.slice(0, 8);
  headers['host'] = endpoint.host;
  headers['x-amz-date'] = t;
  headers['x-amz-content-sha256'] ??= req.payloadHash ?? sha(req.body ?? '');
  const qi = req.path.indexOf('?');
  const rawPath = qi < 0 ? req.path : req.path.slice(0, qi);
  const rawQuery = qi < 0 ? '' : req.path.slice(qi + 1);
  const canonUri = rawPath
    .split('/')
    .map((s) => enc(decodeURIComponent(s)))
    .join('/');
  const canonQuery = rawQuery
    .split('&')
    .filter(Boolean)
    .map((p) => {
      const [k = '', v = ''] = p.split(/=(.*)/s);
      return [enc(decodeURIComponent(k)), enc(decodeURIComponent(v))] as const;
    })
    .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const names = Object.keys(headers)
    .map((h) => h.toLowerCase())
    .sort();
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const canonHeaders = names.map((n) => `${n}:${String(lower[n]).trim().replace(/\s+/g, ' ')}\n`).join('');
  const creq = [req.method, canonUri, canonQuery, canonHeaders, names.join(';'), headers['x-amz-content-sha256']].join('\n');
  const scope = `${day}/us-east-1/s3/aws4_request`;
  const sts = `AWS4-HMAC-SHA256\n${t}\n${scope}\n${sha(creq)}`;
  const sig = createHmac('sha256', signingKeyFor(creds.secretAccessKey, day)).update(sts).digest('hex');
  headers['authorization'] = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${sig}`;
  return sig;
}

/** Frames `data` as a signed aws-chunked body (STREAMING-AWS4-HMAC-SHA256-PAYLOAD). */
export function signedChunks(data: Buffer, chunkSize: number, o: { seed: string; secret: string; date: Date }): Buffer {
  const t = amzDate(o.date);
  const day = t.slice(0, 8);
  const key = signingKeyFor(o.secret, day);
  const scope = `${day}/us-east-1/s3/aws4_request`;
  const out: Buffer[] = [];
  let prev = o.seed;
  const emit = (chunk: Buffer): void => {
    const sts = `AWS4-HMAC-SHA256-PAYLOAD\n${t}\n${scope}\n${prev}\n${sha('')}\n${sha(chunk)}`;
    const sig = createHmac('sha256', key).update(sts).digest('hex');
    out.push(Buffer.from(`${chunk.length.toString(16)};chunk-signature=${sig}\r\n`), chunk, Buffer.from('\r\n'));
    prev = sig;
  };
  for (let i = 0; i < data.length; i += chunkSize) emit(data.subarray(i, i + chunkSize));
  emit(Buffer.alloc(0));
  return Buffer.concat(out);
}

export function rawRequest(endpoint: string, req: RawRequest, creds?: Creds): Promise<RawResponse> {
  const url = new URL(endpoint);
  const headers: Record<string, string> = { ...(req.headers ?? {}) };
  const body = req.body === undefined ? undefined : Buffer.from(req.body);
  headers['content-length'] ??= String(req.contentLength ?? body?.length ?? 0);
  if (!req.unsigned && creds) sign(url, req, { creds, headers });
  return new Promise((resolve, reject) => {
    const r = http.request({ host: url.hostname, port: url.port, method: req.method, path: req.path, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    r.on('error', (e) => (req.destroyAfterBody ? resolve({ status: 0, headers: {}, body: String(e) }) : reject(e)));
    if (body) r.write(body);
    if (req.destroyAfterBody) {
      setTimeout(() => {
        r.destroy();
        resolve({ status: 0, headers: {}, body: 'destroyed' });
      }, 100);
      return;
    }
    r.end();
  });
}

export function errorCode(body: string): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(body)?.[1];
}
