import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * Starts instance wrappers through one long-lived `perl` process (perl-base is part of every Debian system).
 * Forking the server's Node process costs milliseconds of its main thread per instance — more than a no-op command
 * itself; perl forks a small process, off the main thread. Each child gets its own session and process group, an
 * explicit environment, stdio on /dev/null. Exit statuses come back as lines. When perl is missing or dies, callers
 * fall back to `child_process.spawn` (new instances) or to watching the pid (running ones).
 */
const SCRIPT = String.raw`
use strict; use warnings; use POSIX ();
$| = 1;
my %ids;
my $chld = POSIX::SigSet->new(POSIX::SIGCHLD());
$SIG{CHLD} = sub {
  while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
    my $st = $?; my $id = delete $ids{$pid};
    next unless defined $id;
    my $sig = $st & 127;
    print "x $id ", ($sig ? -1 : $st >> 8), " $sig\n";
  }
};
while (defined(my $line = <STDIN>)) {
  chomp $line;
  my @f = split / /, $line, -1;
  my $id = shift @f; my $cwd = pack('H*', shift @f); my $argc = shift @f;
  my @argv = map { pack('H*', $_) } splice(@f, 0, $argc);
  my @env = map { pack('H*', $_) } @f;
  POSIX::sigprocmask(POSIX::SIG_BLOCK(), $chld);
  my $pid = fork();
  if (!defined $pid) { print "e $id ", unpack('H*', "fork failed: $!"), "\n"; POSIX::sigprocmask(POSIX::SIG_UNBLOCK(), $chld); next; }
  if ($pid == 0) {
    POSIX::sigprocmask(POSIX::SIG_UNBLOCK(), $chld);
    $SIG{CHLD} = 'DEFAULT';
    POSIX::setsid();
    chdir $cwd or POSIX::_exit(126);
    %ENV = ();
    for (@env) { my ($k, $v) = split /=/, $_, 2; $ENV{$k} = $v; }
    open(STDIN, '<', '/dev/null'); open(STDOUT, '>', '/dev/null'); open(STDERR, '>', '/dev/null');
    exec { $argv[0] } @argv;
    POSIX::_exit(127);
  }
  $ids{$pid} = $id;
  print "s $id $pid\n";
  POSIX::sigprocmask(POSIX::SIG_UNBLOCK(), $chld);
}
`;

export interface LaunchRequest {
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
}

export interface Launched {
  readonly pid: number;
  /** Exit code (null when killed) and signal number (0 when exited); rejects if the launcher died first. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

interface Pending {
  started: (pid: number) => void;
  failed: (e: Error) => void;
  exit?: { resolve: (v: { code: number | null; signal: NodeJS.Signals | null }) => void; reject: (e: Error) => void };
}

const SIGNALS: Record<number, NodeJS.Signals> = { 1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 6: 'SIGABRT', 9: 'SIGKILL', 11: 'SIGSEGV', 13: 'SIGPIPE', 15: 'SIGTERM' };

export class Launcher {
  readonly #proc: ChildProcessWithoutNullStreams;
  readonly #pending = new Map<number, Pending>();
  #seq = 0;
  #dead = false;

  private constructor(proc: ChildProcessWithoutNullStreams) {
    this.#proc = proc;
    proc.unref();
    for (const s of [proc.stdin, proc.stdout, proc.stderr]) (s as unknown as { unref?: () => void }).unref?.();
    proc.stdin.on('error', () => this.#die());
    proc.on('exit', () => this.#die());
    proc.on('error', () => this.#die());
    createInterface({ input: proc.stdout }).on('line', (line) => this.#onLine(line));
  }

  get alive(): boolean {
    return !this.#dead;
  }

  static #shared: Launcher | undefined;

  /** The process-wide launcher, started on first use (and again after it died). */
  static shared(): Launcher {
    if (!Launcher.#shared?.alive) {
      Launcher.#shared = new Launcher(spawn('perl', ['-e', SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] }));
    }
    return Launcher.#shared;
  }

  launch(req: LaunchRequest): Promise<Launched> {
    if (this.#dead) return Promise.reject(new Error('launcher is not running'));
    const id = this.#seq++;
    const hex = (s: string): string => Buffer.from(s).toString('hex');
    const env = Object.entries(req.env).map(([k, v]) => hex(`${k}=${v}`));
    const line = [String(id), hex(req.cwd), String(req.argv.length), ...req.argv.map(hex), ...env].join(' ');
    return new Promise<Launched>((resolve, reject) => {
      const pending: Pending = {
        started: (pid) => {
          const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res, rej) => {
            pending.exit = { resolve: res, reject: rej };
          });
          exited.catch(() => {});
          resolve({ pid, exited });
        },
        failed: reject,
      };
      this.#pending.set(id, pending);
      this.#proc.stdin.write(`${line}\n`);
    });
  }

  #onLine(line: string): void {
    const [kind, idText, a, b] = line.split(' ');
    const id = Number(idText);
    const p = this.#pending.get(id);
    if (!p) return;
    switch (kind) {
      case 's':
        p.started(Number(a));
        return;
      case 'x': {
        this.#pending.delete(id);
        const code = Number(a);
        const sig = Number(b);
        p.exit?.resolve({ code: code < 0 ? null : code, signal: sig ? (SIGNALS[sig] ?? 'SIGKILL') : null });
        return;
      }
      case 'e':
        this.#pending.delete(id);
        p.failed(new Error(Buffer.from(a ?? '', 'hex').toString()));
        return;
      default:
        return;
    }
  }

  #die(): void {
    if (this.#dead) return;
    this.#dead = true;
    const err = new Error('the launcher process died');
    for (const p of this.#pending.values()) {
      if (p.exit) p.exit.reject(err);
      else p.failed(err);
    }
    this.#pending.clear();
  }
}
