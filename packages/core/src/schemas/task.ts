import { z } from 'zod';
import {
  advancedBucket,
  advancedRange,
  forcedConstant,
  forcedNetworkRule,
  hardwareConstraint,
  keyValueList,
  labels,
  nonNegativeInt,
  privileges,
  regexString,
  retrySettings,
  schedulingType,
  secretsAccessRights,
  shortname,
  tags,
  timeSpan,
  uuidString,
} from './common.js';

export const taskFinalStateCondition = z.enum(['success', 'failure', 'cancelled']);

export const taskDependencies = z.object({
  dependsOn: z.array(uuidString).max(10_000).nullish(),
  advancedDependsOn: z
    .array(
      z.object({
        taskUuid: uuidString,
        taskFinalStateCondition: z.array(taskFinalStateCondition).max(3).nullish(),
      }),
    )
    .max(10_000)
    .nullish(),
});

/**
 * Every field a client may send for a task (`POST /tasks`, `PUT /tasks/{uuid}`), reference §2.1.
 * Unknown fields (read-only echoes such as `uuid` or `state`) are ignored, as the Qarnot API does.
 */
export const taskInput = z.object({
  name: z.string().min(1).max(1024),
  shortname: shortname.nullish(),
  profile: z.string().min(1).max(255).nullish(),
  poolUuid: z.string().min(1).max(255).nullish(),
  jobUuid: z.string().min(1).max(255).nullish(),
  projectUuid: z.string().max(255).nullish(),
  instanceCount: nonNegativeInt.nullish(),
  advancedRanges: advancedRange.nullish(),
  constants: keyValueList.nullish(),
  constraints: keyValueList.nullish(),
  forcedConstants: z.array(forcedConstant).max(1000).nullish(),
  labels: labels.nullish(),
  tags: tags.nullish(),
  dependencies: taskDependencies.nullish(),
  advancedResourceBuckets: z.array(advancedBucket).max(1000).nullish(),
  resourceBuckets: z.array(z.string().min(1).max(255)).max(1000).nullish(),
  resultBucket: z.string().max(255).nullish(),
  resultsCacheTTLSec: nonNegativeInt.nullish(),
  resultsWhitelist: regexString.nullish(),
  resultsBlacklist: regexString.nullish(),
  resultsBucketPrefix: z.string().max(1024).nullish(),
  snapshotWhitelist: regexString.nullish(),
  snapshotBlacklist: regexString.nullish(),
  snapshotBucket: z.string().max(255).nullish(),
  snapshotBucketPrefix: z.string().max(1024).nullish(),
  waitForPoolResourcesSynchronization: z.boolean().nullish(),
  uploadResultsOnCancellation: z.boolean().nullish(),
  autoDeleteOnCompletion: z.boolean().nullish(),
  completionTimeToLive: timeSpan.nullish(),
  maxTimeQueueSeconds: nonNegativeInt.nullish(),
  hardwareConstraints: z.array(hardwareConstraint).max(100).nullish(),
  defaultResourcesCacheTTLSec: nonNegativeInt.nullish(),
  privileges: privileges.nullish(),
  retrySettings: retrySettings.nullish(),
  maxRetriesPerInstance: nonNegativeInt.nullish(),
  schedulingType: schedulingType.nullish(),
  targetedReservedMachineKey: z.string().max(1024).nullish(),
  targetedReservationName: z.string().max(1024).nullish(),
  forcedNetworkRules: z.array(forcedNetworkRule).max(100).nullish(),
  secretsAccessRights: secretsAccessRights.nullish(),
});
export type TaskInput = z.infer<typeof taskInput>;

/** The fields a `PUT` may change once a task is submitted (reference §2.1, "Any"). */
export const TASK_FIELDS_MUTABLE_AFTER_SUBMIT = [
  'constants',
  'constraints',
  'forcedConstants',
  'tags',
  'maxTimeQueueSeconds',
  'secretsAccessRights',
  'advancedResourceBuckets',
  'resultBucket',
] as const satisfies readonly (keyof TaskInput)[];
