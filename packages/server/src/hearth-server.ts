import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiServer, DEFAULT_QUOTAS, type ExecutionControl, type NodeHardware, type ProfileDefinition, type Quotas } from '@hearth/api';
import { LocalExecutor } from '@hearth/executor';
import type { RuntimeKind } from '@hearth/runner';
import { LogStore, Scheduler } from '@hearth/scheduler';
import { S3Gateway } from '@hearth/storage';
import { Store, type User } from '@hearth/store';
import { BUILT_IN_PROFILES } from './profiles.js';

export interface HearthServerOptions {
  /** Where the database, secrets key and buckets live. @default '.hearth' */
  readonly dataDir?: string;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** API port; 0 picks a free one. @default 8080 */
  readonly port?: number;
  /** Storage (S3 gateway) port; 0 picks a free one. @default 8081 */
  readonly storagePort?: number;
  /** The default user's email. @default 'user@hearth.local' on first start, else unchanged */
  readonly email?: string;
  /** The default user's token. @default a random token generated on first start, else unchanged */
  readonly token?: string;
  /** Profiles added to the built-in `docker-batch`. @default [] */
  readonly profiles?: readonly ProfileDefinition[];
  /** @default DEFAULT_QUOTAS */
  readonly quotas?: Partial<Quotas>;
  /** How instances run. @default 'auto' (docker when an engine answers, host otherwise) */
  readonly runtime?: RuntimeKind;
  /** Instances the local executor runs at once. @default the number of cores */
  readonly slots?: number;
  /** Host-runtime isolation: bubblewrap when available (`auto`), always, or never. @default 'auto' */
  readonly sandbox?: 'auto' | 'bwrap' | 'none';
  /** Bytes of stdout/stderr kept per task and per instance. @default 1 MiB */
  readonly logBytes?: number;
}

export const DEFAULT_EMAIL = 'user@hearth.local';

interface Parts {
  readonly api: ApiServer;
  readonly store: Store;
  readonly gateway: S3Gateway;
  readonly executor: LocalExecutor;
  readonly scheduler: Scheduler;
}

/** Opens the data dir's store, creating the secrets key on first use. Shared with the `hearth user` commands. */
export async function openDataDir(dataDir: string): Promise<Store> {
  mkdirSync(dataDir, { recursive: true });
  const keyFile = path.join(dataDir, 'secrets.key');
  if (!existsSync(keyFile)) writeFileSync(keyFile, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
  const secretsKey = Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64');
  return Store.open({ file: path.join(dataDir, 'hearth.db'), secretsKey });
}

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

function nodeHardware(): NodeHardware {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    memoryMB: Math.floor(os.totalmem() / 2 ** 20),
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    gpu: false,
  };
}

/**
 * Everything in one process: the REST API, the store and (as they land) storage, scheduler and executor.
 *
 * @example
 * ```ts
 * await using server = await HearthServer.start({ dataDir: '/tmp/h', port: 0, storagePort: 0 });
 * console.log(server.apiUrl, server.user.token);
 * ```
 */
export class HearthServer {
  private closing: Promise<void> | undefined;
  readonly apiUrl: string;
  readonly storageUrl: string | null;
  readonly user: User;
  readonly dataDir: string;
  private readonly parts: Parts;

  private constructor(init: { apiUrl: string; storageUrl: string | null; user: User; dataDir: string; parts: Parts }) {
    this.apiUrl = init.apiUrl;
    this.storageUrl = init.storageUrl;
    this.user = init.user;
    this.dataDir = init.dataDir;
    this.parts = init.parts;
  }

  static async start(options: HearthServerOptions = {}): Promise<HearthServer> {
    const dataDir = path.resolve(options.dataDir ?? '.hearth');
    const host = options.host ?? '127.0.0.1';
    const store = await openDataDir(dataDir);
    const cleanup: (() => Promise<void>)[] = [() => store.close()];
    try {
      const user = await ensureDefaultUser(store, options);
      const hardware = nodeHardware();
      const profiles = [...BUILT_IN_PROFILES, ...(options.profiles ?? [])];
      const quotas = { ...DEFAULT_QUOTAS, ...options.quotas };

      const gateway = new S3Gateway({
        dataDir: path.join(dataDir, 'storage'),
        // S3 access key = the user's email, secret = their API token, exactly as on Qarnot.
        credentials: async (accessKey) => {
          const u = await store.findUserByEmail(accessKey);
          return u && { secret: u.token };
        },
        quotas: () => Promise.resolve({ maxBuckets: quotas.maxBucket, maxBytes: quotas.quotaBytesBucket }),
      });
      const storageUrl = await gateway.listen({ host, port: options.storagePort ?? 8081 });
      cleanup.unshift(() => gateway.close());

      const executor = new LocalExecutor({
        workRoot: path.join(dataDir, 'work'),
        blobStore: gateway.blobStore,
        ...(options.slots ? { slots: options.slots } : {}),
        runner: { sandbox: options.sandbox ?? 'auto' },
        maxRunningPerOwner: () => quotas.maxInstances,
      });
      cleanup.unshift(() => executor.close({ leaveRunning: true }));
      const scheduler = new Scheduler({
        store,
        executor,
        logs: new LogStore({ dir: path.join(dataDir, 'logs'), ...(options.logBytes ? { maxBytes: options.logBytes } : {}) }),
        profiles,
        runtime: options.runtime ?? 'auto',
        storageHost: () => new URL(storageUrl).host,
        ensureBucket: (owner, bucket) => gateway.blobStore.createBucket({ owner, bucket }),
        runningQuota: () => quotas.maxInstances,
        runningTaskQuota: () => quotas.maxRunningTask,
      });
      cleanup.unshift(() => scheduler.close());
      await scheduler.start();

      const api = new ApiServer({
        store,
        profiles,
        hardware,
        quotas,
        storage: {
          url: () => storageUrl,
          usage: (email) => gateway.usage(email),
          bucketExists: (email, bucket) => gateway.blobStore.bucketExists({ owner: email, bucket }),
        },
        execution: executionControl(scheduler, executor),
        hooks: {
          taskCreated: (uuid) => void scheduler.taskCreated(uuid).catch((e: unknown) => console.error(`hearth: task ${uuid}`, e)),
          taskDeleted: (uuid) => void scheduler.taskDeleted(uuid),
          jobCreated: (uuid) => void scheduler.jobCreated(uuid),
          poolCreated: (uuid) => void scheduler.poolCreated(uuid).catch((e: unknown) => console.error(`hearth: pool ${uuid}`, e)),
          poolDeleted: (uuid) => void scheduler.poolDeleted(uuid).catch((e: unknown) => console.error(`hearth: pool ${uuid}`, e)),
        },
      });
      const apiUrl = await api.listen({ host, port: options.port ?? 8080 });
      return new HearthServer({ apiUrl, storageUrl, user, dataDir, parts: { api, store, gateway, executor, scheduler } });
    } catch (e) {
      for (const step of cleanup) await step().catch(() => undefined);
      throw e;
    }
  }

  /** The store, for in-process tools and tests that inspect durable state. */
  get store(): Store {
    return this.parts.store;
  }

  /** The executor, for tests that look at its slots (shared and reserved by pools). */
  get executor(): LocalExecutor {
    return this.parts.executor;
  }

  /** Stops intake, lets in-flight requests finish, then closes the store; idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const errors: unknown[] = [];
      const p = this.parts;
      // Intake first, then the work in flight (instances keep running and are re-attached on restart), then storage.
      const steps = [
        () => p.api.close(),
        () => p.scheduler.close(),
        () => p.executor.close({ leaveRunning: true }),
        () => p.gateway.close(),
        () => p.store.close(),
      ];
      for (const step of steps) {
        try {
          await step();
        } catch (e) {
          errors.push(e);
        }
      }
      if (errors.length) throw new AggregateError(errors, 'hearth server: errors while closing');
    })();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function executionControl(scheduler: Scheduler, executor: LocalExecutor): ExecutionControl {
  return {
    runningInstances: (email) => executor.runningFor(email),
    abort: (uuid) => scheduler.abort(uuid),
    updateResources: (uuid) => scheduler.updateResources(uuid),
    readLog: (uuid, query) => scheduler.logs.read(uuid, query),
    freshLog: (uuid, instanceId, stream) => scheduler.logs.fresh(uuid, instanceId, stream),
    snapshot: (uuid, config) => scheduler.snapshot(uuid, config),
    snapshotStatus: (uuid, id) => scheduler.snapshotStatus(uuid, id),
    periodicSnapshot: (uuid, config) => scheduler.periodicSnapshot(uuid, config),
    terminateJob: (userId, uuid) => scheduler.terminateJob(userId, uuid),
    closePool: (userId, uuid) => scheduler.closePool(userId, uuid),
    waitForChange: (uuid, timeoutMs, signal) => scheduler.waitForChange(uuid, timeoutMs, signal),
  };
}

/** The default user is the first one; `--email`/`--token` set its credentials. */
async function ensureDefaultUser(store: Store, options: HearthServerOptions): Promise<User> {
  const [first] = await store.listUsers();
  if (!first) return store.createUser({ email: options.email ?? DEFAULT_EMAIL, token: options.token ?? newToken() });
  if ((options.email && options.email !== first.email) || (options.token && options.token !== first.token)) {
    return store.updateUser(first.id, { email: options.email ?? first.email, token: options.token ?? first.token });
  }
  return first;
}
