import { closeSync, constants, openSync } from 'node:fs';
import net from 'node:net';

/**
 * The shell wrapper every container runs as its pid 1 (the host runtime has the supervisor of launcher.ts instead).
 * It outlives a server crash:
 * - stdout/stderr go to FIFOs in the state dir that the wrapper itself holds open read-write, so the command never
 *   sees EPIPE while the server is away (at worst it blocks on a full pipe until the server re-attaches);
 * - it records the command's exit status in `state/exit` for a server that re-attaches;
 * - the server opens its read ends before starting it, so no output is lost (a FIFO's data dies with its last open fd);
 * - on SIGTERM it forwards the signal to every process of the container.
 * Arguments: `$1` = state dir, then the command's argv.
 */
export const WRAPPER_SCRIPT = `S="$1"; shift
[ -p "$S/stdout" ] && [ -p "$S/stderr" ] || mkfifo "$S/stdout" "$S/stderr" || exit 91
exec 3<>"$S/stdout" 4<>"$S/stderr" </dev/null >/dev/null 2>&4
"$@" </dev/null >&3 2>&4 3>&- 4>&- &
child=$!
trap 'if [ "$$" = 1 ]; then kill -TERM -1; else kill -TERM "$child"; fi 2>/dev/null' TERM INT HUP
wait "$child"; rc=$?
while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done
# In a container (pid 1) the wrapper sees its own memory cgroup: record OOM kills for the server (builtins only).
if [ "$$" = 1 ] && [ -r /sys/fs/cgroup/memory/memory.oom_control ]; then
  while read -r k v; do [ "$k" = oom_kill ] && echo "$v" > "$S/oom"; done < /sys/fs/cgroup/memory/memory.oom_control
fi
echo "$rc" > "$S/exit"
exit "$rc"`;

/**
 * Opens a FIFO's read end without blocking and wraps it in a socket: libuv reads pipes asynchronously, with no
 * thread-pool thread parked per instance. (A synchronous open is fine: with O_NONBLOCK it never waits.)
 */
export function openFifoReader(file: string): net.Socket {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  return new net.Socket({ fd, readable: true, writable: false });
}

/** Keeps a FIFO open for writing so its reader sees no EOF before the real writers arrive (docker start-up). */
export function openFifoKeeper(file: string): number {
  return openSync(file, constants.O_RDWR | constants.O_NONBLOCK);
}

/** Closes keeper fds once; tolerates fds already closed. */
export function closeAll(fds: number[]): void {
  for (const fd of fds.splice(0)) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }
}
