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

# The upload parser's fuzz target, for CERTKEEPER_FUZZ_SECONDS (default 30). libFuzzer needs
# flags that only nightly Rust accepts; without a nightly toolchain, RUSTC_BOOTSTRAP=1 lets the
# stable compiler accept them. New inputs go to a scratch directory, and a crash stops the run
# with the input saved under fuzz/artifacts/upload/ (add it to fuzz/corpus/upload once fixed).
fuzz_seconds=${CERTKEEPER_FUZZ_SECONDS:-30}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
else
  fuzz=(env RUSTC_BOOTSTRAP=1 cargo fuzz)
fi
"${fuzz[@]}" run upload "$scratch" fuzz/corpus/upload crates/certkeeper-api/tests/corpus/upload \
  -- -max_total_time="$fuzz_seconds" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1
