import { assertNever, POOL_FIELDS_MUTABLE_AFTER_SUBMIT, POOL_SUMMARY_FIELDS, type PoolInput, type PoolJson } from '@hearth/core';
import { badRequest } from '../api-error.js';
import {
  entityHeader,
  advancedBuckets,
  canonicalJson,
  definedOnly,
  keyValues,
  privilegesJson,
  retrySettingsJson,
  secretsRights,
} from './common.js';

/** Python SDK defaults for `elasticProperty` (reference §2.4). */
function elasticJson(input: PoolInput['elasticProperty']) {
  return {
    isElastic: input?.isElastic ?? false,
    minTotalSlots: input?.minTotalSlots ?? 0,
    maxTotalSlots: input?.maxTotalSlots ?? 1,
    minIdleSlots: input?.minIdleSlots ?? 0,
    resizePeriod: input?.resizePeriod ?? 90,
    rampResizeFactor: input?.rampResizeFactor ?? 1,
    minIdleTimeSeconds: input?.minIdleTimeSeconds ?? 0,
  };
}

type ScalingPolicyInput = NonNullable<PoolInput['scaling']>['policies'][number];
type TimePeriodInput = NonNullable<ScalingPolicyInput['enabledPeriods']>[number];

/**
 * Scaling policies in the Qarnot API's property order, type first and `name` after the settings: the Node SDK's
 * pool test compares `JSON.stringify(pool.scaling.policies)` with what it sent (reference §2.4, `JS:test/pool.test.js`).
 */
function policyJson(p: ScalingPolicyInput): Record<string, unknown> {
  const enabledPeriods = p.enabledPeriods ? p.enabledPeriods.map(periodJson) : p.enabledPeriods;
  switch (p.type) {
    case 'Fixed':
      return definedOnly({ type: p.type, slotsCount: p.slotsCount, name: p.name, enabledPeriods });
    case 'ManagedTasksQueue':
      return definedOnly({
        type: p.type,
        minTotalSlots: p.minTotalSlots,
        maxTotalSlots: p.maxTotalSlots,
        minIdleSlots: p.minIdleSlots,
        minIdleTimeSeconds: p.minIdleTimeSeconds,
        scalingFactor: p.scalingFactor,
        name: p.name,
        enabledPeriods,
      });
    default:
      return assertNever(p);
  }
}

function periodJson(p: TimePeriodInput): Record<string, unknown> {
  switch (p.type) {
    case 'Always':
      return definedOnly({ type: p.type, name: p.name });
    case 'Weekly':
      return definedOnly({ type: p.type, days: p.days, startTimeUtc: p.startTimeUtc, endTimeUtc: p.endTimeUtc, name: p.name });
    default:
      return assertNever(p);
  }
}

export function checkPoolRules(input: PoolInput): void {
  if (!input.profile) throw badRequest("Invalid pool field 'profile': a pool needs a profile", 'profile');
  const e = input.elasticProperty;
  if (e?.isElastic && (e.maxTotalSlots ?? 1) < (e.minTotalSlots ?? 0)) {
    throw badRequest("Invalid pool field 'elasticProperty.maxTotalSlots': must be at least minTotalSlots", 'elasticProperty.maxTotalSlots');
  }
}

export function newPoolJson(input: PoolInput, meta: { uuid: string; now: string }): PoolJson {
  const buckets = advancedBuckets(input.advancedResourceBuckets, input.resourceBuckets);
  const doc: PoolJson = {
    ...entityHeader(meta, { ...input, state: 'Submitted' }),
    profile: input.profile ?? null,
    instanceCount: input.instanceCount ?? 1,
    runningInstanceCount: 0,
    runningCoreCount: 0,
    executionTime: '00:00:00',
    wallTime: '00:00:00',
    constants: keyValues(input.constants),
    constraints: keyValues(input.constraints),
    forcedConstants: input.forcedConstants ?? [],
    tags: [...new Set(input.tags ?? [])],
    labels: input.labels ?? {},
    preparationTask: input.preparationTask ? { commandLine: input.preparationTask.commandLine ?? null } : null,
    elasticProperty: elasticJson(input.elasticProperty),
    taskDefaultWaitForPoolResourcesSynchronization: input.taskDefaultWaitForPoolResourcesSynchronization ?? false,
    resourceBuckets: buckets.map((b) => b.bucketName),
    advancedResourceBuckets: buckets,
    autoDeleteOnCompletion: input.autoDeleteOnCompletion ?? false,
    completionTimeToLive: input.completionTimeToLive ?? '00:00:00',
    hardwareConstraints: input.hardwareConstraints ?? [],
    defaultResourcesCacheTTLSec: input.defaultResourcesCacheTTLSec ?? null,
    privileges: privilegesJson(input.privileges),
    defaultRetrySettings: retrySettingsJson(input.defaultRetrySettings),
    maxTimeQueueSeconds: input.maxTimeQueueSeconds ?? null,
    schedulingType: input.schedulingType ?? 'Flex',
    targetedReservedMachineKey: input.targetedReservedMachineKey ?? null,
    targetedReservationName: input.targetedReservationName ?? null,
    forcedNetworkRules: input.forcedNetworkRules ?? [],
    secretsAccessRights: secretsRights(input.secretsAccessRights),
    errors: [],
    status: null,
    poolUsage: 0,
    totalSlotCapacity: 0,
    queuedOrRunningTaskInstancesCount: 0,
  };
  // `multiSlotsSettings` and `scaling` are omitted rather than null: the Python SDK crashes on null (reference §2.4).
  if (input.multiSlotsSettings?.slotsPerNode != null) doc.multiSlotsSettings = { slotsPerNode: input.multiSlotsSettings.slotsPerNode };
  if (input.scaling) {
    doc.scaling = { policies: input.scaling.policies.map(policyJson), activePolicyName: input.scaling.policies[0]?.name ?? null };
  }
  return doc;
}

const MUTABLE = new Set<string>(POOL_FIELDS_MUTABLE_AFTER_SUBMIT);

export function applyPoolUpdate(current: PoolJson, input: Partial<PoolInput>, now: string): PoolJson {
  const base = { ...current, resourceBuckets: undefined } as unknown as PoolInput;
  const candidate = newPoolJson({ ...base, ...definedOnly(input) }, {
    uuid: current.uuid,
    now: current.creationDate,
  });
  for (const key of Object.keys(input) as (keyof PoolInput)[]) {
    if (input[key] === undefined || MUTABLE.has(key)) continue;
    const field = key === 'resourceBuckets' ? 'advancedResourceBuckets' : key;
    if (!(field in candidate)) continue;
    if (canonicalJson(current[field as keyof PoolJson]) !== canonicalJson(candidate[field as keyof PoolJson])) {
      throw badRequest(`Invalid pool field '${key}': it cannot be changed once the pool is submitted`, key);
    }
  }
  const next: PoolJson = { ...current, lastModified: now };
  for (const key of MUTABLE) {
    if (input[key as keyof PoolInput] === undefined) continue;
    (next as unknown as Record<string, unknown>)[key] = candidate[key as keyof PoolJson];
  }
  if (input.advancedResourceBuckets !== undefined) next.resourceBuckets = candidate.resourceBuckets;
  return next;
}

export function poolSummary(doc: PoolJson): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of POOL_SUMMARY_FIELDS) out[f] = doc[f];
  return out;
}
