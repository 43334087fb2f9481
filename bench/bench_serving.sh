#!/usr/bin/env bash
# Managed model servers (docs/serving.md) against the real tiny-model server
# (tests/tools/llm-server/server.mjs, llama.cpp on one thread), with a
# private ocxd (own socket, database, work root, serving port range).
#
#   bench/bench_serving.sh [build_dir]      (default: build/)
#
# Build first: ninja -C <build_dir> ocxd ocxctl ocx-task ocx-shim
# Environment: OCX_BENCH_SAMPLES (600), OCX_BENCH_TP_SAMPLES (800),
#              OCX_TEST_MODEL (default ../shared/models/stories260K.gguf
#              next to the repository), OCX_BENCH_KEEP (set: keep the
#              temporary directory with ocxd.log and the replica logs).
#
# 1. Managed vs hand-started: the same greedy evaluation of
#    story_gen_2000.jsonl (OCX_BENCH_SAMPLES samples, 12 infer parts,
#    max_concurrency 4, max_num_workers 4) (a) against a server.mjs started
#    by hand beforehand (a fresh one for each run, as (b)'s is fresh) and
#    (b) with `serve: {replicas: 1}`, in the order a, b, a. Wall time =
#    `ocxctl submit` until the evaluation's end_time (`ocxctl status
#    --watch` exits about a second later in both); the server start time of
#    (b) is its replica's ready_time - create_time.
#    ratio_managed = (wall_b - start_b) / mean(wall_a). Target <= 1.05.
# 2. Model loads of (b): the starts of its replicas (attempts; the
#    "listening" lines in their logs must agree). OpenCompass loads an
#    in-process model once per infer task: 12. Target: loads == replicas (1).
# 3. Two replicas vs one: a CPU-bound evaluation (OCX_BENCH_TP_SAMPLES
#    samples, 8 parts, max_num_workers 8, max_concurrency 2) with
#    `replicas: 1`, then `replicas: 2`, each on a fresh pool (the serve env
#    differs). Throughput = samples / infer stage time (first infer task
#    start to last infer task end). ratio_two_replicas = two / one.
#    Target >= 1.6.
#
# Prints a final `RESULT ratio_managed=... loads=... opencompass_loads=12
# ratio_two_replicas=... start_s=...` line. Not part of ctest, nor of
# bench/run_all.sh (like bench_infer.sh: it needs node and the model).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=$(cd "${1:-$root/build}" && pwd)
samples=${OCX_BENCH_SAMPLES:-600}
tp_samples=${OCX_BENCH_TP_SAMPLES:-800}
model=${OCX_TEST_MODEL:-$root/../shared/models/stories260K.gguf}
if [[ ! -f $model ]]; then
  echo "bench_serving: no model at $model; set OCX_TEST_MODEL" >&2
  exit 1
fi
model=$(cd "$(dirname "$model")" && pwd)/$(basename "$model")
for exe in ocxd ocxctl ocx-task ocx-shim; do
  if [[ ! -x $build/bin/$exe ]]; then
    echo "bench_serving: $build/bin/$exe is missing; build target $exe" >&2
    exit 1
  fi
done
for tool in node jq curl; do
  command -v "$tool" >/dev/null || {
    echo "bench_serving: $tool is not in PATH" >&2
    exit 1
  }
done

dir=$(mktemp -d /tmp/ocx-bench-serving.XXXXXX)
work_root=$dir/work
daemon_pid=
hand_pid=
# Replicas run under ocx-shim and outlive ocxd by design: kill the server
# of every attempt (its pid is in the attempt's endpoint file), then ocxd.
kill_servers() {
  local f pid
  for f in "$work_root"/.servers/*/attempt-*/endpoint.json; do
    [[ -f $f ]] || continue
    pid=$(jq -r '.pid // empty' "$f" 2>/dev/null) || continue
    # Only if that pid is still one of our servers (it may have stopped
    # and the pid been reused): they all have OCX_BENCH_DIR=$dir.
    if [[ -n $pid ]] && tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" |
        grep -qxF "OCX_BENCH_DIR=$dir"; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  return 0
}
cleanup() {
  # An evaluation still running (interrupted): its tasks run under ocx-shim
  # too, so have the daemon stop them first.
  if [[ -n ${running_id:-} && -n $daemon_pid ]]; then
    ctl cancel "$running_id" >/dev/null 2>&1 || true
    sleep 0.5
  fi
  kill_servers
  if [[ -n $daemon_pid ]]; then
    { kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null; } || true
  fi
  kill_servers  # one the daemon started while it was being stopped
  if [[ -n $hand_pid ]]; then
    { kill "$hand_pid" 2>/dev/null && wait "$hand_pid" 2>/dev/null; } || true
  fi
  if [[ -n ${OCX_BENCH_KEEP:-} ]]; then
    echo "bench_serving: kept $dir" >&2
  else
    rm -rf "$dir"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port range of our own, away from the default 20000-29999 and from the
# ranges the e2e tests pick.
first_port=$((31000 + ($$ % 400) * 20))
cat >"$dir/ocxd.yaml" <<EOF
serving: {port_range: "$first_port-$((first_port + 19))"}
EOF
export OCX_SERVER=unix://$dir/ocxd.sock
ctl() { "$build/bin/ocxctl" "$@"; }
now_s() { date +%s.%N; }

"$build/bin/ocxd" --config "$dir/ocxd.yaml" --listen "$OCX_SERVER" \
  --database "$dir/ocx.db" --work-root "$work_root" \
  --task-program "$build/bin/ocx-task" --shim "$build/bin/ocx-shim" \
  >"$dir/ocxd.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do
  ctl list >/dev/null 2>&1 && break
  kill -0 "$daemon_pid" 2>/dev/null || break
  sleep 0.1
done
if ! ctl list >/dev/null 2>&1; then
  echo "bench_serving: ocxd did not start:" >&2
  cat "$dir/ocxd.log" >&2
  exit 1
fi

echo "ocxd pid $daemon_pid, ports $first_port-$((first_port + 19));" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"

# Starts a fresh hand-started server (stopping the previous one): sets
# hand_base, and hand_start, the seconds until it printed "listening".
start_hand_server() {
  if [[ -n $hand_pid ]]; then
    { kill "$hand_pid" 2>/dev/null && wait "$hand_pid" 2>/dev/null; } || true
  fi
  node "$root/tests/tools/llm-server/server.mjs" --model "$model" --port 0 \
    >"$dir/hand.out" 2>"$dir/hand.err" &
  hand_pid=$!
  local t0 _
  t0=$(now_s)
  hand_base=
  for _ in $(seq 600); do
    hand_base=$(sed -n 's/^listening //p' "$dir/hand.out")
    [[ -n $hand_base ]] && break
    kill -0 "$hand_pid" 2>/dev/null || break
    sleep 0.05
  done
  hand_start=$(awk -v a="$t0" -v b="$(now_s)" 'BEGIN{printf "%.3f", b - a}')
  if [[ -z $hand_base ]]; then
    echo "bench_serving: the hand-started server did not start:" >&2
    cat "$dir/hand.err" >&2
    exit 1
  fi
}

# The model section: $1 = "hand", or the serve env value of a managed pool
# with $2 replicas; $3 = max_concurrency.
model_yaml() {
  cat <<EOF
models:
  - abbr: stories260K
    type: OpenAISDK
    path: stories260K
    api: completions
    temperature: 0
    max_out_len: 16
    max_concurrency: $3
    retry: 2
    timeout_s: 60
EOF
  if [[ $1 == hand ]]; then
    echo "    openai_api_base: $hand_base"
    return
  fi
  cat <<EOF
    serve:
      command: [node, "$root/tests/tools/llm-server/server.mjs", --model, "$model",
                --host, "{host}", --port, "{port}"]
      replicas: $2
      ready: {path: /v1/models, timeout_s: 120}
      idle_stop_s: 30
      env: {OCX_BENCH_POOL: "$1", OCX_BENCH_DIR: "$dir"}
EOF
}

# Writes $dir/<name>.yaml: model_yaml $2 $3 $4, samples $5, parts $6,
# max_num_workers $7.
write_config() {
  local name=$1
  {
    model_yaml "$2" "$3" "$4"
    cat <<EOF
datasets:
  - abbr: story-gen
    path: $root/tests/data/story_gen_2000.jsonl
    reader_cfg: {input_columns: [prompt], output_column: answer, test_range: "[0:$5]"}
    infer_cfg:
      prompt_template: {type: PromptTemplate, template: "{prompt}"}
      retriever: {type: ZeroRetriever}
      inferencer: {type: GenInferencer, max_out_len: 16}
    eval_cfg: {evaluator: {type: EMEvaluator}}
work_dir: $dir/runs/$name
infer:
  partitioner: {type: NumWorkerPartitioner, num_worker: $6, num_split: $6, min_task_size: 1}
  runner: {type: LocalRunner, max_num_workers: $7, retry: 1}
eval:
  runner: {type: LocalRunner, max_num_workers: 2}
EOF
  } >"$dir/$name.yaml"
}

# Seconds since the epoch of a proto JSON timestamp (RFC 3339, UTC).
jq_ts='def ts: capture("^(?<s>[^.Z]+)(?<f>\\.[0-9]+)?Z$")
  | ((.s + "Z") | fromdateiso8601) + ((.f // ".0") | ("0" + .) | tonumber);'

# Submits $dir/$1.yaml and waits for the evaluation to end. Sets last_id,
# last_t0 (submit time), last_wall (seconds from submit to the evaluation's
# end_time) and last_watch (to the exit of `ocxctl status --watch`).
run_eval() {
  local name=$1 t0 t1
  t0=$(now_s)
  last_id=$(ctl -o name submit "$dir/$name.yaml" 2>"$dir/$name.err") || {
    echo "bench_serving: submit of $name failed:" >&2
    cat "$dir/$name.err" >&2
    exit 1
  }
  running_id=$last_id
  if ! ctl status --watch "$last_id" >"$dir/$name.watch" 2>&1; then
    echo "bench_serving: evaluation $name ($last_id) did not succeed:" >&2
    tail -n 30 "$dir/$name.watch" >&2
    ctl tasks "$last_id" >&2 || true
    exit 1
  fi
  t1=$(now_s)
  running_id=
  last_t0=$t0
  # The evaluation's own end time: `status --watch` exits up to a second
  # after it (its stream), a delay a user does not wait for.
  last_wall=$(ctl -o json status "$last_id" | jq -r --argjson t0 "$t0" "$jq_ts"'
    (.end_time // .evaluation.end_time) | ts | . - $t0 | . * 1000 | round / 1000')
  last_watch=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}')
}

# The replicas (as JSON lines) of the pools evaluation $1 used.
replicas_of() {
  ctl -o json servers --all --evaluation "$1" | jq -c '.servers[]?.replicas[]?'
}

# Infer stage of evaluation $1: seconds from the first infer task's start to
# the last one's end.
infer_stage_s() {
  ctl -o json tasks --stage infer "$1" | jq -r "$jq_ts"'
    [.tasks[]] | ((map(.end_time | ts) | max) - (map(.start_time | ts) | min))
    | . * 1000 | round / 1000'
}

# Where the wall time of evaluation $1, submitted at $2, went: seconds
# after submit of the first infer task's start, the last infer task's end
# and the last task's end.
phases() {
  ctl -o json tasks "$1" | jq -r --argjson t0 "$2" "$jq_ts"'
    def r: . - $t0 | . * 1000 | round / 1000;
    [.tasks[] | select(.stage == "STAGE_INFER")] as $infer
    | "first infer start +\($infer | map(.start_time | ts) | min | r) s,"
      + " last infer end +\($infer | map(.end_time | ts) | max | r) s,"
      + " last task end +\([.tasks[].end_time | ts] | max | r) s"'
}

# Infer tasks of evaluation $1 per replica, "srv-…-1:4 srv-…-2:4".
tasks_per_replica() {
  local t
  for t in $(ctl -o json tasks --stage infer "$1" | jq -r '.tasks[].id'); do
    ctl -o json task "$t" | jq -r '.attempts[-1].replica_id'
  done | sort | uniq -c | awk '{printf "%s%s:%s", (NR > 1 ? " " : ""), $2, $1}'
}

echo "== 1. managed vs hand-started: $samples samples, 12 infer parts," \
  "max_concurrency 4, max_num_workers 4"
# Each (a) gets a server of its own, started just before it as a user
# would, because (b) too runs on a fresh server: a server's first few hundred
# requests are slower than later ones (node and llama.cpp warming up), which
# would otherwise favour the second (a).
# run_hand NAME: the evaluation on a fresh hand-started server.
run_hand() {
  start_hand_server
  write_config "$1" hand 0 4 "$samples" 12 4
  run_eval "$1"
  echo "$1 hand-started: wall $last_wall s (watch exit $last_watch s) ($last_id):" \
    "$(phases "$last_id" "$last_t0"); server $hand_base listening after $hand_start s"
}
write_config b managed 1 4 "$samples" 12 4
run_hand a1
wall_a1=$last_wall
run_eval b
wall_b=$last_wall
id_b=$last_id
replica_b=$(replicas_of "$id_b")
start_b=$(jq -rs "$jq_ts"'map((.ready_time | ts) - (.create_time | ts)) | max
  | . * 1000 | round / 1000' <<<"$replica_b")
ready_b=$(jq -rs --argjson t0 "$last_t0" "$jq_ts"'
  map(.ready_time | ts) | max - $t0 | . * 1000 | round / 1000' <<<"$replica_b")
echo "b  managed:      wall $wall_b s (watch exit $last_watch s) ($id_b)," \
  "server start $start_b s, replicas $(jq -s length <<<"$replica_b")," \
  "ready +$ready_b s: $(phases "$id_b" "$last_t0")"
run_hand a2
wall_a2=$last_wall
ratio_managed=$(awk -v b="$wall_b" -v s="$start_b" -v x="$wall_a1" -v y="$wall_a2" \
  'BEGIN{printf "%.3f", (b - s) / ((x + y) / 2)}')
echo "ratio_managed = ($wall_b - $start_b) / mean($wall_a1, $wall_a2) = $ratio_managed" \
  "(target <= 1.05: $(awk -v r="$ratio_managed" 'BEGIN{print (r <= 1.05 ? "met" : "MISSED")}'))"

echo "== 2. model loads of b"
loads=$(jq -s 'map(.attempt) | add // 0' <<<"$replica_b")
listening=0
for id in $(jq -r '.id' <<<"$replica_b"); do
  n=$(cat "$work_root/.servers/$id"/attempt-*.log 2>/dev/null | grep -c '^listening ' || true)
  listening=$((listening + n))
done
replicas_b=$(jq -s length <<<"$replica_b")
if [[ $loads -ne $replicas_b ]]; then
  # Why a replica was started again: its state, its last reason, the end
  # of each attempt's log and what ocxd said about it.
  jq -r '"\(.id): \(.state), attempt \(.attempt), reason: \(.reason // "")"' <<<"$replica_b"
  for id in $(jq -r '.id' <<<"$replica_b"); do
    for log in "$work_root/.servers/$id"/attempt-*.log; do
      echo "-- $log (last lines)"
      tail -n 5 "$log"
    done
    grep -F "$id" "$dir/ocxd.log" | tail -n 10 || true
  done
fi
echo "loads=$loads (replica attempts; 'listening' lines in their logs: $listening)," \
  "replicas $replicas_b, OpenCompass (one per infer task): 12" \
  "(target loads == replicas: $([[ $loads -eq $replicas_b ]] && echo met || echo MISSED))"

echo "== 3. two replicas vs one: $tp_samples samples, 8 infer parts," \
  "max_concurrency 2, max_num_workers 8"
# Each pool first cold (its replicas start for this evaluation: the
# measurement), then warm: the same evaluation again on the same pool while
# its replicas are still READY (idle_stop_s 30), which shows what routing
# does when every replica is ready before the first task is launched.
declare -A tp
for n in 1 2; do
  for phase in cold warm; do
    name=tp$n-$phase
    write_config "$name" "pool-$n-$$" "$n" 2 "$tp_samples" 8 8
    run_eval "$name"
    stage=$(infer_stage_s "$last_id")
    tp[$n-$phase]=$(awk -v s="$tp_samples" -v t="$stage" 'BEGIN{printf "%.2f", s / t}')
    echo "replicas $n, $phase: wall $last_wall s, infer stage $stage s =" \
      "${tp[$n-$phase]} samples/s; infer tasks per replica:" \
      "$(tasks_per_replica "$last_id"); $(phases "$last_id" "$last_t0") ($last_id)"
  done
  echo "replicas $n: ready after $(replicas_of "$last_id" | jq -rs "$jq_ts"'
    map((.ready_time | ts) - (.create_time | ts) | . * 1000 | round / 1000)
    | map(tostring + " s") | join(", ")')"
done
ratio_two=$(awk -v a="${tp[1-cold]}" -v b="${tp[2-cold]}" 'BEGIN{printf "%.3f", b / a}')
ratio_warm=$(awk -v a="${tp[1-warm]}" -v b="${tp[2-warm]}" 'BEGIN{printf "%.3f", b / a}')
echo "ratio_two_replicas = ${tp[2-cold]} / ${tp[1-cold]} = $ratio_two" \
  "(target >= 1.6: $(awk -v r="$ratio_two" 'BEGIN{print (r >= 1.6 ? "met" : "MISSED")}'));" \
  "on warm pools ${tp[2-warm]} / ${tp[1-warm]} = $ratio_warm"

echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "RESULT ratio_managed=$ratio_managed loads=$loads opencompass_loads=12" \
  "ratio_two_replicas=$ratio_two start_s=$start_b ratio_two_replicas_warm=$ratio_warm"
