import type { Readable } from 'node:stream';

/**
 * How the server's own pieces (runner, scheduler) read resources and write results, with no HTTP hop when the
 * storage is the embedded gateway. Buckets belong to an owner: the user's email, which is also their S3 access key.
 */
export interface BucketRef {
  /** The owning user's email (their S3 access key). */
  readonly owner: string;
  readonly bucket: string;
}

export interface ObjectRef extends BucketRef {
  readonly key: string;
}

export interface BlobInfo {
  readonly key: string;
  readonly size: number;
  /** AWS-style ETag, quotes included (`"md5"` or `"md5-N"` for multipart uploads). */
  readonly etag: string;
  readonly lastModified: Date;
}

export interface BlobListOptions {
  /** Only keys starting with this prefix. @default '' */
  readonly prefix?: string;
  readonly signal?: AbortSignal;
}

export interface BlobWriteOptions {
  /** @default 'application/octet-stream' */
  readonly contentType?: string;
  /** User metadata (`x-amz-meta-*`), names without the prefix. @default {} */
  readonly metadata?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
}

export interface BlobStore {
  /** True when the owner has this bucket; rejects with `AccessDenied` when another user owns it. */
  bucketExists(ref: BucketRef): Promise<boolean>;
  /** Creates the bucket; succeeds when the owner already has it. */
  createBucket(ref: BucketRef): Promise<void>;
  /** Lists objects in key order, lazily page by page. */
  list(ref: BucketRef, options?: BlobListOptions): AsyncIterable<BlobInfo>;
  head(ref: ObjectRef): Promise<BlobInfo | undefined>;
  /** Opens an object for reading; rejects with a `NoSuchKey`/`NoSuchBucket` {@link BlobStoreError} when missing. */
  read(ref: ObjectRef, options?: { signal?: AbortSignal }): Promise<Readable>;
  /** Writes an object atomically: it becomes visible only once complete. */
  write(ref: ObjectRef, body: Readable | Buffer, options?: BlobWriteOptions): Promise<BlobInfo>;
  /** Writes a local file (streamed; multipart where the backend needs it). */
  writeFile(ref: ObjectRef, path: string, options?: BlobWriteOptions): Promise<BlobInfo>;
  delete(ref: ObjectRef): Promise<void>;
  close(): Promise<void>;
}

export type BlobStoreErrorCode =
  | 'NoSuchBucket'
  | 'NoSuchKey'
  | 'AccessDenied'
  | 'BucketAlreadyExists'
  | 'InvalidArgument'
  | 'QuotaExceeded'
  | 'Unavailable';

/** Structural guard, so the check survives two copies of this package. */
export function isBlobStoreError(e: unknown, code?: BlobStoreErrorCode): e is BlobStoreError {
  return e instanceof Error && e.name === 'BlobStoreError' && (code === undefined || (e as BlobStoreError).code === code);
}

export class BlobStoreError extends Error {
  override readonly name = 'BlobStoreError';
  constructor(
    readonly code: BlobStoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
