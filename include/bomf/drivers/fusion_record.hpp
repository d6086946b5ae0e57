// bomf/drivers/fusion_record.hpp — one completed evaluation of a fused model as the ledger, the
// journal, the fusion search and the baselines all see it, and the one place that decides what
// such a record says.
//
// Journal record (one JSON line of a fusion journal, see fusion_ledger.hpp):
//   {"kind": "evaluation", "delta": [...], "status": "ok" | "failed", "loss": x | null,
//    "metrics": [...], "error": "...", "seconds": t, "source": "search" | "baseline:<method>" |
//    <user tag>, "proposal": "member" | "initial" | "acquisition" | "fallback" | "external",
//    "reused": false, "fit_seconds": f, "acquisition_seconds": a}
// plus the journal's own "seq" and "crc". "reused": true marks a record that copies an earlier
// one's values (the fusion search journals every point it consumes, also one an earlier method
// evaluated). Any other status is refused when the journal is read.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "bomf/core/error.hpp"
#include "bomf/drivers/detail/json_values.hpp"
#include "bomf/drivers/fusion_problem.hpp"
#include "bomf/drivers/search_trace.hpp"

namespace bomf {

/// One completed evaluation (a ledger/journal record).
struct FusionRecord {
  Eigen::VectorXd delta;  ///< the coefficients (length N).
  bool ok = false;        ///< false: the evaluation threw, or returned non-finite values or values
                          ///< beyond ±kFusionValueLimit.
  /// Natural values. A failed record may hold non-finite values, or, for an evaluation that broke
  /// the metric count ("contract violation: …"), the values it returned, of the wrong count.
  FusionEvaluation evaluation;
  std::string error;     ///< why it failed ("" when ok).
  double seconds = 0.0;  ///< wall time of the evaluation.
  /// Who asked for it: FusionRecord::search_source for the fusion search, "baseline:<method>"
  /// for a baseline, or a user tag.
  std::string source;
  /// Search records: where δ came from (a member, the initial design, the acquisition, …).
  ProposalKind proposal = ProposalKind::external;
  bool reused = false;               ///< a copy of an earlier record with the same δ.
  double fit_seconds = 0.0;          ///< search records: GP fitting spent on proposing δ.
  double acquisition_seconds = 0.0;  ///< search records: acquisition optimization for δ.

  /// The `source` of every record of the fusion search.
  static constexpr const char* search_source = "search";
};

/// The result of a fusion method (BOMF or a baseline): one δ and its evaluation.
struct FusionResult {
  std::string method;           ///< "BOMF", "best member", "SWA", "Greedy SWA", "Learned SWA", …
  Eigen::VectorXd delta;        ///< the chosen coefficients (length N, on the simplex).
  FusionEvaluation evaluation;  ///< its validation loss and metrics (natural units).
  int evaluations = 0;          ///< evaluations the method used (shared ones included).
  int new_evaluations = 0;      ///< of which it computed itself (not found in the ledger).
  double seconds = 0.0;         ///< wall time of the method, its evaluations included.
};

namespace detail {

/// "" when `evaluation` has one metric value per declared metric, else what is wrong.
inline std::string metric_count_error(const FusionEvaluation& evaluation,
                                      const FusionObjectives& objectives) {
  if (evaluation.metrics.size() == objectives.num_metrics())
    return {};
  return concat("the evaluation returned ", evaluation.metrics.size(), " metric values, expected ",
                objectives.num_metrics(), " (one per metric: ", objectives.metric_names(), ")");
}

/// The reason an evaluation with the right shape is unusable, or "" when all values are finite
/// and within ±kFusionValueLimit.
inline std::string unusable_value_reason(const FusionEvaluation& evaluation,
                                         const FusionObjectives& objectives) {
  const auto check = [](double v, const std::string& what) -> std::string {
    if (!std::isfinite(v))
      return concat("non-finite ", what, " ", v);
    if (std::abs(v) > kFusionValueLimit) {
      // 6 digits, or all 17 where 6 would print the limit itself (1.0000000000000002e15).
      std::string shown = format_number(v);
      if (!(std::abs(std::stod(shown)) > kFusionValueLimit))
        shown = format_number(v, 17);
      return concat(what, " ", shown, " is beyond ±", format_number(kFusionValueLimit),
                    " (a diverged model?); such values would overflow the normalization");
    }
    return {};
  };
  std::string reason = check(evaluation.loss, objectives.loss_name);
  for (Eigen::Index k = 0; reason.empty() && k < evaluation.metrics.size(); ++k)
    reason = check(evaluation.metrics(k),
                   concat("metric '", objectives.name(static_cast<int>(k) + 1), "'"));
  return reason;
}

/// Makes `record` say what the journal must say — THE place where a record's status is decided:
///  * an ok record with the wrong number of metric values breaks FusionProblem's contract (a bug
///    in the caller's code), but what it returned was paid for: it becomes a failed record that
///    keeps the values, with the error "contract violation: …"; the returned violation (else "")
///    is what the journaling caller throws (`throw_metric_count_violation`) AFTER appending it;
///  * an ok record with a non-finite value, or one beyond ±kFusionValueLimit, becomes a failed
///    one naming the value (it keeps the values);
///  * a failed record without a reason gets one.
inline std::string canonicalize_record(FusionRecord& record, const FusionObjectives& objectives) {
  if (!record.ok) {
    if (record.error.empty())
      record.error = "failed (no reason given)";
    return {};
  }
  const std::string violation = metric_count_error(record.evaluation, objectives);
  if (!violation.empty()) {
    record.ok = false;
    record.error = concat("contract violation: ", violation);
    return violation;
  }
  record.error = unusable_value_reason(record.evaluation, objectives);
  record.ok = record.error.empty();
  return {};
}

/// The record as searches and summaries read it: a failed record's metrics padded to K NaN
/// values when their count is wrong (a contract violation keeps the values it returned in the
/// journal).
inline FusionRecord record_view(FusionRecord record, const FusionObjectives& objectives) {
  if (!record.ok && record.evaluation.metrics.size() != objectives.num_metrics()) {
    record.evaluation.metrics = Eigen::VectorXd::Constant(objectives.num_metrics(),
                                                          std::numeric_limits<double>::quiet_NaN());
  }
  return record;
}

/// Throws bomf::invalid_argument for a metric-count violation `error` whose record is journaled.
[[noreturn]] inline void throw_metric_count_violation(const char* where, const std::string& error) {
  throw_invalid_argument(where, error,
                         "; the evaluation is journaled as failed with the values it returned "
                         "(fix FusionProblem::evaluate, then resume)");
}

/// The journal record of `r` (see the file comment).
inline nlohmann::json record_to_json(const FusionRecord& r) {
  return {{"kind", "evaluation"},
          {"delta", json_from_vector(r.delta)},
          {"status", r.ok ? "ok" : "failed"},
          {"loss", json_number(r.evaluation.loss)},
          {"metrics", json_from_vector(r.evaluation.metrics)},
          {"error", r.error},
          {"seconds", r.seconds},
          {"source", r.source},
          {"proposal", to_string(r.proposal)},
          {"reused", r.reused},
          {"fit_seconds", r.fit_seconds},
          {"acquisition_seconds", r.acquisition_seconds}};
}

/// The record read back from journal line `line` (an "evaluation" record) of a problem with N
/// members and K metrics. Throws bomf::io_error naming the line and the field for anything
/// malformed: a missing field, a wrong type or length, a status other than "ok" / "failed", an
/// unknown proposal kind, an ok record with non-finite values. An ok record with a value beyond
/// ±kFusionValueLimit (journals written before that limit) is read as a failed one.
inline FusionRecord record_from_json(const nlohmann::json& j, int num_members, int num_metrics,
                                     const std::string& where, std::size_t line) {
  const RecordReader in(where, line, j);
  FusionRecord r;
  r.delta = in.vector(in.field("delta"), "delta", num_members);
  const std::string status = in.string(in.field("status"), "status");
  if (status != "ok" && status != "failed")
    in.fail(concat("'status' is \"", status, "\", expected \"ok\" or \"failed\""));
  r.ok = status == "ok";
  r.evaluation.loss = in.number(in.field("loss"), "loss");
  r.evaluation.metrics = in.vector(in.field("metrics"), "metrics", r.ok ? num_metrics : -1);
  if (r.ok && !(std::isfinite(r.evaluation.loss) && r.evaluation.metrics.allFinite()))
    in.fail("an ok record has a non-finite value");
  r.error = in.string(in.field("error"), "error");
  if (r.ok && (std::abs(r.evaluation.loss) > kFusionValueLimit ||
               (r.evaluation.metrics.size() > 0 &&
                r.evaluation.metrics.cwiseAbs().maxCoeff() > kFusionValueLimit))) {
    // Written before values beyond the limit were recorded as failed: read as such (as
    // canonicalize_record would have recorded it), so that the journal stays usable.
    r.ok = false;
    r.error = concat("a value is beyond ±", format_number(kFusionValueLimit),
                     " (a diverged model?); such values would overflow the normalization");
  }
  r.seconds = in.number(in.field("seconds"), "seconds");
  r.source = in.string(in.field("source"), "source");
  try {
    r.proposal = proposal_kind_from_string(in.string(in.field("proposal"), "proposal"), "proposal");
  } catch (const invalid_argument& e) {
    in.fail(e.what());
  }
  r.reused = in.boolean(in.field("reused"), "reused");
  r.fit_seconds = in.number(in.field("fit_seconds"), "fit_seconds");
  r.acquisition_seconds = in.number(in.field("acquisition_seconds"), "acquisition_seconds");
  return r;
}

}  // namespace detail

}  // namespace bomf
