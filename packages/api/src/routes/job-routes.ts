import { randomUUID } from 'node:crypto';
import { QUOTA_MESSAGES, isFinalTaskState, jobInput, validateInput, type JobJson, type TaskState } from '@hearth/core';
import { ApiError, badRequest } from '../api-error.js';
import type { ApiContext } from '../api-server.js';
import { applyJobUpdate, newJobJson } from '../models/job-model.js';
import type { RouteSpec } from '../router.js';
import { collectionReadRoutes, findOr404, jsonReply, quotaError, updateEntity } from './collection.js';
import { withIdempotency } from './idempotency.js';

const JSON_TYPE = 'application/json; charset=utf-8';
const updateInput = jobInput.partial();

/** `?force=True|true|1` as the Python (bool repr) and C# SDKs send it. */
export function forceFlag(query: URLSearchParams): boolean {
  const v = query.get('force');
  if (v === null) return false;
  if (/^(true|1)$/i.test(v)) return true;
  if (/^(false|0)$/i.test(v)) return false;
  throw badRequest(`Invalid query parameter 'force': expected true or false, got '${v}'`, 'force');
}

export function jobRoutes(app: ApiContext): RouteSpec[] {
  const repo = app.store.jobs;
  return [
    ...collectionReadRoutes({ plural: 'jobs', singular: 'job', repo: (s) => s.jobs }, app.store),
    {
      method: 'POST',
      path: '/jobs',
      summary: 'Create a job (the Python SDK posts to `/jobs/` with a trailing slash; both work)',
      tag: 'jobs',
      body: jobInput,
      responses: { 201: '`{uuid}`', 400: 'invalid job', 403: 'maximum number of jobs reached' },
      handler: async (ctx) => {
        const input = validateInput(jobInput, await ctx.body(), 'job');
        if (input.poolUuid && !(await app.store.pools.get(ctx.user.id, input.poolUuid))) {
          throw badRequest(`Invalid job field 'poolUuid': pool '${input.poolUuid}' not found`, 'poolUuid');
        }
        const doc = newJobJson(input, { uuid: randomUUID(), now: new Date().toISOString() });
        const reply = await withIdempotency(app.store, ctx, async (scope) => {
          if ((await scope.jobs.count(ctx.user.id)) >= app.quotas.maxJob) throw quotaError(QUOTA_MESSAGES.job);
          await scope.jobs.insert(ctx.user.id, {
            uuid: doc.uuid,
            shortname: doc.shortname,
            name: doc.name,
            state: doc.state,
            poolUuid: doc.poolUuid,
            creationDate: doc.creationDate,
            lastModified: doc.lastModified,
            tags: doc.tags,
            doc: JSON.stringify(doc),
          });
          return { status: 201, body: JSON.stringify({ uuid: doc.uuid }) };
        });
        app.hooks?.jobCreated?.(doc.uuid);
        return reply;
      },
    },
    {
      method: 'PUT',
      path: '/jobs/{id}',
      summary: 'Update a job (tags)',
      tag: 'jobs',
      body: updateInput,
      handler: async (ctx) => {
        const input = validateInput(updateInput, (await ctx.body()) ?? {}, 'job');
        const now = new Date().toISOString();
        const next = await updateEntity<JobJson>(app.store, { plural: 'jobs', ctx }, (doc) => applyJobUpdate(doc, input, now));
        return jsonReply(200, next);
      },
    },
    {
      method: 'GET',
      path: '/jobs/{id}/tasks',
      summary: "The job's tasks",
      tag: 'jobs',
      handler: async (ctx) => {
        const row = await findOr404(repo, ctx, 'job');
        const tasks = await app.store.tasks.listBy(ctx.user.id, { jobUuid: row.uuid });
        return { status: 200, raw: `[${tasks.map((t) => t.doc).join(',')}]`, contentType: JSON_TYPE };
      },
    },
    {
      method: 'DELETE',
      path: '/jobs/{id}',
      summary: 'Delete a job and its tasks; with running tasks, only with `?force=true` (they are aborted)',
      tag: 'jobs',
      responses: { 204: 'deleted', 403: 'job still contains running tasks', 404: 'no such job' },
      handler: async (ctx) => {
        const force = forceFlag(ctx.query);
        const row = await findOr404(repo, ctx, 'job');
        const tasks = await app.store.tasks.listBy(ctx.user.id, { jobUuid: row.uuid });
        const running = tasks.filter((t) => !isFinalTaskState(t.state as TaskState));
        if (running.length > 0 && !force) {
          throw new ApiError(
            'forbidden',
            `The job still contains running tasks (${running.length}); delete it with force=true to abort them`,
          );
        }
        await app.store.transaction(async (scope) => {
          for (const t of tasks) await scope.tasks.delete(ctx.user.id, t.uuid);
          await scope.jobs.delete(ctx.user.id, row.uuid);
        });
        for (const t of tasks) app.hooks?.taskDeleted?.(t.uuid);
        app.hooks?.jobDeleted?.(row.uuid);
        return { status: 204, empty: true };
      },
    },
  ];
}
