import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bucket, sanitizeBucketPath } from './bucket.js';
import { isAbortError, isInvalidArgumentError, isMissingBucketError } from './errors.js';
import { PART_SIZE, fileEtag } from './internal/etag.js';
import { Task } from './task.js';
import { TASK_UUID, cloudTaskJson } from './test-support/fixtures.js';
import { startStorage, type StorageHarness } from './test-support/storage.js';

let h: StorageHarness;
let work: string;
beforeAll(async () => {
  h = await startStorage();
  work = mkdtempSync(path.join(os.tmpdir(), 'sdk-bucket-'));
});
afterAll(async () => {
  await h.close();
  rmSync(work, { recursive: true, force: true });
});

async function keys(bucket: Bucket, prefix?: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of bucket.listFiles(prefix === undefined ? {} : { prefix })) out.push(o.key);
  return out.sort();
}

describe('Bucket against the Hearth S3 gateway', () => {
  it('creates idempotently, adds strings and files, lists, reads, copies and deletes objects', async () => {
    const b = await h.conn.createBucket('basics');
    await h.conn.createBucket('basics');
    expect((await h.conn.buckets()).map((x) => x.name)).toContain('basics');
    await b.addString('hello', 'dir/a.txt');
    const file = path.join(work, 'b.bin');
    writeFileSync(file, randomBytes(1000));
    expect(await b.addFile(file)).toBe('b.bin');
    expect(await b.addFile(file, '//nested\\\\x/b.bin')).toBe('nested\\x/b.bin');
    expect(await keys(b)).toEqual(['b.bin', 'dir/a.txt', 'nested\\x/b.bin']);
    expect(await keys(b, 'dir/')).toEqual(['dir/a.txt']);
    const listed: string[] = [];
    for await (const o of b.directory('dir')) listed.push(`${o.key}:${o.size}:${o.etag}`);
    expect(listed).toEqual([`dir/a.txt:5:${Bucket.etagOf('hello')}`]);
    expect(await b.getString('dir/a.txt')).toBe('hello');
    await b.copyFile('dir/a.txt', 'dir/copy of a.txt');
    expect(await b.getString('dir/copy of a.txt')).toBe('hello');
    const local = await b.getFile('b.bin', path.join(work, 'got', 'b.bin'));
    expect(readFileSync(local)).toEqual(readFileSync(file));
    await b.deleteFile('b.bin');
    expect(await keys(b)).toEqual(['dir/a.txt', 'dir/copy of a.txt', 'nested\\x/b.bin']);
    await b.delete();
    expect(await b.exists()).toBe(false);
    await expect(h.conn.retrieveBucket('basics')).rejects.toSatisfy(isMissingBucketError);
  });

  it('downloads keys with spaces, reserved and non-ASCII characters (signed GETs encode them as SigV4 wants)', async () => {
    const b = await h.conn.createBucket('odd-keys');
    const names = ["a b/c (1)!*'.txt", 'été/ü+%20=&?.bin', 'x~y_z-.dat'];
    for (const n of names) await b.addString(`content of ${n}`, n);
    const out = path.join(work, 'odd-out');
    expect(await b.getAllFiles(out)).toHaveLength(3);
    for (const n of names) expect(readFileSync(path.join(out, n), 'utf8')).toBe(`content of ${n}`);
    await expect(b.getFile('missing.txt', path.join(work, 'missing.txt'))).rejects.toThrow(/NoSuchKey|404/);
  });

  it('maps NoSuchBucket to MissingBucketError', async () => {
    const b = h.conn.bucket('never-created');
    await expect(b.addString('x', 'k')).rejects.toSatisfy(isMissingBucketError);
    await expect(keys(b)).rejects.toSatisfy(isMissingBucketError);
    await expect(b.getFile('k', path.join(work, 'nope'))).rejects.toSatisfy(isMissingBucketError);
  });

  it('local ETags equal the gateway ETags for single-part and multipart uploads', async () => {
    const b = await h.conn.createBucket('etags');
    for (const size of [0, 1, PART_SIZE - 1, PART_SIZE + 1, 2 * PART_SIZE + 123]) {
      const file = path.join(work, `etag-${size}`);
      writeFileSync(file, randomBytes(size));
      await b.addFile(file, `f-${size}`);
      const local = await fileEtag(file);
      const remote = [];
      for await (const o of b.listFiles({ prefix: `f-${size}` })) remote.push(o.etag);
      expect(remote, `size ${size}`).toEqual([local]);
      if (size > PART_SIZE) expect(local).toMatch(/-\d+$/);
      else expect(local).toBe(createHash('md5').update(readFileSync(file)).digest('hex'));
    }
  });

  it('syncDirectory uploads only what changed, copies renames server-side and deletes what vanished', async () => {
    const b = await h.conn.createBucket('sync');
    const dir = path.join(work, 'sync-src');
    mkdirSync(path.join(dir, 'sub'), { recursive: true });
    writeFileSync(path.join(dir, 'a.txt'), 'A');
    writeFileSync(path.join(dir, 'sub', 'b.txt'), 'B');
    writeFileSync(path.join(dir, 'big.bin'), randomBytes(PART_SIZE + 10));
    const first = await b.syncDirectory(dir, { remote: 'in' });
    expect(first).toEqual({ uploaded: ['in/a.txt', 'in/big.bin', 'in/sub/b.txt'], copied: [], deleted: [], unchanged: 0 });
    // Nothing changed, the multipart file included: nothing is uploaded again.
    expect(await b.syncDirectory(dir, { remote: 'in' })).toEqual({ uploaded: [], copied: [], deleted: [], unchanged: 3 });
    renameSync(path.join(dir, 'a.txt'), path.join(dir, 'renamed.txt'));
    writeFileSync(path.join(dir, 'sub', 'b.txt'), 'B2');
    const third = await b.syncDirectory(dir, { remote: 'in' });
    expect(third).toEqual({ uploaded: ['in/sub/b.txt'], copied: ['in/renamed.txt'], deleted: ['in/a.txt'], unchanged: 1 });
    expect(await keys(b)).toEqual(['in/big.bin', 'in/renamed.txt', 'in/sub/b.txt']);
    expect(await b.getString('in/sub/b.txt')).toBe('B2');
    const viaFiles = await b.syncFiles({ 'only.txt': path.join(dir, 'renamed.txt') }, { remote: 'in' });
    expect(viaFiles.deleted).toEqual(['in/big.bin', 'in/renamed.txt', 'in/sub/b.txt']);
    expect(viaFiles.copied).toEqual(['in/only.txt']);
  });

  it('addDirectory and getAllFiles round-trip a tree, in parallel, leaving no partial files', async () => {
    const b = await h.conn.createBucket('tree');
    const src = path.join(work, 'tree-src');
    for (let i = 0; i < 40; i++) {
      mkdirSync(path.join(src, `d${i % 4}`), { recursive: true });
      writeFileSync(path.join(src, `d${i % 4}`, `f${i}.txt`), `content ${i}`);
    }
    expect(await b.addDirectory(src, 'root')).toHaveLength(40);
    const out = path.join(work, 'tree-out');
    const progress: number[] = [];
    const written = await b.getAllFiles(out, { prefix: 'root/d1', progress: (read) => progress.push(read) });
    expect(written).toHaveLength(10);
    expect(readFileSync(path.join(out, 'root', 'd1', 'f1.txt'), 'utf8')).toBe('content 1');
    const expected = [1, 5, 9, 13, 17, 21, 25, 29, 33, 37].reduce((n, i) => n + `content ${i}`.length, 0);
    expect(progress.at(-1)).toBe(expected);
  });

  it('advanced bucket builders return copies and serialise as §2.3.1', () => {
    const b = h.conn.bucket('adv');
    const c = b.withPrefixFiltering('/in//data/').withStripPrefix('in/').withCacheTtl(60);
    expect(b.toJson()).toEqual({ bucketName: 'adv', filtering: {}, resourcesTransformation: {}, cacheTTLSec: null });
    expect(c.toJson()).toEqual({
      bucketName: 'adv',
      filtering: { prefixFiltering: { prefix: 'in/data/' } },
      resourcesTransformation: { stripPrefix: { prefix: 'in/' } },
      cacheTTLSec: 60,
    });
    expect(Bucket.fromJson(h.conn, c.toJson()).toJson()).toEqual(c.toJson());
    expect(() => b.withCacheTtl(-1)).toThrow(expect.objectContaining({ argument: 'cacheTtlSec' }));
    expect(sanitizeBucketPath('  //a//b\\\\c ')).toBe('a/b\\c');
    expect(() => new Bucket(h.conn, '')).toThrow();
  });

  it('refuses object keys that would escape the output directory', async () => {
    const b = await h.conn.createBucket('escape');
    await b.addString('x', 'ok.txt');
    await h.conn.storage().then(({ client, s3 }) => client.send(new s3.PutObjectCommand({ Bucket: 'escape', Key: '../evil.txt', Body: 'x' })));
    await expect(b.getAllFiles(path.join(work, 'escape-out'))).rejects.toSatisfy(isInvalidArgumentError);
  });

  it('aborting a download rejects with AbortError', async () => {
    const b = await h.conn.createBucket('abort');
    await b.addString('x', 'a.txt');
    const ac = new AbortController();
    ac.abort('stop');
    await expect(b.getAllFiles(path.join(work, 'abort-out'), { signal: ac.signal })).rejects.toSatisfy(isAbortError);
  });
});

describe('Task.downloadResults against the gateway', () => {
  it('downloads the result bucket into outputDir once resultsCount > 0; nothing before', async () => {
    const results = await h.conn.createBucket('task-results');
    for (let i = 0; i < 20; i++) await results.addString(`frame ${i}`, `frames/${i}.txt`);
    let count = 0;
    h.api.on(`GET /tasks/${TASK_UUID}`, () => ({ json: cloudTaskJson({ resultBucket: 'task-results', resultsCount: count }) }));
    const task = await h.conn.retrieveTask(TASK_UUID);
    const out = path.join(work, 'results');
    expect(await task.downloadResults(out, { progress: undefined })).toEqual([]);
    count = 1;
    task.updateCacheTime = 0;
    const seen: string[] = [];
    const files = await task.downloadResults(out, { progress: (_r, _t, f) => seen.push(f) });
    expect(files).toHaveLength(20);
    expect(readFileSync(path.join(out, 'frames', '7.txt'), 'utf8')).toBe('frame 7');
    expect(readdirSync(path.join(out, 'frames')).filter((f) => f.endsWith('.part'))).toEqual([]);
    expect(new Set(seen).size).toBe(20);
    expect(Task.fromJson(h.conn, cloudTaskJson({ resultBucket: null }) as never).results).toBeNull();
  });
});
