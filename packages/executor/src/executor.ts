import type { RangeSegment } from '@hearth/core';
import type { InstanceResult, InstanceSpec, RunnerEvent, SnapshotResult, SnapshotSpec } from '@hearth/runner';

/** One task's instances handed to an executor. */
export interface TaskSubmission {
  readonly taskUuid: string;
  /** Fair-share key: the owner's email. Instances of different owners are interleaved round-robin. */
  readonly owner: string;
  /** Instance ids to run (the task's advanced range, or `0-(count-1)`). Kept as ranges, never expanded. */
  readonly instances: readonly RangeSegment[];
  /** Higher runs first: the scheduler maps OnDemand and Reserved above Flex. @default 0 */
  readonly priority?: number;
  /** What every instance shares; the executor adds `instanceId` and its own `workRoot`. */
  readonly template: Omit<InstanceSpec, 'instanceId' | 'workRoot'>;
  /**
   * Run only on the slots reserved for this group (a pool), from the group's own queue. Instances of a group with no
   * slots (yet) wait in that queue. @default the shared slots
   */
  readonly group?: string;
}

export type ExecutorEvent =
  /** An instance left the queue and its runner started (download phase). */
  | { readonly type: 'instance-started'; readonly taskUuid: string; readonly instanceId: number; readonly at: number }
  /** A runner event of a running instance: phase, log chunk, progress, usage, result upload. */
  | { readonly type: 'instance-event'; readonly taskUuid: string; readonly instanceId: number; readonly event: RunnerEvent }
  /** An instance ended; `result.state` is Success, Failure or Cancelled. */
  | { readonly type: 'instance-finished'; readonly taskUuid: string; readonly instanceId: number; readonly result: InstanceResult }
  /** Queued instances removed by `cancel()` before they started (as ranges: a 100,000-instance task is one event). */
  | { readonly type: 'instances-cancelled'; readonly taskUuid: string; readonly instances: readonly RangeSegment[] }
  /** Every instance of the task has finished or been cancelled: the executor holds nothing of it any more. */
  | { readonly type: 'task-drained'; readonly taskUuid: string };

export type ExecutorEventType = ExecutorEvent['type'];
export type ExecutorListener = (event: ExecutorEvent) => void;

export interface ExecutorStats {
  readonly slots: number;
  readonly running: number;
  /** Instances waiting for a slot. */
  readonly queued: number;
  /** Tasks with queued or running instances. */
  readonly tasks: number;
  /** Slots reserved by groups (pools); the shared capacity is `slots - reserved`. */
  readonly reserved: number;
}

export interface CancelOptions {
  /** Cancel only this instance (queued or running). @default every instance of the task */
  readonly instanceId?: number;
}

export interface ExecutorCloseOptions {
  /** How long running instances may keep running before they are aborted. @default 30000 */
  readonly graceMs?: number;
  /**
   * Leave running instances running (for a restart that re-attaches to them) instead of waiting and aborting.
   * @default false
   */
  readonly leaveRunning?: boolean;
  readonly signal?: AbortSignal;
}

/**
 * Where instances run. Small on purpose: the scheduler submits tasks and listens; every executor (local, slurm, ...)
 * passes the same conformance suite (`src/test-support/executor-conformance.ts`).
 */
export interface Executor extends AsyncDisposable {
  readonly kind: string;
  /**
   * Queues a task's instances. Submitting a task that is still active adds instances to it (retries): they queue
   * behind its current ones. Rejects after `close()`, or when one of the ids is running right now.
   */
  submit(task: TaskSubmission): Promise<void>;
  /** Cancels a task (or one instance): queued ones are dropped, running ones aborted. Unknown tasks are a no-op. */
  cancel(taskUuid: string, options?: CancelOptions): Promise<void>;
  /** Instant snapshot of every running instance of the task; the keys uploaded, merged. */
  snapshot(taskUuid: string, settings?: SnapshotSpec, options?: { signal?: AbortSignal }): Promise<SnapshotResult>;
  /** Copies new or changed resource files into every running instance of the task (additive). */
  updateResources(taskUuid: string, options?: { signal?: AbortSignal }): Promise<void>;
  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: ExecutorListener): () => void;
  stats(): ExecutorStats;
  /** Instances one owner runs right now. */
  runningFor(owner: string): number;
  /**
   * Takes up to `slots` slots out of the shared capacity for `group` (replacing what it held) and answers how many it
   * got: never more than are not reserved by other groups. Running shared instances finish where they are.
   */
  reserve(group: string, slots: number): number;
  /** Returns a group's slots to the shared capacity; its queued instances are cancelled. Unknown groups are a no-op. */
  release(group: string): void;
  /** Slots a group holds (0 when unknown). */
  reserved(group: string): number;
  /** Stops intake, drains or aborts running instances, frees everything. Idempotent. */
  close(options?: ExecutorCloseOptions): Promise<void>;
}

export class ExecutorClosedError extends Error {
  override readonly name = 'ExecutorClosedError';
  readonly code = 'ExecutorClosed';
}
