import { mkdir, rm, writeFile } from 'node:fs/promises';
import type { BlobStore } from '@hearth/storage';
import { BlobStoreError } from '@hearth/storage';
import { assertNever } from '@hearth/core';
import {
  instancePaths,
  type FileFilter,
  type InstancePaths,
  type InstanceSpec,
  type ResolvedRuntime,
  type SandboxKind,
  type SnapshotSpec,
} from './instance-spec.js';
import { isDiskFullError, isRunnerError, RunnerError, type RunnerErrorInfo } from './runner-error.js';
import type { InstancePhase, RunnerEvent } from './runner-events.js';
import { abortError, ResourceCache } from './resource-cache.js';
import { cgroupPool } from './internal/cgroup.js';
import { DockerExecution, type DockerClientOptions, type DockerRecord } from './internal/docker-execution.js';
import type { Execution, ExitInfo } from './internal/execution.js';
import {
  compileFilter,
  forEachLimit,
  placeResources,
  planResources,
  sameSignature,
  scanWorkdir,
  type FileSignature,
  type Manifest,
} from './internal/files.js';
import { HostExecution, type HostProcessRecord } from './internal/host-execution.js';
import { LogTap, progressParser } from './internal/log-tap.js';
import { signalFromShellStatus } from './internal/proc.js';
import { dockerAvailable, findBwrap } from './internal/runtime-detect.js';

export type InstanceOutcome = 'Success' | 'Failure' | 'Cancelled';

export interface InstanceTimes {
  readonly downloadSec: number;
  readonly environmentSec: number;
  readonly executionSec: number;
  readonly uploadSec: number;
  readonly wallSec: number;
}

/** The end of an instance: everything the scheduler records in `completedInstances` (reference §2.3.11). */
export interface InstanceResult {
  readonly taskUuid: string;
  readonly instanceId: number;
  readonly state: InstanceOutcome;
  /** The command's exit status (128+n when it died of signal n, as a shell reports it); null if it never ran. */
  readonly exitCode: number | null;
  /** Signal that killed the instance's wrapper (abort grace expired), else null. */
  readonly signal: NodeJS.Signals | null;
  readonly error: RunnerErrorInfo | null;
  readonly runtime: ResolvedRuntime | null;
  readonly sandbox: SandboxKind | null;
  /** Epoch ms. */
  readonly startedAt: number;
  readonly endedAt: number;
  readonly times: InstanceTimes;
  readonly peakMemoryMB: number;
  readonly cpuTimeSec: number;
  /** Last progress the command reported (0–100), 100 on success. */
  readonly progress: number;
  /** Keys written to the result bucket (final upload and snapshots). */
  readonly results: readonly string[];
}

export interface RunnerOptions {
  /** Where resource buckets are read and results written. Required when the spec has resources or results. */
  readonly blobStore?: BlobStore;
  /** Node-level resource cache shared by instances. @default a cache in `<workRoot>/.cache` private to this call */
  readonly cache?: ResourceCache;
  /** Typed events; called synchronously, so keep it cheap. */
  readonly onEvent?: (event: RunnerEvent) => void;
  /** Aborting cancels the instance (SIGTERM, then SIGKILL after `graceMs`). */
  readonly signal?: AbortSignal;
  /** @default 10000 */
  readonly graceMs?: number;
  /** Interval of resource usage samples. @default 2000 */
  readonly sampleIntervalMs?: number;
  readonly docker?: DockerClientOptions;
  /** Host runtime isolation. 'auto' = bubblewrap when `bwrap` is on PATH. @default 'auto' */
  readonly sandbox?: 'auto' | 'bwrap' | 'none';
  /** Host runtime limits and accounting through cgroup v1. 'auto' = when writable. @default 'auto' */
  readonly cgroups?: 'auto' | 'off';
  /** Bytes of stderr kept to quote in errors. @default 8192 */
  readonly logTailBytes?: number;
  /** @default 4 */
  readonly uploadConcurrency?: number;
}

/** Result of one snapshot (instant or periodic). */
export interface SnapshotResult {
  readonly keys: readonly string[];
  readonly bytes: number;
}

/** The state file each instance keeps in `<dir>/state/instance.json` so a restarted server can find it again. */
export interface InstanceStateFile {
  readonly version: 1;
  readonly spec: InstanceSpec;
  readonly runtime: ResolvedRuntime;
  readonly sandbox: SandboxKind;
  readonly startedAt: number;
  readonly executionStartedAt: number;
  readonly downloadSec: number;
  readonly environmentSec: number;
  /** The pid record comes from `<state>/pid` (written by the supervisor once the command runs). */
  readonly host?: Partial<HostProcessRecord> & { readonly cgroup: string | null };
  readonly docker?: DockerRecord & { readonly image: string };
  /** Staged resources, so results exclude unchanged resource files after a re-attach too. */
  readonly manifest: [string, FileSignature][];
}

const SNAPSHOT_KEY = '\0';

/**
 * The life of one instance: stage resources → run the command in its runtime → stream logs and progress →
 * upload results. Create it with {@link startInstance} or {@link reattachInstance}.
 */
export class RunningInstance {
  readonly spec: InstanceSpec;
  readonly paths: InstancePaths;
  /** Settles with the instance's result; never rejects. */
  readonly result: Promise<InstanceResult>;
  readonly #o: RunnerOptions;
  readonly #abort = new AbortController();
  readonly #startedAt: number;
  #phase: InstancePhase | 'done' = 'download';
  #progress = 0;
  #runtime: ResolvedRuntime | null = null;
  #sandbox: SandboxKind | null = null;
  #manifest: Manifest = new Map();
  #stagedEtags = new Map<string, string>();
  readonly #uploaded = new Map<string, FileSignature>();
  readonly #resultKeys = new Set<string>();
  #peakBytes = 0;
  #cpuSec = 0;
  #snapshotChain: Promise<unknown> = Promise.resolve();
  #execution: Execution | undefined;
  /** Set while the command runs: what abort() does to it. */
  #terminate: (() => void) | undefined;
  #detached = false;
  #times = { downloadSec: 0, environmentSec: 0, executionSec: 0, uploadSec: 0 };
  readonly #cache: ResourceCache;

  /** @internal use {@link startInstance} or {@link reattachInstance}. */
  constructor(spec: InstanceSpec, options: RunnerOptions, resume?: { state: InstanceStateFile; execution: Execution }) {
    this.spec = spec;
    this.paths = instancePaths(spec.workRoot, spec.taskUuid, spec.instanceId);
    this.#o = options;
    this.#cache = options.cache ?? new ResourceCache(`${spec.workRoot}/.cache`);
    this.#startedAt = resume?.state.startedAt ?? Date.now();
    const onAbort = (): void => this.abort(options.signal?.reason);
    if (options.signal?.aborted) queueMicrotask(onAbort);
    else options.signal?.addEventListener('abort', onAbort, { once: true });
    this.result = (resume ? this.#resume(resume.state, resume.execution) : this.#run()).finally(() =>
      options.signal?.removeEventListener('abort', onAbort),
    );
  }

  get phase(): InstancePhase | 'done' {
    return this.#phase;
  }

  get progress(): number {
    return this.#progress;
  }

  /** Cancels the instance. Idempotent; the result says `Cancelled`. */
  abort(reason?: unknown): void {
    if (this.#abort.signal.aborted) return;
    this.#abort.abort(reason ?? new Error('instance aborted'));
    this.#terminate?.();
  }

  /**
   * Uploads the working dir's created or modified files that pass the snapshot filters (falling back to the results
   * settings) — an instant snapshot; periodic ones call it on a timer. Files unchanged since their last upload to the
   * same key are skipped.
   */
  snapshot(overrides?: SnapshotSpec, options: { signal?: AbortSignal } = {}): Promise<SnapshotResult> {
    const run = this.#snapshotChain.then(() => this.#snapshotNow(overrides, options.signal));
    this.#snapshotChain = run.catch(() => {});
    return run;
  }

  /**
   * This server process stops following the instance (it is shutting down and leaves it running): another one
   * re-attaches to it. Nothing more is uploaded or cleaned up from here; `result` settles as `Cancelled`.
   */
  detach(): void {
    if (this.#detached) return;
    this.#detached = true;
    this.#execution?.detach();
  }

  /** Copies new or changed files of the resource buckets into the running working dir (additive; deletes nothing). */
  async updateResources(options: { signal?: AbortSignal } = {}): Promise<{ files: number }> {
    if (this.#phase === 'done') return { files: 0 };
    const store = this.#requireStore();
    const signal = options.signal ? AbortSignal.any([options.signal, this.#abort.signal]) : this.#abort.signal;
    const planned = (await planResources(this.spec, store, { signal })).filter((r) => this.#stagedEtags.get(r.rel) !== r.etag);
    await placeResources(planned, this.paths.workdir, { store, cache: this.#cache, signal, manifest: this.#manifest });
    for (const r of planned) this.#stagedEtags.set(r.rel, r.etag);
    return { files: planned.length };
  }

  #emit(event: RunnerEvent): void {
    try {
      this.#o.onEvent?.(event);
    } catch {
      // a listener's bug must not kill the instance
    }
  }

  #enter(phase: InstancePhase): void {
    this.#phase = phase;
    this.#emit({ type: 'phase', phase, at: Date.now() });
  }

  #requireStore(): BlobStore {
    if (!this.#o.blobStore) throw new RunnerError('StagingFailed', 'no blob store was given to the runner');
    return this.#o.blobStore;
  }

  async #run(): Promise<InstanceResult> {
    const t0 = this.#startedAt;
    const signal = this.#abort.signal;
    let execution: Execution | undefined;
    try {
      // download
      this.#enter('download');
      const staged = (this.spec.resources ?? []).length > 0;
      if (staged) {
        await this.#freshDirs();
        await this.#stage(signal);
      }
      const t1 = Date.now();
      this.#times.downloadSec = (t1 - t0) / 1000;
      signal.throwIfAborted();

      // environment
      this.#enter('environment');
      execution = await this.#startExecution(staged);
      const t2 = Date.now();
      this.#times.environmentSec = (t2 - t1) / 1000;
      if (execution instanceof DockerExecution) await writeFile(`${this.paths.stateDir}/instance.json`, this.#stateJson(execution, t2));
      return await this.#execute(execution, t2);
    } catch (e) {
      return this.#finishEarly(e, execution);
    }
  }

  /** An empty instance dir with its working and state dirs (the host runtime's supervisor makes its own). */
  async #freshDirs(): Promise<void> {
    await rm(this.paths.dir, { recursive: true, force: true });
    await mkdir(this.paths.workdir, { recursive: true });
    await mkdir(this.paths.stateDir, { recursive: true });
  }

  async #resume(state: InstanceStateFile, execution: Execution): Promise<InstanceResult> {
    this.#runtime = execution.runtime;
    this.#sandbox = execution.sandbox;
    this.#manifest = new Map(state.manifest);
    this.#times.downloadSec = state.downloadSec;
    this.#times.environmentSec = state.environmentSec;
    try {
      return await this.#execute(execution, state.executionStartedAt);
    } catch (e) {
      return this.#finishEarly(e, execution);
    }
  }

  async #stage(signal: AbortSignal): Promise<void> {
    const store = this.#requireStore();
    try {
      const planned = await planResources(this.spec, store, { signal });
      this.#manifest = await placeResources(planned, this.paths.workdir, { store, cache: this.#cache, signal });
      for (const r of planned) this.#stagedEtags.set(r.rel, r.etag);
    } catch (e) {
      if (signal.aborted) throw abortError(signal);
      if (isDiskFullError(e)) throw new RunnerError('DiskFull', `disk full while staging resources: ${(e as Error).message}`, { cause: e });
      if (e instanceof BlobStoreError || (e as { name?: string }).name === 'BlobStoreError') {
        const code = (e as BlobStoreError).code;
        throw new RunnerError('StagingFailed', `cannot stage resources (${code}): ${(e as Error).message}`, { cause: e });
      }
      throw new RunnerError('StagingFailed', `cannot stage resources: ${(e as Error).message}`, { cause: e });
    }
  }

  async #startExecution(prepared: boolean): Promise<Execution> {
    const spec = this.spec;
    const runtime = await this.#resolveRuntime();
    this.#runtime = runtime;
    const env = instanceEnv(spec, this.paths.workdir, runtime);
    if (!spec.command.trim()) throw new RunnerError('MissingCommand', 'the task has no command (DOCKER_CMD is empty)');
    let execution: Execution;
    switch (runtime) {
      case 'host': {
        const wanted = this.#o.sandbox ?? 'auto';
        const bwrap = wanted === 'none' ? undefined : await findBwrap();
        if (wanted === 'bwrap' && !bwrap) throw new RunnerError('RuntimeUnavailable', 'bubblewrap (bwrap) is required but not installed');
        const cgroup =
          this.#o.cgroups === 'off'
            ? undefined
            : await cgroupPool.acquire({
                memoryBytes: spec.limits?.memoryMB ? spec.limits.memoryMB * 2 ** 20 : null,
                cores: spec.limits?.cores ?? null,
                pids: spec.limits?.pids ?? 4096,
              });
        try {
          execution = await HostExecution.start({
            command: spec.command,
            workRoot: spec.workRoot,
            instanceDir: this.paths.dir,
            workdir: this.paths.workdir,
            stateDir: this.paths.stateDir,
            env,
            bwrap,
            network: spec.network ?? false,
            cgroup,
            stateJson: this.#stateJson({ runtime: 'host', sandbox: bwrap ? 'bwrap' : 'none', cgroup: cgroup?.name ?? null }, Date.now()),
            prepared,
            // Nothing to upload afterwards: the supervisor deletes the dir itself, saving the server the walk.
            removeDirOnExit: !spec.results && !spec.keepWorkdir,
          });
        } catch (e) {
          if (cgroup) cgroupPool.release(cgroup);
          throw e;
        }
        break;
      }
      case 'docker': {
        if (!spec.image) throw new RunnerError('MissingImage', 'the docker runtime needs an image (DOCKER_REPO / DOCKER_TAG)');
        if (!prepared) await this.#freshDirs();
        execution = await DockerExecution.start({
          taskUuid: spec.taskUuid,
          instanceId: spec.instanceId,
          image: spec.image,
          command: spec.command,
          instanceDir: this.paths.dir,
          workdir: this.paths.workdir,
          stateDir: this.paths.stateDir,
          env,
          network: spec.network ?? false,
          memoryMB: spec.limits?.memoryMB,
          cores: spec.limits?.cores,
          pids: spec.limits?.pids,
          client: this.#o.docker,
          fifoRoot: spec.workRoot,
        });
        break;
      }
      default:
        return assertNever(runtime);
    }
    return execution;
  }

  async #resolveRuntime(): Promise<ResolvedRuntime> {
    const wanted = this.spec.runtime ?? 'auto';
    switch (wanted) {
      case 'host':
        return 'host';
      case 'docker':
        if (!(await dockerAvailable(this.#o.docker))) throw new RunnerError('RuntimeUnavailable', 'the docker runtime was asked for but no docker engine answers');
        return 'docker';
      case 'auto':
        return (await dockerAvailable(this.#o.docker)) ? 'docker' : 'host';
      default:
        return assertNever(wanted);
    }
  }

  /** The state file a restarted server finds the instance by (host: written by the supervisor before the command starts). */
  #stateJson(
    execution: { runtime: ResolvedRuntime; sandbox: SandboxKind; cgroup?: string | null; record?: DockerRecord },
    executionStartedAt: number,
  ): string {
    const state: InstanceStateFile = {
      version: 1,
      spec: this.spec,
      runtime: execution.runtime,
      sandbox: execution.sandbox,
      startedAt: this.#startedAt,
      executionStartedAt,
      downloadSec: this.#times.downloadSec,
      environmentSec: (executionStartedAt - this.#startedAt) / 1000 - this.#times.downloadSec,
      ...(execution.runtime === 'host' ? { host: { cgroup: execution.cgroup ?? null } } : {}),
      ...(execution.record ? { docker: { ...execution.record, image: this.spec.image ?? '' } } : {}),
      manifest: [...this.#manifest],
    };
    return JSON.stringify(state);
  }

  async #execute(execution: Execution, executionStartedAt: number): Promise<InstanceResult> {
    this.#execution = execution;
    if (this.#detached) execution.detach();
    this.#sandbox = execution.sandbox;
    this.#emit({ type: 'runtime', runtime: execution.runtime, sandbox: execution.sandbox, detail: execution.detail });
    this.#emit({ type: 'log', stream: 'stderr', data: Buffer.from(`[hearth] ${execution.detail}\n`) });
    this.#enter('execution');
    const parse = progressParser(this.spec.progressPattern ?? this.spec.constants['DOCKER_PROGRESS_PATTERN']);
    const onLine = (line: string): void => {
      const p = parse(line);
      if (p !== undefined) {
        this.#progress = p;
        this.#emit({ type: 'progress', percent: p });
      }
    };
    const tailBytes = this.#o.logTailBytes ?? 8192;
    const stdoutTap = new LogTap(1024, onLine);
    const stderrTap = new LogTap(tailBytes, onLine);
    execution.stdout.on('data', (data: Buffer) => {
      stdoutTap.push(data);
      this.#emit({ type: 'log', stream: 'stdout', data });
    });
    execution.stderr.on('data', (data: Buffer) => {
      stderrTap.push(data);
      this.#emit({ type: 'log', stream: 'stderr', data });
    });

    let lastCpu = { at: Date.now(), sec: 0 };
    const sample = async (): Promise<void> => {
      const s = await execution.sample().catch(() => undefined);
      if (!s) return;
      this.#peakBytes = Math.max(this.#peakBytes, s.peakMemoryBytes, s.memoryBytes);
      this.#cpuSec = Math.max(this.#cpuSec, s.cpuTimeSec);
      const now = Date.now();
      const cpuPercent = now > lastCpu.at ? (Math.max(0, s.cpuTimeSec - lastCpu.sec) * 100000) / (now - lastCpu.at) : 0;
      lastCpu = { at: now, sec: s.cpuTimeSec };
      this.#emit({ type: 'usage', cpuPercent, memoryMB: s.memoryBytes / 2 ** 20, peakMemoryMB: this.#peakBytes / 2 ** 20, cpuTimeSec: s.cpuTimeSec });
    };
    const sampler = setInterval(() => void sample(), this.#o.sampleIntervalMs ?? 2000);
    sampler.unref();
    const interval = this.spec.snapshot?.intervalSec ?? 0;
    const snapshotter = interval > 0 ? setInterval(() => void this.snapshot().catch(() => {}), interval * 1000) : undefined;
    snapshotter?.unref();

    // A plain callback rather than an abort-signal listener: adding and removing one per instance costs more.
    this.#terminate = (): void => void execution.terminate(this.#o.graceMs ?? 10_000).catch(() => {});
    if (this.#abort.signal.aborted) this.#terminate();
    let exit: ExitInfo;
    try {
      exit = await execution.exited;
    } finally {
      clearInterval(sampler);
      if (snapshotter) clearInterval(snapshotter);
      this.#terminate = undefined;
    }
    if (this.#detached) {
      const error = { code: 'Aborted' as const, message: 'detached: another server process follows this instance' };
      return this.#result({ state: 'Cancelled', exitCode: exit.exitCode, signal: exit.signal, error, endedAt: Date.now() });
    }
    await sample(); // the cgroup still holds the true peak, even of a command shorter than one sample interval
    const t3 = Date.now();
    this.#times.executionSec = (t3 - executionStartedAt) / 1000;

    const aborted = this.#abort.signal.aborted;
    const failure = aborted ? undefined : classifyExit(exit, stderrTap, this.spec.limits?.memoryMB);
    let state: InstanceOutcome = aborted ? 'Cancelled' : failure ? 'Failure' : 'Success';
    let error: RunnerErrorInfo | null = aborted
      ? { code: 'Aborted', message: 'the instance was aborted' }
      : (failure?.toJSON() ?? null);
    if (state === 'Success') this.#progress = 100;

    // upload
    if (this.spec.results && (state !== 'Cancelled' || this.spec.uploadResultsOnCancel)) {
      this.#enter('upload');
      try {
        await this.#snapshotChain;
        await this.#uploadResults();
      } catch (e) {
        const info = isRunnerError(e) ? e.toJSON() : { code: 'UploadFailed' as const, message: String(e) };
        if (state === 'Success') {
          state = 'Failure';
          error = info;
        }
      }
    }
    const t4 = Date.now();
    this.#times.uploadSec = this.spec.results ? (t4 - t3) / 1000 : 0;
    await execution.dispose().catch(() => {});
    await this.#cleanup(execution instanceof HostExecution && execution.dirRemoved);
    return this.#result({ state, exitCode: exit.exitCode, signal: exit.signal, error, endedAt: t4 });
  }

  async #finishEarly(e: unknown, execution: Execution | undefined): Promise<InstanceResult> {
    if (execution) {
      await execution.terminate(0).catch(() => {});
      await execution.dispose().catch(() => {});
    }
    const aborted = this.#abort.signal.aborted;
    const error: RunnerErrorInfo = aborted
      ? { code: 'Aborted', message: 'the instance was aborted' }
      : isRunnerError(e)
        ? e.toJSON()
        : isDiskFullError(e)
          ? { code: 'DiskFull', message: `disk full: ${(e as Error).message}` }
          : { code: 'StagingFailed', message: `cannot prepare the instance: ${(e as Error)?.message ?? String(e)}` };
    const now = Date.now();
    if (this.#phase === 'download') this.#times.downloadSec = (now - this.#startedAt) / 1000;
    else if (this.#phase === 'environment') this.#times.environmentSec = (now - this.#startedAt) / 1000 - this.#times.downloadSec;
    await this.#cleanup();
    return this.#result({ state: aborted ? 'Cancelled' : 'Failure', exitCode: null, signal: null, error, endedAt: now });
  }

  async #cleanup(removed = false): Promise<void> {
    this.#phase = 'done';
    if (!this.spec.keepWorkdir && !removed) await rm(this.paths.dir, { recursive: true, force: true }).catch(() => {});
  }

  #result(r: { state: InstanceOutcome; exitCode: number | null; signal: NodeJS.Signals | null; error: RunnerErrorInfo | null; endedAt: number }): InstanceResult {
    return {
      taskUuid: this.spec.taskUuid,
      instanceId: this.spec.instanceId,
      ...r,
      runtime: this.#runtime,
      sandbox: this.#sandbox,
      startedAt: this.#startedAt,
      times: { ...this.#times, wallSec: (r.endedAt - this.#startedAt) / 1000 },
      peakMemoryMB: this.#peakBytes / 2 ** 20,
      cpuTimeSec: this.#cpuSec,
      progress: this.#progress,
      results: [...this.#resultKeys],
    };
  }

  async #uploadResults(): Promise<void> {
    const results = this.spec.results;
    if (!results) return;
    await this.#upload({ bucket: results.bucket, owner: results.owner ?? this.spec.owner, prefix: results.prefix ?? '', filter: results, snapshot: false });
  }

  async #snapshotNow(overrides: SnapshotSpec | undefined, signal: AbortSignal | undefined): Promise<SnapshotResult> {
    const s = { ...this.spec.snapshot, ...overrides };
    const results = this.spec.results;
    const bucket = s.bucket ?? results?.bucket;
    if (!bucket || this.#phase !== 'execution') return { keys: [], bytes: 0 };
    const filter: FileFilter = {
      whitelist: s.whitelist ?? results?.whitelist ?? null,
      blacklist: s.blacklist ?? results?.blacklist ?? null,
    };
    return this.#upload({ bucket, owner: results?.owner ?? this.spec.owner, prefix: s.prefix ?? results?.prefix ?? '', filter, snapshot: true, signal });
  }

  async #upload(t: { bucket: string; owner: string; prefix: string; filter: FileFilter; snapshot: boolean; signal?: AbortSignal | undefined }): Promise<SnapshotResult> {
    const store = this.#o.blobStore;
    if (!store) throw new RunnerError('UploadFailed', 'no blob store was given to the runner');
    let accept: (rel: string) => boolean;
    try {
      accept = compileFilter(t.filter);
    } catch (e) {
      throw new RunnerError('UploadFailed', `invalid results white/black list: ${(e as Error).message}`, { cause: e });
    }
    const files = (await scanWorkdir(this.paths.workdir)).filter((f) => !sameSignature(this.#manifest.get(f.rel), f) && accept(f.rel));
    const keys: string[] = [];
    let bytes = 0;
    try {
      await forEachLimit(files, this.#o.uploadConcurrency ?? 4, async (f) => {
        const key = `${t.prefix}${f.rel}`;
        const id = `${t.owner}${SNAPSHOT_KEY}${t.bucket}${SNAPSHOT_KEY}${key}`;
        keys.push(key);
        if (!t.snapshot) this.#resultKeys.add(key);
        // Never upload the same content to the same key twice (a snapshot may have sent it already).
        if (sameSignature(this.#uploaded.get(id), f)) return;
        await store.writeFile({ owner: t.owner, bucket: t.bucket, key }, f.abs, t.signal ? { signal: t.signal } : {});
        this.#uploaded.set(id, f);
        bytes += f.size;
        if (t.snapshot) this.#resultKeys.add(key);
        this.#emit({ type: 'result-uploaded', key, size: f.size, snapshot: t.snapshot });
      });
    } catch (e) {
      if (isDiskFullError(e)) throw new RunnerError('DiskFull', `disk full while uploading results: ${(e as Error).message}`, { cause: e });
      const code = (e as { code?: string }).code;
      throw new RunnerError('UploadFailed', `cannot upload results to bucket ${t.bucket}${code ? ` (${code})` : ''}: ${(e as Error).message}`, { cause: e });
    }
    return { keys: keys.sort(), bytes };
  }
}

function classifyExit(exit: ExitInfo, stderr: LogTap, memoryMB: number | null | undefined): RunnerError | undefined {
  if (exit.exitCode === 0) return undefined;
  const tail = stderr.lastLines(10).filter((l) => !l.startsWith('[hearth] '));
  const quoted = tail.length ? `; last stderr lines:\n${tail.join('\n')}` : '';
  if (exit.lost) return new RunnerError('Lost', 'the instance disappeared without an exit status (its process or container was killed while the server was down)');
  if (exit.oomKilled) return new RunnerError('OutOfMemory', `the instance ran out of memory${memoryMB ? ` (limit ${memoryMB} MB)` : ''} and was killed${quoted}`);
  if (exit.exitCode === null) return new RunnerError('KilledBySignal', `the instance was killed by ${exit.signal ?? 'a signal'}${quoted}`);
  if (/no space left on device|disk quota exceeded/i.test(stderr.text())) return new RunnerError('DiskFull', `the working dir's disk is full (exit code ${exit.exitCode})${quoted}`);
  if (exit.exitCode === 127) return new RunnerError('MissingCommand', `command not found (exit code 127)${quoted}`);
  if (exit.exitCode === 126) return new RunnerError('MissingCommand', `command not executable (exit code 126)${quoted}`);
  const sig = signalFromShellStatus(exit.exitCode);
  if (sig) return new RunnerError('KilledBySignal', `the command was killed by ${sig} (exit code ${exit.exitCode})${quoted}`);
  return new RunnerError('NonZeroExit', `the command exited with code ${exit.exitCode}${quoted}`);
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const constantsEnv = new WeakMap<Readonly<Record<string, string>>, Record<string, string>>();

/** The constants whose names are valid shell names; the instances of a task share one constants object: once per task. */
function shellConstants(constants: Readonly<Record<string, string>>): Record<string, string> {
  let env = constantsEnv.get(constants);
  if (!env) {
    env = {};
    for (const [k, v] of Object.entries(constants)) if (ENV_NAME.test(k)) env[k] = v;
    constantsEnv.set(constants, env);
  }
  return env;
}

/** The instance's environment (DESIGN.md "The instance's world"). The server's own environment is not inherited. */
export function instanceEnv(spec: InstanceSpec, workdir: string, runtime: ResolvedRuntime): Record<string, string> {
  const env: Record<string, string> = {};
  if (runtime === 'host') {
    env['PATH'] = process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin';
    env['HOME'] = workdir;
    for (const k of ['LANG', 'LC_ALL', 'TZ']) {
      const v = process.env[k];
      if (v) env[k] = v;
    }
  }
  Object.assign(env, shellConstants(spec.constants));
  env['INSTANCE_ID'] = String(spec.instanceId);
  env['FRAME_ID'] = String(spec.instanceId);
  env['INSTANCE_COUNT'] = String(spec.instanceCount);
  env['TASK_UUID'] = spec.taskUuid;
  env['TASK_NAME'] = spec.taskName;
  env['DOCKER_WORKDIR'] = workdir;
  return env;
}


/** Starts an instance; the returned handle settles `result` when it ends. */
export function startInstance(spec: InstanceSpec, options: RunnerOptions = {}): RunningInstance {
  return new RunningInstance(spec, options);
}

/** Runs an instance to its end. Never rejects: failures are in the result's `state` and `error`. */
export function runInstance(spec: InstanceSpec, options: RunnerOptions = {}): Promise<InstanceResult> {
  return startInstance(spec, options).result;
}
