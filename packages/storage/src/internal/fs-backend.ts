import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { addAbortSignal, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ObjectRef } from '../blob-store.js';
import type { IndexEntry } from './key-index.js';
import { KeyIndex } from './key-index.js';
import { assertBucketName, assertKey, isValidBucketName } from './names.js';
import type { ObjectMeta } from './object-file.js';
import { finishTemp, md5Etag, readFooter, readObjectHead, writeTemp } from './object-file.js';
import { DIRECT_READ_MIN, readSlots, sendDirect } from './direct-io.js';
import { DirSync } from './dir-sync.js';
import { InlineStore } from './inline-store.js';
import { S3Error } from './s3-error.js';

/**
 * The on-disk store shared by the S3 gateway and {@link FsBlobStore}:
 *
 * ```
 * <dataDir>/buckets/<bucket>/bucket.json              { owner, created }
 * <dataDir>/buckets/<bucket>/objects/<hh>/<sha256(key)> data + JSON footer (see object-file.ts)
 * <dataDir>/multipart/<uploadId>/upload.json          the pending upload
 * <dataDir>/multipart/<uploadId>/<00001..10000>       parts, in the object-file format
 * <dataDir>/tmp/                                      temp files, renamed into place when complete
 * <dataDir>/small.db (+ -wal, -shm)                    objects up to `inlineMax` bytes, body and metadata in a row
 * ```
 *
 * An object is either a row of small.db or a file, never both for long: a small PUT over a file object commits the row,
 * syncs it, then unlinks the file; a large PUT over a row renames its file into place, syncs the directory, then
 * deletes the row. Were a crash to leave both, the row wins (reads look there first) and loading the bucket's index
 * removes the file.
 *
 * Bucket names are validated before they touch a path, object files are named by a hash and upload ids are checked
 * hex, so no request data ever becomes a path component as written.
 */
export interface BucketRecord {
  readonly owner: string;
  readonly created: number;
}

export interface UploadRecord {
  readonly uploadId: string;
  readonly bucket: string;
  readonly key: string;
  readonly owner: string;
  readonly initiated: number;
  readonly contentType: string;
  readonly userMeta: Record<string, string>;
  readonly headers: Record<string, string>;
}

export interface PartInfo {
  readonly partNumber: number;
  readonly etag: string;
  readonly size: number;
  readonly lastModified: number;
}

export interface PutOptions {
  readonly contentType?: string | undefined;
  readonly userMeta?: Record<string, string> | undefined;
  readonly headers?: Record<string, string> | undefined;
  readonly checksums?: Record<string, string> | undefined;
  /** Bytes the owner may still write; more rejects with QuotaExceeded. */
  readonly maxBytes?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Keep this ETag instead of the data's MD5 (CopyObject keeps the source's, multipart `-N` included). */
  readonly etag?: string | undefined;
  readonly parts?: number | undefined;
}

/** One part of a pending multipart upload. */
export interface PartRef {
  readonly upload: UploadRecord;
  readonly partNumber: number;
}

/** An object opened for reading: a small one comes with its bytes; either streams its bytes from what was opened. */
export interface OpenObject {
  readonly meta: ObjectMeta;
  /** The whole body, when it was read together with the metadata (small objects). */
  readonly data: Buffer | undefined;
  /** Bytes `[start, end]` (inclusive); unless `autoClose: false`, the object is closed when the stream ends. */
  stream(start: number, end: number, options?: { autoClose?: boolean; signal?: AbortSignal | undefined }): Readable;
  /**
   * Writes bytes `[start, end]` to `dest` and ends it, then closes the object; rejects if `dest` fails. `dest` must be
   * done with each chunk when its write callback runs (a socket or an HTTP response): buffers are reused after it.
   */
  send(dest: Writable, start: number, end: number): Promise<void>;
  close(): Promise<void>;
}

type Body = AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>;

export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PARTS = 10_000;
/** Objects up to this size are stored inline in small.db. */
export const INLINE_MAX = 64 * 1024;
const UPLOAD_ID_RE = /^[0-9a-f]{32}$/;

export class FsBackend {
  readonly dataDir: string;
  readonly #bucketsDir: string;
  readonly #tmpDir: string;
  readonly #mpDir: string;
  /** Smallest part allowed before the last one (S3: 5 MiB); tests lower it. */
  minPartSize: number;
  /** Largest object stored inline in small.db (0: every object is a file); tests lower it. */
  readonly inlineMax: number;
  #inline: InlineStore | undefined;
  #ready: Promise<void> | undefined;
  readonly #buckets = new Map<string, BucketRecord>();
  readonly #indexes = new Map<string, Promise<KeyIndex>>();
  readonly #uploads = new Map<string, UploadRecord>();
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #dirs = new Set<string>();
  /** Group commit for directory fsyncs (renames into place, deletes, new directories). */
  readonly dirSync = new DirSync();

  /** Whether large objects are written and read with O_DIRECT (direct-io.ts) where the filesystem allows it. */
  readonly directIo: boolean;

  constructor(dataDir: string, options: { minPartSize?: number; inlineMax?: number; directIo?: boolean } = {}) {
    this.dataDir = path.resolve(dataDir);
    this.#bucketsDir = path.join(this.dataDir, 'buckets');
    this.#tmpDir = path.join(this.dataDir, 'tmp');
    this.#mpDir = path.join(this.dataDir, 'multipart');
    this.minPartSize = options.minPartSize ?? MIN_PART_SIZE;
    this.inlineMax = options.inlineMax ?? INLINE_MAX;
    this.directIo = options.directIo ?? true;
  }

  /** The small-object database (open once {@link ready} resolved). */
  get inline(): InlineStore {
    if (!this.#inline) throw new Error('storage backend not ready or closed');
    return this.#inline;
  }

  ready(): Promise<void> {
    this.#ready ??= this.#load();
    return this.#ready;
  }

  async #load(): Promise<void> {
    await Promise.all([this.#bucketsDir, this.#tmpDir, this.#mpDir].map((d) => mkdir(d, { recursive: true })));
    this.#inline = new InlineStore(this.dataDir);
    // small.db and its WAL must be durable names before any commit in them is acknowledged.
    await this.dirSync.sync(this.dataDir);
    for (const name of await readdir(this.#bucketsDir)) {
      if (!isValidBucketName(name)) continue;
      const rec = await this.#readBucketRecord(name);
      if (rec) this.#buckets.set(name, rec);
    }
    for (const id of await readdir(this.#mpDir)) {
      if (!UPLOAD_ID_RE.test(id)) continue;
      try {
        const rec = JSON.parse(await readFile(path.join(this.#mpDir, id, 'upload.json'), 'utf8')) as UploadRecord;
        this.#uploads.set(id, rec);
      } catch {
        // A half-created upload: the sweeper removes it.
      }
    }
  }

  async #readBucketRecord(name: string): Promise<BucketRecord | undefined> {
    try {
      return JSON.parse(await readFile(path.join(this.#bucketsDir, name, 'bucket.json'), 'utf8')) as BucketRecord;
    } catch {
      return undefined;
    }
  }

  /** Serialises the commit step per id, so the index always agrees with the last rename. */
  async #lock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(id) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.#locks.set(id, tail);
    try {
      return await run;
    } finally {
      if (this.#locks.get(id) === tail) this.#locks.delete(id);
    }
  }

  // ---- buckets ----

  async bucket(name: string): Promise<BucketRecord | undefined> {
    await this.ready();
    if (!isValidBucketName(name)) return undefined;
    const known = this.#buckets.get(name);
    if (known) return known;
    // Another process (e.g. `hearth user`, a runner with its own FsBlobStore) may have created it.
    const rec = await this.#readBucketRecord(name);
    if (rec) this.#buckets.set(name, rec);
    return rec;
  }

  /** Resolves when `owner` owns `name`; NoSuchBucket or AccessDenied otherwise. */
  async requireBucket(owner: string, name: string): Promise<BucketRecord> {
    const rec = await this.bucket(name);
    if (!rec) throw new S3Error('NoSuchBucket', 'The specified bucket does not exist.', { extra: { BucketName: name } });
    if (rec.owner !== owner) throw new S3Error('AccessDenied', 'Access Denied.', { extra: { BucketName: name } });
    return rec;
  }

  async listBuckets(owner: string): Promise<Array<{ name: string; created: number }>> {
    await this.ready();
    const out: Array<{ name: string; created: number }> = [];
    for (const [name, rec] of this.#buckets) if (rec.owner === owner) out.push({ name, created: rec.created });
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Creates a bucket; `'exists'` when the owner already has it (S3 in us-east-1 and Ceph answer 200 there). */
  async createBucket(owner: string, name: string, options: { maxBuckets?: number | undefined } = {}): Promise<'created' | 'exists'> {
    assertBucketName(name);
    await this.ready();
    return this.#lock(`bucket:${name}`, async () => {
      const rec = await this.bucket(name);
      if (rec) {
        if (rec.owner === owner) return 'exists';
        throw new S3Error('BucketAlreadyExists', 'The requested bucket name is not available.', { extra: { BucketName: name } });
      }
      if (options.maxBuckets !== undefined) {
        const count = [...this.#buckets.values()].filter((b) => b.owner === owner).length;
        if (count >= options.maxBuckets) throw new S3Error('TooManyBuckets', 'You have attempted to create more buckets than allowed.');
      }
      const dir = path.join(this.#bucketsDir, name);
      // Rows a PUT committed while an earlier bucket of this name was being deleted must not reappear in the new one.
      if (this.inline.deleteBucket(name) > 0) await this.inline.sync();
      await mkdir(path.join(dir, 'objects'), { recursive: true });
      const created: BucketRecord = { owner, created: Date.now() };
      const tmp = path.join(this.#tmpDir, `${randomUUID()}.bucket`);
      await writeFile(tmp, JSON.stringify(created), { flush: true });
      await rename(tmp, path.join(dir, 'bucket.json'));
      await Promise.all([this.dirSync.sync(dir), this.dirSync.sync(this.#bucketsDir)]);
      this.#buckets.set(name, created);
      return 'created';
    });
  }

  async deleteBucket(owner: string, name: string): Promise<void> {
    await this.requireBucket(owner, name);
    await this.#lock(`bucket:${name}`, async () => {
      const idx = await this.index(name);
      if (idx.size > 0) throw new S3Error('BucketNotEmpty', 'The bucket you tried to delete is not empty.', { extra: { BucketName: name } });
      const trash = path.join(this.#tmpDir, `${randomUUID()}.trash`);
      // Removing bucket.json first makes the bucket vanish in one step for other processes too.
      await rm(path.join(this.#bucketsDir, name, 'bucket.json'), { force: true });
      await rename(path.join(this.#bucketsDir, name), trash);
      this.#buckets.delete(name);
      this.#indexes.delete(name);
      this.inline.deleteBucket(name);
      for (const [id, up] of this.#uploads) if (up.bucket === name) await this.#dropUpload(id);
      for (const d of this.#dirs) if (d.startsWith(path.join(this.#bucketsDir, name) + path.sep)) this.#dirs.delete(d);
      await rm(trash, { recursive: true, force: true });
    });
  }

  // ---- object index ----

  /** The bucket's key index, loaded from disk on first use. */
  index(bucket: string): Promise<KeyIndex> {
    let p = this.#indexes.get(bucket);
    if (!p) {
      p = this.#loadIndex(bucket);
      this.#indexes.set(bucket, p);
      p.catch(() => this.#indexes.delete(bucket));
    }
    return p;
  }

  async #loadIndex(bucket: string): Promise<KeyIndex> {
    await this.ready();
    const root = path.join(this.#bucketsDir, bucket, 'objects');
    let shards: string[] = [];
    try {
      shards = await readdir(root);
    } catch {
      return KeyIndex.from(this.inline.entries(bucket));
    }
    const files: string[] = [];
    for (const s of shards) {
      for (const f of await readdir(path.join(root, s)).catch(() => [] as string[])) files.push(path.join(root, s, f));
    }
    const entries: Array<[string, IndexEntry]> = [];
    const shadowed: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < files.length) {
        const f = files[next++] as string;
        const meta = await readMetaAt(f).catch(() => undefined);
        if (!meta) continue;
        // A file beside a row of the same key was left by a crash mid-replacement: the row is the object.
        if (this.inline.has(bucket, meta.key)) shadowed.push(f);
        else entries.push([meta.key, { size: meta.size, etag: meta.etag, lastModified: meta.lastModified }]);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    for (const f of shadowed) await rm(f, { force: true });
    return KeyIndex.from([...entries, ...this.inline.entries(bucket)]);
  }

  #objectPath(bucket: string, key: string): string {
    const h = createHash('sha256').update(key).digest('hex');
    return path.join(this.#bucketsDir, bucket, 'objects', h.slice(0, 2), h);
  }

  async #ensureDir(dir: string): Promise<void> {
    if (this.#dirs.has(dir)) return;
    // A shard directory made now must itself survive a crash before anything renamed into it can.
    if ((await mkdir(dir, { recursive: true })) !== undefined) await this.dirSync.sync(path.dirname(dir));
    this.#dirs.add(dir);
  }

  // ---- objects ----

  async headObject(owner: string, bucket: string, key: string): Promise<ObjectMeta> {
    const obj = await this.openObject(owner, bucket, key);
    await obj.close();
    return obj.meta;
  }

  /**
   * Opens an object; what was opened stays readable even if the object is replaced or deleted meanwhile. A small
   * object comes with its bytes (`data`), read together with its metadata.
   */
  async openObject(owner: string, bucket: string, key: string): Promise<OpenObject> {
    await this.requireBucket(owner, bucket);
    assertKey(key);
    const row = this.inline.get(bucket, key);
    if (row) return memoryObject(row.meta, row.data);
    let fh: FileHandle;
    try {
      fh = await open(this.#objectPath(bucket, key), 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw noSuchKey(key);
      throw e;
    }
    try {
      const { meta, data } = await readObjectHead(fh);
      if (meta.key !== key) throw noSuchKey(key);
      return fileObject(fh, { meta, data }, this.directIo ? this.#tmpDir : undefined);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  async putObject({ owner, bucket, key }: ObjectRef, body: Body, options: PutOptions = {}): Promise<ObjectMeta> {
    await this.requireBucket(owner, bucket);
    assertKey(key);
    const temp = await writeTemp(this.#tmpDir, body, { maxBytes: options.maxBytes, signal: options.signal, inlineMax: this.inlineMax, direct: this.directIo, hash: options.etag === undefined });
    const meta: ObjectMeta = {
      key,
      size: temp.size,
      etag: options.etag ?? md5Etag(temp),
      lastModified: Date.now(),
      contentType: options.contentType ?? 'binary/octet-stream',
      userMeta: options.userMeta ?? {},
      headers: options.headers ?? {},
      ...(options.checksums && Object.keys(options.checksums).length ? { checksums: options.checksums } : {}),
      ...(options.parts ? { parts: options.parts } : {}),
    };
    if (temp.kind === 'inline') {
      await this.#commitInline(bucket, meta, temp.data);
      return meta;
    }
    await finishTemp(temp, meta);
    await this.#commit(bucket, temp.path, meta);
    return meta;
  }

  /** Commits a small object as a row of small.db; resolves once the row is on disk. */
  async #commitInline(bucket: string, meta: ObjectMeta, data: Buffer): Promise<void> {
    let synced = false;
    await this.#lock(`obj:${bucket}\0${meta.key}`, async () => {
      const idx = await this.index(bucket);
      if (!(await this.bucket(bucket))) throw new S3Error('NoSuchBucket', 'The specified bucket does not exist.', { extra: { BucketName: bucket } });
      const prev = idx.get(meta.key);
      await this.inline.put(bucket, meta, data);
      idx.set(meta.key, { size: meta.size, etag: meta.etag, lastModified: meta.lastModified, inline: true });
      if (prev && !prev.inline) {
        // It replaces a file: the row must be on disk before the file goes (else a crash could lose both), and the
        // key stays locked meanwhile so no newer file of the same key is renamed in and then unlinked here.
        await this.inline.sync();
        synced = true;
        await rm(this.#objectPath(bucket, meta.key), { force: true });
      }
    });
    // Outside the key lock: concurrent small PUTs share one WAL fdatasync (group commit).
    if (!synced) await this.inline.sync();
  }

  async #commit(bucket: string, tempPath: string, meta: ObjectMeta): Promise<void> {
    const dest = this.#objectPath(bucket, meta.key);
    try {
      await this.#lock(`obj:${bucket}\0${meta.key}`, async () => {
        const idx = await this.index(bucket);
        if (!(await this.bucket(bucket))) throw new S3Error('NoSuchBucket', 'The specified bucket does not exist.', { extra: { BucketName: bucket } });
        await this.#ensureDir(path.dirname(dest));
        await rename(tempPath, dest);
        if (this.inline.has(bucket, meta.key)) {
          // It replaces a row: the file's name must be on disk before the row goes (reads see the row until then).
          await this.dirSync.sync(path.dirname(dest));
          this.inline.delete(bucket, meta.key);
          await this.inline.sync();
        }
        idx.set(meta.key, { size: meta.size, etag: meta.etag, lastModified: meta.lastModified });
      });
    } catch (e) {
      await rm(tempPath, { force: true });
      throw e;
    }
    // Acknowledge only once the new directory entry is on disk (shared with concurrent commits into this shard).
    // Outside the key lock: a later writer of the same key only needs the rename order, which the lock gave.
    await this.dirSync.sync(path.dirname(dest));
  }

  async deleteObject(owner: string, bucket: string, key: string): Promise<void> {
    await this.requireBucket(owner, bucket);
    assertKey(key);
    const file = this.#objectPath(bucket, key);
    let unlinked = false;
    let rowDeleted = false;
    await this.#lock(`obj:${bucket}\0${key}`, async () => {
      const idx = await this.index(bucket);
      const entry = idx.get(key);
      // Both are tried whatever the index says: another process may have written the key.
      if (!entry?.inline) {
        unlinked = await unlink(file).then(
          () => true,
          (e: NodeJS.ErrnoException) => {
            if (e.code === 'ENOENT') return false;
            throw e;
          },
        );
      }
      rowDeleted = this.inline.delete(bucket, key);
      idx.delete(key);
    });
    await Promise.all([unlinked ? this.dirSync.sync(path.dirname(file)) : undefined, rowDeleted ? this.inline.sync() : undefined]);
  }

  async usage(owner: string): Promise<{ bucketCount: number; bytes: number }> {
    const buckets = await this.listBuckets(owner);
    let bytes = 0;
    for (const b of buckets) bytes += (await this.index(b.name)).bytes;
    return { bucketCount: buckets.length, bytes };
  }

  // ---- multipart ----

  async createUpload({ owner, bucket, key }: ObjectRef, options: PutOptions = {}): Promise<UploadRecord> {
    await this.requireBucket(owner, bucket);
    assertKey(key);
    const uploadId = randomBytes(16).toString('hex');
    const rec: UploadRecord = {
      uploadId,
      bucket,
      key,
      owner,
      initiated: Date.now(),
      contentType: options.contentType ?? 'binary/octet-stream',
      userMeta: options.userMeta ?? {},
      headers: options.headers ?? {},
    };
    const dir = path.join(this.#mpDir, uploadId);
    await mkdir(dir);
    await writeFile(path.join(dir, 'upload.json'), JSON.stringify(rec), { flush: true });
    await Promise.all([this.dirSync.sync(dir), this.dirSync.sync(this.#mpDir)]);
    this.#uploads.set(uploadId, rec);
    return rec;
  }

  async getUpload({ owner, bucket, key }: ObjectRef, uploadId: string): Promise<UploadRecord> {
    await this.requireBucket(owner, bucket);
    const rec = UPLOAD_ID_RE.test(uploadId) ? this.#uploads.get(uploadId) : undefined;
    if (!rec || rec.bucket !== bucket || rec.key !== key) {
      throw new S3Error('NoSuchUpload', 'The specified upload does not exist.', { extra: { UploadId: uploadId } });
    }
    return rec;
  }

  listUploads(bucket: string): UploadRecord[] {
    return [...this.#uploads.values()].filter((u) => u.bucket === bucket);
  }

  #partPath(uploadId: string, partNumber: number): string {
    return path.join(this.#mpDir, uploadId, String(partNumber).padStart(5, '0'));
  }

  async putPart({ upload, partNumber }: PartRef, body: Body, options: PutOptions = {}): Promise<PartInfo> {
    assertPartNumber(partNumber);
    const temp = await writeTemp(this.#tmpDir, body, { maxBytes: options.maxBytes, signal: options.signal, direct: this.directIo });
    const meta: ObjectMeta = {
      key: '',
      size: temp.size,
      etag: md5Etag(temp),
      lastModified: Date.now(),
      contentType: '',
      userMeta: {},
      headers: {},
      ...(options.checksums && Object.keys(options.checksums).length ? { checksums: options.checksums } : {}),
    };
    await finishTemp(temp, meta);
    try {
      if (!this.#uploads.has(upload.uploadId)) throw new S3Error('NoSuchUpload', 'The specified upload does not exist.', { extra: { UploadId: upload.uploadId } });
      await rename(temp.path, this.#partPath(upload.uploadId, partNumber));
      await this.dirSync.sync(path.join(this.#mpDir, upload.uploadId));
    } catch (e) {
      await rm(temp.path, { force: true });
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new S3Error('NoSuchUpload', 'The specified upload does not exist.', { extra: { UploadId: upload.uploadId } });
      throw e;
    }
    return { partNumber, etag: meta.etag, size: meta.size, lastModified: meta.lastModified };
  }

  async listParts(upload: UploadRecord): Promise<PartInfo[]> {
    const dir = path.join(this.#mpDir, upload.uploadId);
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => /^\d{5}$/.test(n)).sort();
    const out: PartInfo[] = [];
    for (const n of names) {
      const meta = await readMetaAt(path.join(dir, n)).catch(() => undefined);
      if (meta) out.push({ partNumber: Number(n), etag: meta.etag, size: meta.size, lastModified: meta.lastModified });
    }
    return out;
  }

  async completeUpload(
    upload: UploadRecord,
    parts: ReadonlyArray<{ partNumber: number; etag: string }>,
    options: { maxBytes?: number | undefined } = {},
  ): Promise<ObjectMeta> {
    return this.#lock(`upload:${upload.uploadId}`, async () => {
      if (!this.#uploads.has(upload.uploadId)) throw new S3Error('NoSuchUpload', 'The specified upload does not exist.', { extra: { UploadId: upload.uploadId } });
      if (parts.length === 0) throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
      let prev = 0;
      for (const p of parts) {
        if (p.partNumber <= prev) throw new S3Error('InvalidPartOrder', 'The list of parts was not in ascending order. Parts must be ordered by part number.');
        prev = p.partNumber;
      }
      const handles: Array<{ fh: FileHandle; meta: ObjectMeta }> = [];
      try {
        for (const p of parts) {
          let fh: FileHandle;
          try {
            fh = await open(this.#partPath(upload.uploadId, p.partNumber), 'r');
          } catch {
            throw invalidPart(p.partNumber);
          }
          const meta = await readFooter(fh).catch(async (e: unknown) => {
            await fh.close();
            throw e;
          });
          handles.push({ fh, meta });
          if (normEtag(meta.etag) !== normEtag(p.etag)) throw invalidPart(p.partNumber);
        }
        handles.forEach((h, i) => {
          if (i < handles.length - 1 && h.meta.size < this.minPartSize) {
            throw new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.', {
              extra: { ProposedSize: String(h.meta.size), MinSizeAllowed: String(this.minPartSize), PartNumber: String(parts[i]?.partNumber) },
            });
          }
        });
        const total = handles.reduce((s, h) => s + h.meta.size, 0);
        if (options.maxBytes !== undefined && total > options.maxBytes) throw new S3Error('QuotaExceeded', 'The upload exceeds the storage quota.');
        const md5s = createHash('md5');
        for (const h of handles) md5s.update(Buffer.from(normEtag(h.meta.etag), 'hex'));
        const meta: ObjectMeta = {
          key: upload.key,
          size: total,
          etag: `"${md5s.digest('hex')}-${handles.length}"`,
          lastModified: Date.now(),
          contentType: upload.contentType,
          userMeta: upload.userMeta,
          headers: upload.headers,
          parts: handles.length,
        };
        // The parts are read and the object written around the page cache (direct-io.ts), and not hashed again: the
        // ETag is the MD5 of the part MD5s.
        const directDir = this.directIo ? this.#tmpDir : undefined;
        async function* concatenated(): AsyncGenerator<Buffer> {
          for (const h of handles) yield* readSlots(h.fh, { start: 0, end: h.meta.size - 1, dir: directDir });
        }
        const temp = await writeTemp(this.#tmpDir, concatenated(), { direct: this.directIo, hash: false });
        await finishTemp(temp, meta);
        await this.#commit(upload.bucket, temp.path, meta);
        await this.#dropUpload(upload.uploadId);
        return meta;
      } finally {
        for (const h of handles) await h.fh.close().catch(() => undefined);
      }
    });
  }

  async abortUpload(upload: UploadRecord): Promise<void> {
    await this.#lock(`upload:${upload.uploadId}`, () => this.#dropUpload(upload.uploadId));
  }

  async #dropUpload(uploadId: string): Promise<void> {
    this.#uploads.delete(uploadId);
    const trash = path.join(this.#tmpDir, `${randomUUID()}.trash`);
    try {
      await rename(path.join(this.#mpDir, uploadId), trash);
    } catch {
      return;
    }
    await rm(trash, { recursive: true, force: true });
  }

  /** Closes small.db (after its pending syncs); the backend is unusable afterwards. */
  async close(): Promise<void> {
    await this.#ready?.catch(() => undefined);
    const inline = this.#inline;
    this.#inline = undefined;
    await inline?.close();
  }

  /** Removes multipart uploads and temp files older than `maxAgeMs` (abandoned by clients or by a crash). */
  async sweep(maxAgeMs: number): Promise<{ uploads: number; temps: number }> {
    await this.ready();
    const cutoff = Date.now() - maxAgeMs;
    let uploads = 0;
    for (const id of await readdir(this.#mpDir).catch(() => [] as string[])) {
      if (!UPLOAD_ID_RE.test(id)) continue;
      const rec = this.#uploads.get(id);
      const born = rec?.initiated ?? (await stat(path.join(this.#mpDir, id)).catch(() => undefined))?.mtimeMs ?? Date.now();
      if (born < cutoff) {
        await this.#lock(`upload:${id}`, () => this.#dropUpload(id));
        uploads++;
      }
    }
    let temps = 0;
    for (const f of await readdir(this.#tmpDir).catch(() => [] as string[])) {
      const p = path.join(this.#tmpDir, f);
      const st = await stat(p).catch(() => undefined);
      if (st && st.mtimeMs < cutoff) {
        await rm(p, { recursive: true, force: true });
        temps++;
      }
    }
    return { uploads, temps };
  }
}

async function readMetaAt(file: string): Promise<ObjectMeta> {
  const fh = await open(file, 'r');
  try {
    return await readFooter(fh);
  } finally {
    await fh.close();
  }
}

function noSuchKey(key: string): S3Error {
  return new S3Error('NoSuchKey', 'The specified key does not exist.', { extra: { Key: key } });
}

function invalidPart(n: number): S3Error {
  return new S3Error('InvalidPart', 'One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part\'s entity tag.', {
    extra: { PartNumber: String(n) },
  });
}

export function normEtag(etag: string): string {
  return etag.trim().replace(/^"|"$/g, '').toLowerCase();
}

export function assertPartNumber(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_PARTS) throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.');
}

export type { ObjectMeta };

const shared = new Map<string, { backend: FsBackend; refs: number }>();

/**
 * One backend per data dir per process, so the gateway and every FsBlobStore over the same directory share one key
 * index and one lock table (the index is only coherent inside one process; see docs/storage.md).
 */
export function acquireBackend(dataDir: string): FsBackend {
  const dir = path.resolve(dataDir);
  let e = shared.get(dir);
  if (!e) {
    e = { backend: new FsBackend(dir), refs: 0 };
    shared.set(dir, e);
  }
  e.refs++;
  return e.backend;
}

export async function releaseBackend(backend: FsBackend): Promise<void> {
  const e = shared.get(backend.dataDir);
  if (!e || e.backend !== backend) return;
  if (--e.refs <= 0) {
    shared.delete(backend.dataDir);
    await backend.close();
  }
}

/** `directDir`: where O_DIRECT reads may align their slots; undefined to read through the page cache. */
function fileObject(fh: FileHandle, { meta, data }: { meta: ObjectMeta; data: Buffer | undefined }, directDir: string | undefined): OpenObject {
  const stream: OpenObject['stream'] = (start, end, options = {}) =>
    fh.createReadStream({ start, end, highWaterMark: 1 << 20, autoClose: options.autoClose ?? true, ...(options.signal ? { signal: options.signal } : {}) });
  return {
    meta,
    data,
    stream,
    send: async (dest, start, end) => {
      try {
        if (directDir !== undefined && end - start + 1 >= DIRECT_READ_MIN && (await sendDirect(fh, dest, { start, end, dir: directDir }))) return;
        await pipeline(stream(start, end, { autoClose: false }), dest);
      } catch (e) {
        // A body cut short must look cut to the client, not end as if whole (pipeline does this for its own errors).
        dest.destroy(e as Error);
        throw e;
      } finally {
        await fh.close();
      }
    },
    close: () => fh.close(),
  };
}

function memoryObject(meta: ObjectMeta, data: Buffer): OpenObject {
  return {
    meta,
    data,
    stream: (start, end, options = {}) => {
      const s = Readable.from(end >= start ? [data.subarray(start, end + 1)] : [], { objectMode: false });
      return options.signal ? addAbortSignal(options.signal, s) : s;
    },
    send: (dest, start, end) => {
      // Queued whole: the bytes are already in memory.
      dest.end(data.subarray(start, end + 1));
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
}
