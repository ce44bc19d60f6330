import { mkdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';

export type LogStreamName = 'stdout' | 'stderr';

export interface LogStoreOptions {
  /** Where the log database lives (`<dir>/logs.db`). */
  readonly dir: string;
  /** Bytes kept per buffer (task-wide and per instance); older output is dropped. @default 1 MiB */
  readonly maxBytes?: number;
  /** How often dirty buffers are written to disk. @default 250 */
  readonly flushIntervalMs?: number;
}

/** A slice of a log: the bytes from absolute offset `start` to `end` (offsets count every byte ever written). */
export interface LogSlice {
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

interface Ring {
  readonly task: string;
  /** `<instance|task>.<stream>` */
  readonly name: string;
  /** Retained bytes as appended chunks (joined lazily); `start` is the absolute offset of the first byte. */
  chunks: Buffer[];
  size: number;
  start: number;
  /** The shared "fresh" cursor of `POST .../stdout` (absolute offset). */
  cursor: number;
  dirty: boolean;
  /** Buffers of finished instances are written once more, then forgotten from memory. */
  evict: boolean;
}

const TASK_KEY = 'task';

/**
 * Bounded circular stdout/stderr buffers per task and per instance that survive a restart: kept in memory while
 * written to, written every `flushIntervalMs` to a SQLite database of their own (one transaction for every buffer
 * that changed — a file per buffer cost a file creation per instance), read back from it when not in memory.
 * The database is not fsynced at each flush: logs survive a crash of the server, and a power cut loses the last
 * flushes at most. Offsets are absolute, so readers following by offset never see a byte twice even after old
 * output is dropped.
 */
export class LogStore {
  readonly #max: number;
  readonly #rings = new Map<string, Ring>();
  readonly #timer: NodeJS.Timeout;
  readonly #db: BetterSqlite3.Database;
  readonly #sql: {
    put: BetterSqlite3.Statement<[string, string, number, number, Buffer]>;
    get: BetterSqlite3.Statement<[string, string], { start: number; cursor: number; data: Buffer }>;
    names: BetterSqlite3.Statement<[string], { name: string }>;
    drop: BetterSqlite3.Statement<[string]>;
  };
  /** Names of each task's buffers that are in the database (read once per task): a new buffer needs no lookup. */
  readonly #stored = new Map<string, Set<string>>();
  #closed = false;

  constructor(options: LogStoreOptions) {
    this.#max = options.maxBytes ?? 2 ** 20;
    mkdirSync(options.dir, { recursive: true });
    this.#db = new BetterSqlite3(path.join(options.dir, 'logs.db'));
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = NORMAL');
    this.#db.exec(
      'CREATE TABLE IF NOT EXISTS rings (task TEXT NOT NULL, name TEXT NOT NULL, start INTEGER NOT NULL, cursor INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (task, name)) WITHOUT ROWID',
    );
    this.#sql = {
      put: this.#db.prepare(
        'INSERT INTO rings (task, name, start, cursor, data) VALUES (?, ?, ?, ?, ?) ON CONFLICT (task, name) DO UPDATE SET start = excluded.start, cursor = excluded.cursor, data = excluded.data',
      ),
      get: this.#db.prepare('SELECT start, cursor, data FROM rings WHERE task = ? AND name = ?'),
      names: this.#db.prepare('SELECT name FROM rings WHERE task = ?'),
      drop: this.#db.prepare('DELETE FROM rings WHERE task = ?'),
    };
    this.#timer = setInterval(() => this.flush(), options.flushIntervalMs ?? 250);
    this.#timer.unref();
  }

  /** Appends a chunk to the instance's buffer and to the task-wide one. */
  append(taskUuid: string, chunk: { instanceId: number; stream: LogStreamName; data: Buffer }): void {
    const { instanceId, stream, data } = chunk;
    if (this.#closed || data.length === 0) return;
    this.#write(this.#ring(taskUuid, String(instanceId), stream), data);
    this.#write(this.#ring(taskUuid, TASK_KEY, stream), data);
  }

  /** Output from `query.offset` on (default: everything retained); the task-wide output when `instanceId` is undefined. */
  read(taskUuid: string, query: { instanceId: number | undefined; stream: LogStreamName; offset?: number | undefined }): LogSlice {
    const { instanceId, stream, offset } = query;
    const ring = this.#ring(taskUuid, key(instanceId), stream);
    const end = ring.start + ring.size;
    const from = Math.min(Math.max(offset ?? ring.start, ring.start), end);
    return { text: joined(ring).subarray(from - ring.start).toString('utf8'), start: from, end };
  }

  /** What was written since the previous call (the server-side cursor of `POST .../stdout`). */
  fresh(taskUuid: string, instanceId: number | undefined, stream: LogStreamName): string {
    const ring = this.#ring(taskUuid, key(instanceId), stream);
    const slice = this.read(taskUuid, { instanceId, stream, offset: ring.cursor });
    ring.cursor = slice.end;
    ring.dirty = true;
    return slice.text;
  }

  /** The instance will write no more: its buffers leave memory after their last flush. */
  release(taskUuid: string, instanceId: number): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      const ring = this.#rings.get(`${taskUuid}/${instanceId}.${stream}`);
      if (ring) ring.evict = true;
    }
  }

  remove(taskUuid: string): void {
    for (const [id, ring] of this.#rings) if (ring.task === taskUuid) this.#rings.delete(id);
    this.#stored.delete(taskUuid);
    if (!this.#closed) this.#sql.drop.run(taskUuid);
  }

  flush(): void {
    if (!this.#db.open) return;
    const dirty = [...this.#rings.values()].filter((r) => r.dirty);
    if (dirty.length > 0) {
      this.#db.transaction(() => {
        for (const ring of dirty) {
          this.#sql.put.run(ring.task, ring.name, ring.start, ring.cursor, joined(ring));
          this.#stored.get(ring.task)?.add(ring.name);
        }
      })();
      for (const ring of dirty) ring.dirty = false;
    }
    for (const [id, ring] of this.#rings) if (ring.evict) this.#rings.delete(id);
  }

  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    clearInterval(this.#timer);
    this.#db.close();
  }

  #ring(taskUuid: string, k: string, stream: LogStreamName): Ring {
    const name = `${k}.${stream}`;
    const id = `${taskUuid}/${name}`;
    let ring = this.#rings.get(id);
    if (ring) return ring;
    ring = { task: taskUuid, name, chunks: [], size: 0, start: 0, cursor: 0, dirty: false, evict: false };
    const row = this.#db.open && this.#storedNames(taskUuid).has(name) ? this.#sql.get.get(taskUuid, name) : undefined;
    if (row) {
      ring.chunks = [row.data];
      ring.size = row.data.length;
      ring.start = row.start;
      ring.cursor = row.cursor;
    }
    // Readers of finished instances do not keep buffers in memory.
    if (k === TASK_KEY || !this.#closed) this.#rings.set(id, ring);
    return ring;
  }

  #storedNames(taskUuid: string): Set<string> {
    let names = this.#stored.get(taskUuid);
    if (!names) {
      names = new Set(this.#sql.names.all(taskUuid).map((r) => r.name));
      this.#stored.set(taskUuid, names);
      // Bounded: the least recently loaded task's names are read again if it ever needs them.
      if (this.#stored.size > 64) this.#stored.delete(this.#stored.keys().next().value as string);
    }
    return names;
  }

  #write(ring: Ring, data: Buffer): void {
    ring.evict = false;
    ring.chunks.push(Buffer.from(data));
    ring.size += data.length;
    // Drop whole chunks from the front, then trim the first one: O(chunk) per append, memory bounded.
    while (ring.size > this.#max) {
      const first = ring.chunks[0]!;
      const excess = ring.size - this.#max;
      if (first.length <= excess) {
        ring.chunks.shift();
        ring.size -= first.length;
        ring.start += first.length;
      } else {
        ring.chunks[0] = first.subarray(excess);
        ring.size -= excess;
        ring.start += excess;
      }
    }
    ring.dirty = true;
  }
}

function joined(ring: Ring): Buffer {
  if (ring.chunks.length > 1) ring.chunks = [Buffer.concat(ring.chunks, ring.size)];
  return ring.chunks[0] ?? Buffer.alloc(0);
}

function key(instanceId: number | undefined): string {
  return instanceId === undefined ? TASK_KEY : String(instanceId);
}
