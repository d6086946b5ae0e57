// GPU weight fusion (N = 15 members resident on the device) against the device's copy bandwidth
// (cudaMemcpy device → device), measured in the same run. Skips without a GPU.
//
// Each benchmark iteration is a batch of kBatch back-to-back operations on stream 0, timed on
// the device with CUDA events (manual time), so host-side launch latency overlaps the kernels
// as it does in a BOMF loop (`fuse_async`, then the forward pass). A fusion is one kernel
// launch (δ travels in its parameters) and moves (N + 1) · P · element size bytes; it is
// compared with a copy, one cudaMemcpyAsync, that moves as many bytes (it copies half of them).
// The goal is ≥ 85% of the copy bandwidth at the largest P: at 1M parameters a fusion takes a
// few µs and fixed costs dominate. The summary printed after the run gives each fusion's share
// (scripts/gpu-check.sh runs this on the device machine).
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

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
constexpr int kBatch = 10;

/// Bytes moved per operation: a fusion of `params` elements of `dtype` over kMembers members.
std::int64_t fusion_traffic(std::int64_t params, bomf::FusionDtype dtype) {
  return static_cast<std::int64_t>(kMembers + 1) * params *
         static_cast<std::int64_t>(bomf::fusion_dtype_size(dtype));
}

/// Bytes/s by device time, keyed by (kind, bytes moved per operation): kind "copy",
/// "fuse/f32" or "fuse/bf16".
std::map<std::pair<std::string, std::int64_t>, double>& rates() {
  static std::map<std::pair<std::string, std::int64_t>, double> table;
  return table;
}

/// Device time of `body` (which enqueues work on stream 0) in seconds, or a negative value when
/// a CUDA call fails.
template <class F>
double device_seconds(F&& body) {
  cudaEvent_t start = nullptr;
  cudaEvent_t stop = nullptr;
  if (cudaEventCreate(&start) != cudaSuccess || cudaEventCreate(&stop) != cudaSuccess) {
    return -1.0;
  }
  cudaEventRecord(start);
  body();
  cudaEventRecord(stop);
  float ms = -1.0f;
  const bool ok = cudaEventSynchronize(stop) == cudaSuccess &&
                  cudaEventElapsedTime(&ms, start, stop) == cudaSuccess;
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return ok ? 1e-3 * static_cast<double>(ms) : -1.0;
}

/// Runs batches of kBatch `operation`s, each moving `traffic` bytes, and records bytes/s.
template <class F>
void timed_batches(benchmark::State& state, const std::string& kind, std::int64_t traffic,
                   F&& operation) {
  double total = 0.0;
  for (auto _ : state) {
    const double seconds = device_seconds([&] {
      for (int k = 0; k < kBatch; ++k) {
        operation();
      }
    });
    if (seconds <= 0.0) {
      state.SkipWithError(cudaGetErrorString(cudaGetLastError()));
      return;
    }
    state.SetIterationTime(seconds);
    total += seconds;
  }
  const double bytes =
      static_cast<double>(traffic) * kBatch * static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  if (total > 0.0) {
    rates()[{kind, traffic}] = bytes / total;
  }
}

/// Device memory freed on scope exit.
struct DeviceBuffer {
  explicit DeviceBuffer(std::size_t bytes) : ok(cudaMalloc(&data, bytes) == cudaSuccess) {}
  ~DeviceBuffer() { cudaFree(data); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* data = nullptr;
  bool ok;
};

/// A device-to-device copy that moves state.range(0) bytes (copies half of them).
void BM_DeviceCopy(benchmark::State& state) {
  if (!bomf::cuda::available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const std::int64_t traffic = state.range(0);
  const auto bytes = static_cast<std::size_t>(traffic / 2);
  DeviceBuffer a(bytes);
  DeviceBuffer b(bytes);
  if (!a.ok || !b.ok || cudaMemset(b.data, 0, bytes) != cudaSuccess ||
      cudaMemcpy(a.data, b.data, bytes, cudaMemcpyDeviceToDevice) != cudaSuccess) {  // warm-up
    state.SkipWithError("cudaMalloc/cudaMemset/cudaMemcpy failed");
    return;
  }
  bool failed = false;
  timed_batches(state, "copy", traffic, [&] {
    failed =
        failed || cudaMemcpyAsync(a.data, b.data, bytes, cudaMemcpyDeviceToDevice) != cudaSuccess;
  });
  if (failed) {
    state.SkipWithError("cudaMemcpyAsync failed");
    rates().erase({"copy", traffic});
  }
}

/// fuse_async of kMembers members of state.range(0) parameters.
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
  const std::vector<double> delta(kMembers, 1.0 / kMembers);
  members.fuse(delta.data());  // warm-up
  try {
    timed_batches(state, std::string("fuse/") + bomf::fusion_dtype_name(dtype),
                  fusion_traffic(state.range(0), dtype), [&] { members.fuse_async(delta.data()); });
  } catch (const bomf::cuda::cuda_error& e) {
    state.SkipWithError(e.what());
    rates().erase({std::string("fuse/") + bomf::fusion_dtype_name(dtype),
                   fusion_traffic(state.range(0), dtype)});
  }
}

// Copies moving what each fusion below moves: 64 · P bytes for f32, 32 · P for bf16.
BENCHMARK(BM_DeviceCopy)
    ->Arg(fusion_traffic(1 << 20, bomf::FusionDtype::bf16))
    ->Arg(fusion_traffic(1 << 20, bomf::FusionDtype::f32))
    ->Arg(fusion_traffic(1 << 24, bomf::FusionDtype::bf16))
    ->Arg(fusion_traffic(1 << 24, bomf::FusionDtype::f32))
    ->Arg(fusion_traffic(1 << 26, bomf::FusionDtype::bf16))
    ->Arg(fusion_traffic(1 << 26, bomf::FusionDtype::f32))
    ->UseManualTime();
BENCHMARK_CAPTURE(BM_DeviceFuse, f32, bomf::FusionDtype::f32)
    ->Arg(1 << 20)
    ->Arg(1 << 24)
    ->Arg(1 << 26)
    ->UseManualTime();
BENCHMARK_CAPTURE(BM_DeviceFuse, bf16, bomf::FusionDtype::bf16)
    ->Arg(1 << 20)
    ->Arg(1 << 24)
    ->Arg(1 << 26)
    ->UseManualTime();

void print_summary() {
  const auto& r = rates();
  if (r.empty()) {
    return;
  }
  std::printf(
      "\nSummary (GB/s = 1e9 bytes/s; N = %zu members; goal: fused >= 85%% of a copy that "
      "moves as many bytes, at the largest P)\n",
      kMembers);
  for (const auto& [key, rate] : r) {
    const auto& [kind, traffic] = key;
    if (kind == "copy") {
      continue;
    }
    const auto params =
        traffic / static_cast<std::int64_t>(kMembers + 1) / (kind == "fuse/f32" ? 4 : 2);
    std::printf("  %-9s P=%2lldM: fused %7.1f GB/s", kind.c_str(),
                static_cast<long long>(params >> 20), rate / 1e9);
    const auto copy = r.find({"copy", traffic});
    if (copy == r.end() || copy->second <= 0.0) {
      std::printf(" (no copy measured with %lld MB moved)\n",
                  static_cast<long long>(traffic / 1000000));
      continue;
    }
    std::printf(" = %5.1f%% of copy %7.1f GB/s (%lld MB moved)\n", 100.0 * rate / copy->second,
                copy->second / 1e9, static_cast<long long>(traffic / 1000000));
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
