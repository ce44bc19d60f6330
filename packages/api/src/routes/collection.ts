import { pageRequest, searchRequest, validateInput, type Filter } from '@hearth/core';
import type { EntityRecord, EntityRepository, Store } from '@hearth/store';
import { ApiError, notFound } from '../api-error.js';
import type { Reply, RequestContext, RouteSpec } from '../router.js';

const JSON_TYPE = 'application/json; charset=utf-8';

/** How one collection (tasks, jobs, pools) is read: the shared list, page, search and get routes. */
export interface CollectionSpec {
  readonly plural: 'tasks' | 'jobs' | 'pools';
  readonly singular: 'task' | 'job' | 'pool';
  readonly repo: (store: Store) => EntityRepository;
  /**
   * Long-poll support for `GET /{plural}/{id}?longPollSeconds=N&ifState=S`: resolves when the entity may have
   * changed, or after the timeout. Collections without it answer at once.
   */
  readonly waitForChange?: (uuid: string, timeoutMs: number, signal: AbortSignal) => Promise<void>;
  /** Projection for `/summaries` routes; collections without summaries omit it. */
  readonly summary?: (doc: Record<string, unknown>) => Record<string, unknown>;
}

export function jsonReply(status: number, json: unknown): Reply {
  return { status, json };
}

/** Joins stored documents into a JSON array without parsing them: they are stored in wire form. */
function docsArray(rows: readonly EntityRecord[]): string {
  return `[${rows.map((r) => r.doc).join(',')}]`;
}

export async function findOr404(repo: EntityRepository, ctx: RequestContext, what: string): Promise<EntityRecord> {
  const id = ctx.params['id']!;
  const row = await repo.get(ctx.user.id, id);
  if (!row) throw notFound(`${what} not found: no ${what} with uuid or shortname '${id}'`);
  return row;
}

/**
 * Read-modify-write of one entity in a single transaction, so two concurrent updates cannot lose each other.
 * `change` gets the stored document and returns the new one (with its tags); it may throw to refuse.
 */
export async function updateEntity<D extends { uuid: string; lastModified: string; tags: string[] }>(
  store: Store,
  target: { plural: 'tasks' | 'jobs' | 'pools'; ctx: RequestContext },
  change: (doc: D) => D,
): Promise<D> {
  const { plural, ctx } = target;
  return store.transaction(async (scope) => {
    const repo = scope[plural];
    const row = await findOr404(repo, ctx, plural.slice(0, -1));
    const next = change(JSON.parse(row.doc) as D);
    await repo.update(ctx.user.id, row.uuid, { lastModified: next.lastModified, doc: JSON.stringify(next), tags: next.tags });
    return next;
  });
}

/** Holds a GET until the entity's state differs from `ifState` (or it is gone), or the timeout passes. */
async function longPoll(
  repo: EntityRepository,
  args: {
    ctx: RequestContext;
    row: EntityRecord;
    wait: (uuid: string, timeoutMs: number, signal: AbortSignal) => Promise<void>;
    timeoutMs: number;
  },
): Promise<EntityRecord> {
  const { ctx, wait, timeoutMs } = args;
  const ifState = ctx.query.get('ifState');
  const deadline = Date.now() + timeoutMs;
  const gone = new AbortController();
  ctx.req.once('close', () => gone.abort());
  let row = args.row;
  while (ifState !== null && row.state === ifState && Date.now() < deadline && !gone.signal.aborted) {
    await wait(row.uuid, deadline - Date.now(), gone.signal);
    const again = await repo.get(ctx.user.id, row.uuid);
    if (!again) break;
    row = again;
  }
  return row;
}

/** `?tag=a,b` (any of), as the C# SDK and the JS `summaries()` send. */
function tagFilter(query: URLSearchParams): Filter | null {
  const tags = query
    .getAll('tag')
    .flatMap((t) => t.split(','))
    .map((t) => t.trim())
    .filter(Boolean);
  if (tags.length === 0) return null;
  return { operator: 'Or', filters: tags.map((t) => ({ operator: 'Equal' as const, field: 'Tags', value: t })) };
}

async function allRows(repo: EntityRepository, userId: number, filter: Filter | null): Promise<EntityRecord[]> {
  const out: EntityRecord[] = [];
  for await (const r of repo.all(userId, filter)) out.push(r);
  return out;
}

export function collectionReadRoutes(spec: CollectionSpec, store: Store): RouteSpec[] {
  const repo = spec.repo(store);
  const base = `/${spec.plural}`;
  const tag = spec.plural;
  const Name = spec.singular.charAt(0).toUpperCase() + spec.singular.slice(1);

  const page = (summaries: boolean) => async (ctx: RequestContext): Promise<Reply> => {
    const body = (await ctx.body()) ?? {};
    const req = validateInput(pageRequest, body, 'page request');
    const result = await repo.page(ctx.user.id, req);
    const data = summaries && spec.summary
      ? JSON.stringify(result.rows.map((r) => spec.summary!(JSON.parse(r.doc) as Record<string, unknown>)))
      : docsArray(result.rows);
    const raw =
      `{"data":${data},"token":${JSON.stringify(req.token ?? null)},"nextToken":${JSON.stringify(result.nextToken)},` +
      `"isTruncated":${result.nextToken !== null},"count":${result.rows.length}}`;
    return { status: 200, raw, contentType: JSON_TYPE };
  };

  const routes: RouteSpec[] = [
    {
      method: 'GET',
      path: base,
      summary: `Every ${spec.singular} of the user (optionally \`?tag=a,b\`), unpaginated`,
      tag,
      handler: async (ctx) => ({
        status: 200,
        raw: docsArray(await allRows(repo, ctx.user.id, tagFilter(ctx.query))),
        contentType: JSON_TYPE,
      }),
    },
    {
      method: 'POST',
      path: `${base}/paginate`,
      summary: `A page of ${spec.plural}, with a filter (keyset pagination)`,
      tag,
      body: pageRequest,
      responses: { 200: 'a page `{data, token, nextToken, isTruncated, count}`', 400: 'bad filter or token' },
      handler: page(false),
    },
    {
      method: 'POST',
      path: `${base}/search`,
      summary: `${Name}s matching a filter, as a plain array (C# SDK data-detail request)`,
      tag,
      body: searchRequest,
      handler: async (ctx) => {
        const req = validateInput(searchRequest, (await ctx.body()) ?? {}, 'search request');
        const max = req.maximumResults ?? Number.POSITIVE_INFINITY;
        const fields = req.select?.fields?.map((f) => f.charAt(0).toLowerCase() + f.slice(1)) ?? [];
        const out: unknown[] = [];
        for await (const r of repo.all(ctx.user.id, req.filter ?? null)) {
          if (out.length >= max) break;
          const doc = JSON.parse(r.doc) as Record<string, unknown>;
          out.push(fields.length ? Object.fromEntries(['uuid', ...fields].map((f) => [f, Object.hasOwn(doc, f) ? doc[f] : null])) : doc);
        }
        return jsonReply(200, out);
      },
    },
    {
      method: 'GET',
      path: `${base}/{id}`,
      summary: `One ${spec.singular} by uuid or shortname`,
      tag,
      responses: { 200: `the ${spec.singular}`, 404: `no such ${spec.singular}` },
      handler: async (ctx) => {
        let row = await findOr404(repo, ctx, spec.singular);
        const seconds = ctx.query.get('longPollSeconds');
        const wait = spec.waitForChange;
        if (seconds !== null && wait) {
          const n = Number(seconds);
          if (!Number.isFinite(n) || n < 0) {
            throw new ApiError('invalid_request', "Invalid query parameter 'longPollSeconds': expected seconds", 'longPollSeconds');
          }
          row = await longPoll(repo, { ctx, row, wait, timeoutMs: Math.min(n, 60) * 1000 });
          ctx.res.setHeader('Hearth-Long-Poll', 'true');
        }
        return { status: 200, raw: row.doc, contentType: JSON_TYPE };
      },
    },
  ];
  if (spec.summary) {
    const summarize = spec.summary;
    routes.push(
      {
        method: 'GET',
        path: `${base}/summaries`,
        summary: `Summaries of every ${spec.singular} (optionally \`?tag=a,b\`)`,
        tag,
        handler: async (ctx) =>
          jsonReply(
            200,
            (await allRows(repo, ctx.user.id, tagFilter(ctx.query))).map((r) =>
              summarize(JSON.parse(r.doc) as Record<string, unknown>),
            ),
          ),
      },
      {
        method: 'POST',
        path: `${base}/summaries/paginate`,
        summary: `A page of ${spec.singular} summaries`,
        tag,
        body: pageRequest,
        handler: page(true),
      },
    );
  }
  return routes;
}

/** Runs a create under the user's quota: counts and inserts in one transaction so two requests cannot both pass. */
export function quotaError(message: string): ApiError {
  return new ApiError('quota_exceeded', message);
}
