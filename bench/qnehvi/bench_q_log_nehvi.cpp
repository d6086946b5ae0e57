// qLogNEHVI value + gradient (include/bomf/acquisition/q_log_nehvi.hpp) on random GPs:
// m ∈ {2, 3} objectives, q ∈ {1, 2}, 128 QMC samples, n_b ∈ {15, 45, 90} baseline points
// (= training points), d = 15 inputs in the unit cube (the BOMF setting of mobo_timing.json).
// The objectives are negative squared distances to m different anchors, so the fronts are
// rich (many Pareto points per sample). Also: construction (posterior Cholesky factors and
// the 128 box decompositions).
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <random>
#include <vector>

#include "bomf/acquisition/q_log_nehvi.hpp"
#include "bomf/gp/exact_gp.hpp"
#include "bomf/gp/matern52_kernel.hpp"

namespace {

using Gp = bomf::ExactGP<bomf::Matern52Kernel>;
using Acqf = bomf::QLogNoisyExpectedHypervolumeImprovement<bomf::Matern52Kernel>;

struct Setup {
  std::vector<Gp> models;
  Eigen::MatrixXd X;
  Eigen::VectorXd ref;
};

Setup make_setup(int m, int n, int d) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> unif(0.0, 1.0);
  Setup s;
  s.X.resize(n, d);
  for (Eigen::Index i = 0; i < s.X.size(); ++i) {
    s.X(i) = unif(rng);
  }
  Eigen::MatrixXd Y(n, m);
  for (int k = 0; k < m; ++k) {
    Eigen::VectorXd anchor(d);
    for (int j = 0; j < d; ++j) {
      anchor(j) = unif(rng);
    }
    for (int i = 0; i < n; ++i) {
      Y(i, k) = -(s.X.row(i).transpose() - anchor).squaredNorm();
    }
    bomf::GpHyperparameters h;
    h.lengthscales = Eigen::VectorXd::Constant(d, 1.2);
    h.outputscale = 1.0;
    h.noise = 1e-3;
    s.models.emplace_back(s.X, Y.col(k), h);
  }
  const Eigen::VectorXd lo = Y.colwise().minCoeff();
  const Eigen::VectorXd hi = Y.colwise().maxCoeff();
  s.ref = lo - 0.1 * (hi - lo);
  return s;
}

void BM_QLogNehviValueAndGradient(benchmark::State& state) {
  const int m = static_cast<int>(state.range(0));
  const int q = static_cast<int>(state.range(1));
  const int n = static_cast<int>(state.range(2));
  const int d = 15;
  const Setup s = make_setup(m, n, d);
  Acqf acqf(s.models, s.X, s.ref);
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unif(0.0, 1.0);
  Eigen::MatrixXd cand(q, d);
  for (Eigen::Index i = 0; i < cand.size(); ++i) {
    cand(i) = unif(rng);
  }
  Eigen::MatrixXd grad(q, d);
  for (auto _ : state) {
    benchmark::DoNotOptimize(acqf.value_and_gradient(cand, grad));
    benchmark::ClobberMemory();
  }
  state.counters["cells_per_sample"] =
      static_cast<double>(acqf.num_cells()) / static_cast<double>(acqf.num_samples());
}

void BM_QLogNehviValue(benchmark::State& state) {
  const int m = static_cast<int>(state.range(0));
  const int q = static_cast<int>(state.range(1));
  const int n = static_cast<int>(state.range(2));
  const int d = 15;
  const Setup s = make_setup(m, n, d);
  Acqf acqf(s.models, s.X, s.ref);
  Eigen::MatrixXd cand = Eigen::MatrixXd::Constant(q, d, 0.5);
  cand(0, 0) = 0.3;
  for (auto _ : state) {
    benchmark::DoNotOptimize(acqf.value(cand));
  }
}

void BM_QLogNehviConstruct(benchmark::State& state) {
  const int m = static_cast<int>(state.range(0));
  const int n = static_cast<int>(state.range(1));
  const Setup s = make_setup(m, n, 15);
  for (auto _ : state) {
    Acqf acqf(s.models, s.X, s.ref);
    benchmark::DoNotOptimize(acqf.num_cells());
  }
}

void value_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"m", "q", "n"});
  for (int m : {2, 3}) {
    for (int q : {1, 2}) {
      for (int n : {15, 45, 90}) {
        b->Args({m, q, n});
      }
    }
  }
  b->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK(BM_QLogNehviValueAndGradient)->Apply(value_args);
BENCHMARK(BM_QLogNehviValue)->Apply(value_args);
BENCHMARK(BM_QLogNehviConstruct)
    ->ArgNames({"m", "n"})
    ->Args({2, 15})
    ->Args({2, 45})
    ->Args({2, 90})
    ->Args({3, 15})
    ->Args({3, 45})
    ->Args({3, 90})
    ->Unit(benchmark::kMillisecond);
