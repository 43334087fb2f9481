#!/usr/bin/env bash
# Installs the Debian 12 packages ocx builds and tests with
# (/work/shared/reference/toolchain.md lists their versions).
#
# Idempotent: when every package is already installed it touches nothing and
# needs no privileges. Otherwise it runs `apt-get update` once, then installs
# only the missing packages — as root directly, or through sudo.
#
# Usage: scripts/install-deps.sh
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libsqlite3-dev sqlite3
  libgtest-dev libgmock-dev libcli11-dev libyaml-cpp-dev
  libsystemd-dev libcurl4-openssl-dev
  python3 procps
)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != installed ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

if ((EUID == 0)); then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "install-deps: missing ${missing[*]}; run as root or install sudo" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
# `env` so the setting survives sudo's environment reset.
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}"
