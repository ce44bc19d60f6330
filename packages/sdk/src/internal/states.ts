import type { TaskState } from '@hearth/core';

/**
 * The states in which `wait()` keeps waiting, as the Python SDK's `RUNNING_DOWNLOADING_STATES`.
 * Kept here rather than imported from `@hearth/core` at runtime: the core index loads zod (~60 ms cold).
 */
export const RUNNING_TASK_STATES: ReadonlySet<string> = new Set<TaskState>([
  'Submitted',
  'PartiallyDispatched',
  'FullyDispatched',
  'PartiallyExecuting',
  'FullyExecuting',
  'DownloadingResults',
  'UploadingResults',
]);

/** Exhaustiveness guard for `switch` statements over unions. */
export function assertNever(value: never): never {
  throw new Error(`Unexpected value: ${JSON.stringify(value)}`);
}
