import { randomUUID } from 'node:crypto';
import type { PoolJson, PoolState } from '@hearth/core';
import { Bucket } from './bucket.js';
import type { CallOptions, Connection } from './connection.js';
import { ErrorInfo } from './error-info.js';
import { AlreadySubmittedError, InvalidArgumentError, NotSubmittedError, SummaryNotHydratedError } from './errors.js';
import { parseHardwareConstraints, type HardwareConstraint } from './hardware-constraints.js';
import { readLog } from './internal/instance-logs.js';
import { enc } from './internal/path.js';
import { formatTimeSpan, parseTimeSpan } from './internal/timespan.js';
import type { Privileges, RetrySettings } from './retry-settings.js';
import { parseSchedulingType, type SchedulingType } from './scheduling-type.js';
import { SecretsAccessRights } from './secrets-access-rights.js';
import { Status } from './status.js';
import type { LogOptions, CarbonFacts } from './task.js';

/** A pool's state: the server's, plus `UnSubmitted` before submit and `Deleted` after `delete()` (local). */
export type LocalPoolState = PoolState | 'UnSubmitted' | 'Deleted';

/** Elastic sizing of a pool (Python: `setup_elastic`). */
export interface ElasticSettings {
  /** @default false */ readonly isElastic: boolean;
  /** @default 0 */ readonly minTotalSlots: number;
  /** @default 1 */ readonly maxTotalSlots: number;
  /** @default 0 */ readonly minIdleSlots: number;
  /** Seconds. @default 90 */ readonly resizePeriod: number;
  /** In (0, 1]. @default 1 */ readonly rampResizeFactor: number;
  /** Seconds. @default 0 */ readonly minIdleTimeSeconds: number;
}

/** Options of {@link Connection.createPool}: the Python constructor's arguments plus any settable property. */
export interface PoolOptions {
  /** Profile of the pool's nodes. @default undefined */ readonly profile?: string;
  /** Number of nodes. @default 1 */ readonly instanceCount?: number;
  /** DNS-compliant short name. @default the uuid */ readonly shortname?: string;
  /** @default [] */ readonly tags?: readonly string[];
  /** @default {} */ readonly constants?: Readonly<Record<string, string>>;
  /** @default {} */ readonly constraints?: Readonly<Record<string, string>>;
  /** @default {} */ readonly labels?: Readonly<Record<string, string>>;
  /** @default [] */ readonly resources?: readonly (Bucket | string)[];
  /** Command run on each node before tasks. @default null */ readonly preparationCommandLine?: string | null;
  /** @default false */ readonly taskDefaultWaitForPoolResourcesSynchronization?: boolean;
  /** @default false */ readonly autoDelete?: boolean;
  /** Seconds or a TimeSpan. @default '00:00:00' */ readonly completionTtl?: number | string;
  /** @default [] */ readonly hardwareConstraints?: readonly HardwareConstraint[];
  /** @default null */ readonly defaultResourcesCacheTtlSec?: number | null;
  /** @default { maxTotalRetries: null, maxPerInstanceRetries: null } */ readonly defaultRetrySettings?: Partial<RetrySettings>;
  /** @default null */ readonly schedulingType?: SchedulingType | null;
  /** @default null */ readonly maxTimeQueueSeconds?: number | null;
  /** Slots per node. @default undefined (not sent) */ readonly slotsPerNode?: number;
  /** Project uuid. @default null */ readonly project?: string | null;
}

const SUMMARY_FIELDS = new Set([
  'uuid', 'name', 'shortname', 'profile', 'state', 'instanceCount', 'runningInstanceCount', 'runningCoreCount',
  'executionTime', 'wallTime', 'creationDate', 'endDate',
]);

const DEFAULT_ELASTIC: ElasticSettings = {
  isElastic: false,
  minTotalSlots: 0,
  maxTotalSlots: 1,
  minIdleSlots: 0,
  resizePeriod: 90,
  rampResizeFactor: 1,
  minIdleTimeSeconds: 0,
};

/** A pool of nodes that tasks run in (Python: `qarnot.pool.Pool`). */
export class Pool {
  /** The connection this pool talks through. */
  readonly connection: Connection;
  private _uuid: string | null = null;
  private _name: string;
  private _shortname: string | null = null;
  private _profile: string | null = null;
  private _projectUuid: string | null = null;
  private _instanceCount = 1;
  private _constants: Record<string, string> = {};
  private _constraints: Record<string, string> = {};
  private _tags: string[] = [];
  private _labels: Record<string, string> = {};
  private _resources: Bucket[] = [];
  private _preparationCommandLine: string | null = null;
  private _elastic: ElasticSettings = DEFAULT_ELASTIC;
  private _scaling: Record<string, unknown> | null = null;
  private _taskDefaultWait = false;
  private _autoDelete = false;
  private _completionTtl = '00:00:00';
  private _hardwareConstraints: HardwareConstraint[] = [];
  private _defaultResourcesCacheTtlSec: number | null = null;
  private _privileges: Privileges = { exportApiAndStorageCredentialsInEnvironment: false };
  private _defaultRetrySettings: RetrySettings = { maxTotalRetries: null, maxPerInstanceRetries: null };
  private _maxTimeQueueSeconds: number | null = null;
  private _schedulingType: SchedulingType | null = null;
  private _targetedReservationName: string | null = null;
  private _secretsAccessRights = new SecretsAccessRights();
  private _slotsPerNode: number | null = null;
  private _state: LocalPoolState = 'UnSubmitted';
  private _previousState: PoolState | null = null;
  private _creationDate: Date | null = null;
  private _endDate: string | null = null;
  private _runningCoreCount = 0;
  private _runningInstanceCount = 0;
  private _executionTime: string | null = null;
  private _wallTime: string | null = null;
  private _errors: ErrorInfo[] = [];
  private _status: Status | null = null;
  private _isSummary = false;
  private _idempotencyKey = randomUUID();

  /** Prefer {@link Connection.createPool}. No I/O. */
  constructor(connection: Connection, name: string, options: PoolOptions = {}) {
    this.connection = connection;
    if (typeof name !== 'string' || name.trim() === '') throw new InvalidArgumentError('name', 'must be a non-empty string');
    this._name = name;
    if (options.profile !== undefined) this.profile = options.profile;
    if (options.instanceCount !== undefined) this.instanceCount = options.instanceCount;
    if (options.shortname !== undefined) this.shortname = options.shortname;
    if (options.tags !== undefined) this._tags = [...options.tags];
    if (options.constants !== undefined) this._constants = { ...options.constants };
    if (options.constraints !== undefined) this._constraints = { ...options.constraints };
    if (options.labels !== undefined) this._labels = { ...options.labels };
    if (options.resources !== undefined) this.resources = options.resources;
    if (options.preparationCommandLine !== undefined) this.preparationCommandLine = options.preparationCommandLine;
    if (options.taskDefaultWaitForPoolResourcesSynchronization !== undefined) {
      this._taskDefaultWait = options.taskDefaultWaitForPoolResourcesSynchronization;
    }
    if (options.autoDelete !== undefined) this.autoDelete = options.autoDelete;
    if (options.completionTtl !== undefined) this.completionTtl = options.completionTtl;
    if (options.hardwareConstraints !== undefined) this.hardwareConstraints = options.hardwareConstraints;
    if (options.defaultResourcesCacheTtlSec !== undefined) this._defaultResourcesCacheTtlSec = options.defaultResourcesCacheTtlSec;
    if (options.defaultRetrySettings !== undefined) {
      this._defaultRetrySettings = {
        maxTotalRetries: options.defaultRetrySettings.maxTotalRetries ?? null,
        maxPerInstanceRetries: options.defaultRetrySettings.maxPerInstanceRetries ?? null,
      };
    }
    if (options.schedulingType !== undefined) this._schedulingType = options.schedulingType;
    if (options.maxTimeQueueSeconds !== undefined) this._maxTimeQueueSeconds = options.maxTimeQueueSeconds;
    if (options.slotsPerNode !== undefined) this.slotsPerNode = options.slotsPerNode;
    if (options.project !== undefined) this._projectUuid = options.project;
  }

  /** A pool from its JSON. No I/O. */
  static fromJson(connection: Connection, json: Partial<PoolJson>, options: { isSummary?: boolean } = {}): Pool {
    const pool = new Pool(connection, json.name || 'pool');
    pool.applyJson(json);
    pool._isSummary = options.isSummary === true;
    return pool;
  }

  /** Uuid; `null` until submitted. */
  get uuid(): string | null {
    return this._uuid;
  }
  /** Name. Settable until submitted. */
  get name(): string {
    return this._name;
  }
  set name(value: string) {
    this.beforeSubmit('name');
    this._name = value;
  }
  /** Short name. Settable until submitted. */
  get shortname(): string | null {
    return this._shortname;
  }
  set shortname(value: string | null) {
    this.beforeSubmit('shortname');
    this._shortname = value;
  }
  /** Profile. Settable until submitted. */
  get profile(): string | null {
    return this._profile;
  }
  set profile(value: string | null) {
    this.beforeSubmit('profile');
    this._profile = value;
  }
  /** Number of nodes. Settable until submitted. */
  get instanceCount(): number {
    return this._instanceCount;
  }
  set instanceCount(value: number) {
    this.beforeSubmit('instanceCount');
    if (!(Number.isInteger(value) && value >= 0)) throw new InvalidArgumentError('instanceCount', `must be a non-negative integer, got ${String(value)}`);
    this._instanceCount = value;
  }
  /** Constants. Mutable; changes after submit need `commit()`. */
  get constants(): Record<string, string> {
    return this.full('constants', this._constants);
  }
  set constants(value: Readonly<Record<string, string>>) {
    this._constants = { ...value };
  }
  /** Constraints. Mutable; changes after submit need `commit()`. */
  get constraints(): Record<string, string> {
    return this.full('constraints', this._constraints);
  }
  set constraints(value: Readonly<Record<string, string>>) {
    this._constraints = { ...value };
  }
  /** Tags. Settable any time (then `commit()`). */
  get tags(): string[] {
    return this.full('tags', this._tags);
  }
  set tags(value: readonly string[]) {
    this._tags = [...value];
  }
  /** Labels. Settable until submitted. */
  get labels(): Record<string, string> {
    return this.full('labels', this._labels);
  }
  set labels(value: Readonly<Record<string, string>>) {
    this.beforeSubmit('labels');
    this._labels = { ...value };
  }
  /** Resource buckets. */
  get resources(): Bucket[] {
    return this.full('resources', this._resources);
  }
  set resources(value: readonly (Bucket | string)[]) {
    this._resources = value.map((b) => (typeof b === 'string' ? new Bucket(this.connection, b) : b));
  }
  /** Command run on each node before tasks. Settable until submitted. */
  get preparationCommandLine(): string | null {
    return this.full('preparationCommandLine', this._preparationCommandLine);
  }
  set preparationCommandLine(value: string | null) {
    this.beforeSubmit('preparationCommandLine');
    this._preparationCommandLine = value;
  }
  /** Elastic settings; change them with {@link setupElastic} (then `commit()` once submitted). */
  get elastic(): ElasticSettings {
    return this.full('elastic', this._elastic);
  }
  /** Scaling policies (reference §2.4), replacing elastic settings. Settable any time (then `commit()`). */
  get scaling(): Record<string, unknown> | null {
    return this.full('scaling', this._scaling);
  }
  set scaling(value: Record<string, unknown> | null) {
    this._scaling = value;
  }
  /** Default of `waitForPoolResourcesSynchronization` for the pool's tasks. Settable until submitted. */
  get taskDefaultWaitForPoolResourcesSynchronization(): boolean {
    return this.full('taskDefaultWaitForPoolResourcesSynchronization', this._taskDefaultWait);
  }
  set taskDefaultWaitForPoolResourcesSynchronization(value: boolean) {
    this.beforeSubmit('taskDefaultWaitForPoolResourcesSynchronization');
    this._taskDefaultWait = value;
  }
  /** Auto-delete when closed and the quota is reached. Settable until submitted. */
  get autoDelete(): boolean {
    return this.full('autoDelete', this._autoDelete);
  }
  set autoDelete(value: boolean) {
    this.beforeSubmit('autoDelete');
    this._autoDelete = value;
  }
  /** TimeSpan after completion before deletion; assign seconds or a TimeSpan. Settable until submitted. */
  get completionTtl(): string {
    return this.full('completionTtl', this._completionTtl);
  }
  set completionTtl(value: number | string) {
    this.beforeSubmit('completionTtl');
    if (typeof value === 'number') {
      if (!(value >= 0)) throw new InvalidArgumentError('completionTtl', 'must be a non-negative number of seconds');
      this._completionTtl = formatTimeSpan(value);
      return;
    }
    const s = parseTimeSpan(value);
    if (s === undefined || s < 0) throw new InvalidArgumentError('completionTtl', `'${value}' is not a duration of the form d.hh:mm:ss or hh:mm:ss`);
    this._completionTtl = value;
  }
  /** Hardware constraints. Settable until submitted. */
  get hardwareConstraints(): HardwareConstraint[] {
    return this.full('hardwareConstraints', this._hardwareConstraints);
  }
  set hardwareConstraints(value: readonly HardwareConstraint[]) {
    this.beforeSubmit('hardwareConstraints');
    this._hardwareConstraints = [...value];
  }
  /** Default retry settings of the pool's tasks. Settable until submitted. */
  get defaultRetrySettings(): RetrySettings {
    return this.full('defaultRetrySettings', this._defaultRetrySettings);
  }
  set defaultRetrySettings(value: Partial<RetrySettings>) {
    this.beforeSubmit('defaultRetrySettings');
    this._defaultRetrySettings = { maxTotalRetries: value.maxTotalRetries ?? null, maxPerInstanceRetries: value.maxPerInstanceRetries ?? null };
  }
  /** Privileges. Settable until submitted. */
  get privileges(): Privileges {
    return this.full('privileges', this._privileges);
  }
  set privileges(value: Partial<Privileges>) {
    this.beforeSubmit('privileges');
    this._privileges = { exportApiAndStorageCredentialsInEnvironment: value.exportApiAndStorageCredentialsInEnvironment === true };
  }
  /** Scheduling type, or `null` for the server's default. Settable until submitted. */
  get schedulingType(): SchedulingType | null {
    return this.full('schedulingType', this._schedulingType);
  }
  set schedulingType(value: SchedulingType | null) {
    this.beforeSubmit('schedulingType');
    this._schedulingType = value;
  }
  /** Reservation for `Reserved` scheduling. Settable until submitted. */
  get targetedReservationName(): string | null {
    return this.full('targetedReservationName', this._targetedReservationName);
  }
  set targetedReservationName(value: string | null) {
    this.beforeSubmit('targetedReservationName');
    this._targetedReservationName = value;
  }
  /** Longest queue time of the pool's tasks, seconds. Settable any time (then `commit()`). */
  get maxTimeQueueSeconds(): number | null {
    return this.full('maxTimeQueueSeconds', this._maxTimeQueueSeconds);
  }
  set maxTimeQueueSeconds(value: number | null) {
    this._maxTimeQueueSeconds = value;
  }
  /** Default cache TTL of resources on nodes, seconds. Settable until submitted. */
  get defaultResourcesCacheTtlSec(): number | null {
    return this.full('defaultResourcesCacheTtlSec', this._defaultResourcesCacheTtlSec);
  }
  set defaultResourcesCacheTtlSec(value: number | null) {
    this.beforeSubmit('defaultResourcesCacheTtlSec');
    this._defaultResourcesCacheTtlSec = value;
  }
  /** Project uuid. Settable until submitted. */
  get project(): string | null {
    return this._projectUuid;
  }
  set project(value: string | null) {
    this.beforeSubmit('project');
    this._projectUuid = value;
  }
  /** Secrets the nodes may read. */
  get secretsAccessRights(): SecretsAccessRights {
    return this.full('secretsAccessRights', this._secretsAccessRights);
  }
  set secretsAccessRights(value: SecretsAccessRights) {
    this._secretsAccessRights = value;
  }
  /** Slots per node (multi-slot pools); settable once while unset. */
  get slotsPerNode(): number | null {
    return this.full('slotsPerNode', this._slotsPerNode);
  }
  set slotsPerNode(value: number | null) {
    if (this._slotsPerNode !== null && this._uuid !== null) throw new AlreadySubmittedError('slotsPerNode');
    if (value !== null && !(Number.isInteger(value) && value > 0)) throw new InvalidArgumentError('slotsPerNode', 'must be a positive integer');
    this._slotsPerNode = value;
  }
  /** State when last fetched. */
  get state(): LocalPoolState {
    return this._state;
  }
  /** Previous state. */
  get previousState(): PoolState | null {
    return this.full('previousState', this._previousState);
  }
  /** Creation date. */
  get creationDate(): Date | null {
    return this._creationDate;
  }
  /** End date (ISO). */
  get endDate(): string | null {
    return this._endDate;
  }
  /** Running cores. */
  get runningCoreCount(): number {
    return this._runningCoreCount;
  }
  /** Running nodes. */
  get runningInstanceCount(): number {
    return this._runningInstanceCount;
  }
  /** Execution time (TimeSpan). */
  get executionTime(): string | null {
    return this._executionTime;
  }
  /** Wall time (TimeSpan). */
  get wallTime(): string | null {
    return this._wallTime;
  }
  /** Errors reported on the pool. */
  get errors(): readonly ErrorInfo[] {
    return this.full('errors', this._errors);
  }
  /** Progress and timings. */
  get status(): Status | null {
    return this.full('status', this._status);
  }
  /** True for an un-hydrated summary-list item. */
  get isSummary(): boolean {
    return this._isSummary;
  }

  /**
   * Makes the pool elastic (or changes its elastic settings); once submitted, `commit()` applies them.
   */
  setupElastic(settings: Partial<ElasticSettings> = {}): void {
    const next = { ...this._elastic, isElastic: true, ...settings };
    if (!(next.rampResizeFactor > 0 && next.rampResizeFactor <= 1)) {
      throw new InvalidArgumentError('rampResizeFactor', 'must be in (0, 1]');
    }
    if (next.minTotalSlots > next.maxTotalSlots) throw new InvalidArgumentError('minTotalSlots', 'must not exceed maxTotalSlots');
    this._elastic = next;
  }

  /** Submits the pool (`POST /pools`, with an `Idempotency-Key`), then refreshes. No-op when already submitted. */
  async submit(options: CallOptions = {}): Promise<void> {
    if (this._uuid !== null) return;
    const res = await this.connection.http.json<{ uuid: string }>({
      method: 'POST',
      path: '/pools',
      body: this.toJson(),
      subject: 'pool',
      operation: 'submit',
      idempotencyKey: this._idempotencyKey,
      signal: options.signal,
    });
    this._uuid = res.uuid;
    this._state = 'Submitted';
    await this.update(options);
  }

  /** Refreshes from the server (`GET /pools/{uuid}`); hydrates summaries. */
  async update(options: CallOptions = {}): Promise<void> {
    if (this._uuid === null) return;
    this.applyJson(await this.connection.http.json<PoolJson>({ method: 'GET', path: `/pools/${enc(this._uuid)}`, subject: 'pool', signal: options.signal }));
  }

  /** Sends local changes (`PUT /pools/{uuid}`): the way to change elastic settings, scaling, constants, tags. */
  async commit(options: CallOptions = {}): Promise<void> {
    const uuid = this.requireUuid('commit()');
    await this.connection.http.request({ method: 'PUT', path: `/pools/${enc(uuid)}`, body: this.toJson(), subject: 'pool', signal: options.signal });
  }

  /** Pushes new resource files to the nodes (`PATCH /pools/{uuid}`). */
  async updateResources(options: CallOptions = {}): Promise<void> {
    const uuid = this.requireUuid('updateResources()');
    await this.connection.http.request({ method: 'PATCH', path: `/pools/${enc(uuid)}`, idempotent: true, subject: 'pool', signal: options.signal });
  }

  /** Closes the pool (`POST /pools/{uuid}/close`): it stops once its tasks are done. */
  async close(options: CallOptions = {}): Promise<void> {
    const uuid = this.requireUuid('close()');
    await this.connection.http.request({ method: 'POST', path: `/pools/${enc(uuid)}/close`, idempotent: true, subject: 'pool', signal: options.signal });
    await this.update(options);
  }

  /** Deletes the pool (`DELETE /pools/{uuid}`), optionally with its resource buckets. */
  async delete(options: CallOptions & { purgeResources?: boolean } = {}): Promise<void> {
    if (this._uuid !== null) {
      await this.connection.http.request({ method: 'DELETE', path: `/pools/${enc(this._uuid)}`, subject: 'pool', signal: options.signal });
    }
    if (options.purgeResources) for (const b of this._resources) await b.delete({ signal: options.signal });
    this._state = 'Deleted';
  }

  /** Retained stdout of the pool or one node; `''` before submit. */
  stdout(options: LogOptions = {}): Promise<string> {
    return this.log('stdout', false, options);
  }
  /** Stdout written since the previous call. */
  freshStdout(options: LogOptions = {}): Promise<string> {
    return this.log('stdout', true, options);
  }
  /** Retained stderr of the pool or one node. */
  stderr(options: LogOptions = {}): Promise<string> {
    return this.log('stderr', false, options);
  }
  /** Stderr written since the previous call. */
  freshStderr(options: LogOptions = {}): Promise<string> {
    return this.log('stderr', true, options);
  }

  /** Carbon figures (`GET /carbon/v1/pools/{uuid}/carbon-facts`). */
  carbonFacts(options: CallOptions & { comparisonDatacenter?: string } = {}): Promise<CarbonFacts> {
    const uuid = this.requireUuid('carbonFacts()');
    return this.connection.http.json<CarbonFacts>({
      method: 'GET',
      path: `/carbon/v1/pools/${enc(uuid)}/carbon-facts`,
      query: { comparisonDatacenter: options.comparisonDatacenter },
      subject: 'pool',
      signal: options.signal,
    });
  }

  /** Credits spent, euros. */
  async credits(options: CallOptions = {}): Promise<number> {
    const uuid = this.requireUuid('credits()');
    const res = await this.connection.http.json<{ credits: number }>({ method: 'GET', path: `/credits/v1/pools/${enc(uuid)}/credits`, subject: 'pool', signal: options.signal });
    return res.credits;
  }

  /** The request JSON of `POST /pools` and `PUT /pools/{uuid}` (reference §2.4). */
  toJson(): Record<string, unknown> {
    const json: Record<string, unknown> = {
      name: this._name,
      profile: this._profile,
      constants: Object.entries(this._constants).map(([key, value]) => ({ key, value })),
      constraints: Object.entries(this._constraints).map(([key, value]) => ({ key, value })),
      forcedConstants: [],
      instanceCount: this._instanceCount,
      tags: this._tags,
      preparationTask: this._preparationCommandLine === null ? null : { commandLine: this._preparationCommandLine },
      elasticProperty: { ...this._elastic },
      taskDefaultWaitForPoolResourcesSynchronization: this._taskDefaultWait,
      labels: this._labels,
      advancedResourceBuckets: this._resources.map((b) => b.toJson()),
      autoDeleteOnCompletion: this._autoDelete,
      completionTimeToLive: this._completionTtl,
      hardwareConstraints: this._hardwareConstraints,
      defaultResourcesCacheTTLSec: this._defaultResourcesCacheTtlSec,
      privileges: this._privileges,
      defaultRetrySettings: this._defaultRetrySettings,
      forcedNetworkRules: [],
    };
    if (this._shortname !== null) json['shortname'] = this._shortname;
    if (this._maxTimeQueueSeconds !== null) json['maxTimeQueueSeconds'] = this._maxTimeQueueSeconds;
    if (this._schedulingType !== null) json['schedulingType'] = this._schedulingType;
    if (this._targetedReservationName !== null) json['targetedReservationName'] = this._targetedReservationName;
    if (!this._secretsAccessRights.isEmpty) json['secretsAccessRights'] = this._secretsAccessRights.toJson();
    if (this._slotsPerNode !== null) json['multiSlotsSettings'] = { slotsPerNode: this._slotsPerNode };
    if (this._projectUuid !== null) json['projectUuid'] = this._projectUuid;
    if (this._scaling !== null) json['scaling'] = this._scaling;
    return json;
  }

  private applyJson(json: Partial<PoolJson>): void {
    const has = (k: string): boolean => k in json && (json as Record<string, unknown>)[k] !== undefined;
    if (json.uuid) this._uuid = json.uuid;
    if (json.name) this._name = json.name;
    if (has('shortname')) this._shortname = json.shortname ?? null;
    if (has('profile')) this._profile = json.profile ?? null;
    if (has('projectUuid')) this._projectUuid = json.projectUuid ?? null;
    if (json.state) this._state = json.state;
    if (has('previousState')) this._previousState = json.previousState ?? null;
    if (typeof json.creationDate === 'string') this._creationDate = new Date(json.creationDate);
    if (has('endDate')) this._endDate = json.endDate ?? null;
    if (typeof json.instanceCount === 'number') this._instanceCount = json.instanceCount;
    if (typeof json.runningCoreCount === 'number') this._runningCoreCount = json.runningCoreCount;
    if (typeof json.runningInstanceCount === 'number') this._runningInstanceCount = json.runningInstanceCount;
    if (has('executionTime')) this._executionTime = json.executionTime ?? null;
    if (has('wallTime')) this._wallTime = json.wallTime ?? null;
    if (Array.isArray(json.constants)) this._constants = Object.fromEntries(json.constants.map((kv) => [kv.key, kv.value ?? '']));
    if (Array.isArray(json.constraints)) this._constraints = Object.fromEntries(json.constraints.map((kv) => [kv.key, kv.value ?? '']));
    if (Array.isArray(json.tags)) this._tags = [...json.tags];
    if (json.labels && typeof json.labels === 'object') this._labels = { ...json.labels };
    if (Array.isArray(json.advancedResourceBuckets) && json.advancedResourceBuckets.length > 0) {
      this._resources = json.advancedResourceBuckets.map((b) => Bucket.fromJson(this.connection, b));
    } else if (Array.isArray(json.resourceBuckets)) {
      this._resources = json.resourceBuckets.map((n) => new Bucket(this.connection, n));
    }
    if (has('preparationTask')) this._preparationCommandLine = json.preparationTask?.commandLine ?? null;
    if (json.elasticProperty && typeof json.elasticProperty === 'object') {
      this._elastic = { ...DEFAULT_ELASTIC, ...(json.elasticProperty as Partial<ElasticSettings>) };
    }
    if (json.scaling && typeof json.scaling === 'object') this._scaling = json.scaling;
    if (typeof json.taskDefaultWaitForPoolResourcesSynchronization === 'boolean') this._taskDefaultWait = json.taskDefaultWaitForPoolResourcesSynchronization;
    if (typeof json.autoDeleteOnCompletion === 'boolean') this._autoDelete = json.autoDeleteOnCompletion;
    if (typeof json.completionTimeToLive === 'string') this._completionTtl = json.completionTimeToLive;
    if (has('hardwareConstraints')) this._hardwareConstraints = parseHardwareConstraints(json.hardwareConstraints);
    if (has('defaultResourcesCacheTTLSec')) this._defaultResourcesCacheTtlSec = json.defaultResourcesCacheTTLSec ?? null;
    if (json.privileges) this._privileges = { exportApiAndStorageCredentialsInEnvironment: json.privileges.exportApiAndStorageCredentialsInEnvironment === true };
    if (json.defaultRetrySettings) {
      this._defaultRetrySettings = {
        maxTotalRetries: json.defaultRetrySettings.maxTotalRetries ?? null,
        maxPerInstanceRetries: json.defaultRetrySettings.maxPerInstanceRetries ?? null,
      };
    }
    if (has('maxTimeQueueSeconds')) this._maxTimeQueueSeconds = json.maxTimeQueueSeconds ?? null;
    if (has('schedulingType')) this._schedulingType = json.schedulingType == null ? null : parseSchedulingType(json.schedulingType);
    if (has('targetedReservationName')) this._targetedReservationName = json.targetedReservationName ?? null;
    if (has('secretsAccessRights')) this._secretsAccessRights = SecretsAccessRights.fromJson(json.secretsAccessRights);
    if (json.multiSlotsSettings) this._slotsPerNode = json.multiSlotsSettings.slotsPerNode;
    if (Array.isArray(json.errors)) this._errors = json.errors.map((e) => new ErrorInfo(e));
    if (has('status')) this._status = json.status ? new Status(json.status) : null;
    this._isSummary = false;
  }

  private log(kind: 'stdout' | 'stderr', fresh: boolean, options: LogOptions): Promise<string> {
    if (this._uuid === null) return Promise.resolve('');
    return readLog(this.connection.http, { collection: 'pools', uuid: this._uuid, kind, fresh, instanceId: options.instanceId, signal: options.signal });
  }
  private beforeSubmit(property: string): void {
    if (this._uuid !== null) throw new AlreadySubmittedError(property);
  }
  private requireUuid(operation: string): string {
    if (this._uuid === null) throw new NotSubmittedError(operation);
    return this._uuid;
  }
  private full<T>(property: string, value: T): T {
    if (this._isSummary && !SUMMARY_FIELDS.has(property)) throw new SummaryNotHydratedError(property);
    return value;
  }
}
