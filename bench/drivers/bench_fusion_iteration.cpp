// The overhead of one BOMF fusion iteration, i.e. everything but the user's evaluation:
// MultiObjectiveSearch::suggest(1) on the simplex with the paper's settings — m independent GPs
// refitted (Matérn-5/2, BoTorch 0.11 priors), qLogNEHVI with 128 QMC samples and baseline
// pruning, maximize_on_simplex with 512 raw samples and 10 restarts — for N = 15 members,
// m ∈ {2, 3} objectives and n ∈ {15, 45, 90} observations: the setting of
// tests/data/mobo_timing.json, where BoTorch 0.11.3 (2 torch threads) takes a median of
// 5.4 / 2.4 / 1.9 s (m = 2) per iteration. Objectives as there: f_k(δ) = exp(−‖δ − a_k‖² / 0.1)
// + N(0, 0.005²) with a_k fixed Dirichlet(1) points. Counters: fit and acquisition seconds.
// Also: the journal's cost per evaluation (one JSON line + fsync) for N = 15.
#include <benchmark/benchmark.h>

#include <unistd.h>
#include <Eigen/Core>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "bomf/drivers/fusion_evaluator.hpp"
#include "bomf/drivers/multi_objective_search.hpp"

namespace {

constexpr int kMembers = 15;

Eigen::MatrixXd dirichlet_anchors(int m, std::mt19937_64& rng) {
  std::exponential_distribution<double> expo(1.0);
  Eigen::MatrixXd a(m, kMembers);
  for (int k = 0; k < m; ++k) {
    for (int j = 0; j < kMembers; ++j) {
      a(k, j) = expo(rng);
    }
    a.row(k) /= a.row(k).sum();
  }
  return a;
}

void BM_FusionIteration(benchmark::State& state) {
  const int m = static_cast<int>(state.range(0));
  const int n = static_cast<int>(state.range(1));
  std::mt19937_64 rng(2024 + static_cast<unsigned>(m));
  const Eigen::MatrixXd anchors = dirichlet_anchors(m, rng);
  std::normal_distribution<double> noise(0.0, 0.005);
  const bomf::Simplex simplex(kMembers);
  bomf::MultiObjectiveSearchOptions<bomf::SimplexDomain> options;  // the paper's (defaults)
  options.num_initial = n;
  bomf::MultiObjectiveSearch<bomf::Matern52Kernel, bomf::SimplexDomain> search(
      simplex, Eigen::VectorXd::Zero(m), options);
  for (const bomf::Proposal& p : search.suggest(n)) {
    const Eigen::VectorXd& x = p.point;
    Eigen::VectorXd y(m);
    for (int k = 0; k < m; ++k) {
      y(k) = std::exp(-(x - anchors.row(k).transpose()).squaredNorm() / 0.1) + noise(rng);
    }
    search.observe(x, y);
  }
  double fit = 0.0;
  double acquisition = 0.0;
  for (auto _ : state) {
    const bomf::Proposal p = search.suggest(1).front();
    fit += p.fit_seconds;
    acquisition += p.acquisition_seconds;
    search.cancel_pending(p.point);
    benchmark::DoNotOptimize(p.point.data());
  }
  state.counters["fit_s"] = benchmark::Counter(fit, benchmark::Counter::kAvgIterations);
  state.counters["acq_s"] = benchmark::Counter(acquisition, benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_FusionIteration)
    ->ArgNames({"m", "n"})
    ->Args({2, 15})
    ->Args({2, 45})
    ->Args({2, 90})
    ->Args({3, 15})
    ->Args({3, 45})
    ->Args({3, 90})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

void BM_JournalAppend(benchmark::State& state) {
  const std::string path = "/tmp/bomf_bench_journal_" + std::to_string(::getpid());
  std::remove(path.c_str());
  bomf::FusionObjectives objectives;
  objectives.metrics.push_back({"accuracy", bomf::Direction::maximize});
  objectives.metrics.push_back({"f1", bomf::Direction::maximize});
  {
    bomf::FusionLedger ledger(kMembers, objectives, "bench", path);
    bomf::FusionRecord record;
    record.ok = true;
    record.evaluation.loss = 0.4;
    record.evaluation.metrics = Eigen::VectorXd{{0.9, 0.8}};
    record.source = "search";
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (auto _ : state) {
      record.delta = Eigen::VectorXd::NullaryExpr(kMembers, [&] { return u(rng); });
      record.delta /= record.delta.sum();
      ledger.append(record);
    }
  }
  std::remove(path.c_str());
}
BENCHMARK(BM_JournalAppend)->Unit(benchmark::kMicrosecond);

}  // namespace
