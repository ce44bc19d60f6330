#!/usr/bin/env bash
# Stops the engine started by docker-up.sh, by the PID docker-up.sh recorded. Idempotent.
set -euo pipefail
D=${HEARTH_DOCKER_DIR:-/tmp/hearth-docker}
PIDFILE="$D/hearth-dockerd.pid"
[ -f "$PIDFILE" ] || exit 0
PID=$(cat "$PIDFILE")
# Only signal it if it still is that engine (the PID may have been reused since).
if kill -0 "$PID" 2>/dev/null && tr '\0' ' ' <"/proc/$PID/cmdline" | grep -q -- "--data-root $D/data"; then
  kill "$PID"
  for _ in $(seq 200); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$PID" 2>/dev/null && kill -9 "$PID"
fi
rm -f "$PIDFILE"
umount "$D/exec/netns/default" 2>/dev/null || true
