import type { AdvancedBucketJson, KeyValueJson } from '@hearth/core';
import type { advancedBucket, keyValue } from '@hearth/core';
import type { z } from 'zod';

type KeyValueInput = z.infer<typeof keyValue>;
type AdvancedBucketInput = z.infer<typeof advancedBucket>;

export function keyValues(list: readonly KeyValueInput[] | null | undefined): KeyValueJson[] {
  return (list ?? []).map((kv) => ({ key: kv.key, value: kv.value ?? null }));
}

/** Advanced buckets as echoed: `filtering`/`resourcesTransformation` are `{}` when empty (reference §2.3.1). */
export function advancedBuckets(
  advanced: readonly AdvancedBucketInput[] | null | undefined,
  legacy: readonly string[] | null | undefined,
): AdvancedBucketJson[] {
  const out: AdvancedBucketJson[] = (advanced ?? []).map((b) => ({
    bucketName: b.bucketName,
    filtering: b.filtering?.prefixFiltering ? { prefixFiltering: { prefix: b.filtering.prefixFiltering.prefix } } : {},
    resourcesTransformation: b.resourcesTransformation?.stripPrefix
      ? { stripPrefix: { prefix: b.resourcesTransformation.stripPrefix.prefix } }
      : {},
    cacheTTLSec: b.cacheTTLSec ?? null,
  }));
  // Legacy plain bucket names (`resourceBuckets`) become unfiltered advanced buckets, so one list drives staging.
  for (const name of legacy ?? []) {
    if (!out.some((b) => b.bucketName === name)) {
      out.push({ bucketName: name, filtering: {}, resourcesTransformation: {}, cacheTTLSec: null });
    }
  }
  return out;
}

export function secretsRights(input: {
  bySecret?: { key: string }[] | null;
  byPrefix?: { prefix: string }[] | null;
} | null | undefined) {
  return {
    bySecret: (input?.bySecret ?? []).map((s) => ({ key: s.key })),
    byPrefix: (input?.byPrefix ?? []).map((p) => ({ prefix: p.prefix })),
  };
}

export function retrySettingsJson(input: { maxTotalRetries?: number | null; maxPerInstanceRetries?: number | null } | null | undefined) {
  return { maxTotalRetries: input?.maxTotalRetries ?? null, maxPerInstanceRetries: input?.maxPerInstanceRetries ?? null };
}

export function privilegesJson(input: { exportApiAndStorageCredentialsInEnvironment?: boolean | null } | null | undefined) {
  return { exportApiAndStorageCredentialsInEnvironment: input?.exportApiAndStorageCredentialsInEnvironment ?? false };
}

/** Strips undefined and normalises key order so two values can be compared as JSON. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)));
    }
    return v;
  });
}

export function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The identity and lifecycle fields every new task, job and pool starts with. */
export function entityHeader<S extends string>(
  meta: { uuid: string; now: string },
  input: { name: string; shortname?: string | null | undefined; projectUuid?: string | null | undefined; state: S },
) {
  return {
    uuid: meta.uuid,
    name: input.name,
    shortname: input.shortname ?? meta.uuid,
    projectUuid: input.projectUuid ?? null,
    state: input.state,
    previousState: null,
    stateTransitionTime: meta.now,
    previousStateTransitionTime: null,
    creationDate: meta.now,
    lastModified: meta.now,
    endDate: null,
  };
}
