import type { Readable } from 'node:stream';
import type { ResolvedRuntime, SandboxKind } from '../instance-spec.js';

export interface ExitInfo {
  /** The command's exit status (a shell reports death by signal n as 128+n). */
  readonly exitCode: number | null;
  /** Set when the wrapper itself was killed (e.g. SIGKILL after the abort grace period). */
  readonly signal: NodeJS.Signals | null;
  readonly oomKilled: boolean;
  /** The wrapper vanished without leaving an exit status (server crash + kill, lost container). */
  readonly lost: boolean;
}

export interface UsageSample {
  readonly memoryBytes: number;
  readonly peakMemoryBytes: number;
  readonly cpuTimeSec: number;
}

/** A running command in some runtime, started fresh or re-attached after a server restart. */
export interface Execution {
  readonly runtime: ResolvedRuntime;
  readonly sandbox: SandboxKind;
  readonly detail: string;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Resolves when the command has ended and both log streams are drained. */
  readonly exited: Promise<ExitInfo>;
  /** SIGTERM to the command, SIGKILL to everything after `graceMs`. Resolves once it is dead. */
  terminate(graceMs: number): Promise<void>;
  sample(): Promise<UsageSample | undefined>;
  /** Frees runtime resources (cgroups, container). */
  dispose(): Promise<void>;
  /** This server stops following the command, which runs on for another server process to re-attach to. */
  detach(): void;
}
