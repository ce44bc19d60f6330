import { sql, type Migration } from 'kysely';

function entityTables(table: string, tagTable: string) {
  return [
    sql`CREATE TABLE ${sql.table(table)} (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      uuid TEXT NOT NULL UNIQUE,
      user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      shortname TEXT NOT NULL,
      name TEXT NOT NULL,
      state TEXT NOT NULL,
      profile TEXT,
      pool_uuid TEXT,
      job_uuid TEXT,
      creation_date TEXT NOT NULL,
      last_modified TEXT NOT NULL,
      doc TEXT NOT NULL,
      UNIQUE (user_id, shortname)
    )`,
    sql`CREATE INDEX ${sql.raw(`${table}_user_seq`)} ON ${sql.table(table)} (user_id, seq)`,
    sql`CREATE INDEX ${sql.raw(`${table}_user_state`)} ON ${sql.table(table)} (user_id, state, seq)`,
    sql`CREATE INDEX ${sql.raw(`${table}_user_name`)} ON ${sql.table(table)} (user_id, name, seq)`,
    sql`CREATE TABLE ${sql.table(tagTable)} (
      user_id INTEGER NOT NULL,
      tag TEXT NOT NULL,
      entity_seq INTEGER NOT NULL REFERENCES ${sql.table(table)}(seq) ON DELETE CASCADE,
      PRIMARY KEY (user_id, tag, entity_seq)
    ) WITHOUT ROWID`,
    sql`CREATE INDEX ${sql.raw(`${tagTable}_entity`)} ON ${sql.table(tagTable)} (entity_seq)`,
  ];
}

/** Migrations run in name order; never edit one that has shipped, add a new one. */
export const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db) {
      await sql`CREATE TABLE users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        token TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
      )`.execute(db);
      for (const [t, tags] of [
        ['tasks', 'task_tags'],
        ['jobs', 'job_tags'],
        ['pools', 'pool_tags'],
      ] as const) {
        for (const statement of entityTables(t, tags)) await statement.execute(db);
      }
      await sql`CREATE INDEX tasks_job ON tasks (job_uuid)`.execute(db);
      await sql`CREATE INDEX tasks_pool ON tasks (pool_uuid)`.execute(db);
      await sql`CREATE TABLE secrets (
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        iv BLOB NOT NULL,
        auth_tag BLOB NOT NULL,
        ciphertext BLOB NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (user_id, key)
      ) WITHOUT ROWID`.execute(db);
      await sql`CREATE TABLE idempotency_keys (
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        status INTEGER NOT NULL,
        body TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (user_id, key)
      ) WITHOUT ROWID`.execute(db);
    },
  },
  '0002_entity_counters': {
    // Quota checks run on every create: a counter kept by triggers avoids a COUNT(*) over the user's rows.
    async up(db) {
      await sql`CREATE TABLE entity_counts (
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (user_id, kind)
      ) WITHOUT ROWID`.execute(db);
      for (const table of ['tasks', 'jobs', 'pools']) {
        await sql`INSERT INTO entity_counts (user_id, kind, n)
          SELECT user_id, ${table}, COUNT(*) FROM ${sql.table(table)} GROUP BY user_id`.execute(db);
        await sql`CREATE TRIGGER ${sql.raw(`${table}_count_insert`)} AFTER INSERT ON ${sql.table(table)} BEGIN
          INSERT INTO entity_counts (user_id, kind, n) VALUES (NEW.user_id, ${sql.lit(table)}, 1)
          ON CONFLICT (user_id, kind) DO UPDATE SET n = n + 1;
        END`.execute(db);
        await sql`CREATE TRIGGER ${sql.raw(`${table}_count_delete`)} AFTER DELETE ON ${sql.table(table)} BEGIN
          UPDATE entity_counts SET n = n - 1 WHERE user_id = OLD.user_id AND kind = ${sql.lit(table)};
        END`.execute(db);
      }
    },
  },
  '0003_snapshots': {
    // Snapshot records outlive a restart: clients poll their status by id.
    async up(db) {
      await sql`CREATE TABLE snapshots (
        task_uuid TEXT NOT NULL REFERENCES tasks(uuid) ON DELETE CASCADE,
        id TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (task_uuid, id)
      ) WITHOUT ROWID`.execute(db);
    },
  },
};
