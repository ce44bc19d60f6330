#!/usr/bin/env bash
# Installs Debian's python3-boto3 (for the boto3 test against the gateway) when /usr/bin/python3 lacks it.
# Prints the interpreter to use.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
PY=/usr/bin/python3
if ! [ -x "$PY" ] || ! "$PY" -c 'import boto3' 2>/dev/null; then
  apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 python3 python3-boto3 >/dev/null 2>&1 || {
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 python3 python3-boto3 >/dev/null
  }
fi
echo "$PY"
