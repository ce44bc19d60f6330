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

/** Reads the metadata of an open object file; the data is bytes `[0, meta.size)`. */
export async function readFooter(fh: FileHandle): Promise<ObjectMeta> {
  const { size } = await fh.stat();
  if (size < TAIL) throw new Error('corrupt object file: too short');
  const want = Math.min(size, 8192);
  const buf = Buffer.allocUnsafe(want);
  await readFully(fh, buf, size - want);
  if (!buf.subarray(want - MAGIC.length).equals(MAGIC)) throw new Error('corrupt object file: bad magic');
  const len = buf.readUInt32BE(want - TAIL);
  let json: Buffer;
  if (len + TAIL <= want) json = buf.subarray(want - TAIL - len, want - TAIL);
  else {
    if (len + TAIL > size) throw new Error('corrupt object file: bad footer length');
    json = Buffer.allocUnsafe(len);
    await readFully(fh, json, size - TAIL - len);
  }
  const meta = JSON.parse(json.toString('utf8')) as ObjectMeta;
  if (meta.size !== size - TAIL - len) throw new Error('corrupt object file: size mismatch');
  return meta;
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
}

export interface TempObject {
  readonly path: string;
  readonly size: number;
  /** Raw MD5 digest of the data. */
  readonly md5: Buffer;
}

/**
 * Streams `body` into a new temp file in `tmpDir` and returns its size and MD5. The caller appends the footer with
 * {@link finishTemp}. Any failure (including a verifier throwing from inside `body`) removes the file.
 */
export async function writeTemp(tmpDir: string, body: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>, options: WriteTempOptions = {}): Promise<TempObject & { fh: FileHandle }> {
  const file = path.join(tmpDir, `${randomUUID()}.tmp`);
  const fh = await open(file, 'wx');
  const md5 = createHash('md5');
  let size = 0;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  let unsynced = 0;
  let syncing: Promise<unknown> = Promise.resolve();
  const flush = async (): Promise<void> => {
    if (batchBytes === 0) return;
    const bufs = batch;
    unsynced += batchBytes;
    batch = [];
    batchBytes = 0;
    await fh.writev(bufs);
    if (unsynced >= EARLY_SYNC) {
      unsynced = 0;
      // One background datasync at a time; errors surface at the final fsync anyway.
      syncing = syncing.then(() => fh.datasync()).catch(() => undefined);
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
      if (batchBytes >= BATCH) await flush();
    }
    options.signal?.throwIfAborted();
    await flush();
    await syncing;
    return { path: file, size, md5: md5.digest(), fh };
  } catch (e) {
    await syncing;
    await fh.close().catch(() => undefined);
    await rm(file, { force: true });
    throw e;
  }
}

/** Appends the footer, fsyncs and closes the temp file; on failure removes it. */
export async function finishTemp(temp: TempObject & { fh: FileHandle }, meta: ObjectMeta): Promise<void> {
  try {
    await temp.fh.write(footerOf(meta));
    await temp.fh.sync();
    await temp.fh.close();
  } catch (e) {
    await temp.fh.close().catch(() => undefined);
    await rm(temp.path, { force: true });
    throw e;
  }
}
