// One MOBO iteration with qLogNEHVI on the 15-simplex, as BoTorch's timing setup
// (tests/data/mobo_timing.json `settings`): n ∈ {15, 45, 90} Sobol points on the simplex (there
// BoTorch uses w = x/Σx of box points; here x is already on the simplex, so w = x), objectives
// f_k(x) = exp(−‖x − a_k‖²/0.1) + N(0, 0.005²) with a_k fixed Dirichlet(1) points (seed 2024 + m),
// reference point 0, one Matérn-5/2 GP per objective fitted with BoTorch ≤ 0.11's priors (one
// L-BFGS-B start, as fit_gpytorch_mll),
// qLogNEHVI with q = 1, 128 QMC samples and baseline pruning, maximized by maximize_on_simplex
// with 512 raw candidates and 10 restarts. The timed iteration is fit + acquisition construction
// + optimization; the counters split it (fit_s, acqf_s, opt_s: wall seconds per iteration;
// cpu_s: process CPU seconds per iteration) and give the ratio to BoTorch's medians measured on
// an idle machine of this kind with 2 threads (speedup_wall vs `median.total_s`, speedup_cpu vs
// `median.total_cpu_s`; the numbers are copied from tests/data/mobo_timing.json `summary`).
// `threads` is GpFitOptions::, QLogNehviOptions:: and SimplexOptimizerOptions::num_threads
// (BoTorch's figures are with 2 torch threads); the results are bit-identical for 1 and 2.
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <chrono>
#include <ctime>

#include "acquisition_optimization/acqopt_problems.hpp"
#include "bomf/acquisition/q_log_nehvi.hpp"
#include "bomf/gp/fit_gp.hpp"
#include "bomf/gp/matern52_kernel.hpp"
#include "bomf/gp/priors.hpp"
#include "bomf/optim/maximize_on_simplex.hpp"
#include "bomf/optim/simplex.hpp"

namespace {

// BoTorch 0.11.3 qLogNEHVI medians from tests/data/mobo_timing.json (summary, acqf qLogNEHVI).
struct BoTorchMedian {
  int m;
  int n;
  double total_s;
  double total_cpu_s;
};
constexpr BoTorchMedian kBoTorch[] = {
    {2, 15, 5.352, 10.470}, {2, 45, 2.403, 4.792},  {2, 90, 1.941, 3.869},
    {3, 15, 9.843, 18.716}, {3, 45, 5.746, 11.461}, {3, 90, 8.663, 17.074},
};

BoTorchMedian botorch_for(int m, int n) {
  for (const auto& b : kBoTorch) {
    if (b.m == m && b.n == n) {
      return b;
    }
  }
  return {m, n, 0.0, 0.0};
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void BM_MoboIterationQLogNehvi(benchmark::State& state) {
  constexpr Eigen::Index kN = 15;
  const auto m = static_cast<Eigen::Index>(state.range(0));
  const auto n = static_cast<Eigen::Index>(state.range(1));
  const auto threads = static_cast<int>(state.range(2));
  const Eigen::MatrixXd X = bomf::test::simplex_design(kN, n, 0);
  const Eigen::MatrixXd Y =
      bomf::test::bump_objectives(X, m, 2024 + static_cast<std::uint64_t>(m), 7);
  const Eigen::VectorXd ref = Eigen::VectorXd::Zero(m);
  const bomf::Simplex simplex(kN);
  bomf::GpFitOptions fit;
  fit.priors = bomf::GpPriors::botorch_legacy();
  fit.num_starts = 1;  // as BoTorch's fit_gpytorch_mll (one L-BFGS-B run)
  fit.num_threads = threads;
  bomf::QLogNehviOptions acq_options;
  acq_options.num_samples = 128;
  acq_options.prune_baseline = true;
  acq_options.num_threads = threads;
  bomf::SimplexOptimizerOptions opt;
  opt.raw_samples = 512;
  opt.num_restarts = 10;
  opt.num_threads = threads;
  double fit_s = 0.0;
  double acqf_s = 0.0;
  double opt_s = 0.0;
  double cpu_s = 0.0;
  double value = 0.0;
  for (auto _ : state) {
    const std::clock_t c0 = std::clock();
    auto t0 = std::chrono::steady_clock::now();
    const auto models = bomf::fit_model_list_gp<bomf::Matern52Kernel>(X, Y, fit);
    fit_s += seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    bomf::QLogNoisyExpectedHypervolumeImprovement<bomf::Matern52Kernel> acqf(models, X, ref,
                                                                             acq_options);
    acqf_s += seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    const auto result = bomf::maximize_on_simplex(acqf, simplex, opt);
    opt_s += seconds_since(t0);
    cpu_s += static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
    value = result.value;
    benchmark::DoNotOptimize(value);
  }
  const double iters = static_cast<double>(state.iterations());
  const BoTorchMedian b = botorch_for(static_cast<int>(m), static_cast<int>(n));
  state.counters["fit_s"] = fit_s / iters;
  state.counters["acqf_s"] = acqf_s / iters;
  state.counters["opt_s"] = opt_s / iters;
  state.counters["cpu_s"] = cpu_s / iters;
  state.counters["speedup_wall"] = b.total_s / ((fit_s + acqf_s + opt_s) / iters);
  state.counters["speedup_cpu"] = b.total_cpu_s / (cpu_s / iters);
}
BENCHMARK(BM_MoboIterationQLogNehvi)
    ->ArgNames({"m", "n", "threads"})
    ->ArgsProduct({{2, 3}, {15, 45, 90}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
