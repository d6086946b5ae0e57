// The MOBO benchmark suite's smoke form as a Google Benchmark program, so that
// scripts/bench-smoke.sh exercises the code of bomf_mobo_suite on every CI run:
//   BM_MoboProblemDefinitions      checks every problem against hand-derived values;
//   BM_MoboSmokeRun/<problem>      one run (seed 0) with SuiteSettings::smoke(): the initial
//                                  design + 2 iterations, tiny optimizer settings, then the JSON
//                                  summary against tests/data/mobo_quality.json.
// Each benchmark runs once. Counters: hv_design, hv_final, random_final (hypervolumes),
// fit_s, acq_s (wall seconds per iteration). Figures from these settings mean nothing; the
// measurement is `bomf_mobo_suite` (docs/mobo_benchmarks.md).
// Exit status 1 when a check fails (a wrong definition, a decreasing or non-finite trace, a point
// outside the domain), so the smoke run catches it.
#include <benchmark/benchmark.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "mobo_problems.hpp"
#include "mobo_runner.hpp"

namespace {

bool g_failed = false;

void fail(benchmark::State& state, const std::string& message) {
  g_failed = true;
  state.SkipWithError(message.c_str());
}

// Problems of the smoke run, by index (Google Benchmark arguments are integers).
const std::vector<std::string>& smoke_problems() {
  static const std::vector<std::string> names = bomf::bench::problem_names();
  return names;
}

std::string check_run(const bomf::bench::MoboProblem& problem, const bomf::bench::RunResult& r) {
  if (static_cast<int>(r.hv.size()) != r.iterations + 1 ||
      static_cast<int>(r.random_hv.size()) != r.iterations + 1)
    return "trace length differs from iterations + 1";
  for (std::size_t i = 0; i < r.hv.size(); ++i) {
    if (!std::isfinite(r.hv[i]) || r.hv[i] < 0.0 || r.hv[i] > problem.max_hv * (1.0 + 1e-3))
      return bomf::detail::concat("hv[", i, "] = ", r.hv[i], " outside [0, max_hv]");
    if (i > 0 && r.hv[i] < r.hv[i - 1])
      return bomf::detail::concat("hv decreases at iteration ", i);
  }
  if (r.n_init != 2 * (problem.dim + 1))
    return bomf::detail::concat("n_init is ", r.n_init, ", expected 2(d + 1)");
  for (Eigen::Index i = 0; i < r.X.rows(); ++i) {
    const Eigen::VectorXd x = r.X.row(i).transpose();
    const bool inside = problem.domain == bomf::bench::Domain::simplex
                            ? x.minCoeff() >= 0.0 && std::abs(x.sum() - 1.0) <= 1e-9
                            : (x.array() >= problem.lower.array()).all() &&
                                  (x.array() <= problem.upper.array()).all();
    if (!inside)
      return bomf::detail::concat("evaluated point ", i, " lies outside the domain");
  }
  return {};
}

void BM_MoboProblemDefinitions(benchmark::State& state) {
  for (auto _ : state) {
    const std::vector<std::string> failures = bomf::bench::check_problem_definitions();
    if (!failures.empty()) {
      fail(state, failures.front());
      return;
    }
  }
}
BENCHMARK(BM_MoboProblemDefinitions)->Iterations(1)->Unit(benchmark::kMillisecond);

void BM_MoboSmokeRun(benchmark::State& state) {
  const std::string name = smoke_problems().at(static_cast<std::size_t>(state.range(0)));
  state.SetLabel(name);
  const bomf::bench::MoboProblem problem = bomf::bench::make_problem(name);
  const bomf::bench::SuiteSettings settings = bomf::bench::SuiteSettings::smoke();
  bomf::bench::Json reference;
  std::ifstream in(std::string(BOMF_TEST_DATA_DIR) + "/mobo_quality.json");
  if (in)
    reference = bomf::bench::Json::parse(in);
  for (auto _ : state) {
    const bomf::bench::RunResult r = bomf::bench::run_mobo(problem, 0, settings);
    if (const std::string e = check_run(problem, r); !e.empty()) {
      fail(state, name + ": " + e);
      return;
    }
    const bomf::bench::Json summary =
        bomf::bench::summarize(problem, {r}, reference.is_null() ? nullptr : &reference);
    benchmark::DoNotOptimize(bomf::bench::run_to_json(problem, r).dump());
    state.counters["hv_design"] = r.hv.front();
    state.counters["hv_final"] = r.hv.back();
    state.counters["random_final"] = r.random_hv.back();
    state.counters["fit_s"] = summary["median_fit_s"].get<double>();
    state.counters["acq_s"] = summary["median_acq_s"].get<double>();
  }
}
BENCHMARK(BM_MoboSmokeRun)
    ->DenseRange(0, static_cast<int>(bomf::bench::problem_names().size()) - 1)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv))
    return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return g_failed ? 1 : 0;
}
