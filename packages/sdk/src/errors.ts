/**
 * The SDK's errors, mirroring `qarnot.exceptions` under one root, {@link QarnotError}.
 *
 * They sit in one file on purpose (an exception to "one class per file"): they are a closed family of
 * tiny classes, and the single mapping from HTTP responses to them, {@link fromResponse}, must see them all.
 *
 * Every error has a machine-readable `code`. Check errors with the structural guards (`isMissingTaskError(e)`)
 * rather than `instanceof`: the guards keep working when two copies of the SDK are loaded.
 * @module
 */

import { assertNever } from './internal/states.js';

const BRAND = Symbol.for('@hearth/sdk.error');

/** Machine-readable codes of {@link QarnotError}. */
export type QarnotErrorCode =
  | 'generic'
  | 'service_unavailable'
  | 'hardware_constraint'
  | 'unauthorized'
  | 'missing_task'
  | 'missing_task_instance'
  | 'max_task'
  | 'not_enough_credits'
  | 'missing_bucket'
  | 'bucket_storage_unavailable'
  | 'missing_pool'
  | 'missing_pool_instance'
  | 'max_pool'
  | 'missing_job'
  | 'max_job'
  | 'missing_profile'
  | 'missing_project'
  | 'secret_not_found'
  | 'secret_conflict'
  | 'invalid_argument'
  | 'already_submitted'
  | 'not_submitted'
  | 'summary_not_hydrated'
  | 'aborted'
  | 'timeout'
  | 'network';

/** What the server answered, kept on errors that come from an HTTP response. */
export interface ResponseMetadata {
  /** HTTP method of the failed request. */
  readonly method: string;
  /** Full URL of the failed request. */
  readonly url: string;
  /** HTTP status. */
  readonly status: number;
  /** Response body as text (truncated to 4 KiB). */
  readonly body: string;
}

/** Options of every {@link QarnotError} constructor. */
export interface QarnotErrorOptions {
  /** The underlying error. */
  cause?: unknown;
  /** The HTTP response this error was made from. */
  response?: ResponseMetadata;
}

/** Root of every error the SDK throws (Python: `QarnotException`). */
export class QarnotError extends Error {
  /** Machine-readable code. */
  readonly code: QarnotErrorCode;
  /** HTTP status when the error came from a response. */
  readonly status: number | undefined;
  /** The response this error came from, if any. */
  readonly response: ResponseMetadata | undefined;

  constructor(code: QarnotErrorCode, message: string, options: QarnotErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.response = options.response;
    this.status = options.response?.status;
    this.name = new.target.name;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** API error with no more specific class (Python: `QarnotGenericException`). */
export class QarnotGenericError extends QarnotError {
  constructor(message: string, options: QarnotErrorOptions & { code?: 'generic' | 'service_unavailable' | 'hardware_constraint' } = {}) {
    super(options.code ?? 'generic', message, options);
  }
}
/** Invalid or missing credentials, or an action the credentials do not allow (Python: `UnauthorizedException`). */
export class UnauthorizedError extends QarnotError {
  constructor(message = 'Unauthorized', options: QarnotErrorOptions = {}) {
    super('unauthorized', message, options);
  }
}
/** The task does not exist (Python: `MissingTaskException`). */
export class MissingTaskError extends QarnotError {
  constructor(message: string, options: QarnotErrorOptions = {}) {
    super('missing_task', message, options);
  }
}
/** The task instance does not exist (Python: `MissingTaskInstanceException`). */
export class MissingTaskInstanceError extends QarnotError {
  constructor(message: string, options: QarnotErrorOptions = {}) {
    super('missing_task_instance', message, options);
  }
}
/** The task quota is reached (Python: `MaxTaskException`). */
export class MaxTaskError extends QarnotError {
  constructor(message: string, options: QarnotErrorOptions = {}) {
    super('max_task', message, options);
  }
}
/** Not enough credits (Python: `NotEnoughCreditsException`). */
export class NotEnoughCreditsError extends QarnotError {
  constructor(message: string, options: QarnotErrorOptions = {}) {
    super('not_enough_credits', message, options);
  }
}
/** The bucket does not exist (Python: `MissingBucketException`). */
export class MissingBucketError extends QarnotError {
  constructor(message: string, options: QarnotErrorOptions = {}) {
    super('missing_bucket', message, options);
  }
}
/** The server has no storage (`GET /settings` answered `storage: null`) (Python: `BucketStorageUnavailableException`). */
export class BucketStorageUnavailableError extends QarnotError {
  constructor(message = 'Bucket storage is not available on this server', options: QarnotErrorOptions = {}) {
    super('bucket_storage_unavailable', message, options);
  }
}
/** The pool does not exist (Python: `MissingPoolException`). */
export class MissingPoolError extends QarnotError {
  constructor(message: string, options: QarnotErrorOptions = {}) {
    super('missing_pool', message, options);
  }
}
/** The pool instance does not exist (Python: `MissingPoolInstanceException`). */
export class MissingPoolInstanceError extends QarnotError {
  constructor(message: string, options: QarnotErrorOptions = {}) {
    super('missing_pool_instance', message, options);
  }
}
/** The pool quota is reached (Python: `MaxPoolException`). */
export class MaxPoolError extends QarnotError {
  constructor(message: string, options: QarnotErrorOptions = {}) {
    super('max_pool', message, options);
  }
}
/** The job does not exist (Python: `MissingJobException`). */
export class MissingJobError extends QarnotError {
  constructor(message: string, options: QarnotErrorOptions = {}) {
    super('missing_job', message, options);
  }
}
/** The job quota is reached (Python: `MaxJobException`). */
export class MaxJobError extends QarnotError {
  constructor(message: string, options: QarnotErrorOptions = {}) {
    super('max_job', message, options);
  }
}
/** The profile does not exist (Python: `MissingProfileException`). */
export class MissingProfileError extends QarnotError {
  constructor(message: string, options: QarnotErrorOptions = {}) {
    super('missing_profile', message, options);
  }
}
/** The project does not exist (Python: `MissingProjectException`). */
export class MissingProjectError extends QarnotError {
  constructor(message: string, options: QarnotErrorOptions = {}) {
    super('missing_project', message, options);
  }
}
/** The secret does not exist (Python: `SecretNotFoundException`). */
export class SecretNotFoundError extends QarnotError {
  constructor(message: string, options: QarnotErrorOptions = {}) {
    super('secret_not_found', message, options);
  }
}
/** The secret already exists (Python: `SecretConflictException`). */
export class SecretConflictError extends QarnotError {
  constructor(message: string, options: QarnotErrorOptions = {}) {
    super('secret_conflict', message, options);
  }
}

/** An argument failed client-side validation; nothing was sent (Python: `ValueError`/`TypeError`). */
export class InvalidArgumentError extends QarnotError {
  /** The argument or property at fault, e.g. `advancedRange`. */
  readonly argument: string;
  constructor(argument: string, message: string, options: QarnotErrorOptions = {}) {
    super('invalid_argument', `${argument}: ${message}`, options);
    this.argument = argument;
  }
}

/** A property that can only be set before submission was set on a submitted object (Python: `AttributeError`). */
export class AlreadySubmittedError extends QarnotError {
  /** The property that was set. */
  readonly property: string;
  constructor(property: string, options: QarnotErrorOptions = {}) {
    super('already_submitted', `can't set ${property} on a submitted object: it can only be set before submit()`, options);
    this.property = property;
  }
}

/** An operation that needs a submitted object was called before `submit()`. */
export class NotSubmittedError extends QarnotError {
  constructor(operation: string, options: QarnotErrorOptions = {}) {
    super('not_submitted', `${operation} needs a submitted object: call submit() first`, options);
  }
}

/** A property that summaries do not carry was read on an object listed as a summary: `await x.update()` first. */
export class SummaryNotHydratedError extends QarnotError {
  /** The property that was read. */
  readonly property: string;
  constructor(property: string) {
    super('summary_not_hydrated', `${property} is not part of a summary: call await update() first`);
    this.property = property;
  }
}

/** The operation was cancelled through its `AbortSignal`; `cause` is the signal's reason. */
export class AbortError extends QarnotError {
  constructor(cause?: unknown) {
    super('aborted', 'The operation was aborted', { cause });
  }
}

/** A request or wait exceeded its time limit. */
export class RequestTimeoutError extends QarnotError {
  constructor(message: string, options: QarnotErrorOptions = {}) {
    super('timeout', message, options);
  }
}

/** The connection failed (refused, reset, DNS...) and could not be retried safely or ran out of retries. */
export class NetworkError extends QarnotError {
  constructor(message: string, options: QarnotErrorOptions = {}) {
    super('network', message, options);
  }
}

// ---- structural guards -------------------------------------------------------------------------------------------

/** True for any error thrown by this SDK (any copy of it). */
export function isQarnotError(e: unknown): e is QarnotError {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
}
const guard =
  <T extends QarnotError>(...codes: QarnotErrorCode[]) =>
  (e: unknown): e is T =>
    isQarnotError(e) && codes.includes(e.code);

/** True for {@link QarnotGenericError} (including its service-unavailable and hardware-constraint codes). */
export const isQarnotGenericError = guard<QarnotGenericError>('generic', 'service_unavailable', 'hardware_constraint');
/** True for {@link UnauthorizedError}. */
export const isUnauthorizedError = guard<UnauthorizedError>('unauthorized');
/** True for {@link MissingTaskError}. */
export const isMissingTaskError = guard<MissingTaskError>('missing_task');
/** True for {@link MissingTaskInstanceError}. */
export const isMissingTaskInstanceError = guard<MissingTaskInstanceError>('missing_task_instance');
/** True for {@link MaxTaskError}. */
export const isMaxTaskError = guard<MaxTaskError>('max_task');
/** True for {@link NotEnoughCreditsError}. */
export const isNotEnoughCreditsError = guard<NotEnoughCreditsError>('not_enough_credits');
/** True for {@link MissingBucketError}. */
export const isMissingBucketError = guard<MissingBucketError>('missing_bucket');
/** True for {@link BucketStorageUnavailableError}. */
export const isBucketStorageUnavailableError = guard<BucketStorageUnavailableError>('bucket_storage_unavailable');
/** True for {@link MissingPoolError}. */
export const isMissingPoolError = guard<MissingPoolError>('missing_pool');
/** True for {@link MissingPoolInstanceError}. */
export const isMissingPoolInstanceError = guard<MissingPoolInstanceError>('missing_pool_instance');
/** True for {@link MaxPoolError}. */
export const isMaxPoolError = guard<MaxPoolError>('max_pool');
/** True for {@link MissingJobError}. */
export const isMissingJobError = guard<MissingJobError>('missing_job');
/** True for {@link MaxJobError}. */
export const isMaxJobError = guard<MaxJobError>('max_job');
/** True for {@link MissingProfileError}. */
export const isMissingProfileError = guard<MissingProfileError>('missing_profile');
/** True for {@link MissingProjectError}. */
export const isMissingProjectError = guard<MissingProjectError>('missing_project');
/** True for {@link SecretNotFoundError}. */
export const isSecretNotFoundError = guard<SecretNotFoundError>('secret_not_found');
/** True for {@link SecretConflictError}. */
export const isSecretConflictError = guard<SecretConflictError>('secret_conflict');
/** True for {@link InvalidArgumentError}. */
export const isInvalidArgumentError = guard<InvalidArgumentError>('invalid_argument');
/** True for {@link AlreadySubmittedError}. */
export const isAlreadySubmittedError = guard<AlreadySubmittedError>('already_submitted');
/** True for {@link NotSubmittedError}. */
export const isNotSubmittedError = guard<NotSubmittedError>('not_submitted');
/** True for {@link SummaryNotHydratedError}. */
export const isSummaryNotHydratedError = guard<SummaryNotHydratedError>('summary_not_hydrated');
/** True for {@link AbortError}. */
export const isAbortError = guard<AbortError>('aborted');
/** True for {@link RequestTimeoutError}. */
export const isRequestTimeoutError = guard<RequestTimeoutError>('timeout');
/** True for {@link NetworkError}. */
export const isNetworkError = guard<NetworkError>('network');

// ---- the one mapping from responses to errors ---------------------------------------------------------------------

/** Which entity a request was about: selects the `Missing*`/`Max*` classes of reference §1.3. */
export type ErrorSubject =
  | 'task'
  | 'task-instance'
  | 'pool'
  | 'pool-instance'
  | 'job'
  | 'profile'
  | 'project'
  | 'secret'
  | 'other';

/** What a request did: submits map 404/402/403 differently (reference §1.3). */
export type ErrorOperation = 'submit' | 'periodic-snapshot' | 'other';

/** The parts of a failed response {@link fromResponse} needs. */
export interface FailedResponse {
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly statusText: string;
  readonly body: string;
}

/**
 * Extracts the server's message: JSON `message`, `error` (string or `{message}`), ProblemDetails `detail`/`title`
 * plus its `errors` map, else the raw text, else the reason phrase.
 */
export function errorMessageOf(body: string, statusText: string): string {
  const text = body.trim();
  if (text.startsWith('{')) {
    try {
      const json = JSON.parse(text) as Record<string, unknown>;
      const parts: string[] = [];
      const err = json['error'];
      const first =
        str(json['message']) ??
        str(err) ??
        (typeof err === 'object' && err !== null ? str((err as Record<string, unknown>)['message']) : undefined) ??
        str(json['detail']) ??
        str(json['title']);
      if (first) parts.push(first);
      const errors = json['errors'];
      if (typeof errors === 'object' && errors !== null && !Array.isArray(errors)) {
        for (const [k, v] of Object.entries(errors)) {
          parts.push(`${k}: ${Array.isArray(v) ? v.join(' ') : String(v)}`);
        }
      }
      if (parts.length > 0) return parts.join('; ');
    } catch {
      // not JSON after all: fall through to the raw text
    }
  }
  return text !== '' ? text : statusText;
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * Turns a non-2xx response into the right error: the one place where statuses and the documented message rules
 * of reference §1.3 become classes.
 */
export function fromResponse(
  response: FailedResponse,
  context: { subject: ErrorSubject; operation?: ErrorOperation },
): QarnotError {
  const message = errorMessageOf(response.body, response.statusText);
  const opts: QarnotErrorOptions = {
    response: {
      method: response.method,
      url: response.url,
      status: response.status,
      body: response.body.slice(0, 4096),
    },
  };
  const lower = message.toLowerCase();
  const { subject, operation = 'other' } = context;
  const status = response.status;

  if (status === 401) return new UnauthorizedError(message, opts);
  if (operation === 'submit') {
    if (status === 404) {
      return subject === 'job' ? new MissingJobError(message, opts) : new MissingBucketError(message, opts);
    }
    if (status === 403) {
      if (subject === 'task' && lower.includes('maximum number of tasks reached')) return new MaxTaskError(message, opts);
      if (subject === 'pool' && lower.includes('maximum number of pools reached')) return new MaxPoolError(message, opts);
      if (subject === 'job' && lower.includes('maximum number of jobs reached')) return new MaxJobError(message, opts);
      return new UnauthorizedError(message, opts);
    }
    if (status === 402) {
      if (subject === 'task' && lower.includes('hardware constraint')) {
        return new QarnotGenericError(message, { ...opts, code: 'hardware_constraint' });
      }
      return new NotEnoughCreditsError(message, opts);
    }
  }
  if (operation === 'periodic-snapshot' && status === 400) return new InvalidArgumentError('interval', message, opts);
  if (status === 404) {
    switch (subject) {
      case 'task':
        return new MissingTaskError(message, opts);
      case 'task-instance':
        return new MissingTaskInstanceError(message, opts);
      case 'pool':
        return new MissingPoolError(message, opts);
      case 'pool-instance':
        return new MissingPoolInstanceError(message, opts);
      case 'job':
        return new MissingJobError(message, opts);
      case 'profile':
        return new MissingProfileError(message, opts);
      case 'project':
        return new MissingProjectError(message, opts);
      case 'secret':
        return new SecretNotFoundError(message, opts);
      case 'other':
        return new QarnotGenericError(message, opts);
      default:
        return assertNever(subject);
    }
  }
  if (status === 409 && subject === 'secret') return new SecretConflictError(message, opts);
  if (status === 503) return new QarnotGenericError(message || 'Service Unavailable', { ...opts, code: 'service_unavailable' });
  if (status === 403) return new UnauthorizedError(message, opts);
  return new QarnotGenericError(message, opts);
}
