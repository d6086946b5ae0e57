// bomf/drivers/fusion_evaluator.hpp — evaluations of fused models shared by the fusion search and
// the baselines: a ledger (journal + exact-δ cache) and an evaluator that uses it.
//
// Every method that needs the fused model at some δ — the fusion search (fusion_search.hpp),
// best single member, SWA, Greedy SWA, Learned SWA (baselines.hpp) — asks a `FusionEvaluator`.
// It looks δ up in its `FusionLedger` first (exact equality of the coefficients) and calls
// `FusionProblem::evaluate` only for a δ never evaluated before; every new evaluation (ok or
// failed) is appended to the ledger's journal before the result is used, so a δ is evaluated at
// most once per journal, across methods and across restarts:
//
//   bomf::FusionEvaluator evaluator(problem, "run.journal");     // resumes if the file exists
//   bomf::FusionSummary summary;
//   auto bomf_result = bomf::solve(options, evaluator, &summary);  // the members, then BO
//   auto swa = bomf::uniform_average(evaluator);                  // reuses nothing new
//   auto best = bomf::best_single_member(evaluator);              // reuses the member records
//
// Journal format (JSON lines, see journal.hpp): a header {"format": "bomf.fusion_journal",
// "version": 1, "num_members", "loss_name", "metrics": [{"name", "direction"}], "fingerprint"},
// then one record per completed evaluation:
//   {"kind": "evaluation", "delta": [...], "status": "ok" | "failed", "loss": x | null,
//    "metrics": [...], "error": "...", "seconds": t, "source": "member" | "search" |
//    "baseline:<method>" | <user tag>, "reused": false, "fit_seconds": f, "acquisition_seconds": a}
// ("reused": true marks a record that copies an earlier one's values: the fusion search logs
// every point it consumes, even when an earlier method already evaluated it), plus records of
// other kinds written by the drivers (e.g. "fusion_search_settings").
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <exception>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "bomf/core/checks.hpp"
#include "bomf/core/error.hpp"
#include "bomf/drivers/detail/search_support.hpp"
#include "bomf/drivers/fusion_problem.hpp"
#include "bomf/drivers/journal.hpp"

namespace bomf {

// bomf::evaluation_error and bomf::too_many_failures are in bomf/core/error.hpp.

/// The result of a fusion method (BOMF or a baseline): one δ and its evaluation.
struct FusionResult {
  std::string method;           ///< "BOMF", "best member", "SWA", "Greedy SWA", "Learned SWA".
  Eigen::VectorXd delta;        ///< the chosen coefficients (length N, on the simplex).
  FusionEvaluation evaluation;  ///< its validation loss and metrics (natural units).
  int evaluations = 0;          ///< evaluations the method used (shared ones included).
  int new_evaluations = 0;      ///< of which it computed itself (not found in the ledger).
  double seconds = 0.0;         ///< wall time of the method, its evaluations included.
};

/// One completed evaluation (a ledger/journal record).
struct FusionRecord {
  Eigen::VectorXd delta;  ///< the coefficients (length N).
  bool ok = false;        ///< false: the evaluation threw or returned non-finite values.
  /// Natural values. A failed record may hold non-finite values, or, for an evaluation that broke
  /// the metric count ("contract violation: …"), the values it returned, of the wrong count.
  FusionEvaluation evaluation;
  std::string error;                 ///< why it failed ("" when ok).
  double seconds = 0.0;              ///< wall time of problem.evaluate.
  std::string source;                ///< "member", "search", "baseline:<method>", or a user tag.
  bool reused = false;               ///< a copy of an earlier record with the same δ.
  double fit_seconds = 0.0;          ///< search records: GP fitting spent on proposing δ.
  double acquisition_seconds = 0.0;  ///< search records: acquisition optimization for δ.
};

namespace detail {

inline const char* direction_name(Direction d) {
  return d == Direction::maximize ? "maximize" : "minimize";
}

/// "" when `evaluation` has one metric value per declared metric, else what is wrong.
inline std::string metric_count_error(const FusionEvaluation& evaluation,
                                      const FusionObjectives& objectives) {
  const auto k = static_cast<Eigen::Index>(objectives.metrics.size());
  if (evaluation.metrics.size() == k) {
    return {};
  }
  std::string names;
  for (const MetricSpec& s : objectives.metrics) {
    names += (names.empty() ? "" : ", ") + s.name;
  }
  return concat("the evaluation returned ", evaluation.metrics.size(), " metric values, expected ",
                k, " (one per metric: ", names, ")");
}

/// An evaluation returning the wrong number of metric values breaks FusionProblem's contract
/// (a bug in the caller's code, not a failed evaluation), but what it returned was paid for:
/// turns an ok `record` with such an evaluation into a failed one that keeps the values
/// returned, for the journal, and returns the reason the caller throws after journaling it
/// ("" and `record` unchanged when the count is right or the record already failed).
inline std::string mark_metric_count_violation(FusionRecord& record,
                                               const FusionObjectives& objectives) {
  std::string error = record.ok ? metric_count_error(record.evaluation, objectives) : "";
  if (!error.empty()) {
    record.ok = false;
    record.error = concat("contract violation: ", error);
  }
  return error;
}

/// Throws bomf::invalid_argument for a metric-count violation `error` whose record is journaled.
[[noreturn]] inline void throw_metric_count_violation(const char* where, const std::string& error) {
  throw_invalid_argument(where, error,
                         "; the evaluation is journaled as failed with the values it returned "
                         "(fix FusionProblem::evaluate, then resume)");
}

/// The reason an evaluation with the right shape is unusable, or "" when all values are finite.
inline std::string non_finite_reason(const FusionEvaluation& evaluation,
                                     const FusionObjectives& objectives) {
  if (!std::isfinite(evaluation.loss))
    return concat("non-finite ", objectives.loss_name, " ", evaluation.loss);
  for (Eigen::Index k = 0; k < evaluation.metrics.size(); ++k) {
    if (!std::isfinite(evaluation.metrics(k)))
      return concat("non-finite metric '", objectives.name(static_cast<int>(k) + 1), "' ",
                    evaluation.metrics(k));
  }
  return {};
}

/// Throws bomf::invalid_argument unless δ has length N, is finite, δ ≥ 0 and |Σδ − 1| ≤ 1e-9.
inline void check_delta(const Eigen::Ref<const Eigen::VectorXd>& delta, int num_members,
                        const char* where) {
  require_shape(delta, num_members, 1, where, "delta");
  require_finite(delta, where, "delta");
  require((delta.array() >= 0.0).all() && std::abs(delta.sum() - 1.0) <= 1e-9, where,
          "argument 'delta' is not on the probability simplex (min ", delta.minCoeff(), ", sum ",
          delta.sum(), "), expected entries >= 0 summing to 1");
}

inline nlohmann::json record_to_json(const FusionRecord& r) {
  nlohmann::json j;
  j["kind"] = "evaluation";
  j["delta"] = json_from_vector(r.delta);
  j["status"] = r.ok ? "ok" : "failed";
  j["loss"] = std::isfinite(r.evaluation.loss) ? nlohmann::json(r.evaluation.loss) : nullptr;
  j["metrics"] = json_from_vector(r.evaluation.metrics);
  j["error"] = r.error;
  j["seconds"] = r.seconds;
  j["source"] = r.source;
  j["reused"] = r.reused;
  j["fit_seconds"] = r.fit_seconds;
  j["acquisition_seconds"] = r.acquisition_seconds;
  return j;
}

inline FusionRecord record_from_json(const nlohmann::json& j, int num_members, int num_metrics,
                                     std::size_t line) {
  try {
    FusionRecord r;
    r.delta = vector_from_json(j.at("delta"), "delta", num_members);
    r.ok = j.at("status").get<std::string>() == "ok";
    r.evaluation.loss = j.at("loss").is_null() ? std::numeric_limits<double>::quiet_NaN()
                                               : j.at("loss").get<double>();
    r.evaluation.metrics = vector_from_json(j.at("metrics"), "metrics", r.ok ? num_metrics : -1);
    r.error = j.value("error", std::string());
    r.seconds = j.value("seconds", 0.0);
    r.source = j.value("source", std::string());
    r.reused = j.value("reused", false);
    r.fit_seconds = j.value("fit_seconds", 0.0);
    r.acquisition_seconds = j.value("acquisition_seconds", 0.0);
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw io_error(concat("bomf::FusionLedger: journal record ", line,
                          " is not a valid evaluation record: ", e.what()));
  } catch (const io_error& e) {
    throw io_error(concat("bomf::FusionLedger: journal record ", line, ": ", e.what()));
  }
}

}  // namespace detail

/// All completed evaluations of one fusion problem: an optional journal file plus an index by δ.
/// Constructed with a journal path, it replays the file (refusing one from a different problem:
/// other N, objective names or directions, or fingerprint) and appends every new record durably.
/// Movable, not copyable.
class FusionLedger {
 public:
  /// A ledger for N ≥ 2 members and `objectives`; `fingerprint` identifies the problem (see
  /// FusionProblem::fingerprint); `journal_path` "" keeps records in memory only.
  /// Throws bomf::invalid_argument for bad arguments or a journal from a different problem,
  /// bomf::io_error when the journal cannot be used or is corrupt.
  FusionLedger(int num_members, FusionObjectives objectives, std::string fingerprint = {},
               const std::string& journal_path = {})
      : num_members_(num_members),
        objectives_(std::move(objectives)),
        fingerprint_(std::move(fingerprint)) {
    constexpr const char* where = "bomf::FusionLedger";
    detail::require(num_members >= 2, where, "argument 'num_members' is ", num_members,
                    ", expected at least 2 members to fuse");
    objectives_.validate(where);
    if (!journal_path.empty()) {
      journal_ = Journal(journal_path, header());
      const auto& lines = journal_.records();
      for (std::size_t i = 0; i < lines.size(); ++i) {
        if (lines[i].value("kind", std::string()) != "evaluation")
          continue;
        index(detail::record_from_json(lines[i], num_members_,
                                       static_cast<int>(objectives_.metrics.size()), i + 2));
      }
    }
  }

  /// A ledger for `problem` (its N, objectives and fingerprint).
  explicit FusionLedger(const FusionProblem& problem, const std::string& journal_path = {})
      : FusionLedger(problem.num_members(), problem.objectives(), problem.fingerprint(),
                     journal_path) {}

  /// Number of members N.
  [[nodiscard]] int num_members() const { return num_members_; }
  /// The objectives.
  [[nodiscard]] const FusionObjectives& objectives() const { return objectives_; }
  /// The problem fingerprint.
  [[nodiscard]] const std::string& fingerprint() const { return fingerprint_; }
  /// The journal file ("" when in memory).
  [[nodiscard]] const std::string& path() const { return journal_.path(); }
  /// The underlying journal (every line, including records of other kinds).
  [[nodiscard]] Journal& journal() { return journal_; }
  [[nodiscard]] const Journal& journal() const { return journal_; }
  /// Evaluation records in order (replayed ones first).
  [[nodiscard]] const std::vector<FusionRecord>& records() const { return records_; }

  /// The first record with exactly these coefficients, or nullptr. \b Cost: O(N log n).
  [[nodiscard]] const FusionRecord* find(const Eigen::Ref<const Eigen::VectorXd>& delta) const {
    const auto it = by_delta_.find(detail::point_key(delta));
    return it == by_delta_.end() ? nullptr : &records_[it->second];
  }

  /// Appends `record` (journaled durably first when a file is used). Throws
  /// bomf::invalid_argument for a δ of the wrong length (nothing appended) or, after appending
  /// it as failed, for an ok record with the wrong number of metric values; bomf::io_error when
  /// writing fails.
  const FusionRecord& append(FusionRecord record) {
    constexpr const char* where = "bomf::FusionLedger::append";
    detail::require_shape(record.delta, num_members_, 1, where, "record.delta");
    const std::string violation = detail::mark_metric_count_violation(record, objectives_);
    journal_.append(detail::record_to_json(record));
    const FusionRecord& stored = index(std::move(record));
    if (!violation.empty()) {
      detail::throw_metric_count_violation(where, violation);
    }
    return stored;
  }

  /// The journal header this ledger writes and expects.
  [[nodiscard]] nlohmann::json header() const {
    nlohmann::json h;
    h["format"] = "bomf.fusion_journal";
    h["version"] = 1;
    h["num_members"] = num_members_;
    h["loss_name"] = objectives_.loss_name;
    h["metrics"] = nlohmann::json::array();
    for (const MetricSpec& s : objectives_.metrics) {
      h["metrics"].push_back(
          {{"name", s.name}, {"direction", detail::direction_name(s.direction)}});
    }
    h["fingerprint"] = fingerprint_;
    return h;
  }

 private:
  const FusionRecord& index(FusionRecord record) {
    records_.push_back(std::move(record));
    // find() answers with the first successful record of a δ, else its first failure.
    const auto [it, inserted] =
        by_delta_.emplace(detail::point_key(records_.back().delta), records_.size() - 1);
    if (!inserted && !records_[it->second].ok && records_.back().ok)
      it->second = records_.size() - 1;
    return records_.back();
  }

  int num_members_;
  FusionObjectives objectives_;
  std::string fingerprint_;
  Journal journal_;
  std::vector<FusionRecord> records_;
  std::map<std::vector<double>, std::size_t> by_delta_;
};

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
  /// successfully before, else a fresh evaluation by problem.evaluate (timed; a thrown exception or
  /// a non-finite value gives a failed record with the reason) which is NOT yet appended — the
  /// caller journals it (see `evaluate`, FusionSearch::observe). An evaluation returning the
  /// wrong number of metric values is returned as it is (ok); the journaling caller records it as
  /// failed and throws. Throws bomf::invalid_argument for a δ off the simplex.
  [[nodiscard]] FusionRecord compute(const Eigen::Ref<const Eigen::VectorXd>& delta) {
    constexpr const char* where = "bomf::FusionEvaluator";
    detail::check_delta(delta, ledger_->num_members(), where);
    if (const FusionRecord* found = ledger_->find(delta); found != nullptr && found->ok) {
      FusionRecord copy = *found;
      copy.reused = true;
      copy.fit_seconds = 0.0;
      copy.acquisition_seconds = 0.0;
      ++num_reused_;
      return copy;
    }
    FusionRecord record;
    record.delta = delta;
    const detail::Stopwatch clock;
    try {
      record.evaluation = problem_->evaluate(record.delta);
      record.ok = true;
    } catch (const std::exception& e) {
      record.error = detail::concat("evaluation threw: ", e.what());
    } catch (...) {
      record.error = "evaluation threw a non-standard exception";
    }
    record.seconds = clock.seconds();
    ++num_computed_;
    if (record.ok) {
      // A wrong number of metric values is left for the journaling caller (evaluate, observe).
      if (detail::metric_count_error(record.evaluation, ledger_->objectives()).empty()) {
        record.error = detail::non_finite_reason(record.evaluation, ledger_->objectives());
        record.ok = record.error.empty();
      }
    } else {
      record.evaluation = FusionEvaluation();
      record.evaluation.metrics =
          Eigen::VectorXd::Constant(static_cast<Eigen::Index>(ledger_->objectives().metrics.size()),
                                    std::numeric_limits<double>::quiet_NaN());
    }
    return record;
  }

  /// The record of δ, evaluating and journaling it (tagged `source`) when it is new. Throws
  /// bomf::invalid_argument for a δ off the simplex, and for an evaluation returning the wrong
  /// number of metric values after journaling it as failed (with the values returned).
  FusionRecord evaluate(const Eigen::Ref<const Eigen::VectorXd>& delta, const std::string& source) {
    FusionRecord record = compute(delta);
    if (!record.reused) {
      record.source = source;
      ledger_->append(record);  // journals a wrong metric count as failed, then throws
    }
    return record;
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
