import type { ServerFeatures } from '../connection.js';
import type { HttpClient } from './http-client.js';
import { readLog, type LogRead } from './instance-logs.js';

/**
 * Follows one log stream. On a Hearth server it reads by offset (`GET ...?offset=N`, answered with
 * `Hearth-Log-Next-Offset`): stateless, any number of followers, the shared "fresh" cursor untouched. On servers
 * without offset reads it falls back to the seed's fresh reads (`POST`), which advance a cursor shared by all clients.
 */
export class LogCursor {
  private offset = 0;

  constructor(
    private readonly http: HttpClient,
    private readonly features: ServerFeatures,
    private readonly target: Omit<LogRead, 'fresh' | 'signal'>,
  ) {}

  /** Text written since the previous call (everything retained on the first). */
  async next(signal: AbortSignal | undefined): Promise<string> {
    const { collection, uuid, kind, instanceId } = this.target;
    if (this.features.logOffsets !== false) {
      const res = await this.http.request({
        method: 'GET',
        path: `/${collection}/${encodeURIComponent(uuid)}/${kind}${instanceId !== undefined ? `/${instanceId}` : ''}`,
        query: { offset: this.offset },
        subject: collection === 'tasks' ? (instanceId !== undefined ? 'task-instance' : 'task') : instanceId !== undefined ? 'pool-instance' : 'pool',
        signal,
      });
      const next = res.headers['hearth-log-next-offset'];
      if (typeof next === 'string' && /^\d+$/.test(next)) {
        this.features.logOffsets = true;
        this.offset = Number(next);
        return res.body;
      }
      // The server ignored `offset`: that body was the whole buffer. Use fresh reads from now on.
      this.features.logOffsets = false;
    }
    return readLog(this.http, { ...this.target, fresh: true, signal });
  }
}
