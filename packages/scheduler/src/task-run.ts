import {
  formatTimeSpan,
  rangeOfIds,
  RUNNING_TASK_STATES,
  type CompletedInstanceJson,
  type ErrorJson,
  type RangeSegment,
  type TaskJson,
  type TaskState,
} from '@hearth/core';
import type { InstancePhase } from '@hearth/runner';

/** What the scheduler knows of a running instance, from its runner's events. */
export interface ActiveInstance {
  phase: InstancePhase;
  readonly startedAt: number;
  phaseAt: number;
  progress: number;
  cpuPercent: number;
  memoryMB: number;
  peakMemoryMB: number;
  cpuTimeSec: number;
}

/** Completed instances kept in the task document; the ranges in `status` cover every instance. */
export const MAX_COMPLETED_IN_DOC = 1000;

/**
 * The live state of one task while the scheduler runs it. The task document is derived from it and written back
 * (throttled, and at once on every state transition).
 */
export class TaskRun {
  readonly active = new Map<number, ActiveInstance>();
  readonly succeeded: number[] = [];
  readonly failed: number[] = [];
  readonly cancelled: number[] = [];
  readonly startedOnce = new Set<number>();
  completed: CompletedInstanceJson[];
  errors: ErrorJson[];
  queued: number;
  aborting = false;
  firstStartAt: number | undefined;
  executionSec = 0;
  downloadSec = 0;
  environmentSec = 0;
  uploadSec = 0;
  resultsCount: number;
  dirty = false;
  /** A final state decided without running (dependencies that can no longer be met, queue time exceeded before start). */
  verdict: TaskState | undefined;
  /** Why the task waits, shown in its status while it does. */
  pendingReason: string | undefined;
  /** Held back by the user's running-task quota: its pending reason is that, not the executor's queue. */
  heldByQuota = false;
  /** The pool whose slots a Reserved task targets (`targetedReservationName`). */
  reservation: string | undefined;
  /** Attempts per instance (1 = first run), and instances to run again once the executor lets go of the task. */
  readonly attempts = new Map<number, number>();
  readonly retryQueue: number[] = [];
  totalRetries = 0;

  readonly userId: number;
  readonly owner: string;
  doc: TaskJson;
  readonly total: number;

  constructor(init: { userId: number; owner: string; doc: TaskJson; total: number }) {
    const { doc, total } = init;
    this.userId = init.userId;
    this.owner = init.owner;
    this.doc = doc;
    this.total = total;
    this.completed = [...doc.completedInstances];
    this.errors = [...doc.errors];
    this.resultsCount = doc.resultsCount;
    this.queued = total;
  }

  get finishedCount(): number {
    return this.succeeded.length + this.failed.length + this.cancelled.length;
  }

  /** The task state that the instance counts imply (reference §3.1). */
  derivedState(): TaskState {
    if (this.verdict && this.active.size === 0) return this.verdict;
    if (this.finishedCount >= this.total && this.active.size === 0) {
      if (this.aborting) return 'Cancelled';
      return this.failed.length === 0 && this.cancelled.length === 0 ? 'Success' : 'Failure';
    }
    if (this.aborting) return 'PendingCancel';
    return forwardOnly(this.doc.state, this.runningState());
  }

  /** The running state the instance counts imply right now, before the forward-only rule. */
  private runningState(): TaskState {
    if (this.active.size === 0 && this.startedOnce.size === 0) return 'Submitted';
    let executing = 0;
    let uploading = 0;
    for (const a of this.active.values()) {
      if (a.phase === 'execution') executing++;
      else if (a.phase === 'upload') uploading++;
    }
    if (this.queued > 0) return executing > 0 ? 'PartiallyExecuting' : 'PartiallyDispatched';
    if (executing > 0) return 'FullyExecuting';
    if (uploading > 0) return 'UploadingResults';
    return 'FullyDispatched';
  }

  /**
   * Whether a failed instance gets another attempt (reference §2.3.6): `maxPerInstanceRetries` (or the legacy
   * `maxRetriesPerInstance`) and `maxTotalRetries`, null or 0 meaning none, the tighter one winning.
   */
  mayRetry(instanceId: number): boolean {
    const perInstance = this.doc.retrySettings.maxPerInstanceRetries ?? (this.doc.maxRetriesPerInstance || null);
    const total = this.doc.retrySettings.maxTotalRetries;
    if (!perInstance && !total) return false;
    const retriesSoFar = (this.attempts.get(instanceId) ?? 1) - 1;
    if (perInstance && retriesSoFar >= perInstance) return false;
    if (total && this.totalRetries >= total) return false;
    return true;
  }

  recordCompleted(entry: CompletedInstanceJson): void {
    this.completed.push(entry);
    if (this.completed.length > MAX_COMPLETED_IN_DOC) this.completed.splice(0, this.completed.length - MAX_COMPLETED_IN_DOC);
  }

  addError(error: ErrorJson): void {
    if (this.errors.length < 100) this.errors.push(error);
  }

  /** Average progress over every instance, finished ones counting 100. */
  progress(): number {
    if (this.total === 0) return 100;
    let sum = (this.succeeded.length + this.failed.length + this.cancelled.length) * 100;
    for (const a of this.active.values()) sum += a.progress;
    return Math.round((sum / this.total) * 100) / 100;
  }

  /** Writes the live figures into the document; `now` is epoch ms. */
  toDoc(now: number): TaskJson {
    const state = this.derivedState();
    const doc = this.doc;
    const iso = new Date(now).toISOString();
    const next: TaskJson = { ...doc, lastModified: iso };
    if (state !== doc.state) {
      next.previousState = doc.state;
      next.previousStateTransitionTime = doc.stateTransitionTime;
      next.state = state;
      next.stateTransitionTime = iso;
      if (state === 'Success' || state === 'Failure' || state === 'Cancelled') next.endDate = iso;
    }
    const running = this.active.size;
    const wallSec = this.firstStartAt === undefined ? 0 : ((next.endDate ? Date.parse(next.endDate) : now) - this.firstStartAt) / 1000;
    let liveExec = 0;
    for (const a of this.active.values()) if (a.phase === 'execution') liveExec += (now - a.phaseAt) / 1000;
    const executionSec = this.executionSec + liveExec;
    next.runningInstanceCount = running;
    next.runningCoreCount = running;
    next.progress = this.progress();
    next.executionTime = formatTimeSpan(Math.round(executionSec));
    next.wallTime = formatTimeSpan(Math.round(wallSec));
    next.resultsCount = this.resultsCount;
    next.completedInstances = this.completed;
    next.errors = this.errors;
    const perInstance = [...this.active.entries()].map(([instanceId, a]) => ({
      phase: a.phase,
      instanceId,
      maxFrequencyGHz: 0,
      currentFrequencyGHz: 0,
      cpuUsage: a.cpuPercent,
      maxMemoryMB: a.peakMemoryMB,
      currentMemoryMB: a.memoryMB,
      memoryUsage: a.memoryMB,
      networkInKbps: 0,
      networkOutKbps: 0,
      progress: a.progress,
      executionTimeSec: a.phase === 'execution' ? (now - a.phaseAt) / 1000 : 0,
      executionTimeGHz: 0,
      cpuModel: '',
      coreCount: 1,
      clockRatio: 1,
      executionAttemptCount: this.attempts.get(instanceId) ?? 1,
      activeForwards: [],
      vpnConnections: [],
    }));
    const avg = (f: (x: (typeof perInstance)[number]) => number) =>
      perInstance.length ? perInstance.reduce((n, x) => n + f(x), 0) / perInstance.length : 0;
    next.status = {
      timestamp: iso,
      lastUpdateTimestamp: iso,
      downloadProgress: this.phaseProgress('download'),
      executionProgress: next.progress,
      uploadProgress: this.phaseProgress('upload'),
      instanceCount: running,
      downloadTime: formatTimeSpan(Math.round(this.downloadSec)),
      downloadTimeSec: this.downloadSec,
      environmentTime: formatTimeSpan(Math.round(this.environmentSec)),
      environmentTimeSec: this.environmentSec,
      executionTime: next.executionTime,
      executionTimeSec: executionSec,
      uploadTime: formatTimeSpan(Math.round(this.uploadSec)),
      uploadTimeSec: this.uploadSec,
      wallTime: next.wallTime,
      wallTimeSec: wallSec,
      succeededRange: rangeOfIds(this.succeeded),
      executedRange: rangeOfIds([...this.succeeded, ...this.failed]),
      failedRange: rangeOfIds(this.failed),
      cancelledRange: rangeOfIds(this.cancelled),
      startedOnceRange: rangeOfIds(this.startedOnce),
      ...(this.pendingReason && !this.verdict ? { pendingReason: this.pendingReason } : {}),
      executionTimeByCpuModel: [],
      executionTimeGhzByCpuModel: [],
      runningInstancesInfo: {
        perRunningInstanceInfo: perInstance,
        timestamp: iso,
        averageFrequencyGHz: 0,
        maxFrequencyGHz: 0,
        minFrequencyGHz: 0,
        averageMaxFrequencyGHz: 0,
        averageCpuUsage: avg((x) => x.cpuUsage),
        clusterPowerIndicator: 1,
        averageMemoryUsage: avg((x) => x.memoryUsage),
        averageNetworkInKbps: 0,
        averageNetworkOutKbps: 0,
        totalNetworkInKbps: 0,
        totalNetworkOutKbps: 0,
        snapshotResults: [],
        runningCoreCountByCpuModel: [],
      },
    };
    this.doc = next;
    return next;
  }

  /** Share of instances past a phase: finished ones count as done. */
  private phaseProgress(phase: 'download' | 'upload'): number {
    if (this.total === 0) return 100;
    const order: InstancePhase[] = ['download', 'environment', 'execution', 'upload'];
    let past = this.finishedCount;
    for (const a of this.active.values()) if (order.indexOf(a.phase) > order.indexOf(phase)) past++;
    return Math.round((past / this.total) * 10000) / 100;
  }
}

/**
 * While a task runs its state only moves forward through `RUNNING_TASK_STATES` (reference §3.1): an instance briefly
 * between two phases must not send a task back from PartiallyExecuting to PartiallyDispatched (and each such flap
 * would cost a durable write).
 */
function forwardOnly(current: TaskState, next: TaskState): TaskState {
  const a = RUNNING_TASK_STATES.indexOf(current);
  const b = RUNNING_TASK_STATES.indexOf(next);
  return a > b && b >= 0 ? current : next;
}

/** Ids of a range string stored in a previous status (`0-3,7`), for restarts. */
export function idsOfRange(range: unknown, parse: (s: string) => RangeSegment[]): number[] {
  if (typeof range !== 'string' || range === '') return [];
  const out: number[] = [];
  for (const s of parse(range)) for (let i = s.start; i <= s.end; i++) out.push(i);
  return out;
}
