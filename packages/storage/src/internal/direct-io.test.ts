import { randomBytes } from 'node:crypto';
import { open, readdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../test-support/temp-dir.js';
import { openDirectWrite, readSlots, releaseSlot, sendDirect, SLOT, takeSlot } from './direct-io.js';

async function collect(fn: (dest: Writable) => Promise<boolean>): Promise<{ sent: boolean; bytes: Buffer }> {
  // Copies each chunk, as a socket does: sendDirect reuses a slot once its write callback ran.
  const dest = new PassThrough();
  const parts: Buffer[] = [];
  dest.on('data', (c: Buffer) => parts.push(Buffer.from(c)));
  const ended = new Promise((r) => dest.on('end', r));
  const sent = await fn(dest);
  if (sent) await ended;
  return { sent, bytes: Buffer.concat(parts) };
}

describe('direct I/O slots', () => {
  it('finds an aligned slot that O_DIRECT writes accept, and leaves no probe file behind', async () => {
    await using dir = await tempDir();
    const slot = await takeSlot(dir.path);
    expect(slot.length).toBe(SLOT);
    expect(slot.buffer).toBeInstanceOf(SharedArrayBuffer);
    const file = path.join(dir.path, 'f');
    const fh = await openDirectWrite(file, slot);
    expect(fh).toBeDefined();
    slot.fill(7);
    await fh?.write(slot, 0, SLOT, 0);
    await fh?.close();
    const back = await open(file, 'r');
    const { bytesRead, buffer } = await back.read(Buffer.alloc(SLOT), 0, SLOT, 0);
    await back.close();
    expect(bytesRead).toBe(SLOT);
    expect(buffer.every((b) => b === 7)).toBe(true);
    releaseSlot(slot);
    expect(await readdir(dir.path)).toEqual(['f']);
  });

  it('gives buffered slots, never pooled, when no directory is named', async () => {
    const slot = await takeSlot(undefined);
    expect(slot.length).toBe(SLOT);
    expect(await openDirectWrite('/nonexistent/never-opened', slot)).toBeUndefined();
  });

  it('sends any byte range of a file, and the file opened even after it was replaced', async () => {
    await using dir = await tempDir();
    const data = randomBytes(3 * SLOT + 12345);
    const file = path.join(dir.path, 'obj');
    await writeFile(file, data);
    const ranges = [
      [0, data.length - 1],
      [1, data.length - 2],
      [SLOT - 1, SLOT],
      [SLOT, 2 * SLOT - 1],
      [4097, 3 * SLOT + 5],
      [data.length - 1, data.length - 1],
    ] as const;
    for (const [start, end] of ranges) {
      const fh = await open(file, 'r');
      const { sent, bytes } = await collect((dest) => sendDirect(fh, dest, { start, end, dir: dir.path }));
      await fh.close();
      expect(sent).toBe(true);
      expect({ start, end, same: bytes.equals(data.subarray(start, end + 1)) }).toEqual({ start, end, same: true });
    }
    const fh = await open(file, 'r');
    await writeFile(path.join(dir.path, 'new'), 'replacement');
    await rename(path.join(dir.path, 'new'), file);
    const { bytes } = await collect((dest) => sendDirect(fh, dest, { start: 0, end: data.length - 1, dir: dir.path }));
    await fh.close();
    expect(bytes.equals(data)).toBe(true);
  });

  it('rejects when the file is shorter than the range asked for', async () => {
    await using dir = await tempDir();
    const file = path.join(dir.path, 'obj');
    await writeFile(file, randomBytes(2 * SLOT));
    const fh = await open(file, 'r');
    const dest = new PassThrough();
    dest.resume();
    await expect(sendDirect(fh, dest, { start: 0, end: 4 * SLOT - 1, dir: dir.path })).rejects.toThrow('shorter');
    await fh.close();
  });

  it('stops without hanging when the destination closes mid-way', async () => {
    await using dir = await tempDir();
    const file = path.join(dir.path, 'obj');
    await writeFile(file, randomBytes(8 * SLOT));
    const fh = await open(file, 'r');
    let written = 0;
    const dest = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _enc, cb) {
        written += chunk.length;
        // Never acknowledges the second slot: only the close can end the wait.
        if (written > SLOT) setTimeout(() => this.destroy(), 20);
        else cb();
      },
    });
    expect(await sendDirect(fh, dest, { start: 0, end: 8 * SLOT - 1, dir: dir.path })).toBe(true);
    await fh.close();
    expect(written).toBe(2 * SLOT);
  });

  for (const direct of [true, false]) {
    it(`reads any byte range a slot at a time (${direct ? 'O_DIRECT' : 'page cache'})`, async () => {
      await using dir = await tempDir();
      const data = randomBytes(2 * SLOT + 999);
      const file = path.join(dir.path, 'obj');
      await writeFile(file, data);
      const fh = await open(file, 'r');
      for (const [start, end] of [
        [0, data.length - 1],
        [7, SLOT + 3],
        [SLOT, SLOT],
        [5, 4],
      ] as const) {
        const parts: Buffer[] = [];
        // Copied as they come: each piece is only valid until the next.
        for await (const piece of readSlots(fh, { start, end, dir: direct ? dir.path : undefined })) parts.push(Buffer.from(piece));
        expect(Buffer.concat(parts).equals(data.subarray(start, end + 1))).toBe(true);
      }
      await fh.close();
    });
  }
});
