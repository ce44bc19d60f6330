import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const HEARTH_BIN = fileURLToPath(new URL('../../bin/hearth.js', import.meta.url));

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly apiUrl: string;
  readonly output: () => string;
  /** Resolves with the exit code (or signal name) once the process is gone. */
  readonly exited: Promise<number | string>;
}

/** Runs the built `hearth` command as a real child process. */
export function runHearth(args: readonly string[]): { child: ChildProcess; output: () => string; exited: Promise<number | string> } {
  const child = spawn(process.execPath, [HEARTH_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, output: () => out, exited };
}

/** Starts `hearth server` on free ports and waits until it has printed everything (the data dir line is last). */
export async function startServerProcess(args: readonly string[]): Promise<ServerProcess> {
  const run = runHearth(['server', '--port', '0', '--storage-port', '0', ...args]);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const m = /Hearth API:\s+(\S+)/.exec(run.output());
    if (m && /Data dir:.*\n/.test(run.output())) return { ...run, apiUrl: m[1]! };
    if (run.child.exitCode !== null) throw new Error(`hearth server exited early:\n${run.output()}`);
    if (Date.now() > deadline) {
      run.child.kill('SIGKILL');
      throw new Error(`hearth server did not start:\n${run.output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
