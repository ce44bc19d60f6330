/**
 * Hearth runner: the life of one instance, the same code for every executor — stage resource buckets through a
 * node cache, run the command (host process group, sandboxed with bubblewrap when available, or a docker container),
 * stream logs and progress, take snapshots, upload the results that pass the white/black lists.
 *
 * @example
 * ```ts
 * import { runInstance, ResourceCache } from '@hearth/runner';
 * const result = await runInstance(
 *   { taskUuid, taskName: 'hello', instanceId: 0, instanceCount: 1, owner: 'me@example.com',
 *     constants: { DOCKER_CMD: 'echo hello $INSTANCE_ID' }, command: 'echo hello $INSTANCE_ID',
 *     runtime: 'host', workRoot: '/var/lib/hearth/work' },
 *   { blobStore, cache: new ResourceCache('/var/lib/hearth/cache'), onEvent: (e) => console.log(e) },
 * );
 * result.state; // 'Success'
 * ```
 * @module
 */
export * from './instance-spec.js';
export * from './runner-error.js';
export * from './runner-events.js';
export { ResourceCache, type ResourceCacheOptions, type CacheFetchOptions, type ResourceCacheStats } from './resource-cache.js';
export {
  RunningInstance,
  startInstance,
  runInstance,
  instanceEnv,
  type InstanceOutcome,
  type InstanceResult,
  type InstanceTimes,
  type RunnerOptions,
  type SnapshotResult,
  type InstanceStateFile,
} from './running-instance.js';
export { findLeftoverInstances, reattachInstance, type LeftoverInstance, type LeftoverStatus } from './recovery.js';
export type { DockerClientOptions } from './internal/docker-execution.js';
export { dockerAvailable, findBwrap } from './internal/runtime-detect.js';
