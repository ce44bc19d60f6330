import { copyFile, link, lstat, mkdir, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { BlobStore, ObjectRef } from '@hearth/storage';
import type { FileFilter, InstanceSpec, ResourceBucketSpec } from '../instance-spec.js';
import type { ResourceCache } from '../resource-cache.js';

/** What a file looked like when the runner put it in the working dir; results are files that differ. */
export interface FileSignature {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
}

export type Manifest = Map<string, FileSignature>;

export interface WorkFile extends FileSignature {
  /** Path relative to the working dir, `/`-separated. */
  readonly rel: string;
  readonly abs: string;
}

/** Turns a bucket key into a safe relative path, or undefined for keys that must not become files. */
export function keyToRelativePath(key: string, stripPrefix: string | null | undefined): string | undefined {
  let rel = key;
  if (stripPrefix && rel.startsWith(stripPrefix)) rel = rel.slice(stripPrefix.length);
  if (rel === '' || rel.endsWith('/')) return undefined; // directory markers
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0 || parts.some((p) => p === '..')) return undefined; // never escape the working dir
  return parts.join('/');
}

interface PlannedResource {
  readonly ref: ObjectRef;
  readonly etag: string;
  readonly rel: string;
  readonly ttlSec: number | null | undefined;
}

/** Lists every resource bucket of the spec, later buckets overriding earlier ones for the same path. */
export async function planResources(
  spec: InstanceSpec,
  store: BlobStore,
  options: { signal?: AbortSignal; only?: readonly ResourceBucketSpec[] } = {},
): Promise<PlannedResource[]> {
  const byRel = new Map<string, PlannedResource>();
  for (const b of options.only ?? spec.resources ?? []) {
    const owner = b.owner ?? spec.owner;
    const listOptions = options.signal ? { prefix: b.prefixFiltering ?? '', signal: options.signal } : { prefix: b.prefixFiltering ?? '' };
    for await (const info of store.list({ owner, bucket: b.bucket }, listOptions)) {
      const rel = keyToRelativePath(info.key, b.stripPrefix);
      if (rel === undefined) continue;
      byRel.set(rel, {
        ref: { owner, bucket: b.bucket, key: info.key },
        etag: info.etag,
        rel,
        ttlSec: b.cacheTTLSec ?? spec.defaultResourcesCacheTTLSec,
      });
    }
  }
  return [...byRel.values()];
}

/**
 * Stages planned resources into a working dir through the node cache: hard links (a copy across file systems).
 * Returns the manifest of what was placed. With `skip`, files whose signature is unchanged are left alone
 * (the additive resource update).
 */
export async function placeResources(
  planned: readonly PlannedResource[],
  workdir: string,
  options: { store: BlobStore; cache: ResourceCache; signal?: AbortSignal; concurrency?: number; manifest?: Manifest },
): Promise<Manifest> {
  const manifest: Manifest = options.manifest ?? new Map<string, FileSignature>();
  await forEachLimit(planned, options.concurrency ?? 8, async (r) => {
    const cached = await options.cache.fetch(r.ref, {
      store: options.store,
      etag: r.etag,
      ttlSec: r.ttlSec ?? null,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const dest = path.join(workdir, r.rel);
    await mkdir(path.dirname(dest), { recursive: true });
    const cst = await lstat(cached);
    const current = await lstat(dest).catch(() => undefined);
    if (current && current.ino === cst.ino) {
      manifest.set(r.rel, signature(current));
      return;
    }
    if (current) await unlink(dest);
    try {
      await link(cached, dest);
    } catch (e) {
      if ((e as { code?: string }).code !== 'EXDEV' && (e as { code?: string }).code !== 'EPERM') throw e;
      await copyFile(cached, dest);
    }
    manifest.set(r.rel, signature(await lstat(dest)));
  });
  return manifest;
}

function signature(st: { size: number; mtimeMs: number; ino: number }): FileSignature {
  return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
}

export function sameSignature(a: FileSignature | undefined, b: FileSignature): boolean {
  return a !== undefined && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;
}

/** Every regular file under the working dir (symlinks are not followed: they may point outside). */
export async function scanWorkdir(workdir: string): Promise<WorkFile[]> {
  const out: WorkFile[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const d of entries) {
      const abs = path.join(dir, d.name);
      const rel = prefix ? `${prefix}/${d.name}` : d.name;
      if (d.isDirectory()) await walk(abs, rel);
      else if (d.isFile()) {
        const st = await lstat(abs).catch(() => undefined);
        if (st?.isFile()) out.push({ rel, abs, ...signature(st) });
      }
    }
  };
  await walk(workdir, '');
  out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return out;
}

/** Compiles white/black lists once; an invalid regex is a configuration error reported to the caller. */
export function compileFilter(filter: FileFilter | null | undefined): (rel: string) => boolean {
  const white = filter?.whitelist ? new RegExp(filter.whitelist) : undefined;
  const black = filter?.blacklist ? new RegExp(filter.blacklist) : undefined;
  return (rel) => (!white || white.test(rel)) && !(black && black.test(rel));
}

export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  let hasFailed = false;
  const worker = async (): Promise<void> => {
    while (!hasFailed && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (e) {
        if (!hasFailed) {
          hasFailed = true;
          failed = e;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (hasFailed) throw failed;
}
