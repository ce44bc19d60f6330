import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Connection } from './connection.js';
import {
  isAbortError,
  isAlreadySubmittedError,
  isInvalidArgumentError,
  isMaxTaskError,
  isMissingTaskInstanceError,
  isNotSubmittedError,
} from './errors.js';
import { HardwareConstraints } from './hardware-constraints.js';
import { SecretsAccessRights } from './secrets-access-rights.js';
import { Task } from './task.js';
import { TASK_UUID, cloudTaskJson } from './test-support/fixtures.js';
import { RecordingServer } from './test-support/recording-server.js';

let server: RecordingServer;
let conn: Connection;
beforeEach(async () => {
  server = (await RecordingServer.start()).withBootstrap(null);
  conn = await Connection.connect({ clusterUrl: server.url, clientToken: 't', env: {}, retryWait: 0.001 });
});
afterEach(async () => {
  await conn.close();
  await server.close();
});

/** A task on the server whose state follows `states` one GET at a time (the last one sticks). */
function serveStates(states: string[], extra: Record<string, unknown> = {}): void {
  let i = 0;
  server.on('POST /tasks', { status: 201, json: { uuid: TASK_UUID } });
  server.on(`GET /tasks/${TASK_UUID}`, () => {
    const state = states[Math.min(i++, states.length - 1)];
    return { json: cloudTaskJson({ state, ...extra }) };
  });
}

describe('client-side rules of the seed', () => {
  it('instance count vs advanced range, profile vs pool, range syntax, negative counts', () => {
    const t = conn.createTask('t', { profile: 'docker-batch' });
    expect(t.instanceCount).toBe(1);
    expect(() => (t.advancedRange = '1-3')).toThrow(expect.objectContaining({ code: 'invalid_argument', argument: 'advancedRange' }));
    t.instanceCount = 0;
    t.advancedRange = '1,3-8,9,12-19';
    expect(() => (t.instanceCount = 4)).toThrow(expect.objectContaining({ argument: 'instanceCount' }));
    for (const bad of ['', '1-', 'a', '1,,2', '3-1', '1;2', ' 1']) {
      expect(() => (t.advancedRange = bad)).toThrow(expect.objectContaining({ argument: 'advancedRange' }));
    }
    t.advancedRange = '0-99';
    t.advancedRange = '7';
    expect(() => conn.createTask('t', { instanceCount: -1 })).toThrow(expect.objectContaining({ argument: 'instanceCount' }));
    expect(() => conn.createTask('t', { instanceCount: 1.5 })).toThrow(expect.objectContaining({ argument: 'instanceCount' }));
    expect(() => conn.createTask('t', { instanceCount: 2, advancedRange: '0-1' })).toThrow(expect.objectContaining({ argument: 'advancedRange' }));
    expect(() => conn.createTask('t', { profile: 'p', pool: 'some-pool' })).toThrow(expect.objectContaining({ argument: 'profile' }));
    const p = conn.createTask('t', { pool: 'pool-uuid' });
    expect(() => (p.profile = 'x')).toThrow(expect.objectContaining({ argument: 'profile' }));
    expect(() => conn.createTask('', {})).toThrow(expect.objectContaining({ argument: 'name' }));
    expect(() => conn.createTask('t', { shortname: 'not dns!' })).toThrow(expect.objectContaining({ argument: 'shortname' }));
    const r = conn.createTask('r', { advancedRange: '0-3' });
    expect(r.instanceCount).toBe(0);
    expect(r.toJson()['advancedRanges']).toBe('0-3');
    expect('instanceCount' in r.toJson()).toBe(false);
  });

  it('completionTtl takes a TimeSpan string or seconds', () => {
    const t = conn.createTask('t');
    expect(t.completionTtl).toBe('00:00:00');
    t.completionTtl = '1.02:03:04';
    expect(t.completionTtl).toBe('1.02:03:04');
    t.completionTtl = 90061;
    expect(t.completionTtl).toBe('1.01:01:01');
    t.completionTtl = '00:30:00';
    for (const bad of ['30m', '25:00:00', '-00:00:01', 'x']) expect(() => (t.completionTtl = bad)).toThrow(expect.objectContaining({ argument: 'completionTtl' }));
    expect(() => (t.completionTtl = -1)).toThrow(expect.objectContaining({ argument: 'completionTtl' }));
  });

  it('settable-before-submit properties throw AlreadySubmittedError naming the property once submitted', async () => {
    serveStates(['Submitted']);
    const t = conn.createTask('t', { profile: 'docker-batch' });
    await t.submit();
    const attempts: [string, () => void][] = [
      ['name', () => (t.name = 'x')],
      ['shortname', () => (t.shortname = 'x')],
      ['profile', () => (t.profile = 'x')],
      ['pool', () => (t.pool = 'x')],
      ['instanceCount', () => (t.instanceCount = 3)],
      ['advancedRange', () => (t.advancedRange = '1-2')],
      ['labels', () => (t.labels = {})],
      ['resultsWhitelist', () => (t.resultsWhitelist = '.*')],
      ['resultsBlacklist', () => (t.resultsBlacklist = '.*')],
      ['snapshotWhitelist', () => (t.snapshotWhitelist = '.*')],
      ['snapshotBlacklist', () => (t.snapshotBlacklist = '.*')],
      ['autoDelete', () => (t.autoDelete = true)],
      ['completionTtl', () => (t.completionTtl = 5)],
      ['waitForPoolResourcesSynchronization', () => (t.waitForPoolResourcesSynchronization = true)],
      ['uploadResultsOnCancellation', () => (t.uploadResultsOnCancellation = true)],
      ['hardwareConstraints', () => (t.hardwareConstraints = [])],
      ['privileges', () => t.allowCredentialsToBeExportedToTaskEnvironment()],
      ['retrySettings', () => (t.retrySettings = { maxTotalRetries: 1 })],
      ['schedulingType', () => (t.schedulingType = 'OnDemand')],
      ['dependencies', () => t.clearTaskDependencies()],
    ];
    for (const [property, set] of attempts) {
      let caught: unknown;
      try {
        set();
      } catch (e) {
        caught = e;
      }
      expect(isAlreadySubmittedError(caught), property).toBe(true);
      expect((caught as { property: string }).property).toBe(property);
    }
    // "Any" fields stay settable after submit.
    t.tags = ['a'];
    t.constants = { A: 'b' };
    t.maxTimeQueueSeconds = 60;
  });
});

describe('wire format', () => {
  it('toJson sends every §2.1 key the Python SDK sends, and omits the optional ones when unset', () => {
    const t = conn.createTask('t', { profile: 'docker-batch', instanceCount: 3 });
    const json = t.toJson();
    expect(Object.keys(json).sort()).toEqual(
      [
        'name', 'profile', 'poolUuid', 'jobUuid', 'constants', 'constraints', 'forcedConstants', 'waitForPoolResourcesSynchronization',
        'uploadResultsOnCancellation', 'labels', 'dependencies', 'advancedResourceBuckets', 'tags', 'autoDeleteOnCompletion',
        'completionTimeToLive', 'hardwareConstraints', 'defaultResourcesCacheTTLSec', 'privileges', 'retrySettings',
        'forcedNetworkRules', 'instanceCount',
      ].sort(),
    );
    expect(json).toMatchObject({
      instanceCount: 3,
      dependencies: { dependsOn: [] },
      completionTimeToLive: '00:00:00',
      privileges: { exportApiAndStorageCredentialsInEnvironment: false },
      retrySettings: { maxTotalRetries: null, maxPerInstanceRetries: null },
    });
  });

  it('toJson of a fully configured task', () => {
    const results = conn.bucket('out').withCacheTtl(600);
    const t = conn.createTask('full', {
      profile: 'docker-batch',
      shortname: 'full-1',
      advancedRange: '0-4,9',
      constants: { DOCKER_CMD: 'echo hi' },
      constraints: { 'Some.Constraint': 'v' },
      labels: { team: 'a' },
      tags: ['x'],
      resources: [conn.bucket('in').withPrefixFiltering('data/').withStripPrefix('data/').withCacheTtl(3600), 'plain'],
      results,
      resultsWhitelist: '\\.png$',
      snapshotBlacklist: '\\.tmp$',
      autoDelete: true,
      completionTtl: 3600,
      maxTimeQueueSeconds: 120,
      hardwareConstraints: [HardwareConstraints.minimumCoreCount(4), HardwareConstraints.ssd()],
      defaultResourcesCacheTtlSec: 7200,
      retrySettings: { maxTotalRetries: 3 },
      schedulingType: 'Reserved',
      targetedReservationName: 'res-1',
      secretsAccessRights: new SecretsAccessRights().addSecretByKey('db/password').addSecretByPrefix('app/'),
      uploadResultsOnCancellation: true,
      project: 'proj-1',
    });
    t.allowCredentialsToBeExportedToTaskEnvironment();
    t.setTaskAdvancedDependencies([
      { task: 'dep-1', finalStateConditions: ['success'] },
      { task: 'dep-1', finalStateConditions: ['failure'] },
    ]);
    expect(() => t.setTaskDependenciesFromUuids(['x'])).toThrow(expect.objectContaining({ argument: 'dependencies' }));
    expect(t.toJson()).toMatchObject({
      shortname: 'full-1',
      advancedRanges: '0-4,9',
      constants: [{ key: 'DOCKER_CMD', value: 'echo hi' }],
      constraints: [{ key: 'Some.Constraint', value: 'v' }],
      advancedResourceBuckets: [
        { bucketName: 'in', filtering: { prefixFiltering: { prefix: 'data/' } }, resourcesTransformation: { stripPrefix: { prefix: 'data/' } }, cacheTTLSec: 3600 },
        { bucketName: 'plain', filtering: {}, resourcesTransformation: {}, cacheTTLSec: null },
      ],
      resultBucket: 'out',
      ResultsCacheTTLSec: 600,
      resultsWhitelist: '\\.png$',
      snapshotBlacklist: '\\.tmp$',
      autoDeleteOnCompletion: true,
      completionTimeToLive: '01:00:00',
      maxTimeQueueSeconds: 120,
      hardwareConstraints: [{ discriminator: 'MinimumCoreHardwareConstraint', coreCount: 4 }, { discriminator: 'SSDHardwareConstraint' }],
      defaultResourcesCacheTTLSec: 7200,
      retrySettings: { maxTotalRetries: 3, maxPerInstanceRetries: null },
      schedulingType: 'Reserved',
      targetedReservationName: 'res-1',
      secretsAccessRights: { bySecret: [{ key: 'db/password' }], byPrefix: [{ prefix: 'app/' }] },
      privileges: { exportApiAndStorageCredentialsInEnvironment: true },
      uploadResultsOnCancellation: true,
      projectUuid: 'proj-1',
      dependencies: { advancedDependsOn: [{ taskUuid: 'dep-1', taskFinalStateCondition: ['success', 'failure'] }] },
    });
  });

  it('fromJson reads the cloud sample, tolerating lowercase enums, null dependencies and legacy resource buckets', () => {
    const t = Task.fromJson(conn, cloudTaskJson());
    expect(t.uuid).toBe(TASK_UUID);
    expect(t.state).toBe('Success');
    expect(t.previousState).toBe('UploadingResults');
    expect(t.creationDate?.toISOString()).toBe('2025-03-02T10:05:00.000Z');
    expect(t.schedulingType).toBe('Flex');
    expect(t.dependencies).toEqual({ dependsOn: [], advancedDependsOn: [], state: null });
    expect(t.resources.map((b) => b.name)).toEqual(['fixture-in']);
    expect(t.results?.name).toBe('fixture-out');
    expect(t.constants).toEqual({ DOCKER_REPO: 'library/alpine', DOCKER_CMD: 'sh run.sh' });
    expect(t.retrySettings).toEqual({ maxTotalRetries: 4, maxPerInstanceRetries: 1 });
    expect(t.completedInstances[0]).toMatchObject({ instanceId: 0, executionAttemptCount: 2, results: ['s3://storage.example/fixture-out/frame-0.png'], cpuModel: 'Example CPU 9000' });
    expect(t.status?.executionProgress).toBe(100);
    expect(t.status?.executionTimeByCpuModel[0]?.core).toBe(8);
    expect(t.status?.runningInstancesInfo?.clusterPowerIndicator).toBe(1);
    expect(t.errors).toEqual([]);
    expect(t.resultsCount).toBe(1);
    expect(t.isRunning).toBe(false);
  });
});

describe('lifecycle against a recording server', () => {
  it('submit posts the task with an Idempotency-Key, replays a pre-submit snapshot, then refreshes', async () => {
    serveStates(['Submitted']);
    server.on(`POST /tasks/${TASK_UUID}/snapshot/periodic`, { json: {} });
    const t = conn.createTask('t', { profile: 'docker-batch' });
    await t.snapshot(30, { whitelist: 'out.*' });
    expect(server.find(/snapshot/)).toHaveLength(0);
    await t.submit();
    expect(server.requests.slice(1).map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /tasks',
      `POST /tasks/${TASK_UUID}/snapshot/periodic`,
      `GET /tasks/${TASK_UUID}`,
    ]);
    expect(server.find('POST /tasks')[0]!.headers['content-type']).toBe('application/json');
    expect(server.find(/periodic/)[0]!.json).toEqual({ whitelist: 'out.*', blacklist: null, bucket: null, bucketPrefix: null, interval: 30 });
    expect(t.uuid).toBe(TASK_UUID);
    await t.submit(); // already submitted: no request
    expect(server.find('POST /tasks')).toHaveLength(1);
  });

  it('submit maps 403 "Maximum number of tasks reached" to MaxTaskError', async () => {
    server.on('POST /tasks', { status: 403, json: { message: 'Maximum number of tasks reached' } });
    await expect(conn.createTask('t', { profile: 'p' }).submit()).rejects.toSatisfy(isMaxTaskError);
  });

  it('methods needing a uuid fail before any request; logs are empty before submit', async () => {
    const t = conn.createTask('t');
    await expect(t.abort()).rejects.toSatisfy(isNotSubmittedError);
    await expect(t.commit()).rejects.toSatisfy(isNotSubmittedError);
    await expect(t.instant()).rejects.toSatisfy(isNotSubmittedError);
    expect(await t.stdout()).toBe('');
    expect(await t.freshStderr()).toBe('');
    expect(await t.wait()).toBe(false);
    expect(await t.resume('/tmp/never')).toBe(false);
    expect(server.requests).toHaveLength(1); // the bootstrap's GET /settings
  });

  it('update honours updateCacheTime unless flushCache; commit PUTs and resumes autoUpdate paused by tags', async () => {
    serveStates(['Submitted']);
    server.on(`PUT /tasks/${TASK_UUID}`, { json: {} });
    const t = conn.createTask('t', { profile: 'p' });
    await t.submit();
    const gets = () => server.find(`GET /tasks/${TASK_UUID}`).length;
    const before = gets();
    await t.update();
    expect(gets()).toBe(before);
    await t.update({ flushCache: true });
    expect(gets()).toBe(before + 1);
    t.updateCacheTime = 0;
    await t.update();
    expect(gets()).toBe(before + 2);
    t.tags = ['edited'];
    expect(t.autoUpdate).toBe(false);
    t.constants['NEW'] = 'v';
    await t.commit();
    expect(t.autoUpdate).toBe(true);
    const put = server.find(`PUT /tasks/${TASK_UUID}`)[0]!.json as Record<string, unknown>;
    expect(put['tags']).toEqual(['edited']);
    expect(put['constants']).toContainEqual({ key: 'NEW', value: 'v' });
  });

  it('wait() falls back to polling on a server without long-poll, and follows state and stdout', async () => {
    serveStates(['Submitted', 'Submitted', 'FullyExecuting', 'Success']);
    let out = 0;
    // A server without offset reads (the Qarnot cloud) ignores ?offset and answers the whole buffer, no header.
    server.on(`GET /tasks/${TASK_UUID}/stdout`, { text: 'whole buffer' });
    server.on(`POST /tasks/${TASK_UUID}/stdout`, () => ({ text: ++out === 2 ? 'hello\n' : '' }));
    const t = conn.createTask('t', { profile: 'p' });
    await t.submit();
    const states: string[] = [];
    const chunks: string[] = [];
    const finished = await t.wait({ pollInterval: 0.01, followState: (s) => states.push(s), followStdout: (c) => chunks.push(c) });
    expect(finished).toBe(true);
    expect(states).toEqual(['Submitted', 'FullyExecuting', 'Success']);
    expect(chunks).toEqual(['hello\n']);
    expect(conn.features.longPoll).toBe(false);
    expect(conn.features.logOffsets).toBe(false);
    const first = server.find(`GET /tasks/${TASK_UUID}`)[2]!;
    expect(first.query.get('longPollSeconds')).not.toBeNull();
    expect(first.query.get('ifState')).toBe('Submitted');
  });

  it('wait() uses long-poll when the server answers with Hearth-Long-Poll, without sleeping between polls', async () => {
    server.on('POST /tasks', { json: { uuid: TASK_UUID } });
    let done = false;
    setTimeout(() => (done = true), 150);
    server.on(`GET /tasks/${TASK_UUID}`, async (req) => {
      if (req.query.get('longPollSeconds') === null) return { json: cloudTaskJson({ state: 'Submitted' }) };
      while (!done) await new Promise((r) => setTimeout(r, 5));
      return { json: cloudTaskJson({ state: 'Success' }), headers: { 'Hearth-Long-Poll': '1' } };
    });
    const t = conn.createTask('t', { profile: 'p' });
    await t.submit();
    const started = Date.now();
    expect(await t.wait({ pollInterval: 60 })).toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(conn.features.longPoll).toBe(true);
  });

  it('wait() resolves false on timeout, and rejects with AbortError on abort', async () => {
    serveStates(['FullyExecuting']);
    const t = conn.createTask('t', { profile: 'p' });
    await t.submit();
    expect(await t.wait({ timeout: 0.1, pollInterval: 0.02 })).toBe(false);
    const ac = new AbortController();
    setTimeout(() => ac.abort('enough'), 50);
    const e = await t.wait({ signal: ac.signal, pollInterval: 10 }).catch((x: unknown) => x);
    expect(isAbortError(e)).toBe(true);
  });

  it('run() aborts when jobTimeout elapses first, but not after the task finished', async () => {
    serveStates(['FullyExecuting']);
    server.on(`POST /tasks/${TASK_UUID}/abort`, { json: {} });
    const t = conn.createTask('t', { profile: 'p' });
    expect(await t.run({ jobTimeout: 0.1, pollInterval: 0.02 })).toBe(false);
    expect(server.find(`POST /tasks/${TASK_UUID}/abort`)).toHaveLength(1);
    expect(server.find(`POST /tasks/${TASK_UUID}/abort`)[0]!.headers['content-type']).toBeUndefined();

    const ok = conn.createTask('t2', { profile: 'p' });
    serveStates(['Submitted', 'Success']);
    expect(await ok.run({ jobTimeout: 5, pollInterval: 0.01 })).toBe(true);
    expect(server.find(`POST /tasks/${TASK_UUID}/abort`)).toHaveLength(1);
  });

  it('logs: whole and fresh, per instance, MissingTaskInstanceError for an unknown instance', async () => {
    serveStates(['FullyExecuting']);
    server.on(`GET /tasks/${TASK_UUID}/stdout`, { text: 'all out' });
    server.on(`GET /tasks/${TASK_UUID}/stderr/1`, { text: 'err of 1' });
    server.on(`POST /tasks/${TASK_UUID}/stdout/1`, { text: 'fresh of 1' });
    server.on(`GET /tasks/${TASK_UUID}/stdout/9`, { status: 404, json: { message: 'No such instance' } });
    const t = conn.createTask('t', { profile: 'p' });
    await t.submit();
    expect(await t.stdout()).toBe('all out');
    expect(await t.stderr({ instanceId: 1 })).toBe('err of 1');
    expect(await t.freshStdout({ instanceId: 1 })).toBe('fresh of 1');
    await expect(t.stdout({ instanceId: 9 })).rejects.toSatisfy(isMissingTaskInstanceError);
    await expect(t.stdout({ instanceId: -1 })).rejects.toSatisfy(isInvalidArgumentError);
  });

  it('followStdout yields fresh chunks until the task finished and the output is drained', async () => {
    serveStates(['FullyExecuting', 'FullyExecuting', 'FullyExecuting', 'Success']);
    const replies = ['a', '', 'b', '', 'c'];
    server.on(`GET /tasks/${TASK_UUID}/stdout`, { text: 'whole buffer' });
    server.on(`POST /tasks/${TASK_UUID}/stdout`, () => ({ text: replies.shift() ?? '' }));
    const t = conn.createTask('t', { profile: 'p' });
    await t.submit();
    const chunks: string[] = [];
    for await (const c of t.followStdout({ interval: 0.01 })) chunks.push(c);
    expect(chunks.join('')).toBe('abc');
  });

  it('followStderr reads by offset when the server answers Hearth-Log-Next-Offset, never touching the fresh cursor', async () => {
    serveStates(['FullyExecuting', 'FullyExecuting', 'Success']);
    const log = 'line 1\nline 2\nline 3\n';
    let served = 0;
    server.on(/^GET \/tasks\/.*\/stderr\/2$/, (req) => {
      const offset = Number(req.query.get('offset'));
      served = Math.min(log.length, served + 7);
      return { text: log.slice(offset, served), headers: { 'Hearth-Log-Next-Offset': String(served), 'Hearth-Log-Start': '0' } };
    });
    const t = conn.createTask('t', { profile: 'p' });
    await t.submit();
    let text = '';
    for await (const c of t.followStderr({ instanceId: 2, interval: 0.01 })) text += c;
    expect(text).toBe(log);
    expect(server.find(/^POST .*stderr/)).toHaveLength(0);
    expect(server.find(/stderr\/2$/).map((r) => r.query.get('offset'))).toContain('7');
    expect(conn.features.logOffsets).toBe(true);
  });

  it('instant, snapshotStatus and waitSnapshot', async () => {
    serveStates(['FullyExecuting']);
    server.on(`POST /tasks/${TASK_UUID}/snapshot`, { json: { id: 'snap_1' } });
    const statuses = ['triggered', 'InProgress', 'SUCCESS'];
    server.on(`GET /tasks/${TASK_UUID}/snapshot/snap_1`, () => ({
      json: { id: 'snap_1', taskUuid: TASK_UUID, triggerDate: '2025-03-02T10:00:00Z', lastUpdateDate: null, snapshotConfig: { whitelist: null, blacklist: null, bucket: 'b', bucketPrefix: 'p/' }, status: statuses.shift() ?? 'Success', sizeToUpload: 10, transferredSize: 10 },
    }));
    const t = conn.createTask('t', { profile: 'p' });
    await t.submit();
    const id = await t.instant({ bucket: conn.bucket('b'), bucketPrefix: 'p/' });
    expect(id).toBe('snap_1');
    expect(server.find(`POST /tasks/${TASK_UUID}/snapshot`)[0]!.json).toEqual({ whitelist: null, blacklist: null, bucket: 'b', bucketPrefix: 'p/' });
    const seen: string[] = [];
    expect(await t.waitSnapshot(id, { pollInterval: 0.01, followStatus: (s) => seen.push(s.status) })).toBe(true);
    expect(seen).toEqual(['Triggered', 'InProgress', 'Success']);
    expect(await t.waitSnapshot('')).toBe(false);
    await expect(t.snapshot(0)).rejects.toSatisfy(isInvalidArgumentError);
  });

  it('abort, updateResources and delete use the documented routes', async () => {
    serveStates(['FullyExecuting', 'FullyExecuting', 'PendingCancel']);
    server.on(`POST /tasks/${TASK_UUID}/abort`, { json: {} });
    server.on(`PATCH /tasks/${TASK_UUID}`, { json: {} });
    server.on(`DELETE /tasks/${TASK_UUID}`, { json: {} });
    const t = conn.createTask('t', { profile: 'p' });
    await t.submit();
    await t.updateResources();
    expect(server.find(`PATCH /tasks/${TASK_UUID}`)[0]!.body).toBe('');
    await t.abort();
    expect(t.state).toBe('PendingCancel');
    await t.delete();
    expect(t.state).toBe('Deleted');
    expect(t.autoUpdate).toBe(false);
    expect(server.find(`DELETE /tasks/${TASK_UUID}`)).toHaveLength(1);
  });

  it('await using deletes the task at the end of the scope, tolerating a task already gone', async () => {
    serveStates(['Submitted']);
    server.on(`DELETE /tasks/${TASK_UUID}`, { status: 404, json: { message: 'gone' } });
    {
      await using t = conn.createTask('scoped', { profile: 'p' });
      await t.submit();
    }
    expect(server.find(`DELETE /tasks/${TASK_UUID}`)).toHaveLength(1);
  });
});
