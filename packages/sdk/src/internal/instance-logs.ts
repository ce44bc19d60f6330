import { InvalidArgumentError, type ErrorSubject } from '../errors.js';
import type { HttpClient } from './http-client.js';

/** Which stream and which read: GET = whole retained buffer, POST = what was written since the previous POST. */
export interface LogRead {
  readonly collection: 'tasks' | 'pools';
  readonly uuid: string;
  readonly kind: 'stdout' | 'stderr';
  readonly fresh: boolean;
  readonly instanceId?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Reads `/{tasks|pools}/{uuid}/{stdout|stderr}[/{instanceId}]` as text (reference §3.6). */
export async function readLog(http: HttpClient, read: LogRead): Promise<string> {
  const { collection, uuid } = read;
  const perInstance = read.instanceId !== undefined;
  if (perInstance && !(Number.isInteger(read.instanceId) && read.instanceId >= 0)) {
    throw new InvalidArgumentError('instanceId', 'must be a non-negative integer');
  }
  const subject: ErrorSubject =
    collection === 'tasks' ? (perInstance ? 'task-instance' : 'task') : perInstance ? 'pool-instance' : 'pool';
  const res = await http.request({
    method: read.fresh ? 'POST' : 'GET',
    path: `/${collection}/${encodeURIComponent(uuid)}/${read.kind}${perInstance ? `/${read.instanceId}` : ''}`,
    subject,
    signal: read.signal,
  });
  return res.body;
}
