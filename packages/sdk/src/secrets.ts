import type { HttpClient } from './internal/http-client.js';

/** `{ signal }` of secret calls. */
export interface SecretCallOptions {
  /** Cancels the call; it then rejects with an `AbortError`. */
  readonly signal?: AbortSignal | undefined;
}

/** Keys may contain `/` (nested secrets): each segment is encoded, the slashes kept. */
function keyPath(key: string): string {
  return key
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .map(encodeURIComponent)
    .join('/');
}

/**
 * The secrets manager (Python: `qarnot.secrets.Secrets`), reached as `connection.secrets`. Tasks and pools read
 * secrets they are granted through `secretsAccessRights`.
 */
export class Secrets {
  /** @internal */
  constructor(private readonly http: HttpClient) {}

  /** A secret's value; throws `SecretNotFoundError`. */
  async getSecret(key: string, options: SecretCallOptions = {}): Promise<string> {
    const res = await this.http.json<{ value: string }>({
      method: 'GET',
      path: `/secrets-manager/data/${keyPath(key)}`,
      subject: 'secret',
      signal: options.signal,
    });
    return res.value;
  }

  /** Creates a secret; throws `SecretConflictError` when it exists. Returns the key. */
  async createSecret(key: string, value: string, options: SecretCallOptions = {}): Promise<string> {
    await this.http.request({
      method: 'PUT',
      path: `/secrets-manager/data/${keyPath(key)}`,
      body: { value },
      subject: 'secret',
      signal: options.signal,
    });
    return key;
  }

  /** Changes a secret's value; throws `SecretNotFoundError`. */
  async updateSecret(key: string, value: string, options: SecretCallOptions = {}): Promise<void> {
    await this.http.request({
      method: 'PATCH',
      path: `/secrets-manager/data/${keyPath(key)}`,
      body: { value },
      idempotent: true,
      subject: 'secret',
      signal: options.signal,
    });
  }

  /** Deletes a secret; throws `SecretNotFoundError`. */
  async deleteSecret(key: string, options: SecretCallOptions = {}): Promise<void> {
    await this.http.request({ method: 'DELETE', path: `/secrets-manager/data/${keyPath(key)}`, subject: 'secret', signal: options.signal });
  }

  /**
   * Keys under a prefix, each prefixed with `prefix/`; folders end with `/` unless `recursive`, which descends into
   * them and returns only secrets.
   */
  async listSecrets(prefix = '', options: SecretCallOptions & { recursive?: boolean } = {}): Promise<string[]> {
    const clean = prefix.replace(/^\/+|\/+$/g, '');
    const res = await this.http.json<{ keys: string[] }>({
      method: 'GET',
      path: `/secrets-manager/search/${clean === '' ? '' : keyPath(clean)}`,
      subject: 'secret',
      signal: options.signal,
    });
    const out: string[] = [];
    for (const k of res.keys ?? []) {
      const full = clean === '' ? k : `${clean}/${k}`;
      if (options.recursive && full.endsWith('/')) out.push(...(await this.listSecrets(full, options)));
      else out.push(full);
    }
    return out;
  }
}
