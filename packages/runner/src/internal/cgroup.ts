import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
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
  /** OOM kills counted before this use (the counter cannot be reset when a pooled group is reused). */
  #oomBase = 0;
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
      await cg.prepare(limits);
    } catch {
      await cg.remove();
      return undefined;
    }
    return cg;
  }

  /** Sets the limits of this use and resets the counters (groups are reused from a pool). */
  async prepare(limits: CgroupLimits): Promise<void> {
    const key = `${limits.memoryBytes ?? ''}|${limits.cores ?? ''}|${limits.pids ?? ''}`;
    if (key !== this.#applied) {
      this.#applied = undefined;
      await this.#write('memory', 'memory.limit_in_bytes', limits.memoryBytes ? String(Math.floor(limits.memoryBytes)) : '-1');
      if (this.#paths.has('cpu')) {
        await this.#write('cpu', 'cpu.cfs_period_us', '100000');
        await this.#write('cpu', 'cpu.cfs_quota_us', limits.cores ? String(Math.max(1000, Math.round(limits.cores * 100000))) : '-1');
      }
      await this.#write('pids', 'pids.max', limits.pids ? String(limits.pids) : 'max');
      this.#applied = key;
    }
    await Promise.all([
      this.#write('memory', 'memory.max_usage_in_bytes', '0'),
      this.#write('memory', 'memory.failcnt', '0'),
      this.#write('cpuacct', 'cpuacct.usage', '0'),
    ]);
    this.#oomBase = await this.#oomKills();
  }

  /** True when no process is left in the group (it can be reused or removed). */
  async isEmpty(): Promise<boolean> {
    const p = this.#paths.get('memory');
    if (!p) return true;
    return (await readFile(`${p}/cgroup.procs`, 'utf8').catch(() => '')).trim() === '';
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

  /** `cgroup.procs` files the wrapper writes its pid to. */
  get procsFiles(): string[] {
    return [...this.#paths.values()].map((p) => `${p}/cgroup.procs`);
  }

  async memoryBytes(): Promise<number> {
    return this.#readNumber('memory', 'memory.usage_in_bytes');
  }

  async peakMemoryBytes(): Promise<number> {
    return this.#readNumber('memory', 'memory.max_usage_in_bytes');
  }

  async cpuTimeNs(): Promise<number> {
    return this.#readNumber('cpuacct', 'cpuacct.usage');
  }

  /** True when the kernel OOM-killed a process in this group. */
  async oomKilled(): Promise<boolean> {
    const kills = await this.#oomKills();
    if (kills >= 0) return kills > this.#oomBase;
    return (await this.#readNumber('memory', 'memory.failcnt')) > 0;
  }

  async #oomKills(): Promise<number> {
    const p = this.#paths.get('memory');
    if (!p) return -1;
    const text = await readFile(`${p}/memory.oom_control`, 'utf8').catch(() => '');
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

  async #write(c: Controller, file: string, value: string): Promise<void> {
    const p = this.#paths.get(c);
    if (p) await writeFile(`${p}/${file}`, value);
  }

  async #readNumber(c: Controller, file: string): Promise<number> {
    const p = this.#paths.get(c);
    if (!p) return 0;
    const n = Number((await readFile(`${p}/${file}`, 'utf8').catch(() => '0')).trim());
    return Number.isFinite(n) ? n : 0;
  }
}

/** Reads a docker container's cgroup v1 figures (cgroupfs driver: `/sys/fs/cgroup/<c>/docker/<id>`). */
export async function readDockerCgroup(containerId: string): Promise<{ memory: number; peak: number; cpuNs: number } | undefined> {
  const read = async (c: string, f: string): Promise<number | undefined> => {
    try {
      return Number((await readFile(`${ROOT}/${c}/docker/${containerId}/${f}`, 'utf8')).trim());
    } catch {
      return undefined;
    }
  };
  const memory = await read('memory', 'memory.usage_in_bytes');
  if (memory === undefined) return undefined;
  return {
    memory,
    peak: (await read('memory', 'memory.max_usage_in_bytes')) ?? memory,
    cpuNs: (await read('cpuacct', 'cpuacct.usage')) ?? 0,
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
        await reused.prepare(limits);
        return reused;
      } catch {
        void reused.remove();
      }
    }
    const cg = await Cgroup.create(`p${process.pid}-${this.#seq++}`, limits);
    if (!cg) this.#unavailable = true; // not writable here: don't retry for every instance
    return cg;
  }

  /** Gives a group back; one with processes still in it is removed in the background instead. */
  async release(cg: Cgroup): Promise<void> {
    if (this.#free.length < 256 && (await cg.isEmpty())) this.#free.push(cg);
    else void cg.remove();
  }
}

export const cgroupPool = new CgroupPool();
