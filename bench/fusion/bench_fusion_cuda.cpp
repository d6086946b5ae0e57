// GPU weight fusion (N = 15 members resident on the device) against the device's copy bandwidth
// (cudaMemcpy device → device), measured in the same run. Skips without a GPU.
//
// Bytes per fusion: (N + 1) · P · element size; per copy: 2 · bytes copied. The goal is
// ≥ 85% of the copy bandwidth.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "bomf/cuda/device.hpp"
#include "bomf/cuda/fusion.hpp"

namespace {

constexpr std::size_t kMembers = 15;

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
  for (auto _ : state) {
    cudaMemcpy(a, b, bytes, cudaMemcpyDeviceToDevice);
    cudaDeviceSynchronize();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(2 * bytes) * state.iterations());
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
  for (auto _ : state) {
    members.fuse(delta.data());  // synchronous
  }
  state.SetBytesProcessed(
      static_cast<std::int64_t>((kMembers + 1) * params * bomf::fusion_dtype_size(dtype)) *
      state.iterations());
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

}  // namespace
