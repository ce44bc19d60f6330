/**
 * Hearth's scheduler: task state machines over a durable store, dispatch to an executor, logs, recovery.
 *
 * @example
 * ```ts
 * const scheduler = new Scheduler({ store, executor, logs: new LogStore({ dir }), profiles });
 * await scheduler.start();
 * await scheduler.taskCreated(uuid);
 * ```
 * @module
 */
export { Scheduler, type SchedulerOptions, type SnapshotRecord, type ProfileTemplate } from './scheduler.js';
export { LogStore, type LogStoreOptions, type LogSlice, type LogStreamName } from './log-store.js';
export { TaskRun, MAX_COMPLETED_IN_DOC } from './task-run.js';
