import type { Store, StoreScope } from '@hearth/store';
import type { Reply, RequestContext } from '../router.js';

const JSON_TYPE = 'application/json; charset=utf-8';
const HEADER = 'idempotency-key';

/**
 * Runs a create in one transaction. With an `Idempotency-Key` header, a replayed request gets the first answer
 * back instead of creating a second entity; the key is recorded in the same transaction as the write.
 */
export async function withIdempotency(
  store: Store,
  ctx: RequestContext,
  write: (scope: StoreScope) => Promise<{ status: number; body: string }>,
): Promise<Reply> {
  const raw = ctx.req.headers[HEADER];
  const key = typeof raw === 'string' && raw.length > 0 && raw.length <= 255 ? `${ctx.req.url ?? ''} ${raw}` : undefined;
  const result = await store.transaction(async (scope) => {
    if (key) {
      const seen = await scope.idempotency.find(ctx.user.id, key);
      if (seen) return seen;
    }
    const out = await write(scope);
    if (key) await scope.idempotency.save({ userId: ctx.user.id, key }, out);
    return out;
  });
  return { status: result.status, raw: result.body, contentType: JSON_TYPE };
}
