import { describe, expect, it } from 'vitest';
import { tempDir } from '../test-support/temp-dir.js';
import { InlineStore } from './inline-store.js';
import type { ObjectMeta } from './object-file.js';

const meta = (key: string, size: number): ObjectMeta => ({ key, size, etag: `"${key}"`, lastModified: 1, contentType: 'x/y', userMeta: { a: 'b' }, headers: {} });

describe('InlineStore', () => {
  it('stores rows per bucket, replaces and deletes them, and lists one bucket', async () => {
    await using dir = await tempDir();
    const s = new InlineStore(dir.path);
    await s.put('b1', meta('k', 3), Buffer.from('abc'));
    await s.put('b1', meta('k', 2), Buffer.from('de'));
    await s.put('b2', meta('k', 0), Buffer.alloc(0));
    expect(s.get('b1', 'k')?.data.toString()).toBe('de');
    expect(s.get('b1', 'k')?.meta).toEqual(meta('k', 2));
    expect(s.get('b2', 'k')?.data.length).toBe(0);
    expect(s.entries('b1')).toEqual([['k', { size: 2, etag: '"k"', lastModified: 1, inline: true }]]);
    expect(s.delete('b1', 'k')).toBe(true);
    expect(s.delete('b1', 'k')).toBe(false);
    expect(s.has('b1', 'k')).toBe(false);
    expect(s.has('b2', 'k')).toBe(true);
    await s.sync();
    await s.close();
  });

  it('group commit: concurrent syncs share WAL fdatasyncs, and none resolves with one that started before its call', async () => {
    await using dir = await tempDir();
    const s = new InlineStore(dir.path);
    const resolved: Array<{ atCall: number; atResolve: number }> = [];
    const calls: Array<Promise<void>> = [];
    for (let i = 0; i < 50; i++) {
      await s.put('b', meta(`k${i}`, 1), Buffer.from('x'));
      const atCall = s.syncs;
      calls.push(s.sync().then(() => void resolved.push({ atCall, atResolve: s.syncs })));
      if (i % 7 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(calls);
    for (const r of resolved) expect(r.atResolve).toBeGreaterThan(r.atCall);
    expect(s.syncs).toBeLessThan(50);
    // Idle again: the next caller starts a fresh fdatasync.
    const before = s.syncs;
    await s.sync();
    expect(s.syncs).toBe(before + 1);
    await s.close();
  });

  it('rows written by one connection survive closing it and are read by the next', async () => {
    await using dir = await tempDir();
    const a = new InlineStore(dir.path);
    await a.put('b', meta('k', 5), Buffer.from('hello'));
    await a.sync();
    await a.close();
    const b = new InlineStore(dir.path);
    expect(b.get('b', 'k')?.data.toString()).toBe('hello');
    await b.close();
  });
});
