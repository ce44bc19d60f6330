// Execution benchmarks: LocalExecutor on the host runtime beside `xargs -P <cores>` running the same commands, and
// the node resource cache (100 instances sharing one 200 MB resource). Needs built code: `npx tsc -b packages/executor`.
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalExecutor } from '../packages/executor/dist/index.js';
import { ResourceCache, findBwrap } from '../packages/runner/dist/index.js';
import { FsBlobStore } from '../packages/storage/dist/index.js';

export const title = 'Execution: local executor and runner';

const cores = os.availableParallelism();
const N = 1000;

function xargsBaseline(command) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn('xargs', ['-0', '-P', String(cores), '-n', '1', 'sh', '-c'], { stdio: ['pipe', 'ignore', 'inherit'] });
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`xargs exited ${code}`))));
    p.stdin.end(Array(N).fill(command).join('\0'));
  });
}

async function executorRun(workRoot, { command, instances, sandbox, blobStore, cache, resources }) {
  const ex = new LocalExecutor({ workRoot, slots: cores, runner: { sandbox }, ...(blobStore ? { blobStore, cache } : {}) });
  const taskUuid = randomUUID();
  let failures = 0;
  const done = new Promise((resolve) =>
    ex.subscribe((e) => {
      if (e.type === 'instance-finished' && e.result.state !== 'Success') failures++;
      if (e.type === 'task-drained') resolve();
    }),
  );
  const t0 = performance.now();
  await ex.submit({
    taskUuid,
    owner: 'bench@example.com',
    instances: [{ start: 0, end: instances - 1 }],
    template: { taskUuid, taskName: 'bench', instanceCount: instances, owner: 'bench@example.com', constants: { DOCKER_CMD: command }, command, runtime: 'host', resources },
  });
  await done;
  const ms = performance.now() - t0;
  await ex.close();
  if (failures) throw new Error(`${failures} instances failed`);
  return ms;
}

export async function run() {
  execFileSync('bash', [path.join(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '..', 'scripts', 'bwrap-install.sh')]);
  const root = mkdtempSync(path.join(os.tmpdir(), 'hearth-bench-exec-'));
  const rows = [];
  try {
    const command = 'true';
    // Warm-up: page cache, bwrap binary, cgroup hierarchy.
    await executorRun(path.join(root, 'warm'), { command, instances: 20, sandbox: 'auto' });
    await xargsBaseline(command);

    const xargsMs = await xargsBaseline(command);
    const plainMs = await executorRun(path.join(root, 'plain'), { command, instances: N, sandbox: 'none' });
    const bwrapMs = (await findBwrap()) ? await executorRun(path.join(root, 'bwrap'), { command, instances: N, sandbox: 'bwrap' }) : undefined;
    const xargsMs2 = await xargsBaseline(command);
    const baseline = { name: `xargs -P ${cores} sh -c (same 1,000 commands)`, value: Math.min(xargsMs, xargsMs2) / 1000 };
    rows.push({
      metric: `1,000 no-op instances, host runtime, no sandbox (${cores} slots)`,
      value: plainMs / 1000,
      unit: 's',
      baseline,
      target: '≤ 2× xargs',
      note: 'each instance: the supervisor (native build) recycles an instance dir, writes the state files, vfork()s sh -c into its cgroup v1 groups, reaps it and reads the counters; output on a reused log lane',
    });
    if (bwrapMs !== undefined) {
      rows.push({
        metric: `1,000 no-op instances, host runtime, bubblewrap sandbox (${cores} slots)`,
        value: bwrapMs / 1000,
        unit: 's',
        baseline,
        note: 'bubblewrap adds namespaces (pid, net, ipc, uts) and mounts per instance',
      });
    }

    // 100 instances sharing one 200 MB resource: the node cache reads it from storage once.
    const store = new FsBlobStore(path.join(root, 'storage'));
    let reads = 0;
    const read = store.read.bind(store);
    store.read = (ref, o) => {
      reads++;
      return read(ref, o);
    };
    const owner = 'bench@example.com';
    await store.createBucket({ owner, bucket: 'shared-input' });
    const big = path.join(root, 'big.bin');
    execFileSync('head', ['-c', String(200 * 2 ** 20), '/dev/urandom'], { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 300 * 2 ** 20 });
    execFileSync('sh', ['-c', `head -c ${200 * 2 ** 20} /dev/urandom > ${big}`]);
    await store.writeFile({ owner, bucket: 'shared-input', key: 'model.bin' }, big);
    const cache = new ResourceCache(path.join(root, 'cache'));
    const sharedMs = await executorRun(path.join(root, 'shared'), {
      command: 'test "$(wc -c < model.bin)" -eq 209715200',
      instances: 100,
      sandbox: 'auto',
      blobStore: store,
      cache,
      resources: [{ bucket: 'shared-input' }],
    });
    await store.close();
    rows.push({
      metric: '100 instances sharing one 200 MB resource: storage reads',
      value: reads,
      unit: 'reads',
      baseline: { name: 'one download per instance', value: 100 },
      target: '1',
    });
    rows.push({
      metric: '100 instances sharing one 200 MB resource: wall time',
      value: sharedMs / 1000,
      unit: 's',
      note: `the file is hard-linked into each working dir; cache stats ${JSON.stringify(cache.stats)}`,
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return rows;
}
