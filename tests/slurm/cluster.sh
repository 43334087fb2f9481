#!/usr/bin/env bash
# cluster.sh start|stop - the test cluster of the `slurm` ctest label, always
# with the same knobs (a restart with other knobs would rewrite slurm.conf):
# 32 advertised CPUs so 20+ jobs run at once, finished jobs kept 60 s in
# squeue, state under $OCX_SLURM_DIR (default /tmp/ocx-slurm-ctest).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export OCX_SLURM_DIR="${OCX_SLURM_DIR:-/tmp/ocx-slurm-ctest}"
export OCX_SLURM_CPUS="${OCX_SLURM_CPUS:-32}"
export OCX_SLURM_MIN_JOB_AGE="${OCX_SLURM_MIN_JOB_AGE:-60}"
export OCX_SLURM_ACCOUNTING="${OCX_SLURM_ACCOUNTING:-none}"
case "${1:-}" in
  start) exec "$here/start-slurm.sh" >/dev/null ;;
  stop) exec "$here/stop-slurm.sh" ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
