import { randomUUID } from 'node:crypto';
import type { JobJson, JobState, TaskJson } from '@hearth/core';
import type { CallOptions, Connection } from './connection.js';
import { enc } from './internal/path.js';
import { AlreadySubmittedError, InvalidArgumentError, NotSubmittedError } from './errors.js';
import { formatTimeSpan, parseTimeSpan } from './internal/timespan.js';
import type { Pool } from './pool.js';
import { Task, type TaskOptions } from './task.js';

/** A job's state: the server's, plus `UnSubmitted` locally. */
export type LocalJobState = JobState | 'UnSubmitted';

/** Options of {@link Connection.createJob}. */
export interface JobOptions {
  /** Pool (or its uuid) whose tasks the job groups. @default undefined */
  readonly pool?: Pool | string;
  /** DNS-compliant unique short name. @default the uuid */
  readonly shortname?: string;
  /** Let the job's tasks depend on each other (`dependencies.dependsOn`). @default false */
  readonly useDependencies?: boolean;
  /** Longest wall time of the job: seconds or a TimeSpan string. @default null (none) */
  readonly maxWallTime?: number | string | null;
  /** @default false */
  readonly autoDelete?: boolean;
  /** Seconds or a TimeSpan string. @default '00:00:00' */
  readonly completionTtl?: number | string;
  /** @default [] */
  readonly tags?: readonly string[];
}

function timeSpanOf(property: string, value: number | string): string {
  if (typeof value === 'number') {
    if (!(Number.isFinite(value) && value >= 0)) throw new InvalidArgumentError(property, 'must be a non-negative number of seconds');
    return formatTimeSpan(value);
  }
  const s = parseTimeSpan(value);
  if (s === undefined || s < 0) throw new InvalidArgumentError(property, `'${value}' is not a duration of the form d.hh:mm:ss or hh:mm:ss`);
  return value.trim();
}

/** A job: a group of tasks, optionally in a pool, optionally with dependencies between them (Python: `qarnot.job.Job`). */
export class Job {
  /** The connection this job talks through. */
  readonly connection: Connection;
  private _uuid: string | null = null;
  private _name: string;
  private _shortname: string | null = null;
  private _poolUuid: string | null = null;
  private _useDependencies = false;
  private _maxWallTime: string | null = null;
  private _autoDelete = false;
  private _completionTtl = '00:00:00';
  private _tags: string[] = [];
  private _state: LocalJobState = 'UnSubmitted';
  private _previousState: JobState | null = null;
  private _creationDate: Date | null = null;
  private _lastModified: string | null = null;
  private _idempotencyKey = randomUUID();

  /** Prefer {@link Connection.createJob}. No I/O. */
  constructor(connection: Connection, name: string, options: JobOptions = {}) {
    this.connection = connection;
    if (typeof name !== 'string' || name.trim() === '') throw new InvalidArgumentError('name', 'must be a non-empty string');
    this._name = name;
    if (options.pool !== undefined) this.pool = options.pool;
    if (options.shortname !== undefined) this.shortname = options.shortname;
    if (options.useDependencies !== undefined) this.useDependencies = options.useDependencies;
    if (options.maxWallTime !== undefined) this.maxWallTime = options.maxWallTime;
    if (options.autoDelete !== undefined) this.autoDelete = options.autoDelete;
    if (options.completionTtl !== undefined) this.completionTtl = options.completionTtl;
    if (options.tags !== undefined) this._tags = [...options.tags];
  }

  /** A job from its JSON. No I/O. */
  static fromJson(connection: Connection, json: Partial<JobJson>): Job {
    const job = new Job(connection, json.name || 'job');
    job.applyJson(json);
    return job;
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
    if (typeof value !== 'string' || value.trim() === '') throw new InvalidArgumentError('name', 'must be a non-empty string');
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
  /** Uuid of the pool. Settable until submitted; assign a `Pool` or its uuid. */
  get pool(): string | null {
    return this._poolUuid;
  }
  set pool(value: Pool | string | null) {
    this.beforeSubmit('pool');
    this._poolUuid = value === null ? null : typeof value === 'string' ? value : value.uuid;
  }
  /** Whether tasks of the job may depend on each other. Settable until submitted. */
  get useDependencies(): boolean {
    return this._useDependencies;
  }
  set useDependencies(value: boolean) {
    this.beforeSubmit('useDependencies');
    this._useDependencies = value;
  }
  /** Longest wall time (TimeSpan), or `null`. Assign seconds or a TimeSpan. Settable until submitted. */
  get maxWallTime(): string | null {
    return this._maxWallTime;
  }
  set maxWallTime(value: number | string | null) {
    this.beforeSubmit('maxWallTime');
    this._maxWallTime = value === null ? null : timeSpanOf('maxWallTime', value);
  }
  /** Delete the job when finished and the quota is reached. Settable until submitted. */
  get autoDelete(): boolean {
    return this._autoDelete;
  }
  set autoDelete(value: boolean) {
    this.beforeSubmit('autoDelete');
    this._autoDelete = value;
  }
  /** Delay after completion before deletion (TimeSpan). Assign seconds or a TimeSpan. Settable until submitted. */
  get completionTtl(): string {
    return this._completionTtl;
  }
  set completionTtl(value: number | string) {
    this.beforeSubmit('completionTtl');
    this._completionTtl = timeSpanOf('completionTtl', value);
  }
  /** Tags. Settable any time (the server keeps what was submitted). */
  get tags(): string[] {
    return this._tags;
  }
  set tags(value: readonly string[]) {
    this._tags = [...value];
  }
  /** State: `UnSubmitted`, `Active`, `Terminating`, `Completed`, `Deleting`. */
  get state(): LocalJobState {
    return this._state;
  }
  /** Previous state. */
  get previousState(): JobState | null {
    return this._previousState;
  }
  /** Creation date. */
  get creationDate(): Date | null {
    return this._creationDate;
  }
  /** Last modification (ISO). */
  get lastModified(): string | null {
    return this._lastModified;
  }

  /** Submits the job (`POST /jobs/`, with an `Idempotency-Key`), then refreshes. No-op when already submitted. */
  async submit(options: CallOptions = {}): Promise<void> {
    if (this._uuid !== null) return;
    const res = await this.connection.http.json<{ uuid: string }>({
      method: 'POST',
      path: '/jobs/',
      body: this.toJson(),
      subject: 'job',
      operation: 'submit',
      idempotencyKey: this._idempotencyKey,
      signal: options.signal,
    });
    this._uuid = res.uuid;
    this._state = 'Active';
    await this.update(options);
  }

  /** Refreshes from the server (`GET /jobs/{uuid}`). */
  async update(options: CallOptions = {}): Promise<void> {
    if (this._uuid === null) return;
    this.applyJson(await this.connection.http.json<JobJson>({ method: 'GET', path: `/jobs/${enc(this._uuid)}`, subject: 'job', signal: options.signal }));
  }

  /** Terminates the job: its tasks are cancelled (`POST /jobs/{uuid}/terminate`). */
  async terminate(options: CallOptions = {}): Promise<void> {
    const uuid = this.requireUuid('terminate()');
    await this.connection.http.request({ method: 'POST', path: `/jobs/${enc(uuid)}/terminate`, idempotent: true, subject: 'job', signal: options.signal });
    this._state = 'Terminating';
  }

  /**
   * Deletes the job (`DELETE /jobs/{uuid}?force=`). Without `forceAbort`, the server refuses while tasks run.
   */
  async delete(options: CallOptions & { forceAbort?: boolean } = {}): Promise<void> {
    const uuid = this.requireUuid('delete()');
    await this.connection.http.request({
      method: 'DELETE',
      path: `/jobs/${enc(uuid)}`,
      query: { force: options.forceAbort === true },
      subject: 'job',
      signal: options.signal,
    });
    this._state = 'Deleting';
  }

  /** The job's tasks (`GET /jobs/{uuid}/tasks`). */
  async tasks(options: CallOptions = {}): Promise<Task[]> {
    const uuid = this.requireUuid('tasks()');
    const list = await this.connection.http.json<TaskJson[]>({ method: 'GET', path: `/jobs/${enc(uuid)}/tasks`, subject: 'job', signal: options.signal });
    return (list ?? []).map((j) => Task.fromJson(this.connection, j));
  }

  /** A task attached to this (submitted) job; no I/O. */
  createTask(name: string, options: Omit<TaskOptions, 'job' | 'pool'> = {}): Task {
    const uuid = this.requireUuid('createTask()');
    return new Task(this.connection, name, { ...options, job: uuid });
  }

  /** The request JSON (reference §2.5). */
  toJson(): Record<string, unknown> {
    return {
      name: this._name,
      shortname: this._shortname,
      poolUuid: this._poolUuid,
      state: this._uuid === null ? '' : this._state,
      tags: this._tags,
      useDependencies: this._useDependencies,
      maxWallTime: this._maxWallTime,
      autoDeleteOnCompletion: this._autoDelete,
      completionTimeToLive: this._completionTtl,
    };
  }

  private applyJson(json: Partial<JobJson>): void {
    if (json.uuid) this._uuid = json.uuid;
    if (json.name) this._name = json.name;
    if ('shortname' in json) this._shortname = json.shortname ?? null;
    if ('poolUuid' in json) this._poolUuid = json.poolUuid ?? null;
    if (json.state) this._state = json.state;
    if ('previousState' in json) this._previousState = json.previousState ?? null;
    if (typeof json.creationDate === 'string') this._creationDate = new Date(json.creationDate);
    if ('lastModified' in json) this._lastModified = json.lastModified ?? null;
    if (Array.isArray(json.tags)) this._tags = [...json.tags];
    if (typeof json.useDependencies === 'boolean') this._useDependencies = json.useDependencies;
    if ('maxWallTime' in json) this._maxWallTime = json.maxWallTime ?? null;
    if (typeof json.autoDeleteOnCompletion === 'boolean') this._autoDelete = json.autoDeleteOnCompletion;
    if (typeof json.completionTimeToLive === 'string') this._completionTtl = json.completionTimeToLive;
  }

  private beforeSubmit(property: string): void {
    if (this._uuid !== null) throw new AlreadySubmittedError(property);
  }
  private requireUuid(operation: string): string {
    if (this._uuid === null) throw new NotSubmittedError(operation);
    return this._uuid;
  }
}
