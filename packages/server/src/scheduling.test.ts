import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shellTask, startTestServer, until, type TestServer } from './test-support/test-server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ slots: 2, sandbox: 'none' });
});
afterAll(async () => t.close());

async function submit(body: Record<string, unknown>): Promise<string> {
  const r = await t.call('POST', '/tasks', body);
  expect(r.status, r.text).toBe(201);
  return r.json.uuid as string;
}


describe('dependencies', () => {
  it('holds a task until the task it depends on succeeds, saying why it waits', async () => {
    const a = await submit(shellTask('sleep 0.5'));
    const b = await submit(shellTask('echo after', { dependencies: { dependsOn: [a] } }));
    // Its waiting state is written within milliseconds of the submit.
    const waiting = await until(async () => {
      const task = (await t.call('GET', `/tasks/${b}`)).json as { state: string; dependencies: { state?: string }; status: { pendingReason?: string } };
      return task.dependencies.state === 'waiting' ? task : undefined;
    }, 'the waiting state');
    expect(waiting.state).toBe('Submitted');
    expect(waiting.dependencies.state).toBe('waiting');
    expect(waiting.status.pendingReason).toContain(a);
    expect((await t.waitFinal(a))['state']).toBe('Success');
    const done = await t.waitFinal(b);
    expect(done['state']).toBe('Success');
    expect(done['dependencies'].state).toBe('dependencyConditionsFulfilled');
    expect(Date.parse(done['creationDate'] as string)).toBeLessThan(Date.parse(done['endDate'] as string));
  });

  it('ends a chain with a clear error when a task in the middle fails, instead of waiting forever', async () => {
    const a = await submit(shellTask('exit 1'));
    const b = await submit(shellTask('echo never-b', { dependencies: { dependsOn: [a] } }));
    const c = await submit(shellTask('echo never-c', { dependencies: { dependsOn: [b] } }));
    expect((await t.waitFinal(a))['state']).toBe('Failure');
    const fb = await t.waitFinal(b);
    expect(fb['state']).toBe('Failure');
    expect(fb['dependencies'].state).toBe('dependencyConditionsNotFulfilled');
    expect(JSON.stringify(fb['errors'])).toContain(a);
    const fc = await t.waitFinal(c);
    expect(fc['state']).toBe('Failure');
    expect((await t.call('GET', `/tasks/${b}/stdout`)).text).not.toContain('never-b');
  });

  it('runs on the final states advancedDependsOn asks for', async () => {
    const a = await submit(shellTask('exit 2'));
    const cleanup = await submit(
      shellTask('echo cleanup', { dependencies: { advancedDependsOn: [{ taskUuid: a, taskFinalStateCondition: ['failure', 'cancelled'] }] } }),
    );
    const done = await t.waitFinal(cleanup);
    expect(done['state']).toBe('Success');
    expect(done['dependencies'].advancedDependsOn[0]).toMatchObject({ taskUuid: a, actualFinalState: 'Failure', state: 'dependencyConditionsFulfilled' });
  });

  it('refuses dependencies on unknown tasks and, in a job, without useDependencies', async () => {
    const r = await t.call('POST', '/tasks', shellTask('true', { dependencies: { dependsOn: ['6a3f3b7e-1d2c-4b5a-8e9f-0a1b2c3d4e5f'] } }));
    expect(r.status).toBe(400);
    expect(r.json.message).toContain('dependencies');
    const job = await t.call('POST', '/jobs/', { name: 'plain' });
    const a = await submit(shellTask('true'));
    const bad = await t.call('POST', '/tasks', shellTask('true', { jobUuid: job.json.uuid, dependencies: { dependsOn: [a] } }));
    expect(bad.status).toBe(400);
    expect(bad.json.message).toContain('useDependencies');
  });
});

describe('jobs', () => {
  it('terminates: Terminating, its running tasks aborted, then Completed', async () => {
    const job = (await t.call('POST', '/jobs/', { name: 'render-job', useDependencies: true })).json.uuid as string;
    const x = await submit(shellTask('sleep 30', { jobUuid: job }));
    const y = await submit(shellTask('sleep 30', { jobUuid: job, dependencies: { dependsOn: [x] } }));
    expect((await t.call('POST', `/jobs/${job}/terminate`)).status).toBe(200);
    expect(['Terminating', 'Completed']).toContain((await t.call('GET', `/jobs/${job}`)).json.state);
    expect((await t.waitFinal(x))['state']).toBe('Cancelled');
    expect((await t.waitFinal(y))['state']).toBe('Cancelled');
    const completed = await until(async () => {
      const j = (await t.call('GET', `/jobs/${job}`)).json as { state: string; previousState: string };
      return j.state === 'Completed' ? j : undefined;
    }, 'job completion');
    expect(completed.previousState).toBe('Terminating');
    expect((await t.call('POST', '/tasks', shellTask('true', { jobUuid: job }))).status).toBe(400);
  });

  it('aborts the tasks of a job that outlives its maxWallTime', async () => {
    const job = (await t.call('POST', '/jobs/', { name: 'short', maxWallTime: '00:00:01' })).json.uuid as string;
    const x = await submit(shellTask('sleep 30', { jobUuid: job }));
    expect((await t.waitFinal(x, 20_000))['state']).toBe('Cancelled');
    await until(async () => ((await t.call('GET', `/jobs/${job}`)).json.state === 'Completed' ? true : undefined), 'job completion');
  });
});

describe('pools', () => {
  it("runs a pool's tasks with the pool's profile and constants, and closes: Closing, then Closed", async () => {
    const pool = await t.call('POST', '/pools', {
      name: 'warm',
      profile: 'docker-batch',
      instanceCount: 1,
      constants: [
        { key: 'DOCKER_CMD', value: 'echo pool says $GREETING' },
        { key: 'GREETING', value: 'hi' },
      ],
    });
    expect(pool.status).toBe(201);
    const task = await submit({ name: 'in-pool', poolUuid: pool.json.uuid, instanceCount: 1 });
    expect((await t.waitFinal(task))['state']).toBe('Success');
    expect((await t.call('GET', `/tasks/${task}/stdout`)).text).toBe('pool says hi\n');
    const long = await submit({ name: 'in-pool-long', poolUuid: pool.json.uuid, constants: [{ key: 'DOCKER_CMD', value: 'sleep 30' }] });
    expect((await t.call('POST', `/pools/${pool.json.uuid}/close`)).status).toBe(200);
    expect(['Closing', 'Closed']).toContain((await t.call('GET', `/pools/${pool.json.uuid}`)).json.state);
    expect((await t.waitFinal(long))['state']).toBe('Cancelled');
    await until(async () => ((await t.call('GET', `/pools/${pool.json.uuid}`)).json.state === 'Closed' ? true : undefined), 'pool closed');
    expect((await t.call('POST', '/tasks', { name: 'late', poolUuid: pool.json.uuid })).status).toBe(400);
  });
});

describe('queue limits and pending reasons', () => {
  it('fails a task that could not start within maxTimeQueueSeconds, and says why tasks wait', async () => {
    const blockers = [await submit(shellTask('sleep 4')), await submit(shellTask('sleep 4'))];
    const late = await submit(shellTask('echo late', { maxTimeQueueSeconds: 1 }));
    const reason = await until(async () => {
      const s = (await t.call('GET', `/tasks/${late}`)).json.status;
      return typeof s?.pendingReason === 'string' ? (s.pendingReason as string) : undefined;
    }, 'a pending reason');
    expect(reason).toMatch(/no free slot|queued/);
    const done = await t.waitFinal(late, 20_000);
    expect(done['state']).toBe('Failure');
    expect(JSON.stringify(done['errors'])).toContain('maxTimeQueueSeconds');
    for (const b of blockers) await t.call('POST', `/tasks/${b}/abort`);
  });
});

describe('retries', () => {
  it('retries a flaky instance within maxPerInstanceRetries and counts its attempts', async () => {
    const marker = `/tmp/hearth-flaky-${Date.now()}`;
    const cmd = `f=${marker}-$INSTANCE_ID; if [ -e $f ]; then echo ok $INSTANCE_ID; else touch $f; echo first failure >&2; exit 1; fi`;
    const uuid = await submit(shellTask(cmd, { instanceCount: 2, retrySettings: { maxPerInstanceRetries: 2 } }));
    const done = await t.waitFinal(uuid);
    expect(done['state']).toBe('Success');
    expect(done['status'].succeededRange).toBe('0-1');
    const attempts = (done['completedInstances'] as { executionAttemptCount: number }[]).map((c) => c.executionAttemptCount);
    expect(attempts).toEqual([2, 2]);
  });

  it('gives up when the tighter of the limits is spent', async () => {
    const uuid = await submit(shellTask('exit 1', { instanceCount: 3, retrySettings: { maxPerInstanceRetries: 5, maxTotalRetries: 1 } }));
    const done = await t.waitFinal(uuid);
    expect(done['state']).toBe('Failure');
    const attempts = (done['completedInstances'] as { executionAttemptCount: number }[]).map((c) => c.executionAttemptCount);
    expect(attempts.reduce((a, b) => a + b, 0)).toBe(4);
  });

  it('creates new tasks from old ones: retry (failed), resume (cancelled), clone (all) with overrides', async () => {
    const uuid = await submit(shellTask('test $((INSTANCE_ID % 2)) -eq 0', { instanceCount: 4, shortname: 'odd-fails' }));
    expect((await t.waitFinal(uuid))['state']).toBe('Failure');
    const retried = await t.call('POST', `/tasks/${uuid}/retry`, { name: 'again' });
    expect(retried.status).toBe(201);
    const r = (await t.call('GET', `/tasks/${retried.json.uuid}`)).json;
    expect(r).toMatchObject({ name: 'again', advancedRanges: '1,3', instanceCount: 2 });
    expect(r.shortname).toBe(r.uuid);
    const clone = await t.call('POST', `/tasks/${uuid}/clone`, {});
    expect((await t.call('GET', `/tasks/${clone.json.uuid}`)).json.instanceCount).toBe(4);
    expect((await t.call('POST', `/tasks/${uuid}/resume`, {})).status).toBe(400);
  });
});

describe('priorities', () => {
  it('starts OnDemand work before Flex work queued earlier', async () => {
    const long = await submit(shellTask('sleep 3'));
    const short = await submit(shellTask('sleep 1'));
    const flex = await submit(shellTask('sleep 0.2', { schedulingType: 'Flex' }));
    const onDemand = await submit(shellTask('sleep 0.2', { schedulingType: 'OnDemand' }));
    const [f, o] = [await t.waitFinal(flex), await t.waitFinal(onDemand)];
    expect(o['state']).toBe('Success');
    expect(Date.parse(o['endDate'] as string)).toBeLessThan(Date.parse(f['endDate'] as string));
    await t.waitFinal(long);
    await t.waitFinal(short);
  });
});

/**
 * Submits two tasks for one user whose quota allows one at a time: the second waits with `reason` as its pending
 * reason (`whileHeld` runs then), and starts only once the first has ended.
 */
async function expectHeldByQuota(
  q: TestServer,
  tasks: { first: string; second: string; reason: RegExp },
  whileHeld?: () => Promise<void>,
): Promise<void> {
  const first = (await q.call('POST', '/tasks', shellTask(tasks.first))).json.uuid as string;
  const second = (await q.call('POST', '/tasks', shellTask(tasks.second))).json.uuid as string;
  const reason = await until(async () => {
    const s = (await q.call('GET', `/tasks/${second}`)).json.status as { pendingReason?: unknown } | null;
    return typeof s?.pendingReason === 'string' && tasks.reason.test(s.pendingReason) ? s.pendingReason : undefined;
  }, `a pending reason matching ${tasks.reason}`);
  expect(reason).toMatch(tasks.reason);
  await whileHeld?.();
  const a = await q.waitFinal(first);
  const b = await q.waitFinal(second);
  expect(b['state']).toBe('Success');
  expect(Date.parse(String(b['endDate']))).toBeGreaterThan(Date.parse(String(a['endDate'])));
}

describe('quotas at dispatch', () => {
  it('holds a user to their running-instance quota, saying so, while slots stay free for others', async () => {
    const q = await startTestServer({ slots: 2, sandbox: 'none', quotas: { maxInstances: 1 } });
    try {
      await expectHeldByQuota(q, { first: 'sleep 1.5', second: 'sleep 0.1', reason: /quota of 1 running instances reached/ }, async () => {
        expect((await q.call('GET', '/info')).json.runningInstanceCount).toBe(1);
      });
    } finally {
      await q.close();
    }
  });
});

describe('running-task quota and reservations', () => {
  it('holds a user to their running-task quota, in order, saying so', async () => {
    const q = await startTestServer({ slots: 2, sandbox: 'none', quotas: { maxRunningTask: 1 } });
    try {
      await expectHeldByQuota(q, { first: 'sleep 1', second: 'true', reason: /quota of 1 running tasks reached/ });
    } finally {
      await q.close();
    }
  });

  it("runs a Reserved task on the slots of the pool its targetedReservationName names, and fails one naming nothing", async () => {
    const pool = await t.call('POST', '/pools', { name: 'reservation', shortname: 'my-reservation', profile: 'docker-batch', instanceCount: 1 });
    expect(pool.status).toBe(201);
    await until(async () => ((await t.call('GET', `/pools/${pool.json.uuid}`)).json.state === 'FullyExecuting' ? true : undefined), 'pool ready');
    const ok = await submit(shellTask('echo reserved', { schedulingType: 'Reserved', targetedReservationName: 'my-reservation' }));
    expect((await t.waitFinal(ok))['state']).toBe('Success');
    const bad = await submit(shellTask('true', { schedulingType: 'Reserved', targetedReservationName: 'nothing-here' }));
    const failed = await t.waitFinal(bad);
    expect(failed['state']).toBe('Failure');
    expect(JSON.stringify(failed['errors'])).toContain('nothing-here');
    await t.call('POST', `/pools/${pool.json.uuid}/close`);
  });
});
