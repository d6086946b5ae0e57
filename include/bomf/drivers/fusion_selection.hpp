// bomf/drivers/fusion_selection.hpp — how the fusion search chooses the δ it returns from the δs
// it evaluated.
//
// The paper's goal is the fused model with the best sum of normalized metrics (Jang et al.,
// NeurIPS 2024, Eq. 1; Algorithm 1 line 10 applies the same sum to stage 1). For stage 2,
// Algorithm 1 line 30 writes δ* = argmax_δ EHVI(δ; L, r), which read literally is the
// acquisition's maximizer after the last iteration — a δ nobody has evaluated. This library
// always returns an evaluated δ:
//  * best_metric_sum — the largest OBSERVED Σ_k normalized metric k among the evaluated Pareto
//    set: the paper's objective applied to the evaluations, what the paper's code prints as its
//    result ("best metric"). After ~100 evaluations on a validation set of a few hundred to a few
//    thousand examples, the largest observed value partly selects validation noise.
//  * posterior_metric_sum — the evaluated δ with the largest GP posterior mean of Σ_k normalized
//    metric k: the surrogate averages neighbouring evaluations (the GPs learn the observation
//    noise), so one lucky evaluation does not win. One extra GP fit when selecting.
//  * lowest_loss, best_metric (one metric), weighted_sum (user weights over the normalized
//    objectives, loss first) — on the evaluated Pareto set.
// docs/flagship_results.md compares the rules on held-out data.
#pragma once

#include <Eigen/Core>
#include <string>

#include "bomf/core/error.hpp"

namespace bomf {

/// How the returned δ is chosen from the evaluated points (see the file comment).
enum class FusionSelectionRule {
  best_metric_sum,       ///< largest observed Σ_k normalized metric k, on the Pareto set.
  posterior_metric_sum,  ///< largest posterior-mean Σ_k normalized metric k, over every
                         ///< successful evaluation.
  lowest_loss,           ///< lowest validation loss.
  best_metric,           ///< best value of one metric (`FusionSelection::metric`).
  weighted_sum,          ///< largest Σ_j w_j y_j over the normalized objectives (loss first).
};

/// "best_metric_sum", "posterior_metric_sum", "lowest_loss", "best_metric", "weighted_sum".
inline const char* to_string(FusionSelectionRule r) {
  switch (r) {
    case FusionSelectionRule::best_metric_sum:
      return "best_metric_sum";
    case FusionSelectionRule::posterior_metric_sum:
      return "posterior_metric_sum";
    case FusionSelectionRule::lowest_loss:
      return "lowest_loss";
    case FusionSelectionRule::best_metric:
      return "best_metric";
    case FusionSelectionRule::weighted_sum:
      return "weighted_sum";
  }
  return "unknown";
}

/// The rule named `name` (as to_string writes it). Throws bomf::invalid_argument (prefixed by
/// `where`) for any other text.
inline FusionSelectionRule selection_rule_from_string(const std::string& name, const char* where) {
  for (const FusionSelectionRule r :
       {FusionSelectionRule::best_metric_sum, FusionSelectionRule::posterior_metric_sum,
        FusionSelectionRule::lowest_loss, FusionSelectionRule::best_metric,
        FusionSelectionRule::weighted_sum}) {
    if (name == to_string(r))
      return r;
  }
  detail::throw_invalid_argument(where, "selection rule '", name,
                                 "' is not known, expected best_metric_sum, "
                                 "posterior_metric_sum, lowest_loss, best_metric or weighted_sum");
}

/// The selection rule and its parameters. Ties go to the lower loss, then to the earlier point.
/// The model-based rule needs at least 2 successful evaluations in the GP data; with fewer it
/// falls back to best_metric_sum.
struct FusionSelection {
  FusionSelectionRule rule = FusionSelectionRule::best_metric_sum;
  int metric = 0;           ///< best_metric: the metric index k (0 ≤ k < K).
  Eigen::VectorXd weights;  ///< weighted_sum: 1 + K finite weights ≥ 0, not all 0 (loss first).

  /// Empty when valid for K = `num_metrics` metrics, else the problem.
  [[nodiscard]] std::string validate(int num_metrics) const {
    if (rule == FusionSelectionRule::best_metric && (metric < 0 || metric >= num_metrics))
      return detail::concat("metric is ", metric, ", expected an index in [0, ", num_metrics, ")");
    if (rule == FusionSelectionRule::weighted_sum) {
      if (weights.size() != 1 + num_metrics)
        return detail::concat("weights has ", weights.size(), " entries, expected ",
                              1 + num_metrics, " (the loss, then one per metric)");
      if (!weights.allFinite() || (weights.array() < 0.0).any() || !(weights.sum() > 0.0))
        return "weights must be finite, >= 0 and not all 0";
    }
    return {};
  }

  /// A sentence for reports: "best observed sum of normalized metrics", ….
  [[nodiscard]] const char* description() const {
    switch (rule) {
      case FusionSelectionRule::best_metric_sum:
        return "best observed sum of normalized metrics";
      case FusionSelectionRule::posterior_metric_sum:
        return "best posterior-mean sum of normalized metrics";
      case FusionSelectionRule::lowest_loss:
        return "lowest loss";
      case FusionSelectionRule::best_metric:
        return "best single metric";
      case FusionSelectionRule::weighted_sum:
        return "weighted sum of normalized objectives";
    }
    return "unknown";
  }
};

}  // namespace bomf
