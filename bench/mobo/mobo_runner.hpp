// bench/mobo/mobo_runner.hpp — runs `bomf::MultiObjectiveSearch` (independent Matérn-5/2 GPs with
// BoTorch 0.11.3's priors + qLogNEHVI, q = 1) on a `MoboProblem` as BoTorch's reference runs in
// tests/data/mobo_quality.json were set up, a Sobol random-search baseline with the same budget,
// and the JSON summary that compares both with BoTorch's median traces.
//
// Protocol of one run (problem, seed):
//   1. the engine's quasi-random initial design of 2(d + 1) points (scrambled Sobol in [0,1]^d,
//      or Sobol mapped to the simplex), evaluated; hv[0] = hypervolume after the design;
//   2. T iterations (T = 30 by default, up to 50): suggest(1) → evaluate → observe; hv[i] =
//      hypervolume of all observations after iteration i. This is the indexing of `hv` in
//      mobo_quality.json's `runs` (length T + 1, hv[0] after the initial design).
//   Box problems are optimized on u ∈ [0,1]^d (a SearchSpace of d linear [0,1] dimensions, whose
//   encoding is the identity) and evaluated at x = lower + u ∘ (upper − lower), which is what
//   BoTorch's loop does (optimize in the unit cube, `unnormalize` to the problem bounds).
//   Simplex problems are optimized on the simplex itself (maximize_on_simplex).
// The random baseline evaluates the first 2(d + 1) + T points of a scrambled Sobol sequence (an
// independent seed) and records the same trace.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bomf/drivers/detail/seeds.hpp"
#include "bomf/drivers/multi_objective_search.hpp"
#include "bomf/gp/matern52_kernel.hpp"
#include "bomf/multi_objective/hypervolume.hpp"
#include "bomf/optim/search_space.hpp"
#include "bomf/optim/simplex.hpp"
#include "bomf/optim/simplex_candidates.hpp"
#include "bomf/sampling/sobol_sequence.hpp"
#include "mobo_problems.hpp"

namespace bomf::bench {

/// JSON with keys in insertion order (the output reads in the order it was written).
using Json = nlohmann::ordered_json;

/// The engine's options for both domains (the acquisition maximizer differs).
struct EngineSettings {
  GpFitOptions gp;
  QLogNehviOptions acquisition = MultiObjectiveSearchOptions<SimplexDomain>::default_acquisition();
  BoxOptimizerOptions box_optimizer;
  SimplexOptimizerOptions simplex_optimizer;

  /// MultiObjectiveSearch's options on `Domain`, with `seed`.
  template <class Domain>
  [[nodiscard]] MultiObjectiveSearchOptions<Domain> options(std::uint64_t seed) const {
    MultiObjectiveSearchOptions<Domain> o;
    o.gp = gp;
    o.acquisition = acquisition;
    if constexpr (std::is_same_v<Domain, SimplexDomain>) {
      o.acquisition_optimizer = simplex_optimizer;
    } else {
      o.acquisition_optimizer = box_optimizer;
    }
    o.seed = seed;
    return o;
  }
};

/// The settings of a suite run: the number of BO iterations and the engine's options.
struct SuiteSettings {
  /// BO iterations after the initial design (1 … 50).
  int iterations = 30;
  /// The engine's options; the defaults are MultiObjectiveSearch's, which match the reference
  /// runs: 2(d + 1) initial points, Matérn-5/2 GPs with BoTorch 0.11.3's priors and
  /// Standardize refitted every iteration, qLogNEHVI with 128 QMC samples and
  /// prune_baseline = true, 512 raw samples and 10 restarts (L-BFGS-B with maxiter 200 in the
  /// box). One departure: the GP fit makes gp.num_starts = 3 L-BFGS-B starts where BoTorch's
  /// fit_gpytorch_mll makes one (docs/mobo_benchmarks.md measures the difference: none).
  EngineSettings search;

  /// The reference protocol (mobo_quality.json `settings`): the defaults above.
  static SuiteSettings reference() { return {}; }

  /// Tiny settings for the CI smoke run: 2 iterations, 1 GP start, 16 QMC samples, 32 raw
  /// samples and 2 short restarts. Figures from it mean nothing.
  static SuiteSettings smoke() {
    SuiteSettings s;
    s.iterations = 2;
    s.search.gp.num_starts = 1;
    s.search.gp.max_iterations = 50;
    s.search.acquisition.num_samples = 16;
    s.search.acquisition.prune_num_samples = 128;
    s.search.box_optimizer.raw_samples = 32;
    s.search.box_optimizer.num_restarts = 2;
    s.search.box_optimizer.max_iterations = 25;
    s.search.simplex_optimizer.raw_samples = 32;
    s.search.simplex_optimizer.num_restarts = 2;
    s.search.simplex_optimizer.num_near_best = 8;
    s.search.simplex_optimizer.num_face_points = 8;
    s.search.simplex_optimizer.refine.max_iterations = 25;
    s.search.simplex_optimizer.refine.max_evaluations = 100;
    return s;
  }

  /// Empty when valid, else the first problem found.
  [[nodiscard]] std::string validate() const {
    if (iterations < 1 || iterations > 50)
      return detail::concat("iterations is ", iterations, ", expected 1 to 50");
    const std::string box = search.options<BoxDomain>(0).validate(
        BoxDomain(SearchSpace().add_continuous("u0", 0.0, 1.0)));
    if (!box.empty())
      return box;
    return search.options<SimplexDomain>(0).validate(SimplexDomain(Simplex(2)));
  }

  /// The settings as JSON (for the output's `settings` block).
  [[nodiscard]] Json to_json() const {
    Json j;
    j["acqf"] = "qLogNEHVI";
    j["q"] = 1;
    j["iterations"] = iterations;
    j["initial_points"] = "2*(d+1) scrambled Sobol points (MultiObjectiveSearch design)";
    j["mc_samples"] = search.acquisition.num_samples;
    if (search.acquisition.screening_samples > 0) {
      j["screening_samples"] = search.acquisition.screening_samples;
    }
    j["prune_baseline"] = search.acquisition.prune_baseline;
    j["prune_num_samples"] = search.acquisition.prune_num_samples;
    j["tau_relu"] = search.acquisition.tau_relu;
    j["tau_max"] = search.acquisition.tau_max;
    j["box_optimizer"] = {{"raw_samples", search.box_optimizer.raw_samples},
                          {"num_restarts", search.box_optimizer.num_restarts},
                          {"eta", search.box_optimizer.eta},
                          {"max_iterations", search.box_optimizer.max_iterations},
                          {"method", "multi-start L-BFGS-B on [0,1]^d (maximize_in_box)"}};
    j["simplex_optimizer"] = {
        {"raw_samples", search.simplex_optimizer.raw_samples},
        {"num_restarts", search.simplex_optimizer.num_restarts},
        {"eta", search.simplex_optimizer.eta},
        {"num_near_best", search.simplex_optimizer.num_near_best},
        {"num_face_points", search.simplex_optimizer.num_face_points},
        {"refine_max_iterations", search.simplex_optimizer.refine.max_iterations},
        {"method",
         "maximize_on_simplex (raw samples + vertices + barycentre + near-best + face points, "
         "projected-gradient refinement)"}};
    j["model"] = {{"kernel", "Matern52 ARD with output scale"},
                  {"priors", search.gp.priors ? "user" : "GpPriors::botorch_legacy()"},
                  {"standardize", search.gp.standardize},
                  {"fit_num_starts", search.gp.num_starts},
                  {"fit_max_iterations", search.gp.max_iterations},
                  {"refit", "every iteration, on all observations"}};
    j["inputs"] = "box: optimized in [0,1]^d, mapped to the problem bounds; simplex: directly";
    j["objectives"] = "noise-free, maximized (BoTorch negate=True), fixed reference point";
    return j;
  }
};

/// Timings of one BO iteration.
struct IterationRecord {
  int iteration = 0;           ///< 1 … T.
  double fit_s = 0.0;          ///< fitting the GPs (wall).
  double acq_s = 0.0;          ///< building and maximizing qLogNEHVI (wall).
  double suggest_s = 0.0;      ///< the whole suggest call (wall) = fit + acquisition + bookkeeping.
  double suggest_cpu_s = 0.0;  ///< process CPU seconds of the suggest call.
  double eval_s = 0.0;         ///< evaluating the problem and observe (wall).
  int fallback = 0;            ///< 1 when the engine returned a quasi-random fallback point.
  double hv = 0.0;             ///< hypervolume after the iteration.
};

/// The outcome of one run.
struct RunResult {
  std::string problem;
  std::uint64_t seed = 0;
  int n_init = 0;
  int iterations = 0;
  std::vector<double> hv;         ///< length T + 1; hv[0] after the initial design.
  std::vector<double> random_hv;  ///< the Sobol baseline with the same budget, same indexing.
  std::vector<IterationRecord> per_iteration;
  double design_s = 0.0;  ///< wall seconds of the initial design (suggest + evaluations).
  double wall_s = 0.0;    ///< wall seconds of the whole BO run (not the random baseline).
  Eigen::MatrixXd X;      ///< evaluated inputs in natural units, in order ((n_init + T) × d).
  Eigen::MatrixXd Y;      ///< their objective values ((n_init + T) × m).
};

namespace bench_detail {

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

inline double cpu_seconds() {
  return static_cast<double>(std::clock()) / CLOCKS_PER_SEC;
}

/// Natural units of an engine point: the box's x = lower + u ∘ (upper − lower), or δ itself.
inline Eigen::VectorXd to_natural(const MoboProblem& problem, const Eigen::VectorXd& u) {
  if (problem.domain == Domain::simplex)
    return u;
  Eigen::VectorXd x = problem.lower.array() + u.array() * (problem.upper - problem.lower).array();
  return x.cwiseMax(problem.lower).cwiseMin(problem.upper);
}

/// The seed of the random baseline (a stream independent of the engine's).
inline std::uint64_t random_baseline_seed(std::uint64_t seed) {
  return detail::splitmix64(seed ^ 0x52414E444F4D5F42ULL);  // "RANDOM_B"
}

}  // namespace bench_detail

/// Hypervolume trace of Sobol random search with `n_init + iterations` evaluations: entry i is
/// the hypervolume of the first n_init + i points (scrambled Sobol in the box, or mapped to the
/// simplex by sorted spacings; seed derived from `seed`).
inline std::vector<double> random_search_trace(const MoboProblem& problem, std::uint64_t seed,
                                               int n_init, int iterations) {
  const int total = n_init + iterations;
  const std::uint64_t s = bench_detail::random_baseline_seed(seed);
  Eigen::MatrixXd U;
  if (problem.domain == Domain::simplex) {
    U = sobol_simplex_points(Simplex(problem.dim), total, s);
  } else {
    SobolSequence sobol(problem.dim, s);
    U = sobol.draw(total);
  }
  Eigen::MatrixXd Y(total, problem.num_objectives);
  for (int i = 0; i < total; ++i) {
    Y.row(i) =
        problem.evaluate(bench_detail::to_natural(problem, U.row(i).transpose())).transpose();
  }
  std::vector<double> trace;
  for (int i = 0; i <= iterations; ++i) {
    trace.push_back(hypervolume(Y.topRows(n_init + i), problem.ref_point));
  }
  return trace;
}

/// One BO run of `problem` with seed `seed` (see the file comment); `on_iteration` (optional)
/// is called after each iteration. Deterministic given (problem, seed, settings). Throws what
/// the engine throws (bomf::invalid_argument for bad settings).
inline RunResult run_mobo(const MoboProblem& problem, std::uint64_t seed,
                          const SuiteSettings& settings,
                          const std::function<void(const IterationRecord&)>& on_iteration = {});

namespace bench_detail {

template <class Domain>
RunResult run_on(const MoboProblem& problem, std::uint64_t seed, const SuiteSettings& settings,
                 Domain domain, const std::function<void(const IterationRecord&)>& on_iteration) {
  MultiObjectiveSearch<Matern52Kernel, Domain> search(std::move(domain), problem.ref_point,
                                                      settings.search.options<Domain>(seed));
  RunResult r;
  r.problem = problem.name;
  r.seed = seed;
  r.n_init = static_cast<int>(search.num_initial());
  r.iterations = settings.iterations;
  const int total = r.n_init + r.iterations;
  r.X.resize(total, problem.dim);
  r.Y.resize(total, problem.num_objectives);
  int row = 0;
  const auto evaluate_and_observe = [&](const Eigen::VectorXd& u) {
    const Eigen::VectorXd x = to_natural(problem, u);
    const Eigen::VectorXd y = problem.evaluate(x);
    r.X.row(row) = x.transpose();
    r.Y.row(row) = y.transpose();
    ++row;
    search.observe(u, y);
  };

  const auto start = std::chrono::steady_clock::now();
  for (const Proposal& p : search.suggest(r.n_init)) {
    evaluate_and_observe(p.point);
  }
  r.design_s = seconds_since(start);
  r.hv.push_back(search.hypervolume());

  for (int it = 1; it <= r.iterations; ++it) {
    IterationRecord rec;
    rec.iteration = it;
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = cpu_seconds();
    const std::vector<Proposal> next = search.suggest(1);
    rec.suggest_cpu_s = cpu_seconds() - c0;
    rec.suggest_s = seconds_since(t0);
    rec.fit_s = next.front().fit_seconds;
    rec.acq_s = next.front().acquisition_seconds;
    rec.fallback = next.front().kind == ProposalKind::fallback ? 1 : 0;
    const auto t1 = std::chrono::steady_clock::now();
    evaluate_and_observe(next.front().point);
    rec.eval_s = seconds_since(t1);
    rec.hv = search.hypervolume();
    r.hv.push_back(rec.hv);
    r.per_iteration.push_back(rec);
    if (on_iteration)
      on_iteration(rec);
  }
  r.wall_s = seconds_since(start);
  r.random_hv = random_search_trace(problem, seed, r.n_init, r.iterations);
  return r;
}

}  // namespace bench_detail

inline RunResult run_mobo(const MoboProblem& problem, std::uint64_t seed,
                          const SuiteSettings& settings,
                          const std::function<void(const IterationRecord&)>& on_iteration) {
  const std::string error = settings.validate();
  detail::require(error.empty(), "bomf::bench::run_mobo", "invalid settings: ", error);
  if (problem.domain == Domain::simplex)
    return bench_detail::run_on(problem, seed, settings, SimplexDomain(Simplex(problem.dim)),
                                on_iteration);
  SearchSpace space;
  for (int i = 0; i < problem.dim; ++i) {
    space.add_continuous(detail::concat("u", i), 0.0, 1.0);
  }
  return bench_detail::run_on(problem, seed, settings, BoxDomain(std::move(space)), on_iteration);
}

// ---------------------------------------------------------------------------------------------
// JSON output.

/// Median (the mean of the two middle values for an even count, as numpy); NaN if empty.
inline double median(std::vector<double> v) {
  if (v.empty())
    return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// log10(max_hv − hv), NaN (written as null) when hv ≥ max_hv (max_hv is an approximation for
/// BraninCurrin and VehicleSafety).
inline double log10_regret(double max_hv, double hv) {
  const double gap = max_hv - hv;
  return gap > 0.0 ? std::log10(gap) : std::numeric_limits<double>::quiet_NaN();
}

/// A matrix as a JSON list of rows.
inline Json to_json(const Eigen::MatrixXd& M) {
  Json rows = Json::array();
  for (Eigen::Index i = 0; i < M.rows(); ++i) {
    std::vector<double> row(static_cast<std::size_t>(M.cols()));
    for (Eigen::Index j = 0; j < M.cols(); ++j) {
      row[static_cast<std::size_t>(j)] = M(i, j);
    }
    rows.push_back(row);
  }
  return rows;
}

/// One run as JSON (the fields of mobo_quality.json's `runs` where they exist).
inline Json run_to_json(const MoboProblem& problem, const RunResult& r) {
  Json j;
  j["problem"] = r.problem;
  j["seed"] = r.seed;
  j["d"] = problem.dim;
  j["m"] = problem.num_objectives;
  j["n_init"] = r.n_init;
  j["iterations"] = r.iterations;
  j["max_hv"] = problem.max_hv;
  j["ref_point"] = std::vector<double>(problem.ref_point.data(),
                                       problem.ref_point.data() + problem.ref_point.size());
  j["hv"] = r.hv;
  std::vector<double> regret;
  for (const double h : r.hv) {
    regret.push_back(log10_regret(problem.max_hv, h));
  }
  j["log10_hv_regret"] = regret;
  j["random_sobol_hv"] = r.random_hv;
  Json per = Json::array();
  for (const IterationRecord& it : r.per_iteration) {
    per.push_back({{"iteration", it.iteration},
                   {"fit_s", it.fit_s},
                   {"acq_s", it.acq_s},
                   {"total_s", it.suggest_s},
                   {"total_cpu_s", it.suggest_cpu_s},
                   {"eval_s", it.eval_s},
                   {"fallback", it.fallback},
                   {"hv", it.hv}});
  }
  j["per_iteration"] = per;
  j["design_s"] = r.design_s;
  j["wall_s"] = r.wall_s;
  j["X"] = to_json(r.X);
  j["Y"] = to_json(r.Y);
  return j;
}

/// Per-index median over runs of a trace member.
inline std::vector<double> median_trace(const std::vector<RunResult>& runs,
                                        std::vector<double> RunResult::*member) {
  std::vector<double> out;
  if (runs.empty())
    return out;
  std::size_t len = std::numeric_limits<std::size_t>::max();
  for (const RunResult& r : runs) {
    len = std::min(len, (r.*member).size());
  }
  for (std::size_t i = 0; i < len; ++i) {
    std::vector<double> values;
    for (const RunResult& r : runs) {
      values.push_back((r.*member)[i]);
    }
    out.push_back(median(values));
  }
  return out;
}

/// Median over the runs' per-iteration records of one field.
inline double median_field(const std::vector<RunResult>& runs, double IterationRecord::*member) {
  std::vector<double> values;
  for (const RunResult& r : runs) {
    for (const IterationRecord& it : r.per_iteration) {
      values.push_back(it.*member);
    }
  }
  return median(values);
}

/// Median over BoTorch's per-iteration records (mobo_quality.json `runs[].per_iteration`) of
/// field `key` for `problem`; NaN when absent.
inline double botorch_median_field(const Json& reference, const std::string& problem,
                                   const std::string& key) {
  std::vector<double> values;
  for (const auto& run : reference.at("runs")) {
    if (run.value("problem", "") != problem || !run.contains("per_iteration"))
      continue;
    for (const auto& it : run.at("per_iteration")) {
      if (it.contains(key) && it.at(key).is_number())
        values.push_back(it.at(key).get<double>());
    }
  }
  return median(values);
}

/// The summary of one problem: median traces (ours and random), medians of the timings, and —
/// when `reference` (mobo_quality.json) has the problem — the comparison with BoTorch's median
/// trace at every budget and with its timings.
inline Json summarize(const MoboProblem& problem, const std::vector<RunResult>& runs,
                      const Json* reference) {
  Json s;
  const std::vector<double> ours = median_trace(runs, &RunResult::hv);
  const std::vector<double> random = median_trace(runs, &RunResult::random_hv);
  s["seeds_done"] = runs.size();
  s["iterations"] = runs.empty() ? 0 : runs.front().iterations;
  s["max_hv"] = problem.max_hv;
  s["median_hv_by_iteration"] = ours;
  std::vector<double> regret;
  for (const double h : ours) {
    regret.push_back(log10_regret(problem.max_hv, h));
  }
  s["median_log10_hv_regret_by_iteration"] = regret;
  s["median_random_sobol_hv_by_iteration"] = random;
  std::vector<double> finals;
  for (const RunResult& r : runs) {
    finals.push_back(r.hv.back());
  }
  s["final_hv_per_seed"] = finals;
  s["final_hv_median"] = ours.empty() ? 0.0 : ours.back();
  s["final_random_hv_median"] = random.empty() ? 0.0 : random.back();
  s["median_iteration_s"] = median_field(runs, &IterationRecord::suggest_s);
  s["median_iteration_cpu_s"] = median_field(runs, &IterationRecord::suggest_cpu_s);
  s["median_fit_s"] = median_field(runs, &IterationRecord::fit_s);
  s["median_acq_s"] = median_field(runs, &IterationRecord::acq_s);
  int fallbacks = 0;
  for (const RunResult& r : runs) {
    for (const IterationRecord& it : r.per_iteration) {
      fallbacks += it.fallback;
    }
  }
  s["fallback_iterations"] = fallbacks;

  if (reference == nullptr || !reference->contains("summary") ||
      !reference->at("summary").contains(problem.name)) {
    s["botorch"] = nullptr;
    return s;
  }
  const Json& ref = reference->at("summary").at(problem.name);
  const auto ref_trace = ref.at("median_hv_by_iteration").get<std::vector<double>>();
  const auto ref_random = ref.at("median_random_sobol_hv_by_iteration").get<std::vector<double>>();
  Json b;
  b["median_hv_by_iteration"] = ref_trace;
  b["final_hv_median"] = ref.at("final_hv_median");
  b["median_iteration_s"] = ref.at("median_iteration_s");
  b["median_fit_s"] = ref.at("median_fit_s");
  b["median_acq_s"] = ref.at("median_acq_s");
  b["median_iteration_cpu_s"] = botorch_median_field(*reference, problem.name, "total_cpu_s");
  Json budgets = Json::array();
  std::vector<int> below;
  const std::size_t len = std::min(ours.size(), ref_trace.size());
  for (std::size_t i = 0; i < len; ++i) {
    const bool at_least = ours[i] >= ref_trace[i];
    if (!at_least)
      below.push_back(static_cast<int>(i));
    budgets.push_back(
        {{"iteration", i},
         {"evaluations", (runs.empty() ? 0 : runs.front().n_init) + static_cast<int>(i)},
         {"ours", ours[i]},
         {"botorch", ref_trace[i]},
         {"ours_minus_botorch", ours[i] - ref_trace[i]},
         {"ours_random", i < random.size() ? random[i] : 0.0},
         {"botorch_random", i < ref_random.size() ? ref_random[i] : 0.0},
         {"at_least_botorch", at_least}});
  }
  b["by_iteration"] = budgets;
  b["iterations_compared"] = len == 0 ? 0 : static_cast<int>(len) - 1;
  b["iterations_below_botorch"] = below;
  b["at_least_botorch_at_every_budget"] = below.empty();
  const double ours_iter = s["median_iteration_s"].get<double>();
  b["iteration_time_ratio_botorch_over_ours"] =
      ours_iter > 0.0 ? ref.at("median_iteration_s").get<double>() / ours_iter : 0.0;
  s["botorch"] = b;
  return s;
}

/// Estimates the best hypervolume reachable on a box problem by evaluating `n` scrambled Sobol
/// points (seed 12345): a lower bound of the true max_hv that approaches it as n grows, used to
/// check the literature's approximate max_hv values.
inline double sampled_hypervolume(const MoboProblem& problem, Eigen::Index n) {
  detail::require(problem.domain == Domain::box, "bomf::bench::sampled_hypervolume", "problem '",
                  problem.name, "' is not a box problem");
  SobolSequence sobol(problem.dim, 12345);
  Eigen::MatrixXd Y(n, problem.num_objectives);
  Eigen::MatrixXd U(1, problem.dim);
  for (Eigen::Index i = 0; i < n; ++i) {
    sobol.draw_into(U);
    Y.row(i) =
        problem.evaluate(bench_detail::to_natural(problem, U.row(0).transpose())).transpose();
  }
  return hypervolume(Y, problem.ref_point);
}

}  // namespace bomf::bench
