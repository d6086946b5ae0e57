#!/usr/bin/env bash
# Builds the libFuzzer target for bomf's safetensors header parser (clang, AddressSanitizer,
# UBSan; no libtorch) and runs it for a while on the seed corpus in fuzz/corpus/safetensors.
# Installs nothing: needs clang++ (14 or newer) with its libFuzzer runtime, CMake and
# nlohmann-json. Exits non-zero when the fuzzer finds a crash (the reproducer is written to the
# build directory as crash-*).
#
# Usage: scripts/fuzz-safetensors.sh [seconds]      (default 60)
# Environment: BOMF_FUZZ_BUILD_DIR (default build/fuzz-safetensors), BOMF_FUZZ_CXX (clang++).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BOMF_FUZZ_BUILD_DIR:-${root}/build/fuzz-safetensors}"
seconds="${1:-60}"
cxx="${BOMF_FUZZ_CXX:-}"
if [[ -z "${cxx}" ]]; then
  cxx="$(command -v clang++ || command -v clang++-14 || true)"
fi
if [[ -z "${cxx}" ]]; then
  echo "fuzz-safetensors: clang++ not found (set BOMF_FUZZ_CXX)" >&2
  exit 2
fi

generator=()
if command -v ninja > /dev/null; then
  generator=(-G Ninja)
fi
cmake -S "${root}/fuzz" -B "${build}" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="${cxx}" > /dev/null
cmake --build "${build}" --target safetensors_header_fuzzer

# The working corpus grows in the build directory; the checked-in seeds stay untouched.
corpus="${build}/corpus"
mkdir -p "${corpus}"
cp "${root}"/fuzz/corpus/safetensors/* "${corpus}/"

echo "fuzz-safetensors: running for ${seconds} s"
"${build}/safetensors_header_fuzzer" \
  -max_total_time="${seconds}" \
  -dict="${root}/fuzz/safetensors.dict" \
  -max_len=4096 \
  -timeout=10 \
  -rss_limit_mb=2048 \
  -print_final_stats=1 \
  -artifact_prefix="${build}/" \
  "${corpus}"
