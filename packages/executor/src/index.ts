/**
 * Hearth executors: where instances run. {@link LocalExecutor} runs them on this machine through the runner,
 * in-process; every executor implements {@link Executor} and passes the conformance suite.
 *
 * @example
 * ```ts
 * import { LocalExecutor } from '@hearth/executor';
 * await using ex = new LocalExecutor({ workRoot: '.hearth/work', blobStore, slots: 4 });
 * ex.subscribe((e) => e.type === 'task-drained' && console.log('done', e.taskUuid));
 * await ex.submit({ taskUuid, owner, instances: [{ start: 0, end: 9 }], template });
 * ```
 * @module
 */
export * from './executor.js';
export { LocalExecutor, type LocalExecutorOptions } from './local-executor.js';
export { FairQueue, type Dequeued } from './fair-queue.js';
export { PriorityQueue } from './priority-queue.js';
