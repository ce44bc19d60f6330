import { isFinalTaskState, parseAdvancedRange, validateInput, type PoolJson, type TaskJson, type TaskState } from '@hearth/core';
import { z } from 'zod';
import { badRequest, notFound } from '../api-error.js';
import type { ExecutionControl, LogStream, SnapshotConfig } from '../api-options.js';
import type { ApiContext } from '../api-server.js';
import type { Reply, RequestContext, RouteSpec } from '../router.js';
import type { EntityRecord } from '@hearth/store';
import { findOr404, jsonReply } from './collection.js';

const snapshotInput = z.object({
  whitelist: z.string().max(4096).nullish(),
  blacklist: z.string().max(4096).nullish(),
  bucket: z.string().max(255).nullish(),
  bucketPrefix: z.string().max(1024).nullish(),
});
const periodicInput = snapshotInput.extend({ interval: z.int().min(0).max(31 * 86400) });

function config(input: z.infer<typeof snapshotInput>): SnapshotConfig {
  for (const key of ['whitelist', 'blacklist'] as const) {
    const v = input[key];
    if (v == null) continue;
    try {
      new RegExp(v);
    } catch {
      throw badRequest(`Invalid snapshot field '${key}': must be a valid regular expression`, key);
    }
  }
  return {
    whitelist: input.whitelist ?? null,
    blacklist: input.blacklist ?? null,
    bucket: input.bucket ?? null,
    bucketPrefix: input.bucketPrefix ?? null,
  };
}

/** The instance ids of a task, to answer 404 for an instance it does not have. */
function hasInstance(doc: TaskJson, id: number): boolean {
  if (doc.advancedRanges) return parseAdvancedRange(doc.advancedRanges).some((s) => id >= s.start && id <= s.end);
  return id >= 0 && id < doc.instanceCount;
}

async function instanceOf(app: ApiContext, ctx: RequestContext): Promise<{ uuid: string; instanceId: number | undefined }> {
  const row = await findOr404(app.store.tasks, ctx, 'task');
  const raw = ctx.params['instanceId'];
  if (raw === undefined) return { uuid: row.uuid, instanceId: undefined };
  const id = Number(raw);
  if (!/^\d+$/.test(raw) || !hasInstance(JSON.parse(row.doc) as TaskJson, id)) {
    throw notFound(`Task instance not found: task '${row.uuid}' has no instance '${raw}'`);
  }
  return { uuid: row.uuid, instanceId: id };
}

/** A pool and one of its slots: the preparation task's output is kept per slot under the pool's uuid. */
async function slotOf(app: ApiContext, ctx: RequestContext): Promise<{ uuid: string; instanceId: number | undefined }> {
  const row = await findOr404(app.store.pools, ctx, 'pool');
  const raw = ctx.params['instanceId'];
  if (raw === undefined) return { uuid: row.uuid, instanceId: undefined };
  const id = Number(raw);
  const doc = JSON.parse(row.doc) as PoolJson;
  const maxSlots = doc.elasticProperty['isElastic'] === true ? Number(doc.elasticProperty['maxTotalSlots'] ?? 1) : 0;
  if (!/^\d+$/.test(raw) || id >= Math.max(doc.instanceCount, doc.totalSlotCapacity, maxSlots)) {
    throw notFound(`Pool instance not found: pool '${row.uuid}' has no instance '${raw}'`);
  }
  return { uuid: row.uuid, instanceId: id };
}

function offsetParam(ctx: RequestContext): number | undefined {
  const raw = ctx.query.get('offset');
  if (raw === null) return undefined;
  if (!/^\d+$/.test(raw)) throw badRequest("Invalid query parameter 'offset': expected a whole number of bytes", 'offset');
  return Number(raw);
}

function logRoutes(app: ApiContext, exec: ExecutionControl, stream: LogStream): RouteSpec[] {
  return [...logRoutesOf(app, exec, { stream, kind: 'tasks' }), ...logRoutesOf(app, exec, { stream, kind: 'pools' })];
}

function logRoutesOf(app: ApiContext, exec: ExecutionControl, options: { stream: LogStream; kind: 'tasks' | 'pools' }): RouteSpec[] {
  const { stream, kind } = options;
  const locate = kind === 'tasks' ? instanceOf : slotOf;
  const what = kind === 'tasks' ? { one: 'task', part: 'instance' } : { one: "pool's preparation", part: 'slot' };
  const text = (body: string): Reply => ({ status: 200, raw: body, contentType: 'text/plain; charset=utf-8' });
  const full = async (ctx: RequestContext) => {
    const { uuid, instanceId } = await locate(app, ctx);
    const offset = offsetParam(ctx);
    const slice = exec.readLog(uuid, { instanceId, stream, offset });
    // Stateless reads by offset: where the text starts (older bytes may have been dropped) and where to go on.
    ctx.res.setHeader('Hearth-Log-Start', String(slice.start));
    ctx.res.setHeader('Hearth-Log-Next-Offset', String(slice.end));
    return text(slice.text);
  };
  const fresh = async (ctx: RequestContext) => {
    const { uuid, instanceId } = await locate(app, ctx);
    return text(exec.freshLog(uuid, instanceId, stream));
  };
  return [
    {
      method: 'GET',
      path: `/${kind}/{id}/${stream}`,
      summary: `The ${what.one}'s ${stream} (every ${what.part}, circular buffer); \`?offset=N\` reads from byte N, answering the next offset in \`Hearth-Log-Next-Offset\``,
      tag: kind,
      handler: full,
    },
    {
      method: 'GET',
      path: `/${kind}/{id}/${stream}/{instanceId}`,
      summary: `One ${what.part}'s ${stream}; \`?offset=N\` as above`,
      tag: kind,
      handler: full,
    },
    {
      method: 'POST',
      path: `/${kind}/{id}/${stream}`,
      summary: `The ${what.one}'s ${stream} written since the previous POST (a cursor kept by the server)`,
      tag: kind,
      handler: fresh,
    },
    {
      method: 'POST',
      path: `/${kind}/{id}/${stream}/{instanceId}`,
      summary: `One ${what.part}'s ${stream} written since the previous POST`,
      tag: kind,
      handler: fresh,
    },
  ];
}

/** A route that finds the caller's entity (404 otherwise), acts on it and answers 200 with no body. */
function actionRoute(
  spec: Pick<RouteSpec, 'method' | 'path' | 'summary' | 'tag'>,
  find: (ctx: RequestContext) => Promise<EntityRecord>,
  act: (row: EntityRecord, ctx: RequestContext) => Promise<unknown>,
): RouteSpec {
  return {
    ...spec,
    handler: async (ctx) => {
      await act(await find(ctx), ctx);
      return { status: 200, empty: true };
    },
  };
}

/** Routes that act on running tasks: abort, update resources, logs, snapshots. */
export function executionRoutes(app: ApiContext): RouteSpec[] {
  const exec = app.execution;
  if (!exec) return [];
  return [
    actionRoute(
      { method: 'POST', path: '/tasks/{id}/abort', tag: 'tasks', summary: 'Abort a task: PendingCancel, then Cancelled; a finished task is left unchanged (200)' },
      (ctx) => findOr404(app.store.tasks, ctx, 'task'),
      (row) => exec.abort(row.uuid),
    ),
    actionRoute(
      { method: 'PATCH', path: '/tasks/{id}', tag: 'tasks', summary: "Push new or changed files of the task's resource buckets into its running instances (additive)" },
      (ctx) => findOr404(app.store.tasks, ctx, 'task'),
      (row) => exec.updateResources(row.uuid),
    ),
    actionRoute(
      { method: 'POST', path: '/jobs/{id}/terminate', tag: 'jobs', summary: 'Terminate a job: Terminating (its unfinished tasks are aborted), then Completed' },
      (ctx) => findOr404(app.store.jobs, ctx, 'job'),
      (row, ctx) => exec.terminateJob(ctx.user.id, row.uuid),
    ),
    actionRoute(
      { method: 'POST', path: '/pools/{id}/close', tag: 'pools', summary: 'Close a pool: Closing (its unfinished tasks are aborted), then Closed' },
      (ctx) => findOr404(app.store.pools, ctx, 'pool'),
      (row, ctx) => exec.closePool(ctx.user.id, row.uuid),
    ),
    actionRoute(
      { method: 'PATCH', path: '/pools/{id}', tag: 'pools', summary: "Push new or changed files of the pool's resource buckets into its running tasks' instances (additive)" },
      (ctx) => findOr404(app.store.pools, ctx, 'pool'),
      async (row, ctx) => {
        for (const t of await app.store.tasks.listBy(ctx.user.id, { poolUuid: row.uuid })) {
          if (!isFinalTaskState(t.state as TaskState)) await exec.updateResources(t.uuid);
        }
      },
    ),
    ...logRoutes(app, exec, 'stdout'),
    ...logRoutes(app, exec, 'stderr'),
    {
      method: 'POST',
      path: '/tasks/{id}/snapshot',
      summary: 'Instant snapshot: upload the running instances\' matching files now; answers `{id}`',
      tag: 'tasks',
      body: snapshotInput,
      handler: async (ctx) => {
        const row = await findOr404(app.store.tasks, ctx, 'task');
        const input = validateInput(snapshotInput, (await ctx.body()) ?? {}, 'snapshot');
        const record = await exec.snapshot(row.uuid, config(input));
        return jsonReply(200, { id: record.id });
      },
    },
    {
      method: 'POST',
      path: '/tasks/{id}/snapshot/periodic',
      summary: 'Periodic snapshots every `interval` seconds while the task runs (0 stops them)',
      tag: 'tasks',
      body: periodicInput,
      handler: async (ctx) => {
        const row = await findOr404(app.store.tasks, ctx, 'task');
        const input = validateInput(periodicInput, (await ctx.body()) ?? {}, 'snapshot');
        await exec.periodicSnapshot(row.uuid, { ...config(input), interval: input.interval });
        return { status: 200, empty: true };
      },
    },
    {
      method: 'GET',
      path: '/tasks/{id}/snapshot/{snapshotId}',
      summary: 'The status of a snapshot',
      tag: 'tasks',
      handler: async (ctx) => {
        const row = await findOr404(app.store.tasks, ctx, 'task');
        const status = await exec.snapshotStatus(row.uuid, ctx.params['snapshotId']!);
        if (!status) throw notFound(`Snapshot not found: '${ctx.params['snapshotId']}'`);
        return jsonReply(200, status);
      },
    },
  ];
}
