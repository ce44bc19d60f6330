import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { constants } from 'node:os';

/** Fields of /proc/<pid>/stat we need. The command name may contain spaces and parentheses: split after the last `)`. */
export interface ProcStat {
  readonly pid: number;
  readonly comm: string;
  /** R, S, D, Z (zombie), ... */
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
  readonly utimeTicks: number;
  readonly stimeTicks: number;
  /** Start time in clock ticks since boot: with the pid it identifies a process across pid reuse. */
  readonly startTicks: number;
  readonly rssPages: number;
}

export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8'); // procfs: synchronous is cheaper than a thread-pool hop
  } catch {
    return undefined;
  }
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const f = text.slice(close + 2).split(' ');
  // f[0] is field 3 (state): field n is f[n - 3].
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: f[0] ?? '?',
    ppid: Number(f[1]),
    pgrp: Number(f[2]),
    utimeTicks: Number(f[11]),
    stimeTicks: Number(f[12]),
    startTicks: Number(f[19]),
    rssPages: Number(f[21]),
  };
}

/** Every live process of a process group (a /proc scan: used for abort and for samples without cgroups). */
export async function processGroupMembers(pgid: number): Promise<ProcStat[]> {
  const names = await readdir('/proc').catch(() => [] as string[]);
  const out: ProcStat[] = [];
  for (const n of names) {
    if (!/^[0-9]+$/.test(n)) continue;
    const st = readProcStat(Number(n));
    if (st && st.pgrp === pgid) out.push(st);
  }
  return out;
}

export function killQuietly(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** `true` when a process with this pid and start time is alive (not reused, not a zombie we can see). */
export function isSameProcessAlive(pid: number, startTicks: number): boolean {
  const st = readProcStat(pid);
  return st !== undefined && st.startTicks === startTicks && st.state !== 'Z' && st.state !== 'X';
}

/** Name of the signal a shell reports as exit status 128+n, if any. */
export function signalFromShellStatus(status: number): NodeJS.Signals | undefined {
  if (status <= 128 || status > 128 + 64) return undefined;
  const n = status - 128;
  for (const [name, value] of Object.entries(constants.signals)) if (value === n) return name as NodeJS.Signals;
  return undefined;
}

export const CLOCK_TICKS = 100;
export const PAGE_SIZE = 4096;
