import { readFileSync } from 'node:fs';
import type net from 'node:net';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { RunnerError } from '../runner-error.js';
import type { SandboxKind } from '../instance-spec.js';
import { cgroupPool, type Cgroup } from './cgroup.js';
import type { Execution, ExitInfo, UsageSample } from './execution.js';
import { CLOCK_TICKS, isSameProcessAlive, killQuietly, PAGE_SIZE, processGroupMembers } from './proc.js';
import { closeAll, openFifoKeeper, openFifoReader } from './wrapper.js';
import { Launcher, MarkerSplitter, type Launched, type RawExit } from './launcher.js';

export interface HostStartOptions {
  readonly command: string;
  /** Where the supervisor keeps its log lanes (see {@link Launcher}). */
  readonly workRoot: string;
  readonly instanceDir: string;
  readonly workdir: string;
  readonly stateDir: string;
  readonly env: Readonly<Record<string, string>>;
  /** Path of `bwrap` to sandbox the command with, or undefined for a plain process group. */
  readonly bwrap: string | undefined;
  readonly network: boolean;
  readonly cgroup: Cgroup | undefined;
  /** The instance's state file, written before the command starts. */
  readonly stateJson: string;
  /** The instance dir already exists (resources were staged into it): keep its content. */
  readonly prepared: boolean;
  /** Delete the instance dir as soon as the command is over (nothing to upload). */
  readonly removeDirOnExit: boolean;
}

/**
 * Opens the FIFOs' read ends, plus our own write ends: Linux reports EOF (POLLHUP) on a FIFO only if a writer
 * connected after the reader opened, so a command that is over before it is watched still ends the stream once we
 * close ours (after its exit).
 */
export function openFifos(dir: string): { readers: [net.Socket, net.Socket]; keepers: number[] } {
  const readers: [net.Socket, net.Socket] = [openFifoReader(`${dir}/stdout`), openFifoReader(`${dir}/stderr`)];
  return { readers, keepers: [`${dir}/stdout`, `${dir}/stderr`].map(openFifoKeeper) };
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

/**
 * What a re-attaching server needs to find a host instance again: the supervisor writes it to `<state>/pid`. The
 * nonce and launch id name the end marker of the instance's output on its log lane.
 */
export interface HostProcessRecord {
  readonly pid: number;
  readonly startTicks: number;
  readonly nonce: string;
  readonly launchId: number;
  /** The lane (dir of the stdout and stderr FIFOs) that carries its output. */
  readonly laneDir: string;
}

export function readPidFile(stateDir: string): HostProcessRecord | undefined {
  let text = '';
  try {
    text = readFileSync(`${stateDir}/pid`, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^(\d+) (\d+) ([0-9a-f]+) (\d+) ([0-9a-f]*)\n$/.exec(text);
  if (!m) return undefined;
  return { pid: Number(m[1]), startTicks: Number(m[2]), nonce: m[3] as string, launchId: Number(m[4]), laneDir: Buffer.from(m[5] as string, 'hex').toString() };
}

/**
 * The host runtime: the command is the leader of a new process group (and session) in the working dir, started by
 * the {@link Launcher} supervisor, inside bubblewrap when available.
 */
export class HostExecution implements Execution {
  readonly runtime = 'host' as const;
  readonly sandbox: SandboxKind;
  readonly detail: string;
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly exited: Promise<ExitInfo>;
  readonly #pid: number;
  readonly #startTicks: number;
  readonly #stateDir: string;
  readonly #cgroup: Cgroup | undefined;
  /** Re-attached only: our FIFO readers and write ends (a fresh instance's belong to its lane). */
  readonly #fifos: { readers: [net.Socket, net.Socket]; keepers: number[] } | undefined;
  readonly #detach: (() => void) | undefined;
  #done = false;
  /** We sent the final SIGKILL (abort grace expired). */
  #killed = false;
  /** The supervisor deleted the instance dir after the exit. */
  #dirRemoved = false;
  /** The cgroups' final counts, as the supervisor read them after the exit. */
  #final: RawExit['usage'];

  private constructor(init: {
    pid: number;
    startTicks: number;
    stateDir: string;
    sandbox: SandboxKind;
    cgroup: Cgroup | undefined;
    streams: [Readable, Readable];
    exit: Promise<RawExit> | undefined;
    removeDirOnExit: boolean;
    fifos?: { readers: [net.Socket, net.Socket]; keepers: number[] };
    detach?: () => void;
  }) {
    this.#pid = init.pid;
    this.#startTicks = init.startTicks;
    this.#stateDir = init.stateDir;
    this.#cgroup = init.cgroup;
    this.#fifos = init.fifos;
    this.#detach = init.detach;
    this.sandbox = init.sandbox;
    this.detail =
      init.sandbox === 'bwrap'
        ? 'host runtime, sandboxed with bubblewrap (working dir writable, rest read-only)'
        : 'host runtime, plain process group (bubblewrap not available)';
    [this.stdout, this.stderr] = init.streams;
    this.exited = this.#watch(init.exit, init.removeDirOnExit);
    this.exited.finally(() => (this.#done = true)).catch(() => {});
  }

  static async start(o: HostStartOptions): Promise<HostExecution> {
    const argv = o.bwrap ? [o.bwrap, ...bwrapArgs(o.workdir, o.network), '--', '/bin/sh', '-c', o.command] : ['/bin/sh', '-c', o.command];
    let launched: Launched;
    try {
      launched = await Launcher.shared().launch({
        workRoot: o.workRoot,
        dir: o.instanceDir,
        workdir: o.workdir,
        stateJson: o.stateJson,
        cgroups: o.cgroup?.controllerDirs ?? [],
        prepared: o.prepared,
        removeDirOnExit: o.removeDirOnExit,
        argv,
        env: o.env,
      });
    } catch (e) {
      const message = (e as Error).message;
      if (/no space left on device|disk quota exceeded/i.test(message)) throw new RunnerError('DiskFull', `disk full: ${message}`, { cause: e });
      throw new RunnerError('RuntimeUnavailable', `cannot start the instance: ${message}`, { cause: e });
    }
    return new HostExecution({
      pid: launched.pid,
      startTicks: launched.startTicks,
      stateDir: o.stateDir,
      sandbox: o.bwrap ? 'bwrap' : 'none',
      cgroup: o.cgroup,
      streams: [launched.stdout, launched.stderr],
      exit: launched.exited,
      removeDirOnExit: o.removeDirOnExit,
      detach: () => launched.detach(),
    });
  }

  /**
   * Re-attaches to an instance a previous server process left: the output of one still running, until its end marker.
   * One that has ended gets no stream: its lane may carry a later instance's output by now.
   */
  static reattach(
    record: HostProcessRecord,
    init: { stateDir: string; sandbox: SandboxKind; cgroup: Cgroup | undefined; running: boolean },
  ): HostExecution {
    if (!init.running) {
      const streams = [Readable.from([]), Readable.from([])] as [Readable, Readable];
      return new HostExecution({ ...record, ...init, streams, exit: undefined, removeDirOnExit: false });
    }
    const fifos = openFifos(record.laneDir);
    const streams = fifos.readers.map((socket) => {
      const out = new Readable({ read() {} });
      let open = true;
      const end = (): void => {
        if (open) out.push(null);
        open = false;
      };
      const splitter = new MarkerSplitter(record.nonce, (data) => open && out.push(data), (id) => id === record.launchId && end());
      socket.on('data', (d: Buffer) => splitter.push(d));
      socket.on('error', () => {});
      socket.on('close', () => {
        splitter.flush();
        end();
      });
      return out;
    }) as [Readable, Readable];
    return new HostExecution({ ...record, ...init, streams, exit: undefined, removeDirOnExit: false, fifos });
  }

  /** True once the supervisor has deleted the instance dir (after the command's exit). */
  get dirRemoved(): boolean {
    return this.#dirRemoved;
  }

  async terminate(graceMs: number): Promise<void> {
    if (this.#done) return;
    // SIGTERM the command's processes, not bubblewrap (which would take the sandbox down with SIGKILL at once and
    // lose the command's own exit status). Processes that appear during the grace period (a command that was just
    // starting) are signalled too.
    const signalled = new Set<number>();
    const deadline = Date.now() + graceMs;
    while (!this.#done && Date.now() < deadline) {
      for (const p of await processGroupMembers(this.#pid)) {
        if (p.comm !== 'bwrap' && !signalled.has(p.pid)) {
          signalled.add(p.pid);
          killQuietly(p.pid, 'SIGTERM');
        }
      }
      await Promise.race([this.exited, sleep(Math.min(100, Math.max(0, deadline - Date.now())), undefined, { ref: false })]);
    }
    if (!this.#done) {
      this.#killed = true;
      killQuietly(-this.#pid, 'SIGKILL');
    }
    await this.exited;
  }

  async sample(): Promise<UsageSample | undefined> {
    if (this.#final) return { memoryBytes: 0, peakMemoryBytes: this.#final.peakMemoryBytes, cpuTimeSec: this.#final.cpuTimeNs / 1e9 };
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

  detach(): void {
    this.#detach?.();
  }

  dispose(): Promise<void> {
    if (!this.#done) killQuietly(-this.#pid, 'SIGKILL');
    if (this.#fifos) {
      closeAll(this.#fifos.keepers);
      for (const r of this.#fifos.readers) r.destroy();
    }
    this.stdout.destroy();
    this.stderr.destroy();
    if (this.#cgroup) cgroupPool.release(this.#cgroup, this.#final?.cgroupEmpty);
    return Promise.resolve();
  }

  async #watch(exit: Promise<RawExit> | undefined, removeDirOnExit: boolean): Promise<ExitInfo> {
    if (exit) {
      try {
        const { code, signal, usage } = await exit;
        this.#dirRemoved = removeDirOnExit;
        this.#final = usage;
        const oomKilled = usage ? usage.oomKilled : (this.#cgroup?.oomKilled() ?? false);
        // Our own SIGKILL at the end of an abort's grace period; any other signal is reported as a shell would.
        if (code === null && this.#killed && signal === 9) return { exitCode: null, signal: 'SIGKILL', oomKilled, lost: false };
        return { exitCode: code ?? 128 + signal, signal: null, oomKilled, lost: false };
      } catch {
        // the supervisor died: watch the pid instead; the exit status is lost with it
      }
    }
    // Not reaped by a supervisor we talk to (re-attached, or ours died): watch the pid. The only poll, and only then.
    while (isSameProcessAlive(this.#pid, this.#startTicks)) await sleep(250);
    killQuietly(-this.#pid, 'SIGKILL'); // leftover background processes of the command end with it
    if (this.#fifos) closeAll(this.#fifos.keepers);
    await drain([this.stdout, this.stderr], 5000);
    const exitCode = readExitFile(this.#stateDir);
    const oomKilled = this.#cgroup?.oomKilled() ?? false;
    return { exitCode, signal: exitCode === null && this.#killed ? 'SIGKILL' : null, oomKilled, lost: exitCode === null && !this.#killed };
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

function endOf(s: Readable): Promise<void> {
  return new Promise((resolve) => {
    if (s.readableEnded || s.destroyed) resolve();
    else {
      s.once('end', resolve);
      s.once('close', resolve);
    }
  });
}

export async function drain(streams: Readable[], timeoutMs: number): Promise<void> {
  const all = Promise.all(streams.map(endOf));
  await Promise.race([all, sleep(timeoutMs, undefined, { ref: false })]);
  for (const s of streams) s.destroy();
}
