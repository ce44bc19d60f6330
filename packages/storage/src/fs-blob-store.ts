import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { BlobInfo, BlobListOptions, BlobStore, BlobStoreErrorCode, BlobWriteOptions, BucketRef, ObjectRef } from './blob-store.js';
import { BlobStoreError } from './blob-store.js';
import type { FsBackend, ObjectMeta } from './internal/fs-backend.js';
import { acquireBackend, releaseBackend } from './internal/fs-backend.js';
import { isS3Error } from './internal/s3-error.js';

export interface FsBlobStoreOptions {
  /**
   * Bytes each owner may store in total; writes beyond it reject with `QuotaExceeded`.
   * @default unlimited
   */
  readonly maxBytes?: (owner: string) => Promise<number | undefined>;
}

/**
 * A {@link BlobStore} straight on the embedded gateway's data directory: what the local executor's runner uses, with
 * no HTTP hop. Objects written here are served by the gateway (same files, same ETags) and the other way round.
 *
 * @example
 * ```ts
 * const store = new FsBlobStore('.hearth/storage');
 * await store.createBucket({ owner: 'me@example.com', bucket: 'inputs' });
 * await store.write({ owner: 'me@example.com', bucket: 'inputs', key: 'a.txt' }, Buffer.from('hi'));
 * ```
 */
export class FsBlobStore implements BlobStore {
  readonly #backend: FsBackend;
  readonly #maxBytes: FsBlobStoreOptions['maxBytes'];
  #closed = false;

  constructor(dataDir: string, options: FsBlobStoreOptions = {}) {
    this.#backend = acquireBackend(dataDir);
    this.#maxBytes = options.maxBytes;
  }

  /** The data directory, resolved. */
  get dataDir(): string {
    return this.#backend.dataDir;
  }

  async bucketExists(ref: BucketRef): Promise<boolean> {
    return wrap(async () => {
      const rec = await this.#backend.bucket(ref.bucket);
      if (!rec) return false;
      if (rec.owner !== ref.owner) throw new BlobStoreError('AccessDenied', `bucket ${ref.bucket} belongs to another user`);
      return true;
    });
  }

  async createBucket(ref: BucketRef): Promise<void> {
    await wrap(() => this.#backend.createBucket(ref.owner, ref.bucket));
  }

  async *list(ref: BucketRef, options: BlobListOptions = {}): AsyncIterable<BlobInfo> {
    const prefix = options.prefix ?? '';
    let startAfter = '';
    for (;;) {
      options.signal?.throwIfAborted();
      const page = await wrap(async () => {
        await this.#backend.requireBucket(ref.owner, ref.bucket);
        const idx = await this.#backend.index(ref.bucket);
        return idx.listPage({ prefix, delimiter: '', startAfter, maxKeys: 1000 });
      });
      for (const [key, e] of page.contents) yield { key, size: e.size, etag: e.etag, lastModified: new Date(e.lastModified) };
      if (!page.isTruncated || page.nextMarker === undefined) return;
      startAfter = page.nextMarker;
    }
  }

  async head(ref: ObjectRef): Promise<BlobInfo | undefined> {
    try {
      return infoOf(await this.#backend.headObject(ref.owner, ref.bucket, ref.key));
    } catch (e) {
      if (isS3Error(e) && e.code === 'NoSuchKey') return undefined;
      throw toBlobError(e);
    }
  }

  async read(ref: ObjectRef, options: { signal?: AbortSignal } = {}): Promise<Readable> {
    options.signal?.throwIfAborted();
    const obj = await wrap(() => this.#backend.openObject(ref.owner, ref.bucket, ref.key));
    if (obj.meta.size === 0) {
      await obj.close();
      return Readable.from([]);
    }
    return obj.stream(0, obj.meta.size - 1, { signal: options.signal });
  }

  async write(ref: ObjectRef, body: Readable | Buffer, options: BlobWriteOptions = {}): Promise<BlobInfo> {
    const source: AsyncIterable<Buffer> | Buffer[] = Buffer.isBuffer(body) ? [body] : (body as AsyncIterable<Buffer>);
    return wrap(async () => {
      const maxBytes = await this.#remaining(ref.owner);
      const meta = await this.#backend.putObject(ref, source, {
        contentType: options.contentType ?? 'application/octet-stream',
        userMeta: { ...options.metadata },
        maxBytes,
        signal: options.signal,
      });
      return infoOf(meta);
    });
  }

  async writeFile(ref: ObjectRef, file: string, options: BlobWriteOptions = {}): Promise<BlobInfo> {
    return this.write(ref, createReadStream(file, { highWaterMark: 1 << 20 }), options);
  }

  async delete(ref: ObjectRef): Promise<void> {
    await wrap(() => this.#backend.deleteObject(ref.owner, ref.bucket, ref.key));
  }

  async #remaining(owner: string): Promise<number | undefined> {
    const max = await this.#maxBytes?.(owner);
    if (max === undefined) return undefined;
    const { bytes } = await this.#backend.usage(owner);
    return Math.max(0, max - bytes);
  }

  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      await releaseBackend(this.#backend);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function infoOf(meta: ObjectMeta): BlobInfo {
  return { key: meta.key, size: meta.size, etag: meta.etag, lastModified: new Date(meta.lastModified) };
}

async function wrap<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toBlobError(e);
  }
}

function toBlobError(e: unknown): unknown {
  if (!isS3Error(e)) return e;
  const code: BlobStoreErrorCode =
    e.code === 'NoSuchBucket' || e.code === 'NoSuchKey' || e.code === 'AccessDenied' || e.code === 'BucketAlreadyExists' || e.code === 'QuotaExceeded'
      ? e.code
      : e.code === 'InvalidBucketName' || e.code === 'InvalidArgument' || e.code === 'KeyTooLongError'
        ? 'InvalidArgument'
        : 'Unavailable';
  return new BlobStoreError(code, e.message, { cause: e });
}
