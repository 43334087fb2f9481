#!/usr/bin/env bash
# The demo: installs the Debian packages, builds, starts a private ocxd,
# submits examples/demo.yaml with a live view, shows the result, stops ocxd.
#
#   scripts/demo.sh            # OCX_BUILD_DIR overrides build/
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
build_dir=${OCX_BUILD_DIR:-$root/build}

scripts/install-deps.sh
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "${launcher[@]}" >/dev/null
cmake --build "$build_dir" --target ocxd ocxctl ocx-shim

demo_dir=$(mktemp -d /tmp/ocx-demo.XXXXXX)
export OCX_SERVER="unix://$demo_dir/ocxd.sock"
"$build_dir/bin/ocxd" --listen "$OCX_SERVER" --database "$demo_dir/ocx.db" \
  --work-root "$demo_dir/work" 2>"$demo_dir/ocxd.log" &
ocxd_pid=$!
trap 'kill -TERM $ocxd_pid 2>/dev/null; wait $ocxd_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  [ -S "$demo_dir/ocxd.sock" ] && break
  sleep 0.1
done

ocxctl="$build_dir/bin/ocxctl"
echo "==> ocxd is running (log: $demo_dir/ocxd.log); OCX_SERVER=$OCX_SERVER"
echo "==> ocxctl submit examples/demo.yaml --watch"
status=0
"$ocxctl" submit examples/demo.yaml --name demo --watch || status=$?
id=$("$ocxctl" list -o name | head -n 1)
echo
echo "==> ocxctl status $id"
"$ocxctl" status "$id"
echo
echo "==> outputs under $demo_dir/work/$id"
(cd "$demo_dir/work/$id" && find predictions results -type f | sort | head -n 12 &&
  echo "logs/: $(find logs -type f | wc -l) files, one per attempt")
echo "    (the daemon's files stay in $demo_dir)"
exit $status
