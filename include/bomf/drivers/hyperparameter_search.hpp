// bomf/drivers/hyperparameter_search.hpp — BOMF's first stage: Bayesian optimization of the
// training hyperparameters (paper §4.2 and Algorithm 1, lines 1–10).
//
// Objective. Each run's trajectory is scored by the best sum of normalized metrics along it (Eq. 5:
// the metric performance of the best-performing weights of the trajectory):
//
//   score(run)   = max over trajectory points p of  Σ_k c_k · s_k · metric_k(p),
//
// with s_k = +1 for a metric to maximize and −1 for one to minimize (so larger is always better)
// and c_k = HyperparameterSearchOptions::metric_scales[k] (default 1: the paper's plain sum of the
// metrics, App. A.3; set c_k to weight a metric or to bring metrics of different units to one
// scale, e.g. 0.01 for a metric in percent next to one in [0, 1]). Points with a non-finite metric
// value (a diverged run) are skipped; ties go to the earliest point. A run with no finite point, or
// whose `train` throws, is failed: recorded (journal, summary) but kept out of the surrogate.
//
// Algorithm (defaults of the paper, all configurable):
//  1. `num_initial` = 3 quasi-random settings: points 0, 1, 2 of a scrambled Sobol sequence over
//     the dimensions of the space (a coordinate s ∈ (0,1) becomes a continuous value on its
//     linear or log scale, an integer bin or a choice, as maximize_in_box's raw candidates).
//  2. `num_iterations` = 10 iterations of: fit a GP (Matern52Kernel, GpPriors::botorch_legacy() =
//     BoTorch 0.11.3's SingleTaskGP, standardized outcomes) to the (unit-cube encoding, score)
//     pairs of the successful runs; maximize LogEI (incumbent = best score) over the space with
//     `maximize_in_box` (discrete values enumerated or snapped, so only valid settings are ever
//     proposed); train at the proposal. Until 2 runs succeeded, proposals stay quasi-random.
//  3. The result is the best run: its setting, its trajectory and its best step B* (the anchor
//     of the App. A.3 member window, see member_selection.hpp).
// Failed runs consume budget: the search makes num_initial + num_iterations runs in total.
//
// Duplicates. A setting already evaluated (or pending) is never proposed again while the space
// has another: a quasi-random proposal moves on to the next Sobol point; a LogEI proposal equal
// to a taken setting (possible when all dimensions are discrete, or at a bound) is replaced by the
// raw acquisition candidate with the highest LogEI that is not taken, else by the next untaken
// Sobol point. A space without continuous dimension whose every combination is taken is
// `exhausted()`: `solve` then stops early (termination `space_exhausted`).
//
// Determinism and the journal. Every random choice is seeded from (options.seed, k), k = number
// of runs observed + pending when the proposal is made, so a search resumed from its journal
// proposes exactly what the uninterrupted search would have. Each completed run (ok or failed) is
// appended to the journal (bomf/drivers/journal.hpp: one JSON line, fsynced) before anything else
// happens; reopening the journal replays its runs (no retraining) and continues. A journal whose
// header differs (space, metrics, scales, fingerprint, seed, num_initial, surrogate or
// acquisition-optimizer settings) is refused; num_iterations and max_failures are not in the
// header, so a finished search can be extended by resuming it with more iterations.
//
// Proxy search (paper §3.2, Eq. 6). The best hyperparameters of a cheap proxy — the model with
// its lower layers frozen (features cached), or LoRA with a small rank — align with those of the
// full model. No special code is needed: implement a TrainingProblem for the proxy with the SAME
// search space, run `solve` on it, then train the full model once with the best setting,
// collecting the members:
//
//   ProxyProblem proxy(...);   FullProblem full(...);       // same SearchSpace and metrics
//   bomf::HyperparameterSummary summary;
//   const auto best = bomf::solve(options, proxy, &summary);
//   const bomf::TrainingTrajectory members = bomf::train_members(full, best.hyperparameters);
//   // members.checkpoint_steps: the fusion members kept by the full model's training loop.
//
// Without a proxy, either retrain the best setting with `train_members` (Algorithm 1, lines
// 13–17), or set `collect_members_during_search` so that every search run keeps its planned
// checkpoints, and use those of the best run (HyperparameterSearchResult::run_index; the
// callback's `best_index` tells when other runs' checkpoints can be deleted).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "bomf/acquisition/log_ei.hpp"
#include "bomf/core/error.hpp"
#include "bomf/drivers/detail/search_support.hpp"
#include "bomf/drivers/detail/settings_json.hpp"
#include "bomf/drivers/fusion_problem.hpp"
#include "bomf/drivers/journal.hpp"
#include "bomf/drivers/member_selection.hpp"
#include "bomf/drivers/training_problem.hpp"
#include "bomf/gp/exact_gp.hpp"
#include "bomf/gp/fit_gp.hpp"
#include "bomf/gp/matern52_kernel.hpp"
#include "bomf/gp/priors.hpp"
#include "bomf/optim/maximize_in_box.hpp"
#include "bomf/optim/search_space.hpp"
#include "bomf/sampling/sobol_sequence.hpp"

namespace bomf {

// Too many failed runs raise bomf::too_many_failures (bomf/core/error.hpp).

// ------------------------------------------------------------------------------------- scoring

/// The score of one trajectory (see the file comment).
struct TrajectoryScore {
  double score = std::numeric_limits<double>::quiet_NaN();  ///< best Σ c_k s_k metric_k
  std::ptrdiff_t best_point = -1;  ///< index of the best point; −1 when no point is finite
  long long best_step = -1;        ///< its step; −1 when no point is finite
  /// True when some point had all metrics finite.
  [[nodiscard]] bool ok() const noexcept { return best_point >= 0; }
};

/// Σ_k c_k s_k metrics(k) (s_k = −1 for Direction::minimize; c_k = scales[k], all 1 when `scales`
/// is empty); NaN when a metric is not finite. Sizes are the caller's responsibility (checked by
/// score_trajectory).
inline double normalized_metric_sum(const Eigen::Ref<const Eigen::VectorXd>& metrics,
                                    const std::vector<MetricSpec>& specs,
                                    const std::vector<double>& scales = {}) {
  double sum = 0.0;
  for (std::size_t k = 0; k < specs.size(); ++k) {
    const double v = metrics(static_cast<Eigen::Index>(k));
    if (!std::isfinite(v)) {
      return std::numeric_limits<double>::quiet_NaN();
    }
    const double sign = specs[k].direction == Direction::minimize ? -1.0 : 1.0;
    sum += (scales.empty() ? 1.0 : scales[k]) * sign * v;
  }
  return sum;
}

/// The best normalized metric sum along `trajectory` (earliest point on ties; points with a
/// non-finite metric skipped). \b Cost: O(points · K).
/// Throws bomf::invalid_argument when a point has other than K = metrics.size() values, or
/// `scales` is neither empty nor of length K.
inline TrajectoryScore score_trajectory(const TrainingTrajectory& trajectory,
                                        const std::vector<MetricSpec>& metrics,
                                        const std::vector<double>& scales = {}) {
  constexpr const char* where = "bomf::score_trajectory";
  detail::require(scales.empty() || scales.size() == metrics.size(), where,
                  "argument 'scales' has ", scales.size(), " entries, expected 0 or ",
                  metrics.size(), " (one per metric)");
  TrajectoryScore result;
  for (std::size_t i = 0; i < trajectory.points.size(); ++i) {
    const TrajectoryPoint& p = trajectory.points[i];
    detail::require(static_cast<std::size_t>(p.metrics.size()) == metrics.size(), where,
                    "trajectory point ", i, " (step ", p.step, ") has ", p.metrics.size(),
                    " metric values, expected ", metrics.size());
    const double s = normalized_metric_sum(p.metrics, metrics, scales);
    if (std::isfinite(s) && (!result.ok() || s > result.score)) {
      result.score = s;
      result.best_point = static_cast<std::ptrdiff_t>(i);
      result.best_step = p.step;
    }
  }
  return result;
}

// ------------------------------------------------------------------------------- options, trace

/// How a run's setting was chosen.
enum class ProposalKind {
  initial,      ///< quasi-random (Sobol) design
  acquisition,  ///< maximizer of LogEI
  external,     ///< observed by the caller without a matching suggestion (ask/tell)
};

/// One completed run, in the order of completion (the journal's order).
struct HyperparameterIteration {
  int index = 0;                    ///< position in the trace (0-based)
  Hyperparameters hyperparameters;  ///< the setting trained
  ProposalKind proposal = ProposalKind::initial;
  bool ok = false;        ///< false: failed (threw, or no finite trajectory point)
  bool replayed = false;  ///< read back from the journal instead of trained in this process
  std::string error;      ///< the failure's message (empty when ok)
  double score = std::numeric_limits<double>::quiet_NaN();  ///< this run's score (NaN if failed)
  long long best_step = -1;                                 ///< step of its best point
  double best_score = std::numeric_limits<double>::quiet_NaN();  ///< best score so far
  int best_index = -1;               ///< index of the best run so far (−1: none succeeded yet)
  double fit_seconds = 0.0;          ///< GP fit before the proposal
  double acquisition_seconds = 0.0;  ///< LogEI maximization before the proposal
  double train_seconds = 0.0;        ///< training (as reported to observe)
};

/// Options of the hyperparameter search. Defaults: the paper's (§4.2) with BoTorch 0.11.3's GP.
struct HyperparameterSearchOptions {
  /// Quasi-random initial settings ("three randomly initialized sets of hyperparameters"). ≥ 1.
  int num_initial = 3;
  /// LogEI iterations after the initial design (paper: 10). ≥ 0. Total runs = num_initial +
  /// num_iterations (failed runs included).
  int num_iterations = 10;
  /// Seed of every random step (Sobol scramble, GP fit restarts, acquisition optimizer).
  std::uint64_t seed = 0;
  /// Journal file (JSON lines); empty = none (records are kept in memory only).
  std::string journal_path;
  /// Failed runs tolerated; one more ends the search with bomf::too_many_failures. ≥ 0.
  int max_failures = 3;
  /// c_k of the score (file comment); empty = all 1, else one finite value > 0 per metric.
  std::vector<double> metric_scales;
  /// GP fitting; default priors GpPriors::botorch_legacy() (use with Matern52Kernel). Its `seed`
  /// is ignored (derived from `seed` per iteration); `input_transform` must stay the identity
  /// (inputs are the unit-cube encoding of the space).
  GpFitOptions gp = default_gp_options();
  /// LogEI maximization over the space; its `seed` is ignored (derived per iteration).
  BoxOptimizerOptions acquisition_optimizer;
  /// When true, every search run is told (TrainingContext::collect_members) to keep the
  /// checkpoints of its member steps; else only `train_members` runs are.
  bool collect_members_during_search = false;
  /// The member policy given to the training runs' contexts.
  MemberSelectionOptions members;
  /// Called by `solve` after each run trained in this process (not for replayed ones); return
  /// false to stop the search (termination `stopped_by_callback`).
  std::function<bool(const HyperparameterIteration&)> callback;

  /// GpFitOptions with GpPriors::botorch_legacy().
  static GpFitOptions default_gp_options() {
    GpFitOptions o;
    o.priors = GpPriors::botorch_legacy();
    return o;
  }

  /// Empty when valid, else a message naming the first invalid field, its value and the
  /// expectation. (The length of metric_scales is checked against the problem by the search.)
  [[nodiscard]] std::string validate() const {
    if (num_initial < 1) {
      return detail::concat("num_initial is ", num_initial, ", expected >= 1");
    }
    if (num_iterations < 0) {
      return detail::concat("num_iterations is ", num_iterations, ", expected >= 0");
    }
    if (max_failures < 0) {
      return detail::concat("max_failures is ", max_failures, ", expected >= 0");
    }
    for (std::size_t k = 0; k < metric_scales.size(); ++k) {
      if (!std::isfinite(metric_scales[k]) || !(metric_scales[k] > 0.0)) {
        return detail::concat("metric_scales[", k, "] is ", metric_scales[k],
                              ", expected finite and > 0");
      }
    }
    if (gp.num_starts < 1) {
      return detail::concat("gp.num_starts is ", gp.num_starts, ", expected >= 1");
    }
    if (gp.max_iterations < 1) {
      return detail::concat("gp.max_iterations is ", gp.max_iterations, ", expected >= 1");
    }
    if (!gp.input_transform.is_identity()) {
      return "gp.input_transform is set, expected the identity (the GP sees the unit-cube "
             "encoding of the search space)";
    }
    if (gp.fixed_noise && !(std::isfinite(*gp.fixed_noise) && *gp.fixed_noise >= 0.0)) {
      return detail::concat("gp.fixed_noise is ", *gp.fixed_noise, ", expected finite and >= 0");
    }
    if (gp.priors) {
      try {
        gp.priors->validate("gp.priors");
      } catch (const std::exception& e) {
        return e.what();
      }
    }
    std::string error = acquisition_optimizer.validate();
    if (!error.empty()) {
      return "acquisition_optimizer: " + error;
    }
    error = members.validate();
    if (!error.empty()) {
      return "members: " + error;
    }
    return {};
  }
};

/// Why `solve` ended.
enum class HyperparameterTermination {
  budget_reached,       ///< num_initial + num_iterations runs completed
  stopped_by_callback,  ///< the callback returned false
  space_exhausted,      ///< every setting of a fully discrete space was evaluated
  too_many_failures,    ///< more than max_failures runs failed (solve threw)
};

/// What the search did: one entry per completed run, totals and the termination.
struct HyperparameterSummary {
  std::vector<HyperparameterIteration> trace;
  HyperparameterTermination termination = HyperparameterTermination::budget_reached;
  std::string message;   ///< human-readable reason of the termination
  int num_runs = 0;      ///< completed runs (= trace.size())
  int num_failures = 0;  ///< failed runs
  int num_replayed = 0;  ///< runs read from the journal
  int best_index = -1;   ///< best run (−1 when none succeeded)
  double best_score = std::numeric_limits<double>::quiet_NaN();
  double fit_seconds = 0.0;          ///< Σ GP fit time
  double acquisition_seconds = 0.0;  ///< Σ LogEI maximization time
  double train_seconds = 0.0;        ///< Σ training time (replayed runs: as journaled)

  /// One paragraph: runs, failures, best score and setting, times, termination.
  [[nodiscard]] std::string brief_report() const {
    int initial = 0;
    int acquisition = 0;
    for (const HyperparameterIteration& it : trace) {
      initial += it.proposal == ProposalKind::initial ? 1 : 0;
      acquisition += it.proposal == ProposalKind::acquisition ? 1 : 0;
    }
    std::string best = "no successful run";
    if (best_index >= 0) {
      const HyperparameterIteration& b = trace[static_cast<std::size_t>(best_index)];
      best = detail::concat("best score ", format(best_score), " at run ", best_index, " [",
                            b.hyperparameters.to_string(), "], step ", b.best_step);
    }
    return detail::concat("Hyperparameter search: ", num_runs, " runs (", initial, " initial, ",
                          acquisition, " LogEI, ", num_runs - initial - acquisition, " external; ",
                          num_failures, " failed, ", num_replayed, " replayed from the journal); ",
                          best, "; time: GP fit ", format(fit_seconds), " s, acquisition ",
                          format(acquisition_seconds), " s, training ", format(train_seconds),
                          " s; ", message);
  }

  /// brief_report() followed by one line per run.
  [[nodiscard]] std::string full_report() const {
    std::string out = brief_report() + "\n";
    out += "  run  proposal     status     score       best   fit[s]  acq[s]  train[s]  setting\n";
    for (const HyperparameterIteration& it : trace) {
      char line[160];
      std::snprintf(line, sizeof line, "  %3d  %-11s  %-8s  %10.5g  %10.5g  %6.2f  %6.2f  %8.2f  ",
                    it.index, proposal_name(it.proposal), it.ok ? "ok" : "failed", it.score,
                    it.best_score, it.fit_seconds, it.acquisition_seconds, it.train_seconds);
      out += line;
      out += it.hyperparameters.to_string();
      if (it.replayed) {
        out += "  (replayed)";
      }
      if (!it.ok) {
        out += "  error: " + it.error;
      }
      out += '\n';
    }
    return out;
  }

  /// "initial", "acquisition" or "external".
  static const char* proposal_name(ProposalKind kind) noexcept {
    switch (kind) {
      case ProposalKind::initial:
        return "initial";
      case ProposalKind::acquisition:
        return "acquisition";
      case ProposalKind::external:
        break;
    }
    return "external";
  }

 private:
  static std::string format(double v) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.6g", v);
    return buffer;
  }
};

/// The best run of a search.
struct HyperparameterSearchResult {
  Hyperparameters hyperparameters;  ///< λ*
  TrainingTrajectory trajectory;    ///< its trajectory (empty if observed as a bare score)
  double score = std::numeric_limits<double>::quiet_NaN();  ///< its score
  int run_index = -1;                                       ///< its index in the trace / journal
  std::ptrdiff_t best_point = -1;  ///< index of its best trajectory point (−1: bare score)
  long long best_step = -1;        ///< B*: the step of that point (−1: bare score)
};

// --------------------------------------------------------------------------------- the search

namespace detail {

// splitmix64: bomf/drivers/detail/search_support.hpp (shared with the fusion stage).

/// The seed of random stream `stream` at proposal k.
inline std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream, std::uint64_t k) {
  return splitmix64(splitmix64(seed ^ (stream * 0xd1b54a32d192ed03ULL)) + k);
}

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

inline nlohmann::json search_space_json(const SearchSpace& space) {
  nlohmann::json dims = nlohmann::json::array();
  for (const Dimension& d : space.dimensions()) {
    nlohmann::json j;
    j["name"] = d.name;
    switch (d.kind) {
      case DimensionKind::continuous:
        j["kind"] = "continuous";
        j["scale"] = d.scale == Scale::log ? "log" : "linear";
        j["lower"] = d.lower;
        j["upper"] = d.upper;
        break;
      case DimensionKind::integer:
        j["kind"] = "integer";
        j["lower"] = static_cast<long long>(d.lower);
        j["upper"] = static_cast<long long>(d.upper);
        break;
      case DimensionKind::categorical:
        j["kind"] = "categorical";
        j["choices"] = d.choices;
        break;
    }
    dims.push_back(std::move(j));
  }
  return dims;
}

inline nlohmann::json trajectory_json(const TrainingTrajectory& t) {
  nlohmann::json steps = nlohmann::json::array();
  nlohmann::json loss = nlohmann::json::array();
  nlohmann::json metrics = nlohmann::json::array();
  for (const TrajectoryPoint& p : t.points) {
    steps.push_back(p.step);
    loss.push_back(std::isfinite(p.loss) ? nlohmann::json(p.loss) : nlohmann::json(nullptr));
    metrics.push_back(json_from_vector(p.metrics));
  }
  return {{"total_steps", t.total_steps},
          {"steps", std::move(steps)},
          {"loss", std::move(loss)},
          {"metrics", std::move(metrics)},
          {"checkpoints", t.checkpoint_steps}};
}

[[noreturn]] inline void throw_bad_record(std::size_t record, const std::string& what) {
  throw io_error(
      concat("bomf::HyperparameterSearch: journal record ", record, " is malformed: ", what));
}

inline const nlohmann::json& record_field(const nlohmann::json& r, const char* key,
                                          std::size_t record) {
  const auto it = r.find(key);
  if (it == r.end()) {
    throw_bad_record(record, concat("no '", key, "'"));
  }
  return *it;
}

inline long long record_integer(const nlohmann::json& j, const char* what, std::size_t record) {
  if (!j.is_number_integer()) {
    throw_bad_record(record, concat("'", what, "' is ", j.dump(), ", expected an integer"));
  }
  return j.get<long long>();
}

inline double record_number(const nlohmann::json& j, const char* what, std::size_t record) {
  if (j.is_null()) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (!j.is_number()) {
    throw_bad_record(record, concat("'", what, "' is ", j.dump(), ", expected a number"));
  }
  return j.get<double>();
}

inline TrainingTrajectory trajectory_from_json(const nlohmann::json& j, std::size_t num_metrics,
                                               std::size_t record) {
  if (!j.is_object()) {
    throw_bad_record(record, "'trajectory' is not an object");
  }
  TrainingTrajectory t;
  t.total_steps = record_integer(record_field(j, "total_steps", record), "total_steps", record);
  const nlohmann::json& steps = record_field(j, "steps", record);
  const nlohmann::json& loss = record_field(j, "loss", record);
  const nlohmann::json& metrics = record_field(j, "metrics", record);
  const nlohmann::json& checkpoints = record_field(j, "checkpoints", record);
  if (!steps.is_array() || !loss.is_array() || !metrics.is_array() || !checkpoints.is_array() ||
      loss.size() != steps.size() || metrics.size() != steps.size()) {
    throw_bad_record(record, "'trajectory' has arrays of different lengths");
  }
  for (std::size_t i = 0; i < steps.size(); ++i) {
    t.add(
        record_integer(steps[i], "steps", record), record_number(loss[i], "loss", record),
        vector_from_json(metrics[i], "trajectory metrics", static_cast<Eigen::Index>(num_metrics)));
  }
  for (const nlohmann::json& c : checkpoints) {
    t.checkpoint_steps.push_back(record_integer(c, "checkpoints", record));
  }
  try {
    t.validate(num_metrics, "bomf::HyperparameterSearch");
  } catch (const invalid_argument& e) {
    throw_bad_record(record, e.what());
  }
  return t;
}

}  // namespace detail

/// The stage-1 search as an ask/tell object: `suggest()` a setting, train it (anywhere), then
/// `observe(...)` the outcome; `solve` drives it with a TrainingProblem. See the file comment for
/// the algorithm, the objective, the journal and determinism. `Kernel` is the GP kernel
/// (Matern52Kernel by default, as the paper's BoTorch 0.11.3; Matern32Kernel or RbfKernel work).
/// Not thread-safe; not copyable (it owns the journal), movable.
template <class Kernel = Matern52Kernel>
class BasicHyperparameterSearch {
 public:
  /// A search over `space` for `metrics` (K ≥ 1, distinct non-empty names). `fingerprint`
  /// identifies the problem in the journal header. Opens (or creates) options.journal_path and
  /// replays its runs. Throws bomf::invalid_argument for an empty space, invalid metrics or
  /// options (including metric_scales of the wrong length) and for a journal of another run;
  /// bomf::io_error for an unreadable or corrupt journal.
  BasicHyperparameterSearch(SearchSpace space, std::vector<MetricSpec> metrics,
                            HyperparameterSearchOptions options = {}, std::string fingerprint = {})
      : space_(std::make_shared<const SearchSpace>(std::move(space))),
        metrics_(std::move(metrics)),
        options_(std::move(options)),
        fingerprint_(std::move(fingerprint)) {
    constexpr const char* where = "bomf::HyperparameterSearch";
    space_->require_nonempty(where);
    detail::validate_metric_specs(metrics_, where);
    const std::string error = options_.validate();
    detail::require(error.empty(), where, "invalid options: ", error);
    detail::require(
        options_.metric_scales.empty() || options_.metric_scales.size() == metrics_.size(), where,
        "options.metric_scales has ", options_.metric_scales.size(), " entries, expected 0 or ",
        metrics_.size(), " (one per metric)");
    has_continuous_ = false;
    for (const Dimension& d : space_->dimensions()) {
      has_continuous_ = has_continuous_ || d.kind == DimensionKind::continuous;
    }
    summary_.message = "running";
    if (!options_.journal_path.empty()) {
      journal_ = Journal(options_.journal_path, header());
      const std::vector<nlohmann::json>& records = journal_.records();
      for (std::size_t i = 0; i < records.size(); ++i) {
        replay(records[i], i);
      }
    }
  }

  /// The search of `problem` (its space, metrics and fingerprint).
  explicit BasicHyperparameterSearch(const TrainingProblem& problem,
                                     HyperparameterSearchOptions options = {})
      : BasicHyperparameterSearch(problem.search_space(), problem.metrics(), std::move(options),
                                  problem.fingerprint()) {}

  BasicHyperparameterSearch(BasicHyperparameterSearch&&) = default;
  BasicHyperparameterSearch& operator=(BasicHyperparameterSearch&&) = default;
  BasicHyperparameterSearch(const BasicHyperparameterSearch&) = delete;
  BasicHyperparameterSearch& operator=(const BasicHyperparameterSearch&) = delete;
  ~BasicHyperparameterSearch() = default;

  /// The next setting to train (it becomes pending until observed): quasi-random while fewer than
  /// num_initial runs were proposed or fewer than 2 succeeded, else the LogEI maximizer with
  /// pending settings fantasized at their posterior mean (kriging believer), so several
  /// suggestions can be trained in parallel. Never a taken setting while another exists
  /// (file comment). May be called beyond the budget (remaining() only advises).
  /// \b Cost: a GP fit (O(starts · iterations · n³)) plus maximize_in_box.
  /// Throws bomf::too_many_failures when more than max_failures runs failed, and
  /// bomf::invalid_argument when the space is exhausted().
  Hyperparameters suggest() {
    check_failures();
    detail::require(!exhausted(), "bomf::HyperparameterSearch::suggest", "every one of the ",
                    space_->discrete_combinations(),
                    " settings of the (fully discrete) search space was already evaluated or is "
                    "pending; check exhausted() before suggesting");
    const auto k = static_cast<std::uint64_t>(summary_.trace.size() + pending_.size());
    Pending p;
    if (k < static_cast<std::uint64_t>(options_.num_initial) || y_.size() < 2) {
      p.kind = ProposalKind::initial;
      p.setting = quasi_random_setting(k);
    } else {
      p.kind = ProposalKind::acquisition;
      p.setting = acquisition_setting(k, p.fit_seconds, p.acquisition_seconds);
    }
    Hyperparameters h(space_, p.setting);
    pending_.push_back(std::move(p));
    return h;
  }

  /// Records a trained run: scores `trajectory` (file comment), appends the run to the journal,
  /// then updates the surrogate data. A trajectory without a finite point makes a failed run.
  /// `train_seconds` is only reported. Throws bomf::invalid_argument when `hyperparameters` is
  /// not a setting of this space (nothing recorded) or the trajectory is malformed (wrong number
  /// of metric values — naming expected and actual counts —, unordered steps; recorded first as
  /// a failed run whose journal record keeps the trajectory as "rejected_trajectory");
  /// bomf::too_many_failures when this failure is one more than max_failures tolerates (after
  /// recording it).
  void observe(const Hyperparameters& hyperparameters, const TrainingTrajectory& trajectory,
               double train_seconds = 0.0) {
    constexpr const char* where = "bomf::HyperparameterSearch::observe";
    const std::vector<double> setting = checked_setting(hyperparameters, where);
    try {
      trajectory.validate(metrics_.size(), where);
    } catch (const invalid_argument& e) {
      // A malformed trajectory is a bug in the caller's code, but the training it reports was
      // paid for: journal it (a failed run keeping the trajectory as given), then throw.
      Run run;
      run.setting = setting;
      run.error = detail::concat("contract violation: ", e.what());
      run.train_seconds = train_seconds;
      run.rejected_trajectory = detail::trajectory_json(trajectory);
      try {
        complete(std::move(run));
      } catch (const too_many_failures&) {
        // journaled; the contract violation below is the cause to report
      }
      throw;
    }
    TrainingTrajectory t = trajectory;
    t.total_steps = t.effective_total_steps();
    Run run;
    run.setting = setting;
    run.trajectory = std::move(t);
    run.has_trajectory = true;
    run.train_seconds = train_seconds;
    const TrajectoryScore s = score_trajectory(run.trajectory, metrics_, options_.metric_scales);
    run.ok = s.ok();
    run.score = s.score;
    run.best_point = s.best_point;
    run.best_step = s.best_step;
    if (!run.ok) {
      run.error = run.trajectory.empty() ? "the trajectory has no point"
                                         : "no trajectory point has finite values for all metrics";
    }
    complete(std::move(run));
  }

  /// Records a run by its score alone (the caller computed the objective); a non-finite score
  /// makes a failed run. Throws as `observe`.
  void observe_score(const Hyperparameters& hyperparameters, double score,
                     double train_seconds = 0.0) {
    Run run;
    run.setting = checked_setting(hyperparameters, "bomf::HyperparameterSearch::observe_score");
    run.ok = std::isfinite(score);
    run.score = run.ok ? score : std::numeric_limits<double>::quiet_NaN();
    run.error = run.ok ? std::string() : detail::concat("the observed score is ", score);
    run.train_seconds = train_seconds;
    complete(std::move(run));
  }

  /// Records a failed run (training threw `error`). Throws as `observe`.
  void observe_failure(const Hyperparameters& hyperparameters, const std::string& error,
                       double train_seconds = 0.0) {
    Run run;
    run.setting = checked_setting(hyperparameters, "bomf::HyperparameterSearch::observe_failure");
    run.ok = false;
    run.error = error.empty() ? "training failed" : error;
    run.train_seconds = train_seconds;
    complete(std::move(run));
  }

  /// Completed runs (replayed ones included).
  [[nodiscard]] int num_completed() const noexcept {
    return static_cast<int>(summary_.trace.size());
  }
  /// Failed runs.
  [[nodiscard]] int num_failures() const noexcept { return summary_.num_failures; }
  /// Suggestions not yet observed.
  [[nodiscard]] int num_pending() const noexcept { return static_cast<int>(pending_.size()); }
  /// num_initial + num_iterations.
  [[nodiscard]] int budget() const noexcept {
    return options_.num_initial + options_.num_iterations;
  }
  /// Runs still to suggest within the budget: budget − completed − pending (≥ 0).
  [[nodiscard]] int remaining() const noexcept {
    return std::max(0, budget() - num_completed() - num_pending());
  }
  /// True when the space has no continuous dimension and every combination of its discrete
  /// values was evaluated or is pending.
  [[nodiscard]] bool exhausted() const {
    if (has_continuous_) {
      return false;
    }
    std::set<std::vector<double>> distinct(taken_.begin(), taken_.end());
    for (const Pending& p : pending_) {
      distinct.insert(p.setting);
    }
    return static_cast<long long>(distinct.size()) >= space_->discrete_combinations();
  }

  /// True once some run succeeded.
  [[nodiscard]] bool has_result() const noexcept { return summary_.best_index >= 0; }
  /// The best run so far. Throws bomf::too_many_failures when no run succeeded.
  [[nodiscard]] HyperparameterSearchResult result() const {
    if (!has_result()) {
      throw too_many_failures(detail::concat(
          "bomf::HyperparameterSearch: none of the ", num_completed(), " runs succeeded",
          last_error_.empty() ? std::string() : "; last error: " + last_error_));
    }
    return best_;
  }

  /// The trace and totals so far (termination fields are set by `solve`).
  [[nodiscard]] const HyperparameterSummary& summary() const noexcept { return summary_; }
  /// The search space (shared with every Hyperparameters this search returns).
  [[nodiscard]] const SearchSpace& space() const noexcept { return *space_; }
  /// The metrics.
  [[nodiscard]] const std::vector<MetricSpec>& metrics() const noexcept { return metrics_; }
  /// The options.
  [[nodiscard]] const HyperparameterSearchOptions& options() const noexcept { return options_; }
  /// The journal (in memory when no path was given).
  [[nodiscard]] const Journal& journal() const noexcept { return journal_; }
  /// The header this search writes to (and expects in) its journal.
  [[nodiscard]] nlohmann::json header() const {
    const GpPriors priors =
        options_.gp.priors ? *options_.gp.priors
                           : GpPriors::botorch_current(static_cast<int>(space_->encoded_dim()));
    nlohmann::json metrics = nlohmann::json::array();
    for (const MetricSpec& m : metrics_) {
      metrics.push_back(
          {{"name", m.name},
           {"direction", m.direction == Direction::minimize ? "minimize" : "maximize"}});
    }
    std::vector<double> scales = options_.metric_scales;
    if (scales.empty()) {
      scales.assign(metrics_.size(), 1.0);
    }
    const GpFitOptions& g = options_.gp;
    const BoxOptimizerOptions& b = options_.acquisition_optimizer;
    nlohmann::json surrogate = detail::gp_priors_json(priors);
    surrogate.update(
        {{"kernel", Kernel::name},
         {"standardize", g.standardize},
         {"fixed_noise", g.fixed_noise ? nlohmann::json(*g.fixed_noise) : nlohmann::json(nullptr)},
         {"num_starts", g.num_starts},
         {"max_iterations", g.max_iterations},
         {"gradient_tolerance", g.gradient_tolerance},
         {"relative_tolerance", g.relative_tolerance}});
    nlohmann::json optimizer = {{"raw_samples", b.raw_samples},
                                {"num_restarts", b.num_restarts},
                                {"eta", b.eta},
                                {"max_enumerated_combinations", b.max_enumerated_combinations},
                                {"max_iterations", b.max_iterations},
                                {"memory", b.memory},
                                {"gradient_tolerance", b.gradient_tolerance},
                                {"value_tolerance", b.value_tolerance}};
    return {{"driver", "bomf::HyperparameterSearch"},
            {"format", 1},
            {"space", detail::search_space_json(*space_)},
            {"metrics", std::move(metrics)},
            {"metric_scales", scales},
            {"fingerprint", fingerprint_},
            {"seed", options_.seed},
            {"num_initial", options_.num_initial},
            {"surrogate", std::move(surrogate)},
            {"acquisition_optimizer", std::move(optimizer)}};
  }

 private:
  struct Pending {
    std::vector<double> setting;
    ProposalKind kind = ProposalKind::initial;
    double fit_seconds = 0.0;
    double acquisition_seconds = 0.0;
  };

  struct Run {
    std::vector<double> setting;
    bool ok = false;
    double score = std::numeric_limits<double>::quiet_NaN();
    std::ptrdiff_t best_point = -1;
    long long best_step = -1;
    std::string error;
    TrainingTrajectory trajectory;
    bool has_trajectory = false;
    /// A trajectory refused by observe (journaled for the record, never replayed), or null.
    nlohmann::json rejected_trajectory;
    ProposalKind kind = ProposalKind::external;
    double fit_seconds = 0.0;
    double acquisition_seconds = 0.0;
    double train_seconds = 0.0;
  };

  std::vector<double> checked_setting(const Hyperparameters& h, const char* where) const {
    detail::require(!h.empty(), where, "argument 'hyperparameters' is empty");
    detail::require(h.shared_space() == space_ || detail::same_search_space(h.space(), *space_),
                    where, "argument 'hyperparameters' belongs to another search space, expected ",
                    "a setting of this search's space");
    return h.values();
  }

  [[nodiscard]] bool is_taken(const std::vector<double>& setting) const {
    for (const std::vector<double>& t : taken_) {
      if (t == setting) {
        return true;
      }
    }
    for (const Pending& p : pending_) {
      if (p.setting == setting) {
        return true;
      }
    }
    return false;
  }

  // Point j of the scrambled Sobol sequence (seeded from options.seed) as a valid setting.
  [[nodiscard]] std::vector<double> sobol_setting(
      const Eigen::Ref<const Eigen::VectorXd>& s) const {
    Eigen::VectorXd u = Eigen::VectorXd::Zero(space_->encoded_dim());
    for (std::size_t i = 0; i < space_->dimensions().size(); ++i) {
      const Dimension& d = space_->dimensions()[i];
      const double si = s(static_cast<Eigen::Index>(i));
      if (d.kind == DimensionKind::categorical) {
        const long long k = d.cardinality();
        const long long c = std::min(static_cast<long long>(si * static_cast<double>(k)), k - 1);
        u(d.offset + static_cast<Eigen::Index>(c)) = 1.0;
      } else {
        u(d.offset) = si;  // continuous: linear/log scale; integer: equal-width bins
      }
    }
    return space_->decode(u);
  }

  // Sobol point k, or the first later point that is not taken (at most 4096 further points;
  // beyond that point k itself).
  [[nodiscard]] std::vector<double> quasi_random_setting(std::uint64_t k) const {
    constexpr Eigen::Index lookahead = 4096;
    SobolSequence sobol(static_cast<int>(space_->size()), detail::derive_seed(options_.seed, 1, 0));
    sobol.fast_forward(k);
    const Eigen::MatrixXd points = sobol.draw(lookahead);
    std::vector<double> first = sobol_setting(points.row(0).transpose());
    for (Eigen::Index j = 0; j < lookahead; ++j) {
      std::vector<double> setting = j == 0 ? first : sobol_setting(points.row(j).transpose());
      if (!is_taken(setting)) {
        return setting;
      }
    }
    return first;
  }

  std::vector<double> acquisition_setting(std::uint64_t k, double& fit_seconds,
                                          double& acquisition_seconds) const {
    const auto n = static_cast<Eigen::Index>(y_.size());
    Eigen::MatrixXd x(n, space_->encoded_dim());
    Eigen::VectorXd y(n);
    for (Eigen::Index i = 0; i < n; ++i) {
      x.row(i) = x_[static_cast<std::size_t>(i)].transpose();
      y(i) = y_[static_cast<std::size_t>(i)];
    }
    auto start = std::chrono::steady_clock::now();
    GpFitOptions fit = options_.gp;
    fit.seed = detail::derive_seed(options_.seed, 2, k);
    ExactGP<Kernel> gp = fit_gp<Kernel>(x, y, fit);
    // Kriging believer: pending settings join the data at their posterior mean, which lowers
    // the uncertainty (hence LogEI) around them without changing the incumbent.
    for (const Pending& p : pending_) {
      const Eigen::VectorXd u = space_->encode(p.setting);
      gp.add_observation(u, gp.posterior_at(u).mean);
    }
    fit_seconds = detail::seconds_since(start);

    start = std::chrono::steady_clock::now();
    LogExpectedImprovement<ExactGP<Kernel>> log_ei(gp, y.maxCoeff());
    // By value: each optimizer thread gets its own copy of the lambda, hence of LogEI and its
    // scratch workspace (the model is shared, read-only).
    auto acquisition = [log_ei](const Eigen::Ref<const Eigen::VectorXd>& u,
                                Eigen::Ref<Eigen::VectorXd> grad) {
      return log_ei.value_and_gradient(u, grad);
    };
    BoxOptimizerOptions box = options_.acquisition_optimizer;
    box.seed = detail::derive_seed(options_.seed, 3, k);
    const BoxOptimizerResult best = maximize_in_box(acquisition, *space_, box);
    std::vector<double> setting = best.setting;
    if (is_taken(setting)) {
      // The best raw candidate by LogEI that is not taken (ties: the earlier row).
      double best_value = -std::numeric_limits<double>::infinity();
      std::vector<double> replacement;
      for (Eigen::Index r = 0; r < best.raw_candidates.rows(); ++r) {
        const Eigen::VectorXd u = best.raw_candidates.row(r).transpose();
        const double v = log_ei.value(u);
        if (v > best_value) {
          std::vector<double> candidate = space_->decode(u);
          if (!is_taken(candidate)) {
            best_value = v;
            replacement = std::move(candidate);
          }
        }
      }
      setting = replacement.empty() ? quasi_random_setting(k) : std::move(replacement);
    }
    acquisition_seconds = detail::seconds_since(start);
    return setting;
  }

  void check_failures() const {
    if (summary_.num_failures > options_.max_failures) {
      throw too_many_failures(detail::concat(
          "bomf::HyperparameterSearch: ", summary_.num_failures, " of ", num_completed(),
          " runs failed, more than options.max_failures = ", options_.max_failures,
          " tolerates; last error: ", last_error_));
    }
  }

  // Appends `run` to the journal (durably, first), then updates the state.
  void complete(Run run) {
    const auto match = std::find_if(pending_.begin(), pending_.end(),
                                    [&run](const Pending& p) { return p.setting == run.setting; });
    if (match != pending_.end()) {
      run.kind = match->kind;
      run.fit_seconds = match->fit_seconds;
      run.acquisition_seconds = match->acquisition_seconds;
    }
    journal_.append(record_json(run));  // durable before anything else changes
    if (match != pending_.end()) {
      pending_.erase(match);
    }
    apply(std::move(run), /*replayed=*/false);
    check_failures();
  }

  nlohmann::json record_json(const Run& run) const {
    const auto number = [](double v) {
      return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
    };
    nlohmann::json r = {
        {"kind", "run"},
        {"index", summary_.trace.size()},
        {"proposal", HyperparameterSummary::proposal_name(run.kind)},
        {"status", run.ok ? "ok" : "failed"},
        {"setting", run.setting},
        {"hyperparameters", Hyperparameters(space_, run.setting).to_string()},
        {"score", number(run.score)},
        {"best_step", run.best_step >= 0 ? nlohmann::json(run.best_step) : nlohmann::json(nullptr)},
        {"trajectory",
         run.has_trajectory ? detail::trajectory_json(run.trajectory) : nlohmann::json(nullptr)},
        {"seconds",
         {{"fit", run.fit_seconds},
          {"acquisition", run.acquisition_seconds},
          {"train", number(run.train_seconds)}}}};
    if (!run.ok) {
      r["error"] = run.error;
    }
    if (!run.rejected_trajectory.is_null()) {
      r["rejected_trajectory"] = run.rejected_trajectory;
    }
    return r;
  }

  void replay(const nlohmann::json& r, std::size_t i) {
    const nlohmann::json& kind = detail::record_field(r, "kind", i);
    if (kind != "run") {
      detail::throw_bad_record(i, detail::concat("'kind' is ", kind.dump(), ", expected \"run\""));
    }
    const long long index = detail::record_integer(detail::record_field(r, "index", i), "index", i);
    if (index != static_cast<long long>(i)) {
      detail::throw_bad_record(i, detail::concat("'index' is ", index, ", expected ", i));
    }
    Run run;
    const Eigen::VectorXd setting =
        detail::vector_from_json(detail::record_field(r, "setting", i), "setting", space_->size());
    run.setting.assign(setting.data(), setting.data() + setting.size());
    if (!space_->is_valid(run.setting)) {
      detail::throw_bad_record(i, "'setting' is not a valid setting of the search space");
    }
    const nlohmann::json& proposal = detail::record_field(r, "proposal", i);
    if (proposal == "initial") {
      run.kind = ProposalKind::initial;
    } else if (proposal == "acquisition") {
      run.kind = ProposalKind::acquisition;
    } else if (proposal == "external") {
      run.kind = ProposalKind::external;
    } else {
      detail::throw_bad_record(i, detail::concat("'proposal' is ", proposal.dump()));
    }
    const nlohmann::json& status = detail::record_field(r, "status", i);
    if (status != "ok" && status != "failed") {
      detail::throw_bad_record(i, detail::concat("'status' is ", status.dump()));
    }
    run.ok = status == "ok";
    const nlohmann::json& trajectory = detail::record_field(r, "trajectory", i);
    run.score = detail::record_number(detail::record_field(r, "score", i), "score", i);
    if (!trajectory.is_null()) {
      run.trajectory = detail::trajectory_from_json(trajectory, metrics_.size(), i);
      run.has_trajectory = true;
      const TrajectoryScore s = score_trajectory(run.trajectory, metrics_, options_.metric_scales);
      if (s.ok() != run.ok || (run.ok && s.score != run.score)) {
        detail::throw_bad_record(i, "its status or score disagrees with its trajectory");
      }
      run.best_point = s.best_point;
      run.best_step = s.best_step;
    } else if (run.ok != std::isfinite(run.score)) {
      detail::throw_bad_record(i, "its status disagrees with its score");
    }
    if (!run.ok) {
      const auto e = r.find("error");
      run.error = e != r.end() && e->is_string() ? e->get<std::string>() : "failed";
    }
    const nlohmann::json& seconds = detail::record_field(r, "seconds", i);
    if (!seconds.is_object()) {
      detail::throw_bad_record(i, "'seconds' is not an object");
    }
    run.fit_seconds = detail::record_number(detail::record_field(seconds, "fit", i), "fit", i);
    run.acquisition_seconds =
        detail::record_number(detail::record_field(seconds, "acquisition", i), "acquisition", i);
    run.train_seconds =
        detail::record_number(detail::record_field(seconds, "train", i), "train", i);
    apply(std::move(run), /*replayed=*/true);
  }

  void apply(Run run, bool replayed) {
    HyperparameterIteration it;
    it.index = static_cast<int>(summary_.trace.size());
    it.hyperparameters = Hyperparameters(space_, run.setting);
    it.proposal = run.kind;
    it.ok = run.ok;
    it.replayed = replayed;
    it.error = run.error;
    it.score = run.score;
    it.best_step = run.best_step;
    it.fit_seconds = run.fit_seconds;
    it.acquisition_seconds = run.acquisition_seconds;
    it.train_seconds = std::isfinite(run.train_seconds) ? run.train_seconds : 0.0;

    taken_.push_back(run.setting);
    if (run.ok) {
      x_.push_back(space_->encode(run.setting));
      y_.push_back(run.score);
      if (summary_.best_index < 0 || run.score > summary_.best_score) {
        summary_.best_index = it.index;
        summary_.best_score = run.score;
        best_.hyperparameters = it.hyperparameters;
        best_.trajectory = run.trajectory;
        best_.score = run.score;
        best_.run_index = it.index;
        best_.best_point = run.best_point;
        best_.best_step = run.best_step;
      }
    } else {
      ++summary_.num_failures;
      last_error_ = run.error;
    }
    it.best_index = summary_.best_index;
    it.best_score = summary_.best_score;
    summary_.num_runs = it.index + 1;
    summary_.num_replayed += replayed ? 1 : 0;
    summary_.fit_seconds += it.fit_seconds;
    summary_.acquisition_seconds += it.acquisition_seconds;
    summary_.train_seconds += it.train_seconds;
    summary_.trace.push_back(std::move(it));
  }

  std::shared_ptr<const SearchSpace> space_;
  std::vector<MetricSpec> metrics_;
  HyperparameterSearchOptions options_;
  std::string fingerprint_;
  bool has_continuous_ = false;
  Journal journal_;
  std::vector<Eigen::VectorXd> x_;          // encodings of the successful runs
  std::vector<double> y_;                   // their scores
  std::vector<std::vector<double>> taken_;  // every completed setting (ok or failed)
  std::vector<Pending> pending_;
  HyperparameterSummary summary_;
  HyperparameterSearchResult best_;
  std::string last_error_;
};

/// The search with the default kernel (Matern52Kernel).
using HyperparameterSearch = BasicHyperparameterSearch<Matern52Kernel>;

/// Runs BOMF's stage 1 on `problem` (Algorithm 1, lines 1–10): suggests, trains (one run at a
/// time, each with a TrainingContext whose run_index is its trace index and which collects
/// members when options.collect_members_during_search), observes, journals, calls the callback,
/// until the budget is used, the callback stops it, or a fully discrete space is exhausted.
/// `train` throwing (any std::exception) makes a failed run; a malformed trajectory (wrong number
/// of metric values, …) is a programming error and propagates as bomf::invalid_argument.
/// Returns the best run; `summary` (optional) receives the trace, even when an exception ends the
/// search. Throws bomf::too_many_failures when more than max_failures runs failed or none
/// succeeded; bomf::invalid_argument / bomf::io_error as the search's constructor.
template <class Kernel = Matern52Kernel>
HyperparameterSearchResult solve(const HyperparameterSearchOptions& options,
                                 TrainingProblem& problem,
                                 HyperparameterSummary* summary = nullptr) {
  BasicHyperparameterSearch<Kernel> search(problem, options);
  HyperparameterTermination termination = HyperparameterTermination::budget_reached;
  std::string message;
  const auto publish = [&](HyperparameterTermination t, const std::string& why) {
    if (summary != nullptr) {
      *summary = search.summary();
      summary->termination = t;
      summary->message = why;
    }
  };
  try {
    while (search.remaining() > 0) {
      if (search.exhausted()) {
        termination = HyperparameterTermination::space_exhausted;
        message = detail::concat("stopped: all ", search.space().discrete_combinations(),
                                 " settings of the search space were evaluated");
        break;
      }
      const Hyperparameters h = search.suggest();
      TrainingContext context(search.num_completed(), options.collect_members_during_search,
                              options.members);
      const auto start = std::chrono::steady_clock::now();
      TrainingTrajectory trajectory;
      std::string error;
      bool threw = false;
      try {
        trajectory = problem.train(h, context);
      } catch (const std::exception& e) {
        threw = true;
        error = e.what();
      } catch (...) {
        threw = true;
        error = "train threw an exception that is not a std::exception";
      }
      const double seconds = detail::seconds_since(start);
      if (threw) {
        search.observe_failure(h, error, seconds);
      } else {
        search.observe(h, trajectory, seconds);
      }
      if (options.callback && !options.callback(search.summary().trace.back())) {
        termination = HyperparameterTermination::stopped_by_callback;
        message = detail::concat("stopped by the callback after ", search.num_completed(), " runs");
        break;
      }
    }
    if (termination == HyperparameterTermination::budget_reached) {
      message = detail::concat("budget of ", search.budget(), " runs reached");
    }
    HyperparameterSearchResult result = search.result();  // throws when no run succeeded
    publish(termination, message);
    return result;
  } catch (const too_many_failures& e) {
    publish(HyperparameterTermination::too_many_failures, e.what());
    throw;
  } catch (const std::exception& e) {
    publish(termination, detail::concat("ended by an error: ", e.what()));
    throw;
  }
}

/// Trains `problem` once with `hyperparameters` (e.g. the best setting of a search on a proxy),
/// collecting the fusion members (Algorithm 1, lines 13–17): the run's TrainingContext has
/// collect_members() true, run_index TrainingContext::final_run, the policy `members` and
/// `anchor_step` (no value = the run's total steps; HyperparameterSearchResult::best_step for
/// the App. A.3 window, which is −1, and refused, for a run observed by its score alone).
/// Returns the validated trajectory (total_steps filled in), whose
/// checkpoint_steps are the members the loop kept. The setting must have the dimensions (names
/// and kinds, in order) of the problem's space and be valid there. Exceptions of `train`
/// propagate. Throws bomf::invalid_argument otherwise (mismatched space, malformed trajectory,
/// invalid member options).
inline TrainingTrajectory train_members(TrainingProblem& problem,
                                        const Hyperparameters& hyperparameters,
                                        const MemberSelectionOptions& members = {},
                                        std::optional<long long> anchor_step = {}) {
  constexpr const char* where = "bomf::train_members";
  detail::require(!hyperparameters.empty(), where, "argument 'hyperparameters' is empty");
  detail::require(!anchor_step || *anchor_step >= 0, where, "argument 'anchor_step' is ",
                  anchor_step.value_or(0),
                  ", expected a step >= 0 (a best_step of -1 means the run has no trajectory; "
                  "pass no anchor for the run's total steps)");
  auto space = std::make_shared<const SearchSpace>(problem.search_space());
  space->require_nonempty(where);
  const SearchSpace& from = hyperparameters.space();
  detail::require(from.size() == space->size(), where, "the setting has ", from.size(),
                  " dimensions, the problem's search space ", space->size());
  for (Eigen::Index i = 0; i < space->size(); ++i) {
    const Dimension& a = from.dimension(i);
    const Dimension& b = space->dimension(i);
    detail::require(a.name == b.name && a.kind == b.kind &&
                        (a.kind != DimensionKind::categorical || a.choices == b.choices),
                    where, "dimension ", i, " of the setting ('", a.name,
                    "') differs from the problem's ('", b.name,
                    "'), expected the same names, kinds and choices");
  }
  const Hyperparameters h(space, hyperparameters.values());
  const std::vector<MetricSpec> metrics = problem.metrics();
  detail::validate_metric_specs(metrics, where);
  TrainingContext context(TrainingContext::final_run, true, members, anchor_step);
  TrainingTrajectory trajectory = problem.train(h, context);
  trajectory.validate(metrics.size(), where);
  trajectory.total_steps = trajectory.effective_total_steps();
  return trajectory;
}

}  // namespace bomf
