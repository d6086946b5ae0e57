// bomf/drivers/hyperparameter_search.hpp — BOMF's first stage: Bayesian optimization of the
// training hyperparameters (Jang et al., NeurIPS 2024, §4.2 and Algorithm 1, lines 1–10).
//
// Objective: each run's trajectory is scored by the best sum of its metrics along it
// (trajectory_score.hpp, Eq. 5). A run with no finite point, or whose `train` throws, is failed:
// recorded (journal, summary) but kept out of the surrogate.
//
// Algorithm (defaults of the paper, all configurable):
//  1. `num_initial` = 3 quasi-random settings: rows 0, 1, 2 of a scrambled Sobol sequence over
//     the dimensions of the space (BoxDomain::quasi_random, search_domain.hpp).
//  2. `num_iterations` = 10 iterations of: fit a GP (Matern52Kernel, GpPriors::botorch_legacy() =
//     BoTorch 0.11.3's SingleTaskGP, standardized outcomes) to the (unit-cube encoding, score)
//     pairs of the successful runs; maximize LogEI (incumbent = best score) over the space with
//     `maximize_in_box` (discrete values enumerated or snapped, so only valid settings are ever
//     proposed); train at the proposal. Until 2 runs succeeded, proposals stay quasi-random
//     (kind `fallback`).
//  3. The result is the best run: its setting, its trajectory and its best step B* (the anchor
//     of the App. A.3 member window, see member_selection.hpp).
// Failed runs consume budget: the search makes num_initial + num_iterations runs in total.
//
// Several runs at once: `suggest()` may be called again before earlier suggestions are observed;
// pending settings join the GP data at their posterior mean (kriging believer), which lowers
// LogEI around them. evaluation_loop.hpp runs the search with K workers.
//
// Duplicates. A setting already evaluated (or pending) is never proposed again while the space
// has another: a quasi-random proposal moves on to the next Sobol point; a LogEI proposal equal
// to a taken setting (possible when all dimensions are discrete, or at a bound) is replaced by the
// raw acquisition candidate with the highest LogEI that is not taken, else by the next untaken
// Sobol point. A space without continuous dimension whose every combination is taken is
// `exhausted()`: `solve` then stops early (termination `space_exhausted`).
//
// Determinism and the journal. Every random step draws the seed derived from (options.seed,
// number of runs observed + pending when the proposal is made, the step; detail/seeds.hpp), so a
// search resumed from its journal proposes exactly what the uninterrupted search would have.
// Each completed run (ok or failed) is appended to the journal (journal.hpp: one JSON line with a
// sequence number and a checksum, fsynced) before anything else happens; reopening the journal
// replays its runs (no retraining) and continues. A journal whose header differs (space, metrics,
// scales, fingerprint, seed, num_initial, surrogate or acquisition-optimizer settings) or that is
// damaged is refused; num_iterations and max_failures are not in the header, so a finished search
// can be extended by resuming it with more iterations.
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
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bomf/drivers/journal.hpp"
#include "bomf/drivers/member_selection.hpp"
#include "bomf/drivers/objectives.hpp"
#include "bomf/drivers/search_domain.hpp"
#include "bomf/drivers/search_trace.hpp"
#include "bomf/drivers/training_problem.hpp"
#include "bomf/drivers/trajectory_score.hpp"
#include "bomf/gp/fit_gp.hpp"
#include "bomf/gp/matern52_kernel.hpp"
#include "bomf/gp/priors.hpp"
#include "bomf/optim/hyperparameters.hpp"
#include "bomf/optim/maximize_in_box.hpp"
#include "bomf/optim/search_space.hpp"

namespace bomf {

/// One completed run, in the order of completion (the journal's order).
struct HyperparameterIteration : SearchIteration {
  Hyperparameters hyperparameters;                          ///< the setting trained
  double score = std::numeric_limits<double>::quiet_NaN();  ///< this run's score (NaN if failed)
  long long best_step = -1;                                 ///< step of its best point
  double best_score = std::numeric_limits<double>::quiet_NaN();  ///< best score so far
  int best_index = -1;  ///< index of the best run so far (−1: none succeeded yet)
  /// The run's number: the TrainingContext::run_index it was trained with, which names its
  /// checkpoints. Equal to `index` when runs are observed in the order they were suggested
  /// (sequential solve); with K workers runs finish out of order, so the trace index and the
  /// run number differ (solve over a WorkerPool numbers runs in the order they start).
  int run_index = -1;
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
  std::string journal;
  /// Failed runs tolerated; one more ends the search with bomf::too_many_failures. ≥ 0.
  int max_failures = 3;
  /// c_k of the score (trajectory_score.hpp); empty = all 1, else one finite value > 0 per
  /// metric.
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
  [[nodiscard]] std::string validate() const;
};

/// What the search did: one entry per completed run, totals and the termination.
struct HyperparameterSummary : SearchSummary {
  std::vector<HyperparameterIteration> trace;
  int best_index = -1;  ///< best run (−1 when none succeeded)
  double best_score = std::numeric_limits<double>::quiet_NaN();

  /// One paragraph: runs, failures, best score and setting, times, termination, warnings.
  [[nodiscard]] std::string brief_report() const;
  /// brief_report() followed by one line per run.
  [[nodiscard]] std::string full_report() const;
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

/// The stage-1 search as an ask/tell object: `suggest()` a setting, train it (anywhere), then
/// `observe(...)` the outcome; `solve` drives it with a TrainingProblem. See the file comment for
/// the algorithm, the objective, the journal and determinism. `Kernel` is the GP kernel
/// (Matern52Kernel by default, as the paper's BoTorch 0.11.3; Matern32Kernel or RbfKernel work).
/// Not thread-safe; not copyable (it owns the journal), movable.
template <class Kernel = Matern52Kernel>
class BasicHyperparameterSearch {
 public:
  /// A search over `space` for `metrics` (K ≥ 1, distinct non-empty names). `fingerprint`
  /// identifies the problem in the journal header. Opens (or creates) options.journal and
  /// replays its runs. Throws bomf::invalid_argument for an empty space, invalid metrics or
  /// options (including metric_scales of the wrong length) and for a journal of another run or
  /// format version; bomf::io_error for an unreadable or damaged journal.
  BasicHyperparameterSearch(SearchSpace space, std::vector<MetricSpec> metrics,
                            HyperparameterSearchOptions options = {}, std::string fingerprint = {});

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
  Hyperparameters suggest();

  /// Records a trained run: scores `trajectory`, appends the run to the journal, then updates the
  /// surrogate data. A trajectory without a finite point makes a failed run. `train_seconds` is
  /// only reported. Throws bomf::invalid_argument when `hyperparameters` is not a setting of
  /// this space (nothing recorded) or the trajectory is malformed (wrong number of metric values
  /// — naming expected and actual counts —, unordered steps; recorded first as a failed run
  /// whose journal record keeps the trajectory as "rejected_trajectory");
  /// bomf::too_many_failures when this failure is one more than max_failures tolerates (after
  /// recording it). `run_index` is the TrainingContext::run_index the run was trained with
  /// (journaled; reported as HyperparameterIteration::run_index and
  /// HyperparameterSearchResult::run_index); −1 = next_run_index(). A negative value other
  /// than −1 or one already used is refused (bomf::invalid_argument, nothing recorded).
  void observe(const Hyperparameters& hyperparameters, const TrainingTrajectory& trajectory,
               double train_seconds = 0.0, int run_index = -1);

  /// Records a run by its score alone (the caller computed the objective); a non-finite score
  /// makes a failed run. Throws as `observe`.
  void observe_score(const Hyperparameters& hyperparameters, double score,
                     double train_seconds = 0.0, int run_index = -1);

  /// Records a failed run (training threw `error`). Throws as `observe`.
  void observe_failure(const Hyperparameters& hyperparameters, const std::string& error,
                       double train_seconds = 0.0, int run_index = -1);

  /// The run number to give the next run that starts: one more than the largest run number
  /// recorded (replayed runs included), 0 for a new search. Runs in flight when a process died
  /// were never recorded, so their numbers are given again after a resume (their checkpoints
  /// are overwritten, never mistaken for a recorded run's).
  [[nodiscard]] int next_run_index() const noexcept {
    return static_cast<int>(run_index_used_.size());
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
  /// True when every planned run has been observed.
  [[nodiscard]] bool finished() const noexcept { return remaining() == 0 && num_pending() == 0; }
  /// True when the space has no continuous dimension and every combination of its discrete
  /// values was evaluated or is pending.
  [[nodiscard]] bool exhausted() const;

  /// True once some run succeeded.
  [[nodiscard]] bool has_result() const noexcept { return summary_.best_index >= 0; }
  /// The best run so far. Throws bomf::too_many_failures when no run succeeded.
  [[nodiscard]] HyperparameterSearchResult result() const;

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
  [[nodiscard]] nlohmann::json header() const;

 private:
  struct Pending {
    std::vector<double> setting;
    ProposalKind kind = ProposalKind::initial;
    double fit_seconds = 0.0;
    double acquisition_seconds = 0.0;
  };

  /// One completed run as the journal holds it.
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
    int run_index = -1;  ///< resolved (≥ 0) before the run is journaled
  };

  int resolved_run_index(int run_index, const char* where) const;
  [[nodiscard]] bool is_run_index_used(long long run_index) const {
    return run_index >= 0 && static_cast<std::size_t>(run_index) < run_index_used_.size() &&
           run_index_used_[static_cast<std::size_t>(run_index)];
  }
  std::vector<double> checked_setting(const Hyperparameters& h, const char* where) const;
  [[nodiscard]] bool is_taken(const std::vector<double>& setting) const;
  [[nodiscard]] std::vector<double> quasi_random_setting(std::uint64_t k) const;
  std::vector<double> acquisition_setting(std::uint64_t k, double& fit_seconds,
                                          double& acquisition_seconds) const;
  void check_failures() const;
  void complete(Run run);
  [[nodiscard]] nlohmann::json record_json(const Run& run) const;
  void replay(const nlohmann::json& record, std::size_t index);
  void apply(Run run, bool replayed);

  std::shared_ptr<const SearchSpace> space_;
  BoxDomain domain_;
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
  /// By run number, up to the largest recorded (its size is next_run_index()).
  std::vector<bool> run_index_used_;
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
                                 HyperparameterSummary* summary = nullptr);

/// Trains `problem` once with `hyperparameters` (e.g. the best setting of a search on a proxy),
/// collecting the fusion members (Algorithm 1, lines 13–17): the run's TrainingContext has
/// collect_members() true, run_index TrainingContext::final_run, the policy `members` and
/// `anchor_step` (no value = the run's total steps; HyperparameterSearchResult::best_step for
/// the App. A.3 window, which is −1, and refused, for a run observed by its score alone).
/// Returns the validated trajectory (total_steps filled in), whose checkpoint_steps are the
/// members the loop kept. The setting must have the dimensions (names and kinds, in order) of
/// the problem's space and be valid there. Exceptions of `train` propagate. Throws
/// bomf::invalid_argument otherwise (mismatched space, malformed trajectory, invalid member
/// options).
inline TrainingTrajectory train_members(TrainingProblem& problem,
                                        const Hyperparameters& hyperparameters,
                                        const MemberSelectionOptions& members = {},
                                        std::optional<long long> anchor_step = {});

}  // namespace bomf

#include "bomf/drivers/detail/hyperparameter_record.hpp"
#include "bomf/drivers/detail/hyperparameter_search_impl.hpp"
#include "bomf/drivers/detail/hyperparameter_summary_impl.hpp"
