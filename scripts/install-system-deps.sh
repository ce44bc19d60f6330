#!/usr/bin/env bash
# Every Debian package the build and the tests use, installed up front in one apt run: the tests' own scripts
# (docker-up.sh, ceph-rgw-up.sh, bwrap-install.sh, install-boto3.sh) install on demand too, but several test files
# run at once and two apt runs cannot hold dpkg's lock together. Idempotent; skips apt when everything is present.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(python3 g++ make curl bubblewrap busybox-static docker.io radosgw ceph-mon ceph-osd python3-boto3)
need=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
# python3, g++ and make may come from elsewhere than Debian (the image's own toolchains).
for tool in python3 g++ make; do
  if command -v "$tool" >/dev/null; then
    filtered=()
    for p in "${need[@]}"; do [ "$p" = "$tool" ] || filtered+=("$p"); done
    need=("${filtered[@]+"${filtered[@]}"}")
  fi
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${need[@]}"
fi
