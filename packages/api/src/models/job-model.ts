import type { JobInput, JobJson } from '@hearth/core';
import { badRequest } from '../api-error.js';
import { entityHeader, canonicalJson } from './common.js';

export function newJobJson(input: JobInput, meta: { uuid: string; now: string }): JobJson {
  return {
    ...entityHeader(meta, { ...input, state: 'Active' }),
    poolUuid: input.poolUuid ?? null,
    tags: [...new Set(input.tags ?? [])],
    useDependencies: input.useDependencies ?? false,
    maxWallTime: input.maxWallTime ?? null,
    autoDeleteOnCompletion: input.autoDeleteOnCompletion ?? false,
    completionTimeToLive: input.completionTimeToLive ?? '00:00:00',
  };
}

/** A job's `PUT`: tags may change; other fields are accepted only when unchanged. */
export function applyJobUpdate(current: JobJson, input: Partial<JobInput>, now: string): JobJson {
  const candidate = newJobJson({ ...current, ...input }, { uuid: current.uuid, now: current.creationDate });
  for (const key of Object.keys(input) as (keyof JobInput)[]) {
    if (input[key] === undefined || key === 'tags' || !(key in candidate)) continue;
    if (canonicalJson(current[key as keyof JobJson]) !== canonicalJson(candidate[key as keyof JobJson])) {
      throw badRequest(`Invalid job field '${key}': it cannot be changed once the job is submitted`, key);
    }
  }
  return { ...current, tags: input.tags !== undefined ? candidate.tags : current.tags, lastModified: now };
}
