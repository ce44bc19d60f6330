import { randomUUID } from 'node:crypto';
import {
  QUOTA_MESSAGES,
  formatPath,
  isFinalTaskState,
  normalizeInput,
  poolInput,
  scaling,
  validateInput,
  type PoolJson,
  type TaskState,
} from '@hearth/core';
import { ApiError, badRequest } from '../api-error.js';
import type { ApiContext } from '../api-server.js';
import { checkHardwareConstraints } from '../hardware-check.js';
import { applyPoolUpdate, checkPoolRules, newPoolJson, poolSummary } from '../models/pool-model.js';
import type { RouteSpec } from '../router.js';
import { collectionReadRoutes, findOr404, jsonReply, quotaError, updateEntity } from './collection.js';
import { withIdempotency } from './idempotency.js';

const updateInput = poolInput.partial();

/**
 * ASP.NET-style ProblemDetails, as the Node SDK's scaling sanity-check test expects (reference §1.1): an unknown
 * policy or period `type` is reported on the element itself, `{"policies[0]": ["The input was not valid."]}`, as
 * ASP.NET's polymorphic binder does; other issues name their field.
 */
function scalingProblems(body: unknown): Record<string, string[]> | undefined {
  const result = scaling.safeParse(normalizeInput(scaling, body));
  if (result.success) return undefined;
  const errors: Record<string, string[]> = {};
  for (const issue of result.error.issues) {
    const unknownType = issue.code === 'invalid_union' && issue.path[issue.path.length - 1] === 'type';
    const key = formatPath(unknownType ? issue.path.slice(0, -1) : issue.path) || 'policies';
    (errors[key] ??= []).push(unknownType ? 'The input was not valid.' : issue.message);
  }
  return errors;
}

export function poolRoutes(app: ApiContext): RouteSpec[] {
  const repo = app.store.pools;
  return [
    ...collectionReadRoutes({ plural: 'pools', singular: 'pool', repo: (s) => s.pools, summary: (d) => poolSummary(d as unknown as PoolJson) }, app.store),
    {
      method: 'POST',
      path: '/pools',
      summary: 'Create a pool',
      tag: 'pools',
      body: poolInput,
      responses: { 201: '`{uuid}`', 400: 'invalid pool', 402: 'unsatisfiable hardware constraint', 403: 'maximum number of pools reached' },
      handler: async (ctx) => {
        const input = validateInput(poolInput, await ctx.body(), 'pool');
        checkPoolRules(input);
        const profile = app.profiles.find((p) => p.name.toLowerCase() === input.profile!.toLowerCase());
        if (!profile) throw badRequest(`Invalid pool field 'profile': unknown profile '${input.profile}'`, 'profile');
        checkHardwareConstraints(input.hardwareConstraints ?? [], app.hardware);
        const doc = newPoolJson({ ...input, profile: profile.name }, { uuid: randomUUID(), now: new Date().toISOString() });
        const reply = await withIdempotency(app.store, ctx, async (scope) => {
          if ((await scope.pools.count(ctx.user.id)) >= app.quotas.maxPool) throw quotaError(QUOTA_MESSAGES.pool);
          await scope.pools.insert(ctx.user.id, {
            uuid: doc.uuid,
            shortname: doc.shortname,
            name: doc.name,
            state: doc.state,
            profile: doc.profile,
            creationDate: doc.creationDate,
            lastModified: doc.lastModified,
            tags: doc.tags,
            doc: JSON.stringify(doc),
          });
          return { status: 201, body: JSON.stringify({ uuid: doc.uuid }) };
        });
        app.hooks?.poolCreated?.(doc.uuid);
        return reply;
      },
    },
    {
      method: 'PUT',
      path: '/pools/{id}',
      summary: 'Update a pool: elastic settings, scaling, constants, tags, ... (the fields that may change)',
      tag: 'pools',
      body: updateInput,
      handler: async (ctx) => {
        const input = validateInput(updateInput, (await ctx.body()) ?? {}, 'pool');
        const now = new Date().toISOString();
        const next = await updateEntity<PoolJson>(app.store, { plural: 'pools', ctx }, (doc) => applyPoolUpdate(doc, input, now));
        return jsonReply(200, next);
      },
    },
    {
      method: 'PUT',
      path: '/pools/{id}/scaling',
      summary: "Replace the pool's scaling policies",
      tag: 'pools',
      body: scaling,
      handler: async (ctx) => {
        const input = validateInput(scaling, await ctx.body(), 'scaling');
        const now = new Date().toISOString();
        const next = await updateEntity<PoolJson>(app.store, { plural: 'pools', ctx }, (doc) =>
          applyPoolUpdate(doc, { scaling: input }, now),
        );
        return jsonReply(200, next.scaling);
      },
    },
    {
      method: 'POST',
      path: '/sanity-checks/pools/scaling',
      summary: 'Check scaling policies without applying them: 200, or 400 ProblemDetails naming each invalid field',
      tag: 'pools',
      body: scaling,
      handler: async (ctx) => {
        const errors = scalingProblems(await ctx.body());
        // The Node SDK's test expects an empty body on success (axios then gives `''`).
        if (!errors) return { status: 200, empty: true };
        // `message` too, which the Python SDK and our own error readers look for first.
        const message = `Invalid scaling: ${Object.entries(errors)
          .map(([k, v]) => `${k}: ${v.join(' ')}`)
          .join('; ')}`;
        return {
          status: 400,
          raw: JSON.stringify({ title: 'One or more validation errors occurred.', status: 400, errors, message }),
          contentType: 'application/problem+json; charset=utf-8',
        };
      },
    },
    {
      method: 'DELETE',
      path: '/pools/{id}',
      summary: 'Delete a pool that runs no task',
      tag: 'pools',
      responses: { 204: 'deleted', 403: 'the pool still runs tasks', 404: 'no such pool' },
      handler: async (ctx) => {
        const row = await findOr404(repo, ctx, 'pool');
        const tasks = await app.store.tasks.listBy(ctx.user.id, { poolUuid: row.uuid });
        const running = tasks.filter((t) => !isFinalTaskState(t.state as TaskState));
        if (running.length > 0) {
          throw new ApiError('forbidden', `The pool still has ${running.length} unfinished tasks; abort or delete them first`);
        }
        await repo.delete(ctx.user.id, row.uuid);
        app.hooks?.poolDeleted?.(row.uuid);
        return { status: 204, empty: true };
      },
    },
  ];
}
