#!/usr/bin/env bash
# Configures, builds and tests ocx: the one command CI and the README use.
#
#   scripts/test.sh               # everything
#   scripts/test.sh -L unit       # extra arguments go to ctest
#
# Environment:
#   OCX_BUILD_DIR   build directory (default: build/ in the repository)
#   OCX_BUILD_TYPE  CMake build type (default: RelWithDebInfo)
#   OCX_JOBS        parallel compile jobs (default: number of CPUs)
#   OCX_TEST_JOBS   parallel tests (default: 2)
#
# Each test's timeout comes from its CMake TIMEOUT property; a test without
# one gets OCX_TEST_TIMEOUT seconds (default 600).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
build_dir=${OCX_BUILD_DIR:-$root/build}
build_type=${OCX_BUILD_TYPE:-RelWithDebInfo}
jobs=${OCX_JOBS:-$(nproc)}
test_jobs=${OCX_TEST_JOBS:-2}
test_timeout=${OCX_TEST_TIMEOUT:-600}

start=$SECONDS
phase() { printf '\n==> %s (%ds)\n' "$*" $((SECONDS - start)); }

configure_args=(-S "$root" -B "$build_dir" -G Ninja
                -DCMAKE_BUILD_TYPE="$build_type")
if command -v ccache >/dev/null 2>&1; then
  configure_args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

phase "configure $build_dir ($build_type)"
cmake "${configure_args[@]}"

phase "build (-j$jobs)"
cmake --build "$build_dir" -j "$jobs"

phase "test (-j$test_jobs)"
test_status=0
ctest --test-dir "$build_dir" --output-on-failure -j "$test_jobs" \
  --timeout "$test_timeout" --no-tests=error \
  --output-junit "$build_dir/test-results.xml" \
  "$@" || test_status=$?

if command -v ccache >/dev/null 2>&1; then
  phase "ccache"
  ccache --show-stats 2>/dev/null | grep -Ei 'hits|misses' || true
fi

echo
if ((test_status == 0)); then
  echo "==> PASSED in $((SECONDS - start))s (JUnit: $build_dir/test-results.xml)"
else
  echo "==> FAILED (ctest exit $test_status) after $((SECONDS - start))s;" \
    "failed tests are listed above and in $build_dir/Testing/Temporary/LastTestsFailed.log"
fi
exit "$test_status"
