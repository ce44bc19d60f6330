import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { WorkerMd5 } from './md5-worker.js';

function sharedCopy(data: Buffer, offset: number): Buffer {
  const slot = Buffer.from(new SharedArrayBuffer(offset + data.length), offset, data.length);
  data.copy(slot);
  return slot;
}

describe('WorkerMd5', () => {
  it('hashes slots in the order sent, whatever their offsets and lengths, like createHash', async () => {
    const data = randomBytes(3 << 20);
    const cuts = [0, 1, 4096, 1 << 20, (1 << 20) + 17, 3 << 20];
    const md5 = new WorkerMd5();
    // Several in flight at once: the worker keeps them in order.
    await Promise.all(cuts.slice(1).map((end, i) => md5.update(sharedCopy(data.subarray(cuts[i], end), 16 * i), end - (cuts[i] as number))));
    expect((await md5.digest()).toString('hex')).toBe(createHash('md5').update(data).digest('hex'));
  });

  it('keeps concurrent uploads apart, and a dropped one does not disturb the others', async () => {
    const a = randomBytes(1 << 20);
    const b = randomBytes(1 << 20);
    const ma = new WorkerMd5();
    const mb = new WorkerMd5();
    const mc = new WorkerMd5();
    await Promise.all([ma.update(sharedCopy(a, 0), a.length), mb.update(sharedCopy(b, 0), b.length), mc.update(sharedCopy(b, 0), 10)]);
    mc.drop();
    expect((await ma.digest()).toString('hex')).toBe(createHash('md5').update(a).digest('hex'));
    expect((await mb.digest()).toString('hex')).toBe(createHash('md5').update(b).digest('hex'));
    // An upload with nothing sent is the MD5 of nothing.
    expect((await new WorkerMd5().digest()).toString('hex')).toBe('d41d8cd98f00b204e9800998ecf8427e');
  });
});
