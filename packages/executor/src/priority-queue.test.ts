import { describe, expect, it } from 'vitest';
import { PriorityQueue } from './priority-queue.js';

const drain = (q: PriorityQueue<string>) => {
  const out: string[] = [];
  for (let d = q.shift(); d; d = q.shift()) out.push(`${d.taskId}:${d.instanceId}`);
  return out;
};

describe('PriorityQueue', () => {
  it('serves every instance of a higher priority before any of a lower one, fair within a priority', () => {
    const q = new PriorityQueue<string>();
    q.push({ id: 'flex', owner: 'a', segments: [{ start: 0, end: 1 }], payload: 'f', priority: 0 });
    q.push({ id: 'od-a', owner: 'a', segments: [{ start: 0, end: 1 }], payload: 'x', priority: 1 });
    q.push({ id: 'od-b', owner: 'b', segments: [{ start: 5, end: 5 }], payload: 'y', priority: 1 });
    expect(q.size).toBe(5);
    expect(drain(q)).toEqual(['od-a:0', 'od-b:5', 'od-a:1', 'flex:0', 'flex:1']);
    expect(q.size).toBe(0);
    expect(q.has('flex')).toBe(false);
  });

  it('keeps a task in the tier it was first queued in when instances are appended, and removes by task', () => {
    const q = new PriorityQueue<string>();
    q.push({ id: 't', owner: 'a', segments: [{ start: 0, end: 0 }], payload: 'p', priority: 1 });
    q.append({ id: 't', owner: 'a', segments: [{ start: 3, end: 4 }], payload: 'p', priority: 0 });
    q.push({ id: 'low', owner: 'b', segments: [{ start: 0, end: 0 }], payload: 'l' });
    expect(q.remove('t', 3)).toEqual([{ start: 3, end: 3 }]);
    expect(drain(q)).toEqual(['t:0', 't:4', 'low:0']);
    q.push({ id: 'gone', owner: 'c', segments: [{ start: 0, end: 9 }], payload: 'g', priority: 2 });
    expect(q.remove('gone')).toEqual([{ start: 0, end: 9 }]);
    expect(q.shift()).toBeUndefined();
  });
});
