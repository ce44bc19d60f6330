#!/usr/bin/env bash
# Debian packages the tests need. Idempotent; skips apt when everything is present.
set -euo pipefail
need=()
command -v python3 >/dev/null || need+=(python3)
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
