import { randomUUID } from 'node:crypto';
import {
  QUOTA_MESSAGES,
  taskInput,
  validateInput,
  type BulkTaskResult,
  type TaskInput,
  type TaskJson,
} from '@hearth/core';
import type { StoreScope, User } from '@hearth/store';
import { ApiError, badRequest, toApiError } from '../api-error.js';
import type { ApiContext } from '../api-server.js';
import { checkHardwareConstraints } from '../hardware-check.js';
import {
  applyTaskUpdate,
  checkTaskRules,
  inputFromDoc,
  newTaskJson,
  taskDependencyUuids,
  taskSummary,
  taskWire,
} from '../models/task-model.js';
import type { RequestContext, RouteSpec } from '../router.js';
import { collectionReadRoutes, findOr404, jsonReply, quotaError, updateEntity } from './collection.js';
import { withIdempotency } from './idempotency.js';

const MAX_BULK = 10_000;
const updateInput = taskInput.partial();

/** Checks what a task points at: profile, pool, job, dependencies, buckets, hardware. */
async function checkReferences(app: ApiContext, user: User, input: TaskInput): Promise<TaskInput> {
  let profile = input.profile;
  if (profile) {
    const found = app.profiles.find((p) => p.name.toLowerCase() === profile!.toLowerCase());
    if (!found) throw badRequest(`Invalid task field 'profile': unknown profile '${profile}'`, 'profile');
    profile = found.name;
  }
  if (input.poolUuid) {
    const pool = await app.store.pools.get(user.id, input.poolUuid);
    if (!pool) throw badRequest(`Invalid task field 'poolUuid': pool '${input.poolUuid}' not found`, 'poolUuid');
    if (['Closing', 'Closed', 'PendingDelete', 'Failure'].includes(pool.state)) {
      throw badRequest(`Invalid task field 'poolUuid': pool '${input.poolUuid}' is ${pool.state}`, 'poolUuid');
    }
  }
  if (input.jobUuid) {
    const job = await app.store.jobs.get(user.id, input.jobUuid);
    if (!job) throw badRequest(`Invalid task field 'jobUuid': job '${input.jobUuid}' not found`, 'jobUuid');
    if (job.state !== 'Active') {
      throw badRequest(`Invalid task field 'jobUuid': job '${input.jobUuid}' is ${job.state}, not Active`, 'jobUuid');
    }
    const useDependencies = (JSON.parse(job.doc) as { useDependencies?: boolean }).useDependencies === true;
    if (!useDependencies && taskDependencyUuids(input).length > 0) {
      throw badRequest(
        `Invalid task field 'dependencies': job '${input.jobUuid}' was created without useDependencies`,
        'dependencies',
      );
    }
  }
  for (const uuid of taskDependencyUuids(input)) {
    if (!(await app.store.tasks.get(user.id, uuid))) {
      throw badRequest(`Invalid task field 'dependencies': task '${uuid}' not found`, 'dependencies');
    }
  }
  const bucketExists = app.storage.bucketExists?.bind(app.storage);
  if (bucketExists) {
    const names = [
      ...(input.advancedResourceBuckets ?? []).map((b) => b.bucketName),
      ...(input.resourceBuckets ?? []),
    ];
    for (const name of new Set(names)) {
      if (!(await bucketExists(user.email, name))) {
        throw new ApiError('bucket_not_found', `Bucket not found: resource bucket '${name}' does not exist`, 'advancedResourceBuckets');
      }
    }
  }
  checkHardwareConstraints(input.hardwareConstraints ?? [], app.hardware);
  return { ...input, profile };
}

/** Validates a task body up to the point of writing it. */
async function prepareTask(app: ApiContext, user: User, body: unknown): Promise<TaskJson> {
  const input = validateInput(taskInput, body, 'task');
  checkTaskRules(input);
  const checked = await checkReferences(app, user, input);
  return newTaskJson(checked, { uuid: randomUUID(), now: new Date().toISOString() });
}

/** Writes a validated task for `user` in `scope` (a transaction), within the user's task quota. */
async function insertTask(app: ApiContext, task: { scope: StoreScope; user: User; doc: TaskJson }): Promise<void> {
  const { scope, user, doc } = task;
  if ((await scope.tasks.count(user.id)) >= app.quotas.maxTask) throw quotaError(QUOTA_MESSAGES.task);
  await scope.tasks.insert(user.id, {
    uuid: doc.uuid,
    shortname: doc.shortname,
    name: doc.name,
    state: doc.state,
    profile: doc.profile,
    poolUuid: doc.poolUuid,
    jobUuid: doc.jobUuid,
    creationDate: doc.creationDate,
    lastModified: doc.lastModified,
    tags: doc.tags,
    doc: JSON.stringify(taskWire(doc)),
  });
}

async function createTasks(app: ApiContext, ctx: RequestContext) {
  const body = await ctx.body();
  if (Array.isArray(body)) return createBulk(app, ctx, body);
  const doc = await prepareTask(app, ctx.user, body);
  const reply = await withIdempotency(app.store, ctx, async (scope) => {
    await insertTask(app, { scope, user: ctx.user, doc });
    return { status: 201, body: JSON.stringify({ uuid: doc.uuid }) };
  });
  app.hooks?.taskCreated?.(doc.uuid);
  return reply;
}

/** `POST /tasks` with an array: one result per item, in input order; valid items land in one transaction. */
async function createBulk(app: ApiContext, ctx: RequestContext, items: unknown[]) {
  if (items.length > MAX_BULK) throw badRequest(`Invalid task list: at most ${MAX_BULK} tasks per request`);
  const prepared: (TaskJson | ApiError)[] = [];
  for (const item of items) {
    try {
      prepared.push(await prepareTask(app, ctx.user, item));
    } catch (e) {
      prepared.push(toApiError(e));
    }
  }
  const created: string[] = [];
  const reply = await withIdempotency(app.store, ctx, async (scope) => {
    const results: BulkTaskResult[] = [];
    created.length = 0;
    for (const p of prepared) {
      if (p instanceof ApiError) {
        results.push({ statusCode: p.status, uuid: null, message: p.message });
        continue;
      }
      try {
        await insertTask(app, { scope, user: ctx.user, doc: p });
        created.push(p.uuid);
        results.push({ statusCode: 201, uuid: p.uuid, message: null });
      } catch (e) {
        const err = toApiError(e);
        if (err.code === 'internal') throw e;
        results.push({ statusCode: err.status, uuid: null, message: err.message });
      }
    }
    return { status: 200, body: JSON.stringify(results) };
  });
  for (const uuid of created) app.hooks?.taskCreated?.(uuid);
  return reply;
}

/** Which instances a derived task runs (reference §1.3, routes of the Node SDK). */
const DERIVED = {
  clone: { summary: 'Create a new task from this one (every instance), with the body overriding fields', ranges: [] },
  retry: { summary: 'Create a new task that runs the failed instances again', ranges: ['failedRange'] },
  recover: { summary: 'Create a new task that runs the failed and cancelled instances again', ranges: ['failedRange', 'cancelledRange'] },
  resume: { summary: 'Create a new task that runs the cancelled instances again', ranges: ['cancelledRange'] },
} as const;

function derivedTaskRoute(app: ApiContext, kind: keyof typeof DERIVED): RouteSpec {
  const spec = DERIVED[kind];
  return {
    method: 'POST',
    path: `/tasks/{id}/${kind}`,
    summary: `${spec.summary}; answers \`{uuid}\``,
    tag: 'tasks',
    body: updateInput,
    handler: async (ctx) => {
      const row = await findOr404(app.store.tasks, ctx, 'task');
      const old = JSON.parse(row.doc) as TaskJson;
      const overrides = (await ctx.body()) ?? {};
      if (typeof overrides !== 'object' || Array.isArray(overrides)) throw badRequest('Invalid task: the body must be an object of fields to override');
      const base: Record<string, unknown> = { ...inputFromDoc(old), shortname: undefined, resourceBuckets: undefined };
      if (spec.ranges.length > 0) {
        const status = old.status ?? {};
        const ranges = spec.ranges.map((r) => status[r]).filter((r): r is string => typeof r === 'string' && r !== '');
        if (ranges.length === 0) throw badRequest(`Task '${row.uuid}' has no instance to ${kind}`);
        Object.assign(base, { instanceCount: 0, advancedRanges: ranges.join(',') });
      }
      const merged = { ...base, ...(overrides as Record<string, unknown>) };
      for (const k of Object.keys(merged)) if (merged[k] === undefined || merged[k] === null) delete merged[k];
      const doc = await prepareTask(app, ctx.user, merged);
      const reply = await withIdempotency(app.store, ctx, async (scope) => {
        await insertTask(app, { scope, user: ctx.user, doc });
        return { status: 201, body: JSON.stringify({ uuid: doc.uuid }) };
      });
      app.hooks?.taskCreated?.(doc.uuid);
      return reply;
    },
  };
}

export function taskRoutes(app: ApiContext): RouteSpec[] {
  const repo = app.store.tasks;
  return [
    ...collectionReadRoutes(
      {
        plural: 'tasks',
        singular: 'task',
        repo: (s) => s.tasks,
        summary: (d) => ({ ...taskSummary(d as unknown as TaskJson) }),
        ...(app.execution ? { waitForChange: app.execution.waitForChange.bind(app.execution) } : {}),
      },
      app.store,
    ),
    {
      method: 'POST',
      path: '/tasks',
      summary: 'Submit a task, or an array of tasks (bulk: one `{statusCode, uuid, message}` per item)',
      tag: 'tasks',
      body: taskInput,
      responses: {
        201: '`{uuid}`',
        200: 'bulk results',
        400: 'invalid task',
        402: 'unsatisfiable hardware constraint',
        403: 'maximum number of tasks reached',
        404: 'a resource bucket does not exist',
      },
      handler: (ctx) => createTasks(app, ctx),
    },
    {
      method: 'PUT',
      path: '/tasks/{id}',
      summary: 'Update a submitted task: only the fields that may change after submit (constants, tags, ...)',
      tag: 'tasks',
      body: updateInput,
      handler: async (ctx) => {
        const input = validateInput(updateInput, (await ctx.body()) ?? {}, 'task');
        const now = new Date().toISOString();
        // Stored documents carry the wire-only `ResultsCacheTTLSec`; taskWire re-adds it from the camelCase field.
        const next = await updateEntity<TaskJson>(app.store, { plural: 'tasks', ctx }, (doc) =>
          taskWire(applyTaskUpdate(doc, input, now)) as unknown as TaskJson,
        );
        app.hooks?.taskUpdated?.(next.uuid);
        return jsonReply(200, next);
      },
    },
    derivedTaskRoute(app, 'clone'),
    derivedTaskRoute(app, 'retry'),
    derivedTaskRoute(app, 'recover'),
    derivedTaskRoute(app, 'resume'),
    {
      method: 'DELETE',
      path: '/tasks/{id}',
      summary: 'Delete a task (a running task is aborted first)',
      tag: 'tasks',
      handler: async (ctx) => {
        const row = await findOr404(repo, ctx, 'task');
        await repo.delete(ctx.user.id, row.uuid);
        app.hooks?.taskDeleted?.(row.uuid);
        return { status: 204, empty: true };
      },
    },
  ];
}
