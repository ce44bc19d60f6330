import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FsBlobStore } from './fs-blob-store.js';
import type { FsBackend, ObjectMeta, PutOptions, UploadRecord } from './internal/fs-backend.js';
import { acquireBackend, assertPartNumber, releaseBackend } from './internal/fs-backend.js';
import { evaluateConditions, parseRange } from './internal/http-conditions.js';
import { compareKeys } from './internal/key-order.js';
import { assertBucketName, assertKey } from './internal/names.js';
import { decodeBody } from './internal/request-body.js';
import { isS3Error, S3Error } from './internal/s3-error.js';
import type { AuthResult, ParsedQuery } from './internal/sigv4.js';
import { decodeComponent, parseQuery, uriEncode, verifyRequest } from './internal/sigv4.js';
import type { XmlNode } from './internal/xml.js';
import { child, parseXml, xmlDocument } from './internal/xml.js';

export interface S3Credentials {
  readonly secret: string;
}

export interface S3Quotas {
  readonly maxBuckets: number;
  readonly maxBytes: number;
}

export interface S3GatewayOptions {
  /** Where buckets live (see docs/storage.md for the layout). */
  readonly dataDir: string;
  /** The secret for an access key (Hearth: user email → API token); undefined rejects with InvalidAccessKeyId. */
  readonly credentials: (accessKeyId: string) => Promise<S3Credentials | undefined>;
  /** Per-user limits, enforced with TooManyBuckets / QuotaExceeded. @default unlimited */
  readonly quotas?: (accessKeyId: string) => Promise<S3Quotas>;
  /** Multipart uploads (and stray temp files) older than this are removed. @default 86_400_000 (24 h) */
  readonly multipartMaxAgeMs?: number;
  /** Smallest part allowed before the last one. Only tests lower it. @default 5 MiB */
  readonly minPartSize?: number;
}

export interface ListenOptions {
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 (any free port) */
  readonly port?: number;
  readonly signal?: AbortSignal;
}

/** Query parameters that name S3 features the gateway does not have; they answer NotImplemented, never act. */
const UNSUPPORTED = new Set([
  'accelerate', 'analytics', 'cors', 'encryption', 'intelligent-tiering', 'inventory', 'legal-hold', 'lifecycle',
  'logging', 'metrics', 'notification', 'object-lock', 'ownershipControls', 'policy', 'policyStatus',
  'publicAccessBlock', 'replication', 'requestPayment', 'restore', 'retention', 'select', 'tagging', 'torrent',
  'website', 'attributes', 'renameObject',
]);
const STORED_HEADERS = ['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'] as const;
const RESPONSE_OVERRIDES: Record<string, string> = {
  'response-content-type': 'content-type',
  'response-content-language': 'content-language',
  'response-expires': 'expires',
  'response-cache-control': 'cache-control',
  'response-content-disposition': 'content-disposition',
  'response-content-encoding': 'content-encoding',
};
const MAX_XML_BODY = 4 << 20;
const MAX_USER_META_BYTES = 2048;

/** An object in a request's bucket; the owner is the requester (`ctx.owner`). */
interface KeyRef {
  readonly bucket: string;
  readonly key: string;
}

/** A pending multipart upload, as a request names it. */
interface UploadRef extends KeyRef {
  readonly uploadId: string;
}

interface Ctx {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly method: string;
  readonly query: ParsedQuery;
  readonly bucket: string | undefined;
  readonly key: string | undefined;
  readonly owner: string;
  readonly auth: AuthResult;
}

/**
 * The embedded S3 endpoint (path-style) over the local data directory. Access key = the user's email, secret = the
 * user's API token; each bucket has one owner, and other users get AccessDenied.
 *
 * @example
 * ```ts
 * const gw = new S3Gateway({ dataDir: '.hearth/storage', credentials: async (k) => (k === email ? { secret: token } : undefined) });
 * const url = await gw.listen({ port: 8081 });
 * // ... new S3Client({ endpoint: url, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: email, secretAccessKey: token } })
 * await gw.close();
 * ```
 */
export class S3Gateway {
  readonly #options: S3GatewayOptions;
  readonly #backend: FsBackend;
  readonly #server: Server;
  #store: FsBlobStore | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: S3GatewayOptions) {
    this.#options = options;
    this.#backend = acquireBackend(options.dataDir);
    if (options.minPartSize !== undefined) this.#backend.minPartSize = options.minPartSize;
    this.#server = createServer({ keepAliveTimeout: 60_000, requestTimeout: 0, headersTimeout: 60_000 }, (req, res) => {
      void this.#handle(req, res);
    });
  }

  /** A BlobStore over the same files, for in-process readers and writers (no HTTP hop). */
  get blobStore(): FsBlobStore {
    this.#store ??= new FsBlobStore(this.#options.dataDir, {
      maxBytes: async (owner) => (this.#options.quotas ? (await this.#options.quotas(owner)).maxBytes : undefined),
    });
    return this.#store;
  }

  /** Starts serving; resolves the base URL (e.g. `http://127.0.0.1:8081`). */
  async listen(options: ListenOptions = {}): Promise<string> {
    options.signal?.throwIfAborted();
    await this.#backend.ready();
    const maxAge = this.#options.multipartMaxAgeMs ?? 86_400_000;
    await this.#backend.sweep(maxAge);
    this.#sweeper = setInterval(() => void this.#backend.sweep(maxAge).catch(() => undefined), Math.max(1000, Math.min(maxAge / 4, 3_600_000)));
    this.#sweeper.unref();
    const host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.#server.close();
        reject(options.signal?.reason as Error);
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.#server.once('error', reject);
      this.#server.listen(options.port ?? 0, host, () => {
        options.signal?.removeEventListener('abort', onAbort);
        this.#server.off('error', reject);
        resolve();
      });
    });
    const addr = this.#server.address() as AddressInfo;
    const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return `http://${h}:${addr.port}`;
  }

  /** Bucket count and stored bytes of one user (for `GET /info`). */
  async usage(owner: string): Promise<{ bucketCount: number; bytes: number }> {
    return this.#backend.usage(owner);
  }

  /** Removes abandoned multipart uploads now (the gateway also does it periodically). */
  async sweep(): Promise<{ uploads: number; temps: number }> {
    return this.#backend.sweep(this.#options.multipartMaxAgeMs ?? 86_400_000);
  }

  /** Stops accepting connections, ends open ones, releases the data dir. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#sweeper) clearInterval(this.#sweeper);
      await new Promise<void>((resolve) => {
        if (!this.#server.listening) return resolve();
        this.#server.close(() => resolve());
        this.#server.closeIdleConnections();
        setTimeout(() => this.#server.closeAllConnections(), 2000).unref();
      });
      await this.#store?.close();
      await releaseBackend(this.#backend);
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- request handling ----

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = nextRequestId();
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', requestId);
    res.setHeader('Server', 'Hearth');
    let resource = '/';
    try {
      const url = req.url ?? '/';
      if (!url.startsWith('/')) throw new S3Error('InvalidURI', "Couldn't parse the specified URI.");
      const qi = url.indexOf('?');
      const rawPath = qi < 0 ? url : url.slice(0, qi);
      const query = parseQuery(qi < 0 ? '' : url.slice(qi + 1));
      const slash = rawPath.indexOf('/', 1);
      const bucketRaw = slash < 0 ? rawPath.slice(1) : rawPath.slice(1, slash);
      const keyRaw = slash < 0 ? '' : rawPath.slice(slash + 1);
      const bucket = bucketRaw ? decodeComponent(bucketRaw) : undefined;
      const key = keyRaw ? decodeComponent(keyRaw) : undefined;
      resource = decodeComponent(rawPath);
      const method = req.method ?? 'GET';
      const auth = await verifyRequest({
        method,
        rawPath,
        query,
        headers: req.headers,
        headersDistinct: req.headersDistinct,
        secretOf: async (id) => (await this.#options.credentials(id))?.secret,
      });
      const ctx: Ctx = { req, res, method, query, bucket, key, owner: auth.accessKeyId, auth };
      await this.#route(ctx);
    } catch (e) {
      this.#fail({ req, res }, e, { resource, requestId });
    }
  }

  #fail({ req, res }: { req: IncomingMessage; res: ServerResponse }, e: unknown, where: { resource: string; requestId: string }): void {
    if (!isS3Error(e) && (req.destroyed || req.errored || (e as NodeJS.ErrnoException).code === 'ECONNRESET')) {
      // The client went away mid-request: nobody to answer, and nothing was committed.
      res.destroy();
      return;
    }
    const err = isS3Error(e) ? e : new S3Error('InternalError', 'We encountered an internal error. Please try again.', { cause: e });
    if (err.code === 'InternalError') console.error('[s3-gateway] internal error', e);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // Unread upload bytes would be parsed as the next request; close the connection instead of draining it.
    if (!req.complete) res.setHeader('Connection', 'close');
    const body = req.method === 'HEAD' ? '' : xmlDocument('Error', { Code: err.code, Message: err.message, ...err.extra, Resource: where.resource, RequestId: where.requestId }, false);
    res.writeHead(err.status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
    if (!req.complete) req.on('end', () => undefined).resume();
  }

  async #route(ctx: Ctx): Promise<void> {
    const { method, query, bucket, key } = ctx;
    for (const [name] of query.pairs) {
      if (UNSUPPORTED.has(name)) throw new S3Error('NotImplemented', `The ${name} subresource is not implemented.`);
    }
    if (bucket === undefined) {
      if (method === 'GET') return this.#listBuckets(ctx);
      throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
    }
    assertBucketName(bucket);
    if (key === undefined) {
      switch (method) {
        case 'GET':
          if (query.has('location')) return this.#getLocation(ctx, bucket);
          if (query.has('versioning')) return this.#getVersioning(ctx, bucket);
          if (query.has('acl')) return this.#getAcl(ctx, bucket);
          if (query.has('versions')) return this.#listObjects(ctx, bucket, 'versions');
          if (query.has('uploads')) return this.#listUploads(ctx, bucket);
          return this.#listObjects(ctx, bucket, query.get('list-type') === '2' ? 'v2' : 'v1');
        case 'HEAD':
          await this.#backend.requireBucket(ctx.owner, bucket);
          ctx.res.writeHead(200, { 'x-amz-bucket-region': 'us-east-1' }).end();
          return;
        case 'PUT':
          if (query.pairs.length) throw new S3Error('NotImplemented', 'This bucket configuration is not implemented.');
          return this.#createBucket(ctx, bucket);
        case 'DELETE':
          if (query.pairs.length) throw new S3Error('NotImplemented', 'This bucket configuration is not implemented.');
          await this.#backend.deleteBucket(ctx.owner, bucket);
          ctx.res.writeHead(204).end();
          return;
        case 'POST':
          if (query.has('delete')) return this.#deleteObjects(ctx, bucket);
          throw new S3Error('NotImplemented', 'This POST request is not implemented.');
        default:
          throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
      }
    }
    assertKey(key);
    const uploadId = query.get('uploadId');
    switch (method) {
      case 'GET':
        if (uploadId !== undefined) return this.#listParts(ctx, { bucket, key, uploadId });
        if (query.has('acl')) return this.#getAcl(ctx, bucket, key);
        return this.#getObject(ctx, { bucket, key }, { head: false });
      case 'HEAD':
        return this.#getObject(ctx, { bucket, key }, { head: true });
      case 'PUT':
        if (query.has('acl')) throw new S3Error('NotImplemented', 'Object ACLs are not implemented.');
        if (uploadId !== undefined || query.has('partNumber')) return this.#uploadPart(ctx, { bucket, key, uploadId: uploadId ?? '' });
        if (ctx.req.headers['x-amz-copy-source'] !== undefined) return this.#copyObject(ctx, bucket, key);
        return this.#putObject(ctx, bucket, key);
      case 'POST':
        if (query.has('uploads')) return this.#createUpload(ctx, bucket, key);
        if (uploadId !== undefined) return this.#completeUpload(ctx, { bucket, key, uploadId });
        throw new S3Error('NotImplemented', 'This POST request is not implemented.');
      case 'DELETE':
        if (uploadId !== undefined) {
          const up = await this.#backend.getUpload({ owner: ctx.owner, bucket, key }, uploadId);
          await this.#backend.abortUpload(up);
          ctx.res.writeHead(204).end();
          return;
        }
        checkVersionId(query);
        await this.#backend.deleteObject(ctx.owner, bucket, key);
        ctx.res.writeHead(204).end();
        return;
      default:
        throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
    }
  }

  #xml(ctx: Ctx, root: string, body: XmlNode): void {
    const doc = xmlDocument(root, body);
    ctx.res.writeHead(200, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(doc) });
    ctx.res.end(doc);
  }

  /** Reads a small request body (XML), verifying its signature/checksums like any upload. */
  async #smallBody(ctx: Ctx): Promise<string> {
    const { body } = decodeBody(ctx.req, ctx.req.headers, ctx.auth);
    const parts: Buffer[] = [];
    let n = 0;
    for await (const c of body) {
      n += c.length;
      if (n > MAX_XML_BODY) throw new S3Error('MalformedXML', 'The XML you provided was too large.');
      parts.push(c);
    }
    return Buffer.concat(parts).toString('utf8');
  }

  async #quota(owner: string): Promise<S3Quotas | undefined> {
    return this.#options.quotas?.(owner);
  }

  async #remainingBytes(owner: string): Promise<number | undefined> {
    const q = await this.#quota(owner);
    if (!q) return undefined;
    const { bytes } = await this.#backend.usage(owner);
    return Math.max(0, q.maxBytes - bytes);
  }

  // ---- service & bucket operations ----

  async #listBuckets(ctx: Ctx): Promise<void> {
    const buckets = await this.#backend.listBuckets(ctx.owner);
    this.#xml(ctx, 'ListAllMyBucketsResult', {
      Owner: owner(ctx.owner),
      Buckets: { Bucket: buckets.map((b) => ({ Name: b.name, CreationDate: new Date(b.created).toISOString() })) },
    });
  }

  async #createBucket(ctx: Ctx, bucket: string): Promise<void> {
    const body = await this.#smallBody(ctx);
    if (body.trim()) {
      const root = parseXml(body);
      if (root.name !== 'CreateBucketConfiguration') throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
    }
    const q = await this.#quota(ctx.owner);
    await this.#backend.createBucket(ctx.owner, bucket, { maxBuckets: q?.maxBuckets });
    ctx.res.writeHead(200, { Location: `/${bucket}`, 'Content-Length': 0 }).end();
  }

  async #getLocation(ctx: Ctx, bucket: string): Promise<void> {
    await this.#backend.requireBucket(ctx.owner, bucket);
    this.#xml(ctx, 'LocationConstraint', {});
  }

  async #getVersioning(ctx: Ctx, bucket: string): Promise<void> {
    await this.#backend.requireBucket(ctx.owner, bucket);
    // A bucket that was never versioned has no Status element (boto3 then reports None).
    this.#xml(ctx, 'VersioningConfiguration', {});
  }

  async #getAcl(ctx: Ctx, bucket: string, key?: string): Promise<void> {
    await this.#backend.requireBucket(ctx.owner, bucket);
    if (key !== undefined) await this.#backend.headObject(ctx.owner, bucket, key);
    const o = owner(ctx.owner);
    const doc = `<?xml version="1.0" encoding="UTF-8"?>\n<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>${escXml(o.ID)}</ID><DisplayName>${escXml(o.DisplayName)}</DisplayName></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>${escXml(o.ID)}</ID><DisplayName>${escXml(o.DisplayName)}</DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>`;
    ctx.res.writeHead(200, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(doc) }).end(doc);
  }

  async #listObjects(ctx: Ctx, bucket: string, kind: 'v1' | 'v2' | 'versions'): Promise<void> {
    await this.#backend.requireBucket(ctx.owner, bucket);
    const q = ctx.query;
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') ?? '';
    const encodingType = q.get('encoding-type');
    if (encodingType !== undefined && encodingType !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request');
    const enc = (s: string): string => (encodingType === 'url' ? uriEncode(s, true) : s);
    const maxKeysRaw = q.get('max-keys') ?? q.get('max-items');
    let maxKeys = 1000;
    if (maxKeysRaw !== undefined) {
      if (!/^\d{1,10}$/.test(maxKeysRaw)) throw new S3Error('InvalidArgument', 'Provided max-keys not an integer or within integer range');
      maxKeys = Math.min(1000, Number(maxKeysRaw));
    }
    let startAfter = '';
    let token: string | undefined;
    if (kind === 'v1') startAfter = q.get('marker') ?? '';
    else if (kind === 'versions') {
      startAfter = q.get('key-marker') ?? '';
      const vm = q.get('version-id-marker');
      if (vm !== undefined && vm !== '' && vm !== 'null') throw new S3Error('InvalidArgument', 'Invalid version id specified');
      if (vm !== undefined && vm !== '' && !startAfter) throw new S3Error('InvalidArgument', 'A version-id marker cannot be specified without a key marker.');
    } else {
      token = q.get('continuation-token');
      if (token !== undefined) {
        const decoded = Buffer.from(token, 'base64url').toString('utf8');
        if (!token || !decoded.startsWith('k:')) throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect');
        startAfter = decoded.slice(2);
      } else startAfter = q.get('start-after') ?? '';
    }
    const idx = await this.#backend.index(bucket);
    const page = idx.listPage({ prefix, delimiter, startAfter, maxKeys });
    const ownerEl = owner(ctx.owner);
    const common = page.commonPrefixes.map((p) => ({ Prefix: enc(p) }));
    if (kind === 'versions') {
      this.#xml(ctx, 'ListVersionsResult', {
        Name: bucket,
        Prefix: enc(prefix),
        KeyMarker: enc(startAfter),
        VersionIdMarker: q.get('version-id-marker') ?? '',
        NextKeyMarker: page.isTruncated ? enc(page.nextMarker ?? '') : undefined,
        NextVersionIdMarker: page.isTruncated ? 'null' : undefined,
        MaxKeys: maxKeys,
        Delimiter: delimiter ? enc(delimiter) : undefined,
        EncodingType: encodingType,
        IsTruncated: page.isTruncated,
        Version: page.contents.map(([k, e]) => ({
          Key: enc(k),
          VersionId: 'null',
          IsLatest: true,
          LastModified: new Date(e.lastModified).toISOString(),
          ETag: e.etag,
          Size: e.size,
          Owner: ownerEl,
          StorageClass: 'STANDARD',
        })),
        CommonPrefixes: common,
      });
      return;
    }
    const contents = page.contents.map(([k, e]) => ({
      Key: enc(k),
      LastModified: new Date(e.lastModified).toISOString(),
      ETag: e.etag,
      Size: e.size,
      ...(kind === 'v1' || q.get('fetch-owner') === 'true' ? { Owner: ownerEl } : {}),
      StorageClass: 'STANDARD',
    }));
    if (kind === 'v1') {
      this.#xml(ctx, 'ListBucketResult', {
        Name: bucket,
        Prefix: enc(prefix),
        Marker: enc(startAfter),
        NextMarker: page.isTruncated && delimiter ? enc(page.nextMarker ?? '') : undefined,
        MaxKeys: maxKeys,
        Delimiter: delimiter ? enc(delimiter) : undefined,
        EncodingType: encodingType,
        IsTruncated: page.isTruncated,
        Contents: contents,
        CommonPrefixes: common,
      });
      return;
    }
    this.#xml(ctx, 'ListBucketResult', {
      Name: bucket,
      Prefix: enc(prefix),
      ContinuationToken: token,
      NextContinuationToken: page.isTruncated ? Buffer.from(`k:${page.nextMarker ?? ''}`).toString('base64url') : undefined,
      StartAfter: q.get('start-after') !== undefined ? enc(q.get('start-after') ?? '') : undefined,
      KeyCount: page.contents.length + page.commonPrefixes.length,
      MaxKeys: maxKeys,
      Delimiter: delimiter ? enc(delimiter) : undefined,
      EncodingType: encodingType,
      IsTruncated: page.isTruncated,
      Contents: contents,
      CommonPrefixes: common,
    });
  }

  async #deleteObjects(ctx: Ctx, bucket: string): Promise<void> {
    await this.#backend.requireBucket(ctx.owner, bucket);
    const root = parseXml(await this.#smallBody(ctx));
    if (root.name !== 'Delete') throw malformedXml();
    const quiet = child(root, 'Quiet')?.text.trim() === 'true';
    const objects = root.children.filter((c) => c.name === 'Object');
    if (objects.length === 0 || objects.length > 1000) throw malformedXml();
    const deleted: XmlNode[] = [];
    const errors: XmlNode[] = [];
    for (const o of objects) {
      const keyEl = child(o, 'Key');
      if (!keyEl) throw malformedXml();
      const key = keyEl.text;
      const versionId = child(o, 'VersionId')?.text;
      try {
        if (versionId !== undefined && versionId !== 'null') throw new S3Error('NoSuchVersion', 'The specified version does not exist.');
        await this.#backend.deleteObject(ctx.owner, bucket, key);
        if (!quiet) deleted.push({ Key: key, VersionId: versionId });
      } catch (e) {
        if (!isS3Error(e)) throw e;
        errors.push({ Key: key, VersionId: versionId, Code: e.code, Message: e.message });
      }
    }
    this.#xml(ctx, 'DeleteResult', { Deleted: deleted, Error: errors });
  }

  // ---- objects ----

  #putOptions(ctx: Ctx): PutOptions {
    const h = ctx.req.headers;
    const userMeta: Record<string, string> = {};
    let metaBytes = 0;
    for (const [name, v] of Object.entries(h)) {
      if (!name.startsWith('x-amz-meta-') || v === undefined) continue;
      const value = Array.isArray(v) ? v.join(',') : v;
      const short = name.slice('x-amz-meta-'.length);
      userMeta[short] = value;
      metaBytes += short.length + Buffer.byteLength(value);
    }
    if (metaBytes > MAX_USER_META_BYTES) throw new S3Error('InvalidArgument', 'Your metadata headers exceed the maximum allowed metadata size.');
    const headers: Record<string, string> = {};
    for (const name of STORED_HEADERS) {
      let v = h[name];
      if (typeof v !== 'string') continue;
      // aws-chunked is transport framing, not a property of the object.
      if (name === 'content-encoding') v = v.split(',').map((s) => s.trim()).filter((s) => s && s !== 'aws-chunked').join(',');
      if (v) headers[name] = v;
    }
    return { contentType: h['content-type'] ?? 'binary/octet-stream', userMeta, headers };
  }

  async #putObject(ctx: Ctx, bucket: string, key: string): Promise<void> {
    await this.#backend.requireBucket(ctx.owner, bucket);
    const opts = this.#putOptions(ctx);
    const decoded = decodeBody(ctx.req, ctx.req.headers, ctx.auth);
    if (decoded.length === undefined && ctx.req.headers['transfer-encoding'] === undefined) {
      throw new S3Error('MissingContentLength', 'You must provide the Content-Length HTTP header.');
    }
    if (decoded.length !== undefined && decoded.length > 5 * 1024 ** 3) throw new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed object size.');
    const ifNoneMatch = ctx.req.headers['if-none-match'];
    if (ifNoneMatch === '*') {
      const exists = await this.#backend.headObject(ctx.owner, bucket, key).then(
        () => true,
        () => false,
      );
      if (exists) throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { extra: { Condition: 'If-None-Match' } });
    }
    const remaining = await this.#remainingBytes(ctx.owner);
    if (remaining !== undefined && decoded.length !== undefined && decoded.length > remaining) throw new S3Error('QuotaExceeded', 'The upload exceeds the storage quota.');
    const meta = await this.#backend.putObject({ owner: ctx.owner, bucket, key }, decoded.body, { ...opts, maxBytes: remaining, checksums: decoded.checksums });
    ctx.res.writeHead(200, { ETag: meta.etag, 'Content-Length': 0, ...checksumHeaders(decoded.checksums) }).end();
  }

  async #getObject(ctx: Ctx, { bucket, key }: KeyRef, { head }: { head: boolean }): Promise<void> {
    checkVersionId(ctx.query);
    const obj = await this.#backend.openObject(ctx.owner, bucket, key);
    const { meta, data } = obj;
    let handed = false;
    try {
      const res = ctx.res;
      const h = ctx.req.headers;
      const base: Record<string, string | number> = {
        ETag: meta.etag,
        'Last-Modified': new Date(meta.lastModified).toUTCString(),
        'Accept-Ranges': 'bytes',
      };
      const cond = evaluateConditions(h, meta);
      if (cond === 304) {
        res.writeHead(304, base).end();
        return;
      }
      if (cond === 412) throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { extra: { Condition: 'If-Match' } });
      const headers: Record<string, string | number> = { ...base, 'Content-Type': meta.contentType };
      for (const [n, v] of Object.entries(meta.headers)) headers[n] = v;
      for (const [n, v] of Object.entries(meta.userMeta)) headers[`x-amz-meta-${n}`] = v;
      if (meta.parts) headers['x-amz-mp-parts-count'] = meta.parts;
      for (const [q, n] of Object.entries(RESPONSE_OVERRIDES)) {
        const v = ctx.query.get(q);
        if (v !== undefined) headers[n] = v;
      }
      const range = parseRange(typeof h.range === 'string' ? h.range : undefined, meta.size);
      if (range.kind === 'unsatisfiable') {
        throw new S3Error('InvalidRange', 'The requested range is not satisfiable', { extra: { RangeRequested: String(h.range), ActualObjectSize: String(meta.size) } });
      }
      let status = 200;
      let start = 0;
      let end = meta.size - 1;
      if (range.kind === 'partial') {
        status = 206;
        ({ start, end } = range);
        headers['Content-Range'] = `bytes ${start}-${end}/${meta.size}`;
      } else if (h['x-amz-checksum-mode'] === 'ENABLED' && meta.checksums) {
        Object.assign(headers, checksumHeaders(meta.checksums));
      }
      headers['Content-Length'] = end - start + 1;
      res.writeHead(status, headers);
      if (head || end < start) {
        res.end();
        return;
      }
      if (data) {
        // A small object was read whole with its metadata: one write, no stream.
        res.end(data.subarray(start, end + 1));
        return;
      }
      handed = true;
      await obj.send(res, start, end).catch(() => {
        // The client went away; send() has closed the object.
      });
    } finally {
      if (!handed) await obj.close();
    }
  }

  #sourceOf(ctx: Ctx): KeyRef {
    const raw = String(ctx.req.headers['x-amz-copy-source']);
    let s = raw;
    const qi = s.indexOf('?');
    if (qi >= 0) {
      const q = parseQuery(s.slice(qi + 1));
      const v = q.get('versionId');
      if (v !== undefined && v !== 'null') throw new S3Error('NoSuchVersion', 'The specified version does not exist.');
      s = s.slice(0, qi);
    }
    s = decodeComponent(s);
    if (s.startsWith('/')) s = s.slice(1);
    const slash = s.indexOf('/');
    if (slash <= 0 || slash === s.length - 1) throw new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey');
    const bucket = s.slice(0, slash);
    const key = s.slice(slash + 1);
    assertBucketName(bucket);
    assertKey(key);
    return { bucket, key };
  }

  async #copyObject(ctx: Ctx, bucket: string, key: string): Promise<void> {
    await this.#backend.requireBucket(ctx.owner, bucket);
    const src = this.#sourceOf(ctx);
    const directive = String(ctx.req.headers['x-amz-metadata-directive'] ?? 'COPY').toUpperCase();
    if (directive !== 'COPY' && directive !== 'REPLACE') throw new S3Error('InvalidArgument', 'Unknown metadata directive.');
    await this.#smallBody(ctx);
    const src0 = await this.#backend.openObject(ctx.owner, src.bucket, src.key);
    const { meta } = src0;
    let out: ObjectMeta;
    try {
      if (evaluateConditions(ctx.req.headers, meta, 'x-amz-copy-source-') !== undefined) {
        throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
      }
      if (src.bucket === bucket && src.key === key && directive === 'COPY') {
        throw new S3Error('InvalidRequest', "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.");
      }
      const opts: PutOptions = directive === 'REPLACE' ? this.#putOptions(ctx) : { contentType: meta.contentType, userMeta: meta.userMeta, headers: meta.headers };
      const remaining = await this.#remainingBytes(ctx.owner);
      if (remaining !== undefined && meta.size > remaining) throw new S3Error('QuotaExceeded', 'The copy exceeds the storage quota.');
      const body = meta.size ? (src0.data ? [src0.data] : src0.stream(0, meta.size - 1, { autoClose: false })) : [];
      // The copy keeps the source ETag (identical bytes), so a multipart ETag survives a rename: Ceph does the same.
      out = await this.#backend.putObject({ owner: ctx.owner, bucket, key }, body, { ...opts, checksums: meta.checksums, etag: meta.etag, parts: meta.parts });
    } finally {
      await src0.close();
    }
    this.#xml(ctx, 'CopyObjectResult', { LastModified: new Date(out.lastModified).toISOString(), ETag: out.etag });
  }

  // ---- multipart ----

  async #createUpload(ctx: Ctx, bucket: string, key: string): Promise<void> {
    await this.#backend.requireBucket(ctx.owner, bucket);
    const opts = this.#putOptions(ctx);
    await this.#smallBody(ctx);
    const up = await this.#backend.createUpload({ owner: ctx.owner, bucket, key }, opts);
    this.#xml(ctx, 'InitiateMultipartUploadResult', { Bucket: bucket, Key: key, UploadId: up.uploadId });
  }

  async #uploadPart(ctx: Ctx, { bucket, key, uploadId }: UploadRef): Promise<void> {
    const pn = ctx.query.get('partNumber') ?? '';
    if (!/^\d{1,5}$/.test(pn)) throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.');
    const partNumber = Number(pn);
    assertPartNumber(partNumber);
    const up = await this.#backend.getUpload({ owner: ctx.owner, bucket, key }, uploadId);
    const remaining = await this.#remainingBytes(ctx.owner);
    if (ctx.req.headers['x-amz-copy-source'] !== undefined) {
      const src = this.#sourceOf(ctx);
      await this.#smallBody(ctx);
      const srcObj = await this.#backend.openObject(ctx.owner, src.bucket, src.key);
      const { meta } = srcObj;
      let part;
      try {
        if (evaluateConditions(ctx.req.headers, meta, 'x-amz-copy-source-') !== undefined) {
          throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
        }
        let start = 0;
        let end = meta.size - 1;
        const rh = ctx.req.headers['x-amz-copy-source-range'];
        if (typeof rh === 'string') {
          const m = /^bytes=(\d+)-(\d+)$/.exec(rh.trim());
          if (!m) throw new S3Error('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy');
          start = Number(m[1]);
          end = Number(m[2]);
          if (start > end || end >= meta.size) throw new S3Error('InvalidRange', 'The requested range is not satisfiable', { extra: { RangeRequested: rh, ActualObjectSize: String(meta.size) } });
        }
        const body = end >= start ? srcObj.stream(start, end, { autoClose: false }) : [];
        part = await this.#backend.putPart({ upload: up, partNumber }, body, { maxBytes: remaining });
      } finally {
        await srcObj.close();
      }
      this.#xml(ctx, 'CopyPartResult', { LastModified: new Date(part.lastModified).toISOString(), ETag: part.etag });
      return;
    }
    const decoded = decodeBody(ctx.req, ctx.req.headers, ctx.auth);
    if (decoded.length === undefined && ctx.req.headers['transfer-encoding'] === undefined) {
      throw new S3Error('MissingContentLength', 'You must provide the Content-Length HTTP header.');
    }
    if (decoded.length !== undefined && decoded.length > 5 * 1024 ** 3) throw new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed object size.');
    const part = await this.#backend.putPart({ upload: up, partNumber }, decoded.body, { maxBytes: remaining, checksums: decoded.checksums });
    ctx.res.writeHead(200, { ETag: part.etag, 'Content-Length': 0, ...checksumHeaders(decoded.checksums) }).end();
  }

  async #completeUpload(ctx: Ctx, { bucket, key, uploadId }: UploadRef): Promise<void> {
    const up = await this.#backend.getUpload({ owner: ctx.owner, bucket, key }, uploadId);
    const root = parseXml(await this.#smallBody(ctx));
    if (root.name !== 'CompleteMultipartUpload') throw malformedXml();
    const parts = root.children
      .filter((c) => c.name === 'Part')
      .map((p) => {
        const n = child(p, 'PartNumber')?.text.trim() ?? '';
        const etag = child(p, 'ETag')?.text;
        if (!/^\d{1,5}$/.test(n) || etag === undefined) throw malformedXml();
        return { partNumber: Number(n), etag };
      });
    const meta = await this.#backend.completeUpload(up, parts, { maxBytes: await this.#remainingBytes(ctx.owner) });
    const host = ctx.req.headers.host ?? 'localhost';
    this.#xml(ctx, 'CompleteMultipartUploadResult', {
      Location: `http://${host}/${uriEncode(bucket)}/${uriEncode(key, true)}`,
      Bucket: bucket,
      Key: key,
      ETag: meta.etag,
    });
  }

  async #listParts(ctx: Ctx, { bucket, key, uploadId }: UploadRef): Promise<void> {
    const up = await this.#backend.getUpload({ owner: ctx.owner, bucket, key }, uploadId);
    const marker = intParam(ctx.query, 'part-number-marker', 0);
    const maxParts = Math.min(1000, intParam(ctx.query, 'max-parts', 1000));
    const all = (await this.#backend.listParts(up)).filter((p) => p.partNumber > marker);
    const page = all.slice(0, maxParts);
    const truncated = all.length > page.length;
    this.#xml(ctx, 'ListPartsResult', {
      Bucket: bucket,
      Key: key,
      UploadId: uploadId,
      Initiator: owner(up.owner),
      Owner: owner(up.owner),
      StorageClass: 'STANDARD',
      PartNumberMarker: marker,
      NextPartNumberMarker: page.length ? page[page.length - 1]?.partNumber : undefined,
      MaxParts: maxParts,
      IsTruncated: truncated,
      Part: page.map((p) => ({ PartNumber: p.partNumber, LastModified: new Date(p.lastModified).toISOString(), ETag: p.etag, Size: p.size })),
    });
  }

  async #listUploads(ctx: Ctx, bucket: string): Promise<void> {
    await this.#backend.requireBucket(ctx.owner, bucket);
    const q = ctx.query;
    const prefix = q.get('prefix') ?? '';
    const keyMarker = q.get('key-marker') ?? '';
    const idMarker = q.get('upload-id-marker') ?? '';
    const max = Math.min(1000, intParam(q, 'max-uploads', 1000));
    const all = this.#backend
      .listUploads(bucket)
      .filter((u) => u.key.startsWith(prefix))
      .sort((a, b) => compareKeys(a.key, b.key) || a.initiated - b.initiated || (a.uploadId < b.uploadId ? -1 : 1))
      .filter((u) => {
        if (!keyMarker) return true;
        const c = compareKeys(u.key, keyMarker);
        return c > 0 || (c === 0 && idMarker !== '' && u.uploadId > idMarker);
      });
    const page = all.slice(0, max);
    const last: UploadRecord | undefined = page[page.length - 1];
    const truncated = all.length > page.length;
    this.#xml(ctx, 'ListMultipartUploadsResult', {
      Bucket: bucket,
      KeyMarker: keyMarker,
      UploadIdMarker: idMarker,
      NextKeyMarker: truncated ? last?.key : undefined,
      NextUploadIdMarker: truncated ? last?.uploadId : undefined,
      Prefix: prefix,
      MaxUploads: max,
      IsTruncated: truncated,
      Upload: page.map((u) => ({
        Key: u.key,
        UploadId: u.uploadId,
        Initiator: owner(u.owner),
        Owner: owner(u.owner),
        StorageClass: 'STANDARD',
        Initiated: new Date(u.initiated).toISOString(),
      })),
    });
  }
}

/** Unique per process: a random prefix and a counter (no entropy drawn per request). */
const requestIdPrefix = randomBytes(4).toString('hex').toUpperCase();
let requestCounter = 0;
function nextRequestId(): string {
  requestCounter = (requestCounter + 1) % 0x1_0000_0000;
  return requestIdPrefix + requestCounter.toString(16).toUpperCase().padStart(8, '0');
}

function owner(id: string): { ID: string; DisplayName: string } {
  return { ID: id, DisplayName: id };
}

function escXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function malformedXml(): S3Error {
  return new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
}

function checkVersionId(q: ParsedQuery): void {
  const v = q.get('versionId');
  if (v !== undefined && v !== 'null') throw new S3Error('InvalidArgument', 'Invalid version id specified');
}

function intParam(q: ParsedQuery, name: string, dflt: number): number {
  const v = q.get(name);
  if (v === undefined || v === '') return dflt;
  if (!/^\d{1,9}$/.test(v)) throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`);
  return Number(v);
}

function checksumHeaders(sums: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [algo, v] of Object.entries(sums ?? {})) out[`x-amz-checksum-${algo}`] = v;
  return out;
}
