import { execFileSync } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { FsBlobStore } from '@hearth/storage';
import { ResourceCache } from './resource-cache.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { instancePaths } from './instance-spec.js';
import { runInstance, startInstance } from './running-instance.js';
import { EventLog, makeSpec, runScript, tempDir, waitFor } from './test-support/fixtures.js';

beforeAll(() => {
  runScript('bwrap-install.sh');
});

describe('host runtime', () => {
  it('runs the command in $DOCKER_WORKDIR with the instance environment and every constant', async () => {
    await using dir = await tempDir();
    const log = new EventLog();
    const spec = makeSpec(dir.path, {
      instanceId: 7,
      instanceCount: 12,
      taskName: 'env-check',
      constants: { MY_CONST: 'hello world', DOCKER_CMD: 'x' },
      command: 'echo "$INSTANCE_ID|$FRAME_ID|$INSTANCE_COUNT|$TASK_UUID|$TASK_NAME|$DOCKER_WORKDIR|$MY_CONST|$(pwd)"',
    });
    const result = await runInstance(spec, { onEvent: log.onEvent });
    const workdir = instancePaths(dir.path, spec.taskUuid, 7).workdir;
    expect(result.state).toBe('Success');
    expect(result.exitCode).toBe(0);
    expect(result.error).toBeNull();
    expect(log.stdout).toBe(`7|7|12|${spec.taskUuid}|env-check|${workdir}|hello world|${workdir}\n`);
    expect(log.of('phase').map((e) => e.phase)).toEqual(['download', 'environment', 'execution']);
    expect(result.progress).toBe(100);
    // the working dir is removed once the instance is over
    await expect(stat(workdir)).rejects.toThrow();
  });

  it('does not leak the server environment into the instance', async () => {
    await using dir = await tempDir();
    process.env['HEARTH_SECRET_FOR_TEST'] = 'leak';
    const log = new EventLog();
    await runInstance(makeSpec(dir.path, { command: 'echo "[${HEARTH_SECRET_FOR_TEST:-}]"' }), { onEvent: log.onEvent });
    delete process.env['HEARTH_SECRET_FOR_TEST'];
    expect(log.stdout).toBe('[]\n');
  });

  it('fails with the exit code and the last stderr lines', async () => {
    await using dir = await tempDir();
    const result = await runInstance(makeSpec(dir.path, { command: 'echo one >&2; echo two >&2; exit 3' }));
    expect(result.state).toBe('Failure');
    expect(result.exitCode).toBe(3);
    expect(result.error?.code).toBe('NonZeroExit');
    expect(result.error?.message).toContain('exited with code 3');
    expect(result.error?.message).toContain('one\ntwo');
  });

  it('reports a missing command distinctly', async () => {
    await using dir = await tempDir();
    const result = await runInstance(makeSpec(dir.path, { command: 'no-such-program-hearth --flag' }));
    expect(result.state).toBe('Failure');
    expect(result.error?.code).toBe('MissingCommand');
    expect(result.error?.message).toMatch(/no-such-program-hearth.*not found/);
  });

  it('reports an empty command as a missing command', async () => {
    await using dir = await tempDir();
    const result = await runInstance(makeSpec(dir.path, { command: '  ' }));
    expect(result.error?.code).toBe('MissingCommand');
  });

  it('reports a command killed by a signal', async () => {
    await using dir = await tempDir();
    const result = await runInstance(makeSpec(dir.path, { command: 'kill -SEGV $$' }));
    expect(result.state).toBe('Failure');
    expect(result.error?.code).toBe('KilledBySignal');
    expect(result.error?.message).toContain('SIGSEGV');
  });

  it('parses progress lines, the built-in convention and the task pattern', async () => {
    await using dir = await tempDir();
    const log = new EventLog();
    const result = await runInstance(
      makeSpec(dir.path, { command: 'echo HEARTH_PROGRESS=25; echo "step 3/4 done: 75%" >&2; exit 1', progressPattern: 'done: ([0-9]+)%' }),
      { onEvent: log.onEvent },
    );
    expect(log.of('progress').map((e) => e.percent)).toEqual([25, 75]);
    expect(result.progress).toBe(75);
  });

  it('aborts with SIGTERM to the command, which may exit cleanly within the grace period', async () => {
    await using dir = await tempDir();
    const log = new EventLog();
    const controller = new AbortController();
    const inst = startInstance(
      makeSpec(dir.path, { command: 'trap "echo got-term; exit 9" TERM; echo ready; while :; do sleep 0.05; done' }),
      { onEvent: log.onEvent, signal: controller.signal, graceMs: 10_000 },
    );
    await waitFor(() => log.stdout.includes('ready'));
    controller.abort();
    const result = await inst.result;
    expect(result.state).toBe('Cancelled');
    expect(result.error?.code).toBe('Aborted');
    expect(log.stdout).toContain('got-term');
    expect(result.exitCode).toBe(9);
  });

  it('kills a command that ignores SIGTERM after the grace period, with its whole process group', async () => {
    await using dir = await tempDir();
    const log = new EventLog();
    const inst = startInstance(
      makeSpec(dir.path, { command: 'trap "" TERM; (sleep 300 &); echo ready; while :; do sleep 0.05; done' }),
      { onEvent: log.onEvent, graceMs: 300 },
    );
    await waitFor(() => log.stdout.includes('ready'));
    inst.abort();
    const result = await inst.result;
    expect(result.state).toBe('Cancelled');
    expect(result.signal).toBe('SIGKILL');
  });

  it('keeps memory flat while a command writes a lot to stdout', async () => {
    await using dir = await tempDir();
    let bytes = 0;
    const before = process.memoryUsage().rss;
    let maxRss = before;
    const result = await runInstance(makeSpec(dir.path, { command: 'head -c 400000000 /dev/zero' }), {
      onEvent: (e) => {
        if (e.type === 'log' && e.stream === 'stdout') {
          bytes += e.data.length;
          if ((bytes & 0xfffff) < e.data.length) maxRss = Math.max(maxRss, process.memoryUsage().rss);
        }
      },
    });
    expect(result.state).toBe('Success');
    expect(bytes).toBe(400_000_000);
    expect(maxRss - before).toBeLessThan(150 * 2 ** 20);
  });

  it('runs in bubblewrap when available: working dir writable, rest read-only, no network, and says so', async () => {
    await using dir = await tempDir();
    const log = new EventLog();
    const result = await runInstance(
      makeSpec(dir.path, {
        command: 'echo ok > inside.txt && cat inside.txt; touch /usr/hearth-escape 2>/dev/null && echo WROTE-USR; grep -c : /proc/net/dev',
      }),
      { onEvent: log.onEvent },
    );
    expect(result.sandbox).toBe('bwrap');
    expect(log.stderr).toContain('[hearth] host runtime, sandboxed with bubblewrap');
    expect(log.stdout).toBe('ok\n1\n'); // only `lo` in the network namespace
    expect(log.of('runtime')[0]).toMatchObject({ runtime: 'host', sandbox: 'bwrap' });
  });

  it('gives the network back when the task allows it', async () => {
    await using dir = await tempDir();
    const log = new EventLog();
    const hostInterfaces = (await readFile('/proc/net/dev', 'utf8')).split('\n').filter((l) => l.includes(':')).length;
    await runInstance(makeSpec(dir.path, { network: true, command: 'grep -c : /proc/net/dev' }), { onEvent: log.onEvent });
    expect(Number(log.stdout.trim())).toBe(hostInterfaces);
  });

  it('runs a plain process group when sandboxing is off, and says so', async () => {
    await using dir = await tempDir();
    const log = new EventLog();
    const result = await runInstance(makeSpec(dir.path, { command: 'echo $(ps -o pgid= -p $$)' }), { onEvent: log.onEvent, sandbox: 'none' });
    expect(result.sandbox).toBe('none');
    expect(log.stderr).toContain('plain process group');
  });

  it('contains a memory hog with the memory limit', async () => {
    await using dir = await tempDir();
    // `tail` keeps the whole (newline-free) last line in memory: 400 MB against a 64 MB limit.
    const result = await runInstance(makeSpec(dir.path, { command: 'head -c 400000000 /dev/zero | tail -n 1 >/dev/null', limits: { memoryMB: 64 } }));
    expect(result.state).toBe('Failure');
    expect(result.error?.code).toBe('OutOfMemory');
    expect(result.peakMemoryMB).toBeGreaterThan(32);
    expect(result.peakMemoryMB).toBeLessThanOrEqual(65);
  });

  it('measures memory and cpu from the instance cgroup', async () => {
    await using dir = await tempDir();
    const log = new EventLog();
    const result = await runInstance(
      makeSpec(dir.path, { command: 'head -c 50000000 /dev/zero | tail -n 1 >/dev/null; i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done' }),
      { onEvent: log.onEvent, sampleIntervalMs: 100 },
    );
    expect(result.state).toBe('Success');
    expect(result.peakMemoryMB).toBeGreaterThan(40);
    expect(result.cpuTimeSec).toBeGreaterThan(0);
    expect(log.of('usage').length).toBeGreaterThan(0);
  });

  it('contains a fork bomb with the pids limit', async () => {
    await using dir = await tempDir();
    const result = await runInstance(
      makeSpec(dir.path, { command: 'i=0; while [ $i -lt 100 ]; do sleep 5 & i=$((i+1)); done; wait', limits: { pids: 20 } }),
      { sandbox: 'none' },
    );
    expect(result.state).toBe('Failure');
    expect(result.error?.message).toMatch(/fork|Resource temporarily unavailable|Cannot/i);
  });

  it('fails with a disk-full error when the working dir fills its file system, while staging and while running', async () => {
    await using dir = await tempDir();
    const root = `${dir.path}/small`;
    await mkdir(root);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', root]);
    try {
      const running = await runInstance(makeSpec(root, { command: 'head -c 10000000 /dev/zero > big.bin' }));
      expect(running.state).toBe('Failure');
      expect(running.error?.code).toBe('DiskFull');
      const store = new FsBlobStore(`${dir.path}/storage`);
      await store.createBucket({ owner: 'alice@example.com', bucket: 'large' });
      await store.write({ owner: 'alice@example.com', bucket: 'large', key: 'x.bin' }, Buffer.alloc(8 * 2 ** 20));
      const staging = await runInstance(makeSpec(root, { command: 'true', resources: [{ bucket: 'large' }] }), {
        blobStore: store,
        cache: new ResourceCache(`${root}/cache`),
      });
      expect(staging.state).toBe('Failure');
      expect(staging.error?.code).toBe('DiskFull');
      await store.close();
    } finally {
      execFileSync('umount', ['-l', root]);
    }
  });

  it('keeps the working dir when asked (debugging)', async () => {
    await using dir = await tempDir();
    const spec = makeSpec(dir.path, { command: 'echo x > out.txt', keepWorkdir: true });
    await runInstance(spec);
    const { workdir } = instancePaths(dir.path, spec.taskUuid, 0);
    expect(await readFile(`${workdir}/out.txt`, 'utf8')).toBe('x\n');
    await writeFile(`${workdir}/again`, '');
  });
});
