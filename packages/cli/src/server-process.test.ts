import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runHearth, startServerProcess, type ServerProcess } from './test-support/server-process.js';

const dirs: string[] = [];
const procs: ServerProcess[] = [];
function tempDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'hearth-cli-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const p of procs.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await p.exited;
  }
  // Instances a killed server left behind may still be finishing in the data dir: retry while it empties.
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
});

async function start(args: string[]): Promise<ServerProcess> {
  const p = await startServerProcess(args);
  procs.push(p);
  return p;
}

describe('hearth server', () => {
  it('prints the API URL, storage URL, email and token, and keeps the generated token across restarts', async () => {
    const dir = tempDir();
    const first = await start(['--data-dir', dir]);
    const out = first.output();
    expect(out).toMatch(/Hearth storage:/);
    expect(out).toMatch(/User email:\s+user@hearth\.local/);
    const token = /User token:\s+(\S+)/.exec(out)![1]!;
    const info = await fetch(`${first.apiUrl}/info`, { headers: { authorization: token } });
    expect(info.status).toBe(200);
    expect(((await info.json()) as { email: string }).email).toBe('user@hearth.local');
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.output()).toMatch(/shutting down/);

    const second = await start(['--data-dir', dir]);
    expect(/User token:\s+(\S+)/.exec(second.output())![1]).toBe(token);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
  });

  it('sets the default user credentials from --email and --token', async () => {
    const dir = tempDir();
    const s = await start(['--data-dir', dir, '--email', 'ops@example.com', '--token', 'tok-1']);
    const r = await fetch(`${s.apiUrl}/info`, { headers: { authorization: 'tok-1' } });
    expect(((await r.json()) as { email: string }).email).toBe('ops@example.com');
  });

  it('refuses bad flags with a clear message', async () => {
    const bad = runHearth(['server', '--port', 'eighty']);
    expect(await bad.exited).not.toBe(0);
    expect(bad.output()).toMatch(/port/);
  });

  it('keeps every acknowledged task after a SIGKILL in the middle of a burst of POST /tasks', async () => {
    const dir = tempDir();
    const s = await start(['--data-dir', dir, '--token', 'burst']);
    const acknowledged = new Map<string, string>();
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const name = `burst-${w}-${i}`;
        try {
          const r = await fetch(`${s.apiUrl}/tasks`, {
            method: 'POST',
            headers: { authorization: 'burst', 'content-type': 'application/json' },
            body: JSON.stringify({ name, profile: 'docker-batch', instanceCount: 1, tags: [name] }),
          });
          if (r.status === 201) acknowledged.set(((await r.json()) as { uuid: string }).uuid, name);
        } catch {
          return; // the server is gone: this request was never acknowledged
        }
      }
    };
    const workers = Array.from({ length: 8 }, (_, w) => worker(w));
    while (acknowledged.size < 200) await new Promise((r) => setTimeout(r, 10));
    s.child.kill('SIGKILL');
    await s.exited;
    stop = true;
    await Promise.all(workers);

    const again = await start(['--data-dir', dir]);
    for (const [uuid, name] of acknowledged) {
      const r = await fetch(`${again.apiUrl}/tasks/${uuid}`, { headers: { authorization: 'burst' } });
      expect(r.status, `task ${uuid} (${name})`).toBe(200);
      const task = (await r.json()) as { name: string; tags: string[]; state: string };
      expect(task).toMatchObject({ name, tags: [name] });
    }
  });
});

describe('hearth user', () => {
  it('creates, lists and deletes users, also while a server runs on the data dir', async () => {
    const dir = tempDir();
    const s = await start(['--data-dir', dir]);
    const create = runHearth(['user', 'create', '--data-dir', dir, '--email', 'bob@example.com']);
    expect(await create.exited).toBe(0);
    const token = create.output().trim();
    expect(token.length).toBeGreaterThan(10);
    // The running server sees the new user at once.
    const info = await fetch(`${s.apiUrl}/info`, { headers: { authorization: token } });
    expect(((await info.json()) as { email: string }).email).toBe('bob@example.com');

    const dup = runHearth(['user', 'create', '--data-dir', dir, '--email', 'bob@example.com']);
    expect(await dup.exited).toBe(1);
    expect(dup.output()).toMatch(/already exists/);

    const list = runHearth(['user', 'list', '--data-dir', dir]);
    expect(await list.exited).toBe(0);
    expect(list.output()).toMatch(/user@hearth\.local/);
    expect(list.output()).toMatch(/bob@example\.com/);

    const del = runHearth(['user', 'delete', '--data-dir', dir, '--email', 'bob@example.com']);
    expect(await del.exited).toBe(0);
    const gone = await fetch(`${s.apiUrl}/info`, { headers: { authorization: token } });
    expect(gone.status).toBe(401);

    const missing = runHearth(['user', 'delete', '--data-dir', dir, '--email', 'nobody@example.com']);
    expect(await missing.exited).toBe(1);
  });
});

describe('crash recovery', () => {
  it('re-attaches to instances that kept running through a SIGKILL of the server, and finishes the task', async () => {
    const dir = tempDir();
    const first = await start(['--data-dir', dir, '--token', 'crash', '--runtime', 'host', '--slots', '2']);
    const api = (s: ServerProcess, p: string, init: RequestInit = {}) =>
      fetch(`${s.apiUrl}${p}`, { ...init, headers: { authorization: 'crash', 'content-type': 'application/json' } });
    const created = await api(first, '/tasks', {
      method: 'POST',
      body: JSON.stringify({
        name: 'survivor',
        profile: 'docker-batch',
        instanceCount: 3,
        constants: [{ key: 'DOCKER_CMD', value: 'echo start $INSTANCE_ID; sleep 2; echo done $INSTANCE_ID' }],
      }),
    });
    const { uuid } = (await created.json()) as { uuid: string };
    // Kill the server once instances are executing.
    for (let state = 'Submitted'; !/Executing/.test(state); ) {
      state = ((await (await api(first, `/tasks/${uuid}?longPollSeconds=5&ifState=${state}`)).json()) as { state: string }).state;
    }
    first.child.kill('SIGKILL');
    await first.exited;

    const second = await start(['--data-dir', dir, '--runtime', 'host', '--slots', '2']);
    let task = (await (await api(second, `/tasks/${uuid}`)).json()) as { state: string; status: { succeededRange: string } };
    const deadline = Date.now() + 30_000;
    while (!['Success', 'Failure', 'Cancelled'].includes(task.state) && Date.now() < deadline) {
      task = (await (await api(second, `/tasks/${uuid}?longPollSeconds=5&ifState=${task.state}`)).json()) as typeof task;
    }
    expect(task.state).toBe('Success');
    expect(task.status.succeededRange).toBe('0-2');
    const out = await (await api(second, `/tasks/${uuid}/stdout`)).text();
    for (const i of [0, 1, 2]) expect(out).toContain(`done ${i}`);
  });
});
