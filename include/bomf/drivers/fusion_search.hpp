// bomf/drivers/fusion_search.hpp — BOMF's fusion stage: multi-objective Bayesian optimization of
// the fusion coefficients δ over the simplex (Jang et al., "Model Fusion through Bayesian
// Optimization in Language Model Fine-Tuning", NeurIPS 2024, Sec. 4.3 and Alg. 1, lines 19–30).
//
// Given N member checkpoints and a `FusionProblem` that evaluates the fused model w(δ) = Σ δ_i w_i
// (validation loss + K metrics), the search
//   1. evaluates the N members (the simplex vertices) unless their values are supplied
//      (`FusionSearchOptions::member_values`, e.g. from the training trajectory) — they fix the
//      min-max normalization (normalization.hpp: by default the paper's, anchored at the worst
//      member, range 0.1 per metric and 1.0 for the loss, reference point 0) and, when evaluated
//      here, also enter the GP data;
//   2. evaluates `num_initial` (default N) quasi-random δ on the simplex;
//   3. runs `num_iterations` (default 5·N) iterations of log-qNEHVI with one GP per objective
//      (Matérn-5/2, BoTorch 0.11's priors) refitted every iteration (MultiObjectiveSearch);
//   4. returns the evaluated Pareto set and one chosen δ (fusion_selection.hpp).
// The budget is N (members, when evaluated) + num_initial + num_iterations evaluations.
//
// Blind searches. When the normalized hypervolume is still 0 once the initial design (and
// `blind_search.patience` iterations) is observed, no evaluated δ beats the reference point in
// every objective at once and log-qNEHVI has no signal. The trace row (`blind`), the summary's
// `warnings` and `brief_report()` then say so, why (which objective no evaluation improves), and
// what to do; `blind_search.move_reference_point` moves the reference point to the evaluations'
// nadir instead, once.
//
// Three ways to run it:
//   * `solve(options, problem, &summary)` — sequential, Ceres-style;
//   * `solve(options, evaluator, &summary)` — the same, sharing a FusionEvaluator (and so every
//     evaluation and the journal) with the baselines of baselines.hpp;
//   * the ask/tell class `FusionSearch`, which needs no problem object: `suggest(q)` hands out
//     δs to evaluate anywhere (several workers, other machines), `observe(δ, evaluation)` takes
//     results back in any order; evaluation_loop.hpp runs it with K workers at once.
//
// Journal: with `options.journal` set, every completed evaluation (ok or failed) is appended to
// a JSON-lines file and fsync'ed before anything else happens (fusion_ledger.hpp, journal.hpp:
// sequence numbers and checksums detect damage). Restarting with the same journal replays it and
// continues: no completed evaluation is repeated, a process killed at any moment loses at most
// the evaluations in flight, and — as every random step is seeded from (seed, number of points so
// far) — a sequential run makes exactly the proposals of an uninterrupted run. A journal from
// another problem (N, objective names or directions, fingerprint) or from a search with other
// settings (seed, num_initial, bounds, member values, normalization, blind-search policy,
// surrogate/acquisition/optimizer settings) is refused; `num_iterations`, `max_failures` and
// `selection` may change between runs (to extend a finished search, or to choose differently).
//
// Failures: an evaluation that throws or returns NaN/∞ is recorded as failed (status, reason),
// kept out of the GPs, and the search goes on; once more than `max_failures` evaluations have
// failed, bomf::too_many_failures is thrown (after journaling). An evaluation returning the wrong
// NUMBER of metrics is a programming error: bomf::invalid_argument, after journaling it as failed.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bomf/acquisition/q_log_nehvi.hpp"
#include "bomf/drivers/fusion_evaluator.hpp"
#include "bomf/drivers/fusion_ledger.hpp"
#include "bomf/drivers/fusion_problem.hpp"
#include "bomf/drivers/fusion_record.hpp"
#include "bomf/drivers/fusion_selection.hpp"
#include "bomf/drivers/multi_objective_search.hpp"
#include "bomf/drivers/normalization.hpp"
#include "bomf/drivers/search_domain.hpp"
#include "bomf/drivers/search_trace.hpp"
#include "bomf/gp/fit_gp.hpp"
#include "bomf/optim/maximize_on_simplex.hpp"
#include "bomf/optim/simplex.hpp"

namespace bomf {

/// What the search does when it is blind: its normalized hypervolume is still 0 once the
/// initial design and `patience` acquisition iterations are observed — no evaluated δ is better
/// than the reference point in every objective at once, so log-qNEHVI has no signal and the
/// search degenerates (the failure mode of NormalizationAnchor::best_member when the members
/// disagree; see normalization.hpp).
struct BlindSearchOptions {
  /// Iterations tolerated with a hypervolume of 0 after the initial design (≥ 0).
  int patience = 0;
  /// When blind: move the reference point, once, to the nadir of every successful evaluation
  /// so far (each objective's worst value, rounded outward as NormalizationAnchor::worst_member
  /// rounds), re-normalize every observation and go on. false: only report it (the trace row's
  /// `blind`, FusionSummary::warnings, brief_report()).
  bool move_reference_point = false;

  /// The settings as JSON (for the settings record).
  [[nodiscard]] nlohmann::json to_json() const {
    return {{"patience", patience}, {"move_reference_point", move_reference_point}};
  }
};

/// One evaluation of the search: a row of the trace, handed to the callback.
struct FusionIteration : SearchIteration {
  Eigen::VectorXd delta;        ///< the coefficients evaluated.
  bool reused = false;          ///< value taken from the ledger (evaluated earlier).
  FusionEvaluation evaluation;  ///< natural values.
  /// Hypervolume of the normalized objectives w.r.t. 0 after this evaluation (NaN while the
  /// normalization is not known, i.e. before every member has been evaluated).
  double hypervolume = 0.0;
  double best_loss = 0.0;        ///< lowest loss so far (NaN before a successful evaluation).
  Eigen::VectorXd best_metrics;  ///< best value of each metric so far (its own direction).
  /// True when the search is blind after this evaluation (BlindSearchOptions): the normalized
  /// hypervolume is 0 although the initial design (and the patience) is spent.
  bool blind = false;
  /// True when the reference point was moved after this evaluation
  /// (BlindSearchOptions::move_reference_point); later hypervolumes use the new one.
  bool reference_moved = false;
};

/// The evaluated Pareto set: successful evaluations whose normalized objective vectors are
/// non-dominated (first of equal vectors only), in evaluation order.
struct FusionParetoSet {
  Eigen::MatrixXd deltas;          ///< P × N coefficients.
  Eigen::MatrixXd natural;         ///< P × (1 + K): loss, metrics in natural units.
  Eigen::MatrixXd normalized;      ///< P × (1 + K): maximized normalized objectives.
  std::vector<int> trace_indices;  ///< rows of the trace they come from.
};

/// Settings of the fusion search. Defaults are the paper's; see the file comment.
struct FusionSearchOptions {
  /// Quasi-random δ evaluated before the acquisition iterations; −1 = N (the paper).
  int num_initial = -1;
  /// Acquisition iterations (one evaluation each); −1 = 5·N (the paper).
  int num_iterations = -1;
  /// Seed of every random step (design, GP restarts, QMC samples, optimizer).
  std::uint64_t seed = 0;
  /// Failed evaluations tolerated; one more throws bomf::too_many_failures. ≥ 0.
  int max_failures = 10;
  /// Journal file ("" = none, records kept in memory).
  std::string journal;
  /// Optional per-coefficient bounds inside the simplex (length N each, or empty for 0 / 1):
  /// every δ proposed or evaluated then satisfies lower ≤ δ ≤ upper exactly. The "members" are
  /// then the feasible points closest to each vertex (Simplex::vertex); members whose points
  /// coincide are evaluated once. Bounds that leave a single feasible δ (lower summing to 1,
  /// or upper clipped to 1 summing to 1) are refused: there is nothing to search.
  Eigen::VectorXd lower_bounds;
  Eigen::VectorXd upper_bounds;
  /// Member values, N × (1 + K) natural units (loss, metrics), e.g. from the training trajectory;
  /// a row with a non-finite entry counts as a failed member. Empty: the search evaluates the
  /// members first (journaled, shared with the baselines) and they also enter the GP data.
  /// Supplied values only fix the normalization (they may come from another evaluation pass, so
  /// they are not GP data). Members are not evaluated either when every anchor is overridden.
  Eigen::MatrixXd member_values;
  /// Min-max normalization (anchor rule, ranges, per-objective overrides).
  NormalizationOptions normalization;
  /// Which evaluated point `solve` returns.
  FusionSelection selection;
  /// Detecting (and optionally escaping) a search whose hypervolume stays 0.
  BlindSearchOptions blind_search;
  /// Called by `solve` after every evaluation (not for journal replays); return false to stop.
  std::function<bool(const FusionIteration&)> callback;
  /// GP fitting; empty priors = GpPriors::botorch_legacy(); the seed is derived (ignored here).
  GpFitOptions gp;
  /// qLogNEHVI (128 QMC samples, prune_baseline = true); the seed is derived.
  QLogNehviOptions acquisition = MultiObjectiveSearchOptions<SimplexDomain>::default_acquisition();
  /// Acquisition maximization on the simplex (512 raw samples, 10 restarts, SPG); seed derived.
  SimplexOptimizerOptions acquisition_optimizer;

  /// Empty when valid for a problem with N members and these objectives, else the first problem
  /// found (naming the option, its value and what is expected).
  [[nodiscard]] std::string validate(int num_members, const FusionObjectives& objectives) const;
};

/// Everything `solve` (or a FusionSearch) did.
struct FusionSummary : SearchSummary {
  int num_members = 0;
  FusionObjectives objectives;
  /// One row per evaluation consumed by the search (members, initial design, acquisition), in
  /// order.
  std::vector<FusionIteration> trace;
  int num_reused = 0;  ///< taken from the ledger instead of evaluated.
  /// The normalization (empty vectors while not known).
  Eigen::VectorXd anchor;
  Eigen::VectorXd range;
  /// The evaluated Pareto set and the selected result (with the rule that chose it).
  FusionParetoSet pareto_set;
  std::optional<FusionResult> result;
  FusionSelection selection;

  /// A few lines: counts, termination, hypervolume, best values, selection, timings, warnings.
  [[nodiscard]] std::string brief_report() const;
  /// brief_report() followed by one line per evaluation.
  [[nodiscard]] std::string full_report() const;
};

/// The ask/tell fusion search (see the file comment). Constructible without a problem object:
/// from N and the objectives (with its own ledger at options.journal), or on a shared ledger.
/// Not thread-safe: one thread calls suggest/observe; workers only evaluate.
///
/// Ask/tell users evaluate suggestions themselves; `ledger().find(δ)` tells whether a δ has a
/// record already (solve() does this through its FusionEvaluator).
class FusionSearch {
 public:
  /// A search for N members and `objectives`, journaled at options.journal ("" = in memory),
  /// `fingerprint` identifying the problem (FusionProblem::fingerprint). Replays the journal when
  /// it exists. Throws bomf::invalid_argument for invalid arguments/options or a journal from
  /// another problem or other settings; bomf::io_error for an unusable or damaged journal.
  FusionSearch(int num_members, FusionObjectives objectives, FusionSearchOptions options,
               std::string fingerprint = {});

  /// A search recording into `ledger` (which must outlive it; options.journal must be "" or the
  /// ledger's path). Replays the ledger's search records.
  FusionSearch(FusionLedger& ledger, FusionSearchOptions options);

  FusionSearch(const FusionSearch&) = delete;
  FusionSearch& operator=(const FusionSearch&) = delete;

  /// Up to q ≥ 1 coefficient vectors to evaluate: missing members first, then the initial
  /// design, then acquisition candidates (sequential greedy, pending points in the baseline).
  /// Fewer than q (possibly none) when the budget is spent or when the search must wait for
  /// member results (acquisition candidates need the normalization). Every δ is exactly on the
  /// simplex and within the bounds. Throws bomf::too_many_failures if more than max_failures
  /// failed.
  std::vector<Eigen::VectorXd> suggest(int q = 1);

  /// Records a successful evaluation at δ (a pending suggestion, or external data on the
  /// simplex). Non-finite values turn it into a failure. Journals it first. Throws
  /// bomf::invalid_argument for a δ off the simplex/bounds (nothing journaled) or a wrong number
  /// of metric values (journaled first as a failure that keeps the values, so a resumed run
  /// counts it as failed), bomf::too_many_failures past max_failures.
  void observe(const Eigen::Ref<const Eigen::VectorXd>& delta, const FusionEvaluation& evaluation,
               double evaluation_seconds = 0.0);

  /// Records a failed evaluation at δ with its reason.
  void observe_failure(const Eigen::Ref<const Eigen::VectorXd>& delta, std::string reason,
                       double evaluation_seconds = 0.0);

  /// Records a FusionRecord (e.g. from FusionEvaluator::compute; reused records are journaled
  /// as such). Same checks as observe.
  void observe(FusionRecord record);

  /// True when every planned evaluation has been observed.
  [[nodiscard]] bool finished() const { return remaining() == 0 && num_pending() == 0; }
  /// Evaluations still to be suggested.
  [[nodiscard]] int remaining() const;
  /// Evaluations suggested and not yet observed.
  [[nodiscard]] int num_pending() const { return static_cast<int>(pending_.size()); }
  /// The pending δs.
  [[nodiscard]] std::vector<Eigen::VectorXd> pending() const;

  /// The trace so far (replayed rows included).
  [[nodiscard]] const std::vector<FusionIteration>& trace() const { return trace_; }
  /// The evaluated Pareto set (empty while the normalization is unknown).
  [[nodiscard]] FusionParetoSet pareto_set() const;
  /// The result chosen by options.selection. Throws bomf::evaluation_error when no evaluation
  /// succeeded (or the normalization is still unknown).
  [[nodiscard]] FusionResult result() const { return select(options_.selection); }
  /// The result chosen by `selection` (validated as in the options).
  [[nodiscard]] FusionResult select(const FusionSelection& selection) const;
  /// A summary of the state (termination in_progress or budget_reached).
  [[nodiscard]] FusionSummary summary() const;

  /// The normalization, or nullptr until the members are known.
  [[nodiscard]] const Normalization* normalization() const {
    return normalization_ ? &*normalization_ : nullptr;
  }
  /// The feasible set of δ.
  [[nodiscard]] const Simplex& simplex() const { return simplex_; }
  /// The options with −1 defaults resolved.
  [[nodiscard]] const FusionSearchOptions& options() const { return options_; }
  /// The underlying engine (normalized objectives; members and search points).
  [[nodiscard]] const MultiObjectiveSearch<Matern52Kernel, SimplexDomain>& engine() const {
    return *engine_;
  }
  /// The ledger.
  [[nodiscard]] FusionLedger& ledger() { return *ledger_; }
  /// Failed evaluations so far.
  [[nodiscard]] int num_failures() const { return num_failures_; }

 private:
  using Engine = MultiObjectiveSearch<Matern52Kernel, SimplexDomain>;

  /// A member's progress while the search evaluates the members.
  enum class MemberState { to_evaluate, pending, done };

  struct Pending {
    Eigen::VectorXd delta;
    ProposalKind kind = ProposalKind::initial;
    double fit_seconds = 0.0;
    double acquisition_seconds = 0.0;
    std::string fallback_reason;  // Proposal::fallback_reason
  };

  void initialize(FusionSearchOptions options);
  void check_settings_record();
  [[nodiscard]] nlohmann::json settings_json() const;
  [[nodiscard]] std::unique_ptr<Engine> make_engine() const;
  [[nodiscard]] int member_index(const Eigen::Ref<const Eigen::VectorXd>& delta) const;
  void set_member_state(int member, MemberState state);
  [[nodiscard]] bool all_members_done() const;
  [[nodiscard]] bool any_member_succeeded() const;
  [[nodiscard]] bool anchors_without_members() const;
  [[nodiscard]] int search_pending() const;
  void apply(const FusionRecord& record, bool replayed);
  void update_best(FusionIteration& row, const FusionRecord& record) const;
  void set_normalization();
  void feed_engine(int row);
  void check_failures(const char* where) const;
  void check_blind();
  void move_reference_point();
  [[nodiscard]] std::string blind_diagnosis() const;
  [[nodiscard]] Eigen::VectorXd best_normalized() const;  // per objective, over ok records
  [[nodiscard]] std::string anchor_advice() const;
  [[nodiscard]] FusionResult make_result(int trace_index, const char* method) const;
  [[nodiscard]] int select_by_posterior() const;

  std::unique_ptr<FusionLedger> owned_ledger_;
  FusionLedger* ledger_ = nullptr;
  int num_members_ = 0;
  FusionObjectives objectives_;
  FusionSearchOptions options_;
  Simplex simplex_{2};
  std::vector<Eigen::VectorXd> vertices_;  // simplex_.vertex(i), the members' δ
  std::unique_ptr<Engine> engine_;
  std::optional<Normalization> normalization_;
  bool members_needed_ = false;
  std::vector<MemberState> member_state_;
  // Per member, the first member with the same vertex (itself unless bounds merged vertices);
  // member_index() returns that one, and set_member_state() updates all that share it.
  std::vector<int> first_with_vertex_;
  Eigen::MatrixXd member_values_;  // N × (1 + K)
  std::vector<int> member_rows_;   // trace rows of member records, in order
  std::vector<int> buffered_;      // trace rows of search records awaiting the normalization
  std::vector<int> fed_;           // trace rows fed to the engine, in feeding order
  std::vector<Pending> pending_;
  std::vector<FusionRecord> records_;  // one per trace row (the search's view)
  std::vector<FusionIteration> trace_;
  std::vector<std::string> warnings_;
  int search_consumed_ = 0;  // non-member rows
  int num_failures_ = 0;
  // Proposals of this process that fell back to quasi-random points because qLogNEHVI failed
  // numerically, and the first one's error (for the summary's warning).
  int numerical_fallbacks_ = 0;
  std::string first_fallback_reason_;
  bool blind_ = false;
  bool reference_moved_ = false;
};

/// Runs the fusion search sequentially on `evaluator` (its ledger holds the journal; options.
/// journal must be "" or the ledger's path) until the budget is spent or the callback stops it,
/// and returns the selected result ("BOMF"). `summary` (optional) receives the trace, timings,
/// Pareto set, warnings and termination — also when bomf::too_many_failures is thrown.
/// Throws bomf::invalid_argument for invalid options, bomf::too_many_failures,
/// bomf::evaluation_error when nothing succeeded, bomf::io_error for journal trouble.
inline FusionResult solve(const FusionSearchOptions& options, FusionEvaluator& evaluator,
                          FusionSummary* summary = nullptr);

/// As above with an evaluator of its own on `problem`, journaled at options.journal.
inline FusionResult solve(const FusionSearchOptions& options, FusionProblem& problem,
                          FusionSummary* summary = nullptr);

}  // namespace bomf

#include "bomf/drivers/detail/fusion_options_impl.hpp"
#include "bomf/drivers/detail/fusion_search_impl.hpp"
#include "bomf/drivers/detail/fusion_selection_impl.hpp"
#include "bomf/drivers/detail/fusion_summary_impl.hpp"
