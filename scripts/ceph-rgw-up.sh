#!/usr/bin/env bash
# Starts a single-node Ceph cluster (1 mon, 1 memstore OSD) with radosgw serving S3 on 127.0.0.1:${RGW_PORT:-7480},
# and two S3 users (CIKEY/CISECRET, CIKEY2/CISECRET2). Idempotent: does nothing when it is already serving.
# Installs the Debian packages when missing. PIDs go to $CEPH_DIR/pids (scripts/ceph-rgw-down.sh stops them).
# Recipe: shared/reference/infra-recipes.md (b).
set -euo pipefail
D=${CEPH_DIR:-/tmp/ceph-ci}
PORT=${RGW_PORT:-7480}
export DEBIAN_FRONTEND=noninteractive
# One start at a time: two concurrent runs would wipe each other's run directory.
exec 9>"$D.lock"
flock -w 600 9

alive() { [ -f "$D/pids" ] && while read -r p; do kill -0 "$p" 2>/dev/null || return 1; done < "$D/pids"; }
if alive && curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then
  echo "ceph-rgw already up on http://127.0.0.1:$PORT"
  exit 0
fi
# A half-dead earlier cluster: stop what is left of it first.
[ -f "$D/pids" ] && bash "$(dirname "$0")/ceph-rgw-down.sh" || true

if ! command -v radosgw >/dev/null || ! command -v ceph-mon >/dev/null || ! command -v ceph-osd >/dev/null; then
  apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 radosgw ceph-mon ceph-osd >/dev/null 2>&1 || {
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 radosgw ceph-mon ceph-osd >/dev/null
  }
fi
command -v curl >/dev/null || apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 curl >/dev/null

rm -rf "$D"; mkdir -p "$D"/{run,mon,osd0,log,rgw} /etc/ceph
FSID=$(cat /proc/sys/kernel/random/uuid); H=$(hostname -s)
cat > /etc/ceph/ceph.conf <<CONF
[global]
fsid = $FSID
mon initial members = $H
mon host = v2:127.0.0.1:3300
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
# without these, radosgw fails: "get_initial_auth_request returned -13" / "failed to fetch mon config"
ms mon client mode = crc
ms client mode = crc
ms mon cluster mode = crc
ms mon service mode = crc
ms cluster mode = crc
ms service mode = crc
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
osd objectstore = memstore
memstore device bytes = ${CEPH_MEM_BYTES:-4294967296}
run dir = $D/run
log file = $D/log/\$name.log
admin socket = $D/run/\$name.asok
pid file = $D/run/\$name.pid
[mon.$H]
mon data = $D/mon
[osd.0]
osd data = $D/osd0
[client.rgw.$H]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $D/rgw
CONF
monmaptool --create --addv "$H" '[v2:127.0.0.1:3300]' --fsid "$FSID" "$D/monmap" >/dev/null
ceph-mon --mkfs -i "$H" --monmap "$D/monmap"
ceph-mon -i "$H"
OSDUUID=$(cat /proc/sys/kernel/random/uuid)
ID=$(timeout 30 ceph osd new "$OSDUUID")
ceph-osd -i "$ID" --mkfs --osd-uuid "$OSDUUID" 2>/dev/null
timeout 30 ceph osd crush add "osd.$ID" 1.0 host="$H" root=default >/dev/null 2>&1
ceph-osd -i "$ID" 2>/dev/null
for i in $(seq 150); do timeout 5 ceph osd stat 2>/dev/null | grep -q '1 up' && break; sleep 0.2; done
radosgw -n "client.rgw.$H"
for i in $(seq 150); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.2; done
for i in $(seq 50); do [ -s "$D/run/client.rgw.$H.pid" ] && break; sleep 0.1; done
cat "$D/run/client.rgw.$H.pid" "$D/run/osd.$ID.pid" "$D/run/mon.$H.pid" | tr -s ' \n' '\n' | grep -E '^[0-9]+$' > "$D/pids"
timeout 60 radosgw-admin user create --uid=ci --display-name=ci --access-key="${S3_KEY:-CIKEY}" --secret="${S3_SECRET:-CISECRET}" >/dev/null
timeout 60 radosgw-admin user create --uid=ci2 --display-name=ci2 --access-key="${S3_KEY2:-CIKEY2}" --secret="${S3_SECRET2:-CISECRET2}" >/dev/null
echo "ceph-rgw up on http://127.0.0.1:$PORT"
