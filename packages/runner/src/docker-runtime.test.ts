import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsBlobStore } from '@hearth/storage';
import { ResourceCache } from './resource-cache.js';
import { runInstance, startInstance } from './running-instance.js';
import type { DockerClientOptions } from './internal/docker-execution.js';
import { docker } from './internal/docker-execution.js';
import { EventLog, makeSpec, runScript, tempDir, waitFor } from './test-support/fixtures.js';

let client: DockerClientOptions;
let image: string;

// A private engine state dir: other test files may run their own engine through the same scripts at the same time.
const engineEnv = { HEARTH_DOCKER_DIR: '/tmp/hearth-docker-runner-tests' };

beforeAll(() => {
  const vars = runScript('docker-up.sh', engineEnv);
  client = { host: vars['DOCKER_HOST'] };
  image = vars['HEARTH_TEST_IMAGE'] as string;
});

afterAll(() => {
  runScript('docker-down.sh', engineEnv);
});

describe('docker runtime', () => {
  it('runs DOCKER_CMD in the image with the working dir mounted at the same path and the instance environment', async () => {
    await using dir = await tempDir();
    const log = new EventLog();
    const spec = makeSpec(dir.path, {
      runtime: 'docker',
      image,
      instanceId: 4,
      instanceCount: 9,
      constants: { GREETING: 'hi there' },
      command: 'echo "$INSTANCE_ID/$INSTANCE_COUNT $GREETING $TASK_NAME"; [ "$(pwd)" = "$DOCKER_WORKDIR" ] && echo same-path; echo HEARTH_PROGRESS=60; echo oops >&2',
    });
    const result = await runInstance(spec, { onEvent: log.onEvent, docker: client });
    expect(result.state).toBe('Success');
    expect(result.runtime).toBe('docker');
    expect(result.sandbox).toBe('docker');
    expect(log.stdout).toBe('4/9 hi there test-task\nsame-path\nHEARTH_PROGRESS=60\n');
    expect(log.stderr).toContain('[hearth] docker runtime, container');
    expect(log.stderr).toContain('oops');
    expect(log.of('progress').map((e) => e.percent)).toEqual([60]);
  });

  it('labels containers with the task and instance and has no network by default', async () => {
    await using dir = await tempDir();
    const log = new EventLog();
    const spec = makeSpec(dir.path, { runtime: 'docker', image, command: 'echo ready; grep -c : /proc/net/dev; while [ ! -f go ]; do sleep 0.05; done' });
    const inst = startInstance(spec, { onEvent: log.onEvent, docker: client });
    await waitFor(() => log.stdout.includes('ready'));
    const ps = await docker(client, ['ps', '--filter', `label=hearth.task=${spec.taskUuid}`, '--format', '{{.Label "hearth.instance"}}']);
    expect(ps.stdout.trim()).toBe('0');
    await import('node:fs/promises').then((fs) => fs.writeFile(`${inst.paths.workdir}/go`, ''));
    const result = await inst.result;
    expect(result.state).toBe('Success');
    expect(log.stdout).toBe('ready\n1\n'); // only lo
    // the container is removed once the instance is over
    const after = await docker(client, ['ps', '-a', '--filter', `label=hearth.task=${spec.taskUuid}`, '-q']);
    expect(after.stdout.trim()).toBe('');
  });

  it('fails with the exit code and stderr, and reports a missing image and a missing command distinctly', async () => {
    await using dir = await tempDir();
    const failing = await runInstance(makeSpec(dir.path, { runtime: 'docker', image, command: 'echo bad >&2; exit 4' }), { docker: client });
    expect(failing.error?.code).toBe('NonZeroExit');
    expect(failing.exitCode).toBe(4);
    expect(failing.error?.message).toContain('bad');
    const noImage = await runInstance(makeSpec(dir.path, { runtime: 'docker', image: 'hearth-test/nope:1', command: 'true' }), { docker: client });
    expect(noImage.state).toBe('Failure');
    expect(noImage.error?.code).toBe('MissingImage');
    expect(noImage.error?.message).toContain('hearth-test/nope:1');
    const noCmd = await runInstance(makeSpec(dir.path, { runtime: 'docker', image, command: 'hearth-missing-tool' }), { docker: client });
    expect(noCmd.error?.code).toBe('MissingCommand');
  });

  it('aborts a container: SIGTERM reaches the command, which exits within the grace period', async () => {
    await using dir = await tempDir();
    const log = new EventLog();
    const inst = startInstance(
      makeSpec(dir.path, { runtime: 'docker', image, command: 'trap "echo got-term; exit 5" TERM; echo ready; while :; do sleep 0.05; done' }),
      { onEvent: log.onEvent, docker: client, graceMs: 10_000 },
    );
    await waitFor(() => log.stdout.includes('ready'));
    inst.abort();
    const result = await inst.result;
    expect(result.state).toBe('Cancelled');
    expect(log.stdout).toContain('got-term');
  });

  it('contains a memory hog with --memory', async () => {
    await using dir = await tempDir();
    const result = await runInstance(
      makeSpec(dir.path, { runtime: 'docker', image, command: 'head -c 400000000 /dev/zero | tail -n 1 >/dev/null', limits: { memoryMB: 64 } }),
      { docker: client },
    );
    expect(result.state).toBe('Failure');
    expect(result.error?.code).toBe('OutOfMemory');
  });

  it('stages resources and uploads results from the container', async () => {
    await using dir = await tempDir();
    const store = new FsBlobStore(`${dir.path}/storage`);
    const owner = 'alice@example.com';
    await store.createBucket({ owner, bucket: 'inputs' });
    await store.createBucket({ owner, bucket: 'outputs' });
    await store.write({ owner, bucket: 'inputs', key: 'n.txt' }, Buffer.from('21'));
    const result = await runInstance(
      makeSpec(`${dir.path}/work`, { runtime: 'docker', image, command: 'echo $(( $(cat n.txt) * 2 )) > answer.txt', resources: [{ bucket: 'inputs' }], results: { bucket: 'outputs' } }),
      { docker: client, blobStore: store, cache: new ResourceCache(`${dir.path}/cache`) },
    );
    expect(result.state).toBe('Success');
    expect(result.results).toEqual(['answer.txt']);
    const body = await store.read({ owner, bucket: 'outputs', key: 'answer.txt' });
    let text = '';
    for await (const c of body) text += String(c);
    expect(text).toBe('42\n');
    await store.close();
  });

  it('auto picks docker when the engine answers', async () => {
    await using dir = await tempDir();
    const result = await runInstance(makeSpec(dir.path, { runtime: 'auto', image, command: 'true' }), { docker: client });
    expect(result.runtime).toBe('docker');
  });
});
