import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { assertNever } from '@hearth/core';
import { Cgroup } from './internal/cgroup.js';
import { docker, DockerExecution } from './internal/docker-execution.js';
import type { Execution } from './internal/execution.js';
import { HostExecution, readExitFile, readPidFile } from './internal/host-execution.js';
import { isSameProcessAlive } from './internal/proc.js';
import { RunningInstance, type InstanceStateFile, type RunnerOptions } from './running-instance.js';

/** `running`: still executing; `exited`: ended while the server was away (exit status known); `lost`: gone without one. */
export type LeftoverStatus = 'running' | 'exited' | 'lost';

export interface LeftoverInstance {
  readonly taskUuid: string;
  readonly instanceId: number;
  readonly status: LeftoverStatus;
  readonly state: InstanceStateFile;
}

/**
 * Finds the instances a previous server process left in a work root (every instance dir with a state file: the runner
 * deletes the dir when an instance completes normally). Call it at start-up, before starting new instances.
 */
export async function findLeftoverInstances(workRoot: string, options: Pick<RunnerOptions, 'docker'> = {}): Promise<LeftoverInstance[]> {
  const out: LeftoverInstance[] = [];
  const tasks = await readdir(workRoot, { withFileTypes: true }).catch(() => []);
  for (const t of tasks) {
    if (!t.isDirectory() || t.name.startsWith('.')) continue;
    const instances = await readdir(path.join(workRoot, t.name)).catch(() => [] as string[]);
    for (const i of instances) {
      const stateDir = path.join(workRoot, t.name, i, 'state');
      let state: InstanceStateFile;
      try {
        state = JSON.parse(await readFile(path.join(stateDir, 'instance.json'), 'utf8')) as InstanceStateFile;
      } catch {
        continue; // never started a command: nothing to recover
      }
      if (state.runtime === 'host') state = { ...state, host: { cgroup: state.host?.cgroup ?? null, ...readPidFile(stateDir) } };
      out.push({ taskUuid: state.spec.taskUuid, instanceId: state.spec.instanceId, status: await statusOf(state, stateDir, options), state });
    }
  }
  return out;
}

async function statusOf(state: InstanceStateFile, stateDir: string, options: Pick<RunnerOptions, 'docker'>): Promise<LeftoverStatus> {
  switch (state.runtime) {
    case 'host': {
      const h = state.host;
      if (h?.pid && isSameProcessAlive(h.pid, h.startTicks ?? -1)) return 'running';
      return readExitFile(stateDir) === null ? 'lost' : 'exited';
    }
    case 'docker': {
      const d = state.docker;
      if (!d) return 'lost';
      const r = await docker(options.docker, ['inspect', '--format', '{{.State.Running}}', d.containerId]);
      if (r.code !== 0) return readExitFile(stateDir) === null ? 'lost' : 'exited';
      return r.stdout.trim() === 'true' ? 'running' : 'exited';
    }
    default:
      return assertNever(state.runtime);
  }
}

/**
 * Re-attaches to a leftover instance: follows its logs from now on, waits for its end, uploads its results and
 * settles `result` like a fresh instance. An `exited` or `lost` one settles at once (with its exit status, or the
 * `Lost` error).
 */
export function reattachInstance(leftover: LeftoverInstance, options: RunnerOptions = {}): RunningInstance {
  const { state } = leftover;
  const stateDir = path.join(state.spec.workRoot, state.spec.taskUuid, String(state.spec.instanceId), 'state');
  let execution: Execution;
  switch (state.runtime) {
    case 'host': {
      const h = state.host;
      const record = { pid: h?.pid ?? 0, startTicks: h?.startTicks ?? -1, nonce: h?.nonce ?? '', launchId: h?.launchId ?? -1, laneDir: h?.laneDir ?? stateDir };
      execution = HostExecution.reattach(record, {
        stateDir,
        sandbox: state.sandbox,
        cgroup: h?.cgroup ? Cgroup.existing(h.cgroup) : undefined,
        running: leftover.status === 'running',
      });
      break;
    }
    case 'docker':
      execution = DockerExecution.reattach(state.docker ?? { containerId: 'missing' }, {
        image: state.docker?.image ?? '',
        stateDir,
        client: options.docker,
      });
      break;
    default:
      return assertNever(state.runtime);
  }
  return new RunningInstance(state.spec, options, { state, execution });
}
