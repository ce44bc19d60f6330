import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RangeSegment } from '@hearth/core';
import type { InstanceResult } from '@hearth/runner';
import type { Executor, ExecutorEvent, TaskSubmission } from '../executor.js';

export interface ConformanceContext {
  /** A fresh directory the executor may use as its work root. */
  readonly workRoot: string;
}

/** Records an executor's events and answers questions about them. */
export class EventRecorder {
  readonly events: ExecutorEvent[] = [];
  readonly #waiters: Array<() => void> = [];
  readonly listener = (e: ExecutorEvent): void => {
    this.events.push(e);
    for (const w of this.#waiters.splice(0)) w();
  };

  of<T extends ExecutorEvent['type']>(type: T, taskUuid?: string): Extract<ExecutorEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<ExecutorEvent, { type: T }> => e.type === type && (!taskUuid || e.taskUuid === taskUuid));
  }

  stdout(taskUuid: string, instanceId: number): string {
    return this.of('instance-event', taskUuid)
      .filter((e) => e.instanceId === instanceId && e.event.type === 'log' && e.event.stream === 'stdout')
      .map((e) => (e.event.type === 'log' ? e.event.data.toString() : ''))
      .join('');
  }

  results(taskUuid: string): Map<number, InstanceResult> {
    return new Map(this.of('instance-finished', taskUuid).map((e) => [e.instanceId, e.result]));
  }

  async until(check: () => boolean, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error('executor event not seen in time');
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 200).unref();
      });
    }
  }

  drained(taskUuid: string): Promise<void> {
    return this.until(() => this.of('task-drained', taskUuid).length > 0);
  }
}

export function hostTask(command: string, instances: RangeSegment[], overrides: Partial<TaskSubmission> = {}): TaskSubmission {
  const taskUuid = randomUUID();
  const count = instances.reduce((n, s) => n + s.end - s.start + 1, 0);
  return {
    taskUuid,
    owner: 'alice@example.com',
    instances,
    template: {
      taskUuid,
      taskName: 'conformance',
      instanceCount: count,
      owner: overrides.owner ?? 'alice@example.com',
      constants: { DOCKER_CMD: command },
      command,
      runtime: 'host',
    },
    ...overrides,
  };
}

/**
 * The behaviour every executor must have. Call from a test file:
 * `describeExecutorConformance('local', (ctx) => new LocalExecutor({ workRoot: ctx.workRoot, slots: 2 }))`.
 * The factory's executor must allow at least 2 instances at once and run the host runtime.
 */
export function describeExecutorConformance(name: string, create: (ctx: ConformanceContext) => Executor | Promise<Executor>): void {
  const withExecutor = async (fn: (ex: Executor, rec: EventRecorder) => Promise<void>): Promise<void> => {
    const workRoot = await mkdtemp(path.join(os.tmpdir(), 'hearth-executor-'));
    const ex = await create({ workRoot });
    const rec = new EventRecorder();
    ex.subscribe(rec.listener);
    try {
      await fn(ex, rec);
    } finally {
      await ex.close({ graceMs: 1000 });
      await rm(workRoot, { recursive: true, force: true });
    }
  };

  describe(`executor conformance: ${name}`, () => {
    it('runs every instance of an advanced range exactly once, each with its own INSTANCE_ID', () =>
      withExecutor(async (ex, rec) => {
        const task = hostTask('echo "id=$INSTANCE_ID of $INSTANCE_COUNT"', [{ start: 1, end: 1 }, { start: 3, end: 6 }]);
        await ex.submit(task);
        await rec.drained(task.taskUuid);
        const results = rec.results(task.taskUuid);
        expect([...results.keys()].sort((a, b) => a - b)).toEqual([1, 3, 4, 5, 6]);
        for (const [id, r] of results) {
          expect(r.state).toBe('Success');
          expect(rec.stdout(task.taskUuid, id)).toBe(`id=${id} of 5\n`);
        }
        expect(rec.of('instance-started', task.taskUuid)).toHaveLength(5);
        expect(rec.of('task-drained', task.taskUuid)).toHaveLength(1);
      }));

    it('orders each instance: started, its runner events, finished; the task drains last', () =>
      withExecutor(async (ex, rec) => {
        const task = hostTask('echo HEARTH_PROGRESS=50', [{ start: 0, end: 2 }]);
        await ex.submit(task);
        await rec.drained(task.taskUuid);
        const mine = rec.events.filter((e) => e.taskUuid === task.taskUuid);
        for (let id = 0; id <= 2; id++) {
          const idx = mine.map((e, i) => ('instanceId' in e && e.instanceId === id ? `${e.type}@${i}` : '')).filter(Boolean);
          expect(idx[0]).toMatch(/^instance-started@/);
          expect(idx[idx.length - 1]).toMatch(/^instance-finished@/);
        }
        expect(mine[mine.length - 1]?.type).toBe('task-drained');
        expect(rec.of('instance-event', task.taskUuid).some((e) => e.event.type === 'progress')).toBe(true);
      }));

    it('reports failures per instance without stopping the others', () =>
      withExecutor(async (ex, rec) => {
        const task = hostTask('[ "$INSTANCE_ID" != 1 ] || exit 7', [{ start: 0, end: 2 }]);
        await ex.submit(task);
        await rec.drained(task.taskUuid);
        const r = rec.results(task.taskUuid);
        expect(r.get(0)?.state).toBe('Success');
        expect(r.get(1)?.state).toBe('Failure');
        expect(r.get(1)?.exitCode).toBe(7);
        expect(r.get(2)?.state).toBe('Success');
      }));

    it('cancels a task: queued instances are dropped as ranges, running ones end Cancelled', () =>
      withExecutor(async (ex, rec) => {
        const task = hostTask('echo up; sleep 30', [{ start: 0, end: 999 }]);
        await ex.submit(task);
        await rec.until(() => rec.of('instance-event', task.taskUuid).some((e) => e.event.type === 'log'));
        await ex.cancel(task.taskUuid);
        await rec.drained(task.taskUuid);
        const started = rec.of('instance-started', task.taskUuid).length;
        const dropped = rec.of('instances-cancelled', task.taskUuid).flatMap((e) => e.instances);
        expect(dropped.reduce((n, s) => n + s.end - s.start + 1, 0)).toBe(1000 - started);
        for (const r of rec.results(task.taskUuid).values()) expect(r.state).toBe('Cancelled');
      }));

    it('cancels one instance and leaves the rest of the task alone', () =>
      withExecutor(async (ex, rec) => {
        const task = hostTask('while [ ! -f "$DOCKER_WORKDIR/../../stop" ]; do sleep 0.05; done', [{ start: 0, end: 0 }]);
        const other = hostTask('echo fine', [{ start: 0, end: 3 }]);
        await ex.submit(task);
        await ex.submit(other);
        await rec.until(() => rec.of('instance-started', task.taskUuid).length === 1);
        await ex.cancel(task.taskUuid, { instanceId: 0 });
        await rec.drained(task.taskUuid);
        await rec.drained(other.taskUuid);
        expect(rec.results(task.taskUuid).get(0)?.state).toBe('Cancelled');
        expect([...rec.results(other.taskUuid).values()].map((r) => r.state)).toEqual(Array(4).fill('Success'));
      }));

    it('treats unknown tasks as no-ops', () =>
      withExecutor(async (ex) => {
        await ex.cancel('no-such-task');
        expect(await ex.snapshot('no-such-task')).toEqual({ keys: [], bytes: 0 });
        await ex.updateResources('no-such-task');
        expect(ex.stats().tasks).toBe(0);
      }));

    it('adds instances to an active task (retries), refusing ids that are running', () =>
      withExecutor(async (ex, rec) => {
        const task = hostTask('[ "$INSTANCE_ID" != 0 ] || sleep 30', [{ start: 0, end: 0 }]);
        await ex.submit(task);
        await rec.until(() => rec.of('instance-started', task.taskUuid).length === 1);
        await expect(ex.submit({ ...task, instances: [{ start: 0, end: 0 }] })).rejects.toThrow(/running/);
        await ex.submit({ ...task, instances: [{ start: 1, end: 2 }] });
        await rec.until(() => rec.of('instance-finished', task.taskUuid).length === 2);
        expect(rec.of('task-drained', task.taskUuid)).toHaveLength(0);
        await ex.cancel(task.taskUuid, { instanceId: 0 });
        await rec.drained(task.taskUuid);
        expect([...rec.results(task.taskUuid).keys()].sort()).toEqual([0, 1, 2]);
        expect(rec.of('task-drained', task.taskUuid)).toHaveLength(1);
        expect(rec.results(task.taskUuid).get(0)?.state).toBe('Cancelled');
      }));

    it('reserves slots for a group: its instances run only there, the shared ones on what is left', () =>
      withExecutor(async (ex, rec) => {
        const slots = ex.stats().slots;
        expect(ex.reserve('pool-a', 1)).toBe(1);
        // asking more than is free gets what is free
        expect(ex.reserve('pool-b', slots + 5)).toBe(slots - 1);
        expect(ex.stats().reserved).toBe(slots);
        expect(ex.reserved('pool-b')).toBe(slots - 1);
        ex.release('pool-b');
        expect(ex.reserved('pool-b')).toBe(0);
        expect(ex.stats().reserved).toBe(1);
        const concurrent = new Map<string, { now: number; max: number }>();
        ex.subscribe((e) => {
          if (e.type !== 'instance-started' && e.type !== 'instance-finished') return;
          const c = concurrent.get(e.taskUuid) ?? { now: 0, max: 0 };
          c.now += e.type === 'instance-started' ? 1 : -1;
          c.max = Math.max(c.max, c.now);
          concurrent.set(e.taskUuid, c);
        });
        const pooled = hostTask('sleep 0.2', [{ start: 0, end: 2 }], { group: 'pool-a' });
        const shared = hostTask('sleep 0.2', [{ start: 0, end: 2 * slots - 1 }]);
        await ex.submit(pooled);
        await ex.submit(shared);
        await rec.drained(pooled.taskUuid);
        await rec.drained(shared.taskUuid);
        expect(concurrent.get(pooled.taskUuid)?.max).toBe(1);
        expect(concurrent.get(shared.taskUuid)?.max).toBe(slots - 1);
        ex.release('pool-a');
        expect(ex.stats().reserved).toBe(0);
      }));

    it('keeps the instances of a group queued until it has slots, and cancels them when it is released', () =>
      withExecutor(async (ex, rec) => {
        const task = hostTask('true', [{ start: 0, end: 1 }], { group: 'later' });
        await ex.submit(task);
        expect(ex.stats().queued).toBe(2);
        expect(ex.reserve('later', 1)).toBe(1);
        await rec.until(() => rec.of('instance-finished', task.taskUuid).length === 2);
        const waiting = hostTask('true', [{ start: 0, end: 4 }], { group: 'gone' });
        await ex.submit(waiting);
        ex.release('gone');
        await rec.drained(waiting.taskUuid);
        expect(rec.of('instances-cancelled', waiting.taskUuid)).toEqual([{ type: 'instances-cancelled', taskUuid: waiting.taskUuid, instances: [{ start: 0, end: 4 }] }]);
        ex.release('later');
      }));

    it('closes idempotently, rejects submissions afterwards, and disposes with await using', async () => {
      const workRoot = await mkdtemp(path.join(os.tmpdir(), 'hearth-executor-'));
      try {
        const rec = new EventRecorder();
        {
          await using ex = await create({ workRoot });
          ex.subscribe(rec.listener);
          const task = hostTask('sleep 0.3', [{ start: 0, end: 1 }]);
          await ex.submit(task);
          await Promise.all([ex.close(), ex.close()]);
          await ex.close();
          await expect(ex.submit(hostTask('true', [{ start: 0, end: 0 }]))).rejects.toThrow(/closed/);
          expect(ex.stats().running).toBe(0);
        }
        expect(rec.of('instance-finished').every((e) => e.result.state === 'Success')).toBe(true);
      } finally {
        await rm(workRoot, { recursive: true, force: true });
      }
    });

    it('aborts running instances when the close grace period ends', async () => {
      const workRoot = await mkdtemp(path.join(os.tmpdir(), 'hearth-executor-'));
      try {
        const ex = await create({ workRoot });
        const rec = new EventRecorder();
        ex.subscribe(rec.listener);
        const task = hostTask('echo up; sleep 60', [{ start: 0, end: 0 }]);
        await ex.submit(task);
        await rec.until(() => rec.stdout(task.taskUuid, 0) === 'up\n');
        await ex.close({ graceMs: 100 });
        expect(rec.results(task.taskUuid).get(0)?.state).toBe('Cancelled');
      } finally {
        await rm(workRoot, { recursive: true, force: true });
      }
    });
  });
}
