import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { RunnerError } from '../runner-error.js';
import { readDockerCgroup } from './cgroup.js';
import type { Execution, ExitInfo, UsageSample } from './execution.js';
import { drain, openFifos, readExitFile } from './host-execution.js';
import { fifoPool } from './fifo-pool.js';
import { closeAll, WRAPPER_SCRIPT } from './wrapper.js';

export interface DockerClientOptions {
  /** `DOCKER_HOST` for the engine. @default the server's `DOCKER_HOST`, else the docker default socket */
  readonly host?: string;
  /** Docker CLI binary. @default 'docker' */
  readonly bin?: string;
}

export function dockerEnv(o: DockerClientOptions | undefined, extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin', ...extra };
  const host = o?.host ?? process.env['DOCKER_HOST'];
  if (host) env['DOCKER_HOST'] = host;
  return env;
}

export function docker(
  o: DockerClientOptions | undefined,
  args: readonly string[],
  options: { env?: Readonly<Record<string, string>>; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      o?.bin ?? 'docker',
      args,
      { env: dockerEnv(o, options.env), timeout: options.timeoutMs ?? 0, maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err && !stdout ? err.message : '') });
      },
    );
  });
}

export interface DockerStartOptions {
  readonly taskUuid: string;
  readonly instanceId: number;
  readonly image: string;
  readonly command: string;
  readonly instanceDir: string;
  readonly workdir: string;
  readonly stateDir: string;
  readonly env: Readonly<Record<string, string>>;
  readonly network: boolean;
  readonly memoryMB?: number | null | undefined;
  readonly cores?: number | null | undefined;
  readonly pids?: number | null | undefined;
  readonly client?: DockerClientOptions | undefined;
  readonly fifoRoot: string;
}

export interface DockerRecord {
  readonly containerId: string;
}

export function containerName(taskUuid: string, instanceId: number): string {
  return `hearth-${taskUuid}-${instanceId}`.replace(/[^a-zA-Z0-9_.-]/g, '_');
}

/** The docker runtime: the same wrapper as pid 1 of a container, the instance dir bind-mounted at the same path. */
export class DockerExecution implements Execution {
  readonly runtime = 'docker' as const;
  readonly sandbox = 'docker' as const;
  readonly detail: string;
  readonly stdout: net.Socket;
  readonly stderr: net.Socket;
  readonly exited: Promise<ExitInfo>;
  readonly record: DockerRecord;
  readonly #client: DockerClientOptions | undefined;
  readonly #stateDir: string;
  readonly #keepers: number[];
  #done = false;

  private constructor(init: { containerId: string; image: string; stateDir: string; client: DockerClientOptions | undefined; readers: [net.Socket, net.Socket]; keepers: number[] }) {
    this.record = { containerId: init.containerId };
    this.detail = `docker runtime, container ${init.containerId.slice(0, 12)} of image ${init.image}`;
    this.#client = init.client;
    this.#stateDir = init.stateDir;
    [this.stdout, this.stderr] = init.readers;
    this.#keepers = init.keepers;
    this.exited = this.#watch();
    this.exited.finally(() => (this.#done = true)).catch(() => {});
  }

  static async start(o: DockerStartOptions): Promise<DockerExecution> {
    const inspect = await docker(o.client, ['image', 'inspect', '--format', '{{.Id}}', o.image]);
    if (inspect.code !== 0) {
      if (/no such image/i.test(inspect.stderr)) throw new RunnerError('MissingImage', `docker image ${o.image} does not exist on this node (no registry pull is attempted)`);
      throw new RunnerError('RuntimeUnavailable', `docker engine did not answer: ${inspect.stderr.trim()}`);
    }
    await fifoPool(o.fifoRoot).place(o.stateDir);
    // Our own write ends keep the readers from seeing EOF until the container is over (see openFifos).
    const { readers, keepers } = openFifos(o.stateDir);
    const name = containerName(o.taskUuid, o.instanceId);
    await docker(o.client, ['rm', '-f', name]); // a leftover of an earlier attempt
    const args = [
      'run', '-d', '--name', name,
      '--label', `hearth.task=${o.taskUuid}`,
      '--label', `hearth.instance=${o.instanceId}`,
      '--label', `hearth.dir=${o.instanceDir}`,
      '--log-driver', 'none', // logs flow through the FIFOs, never into the engine's json files
      '-v', `${o.instanceDir}:${o.instanceDir}`,
      '-w', o.workdir,
      '--network', o.network ? 'host' : 'none',
      '--pids-limit', String(o.pids ?? 4096),
      ...(o.memoryMB ? ['--memory', `${Math.floor(o.memoryMB)}m`, '--memory-swap', `${Math.floor(o.memoryMB)}m`] : []),
      ...(o.cores ? ['--cpus', String(o.cores)] : []),
      // `-e NAME` takes the value from the client's environment: values never appear on a command line.
      ...Object.keys(o.env).flatMap((k) => ['-e', k]),
      '--entrypoint', '/bin/sh',
      o.image,
      '-c', WRAPPER_SCRIPT, 'hearth-instance', o.stateDir, '/bin/sh', '-c', o.command,
    ];
    const run = await docker(o.client, args, { env: o.env });
    if (run.code !== 0) {
      for (const r of readers) r.destroy();
      closeAll(keepers);
      const msg = run.stderr.trim();
      if (/executable file not found|no such file or directory/i.test(msg)) throw new RunnerError('MissingCommand', `docker could not start /bin/sh in ${o.image}: ${msg}`);
      throw new RunnerError('RuntimeUnavailable', `docker run failed: ${msg}`);
    }
    return new DockerExecution({ containerId: run.stdout.trim(), image: o.image, stateDir: o.stateDir, client: o.client, readers, keepers });
  }

  /** Re-attaches to a container left running by a previous server process. */
  static reattach(record: DockerRecord, init: { image: string; stateDir: string; client: DockerClientOptions | undefined }): DockerExecution {
    return new DockerExecution({ containerId: record.containerId, ...init, ...openFifos(init.stateDir) });
  }

  async terminate(graceMs: number): Promise<void> {
    if (this.#done) return;
    // The wrapper is pid 1: it forwards SIGTERM to every process of the container.
    await docker(this.#client, ['kill', '--signal', 'TERM', this.record.containerId]);
    const timer = sleep(graceMs, 'grace' as const, { ref: false });
    if ((await Promise.race([this.exited.then(() => 'exited' as const), timer])) === 'grace') {
      await docker(this.#client, ['kill', this.record.containerId]);
    }
    await this.exited;
  }

  sample(): Promise<UsageSample | undefined> {
    const cg = this.#done ? undefined : readDockerCgroup(this.record.containerId);
    return Promise.resolve(cg && { memoryBytes: cg.memory, peakMemoryBytes: cg.peak, cpuTimeSec: cg.cpuNs / 1e9 });
  }

  detach(): void {
    // The container runs on by itself; a re-attaching server finds it by its labels.
  }

  async dispose(): Promise<void> {
    this.#closeKeepers();
    this.stdout.destroy();
    this.stderr.destroy();
    await docker(this.#client, ['rm', '-f', this.record.containerId]);
  }

  #closeKeepers(): void {
    closeAll(this.#keepers);
  }

  async #watch(): Promise<ExitInfo> {
    const id = this.record.containerId;
    let code: number | null = null;
    for (;;) {
      const waited = await new Promise<{ code: number; out: string }>((resolve) => {
        const p = spawn(this.#client?.bin ?? 'docker', ['wait', id], { env: dockerEnv(this.#client), stdio: ['ignore', 'pipe', 'ignore'] });
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        p.on('error', () => resolve({ code: -1, out }));
        p.on('close', (c) => resolve({ code: c ?? -1, out }));
      });
      if (waited.code === 0 && /^\d+/.test(waited.out.trim())) {
        code = Number(waited.out.trim());
        break;
      }
      // `docker wait` failed: the container is gone, or the engine restarted. Ask once more, then give up.
      const st = await docker(this.#client, ['inspect', '--format', '{{.State.Running}}', id]);
      if (st.code !== 0 || st.stdout.trim() !== 'true') break;
      await sleep(500);
    }
    this.#closeKeepers();
    await drain([this.stdout, this.stderr], 5000);
    const state = await docker(this.#client, ['inspect', '--format', '{{.State.OOMKilled}} {{.State.ExitCode}}', id]);
    const [oom, inspected] = state.stdout.trim().split(' ');
    const fromFile = readExitFile(this.#stateDir);
    const exitCode = fromFile ?? code ?? (inspected !== undefined && /^\d+$/.test(inspected) ? Number(inspected) : null);
    // The engine's OOMKilled flag misses kills of a process other than the container's pid 1; the wrapper's count does not.
    const oomCount = Number((await readFile(`${this.#stateDir}/oom`, 'utf8').catch(() => '0')).trim());
    return { exitCode, signal: null, oomKilled: oom === 'true' || oomCount > 0, lost: exitCode === null };
  }
}

/** True when a docker engine answers (the `auto` runtime's test). */
export async function dockerAnswers(client: DockerClientOptions | undefined): Promise<boolean> {
  const r = await docker(client, ['version', '--format', '{{.Server.Version}}'], { timeoutMs: 5000 });
  return r.code === 0 && r.stdout.trim() !== '';
}
