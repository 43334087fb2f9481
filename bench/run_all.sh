#!/usr/bin/env bash
# Runs every benchmark of bench/ from a build directory and checks the
# issue's targets against the final `RESULT name=value ...` line of each.
#
#   bench/run_all.sh [--million] [build_dir]   (default: build/ at the
#                                               repository root)
#
# Build them first: ninja -C <build_dir> bench_dispatch bench_submit bench_memory bench_plan
#   bench_spec_storage bench_load bench_metrics bench_waiting (and bench_million); ocxd ocxctl ocx-shim
#   (bench_ocxctl_startup.sh)
# --million also runs bench_million (a real ocxd with a queued
# 1,000,000-task evaluation: several minutes and ~1 GB of disk).
#   (and, for bench_console, ocxd ocxctl ocx-shim ocx-test-task)
# Each benchmark's full output goes to stdout and to <build_dir>/bench-logs/.
# Speed targets are ratios against baselines measured in the same process
# (the machines are shared and noisy), or absolute figures printed next to
# their baselines.
#
# Optional: bench/bench_console.py (ocxd's wall time for no-op evaluations
# with headless Chromium showing the evaluation's console page and a
# /metrics scrape every second, against nothing watching, rounds
# alternating; also with a blank page, both again with the browser at
# nice 19, and with the page's requests made without a browser; about 8
# minutes).
# It needs ocxd ocxctl ocx-shim ocx-test-task, chromium, chromedriver and
# python3-selenium, and is skipped, with the reason printed, when one is
# missing.
#
# Not run here (they need node and the tiny model, or a Slurm cluster, and
# print their own RESULT line): bench/bench_infer.sh (ocx-task vs a plain
# client), bench/bench_serving.sh (managed model servers: managed vs
# hand-started wall time, model loads, two replicas vs one) and
# bench/bench_slurm.sh.
#
# Exit status: 0 when every benchmark ran (a MISS is a finding, reported in
# the table, and so is a SKIP of the optional bench_console), 1 when a
# benchmark failed or printed no RESULT line.
set -u -o pipefail

million=0
if [[ ${1:-} == --million ]]; then
  million=1
  shift
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=${1:-$root/build}
if [[ ! -d $build ]]; then
  echo "run_all.sh: no build directory $build" >&2
  exit 1
fi
build=$(cd "$build" && pwd)
logs=$build/bench-logs
mkdir -p "$logs"

benches=(dispatch submit memory plan spec_storage load metrics waiting)
((million)) && benches+=(million)
declare -A result status
for b in "${benches[@]}"; do
  exe=$build/bin/bench_$b
  echo "==== bench_$b ($(date -u +%H:%M:%S) UTC, load average: $(cut -d' ' -f1-3 /proc/loadavg))"
  if [[ ! -x $exe ]]; then
    echo "run_all.sh: $exe is missing; build target bench_$b" >&2
    status[$b]=missing
    continue
  fi
  "$exe" 2>&1 | tee "$logs/bench_$b.log"
  rc=$?
  line=$(grep '^RESULT ' "$logs/bench_$b.log" | tail -n 1)
  if [[ $rc -ne 0 || -z $line ]]; then
    status[$b]="failed (exit $rc)"
  else
    status[$b]=ok
    result[$b]=$line
  fi
  echo
done

# The one script among them (it needs ocxd, ocxctl and ocx-shim built).
echo "==== bench_ocxctl_startup ($(date -u +%H:%M:%S) UTC, load average: $(cut -d' ' -f1-3 /proc/loadavg))"
"$here/bench_ocxctl_startup.sh" "$build" 2>&1 | tee "$logs/bench_ocxctl_startup.log"
rc=$?
line=$(grep '^RESULT ' "$logs/bench_ocxctl_startup.log" | tail -n 1)
if [[ $rc -ne 0 || -z $line ]]; then
  status[ocxctl_startup]="failed (exit $rc)"
else
  status[ocxctl_startup]=ok
  result[ocxctl_startup]=$line
fi

# bench_console runs with the system python3, which has Debian's selenium;
# it exits 77 (skipped) with the reason when something it needs is missing.
echo "==== bench_console ($(date -u +%H:%M:%S) UTC, load average: $(cut -d' ' -f1-3 /proc/loadavg))"
python=/usr/bin/python3
[[ -x $python ]] || python=python3
"$python" "$here/bench_console.py" "$build" 2>&1 | tee "$logs/bench_console.log"
rc=$?
line=$(grep '^RESULT ' "$logs/bench_console.log" | tail -n 1)
if [[ $rc -eq 77 ]]; then
  status[console]="skipped: $(sed -n 's/^bench_console: skipped: //p' "$logs/bench_console.log" | tail -n 1)"
elif [[ $rc -ne 0 || -z $line ]]; then
  status[console]="failed (exit $rc)"
else
  status[console]=ok
  result[console]=$line
fi
echo

# value BENCH KEY: the KEY=value of BENCH's RESULT line.
value() {
  local line=${result[$1]:-}
  sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$line"
}

failed=0
rows=()
# row BENCH KEY OP LIMIT TARGET-TEXT DETAIL-TEXT
row() {
  local b=$1 key=$2 op=$3 limit=$4 target=$5 detail=$6 v verdict
  if [[ ${status[$b]:-} == skipped:* ]]; then
    rows+=("bench_$b|$target|-|${status[$b]}|SKIP")
    return
  fi
  if [[ ${status[$b]:-} != ok ]]; then
    rows+=("bench_$b|$target|-|${status[$b]:-not run}|ERROR")
    failed=1
    return
  fi
  v=$(value "$b" "$key")
  if [[ -z $v ]]; then
    rows+=("bench_$b|$target|-|no $key in RESULT|ERROR")
    failed=1
    return
  fi
  if awk -v v="$v" -v l="$limit" -v op="$op" \
      'BEGIN { exit !((op == "<" && v < l) || (op == "<=" && v <= l) ||
                     (op == ">=" && v >= l)) }'; then
    verdict=PASS
  else
    verdict=MISS
  fi
  rows+=("bench_$b|$target|$key=$v|$detail|$verdict")
}

row dispatch ratio ">=" 0.9 \
  "5,000 tasks of /bin/true (worst case): ocx/xargs tasks/s >= 0.9" \
  "$(value dispatch ocx_tasks_per_s) vs $(value dispatch xargs_tasks_per_s) tasks/s (xargs runs differ x$(value dispatch xargs_spread)); vs ocx-shim alone $(value dispatch ratio_vs_shim_only); CPU ratio $(value dispatch cpu_ratio)"
row dispatch python_ratio ">=" 0.9 \
  "500 tasks of python3 -c pass: ocx/xargs tasks/s >= 0.9" \
  "$(value dispatch python_ocx_tasks_per_s) vs $(value dispatch python_xargs_tasks_per_s) tasks/s (xargs runs differ x$(value dispatch python_xargs_spread)); CPU ratio $(value dispatch python_cpu_ratio)"
row submit create_s "<" 0.3 \
  "CreateEvaluation of 10,000 tasks < 0.3 s" \
  "raw SQLite insert $(value submit raw_sqlite_s) s, ratio $(value submit ratio_create_vs_sqlite)"
row submit ratio_create_vs_sqlite "<" 1.5001 \
  "CreateEvaluation of 10,000 tasks <= 1.5x a raw SQLite insert" \
  "$(value submit create_s) s vs $(value submit raw_sqlite_s) s"
row submit status_ms "<" 50 \
  "ocxctl status of it < 50 ms" \
  "2-task eval $(value submit status_small_ms) ms, ocxctl list $(value submit list_ms) ms; GetEvaluation $(value submit get_ms) ms (p95 $(value submit get_p95_ms))"
row memory hwm_mb "<" 100 \
  "ocxd VmHWM with 100,000 finished tasks < 100 MB" \
  "empty database $(value memory empty_hwm_mb) MB, ratio $(value memory ratio_hwm_vs_empty)"

row plan plan_s "<" 1 \
  "plan 200 models x 500 datasets (SizePartitioner) < 1 s" \
  "$(value plan tasks) tasks; PlanTasks alone $(value plan plan_tasks_only_s) s; NaivePartitioner, same task count, $(value plan naive_plan_s) s (per-task ratio $(value plan ratio_plan_per_task)); VmHWM $(value plan hwm_mb) MB"
row plan commit_s "<" 3 \
  "commit those tasks in one transaction < 3 s" \
  "NaivePartitioner, same task count, $(value plan naive_commit_s) s (per-task ratio $(value plan ratio_commit_per_task))"

row spec_storage plan_hwm_mb "<" 150 \
  "plan 117,200 tasks with VmHWM < 150 MB" \
  "$(value spec_storage plan_tasks) tasks; holding expanded params as before $(value spec_storage plan_hwm_mb_before) MB (x$(value spec_storage ratio_plan_hwm))"
row spec_storage ratio_db ">=" 5 \
  "100 models x 50 datasets: database bytes before/now >= 5" \
  "$(value spec_storage db_mb_before) MB -> $(value spec_storage db_mb_now) MB; params x$(value spec_storage ratio_params)"

row load ratio_get_p99_vs_health "<=" 2 \
  "under load: GetEvaluation p99 <= 2x health-check p99" \
  "$(value load get_p99_ms) vs $(value load health_p99_ms) ms; ocxd CPU $(value load cpu_s_per_1k_requests) s per 1,000 requests"
row load ratio_create_vs_get_p50 "<=" 5 \
  "under load: CreateEvaluation p50 <= 5x GetEvaluation p50" \
  "$(value load create_p50_ms) vs $(value load get_p50_ms) ms; dispatcher turn mean $(value load turn_ms) ms, $(value load turn_tx_share) of it in write transactions"
row load db_fds_during "<=" 7 \
  "under load: database descriptors <= read_connections (4) + 3" \
  "before $(value load db_fds_before), after $(value load db_fds_after)"
row waiting mem_ratio "<=" 1.25 \
  "tasks waiting for their endpoint cost <= 1.25x tasks waiting for a slot" \
  "$(value waiting tasks) tasks; $(value waiting rss_per_task_endpoint) vs $(value waiting rss_per_task_slot) bytes a task; CPU while waiting $(value waiting cpu_endpoint_s) s vs $(value waiting cpu_slot_s) s"
if ((million)); then
  row million create_s "<" 10 \
    "create a 1,000,000-task evaluation < 10 s" \
    "$(value million tasks) tasks; database $(value million db_mb) MB"
  row million hwm_queued_mb "<" 300 \
    "ocxd VmHWM with 1M tasks queued < 300 MB" \
    "VmRSS $(value million rss_queued_mb) MB; empty daemon $(value million hwm_empty_mb) MB"
  row million hwm_ended_mb "<" 100 \
    "ocxd VmHWM with them finished < 100 MB" \
    "restarted daemon; first daemon's VmRSS after the cancel $(value million rss_ended_mb) MB"
  row million ratio_get_vs_health "<" 2.0001 \
    "GetEvaluation p50 <= 2x health check p50" \
    "$(value million get_p50_ms) vs $(value million health_p50_ms) ms (full view $(value million get_full_p50_ms) ms)"
  row million status_ms "<" 50 \
    "ocxctl status of it < 50 ms" \
    "ocxctl --help $(value million help_ms) ms; after the end $(value million status_ended_ms) ms"
fi
row ocxctl_startup libraries "<" 58 \
  "ocxctl maps fewer shared libraries than 58" \
  "statically linked where Debian ships .a files (OCX_STATIC_CLIENT)"
row ocxctl_startup ratio "<" 2.0001 \
  "ocxctl status of a small evaluation within 2x ocxctl --version" \
  "status $(value ocxctl_startup status_ms) ms, --version $(value ocxctl_startup version_ms) ms"
row metrics metrics_ms "<" 50 \
  "/metrics with 1,000,000 tasks stored < 50 ms" \
  "/healthz $(value metrics healthz_ms) ms (x$(value metrics metrics_vs_healthz)), GetEvaluation $(value metrics get_evaluation_ms) ms, the old GROUP BY $(value metrics group_by_ms) ms; ocxd start $(value metrics start_s) s"
row console console_dispatch_ratio "<=" 1.05 \
  "browser on the console + /metrics each second: dispatch wall B/A <= 1.05" \
  "$(value console tasks) tasks, median $(value console b_wall_s) s vs $(value console a_wall_s) s without; ocxd CPU/task x$(value console ocxd_cpu_ratio), browser $(value console b_browser_cpu_s) s CPU; blank browser x$(value console blank_dispatch_ratio) (page over blank x$(value console console_over_blank_ratio)); browser at nice 19 x$(value console niced_console_dispatch_ratio) (over blank x$(value console niced_console_over_blank_ratio)); same requests without a browser x$(value console script_dispatch_ratio)"

echo "==== summary"
{
  echo "benchmark|target|measured|baseline / detail|result"
  echo "---------|------|--------|-----------------|------"
  printf '%s\n' "${rows[@]}"
} | awk -F'|' '
  { for (i = 1; i <= NF; ++i) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR; nf = NF }
  END { for (r = 1; r <= n; ++r) { line = ""
          for (i = 1; i < nf; ++i) line = line sprintf("%-*s  ", w[i], cell[r, i])
          line = line cell[r, nf]
          print line } }'
echo "logs: $logs"
exit $failed
