#!/usr/bin/env bash
# Runs every test of the workspace against the real tools (OpenSSL, BIND9, nginx, pkilint, the
# Tencent Cloud Python SDK and tccli), installing the tools first when they are missing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/install-test-tools.sh
export CERTKEEPER_VENV="${CERTKEEPER_VENV:-$root/.venv}"
# The SDK honours proxy variables; every test talks to loopback only.
unset HTTP_PROXY HTTPS_PROXY http_proxy https_proxy ALL_PROXY all_proxy

cargo test --workspace --locked "$@"
