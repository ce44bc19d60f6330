import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface RgwUserProvisionerOptions {
  /** The admin tool; it needs the cluster's ceph.conf and keyring, i.e. the server runs on a Ceph admin node. @default 'radosgw-admin' */
  readonly command?: string;
  /** Extra arguments, e.g. `['--cluster', 'prod']`. @default [] */
  readonly args?: readonly string[];
  /** @default 60_000 */
  readonly timeoutMs?: number;
}

interface RgwUserInfo {
  keys?: Array<{ user: string; access_key: string; secret_key: string }>;
}

/**
 * Gives each Hearth user an RGW user whose S3 keys are the Hearth ones (access key = email, secret = API token),
 * so the official Qarnot SDKs work against RGW exactly as against Qarnot, and RGW enforces bucket ownership.
 * Idempotent: run it when a user is created and when their token changes.
 */
export class RgwUserProvisioner {
  readonly #options: RgwUserProvisionerOptions;

  constructor(options: RgwUserProvisionerOptions = {}) {
    this.#options = options;
  }

  /** The RGW uid for an email (RGW uids are restricted; the email stays the display name and the access key). */
  static uidOf(email: string): string {
    return `hearth-${createHash('sha256').update(email.toLowerCase()).digest('hex').slice(0, 24)}`;
  }

  async #admin(args: string[], signal?: AbortSignal): Promise<string> {
    const { stdout } = await run(this.#options.command ?? 'radosgw-admin', [...(this.#options.args ?? []), ...args], {
      timeout: this.#options.timeoutMs ?? 60_000,
      ...(signal ? { signal } : {}),
    });
    return stdout;
  }

  async #info(uid: string, signal?: AbortSignal): Promise<RgwUserInfo | undefined> {
    try {
      return JSON.parse(await this.#admin(['user', 'info', `--uid=${uid}`], signal)) as RgwUserInfo;
    } catch {
      return undefined;
    }
  }

  /** Creates the user, or replaces its S3 key, so that (email, token) authenticates. */
  async ensure(email: string, token: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const uid = RgwUserProvisioner.uidOf(email);
    const info = await this.#info(uid, options.signal);
    if (!info) {
      await this.#admin(['user', 'create', `--uid=${uid}`, `--display-name=${email}`, `--access-key=${email}`, `--secret=${token}`], options.signal);
      return;
    }
    const keys = info.keys ?? [];
    if (keys.some((k) => k.access_key === email && k.secret_key === token)) return;
    for (const k of keys) await this.#admin(['key', 'rm', `--uid=${uid}`, `--access-key=${k.access_key}`], options.signal);
    await this.#admin(['key', 'create', `--uid=${uid}`, '--key-type=s3', `--access-key=${email}`, `--secret=${token}`], options.signal);
  }

  /** Removes the user and everything it stored. */
  async remove(email: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const uid = RgwUserProvisioner.uidOf(email);
    if (!(await this.#info(uid, options.signal))) return;
    await this.#admin(['user', 'rm', `--uid=${uid}`, '--purge-data'], options.signal);
  }
}
