import { createHash, randomUUID } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import { openDirectWrite, releaseSlot, SLOT, takeSlot } from './direct-io.js';
import { WorkerMd5 } from './md5-worker.js';
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
  /**
   * Writes bodies over one slot with O_DIRECT where the filesystem allows it.
   * @default true
   */
  readonly direct?: boolean;
  /**
   * Computes the body's MD5; false when the caller already knows the ETag (a copy, a multipart completion).
   * @default true
   */
  readonly hash?: boolean;
}

/** A small body, received whole in memory. */
export interface InlineBody {
  readonly kind: 'inline';
  readonly data: Buffer;
  readonly size: number;
  /** Raw MD5 digest of the data, unless the write was asked not to hash. */
  readonly md5: Buffer | undefined;
}

export interface TempObject {
  readonly path: string;
  readonly size: number;
  /** Raw MD5 digest of the data, unless the write was asked not to hash. */
  readonly md5: Buffer | undefined;
}

/** The AWS ETag of a single-PUT body: its MD5, hex, quoted. */
export function md5Etag(body: { readonly md5: Buffer | undefined }): string {
  if (!body.md5) throw new Error('the body was written without hashing');
  return `"${body.md5.toString('hex')}"`;
}

/** A temp file still open, with its last bytes not yet written (so the footer joins them in one write). */
export interface OpenTemp extends TempObject {
  readonly kind: 'file';
  readonly fh: FileHandle;
  readonly pending: readonly Buffer[];
  /** Where in the file the pending bytes go: everything before is written. */
  readonly offset: number;
}

/**
 * Streams `body` into a new temp file in `tmpDir` and returns its size and MD5. The caller appends the footer with
 * {@link finishTemp}. Any failure (including a verifier throwing from inside `body`) removes the file.
 *
 * A body of at most one {@link SLOT} is held in memory and hashed here: at most `inlineMax` bytes come back as an
 * {@link InlineBody} without touching the disk, the rest as a file whose bytes are all still pending. A larger body
 * goes through a {@link SlotWriter}, which hashes on a worker thread while this one receives and writes.
 */
export async function writeTemp(tmpDir: string, body: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>, options: WriteTempOptions & { inlineMax: number }): Promise<OpenTemp | InlineBody>;
export async function writeTemp(tmpDir: string, body: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>, options?: WriteTempOptions): Promise<OpenTemp>;
export async function writeTemp(tmpDir: string, body: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>, options: WriteTempOptions = {}): Promise<OpenTemp | InlineBody> {
  const file = path.join(tmpDir, `${randomUUID()}.tmp`);
  let size = 0;
  const head: Buffer[] = [];
  let writer: SlotWriter | undefined;
  try {
    for await (const chunk of body) {
      options.signal?.throwIfAborted();
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      if (b.length === 0) continue;
      size += b.length;
      if (options.maxBytes !== undefined && size > options.maxBytes) throw new S3Error('QuotaExceeded', 'The upload exceeds the storage quota.');
      if (writer) {
        await writer.add(b);
        continue;
      }
      head.push(b);
      if (size > SLOT) {
        writer = await SlotWriter.create(file, { direct: options.direct ?? true, hash: options.hash ?? true });
        for (const h of head.splice(0)) await writer.add(h);
      }
    }
    options.signal?.throwIfAborted();
    if (writer) {
      const { fh, md5, pending, offset } = await writer.finish();
      return { kind: 'file', path: file, size, md5, fh, pending, offset };
    }
    const md5 = options.hash === false ? undefined : createHash('md5');
    for (const h of head) md5?.update(h);
    const inlineMax = options.inlineMax ?? 0;
    if (inlineMax > 0 && size <= inlineMax) return { kind: 'inline', data: head.length === 1 ? (head[0] as Buffer) : Buffer.concat(head, size), size, md5: md5?.digest() };
    return { kind: 'file', path: file, size, md5: md5?.digest(), fh: await open(file, 'wx'), pending: head, offset: 0 };
  } catch (e) {
    await writer?.abort();
    throw e;
  }
}

/** Slots written and hashed at once per upload: enough to keep the disk, the hash thread and the socket all busy. */
const IN_FLIGHT = 4;

/**
 * Writes a large body to its temp file through shared-memory slots: each full slot is written to the file (in order,
 * on the thread pool, with O_DIRECT where the filesystem allows it) and hashed on a {@link WorkerMd5} at the same
 * time, and returns to the pool once both are done. At most {@link IN_FLIGHT} slots per upload are in flight, so memory
 * stays flat whatever the size. The last, partial slot is hashed and handed back as the temp's pending bytes.
 */
class SlotWriter {
  readonly #file: string;
  /** Where slots are aligned for; undefined for buffered writes. */
  readonly #dir: string | undefined;
  /** Undefined when the body is not hashed. */
  readonly #md5: WorkerMd5 | undefined;
  #fh: FileHandle | undefined;
  #direct = false;
  #slot: Buffer;
  #fill = 0;
  /** Bytes handed to the file so far: the offset of the next slot. */
  #offset = 0;
  /** One per sealed slot: settles once it is written and hashed. */
  readonly #inflight: Promise<void>[] = [];
  #writing: Promise<void> = Promise.resolve();
  #unsynced = 0;
  #syncing: Promise<void> = Promise.resolve();

  private constructor(file: string, slot: Buffer, { dir, md5 }: { dir: string | undefined; md5: WorkerMd5 | undefined }) {
    this.#file = file;
    this.#dir = dir;
    this.#slot = slot;
    this.#md5 = md5;
  }

  static async create(file: string, { direct, hash }: { direct: boolean; hash: boolean }): Promise<SlotWriter> {
    const dir = direct ? path.dirname(file) : undefined;
    return new SlotWriter(file, await takeSlot(dir), { dir, md5: hash ? new WorkerMd5() : undefined });
  }

  async add(b: Buffer): Promise<void> {
    let off = 0;
    while (off < b.length) {
      const n = b.copy(this.#slot, this.#fill, off);
      off += n;
      this.#fill += n;
      if (this.#fill === SLOT) await this.#seal();
    }
  }

  /** Writes and hashes what was added except the partial last slot, returned as `pending` at `offset`. */
  async finish(): Promise<{ fh: FileHandle; md5: Buffer | undefined; pending: Buffer[]; offset: number }> {
    const tail = Buffer.from(this.#slot.subarray(0, this.#fill));
    if (this.#fill > 0) await this.#md5?.update(this.#slot, this.#fill);
    releaseSlot(this.#slot);
    for (const p of this.#inflight.splice(0)) await p;
    await this.#writing;
    await this.#syncing;
    const md5 = await this.#md5?.digest();
    let fh = this.#fh;
    if (!fh || this.#direct) {
      // The tail and the footer are not slot-sized: they go through the page cache, on a plain descriptor.
      await fh?.close();
      this.#fh = undefined;
      fh = await open(this.#file, fh ? 'r+' : 'wx');
    }
    return { fh, md5, pending: tail.length ? [tail] : [], offset: this.#offset };
  }

  /** Waits for the slots in flight, then closes and removes the temp file. */
  async abort(): Promise<void> {
    await Promise.allSettled(this.#inflight.splice(0));
    await this.#writing.catch(() => undefined);
    await this.#syncing;
    this.#md5?.drop();
    if (this.#fh) await this.#fh.close().catch(() => undefined);
    await rm(this.#file, { force: true });
  }

  async #seal(): Promise<void> {
    const slot = this.#slot;
    const position = this.#offset;
    this.#offset += SLOT;
    this.#slot = await takeSlot(this.#dir);
    this.#fill = 0;
    const written = (this.#writing = this.#writing.then(() => this.#write(slot, position)));
    const hashed = this.#md5?.update(slot, SLOT);
    // The slot is reused only once neither the file write nor the worker reads it any more, even after a failure.
    const settled = Promise.allSettled([written, hashed]).then(() => releaseSlot(slot));
    const done = Promise.all([written, hashed, settled]).then(() => undefined);
    // Surfaced by whoever awaits it; never an unhandled rejection meanwhile.
    done.catch(() => undefined);
    this.#inflight.push(done);
    if (this.#inflight.length >= IN_FLIGHT) await this.#inflight.shift();
  }

  async #write(slot: Buffer, position: number): Promise<void> {
    if (!this.#fh) {
      const direct = await openDirectWrite(this.#file, slot);
      this.#direct = direct !== undefined;
      this.#fh = direct ?? (await open(this.#file, 'wx'));
    }
    const fh = this.#fh;
    for (let done = 0; done < SLOT; ) done += (await fh.write(slot, done, SLOT - done, position + done)).bytesWritten;
    if (this.#direct) return;
    this.#unsynced += SLOT;
    if (this.#unsynced >= EARLY_SYNC) {
      this.#unsynced = 0;
      // Through the page cache: one background datasync at a time, so the final one is short. Errors surface there.
      this.#syncing = this.#syncing.then(() => fh.datasync()).catch(() => undefined);
    }
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
    const { bytesWritten } = await temp.fh.writev(last, temp.offset);
    if (bytesWritten !== last.reduce((n, b) => n + b.length, 0)) throw new Error('short write');
    await temp.fh.datasync();
    await temp.fh.close();
  } catch (e) {
    await temp.fh.close().catch(() => undefined);
    await rm(temp.path, { force: true });
    throw e;
  }
}
