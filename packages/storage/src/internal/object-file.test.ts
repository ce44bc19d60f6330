import { createHash, randomBytes } from 'node:crypto';
import { open, readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../test-support/temp-dir.js';
import { SLOT } from './direct-io.js';
import type { ObjectMeta } from './object-file.js';
import { finishTemp, md5Etag, readFooter, writeTemp } from './object-file.js';

/** `data` in network-sized pieces of varying length, as a socket delivers it. */
function* pieces(data: Buffer): Generator<Buffer> {
  for (let off = 0, i = 0; off < data.length; i++) {
    const n = [65536, 1, 4093, 65536 * 3][i % 4] as number;
    yield data.subarray(off, off + n);
    off += n;
  }
}

function metaOf(size: number, etag: string): ObjectMeta {
  return { key: 'k', size, etag, lastModified: 0, contentType: 'x', userMeta: {}, headers: {} };
}

describe('writeTemp', () => {
  for (const direct of [true, false]) {
    it(`stores large bodies whole with their MD5 (${direct ? 'O_DIRECT' : 'page cache'})`, async () => {
      await using dir = await tempDir();
      for (const size of [SLOT + 1, 2 * SLOT, 5 * SLOT + 777]) {
        const data = randomBytes(size);
        const temp = await writeTemp(dir.path, pieces(data), { direct });
        expect(temp.md5?.toString('hex')).toBe(createHash('md5').update(data).digest('hex'));
        expect(temp.size).toBe(size);
        const meta = metaOf(size, md5Etag(temp));
        await finishTemp(temp, meta);
        const file = await readFile(temp.path);
        expect(file.subarray(0, size).equals(data)).toBe(true);
        const fh = await open(temp.path, 'r');
        expect(await readFooter(fh)).toEqual(meta);
        await fh.close();
      }
    });
  }

  it('removes the temp file when the body fails after several slots, or exceeds the quota', async () => {
    await using dir = await tempDir();
    const data = randomBytes(6 * SLOT);
    async function* failing(): AsyncGenerator<Buffer> {
      yield* pieces(data);
      await Promise.resolve();
      throw new Error('client went away');
    }
    await expect(writeTemp(dir.path, failing())).rejects.toThrow('client went away');
    await expect(writeTemp(dir.path, pieces(data), { maxBytes: 4 * SLOT })).rejects.toMatchObject({ code: 'QuotaExceeded' });
    expect(await readdir(dir.path)).toEqual([]);
  });

  it('keeps bodies of at most one slot in memory until finishTemp', async () => {
    await using dir = await tempDir();
    const data = randomBytes(SLOT);
    const temp = await writeTemp(dir.path, pieces(data));
    expect(Buffer.concat(temp.pending).equals(data)).toBe(true);
    expect(temp.offset).toBe(0);
    await finishTemp(temp, metaOf(SLOT, '"x"'));
    expect((await readFile(temp.path)).subarray(0, SLOT).equals(data)).toBe(true);
  });
});
