import { constants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';

/**
 * Large objects bypass the page cache: their bytes move between the disk and reused, aligned shared-memory slots
 * with O_DIRECT. On these VMs, touching page-cache memory that was freed a while ago costs a fault on the host, and
 * copying 1 GiB into fresh page cache took 1.5 to 3 s of kernel time (perf: copy_folio_from_iter_atomic), more than
 * its MD5 (docs/storage.md). Reused slots stay resident, O_DIRECT moves them without a copy, and large transfers no
 * longer evict the small objects and databases the cache is good for. MinIO does the same for large objects.
 *
 * Slots are shared memory so a worker thread can hash them (md5-worker.ts) while they are written.
 */
export const SLOT = 1 << 20;

/** The largest buffer-address alignment a block device asks of O_DIRECT (its logical block size). */
const ALIGN = 4096;

/** Free slots kept for the next transfers; more are allocated on demand and dropped when returned. */
const POOL_KEEP = 32;

const free: Buffer[] = [];
/** Slots aligned for O_DIRECT: only these go back to the pool. */
const aligned = new WeakSet<Buffer>();

/** Data dirs where O_DIRECT was refused (tmpfs, some network filesystems): buffered I/O there. */
const refused = new Set<string>();

function isRefusal(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EINVAL' || code === 'EOPNOTSUPP' || code === 'ENOTSUP';
}

/**
 * A {@link SLOT}-byte buffer over shared memory, aligned for O_DIRECT on the filesystem of `dir` (a directory Hearth
 * may write a probe file in) unless that filesystem refuses O_DIRECT or `dir` is undefined (buffered I/O).
 * Return it with {@link releaseSlot}.
 */
export async function takeSlot(dir: string | undefined): Promise<Buffer> {
  if (dir === undefined || refused.has(dir)) return Buffer.from(new SharedArrayBuffer(SLOT));
  const pooled = free.pop();
  if (pooled) return pooled;
  // JavaScript cannot see a buffer's address, so the aligned start is found by trying: the first offset at which an
  // O_DIRECT write succeeds. A misaligned try fails at once with EINVAL, without touching the disk.
  const memory = new SharedArrayBuffer(SLOT + ALIGN);
  const probe = path.join(dir, `.direct-probe-${process.pid}`);
  let fh: FileHandle;
  try {
    fh = await open(probe, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_DIRECT);
  } catch (e) {
    if (!isRefusal(e)) throw e;
    refused.add(dir);
    return Buffer.from(memory, 0, SLOT);
  }
  try {
    for (let offset = 0; offset < ALIGN; offset += 16) {
      try {
        await fh.write(new Uint8Array(memory, offset, ALIGN), 0, ALIGN, 0);
        const slot = Buffer.from(memory, offset, SLOT);
        aligned.add(slot);
        return slot;
      } catch (e) {
        if (!isRefusal(e)) throw e;
      }
    }
    refused.add(dir);
    return Buffer.from(memory, 0, SLOT);
  } finally {
    await fh.close();
    await rm(probe, { force: true });
  }
}

export function releaseSlot(slot: Buffer): void {
  if (aligned.has(slot) && free.length < POOL_KEEP) free.push(slot);
}

/** Opens a new `file` for O_DIRECT writes; undefined when its filesystem refuses them or `slot` is not aligned. */
export async function openDirectWrite(file: string, slot: Buffer): Promise<FileHandle | undefined> {
  if (!aligned.has(slot)) return undefined;
  try {
    return await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DIRECT);
  } catch (e) {
    if (!isRefusal(e)) throw e;
    refused.add(path.dirname(file));
    return undefined;
  }
}

/** Objects at least this large are sent with {@link sendDirect}; smaller ones gain little and are likely cached. */
export const DIRECT_READ_MIN = 8 * SLOT;

/** Slots being read ahead of the socket. */
const READ_AHEAD = 3;
/** Slots queued on the socket. */
const WRITES_QUEUED = 2;

/**
 * Sends bytes `[start, end]` of the open file `fh` to `dest` with O_DIRECT reads into slots aligned for `dir`. The
 * same inode is reopened through /proc/self/fd, so a file replaced or deleted since it was opened is still the one read.
 * Resolves false, having sent nothing, when O_DIRECT is refused (the caller streams through the page cache).
 * A slot goes back to the pool once `dest`'s write callback ran, so `dest` must be done with a chunk by then, as a
 * socket or an HTTP response is; if `dest` closes first, slots still queued on it are left to the garbage collector.
 */
export async function sendDirect(fh: FileHandle, dest: Writable, range: { start: number; end: number; dir: string }): Promise<boolean> {
  const { dir } = range;
  const first = await takeSlot(dir);
  if (!aligned.has(first)) return false;
  let direct: FileHandle;
  try {
    direct = await open(`/proc/self/fd/${fh.fd}`, constants.O_RDONLY | constants.O_DIRECT);
  } catch (e) {
    releaseSlot(first);
    if (!isRefusal(e) && (e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    return false;
  }
  const end = range.end + 1;
  // O_DIRECT reads start on a slot boundary; the bytes before `start` in the first slot are skipped.
  let next = range.start - (range.start % SLOT);
  const reads: Promise<{ slot: Buffer; from: number; to: number }>[] = [];
  const readNext = (slot: Buffer): void => {
    const at = next;
    next += SLOT;
    const read = direct.read(slot, 0, SLOT, at).then(({ bytesRead }) => {
      const from = Math.max(range.start - at, 0);
      const to = Math.min(end - at, bytesRead);
      if (to <= from) throw new Error('object file shorter than its metadata');
      return { slot, from, to };
    });
    // Surfaced when its turn comes; never an unhandled rejection while an earlier slot is still awaited.
    read.catch(() => undefined);
    reads.push(read);
  };
  // Two slots are queued on `dest` at a time, so it never waits on this loop between them.
  const writes: Promise<boolean>[] = [];
  try {
    readNext(first);
    while (reads.length) {
      for (let i = reads.length; i < READ_AHEAD && next < end; i++) readNext(await takeSlot(dir));
      const { slot, from, to } = await (reads.shift() as (typeof reads)[number]);
      // Back to the pool once written; left to the garbage collector if `dest` closes while it may still be queued.
      const written = writeOrClose(dest, slot.subarray(from, to)).then((ok) => {
        if (ok) releaseSlot(slot);
        return ok;
      });
      written.catch(() => undefined);
      writes.push(written);
      if (writes.length >= WRITES_QUEUED && !(await writes.shift())) return true;
    }
    for (const w of writes.splice(0)) if (!(await w)) return true;
    dest.end();
    return true;
  } finally {
    await Promise.allSettled([...reads, ...writes]);
    await direct.close();
  }
}

/** Writes `chunk`; resolves true once `dest` has written it, false if `dest` closes first. */
function writeOrClose(dest: Writable, chunk: Buffer): Promise<boolean> {
  if (dest.destroyed) return Promise.resolve(false);
  return new Promise((resolve, reject) => {
    const onClose = (): void => resolve(false);
    dest.once('close', onClose);
    dest.write(chunk, (e) => {
      dest.off('close', onClose);
      if (e) reject(e);
      else resolve(true);
    });
  });
}

/**
 * Yields bytes `[start, end]` of the open file `fh` a slot at a time, reading the next slot while the caller uses the
 * current one; each piece is valid only until the next is asked for. With `dir`, reads use O_DIRECT (slots aligned
 * for `dir`) where it is allowed, on the same inode reopened through /proc/self/fd; without it, or where refused,
 * they go through the page cache.
 */
export async function* readSlots(fh: FileHandle, range: { start: number; end: number; dir: string | undefined }): AsyncGenerator<Buffer> {
  if (range.end < range.start) return;
  const slots = [await takeSlot(range.dir), await takeSlot(range.dir)] as const;
  let source = fh;
  if (aligned.has(slots[0]) && aligned.has(slots[1])) source = await open(`/proc/self/fd/${fh.fd}`, constants.O_RDONLY | constants.O_DIRECT).catch(() => fh);
  // Reads start on a slot boundary only when they are direct.
  let at = source === fh ? range.start : range.start - (range.start % SLOT);
  const read = async (slot: Buffer, position: number): Promise<Buffer> => {
    const { bytesRead } = await source.read(slot, 0, SLOT, position);
    const from = Math.max(range.start - position, 0);
    const to = Math.min(range.end + 1 - position, bytesRead);
    if (to <= from) throw new Error('file shorter than the range read');
    return slot.subarray(from, to);
  };
  let i = 0;
  let next: Promise<Buffer> | undefined = read(slots[0], at);
  try {
    while (next) {
      const piece = await next;
      at += SLOT;
      i ^= 1;
      next = at <= range.end ? read(slots[i] as Buffer, at) : undefined;
      // Surfaced when awaited above; never an unhandled rejection if the caller stops early.
      next?.catch(() => undefined);
      yield piece;
    }
    for (const slot of slots) releaseSlot(slot);
  } finally {
    await next?.catch(() => undefined);
    if (source !== fh) await source.close();
  }
}
