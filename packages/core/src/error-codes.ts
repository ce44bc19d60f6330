/**
 * Machine-readable error codes shared by the server and the SDK, and the one table that maps them to HTTP statuses.
 * Message texts that the official SDKs string-match (reference §1.3) are in {@link QUOTA_MESSAGES}.
 */
export const ERROR_STATUS = {
  invalid_request: 400,
  unauthorized: 401,
  not_enough_credits: 402,
  hardware_constraint: 402,
  forbidden: 403,
  quota_exceeded: 403,
  not_found: 404,
  bucket_not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  too_many_requests: 429,
  internal: 500,
  unavailable: 503,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** The texts the Python SDK looks for (case-insensitively) to raise MaxTask/MaxPool/MaxJob exceptions. */
export const QUOTA_MESSAGES = {
  task: 'Maximum number of tasks reached',
  pool: 'Maximum number of pools reached',
  job: 'Maximum number of jobs reached',
} as const;
