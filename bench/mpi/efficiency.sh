#!/usr/bin/env bash
# Parallel efficiency of bomf::mpi (bench/mpi/mpi_efficiency.cpp): one fusion search with
# fixed-cost evaluations on 1 worker rank, then on P worker ranks: E(P) = T(1) / (P · T(P)), and
# against the ideal B·t / P of B evaluations of t seconds (vs_ideal; T(1) also holds the search's
# own time, which one worker cannot overlap, so E(P) can exceed 100 %).
# Usage: bench/mpi/efficiency.sh [--tiny] <path to bomf_mpi_efficiency> [P ...]   (default: 2 4)
#   BOMF_MPI_EFFICIENCY_ARGS adds arguments to every run, e.g. "--search default --seconds 1".
#   --tiny: a few short evaluations on 1 and 2 workers, to prove it runs (the bench smoke run).
set -euo pipefail
tiny=0
if [[ ${1:-} == --tiny ]]; then
  tiny=1
  shift
fi
program=${1:?usage: efficiency.sh [--tiny] <bomf_mpi_efficiency> [P ...]}
shift
workers=("$@")
((${#workers[@]} > 0)) || workers=(2 4)
# shellcheck source-path=SCRIPTDIR source=../../scripts/openmpi-env.sh
source "$(dirname "$0")/../../scripts/openmpi-env.sh"
read -r -a args <<<"${BOMF_MPI_EFFICIENCY_ARGS:-}"
if ((tiny)); then
  args=(--seconds 0.02 --iterations 2)
  workers=(2)
fi

run() {  # run <worker ranks>: the program's key=value line
  mpirun "${mpirun_flags[@]}" --timeout 600 -np $(($1 + 1)) "$program" "${args[@]}" | grep '^workers='
}
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

echo "bomf::mpi parallel efficiency: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "arguments: ${args[*]:-(defaults)}"
printf '%8s %12s %9s %9s %10s %12s %13s %11s %9s\n' workers evaluations wall_s ideal_s search_s \
  rank0_cpu_s worker_cpu_s efficiency vs_ideal
baseline=$(run 1)
t1=$(field "$baseline" wall)
for p in 1 "${workers[@]}"; do
  if ((p == 1)); then line=$baseline; else line=$(run "$p"); fi
  wall=$(field "$line" wall)
  ideal=$(field "$line" ideal)
  printf '%8s %12s %9s %9s %10s %12s %13s %10.1f%% %8.1f%%\n' "$p" "$(field "$line" evaluations)" \
    "$wall" "$ideal" "$(field "$line" search)" "$(field "$line" rank0_cpu)" \
    "$(field "$line" worker_cpu_max)" "$(awk -v t1="$t1" -v tp="$wall" -v p="$p" 'BEGIN { print 100 * t1 / (p * tp) }')" \
    "$(awk -v ideal="$ideal" -v tp="$wall" 'BEGIN { print 100 * ideal / tp }')"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
