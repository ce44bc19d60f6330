import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { LogStore } from './log-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function dir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'hearth-logs-'));
  dirs.push(d);
  return d;
}

describe('LogStore', () => {
  it('keeps the last maxBytes per buffer with absolute offsets, task-wide and per instance', () => {
    const logs = new LogStore({ dir: dir(), maxBytes: 10 });
    logs.append('t', { instanceId: 0, stream: 'stdout', data: Buffer.from('hello ') });
    logs.append('t', { instanceId: 1, stream: 'stdout', data: Buffer.from('world!!') });
    expect(logs.read('t', { instanceId: 0, stream: 'stdout' })).toEqual({ text: 'hello ', start: 0, end: 6 });
    // 13 bytes written task-wide, 10 kept: the first 3 are gone and offsets say so.
    expect(logs.read('t', { instanceId: undefined, stream: 'stdout' })).toEqual({ text: 'lo world!!', start: 3, end: 13 });
    expect(logs.read('t', { instanceId: undefined, stream: 'stdout', offset: 9 }).text).toBe('ld!!');
    expect(logs.read('t', { instanceId: undefined, stream: 'stdout', offset: 0 }).start).toBe(3);
    expect(logs.read('t', { instanceId: undefined, stream: 'stdout', offset: 99 })).toEqual({ text: '', start: 13, end: 13 });
    logs.close();
  });

  it('serves fresh output once per cursor, and survives a restart (flushed to disk)', () => {
    const d = dir();
    const logs = new LogStore({ dir: d });
    logs.append('t', { instanceId: 0, stream: 'stderr', data: Buffer.from('a') });
    expect(logs.fresh('t', 0, 'stderr')).toBe('a');
    expect(logs.fresh('t', 0, 'stderr')).toBe('');
    logs.append('t', { instanceId: 0, stream: 'stderr', data: Buffer.from('b') });
    logs.close();
    const again = new LogStore({ dir: d });
    expect(again.read('t', { instanceId: 0, stream: 'stderr' }).text).toBe('ab');
    expect(again.fresh('t', 0, 'stderr')).toBe('b');
    expect(again.fresh('t', undefined, 'stderr')).toBe('ab');
    again.remove('t');
    expect(again.read('t', { instanceId: 0, stream: 'stderr' }).text).toBe('');
    again.close();
  });

  it('matches a reference model whatever the chunk sizes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 30 }), fc.integer({ min: 1, max: 64 }), (chunks, max) => {
        const logs = new LogStore({ dir: dir(), maxBytes: max, flushIntervalMs: 60_000 });
        let all = Buffer.alloc(0);
        for (const c of chunks) {
          logs.append('t', { instanceId: 0, stream: 'stdout', data: Buffer.from(c) });
          all = Buffer.concat([all, Buffer.from(c)]);
        }
        const kept = all.subarray(Math.max(0, all.length - max));
        const slice = logs.read('t', { instanceId: 0, stream: 'stdout' });
        expect(Buffer.from(slice.text, 'utf8').equals(Buffer.from(kept.toString('utf8'), 'utf8'))).toBe(true);
        expect(slice.end).toBe(all.length);
        expect(slice.start).toBe(all.length - kept.length);
        logs.close();
      }),
      { numRuns: 200 },
    );
  });
});
