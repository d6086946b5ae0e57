// GPU weight fusion (N = 15 members resident on the device) against the device's copy bandwidth
// (cudaMemcpy device → device), measured in the same run. Skips without a GPU.
//
// Bytes per fusion: (N + 1) · P · element size; per copy: 2 · bytes copied. The goal is
// ≥ 85% of the copy bandwidth; the summary printed after the run gives each fusion's share of
// the copy bandwidth measured at the same element count (scripts/gpu-check.sh runs this on the
// device machine).
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "bomf/cuda/device.hpp"
#include "bomf/cuda/fusion.hpp"

namespace {

constexpr std::size_t kMembers = 15;

/// Bytes/s by wall-clock time, keyed by (kind, P): kind "copy", "fuse/f32" or "fuse/bf16".
std::map<std::pair<std::string, std::int64_t>, double>& rates() {
  static std::map<std::pair<std::string, std::int64_t>, double> table;
  return table;
}

/// Runs the benchmark loop over a synchronous `body` and records its bytes/s under `key`.
template <class F>
void timed_loop(benchmark::State& state, const std::string& kind, double bytes_per_iteration,
                F&& body) {
  double seconds = 0.0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    body();
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes_per_iteration) * state.iterations());
  if (seconds > 0) {
    rates()[{kind, state.range(0)}] =
        bytes_per_iteration * static_cast<double>(state.iterations()) / seconds;
  }
}

void BM_DeviceCopy(benchmark::State& state) {
  if (!bomf::cuda::available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const auto bytes = static_cast<std::size_t>(state.range(0)) * 4;
  void* a = nullptr;
  void* b = nullptr;
  if (cudaMalloc(&a, bytes) != cudaSuccess || cudaMalloc(&b, bytes) != cudaSuccess) {
    state.SkipWithError("cudaMalloc failed");
    return;
  }
  cudaMemset(b, 0, bytes);
  cudaMemcpy(a, b, bytes, cudaMemcpyDeviceToDevice);  // warm-up
  cudaDeviceSynchronize();
  timed_loop(state, "copy", 2.0 * static_cast<double>(bytes), [&] {
    cudaMemcpy(a, b, bytes, cudaMemcpyDeviceToDevice);
    cudaDeviceSynchronize();
  });
  cudaFree(a);
  cudaFree(b);
}

void BM_DeviceFuse(benchmark::State& state, bomf::FusionDtype dtype) {
  if (!bomf::cuda::available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const auto params = static_cast<std::size_t>(state.range(0));
  bomf::cuda::DeviceMemberSet members(kMembers, {params}, dtype, dtype);
  const std::vector<unsigned char> host(params * bomf::fusion_dtype_size(dtype), 0x3c);
  for (std::size_t m = 0; m < kMembers; ++m) {
    members.upload(m, 0, host.data());
  }
  std::vector<double> delta(kMembers, 1.0 / kMembers);
  members.fuse(delta.data());  // warm-up
  const double bytes =
      static_cast<double>((kMembers + 1) * params * bomf::fusion_dtype_size(dtype));
  timed_loop(state, std::string("fuse/") + bomf::fusion_dtype_name(dtype), bytes,
             [&] { members.fuse(delta.data()); });  // synchronous: upload δ, launch, wait
}

BENCHMARK(BM_DeviceCopy)->Arg(1 << 20)->Arg(1 << 24)->Arg(1 << 26)->UseRealTime();
BENCHMARK_CAPTURE(BM_DeviceFuse, f32, bomf::FusionDtype::f32)
    ->Arg(1 << 20)
    ->Arg(1 << 24)
    ->Arg(1 << 26)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_DeviceFuse, bf16, bomf::FusionDtype::bf16)
    ->Arg(1 << 20)
    ->Arg(1 << 24)
    ->Arg(1 << 26)
    ->UseRealTime();

void print_summary() {
  const auto& r = rates();
  if (r.empty()) {
    return;
  }
  std::printf("\nSummary (GB/s = 1e9 bytes/s; N = %zu members; goal: fused >= 85%% of copy)\n",
              kMembers);
  for (const auto& [key, rate] : r) {
    const auto& [kind, params] = key;
    if (kind == "copy") {
      continue;
    }
    const auto copy = r.find({"copy", params});
    const double copy_rate = copy != r.end() ? copy->second : 0.0;
    std::printf("  %-9s P=%2lldM: fused %7.1f GB/s = %5.1f%% of copy %7.1f GB/s\n", kind.c_str(),
                static_cast<long long>(params >> 20), rate / 1e9,
                copy_rate > 0 ? 100.0 * rate / copy_rate : 0.0, copy_rate / 1e9);
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  print_summary();
  return 0;
}
