import type {
  BulkTaskResult,
  HardwareConstraint,
  JobJson,
  PageResponse,
  PoolJson,
  ProfileJson,
  SettingsJson,
  TaskJson,
  UserInfoJson,
} from '@hearth/core';
import { Bucket } from './bucket.js';
import {
  BucketStorageUnavailableError,
  InvalidArgumentError,
  QarnotGenericError,
  isMissingProfileError,
  type ErrorSubject,
} from './errors.js';
import { parseHardwareConstraints } from './hardware-constraints.js';
import { readConfigFile, isTrue, type ConfigFileValues } from './internal/config-file.js';
import { andFilters, tagFilter, type Filter } from './internal/filters.js';
import { HttpClient } from './internal/http-client.js';
import { enc } from './internal/path.js';
import { createS3Context, mapS3Error, type S3Context } from './internal/s3.js';
import { Job, type JobOptions } from './job.js';
import { Pool, type PoolOptions } from './pool.js';
import { Secrets } from './secrets.js';
import { Task, type TaskOptions } from './task.js';

export type { Filter };

/** The SDK's version, sent in `User-Agent`. */
export const SDK_VERSION = '0.1.0';

/** Options of {@link Connection.connect}. Each falls back to the config file, then the environment, then the default. */
export interface ConnectionOptions {
  /** API URL; a path prefix (`https://host/api`) is kept. Env `QARNOT_CLUSTER_URL`. @default 'https://api.qarnot.com' */
  readonly clusterUrl?: string;
  /** API token. Config `[client] token`, env `QARNOT_CLIENT_TOKEN`. Required. */
  readonly clientToken?: string;
  /**
   * Storage (S3) URL. Env `QARNOT_STORAGE_URL`, else what `GET /settings` says; `null` there means the server has no
   * storage and bucket operations throw `BucketStorageUnavailableError`. @default 'https://storage.qarnot.com'
   */
  readonly storageUrl?: string;
  /** Skip TLS verification of the API. Env `QARNOT_CLUSTER_UNSAFE` (`true`, `True`, `1`). @default false */
  readonly clusterUnsafe?: boolean;
  /** Skip TLS verification of the storage. @default clusterUnsafe */
  readonly storageUnsafe?: boolean;
  /** Per-request timeout, seconds. Env `QARNOT_CLUSTER_TIMEOUT`. @default 30 */
  readonly clusterTimeout?: number;
  /** Path of a Python-SDK INI configuration file (`[cluster] url, timeout, unsafe`, `[client] token`, `[storage] url, unsafe`). @default undefined */
  readonly configFile?: string;
  /** Retries of a failed request (429/5xx, and network errors when safe). @default 5 */
  readonly retryCount?: number;
  /** First retry delay, seconds; doubles each retry, with jitter, at least `Retry-After`. @default 1 */
  readonly retryWait?: number;
  /** Clean remote bucket paths as the Python SDK does. @default true */
  readonly sanitizeBucketPaths?: boolean;
  /** Path-style S3 addressing (`host/bucket/key`), what self-hosted storage needs. @default true */
  readonly forcePathStyle?: boolean;
  /** S3 access key. @default the user's email from `GET /info` */
  readonly storageAccessKey?: string;
  /** Environment to read the `QARNOT_*` variables from. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Cancels the bootstrap requests. */
  readonly signal?: AbortSignal;
}

/** `{ signal }`: cancels the call; it then rejects with an `AbortError`. */
export interface CallOptions {
  readonly signal?: AbortSignal | undefined;
}

/** Options of the list methods. */
export interface ListOptions extends CallOptions {
  /** Objects carrying any of these tags. @default undefined */
  readonly tags?: readonly string[];
  /** Objects carrying all of these tags (wins over `tags`). @default undefined */
  readonly tagsIntersect?: readonly string[];
  /** An extra filter (reference §1.4), combined with the tag filter by `And`. @default undefined */
  readonly filter?: Filter;
  /** Items per page requested. @default the server's (`null` is sent) */
  readonly pageSize?: number;
}

/** Options of {@link Connection.listTasks} and {@link Connection.listPools}. */
export interface SummaryListOptions extends ListOptions {
  /**
   * List light summaries (`/summaries/paginate`): fields outside the summary throw `SummaryNotHydratedError` until
   * `await item.update()` hydrates the item. Ignored when a filter is given, as in the Python SDK.
   * @default false
   */
  readonly summary?: boolean;
}

/** One page of a list. */
export interface Page<T> {
  readonly items: T[];
  /** Token of this page. */
  readonly token: string | null;
  /** Token of the next page, null at the end. */
  readonly nextToken: string | null;
  readonly isTruncated: boolean;
  /** Total number of matching objects, when the server says. */
  readonly count: number | null;
}

/** Options of one-page reads. */
export interface PageOptions extends SummaryListOptions {
  /** Token of the page to read. @default null (first page) */
  readonly token?: string | null;
}

/** The account (Python: `qarnot.connection.UserInfo`): quotas, usage, projects; `email` is the S3 access key. */
export type UserInfo = UserInfoJson;

/** A profile: a named template of command and constants. */
export type Profile = ProfileJson;

/** One page of hardware constraints (offset paging). */
export interface HardwareConstraintsPage {
  readonly items: HardwareConstraint[];
  readonly offset: number;
  readonly limit: number;
  readonly total: number;
}

/** Things the server offered: discovered as the SDK goes. @internal */
export interface ServerFeatures {
  /** `GET /tasks/{uuid}?longPollSeconds=N&ifState=S` holds until a change (`undefined` = not known yet). */
  longPoll: boolean | undefined;
  /** `GET /tasks/{uuid}/stdout?offset=N` reads from an offset (`Hearth-Log-Next-Offset`). */
  logOffsets: boolean | undefined;
}

interface Resolved {
  clusterUrl: string;
  token: string;
  storageUrl: string | undefined;
  clusterUnsafe: boolean;
  storageUnsafe: boolean;
  timeoutSeconds: number;
  retryCount: number;
  retryWaitSeconds: number;
}

/**
 * A connection to a Qarnot-compatible API (a Hearth server or the Qarnot cloud), and the factory of everything
 * else (Python: `qarnot.connection.Connection`).
 *
 * @example
 * ```ts
 * const conn = await Connection.connect({ clusterUrl: 'http://127.0.0.1:8080', clientToken: 'token' });
 * const task = conn.createTask('hello', { profile: 'docker-batch', instanceCount: 2 });
 * task.constants['DOCKER_CMD'] = 'echo hello ${INSTANCE_ID}';
 * await task.run({ outputDir: 'out' });
 * await conn.close();
 * ```
 */
export class Connection {
  /** API URL, as given (path prefix kept). */
  readonly clusterUrl: string;
  /** Storage URL, or `null` when the server has no storage. */
  readonly storageUrl: string | null;
  /** Whether remote bucket paths are cleaned. */
  readonly sanitizeBucketPaths: boolean;
  /** The secrets manager (Python: `connection.secrets`). */
  readonly secrets: Secrets;
  /** The REST transport. @internal */
  readonly http: HttpClient;
  /** Server capabilities discovered so far. @internal */
  readonly features: ServerFeatures = { longPoll: undefined, logOffsets: undefined };
  private readonly storageAccessKey: string | undefined;
  private readonly storageUnsafe: boolean;
  private readonly forcePathStyle: boolean;
  private readonly token: string;
  private s3Context: Promise<S3Context> | undefined;
  private closed = false;

  /** Use {@link Connection.connect}: the constructor does no I/O and expects resolved settings. @internal */
  constructor(init: {
    http: HttpClient;
    clusterUrl: string;
    storageUrl: string | null;
    token: string;
    storageAccessKey: string | undefined;
    storageUnsafe: boolean;
    sanitizeBucketPaths: boolean;
    forcePathStyle: boolean;
  }) {
    this.http = init.http;
    this.clusterUrl = init.clusterUrl;
    this.storageUrl = init.storageUrl;
    this.token = init.token;
    this.storageAccessKey = init.storageAccessKey;
    this.storageUnsafe = init.storageUnsafe;
    this.sanitizeBucketPaths = init.sanitizeBucketPaths;
    this.forcePathStyle = init.forcePathStyle;
    this.secrets = new Secrets(this.http);
  }

  /**
   * Resolves the settings (options, then the config file, then `QARNOT_*` variables, then defaults), calls
   * `GET /settings` to discover the storage and `GET /info` for the S3 access key, and returns the connection.
   */
  static async connect(options: ConnectionOptions = {}): Promise<Connection> {
    const r = resolve(options);
    const http = new HttpClient({
      baseUrl: r.clusterUrl,
      token: r.token,
      timeoutMs: r.timeoutSeconds * 1000,
      unsafe: r.clusterUnsafe,
      retryCount: r.retryCount,
      retryWaitMs: r.retryWaitSeconds * 1000,
      maxRetryWaitMs: 30_000,
      userAgent: `hearth-sdk-typescript/${SDK_VERSION}`,
    });
    try {
      const settings = await http.json<Partial<SettingsJson> | undefined>({
        method: 'GET',
        path: '/settings',
        subject: 'other',
        signal: options.signal,
      });
      let storageUrl: string | null;
      if (r.storageUrl !== undefined) storageUrl = r.storageUrl;
      else if (settings && 'storage' in settings) storageUrl = settings.storage ?? null;
      else storageUrl = 'https://storage.qarnot.com';
      let accessKey = options.storageAccessKey;
      if (storageUrl !== null && accessKey === undefined) {
        const info = await http.json<UserInfoJson>({ method: 'GET', path: '/info', subject: 'other', signal: options.signal });
        accessKey = info.email;
      }
      return new Connection({
        http,
        clusterUrl: r.clusterUrl,
        storageUrl,
        token: r.token,
        storageAccessKey: accessKey,
        storageUnsafe: r.storageUnsafe,
        sanitizeBucketPaths: options.sanitizeBucketPaths ?? true,
        forcePathStyle: options.forcePathStyle ?? true,
      });
    } catch (e) {
      http.close();
      throw e;
    }
  }

  /** Closes the keep-alive sockets (API and storage). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.http.close();
    const ctx = this.s3Context;
    this.s3Context = undefined;
    if (ctx) {
      try {
        const { client, getter } = await ctx;
        client.destroy();
        getter?.close();
      } catch {
        // the storage never came up: nothing to close
      }
    }
  }

  /** `await using conn = await Connection.connect()` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The S3 client, created (and the AWS SDK imported) on first use. @internal */
  storage(): Promise<S3Context> {
    if (this.storageUrl === null) return Promise.reject(new BucketStorageUnavailableError());
    this.s3Context ??= createS3Context({
      endpoint: this.storageUrl,
      accessKeyId: this.storageAccessKey ?? '',
      secretAccessKey: this.token,
      unsafe: this.storageUnsafe,
      forcePathStyle: this.forcePathStyle,
    });
    return this.s3Context;
  }

  // ---- account -----------------------------------------------------------------------------------------------------

  /** The account: quotas, usage, projects (`GET /info`). */
  userInfo(options: CallOptions = {}): Promise<UserInfo> {
    return this.http.json<UserInfo>({ method: 'GET', path: '/info', subject: 'other', signal: options.signal });
  }

  /** Remaining credits of the account (`GET /credits/v1/accounts/credits`). */
  async credits(options: CallOptions = {}): Promise<number> {
    const res = await this.http.json<{ credits: number }>({
      method: 'GET',
      path: '/credits/v1/accounts/credits',
      subject: 'other',
      signal: options.signal,
    });
    return res.credits;
  }

  // ---- tasks ---------------------------------------------------------------------------------------------------------

  /** A new, unsubmitted task (no I/O). See {@link TaskOptions}. */
  createTask(name: string, options: TaskOptions = {}): Task {
    return new Task(this, name, options);
  }

  /** Fetches a task by uuid or shortname (`GET /tasks/{uuid}`); throws `MissingTaskError`. */
  async retrieveTask(uuid: string, options: CallOptions = {}): Promise<Task> {
    const json = await this.http.json<TaskJson>({ method: 'GET', path: `/tasks/${enc(uuid)}`, subject: 'task', signal: options.signal });
    return Task.fromJson(this, json);
  }

  /** Every task matching the options, pages fetched lazily (Python: `all_tasks`). */
  listTasks(options: SummaryListOptions = {}): AsyncGenerator<Task> {
    return this.paginate('tasks', options, (j: TaskJson, summary) => Task.fromJson(this, j, { isSummary: summary }));
  }

  /** One page of tasks (Python: `tasks_page`). */
  tasksPage(options: PageOptions = {}): Promise<Page<Task>> {
    return this.page('tasks', options, (j: TaskJson, summary) => Task.fromJson(this, j, { isSummary: summary }));
  }

  /**
   * Submits several tasks in one request (`POST /tasks` with an array). Every task that was accepted gets its uuid;
   * failures are reported together in one `QarnotGenericError`, as the Python SDK does.
   */
  async submitTasks(tasks: readonly Task[], options: CallOptions = {}): Promise<void> {
    if (tasks.length === 0) return;
    for (const t of tasks) if (t.uuid !== null) throw new InvalidArgumentError('tasks', `task '${t.name}' is already submitted`);
    const results = await this.http.json<BulkTaskResult[]>({
      method: 'POST',
      path: '/tasks',
      body: tasks.map((t) => t.toJson()),
      subject: 'task',
      operation: 'submit',
      idempotencyKey: crypto.randomUUID(),
      signal: options.signal,
    });
    const failures: string[] = [];
    tasks.forEach((t, i) => {
      const r = results[i];
      if (r && r.statusCode >= 200 && r.statusCode < 300 && r.uuid) t.markSubmitted(r.uuid);
      else failures.push(`${t.name}: ${r ? `${r.statusCode} ${r.message ?? ''}` : 'no answer'}`.trim());
    });
    await Promise.all(tasks.filter((t) => t.uuid !== null).map((t) => t.update({ flushCache: true, signal: options.signal })));
    if (failures.length > 0) throw new QarnotGenericError(`some tasks were not submitted: ${failures.join('; ')}`);
  }

  // ---- jobs ----------------------------------------------------------------------------------------------------------

  /** A new, unsubmitted job (no I/O). */
  createJob(name: string, options: JobOptions = {}): Job {
    return new Job(this, name, options);
  }

  /** Fetches a job (`GET /jobs/{uuid}`); throws `MissingJobError`. */
  async retrieveJob(uuid: string, options: CallOptions = {}): Promise<Job> {
    const json = await this.http.json<JobJson>({ method: 'GET', path: `/jobs/${enc(uuid)}`, subject: 'job', signal: options.signal });
    return Job.fromJson(this, json);
  }

  /** Every job matching the options (Python: `all_jobs`). */
  listJobs(options: ListOptions = {}): AsyncGenerator<Job> {
    return this.paginate('jobs', { ...options, summary: false }, (j: JobJson) => Job.fromJson(this, j));
  }

  /** One page of jobs (Python: `jobs_page`). */
  jobsPage(options: Omit<PageOptions, 'summary'> = {}): Promise<Page<Job>> {
    return this.page('jobs', { ...options, summary: false }, (j: JobJson) => Job.fromJson(this, j));
  }

  // ---- pools ---------------------------------------------------------------------------------------------------------

  /** A new, unsubmitted pool (no I/O). */
  createPool(name: string, options: PoolOptions = {}): Pool {
    return new Pool(this, name, options);
  }

  /** Fetches a pool (`GET /pools/{uuid}`); throws `MissingPoolError`. */
  async retrievePool(uuid: string, options: CallOptions = {}): Promise<Pool> {
    const json = await this.http.json<PoolJson>({ method: 'GET', path: `/pools/${enc(uuid)}`, subject: 'pool', signal: options.signal });
    return Pool.fromJson(this, json);
  }

  /** Every pool matching the options (Python: `all_pools`). */
  listPools(options: SummaryListOptions = {}): AsyncGenerator<Pool> {
    return this.paginate('pools', options, (j: PoolJson, summary) => Pool.fromJson(this, j, { isSummary: summary }));
  }

  /** One page of pools (Python: `pools_page`). */
  poolsPage(options: PageOptions = {}): Promise<Page<Pool>> {
    return this.page('pools', options, (j: PoolJson, summary) => Pool.fromJson(this, j, { isSummary: summary }));
  }

  // ---- profiles ------------------------------------------------------------------------------------------------------

  /** Names of the profiles (`GET /profiles`). */
  profilesNames(options: CallOptions = {}): Promise<string[]> {
    return this.http.json<string[]>({ method: 'GET', path: '/profiles', subject: 'other', signal: options.signal });
  }

  /** A profile's constants, or `null` when it does not exist (Python: `profile_details`). */
  async profileDetails(name: string, options: CallOptions = {}): Promise<Profile | null> {
    try {
      return await this.retrieveProfile(name, options);
    } catch (e) {
      if (isMissingProfileError(e)) return null;
      throw e;
    }
  }

  /** A profile; throws `MissingProfileError` (Python: `retrieve_profile`). */
  retrieveProfile(name: string, options: CallOptions = {}): Promise<Profile> {
    return this.http.json<Profile>({ method: 'GET', path: `/profiles/${enc(name)}`, subject: 'profile', signal: options.signal });
  }

  /** Every profile with its constants (fetched in parallel; profiles that vanish meanwhile are left out). */
  async profiles(options: CallOptions = {}): Promise<Profile[]> {
    const names = await this.profilesNames(options);
    const all = await Promise.all(names.map((n) => this.profileDetails(n, options)));
    return all.filter((p): p is Profile => p !== null);
  }

  // ---- hardware constraints --------------------------------------------------------------------------------------

  /** One page of the hardware constraints offered (`GET /hardware-constraints?limit=&offset=`). */
  async hardwareConstraintsPage(options: CallOptions & { limit?: number; offset?: number } = {}): Promise<HardwareConstraintsPage> {
    const limit = options.limit ?? 50;
    const offset = options.offset ?? 0;
    const res = await this.http.json<{ data: unknown; offset: number; limit: number; total: number }>({
      method: 'GET',
      path: '/hardware-constraints',
      query: { limit, offset },
      subject: 'other',
      signal: options.signal,
    });
    return { items: parseHardwareConstraints(res.data), offset: res.offset ?? offset, limit: res.limit ?? limit, total: res.total ?? 0 };
  }

  /** Every hardware constraint offered (Python: `all_hardware_constraints`). */
  async *hardwareConstraints(options: CallOptions & { pageSize?: number } = {}): AsyncGenerator<HardwareConstraint> {
    let offset = 0;
    const limit = options.pageSize ?? 50;
    for (;;) {
      const page = await this.hardwareConstraintsPage({ signal: options.signal, limit, offset });
      yield* page.items;
      if (page.total <= page.offset + page.limit || page.items.length === 0) return;
      offset = page.offset + page.limit;
    }
  }

  /** CPU-model constraints matching a model name, best first. */
  async searchCpuModelConstraints(cpuModel: string, options: CallOptions = {}): Promise<HardwareConstraint[]> {
    const res = await this.http.json<unknown>({
      method: 'GET',
      path: '/hardware-constraints/cpu-model-constraints/search',
      query: { cpuModel },
      subject: 'other',
      signal: options.signal,
    });
    return parseHardwareConstraints(res);
  }

  // ---- buckets -------------------------------------------------------------------------------------------------------

  /** Creates a bucket (idempotent for its owner) and returns it. */
  async createBucket(name: string, options: CallOptions = {}): Promise<Bucket> {
    return new Bucket(this, name).create(options);
  }

  /** A bucket that exists; throws `MissingBucketError` (HeadBucket). */
  async retrieveBucket(name: string, options: CallOptions = {}): Promise<Bucket> {
    const bucket = new Bucket(this, name);
    if (!(await bucket.exists(options))) throw mapS3Error({ name: 'NoSuchBucket' }, name);
    return bucket;
  }

  /** A bucket handle without any request (for task resources and results). */
  bucket(name: string): Bucket {
    return new Bucket(this, name);
  }

  /** Every bucket of the account (ListBuckets). */
  async buckets(options: CallOptions = {}): Promise<Bucket[]> {
    const { client, s3 } = await this.storage();
    try {
      const res = await client.send(new s3.ListBucketsCommand({}), { abortSignal: options.signal });
      return (res.Buckets ?? []).filter((b) => b.Name).map((b) => new Bucket(this, b.Name as string));
    } catch (e) {
      throw mapS3Error(e, '', options.signal);
    }
  }

  // ---- pagination ------------------------------------------------------------------------------------------------

  private async page<J, T>(
    kind: 'tasks' | 'pools' | 'jobs',
    options: PageOptions,
    map: (json: J, summary: boolean) => T,
  ): Promise<Page<T>> {
    const filter = andFilters(tagFilter(options.tags, options.tagsIntersect), options.filter);
    const summary = options.summary === true && filter === undefined && kind !== 'jobs';
    const path = summary ? `/${kind}/summaries/paginate` : `/${kind}/paginate`;
    const res = await this.http.json<PageResponse<J>>({
      method: 'POST',
      path,
      body: { filter: filter ?? null, token: options.token ?? null, maximumResults: options.pageSize ?? null },
      // Reading a page changes nothing: safe to repeat.
      idempotent: true,
      subject: kind === 'tasks' ? 'task' : kind === 'pools' ? 'pool' : 'job',
      signal: options.signal,
    });
    return {
      items: (res.data ?? []).map((j) => map(j, summary)),
      token: res.token ?? null,
      nextToken: res.nextToken ?? null,
      isTruncated: res.isTruncated === true,
      count: typeof res.count === 'number' ? res.count : null,
    };
  }

  private async *paginate<J, T>(
    kind: 'tasks' | 'pools' | 'jobs',
    options: SummaryListOptions,
    map: (json: J, summary: boolean) => T,
  ): AsyncGenerator<T> {
    let token: string | null = null;
    for (;;) {
      const page: Page<T> = await this.page(kind, { ...options, token }, map);
      yield* page.items;
      if (!page.isTruncated || page.nextToken === null || page.nextToken === token) return;
      token = page.nextToken;
    }
  }

  /** Sends a request about `subject` and parses JSON. @internal */
  requestJson<T>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    options: { subject: ErrorSubject; body?: unknown; signal?: AbortSignal | undefined },
  ): Promise<T> {
    return this.http.json<T>({ method, path, subject: options.subject, body: options.body, signal: options.signal });
  }
}


function resolve(options: ConnectionOptions): Resolved {
  const env = options.env ?? process.env;
  let file: ConfigFileValues = {};
  if (options.configFile !== undefined) file = readConfigFile(options.configFile);
  const token = options.clientToken ?? file.clientToken ?? env['QARNOT_CLIENT_TOKEN'];
  if (!token) throw new QarnotGenericError('Token is mandatory.');
  const clusterUrl = options.clusterUrl ?? file.clusterUrl ?? env['QARNOT_CLUSTER_URL'] ?? 'https://api.qarnot.com';
  try {
    new URL(clusterUrl);
  } catch {
    throw new InvalidArgumentError('clusterUrl', `'${clusterUrl}' is not a URL`);
  }
  const envTimeout = env['QARNOT_CLUSTER_TIMEOUT'];
  const timeoutSeconds = options.clusterTimeout ?? file.clusterTimeout ?? (envTimeout ? Number(envTimeout) : 30);
  if (!(timeoutSeconds > 0)) throw new InvalidArgumentError('clusterTimeout', 'must be a positive number of seconds');
  const clusterUnsafe = options.clusterUnsafe ?? file.clusterUnsafe ?? isTrue(env['QARNOT_CLUSTER_UNSAFE']);
  const retryCount = options.retryCount ?? 5;
  if (!(Number.isInteger(retryCount) && retryCount >= 0)) throw new InvalidArgumentError('retryCount', 'must be a non-negative integer');
  const retryWaitSeconds = options.retryWait ?? 1;
  if (!(retryWaitSeconds >= 0)) throw new InvalidArgumentError('retryWait', 'must be a non-negative number of seconds');
  return {
    clusterUrl,
    token,
    storageUrl: options.storageUrl ?? file.storageUrl ?? env['QARNOT_STORAGE_URL'] ?? undefined,
    clusterUnsafe,
    storageUnsafe: options.storageUnsafe ?? file.storageUnsafe ?? clusterUnsafe,
    timeoutSeconds,
    retryCount,
    retryWaitSeconds,
  };
}
