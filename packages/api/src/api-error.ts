import { ERROR_STATUS, ValidationError, type ErrorCode } from '@hearth/core';
import { StoreConflictError, StoreInputError } from '@hearth/store';

/** An error the API answers with: `code` picks the HTTP status from the one table in `@hearth/core`. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export const badRequest = (message: string, field?: string) => new ApiError('invalid_request', message, field);
export const notFound = (message: string) => new ApiError('not_found', message);

/** Maps anything thrown by a handler to an ApiError; unknown throws become a 500 that leaks nothing. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof ValidationError) return new ApiError('invalid_request', e.message, e.field);
  if (e instanceof StoreInputError) return new ApiError('invalid_request', `Invalid ${e.field}: ${e.message}`, e.field);
  if (e instanceof StoreConflictError) return new ApiError('conflict', `Conflict on ${e.field}: ${e.message}`, e.field);
  return new ApiError('internal', 'Internal server error');
}

/** The one error body: `{"message": ...}` as every Qarnot client reads it, plus our code and field. */
export function errorBody(e: ApiError): string {
  return JSON.stringify({ message: e.message, code: e.code, ...(e.field ? { field: e.field } : {}) });
}
