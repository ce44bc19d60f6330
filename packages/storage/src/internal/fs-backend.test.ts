import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../test-support/temp-dir.js';
import { FsBackend } from './fs-backend.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

async function objectFiles(dataDir: string, bucket: string): Promise<string[]> {
  const root = path.join(dataDir, 'buckets', bucket, 'objects');
  const out: string[] = [];
  for (const s of await readdir(root).catch(() => [] as string[])) out.push(...(await readdir(path.join(root, s))));
  return out;
}

/** A data dir holding bucket `bkt` with one object stored as a file, as data dirs from before small.db are. */
async function withFileObject(dataDir: string, key: string, body: string): Promise<void> {
  const files = new FsBackend(dataDir, { inlineMax: 0 });
  await files.createBucket('o', 'bkt');
  await files.putObject({ owner: 'o', bucket: 'bkt', key }, [Buffer.from(body)]);
  await files.close();
}

async function bodyOf(be: FsBackend, bucket: string, key: string): Promise<string> {
  const obj = await be.openObject('o', bucket, key);
  const parts: Buffer[] = [];
  for await (const c of obj.stream(0, obj.meta.size - 1)) parts.push(c as Buffer);
  return Buffer.concat(parts).toString();
}

describe('FsBackend durability (objects as files)', () => {
  it('acknowledges a PUT only after the directory holding its new name was fsynced', async () => {
    await using dir = await tempDir();
    const be = new FsBackend(dir.path, { inlineMax: 0 });
    await be.createBucket('o', 'bkt');
    const before = be.dirSync.fsyncs;
    await be.putObject({ owner: 'o', bucket: 'bkt', key: 'k' }, [Buffer.from('hello')]);
    // The shard directory is new: its parent is synced first, then the shard itself after the rename.
    expect(be.dirSync.fsyncs - before).toBe(2);
    const again = be.dirSync.fsyncs;
    await be.putObject({ owner: 'o', bucket: 'bkt', key: 'k' }, [Buffer.from('hello again')]);
    expect(be.dirSync.fsyncs - again).toBe(1);
    await be.deleteObject('o', 'bkt', 'k');
    expect(be.dirSync.fsyncs - again).toBe(2);
    await be.close();
  });

  it('concurrent PUTs share directory fsyncs and each lands complete, with nothing left in tmp/', async () => {
    await using dir = await tempDir();
    const be = new FsBackend(dir.path, { inlineMax: 0 });
    await be.createBucket('o', 'bkt');
    // Warm the shard directories so only commit syncs are counted.
    const keys = Array.from({ length: 64 }, (_, i) => `key-${i % 4}`);
    await Promise.all([...new Set(keys)].map((k) => be.putObject({ owner: 'o', bucket: 'bkt', key: k }, [Buffer.from('warm')])));
    const before = be.dirSync.fsyncs;
    const metas = await Promise.all(keys.map((k, i) => be.putObject({ owner: 'o', bucket: 'bkt', key: k }, [Buffer.from(`body ${i}`)])));
    // 64 commits into at most 4 directories: grouped, far fewer fsyncs than commits.
    expect(be.dirSync.fsyncs - before).toBeLessThan(keys.length);
    expect(metas).toHaveLength(64);
    for (const k of new Set(keys)) {
      const obj = await be.openObject('o', 'bkt', k);
      await obj.close();
      const { meta, data } = obj;
      expect(data?.toString()).toMatch(/^body \d+$/);
      expect(meta.size).toBe(data?.length);
    }
    expect(await readdir(path.join(dir.path, 'tmp'))).toEqual([]);
    expect(await objectFiles(dir.path, 'bkt')).toHaveLength(4);
    await be.close();
  });
});

describe('FsBackend small objects (rows of small.db)', () => {
  it('stores a small object without creating any file, and shares WAL syncs between concurrent PUTs', async () => {
    await using dir = await tempDir();
    const be = new FsBackend(dir.path);
    await be.createBucket('o', 'bkt');
    const dirSyncs = be.dirSync.fsyncs;
    const syncs = be.inline.syncs;
    const metas = await Promise.all(Array.from({ length: 64 }, (_, i) => be.putObject({ owner: 'o', bucket: 'bkt', key: `k${i}` }, [Buffer.from(`body ${i}`)])));
    expect(metas[5]?.etag).toBe(`"${createHash('md5').update('body 5').digest('hex')}"`);
    // Every PUT waited for a WAL fdatasync, and they shared them: fewer syncs than PUTs, no directory fsync at all.
    expect(be.inline.syncs - syncs).toBeGreaterThan(0);
    expect(be.inline.syncs - syncs).toBeLessThan(64);
    expect(be.dirSync.fsyncs - dirSyncs).toBe(0);
    expect(await objectFiles(dir.path, 'bkt')).toEqual([]);
    expect(await readdir(path.join(dir.path, 'tmp'))).toEqual([]);
    expect(await bodyOf(be, 'bkt', 'k7')).toBe('body 7');
    // Alone, one PUT costs exactly one WAL fdatasync, issued before it resolved.
    const alone = be.inline.syncs;
    await be.putObject({ owner: 'o', bucket: 'bkt', key: 'alone' }, [Buffer.from('x')]);
    expect(be.inline.syncs - alone).toBe(1);
    const page = (await be.index('bkt')).listPage({ prefix: '', delimiter: '', startAfter: '', maxKeys: 1000 });
    expect(page.contents).toHaveLength(65);
    await be.close();
  });

  it('keeps the MD5 ETag, the metadata and exact bytes up to the inline limit; one byte more is a file', async () => {
    await using dir = await tempDir();
    const be = new FsBackend(dir.path, { inlineMax: 1000 });
    await be.createBucket('o', 'bkt');
    const at = Buffer.alloc(1000, 'a');
    const over = Buffer.alloc(1001, 'b');
    const m1 = await be.putObject({ owner: 'o', bucket: 'bkt', key: 'at' }, [at.subarray(0, 10), at.subarray(10)], { contentType: 'text/x', userMeta: { color: 'blue' } });
    const m2 = await be.putObject({ owner: 'o', bucket: 'bkt', key: 'over' }, [over]);
    expect(m1.etag).toBe('"cabe45dcc9ae5b66ba86600cca6b8ba8"');
    expect(be.inline.get('bkt', 'at')?.meta).toMatchObject({ contentType: 'text/x', userMeta: { color: 'blue' }, size: 1000, etag: m1.etag });
    expect(be.inline.get('bkt', 'over')).toBeUndefined();
    expect(await objectFiles(dir.path, 'bkt')).toHaveLength(1);
    expect(m2.size).toBe(1001);
    expect(await bodyOf(be, 'bkt', 'at')).toBe(at.toString());
    expect(await bodyOf(be, 'bkt', 'over')).toBe(over.toString());
    await be.close();
  });

  it('replaces a file object by a small one and the other way round, leaving exactly one copy', async () => {
    await using dir = await tempDir();
    const be = new FsBackend(dir.path, { inlineMax: 16 });
    await be.createBucket('o', 'bkt');
    const ref = { owner: 'o', bucket: 'bkt', key: 'k' };
    await be.putObject(ref, [Buffer.from('a body longer than sixteen bytes')]);
    expect(await objectFiles(dir.path, 'bkt')).toHaveLength(1);
    await be.putObject(ref, [Buffer.from('small')]);
    expect(await objectFiles(dir.path, 'bkt')).toHaveLength(0);
    expect(be.inline.has('bkt', 'k')).toBe(true);
    expect(await bodyOf(be, 'bkt', 'k')).toBe('small');
    await be.putObject(ref, [Buffer.from('large again, longer than sixteen')]);
    expect(be.inline.has('bkt', 'k')).toBe(false);
    expect(await objectFiles(dir.path, 'bkt')).toHaveLength(1);
    expect(await bodyOf(be, 'bkt', 'k')).toBe('large again, longer than sixteen');
    expect((await be.index('bkt')).get('k')?.size).toBe(32);
    await be.putObject(ref, [Buffer.from('tiny')]);
    await be.deleteObject('o', 'bkt', 'k');
    await expect(be.openObject('o', 'bkt', 'k')).rejects.toMatchObject({ code: 'NoSuchKey' });
    expect(await objectFiles(dir.path, 'bkt')).toHaveLength(0);
    expect((await be.index('bkt')).size).toBe(0);
    await be.close();
  });

  it('small objects and their listing survive a restart, and old file objects stay readable', async () => {
    await using dir = await tempDir();
    await withFileObject(dir.path, 'from-file', 'written as a file');
    const a = new FsBackend(dir.path);
    await a.putObject({ owner: 'o', bucket: 'bkt', key: 'small/1' }, [Buffer.from('one')]);
    await a.putObject({ owner: 'o', bucket: 'bkt', key: 'small/2' }, [Buffer.from('two')]);
    await a.putObject({ owner: 'o', bucket: 'bkt', key: 'empty' }, []);
    await a.close();
    const b = new FsBackend(dir.path);
    const page = (await b.index('bkt')).listPage({ prefix: '', delimiter: '', startAfter: '', maxKeys: 1000 });
    expect(page.contents.map(([k, e]) => [k, e.size])).toEqual([
      ['empty', 0],
      ['from-file', 17],
      ['small/1', 3],
      ['small/2', 3],
    ]);
    expect(await bodyOf(b, 'bkt', 'small/2')).toBe('two');
    expect(await bodyOf(b, 'bkt', 'from-file')).toBe('written as a file');
    expect((await b.headObject('o', 'bkt', 'empty')).size).toBe(0);
    await b.close();
  });

  it('when a crash left both a row and a file for one key, the row is the object and the index load removes the file', async () => {
    await using dir = await tempDir();
    await withFileObject(dir.path, 'k', 'old, as a file');
    const be = new FsBackend(dir.path);
    await be.ready();
    // What a crash between "row committed" and "old file unlinked" leaves behind.
    await be.inline.put('bkt', { key: 'k', size: 3, etag: '"x"', lastModified: Date.now(), contentType: 'a/b', userMeta: {}, headers: {} }, Buffer.from('new'));
    expect(await objectFiles(dir.path, 'bkt')).toHaveLength(1);
    expect(await bodyOf(be, 'bkt', 'k')).toBe('new');
    expect((await be.index('bkt')).get('k')).toMatchObject({ size: 3, inline: true });
    expect(await objectFiles(dir.path, 'bkt')).toHaveLength(0);
    await be.close();
  });

  it('a new bucket never shows rows left under its name by an earlier bucket', async () => {
    await using dir = await tempDir();
    const be = new FsBackend(dir.path);
    await be.ready();
    // What a PUT racing the deletion of the bucket could leave behind.
    await be.inline.put('bkt', { key: 'stale', size: 1, etag: '"x"', lastModified: 1, contentType: 'a/b', userMeta: {}, headers: {} }, Buffer.from('s'));
    await be.createBucket('o', 'bkt');
    await expect(be.openObject('o', 'bkt', 'stale')).rejects.toMatchObject({ code: 'NoSuchKey' });
    expect((await be.index('bkt')).size).toBe(0);
    await be.close();
  });

  it('every acknowledged small PUT survives a SIGKILL of the writing process', async () => {
    await using dir = await tempDir();
    const setup = new FsBackend(dir.path);
    await setup.createBucket('o', 'bkt');
    await setup.close();
    // This package compiled on its own, for a plain Node child process.
    const build = path.join(REPO_ROOT, 'packages/storage/.test-data/sigkill-build');
    execFileSync('npx', ['tsc', '-p', 'packages/storage/tsconfig.json', '--outDir', build, '--tsBuildInfoFile', path.join(build, '.tsbuildinfo'), '--declaration', 'false', '--declarationMap', 'false', '--composite', 'false'], {
      cwd: REPO_ROOT,
      stdio: 'inherit',
    });
    // A writer that PUTs as fast as it can, 16 at a time, and prints each key once its PUT resolved.
    const script = `
      const { FsBackend } = await import(${JSON.stringify(path.join(build, 'internal/fs-backend.js'))});
      const be = new FsBackend(process.argv[1]);
      let next = 0;
      await Promise.all(Array.from({ length: 16 }, async () => {
        for (;;) {
          const i = next++;
          await be.putObject({ owner: 'o', bucket: 'bkt', key: 'k' + i }, [Buffer.alloc(3000 + (i % 1000), i % 251)]);
          process.stdout.write(i + '\\n');
        }
      }));`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, dir.path], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.split('\n').length > 300) resolve();
      });
      child.once('exit', (c) => reject(new Error(`writer exited early (${c})`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const acked = out
      .split('\n')
      .slice(0, -1)
      .map(Number);
    expect(acked.length).toBeGreaterThanOrEqual(300);
    const be = new FsBackend(dir.path);
    for (const i of acked) {
      const obj = await be.openObject('o', 'bkt', `k${i}`);
      expect(obj.data?.equals(Buffer.alloc(3000 + (i % 1000), i % 251))).toBe(true);
    }
    expect((await be.index('bkt')).size).toBeGreaterThanOrEqual(acked.length);
    await be.close();
  }, 60_000);
});
