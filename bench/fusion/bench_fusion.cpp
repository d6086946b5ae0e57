// CPU weight fusion (N = 15 members) against a loop of libtorch add_ calls and against this
// machine's memory bandwidth (STREAM-like triad and copy), all measured in the same run.
//
// Bytes per fusion are counted as (N + 1) · P · element size (each member read once, output
// written once); the add_ loop is given the same nominal byte count, so bytes/s compare the
// two directly. STREAM counts triad a = b + s·c as 3 arrays and copy as 2 (no write-allocate
// traffic; the same convention as the fusion count). The summary printed after the run gives
// fused / triad bandwidth and the speed-up over the add_ loop for each size and thread count.
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/mul.h>
#include <benchmark/benchmark.h>
#include <omp.h>

#include <Eigen/Core>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "bomf/fusion/fuse_kernel.hpp"
#include "bomf/fusion/weight_fuser.hpp"

namespace {

constexpr int kMembers = 15;

/// (kind, dtype, P, threads).
using Key = std::tuple<std::string, std::string, std::int64_t, int>;
/// Bytes/s by wall-clock time and by the calling thread's CPU time.
struct Rate {
  double wall = 0.0;
  double cpu = 0.0;
};

/// Rates measured by each benchmark.
std::map<Key, Rate>& results() {
  static std::map<Key, Rate> table;
  return table;
}

/// One member set at a time (64M × 15 fp32 is 3.8 GB), rebuilt when the size or dtype changes.
struct Members {
  std::int64_t params = 0;
  at::ScalarType dtype = at::kFloat;
  std::vector<bomf::StateDict> dicts;
};

const std::vector<bomf::StateDict>& members_for(std::int64_t params, at::ScalarType dtype) {
  static Members cache;
  if (cache.params != params || cache.dtype != dtype) {
    cache.dicts.clear();
    for (int i = 0; i < kMembers; ++i) {
      at::Tensor t = at::empty({params}, at::TensorOptions().dtype(dtype));
      t.fill_(0.01 * (i + 1));  // touches every page
      cache.dicts.push_back(bomf::StateDict{{"weight", t}});
    }
    cache.params = params;
    cache.dtype = dtype;
  }
  return cache.dicts;
}

Eigen::VectorXd coefficients() {
  return Eigen::VectorXd::LinSpaced(kMembers, 0.5, 1.5) / (kMembers * 1.0);
}

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

/// Runs the benchmark loop and records bytes/s by wall-clock time and, for the record, by the
/// calling thread's CPU time (robust to other processes sharing the cores; meaningful for
/// one thread only).
template <class F>
void timed_loop(benchmark::State& state, const Key& key, double bytes_per_iteration, F&& body) {
  double seconds = 0.0;
  double cpu_seconds = 0.0;
  std::int64_t iterations = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = thread_cpu_seconds();
    body();
    cpu_seconds += thread_cpu_seconds() - cpu_start;
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ++iterations;
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes_per_iteration) * state.iterations());
  if (seconds > 0 && cpu_seconds > 0) {
    const double bytes = bytes_per_iteration * static_cast<double>(iterations);
    results()[key] = {bytes / seconds, bytes / cpu_seconds};
  }
}

void BM_Fuse(benchmark::State& state, at::ScalarType dtype, const char* label) {
  const std::int64_t params = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  at::set_num_threads(threads);
  const bomf::WeightFuser fuser(members_for(params, dtype));
  bomf::StateDict output = fuser.make_output();
  const Eigen::VectorXd delta = coefficients();
  const double bytes =
      (kMembers + 1.0) * static_cast<double>(params) * static_cast<double>(at::elementSize(dtype));
  fuser.fuse(delta, output);  // warm-up: first-touch page faults of the output are not timed
  timed_loop(state, Key{"fuse", label, params, threads}, bytes, [&] {
    fuser.fuse(delta, output);
    benchmark::ClobberMemory();
  });
}

void BM_AddLoop(benchmark::State& state, at::ScalarType dtype, const char* label) {
  const std::int64_t params = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  at::set_num_threads(threads);
  const auto& members = members_for(params, dtype);
  at::Tensor out = at::empty({params}, at::TensorOptions().dtype(dtype));
  const Eigen::VectorXd delta = coefficients();
  const double bytes =
      (kMembers + 1.0) * static_cast<double>(params) * static_cast<double>(at::elementSize(dtype));
  const auto add_loop = [&] {
    at::mul_out(out, members[0].at("weight"), delta[0]);
    for (int i = 1; i < kMembers; ++i) {
      out.add_(members[static_cast<std::size_t>(i)].at("weight"), delta[i]);
    }
    benchmark::ClobberMemory();
  };
  add_loop();  // warm-up, as for the fused kernel
  timed_loop(state, Key{"add_loop", label, params, threads}, bytes, add_loop);
}

constexpr std::int64_t kStreamElements = std::int64_t{1} << 25;  // 128 MiB per fp32 array

struct StreamArrays {
  std::unique_ptr<float[]> a{new float[kStreamElements]};
  std::unique_ptr<float[]> b{new float[kStreamElements]};
  std::unique_ptr<float[]> c{new float[kStreamElements]};
};

StreamArrays& stream_arrays() {
  static StreamArrays arrays = [] {
    StreamArrays s;
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < kStreamElements; ++i) {
      s.a[i] = 0.0f;
      s.b[i] = 1.0f;
      s.c[i] = 2.0f;
    }
    return s;
  }();
  return arrays;
}

/// Triad, recorded under `key`: once per thread count (kind "triad") and again right before each
/// fusion measurement (kind "triad_next_to", with that measurement's dtype and size), because on
/// a shared machine the bandwidth available drifts over the run.
void BM_StreamTriad(benchmark::State& state, const std::string& kind, const std::string& dtype,
                    std::int64_t params) {
  const int threads = static_cast<int>(state.range(0));
  StreamArrays& s = stream_arrays();
  float* a = s.a.get();
  const float* b = s.b.get();
  const float* c = s.c.get();
  timed_loop(state, Key{kind, dtype, params, threads}, 3.0 * 4.0 * kStreamElements, [&] {
#pragma omp parallel for schedule(static) num_threads(threads)
    for (std::int64_t i = 0; i < kStreamElements; ++i) {
      a[i] = b[i] + 0.5f * c[i];
    }
    benchmark::ClobberMemory();
  });
}

void BM_StreamCopy(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  StreamArrays& s = stream_arrays();
  float* a = s.a.get();
  const float* b = s.b.get();
  timed_loop(state, Key{"copy", "f32", 0, threads}, 2.0 * 4.0 * kStreamElements, [&] {
#pragma omp parallel for schedule(static) num_threads(threads)
    for (std::int64_t i = 0; i < kStreamElements; ++i) {
      a[i] = b[i];
    }
    benchmark::ClobberMemory();
  });
}

void register_all() {
  for (int threads : {1, 2}) {
    benchmark::RegisterBenchmark("stream_triad", BM_StreamTriad, std::string("triad"),
                                 std::string("f32"), std::int64_t{0})
        ->Args({threads})
        ->ArgNames({"threads"})
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond)
        ->MinTime(0.5);
    benchmark::RegisterBenchmark("stream_copy", BM_StreamCopy)
        ->Args({threads})
        ->ArgNames({"threads"})
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond)
        ->MinTime(0.5);
  }
  const std::pair<at::ScalarType, const char*> dtypes[] = {{at::kFloat, "f32"},
                                                           {at::kBFloat16, "bf16"}};
  for (std::int64_t params :
       {std::int64_t{1} << 20, std::int64_t{1} << 24, std::int64_t{1} << 26}) {
    for (const auto& [dtype, label] : dtypes) {
      for (int threads : {1, 2}) {
        const double min_time = params >= (std::int64_t{1} << 26) ? 1.0 : 0.5;
        benchmark::RegisterBenchmark(
            (std::string("stream_triad/next_to_") + label + "/P:" + std::to_string(params)).c_str(),
            BM_StreamTriad, std::string("triad_next_to"), std::string(label), params)
            ->Args({threads})
            ->ArgNames({"threads"})
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond)
            ->MinTime(0.3);
        benchmark::RegisterBenchmark((std::string("fuse/") + label).c_str(), BM_Fuse, dtype, label)
            ->Args({params, threads})
            ->ArgNames({"P", "threads"})
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond)
            ->MinTime(min_time);
        benchmark::RegisterBenchmark((std::string("add_loop/") + label).c_str(), BM_AddLoop, dtype,
                                     label)
            ->Args({params, threads})
            ->ArgNames({"P", "threads"})
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond)
            ->MinTime(min_time);
      }
    }
  }
}

void print_summary() {
  const auto& r = results();
  std::printf(
      "\nSummary (GB/s = 1e9 bytes/s; N = %d members; wall-clock rates, and in brackets\n"
      "rates by the main thread's CPU time, which discount time lost to other processes;\n"
      "each fusion is compared with the triad measured right before it; fusion kernel build: "
      "%s)\n",
      kMembers, bomf::fuse_kernel_uses_avx2() ? "AVX2" : "baseline x86-64");
  for (int threads : {1, 2}) {
    const auto triad = r.find({"triad", "f32", 0, threads});
    const auto copy = r.find({"copy", "f32", 0, threads});
    if (triad == r.end()) {
      continue;
    }
    std::printf("threads=%d: STREAM triad %.2f [%.2f] GB/s, copy %.2f [%.2f] GB/s (start of run)\n",
                threads, triad->second.wall / 1e9, triad->second.cpu / 1e9,
                copy != r.end() ? copy->second.wall / 1e9 : 0.0,
                copy != r.end() ? copy->second.cpu / 1e9 : 0.0);
    for (const auto& [key, rate] : r) {
      const auto& [kind, dtype, params, t] = key;
      if (kind != "fuse" || t != threads) {
        continue;
      }
      const auto add = r.find({"add_loop", dtype, params, threads});
      const Rate add_rate = add != r.end() ? add->second : Rate{};
      const auto next = r.find({"triad_next_to", dtype, params, threads});
      const Rate near = next != r.end() ? next->second : triad->second;
      std::printf(
          "  %-4s P=%2lldM: fused %5.2f [%5.2f] GB/s = %5.1f%% [%5.1f%%] of triad %5.2f GB/s; "
          "add_ loop %5.2f [%5.2f] GB/s; speed-up %.2fx [%.2fx]\n",
          dtype.c_str(), static_cast<long long>(params >> 20), rate.wall / 1e9, rate.cpu / 1e9,
          100.0 * rate.wall / near.wall, 100.0 * rate.cpu / near.cpu, near.wall / 1e9,
          add_rate.wall / 1e9, add_rate.cpu / 1e9,
          add_rate.wall > 0 ? rate.wall / add_rate.wall : 0.0,
          add_rate.cpu > 0 ? rate.cpu / add_rate.cpu : 0.0);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  print_summary();
  return 0;
}
