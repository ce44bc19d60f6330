import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { BlobInfo, BlobListOptions, BlobStore, BlobStoreErrorCode, BlobWriteOptions, BucketRef, ObjectRef } from './blob-store.js';
import { BlobStoreError } from './blob-store.js';

export interface S3UserCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface S3BlobStoreOptions {
  /** The S3 endpoint, e.g. `http://rgw.internal:7480`. */
  readonly endpoint: string;
  /**
   * The S3 credentials of a Hearth user. Qarnot's convention (and Hearth's on Ceph RGW with
   * {@link RgwUserProvisioner}): access key = email, secret = API token.
   */
  readonly credentials: (owner: string) => Promise<S3UserCredentials>;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** Path-style addressing (`endpoint/bucket/key`), what RGW and the gateway expect. @default true */
  readonly forcePathStyle?: boolean;
  /** Part size for multipart uploads. @default 8 MiB (the Python SDK's, so ETags match its sync) */
  readonly partSize?: number;
}

/**
 * A {@link BlobStore} over any S3 service through @aws-sdk/client-s3, each owner acting with their own S3 keys so
 * the service itself enforces bucket ownership.
 *
 * @example
 * ```ts
 * const store = new S3BlobStore({ endpoint: 'http://127.0.0.1:7480', credentials: async (email) => ({ accessKeyId: email, secretAccessKey: await tokenOf(email) }) });
 * ```
 */
export class S3BlobStore implements BlobStore {
  readonly #options: S3BlobStoreOptions;
  readonly #clients = new Map<string, Promise<S3Client>>();
  #closed = false;

  constructor(options: S3BlobStoreOptions) {
    this.#options = options;
  }

  #client(owner: string): Promise<S3Client> {
    if (this.#closed) return Promise.reject(new BlobStoreError('Unavailable', 'the store is closed'));
    let c = this.#clients.get(owner);
    if (!c) {
      c = this.#options.credentials(owner).then(
        (credentials) =>
          new S3Client({
            endpoint: this.#options.endpoint,
            region: this.#options.region ?? 'us-east-1',
            forcePathStyle: this.#options.forcePathStyle ?? true,
            credentials,
            // Not every S3 server speaks aws-chunked trailers (Ceph RGW 16 does not); checksum only when required.
            requestChecksumCalculation: 'WHEN_REQUIRED',
            responseChecksumValidation: 'WHEN_REQUIRED',
          }),
      );
      this.#clients.set(owner, c);
      c.catch(() => this.#clients.delete(owner));
    }
    return c;
  }

  async bucketExists(ref: BucketRef): Promise<boolean> {
    const s3 = await this.#client(ref.owner);
    try {
      await s3.send(new HeadBucketCommand({ Bucket: ref.bucket }));
      return true;
    } catch (e) {
      const status = statusOf(e);
      if (status === 404) return false;
      throw toBlobError(e);
    }
  }

  async createBucket(ref: BucketRef): Promise<void> {
    const s3 = await this.#client(ref.owner);
    try {
      await s3.send(new CreateBucketCommand({ Bucket: ref.bucket }));
    } catch (e) {
      if (nameOf(e) === 'BucketAlreadyOwnedByYou') return;
      throw toBlobError(e);
    }
  }

  async *list(ref: BucketRef, options: BlobListOptions = {}): AsyncIterable<BlobInfo> {
    const s3 = await this.#client(ref.owner);
    let token: string | undefined;
    do {
      let page;
      try {
        page = await s3.send(new ListObjectsV2Command({ Bucket: ref.bucket, Prefix: options.prefix || undefined, ContinuationToken: token }), { abortSignal: options.signal });
      } catch (e) {
        throw toBlobError(e);
      }
      for (const o of page.Contents ?? []) {
        yield { key: o.Key ?? '', size: o.Size ?? 0, etag: o.ETag ?? '', lastModified: o.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async head(ref: ObjectRef): Promise<BlobInfo | undefined> {
    const s3 = await this.#client(ref.owner);
    try {
      const h = await s3.send(new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
      return { key: ref.key, size: h.ContentLength ?? 0, etag: h.ETag ?? '', lastModified: h.LastModified ?? new Date(0) };
    } catch (e) {
      if (statusOf(e) === 404 && nameOf(e) !== 'NoSuchBucket') return undefined;
      throw toBlobError(e);
    }
  }

  async read(ref: ObjectRef, options: { signal?: AbortSignal } = {}): Promise<Readable> {
    const s3 = await this.#client(ref.owner);
    try {
      const res = await s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }), { abortSignal: options.signal });
      return res.Body instanceof Readable ? res.Body : Readable.from([]);
    } catch (e) {
      throw toBlobError(e);
    }
  }

  async write(ref: ObjectRef, body: Readable | Buffer, options: BlobWriteOptions = {}): Promise<BlobInfo> {
    const s3 = await this.#client(ref.owner);
    const upload = new Upload({
      client: s3,
      params: { Bucket: ref.bucket, Key: ref.key, Body: body, ContentType: options.contentType ?? 'application/octet-stream', Metadata: { ...options.metadata } },
      partSize: this.#options.partSize ?? 8 * 1024 * 1024,
      queueSize: 4,
    });
    const onAbort = (): void => void upload.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await upload.done();
    } catch (e) {
      throw toBlobError(e);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    // Some servers leave the ETag out of CompleteMultipartUpload's answer: HEAD gives the authoritative one.
    const info = await this.head(ref);
    if (!info) throw new BlobStoreError('Unavailable', `object ${ref.key} vanished right after upload`);
    return info;
  }

  async writeFile(ref: ObjectRef, file: string, options: BlobWriteOptions = {}): Promise<BlobInfo> {
    return this.write(ref, createReadStream(file, { highWaterMark: 1 << 20 }), options);
  }

  async delete(ref: ObjectRef): Promise<void> {
    const s3 = await this.#client(ref.owner);
    try {
      await s3.send(new DeleteObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
    } catch (e) {
      throw toBlobError(e);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.#clients.values()) (await c.catch(() => undefined))?.destroy();
    this.#clients.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function nameOf(e: unknown): string {
  return (e as { name?: string }).name ?? '';
}

function statusOf(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

function toBlobError(e: unknown): unknown {
  const name = nameOf(e);
  const status = statusOf(e);
  if (status === undefined) return e;
  const code: BlobStoreErrorCode =
    name === 'NoSuchBucket' || name === 'NoSuchKey' || name === 'AccessDenied' || name === 'BucketAlreadyExists' || name === 'QuotaExceeded'
      ? name
      : name === 'InvalidBucketName' || name === 'KeyTooLongError' || name === 'InvalidArgument'
        ? 'InvalidArgument'
        : status === 404
          ? 'NoSuchKey'
          : status === 403
            ? 'AccessDenied'
            : 'Unavailable';
  return new BlobStoreError(code, (e as Error).message || name, { cause: e });
}
