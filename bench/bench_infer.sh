#!/usr/bin/env bash
# Throughput of `ocx-task infer` against the real-model test server, as a
# ratio to a plain concurrent client (bench/plain_openai_client.cc, which
# shares no code with ocx) at the same concurrency, measured in the same run.
#
#   bench/bench_infer.sh [build_dir]      (default: build/)
#
# Build first: ninja -C <build_dir> ocx-task plain_openai_client
# Environment: OCX_BENCH_SAMPLES (2000), OCX_BENCH_CONCURRENCY (8),
#              OCX_BENCH_MAX_TOKENS (16).
#
# Both clients send the same 2,000 greedy prompts of
# tests/data/story_gen_2000.jsonl; tokens/s counts the completion tokens the
# server reports having generated (its GET /ocx/stats), over the client's
# wall time. The order is plain, ocx, plain; the ratio is ocx over the mean
# of the two plain runs, so drift on a shared machine is split evenly.
# ocx-task's CPU time per request is its user+sys (bash `time`) over the
# number of requests. Target: ratio >= 0.90.
#
# Prints a final `RESULT ratio=... ocx_tokens_per_s=... plain_tokens_per_s=...
# ocx_cpu_ms_per_request=...` line. Not part of ctest.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=$(cd "${1:-$root/build}" && pwd)
samples=${OCX_BENCH_SAMPLES:-2000}
concurrency=${OCX_BENCH_CONCURRENCY:-8}
max_tokens=${OCX_BENCH_MAX_TOKENS:-16}
model=${OCX_TEST_MODEL:-$root/../shared/models/stories260K.gguf}
# In a git worktree elsewhere: ../shared beside the main checkout.
if ! [[ -f $model ]]; then
  common=$(git -C "$root" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
  if [ -n "$common" ]; then model=$(dirname "$common")/../shared/models/stories260K.gguf; fi
fi
for exe in ocx-task plain_openai_client; do
  if [[ ! -x $build/bin/$exe ]]; then
    echo "bench_infer: $build/bin/$exe is missing; build target $exe" >&2
    exit 1
  fi
done

dir=$(mktemp -d /tmp/ocx-bench-infer.XXXXXX)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

head -n "$samples" "$root/tests/data/story_gen_2000.jsonl" >"$dir/data.jsonl"
n=$(wc -l <"$dir/data.jsonl")

node "$root/tests/tools/llm-server/server.mjs" --model "$model" --port 0 \
  >"$dir/server.out" 2>"$dir/server.err" &
server_pid=$!
base=
for _ in $(seq 300); do
  base=$(sed -n 's/^listening //p' "$dir/server.out")
  [[ -n $base ]] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ -z $base ]]; then
  echo "bench_infer: the test server did not start:" >&2
  cat "$dir/server.err" >&2
  exit 1
fi
echo "server $base (pid $server_pid), $n prompts, concurrency $concurrency, max_tokens $max_tokens"

completion_tokens() {
  curl -s "${base%/v1}/ocx/stats" | sed -n 's/.*"completion_tokens":\([0-9]*\).*/\1/p'
}

# tokens/s of one run: $1 = label, rest = command. Sets last_tps, last_cpu_s.
run() {
  local label=$1
  shift
  local before after
  before=$(completion_tokens)
  local TIMEFORMAT='%R %U %S'
  local times
  { times=$( { time "$@" >"$dir/$label.out" 2>"$dir/$label.err"; } 2>&1 ); } || {
    echo "bench_infer: $label failed:" >&2
    tail -n 20 "$dir/$label.err" >&2
    exit 1
  }
  after=$(completion_tokens)
  read -r wall user sys <<<"$times"
  last_tps=$(awk -v t=$((after - before)) -v w="$wall" 'BEGIN{printf "%.1f", t / w}')
  last_cpu_s=$(awk -v u="$user" -v s="$sys" 'BEGIN{printf "%.3f", u + s}')
  printf '%-8s %6d tokens in %7.2f s = %8.1f tokens/s (cpu %s s)\n' \
    "$label" $((after - before)) "$wall" "$last_tps" "$last_cpu_s"
}

plain() {
  "$build/bin/plain_openai_client" --base-url "$base" --data "$dir/data.jsonl" \
    --column prompt --model stories260K --concurrency "$concurrency" \
    --max-tokens "$max_tokens"
}

# The task ocxd would hand ocx-task for this dataset (TaskParams as JSON).
work="$dir/work"
task_dir="$work/.ocx/tasks/bench-infer-0"
mkdir -p "$task_dir/attempt-1"
cat >"$task_dir/task.json" <<EOF
{
  "evaluationId": "bench",
  "taskId": "bench-infer-0",
  "stage": "STAGE_INFER",
  "workDir": "$work",
  "model": {
    "abbr": "stories260K", "type": "OpenAISDK", "path": "stories260K",
    "openaiApiBase": "$base", "api": "completions", "temperature": 0,
    "maxOutLen": $max_tokens, "maxConcurrency": $concurrency,
    "retry": 2, "timeoutS": 60
  },
  "datasets": [{
    "config": {
      "abbr": "bench-gen", "path": "$dir/data.jsonl",
      "readerCfg": {"inputColumns": ["prompt"], "outputColumn": "answer"},
      "inferCfg": {
        "promptTemplate": {"type": "PromptTemplate", "template": "{prompt}"},
        "retriever": {"type": "ZeroRetriever"},
        "inferencer": {"type": "GenInferencer", "maxOutLen": $max_tokens}
      }
    },
    "baseAbbr": "bench-gen", "part": 0, "numParts": 1, "numSamples": "$n"
  }],
  "expectedOutputs": ["predictions/stories260K/bench-gen.json"]
}
EOF
ocx_task() {
  rm -rf "$work/predictions" "$task_dir/attempt-1"
  mkdir -p "$task_dir/attempt-1"
  OCX_TASK_ID=bench-infer-0 OCX_ATTEMPT=1 OCX_ATTEMPT_DIR="$task_dir/attempt-1" \
    OCX_TASK_JSON="$task_dir/task.json" OCX_WORK_DIR="$work" \
    "$build/bin/ocx-task" infer "$task_dir/task.json"
}

# A short warm-up, so the first measured run does not pay for a cold server.
head -n 100 "$dir/data.jsonl" >"$dir/warm.jsonl"
"$build/bin/plain_openai_client" --base-url "$base" --data "$dir/warm.jsonl" \
  --concurrency "$concurrency" --max-tokens "$max_tokens" >/dev/null

run plain1 plain
plain1=$last_tps
run ocx ocx_task
ocx=$last_tps
ocx_cpu=$last_cpu_s
run plain2 plain
plain2=$last_tps

if [[ ! -f $work/predictions/stories260K/bench-gen.json ]]; then
  echo "bench_infer: ocx-task wrote no predictions file" >&2
  exit 1
fi
awk -v o="$ocx" -v a="$plain1" -v b="$plain2" -v c="$ocx_cpu" -v n="$n" 'BEGIN{
  p = (a + b) / 2; r = o / p;
  printf "ocx-task / plain client: %.3f (target >= 0.90: %s)\n", r, (r >= 0.9 ? "met" : "MISSED");
  printf "ocx-task cpu per request: %.3f ms\n", 1000 * c / n;
  printf "RESULT ratio=%.3f ocx_tokens_per_s=%.1f plain_tokens_per_s=%.1f ocx_cpu_ms_per_request=%.3f\n", r, o, p, 1000 * c / n;
}'
