import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

/** Answers already given to requests that carried an idempotency key. */
export class IdempotencyRepository {
  constructor(private readonly db: Kysely<Database> | Transaction<Database>) {}

  async find(userId: number, key: string): Promise<{ status: number; body: string } | undefined> {
    return this.db
      .selectFrom('idempotency_keys')
      .select(['status', 'body'])
      .where('user_id', '=', userId)
      .where('key', '=', key)
      .executeTakeFirst();
  }

  async save(scope: { userId: number; key: string }, response: { status: number; body: string }): Promise<void> {
    await this.db
      .insertInto('idempotency_keys')
      .values({
        user_id: scope.userId,
        key: scope.key,
        status: response.status,
        body: response.body,
        created_at: new Date().toISOString(),
      })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }
}
