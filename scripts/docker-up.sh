#!/usr/bin/env bash
# Starts a private Docker engine for tests and builds a tiny busybox image with `docker import` (no registry is
# reachable). Idempotent: when the engine already answers it only makes sure the image exists.
# Prints `DOCKER_HOST=unix://…` and `HEARTH_TEST_IMAGE=…` on stdout; everything else goes to stderr.
#   HEARTH_DOCKER_DIR  state dir (data-root, exec-root, socket, pidfile, log)   @default /tmp/hearth-docker
#   HEARTH_TEST_IMAGE  image name to create                                      @default hearth-test/busybox:latest
set -euo pipefail
D=${HEARTH_DOCKER_DIR:-/tmp/hearth-docker}
IMAGE=${HEARTH_TEST_IMAGE:-hearth-test/busybox:latest}
SOCK="$D/docker.sock"
export DOCKER_HOST="unix://$SOCK"
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$D"
exec 9>"$D.lock"
flock -w 300 9

apt_install() {
  exec 8>/tmp/hearth-apt.lock
  flock 8
  apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "$@" >&2 || { apt-get update -qq >&2; apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "$@" >&2; }
  exec 8>&-
}
need=()
command -v dockerd >/dev/null || need+=(docker.io)
[ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then apt_install "${need[@]}"; fi

answers() { timeout 5 docker version >/dev/null 2>&1; }
if ! answers; then
  mkdir -p "$D/data" "$D/exec"
  # A stale pidfile from a killed engine would stop dockerd from starting.
  if [ -f "$D/dockerd.pid" ] && ! kill -0 "$(cat "$D/dockerd.pid")" 2>/dev/null; then rm -f "$D/dockerd.pid"; fi
  # No bridge and no iptables: the engine must not touch the host's network (containers use --network none/host).
  setsid dockerd --data-root "$D/data" --exec-root "$D/exec" -H "$DOCKER_HOST" --pidfile "$D/dockerd.pid" \
    --bridge=none --iptables=false --ip6tables=false >"$D/dockerd.log" 2>&1 </dev/null 9>&- &
  # Our own record of the PID: dockerd deletes its --pidfile on exit, and docker-down.sh must find this very process.
  echo $! >"$D/hearth-dockerd.pid"
  for _ in $(seq 300); do answers && break; sleep 0.1; done
  answers || { echo "dockerd did not start; see $D/dockerd.log" >&2; tail -20 "$D/dockerd.log" >&2; exit 1; }
fi

if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  R=$(mktemp -d)
  mkdir -p "$R"/{bin,tmp,proc,sys,dev,etc,root}
  chmod 1777 "$R/tmp"
  cp /bin/busybox "$R/bin/busybox"
  for a in $("$R/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$R/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
  echo 'root:x:0:' >"$R/etc/group"
  tar -C "$R" -c . | docker import -c 'ENV PATH=/bin' - "$IMAGE" >/dev/null
  rm -rf "$R"
fi
echo "DOCKER_HOST=$DOCKER_HOST"
echo "HEARTH_TEST_IMAGE=$IMAGE"
