import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { AbortError, MissingBucketError, QarnotGenericError } from '../errors.js';

/** What a signed GET needs: the path-style endpoint and the credentials. */
export interface SignedGetSettings {
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly unsafe: boolean;
  readonly region: string;
}

/** Strict RFC 3986 encoding as SigV4 wants it: everything but `A-Za-z0-9-_.~`, slashes kept. */
export function uriEncodePath(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%2F/g, '/');
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
const hmac = (key: Buffer | string, s: string): Buffer => createHmac('sha256', key).update(s).digest();

/**
 * Path-style `GetObject` signed with SigV4 (unsigned payload) over a keep-alive agent. Bulk downloads use it
 * instead of the AWS SDK's command stack, whose per-request CPU (~1.4 ms) dominated downloads of many small files
 * on two cores; listing, uploads and everything else still go through the AWS SDK.
 */
export class SignedGetter {
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;
  private readonly base: URL;
  private signingKey: { day: string; key: Buffer } | undefined;

  constructor(private readonly settings: SignedGetSettings) {
    this.base = new URL(settings.endpoint);
    const isHttps = this.base.protocol === 'https:';
    this.transport = isHttps ? https : http;
    const options = { keepAlive: true, maxSockets: 64, timeout: 4000 };
    this.agent = isHttps ? new https.Agent({ ...options, rejectUnauthorized: !settings.unsafe }) : new http.Agent(options);
  }

  /** Opens `bucket/key` from byte `offset`; `ifMatch` pins the version. Rejects with the SDK's errors. */
  open(
    bucket: string,
    key: string,
    options: { offset?: number; ifMatch?: string | undefined; signal?: AbortSignal | undefined } = {},
  ): Promise<{ body: IncomingMessage; etag: string | undefined }> {
    const prefix = this.base.pathname.replace(/\/+$/, '');
    const path = `${prefix}/${uriEncodePath(bucket)}/${uriEncodePath(key)}`;
    const headers = this.sign(path);
    if (options.offset) headers['range'] = `bytes=${options.offset}-`;
    if (options.ifMatch) headers['if-match'] = options.ifMatch;
    const { signal } = options;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(new AbortError(signal.reason));
        return;
      }
      const req = this.transport.request(
        { protocol: this.base.protocol, hostname: this.base.hostname, port: this.base.port, path, method: 'GET', headers, agent: this.agent },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status === 200 || status === 206) {
            resolve({ body: res, etag: typeof res.headers.etag === 'string' ? res.headers.etag : undefined });
            return;
          }
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? '';
            const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? res.statusMessage ?? '';
            if (code === 'NoSuchBucket') reject(new MissingBucketError(`bucket '${bucket}' does not exist`));
            else reject(Object.assign(new QarnotGenericError(`GET ${bucket}/${key}: ${status} ${code} ${message}`.trim()), { $metadata: { httpStatusCode: status } }));
          });
        },
      );
      const onAbort = (): void => {
        req.destroy(new AbortError(signal?.reason));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('close', () => signal?.removeEventListener('abort', onAbort));
      req.on('error', reject);
      req.end();
    });
  }

  /** Drops the keep-alive sockets. */
  close(): void {
    this.agent.destroy();
  }

  private sign(path: string): Record<string, string> {
    const { accessKeyId, secretAccessKey, region } = this.settings;
    const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const day = amzDate.slice(0, 8);
    const host = this.base.host;
    const payload = 'UNSIGNED-PAYLOAD';
    const canonical = ['GET', path, '', `host:${host}`, `x-amz-content-sha256:${payload}`, `x-amz-date:${amzDate}`, '', 'host;x-amz-content-sha256;x-amz-date', payload].join('\n');
    const scope = `${day}/${region}/s3/aws4_request`;
    const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
    if (this.signingKey?.day !== day) {
      this.signingKey = { day, key: hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, day), region), 's3'), 'aws4_request') };
    }
    const signature = createHmac('sha256', this.signingKey.key).update(toSign).digest('hex');
    return {
      host,
      'x-amz-date': amzDate,
      'x-amz-content-sha256': payload,
      authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${signature}`,
    };
  }
}
