import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { isAbortError } from '../errors.js';
import { downloadAtomically } from './download.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sdk-dl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const content = Buffer.from('0123456789'.repeat(1000));

/** A body that delivers `cut` bytes from `offset`, then (once they reached the disk) fails like a dropped connection. */
function dropping(offset: number, cut: number): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (sent) return;
      sent = true;
      this.push(content.subarray(offset, offset + cut));
      setTimeout(() => this.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })), 30);
    },
  });
}

describe('downloadAtomically', () => {
  it('resumes a dropped transfer from the bytes already written, pinned to the first ETag', async () => {
    const dest = path.join(dir, 'resumed.bin');
    const calls: [number, string | undefined][] = [];
    await downloadAtomically(dest, (offset, ifMatch) => {
      calls.push([offset, ifMatch]);
      const body = calls.length < 3 ? dropping(offset, 3000) : Readable.from([content.subarray(offset)]);
      return Promise.resolve({ body, etag: '"e1"' });
    });
    expect(readFileSync(dest)).toEqual(content);
    expect(calls).toEqual([
      [0, undefined],
      [3000, '"e1"'],
      [6000, '"e1"'],
    ]);
    expect(readdirSync(dir).filter((f) => f.endsWith('.part'))).toEqual([]);
  });

  it('never leaves a half-written file under the final name when the transfer cannot finish', async () => {
    const dest = path.join(dir, 'failed.bin');
    await expect(downloadAtomically(dest, (offset) => Promise.resolve({ body: dropping(offset, 100), etag: '"e"' }), { attempts: 3 })).rejects.toThrow(
      /socket hang up/,
    );
    expect(existsSync(dest)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('failed'))).toEqual([]);
  });

  it('does not retry errors that are not transient, and honours abort', async () => {
    let calls = 0;
    await expect(
      downloadAtomically(path.join(dir, 'denied.bin'), () => {
        calls++;
        return Promise.reject(Object.assign(new Error('AccessDenied'), { $metadata: { httpStatusCode: 403 } }));
      }),
    ).rejects.toThrow('AccessDenied');
    expect(calls).toBe(1);
    const ac = new AbortController();
    ac.abort('stop');
    const e = await downloadAtomically(path.join(dir, 'aborted.bin'), () => Promise.resolve({ body: Readable.from([content]), etag: undefined }), {
      signal: ac.signal,
    }).catch((x: unknown) => x);
    expect(isAbortError(e)).toBe(true);
    expect(existsSync(path.join(dir, 'aborted.bin'))).toBe(false);
  });

  it('overwrites an existing file only once the new one is complete', async () => {
    const dest = path.join(dir, 'over.txt');
    await downloadAtomically(dest, () => Promise.resolve({ body: Readable.from([Buffer.from('old')]), etag: undefined }));
    await expect(downloadAtomically(dest, (o) => Promise.resolve({ body: dropping(o, 10), etag: undefined }), { attempts: 1 })).rejects.toThrow();
    expect(readFileSync(dest, 'utf8')).toBe('old');
  });
});
