import type { CompletedInstanceJson } from '@hearth/core';
import { ErrorInfo } from './error-info.js';

/** Information about an instance that completed (Python: `qarnot.task.CompletedInstance`). Read-only. */
export class CompletedInstance {
  /** Instance id within the task's range. */
  readonly instanceId: number;
  /** Final state of the instance, e.g. `Success`. */
  readonly state: string;
  /** Wall time, seconds. */
  readonly wallTimeSec: number;
  /** CPU execution time, seconds. */
  readonly execTimeSec: number;
  /** Execution time × GHz. */
  readonly execTimeSecGHz: number;
  /** Peak memory, MB. */
  readonly peakMemoryMB: number;
  /** Average CPU frequency, GHz. */
  readonly averageGHz: number;
  /** Result files produced by the instance (`s3://host/bucket/key` URLs). */
  readonly results: readonly string[];
  /** How many times the instance was attempted (retries included). */
  readonly executionAttemptCount: number;
  /** The instance's error, if it failed. */
  readonly error: ErrorInfo | null;
  /** CPU model it ran on, when reported. */
  readonly cpuModel: string | null;
  /** Cores it ran on, when reported. */
  readonly coreCount: number | null;
  /** Clock ratio, when reported. */
  readonly clockRatio: number | null;

  constructor(json: Partial<CompletedInstanceJson>) {
    this.instanceId = json.instanceId ?? 0;
    this.state = json.state ?? '';
    this.wallTimeSec = json.wallTimeSec ?? 0;
    this.execTimeSec = json.execTimeSec ?? 0;
    this.execTimeSecGHz = json.execTimeSecGHz ?? 0;
    this.peakMemoryMB = json.peakMemoryMB ?? 0;
    this.averageGHz = json.averageGHz ?? 0;
    this.results = json.results ?? [];
    this.executionAttemptCount = json.executionAttemptCount ?? 0;
    this.error = json.error ? new ErrorInfo(json.error) : null;
    this.cpuModel = json.cpuModel ?? null;
    this.coreCount = json.coreCount ?? null;
    this.clockRatio = json.clockRatio ?? null;
  }
}
