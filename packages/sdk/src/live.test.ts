/**
 * The SDK against a real Hearth server (API, store, S3 gateway, scheduler and local executor in one process) on
 * ephemeral ports: every call goes over the wire, nothing is mocked.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HearthServer } from '@hearth/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from './connection.js';
import {
  isAlreadySubmittedError,
  isMissingJobError,
  isMissingPoolError,
  isMissingProfileError,
  isMissingTaskError,
  isMissingTaskInstanceError,
  isSecretConflictError,
  isSecretNotFoundError,
  isUnauthorizedError,
} from './errors.js';
import { HardwareConstraints } from './hardware-constraints.js';
import { SecretsAccessRights } from './secrets-access-rights.js';

let server: HearthServer;
let conn: Connection;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sdk-live-'));
  server = await HearthServer.start({ dataDir: path.join(dir, 'data'), host: '127.0.0.1', port: 0, storagePort: 0, runtime: 'host', slots: 2 });
  conn = await Connection.connect({ clusterUrl: server.apiUrl, clientToken: server.user.token, env: {} });
});
afterAll(async () => {
  await conn?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const unique = (prefix: string): string => `${prefix}-${Math.random().toString(36).slice(2, 8)}`;

describe('connection against a live Hearth server', () => {
  it('discovers the storage from /settings and the S3 key from /info', async () => {
    expect(conn.storageUrl).toBe(server.storageUrl);
    const info = await conn.userInfo();
    expect(info.email).toBe(server.user.email);
    expect(typeof info.maxTask).toBe('number');
  });

  it('rejects a bad token with UnauthorizedError', async () => {
    await expect(Connection.connect({ clusterUrl: server.apiUrl, clientToken: 'wrong', env: {}, retryWait: 0.001 })).rejects.toSatisfy(
      isUnauthorizedError,
    );
  });

  it('lists profiles with their constants', async () => {
    expect(await conn.profilesNames()).toContain('docker-batch');
    const p = await conn.retrieveProfile('docker-batch');
    expect(p.constants.map((c) => c.name)).toContain('DOCKER_CMD');
    await expect(conn.retrieveProfile('no-such-profile')).rejects.toSatisfy(isMissingProfileError);
    expect((await conn.profiles()).map((x) => x.name)).toContain('docker-batch');
  });

  it('pages hardware constraints', async () => {
    const all = [];
    for await (const h of conn.hardwareConstraints({ pageSize: 2 })) all.push(h);
    const page = await conn.hardwareConstraintsPage({ limit: 2 });
    expect(all.length).toBe(page.total);
  });
});

describe('tasks against a live Hearth server', () => {
  it('submits, retrieves by uuid and shortname, reads back every property sent', async () => {
    const shortname = unique('short');
    const t = conn.createTask(unique('props'), {
      profile: 'docker-batch',
      shortname,
      advancedRange: '0-2,5',
      constants: { DOCKER_CMD: 'true' },
      tags: ['live', 'props'],
      labels: { team: 'sdk' },
      resultsWhitelist: '\\.txt$',
      completionTtl: '01:00:00',
      autoDelete: true,
      hardwareConstraints: [HardwareConstraints.minimumCoreCount(1)],
      retrySettings: { maxTotalRetries: 2, maxPerInstanceRetries: 1 },
      schedulingType: 'Flex',
      maxTimeQueueSeconds: 3600,
      secretsAccessRights: new SecretsAccessRights().addSecretByPrefix('sdk/'),
    });
    t.snapshotBlacklist = '\\.tmp$';
    await t.submit();
    expect(t.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(t.state).not.toBe('UnSubmitted');
    expect(t.creationDate).toBeInstanceOf(Date);
    for (const got of [await conn.retrieveTask(t.uuid!), await conn.retrieveTask(shortname)]) {
      expect(got.uuid).toBe(t.uuid);
      expect(got.name).toBe(t.name);
      expect(got.shortname).toBe(shortname);
      expect(got.advancedRange).toBe('0-2,5');
      expect(got.constants['DOCKER_CMD']).toBe('true');
      expect(got.tags).toEqual(['live', 'props']);
      expect(got.labels).toEqual({ team: 'sdk' });
      expect(got.resultsWhitelist).toBe('\\.txt$');
      expect(got.snapshotBlacklist).toBe('\\.tmp$');
      expect(got.completionTtl).toBe('01:00:00');
      expect(got.autoDelete).toBe(true);
      expect(got.hardwareConstraints).toEqual([{ discriminator: 'MinimumCoreHardwareConstraint', coreCount: 1 }]);
      expect(got.retrySettings).toEqual({ maxTotalRetries: 2, maxPerInstanceRetries: 1 });
      expect(got.schedulingType).toBe('Flex');
      expect(got.maxTimeQueueSeconds).toBe(3600);
      expect(got.secretsAccessRights.byPrefix).toEqual(['sdk/']);
    }
    expect(() => (t.name = 'other')).toThrow(expect.objectContaining({ property: 'name' }));
    await expect(conn.retrieveTask('00000000-0000-0000-0000-000000000000')).rejects.toSatisfy(isMissingTaskError);
  });

  it('lists with tag any-of / all-of filters, pages, and summaries that hydrate', async () => {
    const tag = unique('tag');
    const names: string[] = [];
    for (const extra of [['a'], ['b'], ['a', 'b']]) {
      const t = conn.createTask(unique('list'), { profile: 'docker-batch', tags: [tag, ...extra], constants: { DOCKER_CMD: 'true' } });
      await t.submit();
      names.push(t.name);
    }
    const collect = async (opts: Parameters<Connection['listTasks']>[0]): Promise<string[]> => {
      const out: string[] = [];
      for await (const t of conn.listTasks(opts)) out.push(t.name);
      return out.sort();
    };
    expect(await collect({ tags: [tag], pageSize: 1 })).toEqual([...names].sort());
    expect(await collect({ tagsIntersect: [tag, 'a', 'b'] })).toEqual([names[2]]);
    const anyAB = await collect({ tagsIntersect: [tag], filter: { operator: 'Or', filters: [{ operator: 'Equal', field: 'Tags', value: 'a' }] } });
    expect(anyAB).toEqual([names[0], names[2]].sort());
    const page = await conn.tasksPage({ tags: [tag], pageSize: 2 });
    expect(page.items).toHaveLength(2);
    expect(page.isTruncated).toBe(true);
    const summaries = await conn.tasksPage({ summary: true, pageSize: 1 });
    const s = summaries.items[0]!;
    expect(s.isSummary).toBe(true);
    expect(() => s.constants).toThrow(expect.objectContaining({ code: 'summary_not_hydrated' }));
    await s.update();
    expect(typeof s.constants).toBe('object');
  });

  it('commits changes made after submit, and deletes', async () => {
    const t = conn.createTask(unique('commit'), { profile: 'docker-batch', instanceCount: 1, constants: { DOCKER_CMD: 'sleep 30' } });
    await t.submit();
    t.tags = ['changed'];
    t.constants['EXTRA'] = 'x';
    await t.commit();
    const again = await conn.retrieveTask(t.uuid!);
    expect(again.tags).toEqual(['changed']);
    expect(again.constants['EXTRA']).toBe('x');
    await t.delete();
    expect(t.state).toBe('Deleted');
    await expect(conn.retrieveTask(t.uuid!)).rejects.toSatisfy(isMissingTaskError);
  });

  it('bulk submitTasks gives each task its uuid', async () => {
    const tasks = [1, 2].map((i) => conn.createTask(unique(`bulk${i}`), { profile: 'docker-batch', constants: { DOCKER_CMD: 'true' } }));
    await conn.submitTasks(tasks);
    for (const t of tasks) expect((await conn.retrieveTask(t.uuid!)).name).toBe(t.name);
  });

  it('an Idempotency-Key makes a repeated submit return the same task', async () => {
    const body = conn.createTask(unique('idem'), { profile: 'docker-batch', constants: { DOCKER_CMD: 'true' } }).toJson();
    const key = `sdk-${Date.now()}`;
    const post = () => conn.http.json<{ uuid: string }>({ method: 'POST', path: '/tasks', body, idempotencyKey: key, subject: 'task', operation: 'submit' });
    const a = await post();
    const b = await post();
    expect(b.uuid).toBe(a.uuid);
  });

  it('run() executes instances, follows state and stdout, and downloads the results atomically', async () => {
    const results = await conn.createBucket(unique('results'));
    const input = await conn.createBucket(unique('input'));
    await input.addString('world', 'name.txt');
    const t = conn.createTask(unique('run'), { profile: 'docker-batch', instanceCount: 2 });
    t.constants['DOCKER_CMD'] = 'echo "hello $(cat name.txt) from ${INSTANCE_ID}"; echo "out ${INSTANCE_ID}" > out-${INSTANCE_ID}.txt';
    t.resources = [input];
    t.results = results;
    const states: string[] = [];
    let stdout = '';
    const out = path.join(dir, 'run-out');
    const finished = await t.run({
      outputDir: out,
      jobTimeout: 120,
      followState: (s) => states.push(s),
      followStdout: (c) => (stdout += c),
    });
    expect(finished).toBe(true);
    expect(t.state).toBe('Success');
    expect(states.at(-1)).toBe('Success');
    expect(stdout).toContain('hello world from 0');
    expect(stdout).toContain('hello world from 1');
    expect(await t.stdout()).toContain('hello world from 1');
    expect(await t.stdout({ instanceId: 0 })).toContain('hello world from 0');
    await expect(t.stdout({ instanceId: 7 })).rejects.toSatisfy(isMissingTaskInstanceError);
    expect(t.completedInstances.map((c) => c.instanceId).sort()).toEqual([0, 1]);
    expect(readFileSync(path.join(out, 'out-1.txt'), 'utf8')).toBe('out 1\n');
    expect(readdirSync(out).filter((f) => f.endsWith('.part'))).toEqual([]);
    expect(await t.wait()).toBe(true);
  });

  it('wait() times out on a running task and run({ jobTimeout }) aborts it', async () => {
    const t = conn.createTask(unique('slow'), { profile: 'docker-batch', constants: { DOCKER_CMD: 'sleep 60' } });
    const finished = await t.run({ jobTimeout: 1 });
    expect(finished).toBe(false);
    expect(['PendingCancel', 'Cancelled']).toContain(t.state);
    expect(await t.wait({ timeout: 30 })).toBe(true);
    expect(t.state).toBe('Cancelled');
  });

  it('resume() waits for a task submitted elsewhere and downloads its results', async () => {
    const results = await conn.createBucket(unique('resume'));
    const t = conn.createTask(unique('resume'), { profile: 'docker-batch', results });
    t.constants['DOCKER_CMD'] = 'echo resumed > r.txt';
    await t.submit();
    const other = await conn.retrieveTask(t.uuid!);
    const out = path.join(dir, 'resume-out');
    expect(await other.resume(out)).toBe(true);
    expect(readFileSync(path.join(out, 'r.txt'), 'utf8')).toBe('resumed\n');
  });
});

describe('jobs, pools and secrets against a live Hearth server', () => {
  it('job lifecycle, with a task attached', async () => {
    const job = conn.createJob(unique('job'), { useDependencies: true, maxWallTime: 3600 });
    await job.submit();
    expect(job.state).toBe('Active');
    expect(job.maxWallTime).toBe('01:00:00');
    const t = job.createTask(unique('in-job'), { profile: 'docker-batch', constants: { DOCKER_CMD: 'true' } });
    await t.submit();
    expect(t.job).toBe(job.uuid);
    expect((await job.tasks()).map((x) => x.uuid)).toContain(t.uuid);
    expect((await conn.retrieveJob(job.uuid!)).name).toBe(job.name);
    const listed = [];
    for await (const j of conn.listJobs()) listed.push(j.uuid);
    expect(listed).toContain(job.uuid);
    expect(() => (job.name = 'x')).toThrow(expect.objectContaining({ property: 'name' }));
    await job.terminate();
    expect(job.state).toBe('Terminating');
    for (let i = 0; i < 200 && job.state !== 'Completed'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      await job.update();
    }
    expect(job.state).toBe('Completed');
    await job.delete({ forceAbort: true });
    await expect(conn.retrieveJob(job.uuid!)).rejects.toSatisfy(isMissingJobError);
    await expect(conn.retrieveJob('00000000-0000-0000-0000-000000000000')).rejects.toSatisfy(isMissingJobError);
  });

  it('pool lifecycle: submit, retrieve, commit, list, delete', async () => {
    const pool = conn.createPool(unique('pool'), { profile: 'docker-batch', instanceCount: 1, tags: ['p'] });
    pool.constants['DOCKER_CMD'] = 'sleep 1';
    await pool.submit();
    expect(pool.uuid).not.toBeNull();
    pool.tags = ['p', 'committed'];
    await pool.commit();
    expect((await conn.retrievePool(pool.uuid!)).tags).toEqual(['p', 'committed']);
    const listed = [];
    for await (const p of conn.listPools({ tags: ['committed'] })) listed.push(p.uuid);
    expect(listed).toContain(pool.uuid);
    expect(() => (pool.profile = 'x')).toThrow(expect.objectContaining({ property: 'profile' }));
    await pool.updateResources();
    await pool.close();
    expect(['Closing', 'Closed']).toContain(pool.state);
    await pool.delete();
    await expect(conn.retrievePool(pool.uuid!)).rejects.toSatisfy(isMissingPoolError);
    await expect(conn.retrievePool('00000000-0000-0000-0000-000000000000')).rejects.toSatisfy(isMissingPoolError);
  });

  it('secrets: create, conflict, get, update, list (recursive), delete, not found', async () => {
    const s = conn.secrets;
    const root = unique('sdk');
    await s.createSecret(`${root}/db/password`, 'p1');
    await s.createSecret(`${root}/token`, 't1');
    await expect(s.createSecret(`${root}/token`, 'again')).rejects.toSatisfy(isSecretConflictError);
    expect(await s.getSecret(`${root}/db/password`)).toBe('p1');
    await s.updateSecret(`${root}/db/password`, 'p2');
    expect(await s.getSecret(`${root}/db/password`)).toBe('p2');
    expect((await s.listSecrets(root)).sort()).toEqual([`${root}/db/`, `${root}/token`]);
    expect((await s.listSecrets(root, { recursive: true })).sort()).toEqual([`${root}/db/password`, `${root}/token`]);
    await s.deleteSecret(`${root}/token`);
    await expect(s.getSecret(`${root}/token`)).rejects.toSatisfy(isSecretNotFoundError);
  });
});

describe('buckets against a live Hearth server', () => {
  it('round-trips files through the embedded gateway discovered from /settings', async () => {
    const b = await conn.createBucket(unique('live'));
    const src = path.join(dir, 'sync-src');
    rmSync(src, { recursive: true, force: true });
    writeFileSync(path.join(dir, 'one.txt'), '1');
    await b.addFile(path.join(dir, 'one.txt'), 'x/one.txt');
    expect(await b.getString('x/one.txt')).toBe('1');
    expect((await conn.buckets()).map((x) => x.name)).toContain(b.name);
    await b.delete();
    expect(await b.exists()).toBe(false);
  });

  it('a property set after submit is refused before any request', async () => {
    const t = conn.createTask(unique('late'), { profile: 'docker-batch', constants: { DOCKER_CMD: 'true' } });
    await t.submit();
    let caught: unknown;
    try {
      t.resultsBlacklist = 'x';
    } catch (e) {
      caught = e;
    }
    expect(isAlreadySubmittedError(caught)).toBe(true);
  });
});
