#!/usr/bin/env bash
# The example under mpirun (examples/mpi_fusion/CMakeLists.txt): 3 ranks, then a resume of the
# same journal in one rank that evaluates nothing, bad options refused on every rank, and the
# GPU assignment of gpu_per_rank.sh.
# Usage: test_example.sh <bomf_mpi_fusion> <mpiexec> <work directory>
set -euo pipefail
program=${1:?program} mpiexec=${2:?mpiexec} work=${3:?work directory}
here=$(dirname "$0")
rm -rf "$work"
mkdir -p "$work"
# shellcheck source-path=SCRIPTDIR source=../../scripts/openmpi-env.sh
source "$here/../../scripts/openmpi-env.sh"
launch=("$mpiexec" "${mpirun_flags[@]}" --timeout 120)
args=(--members 4 --iterations 3 --learned-steps 5 --journal "$work/fusion.jsonl"
      --members-dir "$work/members")
expect() {  # expect <file> <text>
  grep -qF -- "$2" "$1" || { echo "expected '$2' in $1:" >&2; cat "$1" >&2; exit 1; }
}

"${launch[@]}" -np 3 "$program" "${args[@]}" >"$work/np3.out"
expect "$work/np3.out" "rank 0: searching with 2 worker ranks"
expect "$work/np3.out" "Learned SWA"
expect "$work/np3.out" "rank 1 (local rank 1): CUDA_VISIBLE_DEVICES="

"${launch[@]}" -np 1 "$program" "${args[@]}" >"$work/np1.out"
expect "$work/np1.out" "one process: search and evaluations here"
expect "$work/np1.out" "new evaluations in this run: 0 (search) + 0 (baselines)"

if "${launch[@]}" -np 2 "$program" --members 1 >"$work/bad.out" 2>&1; then
  echo "--members 1 was accepted" >&2
  exit 1
fi
expect "$work/bad.out" "--members"

# shellcheck disable=SC2016  # expanded by the ranks' shells, not this one
GPUS_PER_NODE=2 "${launch[@]}" -np 4 "$here/gpu_per_rank.sh" \
  sh -c 'echo "rank $OMPI_COMM_WORLD_RANK: [${CUDA_VISIBLE_DEVICES-unset}]"' >"$work/gpus.out"
for line in "rank 0: []" "rank 1: [1]" "rank 2: [0]" "rank 3: [1]"; do
  expect "$work/gpus.out" "$line"
done
echo "example: ok"
