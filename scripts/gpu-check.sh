#!/usr/bin/env bash
# The GPU checks of bomf::cuda in one script, for the device machine that some sessions are lent
# (an H100/H200). It builds the CUDA kernels with their test and benchmark using nvcc alone, runs
# the tests, runs the benchmark, then runs the tests again under compute-sanitizer (memcheck,
# racecheck, synccheck).
#
# That machine has nvcc, g++ and CMake, but none of Debian's -dev packages and no network. So
# GoogleTest's sources and Google Benchmark's headers and library travel with the working tree:
#   scripts/gpu-check.sh --prepare    # here: copies them into .device-deps/ (git-ignored)
# then, through the device tool:
#   run(command="scripts/gpu-check.sh", carry=[".device-deps"], timeout_s=420)
# Output goes to stdout, and to $OUT/gpu-check.log when $OUT is set.
# Without a GPU (this machine, CI) the same build runs, the tests skip and the benchmark reports
# "no CUDA device", which checks the script itself.
# Environment: BOMF_CUDA_ARCH (e.g. 90; default: the GPU's compute capability, else 90),
# BOMF_GPU_CHECK_BUILD (build folder, default /tmp/bomf-gpu-check).
set -euo pipefail
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/.."
deps=.device-deps

if [[ ${1:-} == --prepare ]]; then
  [[ -d /usr/src/googletest/googletest/src ]] || { echo "gpu-check: need libgtest-dev" >&2; exit 1; }
  lib=$(ls /usr/lib/*/libbenchmark.so.*.*.* 2>/dev/null | head -n 1)
  [[ -n $lib && -d /usr/include/benchmark ]] || { echo "gpu-check: need libbenchmark-dev" >&2; exit 1; }
  rm -rf "$deps"
  mkdir -p "$deps/include" "$deps/lib"
  cp -rL /usr/src/googletest/googletest "$deps/googletest"
  cp -rL /usr/include/benchmark "$deps/include/"
  soname=$(objdump -p "$lib" | awk '/SONAME/ {print $2}')
  cp -L "$lib" "$deps/lib/$soname"  # real files only: links travel as links
  echo "gpu-check: $(du -sh "$deps" | cut -f1) in $deps; carry it to the device machine"
  exit 0
fi

[[ -d $deps/googletest ]] || { echo "gpu-check: run 'scripts/gpu-check.sh --prepare' first" >&2; exit 1; }
if [[ -n ${OUT:-} && -z ${BOMF_GPU_CHECK_TEED:-} ]]; then
  # Run again with the output through tee; the pipeline ends only when tee has written it all.
  set +e
  BOMF_GPU_CHECK_TEED=1 "$BASH" "$self" "$@" 2>&1 | tee "$OUT/gpu-check.log"
  exit "${PIPESTATUS[0]}"
fi

nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
arch=${BOMF_CUDA_ARCH:-}
if [[ -z $arch ]] && command -v nvidia-smi >/dev/null; then
  arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1 |
    tr -d '. ' || true)
fi
arch=${arch:-90}
build=${BOMF_GPU_CHECK_BUILD:-/tmp/bomf-gpu-check}
mkdir -p "$build"
# The benchmark library's link name (libbenchmark.so -> soname) is recreated here: links
# may not survive the trip.
ln -sf "$(cd "$deps/lib" && ls libbenchmark.so.* | head -n 1)" "$deps/lib/libbenchmark.so"

echo "==== gpu-check: $(date -u +%FT%TZ), sm_$arch, $("$nvcc" --version | tail -n 1)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true

step() { printf '\n==== %s ====\n' "$*"; }
step "build"
gtest=$deps/googletest
flags=(-std=c++17 -O3 -lineinfo -arch="sm_$arch" -Xptxas -warn-spills -Iinclude -I"$gtest/include"
  -I"$deps/include")
pids=()
g++ -std=c++17 -O2 -pthread -I"$gtest/include" -I"$gtest" -c "$gtest/src/gtest-all.cc" \
  -o "$build/gtest-all.o" &
pids+=($!)
g++ -std=c++17 -O2 -pthread -I"$gtest/include" -c "$gtest/src/gtest_main.cc" -o "$build/gtest_main.o" &
pids+=($!)
"$nvcc" "${flags[@]}" -c src/cuda/fusion.cu -o "$build/fusion.o" &
pids+=($!)
"$nvcc" "${flags[@]}" -c src/cuda/device.cu -o "$build/device.o" &
pids+=($!)
for pid in "${pids[@]}"; do
  wait "$pid"  # set -e: a failed compilation ends the script
done
"$nvcc" "${flags[@]}" -Itests tests/cuda/test_cuda_fusion.cpp "$build/fusion.o" "$build/device.o" \
  "$build/gtest-all.o" "$build/gtest_main.o" -o "$build/test_cuda_fusion" -lpthread
"$nvcc" "${flags[@]}" bench/fusion/bench_fusion_cuda.cpp "$build/fusion.o" "$build/device.o" \
  -L"$deps/lib" -lbenchmark -lpthread -Xlinker -rpath -Xlinker "$PWD/$deps/lib" \
  -o "$build/bench_fusion_cuda"

status=0
step "tests"
"$build/test_cuda_fusion" || status=1

step "benchmark (fusion vs device-to-device copy)"
"$build/bench_fusion_cuda" || status=1

# compute-sanitizer: on PATH or next to nvcc. memcheck for out-of-bounds and misaligned
# accesses, racecheck and synccheck for the shared-memory staging of pointers and coefficients.
sanitizer=$(command -v compute-sanitizer || true)
[[ -n $sanitizer || ! -x $(dirname "$nvcc")/compute-sanitizer ]] || sanitizer=$(dirname "$nvcc")/compute-sanitizer
if [[ -z $sanitizer ]]; then
  step "compute-sanitizer: SKIPPED (not found on PATH or next to $nvcc)"
elif ! { command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; }; then
  step "compute-sanitizer: skipped (no GPU)"
else
  step "tests under compute-sanitizer memcheck"
  "$sanitizer" --tool memcheck --error-exitcode 1 "$build/test_cuda_fusion" --gtest_brief=1 ||
    status=1
  # The shared-memory checks on the small launches only (they are slower).
  small='CudaFusion.LaunchFuse*:CudaFusion.ManyMembers*:*f32_to_f32*:*bf16_to_bf16*'
  for tool in racecheck synccheck; do
    step "tests under compute-sanitizer $tool ($small)"
    "$sanitizer" --tool "$tool" --error-exitcode 1 "$build/test_cuda_fusion" --gtest_brief=1 \
      --gtest_filter="$small" || status=1
  done
fi

gpu="on $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1 || true)"
[[ $gpu != "on " ]] || gpu="with NO GPU: the kernels were built, nothing ran on a device"
step "gpu-check $gpu: $([[ $status == 0 ]] && echo passed || echo FAILED)"
exit "$status"
