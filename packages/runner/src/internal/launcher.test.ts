import { describe, expect, it } from 'vitest';
import { startInstance } from '../running-instance.js';
import { EventLog, makeSpec, tempDir, waitFor } from '../test-support/fixtures.js';
import { Launcher } from './launcher.js';

describe('Launcher', () => {
  it('starts a process in its own session and reports its exit status', async () => {
    const l = await Launcher.shared().launch({ argv: ['/bin/sh', '-c', 'exit 5'], cwd: '/', env: { PATH: '/usr/bin:/bin' } });
    expect(l.pid).toBeGreaterThan(0);
    expect(await l.exited).toEqual({ code: 5, signal: null });
    const killed = await Launcher.shared().launch({ argv: ['/bin/sh', '-c', 'kill -KILL $$'], cwd: '/', env: {} });
    expect(await killed.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('passes cwd and exactly the given environment, values with spaces and newlines included', async () => {
    await using dir = await tempDir();
    const l = await Launcher.shared().launch({
      argv: ['/bin/sh', '-c', `[ "$(pwd)" = "${dir.path}" ] && [ "$A" = "x y\nz" ] && [ -z "\${HOME:-}" ] && [ "$(ps -o pgid= -p $$ | tr -d ' ')" = "$$" ]`],
      cwd: dir.path,
      env: { A: 'x y\nz', PATH: '/usr/bin:/bin' },
    });
    expect(await l.exited).toEqual({ code: 0, signal: null });
  });

  it('keeps a running instance watched when the launcher dies (falls back to the pid)', async () => {
    await using dir = await tempDir();
    const log = new EventLog();
    const inst = startInstance(makeSpec(dir.path, { command: 'echo up; while [ ! -f go ]; do sleep 0.05; done; echo bye; exit 6' }), { onEvent: log.onEvent, sandbox: 'none' });
    await waitFor(() => log.stdout === 'up\n');
    // The launcher is the parent of every wrapper: find it through the wrapper's parent pid.
    const { readFileSync } = await import('node:fs');
    const state = JSON.parse(readFileSync(`${inst.paths.stateDir}/instance.json`, 'utf8')) as { host: { pid: number } };
    const stat = readFileSync(`/proc/${state.host.pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    expect(readFileSync(`/proc/${ppid}/comm`, 'utf8').trim()).toBe('perl');
    process.kill(ppid, 'SIGKILL');
    const { existsSync } = await import('node:fs');
    await waitFor(() => !existsSync(`/proc/${ppid}`));
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${inst.paths.workdir}/go`, '');
    const result = await inst.result;
    expect(result.exitCode).toBe(6);
    expect(log.stdout).toBe('up\nbye\n');
    // a new launcher is started for the next instance
    const next = await Launcher.shared().launch({ argv: ['/bin/true'], cwd: '/', env: {} });
    expect(await next.exited).toEqual({ code: 0, signal: null });
  });
});
