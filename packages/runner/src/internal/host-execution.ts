import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { RunnerError } from '../runner-error.js';
import type { SandboxKind } from '../instance-spec.js';
import { cgroupPool, type Cgroup } from './cgroup.js';
import type { Execution, ExitInfo, UsageSample } from './execution.js';
import { CLOCK_TICKS, isSameProcessAlive, killQuietly, PAGE_SIZE, processGroupMembers, readProcStat } from './proc.js';
import { closeAll, openFifoKeeper, openFifoReader, WRAPPER_SCRIPT } from './wrapper.js';
import { fifoPool } from './fifo-pool.js';
import { Launcher } from './launcher.js';

export interface HostStartOptions {
  readonly command: string;
  readonly workdir: string;
  readonly stateDir: string;
  readonly env: Readonly<Record<string, string>>;
  readonly sandbox: 'bwrap' | 'none';
  readonly network: boolean;
  readonly cgroup: Cgroup | undefined;
  /** Where the FIFO pool lives (same file system as the state dir). */
  readonly fifoRoot: string;
}

/**
 * Opens the FIFOs' read ends, plus our own write ends: Linux reports EOF (POLLHUP) on a FIFO only if a writer
 * connected after the reader opened, so a command that is over before the wrapper is watched still ends the stream
 * once we close ours (after the wrapper's exit).
 */
export function openFifos(stateDir: string): { readers: [net.Socket, net.Socket]; keepers: number[] } {
  const readers: [net.Socket, net.Socket] = [openFifoReader(`${stateDir}/stdout`), openFifoReader(`${stateDir}/stderr`)];
  return { readers, keepers: [`${stateDir}/stdout`, `${stateDir}/stderr`].map(openFifoKeeper) };
}

/** bubblewrap arguments: the whole host read-only, the working dir writable, no network unless allowed, no capabilities. */
export function bwrapArgs(workdir: string, network: boolean): string[] {
  return [
    '--ro-bind', '/', '/',
    '--dev', '/dev',
    '--proc', '/proc',
    '--tmpfs', '/tmp',
    '--bind', workdir, workdir,
    '--chdir', workdir,
    '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try',
    ...(network ? [] : ['--unshare-net']),
    '--die-with-parent',
    '--cap-drop', 'ALL',
  ];
}

/** What a re-attaching server needs to find a host instance again (stored in the instance's state file). */
export interface HostProcessRecord {
  readonly pid: number;
  readonly startTicks: number;
}

/**
 * The host runtime: the wrapper runs as the leader of a new process group (and session) in the working dir,
 * the command inside bubblewrap when available.
 */
export class HostExecution implements Execution {
  readonly runtime = 'host' as const;
  readonly sandbox: SandboxKind;
  readonly detail: string;
  readonly stdout: net.Socket;
  readonly stderr: net.Socket;
  readonly exited: Promise<ExitInfo>;
  readonly record: HostProcessRecord;
  readonly #pid: number;
  readonly #stateDir: string;
  readonly #cgroup: Cgroup | undefined;
  readonly #keepers: number[];
  #done = false;

  private constructor(init: {
    pid: number;
    startTicks: number;
    stateDir: string;
    sandbox: SandboxKind;
    cgroup: Cgroup | undefined;
    exit: Promise<ChildExit> | undefined;
    readers: [net.Socket, net.Socket];
    keepers: number[];
  }) {
    this.#pid = init.pid;
    this.#stateDir = init.stateDir;
    this.#cgroup = init.cgroup;
    this.sandbox = init.sandbox;
    this.record = { pid: init.pid, startTicks: init.startTicks };
    this.detail =
      init.sandbox === 'bwrap'
        ? 'host runtime, sandboxed with bubblewrap (working dir writable, rest read-only)'
        : 'host runtime, plain process group (bubblewrap not available)';
    [this.stdout, this.stderr] = init.readers;
    this.#keepers = init.keepers;
    this.exited = this.#watch(init.exit);
    this.exited.finally(() => (this.#done = true)).catch(() => {});
  }

  static async start(o: HostStartOptions): Promise<HostExecution> {
    await fifoPool(o.fifoRoot).place(o.stateDir);
    const { readers, keepers } = openFifos(o.stateDir);
    const argv = o.sandbox === 'bwrap' ? ['bwrap', ...bwrapArgs(o.workdir, o.network), '--', '/bin/sh', '-c', o.command] : ['--eval', o.command];
    const req = {
      argv: ['/bin/sh', '-c', WRAPPER_SCRIPT, 'hearth-instance', o.stateDir, ...argv],
      cwd: o.workdir,
      env: { ...o.env, HEARTH_CGROUP_PROCS: o.cgroup?.procsFiles.join(' ') ?? '' },
    };
    let started: { pid: number; exit: Promise<ChildExit> };
    try {
      started = await launch(req);
    } catch (e) {
      for (const r of readers) r.destroy();
      closeAll(keepers);
      throw new RunnerError('RuntimeUnavailable', `cannot start the instance wrapper: ${(e as Error).message}`, { cause: e });
    }
    const st = readProcStat(started.pid);
    return new HostExecution({ pid: started.pid, startTicks: st?.startTicks ?? 0, stateDir: o.stateDir, sandbox: o.sandbox, cgroup: o.cgroup, exit: started.exit, readers, keepers });
  }

  /** Re-attaches to a wrapper left running by a previous server process. */
  static reattach(record: HostProcessRecord, init: { stateDir: string; sandbox: SandboxKind; cgroup: Cgroup | undefined }): HostExecution {
    return new HostExecution({ ...record, ...init, exit: undefined, ...openFifos(init.stateDir) });
  }

  /** Name of the instance's cgroup, recorded for a re-attaching server. */
  get cgroupName(): string | null {
    return this.#cgroup?.name ?? null;
  }

  async terminate(graceMs: number): Promise<void> {
    if (this.#done) return;
    // SIGTERM the command, not the wrapper (which records the exit status) nor bubblewrap (which would take the
    // sandbox down with SIGKILL at once and lose the command's own exit status). Processes that appear during the
    // grace period (a command that was just starting) are signalled too.
    const signalled = new Set<number>();
    const deadline = Date.now() + graceMs;
    while (!this.#done && Date.now() < deadline) {
      for (const p of await processGroupMembers(this.#pid)) {
        if (p.pid !== this.#pid && p.comm !== 'bwrap' && !signalled.has(p.pid)) {
          signalled.add(p.pid);
          killQuietly(p.pid, 'SIGTERM');
        }
      }
      await Promise.race([this.exited, sleep(Math.min(100, Math.max(0, deadline - Date.now())), undefined, { ref: false })]);
    }
    if (!this.#done) killQuietly(-this.#pid, 'SIGKILL');
    await this.exited;
  }

  async sample(): Promise<UsageSample | undefined> {
    // The cgroup outlives the command until dispose(): its peak is read once more after the exit.
    if (this.#cgroup) {
      return {
        memoryBytes: this.#cgroup.memoryBytes(),
        peakMemoryBytes: this.#cgroup.peakMemoryBytes(),
        cpuTimeSec: this.#cgroup.cpuTimeNs() / 1e9,
      };
    }
    if (this.#done) return undefined;
    const members = await processGroupMembers(this.#pid);
    const memoryBytes = members.reduce((n, p) => n + p.rssPages * PAGE_SIZE, 0);
    const ticks = members.reduce((n, p) => n + p.utimeTicks + p.stimeTicks, 0);
    return { memoryBytes, peakMemoryBytes: memoryBytes, cpuTimeSec: ticks / CLOCK_TICKS };
  }

  dispose(): Promise<void> {
    killQuietly(-this.#pid, 'SIGKILL');
    closeAll(this.#keepers);
    this.stdout.destroy();
    this.stderr.destroy();
    if (this.#cgroup) cgroupPool.release(this.#cgroup);
    return Promise.resolve();
  }

  async #watch(exit: Promise<ChildExit> | undefined): Promise<ExitInfo> {
    let signal: NodeJS.Signals | null = null;
    let code: number | null = null;
    let watched = false;
    if (exit) {
      try {
        ({ code, signal } = await exit);
        watched = true;
      } catch {
        // the launcher died: watch the pid instead
      }
    }
    if (!watched) {
      // Not our child (re-attached), so no exit event: watch the pid. The only poll, and only in this case.
      while (isSameProcessAlive(this.#pid, this.record.startTicks)) await sleep(250);
    }
    // Leftover background processes of the command end with it.
    killQuietly(-this.#pid, 'SIGKILL');
    closeAll(this.#keepers);
    await drain([this.stdout, this.stderr], 5000);
    // The wrapper exits with the command's status: it stands in when the exit file could not be written (disk full).
    const exitCode = readExitFile(this.#stateDir) ?? code;
    const oomKilled = this.#cgroup?.oomKilled() ?? false;
    return { exitCode, signal: exitCode === null ? (signal ?? 'SIGKILL') : null, oomKilled, lost: exitCode === null && signal === null && !watched };
  }
}

export function readExitFile(stateDir: string): number | null {
  let text = '';
  try {
    text = readFileSync(`${stateDir}/exit`, 'utf8'); // a few bytes just written: in the page cache
  } catch {
    // no exit file
  }
  return /^\d+\n$/.test(text) ? Number(text) : null;
}

function endOf(s: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (s.readableEnded || s.destroyed) resolve();
    else {
      s.once('end', resolve);
      s.once('close', resolve);
    }
  });
}

export async function drain(streams: net.Socket[], timeoutMs: number): Promise<void> {
  const all = Promise.all(streams.map(endOf));
  await Promise.race([all, sleep(timeoutMs, undefined, { ref: false })]);
  for (const s of streams) s.destroy();
}

interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Starts a detached process group: through the perl launcher, or with a fork of this process when perl is missing. */
async function launch(req: { argv: string[]; cwd: string; env: Record<string, string> }): Promise<{ pid: number; exit: Promise<ChildExit> }> {
  const launcher = Launcher.shared();
  if (launcher.alive) {
    try {
      const l = await launcher.launch(req);
      return { pid: l.pid, exit: l.exited };
    } catch {
      // perl missing or gone: fall through
    }
  }
  const child = spawn(req.argv[0] as string, req.argv.slice(1), {
    cwd: req.cwd,
    env: req.env,
    detached: true, // its own process group: abort signals the whole group, and it survives a server crash
    stdio: 'ignore',
  });
  const pid = await new Promise<number>((resolve, reject) => {
    child.once('spawn', () => resolve(child.pid as number));
    child.once('error', reject);
  });
  const exit = new Promise<ChildExit>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (c, s) => resolve({ code: c, signal: s }));
  });
  return { pid, exit };
}
