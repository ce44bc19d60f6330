/**
 * The server-compatibility checklist of reference §7, item by item, against a real API on a real SQLite file.
 * Each `it()` names the checklist item (or the §1.3/§1.4/§2 fact) it proves; field lists are written out here from
 * the reference rather than imported from `@hearth/core`, so a drift in the server's own tables is caught.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, taskBody, type TestApi, type TestResponse } from './test-support/test-api.js';

/** PY parses `%Y-%m-%dT%H:%M:%SZ`, then `%Y-%m-%dT%H:%M:%S.%fZ`: a Z and at most 6 fractional digits. */
const PY_DATE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Reference §2.2: the only fields of a task summary. */
const TASK_SUMMARY_KEYS = [
  'uuid', 'name', 'shortname', 'profile', 'poolUuid', 'progress', 'runningInstanceCount', 'runningCoreCount',
  'executionTime', 'wallTime', 'state', 'instanceCount', 'creationDate', 'endDate',
].sort();

let t: TestApi;
beforeAll(async () => {
  t = await startTestApi();
});
afterAll(async () => t.close());

function expectError(r: TestResponse, status: number, ...mentions: string[]): void {
  expect(r.status, r.text).toBe(status);
  expect(r.headers.get('content-type')).toContain('json');
  expect(typeof r.json?.message).toBe('string');
  expect(r.json.message.length).toBeGreaterThan(0);
  for (const m of mentions) expect(r.json.message).toContain(m);
}

async function createTask(body: Record<string, unknown> = {}, api: TestApi = t): Promise<string> {
  const r = await api.call('POST', '/tasks', { body: taskBody(body) });
  expect(r.status, r.text).toBe(201);
  return r.json.uuid as string;
}

async function createPool(body: Record<string, unknown> = {}, api: TestApi = t): Promise<string> {
  const r = await api.call('POST', '/pools', { body: { name: 'pool', profile: 'docker-batch', instanceCount: 1, ...body } });
  expect(r.status, r.text).toBe(201);
  return r.json.uuid as string;
}

async function createJob(body: Record<string, unknown> = {}, api: TestApi = t): Promise<string> {
  const r = await api.call('POST', '/jobs/', { body: { name: 'job', ...body } });
  expect(r.status, r.text).toBe(201);
  return r.json.uuid as string;
}

describe('§7 Authentication and bootstrap', () => {
  it('accepts `Authorization: <token>` (raw, as PY and CS send it)', async () => {
    const r = await t.call('GET', '/info', { token: null, headers: { Authorization: 'alice-token' } });
    expect(r.status).toBe(200);
    expect(r.json.email).toBe('alice@example.com');
  });

  it('also accepts `Bearer <token>`', async () => {
    const r = await t.call('GET', '/info', { token: 'Bearer alice-token' });
    expect(r.status).toBe(200);
    expect(r.json.email).toBe('alice@example.com');
  });

  it('401: bad token (missing, unknown, empty, Bearer of an unknown token), with a message', async () => {
    expectError(await t.call('GET', '/tasks', { token: null }), 401);
    expectError(await t.call('GET', '/tasks', { token: 'alice-token-x' }), 401);
    expectError(await t.call('GET', '/tasks', { token: 'Bearer nope' }), 401);
    expectError(await t.call('GET', '/settings', { token: null }), 401);
    expectError(await t.call('POST', '/tasks', { token: 'nope', body: taskBody() }), 401);
    expect((await t.call('GET', '/tasks')).json.length).toBe(0);
  });

  it('GET /settings → {"storage": url}', async () => {
    const r = await t.call('GET', '/settings');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ storage: 'http://127.0.0.1:1' });
  });

  it('GET /info includes `email` (the S3 access key), real counts and the configured quotas with computingQuotas', async () => {
    const q = await startTestApi({ quotas: { maxTask: 7, maxPool: 3, maxJob: 4, maxCores: 16, maxInstances: 99 } });
    try {
      await createTask({}, q);
      await createTask({}, q);
      await createPool({}, q);
      await createJob({}, q);
      const r = await q.call('GET', '/info');
      expect(r.status).toBe(200);
      const info = r.json;
      expect(info).toMatchObject({
        email: 'alice@example.com',
        taskCount: 2,
        maxTask: 7,
        runningTaskCount: 2, // Submitted tasks are unfinished
        poolCount: 1,
        maxPool: 3,
        maxInstances: 99,
        maxFlexCores: 16,
        runningInstanceCount: 0,
        runningCoreCount: 0,
      });
      for (const k of ['maxBucket', 'bucketCount', 'quotaBytesBucket', 'usedQuotaBytesBucket', 'maxRunningTask', 'maxRunningPool', 'runningPoolCount']) {
        expect(typeof info[k], k).toBe('number');
      }
      const quota = { maxCores: 16, runningCoresCount: 0, maxInstances: 99, runningInstancesCount: 0 };
      expect(info.computingQuotas).toEqual({
        user: { flex: quota, onDemand: quota, reserved: [] },
        organization: { name: expect.any(String), flex: quota, onDemand: quota, reserved: [] },
      });
      expect(Array.isArray(info.projects)).toBe(true);
      expect((await q.call('GET', '/quotas/computing-quotas/user')).json).toEqual({ flex: quota, onDemand: quota, reserved: [] });
      expect((await q.call('GET', '/quotas/computing-quotas/organization')).json).toMatchObject({ flex: quota, onDemand: quota });
    } finally {
      await q.close();
    }
  });
});

describe('§7 Request parsing', () => {
  it('JSON property names are case-insensitive: a PascalCase task body as CS sends it', async () => {
    const r = await t.call('POST', '/tasks', {
      body: {
        Name: 'cs-task',
        Shortname: 'cs-task',
        Profile: 'docker-batch',
        InstanceCount: 3,
        Tags: ['cs'],
        Constants: [{ Key: 'DOCKER_CMD', Value: 'echo hi' }],
        Labels: { Team: 'Render' },
        HardwareConstraints: [{ Discriminator: 'MinimumCoreHardwareConstraint', CoreCount: 1 }],
        RetrySettings: { MaxTotalRetries: 2, MaxPerInstanceRetries: 1 },
        Privileges: { ExportApiAndStorageCredentialsInEnvironment: true },
        SecretsAccessRights: { BySecret: [{ Key: 'db/password' }], ByPrefix: [{ Prefix: 'shared/' }] },
        AdvancedResourceBuckets: [{ BucketName: 'in', Filtering: { PrefixFiltering: { Prefix: 'a/' } }, CacheTTLSec: 5 }],
        CompletionTimeToLive: '01:00:00',
      },
    });
    expect(r.status, r.text).toBe(201);
    const task = (await t.call('GET', `/tasks/${r.json.uuid}`)).json;
    expect(task).toMatchObject({
      name: 'cs-task',
      shortname: 'cs-task',
      instanceCount: 3,
      tags: ['cs'],
      constants: [{ key: 'DOCKER_CMD', value: 'echo hi' }],
      labels: { Team: 'Render' }, // free-form map: keys kept as sent
      hardwareConstraints: [{ discriminator: 'MinimumCoreHardwareConstraint', coreCount: 1 }],
      retrySettings: { maxTotalRetries: 2, maxPerInstanceRetries: 1 },
      privileges: { exportApiAndStorageCredentialsInEnvironment: true },
      secretsAccessRights: { bySecret: [{ key: 'db/password' }], byPrefix: [{ prefix: 'shared/' }] },
      advancedResourceBuckets: [{ bucketName: 'in', filtering: { prefixFiltering: { prefix: 'a/' } }, cacheTTLSec: 5 }],
      completionTimeToLive: '01:00:00',
    });
    // Output is camelCase only.
    expect(Object.keys(task as object).filter((k) => /^[A-Z]/.test(k) && k !== 'ResultsCacheTTLSec')).toEqual([]);
  });

  it('JSON property names are case-insensitive: `Value` in secrets', async () => {
    expect((await t.call('PUT', '/secrets-manager/data/parsing/capital', { body: { Value: 's3cret' } })).status).toBe(201);
    expect((await t.call('GET', '/secrets-manager/data/parsing/capital')).json).toEqual({ value: 's3cret' });
    expect((await t.call('PATCH', '/secrets-manager/data/parsing/capital', { body: { value: 'lower' } })).status).toBe(204);
    expect((await t.call('GET', '/secrets-manager/data/parsing/capital')).json).toEqual({ value: 'lower' });
  });

  it('JSON property names are case-insensitive: `ResultsCacheTTLSec` is read and echoed with its capital R', async () => {
    const uuid = await createTask({ resultBucket: 'out', ResultsCacheTTLSec: 42 });
    const task = (await t.call('GET', `/tasks/${uuid}`)).json;
    expect(task.ResultsCacheTTLSec).toBe(42);
    expect(task.resultsCacheTTLSec).toBe(42);
    const cs = await createTask({ resultsCacheTTLSec: 7 });
    expect((await t.call('GET', `/tasks/${cs}`)).json.ResultsCacheTTLSec).toBe(7);
  });

  it('JSON property names are case-insensitive: the JS PascalCase paginate body', async () => {
    await createTask({ name: 'pascal-page', tags: ['pascal-page'] });
    const r = await t.call('POST', '/tasks/paginate', {
      body: { Token: null, Filter: { Operator: 'Equal', Field: 'Tags', Value: 'pascal-page' }, MaximumResults: 20, OrderBy: 'CreationDate', OrderType: 'Ascending' },
    });
    expect(r.status, r.text).toBe(200);
    expect((r.json.data as { name: string }[]).map((x) => x.name)).toEqual(['pascal-page']);
  });

  it('enums are case-insensitive ("flex"), and answered in their canonical spelling', async () => {
    const uuid = await createTask({
      schedulingType: 'flex',
      hardwareConstraints: [{ discriminator: 'nogpuhardwareconstraint' }],
      forcedNetworkRules: [{ inbound: true, proto: 'TCP', port: '22' }],
      forcedConstants: [{ constantName: 'X', forcedValue: '1', access: 'readonly' }],
    });
    const task = (await t.call('GET', `/tasks/${uuid}`)).json;
    expect(task.schedulingType).toBe('Flex');
    expect(task.hardwareConstraints).toEqual([{ discriminator: 'NoGpuHardwareConstraint' }]);
    expect(task.forcedNetworkRules[0].proto).toBe('tcp');
    expect(task.forcedConstants[0].access).toBe('ReadOnly');
    const dep = await createTask({ dependencies: { advancedDependsOn: [{ taskUuid: uuid, taskFinalStateCondition: ['SUCCESS'] }] } });
    expect((await t.call('GET', `/tasks/${dep}`)).json.dependencies.advancedDependsOn[0].taskFinalStateCondition).toEqual(['success']);
    const onDemand = await createTask({ schedulingType: 'ONDEMAND' });
    expect((await t.call('GET', `/tasks/${onDemand}`)).json.schedulingType).toBe('OnDemand');
    expectError(await t.call('POST', '/tasks', { body: taskBody({ schedulingType: 'sometimes' }) }), 400, 'schedulingType');
  });

  it('`?force=True|true`: job delete reads the Python bool repr and the C# lowercase form', async () => {
    const make = async () => {
      const job = await createJob();
      const task = await createTask({ jobUuid: job });
      return { job, task };
    };
    const a = await make();
    expectError(await t.call('DELETE', `/jobs/${a.job}`), 403, 'running tasks');
    expectError(await t.call('DELETE', `/jobs/${a.job}?force=False`), 403, 'running tasks');
    expect((await t.call('DELETE', `/jobs/${a.job}?force=True`)).status).toBe(204);
    expect((await t.call('GET', `/jobs/${a.job}`)).status).toBe(404);
    expect((await t.call('GET', `/tasks/${a.task}`)).status).toBe(404);
    const b = await make();
    expect((await t.call('DELETE', `/jobs/${b.job}?force=true`)).status).toBe(204);
    expect((await t.call('GET', `/jobs/${b.job}`)).status).toBe(404);
    const c = await make();
    expectError(await t.call('DELETE', `/jobs/${c.job}?force=maybe`), 400, 'force');
    expect((await t.call('GET', `/jobs/${c.job}`)).status).toBe(200);
  });

  it('POST /tasks takes an object or an array; the array answer is [{statusCode, uuid, message}] in input order', async () => {
    const r = await t.call('POST', '/tasks', {
      body: [
        taskBody({ name: 'bulk-a' }),
        { name: 'bulk-b' }, // neither profile nor pool
        42,
        taskBody({ name: 'bulk-d', Tags: ['bulk'] }),
        taskBody({ name: 'bulk-e', hardwareConstraints: [{ discriminator: 'GpuHardwareConstraint' }] }),
      ],
    });
    expect(r.status, r.text).toBe(200);
    expect(Array.isArray(r.json)).toBe(true);
    expect(r.json).toHaveLength(5);
    for (const item of r.json as object[]) expect(Object.keys(item).sort()).toEqual(['message', 'statusCode', 'uuid']);
    const [a, b, c, d, e] = r.json;
    expect(a.statusCode).toBe(201);
    expect(a.uuid).toMatch(UUID);
    expect(b).toMatchObject({ statusCode: 400, uuid: null });
    expect(b.message).toContain('profile');
    expect(c).toMatchObject({ statusCode: 400, uuid: null });
    expect(d.statusCode).toBe(201);
    expect(e).toMatchObject({ statusCode: 402, uuid: null });
    expect(e.message).toContain('hardware constraint');
    expect((await t.call('GET', `/tasks/${a.uuid}`)).json.name).toBe('bulk-a');
    expect((await t.call('GET', `/tasks/${d.uuid}`)).json).toMatchObject({ name: 'bulk-d', tags: ['bulk'] });
    const empty = await t.call('POST', '/tasks', { body: [] });
    expect(empty.status).toBe(200);
    expect(empty.json).toEqual([]);
  });

  it('accepts POST /jobs/ with a trailing slash (PY `get_url("jobs")`)', async () => {
    const slash = await t.call('POST', '/jobs/', { body: { name: 'slash-job', useDependencies: false } });
    expect(slash.status, slash.text).toBe(201);
    expect(slash.json.uuid).toMatch(UUID);
    const plain = await t.call('POST', '/jobs', { body: { name: 'plain-job' } });
    expect(plain.status).toBe(201);
    expect((await t.call('GET', `/jobs/${slash.json.uuid}/`)).json.name).toBe('slash-job');
    const names = ((await t.call('GET', '/jobs/')).json as { name: string }[]).map((j) => j.name);
    expect(names).toEqual(expect.arrayContaining(['slash-job', 'plain-job']));
  });
});

describe('§7 Entity lookup: GET /tasks|pools|jobs/{uuid-or-shortname}', () => {
  it('finds a task by uuid or shortname, for GET, PUT, DELETE and the billing routes', async () => {
    const uuid = await createTask({ shortname: 'lookup-task' });
    expect((await t.call('GET', `/tasks/${uuid}`)).json.shortname).toBe('lookup-task');
    expect((await t.call('GET', '/tasks/lookup-task')).json.uuid).toBe(uuid);
    expect((await t.call('PUT', '/tasks/lookup-task', { body: { tags: ['by-shortname'] } })).status).toBe(200);
    expect((await t.call('GET', `/tasks/${uuid}`)).json.tags).toEqual(['by-shortname']);
    expect((await t.call('GET', '/credits/v1/tasks/lookup-task/credits')).status).toBe(200);
    expect((await t.call('GET', '/carbon/v1/tasks/lookup-task/carbon-facts')).status).toBe(200);
    expect((await t.call('DELETE', '/tasks/lookup-task')).status).toBe(204);
    expect((await t.call('GET', `/tasks/${uuid}`)).status).toBe(404);
  });

  it('finds a pool by uuid or shortname', async () => {
    const uuid = await createPool({ shortname: 'lookup-pool' });
    expect((await t.call('GET', '/pools/lookup-pool')).json.uuid).toBe(uuid);
    expect((await t.call('GET', `/pools/${uuid}`)).json.shortname).toBe('lookup-pool');
    expect((await t.call('PUT', '/pools/lookup-pool', { body: { tags: ['p'] } })).status).toBe(200);
    expect((await t.call('GET', '/credits/v1/pools/lookup-pool/credits')).status).toBe(200);
    // A task can name its pool by shortname too.
    const task = await t.call('POST', '/tasks', { body: { name: 'in-pool', poolUuid: 'lookup-pool', instanceCount: 1 } });
    expect(task.status, task.text).toBe(201);
  });

  it('finds a job by uuid or shortname, including its task list', async () => {
    const uuid = await createJob({ shortname: 'lookup-job' });
    expect((await t.call('GET', '/jobs/lookup-job')).json.uuid).toBe(uuid);
    await createTask({ jobUuid: uuid, name: 'job-member' });
    const tasks = await t.call('GET', '/jobs/lookup-job/tasks');
    expect(tasks.status).toBe(200);
    expect((tasks.json as { name: string }[]).map((x) => x.name)).toEqual(['job-member']);
  });

  it('a shortname defaults to the uuid', async () => {
    const uuid = await createTask();
    expect((await t.call('GET', `/tasks/${uuid}`)).json.shortname).toBe(uuid);
    const pool = await createPool();
    expect((await t.call('GET', `/pools/${pool}`)).json.shortname).toBe(pool);
    const job = await createJob();
    expect((await t.call('GET', `/jobs/${job}`)).json.shortname).toBe(job);
  });
});

describe('§7 Error codes and messages the SDK string-matches', () => {
  const missing = '3f1c2b4a-0000-4000-8000-000000000000';

  it('404: missing entity, for every entity route', async () => {
    for (const [method, path] of [
      ['GET', `/tasks/${missing}`],
      ['PUT', `/tasks/${missing}`],
      ['DELETE', `/tasks/${missing}`],
      ['GET', `/pools/${missing}`],
      ['PUT', `/pools/${missing}`],
      ['PUT', `/pools/${missing}/scaling`],
      ['DELETE', `/pools/${missing}`],
      ['GET', `/jobs/${missing}`],
      ['PUT', `/jobs/${missing}`],
      ['GET', `/jobs/${missing}/tasks`],
      ['DELETE', `/jobs/${missing}?force=True`],
      ['GET', '/tasks/no-such-shortname'],
      ['GET', `/credits/v1/tasks/${missing}/credits`],
      ['GET', `/credits/v1/pools/${missing}/credits`],
      ['GET', `/carbon/v1/tasks/${missing}/carbon-facts`],
      ['GET', `/carbon/v1/pools/${missing}/carbon-facts`],
      ['GET', '/profiles/no-such-profile'],
      ['GET', '/secrets-manager/data/no/such/secret'],
    ] as const) {
      const body = method === 'PUT' ? (path.endsWith('/scaling') ? { policies: [{ type: 'Fixed', slotsCount: 1 }] } : { tags: [] }) : undefined;
      expectError(await t.call(method, path, body === undefined ? {} : { body }), 404);
    }
  });

  it('403 + "maximum number of tasks reached" / "… pools reached" / "… jobs reached"', async () => {
    const q = await startTestApi({ quotas: { maxTask: 2, maxPool: 1, maxJob: 1 } });
    try {
      await createTask({}, q);
      await createTask({}, q);
      const task = await q.call('POST', '/tasks', { body: taskBody() });
      expectError(task, 403);
      expect((task.json.message as string).toLowerCase()).toContain('maximum number of tasks reached');
      const bulk = await q.call('POST', '/tasks', { body: [taskBody()] });
      expect(bulk.json[0].statusCode).toBe(403);
      expect((bulk.json[0].message as string).toLowerCase()).toContain('maximum number of tasks reached');

      await createPool({}, q);
      const pool = await q.call('POST', '/pools', { body: { name: 'p2', profile: 'docker-batch' } });
      expectError(pool, 403);
      expect((pool.json.message as string).toLowerCase()).toContain('maximum number of pools reached');

      await createJob({}, q);
      const job = await q.call('POST', '/jobs/', { body: { name: 'j2' } });
      expectError(job, 403);
      expect((job.json.message as string).toLowerCase()).toContain('maximum number of jobs reached');

      const info = (await q.call('GET', '/info')).json;
      expect(info).toMatchObject({ taskCount: 2, poolCount: 1 });
      expect((await q.call('GET', '/jobs')).json).toHaveLength(1);
      // Deleting frees the quota.
      const first = (await q.call('GET', '/tasks')).json[0].uuid;
      expect((await q.call('DELETE', `/tasks/${first}`)).status).toBe(204);
      expect((await q.call('POST', '/tasks', { body: taskBody() })).status).toBe(201);
    } finally {
      await q.close();
    }
  });

  it('402: a message containing "hardware constraint" marks a constraint error (task and pool)', async () => {
    for (const hc of [
      { discriminator: 'GpuHardwareConstraint' },
      { discriminator: 'MinimumCoreHardwareConstraint', coreCount: 512 },
      { discriminator: 'MinimumRamHardwareConstraint', minimumMemoryMB: 10 ** 9 },
      { discriminator: 'CpuModelHardwareConstraint', cpuModel: 'Imaginary 9000' },
      { discriminator: 'SpecificHardwareConstraint', specificationKey: 'quantum' },
    ]) {
      const task = await t.call('POST', '/tasks', { body: taskBody({ hardwareConstraints: [hc] }) });
      expectError(task, 402, 'hardware constraint');
      const pool = await t.call('POST', '/pools', { body: { name: 'hw', profile: 'docker-batch', hardwareConstraints: [hc] } });
      expectError(pool, 402, 'hardware constraint');
    }
  });

  it('409: secret conflict', async () => {
    expect((await t.call('PUT', '/secrets-manager/data/conflict/key', { body: { Value: 'a' } })).status).toBe(201);
    expectError(await t.call('PUT', '/secrets-manager/data/conflict/key', { body: { Value: 'b' } }), 409, 'conflict/key');
    expect((await t.call('GET', '/secrets-manager/data/conflict/key')).json.value).toBe('a');
  });

  it('409: a shortname already used by the same user', async () => {
    await createTask({ shortname: 'dup-short' });
    expectError(await t.call('POST', '/tasks', { body: taskBody({ shortname: 'dup-short' }) }), 409, 'shortname');
    await createPool({ shortname: 'dup-short' }); // another collection: no clash
    expectError(await t.call('POST', '/pools', { body: { name: 'p', profile: 'docker-batch', shortname: 'dup-short' } }), 409, 'shortname');
  });

  it('error body is {"message": "..."} for 400, 401, 403, 404, 405, 409 and 413', async () => {
    expectError(await t.call('POST', '/tasks', { body: '{nope' }), 400, 'JSON');
    expectError(await t.call('POST', '/tasks', { body: taskBody({ instanceCount: 'two' }) }), 400, 'instanceCount');
    expectError(await t.call('GET', '/info', { token: 'wrong' }), 401);
    expectError(await t.call('GET', '/no/such/route'), 404, '/no/such/route');
    expectError(await t.call('PATCH', '/jobs'), 405);
    const small = await startTestApi({ maxBodyBytes: 256 });
    try {
      expectError(await small.call('POST', '/tasks', { body: taskBody({ name: 'n'.repeat(1000) }) }), 413);
    } finally {
      await small.close();
    }
  });
});

describe('§7 Response shapes PY needs in order not to crash', () => {
  /** Every key PY's `Task._to_json` sends (reference §2.1), with non-default values. */
  const fullTask = {
    name: 'py-full',
    profile: 'docker-batch',
    poolUuid: null,
    jobUuid: null,
    constants: [{ key: 'DOCKER_CMD', value: 'echo hi' }],
    constraints: [{ key: 'c', value: 'v' }],
    forcedConstants: [{ constantName: 'FC', forcedValue: '1', forceExportInEnvironment: true, access: 'ReadOnly' }],
    waitForPoolResourcesSynchronization: null,
    uploadResultsOnCancellation: true,
    labels: { team: 'render' },
    dependencies: { dependsOn: [] },
    shortname: 'py-full',
    advancedResourceBuckets: [
      { bucketName: 'in', filtering: { prefixFiltering: { prefix: 'a/' } }, resourcesTransformation: { stripPrefix: { prefix: 'a/' } }, cacheTTLSec: 60 },
    ],
    maxTimeQueueSeconds: 30,
    resultBucket: 'out',
    ResultsCacheTTLSec: 10,
    instanceCount: 2,
    tags: ['x', 'y'],
    snapshotWhitelist: '.*',
    snapshotBlacklist: 'tmp',
    resultsWhitelist: '.*\\.txt$',
    resultsBlacklist: 'log',
    autoDeleteOnCompletion: true,
    completionTimeToLive: '1.02:03:04',
    hardwareConstraints: [{ discriminator: 'MinimumCoreHardwareConstraint', coreCount: 1 }],
    defaultResourcesCacheTTLSec: 100,
    privileges: { exportApiAndStorageCredentialsInEnvironment: true },
    retrySettings: { maxTotalRetries: 2, maxPerInstanceRetries: 1 },
    schedulingType: 'OnDemand',
    targetedReservationName: 'res-1',
    forcedNetworkRules: [{ inbound: true, proto: 'tcp', port: '22', toQBox: false }],
    secretsAccessRights: { bySecret: [{ key: 'a/b' }], byPrefix: [{ prefix: 'c/' }] },
  };

  it('a task echoes every §2.1 key PY sends', async () => {
    const r = await t.call('POST', '/tasks', { body: fullTask });
    expect(r.status, r.text).toBe(201);
    const task = (await t.call('GET', `/tasks/${r.json.uuid}`)).json;
    const { ResultsCacheTTLSec, ...echoed } = fullTask;
    expect(task).toMatchObject(echoed);
    expect(task.ResultsCacheTTLSec).toBe(ResultsCacheTTLSec);
  });

  it('creationDate in Z form with ≤ 6 fractional digits (and every other date)', async () => {
    const uuid = await createTask();
    const task = (await t.call('GET', `/tasks/${uuid}`)).json;
    expect(task.creationDate).toMatch(PY_DATE);
    expect(task.lastModified).toMatch(PY_DATE);
    expect(task.stateTransitionTime).toMatch(PY_DATE);
    expect(Math.abs(Date.parse(task.creationDate as string) - Date.now())).toBeLessThan(60_000);
    const pool = (await t.call('GET', `/pools/${await createPool()}`)).json;
    expect(pool.creationDate).toMatch(PY_DATE);
    expect(pool.lastModified).toMatch(PY_DATE);
    const job = (await t.call('GET', `/jobs/${await createJob()}`)).json;
    expect(job.creationDate).toMatch(PY_DATE);
    expect(job.lastModified).toMatch(PY_DATE);
  });

  it('uuid, state, runningCoreCount, runningInstanceCount are present and non-null', async () => {
    const uuid = await createTask();
    const task = (await t.call('GET', `/tasks/${uuid}`)).json;
    expect(task.uuid).toBe(uuid);
    expect(task.state).toBe('Submitted');
    expect(task.runningCoreCount).toBe(0);
    expect(task.runningInstanceCount).toBe(0);
    const pool = (await t.call('GET', `/pools/${await createPool()}`)).json;
    expect(pool).toMatchObject({ state: 'Submitted', runningCoreCount: 0, runningInstanceCount: 0 });
    expect(pool.uuid).toMatch(UUID);
  });

  it('hardwareConstraints: [] and forcedNetworkRules: [], never null, even when sent as null', async () => {
    const uuid = await createTask({ hardwareConstraints: null, forcedNetworkRules: null });
    const task = (await t.call('GET', `/tasks/${uuid}`)).json;
    expect(task.hardwareConstraints).toEqual([]);
    expect(task.forcedNetworkRules).toEqual([]);
    const pool = (await t.call('GET', `/pools/${await createPool({ hardwareConstraints: null, forcedNetworkRules: null })}`)).json;
    expect(pool.hardwareConstraints).toEqual([]);
    expect(pool.forcedNetworkRules).toEqual([]);
    // Same in every listing form.
    for (const list of [(await t.call('GET', '/tasks')).json, (await t.call('POST', '/tasks/paginate', { body: {} })).json.data]) {
      for (const x of list) {
        expect(Array.isArray(x.hardwareConstraints)).toBe(true);
        expect(Array.isArray(x.forcedNetworkRules)).toBe(true);
      }
    }
  });

  it('status.executionTimeByCpuModel: [] and executionTimeGhzByCpuModel: [] whenever status is non-null', async () => {
    const task = (await t.call('GET', `/tasks/${await createTask()}`)).json;
    expect('status' in task).toBe(true);
    const ok = task.status === null || (Array.isArray(task.status.executionTimeByCpuModel) && Array.isArray(task.status.executionTimeGhzByCpuModel));
    expect(ok).toBe(true);
  });

  it('lists for errors and completedInstances', async () => {
    const task = (await t.call('GET', `/tasks/${await createTask()}`)).json;
    expect(task.errors).toEqual([]);
    expect(task.completedInstances).toEqual([]);
    expect(Array.isArray(task.resourceBuckets)).toBe(true);
    const pool = (await t.call('GET', `/pools/${await createPool()}`)).json;
    expect(pool.errors).toEqual([]);
  });

  it('objects or omission for privileges, retrySettings, secretsAccessRights, elasticProperty, multiSlotsSettings', async () => {
    const task = (await t.call('GET', `/tasks/${await createTask({ privileges: null, retrySettings: null, secretsAccessRights: null })}`)).json;
    expect(task.privileges).toEqual({ exportApiAndStorageCredentialsInEnvironment: false });
    expect(task.retrySettings).toEqual({ maxTotalRetries: null, maxPerInstanceRetries: null });
    expect(task.secretsAccessRights).toEqual({ bySecret: [], byPrefix: [] });
    const pool = (await t.call('GET', `/pools/${await createPool({ multiSlotsSettings: null, elasticProperty: null })}`)).json;
    expect(pool.elasticProperty).toEqual(expect.objectContaining({ isElastic: false }));
    expect(pool.privileges).toEqual({ exportApiAndStorageCredentialsInEnvironment: false });
    expect(pool.defaultRetrySettings).toEqual({ maxTotalRetries: null, maxPerInstanceRetries: null });
    expect(pool.secretsAccessRights).toEqual({ bySecret: [], byPrefix: [] });
    expect('multiSlotsSettings' in pool).toBe(false); // PY's from_json(None) crashes: omitted, not null
    expect('scaling' in pool).toBe(false);
    const slots = (await t.call('GET', `/pools/${await createPool({ multiSlotsSettings: { slotsPerNode: 4 } })}`)).json;
    expect(slots.multiSlotsSettings).toEqual({ slotsPerNode: 4 });
  });

  it('pool fields per §2.4: request keys echoed, read-only keys present', async () => {
    const body = {
      name: 'full-pool',
      shortname: 'full-pool',
      profile: 'docker-batch',
      instanceCount: 2,
      constants: [{ key: 'DOCKER_REPO', value: 'library/ubuntu' }],
      constraints: [],
      forcedConstants: [],
      tags: ['pool-tag'],
      labels: { a: 'b' },
      preparationTask: { commandLine: 'echo prep' },
      elasticProperty: { isElastic: true, minTotalSlots: 1, maxTotalSlots: 4, minIdleSlots: 0, resizePeriod: 90, rampResizeFactor: 0.5, minIdleTimeSeconds: 30 },
      taskDefaultWaitForPoolResourcesSynchronization: true,
      advancedResourceBuckets: [{ bucketName: 'pool-in', filtering: {}, resourcesTransformation: {}, cacheTTLSec: null }],
      autoDeleteOnCompletion: false,
      completionTimeToLive: '00:30:00',
      hardwareConstraints: [{ discriminator: 'NoGpuHardwareConstraint' }],
      defaultResourcesCacheTTLSec: 50,
      privileges: { exportApiAndStorageCredentialsInEnvironment: false },
      defaultRetrySettings: { maxTotalRetries: 3, maxPerInstanceRetries: null },
      maxTimeQueueSeconds: 60,
      schedulingType: 'Flex',
      forcedNetworkRules: [],
      secretsAccessRights: { bySecret: [], byPrefix: [{ prefix: 'p/' }] },
    };
    const uuid = await createPool(body);
    const pool = (await t.call('GET', `/pools/${uuid}`)).json;
    expect(pool).toMatchObject(body);
    for (const key of [
      'uuid', 'state', 'previousState', 'stateTransitionTime', 'previousStateTransitionTime', 'lastModified', 'creationDate',
      'endDate', 'runningInstanceCount', 'runningCoreCount', 'executionTime', 'wallTime', 'errors', 'status',
      'resourceBuckets', 'poolUsage', 'totalSlotCapacity', 'queuedOrRunningTaskInstancesCount',
      'targetedReservedMachineKey', 'targetedReservationName', 'projectUuid',
    ]) {
      expect(pool, key).toHaveProperty(key);
    }
    expect(pool.resourceBuckets).toEqual(['pool-in']);
    expect(typeof pool.poolUsage).toBe('number');
    expect(pool.executionTime).toMatch(/^(\d+\.)?\d\d:\d\d:\d\d/);
  });

  it('job fields per §2.5', async () => {
    const body = {
      name: 'full-job',
      shortname: 'full-job',
      poolUuid: null,
      state: '', // PY sends "" before submit
      tags: ['job-tag'],
      useDependencies: true,
      maxWallTime: '2.00:00:00',
      autoDeleteOnCompletion: true,
      completionTimeToLive: '00:10:00',
    };
    const uuid = await createJob(body);
    const job = (await t.call('GET', `/jobs/${uuid}`)).json;
    const { state: _sent, ...echoed } = body;
    expect(job).toMatchObject({ ...echoed, uuid, state: 'Active' });
    for (const key of ['previousState', 'stateTransitionTime', 'previousStateTransitionTime', 'creationDate', 'lastModified']) {
      expect(job, key).toHaveProperty(key);
    }
    const defaults = (await t.call('GET', `/jobs/${await createJob({ name: 'defaults' })}`)).json;
    expect(defaults).toMatchObject({ tags: [], useDependencies: false, autoDeleteOnCompletion: false, completionTimeToLive: '00:00:00', poolUuid: null });
    const inPool = await createPool();
    expect((await t.call('GET', `/jobs/${await createJob({ poolUuid: inPool })}`)).json.poolUuid).toBe(inPool);
  });
});

describe('§1.4 Pagination, with `count` added', () => {
  let created: string[];
  beforeAll(async () => {
    created = [];
    for (let i = 0; i < 7; i++) created.push(await createTask({ name: `page-${i}`, tags: ['paging'] }));
  });
  const pagingFilter = { operator: 'Equal', field: 'Tags', value: 'paging' };

  async function pages(path: string, first: Record<string, unknown>, tokenKey = 'token') {
    const out: { data: { uuid: string }[]; token: string | null; nextToken: string | null; isTruncated: boolean; count: number }[] = [];
    let token: string | null = null;
    for (let guard = 0; guard < 50; guard++) {
      const r = await t.call('POST', path, { body: { ...first, [tokenKey]: token } });
      expect(r.status, r.text).toBe(200);
      expect(Object.keys(r.json as object).sort()).toEqual(['count', 'data', 'isTruncated', 'nextToken', 'token']);
      out.push(r.json as (typeof out)[number]);
      expect(r.json.token).toBe(token);
      if (!r.json.isTruncated || r.json.nextToken === null) break;
      token = r.json.nextToken;
    }
    return out;
  }

  it('iterates every page with isTruncated/nextToken (camelCase body, as PY sends it)', async () => {
    const got = await pages('/tasks/paginate', { filter: pagingFilter, maximumResults: 3 });
    expect(got.map((p) => p.count)).toEqual([3, 3, 1]);
    expect(got.map((p) => p.data.length)).toEqual([3, 3, 1]);
    expect(got.map((p) => p.isTruncated)).toEqual([true, true, false]);
    expect(got[2]!.nextToken).toBeNull();
    expect(got.flatMap((p) => p.data.map((d) => d.uuid))).toEqual(created);
  });

  it('PascalCase Token/Filter/MaximumResults/OrderBy/OrderType bodies, as the Node SDK sends them', async () => {
    const got = await pages(
      '/tasks/paginate',
      { Filter: { Operator: 'Equal', Field: 'Tags', Value: 'paging' }, MaximumResults: 2, OrderBy: 'CreationDate', OrderType: 'Descending' },
      'Token',
    );
    expect(got.map((p) => p.count)).toEqual([2, 2, 2, 1]);
    expect(got.flatMap((p) => p.data.map((d) => d.uuid))).toEqual([...created].reverse());
    const byName = await pages('/tasks/paginate', { Filter: pagingFilter, MaximumResults: 4, OrderBy: 'Name', OrderType: 'descending' }, 'Token');
    expect(byName.flatMap((p) => p.data.map((d) => (d as unknown as { name: string }).name))).toEqual(
      [...Array(7).keys()].map((i) => `page-${6 - i}`),
    );
  });

  it('PY null fields: {"filter": null, "token": null, "maximumResults": null} gives the first page of everything', async () => {
    const r = await t.call('POST', '/tasks/paginate', { body: { filter: null, token: null, maximumResults: null } });
    expect(r.status).toBe(200);
    expect(r.json.count).toBe(r.json.data.length);
    expect((r.json.data as { uuid: string }[]).map((d) => d.uuid)).toEqual(expect.arrayContaining(created));
    const bodiless = await t.call('POST', '/tasks/paginate');
    expect(bodiless.status).toBe(200);
  });

  it('JS pool test: paginate(1) answers count 1 and isTruncated true when there are more', async () => {
    await createPool({ name: 'pp-1' });
    await createPool({ name: 'pp-2' });
    for (const path of ['/pools/paginate', '/pools/summaries/paginate', '/jobs/paginate']) {
      if (path === '/jobs/paginate') {
        await createJob();
        await createJob();
      }
      const r = await t.call('POST', path, { body: { MaximumResults: 1 } });
      expect(r.status).toBe(200);
      expect(r.json.count).toBe(1);
      expect(r.json.isTruncated).toBe(true);
      expect(typeof r.json.nextToken).toBe('string');
    }
  });

  it('a bad token → 400 naming the token', async () => {
    expectError(await t.call('POST', '/tasks/paginate', { body: { token: 'not-a-token' } }), 400, 'token');
    expectError(await t.call('POST', '/pools/summaries/paginate', { body: { Token: 'eyJ4IjoxfQ' } }), 400, 'token');
    expectError(await t.call('POST', '/tasks/paginate', { body: { maximumResults: -1 } }), 400, 'maximumResults');
    expectError(await t.call('POST', '/tasks/paginate', { body: { orderBy: 'Bogus' } }), 400, 'Bogus');
  });

  it('task summaries contain exactly the summary fields (paginate, GET /tasks/summaries)', async () => {
    const page = await t.call('POST', '/tasks/summaries/paginate', { body: { maximumResults: 100 } });
    expect(page.json.data.length).toBeGreaterThan(0);
    for (const s of page.json.data as object[]) expect(Object.keys(s).sort()).toEqual(TASK_SUMMARY_KEYS);
    const all = await t.call('GET', '/tasks/summaries');
    expect(all.json.length).toBeGreaterThan(0);
    for (const s of all.json as object[]) expect(Object.keys(s).sort()).toEqual(TASK_SUMMARY_KEYS);
  });

  it('pool summaries are a projection of the pool without its heavy fields', async () => {
    const uuid = await createPool({ name: 'summary-pool', constants: [{ key: 'K', value: 'v' }] });
    const full = (await t.call('GET', `/pools/${uuid}`)).json;
    const list = (await t.call('GET', '/pools/summaries')).json as Record<string, unknown>[];
    const s = list.find((x) => x['uuid'] === uuid)!;
    expect(s).toBeDefined();
    for (const [k, v] of Object.entries(s)) expect(full[k], k).toEqual(v);
    expect(s).toMatchObject({ name: 'summary-pool', state: 'Submitted' });
    for (const heavy of ['constants', 'elasticProperty', 'hardwareConstraints', 'advancedResourceBuckets']) expect(s).not.toHaveProperty(heavy);
  });

  it('GET /tasks/summaries?tag=a,b answers the tasks with any of the tags', async () => {
    const a = await createTask({ tags: ['sum-a'] });
    const b = await createTask({ tags: ['sum-b', 'other'] });
    await createTask({ tags: ['sum-c'] });
    const r = await t.call('GET', '/tasks/summaries?tag=sum-a,sum-b');
    expect(r.status).toBe(200);
    expect((r.json as { uuid: string }[]).map((x) => x.uuid).sort()).toEqual([a, b].sort());
    const repeated = await t.call('GET', '/tasks/summaries?tag=sum-a&tag=sum-b');
    expect(repeated.json).toHaveLength(2);
    expect(((await t.call('GET', '/tasks?tag=sum-a')).json as { uuid: string }[]).map((x) => x.uuid)).toEqual([a]);
  });
});

describe('§1.4 The filter grammar', () => {
  let f: TestApi;
  beforeAll(async () => {
    f = await startTestApi();
    const rows: [string, string[], number][] = [
      ['alpha-1', ['red', 'big'], 1],
      ['alpha-2', ['red'], 2],
      ['beta-1', ['blue', 'big'], 3],
      ['beta-2', ['blue'], 4],
      ['gamma', [], 5],
    ];
    for (const [name, tags, instanceCount] of rows) await createTask({ name, shortname: `s-${name}`, tags, instanceCount }, f);
  });
  afterAll(async () => f.close());

  async function names(filter: unknown, path = '/tasks/paginate'): Promise<string[]> {
    const r = await f.call('POST', path, { body: { filter, maximumResults: 100 } });
    expect(r.status, r.text).toBe(200);
    return (r.json.data as { name: string }[]).map((x) => x.name).sort();
  }
  const leaf = (operator: string, field: string, value: unknown) => ({ operator, field, value });

  it('Equal and NotEqual', async () => {
    expect(await names(leaf('Equal', 'Name', 'gamma'))).toEqual(['gamma']);
    expect(await names(leaf('Equal', 'Shortname', 's-beta-2'))).toEqual(['beta-2']);
    expect(await names(leaf('NotEqual', 'Name', 'gamma'))).toEqual(['alpha-1', 'alpha-2', 'beta-1', 'beta-2']);
    expect(await names(leaf('Equal', 'State', 'Submitted'))).toHaveLength(5);
    expect(await names(leaf('Equal', 'Profile', 'docker-batch'))).toHaveLength(5);
    expect(await names(leaf('Equal', 'InstanceCount', 3))).toEqual(['beta-1']);
  });

  it('In with a `value` array (PY) and with `values` (CS), and NotIn', async () => {
    expect(await names(leaf('In', 'Name', ['alpha-1', 'beta-1']))).toEqual(['alpha-1', 'beta-1']);
    expect(await names({ operator: 'In', field: 'Name', values: ['alpha-2', 'gamma'] })).toEqual(['alpha-2', 'gamma']);
    expect(await names({ operator: 'NotIn', field: 'InstanceCount', values: [1, 2] })).toEqual(['beta-1', 'beta-2', 'gamma']);
    expect(await names(leaf('NotIn', 'Name', ['gamma']))).toHaveLength(4);
    expect(await names(leaf('In', 'Tags', ['red', 'blue']))).toEqual(['alpha-1', 'alpha-2', 'beta-1', 'beta-2']);
    expect(await names(leaf('NotIn', 'Tags', ['red', 'blue']))).toEqual(['gamma']);
  });

  it('LessThan, LessThanOrEqual, GreaterThan, GreaterThanOrEqual', async () => {
    expect(await names(leaf('LessThan', 'InstanceCount', 3))).toEqual(['alpha-1', 'alpha-2']);
    expect(await names(leaf('LessThanOrEqual', 'InstanceCount', 3))).toEqual(['alpha-1', 'alpha-2', 'beta-1']);
    expect(await names(leaf('GreaterThan', 'InstanceCount', 3))).toEqual(['beta-2', 'gamma']);
    expect(await names(leaf('GreaterThanOrEqual', 'InstanceCount', 4))).toEqual(['beta-2', 'gamma']);
    expect(await names(leaf('GreaterThan', 'CreationDate', '2000-01-01T00:00:00Z'))).toHaveLength(5);
    expect(await names(leaf('LessThan', 'CreationDate', '2000-01-01T00:00:00Z'))).toEqual([]);
  });

  it('Like with a slash-delimited /regex/ (flags too)', async () => {
    expect(await names(leaf('Like', 'Name', '/^beta-/'))).toEqual(['beta-1', 'beta-2']);
    expect(await names(leaf('Like', 'Name', '/^ALPHA-\\d$/i'))).toEqual(['alpha-1', 'alpha-2']);
    expect(await names(leaf('Like', 'Tags', '/^bl/'))).toEqual(['beta-1', 'beta-2']);
    expectError(await f.call('POST', '/tasks/paginate', { body: { filter: leaf('Like', 'Name', '/(/') } }), 400, '(');
  });

  it('Equal on an array field means contains (Tags)', async () => {
    expect(await names(leaf('Equal', 'Tags', 'big'))).toEqual(['alpha-1', 'beta-1']);
    expect(await names(leaf('Equal', 'Tags', 'nope'))).toEqual([]);
    expect(await names(leaf('NotEqual', 'Tags', 'red'))).toEqual(['beta-1', 'beta-2', 'gamma']);
  });

  it('And/Or nodes, nested; PY tag filters (Or of Equal for any-of, And for all-of)', async () => {
    expect(await names({ operator: 'And', filters: [leaf('Equal', 'Tags', 'red'), leaf('Equal', 'Tags', 'big')] })).toEqual(['alpha-1']);
    expect(await names({ operator: 'Or', filters: [leaf('Equal', 'Tags', 'blue'), leaf('Equal', 'Name', 'gamma')] })).toEqual([
      'beta-1',
      'beta-2',
      'gamma',
    ]);
    const nested = {
      operator: 'And',
      filters: [
        { operator: 'Or', filters: [leaf('Equal', 'Tags', 'red'), leaf('Equal', 'Tags', 'blue')] },
        leaf('GreaterThan', 'InstanceCount', 1),
        { operator: 'Or', filters: [leaf('Like', 'Name', '/-2$/'), leaf('Equal', 'Tags', 'big')] },
      ],
    };
    expect(await names(nested)).toEqual(['alpha-2', 'beta-1', 'beta-2']);
    expect(await names({ operator: 'And', filters: [] })).toHaveLength(5);
  });

  it('operator and field names are case-insensitive', async () => {
    expect(await names({ operator: 'or', filters: [leaf('equal', 'name', 'gamma'), leaf('EQUAL', 'TAGS', 'big')] })).toEqual([
      'alpha-1',
      'beta-1',
      'gamma',
    ]);
  });

  it('the grammar works on summaries, search, pools and jobs too', async () => {
    expect(await names(leaf('Equal', 'Tags', 'big'), '/tasks/summaries/paginate')).toEqual(['alpha-1', 'beta-1']);
    await createPool({ name: 'pool-red', tags: ['red'] }, f);
    await createPool({ name: 'pool-blue', tags: ['blue'] }, f);
    expect(await names(leaf('Equal', 'Tags', 'red'), '/pools/paginate')).toEqual(['pool-red']);
    expect(await names(leaf('Like', 'Name', '/blue$/'), '/pools/summaries/paginate')).toEqual(['pool-blue']);
    await createJob({ name: 'job-red', tags: ['red'] }, f);
    await createJob({ name: 'job-plain', useDependencies: true }, f);
    expect(await names(leaf('Equal', 'Tags', 'red'), '/jobs/paginate')).toEqual(['job-red']);
    expect(await names(leaf('Equal', 'UseDependencies', true), '/jobs/paginate')).toEqual(['job-plain']);
  });

  it('an unknown field → 400 naming it; a wrong operator or shape → 400', async () => {
    expectError(await f.call('POST', '/tasks/paginate', { body: { filter: leaf('Equal', 'Colour', 'red') } }), 400, 'Colour');
    expectError(await f.call('POST', '/jobs/paginate', { body: { filter: leaf('Equal', 'InstanceCount', 1) } }), 400, 'InstanceCount');
    expectError(await f.call('POST', '/tasks/paginate', { body: { filter: leaf('Between', 'Name', 'a') } }), 400, 'filter');
    expectError(await f.call('POST', '/tasks/paginate', { body: { filter: leaf('LessThan', 'Tags', 'a') } }), 400, 'Tags');
    expectError(await f.call('POST', '/tasks/paginate', { body: { filter: leaf('LessThan', 'Name', ['a', 'b']) } }), 400, 'Name');
    expectError(await f.call('POST', '/tasks/paginate', { body: { filter: 'Name = gamma' } }), 400, 'filter');
    expectError(await f.call('POST', '/tasks/search', { body: { Filter: leaf('Equal', 'Nope', 1) } }), 400, 'Nope');
  });

  it('POST /tasks/search with Select fields answers a plain array of the selected fields', async () => {
    const r = await f.call('POST', '/tasks/search', {
      body: { Select: { Fields: ['Name', 'Tags'] }, Filter: leaf('Equal', 'Tags', 'big'), MaximumResults: 10 },
    });
    expect(r.status, r.text).toBe(200);
    expect(Array.isArray(r.json)).toBe(true);
    expect((r.json as { name: string }[]).map((x) => x.name).sort()).toEqual(['alpha-1', 'beta-1']);
    for (const x of r.json as { uuid: string }[]) {
      expect(Object.keys(x).sort()).toEqual(['name', 'tags', 'uuid']);
      expect(x.uuid).toMatch(UUID);
    }
    const capped = await f.call('POST', '/tasks/search', { body: { MaximumResults: 2 } });
    expect(capped.json).toHaveLength(2);
    expect(capped.json[0].hardwareConstraints).toEqual([]); // no Select: whole tasks
    const pools = await f.call('POST', '/pools/search', { body: { Select: { Fields: ['Shortname'] }, Filter: leaf('Equal', 'Name', 'pool-red') } });
    expect(pools.json).toHaveLength(1);
    expect(Object.keys(pools.json[0] as object).sort()).toEqual(['shortname', 'uuid']);
    const jobs = await f.call('POST', '/jobs/search', { body: { Filter: leaf('Equal', 'Name', 'job-red') } });
    expect((jobs.json as { name: string }[]).map((j) => j.name)).toEqual(['job-red']);
  });
});

describe('hardware constraints: offset paging and the cpu-model search', () => {
  it('GET /hardware-constraints pages with {data, offset, limit, total}, as PY iterates it', async () => {
    const first = await t.call('GET', '/hardware-constraints');
    expect(first.status).toBe(200);
    expect(Object.keys(first.json as object).sort()).toEqual(['data', 'limit', 'offset', 'total']);
    expect(first.json).toMatchObject({ offset: 0, limit: 50 });
    const total = first.json.total as number;
    expect(first.json.data).toHaveLength(total);
    const collected: unknown[] = [];
    let offset = 0;
    for (;;) {
      const page = (await t.call('GET', `/hardware-constraints?limit=2&offset=${offset}`)).json;
      expect(page).toMatchObject({ offset, limit: 2, total });
      expect(page.data.length).toBe(Math.min(2, total - offset));
      collected.push(...(page.data as unknown[]));
      if (!(page.total > page.offset + page.limit)) break;
      offset += 2;
    }
    expect(collected).toEqual(first.json.data);
    expect((await t.call('GET', `/hardware-constraints?offset=${total + 5}`)).json.data).toEqual([]);
    expectError(await t.call('GET', '/hardware-constraints?limit=-1'), 400, 'limit');
    expectError(await t.call('GET', '/hardware-constraints?offset=x'), 400, 'offset');
  });

  it('every listed constraint is one a task may ask for (submitting it is not refused)', async () => {
    const all = (await t.call('GET', '/hardware-constraints')).json.data as { discriminator: string }[];
    expect(all.some((c) => c.discriminator === 'CpuModelHardwareConstraint')).toBe(true);
    for (const c of all) {
      const r = await t.call('POST', '/tasks', { body: taskBody({ hardwareConstraints: [c] }) });
      expect(r.status, `${JSON.stringify(c)} → ${r.text}`).toBe(201);
    }
  });

  it('the cpu-model search answers CpuModel constraints matching ?cpuModel=', async () => {
    const hit = await t.call('GET', '/hardware-constraints/cpu-model-constraints/search?cpuModel=test%20cpu');
    expect(hit.status).toBe(200);
    expect(hit.json).toEqual([{ discriminator: 'CpuModelHardwareConstraint', cpuModel: 'Test CPU @ 2.00GHz' }]);
    expect((await t.call('GET', '/hardware-constraints/cpu-model-constraints/search?cpuModel=epyc')).json).toEqual([]);
  });
});

describe('secrets manager', () => {
  it('PUT creates (409 when it exists), GET answers {value}, PATCH updates (404 when missing), DELETE removes', async () => {
    const key = '/secrets-manager/data/crud/db/password';
    expectError(await t.call('GET', key), 404, 'crud/db/password');
    expectError(await t.call('PATCH', key, { body: { Value: 'x' } }), 404);
    expect((await t.call('PUT', key, { body: { Value: 'pässwörd ✓' } })).status).toBe(201);
    expect((await t.call('GET', key)).json).toEqual({ value: 'pässwörd ✓' });
    expectError(await t.call('PUT', key, { body: { Value: 'other' } }), 409);
    expect((await t.call('PATCH', key, { body: { Value: 'new' } })).status).toBe(204);
    expect((await t.call('GET', key)).json).toEqual({ value: 'new' });
    expect((await t.call('DELETE', key)).status).toBe(204);
    expectError(await t.call('GET', key), 404);
    expectError(await t.call('DELETE', key), 404);
    expectError(await t.call('PUT', key, { body: { value: 3 } }), 400, 'value');
    expectError(await t.call('PUT', key, {}), 400);
  });

  it('nested keys with `/`; surrounding slashes are dropped as PY strips them', async () => {
    expect((await t.call('PUT', '/secrets-manager/data/nest/a/b/c', { body: { Value: 'deep' } })).status).toBe(201);
    expect((await t.call('GET', '/secrets-manager/data/nest/a/b/c/')).json.value).toBe('deep');
    expect((await t.call('GET', '/secrets-manager/data//nest/a/b/c')).json.value).toBe('deep');
    expectError(await t.call('GET', '/secrets-manager/data/nest/a/b'), 404);
  });

  it('search lists keys relative to the prefix, folders ending in `/`', async () => {
    const q = await startTestApi();
    try {
      for (const k of ['app/db/user', 'app/db/password', 'app/token', 'top']) {
        expect((await q.call('PUT', `/secrets-manager/data/${k}`, { body: { Value: k } })).status).toBe(201);
      }
      const root = await q.call('GET', '/secrets-manager/search/');
      expect(root.status).toBe(200);
      expect((root.json.keys as string[]).sort()).toEqual(['app/', 'top']);
      expect(((await q.call('GET', '/secrets-manager/search/app')).json.keys as string[]).sort()).toEqual(['db/', 'token']);
      expect(((await q.call('GET', '/secrets-manager/search/app/')).json.keys as string[]).sort()).toEqual(['db/', 'token']);
      expect(((await q.call('GET', '/secrets-manager/search/app/db')).json.keys as string[]).sort()).toEqual(['password', 'user']);
      expect((await q.call('GET', '/secrets-manager/search/ap')).json.keys).toEqual([]); // prefixes are folders
      expect((await q.call('GET', '/secrets-manager/search/none')).json).toEqual({ keys: [] });
      // PY's recursive listing: prefix each key with `prefix/` and descend into folders.
      const walk = async (prefix: string): Promise<string[]> => {
        const keys = (await q.call('GET', `/secrets-manager/search/${prefix}`)).json.keys as string[];
        const out: string[] = [];
        for (const k of keys) {
          const full = prefix ? `${prefix}/${k}` : k;
          if (k.endsWith('/')) out.push(...(await walk(full.slice(0, -1))));
          else out.push(full);
        }
        return out;
      };
      expect((await walk('')).sort()).toEqual(['app/db/password', 'app/db/user', 'app/token', 'top']);
    } finally {
      await q.close();
    }
  });
});

describe('profiles', () => {
  it('GET /profiles lists names; GET /profiles/{name} the constants with descriptions; unknown → 404', async () => {
    const list = await t.call('GET', '/profiles');
    expect(list.status).toBe(200);
    expect(list.json).toEqual(['docker-batch']);
    const details = await t.call('GET', '/profiles/docker-batch');
    expect(details.json).toEqual({ name: 'docker-batch', constants: [{ name: 'DOCKER_CMD', value: 'true', description: 'command' }] });
    for (const c of details.json.constants as object[]) expect(Object.keys(c).sort()).toEqual(['description', 'name', 'value']);
    expectError(await t.call('GET', '/profiles/gpu-magic'), 404, 'gpu-magic');
  });
});

describe('credits and carbon answer documented values for a self-hosted server', () => {
  const CARBON_KEYS = [
    'total_consumed_energy_Wh', 'total_energy_it_Wh', 'total_reused_energy_Wh', 'qarnot_carbon_footprint',
    'equivalent_datacenter_name', 'equivalent_DC_carbon_footprint', 'saved_carbon_footprint_compute',
    'saved_carbon_footprint_heat', 'saved_carbon_footprint_compute_heat', 'saved_carbon_footprint_percent',
    'PUE', 'ERE', 'ERF', 'WUE',
  ].sort();

  it('credits: account, task and pool answer {credits: 0}; unknown task or pool → 404', async () => {
    expect((await t.call('GET', '/credits/v1/accounts/credits')).json).toEqual({ credits: 0 });
    const task = await createTask();
    expect((await t.call('GET', `/credits/v1/tasks/${task}/credits`)).json).toEqual({ credits: 0 });
    const pool = await createPool();
    expect((await t.call('GET', `/credits/v1/pools/${pool}/credits`)).json).toEqual({ credits: 0 });
    expectError(await t.call('GET', '/credits/v1/tasks/unknown-task/credits'), 404);
    expectError(await t.call('GET', `/credits/v1/pools/${task}/credits`), 404); // a task uuid is no pool
    expectError(await t.call('GET', `/credits/v1/projects/${pool}/budgets?activeOnly=True`), 404, 'project');
  });

  it('carbon facts: every §2.6 key, zeros, the comparison datacenter echoed; unknown → 404', async () => {
    const task = await createTask();
    const r = await t.call('GET', `/carbon/v1/tasks/${task}/carbon-facts`);
    expect(r.status).toBe(200);
    expect(Object.keys(r.json as object).sort()).toEqual(CARBON_KEYS);
    expect(r.json.total_consumed_energy_Wh).toBe(0);
    expect(typeof r.json.equivalent_datacenter_name).toBe('string');
    const dc = await t.call('GET', `/carbon/v1/tasks/${task}/carbon-facts?comparisonDatacenter=european_dc`);
    expect(dc.json.equivalent_datacenter_name).toBe('european_dc');
    const pool = await createPool();
    expect(Object.keys((await t.call('GET', `/carbon/v1/pools/${pool}/carbon-facts`)).json as object).sort()).toEqual(CARBON_KEYS);
    expectError(await t.call('GET', '/carbon/v1/tasks/unknown/carbon-facts'), 404);
    expectError(await t.call('GET', '/carbon/v1/pools/unknown/carbon-facts'), 404);
  });
});

describe('/openapi.json', () => {
  it('is a valid-looking OpenAPI 3.1 document listing every route, served without a token', async () => {
    const r = await t.call('GET', '/openapi.json', { token: null });
    expect(r.status).toBe(200);
    const doc = r.json;
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(typeof doc.info.title).toBe('string');
    expect(typeof doc.info.version).toBe('string');
    expect(doc.components.securitySchemes).toBeDefined();
    const routes = t.api.router.routes;
    expect(routes.length).toBeGreaterThan(40);
    let operations = 0;
    for (const p of Object.values<Record<string, unknown>>(doc.paths as Record<string, Record<string, unknown>>)) operations += Object.keys(p).length;
    expect(operations).toBe(routes.length);
    for (const route of routes) {
      const path = route.path.replace(/\{\*(\w+)\}/g, '{$1}');
      const op = doc.paths[path]?.[route.method.toLowerCase()];
      expect(op, `${route.method} ${route.path}`).toBeDefined();
      expect(typeof op.summary).toBe('string');
      expect(Object.keys(op.responses as object).length).toBeGreaterThan(0);
      for (const code of Object.keys(op.responses as object)) expect(code).toMatch(/^[1-5]\d\d$/);
      const declared = ((op.parameters ?? []) as { name: string; in: string; required: boolean }[]).filter((x) => x.in === 'path');
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      expect(declared.map((x) => x.name)).toEqual(inPath);
      for (const d of declared) expect(d.required).toBe(true);
      if (route.body) {
        const schema = op.requestBody.content['application/json'].schema;
        expect(typeof schema).toBe('object');
      }
    }
    // The spots clients rely on.
    expect(doc.paths['/tasks'].post.requestBody.content['application/json'].schema.properties).toHaveProperty('name');
    expect(doc.paths['/jobs'].post).toBeDefined();
    expect(doc.paths['/secrets-manager/data/{key}'].put).toBeDefined();
    expect(doc.paths['/openapi.json'].get.security).toEqual([]);
  });
});
