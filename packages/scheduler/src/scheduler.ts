import {
  assertNever,
  TASK_FIELDS_MUTABLE_AFTER_SUBMIT,
  isFinalTaskState,
  parseAdvancedRange,
  parseTimeSpan,
  type CompletedInstanceJson,
  type JobJson,
  type PoolJson,
  type PoolState,
  type RangeSegment,
  type TaskJson,
  type TaskState,
} from '@hearth/core';
import type { Executor, ExecutorEvent, TaskSubmission } from '@hearth/executor';
import type { InstanceResult, InstanceSpec, RuntimeKind, SnapshotSpec } from '@hearth/runner';
import type { EntityRecord, Store } from '@hearth/store';
import { evaluateDependencies } from './dependency-gate.js';
import { LogStore } from './log-store.js';
import { poolSizing, type PoolSizing } from './pool-sizing.js';
import { TaskRun, idsOfRange } from './task-run.js';

export interface ProfileTemplate {
  readonly name: string;
  readonly constants: readonly { readonly name: string; readonly value: string }[];
}

export interface SchedulerOptions {
  readonly store: Store;
  /** Where instances run. `recover()` is called at start when the executor has it. */
  readonly executor: Executor & { recover?(): Promise<unknown[]> };
  readonly logs: LogStore;
  readonly profiles: readonly ProfileTemplate[];
  /** @default 'auto' */
  readonly runtime?: RuntimeKind;
  /** Host part of result URIs in `completedInstances` (`s3://<host>/<bucket>/<key>`). @default 'storage' */
  readonly storageHost?: () => string;
  /**
   * Creates the result bucket when missing, before instances start: the Python SDK creates it client-side, other
   * clients may not, and results must not be lost for want of a bucket. @default none
   */
  readonly ensureBucket?: (owner: string, bucket: string) => Promise<void>;
  /** Tasks one user may have dispatched at once; the next ones wait in order, saying so. @default no limit */
  readonly runningTaskQuota?: (owner: string) => number;
  /** Instances one user may run at once, to say so when it is what holds a task back. @default no limit */
  readonly runningQuota?: (owner: string) => number;
  /** How often a running task's document is written back (state transitions are written at once). @default 250 */
  readonly persistIntervalMs?: number;
}

export interface SnapshotRecord {
  id: string;
  taskUuid: string;
  triggerDate: string;
  lastUpdateDate: string | null;
  snapshotConfig: { whitelist: string | null; blacklist: string | null; bucket: string | null; bucketPrefix: string | null };
  status: 'Triggered' | 'InProgress' | 'Success' | 'Failure';
  sizeToUpload: number | null;
  transferredSize: number | null;
}

const FINAL_STATES: TaskState[] = ['Success', 'Failure', 'Cancelled'];
/** How long task writes wait to be grouped into one transaction. */
const GROUP_COMMIT_MS = 3;
/** Pools that hold slots: they get them back after a restart. */
const LIVE_POOL_STATES: PoolState[] = ['Submitted', 'PartiallyDispatched', 'FullyDispatched', 'PartiallyExecuting', 'FullyExecuting', 'Closing'];

/** A pool whose slots this process holds in the executor (the executor group is the pool's uuid). */
interface PoolRun {
  readonly uuid: string;
  readonly userId: number;
  /** Slots the executor granted (fewer than `instanceCount` when other pools hold the rest). */
  slots: number;
  /** Slots whose preparation command still runs. */
  readonly preparing: Set<number>;
  /** Preparation done on every slot: tasks that wait for the pool's resources may start. */
  ready: boolean;
  readonly waitByDefault: boolean;
  /** Tasks parked until the pool is ready. */
  readonly parked: Set<string>;
  countsTimer: NodeJS.Timeout | undefined;
  /** Elastic pools: the next resize check, and since when the pool has had more slots than it needs. */
  resizeTimer: NodeJS.Timeout | undefined;
  idleSince: number | undefined;
}

/**
 * Owns the task state machine (reference §3): hands submitted tasks to the executor, follows their instances through
 * the executor's events, writes the task document back (state, counts, progress, status, completed instances,
 * errors), keeps logs, aborts, snapshots, honours auto-delete TTLs, and picks up where it left off after a restart.
 */
export class Scheduler {
  readonly #o: SchedulerOptions;
  readonly #runs = new Map<string, TaskRun>();
  /** Task documents waiting for the next grouped write, the chain of writes, and the batch being filled. */
  readonly #batch = new Map<string, TaskRun>();
  #flushChain: Promise<void> = Promise.resolve();
  /** Follow-ups of tasks that just ended (dependants, jobs, pools), awaited by close(). */
  readonly #finals = new Set<Promise<void>>();
  #nextFlush: Promise<void> | undefined;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #ttl = new Map<string, NodeJS.Timeout>();
  readonly #periodic = new Map<string, NodeJS.Timeout>();
  readonly #deleted = new Set<string>();
  readonly #watchers = new Map<string, Set<() => void>>();
  /** Instances of re-attached tasks that never started: submitted once the executor lets go of the task. */
  readonly #afterDrain = new Map<string, RangeSegment[]>();
  /** Tasks waiting for their dependencies, and who waits on whom. */
  readonly #waiting = new Map<string, { run: TaskRun; segments: RangeSegment[] }>();
  readonly #waiters = new Map<string, Set<string>>();
  /** Dispatched, unfinished tasks per user, and the tasks held back by the running-task quota, in order. */
  readonly #dispatched = new Map<number, Set<string>>();
  readonly #overQuota = new Map<number, { run: TaskRun; segments: RangeSegment[] }[]>();
  readonly #queueTimers = new Map<string, NodeJS.Timeout>();
  readonly #jobTimers = new Map<string, NodeJS.Timeout>();
  readonly #pools = new Map<string, PoolRun>();
  /** Pools being set up right after creation: a task of the pool submitted meanwhile waits for this. */
  readonly #poolsStarting = new Map<string, Promise<void>>();
  readonly #poolWrites = new Map<string, Promise<void>>();
  #unsubscribe: (() => void) | undefined;
  #reasonTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: SchedulerOptions) {
    this.#o = options;
  }

  get logs(): LogStore {
    return this.#o.logs;
  }

  /** Re-attaches to instances left running, resumes unfinished tasks, re-arms TTL timers. */
  async start(): Promise<void> {
    this.#unsubscribe = this.#o.executor.subscribe((e) => this.#onEvent(e));
    this.#reasonTimer = setInterval(() => this.#refreshReasons(), 1000);
    this.#reasonTimer.unref();
    // Pools take their slots back before anything is submitted; preparation waits for the leftovers below.
    const pools: { pool: PoolRun; doc: PoolJson; state: string }[] = [];
    for (const rec of await this.#o.store.pools.listByState(LIVE_POOL_STATES)) {
      const doc = JSON.parse(rec.doc) as PoolJson;
      pools.push({ pool: this.#holdPool(doc, rec.userId), doc, state: rec.state });
    }
    const unfinished = await this.#o.store.tasks.listByState(FINAL_STATES, { not: true });
    const runs = new Map<string, TaskRun>();
    for (const rec of unfinished) {
      try {
        const run = this.#restoreRun(rec, await this.#ownerOf(rec.userId));
        this.#runs.set(rec.uuid, run);
        runs.set(rec.uuid, run);
      } catch (e) {
        // One unreadable document must not keep the server from starting: the task is left as it is, and said.
        console.error(`hearth scheduler: cannot resume task ${rec.uuid}`, e);
      }
    }
    // Leftover instances come back as `instance-started` events (and `instance-finished` for those that ended).
    const leftovers = ((await this.#o.executor.recover?.()) ?? []) as { taskUuid: string; instanceId: number }[];
    const reattached = new Map<string, Set<number>>();
    for (const l of leftovers) {
      if (!reattached.has(l.taskUuid)) reattached.set(l.taskUuid, new Set());
      reattached.get(l.taskUuid)!.add(l.instanceId);
    }
    for (const { pool, doc, state } of pools) {
      // A pool that was ready keeps its prepared slots; one that was still preparing starts over.
      if (state === 'FullyExecuting' || state === 'PartiallyExecuting' || state === 'Closing') {
        pool.ready = true;
        await this.#updatePool(pool, (d) => ({ ...d, totalSlotCapacity: pool.slots }));
      } else {
        if (reattached.has(pool.uuid)) await this.#o.executor.cancel(pool.uuid);
        await this.#startPool(pool, doc);
      }
    }
    for (const [uuid, run] of runs) {
      if (run.aborting) {
        await this.#o.executor.cancel(uuid);
        this.#schedulePersist(run, true);
        continue;
      }
      const done = new Set([...run.succeeded, ...run.failed, ...run.cancelled, ...(reattached.get(uuid) ?? [])]);
      const pending = remainingSegments(run.doc, done);
      run.queued = pending.reduce((n, s) => n + s.end - s.start + 1, 0);
      if (reattached.has(uuid)) {
        // The executor holds this task for its re-attached instances; the ones that never started follow them.
        if (run.queued > 0) this.#afterDrain.set(uuid, pending);
      } else if (run.startedOnce.size === 0) {
        await this.#admit(run, pending);
      } else {
        await this.#submit(run, pending);
      }
      this.#schedulePersist(run, true);
    }
    for (const rec of await this.#o.store.tasks.listAutoDelete(FINAL_STATES)) this.#armTtl(JSON.parse(rec.doc) as TaskJson, rec.userId);
    for (const rec of await this.#o.store.jobs.listByState(['Active', 'Terminating'])) this.#armJob(JSON.parse(rec.doc) as JobJson, rec.userId);
    for (const { pool, state } of pools) if (state === 'Closing') await this.#maybeClosePool(pool.userId, pool.uuid);
  }

  /** A pool was created through the API: reserve its slots and prepare them. */
  async poolCreated(uuid: string): Promise<void> {
    // A replayed creation (idempotency key) must not reserve or prepare twice.
    if (this.#closed || this.#pools.has(uuid) || this.#poolsStarting.has(uuid)) return;
    const starting = (async () => {
      const rec = await this.#o.store.pools.getByUuid(uuid);
      if (!rec || rec.state !== 'Submitted') return;
      const doc = JSON.parse(rec.doc) as PoolJson;
      await this.#startPool(this.#holdPool(doc, rec.userId), doc);
    })();
    this.#poolsStarting.set(uuid, starting);
    try {
      await starting;
    } finally {
      this.#poolsStarting.delete(uuid);
    }
  }

  /** The pool row is gone: its slots go back to the shared capacity, its preparation output is dropped. */
  async poolDeleted(uuid: string): Promise<void> {
    const pool = this.#pools.get(uuid);
    if (pool) {
      pool.preparing.clear();
      this.#dropPool(pool);
      await this.#o.executor.cancel(uuid);
    }
    this.#o.logs.remove(uuid);
  }

  /** A task was created through the API: dispatch it. */
  async taskCreated(uuid: string): Promise<void> {
    if (this.#closed) return;
    const rec = await this.#o.store.tasks.getByUuid(uuid);
    if (!rec || rec.state !== 'Submitted') return;
    const doc = JSON.parse(rec.doc) as TaskJson;
    const run = new TaskRun({ userId: rec.userId, owner: await this.#ownerOf(rec.userId), doc, total: doc.instanceCount });
    this.#runs.set(uuid, run);
    await this.#admit(run, taskSegments(doc));
  }

  /** A job was created: arm its wall-time limit. */
  async jobCreated(uuid: string): Promise<void> {
    const rec = await this.#o.store.jobs.getByUuid(uuid);
    if (rec) this.#armJob(JSON.parse(rec.doc) as JobJson, rec.userId);
  }

  /** Terminates a job: Terminating now (its unfinished tasks are aborted), Completed once they are all final. */
  async terminateJob(userId: number, uuid: string): Promise<void> {
    const rec = await this.#o.store.jobs.get(userId, uuid);
    if (!rec || rec.state !== 'Active') return;
    await this.#setJobState(rec.userId, JSON.parse(rec.doc) as JobJson, 'Terminating');
    clearTimeout(this.#jobTimers.get(rec.uuid));
    await this.#abortAll(await this.#o.store.tasks.listBy(userId, { jobUuid: rec.uuid }));
    await this.#maybeCompleteJob(userId, rec.uuid);
  }

  /** Closes a pool: Closing now (its unfinished tasks are aborted), Closed once they are all final. */
  async closePool(userId: number, uuid: string): Promise<void> {
    const rec = await this.#o.store.pools.get(userId, uuid);
    if (!rec || ['Closing', 'Closed', 'PendingDelete'].includes(rec.state)) return;
    const pool = this.#pools.get(uuid);
    if (pool && pool.preparing.size > 0) {
      pool.preparing.clear();
      await this.#o.executor.cancel(uuid);
    }
    await this.#setPoolState({ userId, uuid }, 'Closing');
    await this.#abortAll(await this.#o.store.tasks.listBy(userId, { poolUuid: rec.uuid }));
    await this.#maybeClosePool(userId, rec.uuid);
  }

  /**
   * Reserved capacity: a Reserved task naming `targetedReservationName` runs on the slots of the user's pool with
   * that shortname (or uuid). A reservation that does not exist fails the task with a clear error.
   */
  async #reservationAdmits(run: TaskRun): Promise<boolean> {
    const name = run.doc.targetedReservationName;
    if (run.doc.schedulingType !== 'Reserved' || !name || run.doc.poolUuid) return true;
    const rec = await this.#o.store.pools.get(run.userId, name);
    if (rec && this.#pools.has(rec.uuid)) {
      run.reservation = rec.uuid;
      return true;
    }
    run.verdict = 'Failure';
    run.addError({ code: 'ReservationNotFound', message: `No live pool named '${name}' holds the targeted reservation`, debug: null });
    await this.#persistNow(run);
    this.#runs.delete(run.doc.uuid);
    return false;
  }

  /**
   * Aborts every unfinished task of a job or pool. Tasks waiting for dependencies go first: stopping what they wait
   * on would otherwise fail them ("dependency not fulfilled") before they are cancelled.
   */
  async #abortAll(tasks: readonly { uuid: string; state: string }[]): Promise<void> {
    const unfinished = tasks.filter((t) => !isFinalTaskState(t.state as TaskState));
    const parked = unfinished.filter((t) => this.#waiting.has(t.uuid));
    for (const t of parked) await this.abort(t.uuid);
    for (const t of unfinished) if (!this.#waiting.has(t.uuid) && !parked.includes(t)) await this.abort(t.uuid);
  }

  /** Checks dependencies, then hands the task to the executor (or parks it until its dependencies end). */
  async #admit(run: TaskRun, segments: RangeSegment[]): Promise<void> {
    if (this.#closed) return;
    const uuid = run.doc.uuid;
    const states = new Map<string, TaskState | undefined>();
    for (const dep of [...(run.doc.dependencies.dependsOn ?? []), ...(run.doc.dependencies.advancedDependsOn ?? []).map((a) => a.taskUuid)]) {
      states.set(dep, (await this.#o.store.tasks.get(run.userId, dep))?.state as TaskState | undefined);
    }
    const { verdict, dependencies } = evaluateDependencies(run.doc, (d) => states.get(d));
    run.doc = { ...run.doc, dependencies };
    switch (verdict.kind) {
      case 'waiting':
        this.#waiting.set(uuid, { run, segments });
        for (const dep of verdict.on) {
          if (!this.#waiters.has(dep)) this.#waiters.set(dep, new Set());
          this.#waiters.get(dep)!.add(uuid);
        }
        run.pendingReason = `waiting for task${verdict.on.length > 1 ? 's' : ''} ${verdict.on.join(', ')}`;
        this.#schedulePersist(run, true);
        return;
      case 'unfulfillable':
        run.verdict = 'Failure';
        run.addError({ code: 'DependencyNotFulfilled', message: `The task cannot start: the ${verdict.reason}`, debug: null });
        await this.#persistNow(run);
        this.#runs.delete(uuid);
        return;
      case 'ready': {
        if (run.doc.poolUuid && !(await this.#poolAdmits(run, segments))) return;
        if (!(await this.#reservationAdmits(run))) return;
        const quota = this.#o.runningTaskQuota?.(run.owner);
        const mine = this.#dispatched.get(run.userId) ?? new Set<string>();
        if (quota !== undefined && mine.size >= quota && !mine.has(uuid)) {
          const queue = this.#overQuota.get(run.userId) ?? [];
          queue.push({ run, segments });
          this.#overQuota.set(run.userId, queue);
          run.heldByQuota = true;
          run.pendingReason = `quota of ${quota} running tasks reached (${mine.size} running)`;
          this.#schedulePersist(run, true);
          return;
        }
        run.heldByQuota = false;
        mine.add(uuid);
        this.#dispatched.set(run.userId, mine);
        run.pendingReason = undefined;
        this.#armQueueLimit(run);
        await this.#submit(run, segments);
        // Say at once why it waits when no slot is free; #refreshReasons keeps it current.
        if (run.queued > 0 && run.startedOnce.size === 0) this.#schedulePersist(run, true);
        return;
      }
    }
  }

  /**
   * A pool task runs only on its pool's slots: it fails when the pool holds none (closed, failed, deleted), and waits
   * for the preparation when it (or its pool by default) asks to wait for the pool's resources.
   */
  async #poolAdmits(run: TaskRun, segments: RangeSegment[]): Promise<boolean> {
    const poolUuid = run.doc.poolUuid!;
    await this.#poolsStarting.get(poolUuid);
    const pool = this.#pools.get(poolUuid);
    if (!pool) {
      const state = (await this.#o.store.pools.get(run.userId, poolUuid))?.state ?? 'deleted';
      run.verdict = 'Failure';
      run.addError({ code: 'PoolNotRunning', message: `The task cannot start: its pool ${poolUuid} is ${state}`, debug: null });
      await this.#persistNow(run);
      this.#runs.delete(run.doc.uuid);
      return false;
    }
    if (pool.ready || !(run.doc.waitForPoolResourcesSynchronization ?? pool.waitByDefault)) return true;
    this.#waiting.set(run.doc.uuid, { run, segments });
    pool.parked.add(run.doc.uuid);
    run.pendingReason = 'pool not ready';
    this.#schedulePersist(run, true);
    return false;
  }

  /** Reserves the pool's slots in the executor (without writing anything yet). */
  #holdPool(doc: PoolJson, userId: number): PoolRun {
    const pool: PoolRun = {
      uuid: doc.uuid,
      userId,
      slots: this.#o.executor.reserve(doc.uuid, initialSlots(doc)),
      preparing: new Set(),
      ready: false,
      waitByDefault: doc.taskDefaultWaitForPoolResourcesSynchronization,
      parked: new Set(),
      countsTimer: undefined,
      resizeTimer: undefined,
      idleSince: undefined,
    };
    this.#pools.set(doc.uuid, pool);
    this.#armResize(pool);
    return pool;
  }

  /** Runs the preparation command once per slot (FullyDispatched), or declares the pool ready (FullyExecuting). */
  async #startPool(pool: PoolRun, doc: PoolJson): Promise<void> {
    const command = doc.preparationTask?.commandLine;
    const short = initialSlots(doc) - pool.slots;
    const capacity = (d: PoolJson): PoolJson => ({
      ...d,
      totalSlotCapacity: pool.slots,
      status: {
        ...(d.status ?? {}),
        reservedSlots: pool.slots,
        ...(short > 0 ? { message: `${pool.slots} of ${d.instanceCount} slots reserved: other pools hold the rest` } : {}),
      },
    });
    if (!command || pool.slots === 0) {
      await this.#setPoolState(pool, 'FullyExecuting', capacity);
      this.#poolReady(pool);
      return;
    }
    await this.#setPoolState(pool, 'FullyDispatched', capacity);
    await this.#prepare(pool, { doc, command, from: 0 });
  }

  /** Runs the preparation command on slots `from`..`slots - 1`. */
  async #prepare(pool: PoolRun, options: { doc: PoolJson; command: string; from: number }): Promise<void> {
    const { doc, command, from } = options;
    for (let i = from; i < pool.slots; i++) pool.preparing.add(i);
    const owner = await this.#ownerOf(pool.userId);
    await this.#o.executor.submit({
      taskUuid: pool.uuid,
      owner,
      instances: [{ start: from, end: pool.slots - 1 }],
      group: pool.uuid,
      // Ahead of any task already queued for the pool (after a restart, or on slots an elastic pool adds).
      priority: 2,
      template: this.#poolTemplate(doc, { owner, command }),
    });
  }

  /** Checks every `resizePeriod` whether an elastic or scaled pool should grow or shrink (settings read fresh). */
  #armResize(pool: PoolRun, delaySec = 1): void {
    pool.resizeTimer = setTimeout(() => {
      pool.resizeTimer = undefined;
      void (async () => {
        const rec = await this.#o.store.pools.get(pool.userId, pool.uuid);
        if (!rec || this.#closed || this.#pools.get(pool.uuid) !== pool) return;
        const doc = JSON.parse(rec.doc) as PoolJson;
        const sizing = poolSizing(doc, new Date());
        if (sizing && rec.state !== 'Closing') await this.#resize(pool, { doc, sizing });
        if (!this.#closed && this.#pools.get(pool.uuid) === pool) this.#armResize(pool, sizing?.periodSec ?? 90);
      })().catch((e: unknown) => console.error(`hearth scheduler: could not resize pool ${pool.uuid}`, e));
    }, delaySec * 1000);
    pool.resizeTimer.unref();
  }

  /**
   * Elastic sizing: enough slots for the pool's queued and running instances plus `minIdleSlots`, within the
   * min/max; a step moves `rampResizeFactor` of the way (at least one slot), and shrinking waits until the pool has
   * had too many slots for `minIdleTimeSeconds`. A scaling policy sizes the same way; `activePolicyName` follows it.
   */
  async #resize(pool: PoolRun, options: { doc: PoolJson; sizing: PoolSizing }): Promise<void> {
    const { doc, sizing: e } = options;
    if (e.policyName !== undefined && (doc.scaling?.['activePolicyName'] ?? null) !== e.policyName) {
      await this.#updatePool(pool, (d) => ({ ...d, ...(d.scaling ? { scaling: { ...d.scaling, activePolicyName: e.policyName } } : {}) }));
    }
    // No policy enabled right now: the pool keeps its size.
    if (e.policyName === null) return;
    const target = Math.min(e.max, Math.max(e.min, this.#poolLoad(pool.uuid).queuedOrRunning + e.minIdle));
    let next = pool.slots;
    if (target > pool.slots) {
      pool.idleSince = undefined;
      next = pool.slots + Math.max(1, Math.ceil((target - pool.slots) * e.factor));
    } else if (target < pool.slots) {
      pool.idleSince ??= Date.now();
      if (Date.now() - pool.idleSince >= e.minIdleTimeSec * 1000) {
        pool.idleSince = undefined;
        next = pool.slots - Math.max(1, Math.ceil((pool.slots - target) * e.factor));
      }
    } else {
      pool.idleSince = undefined;
    }
    if (next === pool.slots) return;
    const before = pool.slots;
    pool.slots = this.#o.executor.reserve(pool.uuid, next);
    if (pool.slots === before) return;
    await this.#updatePool(pool, (d) => ({
      ...d,
      totalSlotCapacity: pool.slots,
      lastModified: new Date().toISOString(),
      status: { ...(d.status ?? {}), reservedSlots: pool.slots },
    }));
    const command = doc.preparationTask?.commandLine;
    // Added slots are prepared like the first ones.
    if (command && pool.slots > before) {
      const added = pool.slots;
      await this.#prepare(pool, { doc, command, from: before }).catch(() => {
        // a slot given back and taken again while its previous preparation still runs: it is prepared already
        for (let i = before; i < added; i++) pool.preparing.delete(i);
      });
    }
  }

  /** The pool's task instances running now, and running or waiting (queued in the executor or parked). */
  #poolLoad(poolUuid: string): { running: number; queuedOrRunning: number } {
    let running = 0;
    let queuedOrRunning = 0;
    for (const run of this.#runs.values()) {
      if (run.doc.poolUuid !== poolUuid) continue;
      running += run.active.size;
      const parked = this.#waiting.get(run.doc.uuid);
      queuedOrRunning += run.active.size + (parked ? parked.segments.reduce((n, s) => n + s.end - s.start + 1, 0) : Math.max(0, run.queued));
    }
    return { running, queuedOrRunning };
  }

  /** The preparation command's instance template: the pool's profile, constants and resources. */
  #poolTemplate(pool: PoolJson, context: { owner: string; command: string }): TaskSubmission['template'] {
    const profile = this.#o.profiles.find((p) => p.name === pool.profile);
    const constants: Record<string, string> = {};
    for (const c of profile?.constants ?? []) constants[c.name] = c.value;
    for (const c of pool.constants) constants[c.key] = c.value ?? '';
    const repo = constants['DOCKER_REPO'];
    return {
      taskUuid: pool.uuid,
      taskName: `${pool.name} (preparation)`,
      instanceCount: pool.instanceCount,
      owner: context.owner,
      constants,
      command: context.command,
      image: repo ? `${repo}:${constants['DOCKER_TAG'] || 'latest'}` : null,
      resources: pool.advancedResourceBuckets.map((b) => ({
        bucket: b.bucketName,
        prefixFiltering: b.filtering.prefixFiltering?.prefix ?? null,
        stripPrefix: b.resourcesTransformation.stripPrefix?.prefix ?? null,
        cacheTTLSec: b.cacheTTLSec,
      })),
      results: null,
      snapshot: null,
      runtime: this.#o.runtime ?? 'auto',
      defaultResourcesCacheTTLSec: pool.defaultResourcesCacheTTLSec,
    } satisfies Omit<InstanceSpec, 'instanceId' | 'workRoot'>;
  }

  /** Events of a pool's preparation instances (the executor task is the pool's uuid). */
  #onPoolEvent(pool: PoolRun, e: ExecutorEvent): void {
    switch (e.type) {
      case 'instance-event':
        if (e.event.type === 'log') this.#o.logs.append(pool.uuid, { instanceId: e.instanceId, stream: e.event.stream, data: e.event.data });
        return;
      case 'instance-finished': {
        this.#o.logs.release(pool.uuid, e.instanceId);
        if (!pool.preparing.delete(e.instanceId)) return;
        const r = e.result;
        if (r.state !== 'Success') {
          const why = r.exitCode !== null ? `exit code ${r.exitCode}` : (r.error?.message ?? r.state.toLowerCase());
          void this.#failPool(pool, `The preparation task failed on slot ${e.instanceId} (${why})`);
        } else if (pool.preparing.size === 0) {
          void this.#setPoolState(pool, 'FullyExecuting').then(() => this.#poolReady(pool));
        }
        return;
      }
      case 'instance-started':
      case 'instances-cancelled':
      case 'task-drained':
        return;
      default:
        assertNever(e);
    }
  }

  /** Preparation done: the tasks that waited for it are dispatched. */
  #poolReady(pool: PoolRun): void {
    if (this.#pools.get(pool.uuid) !== pool) return;
    pool.ready = true;
    for (const uuid of pool.parked) {
      const parked = this.#waiting.get(uuid);
      if (!parked) continue;
      this.#waiting.delete(uuid);
      parked.run.pendingReason = undefined;
      this.#armQueueLimit(parked.run);
      void this.#submit(parked.run, parked.segments).then(() => this.#schedulePersist(parked.run, true));
    }
    pool.parked.clear();
  }

  /** A preparation failed: the pool ends in Failure, gives its slots back, and the tasks that waited for it fail. */
  async #failPool(pool: PoolRun, message: string): Promise<void> {
    pool.preparing.clear();
    this.#dropPool(pool);
    await this.#o.executor.cancel(pool.uuid);
    await this.#setPoolState(pool, 'Failure', (d) => ({
      ...d,
      errors: [...d.errors, { code: 'PoolPreparationFailed', message, debug: null }],
    }));
    for (const uuid of pool.parked) {
      const parked = this.#waiting.get(uuid);
      if (!parked) continue;
      this.#waiting.delete(uuid);
      parked.run.verdict = 'Failure';
      parked.run.addError({ code: 'PoolNotRunning', message: `The task cannot start: its pool failed: ${message}`, debug: null });
      await this.#persistNow(parked.run);
      this.#runs.delete(uuid);
    }
    pool.parked.clear();
  }

  /** Gives the pool's slots back (its queued task instances are cancelled by the executor). */
  #dropPool(pool: PoolRun): void {
    if (this.#pools.get(pool.uuid) !== pool) return;
    this.#pools.delete(pool.uuid);
    clearTimeout(pool.countsTimer);
    clearTimeout(pool.resizeTimer);
    this.#o.executor.release(pool.uuid);
  }

  /** Keeps the pool's counts current (at most every `persistIntervalMs`). */
  #touchPool(poolUuid: string): void {
    const pool = this.#pools.get(poolUuid);
    if (!pool || pool.countsTimer) return;
    pool.countsTimer = setTimeout(() => {
      pool.countsTimer = undefined;
      const { running, queuedOrRunning } = this.#poolLoad(poolUuid);
      void this.#updatePool(pool, (d) =>
        d.runningInstanceCount === running && d.queuedOrRunningTaskInstancesCount === queuedOrRunning
          ? undefined
          : { ...d, runningInstanceCount: running, runningCoreCount: running, queuedOrRunningTaskInstancesCount: queuedOrRunning },
      );
    }, this.#o.persistIntervalMs ?? 250);
    pool.countsTimer.unref();
  }

  /** `maxTimeQueueSeconds`: a task none of whose instances started in time fails. */
  #armQueueLimit(run: TaskRun): void {
    const limit = run.doc.maxTimeQueueSeconds;
    if (!limit || limit <= 0) return;
    const uuid = run.doc.uuid;
    const waited = Date.now() - Date.parse(run.doc.creationDate);
    const timer = setTimeout(() => {
      this.#queueTimers.delete(uuid);
      if (run.startedOnce.size > 0 || isFinalTaskState(run.doc.state)) return;
      run.addError({ code: 'MaxTimeQueueExceeded', message: `No instance started within maxTimeQueueSeconds (${limit} s)`, debug: null });
      run.verdict = 'Failure';
      void this.#o.executor.cancel(uuid);
    }, Math.max(0, limit * 1000 - waited));
    timer.unref();
    this.#queueTimers.set(uuid, timer);
  }

  /** Aborts a task: PendingCancel now, Cancelled once every instance is stopped. Finished tasks are left as they are. */
  async abort(uuid: string): Promise<void> {
    const run = this.#runs.get(uuid);
    if (!run) return;
    if (isFinalTaskState(run.doc.state)) return;
    const queue = this.#overQuota.get(run.userId);
    const held = queue?.findIndex((q) => q.run === run) ?? -1;
    if (queue && held >= 0) queue.splice(held, 1);
    const parked = this.#waiting.get(uuid) ?? (held >= 0 ? { run, segments: [] } : undefined);
    if (parked) {
      // Never handed to the executor: nothing to stop.
      this.#waiting.delete(uuid);
      run.verdict = 'Cancelled';
      await this.#persistNow(run);
      this.#runs.delete(uuid);
      return;
    }
    run.aborting = true;
    await this.#persistNow(run);
    await this.#o.executor.cancel(uuid);
    // The instances are stopped and the drain has asked for the final write: answer once it is durable.
    await this.#flushChain;
  }

  /** The task row is gone (deleted through the API): stop its instances and forget it. */
  async taskDeleted(uuid: string): Promise<void> {
    this.#deleted.add(uuid);
    this.#waiting.delete(uuid);
    clearTimeout(this.#queueTimers.get(uuid));
    clearTimeout(this.#ttl.get(uuid));
    this.#stopPeriodic(uuid);
    const run = this.#runs.get(uuid);
    if (run) {
      run.aborting = true;
      await this.#o.executor.cancel(uuid);
      // Its place under the running-task quota goes to the next task held back.
      const queue = this.#overQuota.get(run.userId);
      const held = queue?.findIndex((q) => q.run === run) ?? -1;
      if (queue && held >= 0) queue.splice(held, 1);
      if (this.#dispatched.get(run.userId)?.delete(uuid)) {
        const next = queue?.shift();
        if (next) await this.#admit(next.run, next.segments);
      }
    }
    this.#o.logs.remove(uuid);
  }

  async updateResources(uuid: string): Promise<void> {
    await this.#o.executor.updateResources(uuid);
  }

  /** Takes an instant snapshot in the background; the record (stored, so it survives a restart) follows it. */
  async snapshot(uuid: string, config: SnapshotRecord['snapshotConfig']): Promise<SnapshotRecord> {
    const now = new Date();
    const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
    let id = `snap_${uuid}_${stamp}`;
    for (let n = 1; (await this.#o.store.getSnapshot(uuid, id)) !== undefined; n++) id = `snap_${uuid}_${stamp}_${n}`;
    const record: SnapshotRecord = {
      id,
      taskUuid: uuid,
      triggerDate: now.toISOString(),
      lastUpdateDate: null,
      snapshotConfig: config,
      status: 'InProgress',
      sizeToUpload: null,
      transferredSize: null,
    };
    const save = () => this.#o.store.saveSnapshot(uuid, id, JSON.stringify(record)).catch(() => undefined);
    await save();
    const run = this.#runs.get(uuid);
    const spec = snapshotSpec(run?.doc, config) ?? undefined;
    void this.#o.executor.snapshot(uuid, spec).then(
      async (r) => {
        // resultsCount first, so a client that sees the snapshot succeed also sees results to download.
        if (run) {
          run.resultsCount += r.keys.length;
          await this.#persistNow(run);
        }
        Object.assign(record, { status: 'Success', sizeToUpload: r.bytes, transferredSize: r.bytes, lastUpdateDate: new Date().toISOString() });
        await save();
      },
      async () => {
        Object.assign(record, { status: 'Failure', lastUpdateDate: new Date().toISOString() });
        await save();
      },
    );
    return record;
  }

  async snapshotStatus(uuid: string, id: string): Promise<SnapshotRecord | undefined> {
    const doc = await this.#o.store.getSnapshot(uuid, id);
    return doc === undefined ? undefined : (JSON.parse(doc) as SnapshotRecord);
  }

  /** Periodic snapshots every `interval` seconds while the task runs (0 stops them). */
  async periodicSnapshot(uuid: string, config: SnapshotRecord['snapshotConfig'] & { interval: number }): Promise<void> {
    this.#stopPeriodic(uuid);
    const run = this.#runs.get(uuid);
    if (run) {
      run.doc = { ...run.doc, snapshotInterval: config.interval };
      await this.#persistNow(run);
    }
    if (config.interval > 0 && run && !isFinalTaskState(run.doc.state)) {
      const timer = setInterval(() => void this.snapshot(uuid, config), config.interval * 1000);
      timer.unref();
      this.#periodic.set(uuid, timer);
    }
  }

  /** Resolves after the task's document is next written (or after `timeoutMs`, or on abort): for long-polls. */
  waitForChange(uuid: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      let set = this.#watchers.get(uuid);
      if (!set) this.#watchers.set(uuid, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        set.delete(done);
        if (set.size === 0) this.#watchers.delete(uuid);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      signal.addEventListener('abort', done, { once: true });
      set.add(done);
    });
  }

  /** Why a task waits, for its status. */
  pendingReason(uuid: string): string | undefined {
    const run = this.#runs.get(uuid);
    if (!run || run.queued === 0) return undefined;
    const stats = this.#o.executor.stats();
    return stats.running >= stats.slots ? `no free slot (${stats.running} busy)` : 'queued';
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of [
      ...this.#timers.values(),
      ...this.#ttl.values(),
      ...this.#periodic.values(),
      ...this.#queueTimers.values(),
      ...this.#jobTimers.values(),
    ]) {
      clearTimeout(t);
    }
    for (const pool of this.#pools.values()) {
      clearTimeout(pool.countsTimer);
      clearTimeout(pool.resizeTimer);
    }
    this.#unsubscribe?.();
    clearInterval(this.#reasonTimer);
    while (this.#finals.size > 0) await Promise.all([...this.#finals]);
    for (const run of this.#runs.values()) if (run.dirty) await this.#persistNow(run);
    await Promise.all([this.#flushChain, ...this.#poolWrites.values()]);
    this.#o.logs.close();
  }

  // ---- internals

  #queueReason(run: TaskRun): string | undefined {
    if (run.queued <= 0) return undefined;
    const quota = this.#o.runningQuota?.(run.owner);
    const mine = this.#o.executor.runningFor(run.owner);
    if (quota !== undefined && mine >= quota) return `quota of ${quota} running instances reached (${mine} running)`;
    const pool = run.doc.poolUuid ? this.#pools.get(run.doc.poolUuid) : undefined;
    if (pool) return `${run.queued} instances queued for the pool's ${pool.slots} slot${pool.slots === 1 ? '' : 's'}`;
    const stats = this.#o.executor.stats();
    if (stats.reserved >= stats.slots) return `no shared slot: pools hold all ${stats.slots} slots; ${run.queued} instances queued`;
    return stats.running >= stats.slots
      ? `no free slot (${stats.running} of ${stats.slots} busy); ${stats.queued} instances queued`
      : `${run.queued} instances queued`;
  }

  /** Pending reasons change with the executor's load: rewrite the ones whose text changed, once a second. */
  #refreshReasons(): void {
    for (const run of this.#runs.values()) {
      if (this.#waiting.has(run.doc.uuid) || run.heldByQuota || run.queued <= 0) continue;
      if (this.#queueReason(run) !== run.pendingReason) this.#schedulePersist(run, false);
    }
  }

  /** A task reached a final state: wake the tasks that wait on it, and complete its job or pool when due. */
  async #onTaskFinal(run: TaskRun): Promise<void> {
    // Once closing, dependants stay parked: a restart admits them again.
    if (this.#closed) return;
    this.#dispatched.get(run.userId)?.delete(run.doc.uuid);
    const next = this.#overQuota.get(run.userId)?.shift();
    if (next && !this.#deleted.has(next.run.doc.uuid)) await this.#admit(next.run, next.segments);
    const uuid = run.doc.uuid;
    clearTimeout(this.#queueTimers.get(uuid));
    const waiters = this.#waiters.get(uuid);
    this.#waiters.delete(uuid);
    for (const w of waiters ?? []) {
      const parked = this.#waiting.get(w);
      if (!parked) continue;
      this.#waiting.delete(w);
      await this.#admit(parked.run, parked.segments);
    }
    if (run.doc.jobUuid) await this.#maybeCompleteJob(run.userId, run.doc.jobUuid);
    if (run.doc.poolUuid) {
      this.#touchPool(run.doc.poolUuid);
      await this.#maybeClosePool(run.userId, run.doc.poolUuid);
    }
  }

  async #maybeCompleteJob(userId: number, jobUuid: string): Promise<void> {
    const rec = await this.#o.store.jobs.get(userId, jobUuid);
    if (!rec || rec.state !== 'Terminating') return;
    const tasks = await this.#o.store.tasks.listBy(userId, { jobUuid });
    if (tasks.every((t) => isFinalTaskState(t.state as TaskState))) {
      const job = await this.#setJobState(userId, JSON.parse(rec.doc) as JobJson, 'Completed');
      if (job.autoDeleteOnCompletion) this.#armJobDelete(job, userId);
    }
  }

  async #maybeClosePool(userId: number, poolUuid: string): Promise<void> {
    const rec = await this.#o.store.pools.get(userId, poolUuid);
    if (!rec || rec.state !== 'Closing') return;
    const tasks = await this.#o.store.tasks.listBy(userId, { poolUuid });
    if (tasks.every((t) => isFinalTaskState(t.state as TaskState))) {
      const idle = (d: PoolJson): PoolJson => ({ ...d, runningInstanceCount: 0, runningCoreCount: 0, queuedOrRunningTaskInstancesCount: 0 });
      // Slots first: whoever sees Closed finds them shared again.
      const pool = this.#pools.get(poolUuid);
      if (pool) this.#dropPool(pool);
      await this.#setPoolState({ userId, uuid: poolUuid }, 'Closed', idle);
    }
  }

  async #setJobState(userId: number, job: JobJson, state: JobJson['state']): Promise<JobJson> {
    const now = new Date().toISOString();
    const next: JobJson = {
      ...job,
      previousState: job.state,
      previousStateTransitionTime: job.stateTransitionTime,
      state,
      stateTransitionTime: now,
      lastModified: now,
      ...(state === 'Completed' ? { endDate: now } : {}),
    };
    await this.#o.store.jobs.update(userId, job.uuid, { state, lastModified: now, doc: JSON.stringify(next) });
    return next;
  }

  /**
   * Moves a pool to `state` (and applies `change`), unless it has moved past it: Closed is final, Closing only leads
   * to Closed, Failure only to Closing.
   */
  #setPoolState(
    target: { readonly userId: number; readonly uuid: string },
    state: PoolState,
    change: (d: PoolJson) => PoolJson = (d) => d,
  ): Promise<void> {
    return this.#updatePool(target, (pool) => {
      if (pool.state === 'Closed' || pool.state === 'PendingDelete' || pool.state === state) return undefined;
      if (pool.state === 'Closing' && state !== 'Closed') return undefined;
      if (pool.state === 'Failure' && state !== 'Closing') return undefined;
      const now = new Date().toISOString();
      return change({
        ...pool,
        previousState: pool.state,
        previousStateTransitionTime: pool.stateTransitionTime,
        state,
        stateTransitionTime: now,
        lastModified: now,
        ...(state === 'Closed' || state === 'Failure' ? { endDate: now } : {}),
      });
    });
  }

  /** Rewrites the stored pool document (read fresh, so API edits are kept); writes of one pool land in order. */
  #updatePool(pool: { readonly userId: number; readonly uuid: string }, change: (d: PoolJson) => PoolJson | undefined): Promise<void> {
    const previous = this.#poolWrites.get(pool.uuid) ?? Promise.resolve();
    const next = previous
      .then(async () => {
        const rec = await this.#o.store.pools.get(pool.userId, pool.uuid);
        if (!rec) return;
        const doc = change(JSON.parse(rec.doc) as PoolJson);
        if (!doc) return;
        await this.#o.store.pools.update(pool.userId, pool.uuid, { state: doc.state, lastModified: doc.lastModified, doc: JSON.stringify(doc) });
      })
      .catch((e: unknown) => console.error(`hearth scheduler: could not save pool ${pool.uuid}`, e));
    this.#poolWrites.set(pool.uuid, next);
    return next;
  }

  /** `maxWallTime`: the job is terminated when it has lived that long; a completed job may be auto-deleted. */
  #armJob(job: JobJson, userId: number): void {
    if (job.state === 'Completed') {
      if (job.autoDeleteOnCompletion) this.#armJobDelete(job, userId);
      return;
    }
    if (!job.maxWallTime || job.state !== 'Active') return;
    const limitMs = parseTimeSpan(job.maxWallTime) * 1000;
    if (limitMs <= 0) return;
    const delay = Math.max(0, Date.parse(job.creationDate) + limitMs - Date.now());
    const timer = setTimeout(() => {
      this.#jobTimers.delete(job.uuid);
      void this.terminateJob(userId, job.uuid);
    }, Math.min(delay, 2 ** 31 - 1));
    timer.unref();
    this.#jobTimers.set(job.uuid, timer);
  }

  #armJobDelete(job: JobJson, userId: number): void {
    const ttlMs = parseTimeSpan(job.completionTimeToLive || '00:00:00') * 1000;
    const end = job.endDate ? Date.parse(job.endDate) : Date.now();
    const timer = setTimeout(() => {
      this.#jobTimers.delete(job.uuid);
      void (async () => {
        for (const t of await this.#o.store.tasks.listBy(userId, { jobUuid: job.uuid })) {
          await this.#o.store.tasks.delete(userId, t.uuid);
          this.#o.logs.remove(t.uuid);
        }
        await this.#o.store.jobs.delete(userId, job.uuid);
      })();
    }, Math.min(Math.max(0, end + ttlMs - Date.now()), 2 ** 31 - 1));
    timer.unref();
    this.#jobTimers.set(job.uuid, timer);
  }

  async #ownerOf(userId: number): Promise<string> {
    return (await this.#o.store.findUserById(userId))?.email ?? '';
  }

  #restoreRun(rec: EntityRecord, owner: string): TaskRun {
    const doc = JSON.parse(rec.doc) as TaskJson;
    const run = new TaskRun({ userId: rec.userId, owner, doc, total: doc.instanceCount });
    const status = doc.status;
    run.succeeded.push(...idsOfRange(status?.['succeededRange'], parseAdvancedRange));
    run.failed.push(...idsOfRange(status?.['failedRange'], parseAdvancedRange));
    run.cancelled.push(...idsOfRange(status?.['cancelledRange'], parseAdvancedRange));
    for (const id of idsOfRange(status?.['startedOnceRange'], parseAdvancedRange)) run.startedOnce.add(id);
    run.executionSec = Number(status?.['executionTimeSec'] ?? 0);
    run.aborting = doc.state === 'PendingCancel';
    const wall = Number(status?.['wallTimeSec'] ?? 0);
    if (run.startedOnce.size > 0) run.firstStartAt = Date.now() - wall * 1000;
    return run;
  }

  async #submit(run: TaskRun, instances: RangeSegment[]): Promise<void> {
    const owner = run.owner;
    const bucket = run.doc.resultBucket;
    if (bucket && this.#o.ensureBucket) {
      // A bucket that cannot be created (quota, name) fails the uploads later with the storage's own error.
      await this.#o.ensureBucket(owner, bucket).catch(() => undefined);
    }
    const poolRec = run.doc.poolUuid ? await this.#o.store.pools.get(run.userId, run.doc.poolUuid) : undefined;
    const pool = poolRec ? (JSON.parse(poolRec.doc) as PoolJson) : undefined;
    const template = this.#template(run.doc, { owner, pool });
    // OnDemand and Reserved capacity is served before Flex (reference §2.3.7).
    const priority = run.doc.schedulingType === 'Flex' ? 0 : 1;
    // A pool task runs only on its pool's slots.
    const slots = run.doc.poolUuid ?? run.reservation;
    const group = slots ? { group: slots } : {};
    const submission: TaskSubmission = { taskUuid: run.doc.uuid, owner, instances, template, priority, ...group };
    await this.#o.executor.submit(submission);
  }

  /** What every instance shares. A task in a pool runs the pool's profile, constants and resources, then its own. */
  #template(doc: TaskJson, context: { owner: string; pool: PoolJson | undefined }): TaskSubmission['template'] {
    const { owner, pool } = context;
    const profile = this.#o.profiles.find((p) => p.name === (pool?.profile ?? doc.profile));
    const constants: Record<string, string> = {};
    for (const c of profile?.constants ?? []) constants[c.name] = c.value;
    for (const c of pool?.constants ?? []) constants[c.key] = c.value ?? '';
    for (const c of doc.constants) constants[c.key] = c.value ?? '';
    const repo = constants['DOCKER_REPO'];
    const hc = doc.hardwareConstraints;
    const maxRam = hc.find((h) => h.discriminator === 'MaximumRamHardwareConstraint');
    const maxCores = hc.find((h) => h.discriminator === 'MaximumCoreHardwareConstraint');
    return {
      taskUuid: doc.uuid,
      taskName: doc.name,
      instanceCount: doc.instanceCount,
      owner,
      constants,
      command: constants['DOCKER_CMD'] ?? '',
      image: repo ? `${repo}:${constants['DOCKER_TAG'] || 'latest'}` : null,
      resources: [...(pool?.advancedResourceBuckets ?? []), ...doc.advancedResourceBuckets].map((b) => ({
        bucket: b.bucketName,
        prefixFiltering: b.filtering.prefixFiltering?.prefix ?? null,
        stripPrefix: b.resourcesTransformation.stripPrefix?.prefix ?? null,
        cacheTTLSec: b.cacheTTLSec,
      })),
      results: doc.resultBucket
        ? {
            bucket: doc.resultBucket,
            prefix: doc.resultsBucketPrefix,
            whitelist: doc.resultsWhitelist,
            blacklist: doc.resultsBlacklist,
          }
        : null,
      snapshot: snapshotSpec(doc, null),
      uploadResultsOnCancel: doc.uploadResultsOnCancellation ?? false,
      runtime: this.#o.runtime ?? 'auto',
      limits: {
        memoryMB: maxRam && 'maximumMemoryMB' in maxRam ? maxRam.maximumMemoryMB : null,
        cores: maxCores && 'coreCount' in maxCores ? maxCores.coreCount : null,
      },
      defaultResourcesCacheTTLSec: doc.defaultResourcesCacheTTLSec,
      progressPattern: constants['DOCKER_PROGRESS1'] || null,
    } satisfies Omit<InstanceSpec, 'instanceId' | 'workRoot'>;
  }

  #onEvent(e: ExecutorEvent): void {
    const pool = this.#pools.get(e.taskUuid);
    if (pool) {
      this.#onPoolEvent(pool, e);
      return;
    }
    const run = this.#runs.get(e.taskUuid);
    switch (e.type) {
      case 'instance-started': {
        if (!run) return;
        const now = e.at;
        run.firstStartAt ??= now;
        clearTimeout(this.#queueTimers.get(e.taskUuid));
        if (!run.startedOnce.has(e.instanceId) && run.queued > 0) run.queued--;
        run.startedOnce.add(e.instanceId);
        run.active.set(e.instanceId, {
          phase: 'download',
          startedAt: now,
          phaseAt: now,
          progress: 0,
          cpuPercent: 0,
          memoryMB: 0,
          peakMemoryMB: 0,
          cpuTimeSec: 0,
        });
        this.#schedulePersist(run, false);
        return;
      }
      case 'instance-event':
        this.#onRunnerEvent(e, run);
        return;
      case 'instance-finished':
        if (run) this.#onFinished(run, e.result);
        this.#o.logs.release(e.taskUuid, e.instanceId);
        return;
      case 'instances-cancelled': {
        if (!run) return;
        for (const s of e.instances) {
          for (let i = s.start; i <= s.end; i++) run.cancelled.push(i);
          run.queued -= s.end - s.start + 1;
        }
        this.#schedulePersist(run, false);
        return;
      }
      case 'task-drained':
        if (run) void this.#drained(run);
        return;
    }
  }

  #onRunnerEvent(e: Extract<ExecutorEvent, { type: 'instance-event' }>, run: TaskRun | undefined): void {
    const { taskUuid, instanceId, event: ev } = e;
    if (ev.type === 'log') {
      if (!this.#deleted.has(taskUuid)) this.#o.logs.append(taskUuid, { instanceId, stream: ev.stream, data: ev.data });
      return;
    }
    if (!run) return;
    const a = run.active.get(instanceId);
    switch (ev.type) {
      case 'phase':
        if (a) {
          const spent = (ev.at - a.phaseAt) / 1000;
          if (a.phase === 'download') run.downloadSec += spent;
          else if (a.phase === 'environment') run.environmentSec += spent;
          a.phase = ev.phase;
          a.phaseAt = ev.at;
        }
        break;
      case 'progress':
        if (a) a.progress = ev.percent;
        break;
      case 'usage':
        if (a) Object.assign(a, { cpuPercent: ev.cpuPercent, memoryMB: ev.memoryMB, peakMemoryMB: ev.peakMemoryMB, cpuTimeSec: ev.cpuTimeSec });
        break;
      case 'result-uploaded':
        if (!ev.snapshot) run.resultsCount++;
        break;
      case 'runtime':
        break;
    }
    this.#schedulePersist(run, false);
  }

  #onFinished(run: TaskRun, r: InstanceResult): void {
    run.active.delete(r.instanceId);
    if (!run.startedOnce.has(r.instanceId) && run.queued > 0) run.queued--;
    run.startedOnce.add(r.instanceId);
    run.executionSec += r.times.executionSec;
    run.uploadSec += r.times.uploadSec;
    if (r.state === 'Failure' && !run.aborting && !run.verdict && run.mayRetry(r.instanceId)) {
      // Another attempt once the executor lets go of the task; the failed attempt's output stays in the logs.
      run.totalRetries++;
      run.attempts.set(r.instanceId, (run.attempts.get(r.instanceId) ?? 1) + 1);
      run.retryQueue.push(r.instanceId);
      run.queued++;
      this.#schedulePersist(run, false);
      return;
    }
    (r.state === 'Success' ? run.succeeded : r.state === 'Failure' ? run.failed : run.cancelled).push(r.instanceId);
    const host = this.#o.storageHost?.() ?? 'storage';
    const bucket = run.doc.resultBucket;
    const entry: CompletedInstanceJson = {
      instanceId: r.instanceId,
      state: r.state,
      wallTimeSec: r.times.wallSec,
      execTimeSec: r.times.executionSec,
      execTimeSecGHz: 0,
      peakMemoryMB: r.peakMemoryMB,
      averageGHz: 0,
      results: bucket ? r.results.map((k) => `s3://${host}/${bucket}/${k}`) : [],
      executionAttemptCount: run.attempts.get(r.instanceId) ?? 1,
      error: r.error ? { code: r.error.code, message: r.error.message, debug: null } : null,
      cpuModel: '',
      coreCount: 1,
      clockRatio: 1,
    };
    run.recordCompleted(entry);
    if (r.error && r.state === 'Failure') {
      run.addError({ code: r.error.code, message: `instance ${r.instanceId}: ${r.error.message}`, debug: null });
    }
    this.#schedulePersist(run, false);
  }

  async #drained(run: TaskRun): Promise<void> {
    const uuid = run.doc.uuid;
    if (run.retryQueue.length > 0) {
      const ids = run.retryQueue.splice(0);
      if (!run.aborting && !this.#deleted.has(uuid)) {
        await this.#submit(run, ids.sort((a, b) => a - b).map((id) => ({ start: id, end: id })));
        return;
      }
      run.queued -= ids.length;
      run.cancelled.push(...ids);
    }
    const rest = this.#afterDrain.get(uuid);
    if (rest) {
      this.#afterDrain.delete(uuid);
      if (!run.aborting && !this.#deleted.has(uuid)) {
        await this.#submit(run, rest);
        return;
      }
      for (const s of rest) for (let i = s.start; i <= s.end; i++) run.cancelled.push(i);
    }
    // Instances the executor let go of without an outcome (should not happen) end as Lost rather than leave the
    // task running forever.
    run.queued = 0;
    if (run.finishedCount < run.total && !run.verdict) {
      const done = new Set([...run.succeeded, ...run.failed, ...run.cancelled]);
      const lost = remainingSegments(run.doc, done).flatMap((seg) => Array.from({ length: seg.end - seg.start + 1 }, (_, i) => seg.start + i));
      if (lost.length > 0) {
        (run.aborting ? run.cancelled : run.failed).push(...lost);
        if (!run.aborting) run.addError({ code: 'Lost', message: `${lost.length} instances ended without an outcome`, debug: null });
      }
    }
    if (this.#deleted.has(uuid)) {
      this.#runs.delete(uuid);
      this.#o.logs.remove(uuid);
      return;
    }
    await this.#persistNow(run);
    this.#stopPeriodic(uuid);
    this.#runs.delete(uuid);
    if (run.doc.autoDeleteOnCompletion) this.#armTtl(run.doc, run.userId);
  }

  #armTtl(doc: TaskJson, userId: number): void {
    const ttlSec = parseTimeSpan(doc.completionTimeToLive || '00:00:00');
    const end = doc.endDate ? Date.parse(doc.endDate) : Date.now();
    const delay = Math.max(0, end + ttlSec * 1000 - Date.now());
    const timer = setTimeout(() => {
      this.#ttl.delete(doc.uuid);
      void this.#o.store.tasks.delete(userId, doc.uuid).then(() => this.#o.logs.remove(doc.uuid));
    }, Math.min(delay, 2 ** 31 - 1));
    timer.unref();
    this.#ttl.set(doc.uuid, timer);
  }

  #stopPeriodic(uuid: string): void {
    clearInterval(this.#periodic.get(uuid));
    this.#periodic.delete(uuid);
  }

  /** State transitions are written at once; other changes at most every `persistIntervalMs`. */
  #schedulePersist(run: TaskRun, urgent: boolean): void {
    run.dirty = true;
    if (run.doc.poolUuid) this.#touchPool(run.doc.poolUuid);
    if (urgent || run.derivedState() !== run.doc.state) {
      void this.#persistNow(run);
      return;
    }
    const uuid = run.doc.uuid;
    if (this.#timers.has(uuid)) return;
    const timer = setTimeout(() => {
      this.#timers.delete(uuid);
      if (run.dirty) void this.#persistNow(run);
    }, this.#o.persistIntervalMs ?? 250);
    timer.unref();
    this.#timers.set(uuid, timer);
  }

  /**
   * Writes the run's document. Writes are grouped: every task written in the same turn of the event loop lands in
   * one transaction (one fsync), and batches land in order, so a task's writes never overtake each other.
   */
  #persistNow(run: TaskRun): Promise<void> {
    this.#batch.set(run.doc.uuid, run);
    this.#nextFlush ??= this.#flushChain = this.#flushChain
      // A short window groups the writes of many tasks (a burst of submits, a wave of instances) into one fsync.
      .then(() => new Promise<void>((resolve) => setTimeout(resolve, GROUP_COMMIT_MS)))
      .then(() => this.#flush())
      .catch((e: unknown) => console.error('hearth scheduler: could not save tasks', e));
    return this.#nextFlush;
  }

  async #flush(): Promise<void> {
    // Writes asked for from now on join the next batch.
    this.#nextFlush = undefined;
    const batch = [...this.#batch.values()];
    this.#batch.clear();
    const writes: { run: TaskRun; before: TaskState; doc: TaskJson }[] = [];
    for (const run of batch) {
      const uuid = run.doc.uuid;
      if (this.#deleted.has(uuid)) continue;
      run.dirty = false;
      const before = run.doc.state;
      if (!this.#waiting.has(uuid) && !run.heldByQuota) run.pendingReason = this.#queueReason(run);
      writes.push({ run, before, doc: run.toDoc(Date.now()) });
    }
    if (writes.length === 0) return;
    await this.#o.store.transaction(async (scope) => {
      for (const w of writes) {
        // The fields a client may change after submit (PUT) are the API's: keep the stored ones, never our copy.
        const stored = await scope.tasks.get(w.run.userId, w.doc.uuid);
        if (!stored) continue;
        const current = JSON.parse(stored.doc) as Record<string, unknown>;
        const doc = w.doc as unknown as Record<string, unknown>;
        for (const f of [...TASK_FIELDS_MUTABLE_AFTER_SUBMIT, 'resourceBuckets'] as const) doc[f] = current[f];
        w.run.doc = w.doc;
        await scope.tasks.update(w.run.userId, w.doc.uuid, { state: w.doc.state, lastModified: w.doc.lastModified, doc: JSON.stringify(w.doc) });
      }
    });
    for (const { run, before, doc } of writes) {
      for (const wake of [...(this.#watchers.get(doc.uuid) ?? [])]) wake();
      // Not awaited: what it writes (released dependants, job and pool states) goes into later batches.
      if (!isFinalTaskState(before) && isFinalTaskState(doc.state)) {
        const done: Promise<void> = this.#onTaskFinal(run)
          .catch((e: unknown) => console.error(`hearth scheduler: after task ${doc.uuid} ended`, e))
          .finally(() => this.#finals.delete(done));
        this.#finals.add(done);
      }
    }
  }
}

function taskSegments(doc: TaskJson): RangeSegment[] {
  return doc.advancedRanges ? parseAdvancedRange(doc.advancedRanges) : doc.instanceCount > 0 ? [{ start: 0, end: doc.instanceCount - 1 }] : [];
}

/** The task's instance ranges minus the ids already done. */
function remainingSegments(doc: TaskJson, done: ReadonlySet<number>): RangeSegment[] {
  const out: RangeSegment[] = [];
  for (const s of taskSegments(doc)) {
    let start: number | undefined;
    for (let i = s.start; i <= s.end; i++) {
      if (done.has(i)) {
        if (start !== undefined) out.push({ start, end: i - 1 });
        start = undefined;
      } else start ??= i;
    }
    if (start !== undefined) out.push({ start, end: s.end });
  }
  return out;
}

function snapshotSpec(doc: TaskJson | undefined, config: SnapshotRecord['snapshotConfig'] | null): SnapshotSpec | null {
  const bucket = config?.bucket ?? doc?.snapshotBucket ?? doc?.resultBucket ?? null;
  if (!bucket) return null;
  return {
    bucket,
    prefix: config?.bucketPrefix ?? doc?.snapshotBucketPrefix ?? doc?.resultsBucketPrefix ?? null,
    whitelist: config?.whitelist ?? doc?.snapshotWhitelist ?? doc?.resultsWhitelist ?? null,
    blacklist: config?.blacklist ?? doc?.snapshotBlacklist ?? doc?.resultsBlacklist ?? null,
  };
}

/** Slots a pool asks for first: an elastic or scaled pool its minimum (it grows with its queue), else `instanceCount`. */
function initialSlots(doc: PoolJson): number {
  const sizing = poolSizing(doc, new Date());
  return sizing && sizing.policyName !== null ? sizing.min : doc.instanceCount;
}
