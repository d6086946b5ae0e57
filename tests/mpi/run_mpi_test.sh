#!/usr/bin/env bash
# One bomf::mpi test under the real mpirun on this machine (tests/mpi/CMakeLists.txt).
# Usage: run_mpi_test.sh <test> <scenario program> <mpiexec> <work directory>
set -euo pipefail
test=${1:?test} program=${2:?program} mpiexec=${3:?mpiexec} work=${4:?work directory}
rm -rf "$work"
mkdir -p "$work/shm"

# Open MPI's settings for CI (root, oversubscribed, containers); the shared-memory segments go
# to this test's directory (a killed job leaves them behind).
# shellcheck source-path=SCRIPTDIR source=../../scripts/openmpi-env.sh
source "$(dirname "$0")/../../scripts/openmpi-env.sh"
export OMPI_MCA_btl_vader_backing_directory="$work/shm"
# Under the sanitizers (the asan preset), LeakSanitizer would report Open MPI's own allocations at
# exit (made by components it has unloaded by then, so no suppression by library can match):
# leak checking stays on for the unit tests, which never start MPI; ASan and UBSan stay on here.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

# mpirun's own timeout ends a job that hangs (and says so) before ctest's TIMEOUT would.
launch=("$mpiexec" "${mpirun_flags[@]}" --timeout 60)
run() {  # run <ranks> <scenario> [args...]
  local np=$1 scenario=$2
  shift 2
  "${launch[@]}" -np "$np" "$program" "$scenario" --dir "$work" "$@"
}

evaluations_in() {  # evaluation records in a journal (0 before it exists)
  local n
  n=$(grep -c '"kind":"evaluation"' "$1" 2>/dev/null) || true
  echo "${n:-0}"
}

# A process that has exited (gone, or a zombie nobody reaped yet).
gone() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
  [[ $state == Z ]]
}

runs_in() {  # stage-1 run records in a journal (0 before it exists)
  local n
  n=$(grep -c '"kind":"run"' "$1" 2>/dev/null) || true
  echo "${n:-0}"
}

# Starts phase 1 of a resume test on 3 ranks in the background (evaluations or training runs of
# 200 ms) and returns once its journal holds $1 records; sets mpirun_pid and rank_pids. Stage 2
# (scenario resume) by default; `start_phase1_until N training` for stage 1.
start_phase1_until() {
  local scenario=resume journal=$work/resume.jsonl count=evaluations_in
  if [[ ${2:-} == training ]]; then
    scenario=training-resume journal=$work/training-resume.jsonl count=runs_in
  fi
  "${launch[@]}" -np 3 "$program" "$scenario" --dir "$work" --phase 1 --sleep-ms 200 &
  mpirun_pid=$!
  for _ in $(seq 600); do
    (($($count "$journal") >= $1)) && break
    kill -0 "$mpirun_pid" 2>/dev/null || { echo "phase 1 ended too early" >&2; exit 1; }
    sleep 0.05
  done
  (($($count "$journal") >= $1)) || { echo "phase 1 made no progress" >&2; exit 1; }
  rank_pids=()
  for f in "$work"/pid.1.*; do rank_pids+=("$(cat "$f")"); done
}

# Waits until every process given has exited (10 s at most).
all_gone() {
  for pid in "$@"; do
    for _ in $(seq 200); do gone "$pid" && break; sleep 0.05; done
    gone "$pid" || { echo "process $pid is still running" >&2; exit 1; }
  done
}

# SIGKILLs rank $1 alone during phase 1 of the stage-2 resume scenario; the job must end by
# itself (mpirun exits non-zero, no rank left), and the journal then resumes in one process.
one_rank_dies() {
  local journal=$work/resume.jsonl status=0
  start_phase1_until 4
  kill -KILL "$(cat "$work/pid.1.$1")"
  wait "$mpirun_pid" || status=$?
  ((status != 0)) || { echo "mpirun exited 0 after rank $1 was killed" >&2; exit 1; }
  all_gone "${rank_pids[@]}"
  echo "mpirun ended the job (status $status) with $(evaluations_in "$journal") evaluations journaled"
  cp "$journal" "$work/journal.before2"
  run 1 resume --phase 2
  "$program" check-resume --dir "$work" --phases 2
}

case $test in
  fusion-np3) run 3 fusion ;;
  fusion-np2) run 2 fusion ;;
  one-worker) run 2 one-worker ;;
  training) run 3 training ;;
  training-one-worker) run 2 training-one-worker ;;
  baselines) run 3 baselines ;;
  throwing) run 3 throwing ;;
  too-many-failures) run 3 too-many-failures ;;
  mismatch) run 3 mismatch ;;
  factory-throws) run 3 factory-throws ;;
  kill-resume)
    # Phase 1 on 3 ranks, SIGKILLed (mpirun and every rank at once) once the journal holds 7
    # evaluations; phase 2 resumes on 2 ranks and stops after 3 more; phase 3 finishes in one
    # process (mpirun -np 1: the sequential solve).
    journal=$work/resume.jsonl
    start_phase1_until 7
    kill -KILL "$mpirun_pid" "${rank_pids[@]}" 2>/dev/null || true
    wait "$mpirun_pid" 2>/dev/null || true
    all_gone "$mpirun_pid" "${rank_pids[@]}"
    echo "killed phase 1 with $(evaluations_in "$journal") evaluations journaled"
    cp "$journal" "$work/journal.before2"
    run 2 resume --phase 2 --stop-after 3
    cp "$journal" "$work/journal.before3"
    run 1 resume --phase 3
    "$program" check-resume --dir "$work" --phases 3
    ;;
  worker-dies)
    # Only worker rank 2 is SIGKILLed: MPI's default error handling must end the whole job by
    # itself (mpirun exits non-zero, no rank left), and the journal resumes in one process.
    one_rank_dies 2
    ;;
  search-rank-dies)
    # The same with rank 0 (the search, the journal's writer): the workers do not wait for it
    # forever.
    one_rank_dies 0
    ;;
  training-kill-resume)
    # Stage 1: phase 1 on 3 ranks (runs of 200 ms), SIGKILLed (mpirun and every rank at once)
    # once the journal holds 3 runs; phase 2 resumes on 2 ranks and finishes the 8 runs.
    journal=$work/training-resume.jsonl
    start_phase1_until 3 training
    kill -KILL "$mpirun_pid" "${rank_pids[@]}" 2>/dev/null || true
    wait "$mpirun_pid" 2>/dev/null || true
    all_gone "$mpirun_pid" "${rank_pids[@]}"
    echo "killed stage 1 with $(runs_in "$journal") runs journaled"
    cp "$journal" "$work/journal.before2"
    run 2 training-resume --phase 2 --sleep-ms 10
    "$program" check-training-resume --dir "$work" --phases 2
    ;;
  sequential-then-distributed)
    # A journal started in one process (stopped after 5 evaluations) finished on 3 ranks.
    run 1 resume --phase 1 --stop-after 5 --sleep-ms 10
    cp "$work/resume.jsonl" "$work/journal.before2"
    run 3 resume --phase 2 --sleep-ms 10
    "$program" check-resume --dir "$work" --phases 2
    ;;
  *)
    echo "run_mpi_test.sh: unknown test '$test'" >&2
    exit 2
    ;;
esac
