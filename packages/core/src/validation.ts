import type { z } from 'zod';
import { normalizeInput } from './normalize-input.js';

/** A request that does not match its schema; `field` is the dotted path of the first offending value. */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  constructor(
    message: string,
    readonly field: string | undefined,
  ) {
    super(message);
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

/** Normalises case, validates, and returns the typed value or throws a {@link ValidationError} naming the field. */
export function validateInput<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(normalizeInput(schema, value));
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = formatPath(issue.path);
  const label = field === '' ? what : `${what} field '${field}'`;
  throw new ValidationError(`Invalid ${label}: ${describeIssue(issue)}`, field || undefined);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${issue.expected}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_union':
      return 'does not match any accepted shape';
    default:
      return issue.message;
  }
}
