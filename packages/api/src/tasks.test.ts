import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, taskBody, type TestApi } from './test-support/test-api.js';

let t: TestApi;
beforeAll(async () => {
  t = await startTestApi({ quotas: { maxTask: 50 } });
});
afterAll(async () => t.close());

describe('POST /tasks', () => {
  it('creates a task and answers its uuid; GET returns the full model', async () => {
    const r = await t.call('POST', '/tasks', { body: taskBody({ tags: ['a', 'b'], constants: [{ key: 'K', value: 'v' }] }) });
    expect(r.status).toBe(201);
    expect(r.json.uuid).toMatch(/^[0-9a-f-]{36}$/);
    const g = await t.call('GET', `/tasks/${r.json.uuid}`);
    expect(g.status).toBe(200);
    const task = g.json;
    expect(task).toMatchObject({
      uuid: r.json.uuid,
      name: 'render',
      shortname: r.json.uuid,
      profile: 'docker-batch',
      state: 'Submitted',
      instanceCount: 1,
      runningCoreCount: 0,
      runningInstanceCount: 0,
      tags: ['a', 'b'],
      constants: [{ key: 'K', value: 'v' }],
      hardwareConstraints: [],
      forcedNetworkRules: [],
      errors: [],
      completedInstances: [],
      resultsCount: 0,
      completionTimeToLive: '00:00:00',
      schedulingType: 'Flex',
    });
    // The Python SDK parses %Y-%m-%dT%H:%M:%S.%fZ: a Z and at most 6 fractional digits.
    expect(task.creationDate).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/);
    expect(g.headers.get('content-type')).toContain('application/json');
  });

  it('accepts PascalCase property names and enum values in any case', async () => {
    const r = await t.call('POST', '/tasks', {
      body: { Name: 'pascal', Profile: 'DOCKER-BATCH', InstanceCount: 2, SchedulingType: 'ondemand', ResultsCacheTTLSec: 30 },
    });
    expect(r.status).toBe(201);
    const task = (await t.call('GET', `/tasks/${r.json.uuid}`)).json;
    expect(task).toMatchObject({ name: 'pascal', profile: 'docker-batch', instanceCount: 2, schedulingType: 'OnDemand' });
    expect(task.resultsCacheTTLSec).toBe(30);
    expect(task.ResultsCacheTTLSec).toBe(30);
  });

  it('takes advanced ranges in the seed syntax and counts their instances', async () => {
    const r = await t.call('POST', '/tasks', { body: taskBody({ instanceCount: 0, advancedRanges: '1,3-8,9,12-19' }) });
    expect(r.status).toBe(201);
    const task = (await t.call('GET', `/tasks/${r.json.uuid}`)).json;
    expect(task.instanceCount).toBe(1 + 7 + 8);
    expect(task.advancedRanges).toBe('1,3-9,12-19');
    const single = await t.call('POST', '/tasks', { body: taskBody({ instanceCount: 0, advancedRanges: '0-99' }) });
    expect((await t.call('GET', `/tasks/${single.json.uuid}`)).json.instanceCount).toBe(100);
  });

  it.each([
    [{ instanceCount: 2, advancedRanges: '1-3' }, 'advancedRanges'],
    [{ instanceCount: 0, advancedRanges: '3-1' }, 'advancedRanges'],
    [{ instanceCount: 0, advancedRanges: '1,,2' }, 'advancedRanges'],
    [{ instanceCount: -1 }, 'instanceCount'],
    [{ instanceCount: 1.5 }, 'instanceCount'],
    [{ profile: 'docker-batch', poolUuid: '6a3f3b7e-1d2c-4b5a-8e9f-0a1b2c3d4e5f' }, 'poolUuid'],
    [{ profile: null }, 'profile'],
    [{ profile: 'nope' }, 'profile'],
    [{ shortname: '-bad-' }, 'shortname'],
    [{ resultsWhitelist: '(' }, 'resultsWhitelist'],
    [{ completionTimeToLive: '1 hour' }, 'completionTimeToLive'],
    [{ schedulingType: 'Cheap' }, 'schedulingType'],
    [{ name: '' }, 'name'],
    [{ tags: 'a' }, 'tags'],
    [{ hardwareConstraints: [{ discriminator: 'Bogus' }] }, 'hardwareConstraints'],
    [{ dependencies: { dependsOn: ['not-a-uuid'] } }, 'dependencies'],
  ])('refuses %j with a 400 naming %s', async (overrides, field) => {
    const r = await t.call('POST', '/tasks', { body: taskBody(overrides) });
    expect(r.status).toBe(400);
    expect(r.json.message).toContain(field);
  });

  it('answers 400 for malformed JSON and 415-free for bodiless posts', async () => {
    const r = await t.call('POST', '/tasks', { body: '{"name": ' });
    expect(r.status).toBe(400);
    expect(r.json.message).toMatch(/Malformed JSON/);
    const empty = await t.call('POST', '/tasks');
    expect(empty.status).toBe(400);
  });

  it('refuses a GPU constraint with the 402 hardware-constraint message', async () => {
    const r = await t.call('POST', '/tasks', { body: taskBody({ hardwareConstraints: [{ discriminator: 'GpuHardwareConstraint' }] }) });
    expect(r.status).toBe(402);
    expect((r.json.message as string).toLowerCase()).toContain('hardware constraint');
  });

  it('keeps shortnames unique per user and finds tasks by shortname', async () => {
    const a = await t.call('POST', '/tasks', { body: taskBody({ shortname: 'my-render' }) });
    expect(a.status).toBe(201);
    const b = await t.call('POST', '/tasks', { body: taskBody({ shortname: 'my-render' }) });
    expect(b.status).toBe(409);
    const g = await t.call('GET', '/tasks/my-render');
    expect(g.json.uuid).toBe(a.json.uuid);
  });

  it('replays an Idempotency-Key instead of creating a second task', async () => {
    const headers = { 'idempotency-key': 'retry-1' };
    const first = await t.call('POST', '/tasks', { body: taskBody({ name: 'once' }), headers });
    const second = await t.call('POST', '/tasks', { body: taskBody({ name: 'once' }), headers });
    expect(second.json.uuid).toBe(first.json.uuid);
    const all = (await t.call('GET', '/tasks')).json as { name: string }[];
    expect(all.filter((x) => x.name === 'once')).toHaveLength(1);
  });

  it('bulk-creates an array, answering one result per item in order', async () => {
    const r = await t.call('POST', '/tasks', {
      body: [taskBody({ name: 'bulk-1' }), taskBody({ instanceCount: -3 }), taskBody({ name: 'bulk-3' })],
    });
    expect(r.status).toBe(200);
    expect(r.json).toHaveLength(3);
    expect(r.json[0]).toMatchObject({ statusCode: 201, message: null });
    expect(r.json[1]).toMatchObject({ statusCode: 400, uuid: null });
    expect(r.json[1].message).toContain('instanceCount');
    expect(r.json[2].statusCode).toBe(201);
    expect((await t.call('GET', `/tasks/${r.json[2].uuid}`)).json.name).toBe('bulk-3');
  });
});

describe('PUT /tasks/{uuid}', () => {
  it('applies the fields that may change after submit and refuses changed pre-submit fields', async () => {
    const { json } = await t.call('POST', '/tasks', { body: taskBody({ tags: ['x'] }) });
    const current = (await t.call('GET', `/tasks/${json.uuid}`)).json;
    // The Python SDK's commit() sends the whole task back.
    const ok = await t.call('PUT', `/tasks/${json.uuid}`, {
      body: { ...current, tags: ['y'], constants: [{ key: 'A', value: '1' }] },
    });
    expect(ok.status).toBe(200);
    const after = (await t.call('GET', `/tasks/${json.uuid}`)).json;
    expect(after.tags).toEqual(['y']);
    expect(after.constants).toEqual([{ key: 'A', value: '1' }]);
    const bad = await t.call('PUT', `/tasks/${json.uuid}`, { body: { name: 'renamed' } });
    expect(bad.status).toBe(400);
    expect(bad.json.message).toContain("'name'");
    expect((await t.call('GET', `/tasks/${json.uuid}`)).json.name).toBe('render');
  });

  it('answers 404 for an unknown task', async () => {
    const r = await t.call('PUT', '/tasks/00000000-0000-0000-0000-000000000000', { body: { tags: [] } });
    expect(r.status).toBe(404);
  });
});

describe('DELETE /tasks/{uuid}', () => {
  it('deletes, then 404s', async () => {
    const { json } = await t.call('POST', '/tasks', { body: taskBody() });
    expect((await t.call('DELETE', `/tasks/${json.uuid}`)).status).toBe(204);
    expect((await t.call('GET', `/tasks/${json.uuid}`)).status).toBe(404);
    expect((await t.call('DELETE', `/tasks/${json.uuid}`)).status).toBe(404);
  });
});

describe('quotas', () => {
  it('answers 403 "Maximum number of tasks reached" at the limit and stores nothing more', async () => {
    const q = await startTestApi({ quotas: { maxTask: 2 } });
    try {
      expect((await q.call('POST', '/tasks', { body: taskBody() })).status).toBe(201);
      expect((await q.call('POST', '/tasks', { body: taskBody() })).status).toBe(201);
      const r = await q.call('POST', '/tasks', { body: taskBody() });
      expect(r.status).toBe(403);
      expect((r.json.message as string).toLowerCase()).toContain('maximum number of tasks reached');
      expect((await q.call('GET', '/tasks')).json).toHaveLength(2);
    } finally {
      await q.close();
    }
  });
});

describe('auth and routing', () => {
  it('401s without a token or with an unknown one, accepts raw and Bearer tokens', async () => {
    expect((await t.call('GET', '/tasks', { token: null })).status).toBe(401);
    expect((await t.call('GET', '/tasks', { token: 'nope' })).status).toBe(401);
    expect((await t.call('GET', '/tasks', { token: 'Bearer alice-token' })).status).toBe(200);
  });

  it('404s unknown routes and 405s wrong methods, with a message', async () => {
    const r = await t.call('GET', '/nope');
    expect(r.status).toBe(404);
    expect(r.json.message).toContain('/nope');
    const m = await t.call('PATCH', '/tasks');
    expect(m.status).toBe(405);
  });

  it('413s an oversized body', async () => {
    const small = await startTestApi({ maxBodyBytes: 1024 });
    try {
      const r = await small.call('POST', '/tasks', { body: taskBody({ name: 'x'.repeat(5000) }) });
      expect(r.status).toBe(413);
    } finally {
      await small.close();
    }
  });
});
