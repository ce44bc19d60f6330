import { mkdir, rmdir } from 'node:fs/promises';
import { readFileSync, writeFileSync } from 'node:fs';

// cgroupfs and procfs files are kernel memory, never disk: synchronous reads and writes cost microseconds, less than a
// thread-pool round trip.
const readText = (file: string): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
};
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = '/sys/fs/cgroup';
type Controller = 'memory' | 'cpu' | 'cpuacct' | 'pids';
const CONTROLLERS: readonly Controller[] = ['memory', 'cpu', 'cpuacct', 'pids'];

let ownPaths: Map<string, string> | undefined;

/** The server's own cgroup per v1 controller: instance cgroups nest under it, so they count towards its limits. */
function ownCgroupPath(controller: Controller): string | undefined {
  if (!ownPaths) {
    ownPaths = new Map();
    try {
      for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
        const [, names, p] = line.split(':');
        if (!names || p === undefined) continue;
        for (const n of names.split(',')) ownPaths.set(n, p);
      }
    } catch {
      // not Linux, or no /proc: no cgroups
    }
  }
  return ownPaths.get(controller);
}

export interface CgroupLimits {
  readonly memoryBytes?: number | null;
  readonly cores?: number | null;
  readonly pids?: number | null;
}

/**
 * One instance's cgroup v1 groups (memory, cpu, cpuacct, pids). Created before the command starts; the wrapper
 * moves itself in, so every descendant is accounted and limited.
 */
export class Cgroup {
  readonly #paths: Map<Controller, string>;
  readonly name: string;
  /** Limits currently written, so a reused group with the same limits skips those writes. */
  #applied: string | undefined;

  private constructor(name: string, paths: Map<Controller, string>) {
    this.name = name;
    this.#paths = paths;
  }

  /** Creates the groups, or returns undefined when cgroup v1 is not writable here (then the host runtime has no limits). */
  static async create(name: string, limits: CgroupLimits): Promise<Cgroup | undefined> {
    const paths = new Map<Controller, string>();
    try {
      for (const c of CONTROLLERS) {
        const own = ownCgroupPath(c);
        if (own === undefined) continue;
        const p = `${ROOT}/${c}${own === '/' ? '' : own}/hearth/${name}`;
        await mkdir(p, { recursive: true });
        paths.set(c, p);
      }
    } catch {
      await new Cgroup(name, paths).remove();
      return undefined;
    }
    if (!paths.has('memory')) {
      await new Cgroup(name, paths).remove();
      return undefined;
    }
    const cg = new Cgroup(name, paths);
    try {
      cg.prepare(limits);
    } catch {
      await cg.remove();
      return undefined;
    }
    return cg;
  }

  /**
   * Sets the limits of this use (groups are reused from a pool). The supervisor that starts the command resets the
   * counters.
   */
  prepare(limits: CgroupLimits): void {
    const key = `${limits.memoryBytes ?? ''}|${limits.cores ?? ''}|${limits.pids ?? ''}`;
    if (key !== this.#applied) {
      this.#applied = undefined;
      this.#write('memory', 'memory.limit_in_bytes', limits.memoryBytes ? String(Math.floor(limits.memoryBytes)) : '-1');
      if (this.#paths.has('cpu')) {
        this.#write('cpu', 'cpu.cfs_period_us', '100000');
        this.#write('cpu', 'cpu.cfs_quota_us', limits.cores ? String(Math.max(1000, Math.round(limits.cores * 100000))) : '-1');
      }
      this.#write('pids', 'pids.max', limits.pids ? String(limits.pids) : 'max');
      this.#applied = key;
    }
  }

  /** True when no process is left in the group (it can be reused or removed). */
  isEmpty(): boolean {
    const p = this.#paths.get('memory');
    if (!p) return true;
    return readText(`${p}/cgroup.procs`).trim() === '';
  }

  /** The groups of an instance created earlier (re-attach after a restart); undefined when none exist. */
  static existing(name: string): Cgroup {
    const paths = new Map<Controller, string>();
    for (const c of CONTROLLERS) {
      const own = ownCgroupPath(c);
      if (own !== undefined) paths.set(c, `${ROOT}/${c}${own === '/' ? '' : own}/hearth/${name}`);
    }
    return new Cgroup(name, paths);
  }

  /** `controller:dir` of each group, for the supervisor that moves the command in and reads its counters. */
  get controllerDirs(): string[] {
    return [...this.#paths].map(([c, p]) => `${c}:${p}`);
  }

  memoryBytes(): number {
    return this.#readNumber('memory', 'memory.usage_in_bytes');
  }

  peakMemoryBytes(): number {
    return this.#readNumber('memory', 'memory.max_usage_in_bytes');
  }

  cpuTimeNs(): number {
    return this.#readNumber('cpuacct', 'cpuacct.usage');
  }

  /**
   * True when the kernel OOM-killed a process in this group, ever: only for a server that re-attached (a fresh
   * instance's supervisor counts the kills of that instance alone).
   */
  oomKilled(): boolean {
    const kills = this.#oomKills();
    if (kills >= 0) return kills > 0;
    return this.#readNumber('memory', 'memory.failcnt') > 0;
  }

  #oomKills(): number {
    const p = this.#paths.get('memory');
    if (!p) return -1;
    const text = readText(`${p}/memory.oom_control`);
    const m = /oom_kill (\d+)/.exec(text);
    return m ? Number(m[1]) : -1;
  }

  /** Removes the groups; they must be empty, so retry briefly while the last processes are reaped. */
  async remove(): Promise<void> {
    for (const p of this.#paths.values()) {
      for (let i = 0; i < 40; i++) {
        try {
          await rmdir(p);
          break;
        } catch (e) {
          if ((e as { code?: string }).code === 'ENOENT') break;
          await sleep(25);
        }
      }
    }
  }

  #write(c: Controller, file: string, value: string): void {
    const p = this.#paths.get(c);
    if (p) writeFileSync(`${p}/${file}`, value);
  }

  #readNumber(c: Controller, file: string): number {
    const p = this.#paths.get(c);
    if (!p) return 0;
    const n = Number(readText(`${p}/${file}`).trim() || '0');
    return Number.isFinite(n) ? n : 0;
  }
}

/** Reads a docker container's cgroup v1 figures (cgroupfs driver: `/sys/fs/cgroup/<c>/docker/<id>`). */
export function readDockerCgroup(containerId: string): { memory: number; peak: number; cpuNs: number } | undefined {
  const read = (c: string, f: string): number | undefined => {
    try {
      const text = readText(`${ROOT}/${c}/docker/${containerId}/${f}`).trim();
      return text === '' ? undefined : Number(text);
    } catch {
      return undefined;
    }
  };
  const memory = read('memory', 'memory.usage_in_bytes');
  if (memory === undefined) return undefined;
  return {
    memory,
    peak: read('memory', 'memory.max_usage_in_bytes') ?? memory,
    cpuNs: read('cpuacct', 'cpuacct.usage') ?? 0,
  };
}

/**
 * Creating and removing memory cgroups costs milliseconds each on v1: groups are kept and reused, reset for each
 * instance. Names are unique per server process, so a restarted server never reuses a group a leftover instance is in.
 */
export class CgroupPool {
  readonly #free: Cgroup[] = [];
  #seq = 0;
  #unavailable = false;

  async acquire(limits: CgroupLimits): Promise<Cgroup | undefined> {
    if (this.#unavailable) return undefined;
    const reused = this.#free.pop();
    if (reused) {
      try {
        reused.prepare(limits);
        return reused;
      } catch {
        void reused.remove();
      }
    }
    const cg = await Cgroup.create(`p${process.pid}-${this.#seq++}`, limits);
    if (!cg) this.#unavailable = true; // not writable here: don't retry for every instance
    return cg;
  }

  /**
   * Gives a group back; one with processes still in it is removed in the background instead. `empty`: the supervisor
   * already looked.
   */
  release(cg: Cgroup, empty?: boolean): void {
    if (this.#free.length < 256 && (empty ?? cg.isEmpty())) this.#free.push(cg);
    else void cg.remove();
  }
}

export const cgroupPool = new CgroupPool();
