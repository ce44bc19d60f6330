import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shellTask, startTestServer, until, type TestServer } from './test-support/test-server.js';

let t: TestServer;
let dir: string;
beforeAll(async () => {
  t = await startTestServer({ slots: 2, sandbox: 'none' });
  dir = mkdtempSync(path.join(os.tmpdir(), 'hearth-pool-marker-'));
});
afterAll(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

async function submit(body: Record<string, unknown>): Promise<string> {
  const r = await t.call('POST', '/tasks', body);
  expect(r.status, r.text).toBe(201);
  return r.json.uuid as string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function poolWhen(uuid: string, check: (p: Record<string, any>) => boolean, options: { what: string; on?: TestServer }): Promise<Record<string, any>> {
  return until(async () => {
    const p = (await (options.on ?? t).call('GET', `/pools/${uuid}`)).json as Record<string, unknown>;
    return check(p) ? p : undefined;
  }, options.what);
}

/** Start and end times (ns) a command printed as `start <ns>` / `end <ns>`. */
function span(stdout: string): { start: bigint; end: bigint } {
  const start = /start (\d+)/.exec(stdout)?.[1];
  const end = /end (\d+)/.exec(stdout)?.[1];
  if (!start || !end) throw new Error(`no span in ${JSON.stringify(stdout)}`);
  return { start: BigInt(start), end: BigInt(end) };
}

/** A task of a pool: the pool gives the profile. */
function poolTask(pool: string, command: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'in-pool', poolUuid: pool, instanceCount: 1, constants: [{ key: 'DOCKER_CMD', value: command }], ...overrides };
}

const timed = (body: string) => `echo start $(date +%s%N); ${body}; echo end $(date +%s%N)`;

describe('pools with reserved slots', () => {
  it('prepares its slot before its tasks, runs them only on that slot while the shared slot serves others, and gives the slot back on close', async () => {
    const marker = path.join(dir, 'prepared');
    const created = await t.call('POST', '/pools', {
      name: 'warm',
      profile: 'docker-batch',
      instanceCount: 1,
      constants: [{ key: 'MARKER', value: marker }],
      preparationTask: { commandLine: `sleep 3; touch "$MARKER"; echo prepared-$INSTANCE_ID; echo prep-err >&2` },
      taskDefaultWaitForPoolResourcesSynchronization: true,
    });
    expect(created.status, created.text).toBe(201);
    const pool = created.json.uuid as string;
    await until(() => Promise.resolve(t.server.executor.stats().reserved === 1 ? true : undefined), 'slot reserved');

    const a = await submit(poolTask(pool, timed('test -f "$MARKER" && echo saw-marker; sleep 1')));
    const b = await submit(poolTask(pool, timed('test -f "$MARKER" && echo saw-marker; sleep 1')));
    const waiting = await until(async () => {
      const task = (await t.call('GET', `/tasks/${a}`)).json as { status?: { pendingReason?: string } };
      return task.status?.pendingReason === 'pool not ready' ? task : undefined;
    }, 'pool not ready');
    expect(waiting).toBeDefined();
    expect((await t.call('GET', `/pools/${pool}`)).json.state).toBe('FullyDispatched');
    // The shared slot is not the pool's: a plain task runs (and ends) while the pool still prepares.
    const plain = await submit(shellTask('echo plain'));
    expect((await t.waitFinal(plain))['state']).toBe('Success');
    expect(existsSync(marker)).toBe(false);

    const ready = await poolWhen(pool, (p) => p['state'] === 'FullyExecuting', { what: 'pool ready' });
    expect(ready['totalSlotCapacity']).toBe(1);
    await poolWhen(pool, (p) => p['runningInstanceCount'] === 1 && p['queuedOrRunningTaskInstancesCount'] === 2, { what: 'pool counts' });
    const [da, db] = [await t.waitFinal(a), await t.waitFinal(b)];
    expect([da['state'], db['state']]).toEqual(['Success', 'Success']);
    const outA = (await t.call('GET', `/tasks/${a}/stdout`)).text;
    const outB = (await t.call('GET', `/tasks/${b}/stdout`)).text;
    expect(outA).toContain('saw-marker');
    expect(outB).toContain('saw-marker');
    // One slot: the two pool tasks ran one after the other.
    const [sa, sb] = [span(outA), span(outB)];
    expect(sa.end <= sb.start || sb.end <= sa.start).toBe(true);
    await poolWhen(pool, (p) => p['runningInstanceCount'] === 0 && p['queuedOrRunningTaskInstancesCount'] === 0, { what: 'pool idle' });

    // Preparation output, per slot, full and fresh.
    expect((await t.call('GET', `/pools/${pool}/stdout`)).text).toBe('prepared-0\n');
    expect((await t.call('GET', `/pools/${pool}/stdout/0`)).text).toBe('prepared-0\n');
    // stderr also carries the runner's notice about the runtime it picked
    expect((await t.call('GET', `/pools/${pool}/stderr/0`)).text).toContain('prep-err\n');
    expect((await t.call('POST', `/pools/${pool}/stdout/0`)).text).toBe('prepared-0\n');
    expect((await t.call('POST', `/pools/${pool}/stdout/0`)).text).toBe('');
    expect((await t.call('POST', `/pools/${pool}/stderr`)).text).toContain('prep-err\n');
    expect((await t.call('POST', `/pools/${pool}/stderr`)).text).toBe('');
    const noSlot = await t.call('GET', `/pools/${pool}/stdout/1`);
    expect(noSlot.status).toBe(404);
    expect(noSlot.json.message).toContain('Pool instance not found');
    expect((await t.call('POST', '/pools/6a3f3b7e-1d2c-4b5a-8e9f-0a1b2c3d4e5f/stderr')).status).toBe(404);

    expect((await t.call('POST', `/pools/${pool}/close`)).status).toBe(200);
    const closed = await poolWhen(pool, (p) => p['state'] === 'Closed', { what: 'pool closed' });
    expect(closed['previousState']).toBe('Closing');
    expect(t.server.executor.stats().reserved).toBe(0);
    // Both slots are shared again: two instances run at once.
    const both = await submit(shellTask(timed('sleep 1'), { instanceCount: 2 }));
    expect((await t.waitFinal(both))['state']).toBe('Success');
    const [s0, s1] = [span((await t.call('GET', `/tasks/${both}/stdout/0`)).text), span((await t.call('GET', `/tasks/${both}/stdout/1`)).text)];
    expect(s0.start < s1.end && s1.start < s0.end).toBe(true);
  });

  it('ends in Failure when a preparation fails, naming the slot and exit code, and fails the tasks that waited', async () => {
    const created = await t.call('POST', '/pools', {
      name: 'broken',
      profile: 'docker-batch',
      instanceCount: 1,
      preparationTask: { commandLine: 'sleep 0.5; echo cannot-prepare >&2; exit 3' },
    });
    expect(created.status, created.text).toBe(201);
    const pool = created.json.uuid as string;
    const task = await submit(poolTask(pool, 'echo never', { waitForPoolResourcesSynchronization: true }));
    const failed = await poolWhen(pool, (p) => p['state'] === 'Failure', { what: 'pool failure' });
    expect(JSON.stringify(failed['errors'])).toMatch(/slot 0 \(exit code 3\)/);
    expect((await t.call('GET', `/pools/${pool}/stderr/0`)).text).toContain('cannot-prepare\n');
    const done = await t.waitFinal(task);
    expect(done['state']).toBe('Failure');
    expect(JSON.stringify(done['errors'])).toContain('pool failed');
    expect(t.server.executor.stats().reserved).toBe(0);
  });
});

describe('pools across a restart', () => {
  it('gives a ready pool its slot back without preparing it again, and delete releases the slot', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hearth-pool-restart-'));
    const count = path.join(dir, 'prepared-times');
    let pool = '';
    try {
      const first = await startTestServer({ slots: 2, sandbox: 'none', dataDir });
      try {
        const created = await first.call('POST', '/pools', {
          name: 'durable',
          profile: 'docker-batch',
          instanceCount: 1,
          constants: [{ key: 'COUNT', value: count }],
          preparationTask: { commandLine: 'echo prepared >> "$COUNT"' },
        });
        expect(created.status, created.text).toBe(201);
        pool = created.json.uuid as string;
        await poolWhen(pool, (p) => p['state'] === 'FullyExecuting', { what: 'pool ready', on: first });
      } finally {
        await first.close();
      }
      const second = await startTestServer({ slots: 2, sandbox: 'none', dataDir });
      try {
        expect(second.server.executor.reserved(pool)).toBe(1);
        expect((await second.call('GET', `/pools/${pool}`)).json.state).toBe('FullyExecuting');
        const task = await second.call('POST', '/tasks', poolTask(pool, 'cat "$COUNT"'));
        expect(task.status, task.text).toBe(201);
        expect((await second.waitFinal(task.json.uuid as string))['state']).toBe('Success');
        // prepared once, before the restart
        expect((await second.call('GET', `/tasks/${task.json.uuid as string}/stdout`)).text).toBe('prepared\n');
        expect(readFileSync(count, 'utf8')).toBe('prepared\n');
        expect((await second.call('DELETE', `/pools/${pool}`)).status).toBe(204);
        expect(second.server.executor.stats().reserved).toBe(0);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('elastic pools', () => {
  it('grow with their queue up to maxTotalSlots and shrink back to minTotalSlots once idle', async () => {
    const created = await t.call('POST', '/pools', {
      name: 'elastic',
      profile: 'docker-batch',
      instanceCount: 0,
      elasticProperty: { isElastic: true, minTotalSlots: 0, maxTotalSlots: 2, minIdleSlots: 0, resizePeriod: 1, rampResizeFactor: 1, minIdleTimeSeconds: 1 },
    });
    expect(created.status, created.text).toBe(201);
    const pool = created.json.uuid as string;
    expect((await poolWhen(pool, (p) => p['state'] === 'FullyExecuting', { what: 'pool ready' }))['totalSlotCapacity']).toBe(0);
    const task = await submit(poolTask(pool, timed('sleep 1.5'), { instanceCount: 2 }));
    await poolWhen(pool, (p) => p['totalSlotCapacity'] === 2, { what: 'pool grown' });
    expect((await t.waitFinal(task))['state']).toBe('Success');
    const [s0, s1] = [span((await t.call('GET', `/tasks/${task}/stdout/0`)).text), span((await t.call('GET', `/tasks/${task}/stdout/1`)).text)];
    expect(s0.start < s1.end && s1.start < s0.end).toBe(true);
    await poolWhen(pool, (p) => p['totalSlotCapacity'] === 0, { what: 'pool shrunk' });
    expect(t.server.executor.stats().reserved).toBe(0);
    expect((await t.call('DELETE', `/pools/${pool}`)).status).toBe(204);
  });
});

describe('scaled pools', () => {
  it('size themselves by the first enabled policy, report it in activePolicyName, and follow a new policy', async () => {
    const days = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
    const otherDays = days.filter((_, i) => i !== new Date().getUTCDay());
    const created = await t.call('POST', '/pools', {
      name: 'scaled',
      profile: 'docker-batch',
      instanceCount: 0,
      elasticProperty: { resizePeriod: 1 },
      scaling: {
        policies: [
          { type: 'Fixed', name: 'not-today', slotsCount: 2, enabledPeriods: [{ type: 'Weekly', days: otherDays, startTimeUtc: '00:00:00', endTimeUtc: '23:59:59' }] },
          { type: 'Fixed', name: 'one', slotsCount: 1, enabledPeriods: [{ type: 'Always' }] },
        ],
      },
    });
    expect(created.status, created.text).toBe(201);
    const pool = created.json.uuid as string;
    const fixed = await poolWhen(pool, (p) => p['scaling']?.activePolicyName === 'one', { what: 'policy one' });
    expect(fixed['totalSlotCapacity']).toBe(1);
    expect(t.server.executor.reserved(pool)).toBe(1);

    const put = await t.call('PUT', `/pools/${pool}/scaling`, {
      policies: [{ type: 'ManagedTasksQueue', name: 'queue', minTotalSlots: 0, maxTotalSlots: 2, minIdleSlots: 0, minIdleTimeSeconds: 0, scalingFactor: 1 }],
    });
    expect(put.status, put.text).toBe(200);
    await poolWhen(pool, (p) => p['scaling']?.activePolicyName === 'queue' && p['totalSlotCapacity'] === 0, { what: 'policy queue, idle' });
    const task = await submit(poolTask(pool, 'sleep 0.5', { instanceCount: 2 }));
    await poolWhen(pool, (p) => p['totalSlotCapacity'] === 2, { what: 'pool grown by the queue' });
    expect((await t.waitFinal(task))['state']).toBe('Success');
    expect((await t.call('DELETE', `/pools/${pool}`)).status).toBe(204);
    expect(t.server.executor.stats().reserved).toBe(0);
  });
});
