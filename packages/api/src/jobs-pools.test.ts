/**
 * Jobs and pools as entities: create, get, update, their task lists, scaling, and delete rules. There is no
 * scheduler here, so tasks stay `Submitted` and count as unfinished for the delete checks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, taskBody, type TestApi } from './test-support/test-api.js';

let t: TestApi;
beforeAll(async () => {
  t = await startTestApi();
});
afterAll(async () => t.close());

async function post(path: string, body: unknown): Promise<string> {
  const r = await t.call('POST', path, { body });
  expect(r.status, r.text).toBe(201);
  expect(Object.keys(r.json as object)).toEqual(['uuid']);
  expect(r.json.uuid).toHaveLength(36);
  return r.json.uuid as string;
}
const poolBody = (o: Record<string, unknown> = {}) => ({ name: 'pool', profile: 'docker-batch', instanceCount: 1, ...o });

/** The scaling policies of the Node SDK's pool test, in the order it sends them. */
const JS_POLICIES = [
  {
    type: 'ManagedTasksQueue',
    minTotalSlots: 0,
    maxTotalSlots: 10,
    minIdleSlots: 1,
    minIdleTimeSeconds: 90,
    scalingFactor: 0.5,
    name: 'the-active-policy',
    enabledPeriods: [
      { type: 'Weekly', days: ['thursday'], startTimeUtc: '19:30:00', endTimeUtc: '23:59:59', name: 'thursday-evening' },
      { type: 'Weekly', days: ['friday'], startTimeUtc: '00:00:00', endTimeUtc: '10:00:00', name: 'friday-morning' },
    ],
  },
  { type: 'Fixed', slotsCount: 19, name: 'default-policy', enabledPeriods: [{ type: 'Always', name: 'always' }] },
];

describe('jobs', () => {
  it('creates with POST /jobs/ (trailing slash) and POST /jobs, and GET returns the job', async () => {
    const a = await post('/jobs/', { name: 'job-with-task', useDependencies: false });
    const b = await post('/jobs', { name: 'other', shortname: 'other-job', maxWallTime: '1.00:00:00', tags: ['t', 't'] });
    const job = (await t.call('GET', `/jobs/${a}`)).json;
    expect(job).toMatchObject({ uuid: a, name: 'job-with-task', shortname: a, state: 'Active', useDependencies: false, tags: [] });
    expect((await t.call('GET', '/jobs/other-job')).json).toMatchObject({ uuid: b, maxWallTime: '1.00:00:00', tags: ['t'] });
  });

  it.each([
    [{}, 'name'],
    [{ name: '' }, 'name'],
    [{ name: 'j', shortname: 'not a dns name' }, 'shortname'],
    [{ name: 'j', maxWallTime: 'forever' }, 'maxWallTime'],
    [{ name: 'j', completionTimeToLive: '-00:00:01' }, 'completionTimeToLive'],
    [{ name: 'j', useDependencies: 'yes' }, 'useDependencies'],
    [{ name: 'j', tags: [1] }, 'tags'],
    [{ name: 'j', poolUuid: '3f1c2b4a-0000-4000-8000-000000000000' }, 'poolUuid'],
  ])('refuses %j with a 400 naming %s', async (body, field) => {
    const r = await t.call('POST', '/jobs/', { body });
    expect(r.status).toBe(400);
    expect(r.json.message).toContain(field);
  });

  it('refuses a second job with the same shortname (409)', async () => {
    await post('/jobs/', { name: 'j', shortname: 'dup-job' });
    const r = await t.call('POST', '/jobs/', { body: { name: 'j', shortname: 'dup-job' } });
    expect(r.status).toBe(409);
    expect(r.json.message).toContain('shortname');
  });

  it('PUT changes tags, accepts the whole job back unchanged, and refuses changed pre-submit fields', async () => {
    const uuid = await post('/jobs/', { name: 'put-job', useDependencies: true, maxWallTime: '02:00:00' });
    const before = (await t.call('GET', `/jobs/${uuid}`)).json;
    const tags = await t.call('PUT', `/jobs/${uuid}`, { body: { tags: ['a', 'b'] } });
    expect(tags.status).toBe(200);
    expect(tags.json.tags).toEqual(['a', 'b']);
    const after = (await t.call('GET', `/jobs/${uuid}`)).json;
    expect(after.tags).toEqual(['a', 'b']);
    expect(Date.parse(after.lastModified as string)).toBeGreaterThanOrEqual(Date.parse(before.lastModified as string));
    // PY sends its whole `_to_json()`; unchanged pre-submit fields are fine.
    const whole = await t.call('PUT', `/jobs/${uuid}`, { body: { ...after, tags: ['c'] } });
    expect(whole.status, whole.text).toBe(200);
    expect((await t.call('GET', `/jobs/${uuid}`)).json.tags).toEqual(['c']);
    for (const [field, value] of [
      ['name', 'renamed'],
      ['useDependencies', false],
      ['maxWallTime', '03:00:00'],
      ['shortname', 'new-short'],
      ['autoDeleteOnCompletion', true],
    ] as const) {
      const r = await t.call('PUT', `/jobs/${uuid}`, { body: { [field]: value } });
      expect(r.status, field).toBe(400);
      expect(r.json.message).toContain(`'${field}'`);
    }
    const final = (await t.call('GET', `/jobs/${uuid}`)).json;
    expect(final).toMatchObject({ name: 'put-job', useDependencies: true, maxWallTime: '02:00:00', shortname: uuid, tags: ['c'] });
  });

  it('GET /jobs/{uuid}/tasks lists exactly the job’s tasks, whole, in submission order', async () => {
    const job = await post('/jobs/', { name: 'with-tasks' });
    expect((await t.call('GET', `/jobs/${job}/tasks`)).json).toEqual([]);
    const other = await post('/jobs/', { name: 'other' });
    const first = await post('/tasks', taskBody({ name: 'first', jobUuid: job }));
    await post('/tasks', taskBody({ name: 'elsewhere', jobUuid: other }));
    await post('/tasks', taskBody({ name: 'no-job' }));
    const second = await post('/tasks', taskBody({ name: 'second', jobUuid: job }));
    const r = await t.call('GET', `/jobs/${job}/tasks`);
    expect(r.status).toBe(200);
    expect((r.json as { uuid: string }[]).map((x) => x.uuid)).toEqual([first, second]);
    for (const task of r.json) {
      expect(task).toMatchObject({ jobUuid: job, state: 'Submitted', hardwareConstraints: [], forcedNetworkRules: [] });
    }
  });

  it('delete: an empty job without force; with unfinished tasks 403 without force (tasks kept), 204 with force (tasks gone)', async () => {
    const empty = await post('/jobs/', { name: 'empty-job', useDependencies: false });
    expect((await t.call('DELETE', `/jobs/${empty}`)).status).toBe(204);
    expect((await t.call('GET', `/jobs/${empty}`)).status).toBe(404);
    expect(((await t.call('GET', '/jobs')).json as { uuid: string }[]).some((j) => j.uuid === empty)).toBe(false);

    const job = await post('/jobs/', { name: 'busy' });
    const task = await post('/tasks', taskBody({ jobUuid: job, constants: [{ key: 'DOCKER_CMD', value: 'sleep 600' }] }));
    for (const q of ['', '?force=False', '?force=false']) {
      const r = await t.call('DELETE', `/jobs/${job}${q}`);
      expect(r.status, q).toBe(403);
      expect(typeof r.json.message).toBe('string');
    }
    expect((await t.call('GET', `/jobs/${job}`)).json.state).toBe('Active');
    expect((await t.call('GET', `/tasks/${task}`)).json.state).toBe('Submitted');
    expect((await t.call('DELETE', `/jobs/${job}?force=True`)).status).toBe(204);
    expect((await t.call('GET', `/jobs/${job}`)).status).toBe(404);
    expect((await t.call('GET', `/tasks/${task}`)).status).toBe(404);
    expect((await t.call('DELETE', `/jobs/${job}?force=True`)).status).toBe(404);
    // The deleted job takes no new tasks.
    const late = await t.call('POST', '/tasks', { body: taskBody({ jobUuid: job }) });
    expect(late.status).toBe(400);
    expect(late.json.message).toContain('jobUuid');
  });

  it('a job in a pool records it, and refuses a task that names both a job and a pool', async () => {
    const pool = await post('/pools', poolBody());
    const job = await post('/jobs/', { name: 'pooled', poolUuid: pool });
    expect((await t.call('GET', `/jobs/${job}`)).json.poolUuid).toBe(pool);
    const both = await t.call('POST', '/tasks', { body: { name: 'x', jobUuid: job, poolUuid: pool, instanceCount: 1 } });
    expect(both.status).toBe(400);
    expect(both.json.message).toContain('jobUuid');
  });
});

describe('pools', () => {
  it('creates a pool as the Node SDK test does and GET returns it', async () => {
    const uuid = await post('/pools', {
      schedulingType: 'flex',
      instanceCount: 1,
      constants: [
        { key: 'DOCKER_REPO', value: 'library/ubuntu' },
        { key: 'DOCKER_WORKDIR', value: '${DOCKER_WORKDIR}' },
      ],
      profile: 'docker-batch',
      name: 'helloworld',
      shortname: 'helloworld',
    });
    const pool = (await t.call('GET', `/pools/${uuid}`)).json;
    expect(pool).toMatchObject({
      uuid,
      name: 'helloworld',
      shortname: 'helloworld',
      schedulingType: 'Flex',
      state: 'Submitted',
      instanceCount: 1,
      constants: [
        { key: 'DOCKER_REPO', value: 'library/ubuntu' },
        { key: 'DOCKER_WORKDIR', value: '${DOCKER_WORKDIR}' },
      ],
    });
    expect(((await t.call('GET', '/pools')).json as { uuid: string }[]).some((p) => p.uuid === uuid)).toBe(true);
  });

  it('stores elastic settings and defaults them as PY does', async () => {
    const elastic = { isElastic: true, minTotalSlots: 1, maxTotalSlots: 8, minIdleSlots: 1, resizePeriod: 60, rampResizeFactor: 0.4, minIdleTimeSeconds: 90 };
    const uuid = await post('/pools', poolBody({ elasticProperty: elastic }));
    expect((await t.call('GET', `/pools/${uuid}`)).json.elasticProperty).toEqual(elastic);
    const plain = await post('/pools', poolBody());
    expect((await t.call('GET', `/pools/${plain}`)).json.elasticProperty).toEqual({
      isElastic: false,
      minTotalSlots: 0,
      maxTotalSlots: 1,
      minIdleSlots: 0,
      resizePeriod: 90,
      rampResizeFactor: 1,
      minIdleTimeSeconds: 0,
    });
  });

  it.each([
    [{ profile: null }, 'profile'],
    [{ profile: 'unknown-profile' }, 'profile'],
    [{ name: null }, 'name'],
    [{ instanceCount: -1 }, 'instanceCount'],
    [{ elasticProperty: { isElastic: true, minTotalSlots: 5, maxTotalSlots: 2 } }, 'minTotalSlots'],
    [{ elasticProperty: { rampResizeFactor: 0 } }, 'rampResizeFactor'],
    [{ elasticProperty: { rampResizeFactor: 1.5 } }, 'rampResizeFactor'],
    [{ scaling: { policies: [] } }, 'policies'],
    [{ scaling: { policies: [{ type: 'Fixed', slotsCount: -2 }] } }, 'slotsCount'],
    [{ multiSlotsSettings: { slotsPerNode: 0 } }, 'slotsPerNode'],
    [{ shortname: 'x_y' }, 'shortname'],
  ])('refuses %j with a 400 naming %s', async (overrides, field) => {
    const r = await t.call('POST', '/pools', { body: poolBody(overrides) });
    expect(r.status).toBe(400);
    expect(r.json.message).toContain(field);
  });

  it('stores scaling policies with their active policy name', async () => {
    const uuid = await post('/pools', poolBody({ scaling: { policies: JS_POLICIES } }));
    const pool = (await t.call('GET', `/pools/${uuid}`)).json;
    expect(JSON.stringify(pool.scaling.policies)).toBe(JSON.stringify(JS_POLICIES));
    expect(pool.scaling.activePolicyName).toBe('the-active-policy');
  });

  it('PUT with only {"tags": ["updated"]} updates the tags (Node SDK test)', async () => {
    const uuid = await post('/pools', poolBody({ tags: ['old'], constants: [{ key: 'K', value: 'v' }] }));
    const r = await t.call('PUT', `/pools/${uuid}`, { body: { tags: ['updated'] } });
    expect(r.status, r.text).toBe(200);
    const pool = (await t.call('GET', `/pools/${uuid}`)).json;
    expect(JSON.stringify(pool.tags)).toBe(JSON.stringify(['updated']));
    expect(pool.constants).toEqual([{ key: 'K', value: 'v' }]);
    const tagged = await t.call('POST', '/pools/paginate', { body: { filter: { operator: 'Equal', field: 'Tags', value: 'updated' } } });
    expect((tagged.json.data as { uuid: string }[]).map((p) => p.uuid)).toEqual([uuid]);
    const old = await t.call('POST', '/pools/paginate', { body: { filter: { operator: 'Equal', field: 'Tags', value: 'old' } } });
    expect(old.json.data).toEqual([]);
  });

  it('PUT applies the fields that may change after submit (elastic, scaling, constants) and refuses the others', async () => {
    const uuid = await post('/pools', poolBody({ name: 'mutable', instanceCount: 2 }));
    const current = (await t.call('GET', `/pools/${uuid}`)).json;
    // PY's commit() sends the whole pool back.
    const elastic = { ...current.elasticProperty, isElastic: true, maxTotalSlots: 6 };
    const ok = await t.call('PUT', `/pools/${uuid}`, {
      body: { ...current, elasticProperty: elastic, constants: [{ key: 'A', value: '1' }], scaling: { policies: [{ type: 'Fixed', slotsCount: 3 }] } },
    });
    expect(ok.status, ok.text).toBe(200);
    const after = (await t.call('GET', `/pools/${uuid}`)).json;
    expect(after.elasticProperty).toEqual(elastic);
    expect(after.constants).toEqual([{ key: 'A', value: '1' }]);
    expect(after.scaling.policies).toEqual([{ type: 'Fixed', slotsCount: 3 }]);
    for (const [field, value] of [
      ['name', 'renamed'],
      ['instanceCount', 3],
      ['profile', 'other'],
      ['hardwareConstraints', [{ discriminator: 'NoGpuHardwareConstraint' }]],
      ['multiSlotsSettings', { slotsPerNode: 2 }],
    ] as const) {
      const r = await t.call('PUT', `/pools/${uuid}`, { body: { [field]: value } });
      expect(r.status, `${field}: ${r.text}`).toBe(400);
      expect(r.json.message).toContain(field);
    }
    expect((await t.call('GET', `/pools/${uuid}`)).json).toMatchObject({ name: 'mutable', instanceCount: 2, hardwareConstraints: [] });
  });

  it('PUT /pools/{uuid}/scaling replaces the policies; GET answers them exactly as sent (Node SDK test)', async () => {
    const uuid = await post('/pools', poolBody({ scaling: { policies: [{ type: 'Fixed', slotsCount: 1, name: 'before' }] } }));
    const r = await t.call('PUT', `/pools/${uuid}/scaling`, { body: { policies: JS_POLICIES } });
    expect(r.status, r.text).toBe(200);
    const pool = (await t.call('GET', `/pools/${uuid}`)).json;
    expect(JSON.stringify(pool.scaling.policies)).toBe(JSON.stringify(JS_POLICIES));
    expect(pool.scaling.activePolicyName).toBe('the-active-policy');
    // Case-insensitive names and enum values, as elsewhere.
    const pascal = await t.call('PUT', `/pools/${uuid}/scaling`, {
      body: { Policies: [{ Type: 'fixed', SlotsCount: 4, EnabledPeriods: [{ Type: 'weekly', Days: ['Monday'], StartTimeUtc: '08:00:00', EndTimeUtc: '18:00:00' }] }] },
    });
    expect(pascal.status, pascal.text).toBe(200);
    expect((await t.call('GET', `/pools/${uuid}`)).json.scaling.policies).toEqual([
      { type: 'Fixed', slotsCount: 4, enabledPeriods: [{ type: 'Weekly', days: ['monday'], startTimeUtc: '08:00:00', endTimeUtc: '18:00:00' }] },
    ]);
    const bad = await t.call('PUT', `/pools/${uuid}/scaling`, { body: { policies: [{ type: 'Fixed', slotsCount: 'many' }] } });
    expect(bad.status).toBe(400);
    expect(bad.json.message).toContain('slotsCount');
    expect((await t.call('GET', `/pools/${uuid}`)).json.scaling.policies[0].slotsCount).toBe(4);
  });

  it('POST /sanity-checks/pools/scaling: 200 with an empty body when valid (the Node SDK expects "")', async () => {
    const r = await t.call('POST', '/sanity-checks/pools/scaling', { body: { policies: JS_POLICIES } });
    expect(r.status).toBe(200);
    expect(r.text).toBe('');
  });

  it('POST /sanity-checks/pools/scaling: 400 ProblemDetails with errors keyed like policies[0] when invalid', async () => {
    // The Node SDK's test body and expected errors, verbatim.
    const js = await t.call('POST', '/sanity-checks/pools/scaling', {
      body: {
        policies: [
          { slotsCount: 12, type: 'Wrong policy type name', name: 'test_fixed_policies', enabledPeriods: [{ type: 'Wrong period type name', name: 'default_always' }] },
        ],
      },
    });
    expect(js.status).toBe(400);
    expect(js.headers.get('content-type')).toContain('application/problem+json');
    expect(JSON.stringify(js.json.errors)).toBe(JSON.stringify({ 'policies[0]': ['The input was not valid.'] }));
    expect(js.json).toMatchObject({ status: 400, title: expect.any(String), message: expect.any(String) });

    const cases: [unknown, string][] = [
      [{ policies: [{ type: 'Fixed', slotsCount: -1 }] }, 'policies[0].slotsCount'],
      [{ policies: [JS_POLICIES[1], { type: 'Fixed', slotsCount: 1, enabledPeriods: [{ type: 'Sometimes' }] }] }, 'policies[1].enabledPeriods[0]'],
      [{ policies: [{ type: 'Fixed', slotsCount: 1, enabledPeriods: [{ type: 'Weekly', days: ['funday'], startTimeUtc: '00:00:00', endTimeUtc: '01:00:00' }] }] }, 'policies[0].enabledPeriods[0].days[0]'],
      [{ policies: [{ type: 'ManagedTasksQueue', scalingFactor: 2 }] }, 'policies[0].scalingFactor'],
      [{ policies: [] }, 'policies'],
      [{}, 'policies'],
    ];
    for (const [body, key] of cases) {
      const r = await t.call('POST', '/sanity-checks/pools/scaling', { body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(Object.keys(r.json.errors as object), JSON.stringify(body)).toContain(key);
      for (const messages of Object.values(r.json.errors as Record<string, unknown>)) {
        expect(Array.isArray(messages)).toBe(true);
      }
    }
  });

  it('delete: a pool with unfinished tasks is refused (403) and kept; without them it is deleted', async () => {
    const uuid = await post('/pools', poolBody({ shortname: 'busy-pool' }));
    const task = await post('/tasks', { name: 'in-pool', poolUuid: uuid, instanceCount: 1 });
    expect((await t.call('GET', `/tasks/${task}`)).json).toMatchObject({ poolUuid: uuid, profile: null, state: 'Submitted' });
    const refused = await t.call('DELETE', `/pools/${uuid}`);
    expect(refused.status).toBe(403);
    expect(typeof refused.json.message).toBe('string');
    expect((await t.call('GET', `/pools/${uuid}`)).status).toBe(200);
    expect((await t.call('GET', `/tasks/${task}`)).status).toBe(200);
    expect((await t.call('DELETE', `/tasks/${task}`)).status).toBe(204);
    expect((await t.call('DELETE', '/pools/busy-pool')).status).toBe(204);
    expect((await t.call('GET', `/pools/${uuid}`)).status).toBe(404);
    expect(((await t.call('GET', '/pools')).json as { uuid: string }[]).some((p) => p.uuid === uuid)).toBe(false);
    const late = await t.call('POST', '/tasks', { body: { name: 'late', poolUuid: uuid, instanceCount: 1 } });
    expect(late.status).toBe(400);
    expect(late.json.message).toContain('poolUuid');
  });

  it('pool summaries and pages list the pool with count and isTruncated (Node SDK paginate(1))', async () => {
    await post('/pools', poolBody({ name: 'page-a' }));
    await post('/pools', poolBody({ name: 'page-b' }));
    for (const path of ['/pools/paginate', '/pools/summaries/paginate']) {
      const r = await t.call('POST', path, { body: { MaximumResults: 1, Token: null } });
      expect(r.status).toBe(200);
      expect(r.json.data).toHaveLength(1);
      expect(r.json.count).toBe(1);
      expect(r.json.isTruncated).toBe(true);
    }
  });
});
