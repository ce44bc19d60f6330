import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export type LogStreamName = 'stdout' | 'stderr';

export interface LogStoreOptions {
  /** Where log files live (`<dir>/<taskUuid>/<instance|task>.<stream>`). */
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
  readonly file: string;
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
 * written to, flushed to files (temp + rename) every `flushIntervalMs`, read back from disk when not in memory.
 * Offsets are absolute, so readers following by offset never see a byte twice even after old output is dropped.
 */
export class LogStore {
  readonly #dir: string;
  readonly #max: number;
  readonly #rings = new Map<string, Ring>();
  readonly #timer: NodeJS.Timeout;
  #closed = false;

  constructor(options: LogStoreOptions) {
    this.#dir = options.dir;
    this.#max = options.maxBytes ?? 2 ** 20;
    mkdirSync(this.#dir, { recursive: true });
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
      const ring = this.#rings.get(this.#file(taskUuid, String(instanceId), stream));
      if (ring) ring.evict = true;
    }
  }

  remove(taskUuid: string): void {
    for (const [file] of this.#rings) if (file.startsWith(path.join(this.#dir, taskUuid) + path.sep)) this.#rings.delete(file);
    rmSync(path.join(this.#dir, taskUuid), { recursive: true, force: true });
  }

  flush(): void {
    for (const [file, ring] of this.#rings) {
      if (ring.dirty) {
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(`${file}.tmp`, joined(ring));
        writeFileSync(`${file}.meta.tmp`, JSON.stringify({ start: ring.start, cursor: ring.cursor }));
        renameSync(`${file}.tmp`, file);
        renameSync(`${file}.meta.tmp`, `${file}.meta`);
        ring.dirty = false;
      }
      if (ring.evict) this.#rings.delete(file);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.flush();
  }

  #file(taskUuid: string, k: string, stream: LogStreamName): string {
    return path.join(this.#dir, taskUuid, `${k}.${stream}`);
  }

  #ring(taskUuid: string, k: string, stream: LogStreamName): Ring {
    const file = this.#file(taskUuid, k, stream);
    let ring = this.#rings.get(file);
    if (ring) return ring;
    ring = { file, chunks: [], size: 0, start: 0, cursor: 0, dirty: false, evict: false };
    try {
      const meta = JSON.parse(readFileSync(`${file}.meta`, 'utf8')) as { start: number; cursor: number };
      const data = readFileSync(file);
      ring.chunks = [data];
      ring.size = data.length;
      ring.start = meta.start;
      ring.cursor = meta.cursor;
    } catch {
      // Nothing written yet.
    }
    // Readers of finished instances do not keep buffers in memory.
    if (k === TASK_KEY || !this.#closed) this.#rings.set(file, ring);
    return ring;
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
