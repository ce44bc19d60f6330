import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shellTask, startTestServer, until, type TestServer } from './test-support/test-server.js';


describe('host runtime: snapshots, progress, cancellation results, resource updates', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ slots: 2, sandbox: 'none' });
    await t.s3.send(new CreateBucketCommand({ Bucket: 'res' }));
    await t.s3.send(new CreateBucketCommand({ Bucket: 'out' }));
  });
  afterAll(async () => t.close());

  const object = async (bucket: string, key: string) =>
    t.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })).then(
      async (r) => r.Body!.transformToString(),
      () => undefined,
    );
  const executing = (uuid: string) =>
    until(async () => {
      const s = (await t.call('GET', `/tasks/${uuid}`)).json.state as string;
      return /Executing/.test(s) ? s : undefined;
    }, 'execution');

  it('takes an instant snapshot while the task runs: results so far become downloadable', async () => {
    const r = await t.call('POST', '/tasks', shellTask('echo part > partial.txt; touch skip.tmp; sleep 3; echo final > final.txt', { resultBucket: 'out', resultsBucketPrefix: 'snap/' }));
    const uuid = r.json.uuid as string;
    await executing(uuid);
    await new Promise((res) => setTimeout(res, 300));
    const snap = await t.call('POST', `/tasks/${uuid}/snapshot`, { whitelist: '\\.txt$', bucket: 'out', bucketPrefix: 'early/' });
    expect(snap.status).toBe(200);
    expect(snap.json.id).toMatch(new RegExp(`^snap_${uuid}_\\d{14}`));
    const status = await until(async () => {
      const s = (await t.call('GET', `/tasks/${uuid}/snapshot/${snap.json.id}`)).json as { status: string };
      return s.status === 'Success' || s.status === 'Failure' ? s : undefined;
    }, 'snapshot');
    expect(status).toMatchObject({ taskUuid: uuid, status: 'Success', snapshotConfig: { whitelist: '\\.txt$', bucket: 'out', bucketPrefix: 'early/' } });
    expect(await object('out', 'early/partial.txt')).toBe('part\n');
    expect(await object('out', 'early/skip.tmp')).toBeUndefined();
    const running = (await t.call('GET', `/tasks/${uuid}`)).json;
    expect(running.resultsCount).toBeGreaterThan(0);
    expect(running.state).not.toBe('Success');
    expect((await t.waitFinal(uuid))['state']).toBe('Success');
    expect(await object('out', 'snap/final.txt')).toBe('final\n');
    expect((await t.call('GET', `/tasks/${uuid}/snapshot/snap_nope`)).status).toBe(404);
  });

  it('records a periodic snapshot interval and refuses a bad one', async () => {
    const r = await t.call('POST', '/tasks', shellTask('sleep 2', { resultBucket: 'out' }));
    const uuid = r.json.uuid as string;
    expect((await t.call('POST', `/tasks/${uuid}/snapshot/periodic`, { interval: 1 })).status).toBe(200);
    expect((await t.call('GET', `/tasks/${uuid}`)).json.snapshotInterval).toBe(1);
    expect((await t.call('POST', `/tasks/${uuid}/snapshot/periodic`, { interval: -5 })).status).toBe(400);
    await t.waitFinal(uuid);
  });

  it('reads progress from HEARTH_PROGRESS lines and from the DOCKER_PROGRESS1 pattern', async () => {
    const r = await t.call('POST', '/tasks', {
      ...shellTask('echo "render at 40%"; sleep 1.5'),
      constants: [
        { key: 'DOCKER_CMD', value: 'echo "render at 40%"; sleep 1.5' },
        { key: 'DOCKER_PROGRESS1', value: 'render at (\\d+)%' },
      ],
    });
    const uuid = r.json.uuid as string;
    const seen = await until(async () => {
      const task = (await t.call('GET', `/tasks/${uuid}`)).json as { progress: number; state: string; status: { executionProgress: number } };
      return task.progress >= 40 && task.state !== 'Success' ? task : undefined;
    }, 'progress');
    expect(seen.progress).toBe(40);
    expect(seen.status.executionProgress).toBe(40);
    const h = await t.call('POST', '/tasks', shellTask('echo HEARTH_PROGRESS=25; sleep 1.5'));
    await until(async () => ((await t.call('GET', `/tasks/${h.json.uuid}`)).json.progress === 25 ? true : undefined), 'progress line');
    expect((await t.waitFinal(h.json.uuid as string))['progress']).toBe(100);
  });

  it('uploads results on abort when uploadResultsOnCancellation is set', async () => {
    const r = await t.call('POST', '/tasks', shellTask('echo kept > kept.txt; sleep 30', { resultBucket: 'out', resultsBucketPrefix: 'cancel/', uploadResultsOnCancellation: true }));
    const uuid = r.json.uuid as string;
    await executing(uuid);
    await new Promise((res) => setTimeout(res, 300));
    await t.call('POST', `/tasks/${uuid}/abort`);
    expect((await t.waitFinal(uuid))['state']).toBe('Cancelled');
    expect(await object('out', 'cancel/kept.txt')).toBe('kept\n');
  });

  it('pushes new resource files into running instances on PATCH', async () => {
    await t.s3.send(new PutObjectCommand({ Bucket: 'res', Key: 'first.txt', Body: '1' }));
    const cmd = 'for i in $(seq 200); do [ -f second.txt ] && break; sleep 0.05; done; cat first.txt second.txt';
    const r = await t.call('POST', '/tasks', shellTask(cmd, { advancedResourceBuckets: [{ bucketName: 'res' }] }));
    const uuid = r.json.uuid as string;
    await executing(uuid);
    await t.s3.send(new PutObjectCommand({ Bucket: 'res', Key: 'second.txt', Body: '2' }));
    expect((await t.call('PATCH', `/tasks/${uuid}`)).status).toBe(200);
    expect((await t.waitFinal(uuid))['state']).toBe('Success');
    expect((await t.call('GET', `/tasks/${uuid}/stdout`)).text).toBe('12');
  });
});

describe('docker runtime through the server', () => {
  const scripts = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../scripts');
  // A private engine: other test files start and stop their own.
  const env = { ...process.env, HEARTH_DOCKER_DIR: '/tmp/hearth-docker-server' };
  let t: TestServer;
  let image = '';
  let previousHost: string | undefined;
  beforeAll(async () => {
    const out = execFileSync('bash', [path.join(scripts, 'docker-up.sh')], { env, encoding: 'utf8' });
    const vars = Object.fromEntries(out.trim().split('\n').map((l) => l.split('=', 2) as [string, string]));
    image = vars['HEARTH_TEST_IMAGE']!;
    previousHost = process.env['DOCKER_HOST'];
    process.env['DOCKER_HOST'] = vars['DOCKER_HOST'];
    t = await startTestServer({ runtime: 'docker', slots: 2 });
    await t.s3.send(new CreateBucketCommand({ Bucket: 'dout' }));
  }, 300_000);
  afterAll(async () => {
    await t?.close();
    if (previousHost === undefined) delete process.env['DOCKER_HOST'];
    else process.env['DOCKER_HOST'] = previousHost;
    execFileSync('bash', [path.join(scripts, 'docker-down.sh')], { env });
  });

  it('runs DOCKER_CMD in DOCKER_REPO:DOCKER_TAG and uploads its results', async () => {
    const [repo, tag] = image.split(':') as [string, string];
    const r = await t.call('POST', '/tasks', {
      name: 'in-docker',
      profile: 'docker-batch',
      instanceCount: 2,
      resultBucket: 'dout',
      constants: [
        { key: 'DOCKER_REPO', value: repo },
        { key: 'DOCKER_TAG', value: tag },
        { key: 'DOCKER_CMD', value: 'echo "in container $INSTANCE_ID" | tee out-$INSTANCE_ID.txt' },
      ],
    });
    const task = await t.waitFinal(r.json.uuid as string);
    expect(task['state']).toBe('Success');
    expect((await t.call('GET', `/tasks/${r.json.uuid}/stdout/1`)).text).toBe('in container 1\n');
    expect(task['resultsCount']).toBe(2);
  });

  it('fails clearly when the image is missing', async () => {
    const r = await t.call('POST', '/tasks', {
      name: 'no-image',
      profile: 'docker-batch',
      constants: [
        { key: 'DOCKER_REPO', value: 'hearth-test/does-not-exist' },
        { key: 'DOCKER_CMD', value: 'true' },
      ],
    });
    const task = await t.waitFinal(r.json.uuid as string);
    expect(task['state']).toBe('Failure');
    expect(JSON.stringify(task['errors'])).toMatch(/image/i);
  });
});
