import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FsBlobStore } from '@hearth/storage';
import { instancePaths } from './instance-spec.js';
import { findLeftoverInstances, reattachInstance } from './recovery.js';
import { ResourceCache } from './resource-cache.js';
import { readExitFile } from './internal/host-execution.js';
import { isSameProcessAlive } from './internal/proc.js';
import { EventLog, makeSpec, REPO_ROOT, runScript, tempDir, waitFor } from './test-support/fixtures.js';
import type { InstanceSpec } from './instance-spec.js';

// A server process that runs one instance and is then SIGKILLed: it runs the runner compiled from these sources.
const BUILD = path.join(REPO_ROOT, 'packages/runner/.test-data/recovery-build');
const SERVER = path.join(BUILD, 'server.mjs');

beforeAll(async () => {
  runScript('bwrap-install.sh');
  execFileSync('npx', ['tsc', '-p', 'packages/runner/tsconfig.json', '--outDir', BUILD, '--tsBuildInfoFile', path.join(BUILD, '.tsbuildinfo'), '--declaration', 'false', '--declarationMap', 'false', '--composite', 'false'], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
  });
  await mkdir(BUILD, { recursive: true });
  // The supervisor's C source, where the built launcher looks for it (`<build>/../native`).
  await mkdir(path.join(BUILD, '..', 'native'), { recursive: true });
  await copyFile(path.join(REPO_ROOT, 'packages/runner/native/launcher.c'), path.join(BUILD, '..', 'native', 'launcher.c'));
  await writeFile(
    SERVER,
    `import { startInstance } from './index.js';
import { FsBlobStore } from '@hearth/storage';
const [spec, storage] = JSON.parse(process.argv[2]);
let out = '';
startInstance(spec, { blobStore: new FsBlobStore(storage), onEvent: (e) => {
  if (e.type === 'log' && e.stream === 'stdout') { out += e.data; if (out.includes('before')) console.log('started'); }
} });
`,
  );
}, 180_000);

let launcher: 'native' | 'perl' = 'native';

async function crashAfterStart(spec: InstanceSpec, storage: string): Promise<void> {
  const child = spawn(process.execPath, [SERVER, JSON.stringify([spec, storage])], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, HEARTH_LAUNCHER: launcher },
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('started') && resolve());
    child.once('exit', (c) => reject(new Error(`server exited early (${c})`)));
  });
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
}

const owner = 'alice@example.com';

describe.each(['native', 'perl'] as const)('crash recovery (%s supervisor)', (implementation) => {
  beforeAll(() => {
    launcher = implementation;
  });

  it('re-attaches to an instance still running after the server was SIGKILLed: logs, exit code and results', async () => {
    await using dir = await tempDir();
    const storage = `${dir.path}/storage`;
    const store = new FsBlobStore(storage);
    await store.createBucket({ owner, bucket: 'outputs' });
    const spec = makeSpec(`${dir.path}/work`, {
      command: 'echo before; while [ ! -f go ]; do sleep 0.05; done; echo after; echo 42 > answer.txt; exit 3',
      results: { bucket: 'outputs' },
    });
    await crashAfterStart(spec, storage);

    const leftovers = await findLeftoverInstances(spec.workRoot);
    expect(leftovers.map((l) => [l.taskUuid, l.instanceId, l.status])).toEqual([[spec.taskUuid, 0, 'running']]);
    const log = new EventLog();
    const inst = reattachInstance(leftovers[0] as (typeof leftovers)[0], { blobStore: store, cache: new ResourceCache(`${dir.path}/cache`), onEvent: log.onEvent });
    await writeFile(`${instancePaths(spec.workRoot, spec.taskUuid, 0).workdir}/go`, '');
    const result = await inst.result;
    expect(result.exitCode).toBe(3);
    expect(result.error?.code).toBe('NonZeroExit');
    expect(log.stdout).toBe('after\n');
    expect(result.results).toEqual(['answer.txt', 'go']);
    expect(await findLeftoverInstances(spec.workRoot)).toEqual([]);
    await store.close();
  });

  it('collects an instance that ended while no server was watching', async () => {
    await using dir = await tempDir();
    const storage = `${dir.path}/storage`;
    const store = new FsBlobStore(storage);
    await store.createBucket({ owner, bucket: 'outputs' });
    const spec = makeSpec(`${dir.path}/work`, {
      command: 'echo before; while [ ! -f go ]; do sleep 0.05; done; echo done > r.txt',
      results: { bucket: 'outputs', blacklist: '^go$' },
    });
    await crashAfterStart(spec, storage);
    const { workdir, stateDir } = instancePaths(spec.workRoot, spec.taskUuid, 0);
    await writeFile(`${workdir}/go`, '');
    await waitFor(() => readExitFile(stateDir) !== null);
    const [leftover] = await findLeftoverInstances(spec.workRoot);
    expect(leftover?.status).toBe('exited');
    const result = await reattachInstance(leftover as NonNullable<typeof leftover>, { blobStore: store }).result;
    expect(result.state).toBe('Success');
    expect(result.results).toEqual(['r.txt']);
    await store.close();
  });

  /** A long-running instance whose server crashed right after starting it: its spec and its command's pid. */
  async function sleeperLeftRunning(root: string): Promise<{ spec: ReturnType<typeof makeSpec>; pid: number; startTicks: number }> {
    const spec = makeSpec(`${root}/work`, { command: 'echo before; sleep 300' });
    await crashAfterStart(spec, `${root}/storage`);
    const [running] = await findLeftoverInstances(spec.workRoot);
    return { spec, pid: running?.state.host?.pid as number, startTicks: running?.state.host?.startTicks ?? 0 };
  }

  it('records an instance killed while no server was watching: its supervisor saw the signal', async () => {
    await using dir = await tempDir();
    const { spec, pid } = await sleeperLeftRunning(dir.path);
    process.kill(-pid, 'SIGKILL');
    const { stateDir } = instancePaths(spec.workRoot, spec.taskUuid, 0);
    await waitFor(() => readExitFile(stateDir) !== null);
    const [leftover] = await findLeftoverInstances(spec.workRoot);
    expect(leftover?.status).toBe('exited');
    const result = await reattachInstance(leftover as NonNullable<typeof leftover>).result;
    expect(result.state).toBe('Failure');
    expect(result.error?.code).toBe('KilledBySignal');
    expect(result.error?.message).toContain('SIGKILL');
  });

  it('reports an instance as lost when it and its supervisor died while no server was watching (a reboot)', async () => {
    await using dir = await tempDir();
    const { spec, pid, startTicks } = await sleeperLeftRunning(dir.path);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const supervisor = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    process.kill(supervisor, 'SIGKILL');
    process.kill(-pid, 'SIGKILL');
    await waitFor(() => !isSameProcessAlive(pid, startTicks));
    const [leftover] = await findLeftoverInstances(spec.workRoot);
    expect(leftover?.status).toBe('lost');
    const result = await reattachInstance(leftover as NonNullable<typeof leftover>).result;
    expect(result.state).toBe('Failure');
    expect(result.error?.code).toBe('Lost');
  });
});
