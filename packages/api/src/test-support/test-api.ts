import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Store, type User } from '@hearth/store';
import { ApiServer } from '../api-server.js';
import type { ApiOptions, ProfileDefinition } from '../api-options.js';

export const TEST_PROFILES: ProfileDefinition[] = [
  { name: 'docker-batch', constants: [{ name: 'DOCKER_CMD', value: 'true', description: 'command' }] },
];

/** A real API on a real SQLite file in a temp dir, listening on a free port. */
export interface TestApi {
  readonly url: string;
  readonly store: Store;
  readonly api: ApiServer;
  readonly user: User;
  readonly dir: string;
  /** Adds a user and returns it. */
  addUser(email: string): Promise<User>;
  /** `fetch` against the API with a user's token (the default user's unless `token` is given). */
  call(method: string, path: string, options?: { body?: unknown; token?: string | null; headers?: Record<string, string> }): Promise<TestResponse>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface TestResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The parsed JSON body (undefined when empty or not JSON). */
  readonly json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export async function startTestApi(options: Partial<Omit<ApiOptions, 'store'>> = {}): Promise<TestApi> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hearth-api-'));
  const store = await Store.open({ file: path.join(dir, 'hearth.db'), secretsKey: randomBytes(32) });
  const api = new ApiServer({
    store,
    profiles: options.profiles ?? TEST_PROFILES,
    hardware: options.hardware ?? { cores: 2, memoryMB: 4096, cpuModel: 'Test CPU @ 2.00GHz', gpu: false },
    storage: options.storage ?? { url: () => 'http://127.0.0.1:1' },
    ...(options.quotas ? { quotas: options.quotas } : {}),
    ...(options.hooks ? { hooks: options.hooks } : {}),
    ...(options.maxBodyBytes ? { maxBodyBytes: options.maxBodyBytes } : {}),
  });
  const url = await api.listen({ port: 0 });
  const user = await store.createUser({ email: 'alice@example.com', token: 'alice-token' });
  const call: TestApi['call'] = async (method, p, o = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    const token = o.token === undefined ? user.token : o.token;
    if (token !== null) headers['authorization'] = token;
    let body: string | undefined;
    if (o.body !== undefined) {
      body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(url + p, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  };
  const close = async () => {
    await api.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return {
    url,
    store,
    api,
    user,
    dir,
    addUser: (email) => store.createUser({ email, token: `${email}-token` }),
    call,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A minimal valid task body. */
export function taskBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'render', profile: 'docker-batch', instanceCount: 1, ...overrides };
}
