import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LocalExecutor } from './local-executor.js';
import { describeExecutorConformance, EventRecorder, hostTask } from './test-support/executor-conformance.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
beforeAll(() => {
  execFileSync('bash', [path.join(REPO_ROOT, 'scripts/bwrap-install.sh')], { stdio: 'inherit' });
});

describeExecutorConformance('LocalExecutor', ({ workRoot }) => new LocalExecutor({ workRoot, slots: 2 }));

describe('LocalExecutor', () => {
  let workRoot: string;
  beforeAll(async () => {
    workRoot = await mkdtemp(path.join(os.tmpdir(), 'hearth-local-'));
  });
  afterAll(async () => {
    await rm(workRoot, { recursive: true, force: true });
  });

  it('shares slots fairly: round-robin across owners, FIFO within an owner', async () => {
    await using ex = new LocalExecutor({ workRoot, slots: 1 });
    const rec = new EventRecorder();
    ex.subscribe(rec.listener);
    const a1 = hostTask('true', [{ start: 0, end: 3 }], { owner: 'a@x' });
    const a2 = hostTask('true', [{ start: 0, end: 1 }], { owner: 'a@x' });
    const b = hostTask('true', [{ start: 0, end: 2 }], { owner: 'b@x' });
    await ex.submit(a1);
    await ex.submit(a2);
    await ex.submit(b);
    await rec.drained(b.taskUuid);
    await rec.drained(a2.taskUuid);
    const names = new Map([[a1.taskUuid, 'a1'], [a2.taskUuid, 'a2'], [b.taskUuid, 'b']]);
    const order = rec.of('instance-started').map((e) => `${names.get(e.taskUuid)}:${e.instanceId}`);
    // a1:0 started at once (free slot); then owners alternate, a's tasks in submission order.
    expect(order).toEqual(['a1:0', 'b:0', 'a1:1', 'b:1', 'a1:2', 'b:2', 'a1:3', 'a2:0', 'a2:1']);
  });

  it('never runs more instances than slots, and refills a slot as soon as one ends', async () => {
    await using ex = new LocalExecutor({ workRoot, slots: 3 });
    let running = 0;
    let max = 0;
    ex.subscribe((e) => {
      if (e.type === 'instance-started') max = Math.max(max, ++running);
      if (e.type === 'instance-finished') running--;
    });
    const rec = new EventRecorder();
    ex.subscribe(rec.listener);
    const task = hostTask('sleep 0.05', [{ start: 0, end: 11 }]);
    await ex.submit(task);
    await rec.drained(task.taskUuid);
    expect(max).toBe(3);
    expect(rec.of('instance-finished')).toHaveLength(12);
    // each start after the first three follows a finish directly: no polling interval in between
    const types = rec.events.filter((e) => e.type === 'instance-started' || e.type === 'instance-finished').map((e) => e.type);
    for (let i = 3; i < types.length; i++) if (types[i] === 'instance-started') expect(types[i - 1]).toBe('instance-finished');
  });

  it('queues a 100,000-instance task as a range, without materialising the instances', async () => {
    const ex = new LocalExecutor({ workRoot, slots: 2 });
    const rec = new EventRecorder();
    ex.subscribe(rec.listener);
    const before = process.memoryUsage().heapUsed;
    const task = hostTask('sleep 30', [{ start: 0, end: 99_999 }]);
    await ex.submit(task);
    expect(ex.stats()).toMatchObject({ slots: 2, running: 2, queued: 99_998, tasks: 1 });
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(20 * 2 ** 20);
    await ex.cancel(task.taskUuid);
    await rec.drained(task.taskUuid);
    expect(rec.of('instances-cancelled')).toEqual([{ type: 'instances-cancelled', taskUuid: task.taskUuid, instances: [{ start: 2, end: 99_999 }] }]);
    await ex.close();
  });

  it('drains a task with an empty range at once', async () => {
    await using ex = new LocalExecutor({ workRoot, slots: 1 });
    const rec = new EventRecorder();
    ex.subscribe(rec.listener);
    const task = hostTask('true', []);
    await ex.submit(task);
    await rec.drained(task.taskUuid);
    expect(rec.of('instance-started')).toHaveLength(0);
  });

  it('leaves instances running on close({ leaveRunning }) and re-attaches to them with recover()', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'hearth-recover-'));
    try {
      const first = new LocalExecutor({ workRoot: root, slots: 2 });
      const rec1 = new EventRecorder();
      first.subscribe(rec1.listener);
      const task = hostTask('echo up; while [ ! -f "$DOCKER_WORKDIR/go" ]; do sleep 0.05; done; echo bye', [{ start: 0, end: 1 }]);
      await first.submit(task);
      await rec1.until(() => rec1.stdout(task.taskUuid, 0) === 'up\n' && rec1.stdout(task.taskUuid, 1) === 'up\n');
      await first.close({ leaveRunning: true });

      await using second = new LocalExecutor({ workRoot: root, slots: 2 });
      const rec2 = new EventRecorder();
      second.subscribe(rec2.listener);
      const found = await second.recover();
      expect(found.map((l) => l.status)).toEqual(['running', 'running']);
      expect(second.stats().running).toBe(2);
      const { writeFile } = await import('node:fs/promises');
      for (const id of [0, 1]) await writeFile(path.join(root, task.taskUuid, String(id), 'work', 'go'), '');
      await rec2.drained(task.taskUuid);
      expect([...rec2.results(task.taskUuid).values()].map((r) => r.state)).toEqual(['Success', 'Success']);
      expect(rec2.stdout(task.taskUuid, 0)).toBe('bye\n');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
