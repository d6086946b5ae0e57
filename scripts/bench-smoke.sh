#!/usr/bin/env bash
# Runs every benchmark executable of a build once, briefly, to prove it still runs.
# Figures from a smoke run mean nothing; run the binaries under bench/ by hand to measure.
# Usage: scripts/bench-smoke.sh <build-dir>
set -euo pipefail
build=${1:?usage: bench-smoke.sh <build-dir>}
list="$build/benchmarks.txt"
[[ -f $list ]] || { echo "bench-smoke: $list not found (configure with BOMF_BUILD_BENCHMARKS=ON)" >&2; exit 1; }
count=0
while IFS= read -r exe; do
  [[ -n $exe ]] || continue
  echo "bench-smoke: $(basename "$exe")"
  timeout 600 "$exe" --benchmark_min_time=0.001 >/dev/null
  count=$((count + 1))
done <"$list"
# bomf::mpi's parallel-efficiency program runs under mpirun, in its tiny mode.
mpi_efficiency="$build/bench/mpi/bomf_mpi_efficiency"
if [[ -x $mpi_efficiency ]]; then
  echo "bench-smoke: bomf_mpi_efficiency (tiny, under mpirun)"
  timeout 600 "$(dirname "$0")/../bench/mpi/efficiency.sh" --tiny "$mpi_efficiency" >/dev/null
  count=$((count + 1))
fi
echo "bench-smoke: $count benchmark programs ran"
