import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../test-support/temp-dir.js';
import { DirSync } from './dir-sync.js';

describe('DirSync', () => {
  it('groups concurrent syncs of a directory: one running fsync plus one for everyone who arrived meanwhile', async () => {
    await using dir = await tempDir();
    const d = path.join(dir.path, 'd');
    await mkdir(d);
    const ds = new DirSync();
    const first = ds.sync(d);
    // These arrive while the first fsync may already be running, so none of them may share it: they share the next.
    const rest = Array.from({ length: 20 }, () => ds.sync(d));
    await Promise.all([first, ...rest]);
    expect(ds.fsyncs).toBe(2);
    // Nothing pending: the next caller starts a fresh fsync.
    await ds.sync(d);
    expect(ds.fsyncs).toBe(3);
  });

  it('never resolves a caller with an fsync that started before its call', async () => {
    await using dir = await tempDir();
    const d = path.join(dir.path, 'd');
    await mkdir(d);
    const ds = new DirSync();
    const started: number[] = [];
    const resolvedAfter: Array<{ called: number; fsyncsAtCall: number; fsyncsAtResolve: number }> = [];
    const calls: Array<Promise<void>> = [];
    for (let i = 0; i < 50; i++) {
      const fsyncsAtCall = ds.fsyncs;
      started.push(fsyncsAtCall);
      calls.push(ds.sync(d).then(() => void resolvedAfter.push({ called: i, fsyncsAtCall, fsyncsAtResolve: ds.fsyncs })));
      if (i % 7 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(calls);
    // Each caller was served by an fsync issued after it called (the counter moved past its value at call time).
    for (const r of resolvedAfter) expect(r.fsyncsAtResolve).toBeGreaterThan(r.fsyncsAtCall);
    expect(ds.fsyncs).toBeLessThan(50);
  });

  it('rejects the callers of a failed fsync and recovers for the next ones', async () => {
    await using dir = await tempDir();
    const ds = new DirSync();
    await expect(ds.sync(path.join(dir.path, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
    const d = path.join(dir.path, 'd');
    await mkdir(d);
    await writeFile(path.join(dir.path, 'f'), 'x');
    await rename(path.join(dir.path, 'f'), path.join(d, 'f'));
    await expect(ds.sync(d)).resolves.toBeUndefined();
  });
});
