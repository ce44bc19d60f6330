import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { DependenciesJson, KeyValueJson, TaskJson, TaskState } from '@hearth/core';
import { Bucket, type TransferProgress } from './bucket.js';
import { CompletedInstance } from './completed-instance.js';
import type { CallOptions, Connection } from './connection.js';
import { enc } from './internal/path.js';
import { ErrorInfo } from './error-info.js';
import { AlreadySubmittedError, InvalidArgumentError, NotSubmittedError, SummaryNotHydratedError, isMissingTaskError } from './errors.js';
import { parseHardwareConstraints, type HardwareConstraint } from './hardware-constraints.js';
import { sleep, throwIfAborted } from './internal/abort.js';
import { readLog } from './internal/instance-logs.js';
import { LogCursor } from './internal/log-cursor.js';
import { ProgressBar } from './internal/progress.js';
import { rangeProblem } from './internal/range.js';
import { RUNNING_TASK_STATES } from './internal/states.js';
import { formatTimeSpan, parseTimeSpan } from './internal/timespan.js';
import type { Job } from './job.js';
import type { Pool } from './pool.js';
import type { Privileges, RetrySettings } from './retry-settings.js';
import { parseSchedulingType, type SchedulingType } from './scheduling-type.js';
import { SecretsAccessRights } from './secrets-access-rights.js';
import { Snapshot } from './snapshot.js';
import { Status } from './status.js';

/** A task's state: the server's states, plus `UnSubmitted` before submit and `Deleted` after `delete()` (local only). */
export type LocalTaskState = TaskState | 'UnSubmitted' | 'Deleted';

/** A final state a dependency may require of the task it depends on. */
export type TaskFinalStateCondition = 'success' | 'failure' | 'cancelled';

/** A dependency with conditions on the other task's final state (Python: advanced dependencies). */
export interface AdvancedDependency {
  /** The task depended on. */
  readonly taskUuid: string;
  /** Final states that satisfy the dependency; `null` = any. */
  readonly taskFinalStateCondition: readonly TaskFinalStateCondition[] | null;
  /** Reported by the server. */
  readonly state?: string | undefined;
  /** Reported by the server. */
  readonly actualFinalState?: string | null | undefined;
}

/** A task's dependencies (Python: `qarnot.dependency`). */
export interface TaskDependencies {
  /** Tasks that must finish (successfully) first. */
  readonly dependsOn: readonly string[];
  /** Dependencies with final-state conditions (exclusive with `dependsOn`). */
  readonly advancedDependsOn: readonly AdvancedDependency[];
  /** Reported by the server: `waiting`, `dependencyConditionsFulfilled`, `dependencyConditionsNotFulfilled`. */
  readonly state: string | null;
}

/** A forced network rule (internal use on Qarnot; reference §2.3.4). */
export type ForcedNetworkRule = Readonly<Record<string, string | boolean | null | undefined>> & {
  readonly inbound: boolean;
  readonly proto: 'tcp' | 'udp';
};

/** A forced constant (internal use on Qarnot; reference §2.3.3). */
export interface ForcedConstant {
  readonly constantName: string;
  readonly forcedValue: string | null;
  readonly forceExportInEnvironment?: boolean | null;
  readonly access?: 'ReadWrite' | 'ReadOnly' | null;
}

/**
 * Options of {@link Connection.createTask} / the `Task` constructor: the seed's constructor arguments
 * (`profile_or_pool`, `instancecount_or_range`, `shortname`, `job`) plus any settable property.
 */
export interface TaskOptions {
  /** Profile to run with. Exclusive with `pool`. @default undefined */
  readonly profile?: string;
  /** Pool (or its uuid) to run in. Exclusive with `profile` and `job`. @default undefined */
  readonly pool?: Pool | string;
  /** Number of instances. Exclusive with `advancedRange`. @default 1 */
  readonly instanceCount?: number;
  /** Instance ids to run, e.g. `1,3-8,9` or `0-99`. Exclusive with `instanceCount`. @default undefined */
  readonly advancedRange?: string;
  /** DNS-compliant unique short name. @default the uuid */
  readonly shortname?: string;
  /** Job (or its uuid) to attach the task to. @default undefined */
  readonly job?: Job | string;
  /** @default [] */ readonly tags?: readonly string[];
  /** @default {} */ readonly constants?: Readonly<Record<string, string>>;
  /** @default {} */ readonly constraints?: Readonly<Record<string, string>>;
  /** @default {} */ readonly labels?: Readonly<Record<string, string>>;
  /** Resource buckets (or names). @default [] */ readonly resources?: readonly (Bucket | string)[];
  /** Result bucket (or name). @default null */ readonly results?: Bucket | string | null;
  /** @default null */ readonly resultsWhitelist?: string | null;
  /** @default null */ readonly resultsBlacklist?: string | null;
  /** @default null */ readonly snapshotWhitelist?: string | null;
  /** @default null */ readonly snapshotBlacklist?: string | null;
  /** @default false */ readonly autoDelete?: boolean;
  /** Seconds or a TimeSpan string. @default '00:00:00' */ readonly completionTtl?: number | string;
  /** @default null */ readonly waitForPoolResourcesSynchronization?: boolean | null;
  /** @default null */ readonly uploadResultsOnCancellation?: boolean | null;
  /** @default null */ readonly maxTimeQueueSeconds?: number | null;
  /** @default [] */ readonly hardwareConstraints?: readonly HardwareConstraint[];
  /** @default null */ readonly defaultResourcesCacheTtlSec?: number | null;
  /** @default { maxTotalRetries: null, maxPerInstanceRetries: null } */ readonly retrySettings?: Partial<RetrySettings>;
  /** @default { exportApiAndStorageCredentialsInEnvironment: false } */ readonly privileges?: Partial<Privileges>;
  /** @default null (server default, Flex) */ readonly schedulingType?: SchedulingType | null;
  /** @default null */ readonly targetedReservationName?: string | null;
  /** @default null */ readonly secretsAccessRights?: SecretsAccessRights;
  /** Project uuid. @default null */ readonly project?: string | null;
  /** @default true */ readonly autoUpdate?: boolean;
  /** Seconds. @default 5 */ readonly updateCacheTime?: number;
}

/** Options of {@link Task.wait}. */
export interface WaitOptions extends CallOptions {
  /** Give up after this many seconds (the promise then resolves `false`). @default undefined (no limit) */
  readonly timeout?: number | undefined;
  /** `true` draws a progress bar on a TTY; a function receives the execution progress (0–100). @default false */
  readonly liveProgress?: boolean | ((progress: number, task: Task) => void) | undefined;
  /** `true` prints `** State| <state>` on stderr at each change; a function receives each new state. @default false */
  readonly followState?: boolean | ((state: LocalTaskState, task: Task) => void) | undefined;
  /**
   * `true` copies the task's new stdout to this process's stdout; a function receives each chunk. Reads by offset on
   * a Hearth server, else by the seed's fresh reads. @default false
   */
  readonly followStdout?: boolean | ((chunk: string) => void) | undefined;
  /** `true` copies the task's fresh stderr to this process's stderr; a function receives each chunk. @default false */
  readonly followStderr?: boolean | ((chunk: string) => void) | undefined;
  /**
   * Seconds between polls on servers without long-poll support (Hearth servers answer as soon as the state
   * changes, and this is not used). @default 10 (as the Python SDK), 2 while following logs or progress
   */
  readonly pollInterval?: number | undefined;
}

/** Options of {@link Task.run} and {@link Task.resume}. */
export interface RunOptions extends Omit<WaitOptions, 'timeout'> {
  /** Directory receiving the results (overwritten). @default undefined (results are not downloaded) */
  readonly outputDir?: string | undefined;
  /** Seconds before the task is aborted if it has not finished. @default undefined (no limit) */
  readonly jobTimeout?: number | undefined;
  /** `true` draws a progress bar of the results download; a function receives `(read, total, filename)`. @default undefined */
  readonly resultsProgress?: boolean | TransferProgress | undefined;
}

/** Options of the log reads. */
export interface LogOptions extends CallOptions {
  /** One instance's log instead of the whole task's. @default undefined */
  readonly instanceId?: number | undefined;
}

/** Options of {@link Task.followStdout} / {@link Task.followStderr}. */
export interface FollowOptions extends LogOptions {
  /** Seconds between reads. @default 2 */
  readonly interval?: number;
}

/** Options of {@link Task.snapshot} and {@link Task.instant}. */
export interface SnapshotOptions extends CallOptions {
  /** Only files matching this regex. @default the task's `snapshotWhitelist` */
  readonly whitelist?: string | null;
  /** Not files matching this regex. @default the task's `snapshotBlacklist` */
  readonly blacklist?: string | null;
  /** Bucket (or name) receiving the snapshot. @default the result bucket */
  readonly bucket?: Bucket | string | null;
  /** Key prefix in that bucket. @default null */
  readonly bucketPrefix?: string | null;
}

/** Options of {@link Task.waitSnapshot}. */
export interface WaitSnapshotOptions extends CallOptions {
  /** Give up after this many seconds (resolves `false`). @default undefined */
  readonly timeout?: number;
  /** Seconds between polls. @default 2 */
  readonly pollInterval?: number;
  /** Called with each new status. @default undefined */
  readonly followStatus?: (snapshot: Snapshot) => void;
}

/** Carbon figures of a task (reference §2.6, snake_case as the API sends them). */
export type CarbonFacts = Readonly<Record<string, number | string | null>>;

const SHORTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const SUMMARY_FIELDS = new Set([
  'uuid', 'name', 'shortname', 'profile', 'poolUuid', 'progress', 'runningInstanceCount', 'runningCoreCount',
  'executionTime', 'wallTime', 'state', 'instanceCount', 'creationDate', 'endDate',
]);

/**
 * A Qarnot task (Python: `qarnot.task.Task`). Create one with {@link Connection.createTask} (no I/O), set its
 * properties, then `await task.submit()` or `await task.run()`.
 *
 * Properties are synchronous and return the state last fetched from the server: TypeScript getters cannot await.
 * `await task.update()` refreshes it (at most every `updateCacheTime` seconds unless `{ flushCache: true }`);
 * `submit`, `abort`, `updateResources`, `instant` and `wait` always refresh. See docs/sdk.md, "Caching".
 *
 * @example
 * ```ts
 * const task = conn.createTask('render', { profile: 'docker-batch', advancedRange: '0-9' });
 * task.constants['DOCKER_CMD'] = 'render.sh ${INSTANCE_ID}';
 * task.resources = [await conn.createBucket('scene')];
 * task.results = conn.bucket('frames');
 * const finished = await task.run({ outputDir: 'frames', jobTimeout: 3600 });
 * ```
 */
export class Task {
  /** The connection this task talks through. */
  readonly connection: Connection;
  private _uuid: string | null = null;
  private _name: string;
  private _shortname: string | null = null;
  private _profile: string | null = null;
  private _poolUuid: string | null = null;
  private _jobUuid: string | null = null;
  private _projectUuid: string | null = null;
  private _instanceCount = 1;
  private _advancedRange: string | null = null;
  private _constants: Record<string, string> = {};
  private _constraints: Record<string, string> = {};
  private _forcedConstants: ForcedConstant[] = [];
  private _labels: Record<string, string> = {};
  private _tags: string[] = [];
  private _dependsOn: string[] = [];
  private _advancedDependsOn: AdvancedDependency[] = [];
  private _dependenciesState: string | null = null;
  private _resources: Bucket[] = [];
  private _results: Bucket | null = null;
  private _resultsCacheTtlSec: number | null = null;
  private _resultsWhitelist: string | null = null;
  private _resultsBlacklist: string | null = null;
  private _snapshotWhitelist: string | null = null;
  private _snapshotBlacklist: string | null = null;
  private _waitForPoolResourcesSynchronization: boolean | null = null;
  private _uploadResultsOnCancellation: boolean | null = null;
  private _autoDelete = false;
  private _completionTtl = '00:00:00';
  private _maxTimeQueueSeconds: number | null = null;
  private _hardwareConstraints: HardwareConstraint[] = [];
  private _defaultResourcesCacheTtlSec: number | null = null;
  private _privileges: Privileges = { exportApiAndStorageCredentialsInEnvironment: false };
  private _retrySettings: RetrySettings = { maxTotalRetries: null, maxPerInstanceRetries: null };
  private _schedulingType: SchedulingType | null = null;
  private _targetedReservedMachineKey: string | null = null;
  private _targetedReservationName: string | null = null;
  private _forcedNetworkRules: ForcedNetworkRule[] = [];
  private _secretsAccessRights = new SecretsAccessRights();
  // read-only, from the server
  private _state: LocalTaskState = 'UnSubmitted';
  private _previousState: TaskState | null = null;
  private _stateTransitionTime: string | null = null;
  private _previousStateTransitionTime: string | null = null;
  private _lastModified: string | null = null;
  private _creationDate: Date | null = null;
  private _endDate: string | null = null;
  private _runningCoreCount = 0;
  private _runningInstanceCount = 0;
  private _progress = 0;
  private _executionTime: string | null = null;
  private _wallTime: string | null = null;
  private _snapshotInterval = 0;
  private _resultsCount = 0;
  private _errors: ErrorInfo[] = [];
  private _completedInstances: CompletedInstance[] = [];
  private _status: Status | null = null;
  // local bookkeeping
  private _autoUpdate = true;
  private _autoUpdateBeforeEdit: boolean | null = null;
  private _updateCacheTime = 5;
  private _lastCache = 0;
  private _isSummary = false;
  private _pendingSnapshot: { interval: number; options: SnapshotOptions } | null = null;
  private _idempotencyKey: string = randomUUID();

  /** Prefer {@link Connection.createTask}. No I/O. Throws `InvalidArgumentError` on invalid options. */
  constructor(connection: Connection, name: string, options: TaskOptions = {}) {
    this.connection = connection;
    this._name = '';
    this.name = name;
    if (options.profile !== undefined && options.pool !== undefined) {
      throw new InvalidArgumentError('profile', 'a task takes a profile or a pool, not both');
    }
    if (options.pool !== undefined && options.job !== undefined) {
      throw new InvalidArgumentError('job', 'a task in a pool cannot be given a job: attach the job to the pool instead');
    }
    if (options.instanceCount !== undefined && options.advancedRange !== undefined) {
      throw new InvalidArgumentError('advancedRange', 'a task takes an instance count or an advanced range, not both');
    }
    if (options.profile !== undefined) this.profile = options.profile;
    if (options.pool !== undefined) this.pool = options.pool;
    if (options.job !== undefined) {
      const uuid = typeof options.job === 'string' ? options.job : options.job.uuid;
      this._jobUuid = uuid === '' ? null : uuid;
    }
    if (options.advancedRange !== undefined) {
      this._instanceCount = 0;
      this.advancedRange = options.advancedRange;
    }
    if (options.instanceCount !== undefined) this.instanceCount = options.instanceCount;
    if (options.shortname !== undefined) this.shortname = options.shortname;
    if (options.tags !== undefined) this._tags = [...options.tags];
    if (options.constants !== undefined) this._constants = { ...options.constants };
    if (options.constraints !== undefined) this._constraints = { ...options.constraints };
    if (options.labels !== undefined) this.labels = { ...options.labels };
    if (options.resources !== undefined) this.resources = options.resources;
    if (options.results !== undefined) this.results = options.results;
    if (options.resultsWhitelist !== undefined) this.resultsWhitelist = options.resultsWhitelist;
    if (options.resultsBlacklist !== undefined) this.resultsBlacklist = options.resultsBlacklist;
    if (options.snapshotWhitelist !== undefined) this.snapshotWhitelist = options.snapshotWhitelist;
    if (options.snapshotBlacklist !== undefined) this.snapshotBlacklist = options.snapshotBlacklist;
    if (options.autoDelete !== undefined) this.autoDelete = options.autoDelete;
    if (options.completionTtl !== undefined) this.completionTtl = options.completionTtl;
    if (options.waitForPoolResourcesSynchronization !== undefined) {
      this.waitForPoolResourcesSynchronization = options.waitForPoolResourcesSynchronization;
    }
    if (options.uploadResultsOnCancellation !== undefined) this.uploadResultsOnCancellation = options.uploadResultsOnCancellation;
    if (options.maxTimeQueueSeconds !== undefined) this.maxTimeQueueSeconds = options.maxTimeQueueSeconds;
    if (options.hardwareConstraints !== undefined) this.hardwareConstraints = options.hardwareConstraints;
    if (options.defaultResourcesCacheTtlSec !== undefined) this.defaultResourcesCacheTtlSec = options.defaultResourcesCacheTtlSec;
    if (options.retrySettings !== undefined) this.retrySettings = options.retrySettings;
    if (options.privileges !== undefined) this.privileges = options.privileges;
    if (options.schedulingType !== undefined) this.schedulingType = options.schedulingType;
    if (options.targetedReservationName !== undefined) this.targetedReservationName = options.targetedReservationName;
    if (options.secretsAccessRights !== undefined) this.secretsAccessRights = options.secretsAccessRights;
    if (options.project !== undefined) this.project = options.project;
    if (options.autoUpdate !== undefined) this.autoUpdate = options.autoUpdate;
    if (options.updateCacheTime !== undefined) this.updateCacheTime = options.updateCacheTime;
  }

  /** A task from its JSON (Python: `Task.from_json`); `isSummary` marks a summary-list item. No I/O. */
  static fromJson(connection: Connection, json: Partial<TaskJson>, options: { isSummary?: boolean } = {}): Task {
    const task = new Task(connection, json.name ?? json.uuid ?? 'task');
    task.applyJson(json);
    task._isSummary = options.isSummary === true;
    return task;
  }

  // ---- identity ------------------------------------------------------------------------------------------------------

  /** The task's uuid; `null` until submitted. */
  get uuid(): string | null {
    return this._uuid;
  }

  /** The task's name. Settable until submitted. */
  get name(): string {
    return this._name;
  }
  set name(value: string) {
    this.beforeSubmit('name');
    if (typeof value !== 'string' || value.trim() === '') throw new InvalidArgumentError('name', 'must be a non-empty string');
    this._name = value;
  }

  /** DNS-compliant unique short name (defaults to the uuid on the server). Settable until submitted. */
  get shortname(): string | null {
    return this._shortname;
  }
  set shortname(value: string | null) {
    this.beforeSubmit('shortname');
    if (value !== null && !SHORTNAME.test(value)) {
      throw new InvalidArgumentError('shortname', `'${value}' is not DNS compliant (1-63 letters, digits or inner hyphens)`);
    }
    this._shortname = value;
  }

  /** The profile to run with. Settable until submitted; exclusive with `pool`. */
  get profile(): string | null {
    return this._profile;
  }
  set profile(value: string | null) {
    this.beforeSubmit('profile');
    if (value !== null && this._poolUuid !== null) throw new InvalidArgumentError('profile', 'a task takes a profile or a pool, not both');
    if (value !== null && (typeof value !== 'string' || value === '')) throw new InvalidArgumentError('profile', 'must be a non-empty string');
    this._profile = value;
  }

  /** Uuid of the pool to run in. Settable until submitted; exclusive with `profile`. Assign a `Pool` or its uuid. */
  get pool(): string | null {
    return this._poolUuid;
  }
  set pool(value: Pool | string | null) {
    this.beforeSubmit('pool');
    const uuid = value === null ? null : typeof value === 'string' ? value : value.uuid;
    if (uuid !== null && this._profile !== null) throw new InvalidArgumentError('pool', 'a task takes a profile or a pool, not both');
    if (value !== null && typeof value !== 'string' && uuid === null) {
      throw new InvalidArgumentError('pool', 'the pool must be submitted before tasks can use it');
    }
    this._poolUuid = uuid;
  }

  /** Uuid of the task's job, if any. */
  get job(): string | null {
    return this._jobUuid;
  }

  /** Uuid of the task's project, if any (Python: `project`). Settable until submitted; not for pool tasks. */
  get project(): string | null {
    return this._projectUuid;
  }
  set project(value: string | null) {
    this.beforeSubmit('project');
    if (value !== null && this._poolUuid !== null) throw new InvalidArgumentError('project', 'a task in a pool takes the pool\'s project');
    this._projectUuid = value;
  }

  // ---- instances -----------------------------------------------------------------------------------------------------

  /** Number of instances. Settable until submitted; not while `advancedRange` is set. */
  get instanceCount(): number {
    return this._instanceCount;
  }
  set instanceCount(value: number) {
    this.beforeSubmit('instanceCount');
    if (this._advancedRange !== null) {
      throw new InvalidArgumentError('instanceCount', 'cannot be set while advancedRange is set: set advancedRange to null first');
    }
    if (!Number.isInteger(value) || value < 0 || value > 2 ** 31 - 1) {
      throw new InvalidArgumentError('instanceCount', `must be a non-negative integer, got ${String(value)}`);
    }
    this._instanceCount = value;
  }

  /**
   * Instance ids to run, e.g. `1,3-8,9,12-19` (or a single `0-99`). Settable until submitted; only while
   * `instanceCount` is 0 (the constructor's `advancedRange` option sets it so). `null` clears it.
   */
  get advancedRange(): string | null {
    return this._advancedRange;
  }
  set advancedRange(value: string | null) {
    this.beforeSubmit('advancedRange');
    if (value === null) {
      this._advancedRange = null;
      return;
    }
    if (this._instanceCount !== 0) {
      throw new InvalidArgumentError('advancedRange', 'cannot be set while instanceCount is not 0: set instanceCount to 0 first');
    }
    const problem = typeof value === 'string' ? rangeProblem(value) : 'must be a string';
    if (problem !== undefined) throw new InvalidArgumentError('advancedRange', problem);
    this._advancedRange = value;
  }

  /** Cores running the task. */
  get runningCoreCount(): number {
    return this._runningCoreCount;
  }
  /** Instances running. */
  get runningInstanceCount(): number {
    return this._runningInstanceCount;
  }

  // ---- payload -------------------------------------------------------------------------------------------------------

  /** The profile's parameters (`DOCKER_CMD`...). Mutable; changes after submit need `commit()`. */
  get constants(): Record<string, string> {
    return this.full('constants', this._constants);
  }
  set constants(value: Readonly<Record<string, string>>) {
    this._constants = { ...value };
  }

  /** Advanced constraints. Mutable; changes after submit need `commit()`. */
  get constraints(): Record<string, string> {
    return this.full('constraints', this._constraints);
  }
  set constraints(value: Readonly<Record<string, string>>) {
    this._constraints = { ...value };
  }

  /** Forced constants (internal use on Qarnot). */
  get forcedConstants(): ForcedConstant[] {
    return this.full('forcedConstants', this._forcedConstants);
  }
  set forcedConstants(value: readonly ForcedConstant[]) {
    this._forcedConstants = [...value];
  }

  /** Labels. Settable until submitted. */
  get labels(): Record<string, string> {
    return this.full('labels', this._labels);
  }
  set labels(value: Readonly<Record<string, string>>) {
    this.beforeSubmit('labels');
    this._labels = { ...value };
  }

  /** Custom tags. Settable any time; on a submitted task, setting them pauses `autoUpdate` until `commit()`. */
  get tags(): string[] {
    return this.full('tags', this._tags);
  }
  set tags(value: readonly string[]) {
    const list: unknown = value;
    if (!Array.isArray(list) || list.some((t) => typeof t !== 'string')) throw new InvalidArgumentError('tags', 'must be an array of strings');
    this.pauseAutoUpdate();
    this._tags = [...value];
  }

  /** Resource buckets. Assign buckets or names; changes after submit need `commit()` then `updateResources()`. */
  get resources(): Bucket[] {
    return this.full('resources', this._resources);
  }
  set resources(value: readonly (Bucket | string)[]) {
    this._resources = value.map((b) => (typeof b === 'string' ? new Bucket(this.connection, b) : b));
  }

  /** Result bucket, or `null`. Assign a bucket or a name. */
  get results(): Bucket | null {
    return this.full('results', this._results);
  }
  set results(value: Bucket | string | null) {
    this._results = value === null ? null : typeof value === 'string' ? new Bucket(this.connection, value) : value;
    this._resultsCacheTtlSec = this._results?.cacheTtlSec ?? null;
  }

  /** Results whitelist (regex). Settable until submitted. */
  get resultsWhitelist(): string | null {
    return this.full('resultsWhitelist', this._resultsWhitelist);
  }
  set resultsWhitelist(value: string | null) {
    this.beforeSubmit('resultsWhitelist');
    this._resultsWhitelist = checkRegex('resultsWhitelist', value);
  }
  /** Results blacklist (regex). Settable until submitted. */
  get resultsBlacklist(): string | null {
    return this.full('resultsBlacklist', this._resultsBlacklist);
  }
  set resultsBlacklist(value: string | null) {
    this.beforeSubmit('resultsBlacklist');
    this._resultsBlacklist = checkRegex('resultsBlacklist', value);
  }
  /** Snapshot whitelist (regex) for `snapshot()` and `instant()`. Settable until submitted. */
  get snapshotWhitelist(): string | null {
    return this.full('snapshotWhitelist', this._snapshotWhitelist);
  }
  set snapshotWhitelist(value: string | null) {
    this.beforeSubmit('snapshotWhitelist');
    this._snapshotWhitelist = checkRegex('snapshotWhitelist', value);
  }
  /** Snapshot blacklist (regex) for `snapshot()` and `instant()`. Settable until submitted. */
  get snapshotBlacklist(): string | null {
    return this.full('snapshotBlacklist', this._snapshotBlacklist);
  }
  set snapshotBlacklist(value: string | null) {
    this.beforeSubmit('snapshotBlacklist');
    this._snapshotBlacklist = checkRegex('snapshotBlacklist', value);
  }

  /** Wait for the pool's resources to be synchronised before starting. Settable until submitted. */
  get waitForPoolResourcesSynchronization(): boolean | null {
    return this.full('waitForPoolResourcesSynchronization', this._waitForPoolResourcesSynchronization);
  }
  set waitForPoolResourcesSynchronization(value: boolean | null) {
    this.beforeSubmit('waitForPoolResourcesSynchronization');
    this._waitForPoolResourcesSynchronization = value;
  }

  /** Upload results when the task is cancelled. Settable until submitted. */
  get uploadResultsOnCancellation(): boolean | null {
    return this.full('uploadResultsOnCancellation', this._uploadResultsOnCancellation);
  }
  set uploadResultsOnCancellation(value: boolean | null) {
    this.beforeSubmit('uploadResultsOnCancellation');
    this._uploadResultsOnCancellation = value;
  }

  /** Delete the task once finished when the task quota is reached. Settable until submitted. */
  get autoDelete(): boolean {
    return this.full('autoDelete', this._autoDelete);
  }
  set autoDelete(value: boolean) {
    this.beforeSubmit('autoDelete');
    if (typeof value !== 'boolean') throw new InvalidArgumentError('autoDelete', 'must be a boolean');
    this._autoDelete = value;
  }

  /**
   * How long after completion the task is deleted, as a TimeSpan string (`d.hh:mm:ss` or `hh:mm:ss`). Assign a
   * TimeSpan string or a number of seconds. Settable until submitted.
   */
  get completionTtl(): string {
    return this.full('completionTtl', this._completionTtl);
  }
  set completionTtl(value: string | number) {
    this.beforeSubmit('completionTtl');
    if (typeof value === 'number') {
      if (!(Number.isFinite(value) && value >= 0)) throw new InvalidArgumentError('completionTtl', 'must be a non-negative number of seconds');
      this._completionTtl = formatTimeSpan(value);
      return;
    }
    const seconds = typeof value === 'string' ? parseTimeSpan(value) : undefined;
    if (seconds === undefined || seconds < 0) {
      throw new InvalidArgumentError('completionTtl', `'${String(value)}' is not a duration of the form d.hh:mm:ss or hh:mm:ss`);
    }
    this._completionTtl = value.trim();
  }

  /** Longest time the task may wait in the queue, seconds. Settable any time (then `commit()`). */
  get maxTimeQueueSeconds(): number | null {
    return this.full('maxTimeQueueSeconds', this._maxTimeQueueSeconds);
  }
  set maxTimeQueueSeconds(value: number | null) {
    if (value !== null && !(Number.isInteger(value) && value >= 0)) {
      throw new InvalidArgumentError('maxTimeQueueSeconds', 'must be a non-negative integer');
    }
    this._maxTimeQueueSeconds = value;
  }

  /** Hardware constraints (see `HardwareConstraints`). Settable until submitted. */
  get hardwareConstraints(): HardwareConstraint[] {
    return this.full('hardwareConstraints', this._hardwareConstraints);
  }
  set hardwareConstraints(value: readonly HardwareConstraint[]) {
    this.beforeSubmit('hardwareConstraints');
    this._hardwareConstraints = [...value];
  }

  /** Default cache TTL of resources on compute nodes, seconds. Settable until submitted. */
  get defaultResourcesCacheTtlSec(): number | null {
    return this.full('defaultResourcesCacheTtlSec', this._defaultResourcesCacheTtlSec);
  }
  set defaultResourcesCacheTtlSec(value: number | null) {
    this.beforeSubmit('defaultResourcesCacheTtlSec');
    if (value !== null && !(Number.isInteger(value) && value >= 0)) {
      throw new InvalidArgumentError('defaultResourcesCacheTtlSec', 'must be a non-negative integer');
    }
    this._defaultResourcesCacheTtlSec = value;
  }

  /** Privileges. Settable until submitted. */
  get privileges(): Privileges {
    return this.full('privileges', this._privileges);
  }
  set privileges(value: Partial<Privileges>) {
    this.beforeSubmit('privileges');
    this._privileges = { exportApiAndStorageCredentialsInEnvironment: value.exportApiAndStorageCredentialsInEnvironment === true };
  }
  /** Exports the API and storage credentials into the instances' environment (Python method of the same name). */
  allowCredentialsToBeExportedToTaskEnvironment(): void {
    this.privileges = { exportApiAndStorageCredentialsInEnvironment: true };
  }

  /** Automatic retries of failed instances. Settable until submitted. */
  get retrySettings(): RetrySettings {
    return this.full('retrySettings', this._retrySettings);
  }
  set retrySettings(value: Partial<RetrySettings>) {
    this.beforeSubmit('retrySettings');
    for (const k of ['maxTotalRetries', 'maxPerInstanceRetries'] as const) {
      const v = value[k];
      if (v !== undefined && v !== null && !(Number.isInteger(v) && v >= 0)) {
        throw new InvalidArgumentError(`retrySettings.${k}`, 'must be a non-negative integer or null');
      }
    }
    this._retrySettings = { maxTotalRetries: value.maxTotalRetries ?? null, maxPerInstanceRetries: value.maxPerInstanceRetries ?? null };
  }

  /** Scheduling type; `null` = the server's default. Settable until submitted. */
  get schedulingType(): SchedulingType | null {
    return this.full('schedulingType', this._schedulingType);
  }
  set schedulingType(value: SchedulingType | null) {
    this.beforeSubmit('schedulingType');
    if (value !== null && !['Flex', 'OnDemand', 'Reserved'].includes(value)) {
      throw new InvalidArgumentError('schedulingType', `must be Flex, OnDemand or Reserved, got ${String(value)}`);
    }
    this._schedulingType = value;
  }

  /** Reservation to run on with `Reserved` scheduling. Settable until submitted. */
  get targetedReservationName(): string | null {
    return this.full('targetedReservationName', this._targetedReservationName);
  }
  set targetedReservationName(value: string | null) {
    this.beforeSubmit('targetedReservationName');
    this._targetedReservationName = value;
  }
  /** Deprecated (Python 2.19) in favour of `targetedReservationName`. Settable until submitted. */
  get targetedReservedMachineKey(): string | null {
    return this.full('targetedReservedMachineKey', this._targetedReservedMachineKey);
  }
  set targetedReservedMachineKey(value: string | null) {
    this.beforeSubmit('targetedReservedMachineKey');
    this._targetedReservedMachineKey = value;
  }

  /** Forced network rules (internal use on Qarnot). Settable until submitted. */
  get forcedNetworkRules(): ForcedNetworkRule[] {
    return this.full('forcedNetworkRules', this._forcedNetworkRules);
  }
  set forcedNetworkRules(value: readonly ForcedNetworkRule[]) {
    this.beforeSubmit('forcedNetworkRules');
    this._forcedNetworkRules = [...value];
  }

  /** Secrets the instances may read. Mutable; changes after submit need `commit()`. */
  get secretsAccessRights(): SecretsAccessRights {
    return this.full('secretsAccessRights', this._secretsAccessRights);
  }
  set secretsAccessRights(value: SecretsAccessRights) {
    this._secretsAccessRights = value;
  }

  // ---- dependencies --------------------------------------------------------------------------------------------------

  /** The task's dependencies. Change them with the `set*Dependencies` methods, before submit. */
  get dependencies(): TaskDependencies {
    return this.full('dependencies', {
      dependsOn: [...this._dependsOn],
      advancedDependsOn: [...this._advancedDependsOn],
      state: this._dependenciesState,
    });
  }

  /** Depend on these tasks (by uuid) finishing successfully. Exclusive with advanced dependencies. */
  setTaskDependenciesFromUuids(uuids: readonly string[]): void {
    this.beforeSubmit('dependencies');
    if (this._advancedDependsOn.length > 0) {
      throw new InvalidArgumentError('dependencies', 'simple and advanced dependencies are exclusive: clear the advanced ones first');
    }
    this._dependsOn = [...new Set(uuids)];
  }
  /** Depend on these (submitted) tasks. */
  setTaskDependenciesFromTasks(tasks: readonly Task[]): void {
    this.setTaskDependenciesFromUuids(tasks.map((t) => submittedUuid(t, 'dependencies')));
  }
  /** Depend on tasks with final-state conditions. Exclusive with simple dependencies; duplicates are merged. */
  setTaskAdvancedDependencies(dependencies: readonly { task: Task | string; finalStateConditions?: readonly TaskFinalStateCondition[] | null }[]): void {
    this.beforeSubmit('dependencies');
    if (this._dependsOn.length > 0) {
      throw new InvalidArgumentError('dependencies', 'simple and advanced dependencies are exclusive: clear the simple ones first');
    }
    const byUuid = new Map<string, AdvancedDependency>();
    for (const d of dependencies) {
      const uuid = typeof d.task === 'string' ? d.task : submittedUuid(d.task, 'dependencies');
      for (const c of d.finalStateConditions ?? []) {
        if (!['success', 'failure', 'cancelled'].includes(c)) {
          throw new InvalidArgumentError('dependencies', `unknown final state condition '${String(c)}'`);
        }
      }
      const prev = byUuid.get(uuid);
      const conditions =
        d.finalStateConditions === null || d.finalStateConditions === undefined
          ? null
          : [...new Set([...(prev?.taskFinalStateCondition ?? []), ...d.finalStateConditions])];
      byUuid.set(uuid, { taskUuid: uuid, taskFinalStateCondition: conditions });
    }
    this._advancedDependsOn = [...byUuid.values()];
  }
  /** Removes a dependency (simple or advanced). */
  removeTaskDependency(task: Task | string): void {
    this.beforeSubmit('dependencies');
    const uuid = typeof task === 'string' ? task : task.uuid;
    this._dependsOn = this._dependsOn.filter((u) => u !== uuid);
    this._advancedDependsOn = this._advancedDependsOn.filter((d) => d.taskUuid !== uuid);
  }
  /** Removes every dependency. */
  clearTaskDependencies(): void {
    this.beforeSubmit('dependencies');
    this._dependsOn = [];
    this._advancedDependsOn = [];
  }

  // ---- server-reported -----------------------------------------------------------------------------------------------

  /**
   * The task's state when last fetched: `UnSubmitted`, `Submitted`, `PartiallyDispatched`, `FullyDispatched`,
   * `PartiallyExecuting`, `FullyExecuting`, `DownloadingResults`, `UploadingResults`, `Success`, `Failure`,
   * `PendingCancel`, `Cancelled`, `PendingDelete`, or `Deleted` after `delete()`. `await update()` for a fresh one.
   */
  get state(): LocalTaskState {
    return this._state;
  }
  /** The state before the current one. */
  get previousState(): TaskState | null {
    return this.full('previousState', this._previousState);
  }
  /** When the state last changed (ISO). */
  get stateTransitionTime(): string | null {
    return this.full('stateTransitionTime', this._stateTransitionTime);
  }
  /** When the previous state was entered (ISO). */
  get previousStateTransitionTime(): string | null {
    return this.full('previousStateTransitionTime', this._previousStateTransitionTime);
  }
  /** Last modification (ISO). */
  get lastModified(): string | null {
    return this.full('lastModified', this._lastModified);
  }
  /** Creation date (UTC). */
  get creationDate(): Date | null {
    return this._creationDate;
  }
  /** End date (ISO), once finished. */
  get endDate(): string | null {
    return this._endDate;
  }
  /** Overall progress, %. */
  get progress(): number {
    return this._progress;
  }
  /** Execution time (TimeSpan). */
  get executionTime(): string | null {
    return this._executionTime;
  }
  /** Wall time (TimeSpan). */
  get wallTime(): string | null {
    return this._wallTime;
  }
  /** Periodic snapshot interval in seconds (0 = none). */
  get snapshotInterval(): number {
    return this.full('snapshotInterval', this._snapshotInterval);
  }
  /** Number of result uploads so far; `downloadResults` does nothing while it is 0. */
  get resultsCount(): number {
    return this.full('resultsCount', this._resultsCount);
  }
  /** Errors reported on the task. */
  get errors(): readonly ErrorInfo[] {
    return this.full('errors', this._errors);
  }
  /** Instances that completed. */
  get completedInstances(): readonly CompletedInstance[] {
    return this.full('completedInstances', this._completedInstances);
  }
  /** Progress and timings, or `null`. */
  get status(): Status | null {
    return this.full('status', this._status);
  }
  /** True when this object came from a summary list and was not hydrated by `update()` yet. */
  get isSummary(): boolean {
    return this._isSummary;
  }
  /** True while the state is one in which `wait()` keeps waiting. */
  get isRunning(): boolean {
    return RUNNING_TASK_STATES.has(this._state);
  }

  // ---- caching -------------------------------------------------------------------------------------------------------

  /**
   * When true (the default), the SDK's own methods refresh the task before using it (e.g. `downloadResults`)
   * and `update()` honours `updateCacheTime`. Getters never do I/O: see docs/sdk.md, "Caching".
   */
  get autoUpdate(): boolean {
    return this._autoUpdate;
  }
  set autoUpdate(value: boolean) {
    this._autoUpdate = value;
    this._autoUpdateBeforeEdit = null;
  }
  /** Seconds during which `update()` serves the cached state. @default 5 */
  get updateCacheTime(): number {
    return this._updateCacheTime;
  }
  set updateCacheTime(value: number) {
    if (!(value >= 0)) throw new InvalidArgumentError('updateCacheTime', 'must be a non-negative number of seconds');
    this._updateCacheTime = value;
  }

  // ---- lifecycle -----------------------------------------------------------------------------------------------------

  /**
   * Submits the task if it is not submitted yet (`POST /tasks` with an `Idempotency-Key`, so a retried submit never
   * creates two tasks on a Hearth server), replays a `snapshot()` asked before submit, then refreshes.
   */
  async submit(options: CallOptions = {}): Promise<void> {
    if (this._uuid !== null) return;
    throwIfAborted(options.signal);
    const res = await this.connection.http.json<{ uuid: string }>({
      method: 'POST',
      path: '/tasks',
      body: this.toJson(),
      subject: 'task',
      operation: 'submit',
      idempotencyKey: this._idempotencyKey,
      signal: options.signal,
    });
    this.markSubmitted(res.uuid);
    if (this._pendingSnapshot) {
      const { interval, options: snapOptions } = this._pendingSnapshot;
      this._pendingSnapshot = null;
      await this.snapshot(interval, { ...snapOptions, signal: options.signal });
    }
    await this.update({ flushCache: true, signal: options.signal });
  }

  /** Records the uuid given by a (bulk) submit. @internal */
  markSubmitted(uuid: string): void {
    this._uuid = uuid;
    this._state = 'Submitted';
    this._idempotencyKey = randomUUID();
  }

  /**
   * Submits, waits, aborts the task if `jobTimeout` elapsed first, and downloads the results to `outputDir` when
   * given. Resolves whether the task finished. Aborting `signal` stops waiting but leaves the task running remotely.
   */
  async run(options: RunOptions = {}): Promise<boolean> {
    await this.submit({ signal: options.signal });
    return this.waitAndCollect(options, true);
  }

  /**
   * Resumes waiting for a submitted task, then downloads its results: `wait()` + `downloadResults()`. Resolves
   * `false` without doing anything if the task was never submitted.
   */
  async resume(outputDir: string, options: Omit<RunOptions, 'outputDir'> = {}): Promise<boolean> {
    if (this._uuid === null) return false;
    return this.waitAndCollect({ ...options, outputDir }, false);
  }

  private async waitAndCollect(options: RunOptions, abortOnTimeout: boolean): Promise<boolean> {
    const finished = await this.wait({ ...options, timeout: options.jobTimeout });
    if (!finished && abortOnTimeout && options.jobTimeout !== undefined) await this.abort({ signal: options.signal });
    if (options.outputDir !== undefined) {
      await this.downloadResults(options.outputDir, { progress: options.resultsProgress, signal: options.signal });
    }
    return finished;
  }

  /** Aborts the task (`POST /tasks/{uuid}/abort`), then refreshes. */
  async abort(options: CallOptions = {}): Promise<void> {
    const uuid = this.requireUuid('abort()');
    await this.connection.http.request({ method: 'POST', path: `/tasks/${enc(uuid)}/abort`, idempotent: true, subject: 'task', signal: options.signal });
    await this.update({ flushCache: true, signal: options.signal });
  }

  /**
   * Pushes new files of the resource buckets to the running instances (`PATCH /tasks/{uuid}`). Additive only;
   * completion is not observable.
   */
  async updateResources(options: CallOptions = {}): Promise<void> {
    const uuid = this.requireUuid('updateResources()');
    await this.connection.http.request({ method: 'PATCH', path: `/tasks/${enc(uuid)}`, idempotent: true, subject: 'task', signal: options.signal });
    await this.update({ flushCache: true, signal: options.signal });
  }

  /**
   * Deletes the task on the server (aborting it if running), and optionally its resource and result buckets.
   * The state becomes `Deleted` and `autoUpdate` is turned off.
   */
  async delete(options: CallOptions & { purgeResources?: boolean; purgeResults?: boolean } = {}): Promise<void> {
    if (this._uuid !== null) {
      await this.connection.http.request({ method: 'DELETE', path: `/tasks/${enc(this._uuid)}`, subject: 'task', signal: options.signal });
    }
    if (options.purgeResources) for (const b of this._resources) await b.delete({ signal: options.signal });
    if (options.purgeResults && this._results) await this._results.delete({ signal: options.signal });
    this._state = 'Deleted';
    this._autoUpdate = false;
  }

  /**
   * Refreshes the task from the server (`GET /tasks/{uuid}`), unless the cached copy is younger than
   * `updateCacheTime` and `flushCache` is not set. Hydrates summaries. Does nothing before submit.
   */
  async update(options: CallOptions & { flushCache?: boolean } = {}): Promise<void> {
    if (this._uuid === null) return;
    const fresh = Date.now() - this._lastCache < this._updateCacheTime * 1000;
    if (!options.flushCache && !this._isSummary && fresh) return;
    const json = await this.connection.http.json<TaskJson>({
      method: 'GET',
      path: `/tasks/${enc(this._uuid)}`,
      subject: 'task',
      signal: options.signal,
    });
    this.applyJson(json);
  }

  /** Sends local changes (constants, tags, resources...) to the server (`PUT /tasks/{uuid}`); resumes `autoUpdate`. */
  async commit(options: CallOptions = {}): Promise<void> {
    const uuid = this.requireUuid('commit()');
    await this.connection.http.request({ method: 'PUT', path: `/tasks/${enc(uuid)}`, body: this.toJson(), subject: 'task', signal: options.signal });
    if (this._autoUpdateBeforeEdit !== null) {
      this._autoUpdate = this._autoUpdateBeforeEdit;
      this._autoUpdateBeforeEdit = null;
    }
  }

  /**
   * Waits until the task leaves the running states. Resolves `true` when it finished, `false` on `timeout` or when
   * the task was never submitted. On a Hearth server it returns as soon as the state changes (long-poll); on other
   * servers it polls every `pollInterval` seconds.
   */
  async wait(options: WaitOptions = {}): Promise<boolean> {
    if (this._uuid === null) return false;
    const { signal } = options;
    const deadline = options.timeout === undefined ? Infinity : Date.now() + options.timeout * 1000;
    const following =
      Boolean(options.followStdout) || Boolean(options.followStderr) || Boolean(options.liveProgress);
    const bar = options.liveProgress === true ? new ProgressBar(this._name) : undefined;
    let lastState: LocalTaskState | undefined;
    let stdoutCursor: LogCursor | undefined;
    let stderrCursor: LogCursor | undefined;
    const report = async (): Promise<void> => {
      if (options.followState && this._state !== lastState) {
        lastState = this._state;
        if (typeof options.followState === 'function') options.followState(this._state, this);
        else process.stderr.write(`** State| ${this._state}\n`);
      }
      const progress = Math.max(0, Math.min(100, this._status?.executionProgress ?? this._progress));
      if (typeof options.liveProgress === 'function') options.liveProgress(progress, this);
      bar?.update(progress / 100, this._state);
      if (options.followStdout) {
        const chunk = await (stdoutCursor ??= this.cursor('stdout', undefined)).next(signal);
        if (chunk && typeof options.followStdout === 'function') options.followStdout(chunk);
        else if (chunk) process.stdout.write(chunk);
      }
      if (options.followStderr) {
        const chunk = await (stderrCursor ??= this.cursor('stderr', undefined)).next(signal);
        if (chunk && typeof options.followStderr === 'function') options.followStderr(chunk);
        else if (chunk) process.stderr.write(chunk);
      }
    };
    try {
      await this.update({ flushCache: true, signal });
      await report();
      while (this.isRunning) {
        const remaining = deadline - Date.now();
        if (remaining <= 0) return false;
        const slice = Math.min(remaining, (following ? 2 : 30) * 1000);
        const pollMs = (options.pollInterval ?? (following ? 2 : 10)) * 1000;
        await this.waitForChange(slice, pollMs, signal);
        await report();
      }
      return true;
    } finally {
      bar?.done();
    }
  }

  /**
   * One step of `wait()`: a long-poll `GET /tasks/{uuid}?longPollSeconds=N&ifState=S`, which a Hearth server holds
   * until the state differs from `S` (answering with a `Hearth-Long-Poll` header); servers that ignore the
   * parameters answer at once, without the header, and the SDK falls back to sleeping `pollMs` between GETs.
   */
  private async waitForChange(maxMs: number, pollMs: number, signal: AbortSignal | undefined): Promise<void> {
    const uuid = this._uuid as string;
    const http = this.connection.http;
    const features = this.connection.features;
    if (features.longPoll !== false) {
      const seconds = Math.max(1, Math.floor(maxMs / 1000));
      const res = await http.request({
        method: 'GET',
        path: `/tasks/${enc(uuid)}`,
        query: { longPollSeconds: seconds, ifState: this._state },
        timeoutMs: http.options.timeoutMs + seconds * 1000,
        subject: 'task',
        signal,
      });
      this.applyJson(JSON.parse(res.body) as TaskJson);
      if (res.headers['hearth-long-poll'] !== undefined) {
        features.longPoll = true;
        return;
      }
      // The server answered at once: it ignored the parameters. This GET counts as a poll; sleep from now on.
      features.longPoll = false;
      return;
    }
    await sleep(Math.min(pollMs, Math.max(0, maxMs)), signal);
    await this.update({ flushCache: true, signal });
  }

  /**
   * Downloads the result bucket into `outputDir` (overwriting), in parallel, each file written atomically.
   * Does nothing while `resultsCount` is 0 or there is no result bucket. Resolves the local paths written.
   */
  async downloadResults(
    outputDir: string,
    options: CallOptions & { progress?: boolean | TransferProgress | undefined; concurrency?: number } = {},
  ): Promise<string[]> {
    if (this._autoUpdate) await this.update({ signal: options.signal });
    await mkdir(outputDir, { recursive: true });
    if (this._results === null || (this._uuid !== null && this._resultsCount === 0)) return [];
    return this._results.getAllFiles(outputDir, {
      signal: options.signal,
      ...(options.progress !== undefined ? { progress: options.progress } : {}),
      ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    });
  }

  // ---- snapshots -----------------------------------------------------------------------------------------------------

  /**
   * Uploads results every `interval` seconds while the task runs (`POST /tasks/{uuid}/snapshot/periodic`). Before
   * submit, the request is remembered and sent right after `submit()`.
   */
  async snapshot(interval: number, options: SnapshotOptions = {}): Promise<void> {
    if (!(Number.isInteger(interval) && interval > 0)) throw new InvalidArgumentError('interval', 'must be a positive integer number of seconds');
    if (this._uuid === null) {
      const { whitelist, blacklist, bucket, bucketPrefix } = options;
      this._pendingSnapshot = { interval, options: { whitelist, blacklist, bucket, bucketPrefix } };
      return;
    }
    await this.connection.http.request({
      method: 'POST',
      path: `/tasks/${enc(this._uuid)}/snapshot/periodic`,
      body: { ...this.snapshotBody(options), interval },
      idempotent: true,
      subject: 'task',
      operation: 'periodic-snapshot',
      signal: options.signal,
    });
  }

  /** Takes one snapshot now (`POST /tasks/{uuid}/snapshot`); resolves its id for `snapshotStatus`/`waitSnapshot`. */
  async instant(options: SnapshotOptions = {}): Promise<string> {
    const uuid = this.requireUuid('instant()');
    const res = await this.connection.http.json<{ id?: string } | undefined>({
      method: 'POST',
      path: `/tasks/${enc(uuid)}/snapshot`,
      body: this.snapshotBody(options),
      subject: 'task',
      signal: options.signal,
    });
    await this.update({ flushCache: true, signal: options.signal });
    return res?.id ?? '';
  }

  /** Status of a snapshot (`GET /tasks/{uuid}/snapshot/{id}`). */
  async snapshotStatus(snapshotId: string, options: CallOptions = {}): Promise<Snapshot> {
    const uuid = this.requireUuid('snapshotStatus()');
    const json = await this.connection.http.json<Record<string, unknown>>({
      method: 'GET',
      path: `/tasks/${enc(uuid)}/snapshot/${enc(snapshotId)}`,
      subject: 'task',
      signal: options.signal,
    });
    return new Snapshot(json);
  }

  /** Waits until a snapshot succeeds or fails; resolves `false` on timeout or an empty id. */
  async waitSnapshot(snapshotId: string, options: WaitSnapshotOptions = {}): Promise<boolean> {
    if (snapshotId === '') return false;
    const deadline = options.timeout === undefined ? Infinity : Date.now() + options.timeout * 1000;
    let last: string | undefined;
    for (;;) {
      const snap = await this.snapshotStatus(snapshotId, options);
      if (snap.status !== last) {
        last = snap.status;
        options.followStatus?.(snap);
      }
      if (snap.isCompleted) return true;
      const remaining = deadline - Date.now();
      if (remaining <= 0) return false;
      await sleep(Math.min(remaining, (options.pollInterval ?? 2) * 1000), options.signal);
    }
  }

  private snapshotBody(options: SnapshotOptions): Record<string, unknown> {
    const bucket = options.bucket === undefined ? null : options.bucket;
    return {
      whitelist: options.whitelist === undefined ? this._snapshotWhitelist : options.whitelist,
      blacklist: options.blacklist === undefined ? this._snapshotBlacklist : options.blacklist,
      bucket: bucket === null ? null : typeof bucket === 'string' ? bucket : bucket.name,
      bucketPrefix: options.bucketPrefix ?? null,
    };
  }

  // ---- logs ----------------------------------------------------------------------------------------------------------

  /** The retained standard output (a circular buffer) of the task or one instance; `''` before submit. */
  stdout(options: LogOptions = {}): Promise<string> {
    return this.log('stdout', false, options);
  }
  /** What was written on stdout since the previous `freshStdout()` (a cursor shared by all clients). */
  freshStdout(options: LogOptions = {}): Promise<string> {
    return this.log('stdout', true, options);
  }
  /** The retained standard error of the task or one instance; `''` before submit. */
  stderr(options: LogOptions = {}): Promise<string> {
    return this.log('stderr', false, options);
  }
  /** What was written on stderr since the previous `freshStderr()`. */
  freshStderr(options: LogOptions = {}): Promise<string> {
    return this.log('stderr', true, options);
  }

  /**
   * Follows stdout: yields each fresh chunk until the task has finished and its output is drained.
   * @example
   * ```ts
   * for await (const chunk of task.followStdout({ signal })) process.stdout.write(chunk);
   * ```
   */
  followStdout(options: FollowOptions = {}): AsyncGenerator<string> {
    return this.follow('stdout', options);
  }
  /** Follows stderr, as {@link followStdout}. */
  followStderr(options: FollowOptions = {}): AsyncGenerator<string> {
    return this.follow('stderr', options);
  }

  private async *follow(kind: 'stdout' | 'stderr', options: FollowOptions): AsyncGenerator<string> {
    this.requireUuid(`follow${kind === 'stdout' ? 'Stdout' : 'Stderr'}()`);
    const cursor = this.cursor(kind, options.instanceId);
    for (;;) {
      const chunk = await cursor.next(options.signal);
      if (chunk) yield chunk;
      else {
        await this.update({ flushCache: true, signal: options.signal });
        if (!this.isRunning) {
          const last = await cursor.next(options.signal);
          if (last) yield last;
          return;
        }
        await sleep((options.interval ?? 2) * 1000, options.signal);
      }
    }
  }

  private cursor(kind: 'stdout' | 'stderr', instanceId: number | undefined): LogCursor {
    return new LogCursor(this.connection.http, this.connection.features, { collection: 'tasks', uuid: this._uuid as string, kind, instanceId });
  }

  private log(kind: 'stdout' | 'stderr', fresh: boolean, options: LogOptions): Promise<string> {
    if (this._uuid === null) return Promise.resolve('');
    return readLog(this.connection.http, { collection: 'tasks', uuid: this._uuid, kind, fresh, instanceId: options.instanceId, signal: options.signal });
  }

  // ---- billing -------------------------------------------------------------------------------------------------------

  /** Carbon figures (`GET /carbon/v1/tasks/{uuid}/carbon-facts`), optionally against a datacenter. */
  carbonFacts(options: CallOptions & { comparisonDatacenter?: string } = {}): Promise<CarbonFacts> {
    const uuid = this.requireUuid('carbonFacts()');
    return this.connection.http.json<CarbonFacts>({
      method: 'GET',
      path: `/carbon/v1/tasks/${enc(uuid)}/carbon-facts`,
      query: { comparisonDatacenter: options.comparisonDatacenter },
      subject: 'task',
      signal: options.signal,
    });
  }

  /** Credits spent, euros (`GET /credits/v1/tasks/{uuid}/credits`). */
  async credits(options: CallOptions = {}): Promise<number> {
    const uuid = this.requireUuid('credits()');
    const res = await this.connection.http.json<{ credits: number }>({
      method: 'GET',
      path: `/credits/v1/tasks/${enc(uuid)}/credits`,
      subject: 'task',
      signal: options.signal,
    });
    return res.credits;
  }

  // ---- wire ----------------------------------------------------------------------------------------------------------

  /** The request JSON of `POST /tasks` and `PUT /tasks/{uuid}` (reference §2.1; Python: `_to_json`). */
  toJson(): Record<string, unknown> {
    const json: Record<string, unknown> = {
      name: this._name,
      profile: this._profile,
      poolUuid: this._poolUuid,
      jobUuid: this._jobUuid,
      constants: toKeyValues(this._constants),
      constraints: toKeyValues(this._constraints),
      forcedConstants: this._forcedConstants,
      waitForPoolResourcesSynchronization: this._waitForPoolResourcesSynchronization,
      uploadResultsOnCancellation: this._uploadResultsOnCancellation,
      labels: this._labels,
      dependencies:
        this._advancedDependsOn.length > 0
          ? { advancedDependsOn: this._advancedDependsOn.map((d) => ({ taskUuid: d.taskUuid, taskFinalStateCondition: d.taskFinalStateCondition })) }
          : { dependsOn: this._dependsOn },
      advancedResourceBuckets: this._resources.map((b) => b.toJson()),
      tags: this._tags,
      autoDeleteOnCompletion: this._autoDelete,
      completionTimeToLive: this._completionTtl,
      hardwareConstraints: this._hardwareConstraints,
      defaultResourcesCacheTTLSec: this._defaultResourcesCacheTtlSec,
      privileges: this._privileges,
      retrySettings: this._retrySettings,
      forcedNetworkRules: this._forcedNetworkRules,
    };
    if (this._shortname !== null) json['shortname'] = this._shortname;
    if (this._maxTimeQueueSeconds !== null) json['maxTimeQueueSeconds'] = this._maxTimeQueueSeconds;
    if (this._results !== null) {
      json['resultBucket'] = this._results.name;
      const ttl = this._results.cacheTtlSec ?? this._resultsCacheTtlSec;
      // The Python SDK's capital R; the API reads keys case-insensitively.
      if (ttl !== null && ttl !== undefined) json['ResultsCacheTTLSec'] = ttl;
    }
    if (this._advancedRange !== null) json['advancedRanges'] = this._advancedRange;
    else json['instanceCount'] = this._instanceCount;
    if (this._snapshotWhitelist !== null) json['snapshotWhitelist'] = this._snapshotWhitelist;
    if (this._snapshotBlacklist !== null) json['snapshotBlacklist'] = this._snapshotBlacklist;
    if (this._resultsWhitelist !== null) json['resultsWhitelist'] = this._resultsWhitelist;
    if (this._resultsBlacklist !== null) json['resultsBlacklist'] = this._resultsBlacklist;
    if (this._schedulingType !== null) json['schedulingType'] = this._schedulingType;
    if (this._targetedReservedMachineKey !== null) json['targetedReservedMachineKey'] = this._targetedReservedMachineKey;
    if (this._targetedReservationName !== null) json['targetedReservationName'] = this._targetedReservationName;
    if (!this._secretsAccessRights.isEmpty) json['secretsAccessRights'] = this._secretsAccessRights.toJson();
    if (this._projectUuid !== null) json['projectUuid'] = this._projectUuid;
    return json;
  }

  /** Applies a server JSON (full or summary) to this object; tolerant of nulls and missing keys. */
  private applyJson(json: Partial<TaskJson> & { ResultsCacheTTLSec?: number | null }): void {
    const has = (k: string): boolean => k in json && (json as Record<string, unknown>)[k] !== undefined;
    if (json.uuid) this._uuid = json.uuid;
    if (typeof json.name === 'string' && json.name !== '') this._name = json.name;
    if (has('shortname')) this._shortname = json.shortname ?? null;
    if (has('profile')) this._profile = json.profile ?? null;
    if (has('poolUuid')) this._poolUuid = json.poolUuid ?? null;
    if (has('jobUuid')) this._jobUuid = json.jobUuid || null;
    if (has('projectUuid')) this._projectUuid = json.projectUuid ?? null;
    if (json.state) this._state = json.state;
    if (has('previousState')) this._previousState = json.previousState ?? null;
    if (has('stateTransitionTime')) this._stateTransitionTime = json.stateTransitionTime ?? null;
    if (has('previousStateTransitionTime')) this._previousStateTransitionTime = json.previousStateTransitionTime ?? null;
    if (has('lastModified')) this._lastModified = json.lastModified ?? null;
    if (typeof json.creationDate === 'string') this._creationDate = new Date(json.creationDate);
    if (has('endDate')) this._endDate = json.endDate ?? null;
    if (has('advancedRanges')) this._advancedRange = json.advancedRanges ?? null;
    if (typeof json.instanceCount === 'number') this._instanceCount = json.instanceCount;
    if (typeof json.runningCoreCount === 'number') this._runningCoreCount = json.runningCoreCount;
    if (typeof json.runningInstanceCount === 'number') this._runningInstanceCount = json.runningInstanceCount;
    if (typeof json.progress === 'number') this._progress = json.progress;
    if (has('executionTime')) this._executionTime = json.executionTime ?? null;
    if (has('wallTime')) this._wallTime = json.wallTime ?? null;
    if (typeof json.snapshotInterval === 'number') this._snapshotInterval = json.snapshotInterval;
    if (typeof json.resultsCount === 'number') this._resultsCount = json.resultsCount;
    if (Array.isArray(json.constants)) this._constants = fromKeyValues(json.constants);
    if (Array.isArray(json.constraints)) this._constraints = fromKeyValues(json.constraints);
    if (Array.isArray(json.forcedConstants)) this._forcedConstants = json.forcedConstants as ForcedConstant[];
    if (json.labels && typeof json.labels === 'object') this._labels = { ...json.labels };
    if (Array.isArray(json.tags)) this._tags = [...json.tags];
    if (has('dependencies')) this.applyDependencies(json.dependencies ?? null);
    if (Array.isArray(json.advancedResourceBuckets) && json.advancedResourceBuckets.length > 0) {
      this._resources = json.advancedResourceBuckets.map((b) => Bucket.fromJson(this.connection, b));
    } else if (Array.isArray(json.resourceBuckets) && json.resourceBuckets.length > 0) {
      this._resources = json.resourceBuckets.map((n) => new Bucket(this.connection, n));
    } else if (Array.isArray(json.advancedResourceBuckets) || Array.isArray(json.resourceBuckets)) {
      this._resources = [];
    }
    const resultsTtl = json.ResultsCacheTTLSec ?? json.resultsCacheTTLSec ?? null;
    if (has('resultBucket')) {
      this._results = json.resultBucket
        ? new Bucket(this.connection, json.resultBucket, resultsTtl === null ? {} : { cacheTtlSec: resultsTtl })
        : null;
      this._resultsCacheTtlSec = resultsTtl;
    }
    if (has('resultsWhitelist')) this._resultsWhitelist = json.resultsWhitelist ?? null;
    if (has('resultsBlacklist')) this._resultsBlacklist = json.resultsBlacklist ?? null;
    if (has('snapshotWhitelist')) this._snapshotWhitelist = json.snapshotWhitelist ?? null;
    if (has('snapshotBlacklist')) this._snapshotBlacklist = json.snapshotBlacklist ?? null;
    if (has('waitForPoolResourcesSynchronization')) this._waitForPoolResourcesSynchronization = json.waitForPoolResourcesSynchronization ?? null;
    if (has('uploadResultsOnCancellation')) this._uploadResultsOnCancellation = json.uploadResultsOnCancellation ?? null;
    if (typeof json.autoDeleteOnCompletion === 'boolean') this._autoDelete = json.autoDeleteOnCompletion;
    if (typeof json.completionTimeToLive === 'string') this._completionTtl = json.completionTimeToLive;
    if (has('maxTimeQueueSeconds')) this._maxTimeQueueSeconds = json.maxTimeQueueSeconds ?? null;
    if (has('hardwareConstraints')) this._hardwareConstraints = parseHardwareConstraints(json.hardwareConstraints);
    if (has('defaultResourcesCacheTTLSec')) this._defaultResourcesCacheTtlSec = json.defaultResourcesCacheTTLSec ?? null;
    if (json.privileges && typeof json.privileges === 'object') {
      this._privileges = { exportApiAndStorageCredentialsInEnvironment: json.privileges.exportApiAndStorageCredentialsInEnvironment === true };
    }
    if (json.retrySettings && typeof json.retrySettings === 'object') {
      this._retrySettings = {
        maxTotalRetries: json.retrySettings.maxTotalRetries ?? null,
        maxPerInstanceRetries: json.retrySettings.maxPerInstanceRetries ?? null,
      };
    }
    if (has('schedulingType')) this._schedulingType = json.schedulingType == null ? null : parseSchedulingType(json.schedulingType);
    if (has('targetedReservedMachineKey')) this._targetedReservedMachineKey = json.targetedReservedMachineKey ?? null;
    if (has('targetedReservationName')) this._targetedReservationName = json.targetedReservationName ?? null;
    if (Array.isArray(json.forcedNetworkRules)) this._forcedNetworkRules = json.forcedNetworkRules as ForcedNetworkRule[];
    if (has('secretsAccessRights')) this._secretsAccessRights = SecretsAccessRights.fromJson(json.secretsAccessRights);
    if (Array.isArray(json.errors)) this._errors = json.errors.map((e) => new ErrorInfo(e));
    if (Array.isArray(json.completedInstances)) this._completedInstances = json.completedInstances.map((c) => new CompletedInstance(c));
    if (has('status')) this._status = json.status ? new Status(json.status) : null;
    this._isSummary = false;
    this._lastCache = Date.now();
  }

  private applyDependencies(deps: Partial<DependenciesJson> | null): void {
    this._dependsOn = [...(deps?.dependsOn ?? [])];
    this._advancedDependsOn = (deps?.advancedDependsOn ?? []).map((d) => ({
      taskUuid: d.taskUuid,
      taskFinalStateCondition: (d.taskFinalStateCondition?.map((c) => c.toLowerCase()) as TaskFinalStateCondition[] | undefined) ?? null,
      state: d.state,
      actualFinalState: d.actualFinalState,
    }));
    this._dependenciesState = deps?.state ?? null;
  }

  // ---- helpers -------------------------------------------------------------------------------------------------------

  private beforeSubmit(property: string): void {
    if (this._uuid !== null) throw new AlreadySubmittedError(property);
  }

  private pauseAutoUpdate(): void {
    if (this._uuid !== null && this._autoUpdateBeforeEdit === null) {
      this._autoUpdateBeforeEdit = this._autoUpdate;
      this._autoUpdate = false;
    }
  }

  private requireUuid(operation: string): string {
    if (this._uuid === null) throw new NotSubmittedError(operation);
    return this._uuid;
  }

  /** Guards fields that summaries lack. */
  private full<T>(property: string, value: T): T {
    if (this._isSummary && !SUMMARY_FIELDS.has(property)) throw new SummaryNotHydratedError(property);
    return value;
  }

  /**
   * `await using task = conn.createTask(...)` deletes the task at the end of the scope, as the Python SDK's
   * `with` block does; a task already gone is not an error.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.delete();
    } catch (e) {
      if (!isMissingTaskError(e)) throw e;
    }
  }

  /** `Task(name, state, uuid)` in logs. */
  toString(): string {
    return `Task(${this._name}, ${this._state}, ${this._uuid ?? 'unsubmitted'})`;
  }
}

function toKeyValues(record: Readonly<Record<string, string>>): KeyValueJson[] {
  return Object.entries(record).map(([key, value]) => ({ key, value }));
}

function fromKeyValues(list: readonly KeyValueJson[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) if (kv && typeof kv.key === 'string') out[kv.key] = kv.value ?? '';
  return out;
}

function checkRegex(property: string, value: string | null): string | null {
  if (value === null) return null;
  try {
    new RegExp(value);
  } catch (e) {
    throw new InvalidArgumentError(property, `not a valid regular expression: ${(e as Error).message}`);
  }
  return value;
}

function submittedUuid(task: Task, property: string): string {
  if (task.uuid === null) throw new InvalidArgumentError(property, `task '${task.name}' must be submitted first`);
  return task.uuid;
}
