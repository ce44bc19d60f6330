import { createHash, randomUUID } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import { S3Error } from './s3-error.js';

/**
 * One object = one file: the data, then a JSON footer with the metadata, its length (uint32 BE) and a magic.
 * Data at offset 0 lets reads and ranges stream straight from the file; the footer makes data and metadata appear
 * together with a single rename, so an object is visible complete or not at all.
 */
export interface ObjectMeta {
  key: string;
  size: number;
  /** AWS ETag including quotes. */
  etag: string;
  lastModified: number;
  contentType: string;
  /** `x-amz-meta-*` values, names lower-case without the prefix. */
  userMeta: Record<string, string>;
  /** Stored standard headers: cache-control, content-disposition, content-encoding, content-language, expires. */
  headers: Record<string, string>;
  /** Number of parts for a multipart object. */
  parts?: number;
  /** A checksum the client sent and we verified, e.g. `{ crc32: 'base64' }`. */
  checksums?: Record<string, string>;
}

const MAGIC = Buffer.from('HRTHOBJ1');
const TAIL = 4 + MAGIC.length;
/** Writes are gathered into batches this large so a 1 GiB upload is ~1,000 writes, not ~60,000. */
const BATCH = 1 << 20;
/** Large uploads start flushing to disk while still arriving, so the final fsync is short, not a 1 GiB stall. */
const EARLY_SYNC = 64 << 20;

export function footerOf(meta: ObjectMeta): Buffer {
  const json = Buffer.from(JSON.stringify(meta));
  const tail = Buffer.alloc(TAIL);
  tail.writeUInt32BE(json.length, 0);
  MAGIC.copy(tail, 4);
  return Buffer.concat([json, tail]);
}

/** Objects up to about this size are read whole, footer included, by one read from offset 0. */
export const SMALL_OBJECT = 64 * 1024;

/** Reads the metadata of an open object file; the data is bytes `[0, meta.size)`. */
export async function readFooter(fh: FileHandle): Promise<ObjectMeta> {
  return (await readObjectHead(fh)).meta;
}

/**
 * Reads an open object file's metadata, and for a small object its bytes too: one read of {@link SMALL_OBJECT} bytes
 * at offset 0 gets a whole small file (a short read of a regular file means end of file), so a small GET costs one
 * read instead of a stat, a footer read and a data read. Larger files fall back to stat + footer.
 */
export async function readObjectHead(fh: FileHandle): Promise<{ meta: ObjectMeta; data: Buffer | undefined }> {
  const first = Buffer.allocUnsafe(SMALL_OBJECT);
  const { bytesRead } = await fh.read(first, 0, first.length, 0);
  if (bytesRead < first.length) {
    const whole = first.subarray(0, bytesRead);
    const meta = parseFooter(whole, bytesRead, undefined);
    if (meta) return { meta, data: whole.subarray(0, meta.size) };
  }
  const { size } = await fh.stat();
  if (size < TAIL) throw new Error('corrupt object file: too short');
  const want = Math.min(size, 8192);
  const buf = Buffer.allocUnsafe(want);
  await readFully(fh, buf, size - want);
  const meta = parseFooter(buf, size, async (len) => {
    const json = Buffer.allocUnsafe(len);
    await readFully(fh, json, size - TAIL - len);
    return json;
  });
  return { meta: meta instanceof Promise ? await meta : (meta ?? fail('bad magic')), data: undefined };
}

/** The footer of a file whose last `buf.length` bytes are `buf`; `readJson` fetches a footer longer than `buf`. */
function parseFooter(buf: Buffer, size: number, readJson: undefined): ObjectMeta | undefined;
function parseFooter(buf: Buffer, size: number, readJson: (len: number) => Promise<Buffer>): ObjectMeta | Promise<ObjectMeta> | undefined;
function parseFooter(buf: Buffer, size: number, readJson: ((len: number) => Promise<Buffer>) | undefined): ObjectMeta | Promise<ObjectMeta> | undefined {
  const n = buf.length;
  if (n < TAIL || !buf.subarray(n - MAGIC.length).equals(MAGIC)) return undefined;
  const len = buf.readUInt32BE(n - TAIL);
  if (len + TAIL > size) fail('bad footer length');
  const check = (json: Buffer): ObjectMeta => {
    const meta = JSON.parse(json.toString('utf8')) as ObjectMeta;
    if (meta.size !== size - TAIL - len) fail('size mismatch');
    return meta;
  };
  if (len + TAIL <= n) return check(buf.subarray(n - TAIL - len, n - TAIL));
  if (!readJson) return undefined;
  return readJson(len).then(check);
}

function fail(what: string): never {
  throw new Error(`corrupt object file: ${what}`);
}

async function readFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) throw new Error('corrupt object file: unexpected end');
    done += bytesRead;
  }
}

export interface WriteTempOptions {
  /** Rejects with QuotaExceeded (and removes the temp file) once more than this many bytes arrive. */
  readonly maxBytes?: number;
  readonly signal?: AbortSignal;
  /**
   * A body of at most this many bytes is kept in memory and returned as an {@link InlineBody} (no file is created).
   * @default 0 (always a file)
   */
  readonly inlineMax?: number;
}

/** A small body, received whole in memory. */
export interface InlineBody {
  readonly kind: 'inline';
  readonly data: Buffer;
  readonly size: number;
  /** Raw MD5 digest of the data. */
  readonly md5: Buffer;
}

export interface TempObject {
  readonly path: string;
  readonly size: number;
  /** Raw MD5 digest of the data. */
  readonly md5: Buffer;
}

/** A temp file still open, with its last bytes not yet written (so the footer joins them in one write). */
export interface OpenTemp extends TempObject {
  readonly kind: 'file';
  readonly fh: FileHandle;
  readonly pending: readonly Buffer[];
}

/**
 * Streams `body` into a new temp file in `tmpDir` and returns its size and MD5. The caller appends the footer with
 * {@link finishTemp}. Any failure (including a verifier throwing from inside `body`) removes the file.
 *
 * The file is created only when the first batch is written: a body of at most `inlineMax` bytes never touches the
 * disk here and comes back as an {@link InlineBody}.
 */
export async function writeTemp(tmpDir: string, body: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>, options: WriteTempOptions & { inlineMax: number }): Promise<OpenTemp | InlineBody>;
export async function writeTemp(tmpDir: string, body: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>, options?: WriteTempOptions): Promise<OpenTemp>;
export async function writeTemp(tmpDir: string, body: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>, options: WriteTempOptions = {}): Promise<OpenTemp | InlineBody> {
  const inlineMax = options.inlineMax ?? 0;
  const file = path.join(tmpDir, `${randomUUID()}.tmp`);
  let fh: FileHandle | undefined;
  const md5 = createHash('md5');
  let size = 0;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  let unsynced = 0;
  // One batch is written (in the thread pool) while the next one arrives from the socket: receiving and writing
  // overlap, and at most two batches are held per upload.
  let writing: Promise<void> = Promise.resolve();
  let syncing: Promise<unknown> = Promise.resolve();
  const write = async (bufs: Buffer[], bytes: number): Promise<void> => {
    const { bytesWritten } = await (fh ??= await open(file, 'wx')).writev(bufs);
    if (bytesWritten !== bytes) throw new Error('short write');
    unsynced += bytes;
    if (unsynced >= EARLY_SYNC) {
      unsynced = 0;
      // One background datasync at a time; errors surface at the final sync anyway.
      const f = fh;
      syncing = syncing.then(() => f.datasync()).catch(() => undefined);
    }
  };
  try {
    for await (const chunk of body) {
      options.signal?.throwIfAborted();
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      if (b.length === 0) continue;
      size += b.length;
      if (options.maxBytes !== undefined && size > options.maxBytes) throw new S3Error('QuotaExceeded', 'The upload exceeds the storage quota.');
      md5.update(b);
      batch.push(b);
      batchBytes += b.length;
      if (batchBytes >= BATCH) {
        await writing;
        writing = write(batch, batchBytes);
        // Surfaced by the next `await writing`; never an unhandled rejection meanwhile.
        writing.catch(() => undefined);
        batch = [];
        batchBytes = 0;
      }
    }
    options.signal?.throwIfAborted();
    await writing;
    await syncing;
    if (!fh && inlineMax > 0 && size <= inlineMax) return { kind: 'inline', data: batch.length === 1 ? (batch[0] as Buffer) : Buffer.concat(batch, size), size, md5: md5.digest() };
    fh ??= await open(file, 'wx');
    return { kind: 'file', path: file, size, md5: md5.digest(), fh, pending: batch };
  } catch (e) {
    await writing.catch(() => undefined);
    await syncing;
    if (fh) {
      await fh.close().catch(() => undefined);
      await rm(file, { force: true });
    }
    throw e;
  }
}

/**
 * Writes the last bytes and the footer (one write: a small object is a single write), makes them durable and closes
 * the temp file; on failure removes it. `fdatasync` is enough: it flushes the data and the size, which is all a read
 * needs, and the name only matters once the file is renamed into place (the caller then syncs that directory).
 */
export async function finishTemp(temp: OpenTemp, meta: ObjectMeta): Promise<void> {
  try {
    const last = [...temp.pending, footerOf(meta)];
    const { bytesWritten } = await temp.fh.writev(last);
    if (bytesWritten !== last.reduce((n, b) => n + b.length, 0)) throw new Error('short write');
    await temp.fh.datasync();
    await temp.fh.close();
  } catch (e) {
    await temp.fh.close().catch(() => undefined);
    await rm(temp.path, { force: true });
    throw e;
  }
}
