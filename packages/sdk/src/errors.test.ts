import { describe, expect, it } from 'vitest';
import {
  AbortError,
  InvalidArgumentError,
  MissingTaskError,
  QarnotError,
  errorMessageOf,
  fromResponse,
  isAbortError,
  isMaxTaskError,
  isMissingTaskError,
  isQarnotError,
  isQarnotGenericError,
  type ErrorOperation,
  type ErrorSubject,
} from './errors.js';

const res = (status: number, body: unknown, statusText = 'Reason') => ({
  method: 'POST',
  url: 'http://h/tasks',
  status,
  statusText,
  body: typeof body === 'string' ? body : JSON.stringify(body),
});
const map = (status: number, message: string, on: { subject: ErrorSubject; operation?: ErrorOperation | undefined }) =>
  fromResponse(res(status, { message }), { subject: on.subject, ...(on.operation ? { operation: on.operation } : {}) });

describe('fromResponse (reference §1.3)', () => {
  it.each([
    [404, 'no bucket', 'task', 'submit', 'MissingBucketError', 'missing_bucket'],
    [403, 'Maximum number of tasks reached', 'task', 'submit', 'MaxTaskError', 'max_task'],
    [403, 'maximum NUMBER of tasks reached!', 'task', 'submit', 'MaxTaskError', 'max_task'],
    [403, 'forbidden', 'task', 'submit', 'UnauthorizedError', 'unauthorized'],
    [402, 'Not enough credits', 'task', 'submit', 'NotEnoughCreditsError', 'not_enough_credits'],
    [402, 'invalid hardware constraint', 'task', 'submit', 'QarnotGenericError', 'hardware_constraint'],
    [403, 'Maximum number of pools reached', 'pool', 'submit', 'MaxPoolError', 'max_pool'],
    [402, 'no credits', 'pool', 'submit', 'NotEnoughCreditsError', 'not_enough_credits'],
    [404, 'no bucket', 'pool', 'submit', 'MissingBucketError', 'missing_bucket'],
    [404, 'no such job', 'job', 'submit', 'MissingJobError', 'missing_job'],
    [403, 'Maximum number of jobs reached', 'job', 'submit', 'MaxJobError', 'max_job'],
    [404, 'gone', 'task', undefined, 'MissingTaskError', 'missing_task'],
    [404, 'gone', 'task-instance', undefined, 'MissingTaskInstanceError', 'missing_task_instance'],
    [404, 'gone', 'pool', undefined, 'MissingPoolError', 'missing_pool'],
    [404, 'gone', 'pool-instance', undefined, 'MissingPoolInstanceError', 'missing_pool_instance'],
    [404, 'gone', 'job', undefined, 'MissingJobError', 'missing_job'],
    [404, 'gone', 'profile', undefined, 'MissingProfileError', 'missing_profile'],
    [404, 'gone', 'project', undefined, 'MissingProjectError', 'missing_project'],
    [404, 'gone', 'secret', undefined, 'SecretNotFoundError', 'secret_not_found'],
    [409, 'exists', 'secret', undefined, 'SecretConflictError', 'secret_conflict'],
    [403, 'nope', 'task', undefined, 'UnauthorizedError', 'unauthorized'],
    [401, 'bad token', 'task', 'submit', 'UnauthorizedError', 'unauthorized'],
    [503, 'down', 'task', undefined, 'QarnotGenericError', 'service_unavailable'],
    [400, 'bad interval', 'task', 'periodic-snapshot', 'InvalidArgumentError', 'invalid_argument'],
    [400, 'bad input', 'task', undefined, 'QarnotGenericError', 'generic'],
    [500, 'boom', 'other', undefined, 'QarnotGenericError', 'generic'],
    // eslint-disable-next-line max-params -- it.each spreads a table row's columns into the callback's parameters
  ] as const)('%i %j on %s/%s → %s', (status, message, subject, operation, name, code) => {
    const e = map(status, message, { subject, operation });
    expect(e.name).toBe(name);
    expect(e.code).toBe(code);
    expect(e.status).toBe(status);
    expect(e.message).toContain(message);
    expect(e).toBeInstanceOf(QarnotError);
  });

  it('keeps the response on the error', () => {
    const e = map(404, 'gone', { subject: 'task' });
    expect(e.response).toEqual({ method: 'POST', url: 'http://h/tasks', status: 404, body: '{"message":"gone"}' });
  });
});

describe('errorMessageOf', () => {
  it('reads message, error, error.message, ProblemDetails, raw text, then the reason phrase', () => {
    expect(errorMessageOf('{"message":"m"}', 'R')).toBe('m');
    expect(errorMessageOf('{"error":"e"}', 'R')).toBe('e');
    expect(errorMessageOf('{"error":{"message":"nested"}}', 'R')).toBe('nested');
    expect(errorMessageOf('{"title":"One or more validation errors occurred.","errors":{"policies[0]":["The input was not valid."]}}', 'R')).toBe(
      'One or more validation errors occurred.; policies[0]: The input was not valid.',
    );
    expect(errorMessageOf('{"detail":"d","title":"t"}', 'R')).toBe('d');
    expect(errorMessageOf('plain text', 'R')).toBe('plain text');
    expect(errorMessageOf('', 'Service Unavailable')).toBe('Service Unavailable');
    expect(errorMessageOf('{not json', 'R')).toBe('{not json');
  });
});

describe('structural guards', () => {
  it('recognise errors by brand and code, not by class identity', () => {
    const e = new MissingTaskError('gone');
    expect(isMissingTaskError(e)).toBe(true);
    expect(isQarnotError(e)).toBe(true);
    expect(isMaxTaskError(e)).toBe(false);
    // What a second copy of the SDK would throw: same brand symbol (Symbol.for), same code, another class.
    const foreign = Object.assign(new Error('gone'), { code: 'missing_task' });
    Object.defineProperty(foreign, Symbol.for('@hearth/sdk.error'), { value: true });
    expect(isMissingTaskError(foreign)).toBe(true);
    expect(isMissingTaskError(Object.assign(new Error('x'), { code: 'missing_task' }))).toBe(false);
    expect(isMissingTaskError(null)).toBe(false);
    expect(isQarnotGenericError(map(503, 'x', { subject: 'task' }))).toBe(true);
  });

  it('AbortError carries the signal reason as cause; InvalidArgumentError names the argument', () => {
    const reason = new Error('user cancelled');
    const a = new AbortError(reason);
    expect(isAbortError(a)).toBe(true);
    expect(a.cause).toBe(reason);
    const i = new InvalidArgumentError('advancedRange', 'bad');
    expect(i.argument).toBe('advancedRange');
    expect(i.message).toBe('advancedRange: bad');
  });
});
