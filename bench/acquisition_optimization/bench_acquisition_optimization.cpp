// One BOMF iteration (fit m GPs + build qLogNEHVI + maximize it) timed against BoTorch 0.11.3 in
// the same run, and bomf's acquisition optimizers against BoTorch's on identical functions.
// Figures, machine and commands: docs/iteration_speed.md.
//
// BM_MoboIterationQLogNehvi/m/n/threads — BoTorch's timing setting (the anchor's
//   bench_mobo.one_iteration): d = N = 15, m objectives, n observations, one Matérn-5/2 GP per
//   objective fitted with BoTorch ≤ 0.11's priors from one L-BFGS-B start with scipy's memory of
//   10 correction pairs (as fit_gpytorch_mll),
//   qLogNEHVI with 128 QMC samples and baseline pruning, 10 restarts from 512 raw samples. bomf's
//   data: n Sobol points on the 15-simplex, f_k(x) = exp(−‖x − a_k‖²/0.1) + N(0, 0.005²) with
//   a_k fixed Dirichlet(1) points (seed 2024 + m); bomf maximizes on the simplex
//   (maximize_on_simplex). Counters per iteration: cpu_s (process CPU seconds), fit_s, acqf_s,
//   opt_s (wall seconds of the three steps). `threads` is GpFitOptions::, QLogNehviOptions:: and
//   SimplexOptimizerOptions::num_threads (results are bit-identical for 1 and 2).
//   With BOMF_BENCH_BOTORCH=1 and the anchor available (botorch_side.hpp), each threads:1 run
//   then times BOMF_BENCH_BOTORCH_REPS (default 1) of BoTorch's one_iteration on the anchor's
//   data in a child process with 1 torch thread, right after bomf's measurement, and adds
//   botorch_cpu_s (median), botorch_wall_s and ratio_cpu = botorch_cpu_s / cpu_s: a like-for-like
//   ratio (1 thread each, CPU time, same run). --benchmark_repetitions=3 interleaves the sides.
//   tools: ../shared/botorch-anchor/ab_iteration.py drives this benchmark the same way.
// BM_MoboIterationQLogNehviScreened/m/n/screening_samples — the same iteration, 1 thread, with
//   QLogNehviOptions::screening_samples (the raw candidates ranked with the first s of the 128
//   base samples; restarts refined and the result computed with all 128). ratio_cpu divides the
//   BoTorch time BM_MoboIterationQLogNehvi measured for (m, n) earlier in the same process run
//   (the median of its measurements); absent when it measured none.
// BM_FusionIterationN64 — the same iteration for N = 64 members, n = 320, m = 3 (1 thread).
//   first_cpu_s is the first iteration this process ran (cold: fresh memory, empty QMC memo)
//   when the benchmark runs alone in a fresh process (--benchmark_filter=BM_FusionIterationN64).
// BM_OptimizerQualityVsBoTorch/domain/m/n — not a timing: for the data of the timing setting
//   (domain 0: the box [0,1]^15 with f(x/Σx), BoTorch's own setting; domain 1: the simplex),
//   GPs fitted by bomf, BoTorch maximizes qLogNEHVI (prune_baseline = False, 128 Sobol samples)
//   with optimize_acqf (10 restarts, 512 raw samples; on the simplex with Σx = 1 as an equality
//   constraint, SLSQP); bomf maximizes the identical function (same hyperparameters, BoTorch's
//   base samples injected) with maximize_in_box / maximize_on_simplex and their defaults.
//   Five seeds per problem (BoTorch's sampler and restarts, bomf's raw candidates and restarts).
//   Counters: bomf, botorch (the two maxima), diff = bomf − botorch, check = |bomf's value at
//   BoTorch's point − BoTorch's value| (the functions agree), and diff_screened for bomf's
//   optimizer run again with screening_samples = 16 on the same function; a win/tie/loss summary
//   per domain and variant is printed at the end. Without BoTorch only bomf runs.
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "acquisition_optimization/botorch_side.hpp"
#include "bomf/acquisition/q_log_nehvi.hpp"
#include "bomf/gp/fit_gp.hpp"
#include "bomf/gp/matern52_kernel.hpp"
#include "bomf/gp/priors.hpp"
#include "bomf/optim/maximize_in_box.hpp"
#include "bomf/optim/maximize_on_simplex.hpp"
#include "bomf/optim/search_space.hpp"
#include "bomf/optim/simplex.hpp"
#include "bomf/sampling/sobol_sequence.hpp"
#include "support/acqopt_problems.hpp"

namespace {

using Gp = bomf::ExactGP<bomf::Matern52Kernel>;
using Acqf = bomf::QLogNoisyExpectedHypervolumeImprovement<bomf::Matern52Kernel>;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

bomf::GpFitOptions fit_options(int threads) {
  bomf::GpFitOptions fit;
  fit.priors = bomf::GpPriors::botorch_legacy();
  fit.num_starts = 1;     // as BoTorch's fit_gpytorch_mll (one L-BFGS-B run)
  fit.lbfgs_memory = 10;  // as its scipy L-BFGS-B (maxcor = 10)
  fit.num_threads = threads;
  return fit;
}

struct IterationTimes {
  double fit_s = 0.0;
  double acqf_s = 0.0;
  double opt_s = 0.0;
  double cpu_s = 0.0;
  double value = 0.0;
};

// One BOMF iteration on the N-simplex: fit, build qLogNEHVI, maximize; the raw candidates
// ranked with `screening_samples` of the base samples (0: all, BoTorch's way).
IterationTimes run_iteration(const Eigen::MatrixXd& X, const Eigen::MatrixXd& Y, int threads,
                             Eigen::Index screening_samples = 0) {
  const Eigen::Index m = Y.cols();
  const Eigen::VectorXd ref = Eigen::VectorXd::Zero(m);
  const bomf::Simplex simplex(X.cols());
  bomf::QLogNehviOptions acq_options;
  acq_options.num_samples = 128;
  acq_options.prune_baseline = true;
  acq_options.num_threads = threads;
  acq_options.screening_samples = screening_samples;
  bomf::SimplexOptimizerOptions opt;
  opt.raw_samples = 512;
  opt.num_restarts = 10;
  opt.num_threads = threads;
  IterationTimes t;
  const double c0 = process_cpu_seconds();
  auto t0 = std::chrono::steady_clock::now();
  const auto models = bomf::fit_model_list_gp<bomf::Matern52Kernel>(X, Y, fit_options(threads));
  t.fit_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  Acqf acqf(models, X, ref, acq_options);
  t.acqf_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  const auto result = bomf::maximize_on_simplex(acqf, simplex, opt);
  t.opt_s = seconds_since(t0);
  t.cpu_s = process_cpu_seconds() - c0;
  t.value = result.value;
  return t;
}

int botorch_reps() {
  const char* reps = std::getenv("BOMF_BENCH_BOTORCH_REPS");
  return reps != nullptr ? std::max(1, std::atoi(reps)) : 1;
}

// Every BoTorch one_iteration CPU time measured in this process, per (m, n).
std::map<std::pair<int, int>, std::vector<double>>& botorch_cpu_measured() {
  static std::map<std::pair<int, int>, std::vector<double>> measured;
  return measured;
}

// BoTorch's one_iteration for (m, n), `reps` times; the median CPU and wall seconds.
bool time_botorch(int m, int n, double& cpu_s, double& wall_s) {
  auto& side = bomf::bench::BoTorchSide::instance();
  if (!side.available()) {
    return false;
  }
  std::vector<double> cpu;
  std::vector<double> wall;
  for (int r = 0; r < botorch_reps(); ++r) {
    const nlohmann::json reply =
        side.request({{"cmd", "time_iteration"}, {"m", m}, {"n", n}, {"seed", r}});
    if (!reply.contains("cpu_s")) {
      std::fprintf(stderr, "BoTorch: %s\n", reply.dump().c_str());
      return false;
    }
    cpu.push_back(reply["cpu_s"].get<double>());
    botorch_cpu_measured()[{m, n}].push_back(cpu.back());
    wall.push_back(reply["wall_s"].get<double>());
  }
  std::sort(cpu.begin(), cpu.end());
  std::sort(wall.begin(), wall.end());
  cpu_s = cpu[cpu.size() / 2];
  wall_s = wall[wall.size() / 2];
  return true;
}

// Times run_iteration over the benchmark's iterations and sets the counters fit_s, acqf_s, opt_s
// and cpu_s (means per iteration); returns cpu_s. The first iteration's CPU seconds go to
// `first_cpu_s` when it is given.
double time_iterations(benchmark::State& state, const Eigen::MatrixXd& X, const Eigen::MatrixXd& Y,
                       int threads, Eigen::Index screening_samples, double* first_cpu_s = nullptr) {
  IterationTimes total;
  for (auto _ : state) {
    const IterationTimes t = run_iteration(X, Y, threads, screening_samples);
    if (first_cpu_s != nullptr && *first_cpu_s < 0.0) {
      *first_cpu_s = t.cpu_s;
    }
    total.fit_s += t.fit_s;
    total.acqf_s += t.acqf_s;
    total.opt_s += t.opt_s;
    total.cpu_s += t.cpu_s;
    benchmark::DoNotOptimize(t.value);
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["fit_s"] = total.fit_s / iters;
  state.counters["acqf_s"] = total.acqf_s / iters;
  state.counters["opt_s"] = total.opt_s / iters;
  state.counters["cpu_s"] = total.cpu_s / iters;
  return total.cpu_s / iters;
}

// The timing setting's data for m objectives and n observations on the 15-simplex.
std::pair<Eigen::MatrixXd, Eigen::MatrixXd> timing_data(Eigen::Index m, Eigen::Index n) {
  constexpr Eigen::Index kN = 15;
  Eigen::MatrixXd X = bomf::test::simplex_design(kN, n, 0);
  Eigen::MatrixXd Y = bomf::test::bump_objectives(X, m, 2024 + static_cast<std::uint64_t>(m), 7);
  return {std::move(X), std::move(Y)};
}

void BM_MoboIterationQLogNehvi(benchmark::State& state) {
  const auto m = static_cast<Eigen::Index>(state.range(0));
  const auto n = static_cast<Eigen::Index>(state.range(1));
  const auto threads = static_cast<int>(state.range(2));
  const auto [X, Y] = timing_data(m, n);
  const double cpu_s = time_iterations(state, X, Y, threads, 0);
  double botorch_cpu = 0.0;
  double botorch_wall = 0.0;
  if (threads == 1 &&
      time_botorch(static_cast<int>(m), static_cast<int>(n), botorch_cpu, botorch_wall)) {
    state.counters["botorch_cpu_s"] = botorch_cpu;
    state.counters["botorch_wall_s"] = botorch_wall;
    state.counters["ratio_cpu"] = botorch_cpu / cpu_s;
  }
}
BENCHMARK(BM_MoboIterationQLogNehvi)
    ->ArgNames({"m", "n", "threads"})
    ->ArgsProduct({{2, 3}, {15, 45, 90}, {1, 2}})
    ->Args({4, 90, 1})
    ->Args({5, 90, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_MoboIterationQLogNehviScreened(benchmark::State& state) {
  const auto m = static_cast<Eigen::Index>(state.range(0));
  const auto n = static_cast<Eigen::Index>(state.range(1));
  const auto [X, Y] = timing_data(m, n);
  const double cpu_s = time_iterations(state, X, Y, 1, state.range(2));
  const auto found = botorch_cpu_measured().find({static_cast<int>(m), static_cast<int>(n)});
  if (found != botorch_cpu_measured().end()) {
    std::vector<double> cpu = found->second;
    std::sort(cpu.begin(), cpu.end());
    state.counters["botorch_cpu_s"] = cpu[cpu.size() / 2];
    state.counters["ratio_cpu"] = cpu[cpu.size() / 2] / cpu_s;
  }
}
BENCHMARK(BM_MoboIterationQLogNehviScreened)
    ->ArgNames({"m", "n", "screening_samples"})
    ->ArgsProduct({{2, 3}, {15, 45, 90}, {16}})
    ->Args({4, 90, 16})
    ->Args({5, 90, 16})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_FusionIterationN64(benchmark::State& state) {
  constexpr Eigen::Index kN = 64;
  constexpr Eigen::Index kM = 3;
  const auto n = static_cast<Eigen::Index>(state.range(0));
  const Eigen::MatrixXd X = bomf::test::simplex_design(kN, n, 0);
  const Eigen::MatrixXd Y = bomf::test::bump_objectives(X, kM, 2024 + kM, 7);
  static double first_cpu_s = -1.0;  // the first iteration this process ran
  time_iterations(state, X, Y, 1, 0, &first_cpu_s);
  state.counters["first_cpu_s"] = first_cpu_s;
}
BENCHMARK(BM_FusionIterationN64)
    ->ArgName("n")
    ->Arg(320)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// n Sobol points of the box [0,1]^d (the anchor's draw_sobol_samples in spirit; our sequence).
Eigen::MatrixXd box_design(Eigen::Index d, Eigen::Index n) {
  return bomf::SobolSequence(static_cast<int>(d), 1).draw(n);
}

// The timing objectives, on the box through x/Σx (BoTorch's setting) or on the simplex.
Eigen::MatrixXd objectives(const Eigen::MatrixXd& X, Eigen::Index m, bool on_box) {
  Eigen::MatrixXd W = X;
  if (on_box) {
    for (Eigen::Index i = 0; i < W.rows(); ++i) {
      W.row(i) /= std::max(W.row(i).sum(), 1e-12);
    }
  }
  return bomf::test::bump_objectives(W, m, 2024 + static_cast<std::uint64_t>(m), 7);
}

nlohmann::json to_json(const Eigen::MatrixXd& A) {
  nlohmann::json rows = nlohmann::json::array();
  for (Eigen::Index i = 0; i < A.rows(); ++i) {
    nlohmann::json row = nlohmann::json::array();
    for (Eigen::Index j = 0; j < A.cols(); ++j) {
      row.push_back(A(i, j));
    }
    rows.push_back(row);
  }
  return rows;
}

Eigen::MatrixXd from_json(const nlohmann::json& rows) {
  Eigen::MatrixXd A(static_cast<Eigen::Index>(rows.size()),
                    static_cast<Eigen::Index>(rows[0].size()));
  for (Eigen::Index i = 0; i < A.rows(); ++i) {
    for (Eigen::Index j = 0; j < A.cols(); ++j) {
      A(i, j) = rows[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)].get<double>();
    }
  }
  return A;
}

// Win/tie/loss of bomf against BoTorch over the quality runs (tie: |diff| ≤ 1e-6 · |value|),
// printed when the program ends.
struct QualityTally {
  int win[2] = {0, 0};
  int tie[2] = {0, 0};
  int loss[2] = {0, 0};
  double worst[2] = {0.0, 0.0};
  double sum[2] = {0.0, 0.0};
  void add(bool on_box, double diff, double scale) {
    const int d = on_box ? 0 : 1;
    if (std::abs(diff) <= 1e-6 * std::abs(scale)) {
      ++tie[d];
    } else if (diff > 0.0) {
      ++win[d];
    } else {
      ++loss[d];
    }
    worst[d] = std::min(worst[d], diff);
    sum[d] += diff;
  }
  const char* variant;
  explicit QualityTally(const char* name) : variant(name) {}
  QualityTally(const QualityTally&) = delete;
  QualityTally& operator=(const QualityTally&) = delete;
  ~QualityTally() {
    for (int d = 0; d < 2; ++d) {
      const int runs = win[d] + tie[d] + loss[d];
      if (runs > 0) {
        std::fprintf(stderr,
                     "[ quality ] %s: %s vs BoTorch win/tie/loss %d/%d/%d over %d runs, mean "
                     "diff %+.3e, worst %+.3e (log-acquisition units)\n",
                     d == 0 ? "box    " : "simplex", variant, win[d], tie[d], loss[d], runs,
                     sum[d] / runs, worst[d]);
      }
    }
  }
};
QualityTally quality_tally("bomf");
QualityTally quality_tally_screened("bomf screening with 16 samples");

void BM_OptimizerQualityVsBoTorch(benchmark::State& state) {
  constexpr Eigen::Index kD = 15;
  const bool on_box = state.range(0) == 0;
  const auto m = static_cast<Eigen::Index>(state.range(1));
  const auto n = static_cast<Eigen::Index>(state.range(2));
  const auto seed = static_cast<std::uint64_t>(state.range(3));
  const Eigen::MatrixXd X = on_box ? box_design(kD, n) : bomf::test::simplex_design(kD, n, 0);
  const Eigen::MatrixXd Y = objectives(X, m, on_box);
  const Eigen::VectorXd ref = Eigen::VectorXd::Zero(m);
  const auto models = bomf::fit_model_list_gp<bomf::Matern52Kernel>(X, Y, fit_options(1));
  auto& side = bomf::bench::BoTorchSide::instance();
  nlohmann::json reply;
  if (side.available()) {
    nlohmann::json hyper = nlohmann::json::array();
    for (const Gp& gp : models.models()) {
      const auto& h = gp.hyperparameters();
      hyper.push_back(
          {{"lengthscales", std::vector<double>(h.lengthscales.data(), h.lengthscales.data() + kD)},
           {"outputscale", h.outputscale},
           {"noise", h.noise},
           {"mean_constant", h.mean_constant}});
    }
    reply = side.request({{"cmd", "optimize"},
                          {"domain", on_box ? "box" : "simplex"},
                          {"X", to_json(X)},
                          {"Y", to_json(Y)},
                          {"ref", std::vector<double>(m, 0.0)},
                          {"models", hyper},
                          {"seed", seed}});
  }
  const bool compare = reply.contains("x");
  bomf::QLogNehviOptions options;
  options.num_samples = 128;
  if (compare) {
    options.base_samples_baseline = from_json(reply["base_samples_baseline"]);
  }
  Acqf acqf(models, X, ref, options);
  if (compare) {
    acqf.set_base_samples_new(from_json(reply["base_samples_new"]));
  }
  // The same function screened with its first 16 base samples (the injected ones when injected).
  options.screening_samples = 16;
  Acqf screened(models, X, ref, options);
  if (compare) {
    screened.set_base_samples_new(from_json(reply["base_samples_new"]));
  }
  const auto maximize = [&](Acqf& f) {
    if (on_box) {
      bomf::SearchSpace space;
      for (Eigen::Index j = 0; j < kD; ++j) {
        space.add_continuous("x" + std::to_string(j), 0.0, 1.0);
      }
      bomf::BoxOptimizerOptions options_box;
      options_box.seed = seed;
      return bomf::maximize_in_box(f, space, options_box).value;
    }
    bomf::SimplexOptimizerOptions options_simplex;
    options_simplex.seed = seed;
    return bomf::maximize_on_simplex(f, bomf::Simplex(kD), options_simplex).value;
  };
  double value = 0.0;
  double value_screened = 0.0;
  for (auto _ : state) {
    value = maximize(acqf);
    value_screened = maximize(screened);
  }
  state.counters["bomf"] = value;
  state.counters["bomf_screened"] = value_screened;
  if (compare) {
    const Eigen::VectorXd x_botorch =
        Eigen::Map<const Eigen::VectorXd>(reply["x"].get<std::vector<double>>().data(), kD);
    const double botorch = reply["value"].get<double>();
    Eigen::VectorXd grad(kD);
    const double ours_at_theirs = acqf(x_botorch, grad);
    state.counters["botorch"] = botorch;
    state.counters["diff"] = value - botorch;
    state.counters["diff_screened"] = value_screened - botorch;
    state.counters["check"] = std::abs(ours_at_theirs - botorch);
    state.counters["botorch_cpu_s"] = reply["cpu_s"].get<double>();
    quality_tally.add(on_box, value - botorch, botorch);
    quality_tally_screened.add(on_box, value_screened - botorch, botorch);
    std::fprintf(stderr,
                 "[ quality ] %s m=%ld n=%ld seed %lu: bomf %.10f BoTorch %.10f diff %+.3e "
                 "(screening 16: %+.3e; same function: |ours(x_BoTorch) - BoTorch| = %.1e)\n",
                 on_box ? "box    " : "simplex", static_cast<long>(m), static_cast<long>(n),
                 static_cast<unsigned long>(seed), value, botorch, value - botorch,
                 value_screened - botorch, std::abs(ours_at_theirs - botorch));
  } else {
    state.SetLabel(side.reason());
  }
}
BENCHMARK(BM_OptimizerQualityVsBoTorch)
    ->ArgNames({"box0_simplex1", "m", "n", "seed"})
    ->ArgsProduct({{0, 1}, {2, 3}, {15, 45, 90}, {0, 1, 2, 3, 4}})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
