/**
 * Hearth's durable store: users, tasks, jobs, pools, secrets and idempotency keys in SQLite (WAL, synchronous=FULL)
 * through Kysely.
 *
 * @example
 * ```ts
 * const store = await Store.open({ file: '.hearth/hearth.db', secretsKey: randomBytes(32) });
 * const user = await store.createUser({ email: 'me@example.com', token: 't0ken' });
 * const page = await store.tasks.page(user.id, { maximumResults: 10 });
 * ```
 * @module
 */
export { Store, type PutSecretOptions, type StoreOptions, type StoreScope, type User } from './store.js';
export {
  EntityRepository,
  type EntityRecord,
  type EntityWrite,
  type Page,
  type PageQuery,
} from './entity-repository.js';
export { StoreConflictError, StoreInputError } from './store-errors.js';
export { IdempotencyRepository } from './idempotency-repository.js';
