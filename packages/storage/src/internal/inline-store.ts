import BetterSqlite3 from 'better-sqlite3';
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { IndexEntry } from './key-index.js';
import type { ObjectMeta } from './object-file.js';

/**
 * Small objects (up to {@link FsBackend}'s inline limit, 64 KiB by default) live in one SQLite database,
 * `<dataDir>/small.db`, body and metadata in one row, instead of one file each. A small PUT is then an INSERT into the
 * WAL (page cache) plus a share of one `fdatasync` of the WAL, with no file to create, rename or unlink and no directory
 * to fsync: file creation was most of the cost of a small PUT.
 *
 * Durability: the connection runs with `synchronous = NORMAL`, so SQLite itself never waits for the disk on a commit
 * (the main thread never blocks on it), yet it still syncs the WAL before each checkpoint, the database after it, and the
 * WAL header when the WAL is reused, so the database is never corrupt. What NORMAL alone would lose on power failure
 * are the last commits; {@link InlineStore.sync} closes that gap: it `fdatasync`s the WAL file (in the thread pool,
 * through our own descriptor of the same file) and resolves only once a sync that *started after the call* is done,
 * so every commit made before the call is on disk. Concurrent writers share syncs (group commit): while one runs,
 * everyone who arrives waits for the next one. A PUT is acknowledged only after `sync()`.
 *
 * Rows are also committed in batches: {@link put} queues the row and every row queued during one turn of the event
 * loop goes in one transaction (one WAL append, pages shared by neighbouring keys written once).
 */
export interface InlineRow {
  readonly meta: ObjectMeta;
  readonly data: Buffer;
}

interface PendingRow {
  readonly bucket: string;
  readonly meta: ObjectMeta;
  readonly data: Buffer;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

export class InlineStore {
  readonly #db: BetterSqlite3.Database;
  readonly #get: BetterSqlite3.Statement<[string, string], { meta: string; data: Buffer | null }>;
  readonly #has: BetterSqlite3.Statement<[string, string], { one: number }>;
  readonly #put: BetterSqlite3.Statement<[string, string, number, string, number, string, Buffer]>;
  readonly #del: BetterSqlite3.Statement<[string, string]>;
  readonly #delBucket: BetterSqlite3.Statement<[string]>;
  readonly #list: BetterSqlite3.Statement<[string], { key: string; size: number; etag: string; modified: number }>;
  readonly #putMany: (rows: readonly PendingRow[]) => void;
  #queue: PendingRow[] = [];
  #flushing: NodeJS.Immediate | undefined;
  readonly #walPath: string;
  #wal: Promise<FileHandle> | undefined;
  #running: Promise<void> | undefined;
  #next: Promise<void> | undefined;
  /** WAL fdatasyncs actually issued; tests read it to see grouping happen. */
  syncs = 0;

  /** Opens (creating if needed) `<dir>/small.db`. The caller must fsync `dir` once before relying on it. */
  constructor(dir: string) {
    const file = path.join(dir, 'small.db');
    this.#walPath = `${file}-wal`;
    this.#db = new BetterSqlite3(file, { timeout: 5000 });
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = NORMAL');
    // A checkpoint (WAL folded into the database, two fsyncs) runs inside a commit, on the main thread, every ~4 MiB
    // of WAL: SQLite's default, which keeps each such stall to a few milliseconds.
    this.#db.pragma('wal_autocheckpoint = 1000');
    this.#db.exec(`CREATE TABLE IF NOT EXISTS objects (
      bucket TEXT NOT NULL,
      key TEXT NOT NULL,
      size INTEGER NOT NULL,
      etag TEXT NOT NULL,
      modified INTEGER NOT NULL,
      meta TEXT NOT NULL,
      data BLOB NOT NULL,
      PRIMARY KEY (bucket, key)
    )`);
    this.#get = this.#db.prepare('SELECT meta, data FROM objects WHERE bucket = ? AND key = ?');
    this.#has = this.#db.prepare('SELECT 1 AS one FROM objects WHERE bucket = ? AND key = ?');
    this.#put = this.#db.prepare('INSERT OR REPLACE INTO objects (bucket, key, size, etag, modified, meta, data) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.#del = this.#db.prepare('DELETE FROM objects WHERE bucket = ? AND key = ?');
    this.#delBucket = this.#db.prepare('DELETE FROM objects WHERE bucket = ?');
    this.#list = this.#db.prepare('SELECT key, size, etag, modified FROM objects WHERE bucket = ?');
    this.#putMany = this.#db.transaction((rows: readonly PendingRow[]) => {
      for (const r of rows) this.#insert(r);
    });
  }

  get(bucket: string, key: string): InlineRow | undefined {
    const row = this.#get.get(bucket, key);
    if (!row) return undefined;
    return { meta: JSON.parse(row.meta) as ObjectMeta, data: row.data ?? Buffer.alloc(0) };
  }

  has(bucket: string, key: string): boolean {
    return this.#has.get(bucket, key) !== undefined;
  }

  /**
   * Commits the object with the other rows queued in this turn of the event loop; resolves once it is committed
   * (visible to every reader), and it is durable once a {@link sync} called after that resolves. The caller holds the
   * key's lock, so one batch never has the same key twice.
   */
  put(bucket: string, meta: ObjectMeta, data: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ bucket, meta, data, resolve, reject });
      this.#flushing ??= setImmediate(() => this.#flush());
    });
  }

  #insert(r: PendingRow): void {
    this.#put.run(r.bucket, r.meta.key, r.meta.size, r.meta.etag, r.meta.lastModified, JSON.stringify(r.meta), r.data);
  }

  #flush(): void {
    this.#flushing = undefined;
    const rows = this.#queue;
    this.#queue = [];
    if (rows.length === 0) return;
    try {
      this.#putMany(rows);
    } catch {
      // The transaction rolled back as a whole: commit the rows one by one, so only a failing row fails its PUT.
      for (const r of rows) {
        try {
          this.#insert(r);
        } catch (e) {
          r.reject(e);
          continue;
        }
        r.resolve();
      }
      return;
    }
    for (const r of rows) r.resolve();
  }

  /** Removes the key; true when there was a row. Durable once a later {@link sync} resolves. */
  delete(bucket: string, key: string): boolean {
    return this.#del.run(bucket, key).changes > 0;
  }

  /** Removes every row of the bucket; returns how many there were. */
  deleteBucket(bucket: string): number {
    return this.#delBucket.run(bucket).changes;
  }

  entries(bucket: string): Array<[string, IndexEntry]> {
    return this.#list.all(bucket).map((r) => [r.key, { size: r.size, etag: r.etag, lastModified: r.modified, inline: true }]);
  }

  /** Resolves once every commit made before the call is on disk (group commit; see the class comment). */
  sync(): Promise<void> {
    if (!this.#running) return this.#start();
    this.#next ??= this.#running.then(
      () => this.#start(),
      () => this.#start(),
    );
    return this.#next;
  }

  #start(): Promise<void> {
    this.#next = undefined;
    const running = this.#fdatasync();
    this.#running = running;
    const done = (): void => {
      if (this.#running === running && this.#next === undefined) this.#running = undefined;
    };
    running.then(done, done);
    return running;
  }

  async #fdatasync(): Promise<void> {
    this.syncs++;
    // The WAL exists from the first write on and keeps its inode while this connection is open (SQLite deletes it
    // only when the last connection closes), so one descriptor serves for the store's life.
    this.#wal ??= open(this.#walPath, 'r');
    const wal = this.#wal;
    try {
      await (await wal).datasync();
    } catch (e) {
      if (this.#wal === wal) this.#wal = undefined;
      throw e;
    }
  }

  async close(): Promise<void> {
    if (this.#flushing) {
      clearImmediate(this.#flushing);
      this.#flush();
    }
    const wal = this.#wal;
    this.#wal = undefined;
    await this.#running?.catch(() => undefined);
    await this.#next?.catch(() => undefined);
    if (wal) await (await wal.catch(() => undefined))?.close();
    this.#db.close();
  }
}
