#!/usr/bin/env bash
# How fast ocxctl starts (issue 15): `ocxctl status ID` of a small finished
# evaluation against `ocxctl --version` (no connection: process start,
# dynamic loading and static initializers only), both measured here, in
# the same run, against a private ocxd (own socket, database and work root).
# Also counts the shared libraries ocxctl maps (`ldd`).
#
#   bench/bench_ocxctl_startup.sh [build_dir]      (default: build/)
#
# Build first: ninja -C <build_dir> ocxd ocxctl ocx-shim
# Environment: OCX_BENCH_RUNS (40): runs of each command; the median is
# reported. OCX_BENCH_OCXCTL: another ocxctl to measure the same way (e.g.
# one built with -DOCX_STATIC_CLIENT=OFF), as a baseline.
#
# Prints `RESULT libraries=N version_ms=... status_ms=... ratio=...`;
# targets: ratio <= 2 (status within 2x --version), libraries < 58 (what
# ocxctl mapped when everything was linked shared).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=$(cd "${1:-$root/build}" && pwd)
runs=${OCX_BENCH_RUNS:-40}
for exe in ocxd ocxctl ocx-shim; do
  if [[ ! -x $build/bin/$exe ]]; then
    echo "bench_ocxctl_startup: $build/bin/$exe is missing; build it" >&2
    exit 1
  fi
done

dir=$(mktemp -d /tmp/ocx-bench-startup.XXXXXX)
daemon_pid=
cleanup() {
  if [[ -n $daemon_pid ]]; then
    { kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null; } || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export OCX_SERVER=unix://$dir/ocxd.sock
ocxctl=${OCX_BENCH_OCXCTL:-$build/bin/ocxctl}
ctl() { "$ocxctl" "$@"; }
"$build/bin/ocxd" --listen "$OCX_SERVER" --database "$dir/ocx.db" \
  --work-root "$dir/work" --shim "$build/bin/ocx-shim" \
  $([[ $(id -u) == 0 ]] && echo --allow-root-tasks) \
  >"$dir/ocxd.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do
  ctl list >/dev/null 2>&1 && break
  kill -0 "$daemon_pid" 2>/dev/null || break
  sleep 0.1
done
if ! ctl list >/dev/null 2>&1; then
  echo "bench_ocxctl_startup: ocxd did not start:" >&2
  cat "$dir/ocxd.log" >&2
  exit 1
fi

# A small evaluation: 2 models x 2 datasets of no-op command tasks.
cat >"$dir/eval.yaml" <<EOF
models:
  - {abbr: m0, type: OpenAISDK, path: p0}
  - {abbr: m1, type: OpenAISDK, path: p1}
datasets:
  - {abbr: d0, path: /data/d0.jsonl}
  - {abbr: d1, path: /data/d1.jsonl}
infer: {runner: {task: {type: command, argv: [/bin/true]}}}
eval: {runner: {task: {type: command, argv: [/bin/true]}}}
EOF
id=$(ctl -o name submit "$dir/eval.yaml")
ctl status --watch "$id" >/dev/null 2>&1 || true

# ms CMD...: one run's wall time in microseconds.
us() {
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null
  end=$(date +%s%N)
  echo $(((end - start) / 1000))
}
# median FILE: the median of its numbers (microseconds), in ms.
median() {
  sort -n "$1" | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] / 1000 }'
}

libraries=$(ldd "$ocxctl" | wc -l)
ctl --version >/dev/null
ctl status "$id" | grep -q SUCCEEDED || {
  echo "bench_ocxctl_startup: the evaluation did not succeed:" >&2
  ctl status "$id" >&2
  exit 1
}
# Alternating runs, so that the machine's load changes hit both alike.
: >"$dir/version.us"
: >"$dir/status.us"
for ((i = 0; i < runs; ++i)); do
  us ctl --version >>"$dir/version.us"
  us ctl status "$id" >>"$dir/status.us"
done
version_ms=$(median "$dir/version.us")
status_ms=$(median "$dir/status.us")
ratio=$(awk -v s="$status_ms" -v v="$version_ms" 'BEGIN { printf "%.2f", s / v }')

echo "ocxctl maps $libraries shared libraries (ldd lines; 58 when linked shared)"
ldd "$ocxctl" | awk '{ print "  " $1 }'
echo "ocxctl --version: median $version_ms ms; ocxctl status (4-task" \
  "evaluation): median $status_ms ms; ratio $ratio (target <= 2)"
echo "RESULT libraries=$libraries version_ms=$version_ms status_ms=$status_ms ratio=$ratio"
