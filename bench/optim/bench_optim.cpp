// Google Benchmark: acquisition-optimization machinery (projection, multi-start simplex
// optimizer, mixed-box optimizer) on synthetic smooth functions.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>

#include "bomf/optim/maximize_in_box.hpp"
#include "bomf/optim/maximize_on_simplex.hpp"
#include "support/optim_test_functions.hpp"

namespace {

// A standard normal vector of length n (the point to project), from a generator seeded with seed.
Eigen::VectorXd normal_vector(Eigen::Index n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Eigen::VectorXd y(n);
  for (Eigen::Index i = 0; i < n; ++i)
    y(i) = normal(rng);
  return y;
}

void BM_ProjectOntoSimplex(benchmark::State& state) {
  const auto n = static_cast<Eigen::Index>(state.range(0));
  const Eigen::VectorXd y = normal_vector(n, 1);
  const bomf::Simplex simplex(n);
  for (auto _ : state) {
    benchmark::DoNotOptimize(simplex.project(y));
  }
}
BENCHMARK(BM_ProjectOntoSimplex)->Arg(15)->Arg(64);

void BM_ProjectOntoBoundedSimplex(benchmark::State& state) {
  const auto n = static_cast<Eigen::Index>(state.range(0));
  const Eigen::VectorXd y = normal_vector(n, 2);
  Eigen::VectorXd lower = Eigen::VectorXd::Zero(n);
  lower(n - 1) = 0.05;
  const bomf::Simplex simplex(lower, Eigen::VectorXd::Constant(n, 0.5));
  for (auto _ : state) {
    benchmark::DoNotOptimize(simplex.project(y));
  }
}
BENCHMARK(BM_ProjectOntoBoundedSimplex)->Arg(15)->Arg(64);

// maximize_on_simplex on a 12-bump Gaussian mixture, 512 raw candidates, 10 restarts.
void BM_MaximizeOnSimplex(benchmark::State& state) {
  const auto n = static_cast<Eigen::Index>(state.range(0));
  const auto refiner = static_cast<bomf::SimplexRefiner>(state.range(1));
  std::mt19937_64 rng(3);
  const bomf::test::GaussianBumps f(n, 12, rng);
  const bomf::Simplex simplex(n);
  bomf::SimplexOptimizerOptions options;
  options.refiner = refiner;
  long evaluations = 0;
  long runs = 0;
  double value = 0.0;
  for (auto _ : state) {
    const auto result = bomf::maximize_on_simplex(f, simplex, options);
    evaluations += result.evaluations;
    value = result.value;
    ++runs;
  }
  state.counters["grad_evals"] = static_cast<double>(evaluations) / static_cast<double>(runs);
  state.counters["value"] = value;
}
BENCHMARK(BM_MaximizeOnSimplex)
    ->Args({15, static_cast<int>(bomf::SimplexRefiner::spectral_projected_gradient)})
    ->Args({15, static_cast<int>(bomf::SimplexRefiner::exponentiated_gradient)})
    ->Args({15, static_cast<int>(bomf::SimplexRefiner::active_set_lbfgs)})
    ->Args({64, static_cast<int>(bomf::SimplexRefiner::spectral_projected_gradient)})
    ->Unit(benchmark::kMillisecond);

// maximize_in_box on a fine-tuning space (log lr, dropout, batch {8,16}, scheduler
// {linear, cosine}, epochs 1..4): C = 16 combinations enumerated.
void BM_MaximizeInBox(benchmark::State& state) {
  bomf::SearchSpace space;
  space.add_continuous("learning_rate", 1e-6, 1e-4, bomf::Scale::log)
      .add_continuous("dropout", 0.0, 0.5)
      .add_categorical("batch_size", {"8", "16"})
      .add_categorical("scheduler", {"linear", "cosine"})
      .add_integer("epochs", 1, 4);
  std::mt19937_64 rng(4);
  const bomf::test::GaussianBumps f(space.encoded_dim(), 6, rng, 0.3);
  long evaluations = 0;
  long runs = 0;
  for (auto _ : state) {
    const auto result = bomf::maximize_in_box(f, space);
    evaluations += result.evaluations;
    ++runs;
  }
  state.counters["grad_evals"] = static_cast<double>(evaluations) / static_cast<double>(runs);
}
BENCHMARK(BM_MaximizeInBox)->Unit(benchmark::kMillisecond);

}  // namespace
