#!/usr/bin/env bash
# The demo: installs the Debian packages (and the test server's npm
# packages), builds, starts the real-model test server (stories260K.gguf
# through llama.cpp, tests/tools/llm-server) on 127.0.0.1:18089 and a private
# ocxd, submits examples/tiny-model.yaml with a live view, prints the
# summary table with `ocxctl results`, then stops both.
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
cmake --build "$build_dir" --target ocxd ocxctl ocx-shim ocx-task

demo_dir=$(mktemp -d /tmp/ocx-demo.XXXXXX)
model=${OCX_TEST_MODEL:-$root/../shared/models/stories260K.gguf}
# In a git worktree elsewhere: ../shared beside the main checkout.
if ! [ -f "$model" ]; then
  common=$(git -C "$root" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
  if [ -n "$common" ]; then model=$(dirname "$common")/../shared/models/stories260K.gguf; fi
fi
# examples/tiny-model.yaml names this port in openai_api_base.
node tests/tools/llm-server/server.mjs --model "$model" --port 18089 \
  >"$demo_dir/llm-server.out" 2>"$demo_dir/llm-server.log" &
llm_pid=$!
export OCX_SERVER="unix://$demo_dir/ocxd.sock"
# Run as root, ocxd runs each task as its owner, and root's own evaluations
# only when told to (docs/security.md): the demo's evaluation is root's.
root_flags=()
if [ "$(id -u)" = 0 ]; then root_flags=(--allow-root-tasks); fi
"$build_dir/bin/ocxd" --listen "$OCX_SERVER" --database "$demo_dir/ocx.db" \
  --work-root "$demo_dir/work" "${root_flags[@]}" 2>"$demo_dir/ocxd.log" &
ocxd_pid=$!
trap 'kill -TERM $ocxd_pid $llm_pid 2>/dev/null; wait $ocxd_pid $llm_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q '^listening ' "$demo_dir/llm-server.out" && break
  if ! kill -0 "$llm_pid" 2>/dev/null; then
    echo "demo: the model server did not start:" >&2
    cat "$demo_dir/llm-server.log" >&2
    exit 1
  fi
  sleep 0.1
done
echo "==> model server: $(cat "$demo_dir/llm-server.out") (log: $demo_dir/llm-server.log)"
for _ in $(seq 100); do
  [ -S "$demo_dir/ocxd.sock" ] && break
  sleep 0.1
done

ocxctl="$build_dir/bin/ocxctl"
echo "==> ocxd is running (log: $demo_dir/ocxd.log); OCX_SERVER=$OCX_SERVER"
echo "==> ocxctl submit examples/tiny-model.yaml --watch"
status=0
"$ocxctl" submit examples/tiny-model.yaml --name tiny-model --watch || status=$?
id=$("$ocxctl" list -o name | head -n 1)
echo
echo "==> ocxctl status $id"
"$ocxctl" status "$id"
echo
work_dir=$("$ocxctl" status "$id" -o json |
  python3 -c 'import json, sys; e = json.load(sys.stdin); print(e.get("work_dir") or e["workDir"])')
echo "==> outputs under $work_dir"
(cd "$work_dir" && find predictions results summary -type f | sort | head -n 16 &&
  echo "logs/: $(find logs -type f | wc -l) files, one per attempt")
echo
echo "==> ocxctl results $id"
"$ocxctl" results "$id" || status=$?
echo "    (the daemon's and the model server's files stay in $demo_dir)"
exit $status
