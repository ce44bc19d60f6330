/**
 * The JSON shapes the Hearth server answers with, identical to the Qarnot API's (reference §2).
 * Output is always camelCase; lists are never null where a client iterates them.
 */
import type { JobState, PoolState, TaskState } from './states.js';
import type { HardwareConstraint } from './schemas/common.js';

export interface KeyValueJson {
  key: string;
  value: string | null;
}

export interface AdvancedBucketJson {
  bucketName: string;
  filtering: { prefixFiltering?: { prefix: string } };
  resourcesTransformation: { stripPrefix?: { prefix: string } };
  cacheTTLSec: number | null;
}

export interface ErrorJson {
  code: string;
  message: string;
  debug: string | null;
}

export interface CompletedInstanceJson {
  instanceId: number;
  state: string;
  wallTimeSec: number;
  execTimeSec: number;
  execTimeSecGHz: number;
  peakMemoryMB: number;
  averageGHz: number;
  results: string[];
  executionAttemptCount: number;
  error?: ErrorJson | null;
  cpuModel?: string;
  coreCount?: number;
  clockRatio?: number;
}

export interface DependenciesJson {
  dependsOn: string[];
  advancedDependsOn?: {
    taskUuid: string;
    taskFinalStateCondition: string[] | null;
    state?: string;
    actualFinalState?: string | null;
  }[];
  state?: 'waiting' | 'dependencyConditionsFulfilled' | 'dependencyConditionsNotFulfilled';
}

export interface TaskJson {
  uuid: string;
  name: string;
  shortname: string;
  profile: string | null;
  poolUuid: string | null;
  jobUuid: string | null;
  projectUuid: string | null;
  state: TaskState;
  previousState: TaskState | null;
  stateTransitionTime: string;
  previousStateTransitionTime: string | null;
  creationDate: string;
  lastModified: string;
  endDate: string | null;
  instanceCount: number;
  advancedRanges: string | null;
  runningInstanceCount: number;
  runningCoreCount: number;
  progress: number;
  executionTime: string;
  wallTime: string;
  snapshotInterval: number;
  resultsCount: number;
  constants: KeyValueJson[];
  constraints: KeyValueJson[];
  forcedConstants: unknown[];
  labels: Record<string, string>;
  tags: string[];
  dependencies: DependenciesJson;
  resourceBuckets: string[];
  advancedResourceBuckets: AdvancedBucketJson[];
  resultBucket: string | null;
  resultsCacheTTLSec: number | null;
  resultsWhitelist: string | null;
  resultsBlacklist: string | null;
  resultsBucketPrefix: string | null;
  snapshotWhitelist: string | null;
  snapshotBlacklist: string | null;
  snapshotBucket: string | null;
  snapshotBucketPrefix: string | null;
  waitForPoolResourcesSynchronization: boolean | null;
  uploadResultsOnCancellation: boolean | null;
  autoDeleteOnCompletion: boolean;
  completionTimeToLive: string;
  maxTimeQueueSeconds: number | null;
  hardwareConstraints: HardwareConstraint[];
  defaultResourcesCacheTTLSec: number | null;
  privileges: { exportApiAndStorageCredentialsInEnvironment: boolean };
  retrySettings: { maxTotalRetries: number | null; maxPerInstanceRetries: number | null };
  maxRetriesPerInstance: number;
  schedulingType: 'Flex' | 'OnDemand' | 'Reserved';
  targetedReservedMachineKey: string | null;
  targetedReservationName: string | null;
  forcedNetworkRules: unknown[];
  secretsAccessRights: { bySecret: { key: string }[]; byPrefix: { prefix: string }[] };
  errors: ErrorJson[];
  completedInstances: CompletedInstanceJson[];
  status: Record<string, unknown> | null;
}

/** The fields of `/tasks/summaries` items (reference §2.2). */
export const TASK_SUMMARY_FIELDS = [
  'uuid',
  'name',
  'shortname',
  'profile',
  'poolUuid',
  'progress',
  'runningInstanceCount',
  'runningCoreCount',
  'executionTime',
  'wallTime',
  'state',
  'instanceCount',
  'creationDate',
  'endDate',
] as const satisfies readonly (keyof TaskJson)[];
export type TaskSummaryJson = Pick<TaskJson, (typeof TASK_SUMMARY_FIELDS)[number]>;

export interface JobJson {
  uuid: string;
  name: string;
  shortname: string;
  poolUuid: string | null;
  projectUuid: string | null;
  state: JobState;
  previousState: JobState | null;
  stateTransitionTime: string;
  previousStateTransitionTime: string | null;
  creationDate: string;
  lastModified: string;
  endDate: string | null;
  tags: string[];
  useDependencies: boolean;
  maxWallTime: string | null;
  autoDeleteOnCompletion: boolean;
  completionTimeToLive: string;
}

export interface PoolJson {
  uuid: string;
  name: string;
  shortname: string;
  profile: string | null;
  projectUuid: string | null;
  state: PoolState;
  previousState: PoolState | null;
  stateTransitionTime: string;
  previousStateTransitionTime: string | null;
  creationDate: string;
  lastModified: string;
  endDate: string | null;
  instanceCount: number;
  runningInstanceCount: number;
  runningCoreCount: number;
  executionTime: string;
  wallTime: string;
  constants: KeyValueJson[];
  constraints: KeyValueJson[];
  forcedConstants: unknown[];
  tags: string[];
  labels: Record<string, string>;
  preparationTask: { commandLine: string | null } | null;
  elasticProperty: Record<string, unknown>;
  scaling?: Record<string, unknown>;
  taskDefaultWaitForPoolResourcesSynchronization: boolean;
  resourceBuckets: string[];
  advancedResourceBuckets: AdvancedBucketJson[];
  autoDeleteOnCompletion: boolean;
  completionTimeToLive: string;
  hardwareConstraints: HardwareConstraint[];
  defaultResourcesCacheTTLSec: number | null;
  privileges: { exportApiAndStorageCredentialsInEnvironment: boolean };
  defaultRetrySettings: { maxTotalRetries: number | null; maxPerInstanceRetries: number | null };
  maxTimeQueueSeconds: number | null;
  schedulingType: 'Flex' | 'OnDemand' | 'Reserved';
  targetedReservedMachineKey: string | null;
  targetedReservationName: string | null;
  forcedNetworkRules: unknown[];
  secretsAccessRights: { bySecret: { key: string }[]; byPrefix: { prefix: string }[] };
  multiSlotsSettings?: { slotsPerNode: number };
  errors: ErrorJson[];
  status: Record<string, unknown> | null;
  poolUsage: number;
  totalSlotCapacity: number;
  queuedOrRunningTaskInstancesCount: number;
}

export const POOL_SUMMARY_FIELDS = [
  'uuid',
  'name',
  'shortname',
  'profile',
  'state',
  'instanceCount',
  'runningInstanceCount',
  'runningCoreCount',
  'executionTime',
  'wallTime',
  'creationDate',
  'endDate',
] as const satisfies readonly (keyof PoolJson)[];

export interface PageResponse<T> {
  data: T[];
  token: string | null;
  nextToken: string | null;
  isTruncated: boolean;
  count: number;
}

export interface BulkTaskResult {
  statusCode: number;
  uuid: string | null;
  message: string | null;
}

export interface ProfileJson {
  name: string;
  constants: { name: string; value: string; description: string }[];
}

export interface SettingsJson {
  storage: string | null;
}

export interface ComputingQuotaJson {
  maxCores: number;
  runningCoresCount: number;
  maxInstances: number;
  runningInstancesCount: number;
}

export interface UserInfoJson {
  email: string;
  maxBucket: number;
  bucketCount: number;
  quotaBytesBucket: number;
  usedQuotaBytesBucket: number;
  taskCount: number;
  maxTask: number;
  runningTaskCount: number;
  maxRunningTask: number;
  maxInstances: number;
  maxFlexCores: number;
  maxOnDemandCores: number;
  maxPool: number;
  poolCount: number;
  maxRunningPool: number;
  runningPoolCount: number;
  jobCount: number;
  maxJob: number;
  runningInstanceCount: number;
  runningCoreCount: number;
  computingQuotas: {
    user: { flex: ComputingQuotaJson; onDemand: ComputingQuotaJson; reserved: unknown[] };
    organization: { name: string; flex: ComputingQuotaJson; onDemand: ComputingQuotaJson; reserved: unknown[] };
  };
  projects: { uuid: string; name: string; slug: string; description: string; organizationUuid: string; isDefault: boolean }[];
}
