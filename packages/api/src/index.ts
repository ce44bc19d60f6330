/**
 * The Qarnot-compatible REST API of Hearth on `node:http`.
 *
 * @example
 * ```ts
 * const api = new ApiServer({ store, profiles, hardware, storage: { url: () => null } });
 * const url = await api.listen({ port: 0 });
 * ```
 * @module
 */
export { ApiServer } from './api-server.js';
export { ApiError } from './api-error.js';
export {
  DEFAULT_QUOTAS,
  type ApiHooks,
  type ApiOptions,
  type ExecutionControl,
  type LogQuery,
  type LogStream,
  type SnapshotConfig,
  type NodeHardware,
  type ProfileConstant,
  type ProfileDefinition,
  type Quotas,
  type StorageInfo,
} from './api-options.js';
