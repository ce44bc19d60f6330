import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { FsBlobStore, type BlobStore, type ObjectRef } from '@hearth/storage';
import type { InstanceSpec } from '../instance-spec.js';
import type { RunnerEvent } from '../runner-events.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** Runs a repo script (bwrap-install.sh, docker-up.sh, ...) and returns its KEY=VALUE stdout lines. */
export function runScript(name: string, env: NodeJS.ProcessEnv = {}): Record<string, string> {
  const out = execFileSync('bash', [path.join(REPO_ROOT, 'scripts', name)], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 300_000,
  });
  const vars: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (m?.[1] && m[2] !== undefined) vars[m[1]] = m[2];
  }
  return vars;
}

export async function tempDir(prefix = 'hearth-runner-'): Promise<{ path: string; [Symbol.asyncDispose](): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { path: dir, [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }) };
}

export function makeSpec(workRoot: string, overrides: Partial<InstanceSpec> = {}): InstanceSpec {
  const command = overrides.command ?? 'true';
  return {
    taskUuid: randomUUID(),
    taskName: 'test-task',
    instanceId: 0,
    instanceCount: 1,
    owner: 'alice@example.com',
    constants: { DOCKER_CMD: command },
    command,
    runtime: 'host',
    workRoot,
    ...overrides,
  };
}

/** Collects runner events; logs are concatenated per stream. */
export class EventLog {
  readonly events: RunnerEvent[] = [];
  stdout = '';
  stderr = '';
  readonly onEvent = (e: RunnerEvent): void => {
    if (e.type === 'log') {
      if (e.stream === 'stdout') this.stdout += e.data.toString();
      else this.stderr += e.data.toString();
      return;
    }
    this.events.push(e);
  };

  of<T extends RunnerEvent['type']>(type: T): Extract<RunnerEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<RunnerEvent, { type: T }> => e.type === type);
  }
}

/** A real FsBlobStore that also counts the objects read from it (the cache test needs the number of GETs). */
export class CountingStore extends FsBlobStore implements BlobStore {
  reads = 0;
  override async read(ref: ObjectRef, options?: { signal?: AbortSignal }): Promise<Readable> {
    this.reads++;
    return super.read(ref, options);
  }
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
