#!/usr/bin/env bash
# Installs the programs the test suite runs against, when they are missing:
# Debian packages (BIND9, nginx, OpenSSL, curl, a JDK for keytool) and a Python
# virtualenv in .venv with pkilint, the Tencent Cloud SDK, tccli and aiosmtpd; and
# cargo-fuzz from crates.io.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv=${CERTKEEPER_VENV:-$root/.venv}

missing=()
command -v named >/dev/null || missing+=(bind9)
command -v nsupdate >/dev/null || missing+=(bind9-dnsutils)
command -v tsig-keygen >/dev/null || missing+=(bind9-utils)
command -v nginx >/dev/null || missing+=(nginx)
command -v openssl >/dev/null || missing+=(openssl)
command -v curl >/dev/null || missing+=(curl)
command -v keytool >/dev/null || missing+=(default-jdk-headless)
command -v python3 >/dev/null || missing+=(python3 python3-venv)

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: ${missing[*]} missing and not running as root; install them with apt-get" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python_packages=(pkilint tencentcloud-sdk-python tccli aiosmtpd)
if [ ! -x "$venv/bin/python" ]; then
  echo "creating Python virtualenv in $venv"
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import pkilint, tencentcloud, aiosmtpd' 2>/dev/null \
   || [ ! -x "$venv/bin/tccli" ]; then
  echo "installing Python packages: ${python_packages[*]}"
  "$venv/bin/pip" install -q --disable-pip-version-check "${python_packages[@]}"
fi

# cargo-fuzz runs the upload parser's fuzz target in scripts/test.sh.
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install --locked --quiet cargo-fuzz
fi

echo "test tools ready: named $(named -v | cut -d' ' -f2), $(nginx -v 2>&1 | cut -d' ' -f3), $(openssl version | cut -d' ' -f1-2)"
