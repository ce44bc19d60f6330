import type { ResolvedRuntime, SandboxKind } from './instance-spec.js';

/** Phases of an instance, in order (the `phase` of `perRunningInstanceInfo`, reference §2.3.10). */
export type InstancePhase = 'download' | 'environment' | 'execution' | 'upload';
export type LogStream = 'stdout' | 'stderr';

export type RunnerEvent =
  /** A phase starts. `at` is epoch ms. */
  | { readonly type: 'phase'; readonly phase: InstancePhase; readonly at: number }
  /** Which runtime and sandbox run the command (also written to stderr as a `[hearth]` line). */
  | { readonly type: 'runtime'; readonly runtime: ResolvedRuntime; readonly sandbox: SandboxKind; readonly detail: string }
  /** A chunk of output, passed on as read: the runner keeps no unbounded copy. */
  | { readonly type: 'log'; readonly stream: LogStream; readonly data: Buffer }
  /** Progress reported by the command (0–100). */
  | { readonly type: 'progress'; readonly percent: number }
  /** A resource usage sample of the whole instance (process group, cgroup or container). */
  | {
      readonly type: 'usage';
      readonly cpuPercent: number;
      readonly memoryMB: number;
      readonly peakMemoryMB: number;
      readonly cpuTimeSec: number;
    }
  /** One file reached the result bucket (`snapshot` true when uploaded by a snapshot). */
  | { readonly type: 'result-uploaded'; readonly key: string; readonly size: number; readonly snapshot: boolean };

export type RunnerEventType = RunnerEvent['type'];
