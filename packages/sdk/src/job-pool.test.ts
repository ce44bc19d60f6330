import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Connection } from './connection.js';
import { isAlreadySubmittedError, isInvalidArgumentError, isMaxJobError, isMaxPoolError, isMissingPoolInstanceError } from './errors.js';
import { Pool } from './pool.js';
import { cloudPoolJson } from './test-support/fixtures.js';
import { RecordingServer } from './test-support/recording-server.js';

const JOB = '9a3b2c1d-0e9f-4a8b-8c7d-6e5f4a3b2c1d';
const POOL = cloudPoolJson()['uuid'] as string;
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

const jobJson = (state = 'Active') => ({
  uuid: JOB,
  name: 'j',
  shortname: 'j',
  poolUuid: null,
  state,
  previousState: null,
  creationDate: '2025-03-02T10:00:00Z',
  lastModified: '2025-03-02T10:00:00Z',
  tags: [],
  useDependencies: true,
  maxWallTime: '2.00:00:00',
  autoDeleteOnCompletion: false,
  completionTimeToLive: '00:00:00',
});

describe('Job (reference §2.5)', () => {
  it('submits to POST /jobs/ with the Python body, terminates, deletes with force, lists its tasks', async () => {
    server.on('POST /jobs/', { json: { uuid: JOB } });
    server.on(`GET /jobs/${JOB}`, { json: jobJson() });
    server.on(`POST /jobs/${JOB}/terminate`, { json: {} });
    server.on(`DELETE /jobs/${JOB}`, { json: {} });
    server.on(`GET /jobs/${JOB}/tasks`, { json: [{ uuid: 'x', name: 'in job', state: 'Submitted', creationDate: '2025-03-02T10:00:00Z' }] });
    const job = conn.createJob('j', { useDependencies: true, maxWallTime: '2.00:00:00' });
    expect(job.toJson()).toEqual({
      name: 'j',
      shortname: null,
      poolUuid: null,
      state: '',
      tags: [],
      useDependencies: true,
      maxWallTime: '2.00:00:00',
      autoDeleteOnCompletion: false,
      completionTimeToLive: '00:00:00',
    });
    await job.submit();
    expect(server.find('POST /jobs/')[0]!.headers['idempotency-key']).toBeDefined();
    expect(job.creationDate?.toISOString()).toBe('2025-03-02T10:00:00.000Z');
    expect(() => (job.maxWallTime = 5)).toThrow(expect.objectContaining({ property: 'maxWallTime' }));
    await job.terminate();
    expect(job.state).toBe('Terminating');
    expect(server.find(`POST /jobs/${JOB}/terminate`)[0]!.body).toBe('');
    await job.delete({ forceAbort: true });
    expect(server.find(`DELETE /jobs/${JOB}`)[0]!.query.get('force')).toBe('true');
    expect((await job.tasks()).map((t) => t.name)).toEqual(['in job']);
    expect(job.createTask('child', { profile: 'p' }).toJson()['jobUuid']).toBe(JOB);
  });

  it('maps quota and validation errors', async () => {
    server.on('POST /jobs/', { status: 403, json: { message: 'Maximum number of jobs reached' } });
    await expect(conn.createJob('j').submit()).rejects.toSatisfy(isMaxJobError);
    expect(() => conn.createJob('j', { maxWallTime: 'soon' })).toThrow(expect.objectContaining({ argument: 'maxWallTime' }));
    expect(() => conn.createJob('')).toThrow(expect.objectContaining({ argument: 'name' }));
  });
});

describe('Pool (reference §2.4)', () => {
  it('serialises elastic settings, multi-slots and scaling; submits, commits, closes, reads per-node logs', async () => {
    server.on('POST /pools', { json: { uuid: POOL } });
    server.on(`GET /pools/${POOL}`, { json: cloudPoolJson() });
    server.on(`PUT /pools/${POOL}`, { json: {} });
    server.on(`POST /pools/${POOL}/close`, { json: {} });
    server.on(`PATCH /pools/${POOL}`, { json: {} });
    server.on(`DELETE /pools/${POOL}`, { json: {} });
    server.on(`GET /pools/${POOL}/stdout/0`, { text: 'node 0' });
    server.on(`POST /pools/${POOL}/stderr`, { text: 'fresh' });
    server.on(`GET /pools/${POOL}/stdout/5`, { status: 404, json: { message: 'no instance 5' } });
    const pool = conn.createPool('p', { profile: 'docker-batch', instanceCount: 2, slotsPerNode: 4, preparationCommandLine: 'echo prep' });
    pool.setupElastic({ maxTotalSlots: 8, rampResizeFactor: 0.5 });
    expect(() => pool.setupElastic({ rampResizeFactor: 0 })).toThrow(expect.objectContaining({ argument: 'rampResizeFactor' }));
    const json = pool.toJson();
    expect(json).toMatchObject({
      name: 'p',
      profile: 'docker-batch',
      instanceCount: 2,
      preparationTask: { commandLine: 'echo prep' },
      elasticProperty: { isElastic: true, minTotalSlots: 0, maxTotalSlots: 8, minIdleSlots: 0, resizePeriod: 90, rampResizeFactor: 0.5, minIdleTimeSeconds: 0 },
      multiSlotsSettings: { slotsPerNode: 4 },
      defaultRetrySettings: { maxTotalRetries: null, maxPerInstanceRetries: null },
    });
    expect('scaling' in json).toBe(false);
    await pool.submit();
    expect(pool.state).toBe('FullyExecuting');
    expect(pool.elastic.rampResizeFactor).toBe(0.5);
    expect(() => (pool.instanceCount = 3)).toThrow(expect.objectContaining({ property: 'instanceCount' }));
    pool.scaling = { policies: [{ type: 'Fixed', slotsCount: 2 }] };
    await pool.commit();
    expect((server.find(`PUT /pools/${POOL}`)[0]!.json as { scaling: unknown }).scaling).toEqual({ policies: [{ type: 'Fixed', slotsCount: 2 }] });
    await pool.updateResources();
    await pool.close();
    expect(await pool.stdout({ instanceId: 0 })).toBe('node 0');
    expect(await pool.freshStderr()).toBe('fresh');
    await expect(pool.stdout({ instanceId: 5 })).rejects.toSatisfy(isMissingPoolInstanceError);
    await pool.delete();
    expect(pool.state).toBe('Deleted');
  });

  it('maps 403 "Maximum number of pools reached"; summary pools need hydration', async () => {
    server.on('POST /pools', { status: 403, json: { message: 'Maximum number of pools reached' } });
    await expect(conn.createPool('p').submit()).rejects.toSatisfy(isMaxPoolError);
    const s = Pool.fromJson(conn, { uuid: POOL, name: 'p', state: 'Submitted' }, { isSummary: true });
    expect(s.state).toBe('Submitted');
    expect(() => s.tags).toThrow(expect.objectContaining({ code: 'summary_not_hydrated' }));
    expect(() => conn.createPool('p', { instanceCount: -2 })).toThrow(expect.objectContaining({ argument: 'instanceCount' }));
    expect(isInvalidArgumentError(new Error('x'))).toBe(false);
    expect(isAlreadySubmittedError(undefined)).toBe(false);
  });
});
