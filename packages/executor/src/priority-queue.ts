import type { RangeSegment } from '@hearth/core';
import { FairQueue, type Dequeued } from './fair-queue.js';

interface Entry<T> {
  readonly id: string;
  readonly owner: string;
  readonly segments: readonly RangeSegment[];
  readonly payload: T;
  /** Higher first. @default 0 */
  readonly priority?: number;
}

/**
 * Fair queues stacked by priority: an instance of a higher priority (OnDemand, Reserved) always starts before one of
 * a lower (Flex); within a priority, owners share round-robin as in {@link FairQueue}. Each dispatch looks at a
 * handful of tiers, never at the queued instances.
 */
export class PriorityQueue<T> {
  readonly #tiers = new Map<number, FairQueue<T>>();
  /** Tiers in descending priority. */
  #order: number[] = [];
  readonly #tierOf = new Map<string, number>();

  get size(): number {
    let n = 0;
    for (const q of this.#tiers.values()) n += q.size;
    return n;
  }

  has(taskId: string): boolean {
    const tier = this.#tierOf.get(taskId);
    return tier !== undefined && (this.#tiers.get(tier)?.has(taskId) ?? false);
  }

  push(entry: Entry<T>): void {
    this.#tier(entry).push(entry);
  }

  /** See {@link FairQueue.append}; a task keeps the priority it was first queued with. */
  append(entry: Entry<T>): number {
    return this.#tier(entry).append(entry);
  }

  shift(canServe?: (owner: string) => boolean): Dequeued<T> | undefined {
    for (const p of this.#order) {
      const next = this.#tiers.get(p)!.shift(canServe);
      if (next) {
        if (!this.#tiers.get(p)!.has(next.taskId)) this.#tierOf.delete(next.taskId);
        return next;
      }
    }
    return undefined;
  }

  remove(taskId: string, instanceId?: number): RangeSegment[] {
    const tier = this.#tierOf.get(taskId);
    if (tier === undefined) return [];
    const q = this.#tiers.get(tier)!;
    const removed = q.remove(taskId, instanceId);
    if (!q.has(taskId)) this.#tierOf.delete(taskId);
    return removed;
  }

  clear(): Map<string, RangeSegment[]> {
    const out = new Map<string, RangeSegment[]>();
    for (const q of this.#tiers.values()) for (const [id, segs] of q.clear()) out.set(id, segs);
    this.#tierOf.clear();
    return out;
  }

  #tier(entry: Entry<T>): FairQueue<T> {
    const p = this.#tierOf.get(entry.id) ?? entry.priority ?? 0;
    this.#tierOf.set(entry.id, p);
    let q = this.#tiers.get(p);
    if (!q) {
      q = new FairQueue<T>();
      this.#tiers.set(p, q);
      this.#order = [...this.#tiers.keys()].sort((a, b) => b - a);
    }
    return q;
  }
}
