import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection } from './connection.js';
import {
  isAbortError,
  isBucketStorageUnavailableError,
  isInvalidArgumentError,
  isMissingProfileError,
  isNetworkError,
  isQarnotGenericError,
  isUnauthorizedError,
} from './errors.js';
import { HttpClient } from './internal/http-client.js';
import { RecordingServer } from './test-support/recording-server.js';
import { TASK_UUID, cloudPoolJson, cloudTaskJson, taskSummaryJson } from './test-support/fixtures.js';

let server: RecordingServer | undefined;
let conn: Connection | undefined;
afterEach(async () => {
  await conn?.close();
  await server?.close();
  conn = undefined;
  server = undefined;
});

const fast = { retryWait: 0.001 } as const;

describe('Connection.connect', () => {
  it('bootstraps with GET /settings then GET /info, sending the raw token, and keeps the base path prefix', async () => {
    server = (await RecordingServer.start('/api')).withBootstrap('http://storage.example:9000', 'me@example.com');
    conn = await Connection.connect({ clusterUrl: server.url, clientToken: 'secret-token', env: {} });
    expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /settings', 'GET /info']);
    const first = server.requests[0]!;
    expect(first.headers['authorization']).toBe('secret-token');
    expect(first.headers['user-agent']).toMatch(/^hearth-sdk-typescript\//);
    expect(first.headers['content-type']).toBeUndefined();
    expect(conn.storageUrl).toBe('http://storage.example:9000');
    expect(conn.clusterUrl).toBe(server.url);
  });

  it('reads QARNOT_* variables when options are absent, options win over them', async () => {
    server = (await RecordingServer.start()).withBootstrap(null);
    conn = await Connection.connect({
      env: { QARNOT_CLUSTER_URL: server.url, QARNOT_CLIENT_TOKEN: 'env-token', QARNOT_STORAGE_URL: 'http://s3.env', QARNOT_CLUSTER_TIMEOUT: '7', QARNOT_CLUSTER_UNSAFE: 'True' },
    });
    expect(server.requests[0]!.headers['authorization']).toBe('env-token');
    expect(conn.storageUrl).toBe('http://s3.env');
    expect(conn.http.options.timeoutMs).toBe(7000);
    expect(conn.http.options.unsafe).toBe(true);
    await conn.close();
    conn = await Connection.connect({ clientToken: 'opt', env: { QARNOT_CLUSTER_URL: server.url, QARNOT_CLIENT_TOKEN: 'env-token' } });
    expect(server.requests.at(-1)!.headers['authorization']).toBe('opt');
  });

  it('reads the Python SDK configuration file', async () => {
    server = (await RecordingServer.start()).withBootstrap(null);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sdk-conf-'));
    const file = path.join(dir, 'qarnot.conf');
    writeFileSync(file, `[cluster]\nurl=${server.url}\ntimeout=12\n[client]\nauth=file-token\n`);
    conn = await Connection.connect({ configFile: file, env: {} });
    expect(server.requests[0]!.headers['authorization']).toBe('file-token');
    expect(conn.http.options.timeoutMs).toBe(12_000);
  });

  it('fails before any request without a token, or with a bad URL', async () => {
    await expect(Connection.connect({ env: {} })).rejects.toSatisfy(isQarnotGenericError);
    await expect(Connection.connect({ clientToken: 't', clusterUrl: 'not a url', env: {} })).rejects.toSatisfy(isInvalidArgumentError);
  });

  it('storage: null from /settings makes bucket operations throw BucketStorageUnavailableError, without /info', async () => {
    server = (await RecordingServer.start()).withBootstrap(null);
    conn = await Connection.connect({ clusterUrl: server.url, clientToken: 't', env: {} });
    expect(conn.storageUrl).toBeNull();
    expect(server.find('GET /info')).toHaveLength(0);
    await expect(conn.buckets()).rejects.toSatisfy(isBucketStorageUnavailableError);
    await expect(conn.bucket('b').addString('x', 'k')).rejects.toSatisfy(isBucketStorageUnavailableError);
  });

  it('a missing storage key in /settings means the Qarnot default storage', async () => {
    server = await RecordingServer.start();
    server.on('GET /settings', { json: {} }).on('GET /info', { json: { email: 'a@b' } });
    conn = await Connection.connect({ clusterUrl: server.url, clientToken: 't', env: {} });
    expect(conn.storageUrl).toBe('https://storage.qarnot.com');
  });

  it('a /settings body that is not JSON fails with a QarnotGenericError naming the URL', async () => {
    server = await RecordingServer.start();
    server.on('GET /settings', { text: '<html>proxy login</html>' });
    await expect(Connection.connect({ clusterUrl: server.url, clientToken: 't', env: {} })).rejects.toThrow(/GET .*\/settings answered 200 with a body that is not JSON/);
  });

  it('401 on bootstrap is UnauthorizedError and is not retried', async () => {
    server = await RecordingServer.start();
    server.on('GET /settings', { status: 401, json: { message: 'bad token' } });
    await expect(Connection.connect({ clusterUrl: server.url, clientToken: 't', env: {}, ...fast })).rejects.toSatisfy(isUnauthorizedError);
    expect(server.requests).toHaveLength(1);
  });
});

describe('retries', () => {
  async function connected(): Promise<RecordingServer> {
    server = (await RecordingServer.start()).withBootstrap(null);
    conn = await Connection.connect({ clusterUrl: server.url, clientToken: 't', env: {}, retryCount: 3, ...fast });
    return server;
  }

  it('retries 429/5xx with backoff and succeeds', async () => {
    const s = await connected();
    let n = 0;
    s.on(`GET /tasks/${TASK_UUID}`, () => (++n < 3 ? { status: n === 1 ? 429 : 502, json: { message: 'later' } } : { json: cloudTaskJson() }));
    const task = await conn!.retrieveTask(TASK_UUID);
    expect(task.state).toBe('Success');
    expect(n).toBe(3);
  });

  it('gives up after retryCount and maps the last response', async () => {
    const s = await connected();
    s.on(`GET /tasks/${TASK_UUID}`, { status: 503, json: { message: 'maintenance' } });
    await expect(conn!.retrieveTask(TASK_UUID)).rejects.toMatchObject({ code: 'service_unavailable', message: 'maintenance' });
    expect(s.find(`GET /tasks/${TASK_UUID}`)).toHaveLength(4);
  });

  it('retries a dropped connection for idempotent requests only', async () => {
    const s = await connected();
    let gets = 0;
    s.on(`GET /tasks/${TASK_UUID}`, () => (++gets === 1 ? { destroy: true } : { json: cloudTaskJson() }));
    await conn!.retrieveTask(TASK_UUID);
    expect(gets).toBe(2);
    // A fresh-stdout POST moves a server-side cursor: never repeated after a dropped connection.
    s.on(`POST /tasks/${TASK_UUID}/stdout`, { destroy: true });
    const task = await conn!.retrieveTask(TASK_UUID);
    await expect(task.freshStdout()).rejects.toSatisfy(isNetworkError);
    expect(s.find(`POST /tasks/${TASK_UUID}/stdout`)).toHaveLength(1);
  });

  it('a submit (Idempotency-Key) is retried on 500, a non-idempotent POST without key is not', async () => {
    const s = await connected();
    let posts = 0;
    s.on('POST /tasks', () => (++posts === 1 ? { status: 500, json: { message: 'oops' } } : { json: { uuid: TASK_UUID } }));
    s.on(`GET /tasks/${TASK_UUID}`, { json: cloudTaskJson({ state: 'Submitted' }) });
    const task = conn!.createTask('t', { profile: 'docker-batch' });
    await task.submit();
    const keys = s.find('POST /tasks').map((r) => r.headers['idempotency-key']);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
    s.on(`POST /tasks/${TASK_UUID}/stderr`, { status: 500, json: { message: 'oops' } });
    await expect(task.freshStderr()).rejects.toMatchObject({ code: 'generic' });
    expect(s.find(`POST /tasks/${TASK_UUID}/stderr`)).toHaveLength(1);
  });

  it('backoff is exponential with jitter and honours Retry-After', () => {
    const http = new HttpClient({ baseUrl: 'http://x', token: 't', timeoutMs: 1000, unsafe: false, retryCount: 5, retryWaitMs: 1000, maxRetryWaitMs: 30_000, userAgent: 'u', random: () => 1 });
    expect([0, 1, 2, 3, 4, 5].map((a) => http.backoff(a, undefined))).toEqual([1000, 2000, 4000, 8000, 16000, 30000]);
    const low = new HttpClient({ ...http.options, random: () => 0 });
    expect(low.backoff(2, undefined)).toBe(2000);
    expect(low.backoff(0, '7')).toBe(7000);
    expect(low.backoff(0, new Date(Date.now() + 120_000).toUTCString())).toBe(60_000);
    http.close();
    low.close();
  });

  it('aborting a request rejects with AbortError carrying the reason', async () => {
    const s = await connected();
    s.on(`GET /tasks/${TASK_UUID}`, { json: cloudTaskJson(), delayMs: 5000 });
    const ac = new AbortController();
    const p = conn!.retrieveTask(TASK_UUID, { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('stop')), 50);
    const e = await p.catch((x: unknown) => x);
    expect(isAbortError(e)).toBe(true);
    expect((e as Error).cause).toEqual(new Error('stop'));
  });
});

describe('lists and account', () => {
  it('listTasks pages lazily through POST /tasks/paginate with the Python tag filters', async () => {
    server = (await RecordingServer.start()).withBootstrap(null);
    conn = await Connection.connect({ clusterUrl: server.url, clientToken: 't', env: {} });
    server.on('POST /tasks/paginate', (req) => {
      const token = (req.json as { token: string | null }).token;
      return token === null
        ? { json: { data: [cloudTaskJson({ uuid: 'a', name: 'a' })], token: null, nextToken: 'p2', isTruncated: true, count: 2 } }
        : { json: { data: [cloudTaskJson({ uuid: 'b', name: 'b' })], token: 'p2', nextToken: null, isTruncated: false, count: 2 } };
    });
    const names: string[] = [];
    for await (const t of conn.listTasks({ tags: ['x', 'y'], pageSize: 1 })) names.push(t.name);
    expect(names).toEqual(['a', 'b']);
    const bodies = server.find('POST /tasks/paginate').map((r) => r.json);
    expect(bodies[0]).toEqual({
      filter: { operator: 'Or', filters: [{ operator: 'Equal', field: 'Tags', value: 'x' }, { operator: 'Equal', field: 'Tags', value: 'y' }] },
      token: null,
      maximumResults: 1,
    });
    expect((bodies[1] as { token: string }).token).toBe('p2');

    for await (const _ of conn.listTasks({ tags: ['ignored'], tagsIntersect: ['x', 'y'] })) break;
    expect((server.find('POST /tasks/paginate').at(-1)!.json as { filter: unknown }).filter).toMatchObject({ operator: 'And' });
    for await (const _ of conn.listTasks({ tagsIntersect: ['only'] })) break;
    expect((server.find('POST /tasks/paginate').at(-1)!.json as { filter: unknown }).filter).toEqual({ operator: 'Equal', field: 'Tags', value: 'only' });
  });

  it('summaries use /tasks/summaries/paginate and hydrate on update()', async () => {
    server = (await RecordingServer.start()).withBootstrap(null);
    conn = await Connection.connect({ clusterUrl: server.url, clientToken: 't', env: {} });
    server.on('POST /tasks/summaries/paginate', { json: { data: [taskSummaryJson(TASK_UUID, 's')], token: null, nextToken: null, isTruncated: false } });
    server.on(`GET /tasks/${TASK_UUID}`, { json: cloudTaskJson() });
    const page = await conn.tasksPage({ summary: true });
    const t = page.items[0]!;
    expect(t.isSummary).toBe(true);
    expect(t.state).toBe('Submitted');
    expect(() => t.tags).toThrow(expect.objectContaining({ code: 'summary_not_hydrated', property: 'tags' }));
    await t.update();
    expect(t.isSummary).toBe(false);
    expect(t.tags).toEqual(['fixture']);
  });

  it('profiles, hardware constraints (offset paging), user info, pools page', async () => {
    server = (await RecordingServer.start()).withBootstrap(null);
    conn = await Connection.connect({ clusterUrl: server.url, clientToken: 't', env: {} });
    server.on('GET /profiles', { json: ['docker-batch', 'gone'] });
    server.on('GET /profiles/docker-batch', { json: { name: 'docker-batch', constants: [{ name: 'DOCKER_REPO', value: 'alpine', description: 'image' }] } });
    expect(await conn.profiles()).toEqual([{ name: 'docker-batch', constants: [{ name: 'DOCKER_REPO', value: 'alpine', description: 'image' }] }]);
    expect(await conn.profileDetails('gone')).toBeNull();
    await expect(conn.retrieveProfile('gone')).rejects.toSatisfy(isMissingProfileError);

    server.on('GET /hardware-constraints', (req) => {
      const offset = Number(req.query.get('offset'));
      const data = offset === 0 ? [{ discriminator: 'GpuHardwareConstraint' }, { discriminator: 'Unknown' }] : [{ discriminator: 'SSDHardwareConstraint' }];
      return { json: { data, offset, limit: 2, total: 3 } };
    });
    const hcs = [];
    for await (const h of conn.hardwareConstraints({ pageSize: 2 })) hcs.push(h.discriminator);
    expect(hcs).toEqual(['GpuHardwareConstraint', 'SSDHardwareConstraint']);
    expect(server.find('GET /hardware-constraints').map((r) => r.query.toString())).toEqual(['limit=2&offset=0', 'limit=2&offset=2']);

    expect((await conn.userInfo()).email).toBe('user@example.com');

    server.on('POST /pools/paginate', { json: { data: [cloudPoolJson()], token: null, nextToken: null, isTruncated: false } });
    const pools = [];
    for await (const p of conn.listPools()) pools.push(p);
    expect(pools[0]!.elastic.maxTotalSlots).toBe(4);
    expect(pools[0]!.hardwareConstraints).toEqual([{ discriminator: 'MinimumCoreHardwareConstraint', coreCount: 4 }]);
    expect(pools[0]!.schedulingType).toBe('OnDemand');
  });

  it('submitTasks posts one array and gives each accepted task its uuid', async () => {
    server = (await RecordingServer.start()).withBootstrap(null);
    conn = await Connection.connect({ clusterUrl: server.url, clientToken: 't', env: {} });
    server.on('POST /tasks', {
      json: [
        { statusCode: 201, uuid: TASK_UUID, message: null },
        { statusCode: 403, uuid: null, message: 'Maximum number of tasks reached' },
      ],
    });
    server.on(`GET /tasks/${TASK_UUID}`, { json: cloudTaskJson({ state: 'Submitted' }) });
    const a = conn.createTask('a', { profile: 'p' });
    const b = conn.createTask('b', { profile: 'p' });
    await expect(conn.submitTasks([a, b])).rejects.toThrow(/b: 403 Maximum number of tasks reached/);
    expect(Array.isArray(server.find('POST /tasks')[0]!.json)).toBe(true);
    expect(a.uuid).toBe(TASK_UUID);
    expect(b.uuid).toBeNull();
  });
});
