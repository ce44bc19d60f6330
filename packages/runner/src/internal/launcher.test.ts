import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { startInstance } from '../running-instance.js';
import { EventLog, makeSpec, tempDir, waitFor } from '../test-support/fixtures.js';
import { cgroupPool } from './cgroup.js';
import { readPidFile } from './host-execution.js';
import { Launcher, MarkerSplitter, nativeLauncher, type LaunchRequest } from './launcher.js';

function collect(s: Readable): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    s.on('data', (d: Buffer) => (text += d.toString('latin1')));
    s.on('end', () => resolve(text));
  });
}

function request(root: string, name: string, argv: string[]): LaunchRequest {
  const dir = `${root}/task/${name}`;
  return { workRoot: root, dir, workdir: `${dir}/work`, stateJson: '{"v":1}', cgroups: [], prepared: false, removeDirOnExit: false, argv, env: { PATH: '/usr/bin:/bin' } };
}

describe('MarkerSplitter', () => {
  it('finds end markers cut anywhere between chunks, and passes lookalikes through as output', () => {
    const text = Buffer.concat([Buffer.from('one\0hearth-end:ab'), Buffer.from('\0hearth-end:abc:7\0two\0hearth-end:abc:'), Buffer.from('8\0tail\0hear')]);
    for (let cut = 0; cut <= text.length; cut++) {
      for (let cut2 = cut; cut2 <= text.length; cut2 += 3) {
        const out: string[] = [''];
        const ids: number[] = [];
        const s = new MarkerSplitter('abc', (d) => (out[out.length - 1] += d.toString('latin1')), (id) => (ids.push(id), out.push('')));
        s.push(text.subarray(0, cut));
        s.push(text.subarray(cut, cut2));
        s.push(text.subarray(cut2));
        s.flush();
        expect(ids).toEqual([7, 8]);
        expect(out).toEqual(['one\0hearth-end:ab', 'two', 'tail\0hear']);
      }
    }
  });
});

// Both builds of the supervisor speak the same protocol; the native one needs a C compiler (installed by CI).
describe.each(['native', 'perl'] as const)('Launcher (%s)', (implementation) => {
  it('runs a command in its own session, separates stdout and stderr, and reports exit codes and signals', async () => {
    if (implementation === 'native') expect(nativeLauncher()).toBeDefined();
    await using dir = await tempDir();
    const l = Launcher.start(implementation);
    expect(l.implementation).toBe(implementation);
    const a = await l.launch(request(dir.path, 'a', ['/bin/sh', '-c', 'echo out; echo err >&2; [ "$(ps -o pgid= -p $$ | tr -d " ")" = "$$" ] || exit 9; exit 5']));
    const [out, err] = await Promise.all([collect(a.stdout), collect(a.stderr)]);
    expect(await a.exited).toEqual({ code: 5, signal: 0 });
    expect([out, err]).toEqual(['out\n', 'err\n']);
    const b = await l.launch(request(dir.path, 'b', ['/bin/sh', '-c', 'kill -KILL $$']));
    b.stdout.resume();
    b.stderr.resume();
    expect(await b.exited).toEqual({ code: null, signal: 9 });
  });

  it('passes cwd and exactly the given environment, values with spaces and newlines included', async () => {
    await using dir = await tempDir();
    const l = Launcher.start(implementation);
    const req = request(dir.path, 'env', ['/bin/sh', '-c', '[ "$(pwd)" = "$W" ] && [ "$A" = "x y\nz" ] && env']);
    const r = await l.launch({ ...req, env: { A: 'x y\nz', PATH: '/usr/bin:/bin', W: req.workdir } });
    const [out] = await Promise.all([collect(r.stdout), collect(r.stderr)]);
    expect(await r.exited).toEqual({ code: 0, signal: 0 });
    // the shell adds PWD; nothing of the server's environment comes through
    expect(out.split('\n').filter((line) => /^[A-Z_]+=/.test(line)).map((line) => line.split('=')[0]).sort()).toEqual(['A', 'PATH', 'PWD', 'W']);
  });

  it('keeps each instance output apart on a reused lane, binary data, marker lookalikes and a trailing NUL included', async () => {
    await using dir = await tempDir();
    const l = Launcher.start(implementation);
    for (let i = 0; i < 6; i++) {
      const r = await l.launch(request(dir.path, `i${i}`, ['/bin/sh', '-c', `printf 'n${i}\\000hearth-end:x:1\\000'; head -c 70000 /dev/zero | tr '\\0' '${i}'; printf 'end\\000'`]));
      const out = await collect(r.stdout);
      r.stderr.resume();
      await r.exited;
      expect(out).toBe(`n${i}\0hearth-end:x:1\0${String(i).repeat(70000)}end\0`); // a trailing NUL is output too
    }
  });

  it('prepares the instance dir and records the state a restarted server needs', async () => {
    await using dir = await tempDir();
    const l = Launcher.start(implementation);
    const req = request(dir.path, 'state', ['/bin/sh', '-c', 'ls; exit 3']);
    await mkdir(req.workdir, { recursive: true });
    await writeFile(`${req.workdir}/leftover-of-an-earlier-attempt`, '');
    const r = await l.launch(req);
    const [out] = await Promise.all([collect(r.stdout), collect(r.stderr)]);
    await r.exited;
    expect(out).toBe(''); // emptied first
    expect(await readFile(`${req.dir}/state/instance.json`, 'utf8')).toBe('{"v":1}');
    expect(readPidFile(`${req.dir}/state`)).toMatchObject({ pid: r.pid, startTicks: r.startTicks, launchId: expect.any(Number) as number });
    expect(await readFile(`${req.dir}/state/exit`, 'utf8')).toBe('3\n');

    const staged = { ...request(dir.path, 'staged', ['/bin/sh', '-c', 'cat input']), prepared: true, removeDirOnExit: true };
    await mkdir(staged.workdir, { recursive: true });
    await writeFile(`${staged.workdir}/input`, 'staged file');
    const s = await l.launch(staged);
    const [text] = await Promise.all([collect(s.stdout), collect(s.stderr)]);
    expect(await s.exited).toEqual({ code: 0, signal: 0 });
    expect(text).toBe('staged file');
    await waitFor(() => !existsSync(staged.dir)); // nothing to upload: removed by the supervisor (just after answering)
  });

  it('recycles a finished instance dir for the next one on its lane, emptied', async () => {
    await using dir = await tempDir();
    const l = Launcher.start(implementation);
    for (let i = 0; i < 3; i++) {
      const req = {
        ...request(dir.path, `r${i}`, ['/bin/sh', '-c', `ls -A; ls -A ../state; cat ../state/instance.json; mkdir -p sub/deeper; echo x > sub/deeper/f; echo y > ../state/extra`]),
        stateJson: `{"n":${i}}`,
        removeDirOnExit: true,
      };
      const r = await l.launch(req);
      const [out] = await Promise.all([collect(r.stdout), collect(r.stderr)]);
      expect(await r.exited).toMatchObject({ code: 0 });
      expect(out).toBe(`instance.json\npid\n{"n":${i}}`);
      await waitFor(() => !existsSync(req.dir));
    }
  });

  it('moves the command into its cgroups and reports what they counted, instance after instance', async () => {
    await using dir = await tempDir();
    const l = Launcher.start(implementation);
    const cg = await cgroupPool.acquire({ memoryBytes: 200 * 2 ** 20 });
    if (!cg) return; // no writable cgroup v1 here: nothing to count with
    try {
      // Several on one lane and one group: the counters are reset for each, and reading them at one's end must not
      // disturb reading the next request.
      for (let i = 0; i < 3; i++) {
        const req = { ...request(dir.path, `cg${i}`, ['/bin/sh', '-c', 'dd if=/dev/zero of=/dev/null bs=40M count=4 2>/dev/null']), cgroups: cg.controllerDirs };
        const r = await l.launch(req);
        await Promise.all([collect(r.stdout), collect(r.stderr)]);
        const exit = await r.exited;
        expect(exit.code).toBe(0);
        expect(exit.usage?.peakMemoryBytes).toBeGreaterThan(40 * 2 ** 20);
        expect(exit.usage?.cpuTimeNs).toBeGreaterThan(0);
        expect(exit.usage?.oomKilled).toBe(false);
      }
    } finally {
      cgroupPool.release(cg);
    }
  });

  it('answers a clear error when the instance dir cannot be made, and a missing program with 127', async () => {
    await using dir = await tempDir();
    const l = Launcher.start(implementation);
    await writeFile(`${dir.path}/file`, '');
    await expect(l.launch({ ...request(dir.path, 'x', ['/bin/true']), dir: `${dir.path}/file/x`, workdir: `${dir.path}/file/x/work` })).rejects.toThrow(
      /cannot create .*(Not a directory|File exists)/,
    );
    const r = await l.launch(request(dir.path, 'missing', ['/no/such/program']));
    const [, err] = await Promise.all([collect(r.stdout), collect(r.stderr)]);
    expect(await r.exited).toEqual({ code: 127, signal: 0 });
    expect(err).toMatch(/cannot run \/no\/such\/program: No such file or directory/);
  });
});

describe('the host runtime when its supervisor dies', () => {
  it('keeps the instance watched through its pid and keeps its output; the exit status is lost with the supervisor', async () => {
    await using dir = await tempDir();
    const log = new EventLog();
    const inst = startInstance(makeSpec(dir.path, { command: 'echo up; while [ ! -f go ]; do sleep 0.05; done; echo bye; exit 6' }), { onEvent: log.onEvent, sandbox: 'none' });
    await waitFor(() => log.stdout === 'up\n');
    const pid = readPidFile(inst.paths.stateDir)?.pid as number;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    expect(ppid).toBe(Launcher.shared().pid);
    process.kill(ppid, 'SIGKILL');
    await waitFor(() => !existsSync(`/proc/${ppid}`) || readFileSync(`/proc/${ppid}/stat`, 'utf8').includes(') Z'));
    writeFileSync(`${inst.paths.workdir}/go`, '');
    const result = await inst.result;
    expect(log.stdout).toBe('up\nbye\n');
    expect(result.state).toBe('Failure');
    expect(result.error?.code).toBe('Lost');
    // a new supervisor is started for the next instance
    const next = startInstance(makeSpec(dir.path, { command: 'echo again', instanceId: 1 }), { onEvent: log.onEvent, sandbox: 'none' });
    expect((await next.result).state).toBe('Success');
    expect(Launcher.shared().pid).not.toBe(ppid);
  });
});
