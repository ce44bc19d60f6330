import { z } from 'zod';
import {
  advancedBucket,
  forcedConstant,
  forcedNetworkRule,
  hardwareConstraint,
  keyValueList,
  labels,
  nonNegativeInt,
  privileges,
  retrySettings,
  schedulingType,
  secretsAccessRights,
  shortname,
  tags,
  timeSpan,
} from './common.js';

export const elasticProperty = z
  .object({
    isElastic: z.boolean().nullish(),
    minTotalSlots: nonNegativeInt.nullish(),
    maxTotalSlots: nonNegativeInt.nullish(),
    minIdleSlots: nonNegativeInt.nullish(),
    resizePeriod: nonNegativeInt.nullish(),
    rampResizeFactor: z.number().gt(0).max(1).nullish(),
    minIdleTimeSeconds: nonNegativeInt.nullish(),
  })
  .refine((e) => e.minTotalSlots == null || e.maxTotalSlots == null || e.minTotalSlots <= e.maxTotalSlots, {
    message: 'minTotalSlots must not exceed maxTotalSlots',
    path: ['minTotalSlots'],
  });

const WEEK_DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
const timeOfDay = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,7})?$/, 'must be a time HH:MM:SS[.fffffff]');

export const timePeriod = z.discriminatedUnion('type', [
  z.object({ type: z.literal('Always'), name: z.string().max(255).nullish() }),
  z.object({
    type: z.literal('Weekly'),
    name: z.string().max(255).nullish(),
    days: z.array(z.enum(WEEK_DAYS)).min(1).max(7),
    startTimeUtc: timeOfDay,
    endTimeUtc: timeOfDay,
  }),
]);

export const scalingPolicy = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('Fixed'),
    name: z.string().max(255).nullish(),
    slotsCount: nonNegativeInt,
    enabledPeriods: z.array(timePeriod).max(100).nullish(),
  }),
  z.object({
    type: z.literal('ManagedTasksQueue'),
    name: z.string().max(255).nullish(),
    minTotalSlots: nonNegativeInt.nullish(),
    maxTotalSlots: nonNegativeInt.nullish(),
    minIdleSlots: nonNegativeInt.nullish(),
    minIdleTimeSeconds: nonNegativeInt.nullish(),
    scalingFactor: z.number().gt(0).max(1).nullish(),
    enabledPeriods: z.array(timePeriod).max(100).nullish(),
  }),
]);

export const scaling = z.object({ policies: z.array(scalingPolicy).min(1).max(100) });

/** A pool as clients send it (reference §2.4). */
export const poolInput = z.object({
  name: z.string().min(1).max(1024),
  shortname: shortname.nullish(),
  profile: z.string().min(1).max(255).nullish(),
  projectUuid: z.string().max(255).nullish(),
  instanceCount: nonNegativeInt.nullish(),
  constants: keyValueList.nullish(),
  constraints: keyValueList.nullish(),
  forcedConstants: z.array(forcedConstant).max(1000).nullish(),
  tags: tags.nullish(),
  labels: labels.nullish(),
  preparationTask: z.object({ commandLine: z.string().max(65536).nullish() }).nullish(),
  elasticProperty: elasticProperty.nullish(),
  scaling: scaling.nullish(),
  taskDefaultWaitForPoolResourcesSynchronization: z.boolean().nullish(),
  advancedResourceBuckets: z.array(advancedBucket).max(1000).nullish(),
  resourceBuckets: z.array(z.string().min(1).max(255)).max(1000).nullish(),
  autoDeleteOnCompletion: z.boolean().nullish(),
  completionTimeToLive: timeSpan.nullish(),
  hardwareConstraints: z.array(hardwareConstraint).max(100).nullish(),
  defaultResourcesCacheTTLSec: nonNegativeInt.nullish(),
  privileges: privileges.nullish(),
  defaultRetrySettings: retrySettings.nullish(),
  maxTimeQueueSeconds: nonNegativeInt.nullish(),
  schedulingType: schedulingType.nullish(),
  targetedReservedMachineKey: z.string().max(1024).nullish(),
  targetedReservationName: z.string().max(1024).nullish(),
  forcedNetworkRules: z.array(forcedNetworkRule).max(100).nullish(),
  secretsAccessRights: secretsAccessRights.nullish(),
  multiSlotsSettings: z.object({ slotsPerNode: z.int().min(1).max(1024).nullish() }).nullish(),
});
export type PoolInput = z.infer<typeof poolInput>;

/** Pool fields a `PUT` may change after submit (reference §2.4). */
export const POOL_FIELDS_MUTABLE_AFTER_SUBMIT = [
  'elasticProperty',
  'scaling',
  'constants',
  'constraints',
  'forcedConstants',
  'secretsAccessRights',
  'tags',
  'maxTimeQueueSeconds',
  'advancedResourceBuckets',
] as const satisfies readonly (keyof PoolInput)[];
