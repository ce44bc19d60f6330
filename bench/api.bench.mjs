// The REST API's hot paths, measured against the real `hearth server` process with autocannon, beside a bare
// node:http hello-world run the same way in the same run.
import { spawn } from 'node:child_process';
import autocannon from 'autocannon';
import { startHearth, percentile, tempDir, ROOT } from './support.mjs';
import path from 'node:path';

export const title = 'REST API (issue 2)';

const HELLO = `require('node:http').createServer((q, s) => { s.writeHead(200, {'content-type': 'application/json'}); s.end('{"hello":"world"}'); }).listen(0, '127.0.0.1', function () { console.log('http://127.0.0.1:' + this.address().port); });`;

async function bare() {
  const child = spawn(process.execPath, ['-e', HELLO], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(String(d).trim())));
  return { url, stop: () => child.kill('SIGTERM') };
}

function cannon(opts) {
  const defaults = opts.amount ? { connections: 50, pipelining: 1 } : { connections: 50, duration: 10, pipelining: 1 };
  return new Promise((resolve, reject) => autocannon({ ...defaults, ...opts }, (e, r) => (e ? reject(e) : resolve(r))));
}

async function post(apiUrl, token, body) {
  const r = await fetch(`${apiUrl}/tasks`, { method: 'POST', headers: { authorization: token, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (r.status >= 300) throw new Error(`POST /tasks: ${r.status} ${await r.text()}`);
  return r.json();
}

export async function run() {
  const rows = [];
  const hearth = await startHearth();
  const base = await bare();
  try {
    const { uuid } = await post(hearth.apiUrl, hearth.token, { name: 'hot', profile: 'docker-batch', instanceCount: 4, tags: ['a', 'b'] });
    await cannon({ url: `${hearth.apiUrl}/tasks/${uuid}`, headers: { authorization: hearth.token }, duration: 2 }); // warm-up
    const h = await cannon({ url: `${hearth.apiUrl}/tasks/${uuid}`, headers: { authorization: hearth.token } });
    const b = await cannon({ url: base.url });
    if (h.non2xx > 0 || h.errors > 0) throw new Error(`GET /tasks/{uuid}: ${h.non2xx} non-2xx, ${h.errors} errors`);
    rows.push({ metric: 'GET /tasks/{uuid}, 50 keep-alive connections', value: h.requests.average, unit: 'req/s', baseline: { name: 'bare node:http hello-world', value: b.requests.average }, target: '≥ 5,000 req/s and ≥ 40% of bare' });
    rows.push({ metric: 'GET /tasks/{uuid} p99 latency', value: h.latency.p99, unit: 'ms', baseline: { name: 'bare node:http hello-world', value: b.latency.p99 }, target: '< 25 ms' });

    // The tasks created below wait for this one, so the figures are the API's, not those of a machine also busy
    // running thousands of tasks (they are admitted, dependencies checked, and parked as waiting).
    const { uuid: gate } = await post(hearth.apiUrl, hearth.token, { name: 'gate', profile: 'docker-batch', instanceCount: 1, constants: [{ key: 'DOCKER_CMD', value: 'sleep 600' }] });
    const waiting = { dependencies: { dependsOn: [gate] } };
    // One connection, one request in flight: each task is durable (fsync) before the next is sent.
    const seq = await cannon({
      url: `${hearth.apiUrl}/tasks`,
      method: 'POST',
      connections: 1,
      amount: 3000,
      headers: { authorization: hearth.token, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'seq', profile: 'docker-batch', instanceCount: 1, tags: ['seq'], ...waiting }),
    });
    if (seq.non2xx > 0 || seq.errors > 0) throw new Error(`sequential POST: ${seq.non2xx} non-2xx, ${seq.errors} errors`);
    rows.push({ metric: 'POST /tasks sequential (one connection, fsync per task)', value: seq.requests.average, unit: 'tasks/s', target: '≥ 1,000 tasks/s', note: `p50 latency ${seq.latency.p50} ms, p99 ${seq.latency.p99} ms` });
    let t0;

    const bulk = Array.from({ length: 1000 }, (_, i) => ({ name: `bulk-${i}`, profile: 'docker-batch', instanceCount: 1, tags: ['bulk'], ...waiting }));
    const bulkTimes = [];
    for (let k = 0; k < 5; k++) {
      t0 = performance.now();
      const res = await post(hearth.apiUrl, hearth.token, bulk);
      bulkTimes.push(performance.now() - t0);
      if (res.length !== 1000 || res.some((x) => x.statusCode !== 201)) throw new Error('bulk POST failed');
    }
    bulkTimes.sort((a, b) => a - b);
    // Stop the gate's `sleep` so it does not outlive the benchmark (the waiting tasks then fail, as they should).
    await fetch(`${hearth.apiUrl}/tasks/${gate}/abort`, { method: 'POST', headers: { authorization: hearth.token } });
    rows.push({ metric: 'bulk POST of 1,000 tasks (median of 5)', value: percentile(bulkTimes, 50), unit: 'ms', target: '< 1,000 ms' });
  } finally {
    base.stop();
    await hearth.stop();
  }
  rows.push(...(await paginationFigures()));
  return rows;
}

/** 100,000 stored tasks, then every page of a tag-filtered paginate walked to the end. */
async function paginationFigures() {
  const dataDir = tempDir();
  const { openDataDir } = await import(path.join(ROOT, 'packages/server/dist/index.js'));
  // One real, finished task as the template of every stored document, so the server reads them as it would its own.
  const hearth = await startHearth({ dataDir });
  const { uuid: first } = await post(hearth.apiUrl, hearth.token, { name: 'template', profile: 'docker-batch', instanceCount: 1, constants: [{ key: 'DOCKER_CMD', value: 'true' }] });
  let template;
  do {
    template = await (await fetch(`${hearth.apiUrl}/tasks/${first}?longPollSeconds=10&ifState=${template?.state ?? 'Submitted'}`, { headers: { authorization: hearth.token } })).json();
  } while (!['Success', 'Failure'].includes(template.state));
  await hearth.stop();
  const store = await openDataDir(dataDir);
  const [user] = await store.listUsers();
  const total = 100_000;
  let t0 = performance.now();
  for (let start = 0; start < total; start += 5000) {
    await store.transaction(async (s) => {
      for (let i = start; i < start + 5000; i++) {
        const uuid = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
        const tags = [`group-${i % 10}`, i % 100 === 0 ? 'rare' : 'common'];
        const doc = { ...template, uuid, shortname: uuid, name: `t-${i}`, tags };
        await s.tasks.insert(user.id, { uuid, shortname: uuid, name: doc.name, state: doc.state, profile: 'docker-batch', creationDate: doc.creationDate, lastModified: doc.lastModified, tags, doc: JSON.stringify(doc) });
      }
    });
  }
  const loadSeconds = (performance.now() - t0) / 1000;
  await store.close();
  const server = await startHearth({ dataDir });
  const rows = [];
  try {
    for (const [label, filter] of [
      ['tag filter matching 10%', { operator: 'Equal', field: 'Tags', value: 'group-3' }],
      ['tag filter matching 1%', { operator: 'Equal', field: 'Tags', value: 'rare' }],
      ['no filter', null],
    ]) {
      const times = [];
      let token = null;
      let pages = 0;
      do {
        t0 = performance.now();
        const r = await fetch(`${server.apiUrl}/tasks/paginate`, { method: 'POST', headers: { authorization: server.token, 'content-type': 'application/json' }, body: JSON.stringify({ filter, token, maximumResults: 100 }) });
        const page = await r.json();
        times.push(performance.now() - t0);
        token = page.nextToken;
        pages++;
      } while (token && pages < 1000);
      times.sort((a, b) => a - b);
      rows.push({ metric: `paginate 100 of 100,000 tasks, ${label}: p50 / worst of ${pages} pages`, value: percentile(times, 50), unit: 'ms', target: '< 50 ms every page', note: `worst page ${times[times.length - 1].toFixed(1)} ms; 100,000 tasks loaded in ${loadSeconds.toFixed(1)} s` });
      rows.push({ metric: `paginate, ${label}: worst page`, value: times[times.length - 1], unit: 'ms', target: '< 50 ms' });
    }
  } finally {
    await server.stop();
  }
  return rows;
}
