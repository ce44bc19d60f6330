/**
 * Two users on one server: each sees only its own tasks, jobs, pools and secrets, through every read, write and
 * listing route; the other's uuids and shortnames answer 404 exactly as if they did not exist.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, taskBody, type TestApi } from './test-support/test-api.js';

let t: TestApi;
const BOB = 'bob@example.com-token';

interface Owned {
  task: string;
  jobTask: string;
  pool: string;
  job: string;
}
const alice = {} as Owned;
const bob = {} as Owned;

async function seed(token: string | undefined, into: Owned, label: string): Promise<void> {
  const as = token === undefined ? {} : { token };
  const post = async (path: string, body: unknown) => {
    const r = await t.call('POST', path, { ...as, body });
    expect(r.status, r.text).toBe(201);
    return r.json.uuid as string;
  };
  // The same shortnames for both users: they are unique per user only.
  into.pool = await post('/pools', { name: `${label}-pool`, profile: 'docker-batch', shortname: 'shared-pool', tags: ['iso'] });
  into.job = await post('/jobs/', { name: `${label}-job`, shortname: 'shared-job', tags: ['iso'] });
  into.task = await post('/tasks', taskBody({ name: `${label}-task`, shortname: 'shared-task', tags: ['iso'] }));
  into.jobTask = await post('/tasks', taskBody({ name: `${label}-job-task`, jobUuid: into.job, tags: ['iso'] }));
  const secret = await t.call('PUT', '/secrets-manager/data/shared/key', { ...as, body: { Value: `${label}-secret` } });
  expect(secret.status).toBe(201);
  expect((await t.call('PUT', `/secrets-manager/data/${label}-only/key`, { ...as, body: { Value: label } })).status).toBe(201);
}

beforeAll(async () => {
  t = await startTestApi();
  await t.addUser('bob@example.com');
  await seed(undefined, alice, 'alice');
  await seed(BOB, bob, 'bob');
});
afterAll(async () => t.close());

/** The sorted uuids of a JSON list body (`json` is loosely typed). */
const uuids = (list: unknown) => (list as { uuid: string }[]).map((x) => x.uuid).sort();
const mine = (o: Owned) => ({ tasks: [o.task, o.jobTask].sort(), pools: [o.pool], jobs: [o.job] });

describe('two users, one server', () => {
  it('shortnames may repeat across users, and each resolves to its own entity', async () => {
    for (const [token, owned] of [[undefined, alice], [BOB, bob]] as const) {
      const as = token === undefined ? {} : { token };
      expect((await t.call('GET', '/tasks/shared-task', as)).json.uuid).toBe(owned.task);
      expect((await t.call('GET', '/pools/shared-pool', as)).json.uuid).toBe(owned.pool);
      expect((await t.call('GET', '/jobs/shared-job', as)).json.uuid).toBe(owned.job);
    }
    expect(alice.task).not.toBe(bob.task);
  });

  it('unpaginated lists and summaries hold only the caller’s entities', async () => {
    for (const [token, owned] of [[undefined, alice], [BOB, bob]] as const) {
      const as = token === undefined ? {} : { token };
      const m = mine(owned);
      expect(uuids((await t.call('GET', '/tasks', as)).json)).toEqual(m.tasks);
      expect(uuids((await t.call('GET', '/tasks/summaries', as)).json)).toEqual(m.tasks);
      expect(uuids((await t.call('GET', '/tasks/summaries?tag=iso', as)).json)).toEqual(m.tasks);
      expect(uuids((await t.call('GET', '/pools', as)).json)).toEqual(m.pools);
      expect(uuids((await t.call('GET', '/pools/summaries', as)).json)).toEqual(m.pools);
      expect(uuids((await t.call('GET', '/jobs', as)).json)).toEqual(m.jobs);
    }
  });

  it('paginate, summaries/paginate and search hold only the caller’s entities, with and without filters', async () => {
    const filters = [null, { operator: 'Equal', field: 'Tags', value: 'iso' }, { operator: 'Like', field: 'Name', value: '/./' }];
    for (const [token, owned] of [[undefined, alice], [BOB, bob]] as const) {
      const as = token === undefined ? {} : { token };
      const m = mine(owned);
      for (const filter of filters) {
        for (const [path, want] of [
          ['/tasks/paginate', m.tasks],
          ['/tasks/summaries/paginate', m.tasks],
          ['/pools/paginate', m.pools],
          ['/pools/summaries/paginate', m.pools],
          ['/jobs/paginate', m.jobs],
        ] as const) {
          const got: string[] = [];
          let token_: string | null = null;
          do {
            const r = await t.call('POST', path, { ...as, body: { filter, token: token_, maximumResults: 1 } });
            expect(r.status, r.text).toBe(200);
            got.push(...uuids(r.json.data));
            token_ = r.json.isTruncated ? r.json.nextToken : null;
          } while (token_);
          expect(got.sort(), `${path} ${JSON.stringify(filter)}`).toEqual([...want]);
        }
        expect(uuids((await t.call('POST', '/tasks/search', { ...as, body: { Filter: filter } })).json)).toEqual(m.tasks);
        expect(uuids((await t.call('POST', '/pools/search', { ...as, body: { Filter: filter } })).json)).toEqual(m.pools);
        expect(uuids((await t.call('POST', '/jobs/search', { ...as, body: { Filter: filter } })).json)).toEqual(m.jobs);
      }
    }
  });

  it('a filter naming the other user’s uuid finds nothing', async () => {
    const r = await t.call('POST', '/tasks/paginate', { body: { filter: { operator: 'In', field: 'Uuid', values: [bob.task, bob.jobTask] } } });
    expect(r.json.data).toEqual([]);
    const j = await t.call('POST', '/tasks/paginate', { body: { filter: { operator: 'Equal', field: 'JobUuid', value: bob.job } } });
    expect(j.json.data).toEqual([]);
  });

  it('another user’s page token pages through the caller’s own entities only', async () => {
    const bobPage = await t.call('POST', '/tasks/paginate', { token: BOB, body: { maximumResults: 1 } });
    expect(bobPage.json.isTruncated).toBe(true);
    // A token is only a position in an ordering; the rows always come from the caller's own entities.
    const r = await t.call('POST', '/tasks/paginate', { body: { token: bobPage.json.nextToken, maximumResults: 10 } });
    expect(r.status).toBe(200);
    for (const uuid of uuids(r.json.data)) expect([alice.task, alice.jobTask]).toContain(uuid);
    expect(uuids(r.json.data)).not.toContain(bob.jobTask);
  });

  it('GET by the other user’s uuid answers 404, for tasks, pools, jobs, job tasks, credits and carbon', async () => {
    for (const path of [
      `/tasks/${bob.task}`,
      `/tasks/${bob.jobTask}`,
      `/pools/${bob.pool}`,
      `/jobs/${bob.job}`,
      `/jobs/${bob.job}/tasks`,
      `/credits/v1/tasks/${bob.task}/credits`,
      `/credits/v1/pools/${bob.pool}/credits`,
      `/carbon/v1/tasks/${bob.task}/carbon-facts`,
      `/carbon/v1/pools/${bob.pool}/carbon-facts`,
    ]) {
      const r = await t.call('GET', path);
      expect(r.status, path).toBe(404);
      expect(typeof r.json.message).toBe('string');
      expect(r.text).not.toContain('bob');
    }
  });

  it('PUT and DELETE on the other user’s uuid answer 404 and change nothing', async () => {
    const attempts: [string, string, unknown?][] = [
      ['PUT', `/tasks/${bob.task}`, { tags: ['hijacked'] }],
      ['PUT', `/pools/${bob.pool}`, { tags: ['hijacked'] }],
      ['PUT', `/pools/${bob.pool}/scaling`, { policies: [{ type: 'Fixed', slotsCount: 9 }] }],
      ['PUT', `/jobs/${bob.job}`, { tags: ['hijacked'] }],
      ['DELETE', `/tasks/${bob.task}`],
      ['DELETE', `/pools/${bob.pool}`],
      ['DELETE', `/jobs/${bob.job}?force=True`],
    ];
    for (const [method, path, body] of attempts) {
      const r = await t.call(method, path, body === undefined ? {} : { body });
      expect(r.status, `${method} ${path}`).toBe(404);
    }
    const task = (await t.call('GET', `/tasks/${bob.task}`, { token: BOB })).json;
    expect(task.tags).toEqual(['iso']);
    const pool = (await t.call('GET', `/pools/${bob.pool}`, { token: BOB })).json;
    expect(pool.tags).toEqual(['iso']);
    expect('scaling' in pool).toBe(false);
    expect((await t.call('GET', `/jobs/${bob.job}`, { token: BOB })).json.tags).toEqual(['iso']);
    expect(uuids((await t.call('GET', `/jobs/${bob.job}/tasks`, { token: BOB })).json)).toEqual([bob.jobTask]);
  });

  it('a task cannot join the other user’s job or pool, nor depend on its tasks; a job cannot use its pool', async () => {
    const inJob = await t.call('POST', '/tasks', { body: taskBody({ jobUuid: bob.job }) });
    expect(inJob.status).toBe(400);
    expect(inJob.json.message).toContain('jobUuid');
    const inPool = await t.call('POST', '/tasks', { body: { name: 'x', poolUuid: bob.pool, instanceCount: 1 } });
    expect(inPool.status).toBe(400);
    expect(inPool.json.message).toContain('poolUuid');
    const dep = await t.call('POST', '/tasks', { body: taskBody({ dependencies: { dependsOn: [bob.task] } }) });
    expect(dep.status).toBe(400);
    expect(dep.json.message).toContain('dependencies');
    const job = await t.call('POST', '/jobs/', { body: { name: 'j', poolUuid: bob.pool } });
    expect(job.status).toBe(400);
    expect(job.json.message).toContain('poolUuid');
    expect(uuids((await t.call('GET', `/jobs/${bob.job}/tasks`, { token: BOB })).json)).toEqual([bob.jobTask]);
  });

  it('secrets: the same key holds each user’s own value; the other’s keys are 404 and not listed', async () => {
    expect((await t.call('GET', '/secrets-manager/data/shared/key')).json).toEqual({ value: 'alice-secret' });
    expect((await t.call('GET', '/secrets-manager/data/shared/key', { token: BOB })).json).toEqual({ value: 'bob-secret' });
    expect((await t.call('GET', '/secrets-manager/data/bob-only/key')).status).toBe(404);
    expect((await t.call('PATCH', '/secrets-manager/data/bob-only/key', { body: { Value: 'x' } })).status).toBe(404);
    expect((await t.call('DELETE', '/secrets-manager/data/bob-only/key')).status).toBe(404);
    expect((await t.call('GET', '/secrets-manager/data/bob-only/key', { token: BOB })).json).toEqual({ value: 'bob' });
    expect(((await t.call('GET', '/secrets-manager/search/')).json.keys as string[]).sort()).toEqual(['alice-only/', 'shared/']);
    expect(((await t.call('GET', '/secrets-manager/search/', { token: BOB })).json.keys as string[]).sort()).toEqual(['bob-only/', 'shared/']);
    expect((await t.call('GET', '/secrets-manager/search/bob-only')).json.keys).toEqual([]);
    // Updating and deleting one's own copy leaves the other's alone.
    expect((await t.call('PATCH', '/secrets-manager/data/shared/key', { body: { Value: 'alice-2' } })).status).toBe(204);
    expect((await t.call('GET', '/secrets-manager/data/shared/key', { token: BOB })).json.value).toBe('bob-secret');
    expect((await t.call('DELETE', '/secrets-manager/data/shared/key')).status).toBe(204);
    expect((await t.call('GET', '/secrets-manager/data/shared/key', { token: BOB })).json.value).toBe('bob-secret');
    expect((await t.call('PUT', '/secrets-manager/data/shared/key', { body: { Value: 'alice-3' } })).status).toBe(201);
  });

  it('/info counts are per user', async () => {
    const carol = await t.addUser('carol@example.com');
    const empty = (await t.call('GET', '/info', { token: carol.token })).json;
    expect(empty).toMatchObject({ email: 'carol@example.com', taskCount: 0, poolCount: 0, runningTaskCount: 0 });
    await t.call('POST', '/tasks', { token: BOB, body: taskBody({ name: 'bob-extra' }) });
    const a = (await t.call('GET', '/info')).json;
    const b = (await t.call('GET', '/info', { token: BOB })).json;
    expect(a).toMatchObject({ email: 'alice@example.com', taskCount: 2, poolCount: 1 });
    expect(b).toMatchObject({ email: 'bob@example.com', taskCount: 3, poolCount: 1 });
  });

  it('deleting one user’s job with force removes only that user’s tasks', async () => {
    const extra = await t.call('POST', '/jobs/', { token: BOB, body: { name: 'doomed', shortname: 'doomed' } });
    const inIt = await t.call('POST', '/tasks', { token: BOB, body: taskBody({ jobUuid: extra.json.uuid }) });
    expect(inIt.status).toBe(201);
    const aliceJob = await t.call('POST', '/jobs/', { body: { name: 'doomed', shortname: 'doomed' } });
    const aliceTask = await t.call('POST', '/tasks', { body: taskBody({ jobUuid: aliceJob.json.uuid }) });
    expect((await t.call('DELETE', '/jobs/doomed?force=true', { token: BOB })).status).toBe(204);
    expect((await t.call('GET', `/tasks/${inIt.json.uuid}`, { token: BOB })).status).toBe(404);
    expect((await t.call('GET', '/jobs/doomed')).json.uuid).toBe(aliceJob.json.uuid);
    expect((await t.call('GET', `/tasks/${aliceTask.json.uuid}`)).status).toBe(200);
  });
});
