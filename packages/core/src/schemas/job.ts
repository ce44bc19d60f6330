import { z } from 'zod';
import { shortname, tags, timeSpan } from './common.js';

/** A job as clients send it (reference §2.5). `state` is sent as "" before submit and ignored. */
export const jobInput = z.object({
  name: z.string().min(1).max(1024),
  shortname: shortname.nullish(),
  poolUuid: z.string().min(1).max(255).nullish(),
  projectUuid: z.string().max(255).nullish(),
  tags: tags.nullish(),
  useDependencies: z.boolean().nullish(),
  maxWallTime: timeSpan.nullish(),
  autoDeleteOnCompletion: z.boolean().nullish(),
  completionTimeToLive: timeSpan.nullish(),
});
export type JobInput = z.infer<typeof jobInput>;

export const JOB_FIELDS_MUTABLE_AFTER_SUBMIT = ['tags'] as const satisfies readonly (keyof JobInput)[];
