import { RUNNING_TASK_STATES as RUNNING } from '@hearth/core/lite';

/** The states in which `wait()` keeps waiting, as the Python SDK's `RUNNING_DOWNLOADING_STATES`. */
export const RUNNING_TASK_STATES: ReadonlySet<string> = new Set<string>(RUNNING);

export { assertNever } from '@hearth/core/lite';
