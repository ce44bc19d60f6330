import { createHash } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isBlobStoreError } from './blob-store.js';
import { FsBlobStore } from './fs-blob-store.js';
import { tempDir } from './test-support/temp-dir.js';

const owner = 'alice@example.com';
let dir: Awaited<ReturnType<typeof tempDir>>;
let store: FsBlobStore;

beforeEach(async () => {
  dir = await tempDir();
  store = new FsBlobStore(dir.path);
});
afterEach(async () => {
  await store.close();
  await dir[Symbol.asyncDispose]();
});

const md5 = (b: Buffer | string): string => `"${createHash('md5').update(b).digest('hex')}"`;

describe('FsBlobStore', () => {
  it('creates buckets idempotently for the owner and refuses another owner', async () => {
    expect(await store.bucketExists({ owner, bucket: 'inputs' })).toBe(false);
    await store.createBucket({ owner, bucket: 'inputs' });
    await store.createBucket({ owner, bucket: 'inputs' });
    expect(await store.bucketExists({ owner, bucket: 'inputs' })).toBe(true);
    await expect(store.createBucket({ owner: 'bob@example.com', bucket: 'inputs' })).rejects.toSatisfy((e) => isBlobStoreError(e, 'BucketAlreadyExists'));
    await expect(store.bucketExists({ owner: 'bob@example.com', bucket: 'inputs' })).rejects.toSatisfy((e) => isBlobStoreError(e, 'AccessDenied'));
    await expect(store.createBucket({ owner, bucket: 'Bad_Name' })).rejects.toSatisfy((e) => isBlobStoreError(e, 'InvalidArgument'));
  });

  it('writes and reads objects with AWS MD5 ETags', async () => {
    await store.createBucket({ owner, bucket: 'bkt1' });
    const info = await store.write({ owner, bucket: 'bkt1', key: 'dir/a.txt' }, Buffer.from('hello'));
    expect(info).toMatchObject({ key: 'dir/a.txt', size: 5, etag: md5('hello') });
    expect(await text(await store.read({ owner, bucket: 'bkt1', key: 'dir/a.txt' }))).toBe('hello');
    const streamed = await store.write({ owner, bucket: 'bkt1', key: 'empty' }, Readable.from([]));
    expect(streamed.etag).toBe(md5(''));
    expect(await text(await store.read({ owner, bucket: 'bkt1', key: 'empty' }))).toBe('');
    expect(await store.head({ owner, bucket: 'bkt1', key: 'nope' })).toBeUndefined();
    await expect(store.read({ owner, bucket: 'bkt1', key: 'nope' })).rejects.toSatisfy((e) => isBlobStoreError(e, 'NoSuchKey'));
    await expect(store.read({ owner, bucket: 'missing', key: 'x' })).rejects.toSatisfy((e) => isBlobStoreError(e, 'NoSuchBucket'));
  });

  it('writes local files and lists in key order with a prefix, across pages', async () => {
    await store.createBucket({ owner, bucket: 'bkt2' });
    const f = path.join(dir.path, 'local.bin');
    await writeFile(f, 'file body');
    await store.writeFile({ owner, bucket: 'bkt2', key: 'f.bin' }, f);
    const keys = Array.from({ length: 2100 }, (_, i) => `p/${String(i).padStart(5, '0')}`);
    for (const k of keys) await store.write({ owner, bucket: 'bkt2', key: k }, Buffer.from(k));
    const listed: string[] = [];
    for await (const o of store.list({ owner, bucket: 'bkt2' }, { prefix: 'p/' })) listed.push(o.key);
    expect(listed).toEqual(keys);
    const all: string[] = [];
    for await (const o of store.list({ owner, bucket: 'bkt2' })) all.push(o.key);
    expect(all[0]).toBe('f.bin');
    expect(all.length).toBe(2101);
  });

  it('keys with .. and slashes never escape the data dir', async () => {
    await store.createBucket({ owner, bucket: 'bkt3' });
    for (const key of ['../../etc/passwd', '/abs', 'a/../../b', '..', '.']) {
      await store.write({ owner, bucket: 'bkt3', key }, Buffer.from(key));
      expect(await text(await store.read({ owner, bucket: 'bkt3', key }))).toBe(key);
    }
    expect((await readdir(path.dirname(dir.path))).filter((n) => n === 'passwd')).toEqual([]);
    await expect(store.write({ owner, bucket: 'bkt3', key: 'a\0b' }, Buffer.from('x'))).rejects.toSatisfy((e) => isBlobStoreError(e, 'InvalidArgument'));
    await expect(store.write({ owner, bucket: 'bkt3', key: 'k'.repeat(1025) }, Buffer.from('x'))).rejects.toSatisfy((e) => isBlobStoreError(e, 'InvalidArgument'));
    await expect(store.createBucket({ owner, bucket: '../evil' })).rejects.toSatisfy((e) => isBlobStoreError(e, 'InvalidArgument'));
  });

  it('a failed write leaves nothing visible, and the previous version intact', async () => {
    await store.createBucket({ owner, bucket: 'bkt4' });
    await store.write({ owner, bucket: 'bkt4', key: 'k' }, Buffer.from('v1'));
    function* failing(): Generator<Buffer> {
      yield Buffer.from('partial');
      throw new Error('client went away');
    }
    await expect(store.write({ owner, bucket: 'bkt4', key: 'k' }, Readable.from(failing()))).rejects.toThrow('client went away');
    await expect(store.write({ owner, bucket: 'bkt4', key: 'new' }, Readable.from(failing()))).rejects.toThrow('client went away');
    expect(await text(await store.read({ owner, bucket: 'bkt4', key: 'k' }))).toBe('v1');
    expect(await store.head({ owner, bucket: 'bkt4', key: 'new' })).toBeUndefined();
    expect(await readdir(path.join(dir.path, 'tmp'))).toEqual([]);
  });

  it('deletes, and a second store over the same dir sees the same objects', async () => {
    await store.createBucket({ owner, bucket: 'bkt5' });
    await store.write({ owner, bucket: 'bkt5', key: 'a' }, Buffer.from('A'));
    await store.write({ owner, bucket: 'bkt5', key: 'b' }, Buffer.from('B'));
    await store.delete({ owner, bucket: 'bkt5', key: 'a' });
    await store.delete({ owner, bucket: 'bkt5', key: 'a' });
    const other = new FsBlobStore(dir.path);
    const keys: string[] = [];
    for await (const o of other.list({ owner, bucket: 'bkt5' })) keys.push(o.key);
    expect(keys).toEqual(['b']);
    await other.close();
    await other.close();
  });

  it('enforces a byte quota', async () => {
    const limited = new FsBlobStore(dir.path, { maxBytes: () => Promise.resolve(10) });
    await limited.createBucket({ owner, bucket: 'quota' });
    await limited.write({ owner, bucket: 'quota', key: 'a' }, Buffer.alloc(6));
    await expect(limited.write({ owner, bucket: 'quota', key: 'b' }, Buffer.alloc(6))).rejects.toSatisfy((e) => isBlobStoreError(e, 'QuotaExceeded'));
    await limited.close();
  });
});
