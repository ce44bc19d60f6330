/** Why an instance failed; each cause has its own code so the scheduler and the user can tell them apart. */
export type RunnerErrorCode =
  | 'NonZeroExit'
  | 'KilledBySignal'
  | 'OutOfMemory'
  | 'MissingCommand'
  | 'MissingImage'
  | 'RuntimeUnavailable'
  | 'StagingFailed'
  | 'UploadFailed'
  | 'DiskFull'
  | 'Aborted'
  | 'Lost';

/** The serialisable form of a {@link RunnerError} (what an instance result carries). */
export interface RunnerErrorInfo {
  readonly code: RunnerErrorCode;
  readonly message: string;
}

export class RunnerError extends Error {
  override readonly name = 'RunnerError';
  constructor(
    readonly code: RunnerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toJSON(): RunnerErrorInfo {
    return { code: this.code, message: this.message };
  }
}

/** Structural guard: survives two copies of the package. */
export function isRunnerError(e: unknown): e is RunnerError {
  return e instanceof Error && e.name === 'RunnerError' && typeof (e as { code?: unknown }).code === 'string';
}

/** Node's ENOSPC/EDQUOT: the disk (or quota) is full. */
export function isDiskFullError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
