import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type Transaction, type MigrationProvider } from 'kysely';
import type { Database } from './schema.js';
import { migrations } from './migrations.js';
import { EntityRepository, HotStatements, type EntityKindConfig } from './entity-repository.js';
import { IdempotencyRepository } from './idempotency-repository.js';
import { filterFields } from './filter-sql.js';
import { StoreConflictError } from './store-errors.js';

export interface StoreOptions {
  /** SQLite database file; created with its directory when missing. */
  readonly file: string;
  /** 32-byte key that encrypts secrets at rest (AES-256-GCM). */
  readonly secretsKey: Buffer;
}

/** What {@link Store.putSecret} writes. */
export interface PutSecretOptions {
  /** The secret's plain-text value (encrypted at rest). */
  readonly value: string;
  /** 'create' fails on an existing key, 'update' on a missing one. */
  readonly mode: 'create' | 'update';
}

export interface User {
  readonly id: number;
  readonly email: string;
  readonly token: string;
  readonly createdAt: string;
}

const COMMON_COLUMNS = {
  Name: 'name',
  Shortname: 'shortname',
  State: 'state',
  CreationDate: 'creation_date',
  LastModified: 'last_modified',
};

const ORDER_COLUMNS = {
  creationdate: 'seq',
  name: 'name',
  shortname: 'shortname',
  state: 'state',
  lastmodified: 'last_modified',
} as const;

/** Filterable task fields (reference §1.4, the C# SDK's names). */
const TASK_FIELDS = [
  'Uuid', 'Shortname', 'Name', 'Profile', 'ResultBucket', 'State', 'PreviousState', 'StateTransitionTime',
  'PreviousStateTransitionTime', 'LastModified', 'CreationDate', 'ResultsCount', 'Tags', 'Constants', 'Constraints',
  'Labels', 'Dependencies.DependsOn', 'SnapshotInterval', 'PoolUuid', 'ProjectUuid', 'JobUuid', 'InstanceCount',
  'MaxTimeQueueSeconds', 'RunningInstanceCount', 'RunningCoreCount', 'ExecutionTime', 'WallTime', 'EndDate',
  'ResultsWhitelist', 'ResultsBlacklist', 'ResultsBucketPrefix', 'SnapshotWhitelist', 'SnapshotBlacklist',
  'SnapshotBucket', 'SnapshotBucketPrefix', 'HardwareConstraints', 'DefaultResourcesCacheTTLSec', 'Privileges',
  'RetrySettings', 'CompletedInstances', 'ForcedNetworkRules', 'ForcedConstants', 'Progress', 'AdvancedRanges',
];
const POOL_FIELDS = [
  'Uuid', 'Shortname', 'Name', 'Profile', 'State', 'PreviousState', 'StateTransitionTime',
  'PreviousStateTransitionTime', 'LastModified', 'CreationDate', 'Tags', 'Constants', 'Constraints', 'Labels',
  'ProjectUuid', 'InstanceCount', 'RunningInstanceCount', 'RunningCoreCount', 'ExecutionTime', 'WallTime', 'EndDate',
  'HardwareConstraints', 'DefaultResourcesCacheTTLSec', 'Privileges', 'DefaultRetrySettings', 'MaxTimeQueueSeconds',
  'SchedulingType', 'ForcedNetworkRules', 'ForcedConstants', 'TaskDefaultWaitForPoolResourcesSynchronization',
];
const JOB_FIELDS = [
  'Uuid', 'Shortname', 'Name', 'State', 'PreviousState', 'StateTransitionTime', 'PreviousStateTransitionTime',
  'LastModified', 'CreationDate', 'EndDate', 'Tags', 'PoolUuid', 'ProjectUuid', 'UseDependencies', 'MaxWallTime',
  'AutoDeleteOnCompletion', 'CompletionTimeToLive',
];

const KINDS: Record<'tasks' | 'jobs' | 'pools', EntityKindConfig> = {
  tasks: {
    table: 'tasks',
    tagTable: 'task_tags',
    orderColumns: ORDER_COLUMNS,
    fields: filterFields({
      names: TASK_FIELDS,
      columns: { ...COMMON_COLUMNS, Uuid: 'uuid', Profile: 'profile', PoolUuid: 'pool_uuid', JobUuid: 'job_uuid' },
      arrays: ['Tags', 'Dependencies.DependsOn'],
      tagTable: 'task_tags',
    }),
  },
  pools: {
    table: 'pools',
    tagTable: 'pool_tags',
    orderColumns: ORDER_COLUMNS,
    fields: filterFields({
      names: POOL_FIELDS,
      columns: { ...COMMON_COLUMNS, Uuid: 'uuid', Profile: 'profile' },
      arrays: ['Tags'],
      tagTable: 'pool_tags',
    }),
  },
  jobs: {
    table: 'jobs',
    tagTable: 'job_tags',
    orderColumns: ORDER_COLUMNS,
    fields: filterFields({
      names: JOB_FIELDS,
      columns: { ...COMMON_COLUMNS, Uuid: 'uuid', PoolUuid: 'pool_uuid' },
      arrays: ['Tags'],
      tagTable: 'job_tags',
    }),
  },
};

/** Entity repositories bound to one connection or transaction. */
export interface StoreScope {
  readonly tasks: EntityRepository;
  readonly jobs: EntityRepository;
  readonly pools: EntityRepository;
  readonly idempotency: IdempotencyRepository;
}

const regexCache = new Map<string, RegExp>();
/** SQLite's `hearth_regexp(pattern, value)`; `value` is a column value (TEXT, INTEGER, REAL, BLOB or NULL). */
function regexpMatch(pattern: unknown, value: string | number | bigint | Buffer | null | undefined): number {
  if (typeof pattern !== 'string' || value === null || value === undefined) return 0;
  let re = regexCache.get(pattern);
  if (!re) {
    const [source, flags] = JSON.parse(pattern) as [string, string];
    re = new RegExp(source, flags);
    if (regexCache.size > 1000) regexCache.clear();
    regexCache.set(pattern, re);
  }
  return re.test(String(value)) ? 1 : 0;
}

/**
 * The durable store: SQLite in WAL mode with `synchronous=FULL`, so a write that returned survives a crash of the
 * process or the machine. Several processes may open the same file (the CLI adds users while a server runs).
 */
export class Store implements StoreScope {
  readonly tasks: EntityRepository;
  readonly jobs: EntityRepository;
  readonly pools: EntityRepository;
  readonly idempotency: IdempotencyRepository;
  private closed = false;

  private constructor(
    readonly db: Kysely<Database>,
    private readonly raw: BetterSqlite3.Database,
    private readonly secretsKey: Buffer,
  ) {
    this.tasks = new EntityRepository(db, KINDS.tasks, new HotStatements(raw, KINDS.tasks));
    this.jobs = new EntityRepository(db, KINDS.jobs, new HotStatements(raw, KINDS.jobs));
    this.pools = new EntityRepository(db, KINDS.pools, new HotStatements(raw, KINDS.pools));
    this.idempotency = new IdempotencyRepository(db);
  }

  static async open(options: StoreOptions): Promise<Store> {
    if (options.secretsKey.length !== 32) throw new Error('secretsKey must be 32 bytes');
    mkdirSync(path.dirname(options.file), { recursive: true });
    const raw = new BetterSqlite3(options.file);
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = FULL');
    raw.pragma('foreign_keys = ON');
    raw.pragma('busy_timeout = 5000');
    raw.function('hearth_regexp', { deterministic: true }, regexpMatch);
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
    const provider: MigrationProvider = { getMigrations: () => Promise.resolve(migrations) };
    const { error } = await new Migrator({ db, provider }).migrateToLatest();
    if (error) {
      await db.destroy();
      throw error instanceof Error ? error : new Error('migration failed', { cause: error });
    }
    return new Store(db, raw, options.secretsKey);
  }

  /** Runs `fn` in one transaction: all of its writes land together or not at all. */
  async transaction<T>(fn: (scope: StoreScope) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((trx: Transaction<Database>) =>
      fn({
        tasks: this.tasks.withDb(trx),
        jobs: this.jobs.withDb(trx),
        pools: this.pools.withDb(trx),
        idempotency: new IdempotencyRepository(trx),
      }),
    );
  }

  // ---- users

  async createUser(input: { email: string; token: string }): Promise<User> {
    this.usersByToken.clear(); // this connection's own writes do not move data_version
    const createdAt = new Date().toISOString();
    try {
      const row = await this.db
        .insertInto('users')
        .values({ email: input.email, token: input.token, created_at: createdAt })
        .returning('id')
        .executeTakeFirstOrThrow();
      this.usersByToken.clear();
      return { id: row.id, email: input.email, token: input.token, createdAt };
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new StoreConflictError('email', `a user with this email or token already exists`);
      }
      throw e;
    }
  }

  async updateUser(id: number, input: { email: string; token: string }): Promise<User> {
    this.usersByToken.clear(); // this connection's own writes do not move data_version
    try {
      const row = await this.db
        .updateTable('users')
        .set({ email: input.email, token: input.token })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      this.usersByToken.clear();
      return { id: row.id, email: row.email, token: row.token, createdAt: row.created_at };
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new StoreConflictError('email', `a user with this email or token already exists`);
      }
      throw e;
    }
  }

  /**
   * Token lookup on every request, from memory. The cache is dropped whenever another connection (the `hearth user`
   * commands) has committed since it was filled, which SQLite's `data_version` tells without reading any table.
   */
  findUserByToken(token: string): User | undefined {
    const version = (this.dataVersion.get() as { data_version: number }).data_version;
    if (version !== this.usersVersion) {
      this.usersByToken.clear();
      this.usersVersion = version;
    }
    const cached = this.usersByToken.get(token);
    if (cached !== undefined) return cached ?? undefined;
    const row = this.userByToken.get(token) as { id: number; email: string; token: string; created_at: string } | undefined;
    const user = row && { id: row.id, email: row.email, token: row.token, createdAt: row.created_at };
    if (this.usersByToken.size > 10_000) this.usersByToken.clear();
    this.usersByToken.set(token, user ?? null);
    return user;
  }

  private get userByToken(): BetterSqlite3.Statement {
    return (this.cachedUserByToken ??= this.raw.prepare('SELECT id, email, token, created_at FROM users WHERE token = ?'));
  }
  private cachedUserByToken: BetterSqlite3.Statement | undefined;
  private get dataVersion(): BetterSqlite3.Statement {
    return (this.cachedDataVersion ??= this.raw.prepare('PRAGMA data_version'));
  }
  private cachedDataVersion: BetterSqlite3.Statement | undefined;
  /** Users by token (null: known not to exist), valid while `usersVersion` is the database's data_version. */
  private readonly usersByToken = new Map<string, User | null>();
  private usersVersion = -1;

  async findUserById(id: number): Promise<User | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row && { id: row.id, email: row.email, token: row.token, createdAt: row.created_at };
  }

  async findUserByEmail(email: string): Promise<User | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
    return row && { id: row.id, email: row.email, token: row.token, createdAt: row.created_at };
  }

  async listUsers(): Promise<User[]> {
    const rows = await this.db.selectFrom('users').selectAll().orderBy('id').execute();
    return rows.map((r) => ({ id: r.id, email: r.email, token: r.token, createdAt: r.created_at }));
  }

  /** Deletes a user and everything they own. */
  async deleteUser(email: string): Promise<boolean> {
    this.usersByToken.clear(); // this connection's own writes do not move data_version
    const result = await this.db.deleteFrom('users').where('email', '=', email).executeTakeFirst();
    this.usersByToken.clear();
    return Number(result.numDeletedRows) > 0;
  }

  // ---- secrets (AES-256-GCM at rest)

  async getSecret(userId: number, key: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('secrets')
      .selectAll()
      .where('user_id', '=', userId)
      .where('key', '=', key)
      .executeTakeFirst();
    if (!row) return undefined;
    const decipher = createDecipheriv('aes-256-gcm', this.secretsKey, row.iv);
    decipher.setAuthTag(row.auth_tag);
    decipher.setAAD(Buffer.from(`${userId}:${key}`));
    return Buffer.concat([decipher.update(row.ciphertext), decipher.final()]).toString('utf8');
  }

  /** Writes a secret; false when `mode` forbids it ('create' on an existing key, 'update' on a missing one). */
  async putSecret(userId: number, key: string, options: PutSecretOptions): Promise<boolean> {
    const { value, mode } = options;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.secretsKey, iv);
    cipher.setAAD(Buffer.from(`${userId}:${key}`));
    const ciphertext = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    const values = { iv, auth_tag: cipher.getAuthTag(), ciphertext, updated_at: new Date().toISOString() };
    if (mode === 'update') {
      const r = await this.db
        .updateTable('secrets')
        .set(values)
        .where('user_id', '=', userId)
        .where('key', '=', key)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    }
    const r = await this.db
      .insertInto('secrets')
      .values({ user_id: userId, key, ...values })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  async deleteSecret(userId: number, key: string): Promise<boolean> {
    const r = await this.db.deleteFrom('secrets').where('user_id', '=', userId).where('key', '=', key).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Every secret key that starts with `prefix`, in key order. */
  async secretKeys(userId: number, prefix: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('secrets')
      .select('key')
      .where('user_id', '=', userId)
      .where('key', '>=', prefix)
      .where('key', '<', prefix + '\uffff')
      .orderBy('key')
      .execute();
    return rows.map((r) => r.key).filter((k) => k.startsWith(prefix));
  }

  // ---- snapshot records

  async saveSnapshot(taskUuid: string, id: string, doc: string): Promise<void> {
    await this.db
      .insertInto('snapshots')
      .values({ task_uuid: taskUuid, id, doc })
      .onConflict((oc) => oc.columns(['task_uuid', 'id']).doUpdateSet({ doc }))
      .execute();
  }

  async getSnapshot(taskUuid: string, id: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('snapshots').select('doc').where('task_uuid', '=', taskUuid).where('id', '=', id).executeTakeFirst();
    return row?.doc;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.destroy();
  }
}
