// Benchmarks of the multi-objective geometry: exact hypervolume (m = 2..5, n = 10..1000) and
// the non-dominated box decomposition (m = 2..4, n = 10..100), on random points of a concave
// front (DTLZ2-like: normalized |gaussian| directions, all mutually non-dominated), reference
// point at the origin. Fixed seeds, so every run measures the same sets.
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <cmath>
#include <random>

#include "bomf/multi_objective/multi_objective.hpp"

namespace {

Eigen::MatrixXd concave_front(int n, int m, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  Eigen::MatrixXd Y(n, m);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < m; ++j) {
      Y(i, j) = std::abs(g(rng)) + 1e-12;
    }
    Y.row(i) /= Y.row(i).norm();
  }
  return Y;
}

void BM_Hypervolume(benchmark::State& state) {
  const int m = static_cast<int>(state.range(0));
  const int n = static_cast<int>(state.range(1));
  const Eigen::MatrixXd Y = concave_front(n, m, 1234U + static_cast<unsigned>(n * 10 + m));
  const Eigen::VectorXd r = Eigen::VectorXd::Zero(m);
  double hv = 0.0;
  for (auto _ : state) {
    hv = bomf::hypervolume(Y, r);
    benchmark::DoNotOptimize(hv);
  }
  state.counters["hv"] = hv;
}
BENCHMARK(BM_Hypervolume)
    ->ArgNames({"m", "n"})
    ->ArgsProduct({{2, 3, 4, 5}, {10, 100, 1000}})
    ->Unit(benchmark::kMicrosecond);

void BM_HypervolumeDimensionSweep(benchmark::State& state) {
  const int m = static_cast<int>(state.range(0));
  const int n = static_cast<int>(state.range(1));
  const Eigen::MatrixXd Y = concave_front(n, m, 1234U + static_cast<unsigned>(n * 10 + m));
  const Eigen::VectorXd r = Eigen::VectorXd::Zero(m);
  for (auto _ : state) {
    benchmark::DoNotOptimize(bomf::hypervolume_dimension_sweep(Y, r));
  }
}
BENCHMARK(BM_HypervolumeDimensionSweep)
    ->ArgNames({"m", "n"})
    ->ArgsProduct({{4, 5}, {10, 100}})
    ->Unit(benchmark::kMicrosecond);

// One partition object reused across iterations, as qNEHVI does per Monte-Carlo sample.
void BM_NondominatedPartitioning(benchmark::State& state) {
  const int m = static_cast<int>(state.range(0));
  const int n = static_cast<int>(state.range(1));
  const Eigen::MatrixXd Y = concave_front(n, m, 99U + static_cast<unsigned>(n * 10 + m));
  const Eigen::VectorXd r = Eigen::VectorXd::Zero(m);
  bomf::FastNondominatedPartitioning part;
  for (auto _ : state) {
    part.compute(Y, r);
    benchmark::DoNotOptimize(part.num_cells());
  }
  state.counters["cells"] = part.num_cells();
}
BENCHMARK(BM_NondominatedPartitioning)
    ->ArgNames({"m", "n"})
    ->ArgsProduct({{2, 3, 4}, {10, 50, 100}})
    ->Unit(benchmark::kMicrosecond);

void BM_DominatedPartitioning(benchmark::State& state) {
  const int m = static_cast<int>(state.range(0));
  const int n = static_cast<int>(state.range(1));
  const Eigen::MatrixXd Y = concave_front(n, m, 99U + static_cast<unsigned>(n * 10 + m));
  const Eigen::VectorXd r = Eigen::VectorXd::Zero(m);
  bomf::DominatedPartitioning part;
  for (auto _ : state) {
    part.compute(Y, r);
    benchmark::DoNotOptimize(part.num_cells());
  }
  state.counters["cells"] = part.num_cells();
}
BENCHMARK(BM_DominatedPartitioning)
    ->ArgNames({"m", "n"})
    ->ArgsProduct({{3, 4}, {10, 50, 100}})
    ->Unit(benchmark::kMicrosecond);

// Adding the last point of the set to the partition of the others: incremental update versus
// a rebuild.
void BM_PartitionUpdateOnePoint(benchmark::State& state) {
  const int m = static_cast<int>(state.range(0));
  const int n = static_cast<int>(state.range(1));
  const Eigen::MatrixXd Y = concave_front(n, m, 7U + static_cast<unsigned>(n * 10 + m));
  const Eigen::VectorXd r = Eigen::VectorXd::Zero(m);
  bomf::FastNondominatedPartitioning base(Y.topRows(n - 1), r);
  for (auto _ : state) {
    bomf::FastNondominatedPartitioning part = base;
    part.update(Y.bottomRows(1));
    benchmark::DoNotOptimize(part.num_cells());
  }
}
BENCHMARK(BM_PartitionUpdateOnePoint)
    ->ArgNames({"m", "n"})
    ->ArgsProduct({{3, 4}, {50, 100}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
