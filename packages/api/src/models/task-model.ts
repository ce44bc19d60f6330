import {
  countRange,
  formatRange,
  parseAdvancedRange,
  TASK_FIELDS_MUTABLE_AFTER_SUBMIT,
  TASK_SUMMARY_FIELDS,
  type TaskInput,
  type TaskJson,
  type TaskSummaryJson,
} from '@hearth/core';
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

/** Cross-field rules the schema cannot express (reference §2.1 and the seed). */
export function checkTaskRules(input: TaskInput): void {
  const hasRange = input.advancedRanges != null && input.advancedRanges.trim() !== '';
  if (hasRange && (input.instanceCount ?? 0) > 0) {
    throw badRequest(
      "Invalid task: 'instanceCount' and 'advancedRanges' are mutually exclusive; send instanceCount 0 with a range",
      'advancedRanges',
    );
  }
  if (!hasRange && (input.instanceCount ?? 1) < 1) {
    throw badRequest("Invalid task field 'instanceCount': must be at least 1 unless 'advancedRanges' is set", 'instanceCount');
  }
  if (input.profile && input.poolUuid) {
    throw badRequest("Invalid task: 'profile' and 'poolUuid' are mutually exclusive", 'poolUuid');
  }
  if (!input.profile && !input.poolUuid) {
    throw badRequest("Invalid task: one of 'profile' or 'poolUuid' is required", 'profile');
  }
  if (input.poolUuid && input.jobUuid) {
    throw badRequest("Invalid task: a task in a job takes its job's pool; send 'jobUuid' or 'poolUuid', not both", 'jobUuid');
  }
  const deps = input.dependencies;
  if (deps?.dependsOn?.length && deps.advancedDependsOn?.length) {
    throw badRequest(
      "Invalid task field 'dependencies': 'dependsOn' and 'advancedDependsOn' are mutually exclusive",
      'dependencies',
    );
  }
}

export function taskDependencyUuids(input: Pick<TaskInput, 'dependencies'>): string[] {
  const d = input.dependencies;
  return [...new Set([...(d?.dependsOn ?? []), ...(d?.advancedDependsOn ?? []).map((a) => a.taskUuid)])];
}

/** The full task document for a newly submitted task. */
export function newTaskJson(input: TaskInput, meta: { uuid: string; now: string }): TaskJson {
  const hasRange = input.advancedRanges != null && input.advancedRanges.trim() !== '';
  const segments = hasRange ? parseAdvancedRange(input.advancedRanges!) : undefined;
  const deps = input.dependencies;
  const doc: TaskJson = {
    ...entityHeader(meta, { ...input, state: 'Submitted' }),
    profile: input.profile ?? null,
    poolUuid: input.poolUuid ?? null,
    jobUuid: input.jobUuid ?? null,
    instanceCount: segments ? countRange(segments) : (input.instanceCount ?? 1),
    advancedRanges: segments ? formatRange(segments) : null,
    runningInstanceCount: 0,
    runningCoreCount: 0,
    progress: 0,
    executionTime: '00:00:00',
    wallTime: '00:00:00',
    snapshotInterval: 0,
    resultsCount: 0,
    constants: keyValues(input.constants),
    constraints: keyValues(input.constraints),
    forcedConstants: input.forcedConstants ?? [],
    labels: input.labels ?? {},
    tags: [...new Set(input.tags ?? [])],
    dependencies: {
      dependsOn: deps?.dependsOn ?? [],
      ...(deps?.advancedDependsOn?.length
        ? {
            advancedDependsOn: deps.advancedDependsOn.map((a) => ({
              taskUuid: a.taskUuid,
              taskFinalStateCondition: a.taskFinalStateCondition ?? null,
            })),
          }
        : {}),
    },
    resourceBuckets: [],
    advancedResourceBuckets: [],
    resultBucket: input.resultBucket ?? null,
    resultsCacheTTLSec: input.resultsCacheTTLSec ?? null,
    resultsWhitelist: input.resultsWhitelist ?? null,
    resultsBlacklist: input.resultsBlacklist ?? null,
    resultsBucketPrefix: input.resultsBucketPrefix ?? null,
    snapshotWhitelist: input.snapshotWhitelist ?? null,
    snapshotBlacklist: input.snapshotBlacklist ?? null,
    snapshotBucket: input.snapshotBucket ?? null,
    snapshotBucketPrefix: input.snapshotBucketPrefix ?? null,
    waitForPoolResourcesSynchronization: input.waitForPoolResourcesSynchronization ?? null,
    uploadResultsOnCancellation: input.uploadResultsOnCancellation ?? null,
    autoDeleteOnCompletion: input.autoDeleteOnCompletion ?? false,
    completionTimeToLive: input.completionTimeToLive ?? '00:00:00',
    maxTimeQueueSeconds: input.maxTimeQueueSeconds ?? null,
    hardwareConstraints: input.hardwareConstraints ?? [],
    defaultResourcesCacheTTLSec: input.defaultResourcesCacheTTLSec ?? null,
    privileges: privilegesJson(input.privileges),
    retrySettings: retrySettingsJson(input.retrySettings),
    maxRetriesPerInstance: input.maxRetriesPerInstance ?? 0,
    schedulingType: input.schedulingType ?? 'Flex',
    targetedReservedMachineKey: input.targetedReservedMachineKey ?? null,
    targetedReservationName: input.targetedReservationName ?? null,
    forcedNetworkRules: input.forcedNetworkRules ?? [],
    secretsAccessRights: secretsRights(input.secretsAccessRights),
    errors: [],
    completedInstances: [],
    status: null,
  };
  setResources(doc, input);
  return doc;
}

function setResources(doc: TaskJson, input: Pick<TaskInput, 'advancedResourceBuckets' | 'resourceBuckets'>): void {
  doc.advancedResourceBuckets = advancedBuckets(input.advancedResourceBuckets, input.resourceBuckets);
  doc.resourceBuckets = doc.advancedResourceBuckets.map((b) => b.bucketName);
}

/** Output form: adds the capital-R `ResultsCacheTTLSec` the Python SDK reads (reference §0). */
export function taskWire(doc: TaskJson): Record<string, unknown> {
  return doc.resultsCacheTTLSec == null ? { ...doc } : { ...doc, ResultsCacheTTLSec: doc.resultsCacheTTLSec };
}

export function taskSummary(doc: TaskJson): TaskSummaryJson {
  const out: Record<string, unknown> = {};
  for (const f of TASK_SUMMARY_FIELDS) out[f] = doc[f];
  return out as TaskSummaryJson;
}

const MUTABLE = new Set<string>(TASK_FIELDS_MUTABLE_AFTER_SUBMIT);

/**
 * Applies a `PUT` to a submitted task. Clients send the whole task (the Python SDK's `commit()`), so fields that
 * may only be set before submit are accepted when unchanged and refused when they differ.
 */
export function applyTaskUpdate(current: TaskJson, input: Partial<TaskInput>, now: string): TaskJson {
  const candidate = newTaskJson({ ...inputFromDoc(current), ...definedOnly(input) }, {
    uuid: current.uuid,
    now: current.creationDate,
  });
  for (const key of Object.keys(input) as (keyof TaskInput)[]) {
    if (input[key] === undefined || MUTABLE.has(key)) continue;
    const field = key === 'resourceBuckets' ? 'advancedResourceBuckets' : key;
    if (!(field in candidate)) continue;
    const before = canonicalJson(current[field as keyof TaskJson]);
    const after = canonicalJson(candidate[field as keyof TaskJson]);
    if (before !== after) {
      throw badRequest(`Invalid task field '${key}': it cannot be changed once the task is submitted`, key);
    }
  }
  const next: TaskJson = { ...current, lastModified: now };
  if (input.constants !== undefined) next.constants = candidate.constants;
  if (input.constraints !== undefined) next.constraints = candidate.constraints;
  if (input.forcedConstants !== undefined) next.forcedConstants = candidate.forcedConstants;
  if (input.tags !== undefined) next.tags = candidate.tags;
  if (input.maxTimeQueueSeconds !== undefined) next.maxTimeQueueSeconds = candidate.maxTimeQueueSeconds;
  if (input.secretsAccessRights !== undefined) next.secretsAccessRights = candidate.secretsAccessRights;
  if (input.resultBucket !== undefined) next.resultBucket = candidate.resultBucket;
  if (input.advancedResourceBuckets !== undefined) {
    next.advancedResourceBuckets = candidate.advancedResourceBuckets;
    next.resourceBuckets = candidate.resourceBuckets;
  }
  return next;
}

/** The input that would produce a stored document, so a PUT can be replayed over it. */
export function inputFromDoc(doc: TaskJson): TaskInput {
  return {
    ...doc,
    instanceCount: doc.advancedRanges ? 0 : doc.instanceCount,
    resourceBuckets: undefined,
    advancedResourceBuckets: doc.advancedResourceBuckets,
    hardwareConstraints: doc.hardwareConstraints,
    forcedConstants: doc.forcedConstants as TaskInput['forcedConstants'],
    forcedNetworkRules: doc.forcedNetworkRules as TaskInput['forcedNetworkRules'],
  } as TaskInput;
}
