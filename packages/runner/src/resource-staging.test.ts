import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ResourceCache } from './resource-cache.js';
import { runInstance, startInstance } from './running-instance.js';
import { CountingStore, EventLog, makeSpec, runScript, tempDir, waitFor } from './test-support/fixtures.js';
import { beforeAll } from 'vitest';

const owner = 'alice@example.com';

beforeAll(() => {
  runScript('bwrap-install.sh');
});

async function setup(): Promise<{ root: string; store: CountingStore; cache: ResourceCache; [Symbol.asyncDispose](): Promise<void> }> {
  const dir = await tempDir();
  const store = new CountingStore(`${dir.path}/storage`);
  const cache = new ResourceCache(`${dir.path}/cache`);
  return {
    root: `${dir.path}/work`,
    store,
    cache,
    [Symbol.asyncDispose]: async () => {
      await store.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

async function put(store: CountingStore, bucket: string, files: Record<string, string | Buffer>): Promise<void> {
  if (!(await store.bucketExists({ owner, bucket }))) await store.createBucket({ owner, bucket });
  for (const [key, body] of Object.entries(files)) await store.write({ owner, bucket, key }, Buffer.from(body));
}

async function keys(store: CountingStore, bucket: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of store.list({ owner, bucket })) out.push(o.key);
  return out;
}

describe('resources and results', () => {
  it('stages every resource bucket with prefix filtering and stripPrefix, later buckets winning', async () => {
    await using env = await setup();
    await put(env.store, 'inputs-a', { 'in/data.txt': 'A', 'in/sub/deep.txt': 'deep', 'other/skip.txt': 'no', 'in/dir/': '' });
    await put(env.store, 'inputs-b', { 'data.txt': 'B-override', 'b.txt': 'b' });
    const log = new EventLog();
    const result = await runInstance(
      makeSpec(env.root, {
        command: 'find . -type f | sort; cat data.txt',
        resources: [
          { bucket: 'inputs-a', prefixFiltering: 'in/', stripPrefix: 'in/' },
          { bucket: 'inputs-b' },
        ],
      }),
      { blobStore: env.store, cache: env.cache, onEvent: log.onEvent },
    );
    expect(result.state).toBe('Success');
    expect(log.stdout).toBe('./b.txt\n./data.txt\n./sub/deep.txt\nB-override');
    expect(result.times.downloadSec).toBeGreaterThanOrEqual(0);
  });

  it('uploads created and modified files only, filtered by the white and black lists, under the prefix', async () => {
    await using env = await setup();
    await put(env.store, 'inputs', { 'keep.txt': 'unchanged', 'edit.txt': 'before' });
    await env.store.createBucket({ owner, bucket: 'out' });
    const log = new EventLog();
    const result = await runInstance(
      makeSpec(env.root, {
        command: 'mkdir -p res && echo r > res/a.txt && echo log > run.log && echo tmp > res/b.tmp && echo after > edit.txt',
        resources: [{ bucket: 'inputs' }],
        results: { bucket: 'out', prefix: 'run1/', whitelist: '\\.(txt|log)$', blacklist: '^run\\.log$' },
      }),
      { blobStore: env.store, cache: env.cache, onEvent: log.onEvent },
    );
    expect(result.state).toBe('Success');
    expect([...result.results].sort()).toEqual(['run1/edit.txt', 'run1/res/a.txt']);
    expect(await keys(env.store, 'out')).toEqual(['run1/edit.txt', 'run1/res/a.txt']);
    expect(log.of('result-uploaded').map((e) => e.key).sort()).toEqual(['run1/edit.txt', 'run1/res/a.txt']);
    expect(log.of('phase').map((e) => e.phase)).toEqual(['download', 'environment', 'execution', 'upload']);
    // editing a hard-linked resource must not have touched the cached copy
    const again = new EventLog();
    await runInstance(makeSpec(env.root, { command: 'cat edit.txt', resources: [{ bucket: 'inputs' }] }), {
      blobStore: env.store,
      cache: env.cache,
      onEvent: again.onEvent,
    });
    expect(again.stdout).toBe('before');
  });

  it('succeeds with no results when the whitelist matches nothing, and uploads nothing without a result bucket', async () => {
    await using env = await setup();
    await env.store.createBucket({ owner, bucket: 'out' });
    const a = await runInstance(makeSpec(env.root, { command: 'echo x > a.txt', results: { bucket: 'out', whitelist: '^nothing$' } }), { blobStore: env.store, cache: env.cache });
    expect(a.state).toBe('Success');
    expect(a.results).toEqual([]);
    const b = await runInstance(makeSpec(env.root, { command: 'echo x > a.txt' }), { blobStore: env.store, cache: env.cache });
    expect(b.results).toEqual([]);
    expect(await keys(env.store, 'out')).toEqual([]);
  });

  it('fails with a staging error naming a missing resource bucket', async () => {
    await using env = await setup();
    const result = await runInstance(makeSpec(env.root, { command: 'true', resources: [{ bucket: 'gone' }] }), { blobStore: env.store, cache: env.cache });
    expect(result.state).toBe('Failure');
    expect(result.error?.code).toBe('StagingFailed');
    expect(result.error?.message).toContain('NoSuchBucket');
    expect(result.exitCode).toBeNull();
  });

  it('fails with an upload error when the result bucket is missing', async () => {
    await using env = await setup();
    const result = await runInstance(makeSpec(env.root, { command: 'echo x > a.txt', results: { bucket: 'missing-out' } }), { blobStore: env.store, cache: env.cache });
    expect(result.state).toBe('Failure');
    expect(result.error?.code).toBe('UploadFailed');
    expect(result.error?.message).toContain('missing-out');
  });

  it('downloads a resource shared by 20 concurrent instances once', async () => {
    await using env = await setup();
    await put(env.store, 'shared', { 'big.bin': Buffer.alloc(5 * 2 ** 20, 7) });
    const taskUuid = 'shared-task';
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        runInstance(makeSpec(env.root, { taskUuid, instanceId: i, command: 'test $(wc -c < big.bin) -eq 5242880', resources: [{ bucket: 'shared' }] }), {
          blobStore: env.store,
          cache: env.cache,
        }),
      ),
    );
    expect(results.map((r) => r.state)).toEqual(Array(20).fill('Success'));
    expect(env.store.reads).toBe(1);
    expect(env.cache.stats.downloads).toBe(1);
  });

  it('re-downloads an object whose ETag changed, and expires copies after their TTL', async () => {
    await using env = await setup();
    let now = 1_000_000;
    const cache = new ResourceCache(`${env.root}-cache`, { now: () => now });
    await put(env.store, 'res-r', { 'f.txt': 'v1' });
    const run = async (): Promise<string> => {
      const log = new EventLog();
      await runInstance(makeSpec(env.root, { command: 'cat f.txt', resources: [{ bucket: 'res-r', cacheTTLSec: 60 }] }), { blobStore: env.store, cache, onEvent: log.onEvent });
      return log.stdout;
    };
    expect(await run()).toBe('v1');
    expect(await run()).toBe('v1');
    expect(env.store.reads).toBe(1);
    await put(env.store, 'res-r', { 'f.txt': 'v2' });
    expect(await run()).toBe('v2');
    expect(env.store.reads).toBe(2);
    now += 61_000;
    expect(await run()).toBe('v2');
    expect(env.store.reads).toBe(3);
    now += 61_000;
    expect(await cache.prune()).toBe(2);
  });

  it('takes instant snapshots of a running instance without uploading the same file twice', async () => {
    await using env = await setup();
    await env.store.createBucket({ owner, bucket: 'out' });
    const log = new EventLog();
    const inst = startInstance(
      makeSpec(env.root, {
        command: 'echo 1 > step1.txt; echo ready; while [ ! -f go ]; do sleep 0.02; done; echo 2 > step2.txt',
        results: { bucket: 'out' },
        snapshot: { prefix: 'snap/' },
      }),
      { blobStore: env.store, cache: env.cache, onEvent: log.onEvent },
    );
    await waitFor(() => log.stdout.includes('ready'));
    const snap = await inst.snapshot();
    expect(snap.keys).toEqual(['snap/step1.txt']);
    expect(await keys(env.store, 'out')).toEqual(['snap/step1.txt']);
    const second = await inst.snapshot({ prefix: 'snap/' });
    expect(second.bytes).toBe(0); // unchanged since the last snapshot
    await readFile(`${inst.paths.workdir}/step1.txt`);
    await import('node:fs/promises').then((fs) => fs.writeFile(`${inst.paths.workdir}/go`, ''));
    const result = await inst.result;
    expect(result.state).toBe('Success');
    expect(await keys(env.store, 'out')).toEqual(['go', 'snap/step1.txt', 'step1.txt', 'step2.txt']);
  });

  it('takes periodic snapshots while the instance runs', async () => {
    await using env = await setup();
    await env.store.createBucket({ owner, bucket: 'out' });
    const log = new EventLog();
    const inst = startInstance(
      makeSpec(env.root, {
        command: 'echo partial > part.txt; while [ ! -f go ]; do sleep 0.02; done',
        results: { bucket: 'out', blacklist: '^go$' },
        snapshot: { intervalSec: 0.2 },
      }),
      { blobStore: env.store, cache: env.cache, onEvent: log.onEvent },
    );
    await waitFor(async () => (await keys(env.store, 'out')).includes('part.txt'));
    expect(log.of('result-uploaded')[0]).toMatchObject({ key: 'part.txt', snapshot: true });
    await import('node:fs/promises').then((fs) => fs.writeFile(`${inst.paths.workdir}/go`, ''));
    const result = await inst.result;
    expect(result.results).toEqual(['part.txt']);
    expect(log.of('result-uploaded').filter((e) => e.key === 'part.txt')).toHaveLength(1);
  });

  it('copies new and changed resources into a running instance (additive update)', async () => {
    await using env = await setup();
    await put(env.store, 'inputs', { 'a.txt': 'a1' });
    const log = new EventLog();
    const inst = startInstance(
      makeSpec(env.root, {
        command: 'echo ready; while [ ! -f b.txt ]; do sleep 0.02; done; cat a.txt b.txt',
        resources: [{ bucket: 'inputs' }],
      }),
      { blobStore: env.store, cache: env.cache, onEvent: log.onEvent },
    );
    await waitFor(() => log.stdout.includes('ready'));
    await put(env.store, 'inputs', { 'a.txt': 'a2', 'b.txt': 'b1' });
    expect(await inst.updateResources()).toEqual({ files: 2 });
    const result = await inst.result;
    expect(result.state).toBe('Success');
    expect(log.stdout).toBe('ready\na2b1');
  });

  it('stages from a stream-only body too (large objects are streamed, not buffered)', async () => {
    await using env = await setup();
    await env.store.createBucket({ owner, bucket: 'big' });
    await env.store.write({ owner, bucket: 'big', key: 'x.bin' }, Readable.from([Buffer.alloc(2 ** 20, 1), Buffer.alloc(2 ** 20, 2)]));
    const log = new EventLog();
    await runInstance(makeSpec(env.root, { command: 'wc -c < x.bin', resources: [{ bucket: 'big' }] }), { blobStore: env.store, cache: env.cache, onEvent: log.onEvent });
    expect(log.stdout.trim()).toBe(String(2 * 2 ** 20));
  });
});
