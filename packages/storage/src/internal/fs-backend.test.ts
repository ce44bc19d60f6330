import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../test-support/temp-dir.js';
import { FsBackend } from './fs-backend.js';

describe('FsBackend durability', () => {
  it('acknowledges a PUT only after the directory holding its new name was fsynced', async () => {
    await using dir = await tempDir();
    const be = new FsBackend(dir.path);
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
  });

  it('concurrent PUTs share directory fsyncs and each lands complete, with nothing left in tmp/', async () => {
    await using dir = await tempDir();
    const be = new FsBackend(dir.path);
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
      const { fh, meta, data } = await be.openObject('o', 'bkt', k);
      await fh.close();
      expect(data?.toString()).toMatch(/^body \d+$/);
      expect(meta.size).toBe(data?.length);
    }
    expect(await readdir(path.join(dir.path, 'tmp'))).toEqual([]);
  });
});
