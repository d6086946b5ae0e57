// Benchmarks of the LogEI building blocks: log h per region, LogEI from a posterior, LogEI
// value + gradient with an ExactGP (d = 15), the fat-tailed reductions, and QMC normal samples.
#include <benchmark/benchmark.h>

#include <random>

#include "bomf/acquisition/log_ei.hpp"
#include "bomf/gp/exact_gp.hpp"
#include "bomf/gp/matern52_kernel.hpp"
#include "bomf/math/log_h.hpp"
#include "bomf/math/smooth_approximations.hpp"
#include "bomf/sampling/normal_base_samples.hpp"

namespace {

// log h(z) with its derivative; the argument is z·1e-3 (benchmark arguments are integers).
void BM_LogH(benchmark::State& state) {
  const double z = static_cast<double>(state.range(0)) * 1e-3;
  double x = z;
  for (auto _ : state) {
    benchmark::DoNotOptimize(x);
    const bomf::ValueAndDerivative r = bomf::log_h_with_derivative(x);
    benchmark::DoNotOptimize(r);
  }
  state.SetLabel(z > -1 ? "direct" : z > -3 ? "erfcx" : z > -12 ? "cf (long)" : "cf (short)");
}
BENCHMARK(BM_LogH)->Arg(500)->Arg(-2000)->Arg(-3500)->Arg(-8000)->Arg(-30000)->Arg(-10000000);

void BM_LogEiFromPosterior(benchmark::State& state) {
  double mean = 0.3;
  for (auto _ : state) {
    benchmark::DoNotOptimize(mean);
    const bomf::LogEiValue r = bomf::log_expected_improvement(mean, 0.04, 1.2);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_LogEiFromPosterior);

// LogEI value + gradient of a Matérn-5/2 ExactGP, d = 15, n training points.
void BM_LogEiValueAndGradientExactGp(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const int d = 15;
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Eigen::MatrixXd x(n, d);
  Eigen::VectorXd y(n);
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < d; ++k)
      x(i, k) = u(rng);
    y(i) = std::sin(3.0 * x(i, 0)) + x.row(i).sum() / d;
  }
  bomf::GpHyperparameters h;
  h.lengthscales = Eigen::VectorXd::Constant(d, 0.5);
  h.outputscale = 1.0;
  h.noise = 1e-3;
  using Gp = bomf::ExactGP<bomf::Matern52Kernel>;
  const Gp gp(x, y, h);
  const bomf::LogExpectedImprovement<Gp> acq(gp, y.maxCoeff());
  Eigen::VectorXd point = Eigen::VectorXd::Constant(d, 0.5);
  Eigen::VectorXd grad(d);
  for (auto _ : state) {
    benchmark::DoNotOptimize(acq.value_and_gradient(point, grad));
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_LogEiValueAndGradientExactGp)->Arg(15)->Arg(45)->Arg(90);

// fatmin with gradient over n entries (τ = 1e-3), as in qLogNEHVI's smoothed minima.
void BM_FatminWithGradient(benchmark::State& state) {
  const Eigen::VectorXd v = Eigen::VectorXd::Random(state.range(0));
  Eigen::VectorXd g(v.size());
  for (auto _ : state) {
    benchmark::DoNotOptimize(bomf::fatmin(v, g, 1e-3));
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_FatminWithGradient)->Arg(2)->Arg(16)->Arg(128);

void BM_LogsumexpWithWeights(benchmark::State& state) {
  const Eigen::VectorXd v = Eigen::VectorXd::Random(state.range(0)) * 50.0;
  Eigen::VectorXd w(v.size());
  for (auto _ : state) {
    benchmark::DoNotOptimize(bomf::logsumexp(v, w));
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_LogsumexpWithWeights)->Arg(128);

// QMC N(0, I) base samples, num_samples × dim.
void BM_SobolNormalSamples(benchmark::State& state) {
  const auto n = static_cast<Eigen::Index>(state.range(0));
  const int dim = static_cast<int>(state.range(1));
  for (auto _ : state) {
    benchmark::DoNotOptimize(bomf::sobol_normal_samples(n, dim, 0).data());
  }
}
BENCHMARK(BM_SobolNormalSamples)->Args({128, 60})->Args({4096, 60});

}  // namespace

namespace {

// The scrambled Sobol points alone (no quantile), num_samples × dim, construction included.
void BM_SobolSequenceDraw(benchmark::State& state) {
  const auto n = static_cast<Eigen::Index>(state.range(0));
  const int dim = static_cast<int>(state.range(1));
  for (auto _ : state) {
    bomf::SobolSequence sobol(dim, 0);
    benchmark::DoNotOptimize(sobol.draw(n).data());
  }
}
BENCHMARK(BM_SobolSequenceDraw)->Args({128, 60});

void BM_NormalQuantile(benchmark::State& state) {
  double p = 0.3;
  for (auto _ : state) {
    benchmark::DoNotOptimize(p);
    benchmark::DoNotOptimize(bomf::normal_quantile(p));
  }
}
BENCHMARK(BM_NormalQuantile);

}  // namespace
