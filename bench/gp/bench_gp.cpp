// Google Benchmark for the GP module: MAP fitting (n = 30, 90, 300; d = 2, 6, 15), the joint and
// marginal posterior of 512 points, and posterior_at + gradients of one point (the acquisition
// hot path). Kept short: fits run a fixed small number of iterations.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

#include "bomf/gp/gp.hpp"

namespace {

struct Data {
  Eigen::MatrixXd x;
  Eigen::VectorXd y;
};

// A smooth test function of x ∈ [0, 1]^d plus a little noise.
Data make_data(Eigen::Index n, Eigen::Index d, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Data data{Eigen::MatrixXd(n, d), Eigen::VectorXd(n)};
  for (Eigen::Index i = 0; i < n; ++i) {
    double s = 0.0;
    for (Eigen::Index k = 0; k < d; ++k) {
      data.x(i, k) = u(rng);
      s += std::sin(3.0 * data.x(i, k) + 0.5 * static_cast<double>(k)) / static_cast<double>(k + 1);
    }
    data.y(i) = s + 0.01 * u(rng);
  }
  return data;
}

// Fit with BoTorch 0.11's priors (Matérn-5/2 with output scale, the paper's setting) and the
// default 3 starts.
void BM_FitGpLegacy(benchmark::State& state) {
  const Data data = make_data(state.range(0), state.range(1), 1);
  bomf::GpFitOptions options;
  options.priors = bomf::GpPriors::botorch_legacy();
  bomf::GpFitSummary summary;
  for (auto _ : state) {
    auto gp = bomf::fit_gp<bomf::Matern52Kernel>(data.x, data.y, options, &summary);
    benchmark::DoNotOptimize(gp.alpha().data());
  }
  state.counters["iterations"] = summary.iterations;
  state.counters["mll"] = summary.mll.value;
}
BENCHMARK(BM_FitGpLegacy)
    ->ArgsProduct({{30, 90, 300}, {2, 6, 15}})
    ->ArgNames({"n", "d"})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

// Fit with BoTorch's current defaults (RBF, no output scale, LogNormal priors).
void BM_FitGpCurrent(benchmark::State& state) {
  const Data data = make_data(state.range(0), state.range(1), 1);
  bomf::GpFitSummary summary;
  for (auto _ : state) {
    auto gp = bomf::fit_gp<bomf::RbfKernel>(data.x, data.y, bomf::GpFitOptions(), &summary);
    benchmark::DoNotOptimize(gp.alpha().data());
  }
  state.counters["iterations"] = summary.iterations;
}
BENCHMARK(BM_FitGpCurrent)
    ->ArgsProduct({{30, 90, 300}, {2, 15}})
    ->ArgNames({"n", "d"})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

bomf::ExactGP<bomf::Matern52Kernel> make_gp(Eigen::Index n, Eigen::Index d) {
  const Data data = make_data(n, d, 2);
  bomf::GpHyperparameters h;
  h.lengthscales = Eigen::VectorXd::Constant(d, 0.5);
  h.outputscale = 1.5;
  h.noise = 1e-3;
  return bomf::ExactGP<bomf::Matern52Kernel>(data.x, data.y, h);
}

// Joint posterior (mean + 512 × 512 covariance) of 512 points.
void BM_Posterior512Joint(benchmark::State& state) {
  const auto gp = make_gp(state.range(0), state.range(1));
  const Data q = make_data(512, state.range(1), 3);
  for (auto _ : state) {
    auto post = gp.posterior(q.x);
    benchmark::DoNotOptimize(post.covariance.data());
  }
}
BENCHMARK(BM_Posterior512Joint)
    ->ArgsProduct({{30, 90, 300}, {2, 15}})
    ->ArgNames({"n", "d"})
    ->MinTime(0.05)
    ->Unit(benchmark::kMicrosecond);

// Marginal posterior (mean and variance) of 512 points.
void BM_Posterior512Marginal(benchmark::State& state) {
  const auto gp = make_gp(state.range(0), state.range(1));
  const Data q = make_data(512, state.range(1), 3);
  for (auto _ : state) {
    auto mean = gp.posterior_mean(q.x);
    auto var = gp.posterior_variance(q.x);
    benchmark::DoNotOptimize(mean.data());
    benchmark::DoNotOptimize(var.data());
  }
}
BENCHMARK(BM_Posterior512Marginal)
    ->ArgsProduct({{30, 90, 300}, {2, 15}})
    ->ArgNames({"n", "d"})
    ->MinTime(0.05)
    ->Unit(benchmark::kMicrosecond);

// posterior_at with mean and variance gradients, reused workspace (no allocation).
void BM_PosteriorAtWithGradient(benchmark::State& state) {
  const auto gp = make_gp(state.range(0), state.range(1));
  const Eigen::VectorXd x = Eigen::VectorXd::Constant(state.range(1), 0.37);
  bomf::PosteriorWorkspace ws;
  bomf::PointPosterior out;
  for (auto _ : state) {
    gp.posterior_at(x, ws, out);
    benchmark::DoNotOptimize(out.variance_gradient.data());
  }
}
BENCHMARK(BM_PosteriorAtWithGradient)
    ->ArgsProduct({{30, 90, 300}, {2, 6, 15}})
    ->ArgNames({"n", "d"})
    ->MinTime(0.05)
    ->Unit(benchmark::kMicrosecond);

// One observation added by the rank-one Cholesky extension (vs. a rebuild below).
void BM_AddObservation(benchmark::State& state) {
  const auto gp = make_gp(state.range(0), 6);
  const Eigen::VectorXd x = Eigen::VectorXd::Constant(6, 0.37);
  for (auto _ : state) {
    state.PauseTiming();
    auto copy = gp;
    state.ResumeTiming();
    copy.add_observation(x, 0.5);
    benchmark::DoNotOptimize(copy.alpha().data());
  }
}
BENCHMARK(BM_AddObservation)
    ->Arg(90)
    ->Arg(300)
    ->ArgName("n")
    ->MinTime(0.05)
    ->Unit(benchmark::kMicrosecond);

void BM_Rebuild(benchmark::State& state) {
  const Data data = make_data(state.range(0) + 1, 6, 2);
  bomf::GpHyperparameters h;
  h.lengthscales = Eigen::VectorXd::Constant(6, 0.5);
  h.outputscale = 1.5;
  h.noise = 1e-3;
  for (auto _ : state) {
    bomf::ExactGP<bomf::Matern52Kernel> gp(data.x, data.y, h);
    benchmark::DoNotOptimize(gp.alpha().data());
  }
}
BENCHMARK(BM_Rebuild)
    ->Arg(90)
    ->Arg(300)
    ->ArgName("n")
    ->MinTime(0.05)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
