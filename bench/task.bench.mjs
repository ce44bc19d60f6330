// Tasks through the whole server (API → scheduler → local executor → runner), on the host runtime, beside
// `xargs -P <cores>` running the same commands in the same run.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { startHearth, percentile } from './support.mjs';

export const title = 'Task execution through the server (issue 4)';

const cores = os.availableParallelism();

async function api(h, method, p, body) {
  const r = await fetch(h.apiUrl + p, { method, headers: { authorization: h.token, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const text = await r.text();
  return text ? JSON.parse(text) : undefined;
}

async function waitState(h, uuid, done) {
  let t = await api(h, 'GET', `/tasks/${uuid}`);
  while (!done(t.state)) t = await api(h, 'GET', `/tasks/${uuid}?longPollSeconds=30&ifState=${t.state}`);
  return t;
}
const final = (s) => ['Success', 'Failure', 'Cancelled'].includes(s);

function xargs(n) {
  const t0 = performance.now();
  execFileSync('sh', ['-c', `seq ${n} | xargs -P ${cores} -I{} sh -c true`]);
  return (performance.now() - t0) / 1000;
}

async function thousand(h) {
  const t0 = performance.now();
  const { uuid } = await api(h, 'POST', '/tasks', { name: 'noop', profile: 'docker-batch', instanceCount: 1000, constants: [{ key: 'DOCKER_CMD', value: 'true' }] });
  const t = await waitState(h, uuid, final);
  if (t.state !== 'Success') throw new Error(`1000-instance task ended ${t.state}`);
  return (performance.now() - t0) / 1000;
}

function rssMB(pid) {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(execFileSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' }))[1]) / 1024;
  } catch {
    return NaN;
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function run() {
  const rows = [];
  for (const sandbox of ['none', 'bwrap']) {
    const h = await startHearth({ args: ['--runtime', 'host', '--sandbox', sandbox] });
    try {
      await thousand(h); // warm-up: page cache, the supervisor's build, first bwrap
      // Interleaved, so both sides see the same machine: xargs, Hearth, xargs, Hearth, ...; medians of 5.
      const hearth = [];
      const baseline = [];
      for (let i = 0; i < 5; i++) {
        baseline.push(xargs(1000));
        hearth.push(await thousand(h));
      }
      rows.push({
        metric: `1,000-instance no-op task, POST → Success (sandbox ${sandbox}, median of 5)`,
        value: median(hearth),
        unit: 's',
        baseline: { name: `xargs -P ${cores} sh -c true ×1000, median of 5 interleaved`, value: median(baseline) },
        target: sandbox === 'none' ? '≤ 2× xargs' : undefined,
        note: `Hearth runs ${hearth.map((x) => x.toFixed(2)).join(', ')} s; xargs ${baseline.map((x) => x.toFixed(2)).join(', ')} s`,
      });
    } finally {
      await h.stop();
    }
  }

  const h = await startHearth({ args: ['--runtime', 'host', '--sandbox', 'none'] });
  try {
    const lat = [];
    for (let i = 0; i < 100; i++) {
      const t0 = performance.now();
      const { uuid } = await api(h, 'POST', '/tasks', { name: 'lat', profile: 'docker-batch', instanceCount: 1, constants: [{ key: 'DOCKER_CMD', value: 'sleep 0.2' }] });
      await waitState(h, uuid, (s) => /Executing|UploadingResults|Success|Failure/.test(s));
      lat.push(performance.now() - t0);
      await waitState(h, uuid, final);
    }
    lat.sort((a, b) => a - b);
    rows.push({ metric: 'submit → first instance executing, idle server (p50 of 100)', value: percentile(lat, 50), unit: 'ms', target: '≤ 50 ms', note: `p90 ${percentile(lat, 90).toFixed(1)} ms` });

    const rss0 = rssMB(h.child.pid);
    const t0 = performance.now();
    const { uuid } = await api(h, 'POST', '/tasks', { name: 'huge', profile: 'docker-batch', instanceCount: 0, advancedRanges: '0-99999', constants: [{ key: 'DOCKER_CMD', value: 'true' }] });
    const accepted = performance.now() - t0;
    let peak = rssMB(h.child.pid);
    const until = Date.now() + 30_000;
    let t;
    while (Date.now() < until) {
      await new Promise((r) => setTimeout(r, 500));
      peak = Math.max(peak, rssMB(h.child.pid));
      t = await api(h, 'GET', `/tasks/${uuid}`);
    }
    await api(h, 'POST', `/tasks/${uuid}/abort`);
    await waitState(h, uuid, final);
    peak = Math.max(peak, rssMB(h.child.pid));
    const ran = t?.completedInstances ? (t.status?.succeededRange ?? '') : '';
    rows.push({ metric: '100,000-instance task (advancedRanges 0-99999) accepted', value: accepted, unit: 'ms', target: '< 1,000 ms' });
    rows.push({ metric: 'server RSS while it queues and runs (peak over 30 s, then abort)', value: peak, unit: 'MB', target: '< 500 MB', note: `RSS before submit ${rss0.toFixed(0)} MB; instances done after 30 s: ${ran}` });
  } finally {
    await h.stop();
  }
  return rows;
}
