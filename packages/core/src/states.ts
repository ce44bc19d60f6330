/** Task states as the Qarnot API reports them (reference §3.1). `UnSubmitted` and `Deleted` are client-side only. */
export const TASK_STATES = [
  'Submitted',
  'PartiallyDispatched',
  'FullyDispatched',
  'PartiallyExecuting',
  'FullyExecuting',
  'DownloadingResults',
  'UploadingResults',
  'Success',
  'Failure',
  'PendingCancel',
  'Cancelled',
  'PendingDelete',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** The states in which the Python SDK's `wait()` keeps waiting. */
export const RUNNING_TASK_STATES: readonly TaskState[] = [
  'Submitted',
  'PartiallyDispatched',
  'FullyDispatched',
  'PartiallyExecuting',
  'FullyExecuting',
  'DownloadingResults',
  'UploadingResults',
];

export function isFinalTaskState(state: TaskState): boolean {
  switch (state) {
    case 'Success':
    case 'Failure':
    case 'Cancelled':
      return true;
    case 'Submitted':
    case 'PartiallyDispatched':
    case 'FullyDispatched':
    case 'PartiallyExecuting':
    case 'FullyExecuting':
    case 'DownloadingResults':
    case 'UploadingResults':
    case 'PendingCancel':
    case 'PendingDelete':
      return false;
    default:
      return assertNever(state);
  }
}

export const POOL_STATES = [
  'Submitted',
  'PartiallyDispatched',
  'FullyDispatched',
  'PartiallyExecuting',
  'FullyExecuting',
  'Closing',
  'Closed',
  'Failure',
  'PendingDelete',
] as const;
export type PoolState = (typeof POOL_STATES)[number];

export const JOB_STATES = ['Active', 'Terminating', 'Completed', 'Deleting'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** Exhaustiveness guard for `switch` statements over unions. */
export function assertNever(value: never): never {
  throw new Error(`Unexpected value: ${JSON.stringify(value)}`);
}
