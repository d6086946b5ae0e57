// bomf/drivers/objectives.hpp — what the drivers optimize: named metrics with a direction, and
// the objectives of a fusion problem (the validation loss plus K ≥ 1 metrics).
//
// Both BOMF stages speak this vocabulary: stage 1 (hyperparameter_search.hpp) scores training
// runs by their metrics, stage 2 (fusion_search.hpp) optimizes the loss and the metrics of fused
// models jointly. Objective index 0 is the loss, index 1 + k metric k, in every objective vector
// and matrix the drivers return.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "bomf/core/error.hpp"

namespace bomf {

/// Whether larger or smaller values of a metric are better.
enum class Direction { maximize, minimize };

/// "maximize" or "minimize".
inline const char* to_string(Direction d) {
  return d == Direction::maximize ? "maximize" : "minimize";
}

/// The direction named `name` ("maximize" or "minimize"). Throws bomf::invalid_argument
/// (prefixed by `where`) for any other text.
inline Direction direction_from_string(const std::string& name, const char* where) {
  if (name == "maximize")
    return Direction::maximize;
  detail::require(name == "minimize", where, "direction '", name,
                  "' is not known, expected \"maximize\" or \"minimize\"");
  return Direction::minimize;
}

/// A metric of the model (accuracy, macro-F1, BLEU, an error rate, …).
struct MetricSpec {
  std::string name;                           ///< non-empty, unique within the problem.
  Direction direction = Direction::maximize;  ///< higher is better by default.
};

/// Throws bomf::invalid_argument (prefixed by `where`) unless there is at least one metric and
/// all names are non-empty and distinct.
inline void validate_metric_specs(const std::vector<MetricSpec>& metrics, const char* where) {
  detail::require(!metrics.empty(), where, "the problem declares no metric, expected at least one");
  std::set<std::string> seen;
  for (std::size_t k = 0; k < metrics.size(); ++k) {
    detail::require(!metrics[k].name.empty(), where, "metric ", k, " has an empty name");
    detail::require(seen.insert(metrics[k].name).second, where, "metric name '", metrics[k].name,
                    "' appears twice, expected distinct names");
  }
}

/// The objectives of a fusion problem: the validation loss (always minimized) and K ≥ 1 metrics.
/// Objective index 0 is the loss, index 1 + k metric k (the column order of every objective
/// matrix the drivers return).
struct FusionObjectives {
  std::string loss_name = "loss";
  std::vector<MetricSpec> metrics;

  /// Number of objectives, 1 + K.
  [[nodiscard]] int size() const { return 1 + static_cast<int>(metrics.size()); }
  /// Number of metrics K.
  [[nodiscard]] int num_metrics() const { return static_cast<int>(metrics.size()); }
  /// Name of objective j (0 = the loss).
  [[nodiscard]] const std::string& name(int j) const {
    return j == 0 ? loss_name : metrics.at(static_cast<std::size_t>(j - 1)).name;
  }
  /// Direction of objective j (the loss is minimized).
  [[nodiscard]] Direction direction(int j) const {
    return j == 0 ? Direction::minimize : metrics.at(static_cast<std::size_t>(j - 1)).direction;
  }
  /// The metric names, comma-separated (for messages).
  [[nodiscard]] std::string metric_names() const {
    std::string names;
    for (const MetricSpec& s : metrics) {
      names += (names.empty() ? "" : ", ") + s.name;
    }
    return names;
  }

  /// Throws bomf::invalid_argument (prefixed by `where`) unless there is at least one metric and
  /// all names (the loss's included) are non-empty and distinct.
  void validate(const char* where) const {
    detail::require(!metrics.empty(), where,
                    "the problem declares no metric, expected at least one besides the loss");
    std::set<std::string> seen;
    for (int j = 0; j < size(); ++j) {
      const std::string& n = name(j);
      detail::require(!n.empty(), where, "objective ", j, " has an empty name");
      detail::require(seen.insert(n).second, where, "objective name '", n,
                      "' appears twice, expected distinct names");
    }
  }
};

}  // namespace bomf
