import { execFileSync, spawn, type ChildProcessByStdio } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type net from 'node:net';
import { Readable, type Writable } from 'node:stream';
import { closeAll, openFifoKeeper, openFifoReader } from './wrapper.js';

/**
 * The host runtime's process supervisor: one long-lived process per server that prepares each instance's directory,
 * starts its command, reaps it and records its exit status. It is `native/launcher.c`, compiled on first use with the
 * system C compiler ({@link nativeLauncher}); without one, the perl script below speaks the same protocol (perl-base
 * is part of every Debian system), forking a perl interpreter per command and so costing about twice as much. Forking
 * the server's Node process costs milliseconds of its main thread per instance, and a shell wrapper per instance
 * costs an extra exec plus a dozen file operations: this keeps a no-op instance about as cheap as `xargs` running
 * `sh -c`.
 *
 * Output travels through *lanes*: pairs of FIFOs (stdout, stderr) under `<workRoot>/.lanes`, created once and reused
 * by one instance at a time. The supervisor holds both ends open, so a command never sees EPIPE, even while no server
 * reads (it blocks on a full pipe until one re-attaches). After an instance ends, the supervisor writes an end marker
 * (`\0hearth-end:<nonce>:<id>\0`) on both FIFOs of its lane: everything before it is that instance's output.
 *
 * It survives the server: it runs in a session of its own and, when its stdin closes, keeps reaping the commands
 * still running (writing their exit files) before it leaves. A restarted server finds those instances through their
 * state dirs (`instance.json`, `pid` — which names the lane — and `exit`).
 *
 * Protocol (one line per message, fields hex-encoded where free text):
 *   → `l <lane> <dir>`                      create a lane          ← `L <lane>` | `E <lane> <message>`
 *   → `r <id> <lane> <flags> <dir> <workdir> <controller:cgroup dir …> <argc> <argv…> <envc> <env…> <stateJson>`
 *                                            (the state file's JSON raw, to the end of the line)
 *                                            run an instance       ← `s <id> <pid> <startTicks>` | `e <id> <message>`
 *                                                                  ← `x <id> <exit code or -1> <signal or 0> <peak
 *                                            memory bytes> <cpu ns> <OOM-killed 0|1> <cgroup empty 0|1> <markers
 *                                            written 0|1>` at its end (-1: no cgroup). Markers are left out when both
 *                                            FIFOs were empty: the server has read everything already.
 *   → `d <id>`                              detach: keep the instance dir and write its exit file after all (another
 *                                            server process will collect it)
 * Flags: `p` = the instance dir is prepared (resources staged): keep it; `c` = delete the instance dir once the
 * command is over (no results to upload) — unless the server is gone, which then needs the exit file.
 */
const SCRIPT = String.raw`
use strict; use warnings; use POSIX (); use Fcntl ();
$| = 1;
$SIG{PIPE} = 'IGNORE';
my $nonce = shift @ARGV;
my (%jobs, %lanes);
my $node = 1;
my $server = getppid();
my $chld = POSIX::SigSet->new(POSIX::SIGCHLD());
sub unhex { pack('H*', $_[0] // '') }
sub err { my $e = "$!"; unpack('H*', $_[0] . ($e ne '' ? ": $e" : '')) }
sub put { my ($f, $t) = @_; open(my $h, '>', $f) or return 0; (print $h $t) or return 0; close($h) }
sub mkpath { my $p = shift; return 1 if -d $p; my ($up) = $p =~ m{^(.+)/[^/]+$};
  if (defined $up) { mkpath($up) or return 0 } return 1 if mkdir($p); my $e = $!; return 1 if -d $p; $! = $e; 0 }
sub rmtree { my $p = shift; if (-l $p || !-d _) { unlink $p; return } opendir(my $d, $p) or return;
  my @e = grep { $_ ne '.' && $_ ne '..' } readdir($d); closedir($d); rmtree("$p/$_") for @e; rmdir $p }
sub number { my ($dir, $file, $key) = @_; return -1 unless $dir; open(my $h, '<', "$dir/$file") or return -1; my $t = '';
  sysread($h, $t, 8192); close($h); # never readline here: this runs in the SIGCHLD handler, inside the main loop's <STDIN>
  if (!defined $key) { return $t =~ /^(\d+)/ ? $1 : -1 } return $t =~ /^\Q$key\E (\d+)$/m ? $1 : -1 }
sub marker { my ($L, $id) = @_; my $m = "\0hearth-end:$nonce:$id\0";
  for my $fh ($L->{mo}, $L->{me}) { for (1 .. 400) { last if defined syswrite($fh, $m); last unless $node && $!{EAGAIN}; select(undef, undef, undef, 0.005) } } }
$SIG{CHLD} = sub {
  while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
    my $st = $?; my $j = delete $jobs{$pid}; next unless $j;
    kill 'KILL', -$pid; # what the command left behind in its process group ends with it
    my $sig = $st & 127;
    $node = 0 if getppid() != $server; # reparented: the server is gone, even if its end of stdin reads open still
    if ($j->{flags} =~ /c/ && $node) { rmtree($j->{dir}) } else { put("$j->{dir}/state/exit", ($sig ? 128 + $sig : $st >> 8) . "\n") }
    marker($j->{lane}, $j->{id});
    my $peak = number($j->{memory}, 'memory.max_usage_in_bytes'); my $cpu = number($j->{cpuacct}, 'cpuacct.usage');
    my $kills = number($j->{memory}, 'memory.oom_control', 'oom_kill');
    my $oom = !$j->{memory} ? -1 : $kills >= 0 ? ($kills > $j->{oom_base} ? 1 : 0) : (number($j->{memory}, 'memory.failcnt') > 0 ? 1 : 0);
    my $empty = -1;
    if ($j->{memory} && open(my $p, '<', "$j->{memory}/cgroup.procs")) { $empty = sysread($p, my $c, 1) ? 0 : 1; close($p) }
    print "x $j->{id} ", ($sig ? -1 : $st >> 8), " $sig $peak $cpu $oom $empty\n";
  }
};
while (defined(my $line = <STDIN>)) {
  chomp $line;
  my @f = split / /, $line, -1;
  my $kind = shift @f;
  if ($kind eq 'l') {
    my ($lane, $dir) = ($f[0], unhex($f[1])); my %L;
    my $ok = mkpath($dir);
    for my $s ('o', 'e') {
      last unless $ok;
      my $p = $dir . ($s eq 'o' ? '/stdout' : '/stderr');
      unlink $p;
      $ok = POSIX::mkfifo($p, 0600) && sysopen($L{"w$s"}, $p, Fcntl::O_RDWR()) && sysopen($L{"m$s"}, $p, Fcntl::O_WRONLY() | Fcntl::O_NONBLOCK());
    }
    if ($ok) { $L{dir} = $dir; $lanes{$lane} = \%L; print "L $lane\n" } else { print "E $lane ", err("cannot create the log lane $dir"), "\n" }
    next;
  }
  if ($kind eq 'd') { for my $j (values %jobs) { $j->{flags} = '' if $j->{id} eq $f[0] } next }
  next unless $kind eq 'r';
  my ($id, $lane, $flags) = splice(@f, 0, 3);
  my ($dir, $workdir) = map { unhex($_) } splice(@f, 0, 2);
  my $cgroups = shift @f;
  my $argc = shift @f;
  my @argv = map { unhex($_) } splice(@f, 0, $argc);
  my $envc = shift @f;
  my @env = map { unhex($_) } splice(@f, 0, $envc);
  my $json = join(' ', @f);
  my (@procs, %cg);
  for (grep { length } split / /, unhex($cgroups)) { my ($c, $d) = split /:/, $_, 2; $cg{$c} = $d; push @procs, "$d/cgroup.procs" }
  # memory and cpuacct counters are reset here and read at the command's end
  put("$cg{memory}/memory.max_usage_in_bytes", "0\n"), put("$cg{memory}/memory.failcnt", "0\n") if $cg{memory};
  put("$cg{cpuacct}/cpuacct.usage", "0\n") if $cg{cpuacct};
  my $oom_base = number($cg{memory}, 'memory.oom_control', 'oom_kill');
  my $L = $lanes{$lane};
  if (!$L) { print "e $id ", unpack('H*', "unknown lane $lane"), "\n"; next }
  rmtree($dir) if $flags !~ /p/ && -e $dir; # leftovers of an earlier attempt
  if (!(mkpath($dir) && mkpath($workdir) && mkpath("$dir/state"))) { print "e $id ", err("cannot create $workdir"), "\n"; next }
  if (!put("$dir/state/instance.json", $json)) { print "e $id ", err("cannot write $dir/state/instance.json"), "\n"; next }
  POSIX::sigprocmask(POSIX::SIG_BLOCK(), $chld);
  my $pid = fork();
  if (!defined $pid) { print "e $id ", err('fork failed'), "\n"; POSIX::sigprocmask(POSIX::SIG_UNBLOCK(), $chld); next }
  if ($pid == 0) {
    $SIG{CHLD} = 'DEFAULT'; $SIG{PIPE} = 'DEFAULT';
    POSIX::sigprocmask(POSIX::SIG_UNBLOCK(), $chld);
    POSIX::setsid();
    POSIX::dup2(fileno($L->{wo}), 1); POSIX::dup2(fileno($L->{we}), 2);
    open(STDIN, '<', '/dev/null');
    for my $c (@procs) { if (!put($c, "$$\n")) { print STDERR "[hearth] cannot join the instance's cgroup ($c): $!\n"; POSIX::_exit(92) } }
    if (!chdir $workdir) { print STDERR "[hearth] cannot enter the working dir $workdir: $!\n"; POSIX::_exit(126) }
    %ENV = ();
    for (@env) { my ($k, $v) = split /=/, $_, 2; $ENV{$k} = $v }
    { exec { $argv[0] } @argv }
    print STDERR "[hearth] cannot run $argv[0]: $!\n";
    POSIX::_exit(127);
  }
  my $ticks = 0;
  if (open(my $s, '<', "/proc/$pid/stat")) { my $t = <$s>; close($s); $ticks = (split / /, substr($t, rindex($t, ')') + 2))[19] // 0 }
  put("$dir/state/pid", "$pid $ticks $nonce $id " . unpack('H*', $L->{dir}) . "\n");
  $jobs{$pid} = { id => $id, lane => $L, dir => $dir, flags => $flags, memory => $cg{memory}, cpuacct => $cg{cpuacct}, oom_base => $oom_base };
  print "s $id $pid $ticks\n";
  POSIX::sigprocmask(POSIX::SIG_UNBLOCK(), $chld);
}
# The server is gone (it exited or crashed): record the exit of every command still running, then leave.
$node = 0;
sleep 1 while %jobs;
for my $L (values %lanes) { unlink "$L->{dir}/stdout", "$L->{dir}/stderr"; rmdir $L->{dir} }
`;

export interface LaunchRequest {
  /** Lanes (log FIFOs) live in `<workRoot>/.lanes`. */
  readonly workRoot: string;
  /** Instance dir: emptied, then `work/` and `state/` are created in it. */
  readonly dir: string;
  /** Working dir (`<dir>/work`): the command's cwd. */
  readonly workdir: string;
  /** Written to `<dir>/state/instance.json` before the command starts. */
  readonly stateJson: string;
  /**
   * The instance's cgroups as `controller:dir`: the command joins each before it execs; the supervisor resets the
   * memory and cpuacct counters first and reads them at the end (no cgroup file I/O on the server's thread).
   */
  readonly cgroups: readonly string[];
  /** The instance dir was prepared by the caller (resources staged in it): do not empty it. */
  readonly prepared: boolean;
  /** Delete the instance dir once the command is over. */
  readonly removeDirOnExit: boolean;
  readonly argv: readonly string[];
  /** Exactly the command's environment. */
  readonly env: Readonly<Record<string, string>>;
}

export interface RawExit {
  /** Exit code, null when killed by a signal. */
  readonly code: number | null;
  /** Signal number that killed it, 0 when it exited. */
  readonly signal: number;
  /** What its cgroups counted, when it had some. */
  readonly usage?: { readonly peakMemoryBytes: number; readonly cpuTimeNs: number; readonly oomKilled: boolean; readonly cgroupEmpty: boolean };
}

export interface Launched {
  readonly pid: number;
  /** Start time of the process in clock ticks since boot (identifies it across pid reuse). */
  readonly startTicks: number;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Settles once the command is reaped and both streams have ended; rejects if the supervisor died first. */
  readonly exited: Promise<RawExit>;
  /** Stop following it: the supervisor keeps its dir and exit file for whoever re-attaches. */
  detach(this: void): void;
}

interface Job {
  readonly id: number;
  readonly lane: Lane;
  started?: (l: Launched) => void;
  failed?: (e: Error) => void;
  /** stdout, stderr. */
  readonly streams: [Readable, Readable];
  readonly open: [boolean, boolean];
  ended: number;
  exit?: RawExit;
  settle?: { resolve: (x: RawExit) => void; reject: (e: Error) => void };
}

/** The marker that ends an instance's output on its lane. */
export function endMarkerPrefix(nonce: string): Buffer {
  return Buffer.from(`\0hearth-end:${nonce}:`);
}

/**
 * Splits a lane's byte stream at end markers. Bytes go to `sink` until a marker; `onMarker` gets the marker's id.
 * A marker may arrive cut in two: a tail that could be its beginning is held back until the next chunk.
 */
export class MarkerSplitter {
  readonly #prefix: Buffer;
  #carry: Buffer | undefined;

  constructor(
    nonce: string,
    private readonly sink: (data: Buffer) => void,
    private readonly onMarker: (id: number) => void,
  ) {
    this.#prefix = endMarkerPrefix(nonce);
  }

  push(chunk: Buffer): void {
    let buf = this.#carry ? Buffer.concat([this.#carry, chunk]) : chunk;
    this.#carry = undefined;
    for (;;) {
      const at = buf.indexOf(this.#prefix);
      if (at < 0) break;
      const end = buf.indexOf(0, at + this.#prefix.length);
      if (end < 0) {
        if (at > 0) this.sink(buf.subarray(0, at));
        this.#carry = buf.subarray(at);
        return;
      }
      if (at > 0) this.sink(buf.subarray(0, at));
      this.onMarker(Number(buf.subarray(at + this.#prefix.length, end).toString()));
      buf = buf.subarray(end + 1);
    }
    const keep = this.#partialPrefixAtEnd(buf);
    if (buf.length > keep) this.sink(keep ? buf.subarray(0, buf.length - keep) : buf);
    if (keep) this.#carry = Buffer.from(buf.subarray(buf.length - keep));
  }

  /** Bytes still held back (the stream ended with what looked like the start of a marker): they are output. */
  flush(): void {
    if (this.#carry) this.sink(this.#carry);
    this.#carry = undefined;
  }

  #partialPrefixAtEnd(buf: Buffer): number {
    const from = Math.max(0, buf.length - this.#prefix.length + 1);
    let nul = buf.indexOf(0, from);
    while (nul >= 0) {
      const k = buf.length - nul;
      if (buf.subarray(nul).equals(this.#prefix.subarray(0, k))) return k;
      nul = buf.indexOf(0, nul + 1);
    }
    return 0;
  }
}

/** A pair of FIFOs carrying the output of one instance at a time. */
class Lane {
  #current: Job | undefined;
  readonly readers: [net.Socket, net.Socket];
  readonly keepers: number[];
  readonly #splitters: MarkerSplitter[] = [];

  constructor(
    readonly name: string,
    readonly workRoot: string,
    where: { dir: string; nonce: string },
  ) {
    const { dir, nonce } = where;
    // Our own write ends, opened after the readers: Linux reports EOF on a FIFO only if a writer connected after the
    // reader opened, so if the supervisor dies the streams still end once its commands have.
    this.readers = [openFifoReader(`${dir}/stdout`), openFifoReader(`${dir}/stderr`)];
    this.keepers = [openFifoKeeper(`${dir}/stdout`), openFifoKeeper(`${dir}/stderr`)];
    this.readers.forEach((socket, i) => {
      socket.unref();
      // Output after the marker and before the next instance (a process that escaped the kill) goes nowhere.
      const splitter = new MarkerSplitter(
        nonce,
        (data) => {
          const job = this.current;
          if (job?.open[i]) job.streams[i]?.push(data);
        },
        (id) => {
          if (this.current?.id === id) this.#end(this.current, i);
        },
      );
      this.#splitters.push(splitter);
      socket.on('data', (d: Buffer) => splitter.push(d));
      socket.on('error', () => {});
      socket.on('close', () => {
        splitter.flush();
        if (this.current) this.#end(this.current, i);
      });
    });
  }

  #end(job: Job, i: number): void {
    if (!job.open[i]) return;
    job.open[i] = false;
    job.streams[i]?.push(null);
    if (++job.ended === 2) this.onJobEnded(job);
  }

  onJobEnded: (job: Job) => void = () => {};

  get current(): Job | undefined {
    return this.#current;
  }

  /** An instance's streams keep the server's event loop alive while it runs; an idle lane does not. */
  set current(job: Job | undefined) {
    this.#current = job;
    for (const r of this.readers) {
      if (job) r.ref();
      else r.unref();
    }
  }

  close(): void {
    closeAll(this.keepers);
  }

  /** Ends the current instance's streams without waiting for end markers (bytes held back as a possible marker start are output). */
  endCurrent(): void {
    for (const s of this.#splitters) s.flush();
    if (this.current) for (const i of [0, 1]) this.#end(this.current, i);
  }

  /** Stops reading for good, ending the current instance's streams here. */
  detach(): void {
    this.close();
    for (const r of this.readers) r.destroy();
    this.endCurrent();
  }
}

export class Launcher {
  readonly #proc: ChildProcessByStdio<Writable, Readable, null>;
  readonly #nonce = randomBytes(8).toString('hex');
  readonly #jobs = new Map<number, Job>();
  /** Free lanes per work root, and lanes being created. */
  readonly #free = new Map<string, Lane[]>();
  readonly #creating = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
  readonly #lanes: Lane[] = [];
  #seq = 0;
  #laneSeq = 0;
  #dead = false;
  /** Requests waiting for an answer: they keep the event loop alive, an idle supervisor does not. */
  #waiting = 0;

  private constructor(implementation: 'native' | 'perl') {
    const native = implementation === 'native' ? nativeLauncher() : undefined;
    const [cmd, args] = native ? [native, [this.#nonce]] : ['perl', ['-e', SCRIPT, this.#nonce]];
    this.implementation = native ? 'native' : 'perl';
    this.#proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
    const proc = this.#proc;
    proc.unref();
    for (const s of [proc.stdin, proc.stdout]) unrefStream(s);
    proc.stdin.on('error', () => this.#die());
    proc.on('exit', () => this.#die());
    proc.on('error', (e: NodeJS.ErrnoException) => this.#die(e.code === 'ENOENT' ? 'perl is not installed (the host runtime needs it)' : e.message));
    createInterface({ input: proc.stdout }).on('line', (line) => this.#onLine(line));
  }

  /** `native` (the C build of the supervisor) or `perl` (no C compiler here, or `HEARTH_LAUNCHER=perl`). */
  readonly implementation: 'native' | 'perl';

  get alive(): boolean {
    return !this.#dead;
  }

  static #shared: Launcher | undefined;

  /** The process-wide supervisor, started on first use (and again after it died). */
  static shared(): Launcher {
    if (!Launcher.#shared?.alive) Launcher.#shared = new Launcher('native');
    return Launcher.#shared;
  }

  /** A supervisor of its own (tests run both builds); `native` falls back to perl without a C compiler. */
  static start(implementation: 'native' | 'perl'): Launcher {
    return new Launcher(implementation);
  }

  /** Pid of the supervisor process (tests kill it to check the fallback). */
  get pid(): number | undefined {
    return this.#proc.pid;
  }

  async launch(req: LaunchRequest): Promise<Launched> {
    if (this.#dead) throw new Error('the launcher is not running');
    const lane = this.#free.get(req.workRoot)?.pop() ?? (await this.#newLane(req.workRoot));
    const id = this.#seq++;
    const job: Job = { id, lane, streams: [new Readable({ read() {} }), new Readable({ read() {} })], open: [true, true], ended: 0 };
    lane.current = job;
    const fields = [
      'r',
      String(id),
      lane.name,
      `${req.prepared ? 'p' : ''}${req.removeDirOnExit ? 'c' : ''}-`,
      hex(req.dir),
      hex(req.workdir),
      hex(req.cgroups.join(' ')),
      String(req.argv.length),
      ...req.argv.map(hexCached),
    ];
    const env = Object.keys(req.env);
    fields.push(String(env.length));
    for (const k of env) fields.push(hexCached(`${k}=${req.env[k]}`));
    // JSON.stringify never writes a raw newline: the state file goes last, as it is (no hex: half the bytes).
    fields.push(req.stateJson);
    return new Promise<Launched>((resolve, reject) => {
      job.started = resolve;
      job.failed = reject;
      this.#jobs.set(id, job);
      this.#wait(1);
      this.#proc.stdin.write(`${fields.join(' ')}\n`);
    });
  }

  #newLane(workRoot: string): Promise<Lane> {
    if (!this.#free.has(workRoot)) {
      this.#free.set(workRoot, []);
      void sweepLanes(workRoot);
    }
    const name = String(this.#laneSeq++);
    const dir = `${workRoot}/.lanes/${this.#proc.pid ?? 0}-${name}`;
    return new Promise<Lane>((resolve, reject) => {
      this.#creating.set(name, {
        resolve: () => {
          try {
            const lane = new Lane(name, workRoot, { dir, nonce: this.#nonce });
            lane.onJobEnded = (job) => this.#jobEnded(job);
            this.#lanes.push(lane);
            resolve(lane);
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        },
        reject,
      });
      this.#wait(1);
      this.#proc.stdin.write(`l ${name} ${hex(dir)}\n`);
    });
  }

  #onLine(line: string): void {
    const [kind, a, b, c, peak, cpu, oom, empty, markers] = line.split(' ');
    if (kind === 'L' || kind === 'E' || kind === 's' || kind === 'e') this.#wait(-1);
    if (kind === 'L' || kind === 'E') {
      const p = this.#creating.get(a ?? '');
      this.#creating.delete(a ?? '');
      if (kind === 'L') p?.resolve();
      else p?.reject(new Error(unhex(b)));
      return;
    }
    const job = this.#jobs.get(Number(a));
    if (!job) return;
    switch (kind) {
      case 's': {
        const exited = new Promise<RawExit>((resolve, reject) => (job.settle = { resolve, reject }));
        exited.catch(() => {});
        const detach = (): void => this.#detach(job);
        job.started?.({ pid: Number(b), startTicks: Number(c), stdout: job.streams[0], stderr: job.streams[1], exited, detach });
        return;
      }
      case 'x': {
        const code = Number(b);
        const usage =
          oom === '0' || oom === '1'
            ? { peakMemoryBytes: Math.max(0, Number(peak)), cpuTimeNs: Math.max(0, Number(cpu)), oomKilled: oom === '1', cgroupEmpty: empty === '1' }
            : undefined;
        job.exit = { code: code < 0 ? null : code, signal: Number(c), ...(usage ? { usage } : {}) };
        // `0`: the lane was empty at the end, everything of this instance is read already (no markers follow).
        if (markers === '0') job.lane.endCurrent();
        if (job.ended === 2) this.#jobEnded(job);
        return;
      }
      case 'e':
        this.#jobs.delete(job.id);
        this.#release(job);
        job.failed?.(new Error(unhex(b)));
        return;
      default:
        return;
    }
  }

  #wait(delta: number): void {
    const before = this.#waiting;
    this.#waiting += delta;
    const stdout = this.#proc.stdout as unknown as { ref?: () => void; unref?: () => void };
    if (before === 0 && this.#waiting > 0) stdout.ref?.();
    else if (before > 0 && this.#waiting === 0) stdout.unref?.();
  }

  /**
   * Hands a running instance over to another server process (which may be this one, re-attaching): the supervisor
   * keeps its dir, and its lane leaves our pool — the new follower opens the FIFOs itself, as their only reader.
   */
  #detach(job: Job): void {
    if (!this.#jobs.has(job.id) || this.#dead) return;
    this.#proc.stdin.write(`d ${job.id}\n`);
    const lane = job.lane;
    this.#lanes.splice(this.#lanes.indexOf(lane), 1);
    lane.detach();
  }

  /** Both streams ended: once the exit status is in too, the job is over and its lane free. */
  #jobEnded(job: Job): void {
    if (!job.exit || !this.#jobs.has(job.id)) return;
    this.#jobs.delete(job.id);
    this.#release(job);
    job.settle?.resolve(job.exit);
  }

  #release(job: Job): void {
    const lane = job.lane;
    if (lane.current !== job) return;
    lane.current = undefined;
    if (this.#dead) return;
    let free = this.#free.get(lane.workRoot);
    if (!free) this.#free.set(lane.workRoot, (free = []));
    free.push(lane);
  }

  #die(why = 'the launcher process died'): void {
    if (this.#dead) return;
    this.#dead = true;
    const err = new Error(why);
    for (const job of this.#jobs.values()) {
      if (job.settle) job.settle.reject(err);
      else job.failed?.(err);
    }
    this.#jobs.clear();
    for (const p of this.#creating.values()) p.reject(err);
    this.#creating.clear();
    // The streams of commands still running end when those commands do.
    for (const lane of this.#lanes) lane.close();
    this.#free.clear();
  }
}

/** Removes the lanes of supervisors that are gone (killed: one that exits removes its own). */
async function sweepLanes(workRoot: string): Promise<void> {
  const names = await readdir(`${workRoot}/.lanes`).catch(() => [] as string[]);
  for (const name of names) {
    const pid = Number(name.split('-')[0]);
    if (pid > 0 && !existsSync(`/proc/${pid}`)) await rm(`${workRoot}/.lanes/${name}`, { recursive: true, force: true }).catch(() => {});
  }
}

let built: string | null | undefined;

/**
 * Path of the native supervisor, compiled from `native/launcher.c` with the system C compiler on first use and kept
 * under `native/.build/` (named by the source's hash, so an edited source is rebuilt). Undefined without a compiler.
 */
export function nativeLauncher(): string | undefined {
  if (process.env['HEARTH_LAUNCHER'] === 'perl') return undefined; // an operator's choice (and the tests')
  if (built !== undefined) return built ?? undefined;
  built = null;
  try {
    const src = fileURLToPath(new URL('../../native/launcher.c', import.meta.url));
    const hash = createHash('sha256').update(readFileSync(src)).digest('hex').slice(0, 16);
    const bin = path.join(path.dirname(src), '.build', `launcher-${hash}`);
    if (!existsSync(bin)) {
      mkdirSync(path.dirname(bin), { recursive: true });
      const tmp = `${bin}.${process.pid}.tmp`; // concurrent builders each rename a complete binary into place
      execFileSync(process.env['CC'] ?? 'cc', ['-O2', '-o', tmp, src], { stdio: 'ignore', timeout: 120_000 });
      renameSync(tmp, bin);
      // Builds of earlier sources go (a supervisor still running from one keeps its copy).
      for (const old of readdirSync(path.dirname(bin))) if (old.startsWith('launcher-') && path.join(path.dirname(bin), old) !== bin && !old.endsWith('.tmp')) rmSync(path.join(path.dirname(bin), old), { force: true });
    }
    built = bin;
  } catch {
    // no compiler, or a read-only install: the perl supervisor does the same job, more slowly
  }
  return built ?? undefined;
}

function unrefStream(s: unknown): void {
  (s as { unref?: () => void }).unref?.();
}

const hexes = new Map<string, string>();

/** Commands and environment entries repeat from instance to instance: their encodings are kept (bounded). */
function hexCached(s: string): string {
  let h = hexes.get(s);
  if (h === undefined) {
    if (hexes.size >= 4096) hexes.clear();
    h = hex(s);
    hexes.set(s, h);
  }
  return h;
}

function hex(s: string): string {
  return Buffer.from(s).toString('hex');
}

function unhex(s: string | undefined): string {
  return Buffer.from(s ?? '', 'hex').toString();
}
