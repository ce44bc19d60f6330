import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobStore } from '../blob-store.js';
import { isBlobStoreError } from '../blob-store.js';
import { tempDir } from './temp-dir.js';

export interface BlobStoreTarget {
  readonly store: BlobStore;
  /** Two users; `other` must not see `owner`'s buckets. */
  readonly owner: string;
  readonly other: string;
  close(): Promise<void>;
}

const md5 = (b: Buffer | string): string => `"${createHash('md5').update(b).digest('hex')}"`;

/** What the runner and scheduler rely on, for every BlobStore (filesystem, S3 over the gateway, S3 over RGW). */
export function describeBlobStoreConformance(name: string, start: () => Promise<BlobStoreTarget>): void {
  describe(`BlobStore conformance: ${name}`, () => {
    let t: BlobStoreTarget;
    const run = Math.random().toString(36).slice(2, 8);
    const bucket = `blob-${run}`;
    beforeAll(async () => {
      t = await start();
      await t.store.createBucket({ owner: t.owner, bucket });
    });
    afterAll(async () => {
      await t?.store.close();
      await t?.store.close();
      await t?.close();
    });

    it('creates buckets idempotently and reports existence per owner', async () => {
      await t.store.createBucket({ owner: t.owner, bucket });
      expect(await t.store.bucketExists({ owner: t.owner, bucket })).toBe(true);
      expect(await t.store.bucketExists({ owner: t.owner, bucket: `${bucket}-none` })).toBe(false);
      await expect(t.store.bucketExists({ owner: t.other, bucket })).rejects.toSatisfy((e) => isBlobStoreError(e, 'AccessDenied'));
      await expect(t.store.createBucket({ owner: t.other, bucket })).rejects.toSatisfy((e) => isBlobStoreError(e, 'BucketAlreadyExists'));
    });

    it('writes buffers, streams and files, and reads them back', async () => {
      const a = await t.store.write({ owner: t.owner, bucket, key: 'in/a.txt' }, Buffer.from('alpha'), { contentType: 'text/plain' });
      expect(a).toMatchObject({ key: 'in/a.txt', size: 5, etag: md5('alpha') });
      await t.store.write({ owner: t.owner, bucket, key: 'in/b.txt' }, Readable.from([Buffer.from('be'), Buffer.from('ta')]));
      await using dir = await tempDir();
      const f = path.join(dir.path, 'c.bin');
      const big = Buffer.alloc(3 * 1024 * 1024 + 7, 3);
      await writeFile(f, big);
      const c = await t.store.writeFile({ owner: t.owner, bucket, key: 'out/c.bin' }, f);
      expect(c.size).toBe(big.length);
      expect(await text(await t.store.read({ owner: t.owner, bucket, key: 'in/a.txt' }))).toBe('alpha');
      expect(await text(await t.store.read({ owner: t.owner, bucket, key: 'in/b.txt' }))).toBe('beta');
      const back: Buffer[] = [];
      for await (const chunk of await t.store.read({ owner: t.owner, bucket, key: 'out/c.bin' })) back.push(chunk as Buffer);
      expect(Buffer.concat(back).equals(big)).toBe(true);
      expect(await t.store.head({ owner: t.owner, bucket, key: 'in/a.txt' })).toMatchObject({ size: 5, etag: md5('alpha') });
      expect(await t.store.head({ owner: t.owner, bucket, key: 'nope' })).toBeUndefined();
      await expect(t.store.read({ owner: t.owner, bucket, key: 'nope' })).rejects.toSatisfy((e) => isBlobStoreError(e, 'NoSuchKey'));
      await expect(t.store.read({ owner: t.owner, bucket: `${bucket}-none`, key: 'x' })).rejects.toSatisfy((e) => isBlobStoreError(e, 'NoSuchBucket'));
    });

    it('lists in key order with a prefix, and deletes', async () => {
      const keys: string[] = [];
      for await (const o of t.store.list({ owner: t.owner, bucket }, { prefix: 'in/' })) keys.push(o.key);
      expect(keys).toEqual(['in/a.txt', 'in/b.txt']);
      await t.store.delete({ owner: t.owner, bucket, key: 'in/a.txt' });
      await t.store.delete({ owner: t.owner, bucket, key: 'in/a.txt' });
      const after: string[] = [];
      for await (const o of t.store.list({ owner: t.owner, bucket })) after.push(o.key);
      expect(after).toEqual(['in/b.txt', 'out/c.bin']);
    });
  });
}
