/**
 * `@hearth/sdk`: the Qarnot task API in TypeScript, for a Hearth server or the Qarnot cloud, unchanged.
 *
 * Durations in this API are seconds, as in the Python SDK it mirrors; every method that waits takes
 * `{ signal }`; lists are async iterables; errors are {@link QarnotError}s with a `code`.
 *
 * @example
 * ```ts
 * import { Connection, isMissingTaskError } from '@hearth/sdk';
 *
 * // QARNOT_CLUSTER_URL / QARNOT_CLIENT_TOKEN are read from the environment when not given.
 * const conn = await Connection.connect({ clusterUrl: 'http://127.0.0.1:8080', clientToken: process.env.TOKEN });
 * const input = await conn.createBucket('hello-input');
 * await input.addString('world', 'name.txt');
 *
 * const task = conn.createTask('hello', { profile: 'docker-batch', instanceCount: 2 });
 * task.constants['DOCKER_CMD'] = 'sh -c "echo hello $(cat name.txt) from ${INSTANCE_ID} > out-${INSTANCE_ID}.txt"';
 * task.resources = [input];
 * task.results = conn.bucket('hello-output');
 * const finished = await task.run({ outputDir: 'out', jobTimeout: 600 });
 * console.log(finished, task.state, await task.stdout());
 *
 * for await (const t of conn.listTasks({ tags: ['nightly'] })) console.log(t.name, t.state);
 * await conn.close();
 * ```
 * @module
 */
export { Connection, SDK_VERSION } from './connection.js';
export type {
  CallOptions,
  ConnectionOptions,
  Filter,
  HardwareConstraintsPage,
  ListOptions,
  Page,
  PageOptions,
  Profile,
  SummaryListOptions,
  UserInfo,
} from './connection.js';
export { Task } from './task.js';
export type {
  AdvancedDependency,
  CarbonFacts,
  FollowOptions,
  ForcedConstant,
  ForcedNetworkRule,
  LocalTaskState,
  LogOptions,
  RunOptions,
  SnapshotOptions,
  TaskDependencies,
  TaskFinalStateCondition,
  TaskOptions,
  WaitOptions,
  WaitSnapshotOptions,
} from './task.js';
export { CompletedInstance } from './completed-instance.js';
export { Status } from './status.js';
export type {
  ActiveForward,
  ExecutionTimeByCpuModel,
  ExecutionTimeGhzByCpuModel,
  PerRunningInstanceInfo,
  RunningInstancesInfo,
} from './status.js';
export { ErrorInfo } from './error-info.js';
export { Snapshot } from './snapshot.js';
export type { SnapshotConfig, SnapshotStatus } from './snapshot.js';
export { Job } from './job.js';
export type { JobOptions, LocalJobState } from './job.js';
export { Pool } from './pool.js';
export type { ElasticSettings, LocalPoolState, PoolOptions } from './pool.js';
export { Bucket, sanitizeBucketPath } from './bucket.js';
export type {
  BucketObject,
  BucketOptions,
  DownloadOptions,
  SignalOptions,
  SyncOptions,
  SyncReport,
  TransferProgress,
} from './bucket.js';
export { HardwareConstraints } from './hardware-constraints.js';
export type { HardwareConstraint } from './hardware-constraints.js';
export type { Privileges, RetrySettings } from './retry-settings.js';
export { SCHEDULING_TYPES, parseSchedulingType } from './scheduling-type.js';
export type { SchedulingType } from './scheduling-type.js';
export { SecretsAccessRights } from './secrets-access-rights.js';
export { Secrets } from './secrets.js';
export type { SecretCallOptions } from './secrets.js';
export * from './errors.js';
