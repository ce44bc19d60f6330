/** Where an instance's command runs. `auto` = docker when an engine answers, host otherwise. */
export type RuntimeKind = 'host' | 'docker' | 'auto';
/** The runtime that actually ran (after resolving `auto`). */
export type ResolvedRuntime = 'host' | 'docker';
/** How the command was isolated: bubblewrap, a plain process group, or a container. */
export type SandboxKind = 'bwrap' | 'none' | 'docker';

/** One advanced resource bucket (reference §2.3.1). */
export interface ResourceBucketSpec {
  /** Owner of the bucket. @default the instance's `owner` */
  readonly owner?: string;
  readonly bucket: string;
  /** `filtering.prefixFiltering.prefix`: only keys starting with it become resources. @default '' */
  readonly prefixFiltering?: string | null;
  /** `resourcesTransformation.stripPrefix.prefix`: removed from the path the instance sees. @default none */
  readonly stripPrefix?: string | null;
  /** How long a downloaded object stays in the node cache. @default the spec's `defaultResourcesCacheTTLSec` */
  readonly cacheTTLSec?: number | null;
}

/** White/black lists are regular expressions tested against the path relative to the working dir (`a/b.txt`). */
export interface FileFilter {
  readonly whitelist?: string | null;
  readonly blacklist?: string | null;
}

export interface ResultsSpec extends FileFilter {
  /** @default the instance's `owner` */
  readonly owner?: string;
  readonly bucket: string;
  /** Prepended to every result key. @default '' */
  readonly prefix?: string | null;
}

/** Snapshot settings (reference §2.3.9); missing fields fall back to the results settings. */
export interface SnapshotSpec extends FileFilter {
  readonly bucket?: string | null;
  readonly prefix?: string | null;
  /** Periodic snapshot interval; 0 or absent = no periodic snapshot. @default 0 */
  readonly intervalSec?: number | null;
}

export interface InstanceLimits {
  /** Memory limit in MB (cgroup v1 memory controller on the host runtime, `--memory` on docker). @default none */
  readonly memoryMB?: number | null;
  /** CPU limit in cores (cgroup cpu quota on the host runtime, `--cpus` on docker). @default none */
  readonly cores?: number | null;
  /** Max processes (cgroup pids controller on host, `--pids-limit` on docker): contains fork bombs. @default 4096 */
  readonly pids?: number | null;
}

/**
 * Everything the runner needs to run one instance. A plain, JSON-serialisable object: the local executor passes it
 * in-process, a remote executor writes it to a file for `hearth-runner`.
 */
export interface InstanceSpec {
  readonly taskUuid: string;
  readonly taskName: string;
  readonly instanceId: number;
  readonly instanceCount: number;
  /** The task owner's email: default owner of resource and result buckets. */
  readonly owner: string;
  /** Task constants, exported to the command's environment by name. */
  readonly constants: Readonly<Record<string, string>>;
  /** Shell command line run through `/bin/sh -c` (normally the `DOCKER_CMD` constant). */
  readonly command: string;
  /** Image for the docker runtime (`DOCKER_REPO:DOCKER_TAG`). Required when the runtime resolves to docker. */
  readonly image?: string | null;
  readonly resources?: readonly ResourceBucketSpec[];
  /** Where results go; null = nothing is uploaded. */
  readonly results?: ResultsSpec | null;
  readonly snapshot?: SnapshotSpec | null;
  /** Upload results when the instance is aborted. @default false */
  readonly uploadResultsOnCancel?: boolean;
  /** @default 'auto' */
  readonly runtime?: RuntimeKind;
  /** Parent directory of every instance directory (`<workRoot>/<taskUuid>/<instanceId>/work`). */
  readonly workRoot: string;
  readonly limits?: InstanceLimits | null;
  /** Give the command network access. @default false */
  readonly network?: boolean;
  /** @default 2592000 (30 days) */
  readonly defaultResourcesCacheTTLSec?: number | null;
  /**
   * Regular expression whose first capture group is a percentage, matched against each stdout/stderr line.
   * Lines `HEARTH_PROGRESS=NN` (or `HEARTH_PROGRESS: NN%`) always count.
   * @default the `DOCKER_PROGRESS_PATTERN` constant if set
   */
  readonly progressPattern?: string | null;
  /** Keep the instance directory after the instance ends (for debugging). @default false */
  readonly keepWorkdir?: boolean;
}

/** Builds the command and image of the built-in `docker-batch` profile from task constants. */
export function dockerBatchCommand(constants: Readonly<Record<string, string>>): { command: string; image: string | null } {
  const repo = constants['DOCKER_REPO'];
  const tag = constants['DOCKER_TAG'] || 'latest';
  return { command: constants['DOCKER_CMD'] ?? '', image: repo ? `${repo}:${tag}` : null };
}

/** Path of an instance's directory, working dir and state dir under a work root. */
export function instancePaths(workRoot: string, taskUuid: string, instanceId: number): InstancePaths {
  const dir = `${workRoot.replace(/\/+$/, '')}/${taskUuid}/${instanceId}`;
  return { dir, workdir: `${dir}/work`, stateDir: `${dir}/state` };
}

export interface InstancePaths {
  readonly dir: string;
  readonly workdir: string;
  readonly stateDir: string;
}
