#!/usr/bin/env bash
# Installs bubblewrap (the host runtime's sandbox) when it is missing. Idempotent; safe to run concurrently.
set -euo pipefail
command -v bwrap >/dev/null && exit 0
export DEBIAN_FRONTEND=noninteractive
exec 9>/tmp/hearth-apt.lock
flock 9
command -v bwrap >/dev/null && exit 0
# apt-get update only when the package is not known yet (a fresh machine has empty lists).
apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 bubblewrap >/dev/null 2>&1 || {
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 bubblewrap >/dev/null
}
command -v bwrap >/dev/null
