import { sql, type Kysely, type SqlBool, type Transaction } from 'kysely';
import type BetterSqlite3 from 'better-sqlite3';
import type { Filter } from '@hearth/core';
import type { Database } from './schema.js';
import { compileFilter, type FilterFields } from './filter-sql.js';
import { StoreConflictError, StoreInputError } from './store-errors.js';

export type EntityTableName = 'tasks' | 'jobs' | 'pools';
type TagTableName = 'task_tags' | 'job_tags' | 'pool_tags';

/** One stored task, job or pool: its wire JSON in `doc`, plus the indexed columns. */
export interface EntityRecord {
  readonly seq: number;
  readonly uuid: string;
  readonly userId: number;
  readonly shortname: string;
  readonly name: string;
  readonly state: string;
  readonly profile: string | null;
  readonly poolUuid: string | null;
  readonly jobUuid: string | null;
  readonly creationDate: string;
  readonly lastModified: string;
  readonly doc: string;
}

export interface EntityWrite {
  readonly uuid: string;
  readonly shortname: string;
  readonly name: string;
  readonly state: string;
  readonly profile?: string | null;
  readonly poolUuid?: string | null;
  readonly jobUuid?: string | null;
  readonly creationDate: string;
  readonly lastModified: string;
  readonly tags: readonly string[];
  readonly doc: string;
}

export interface PageQuery {
  readonly filter?: Filter | null;
  readonly token?: string | null;
  /** @default 100 */
  readonly maximumResults?: number | null;
  /** A PascalCase field with an indexed column (CreationDate, Name, State, ...). @default CreationDate */
  readonly orderBy?: string | null;
  /** @default 'Ascending' */
  readonly orderType?: 'Ascending' | 'Descending' | null;
}

export interface Page {
  readonly rows: EntityRecord[];
  readonly nextToken: string | null;
}

export interface EntityKindConfig {
  readonly table: EntityTableName;
  readonly tagTable: TagTableName;
  readonly fields: FilterFields;
  /** Lower-cased orderable field → column. */
  readonly orderColumns: Readonly<Record<string, 'seq' | 'name' | 'shortname' | 'state' | 'last_modified'>>;
}

type Db = Kysely<Database> | Transaction<Database>;

const DEFAULT_PAGE = 100;

interface Cursor {
  /** Order field (lower-cased). */
  o: string;
  d: 'a' | 'd';
  /** Last value of the order column. */
  v: string | number;
  /** Last sequence number (tie-breaker). */
  s: number;
}

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(token: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Partial<Cursor>;
    if (
      typeof c.o === 'string' &&
      (c.d === 'a' || c.d === 'd') &&
      (typeof c.v === 'string' || typeof c.v === 'number') &&
      typeof c.s === 'number'
    ) {
      return c as Cursor;
    }
  } catch {
    // fall through to the error below
  }
  throw new StoreInputError('token', `'${token}' is not a token this server issued`);
}

function isUniqueViolation(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE';
}

const COLUMNS = `seq, uuid, user_id AS userId, shortname, name, state, profile, pool_uuid AS poolUuid,
  job_uuid AS jobUuid, creation_date AS creationDate, last_modified AS lastModified, doc`;

/**
 * Prepared statements for the hot paths (lookups, inserts, quota counts). Kysely prepares a statement on every
 * query, which dominated `GET /tasks/{uuid}`; these are prepared once per connection. They run on the same
 * connection as Kysely, so inside a Kysely transaction they are part of it.
 */
export class HotStatements {
  readonly byUuid: BetterSqlite3.Statement;
  readonly byShortname: BetterSqlite3.Statement;
  readonly anyByUuid: BetterSqlite3.Statement;
  readonly insert: BetterSqlite3.Statement;
  readonly insertTag: BetterSqlite3.Statement;
  readonly count: BetterSqlite3.Statement;

  readonly #raw: BetterSqlite3.Database;
  readonly #dataVersion: BetterSqlite3.Statement;
  /** Recently read rows by uuid; this connection's writes invalidate them, other connections' writes flush them. */
  readonly #rows = new Map<string, EntityRecord>();
  #version = -1;

  constructor(raw: BetterSqlite3.Database, kind: Pick<EntityKindConfig, 'table' | 'tagTable'>) {
    const t = kind.table;
    this.#raw = raw;
    this.#dataVersion = raw.prepare('PRAGMA data_version');
    this.byUuid = raw.prepare(`SELECT ${COLUMNS} FROM ${t} WHERE uuid = ? AND user_id = ?`);
    this.byShortname = raw.prepare(`SELECT ${COLUMNS} FROM ${t} WHERE user_id = ? AND shortname = ?`);
    this.anyByUuid = raw.prepare(`SELECT ${COLUMNS} FROM ${t} WHERE uuid = ?`);
    this.insert = raw.prepare(
      `INSERT INTO ${t} (uuid, user_id, shortname, name, state, profile, pool_uuid, job_uuid, creation_date, last_modified, doc)
       VALUES (@uuid, @userId, @shortname, @name, @state, @profile, @poolUuid, @jobUuid, @creationDate, @lastModified, @doc)`,
    );
    this.insertTag = raw.prepare(`INSERT OR IGNORE INTO ${kind.tagTable} (user_id, tag, entity_seq) VALUES (?, ?, ?)`);
    this.count = raw.prepare(`SELECT n FROM entity_counts WHERE user_id = ? AND kind = '${t}'`);
  }

  /** A user's row by uuid, from memory when nothing changed it since it was read (never inside a transaction). */
  rowByUuid(uuid: string, userId: number): EntityRecord | undefined {
    if (this.#raw.inTransaction) return this.byUuid.get(uuid, userId) as EntityRecord | undefined;
    const version = (this.#dataVersion.get() as { data_version: number }).data_version;
    if (version !== this.#version) {
      this.#rows.clear();
      this.#version = version;
    }
    const hit = this.#rows.get(uuid);
    if (hit) return hit.userId === userId ? hit : undefined;
    const row = this.byUuid.get(uuid, userId) as EntityRecord | undefined;
    if (row) {
      if (this.#rows.size >= 20_000) this.#rows.clear();
      this.#rows.set(uuid, row);
    }
    return row;
  }

  invalidate(uuid: string): void {
    this.#rows.delete(uuid);
  }
}

/** Stores one entity kind for every user; every method is scoped to a user. */
export class EntityRepository {
  constructor(
    private readonly db: Db,
    private readonly kind: EntityKindConfig,
    private readonly hot: HotStatements,
  ) {}

  withDb(db: Db): EntityRepository {
    return new EntityRepository(db, this.kind, this.hot);
  }

  /**
   * Inserts an entity. Must run inside {@link Store.transaction}: it uses prepared statements on the shared
   * connection, which are only atomic with the rest of a write while that write holds the connection.
   */
  async insert(userId: number, entity: EntityWrite): Promise<number> {
    if (!this.db.isTransaction) throw new Error('EntityRepository.insert must run inside Store.transaction');
    try {
      const info = this.hot.insert.run({
        uuid: entity.uuid,
        userId,
        shortname: entity.shortname,
        name: entity.name,
        state: entity.state,
        profile: entity.profile ?? null,
        poolUuid: entity.poolUuid ?? null,
        jobUuid: entity.jobUuid ?? null,
        creationDate: entity.creationDate,
        lastModified: entity.lastModified,
        doc: entity.doc,
      });
      const seq = Number(info.lastInsertRowid);
      this.writeTags(userId, seq, entity.tags);
      return Promise.resolve(seq);
    } catch (e) {
      if (isUniqueViolation(e)) {
        throw new StoreConflictError('shortname', `shortname '${entity.shortname}' is already used`);
      }
      throw e;
    }
  }

  private writeTags(userId: number, seq: number, tags: readonly string[]): void {
    for (const tag of new Set(tags)) this.hot.insertTag.run(userId, tag, seq);
  }

  private select(db: Db) {
    return db
      .selectFrom(`${this.kind.table} as e`)
      .select([
        'e.seq as seq',
        'e.uuid as uuid',
        'e.user_id as userId',
        'e.shortname as shortname',
        'e.name as name',
        'e.state as state',
        'e.profile as profile',
        'e.pool_uuid as poolUuid',
        'e.job_uuid as jobUuid',
        'e.creation_date as creationDate',
        'e.last_modified as lastModified',
        'e.doc as doc',
      ]);
  }

  /** Finds by uuid or by shortname, as every Qarnot route accepts either. */
  get(userId: number, idOrShortname: string): Promise<EntityRecord | undefined> {
    const row = this.hot.rowByUuid(idOrShortname, userId) ?? (this.hot.byShortname.get(userId, idOrShortname) as EntityRecord | undefined);
    return Promise.resolve(row);
  }

  /** Any user's entity by uuid: for the scheduler, never for the API. */
  getByUuid(uuid: string): Promise<EntityRecord | undefined> {
    return Promise.resolve(this.hot.anyByUuid.get(uuid) as EntityRecord | undefined);
  }

  /** Rewrites an entity's document (and tags). Run it inside {@link Store.transaction} when tags change. */
  async update(
    userId: number,
    uuid: string,
    patch: { state?: string; name?: string; lastModified: string; doc: string; tags?: readonly string[] },
  ): Promise<boolean> {
    this.hot.invalidate(uuid);
    const result = await this.db
      .updateTable(this.kind.table)
      .set({
        ...(patch.state !== undefined ? { state: patch.state } : {}),
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        last_modified: patch.lastModified,
        doc: patch.doc,
      })
      .where('uuid', '=', uuid)
      .where('user_id', '=', userId)
      .returning('seq')
      .executeTakeFirst();
    this.hot.invalidate(uuid);
    if (!result) return false;
    if (patch.tags) {
      await this.db.deleteFrom(this.kind.tagTable).where('entity_seq', '=', result.seq).execute();
      const unique = [...new Set(patch.tags)];
      if (unique.length > 0) {
        await this.db
          .insertInto(this.kind.tagTable)
          .values(unique.map((tag) => ({ user_id: userId, tag, entity_seq: result.seq })))
          .execute();
      }
    }
    return true;
  }

  async delete(userId: number, uuid: string): Promise<boolean> {
    this.hot.invalidate(uuid);
    const row = await this.db
      .deleteFrom(this.kind.table)
      .where('uuid', '=', uuid)
      .where('user_id', '=', userId)
      .returning('seq')
      .executeTakeFirst();
    this.hot.invalidate(uuid);
    // Tags go with it: ON DELETE CASCADE.
    return row !== undefined;
  }

  /** How many entities the user has; with `excludeStates`, only those in other states. */
  async count(userId: number, options: { excludeStates?: readonly string[] } = {}): Promise<number> {
    if (!options.excludeStates?.length) {
      const row = this.hot.count.get(userId) as { n: number } | undefined;
      return row?.n ?? 0;
    }
    const row = await this.db
      .selectFrom(this.kind.table)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', userId)
      .where('state', 'not in', options.excludeStates)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Keyset pagination: each page continues after the last (order value, sequence) pair, never with OFFSET. */
  async page(userId: number, query: PageQuery): Promise<Page> {
    const max = query.maximumResults ?? DEFAULT_PAGE;
    const cursor = query.token ? decodeCursor(query.token) : undefined;
    const orderKey = (query.orderBy ?? cursor?.o ?? 'creationdate').toLowerCase();
    // Own keys only: `orderBy: "constructor"` or `"__proto__"` must not find Object.prototype members.
    const column = Object.hasOwn(this.kind.orderColumns, orderKey) ? this.kind.orderColumns[orderKey] : undefined;
    if (!column) throw new StoreInputError('orderBy', `cannot order by '${query.orderBy ?? orderKey}'`);
    const dir: 'a' | 'd' = query.orderType ? (query.orderType === 'Descending' ? 'd' : 'a') : (cursor?.d ?? 'a');
    if (cursor && (cursor.o !== orderKey || cursor.d !== dir)) {
      throw new StoreInputError('token', 'the token belongs to a different ordering');
    }
    if (max === 0) return { rows: [], nextToken: query.token ?? null };

    let q = this.select(this.db).where('e.user_id', '=', userId);
    if (query.filter) {
      const predicate = compileFilter(query.filter, this.kind.fields);
      q = q.where(predicate);
    }
    const col = sql.ref(`e.${column}`);
    if (cursor) {
      if (column === 'seq') {
        q = q.where(dir === 'a' ? sql<SqlBool>`e.seq > ${cursor.s}` : sql<SqlBool>`e.seq < ${cursor.s}`);
      } else {
        q = q.where(
          dir === 'a'
            ? sql<SqlBool>`(${col} > ${cursor.v} OR (${col} = ${cursor.v} AND e.seq > ${cursor.s}))`
            : sql<SqlBool>`(${col} < ${cursor.v} OR (${col} = ${cursor.v} AND e.seq < ${cursor.s}))`,
        );
      }
    }
    const order = dir === 'a' ? sql`ASC` : sql`DESC`;
    q = column === 'seq' ? q.orderBy(sql`e.seq ${order}`) : q.orderBy(sql`${col} ${order}`).orderBy(sql`e.seq ${order}`);
    const rows = await q.limit(max + 1).execute();
    const truncated = rows.length > max;
    if (truncated) rows.length = max;
    const last = rows[rows.length - 1];
    const nextToken =
      truncated && last
        ? encodeCursor({ o: orderKey, d: dir, v: column === 'seq' ? last.seq : lastValue(last, column), s: last.seq })
        : null;
    return { rows, nextToken };
  }

  /** Every entity of a user in creation order (optionally filtered), fetched page by page. */
  async *all(userId: number, filter?: Filter | null): AsyncGenerator<EntityRecord> {
    let token: string | null = null;
    do {
      const page: Page = await this.page(userId, { filter: filter ?? null, token, maximumResults: 500 });
      yield* page.rows;
      token = page.nextToken;
    } while (token);
  }

  /** Every user's entities whose state is (or, with `not`, is not) one of `states`: for the scheduler. */
  async listByState(states: readonly string[], options: { not?: boolean } = {}): Promise<EntityRecord[]> {
    return this.select(this.db)
      .where('e.state', options.not ? 'not in' : 'in', states.length ? [...states] : [''])
      .orderBy('e.seq')
      .execute();
  }

  /** Finished entities whose document asks to be deleted on completion: for TTL timers at start-up. */
  async listAutoDelete(finalStates: readonly string[]): Promise<EntityRecord[]> {
    return this.select(this.db)
      .where('e.state', 'in', [...finalStates])
      .where(sql<SqlBool>`json_extract(e.doc, '$.autoDeleteOnCompletion') = 1`)
      .execute();
  }

  /** Entities referencing a job or pool (any state), for the scheduler and job routes. */
  async listBy(userId: number, by: { jobUuid?: string; poolUuid?: string }): Promise<EntityRecord[]> {
    let q = this.select(this.db).where('e.user_id', '=', userId);
    if (by.jobUuid !== undefined) q = q.where('e.job_uuid', '=', by.jobUuid);
    if (by.poolUuid !== undefined) q = q.where('e.pool_uuid', '=', by.poolUuid);
    return q.orderBy('e.seq').execute();
  }
}

function lastValue(row: EntityRecord, column: 'name' | 'shortname' | 'state' | 'last_modified'): string {
  switch (column) {
    case 'name':
      return row.name;
    case 'shortname':
      return row.shortname;
    case 'state':
      return row.state;
    case 'last_modified':
      return row.lastModified;
  }
}
