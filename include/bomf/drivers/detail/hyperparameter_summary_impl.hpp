// bomf/drivers/detail/hyperparameter_summary_impl.hpp — the stage-1 options' checks and the
// summary's reports (included at the end of bomf/drivers/hyperparameter_search.hpp; not a public
// header).
#pragma once

#include <cmath>
#include <cstdio>
#include <string>

#include "bomf/core/error.hpp"

namespace bomf {

inline std::string HyperparameterSearchOptions::validate() const {
  if (num_initial < 1)
    return detail::concat("num_initial is ", num_initial, ", expected >= 1");
  if (num_iterations < 0)
    return detail::concat("num_iterations is ", num_iterations, ", expected >= 0");
  if (max_failures < 0)
    return detail::concat("max_failures is ", max_failures, ", expected >= 0");
  for (std::size_t k = 0; k < metric_scales.size(); ++k) {
    if (!std::isfinite(metric_scales[k]) || !(metric_scales[k] > 0.0))
      return detail::concat("metric_scales[", k, "] is ", metric_scales[k],
                            ", expected finite and > 0");
  }
  std::string error = gp.validate();
  if (!error.empty())
    return "gp." + error;
  if (!gp.input_transform.is_identity())
    return "gp.input_transform is set, expected the identity (the GP sees the unit-cube "
           "encoding of the search space)";
  error = acquisition_optimizer.validate();
  if (!error.empty())
    return "acquisition_optimizer." + error;
  error = members.validate();
  if (!error.empty())
    return "members." + error;
  return {};
}

inline std::string HyperparameterSummary::brief_report() const {
  int counts[5] = {0, 0, 0, 0, 0};
  for (const HyperparameterIteration& it : trace) {
    ++counts[static_cast<int>(it.proposal)];
  }
  std::string best = "no successful run";
  if (best_index >= 0) {
    const HyperparameterIteration& b = trace[static_cast<std::size_t>(best_index)];
    best = detail::concat("best score ", detail::format_number(best_score), " at run ", best_index,
                          " [", b.hyperparameters.to_string(), "], step ", b.best_step);
  }
  std::string out =
      detail::concat("Hyperparameter search: ", num_evaluations, " runs (", counts[1], " initial, ",
                     counts[2], " LogEI, ", counts[3], " fallback, ", counts[4], " external; ",
                     num_failures, " failed, ", num_replayed, " replayed from the journal); ", best,
                     "; time: GP fit ", detail::format_number(fit_seconds), " s, acquisition ",
                     detail::format_number(acquisition_seconds), " s, training ",
                     detail::format_number(evaluation_seconds), " s; ", to_string(termination),
                     message.empty() ? "" : ": " + message);
  for (const std::string& w : warnings) {
    out += "\n  WARNING: " + w;
  }
  return out;
}

inline std::string HyperparameterSummary::full_report() const {
  std::string out = brief_report() + "\n";
  out += "  run  proposal     status     score       best   fit[s]  acq[s]  train[s]  setting\n";
  for (const HyperparameterIteration& it : trace) {
    char line[160];
    std::snprintf(line, sizeof line, "  %3d  %-11s  %-8s  %10.5g  %10.5g  %6.2f  %6.2f  %8.2f  ",
                  it.index, to_string(it.proposal), it.ok ? "ok" : "failed", it.score,
                  it.best_score, it.fit_seconds, it.acquisition_seconds, it.evaluation_seconds);
    out += line;
    out += it.hyperparameters.to_string();
    if (it.replayed)
      out += "  (replayed)";
    if (!it.ok)
      out += "  error: " + it.error;
    out += '\n';
  }
  return out;
}

}  // namespace bomf
