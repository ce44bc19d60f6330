import type { ErrorJson } from '@hearth/core';

/**
 * An error reported by the platform on a task or pool (Python: `qarnot.error.Error`). Named `ErrorInfo` so it does
 * not shadow the global `Error`: it is data, not something thrown.
 */
export class ErrorInfo {
  /** Error code, e.g. `GHX0782I`. */
  readonly code: string;
  /** Human-readable message. */
  readonly message: string;
  /** Debug details, if any. */
  readonly debug: string | null;

  constructor(json: Partial<ErrorJson>) {
    this.code = json.code ?? '';
    this.message = json.message ?? '';
    this.debug = json.debug ?? null;
  }

  /** `code: message`. */
  toString(): string {
    return `${this.code}: ${this.message}`;
  }
}
