import { mergeSegments, type RangeSegment } from '@hearth/core';

interface QueuedTask<T> {
  readonly id: string;
  readonly owner: string;
  readonly payload: T;
  /** Remaining ids, ascending; the head segment shrinks as instances are dispatched. */
  segments: RangeSegment[];
  count: number;
}

export interface Dequeued<T> {
  readonly taskId: string;
  readonly instanceId: number;
  readonly payload: T;
}

/**
 * The queue of pending instances shared by every task: round-robin across owners, FIFO across an owner's tasks,
 * ascending ids within a task. Tasks are stored as ranges, so a 100,000-instance task costs one entry.
 */
export class FairQueue<T> {
  /** Owners with pending work, in round-robin order; the head is served next. */
  readonly #ring: string[] = [];
  readonly #byOwner = new Map<string, QueuedTask<T>[]>();
  readonly #byTask = new Map<string, QueuedTask<T>>();
  /** When each owner was last served (a dispatch counter): an owner joining the ring goes before those served since. */
  readonly #lastServed = new Map<string, number>();
  #served = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  has(taskId: string): boolean {
    return this.#byTask.has(taskId);
  }

  push(task: { readonly id: string; readonly owner: string; readonly segments: readonly RangeSegment[]; readonly payload: T }): void {
    const { id: taskId, owner, segments, payload } = task;
    const copy = segments.map((s) => ({ start: s.start, end: s.end })).filter((s) => s.end >= s.start);
    const count = copy.reduce((n, s) => n + s.end - s.start + 1, 0);
    if (count === 0) return;
    const entry: QueuedTask<T> = { id: taskId, owner, payload, segments: copy, count };
    this.#byTask.set(taskId, entry);
    let list = this.#byOwner.get(owner);
    if (!list) {
      list = [];
      this.#byOwner.set(owner, list);
      this.#join(owner);
    }
    list.push(entry);
    this.#size += count;
  }

  /**
   * The next instance, round-robin across owners. Owners for which `canServe` is false (a quota reached) keep their
   * place and are passed over; the cost is one check per owner, never per queued instance.
   */
  shift(canServe?: (owner: string) => boolean): Dequeued<T> | undefined {
    let at = 0;
    if (canServe) {
      while (at < this.#ring.length && !canServe(this.#ring[at]!)) at++;
    }
    if (at >= this.#ring.length) return undefined;
    const [owner] = this.#ring.splice(at, 1) as [string];
    const list = this.#byOwner.get(owner) as QueuedTask<T>[];
    const task = list[0] as QueuedTask<T>;
    const seg = task.segments[0] as RangeSegment;
    const instanceId = seg.start;
    if (seg.start === seg.end) task.segments.shift();
    else task.segments[0] = { start: seg.start + 1, end: seg.end };
    task.count--;
    this.#size--;
    this.#lastServed.set(owner, ++this.#served);
    if (task.count === 0) {
      list.shift();
      this.#byTask.delete(task.id);
    }
    if (list.length > 0) this.#ring.push(owner); // to the back: the next owner is served next
    else {
      this.#byOwner.delete(owner);
      // Forget owners with nothing queued once in a while, so the map stays as small as the set of active owners.
      if (this.#lastServed.size > 4 * (this.#byOwner.size + 64)) for (const o of [...this.#lastServed.keys()]) if (!this.#byOwner.has(o)) this.#lastServed.delete(o);
    }
    return { taskId: task.id, instanceId, payload: task.payload };
  }

  /**
   * Adds ids to a task: merged into its queued ranges when it still has some (ids already queued count once), or
   * queued as a new entry at the back of the owner's FIFO. Returns how many ids were newly queued.
   */
  append(task: { readonly id: string; readonly owner: string; readonly segments: readonly RangeSegment[]; readonly payload: T }): number {
    const existing = this.#byTask.get(task.id);
    if (!existing) {
      const before = this.#size;
      this.push(task);
      return this.#size - before;
    }
    const merged = mergeSegments([...existing.segments, ...task.segments.filter((s) => s.end >= s.start)]);
    const count = merged.reduce((n, s) => n + s.end - s.start + 1, 0);
    const added = count - existing.count;
    existing.segments = merged;
    existing.count = count;
    this.#size += added;
    return added;
  }

  /** Removes a task's remaining instances (or one of them); returns the removed ids as ranges. */
  remove(taskId: string, instanceId?: number): RangeSegment[] {
    const task = this.#byTask.get(taskId);
    if (!task) return [];
    if (instanceId === undefined) {
      this.#drop(task);
      return task.segments;
    }
    const i = task.segments.findIndex((s) => s.start <= instanceId && instanceId <= s.end);
    if (i < 0) return [];
    const s = task.segments[i] as RangeSegment;
    const parts: RangeSegment[] = [];
    if (s.start < instanceId) parts.push({ start: s.start, end: instanceId - 1 });
    if (instanceId < s.end) parts.push({ start: instanceId + 1, end: s.end });
    task.segments.splice(i, 1, ...parts);
    task.count--;
    this.#size--;
    if (task.count === 0) this.#drop(task);
    return [{ start: instanceId, end: instanceId }];
  }

  /** Removes everything; returns each task's remaining ranges. */
  clear(): Map<string, RangeSegment[]> {
    const out = new Map<string, RangeSegment[]>();
    for (const t of this.#byTask.values()) out.set(t.id, t.segments);
    this.#byTask.clear();
    this.#byOwner.clear();
    this.#ring.length = 0;
    this.#size = 0;
    return out;
  }

  /** Inserts an owner into the ring before every owner served more recently than it (never served = first). */
  #join(owner: string): void {
    const mine = this.#lastServed.get(owner) ?? 0;
    const at = this.#ring.findIndex((o) => (this.#lastServed.get(o) ?? 0) > mine);
    if (at < 0) this.#ring.push(owner);
    else this.#ring.splice(at, 0, owner);
  }

  #drop(task: QueuedTask<T>): void {
    this.#byTask.delete(task.id);
    this.#size -= task.count;
    task.count = 0;
    const list = this.#byOwner.get(task.owner);
    if (!list) return;
    const at = list.indexOf(task);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) {
      this.#byOwner.delete(task.owner);
      const r = this.#ring.indexOf(task.owner);
      if (r >= 0) this.#ring.splice(r, 1);
    }
  }
}
