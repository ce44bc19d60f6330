import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shellTask, startTestServer, type TestServer } from './test-support/test-server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ slots: 2 });
});
afterAll(async () => t.close());

async function text(bucket: string, key: string): Promise<string> {
  const r = await t.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return r.Body!.transformToString();
}

describe('a task runs for real', () => {
  it('stages resources, runs every instance with its environment, uploads results, and reports it all', async () => {
    await t.s3.send(new CreateBucketCommand({ Bucket: 'inputs' }));
    await t.s3.send(new CreateBucketCommand({ Bucket: 'outputs' }));
    await t.s3.send(new PutObjectCommand({ Bucket: 'inputs', Key: 'in/greeting.txt', Body: 'hello' }));
    await t.s3.send(new PutObjectCommand({ Bucket: 'inputs', Key: 'other/ignored.txt', Body: 'no' }));
    const command =
      'echo "instance $INSTANCE_ID/$INSTANCE_COUNT frame $FRAME_ID task $TASK_NAME $COLOR"; ' +
      'cat greeting.txt > "out-$INSTANCE_ID.txt"; echo " $INSTANCE_ID" >> "out-$INSTANCE_ID.txt"; ' +
      'test ! -e other; touch skip.log; echo warn >&2';
    const r = await t.call('POST', '/tasks', {
      ...shellTask(command),
      name: 'render',
      instanceCount: 3,
      constants: [
        { key: 'DOCKER_CMD', value: command },
        { key: 'COLOR', value: 'blue' },
      ],
      advancedResourceBuckets: [
        { bucketName: 'inputs', filtering: { prefixFiltering: { prefix: 'in/' } }, resourcesTransformation: { stripPrefix: { prefix: 'in/' } } },
      ],
      resultBucket: 'outputs',
      resultsBlacklist: '\\.log$',
    });
    expect(r.status).toBe(201);
    const task = await t.waitFinal(r.json.uuid as string);
    expect(task['state']).toBe('Success');
    expect(task['previousState']).toBeDefined();
    expect(task['progress']).toBe(100);
    expect(task['resultsCount']).toBe(3);
    expect(task['endDate']).toMatch(/Z$/);
    expect(task['status'].succeededRange).toBe('0-2');
    expect(task['status'].failedRange).toBe('');
    expect(task['status'].executionTimeByCpuModel).toEqual([]);
    const completed = task['completedInstances'] as { instanceId: number; state: string; results: string[] }[];
    expect(completed.map((c) => c.instanceId).sort()).toEqual([0, 1, 2]);
    for (const c of completed) {
      expect(c.state).toBe('Success');
      expect(c.results).toHaveLength(1);
      expect(c.results[0]).toMatch(new RegExp(`^s3://[^/]+/outputs/out-${c.instanceId}\\.txt$`));
    }
    for (const i of [0, 1, 2]) expect(await text('outputs', `out-${i}.txt`)).toBe(`hello ${i}\n`);
    const listed = await t.s3.send(new ListObjectsV2Command({ Bucket: 'outputs' }));
    expect(listed.Contents?.map((o) => o.Key).sort()).toEqual(['out-0.txt', 'out-1.txt', 'out-2.txt']);

    const out = await t.call('GET', `/tasks/${r.json.uuid}/stdout`);
    expect(out.headers.get('content-type')).toContain('text/plain');
    for (const i of [0, 1, 2]) expect(out.text).toContain(`instance ${i}/3 frame ${i} task render blue`);
    const one = await t.call('GET', `/tasks/${r.json.uuid}/stdout/1`);
    expect(one.text).toBe('instance 1/3 frame 1 task render blue\n');
    // Fresh reads: a server-side cursor per task and per instance.
    expect((await t.call('POST', `/tasks/${r.json.uuid}/stderr/2`)).text).toContain('warn\n');
    expect((await t.call('POST', `/tasks/${r.json.uuid}/stderr/2`)).text).toBe('');
    // Stateless reads by offset.
    const next = Number(one.headers.get('hearth-log-next-offset'));
    expect(next).toBe(one.text.length);
    expect((await t.call('GET', `/tasks/${r.json.uuid}/stdout/1?offset=9`)).text).toBe(one.text.slice(9));
    expect((await t.call('GET', `/tasks/${r.json.uuid}/stdout/7`)).status).toBe(404);
  });

  it('fails an instance with a non-zero exit, quoting the exit code and its stderr', async () => {
    const r = await t.call('POST', '/tasks', shellTask('echo about to fail >&2; exit 3', { instanceCount: 2 }));
    const task = await t.waitFinal(r.json.uuid as string);
    expect(task['state']).toBe('Failure');
    expect(task['status'].failedRange).toBe('0-1');
    const errors = task['errors'] as { code: string; message: string }[];
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]!.message).toMatch(/3/);
    expect(errors[0]!.message).toContain('about to fail');
  });

  it('tells a missing command apart', async () => {
    const r = await t.call('POST', '/tasks', shellTask('definitely-not-a-command-hearth'));
    const task = await t.waitFinal(r.json.uuid as string);
    expect(task['state']).toBe('Failure');
    expect(JSON.stringify(task['errors'])).toMatch(/not found|MissingCommand/i);
  });

  it('aborts a running task: PendingCancel or Cancelled at once, Cancelled at the end; aborting again changes nothing', async () => {
    const r = await t.call('POST', '/tasks', shellTask('sleep 30', { instanceCount: 3 }));
    const uuid = r.json.uuid as string;
    // Wait until something runs.
    let state = 'Submitted';
    while (state === 'Submitted') state = (await t.call('GET', `/tasks/${uuid}?longPollSeconds=5&ifState=Submitted`)).json.state;
    expect((await t.call('POST', `/tasks/${uuid}/abort`)).status).toBe(200);
    expect(['PendingCancel', 'Cancelled']).toContain((await t.call('GET', `/tasks/${uuid}`)).json.state);
    const task = await t.waitFinal(uuid, 30_000);
    expect(task['state']).toBe('Cancelled');
    const again = await t.call('POST', `/tasks/${uuid}/abort`);
    expect(again.status).toBe(200);
    expect((await t.call('GET', `/tasks/${uuid}`)).json.stateTransitionTime).toBe(task['stateTransitionTime']);
  });

  it('long-polls: GET with ifState answers as soon as the state changes, with the Hearth-Long-Poll header', async () => {
    const r = await t.call('POST', '/tasks', shellTask('sleep 0.3'));
    const done = await t.waitFinal(r.json.uuid as string);
    const res = await t.call('GET', `/tasks/${r.json.uuid}?longPollSeconds=2&ifState=Running`);
    expect(res.headers.get('hearth-long-poll')).toBe('true');
    expect(res.json.state).toBe(done['state']);
  });

  it('deleting a running task stops it and the task is gone', async () => {
    const r = await t.call('POST', '/tasks', shellTask('sleep 30'));
    await t.call('GET', `/tasks/${r.json.uuid}?longPollSeconds=5&ifState=Submitted`);
    expect((await t.call('DELETE', `/tasks/${r.json.uuid}`)).status).toBe(204);
    expect((await t.call('GET', `/tasks/${r.json.uuid}`)).status).toBe(404);
  });

  it('auto-deletes a finished task after its completion TTL', async () => {
    const r = await t.call('POST', '/tasks', shellTask('true', { autoDeleteOnCompletion: true, completionTimeToLive: '00:00:01' }));
    await t.waitFinal(r.json.uuid as string);
    const deadline = Date.now() + 10_000;
    while ((await t.call('GET', `/tasks/${r.json.uuid}`)).status !== 404) {
      if (Date.now() > deadline) throw new Error('task not auto-deleted');
      await new Promise((res) => setTimeout(res, 100));
    }
  });

  it('refuses a resource bucket that does not exist with 404', async () => {
    const r = await t.call('POST', '/tasks', shellTask('true', { advancedResourceBuckets: [{ bucketName: 'nope-nope' }] }));
    expect(r.status).toBe(404);
  });
});
