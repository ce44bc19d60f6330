import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  findLeftoverInstances,
  reattachInstance,
  ResourceCache,
  startInstance,
  type InstanceResult,
  type InstanceSpec,
  type LeftoverInstance,
  type RunnerOptions,
  type RunningInstance,
  type SnapshotResult,
  type SnapshotSpec,
} from '@hearth/runner';
import type {
  CancelOptions,
  Executor,
  ExecutorCloseOptions,
  ExecutorEvent,
  ExecutorListener,
  ExecutorStats,
  TaskSubmission,
} from './executor.js';
import { ExecutorClosedError } from './executor.js';
import { PriorityQueue } from './priority-queue.js';

export interface LocalExecutorOptions {
  /** Parent of every instance directory. */
  readonly workRoot: string;
  /** Instances running at once. @default os.availableParallelism() */
  readonly slots?: number;
  /** Where resources are read and results written. Required for tasks with resources or results. */
  readonly blobStore?: NonNullable<RunnerOptions['blobStore']>;
  /** Node resource cache. @default a cache in `<workRoot>/.cache` */
  readonly cache?: ResourceCache;
  /** Passed to every runner (runtime, sandbox, cgroups, grace period, docker engine, sample interval). @default {} */
  readonly runner?: Omit<RunnerOptions, 'blobStore' | 'cache' | 'onEvent' | 'signal'>;
  /** Instances one owner may run at once (a per-user quota); the rest wait in the queue. @default no limit */
  readonly maxRunningPerOwner?: (owner: string) => number;
  /** A first listener, same as `subscribe()`. */
  readonly onEvent?: ExecutorListener;
}

/** A set of slots with its own queue: the shared one, or a group's (a pool's) reservation. */
interface Lane {
  slots: number;
  running: number;
  readonly queue: PriorityQueue<TaskState>;
}

interface TaskState {
  readonly submission: TaskSubmission;
  readonly lane: Lane;
  /** Queued + running instances; the task drains when it reaches 0. */
  remaining: number;
  readonly running: Map<number, RunningInstance>;
}

/**
 * Runs instances on this machine, in-process through the runner: `slots` at a time (one per core by default), from
 * one queue shared by every task (plus one per group with reserved slots: a pool) — round-robin between owners, FIFO within an owner. A slot is refilled the moment
 * an instance ends (no polling), and a task's pending instances stay ranges until they start.
 *
 * @example
 * ```ts
 * await using executor = new LocalExecutor({ workRoot: '/var/lib/hearth/work', blobStore });
 * executor.subscribe((e) => { if (e.type === 'instance-finished') console.log(e.instanceId, e.result.state); });
 * await executor.submit({ taskUuid, owner: 'me@example.com', instances: [{ start: 0, end: 99 }], template });
 * ```
 */
export class LocalExecutor implements Executor {
  readonly kind = 'local';
  readonly slots: number;
  readonly cache: ResourceCache;
  readonly #o: LocalExecutorOptions;
  readonly #shared: Lane;
  readonly #groups = new Map<string, Lane>();
  readonly #tasks = new Map<string, TaskState>();
  readonly #listeners = new Set<ExecutorListener>();
  #running = 0;
  readonly #runningByOwner = new Map<string, number>();
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #idle: Array<() => void> = [];

  constructor(options: LocalExecutorOptions) {
    this.#o = options;
    this.slots = Math.max(1, Math.floor(options.slots ?? os.availableParallelism()));
    this.#shared = { slots: this.slots, running: 0, queue: new PriorityQueue() };
    this.cache = options.cache ?? new ResourceCache(`${options.workRoot}/.cache`);
    if (options.onEvent) this.#listeners.add(options.onEvent);
  }

  subscribe(listener: ExecutorListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  stats(): ExecutorStats {
    let queued = this.#shared.queue.size;
    for (const lane of this.#groups.values()) queued += lane.queue.size;
    return { slots: this.slots, running: this.#running, queued, tasks: this.#tasks.size, reserved: this.slots - this.#shared.slots };
  }

  reserve(group: string, slots: number): number {
    const lane = this.#lane(group);
    let others = 0;
    for (const [name, l] of this.#groups) if (name !== group) others += l.slots;
    lane.slots = Math.max(0, Math.min(Math.floor(slots), this.slots - others));
    this.#shared.slots = this.slots - others - lane.slots;
    this.#pump();
    return lane.slots;
  }

  release(group: string): void {
    const lane = this.#groups.get(group);
    if (!lane) return;
    this.#groups.delete(group);
    this.#shared.slots += lane.slots;
    lane.slots = 0;
    // Its running instances finish on the lane (still counted in #running); queued ones have nowhere to go.
    for (const [taskUuid, removed] of lane.queue.clear()) {
      const state = this.#tasks.get(taskUuid);
      if (!state) continue;
      state.remaining -= removed.reduce((n, s) => n + s.end - s.start + 1, 0);
      this.#emit({ type: 'instances-cancelled', taskUuid, instances: removed });
      this.#maybeDrained(taskUuid, state);
    }
    this.#pump();
  }

  reserved(group: string): number {
    return this.#groups.get(group)?.slots ?? 0;
  }

  #lane(group: string): Lane {
    let lane = this.#groups.get(group);
    if (!lane) {
      lane = { slots: 0, running: 0, queue: new PriorityQueue() };
      this.#groups.set(group, lane);
    }
    return lane;
  }

  submit(task: TaskSubmission): Promise<void> {
    try {
      this.#submit(task);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  #submit(task: TaskSubmission): void {
    if (this.#closed) throw new ExecutorClosedError('the executor is closed');
    const active = this.#tasks.get(task.taskUuid);
    if (active) {
      // More instances of a task still here (retries): queued behind its current ones; ids already queued count once.
      const running = task.instances.filter((s) => [...active.running.keys()].some((id) => s.start <= id && id <= s.end));
      if (running.length > 0) throw new Error(`task ${task.taskUuid}: an instance in ${JSON.stringify(running)} is still running`);
      active.remaining += active.lane.queue.append({ id: task.taskUuid, owner: active.submission.owner, segments: task.instances, payload: active });
      this.#pump();
      return;
    }
    const lane = task.group === undefined ? this.#shared : this.#lane(task.group);
    const state: TaskState = { submission: task, lane, remaining: 0, running: new Map() };
    lane.queue.push({ id: task.taskUuid, owner: task.owner, segments: task.instances, payload: state, priority: task.priority ?? 0 });
    const queued = lane.queue.has(task.taskUuid);
    if (!queued) {
      // An empty range: nothing to run, but the scheduler still hears that the task is done here.
      queueMicrotask(() => this.#emit({ type: 'task-drained', taskUuid: task.taskUuid }));
      return;
    }
    state.remaining = task.instances.reduce((n, s) => n + Math.max(0, s.end - s.start + 1), 0);
    this.#tasks.set(task.taskUuid, state);
    this.#pump();
  }

  async cancel(taskUuid: string, options: CancelOptions = {}): Promise<void> {
    const state = this.#tasks.get(taskUuid);
    if (!state) return;
    const removed = state.lane.queue.remove(taskUuid, options.instanceId);
    const count = removed.reduce((n, s) => n + s.end - s.start + 1, 0);
    if (count > 0) {
      state.remaining -= count;
      this.#emit({ type: 'instances-cancelled', taskUuid, instances: removed });
    }
    const running = [...state.running.entries()].filter(([id]) => options.instanceId === undefined || id === options.instanceId);
    for (const [, inst] of running) inst.abort(new Error('cancelled'));
    this.#maybeDrained(taskUuid, state);
    await Promise.all(running.map(([, inst]) => inst.result));
  }

  async snapshot(taskUuid: string, settings?: SnapshotSpec, options: { signal?: AbortSignal } = {}): Promise<SnapshotResult> {
    const state = this.#tasks.get(taskUuid);
    if (!state) return { keys: [], bytes: 0 };
    const parts = await Promise.all([...state.running.values()].map((i) => i.snapshot(settings, options).catch(() => ({ keys: [], bytes: 0 }))));
    return { keys: parts.flatMap((p) => p.keys).sort(), bytes: parts.reduce((n, p) => n + p.bytes, 0) };
  }

  async updateResources(taskUuid: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const state = this.#tasks.get(taskUuid);
    if (!state) return;
    await Promise.all([...state.running.values()].map((i) => i.updateResources(options).catch(() => undefined)));
  }

  /**
   * Finds instances a previous process left running in `workRoot` and re-attaches to them (they take slots like any
   * other). Their events flow as usual: `instance-started` now, `instance-finished` when they end (at once for those
   * that ended, or vanished, while no server was watching). Call before submitting new work.
   */
  async recover(): Promise<LeftoverInstance[]> {
    if (this.#closed) throw new ExecutorClosedError('the executor is closed');
    const leftovers = await findLeftoverInstances(this.#o.workRoot, this.#o.runner?.docker ? { docker: this.#o.runner.docker } : {});
    for (const l of leftovers) {
      let state = this.#tasks.get(l.taskUuid);
      if (!state) {
        const template = withoutPlacement(l.state.spec);
        // The leftover's group is not on disk: it takes a shared slot until it ends.
        state = { submission: { taskUuid: l.taskUuid, owner: l.state.spec.owner, instances: [], template }, lane: this.#shared, remaining: 0, running: new Map() };
        this.#tasks.set(l.taskUuid, state);
      }
      state.remaining++;
      this.#launch(state, l.instanceId, l);
    }
    return leftovers;
  }

  close(options: ExecutorCloseOptions = {}): Promise<void> {
    this.#closing ??= this.#close(options);
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(options: ExecutorCloseOptions): Promise<void> {
    this.#closed = true;
    // Queued instances are simply forgotten: for the scheduler they are still pending and are resubmitted after a restart.
    this.#shared.queue.clear();
    for (const lane of this.#groups.values()) lane.queue.clear();
    if (options.leaveRunning) {
      for (const state of this.#tasks.values()) for (const inst of state.running.values()) inst.detach();
      this.#tasks.clear();
      this.#listeners.clear();
      return;
    }
    const drained = new Promise<void>((resolve) => (this.#running === 0 ? resolve() : this.#idle.push(resolve)));
    const grace = sleep(options.graceMs ?? 30_000, 'grace' as const, options.signal ? { signal: options.signal, ref: false } : { ref: false }).catch(() => 'grace' as const);
    if ((await Promise.race([drained.then(() => 'drained' as const), grace])) === 'grace') {
      for (const state of this.#tasks.values()) for (const inst of state.running.values()) inst.abort(new Error('executor closed'));
      await drained;
    }
    this.#listeners.clear();
  }

  #emit(event: ExecutorEvent): void {
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch {
        // one listener's bug must not stop the executor
      }
    }
  }

  /** Instances an owner runs right now (for quotas and pending reasons). */
  runningFor(owner: string): number {
    return this.#runningByOwner.get(owner) ?? 0;
  }

  /**
   * Fills free slots from the queues: each lane up to its own slots, and never past `slots` in all (a slot just
   * reserved may still be finishing a shared instance). Called on submit, reserve/release and whenever an instance ends.
   */
  #pump(): void {
    const limit = this.#o.maxRunningPerOwner;
    const canServe = limit ? (owner: string) => this.runningFor(owner) < limit(owner) : undefined;
    for (const lane of [...this.#groups.values(), this.#shared]) {
      while (!this.#closed && this.#running < this.slots && lane.running < lane.slots) {
        const next = lane.queue.shift(canServe);
        if (!next) break;
        this.#launch(next.payload, next.instanceId);
      }
    }
  }

  #launch(state: TaskState, instanceId: number, leftover?: LeftoverInstance): void {
    const { taskUuid, owner } = state.submission;
    this.#running++;
    state.lane.running++;
    this.#runningByOwner.set(owner, this.runningFor(owner) + 1);
    const runnerOptions: RunnerOptions = {
      ...this.#o.runner,
      cache: this.cache,
      ...(this.#o.blobStore ? { blobStore: this.#o.blobStore } : {}),
      onEvent: (event) => this.#emit({ type: 'instance-event', taskUuid, instanceId, event }),
    };
    // Announced before the runner starts: its first event (the download phase) is emitted synchronously.
    this.#emit({ type: 'instance-started', taskUuid, instanceId, at: Date.now() });
    const inst = leftover
      ? reattachInstance(leftover, runnerOptions)
      : startInstance({ ...state.submission.template, instanceId, workRoot: this.#o.workRoot }, runnerOptions);
    state.running.set(instanceId, inst);
    void inst.result.then((result) => this.#finished(state, instanceId, result));
  }

  #finished(state: TaskState, instanceId: number, result: InstanceResult): void {
    const { taskUuid, owner } = state.submission;
    state.running.delete(instanceId);
    state.remaining--;
    this.#running--;
    state.lane.running--;
    const mine = this.runningFor(owner) - 1;
    if (mine > 0) this.#runningByOwner.set(owner, mine);
    else this.#runningByOwner.delete(owner);
    this.#emit({ type: 'instance-finished', taskUuid, instanceId, result });
    this.#maybeDrained(taskUuid, state);
    if (this.#running === 0) for (const resolve of this.#idle.splice(0)) resolve();
    this.#pump();
  }

  #maybeDrained(taskUuid: string, state: TaskState): void {
    if (state.remaining === 0 && this.#tasks.get(taskUuid) === state) {
      this.#tasks.delete(taskUuid);
      this.#emit({ type: 'task-drained', taskUuid });
    }
  }
}

/** A spec back to a template: the executor decides the instance id and the work root. */
function withoutPlacement(spec: InstanceSpec): TaskSubmission['template'] {
  const copy: { -readonly [K in keyof InstanceSpec]?: InstanceSpec[K] } = { ...spec };
  delete copy.instanceId;
  delete copy.workRoot;
  return copy as TaskSubmission['template'];
}
