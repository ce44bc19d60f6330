import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FairQueue } from './fair-queue.js';

describe('FairQueue', () => {
  it('dispatches every queued id exactly once, ascending within a task, FIFO across an owner’s tasks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ owner: fc.constantFrom('a', 'b', 'c'), start: fc.nat(50), len: fc.integer({ min: 0, max: 20 }) }), { maxLength: 12 }),
        (tasks) => {
          const q = new FairQueue<number>();
          tasks.forEach((t, i) => q.push({ id: `t${i}`, owner: t.owner, segments: [{ start: t.start, end: t.start + t.len - 1 }], payload: i }));
          const seen = new Map<string, number[]>();
          const ownerOrder = new Map<string, number[]>();
          for (let d = q.shift(); d; d = q.shift()) {
            seen.set(d.taskId, [...(seen.get(d.taskId) ?? []), d.instanceId]);
            const owner = tasks[d.payload]?.owner as string;
            ownerOrder.set(owner, [...(ownerOrder.get(owner) ?? []), d.payload]);
          }
          expect(q.size).toBe(0);
          tasks.forEach((t, i) => {
            expect(seen.get(`t${i}`) ?? []).toEqual(Array.from({ length: t.len }, (_, k) => t.start + k));
          });
          for (const order of ownerOrder.values()) expect(order).toEqual([...order].sort((x, y) => x - y));
        },
      ),
    );
  });

  it('alternates owners, putting a newly arrived owner before one just served', () => {
    const q = new FairQueue<string>();
    q.push({ id: 'a1', owner: 'a', segments: [{ start: 0, end: 2 }], payload: 'a1' });
    expect(q.shift()?.payload).toBe('a1');
    q.push({ id: 'b1', owner: 'b', segments: [{ start: 0, end: 1 }], payload: 'b1' });
    const order: string[] = [];
    for (let d = q.shift(); d; d = q.shift()) order.push(`${d.payload}:${d.instanceId}`);
    expect(order).toEqual(['b1:0', 'a1:1', 'b1:1', 'a1:2']);
  });

  it('removes one instance or a whole task, returning what was removed as ranges', () => {
    const q = new FairQueue<null>();
    q.push({ id: 't', owner: 'a', segments: [{ start: 0, end: 9 }], payload: null });
    expect(q.remove('t', 4)).toEqual([{ start: 4, end: 4 }]);
    expect(q.remove('t', 42)).toEqual([]);
    expect(q.size).toBe(9);
    expect(q.shift()?.instanceId).toBe(0);
    expect(q.remove('t')).toEqual([{ start: 1, end: 3 }, { start: 5, end: 9 }]);
    expect(q.size).toBe(0);
    expect(q.shift()).toBeUndefined();
  });

  it('keeps 100,000 instances as one range', () => {
    const q = new FairQueue<null>();
    q.push({ id: 'big', owner: 'a', segments: [{ start: 0, end: 99_999 }], payload: null });
    expect(q.size).toBe(100_000);
    expect(q.shift()?.instanceId).toBe(0);
    expect(q.clear().get('big')).toEqual([{ start: 1, end: 99_999 }]);
  });
});
