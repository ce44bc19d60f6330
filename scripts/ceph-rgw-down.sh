#!/usr/bin/env bash
# Stops the cluster started by scripts/ceph-rgw-up.sh, by the PIDs it wrote (radosgw, then the OSD, then the mon).
set -uo pipefail
D=${CEPH_DIR:-/tmp/ceph-ci}
[ -f "$D/pids" ] || exit 0
pids=$(cat "$D/pids")
for p in $pids; do kill "$p" 2>/dev/null; for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
for p in $pids; do kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null; done
rm -f "$D/pids"
exit 0
