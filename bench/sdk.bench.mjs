// The TypeScript SDK (issue 6): cold import cost, wait() latency after a task ends, and downloadResults of many small
// files, each beside a baseline measured in the same run, against the real `hearth server` process.
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { startHearth, percentile, tempDir, ROOT } from './support.mjs';

export const title = 'TypeScript SDK (issue 6)';

const SDK = path.join(ROOT, 'packages/sdk/dist/index.js');

/** Median wall time of importing `specifier` in a fresh Node process, ms (measured inside the child). */
function coldImport(specifier, runs = 9) {
  const code = `const t=process.hrtime.bigint();import(${JSON.stringify(specifier)}).then(()=>console.log(Number(process.hrtime.bigint()-t)/1e6))`;
  const times = [];
  for (let i = 0; i < runs; i++) times.push(Number(execFileSync(process.execPath, ['-e', code], { cwd: ROOT, encoding: 'utf8' }).trim()));
  return percentile(times.sort((a, b) => a - b), 50);
}

/** Time from the task's end (server clock = ours) to wait() resolving, ms, over `n` tasks. */
async function waitLatencies(Connection, hearth, { n, longPoll, pollInterval }) {
  const conn = await Connection.connect({ clusterUrl: hearth.apiUrl, clientToken: hearth.token, env: {} });
  if (!longPoll) conn.features.longPoll = false;
  const out = [];
  try {
    for (let i = 0; i < n; i++) {
      const task = conn.createTask(`bench-wait-${i}`, { profile: 'docker-batch', constants: { DOCKER_CMD: 'sleep 0.3' } });
      await task.submit();
      await task.wait({ pollInterval });
      const returned = Date.now();
      const ended = Date.parse(task.endDate ?? task.stateTransitionTime);
      out.push(Math.max(0, returned - ended));
    }
  } finally {
    await conn.close();
  }
  return out.sort((a, b) => a - b);
}

async function download(conn, task, concurrency) {
  const dir = tempDir('hearth-bench-dl-');
  const started = performance.now();
  await task.downloadResults(dir, { concurrency });
  const ms = performance.now() - started;
  const count = readdirSync(dir).length;
  rmSync(dir, { recursive: true, force: true });
  if (count !== 1000) throw new Error(`downloaded ${count} files, expected 1000`);
  return ms;
}

export async function run() {
  const rows = [];
  const sdkImport = coldImport(SDK);
  rows.push({
    metric: 'cold import of @hearth/sdk (p50 of 9 processes)',
    value: sdkImport,
    unit: 'ms',
    baseline: { name: 'import @aws-sdk/client-s3 alone', value: coldImport('@aws-sdk/client-s3') },
    target: '< 150 ms',
    note: 'the AWS SDK is imported lazily by the first storage call; @hearth/core is imported for types only (its index loads zod)',
  });

  const { Connection } = await import(SDK);
  const hearth = await startHearth({ args: ['--runtime', 'host'] });
  try {
    const fast = await waitLatencies(Connection, hearth, { n: 15, longPoll: true, pollInterval: 10 });
    const polled = await waitLatencies(Connection, hearth, { n: 3, longPoll: false, pollInterval: 10 });
    rows.push({
      metric: 'wait() return after the task ends (p50, long-poll)',
      value: percentile(fast, 50),
      unit: 'ms',
      baseline: { name: 'same SDK polling every 10 s, as the Python SDK', value: percentile(polled, 50) },
      target: '≤ 100 ms',
      note: `long-poll p90 ${percentile(fast, 90)} ms over ${fast.length} tasks; polling samples: ${polled.join(', ')} ms`,
    });

    const conn = await Connection.connect({ clusterUrl: hearth.apiUrl, clientToken: hearth.token, env: {} });
    try {
      const results = await conn.createBucket('bench-results');
      const task = conn.createTask('bench-1000-files', {
        profile: 'docker-batch',
        results,
        constants: { DOCKER_CMD: 'i=0; while [ $i -lt 1000 ]; do head -c 4096 /dev/urandom > f$i.bin; i=$((i+1)); done' },
      });
      await task.submit();
      if (!(await task.wait({ timeout: 300 })) || task.state !== 'Success') throw new Error(`bench task ended ${task.state}`);
      const parallel = [];
      for (let i = 0; i < 3; i++) parallel.push(await download(conn, task, 16));
      const sequential = await download(conn, task, 1);
      rows.push({
        metric: 'downloadResults, 1,000 files of 4 KiB from the embedded gateway (p50 of 3)',
        value: percentile(parallel.sort((a, b) => a - b), 50),
        unit: 'ms',
        baseline: { name: 'same download, one transfer at a time', value: sequential },
        target: '< 3000 ms',
      });
    } finally {
      await conn.close();
    }
  } finally {
    await hearth.stop();
  }
  return rows;
}
