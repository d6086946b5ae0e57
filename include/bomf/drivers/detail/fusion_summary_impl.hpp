// bomf/drivers/detail/fusion_summary_impl.hpp — the fusion search's summary and its reports
// (included at the end of bomf/drivers/fusion_search.hpp; not a public header).
#pragma once

#include <cstdio>
#include <sstream>
#include <string>

#include "bomf/drivers/detail/points.hpp"

namespace bomf {

inline FusionSummary FusionSearch::summary() const {
  FusionSummary s;
  s.num_members = num_members_;
  s.objectives = objectives_;
  s.trace = trace_;
  for (const FusionIteration& row : trace_) {
    s.count(row);
    s.num_reused += row.reused ? 1 : 0;
  }
  s.termination = finished() ? SearchTermination::budget_reached : SearchTermination::in_progress;
  s.journal = ledger_->path();
  s.journal_torn_bytes = ledger_->journal().recovered_torn_bytes();
  if (normalization_) {
    s.anchor = normalization_->anchor();
    s.range = normalization_->range();
  }
  s.pareto_set = pareto_set();
  s.selection = options_.selection;
  if (!s.pareto_set.trace_indices.empty())
    s.result = result();
  s.warnings = warnings_;
  if (numerical_fallbacks_ > 0) {
    s.warnings.push_back(detail::concat(
        numerical_fallbacks_, " of this run's acquisition proposals ",
        numerical_fallbacks_ == 1 ? "was a quasi-random point" : "were quasi-random points",
        " (kind 'fallback') because qLogNEHVI failed numerically; the first error: ",
        first_fallback_reason_,
        ". A common cause is an evaluation whose values lie far beyond the others' (a diverged "
        "model): the GPs then model little but that outlier."));
  }
  return s;
}

inline std::string FusionSummary::brief_report() const {
  std::ostringstream out;
  out << std::setprecision(5);
  out << "BOMF fusion search: N = " << num_members << " members, objectives";
  for (int j = 0; j < objectives.size(); ++j) {
    out << (j == 0 ? " " : ", ") << objectives.name(j);
  }
  out << "; " << to_string(termination) << (message.empty() ? "" : " (" + message + ")") << "\n";
  int counts[5] = {0, 0, 0, 0, 0};
  for (const FusionIteration& row : trace) {
    ++counts[static_cast<int>(row.proposal)];
  }
  out << "  evaluations: " << num_evaluations << " (" << counts[0] << " members, " << counts[1]
      << " initial, " << counts[2] << " acquisition";
  if (counts[3] > 0)
    out << ", " << counts[3] << " fallback";
  if (counts[4] > 0)
    out << ", " << counts[4] << " external";
  out << "), " << num_failures << " failed, " << num_reused << " reused, " << num_replayed
      << " replayed from the journal\n";
  if (anchor.size() > 0) {
    out << "  reference point (natural units):";
    for (int j = 0; j < objectives.size(); ++j) {
      out << (j == 0 ? " " : ", ") << objectives.name(j) << " " << anchor(j);
    }
    out << "\n";
  }
  if (!trace.empty()) {
    const FusionIteration& last = trace.back();
    out << "  normalized hypervolume: " << last.hypervolume << "; best " << objectives.name(0)
        << " " << last.best_loss;
    for (int k = 0; k + 1 < objectives.size(); ++k) {
      out << ", best " << objectives.name(k + 1) << " " << last.best_metrics(k);
    }
    out << "\n";
  }
  out << "  Pareto set: " << pareto_set.trace_indices.size() << " points\n";
  if (result) {
    out << "  selected (" << selection.description()
        << ") δ = " << detail::format_vector(result->delta) << ": " << objectives.name(0) << " "
        << result->evaluation.loss;
    for (Eigen::Index k = 0; k < result->evaluation.metrics.size(); ++k) {
      out << ", " << objectives.name(static_cast<int>(k) + 1) << " "
          << result->evaluation.metrics(k);
    }
    out << "\n";
  }
  for (const std::string& w : warnings) {
    out << "  WARNING: " << w << "\n";
  }
  const int acquisition = std::max(1, counts[2]);
  out << "  time: " << total_seconds << " s in this call; evaluations " << evaluation_seconds
      << " s, GP fits " << fit_seconds << " s, acquisition " << acquisition_seconds
      << " s (per acquisition iteration: fit " << fit_seconds / acquisition << " s, acquisition "
      << acquisition_seconds / acquisition << " s)\n";
  return out.str();
}

inline std::string FusionSummary::full_report() const {
  std::string out = brief_report();
  out += "  row  proposal     status  hypervolume   fit[s]   acq[s]  eval[s]  ";
  out += objectives.name(0);
  for (int k = 1; k < objectives.size(); ++k) {
    out += "  " + objectives.name(k);
  }
  out += "  δ\n";
  for (const FusionIteration& row : trace) {
    char line[128];
    std::snprintf(line, sizeof line, "  %3d  %-11s  %-6s  %11.5g  %7.2f  %7.2f  %7.2f  ", row.index,
                  to_string(row.proposal), row.ok ? "ok" : "failed", row.hypervolume,
                  row.fit_seconds, row.acquisition_seconds, row.evaluation_seconds);
    out += line;
    out += detail::format_number(row.evaluation.loss);
    for (Eigen::Index k = 0; k < row.evaluation.metrics.size(); ++k) {
      out += "  " + detail::format_number(row.evaluation.metrics(k));
    }
    out += "  " + detail::format_vector(row.delta, 3);
    if (row.reused)
      out += "  (reused)";
    if (row.replayed)
      out += "  (replayed)";
    if (row.blind)
      out += "  (blind)";
    if (row.reference_moved)
      out += "  (reference point moved)";
    if (!row.ok)
      out += "  error: " + row.error;
    out += '\n';
  }
  return out;
}

}  // namespace bomf
