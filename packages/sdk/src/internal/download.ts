import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AbortError } from '../errors.js';

/** Opens the object's bytes from `offset` on; `ifMatch` pins the version a resumed read continues. */
export type OpenRange = (offset: number, ifMatch: string | undefined) => Promise<{ body: Readable; etag: string | undefined }>;

/**
 * Writes a remote object to `dest` without ever leaving a half-written file under its final name: bytes go to a
 * hidden sibling `.<name>.<random>.part`, which is renamed over `dest` once complete and removed on failure.
 * A connection dropped mid-transfer resumes from the bytes already written (ranged read pinned by ETag),
 * up to `attempts` times.
 */
export async function downloadAtomically(
  dest: string,
  open: OpenRange,
  options: { signal?: AbortSignal | undefined; attempts?: number; onBytes?: (n: number) => void } = {},
): Promise<void> {
  const { signal, attempts = 4, onBytes } = options;
  await mkdir(path.dirname(dest), { recursive: true });
  const temp = path.join(path.dirname(dest), `.${path.basename(dest)}.${randomBytes(6).toString('hex')}.part`);
  let etag: string | undefined;
  try {
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw new AbortError(signal.reason);
      const offset = attempt === 1 ? 0 : await sizeOf(temp);
      try {
        const res = await open(offset, etag);
        etag ??= res.etag;
        if (onBytes) res.body.on('data', (c: Buffer) => onBytes(c.length));
        await pipeline(res.body, createWriteStream(temp, { flags: offset > 0 ? 'a' : 'w' }), signal ? { signal } : {});
        break;
      } catch (e) {
        if (signal?.aborted) throw new AbortError(signal.reason);
        if (attempt >= attempts || !isTransient(e)) throw e;
      }
    }
    await rename(temp, dest);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

function isTransient(e: unknown): boolean {
  const err = e as { code?: string; name?: string; $metadata?: { httpStatusCode?: number } };
  const status = err.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500 || status === 429;
  return (
    ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET'].includes(err.code ?? '') ||
    err.name === 'TimeoutError'
  );
}
