// bomf/drivers/fusion_evaluator.hpp — evaluations of fused models shared by the fusion search and
// the baselines: an evaluator that asks a `FusionLedger` (fusion_ledger.hpp) before it asks the
// problem.
//
// Every method that needs the fused model at some δ — the fusion search (fusion_search.hpp),
// best single member, last checkpoint, SWA, Greedy SWA, Learned SWA (baselines.hpp) — asks a
// `FusionEvaluator`. It looks δ up in its ledger first (exact equality of the coefficients) and
// calls `FusionProblem::evaluate` only for a δ never evaluated successfully; every new evaluation
// (ok or failed) is appended to the ledger's journal before the result is used, so a δ is
// evaluated at most once per journal, across methods and across restarts:
//
//   bomf::FusionEvaluator evaluator(problem, "run.journal");     // resumes if the file exists
//   bomf::FusionSummary summary;
//   auto bomf_result = bomf::solve(options, evaluator, &summary);  // the members, then BO
//   auto swa = bomf::uniform_average(evaluator);                  // one new evaluation
//   auto best = bomf::best_single_member(evaluator);              // reuses the member records
#pragma once

#include <Eigen/Core>
#include <exception>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "bomf/core/checks.hpp"
#include "bomf/core/error.hpp"
#include "bomf/drivers/detail/stopwatch.hpp"
#include "bomf/drivers/fusion_ledger.hpp"
#include "bomf/drivers/fusion_problem.hpp"
#include "bomf/drivers/fusion_record.hpp"

namespace bomf {

namespace detail {

/// Throws bomf::invalid_argument unless δ has length N, is finite, δ ≥ 0 and |Σδ − 1| ≤ 1e-9.
inline void check_delta(const Eigen::Ref<const Eigen::VectorXd>& delta, int num_members,
                        const char* where) {
  require_shape(delta, num_members, 1, where, "delta");
  require_finite(delta, where, "delta");
  require((delta.array() >= 0.0).all() && std::abs(delta.sum() - 1.0) <= 1e-9, where,
          "argument 'delta' is not on the probability simplex (min ", delta.minCoeff(), ", sum ",
          delta.sum(), "), expected entries >= 0 summing to 1");
}

/// The record of one call of `problem.evaluate(delta)`: timed; a thrown exception becomes a
/// failed record with the message and K NaN metrics. Not canonicalized (the journaling caller
/// does that, see canonicalize_record).
inline FusionRecord evaluate_once(FusionProblem& problem, const Eigen::VectorXd& delta,
                                  int num_metrics) {
  FusionRecord record;
  record.delta = delta;
  const Stopwatch clock;
  try {
    record.evaluation = problem.evaluate(record.delta);
    record.ok = true;
  } catch (const std::exception& e) {
    record.error = concat("evaluation threw: ", e.what());
  } catch (...) {
    record.error = "evaluation threw a non-standard exception";
  }
  record.seconds = clock.seconds();
  if (!record.ok) {
    record.evaluation = FusionEvaluation();
    record.evaluation.metrics =
        Eigen::VectorXd::Constant(num_metrics, std::numeric_limits<double>::quiet_NaN());
  }
  return record;
}

}  // namespace detail

/// Evaluates fused models of a `FusionProblem` through a `FusionLedger` (owned, or shared with
/// others), so that no δ is evaluated twice successfully. A δ whose evaluation failed is
/// evaluated again when asked for (a failure such as running out of GPU memory can be
/// transient); the search itself does not propose a failed δ again. Not thread-safe.
class FusionEvaluator {
 public:
  /// An evaluator with its own ledger (journal at `journal_path`, "" = in memory).
  explicit FusionEvaluator(FusionProblem& problem, const std::string& journal_path = {})
      : problem_(&problem),
        owned_(std::make_unique<FusionLedger>(problem, journal_path)),
        ledger_(owned_.get()) {}

  /// An evaluator writing to an existing ledger (which must outlive it and describe the same
  /// number of members and objectives). Throws bomf::invalid_argument otherwise.
  FusionEvaluator(FusionProblem& problem, FusionLedger& ledger)
      : problem_(&problem), ledger_(&ledger) {
    constexpr const char* where = "bomf::FusionEvaluator";
    detail::require(problem.num_members() == ledger.num_members(), where, "the problem has ",
                    problem.num_members(), " members, the ledger ", ledger.num_members());
    detail::require(problem.objectives().size() == ledger.objectives().size(), where,
                    "the problem has ", problem.objectives().size(), " objectives, the ledger ",
                    ledger.objectives().size());
  }

  /// The record of δ: a copy of the ledger's (with `reused` = true) when δ was evaluated
  /// successfully before, else a fresh evaluation by problem.evaluate (timed; a thrown
  /// exception gives a failed record with the reason) which is NOT yet appended — the caller
  /// journals it (see `evaluate`, FusionSearch::observe), which also canonicalizes it.
  /// Throws bomf::invalid_argument for a δ off the simplex.
  [[nodiscard]] FusionRecord compute(const Eigen::Ref<const Eigen::VectorXd>& delta) {
    detail::check_delta(delta, ledger_->num_members(), "bomf::FusionEvaluator");
    if (const FusionRecord* found = ledger_->find(delta); found != nullptr && found->ok) {
      FusionRecord copy = *found;
      copy.reused = true;
      copy.fit_seconds = 0.0;
      copy.acquisition_seconds = 0.0;
      ++num_reused_;
      return copy;
    }
    ++num_computed_;
    return detail::evaluate_once(*problem_, delta, ledger_->objectives().num_metrics());
  }

  /// The record of δ, evaluating and journaling it (tagged `source`) when it is new. Throws
  /// bomf::invalid_argument for a δ off the simplex, and for an evaluation returning the wrong
  /// number of metric values after journaling it as failed (with the values returned).
  FusionRecord evaluate(const Eigen::Ref<const Eigen::VectorXd>& delta, const std::string& source) {
    FusionRecord record = compute(delta);
    if (record.reused)
      return record;
    record.source = source;
    return ledger_->append(std::move(record));  // canonicalizes; throws after journaling
  }

  /// The problem.
  [[nodiscard]] FusionProblem& problem() { return *problem_; }
  /// The ledger.
  [[nodiscard]] FusionLedger& ledger() { return *ledger_; }
  [[nodiscard]] const FusionLedger& ledger() const { return *ledger_; }
  /// Calls of problem.evaluate made by this evaluator.
  [[nodiscard]] long num_computed() const { return num_computed_; }
  /// Lookups answered from the ledger.
  [[nodiscard]] long num_reused() const { return num_reused_; }

 private:
  FusionProblem* problem_;
  std::unique_ptr<FusionLedger> owned_;
  FusionLedger* ledger_;
  long num_computed_ = 0;
  long num_reused_ = 0;
};

}  // namespace bomf
