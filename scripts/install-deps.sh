#!/usr/bin/env bash
# Installs the Debian 12 packages ocx builds and tests with
# (../shared/reference/toolchain.md, beside the repository, lists their versions).
#
# Idempotent: when every package is already installed it touches nothing and
# needs no privileges. Otherwise it runs `apt-get update` once, then installs
# only the missing packages — as root directly, or through sudo. Then it
# runs `npm ci` for the real-model test server when its node_modules is
# missing or older than its package-lock.json.
#
# Usage: scripts/install-deps.sh
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libsqlite3-dev sqlite3
  libgtest-dev libgmock-dev libcli11-dev libyaml-cpp-dev
  libsystemd-dev libcurl4-openssl-dev libssl-dev openssl libcpp-httplib-dev
  prometheus
  python3 procps util-linux
  python3-grpcio python3-grpc-tools
  chromium chromium-driver python3-selenium
  slurm-wlm munge
)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != installed ]]; then
    missing+=("$pkg")
  fi
done
# Node.js runs the real-model test server (tests/tools/llm-server). A node
# that is already on PATH (e.g. NodeSource's 20) is used as it is.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

as_root() {
  if ((EUID == 0)); then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "install-deps: missing ${missing[*]}; run as root or install sudo" >&2
    exit 1
  fi
}

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages are installed"
else
  echo "install-deps: installing ${missing[*]}"
  # `env` so the setting survives sudo's environment reset.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The test server's npm packages (node-llama-cpp with prebuilt llama.cpp
# binaries; no compiling), pinned by package-lock.json. --ignore-scripts:
# the binaries come in @node-llama-cpp/linux-x64, and node-llama-cpp's
# postinstall would only try to fetch or build others.
llm_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/tools/llm-server"
node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 20)); then
  echo "install-deps: warning: node $(node -v) is older than 20, which" \
    "node-llama-cpp 3.21.1 requires (Debian 12's nodejs is 18); the" \
    "real-model tests need Node.js >= 20 on PATH" >&2
fi
if [[ ! -f "$llm_dir/node_modules/node-llama-cpp/package.json" ||
      "$llm_dir/package-lock.json" -nt "$llm_dir/node_modules/.package-lock.json" ]]; then
  echo "install-deps: npm ci in $llm_dir"
  (cd "$llm_dir" && npm ci --omit=optional --ignore-scripts --no-audit --no-fund)
else
  echo "install-deps: $llm_dir/node_modules is up to date"
fi
