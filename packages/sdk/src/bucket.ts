import { createReadStream } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { AdvancedBucketJson } from '@hearth/core';
import type { Connection } from './connection.js';
import { InvalidArgumentError } from './errors.js';
import { mapConcurrent, throwIfAborted } from './internal/abort.js';
import { downloadAtomically } from './internal/download.js';
import { PART_SIZE, bufferEtag, fileEtag, unquoteEtag } from './internal/etag.js';
import { ProgressBar, type TransferProgress } from './internal/progress.js';
import { mapS3Error, type S3Context } from './internal/s3.js';

export type { TransferProgress };

/** One object of a bucket. */
export interface BucketObject {
  /** Object key. */
  readonly key: string;
  /** Size in bytes. */
  readonly size: number;
  /** ETag without quotes (`md5`, or `md5-N` for multipart uploads). */
  readonly etag: string;
  /** Last modification date. */
  readonly lastModified: Date | undefined;
}

/** `{ signal }`, taken by everything that talks to the storage. */
export interface SignalOptions {
  /** Cancels the operation; it then rejects with an `AbortError`. */
  readonly signal?: AbortSignal | undefined;
}

/** Options of downloads of many files. */
export interface DownloadOptions extends SignalOptions {
  /**
   * `true` draws a progress bar on a TTY; a function receives `(read, total, filename)`.
   * @default undefined (no progress)
   */
  readonly progress?: boolean | TransferProgress | undefined;
  /** Parallel transfers. @default 16 */
  readonly concurrency?: number;
}

/** Options of {@link Bucket.syncDirectory} and {@link Bucket.syncFiles}. */
export interface SyncOptions extends SignalOptions {
  /** Remote folder the local files map to. @default '' (bucket root) */
  readonly remote?: string;
  /** Parallel transfers. @default 8 */
  readonly concurrency?: number;
}

/** What a sync did. */
export interface SyncReport {
  readonly uploaded: string[];
  readonly copied: string[];
  readonly deleted: string[];
  readonly unchanged: number;
}

/** Options of the {@link Bucket} constructor: the advanced-bucket settings a task or pool applies (reference §2.3.1). */
export interface BucketOptions {
  /** Only objects whose key starts with this prefix become resources (`prefixFiltering`). @default undefined */
  readonly prefixFiltering?: string | undefined;
  /** Strip this prefix from the paths instances see (`stripPrefix`). @default undefined */
  readonly stripPrefix?: string | undefined;
  /** How long compute nodes may cache this bucket's files, seconds (`cacheTTLSec`). @default undefined */
  readonly cacheTtlSec?: number | undefined;
  /**
   * Clean remote paths as the Python SDK does: collapse `//` and `\\`, strip a leading separator and surrounding
   * whitespace. @default the connection's `sanitizeBucketPaths` (true)
   */
  readonly sanitizePaths?: boolean;
}

/**
 * A storage bucket (Python: `qarnot.bucket.Bucket`, with the advanced-bucket builders of `qarnot.advanced_bucket`).
 * Its identity is its S3 name. The constructor does no I/O: `await bucket.create()` or
 * `await connection.createBucket(name)` creates it on the storage.
 *
 * The AWS SDK is loaded on the first storage call, not when the SDK is imported.
 */
export class Bucket {
  /** The bucket's S3 name. */
  readonly name: string;
  /** Prefix filtering applied when used as a task or pool resource. */
  readonly prefixFiltering: string | undefined;
  /** Prefix stripped from the paths instances see. */
  readonly stripPrefix: string | undefined;
  /** Cache TTL on compute nodes, seconds. */
  readonly cacheTtlSec: number | undefined;
  private readonly connection: Connection;
  private readonly sanitize: boolean;

  constructor(connection: Connection, name: string, options: BucketOptions = {}) {
    if (typeof name !== 'string' || name.trim() === '') throw new InvalidArgumentError('name', 'a bucket name must not be empty');
    this.connection = connection;
    this.name = name;
    this.sanitize = options.sanitizePaths ?? connection.sanitizeBucketPaths;
    this.prefixFiltering = options.prefixFiltering === undefined ? undefined : this.clean(options.prefixFiltering);
    this.stripPrefix = options.stripPrefix === undefined ? undefined : this.clean(options.stripPrefix);
    if (options.cacheTtlSec !== undefined && !(Number.isInteger(options.cacheTtlSec) && options.cacheTtlSec >= 0)) {
      throw new InvalidArgumentError('cacheTtlSec', 'must be a non-negative integer number of seconds');
    }
    this.cacheTtlSec = options.cacheTtlSec;
  }

  /** Same as `uuid` in the Python SDK: the bucket's name. */
  get uuid(): string {
    return this.name;
  }

  /** A copy that only exposes objects under `prefix` as resources (Python: `with_filtering(BucketPrefixFiltering(p))`). */
  withPrefixFiltering(prefix: string): Bucket {
    return this.copyWith({ prefixFiltering: prefix });
  }
  /** A copy whose resources appear with `prefix` stripped (Python: `with_resource_transformation(PrefixResourcesTransformation(p))`). */
  withStripPrefix(prefix: string): Bucket {
    return this.copyWith({ stripPrefix: prefix });
  }
  /** A copy with a node cache TTL, seconds (Python: `with_cache_ttl`). */
  withCacheTtl(seconds: number): Bucket {
    return this.copyWith({ cacheTtlSec: seconds });
  }

  /** The advanced-bucket JSON sent in `advancedResourceBuckets`. */
  toJson(): AdvancedBucketJson {
    return {
      bucketName: this.name,
      filtering: this.prefixFiltering === undefined ? {} : { prefixFiltering: { prefix: this.prefixFiltering } },
      resourcesTransformation: this.stripPrefix === undefined ? {} : { stripPrefix: { prefix: this.stripPrefix } },
      cacheTTLSec: this.cacheTtlSec ?? null,
    };
  }

  /** Reads an advanced-bucket JSON (no I/O). */
  static fromJson(connection: Connection, json: Partial<AdvancedBucketJson>): Bucket {
    return new Bucket(connection, json.bucketName ?? '', {
      prefixFiltering: json.filtering?.prefixFiltering?.prefix ?? undefined,
      stripPrefix: json.resourcesTransformation?.stripPrefix?.prefix ?? undefined,
      cacheTtlSec: json.cacheTTLSec ?? undefined,
    });
  }

  /** Creates the bucket on the storage; succeeds when it already exists and is yours. */
  async create(options: SignalOptions = {}): Promise<this> {
    const { client, s3 } = await this.s3();
    try {
      await client.send(new s3.CreateBucketCommand({ Bucket: this.name }), { abortSignal: options.signal });
    } catch (e) {
      const name = (e as { name?: string }).name;
      if (name !== 'BucketAlreadyOwnedByYou') throw mapS3Error(e, this.name, options.signal);
    }
    return this;
  }

  /** True when the bucket exists (HeadBucket). */
  async exists(options: SignalOptions = {}): Promise<boolean> {
    const { client, s3 } = await this.s3();
    try {
      await client.send(new s3.HeadBucketCommand({ Bucket: this.name }), { abortSignal: options.signal });
      return true;
    } catch (e) {
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 || (e as { name?: string }).name === 'NotFound') return false;
      throw mapS3Error(e, this.name, options.signal);
    }
  }

  /**
   * Lists objects, fetching pages lazily (every page, not only the first).
   * @example
   * ```ts
   * for await (const o of bucket.listFiles()) console.log(o.key, o.size);
   * ```
   */
  async *listFiles(options: SignalOptions & { prefix?: string } = {}): AsyncGenerator<BucketObject> {
    const { client, s3 } = await this.s3();
    const prefix = options.prefix === undefined ? undefined : this.clean(options.prefix);
    let token: string | undefined;
    do {
      throwIfAborted(options.signal);
      let page;
      try {
        page = await client.send(
          new s3.ListObjectsV2Command({ Bucket: this.name, Prefix: prefix || undefined, ContinuationToken: token }),
          { abortSignal: options.signal },
        );
      } catch (e) {
        throw mapS3Error(e, this.name, options.signal);
      }
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue;
        yield { key: o.Key, size: o.Size ?? 0, etag: unquoteEtag(o.ETag), lastModified: o.LastModified };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** The objects under a folder (Python: `directory(prefix)`). */
  directory(prefix: string, options: SignalOptions = {}): AsyncGenerator<BucketObject> {
    return this.listFiles({ ...options, prefix });
  }

  /** Uploads a local file; multipart (8 MiB parts) at 8 MiB and above. Returns the remote key. */
  async addFile(localPath: string, remote?: string, options: SignalOptions = {}): Promise<string> {
    const key = this.clean(remote ?? path.basename(localPath));
    const { client, s3 } = await this.s3();
    const size = (await stat(localPath)).size;
    try {
      if (size < PART_SIZE) {
        await client.send(
          new s3.PutObjectCommand({ Bucket: this.name, Key: key, Body: createReadStream(localPath), ContentLength: size }),
          { abortSignal: options.signal },
        );
      } else {
        const { Upload } = await import('@aws-sdk/lib-storage');
        const upload = new Upload({
          client,
          params: { Bucket: this.name, Key: key, Body: createReadStream(localPath) },
          partSize: PART_SIZE,
          queueSize: 4,
          leavePartsOnError: false,
        });
        const onAbort = (): void => void upload.abort();
        options.signal?.addEventListener('abort', onAbort, { once: true });
        try {
          await upload.done();
        } finally {
          options.signal?.removeEventListener('abort', onAbort);
        }
      }
    } catch (e) {
      throw mapS3Error(e, this.name, options.signal);
    }
    return key;
  }

  /** Uploads a string (UTF-8) as an object. */
  async addString(content: string, remote: string, options: SignalOptions = {}): Promise<string> {
    const key = this.clean(remote);
    const { client, s3 } = await this.s3();
    try {
      await client.send(new s3.PutObjectCommand({ Bucket: this.name, Key: key, Body: Buffer.from(content, 'utf8') }), {
        abortSignal: options.signal,
      });
    } catch (e) {
      throw mapS3Error(e, this.name, options.signal);
    }
    return key;
  }

  /** Uploads every file under a local directory, keeping relative paths under `remote`. Returns the keys. */
  async addDirectory(localDir: string, remote = '', options: SignalOptions & { concurrency?: number } = {}): Promise<string[]> {
    const files = await walk(localDir);
    const keys: string[] = [];
    await mapConcurrent(files, options.concurrency ?? 8, async (rel) => {
      keys.push(await this.addFile(path.join(localDir, rel), joinKey(remote, rel), options));
    });
    return keys.sort();
  }

  /**
   * Downloads one object to `localPath` (default: its key's base name in the current directory), atomically.
   * Returns the local path.
   */
  async getFile(remote: string, localPath?: string, options: SignalOptions & { progress?: TransferProgress } = {}): Promise<string> {
    const key = this.clean(remote);
    const dest = localPath ?? path.basename(key);
    const ctx = await this.s3();
    let done = 0;
    await this.download(ctx, key, {
      dest,
      signal: options.signal,
      onBytes: (n) => {
        done += n;
        options.progress?.(done, done, key);
      },
    });
    return dest;
  }

  /** Reads one object as a UTF-8 string. */
  async getString(remote: string, options: SignalOptions = {}): Promise<string> {
    const { client, s3 } = await this.s3();
    try {
      const res = await client.send(new s3.GetObjectCommand({ Bucket: this.name, Key: this.clean(remote) }), {
        abortSignal: options.signal,
      });
      return (await res.Body?.transformToString('utf8')) ?? '';
    } catch (e) {
      throw mapS3Error(e, this.name, options.signal);
    }
  }

  /**
   * Downloads every object (or those under `prefix`) into `outputDir`, in parallel, each file written atomically.
   * Keys ending in `/` become directories. Returns the local paths written.
   */
  async getAllFiles(outputDir: string, options: DownloadOptions & { prefix?: string } = {}): Promise<string[]> {
    const objects: BucketObject[] = [];
    for await (const o of this.listFiles({ signal: options.signal, ...(options.prefix ? { prefix: options.prefix } : {}) })) objects.push(o);
    const root = path.resolve(outputDir);
    await mkdir(root, { recursive: true });
    const total = objects.reduce((n, o) => n + o.size, 0);
    let read = 0;
    const bar = options.progress === true ? new ProgressBar('results') : undefined;
    const report: TransferProgress | undefined =
      typeof options.progress === 'function' ? options.progress : bar?.asTransferProgress();
    const ctx = await this.s3();
    const written: string[] = [];
    try {
      await mapConcurrent(objects, options.concurrency ?? 16, async (o) => {
        const dest = safeJoin(root, o.key);
        if (o.key.endsWith('/')) {
          await mkdir(dest, { recursive: true });
          return;
        }
        await this.download(ctx, o.key, {
          dest,
          signal: options.signal,
          onBytes: (n) => {
            read += n;
            report?.(read, total, o.key);
          },
        });
        written.push(dest);
      });
    } finally {
      bar?.done();
    }
    return written.sort();
  }

  /** Server-side copy of an object within the bucket. */
  async copyFile(source: string, destination: string, options: SignalOptions = {}): Promise<void> {
    const { client, s3 } = await this.s3();
    const src = this.clean(source);
    try {
      await client.send(
        new s3.CopyObjectCommand({
          Bucket: this.name,
          Key: this.clean(destination),
          CopySource: `${this.name}/${src.split('/').map(encodeURIComponent).join('/')}`,
        }),
        { abortSignal: options.signal },
      );
    } catch (e) {
      throw mapS3Error(e, this.name, options.signal);
    }
  }

  /** Deletes one object. */
  async deleteFile(remote: string, options: SignalOptions = {}): Promise<void> {
    const { client, s3 } = await this.s3();
    try {
      await client.send(new s3.DeleteObjectCommand({ Bucket: this.name, Key: this.clean(remote) }), { abortSignal: options.signal });
    } catch (e) {
      throw mapS3Error(e, this.name, options.signal);
    }
  }

  /** Deletes every object, then the bucket. */
  async delete(options: SignalOptions = {}): Promise<void> {
    const { client, s3 } = await this.s3();
    const keys: string[] = [];
    for await (const o of this.listFiles(options)) keys.push(o.key);
    try {
      for (let i = 0; i < keys.length; i += 1000) {
        const batch = keys.slice(i, i + 1000);
        await client.send(
          new s3.DeleteObjectsCommand({ Bucket: this.name, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
          { abortSignal: options.signal },
        );
      }
      await client.send(new s3.DeleteBucketCommand({ Bucket: this.name }), { abortSignal: options.signal });
    } catch (e) {
      throw mapS3Error(e, this.name, options.signal);
    }
  }

  /**
   * Makes the remote folder mirror a local directory, comparing `(key, ETag)` — AWS multipart ETags included, so
   * unchanged files are never uploaded again. Renamed files are copied server-side, remote files absent locally
   * are deleted.
   */
  async syncDirectory(localDir: string, options: SyncOptions = {}): Promise<SyncReport> {
    const files: Record<string, string> = {};
    for (const rel of await walk(localDir)) files[rel] = path.join(localDir, rel);
    return this.syncFiles(files, options);
  }

  /**
   * Makes the remote folder hold exactly `files` (remote relative path → local path); see {@link syncDirectory}.
   */
  async syncFiles(files: Readonly<Record<string, string>>, options: SyncOptions = {}): Promise<SyncReport> {
    const remoteRoot = options.remote ?? '';
    const local = new Map<string, { file: string; etag: string }>();
    await mapConcurrent(Object.entries(files), 4, async ([rel, file]) => {
      local.set(this.clean(joinKey(remoteRoot, rel)), { file, etag: await fileEtag(file) });
    });
    const remote = new Map<string, string>();
    const prefix = this.clean(remoteRoot);
    for await (const o of this.listFiles({ signal: options.signal, ...(prefix ? { prefix } : {}) })) remote.set(o.key, o.etag);
    const byEtag = new Map<string, string>();
    for (const [key, etag] of remote) if (!byEtag.has(etag)) byEtag.set(etag, key);

    const toCopy: [string, string][] = [];
    const toUpload: [string, string][] = [];
    let unchanged = 0;
    for (const [key, { file, etag }] of local) {
      if (remote.get(key) === etag) unchanged++;
      else if (byEtag.has(etag)) toCopy.push([byEtag.get(etag) as string, key]);
      else toUpload.push([key, file]);
    }
    const toDelete = [...remote.keys()].filter((k) => !local.has(k));
    const concurrency = options.concurrency ?? 8;
    // Copies first: their sources may be among the files deleted at the end.
    await mapConcurrent(toCopy, concurrency, ([from, to]) => this.copyFile(from, to, options));
    await mapConcurrent(toUpload, concurrency, async ([key, file]) => {
      await this.addFile(file, key, options);
    });
    await mapConcurrent(toDelete, concurrency, (key) => this.deleteFile(key, options));
    return {
      uploaded: toUpload.map(([k]) => k).sort(),
      copied: toCopy.map(([, k]) => k).sort(),
      deleted: toDelete.sort(),
      unchanged,
    };
  }

  /** Local ETag of a string, to compare with {@link BucketObject.etag}. */
  static etagOf(content: string | Buffer): string {
    return bufferEtag(content);
  }

  private async download(
    ctx: S3Context,
    key: string,
    options: { dest: string; signal: AbortSignal | undefined; onBytes: (n: number) => void },
  ): Promise<void> {
    const { client, s3, getter } = ctx;
    const { dest, signal, onBytes } = options;
    try {
      await downloadAtomically(
        dest,
        async (offset, ifMatch) => {
          if (getter) return getter.open(this.name, key, { offset, ifMatch, signal });
          const res = await client.send(
            new s3.GetObjectCommand({
              Bucket: this.name,
              Key: key,
              ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}),
              ...(ifMatch ? { IfMatch: ifMatch } : {}),
            }),
            { abortSignal: signal },
          );
          return { body: res.Body as Readable, etag: res.ETag };
        },
        { signal, onBytes },
      );
    } catch (e) {
      throw mapS3Error(e, this.name, signal);
    }
  }

  private s3(): Promise<S3Context> {
    return this.connection.storage();
  }

  private clean(p: string): string {
    return this.sanitize ? sanitizeBucketPath(p) : p;
  }

  private copyWith(changes: BucketOptions): Bucket {
    return new Bucket(this.connection, this.name, {
      prefixFiltering: this.prefixFiltering,
      stripPrefix: this.stripPrefix,
      cacheTtlSec: this.cacheTtlSec,
      sanitizePaths: this.sanitize,
      ...changes,
    });
  }
}

/** The Python SDK's path cleaning: collapses `//` and `\\`, strips a leading separator and surrounding whitespace. */
export function sanitizeBucketPath(p: string): string {
  return p.trim().replace(/\/{2,}/g, '/').replace(/\\{2,}/g, '\\').replace(/^[/\\]+/, '');
}

function joinKey(root: string, rel: string): string {
  const r = rel.split(path.sep).join('/');
  return root === '' ? r : `${root.replace(/\/+$/, '')}/${r}`;
}

/** Joins a key under `root`, refusing keys that would escape it (`../`). */
function safeJoin(root: string, key: string): string {
  const dest = path.resolve(root, key);
  if (dest !== root && !dest.startsWith(root + path.sep)) {
    throw new InvalidArgumentError('key', `object key '${key}' would be written outside ${root}`);
  }
  return dest;
}

/** Relative paths of the files under `dir`, sorted. */
async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (rel: string): Promise<void> => {
    for (const entry of await readdir(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel === '' ? entry.name : path.join(rel, entry.name);
      if (entry.isDirectory()) await visit(r);
      else if (entry.isFile()) out.push(r);
    }
  };
  await visit('');
  return out.sort();
}
