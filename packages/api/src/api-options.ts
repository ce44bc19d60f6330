import type { Store } from '@hearth/store';

/** Per-user limits from the server configuration, reported by `GET /info` and enforced on create. */
export interface Quotas {
  /** @default 10000 */
  readonly maxTask: number;
  /** @default 1000 */
  readonly maxRunningTask: number;
  /** Instances one user may run at once; the rest wait, saying so. @default 100000 */
  readonly maxInstances: number;
  /** @default 64 */
  readonly maxCores: number;
  /** @default 100 */
  readonly maxPool: number;
  /** @default 100 */
  readonly maxRunningPool: number;
  /** @default 1000 */
  readonly maxJob: number;
  /** @default 100 */
  readonly maxBucket: number;
  /** @default 100 GiB */
  readonly quotaBytesBucket: number;
}

export const DEFAULT_QUOTAS: Quotas = {
  maxTask: 100_000,
  maxRunningTask: 1000,
  maxInstances: 100_000,
  maxCores: 64,
  maxPool: 100,
  maxRunningPool: 100,
  maxJob: 10_000,
  maxBucket: 1000,
  quotaBytesBucket: 100 * 2 ** 30,
};

export interface ProfileConstant {
  readonly name: string;
  readonly value: string;
  readonly description: string;
}

/** A named template of command and constants, served at `/profiles`. */
export interface ProfileDefinition {
  readonly name: string;
  readonly constants: readonly ProfileConstant[];
}

/** What the nodes of this server's executor offer, to answer hardware-constraint questions honestly. */
export interface NodeHardware {
  readonly cores: number;
  readonly memoryMB: number;
  readonly cpuModel: string;
  readonly gpu: boolean;
}

/** The storage side as the API sees it; all optional so the API runs without storage in tests. */
export interface StorageInfo {
  /** The S3 endpoint advertised by `GET /settings`; null when the server has no storage. */
  url(): string | null;
  usage?(email: string): Promise<{ bucketCount: number; bytes: number }>;
  bucketExists?(email: string, bucket: string): Promise<boolean>;
}

/** Notifications for the scheduler; the API calls them after the write is durable. */
export interface ApiHooks {
  taskCreated?(uuid: string): void;
  taskUpdated?(uuid: string): void;
  taskDeleted?(uuid: string): void;
  poolCreated?(uuid: string): void;
  poolDeleted?(uuid: string): void;
  jobCreated?(uuid: string): void;
  jobDeleted?(uuid: string): void;
}

export type LogStream = 'stdout' | 'stderr';

/** Which output {@link ExecutionControl.readLog} reads. */
export interface LogQuery {
  /** One instance's output; the whole task's when undefined. */
  readonly instanceId: number | undefined;
  readonly stream: LogStream;
  /** Bytes from this offset on. @default everything retained */
  readonly offset?: number | undefined;
}

export interface SnapshotConfig {
  readonly whitelist: string | null;
  readonly blacklist: string | null;
  readonly bucket: string | null;
  readonly bucketPrefix: string | null;
}

/** What the API asks of the scheduler for running tasks. Routes that need it exist only when it is given. */
export interface ExecutionControl {
  abort(uuid: string): Promise<void>;
  updateResources(uuid: string): Promise<void>;
  readLog(uuid: string, query: LogQuery): { text: string; start: number; end: number };
  freshLog(uuid: string, instanceId: number | undefined, stream: LogStream): string;
  snapshot(uuid: string, config: SnapshotConfig): Promise<{ id: string }>;
  snapshotStatus(uuid: string, id: string): Promise<object | undefined>;
  periodicSnapshot(uuid: string, config: SnapshotConfig & { interval: number }): Promise<void>;
  /** Instances the user runs right now. */
  runningInstances(email: string): number;
  /** Active → Terminating (unfinished tasks aborted) → Completed. */
  terminateJob(userId: number, uuid: string): Promise<void>;
  /** → Closing (unfinished tasks aborted) → Closed. */
  closePool(userId: number, uuid: string): Promise<void>;
  /** Resolves when the task's stored state may have changed, or after `timeoutMs`. */
  waitForChange(uuid: string, timeoutMs: number, signal: AbortSignal): Promise<void>;
}

export interface ApiOptions {
  readonly store: Store;
  readonly profiles: readonly ProfileDefinition[];
  /** @default DEFAULT_QUOTAS */
  readonly quotas?: Partial<Quotas>;
  readonly hardware: NodeHardware;
  readonly storage: StorageInfo;
  readonly hooks?: ApiHooks;
  readonly execution?: ExecutionControl;
  /** Requests with a larger body get 413. @default 16 MiB */
  readonly maxBodyBytes?: number;
}
