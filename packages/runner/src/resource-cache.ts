import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { BlobStore, ObjectRef } from '@hearth/storage';

export interface ResourceCacheOptions {
  /** Used when a fetch gives no TTL. @default 2592000 (30 days, Qarnot's usual `cacheTTLSec`) */
  readonly defaultTtlSec?: number;
  /** Clock, for tests. @default Date.now */
  readonly now?: () => number;
}

export interface CacheFetchOptions {
  readonly store: BlobStore;
  /** The object's ETag as listed: part of the cache key, so a changed object is never served stale. */
  readonly etag: string;
  /** How long this copy may be reused. 0 = never reused (concurrent requests still share one download). */
  readonly ttlSec?: number | null;
  readonly signal?: AbortSignal;
}

export interface ResourceCacheStats {
  /** Requests served from a cached copy. */
  hits: number;
  /** Requests that joined a download already in flight. */
  joined: number;
  /** Objects read from the blob store. */
  downloads: number;
  bytesDownloaded: number;
}

interface Entry {
  readonly file: string;
  readonly fetchedAt: number;
  readonly ttlMs: number;
  readonly size: number;
  readonly mtimeMs: number;
}

/**
 * The node-level resource cache: one copy per (owner, bucket, key, ETag) on local disk, shared by every instance on
 * this node. Concurrent requests for the same object share one download, so 100 instances of a task read a shared
 * file from storage once. Callers hard-link (or copy) the returned file into their working dir.
 */
export class ResourceCache {
  readonly stats: ResourceCacheStats = { hits: 0, joined: 0, downloads: 0, bytesDownloaded: 0 };
  readonly #dir: string;
  readonly #defaultTtlMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<Entry>>();

  constructor(dir: string, options: ResourceCacheOptions = {}) {
    this.#dir = dir;
    this.#defaultTtlMs = (options.defaultTtlSec ?? 2_592_000) * 1000;
    this.#now = options.now ?? Date.now;
  }

  get dir(): string {
    return this.#dir;
  }

  /** Returns the path of a local, complete copy of the object, downloading it at most once at a time. */
  async fetch(ref: ObjectRef, options: CacheFetchOptions): Promise<string> {
    const id = cacheId(ref, options.etag);
    const ttlMs = options.ttlSec == null ? this.#defaultTtlMs : options.ttlSec * 1000;
    const known = this.#entries.get(id) ?? (await this.#loadEntry(id));
    if (known && (await this.#isValid(known, ttlMs))) {
      this.stats.hits++;
      return known.file;
    }
    let pending = this.#inflight.get(id);
    if (pending) {
      this.stats.joined++;
    } else {
      // The download is shared: it must not die with the first caller's signal, only with the store.
      pending = this.#download(id, { ref, store: options.store, ttlMs }).finally(() => this.#inflight.delete(id));
      this.#inflight.set(id, pending);
    }
    const entry = await abortable(pending, options.signal);
    return entry.file;
  }

  /** Deletes expired copies (files already linked into working dirs live on through their links). */
  async prune(): Promise<number> {
    let removed = 0;
    let names: string[] = [];
    try {
      names = await readdir(this.#dir);
    } catch {
      return 0;
    }
    for (const name of names) {
      if (!name.endsWith('.json')) continue;
      const id = name.slice(0, -5);
      if (this.#inflight.has(id)) continue;
      const entry = this.#entries.get(id) ?? (await this.#loadEntry(id));
      if (entry && this.#now() < entry.fetchedAt + entry.ttlMs) continue;
      this.#entries.delete(id);
      await rm(path.join(this.#dir, id), { force: true });
      await rm(path.join(this.#dir, name), { force: true });
      removed++;
    }
    return removed;
  }

  async #isValid(entry: Entry, ttlMs: number): Promise<boolean> {
    if (this.#now() >= entry.fetchedAt + Math.min(ttlMs, entry.ttlMs)) return false;
    // A hard-linked copy can be modified in place by an instance: never hand out a copy that changed.
    try {
      const st = await stat(entry.file);
      return st.size === entry.size && st.mtimeMs === entry.mtimeMs;
    } catch {
      return false;
    }
  }

  async #loadEntry(id: string): Promise<Entry | undefined> {
    try {
      const meta = JSON.parse(await readFile(path.join(this.#dir, `${id}.json`), 'utf8')) as Omit<Entry, 'file'>;
      const entry: Entry = { ...meta, file: path.join(this.#dir, id) };
      this.#entries.set(id, entry);
      return entry;
    } catch {
      return undefined;
    }
  }

  async #download(id: string, { ref, store, ttlMs }: { ref: ObjectRef; store: BlobStore; ttlMs: number }): Promise<Entry> {
    await mkdir(this.#dir, { recursive: true });
    const file = path.join(this.#dir, id);
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.part`;
    try {
      this.stats.downloads++;
      const body = await store.read(ref);
      await pipeline(body, createWriteStream(tmp));
      const st = await stat(tmp);
      this.stats.bytesDownloaded += st.size;
      await rename(tmp, file);
      const entry: Entry = { file, fetchedAt: this.#now(), ttlMs, size: st.size, mtimeMs: st.mtimeMs };
      const meta: Omit<Entry, 'file'> = { fetchedAt: entry.fetchedAt, ttlMs, size: entry.size, mtimeMs: entry.mtimeMs };
      await writeFile(path.join(this.#dir, `${id}.json`), JSON.stringify(meta));
      this.#entries.set(id, entry);
      return entry;
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }
}

function cacheId(ref: ObjectRef, etag: string): string {
  return createHash('sha256').update(`${ref.owner}\0${ref.bucket}\0${ref.key}\0${etag}`).digest('hex');
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export function abortError(signal: AbortSignal): Error {
  const err = new Error('The operation was aborted', { cause: signal.reason });
  err.name = 'AbortError';
  return err;
}
