// Scheduling overheads (issue 5): a 100 × 100 dependency graph of no-op tasks through the whole server, beside the
// same commands run layer by layer with xargs; and the cost of one dispatch decision with 100,000 instances waiting.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { ROOT, startHearth } from './support.mjs';

export const title = 'Scheduling (issue 5)';

const LAYERS = 100;
const WIDTH = 100;
const cores = os.availableParallelism();

async function post(h, p, body) {
  const r = await fetch(h.apiUrl + p, { method: 'POST', headers: { authorization: h.token, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return r.json();
}
async function get(h, p) {
  return (await fetch(h.apiUrl + p, { headers: { authorization: h.token } })).json();
}

async function graph() {
  const h = await startHearth({ args: ['--runtime', 'host', '--sandbox', 'none'] });
  try {
    const t0 = performance.now();
    let previous = [];
    let last = [];
    for (let layer = 0; layer < LAYERS; layer++) {
      const tasks = Array.from({ length: WIDTH }, (_, i) => ({
        name: `l${layer}-${i}`,
        profile: 'docker-batch',
        instanceCount: 1,
        constants: [{ key: 'DOCKER_CMD', value: 'true' }],
        // Each task waits for two tasks of the layer before it.
        ...(previous.length ? { dependencies: { dependsOn: [previous[i], previous[(i + 1) % WIDTH]] } } : {}),
      }));
      const res = await post(h, '/tasks', tasks);
      if (res.some((r) => r.statusCode !== 201)) throw new Error(`layer ${layer}: ${JSON.stringify(res.find((r) => r.statusCode !== 201))}`);
      previous = res.map((r) => r.uuid);
      last = previous;
    }
    for (const uuid of last) {
      let t = await get(h, `/tasks/${uuid}`);
      while (!['Success', 'Failure', 'Cancelled'].includes(t.state)) t = await get(h, `/tasks/${uuid}?longPollSeconds=30&ifState=${t.state}`);
      if (t.state !== 'Success') throw new Error(`task ${uuid} ended ${t.state}`);
    }
    return (performance.now() - t0) / 1000;
  } finally {
    await h.stop();
  }
}

function xargsLayers() {
  const t0 = performance.now();
  for (let layer = 0; layer < LAYERS; layer++) execFileSync('sh', ['-c', `seq ${WIDTH} | xargs -P ${cores} -I{} sh -c true`]);
  return (performance.now() - t0) / 1000;
}

async function dispatchCost() {
  const { PriorityQueue } = await import(path.join(ROOT, 'packages/executor/dist/index.js'));
  const q = new PriorityQueue();
  // 100,000 waiting instances: 1,000 tasks of 100 from 50 owners, in two priorities.
  for (let t = 0; t < 1000; t++) q.push({ id: `t${t}`, owner: `o${t % 50}`, segments: [{ start: 0, end: 99 }], payload: t, priority: t % 2 });
  const quotaHit = new Set(['o1', 'o2', 'o3']); // a few owners at their quota are passed over at each decision
  const t0 = process.hrtime.bigint();
  let n = 0;
  while (q.shift((o) => !quotaHit.has(o))) n++;
  const ns = Number(process.hrtime.bigint() - t0);
  return { perDecisionUs: ns / n / 1000, n };
}

export async function run() {
  const baseline = xargsLayers();
  const took = await graph();
  const overheadMs = ((took - baseline) / (LAYERS * WIDTH)) * 1000;
  const d = await dispatchCost();
  return [
    { metric: `${LAYERS} × ${WIDTH} dependency graph of no-op tasks, submit → all Success`, value: took, unit: 's', baseline: { name: `xargs -P ${cores}, layer by layer`, value: baseline } },
    { metric: 'scheduler overhead per task ((Hearth − xargs) / 10,000)', value: overheadMs, unit: 'ms', target: '≤ 5 ms' },
    { metric: 'one dispatch decision with 100,000 instances waiting (1,000 tasks, 50 owners, 2 priorities, 3 owners at quota)', value: d.perDecisionUs, unit: 'µs', target: '< 1 ms', note: `${d.n} decisions timed` },
  ];
}
