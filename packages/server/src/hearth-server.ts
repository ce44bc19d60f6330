import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiServer, type NodeHardware, type ProfileDefinition, type Quotas } from '@hearth/api';
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
}

export const DEFAULT_EMAIL = 'user@hearth.local';

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

  private constructor(
    readonly apiUrl: string,
    readonly storageUrl: string | null,
    readonly user: User,
    readonly dataDir: string,
    private readonly parts: { api: ApiServer; store: Store },
  ) {}

  static async start(options: HearthServerOptions = {}): Promise<HearthServer> {
    const dataDir = path.resolve(options.dataDir ?? '.hearth');
    const store = await openDataDir(dataDir);
    try {
      const user = await ensureDefaultUser(store, options);
      const api = new ApiServer({
        store,
        profiles: [...BUILT_IN_PROFILES, ...(options.profiles ?? [])],
        hardware: nodeHardware(),
        storage: { url: () => null },
        ...(options.quotas ? { quotas: options.quotas } : {}),
      });
      const apiUrl = await api.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 8080 });
      return new HearthServer(apiUrl, null, user, dataDir, { api, store });
    } catch (e) {
      await store.close();
      throw e;
    }
  }

  /** The store, for in-process tools and tests that inspect durable state. */
  get store(): Store {
    return this.parts.store;
  }

  /** Stops intake, lets in-flight requests finish, then closes the store; idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const errors: unknown[] = [];
      for (const step of [() => this.parts.api.close(), () => this.parts.store.close()]) {
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

/** The default user is the first one; `--email`/`--token` set its credentials. */
async function ensureDefaultUser(store: Store, options: HearthServerOptions): Promise<User> {
  const [first] = await store.listUsers();
  if (!first) return store.createUser({ email: options.email ?? DEFAULT_EMAIL, token: options.token ?? newToken() });
  if ((options.email && options.email !== first.email) || (options.token && options.token !== first.token)) {
    return store.updateUser(first.id, { email: options.email ?? first.email, token: options.token ?? first.token });
  }
  return first;
}
