/**
 * Automatic retries of failed instances (Python: `qarnot.retry_settings.RetrySettings`). `null` or 0 means no retry;
 * when both are set the more restrictive applies.
 */
export interface RetrySettings {
  /** Retries over the whole task. @default null */
  readonly maxTotalRetries: number | null;
  /** Retries per instance. @default null */
  readonly maxPerInstanceRetries: number | null;
}

/** Privileges granted to a task or pool (Python: `qarnot.privileges.Privileges`). */
export interface Privileges {
  /** Export the API and storage credentials into the instances' environment. @default false */
  readonly exportApiAndStorageCredentialsInEnvironment: boolean;
}
