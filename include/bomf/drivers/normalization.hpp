// bomf/drivers/normalization.hpp — BOMF's min-max normalization of the loss and the metrics into
// maximized objectives with reference point 0.
//
// The loss and the K metrics live on different scales (a cross-entropy of 0.4, an accuracy of
// 0.91, a BLEU of 27), so the fusion search models and compares normalized objectives. The BOMF
// paper (Jang et al., NeurIPS 2024, App. A.3) min-max normalizes each one: "the lowest value of
// single model performance obtained after the convergence point in the trajectory collection of
// members, rounded to the nearest value, as the minimum. The maximum values were determined by
// adding 0.1 for metric and 1.0 for loss respectively to this minimum value", with the reference
// point at 0 (§4.3). Here each objective j (0 = the loss, 1 + k = metric k) has an anchor a_j (the
// paper's "minimum", natural units) and a range r_j > 0 (maximum − minimum), and its normalized,
// MAXIMIZED value is
//   y_j = s_j · (v_j − a_j) / r_j,     s_j = +1 if higher is better, −1 if lower is better
// (the loss always has s = −1). So y_j = 0 at the anchor — the reference point of the
// hypervolume is 0 in every objective — and y_j = 1 one range better than the anchor: a metric
// 0.1 above (an error rate 0.1 below) its anchor, a loss 1.0 below its anchor.
//
// Two readings of the anchor (`NormalizationAnchor`):
//  * worst_member (default, the paper's): a_j = the WORST member's value of objective j — the
//    "lowest performance": lowest accuracy, highest loss, highest error rate — moved outward to
//    the grid of `anchor_grid`·r_j (0.01 for a metric, 0.1 for the loss by default) strictly
//    beyond it ("rounded to the nearest value"; we round outward, never inward, so that every
//    member lies strictly inside the reference box). The reference point is then the members'
//    nadir, slightly relaxed, and every fused model that is at least as good as the worst
//    member in all objectives adds hypervolume: log-qNEHVI has a signal from the first
//    evaluation on.
//  * best_member: a_j = the BEST member's value of objective j (lowest loss, highest accuracy),
//    not rounded. The hypervolume then only counts fused models that beat the best member in
//    every objective AT ONCE. When the members disagree — the lowest-loss member is an early
//    checkpoint, the best-metric member a later one, exactly the loss/metric mismatch BOMF
//    exists for — no fused model may dominate that point: the hypervolume stays 0, the
//    acquisition has no signal, and the search degenerates to picking a member. Measured on an
//    imbalanced binary task (25 % positives, 15 members): hypervolume 0 for all 105
//    evaluations in 3 of 3 seeds, a single member returned in 2 of 3 (docs/flagship_results.md).
//    The fusion search reports such a blind search (FusionSearchOptions::blind_search).
// Anchors and ranges can be overridden per objective (used as given, never rounded).
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bomf/core/checks.hpp"
#include "bomf/core/error.hpp"
#include "bomf/drivers/fusion_problem.hpp"

namespace bomf {

/// Which member value anchors each objective (see the file comment).
enum class NormalizationAnchor {
  worst_member,  ///< the worst member's value, rounded outward (the paper's; default).
  best_member,   ///< the best member's value (reference point = the best member).
};

/// Name of an anchor rule ("worst_member", "best_member").
inline const char* to_string(NormalizationAnchor a) {
  return a == NormalizationAnchor::best_member ? "best_member" : "worst_member";
}

namespace detail {

/// The grid value strictly beyond `v` on the worse side (below for a maximized objective, above
/// for a minimized one) that is closest to v, on the grid of spacing `step` > 0. When 1/step is
/// within 1e-9 of an integer (0.01, 0.1, …) the grid values are computed as k / (1/step), so that
/// an anchor prints as 0.87 rather than 0.8700000000000001. A value too large for the grid
/// (|v / step| ≥ 2^52, where consecutive grid values are no longer distinct doubles) is
/// returned unchanged.
inline double round_outward(double v, double step, bool higher_is_better) {
  if (!(std::abs(v / step) < 4503599627370496.0))
    return v;
  const double inverse = 1.0 / step;
  const double whole = std::round(inverse);
  const bool exact = std::abs(inverse - whole) <= 1e-9 * whole;
  const auto at = [&](double k) { return exact ? k / whole : k * step; };
  double k = higher_is_better ? std::floor(v / step) : std::ceil(v / step);
  // Strictly beyond v, whatever the rounding of v / step.
  while (higher_is_better ? at(k) >= v : at(k) <= v)
    k += higher_is_better ? -1.0 : 1.0;
  while (higher_is_better ? at(k + 1.0) < v : at(k - 1.0) > v)
    k += higher_is_better ? 1.0 : -1.0;
  return at(k);
}

}  // namespace detail

/// Settings of the normalization. Objective index 0 is the loss, 1 + k metric k.
struct NormalizationOptions {
  /// How anchors are taken from the member values.
  NormalizationAnchor anchor = NormalizationAnchor::worst_member;
  /// worst_member only: anchors move outward to the grid of spacing anchor_grid · range
  /// (0.01 for a metric and 0.1 for the loss with the default ranges), strictly beyond the
  /// worst member; 0 = no rounding. In [0, 1].
  double anchor_grid = 0.1;
  /// Range of every metric (the paper: maximum = minimum + 0.1); from kMinRange to
  /// kFusionValueLimit.
  double metric_range = 0.1;
  /// Range of the loss (the paper: maximum = minimum + 1.0); from kMinRange to
  /// kFusionValueLimit.
  double loss_range = 1.0;
  /// The smallest range override.
  static constexpr double kMinRange = 1e-12;
  /// Per-objective anchors in natural units that replace the member-derived ones: empty, or
  /// 1 + K entries (std::nullopt = not overridden), each within ±kFusionValueLimit.
  std::vector<std::optional<double>> anchor_overrides;
  /// Per-objective ranges that replace metric_range / loss_range: empty, or 1 + K entries, each
  /// from kMinRange to kFusionValueLimit.
  std::vector<std::optional<double>> range_overrides;

  /// Empty when valid for `num_objectives` = 1 + K objectives, else the first problem found.
  [[nodiscard]] std::string validate(int num_objectives) const {
    if (!(metric_range >= kMinRange && metric_range <= kFusionValueLimit))
      return detail::concat("metric_range is ", detail::format_number(metric_range),
                            ", expected a value from ", detail::format_number(kMinRange), " to ",
                            detail::format_number(kFusionValueLimit));
    if (!(loss_range >= kMinRange && loss_range <= kFusionValueLimit))
      return detail::concat("loss_range is ", detail::format_number(loss_range),
                            ", expected a value from ", detail::format_number(kMinRange), " to ",
                            detail::format_number(kFusionValueLimit));
    if (!(anchor_grid >= 0.0 && anchor_grid <= 1.0))
      return detail::concat("anchor_grid is ", anchor_grid,
                            ", expected a value in [0, 1] (a fraction of the range; 0 = no "
                            "rounding)");
    for (const auto* list : {&anchor_overrides, &range_overrides}) {
      const char* name = list == &anchor_overrides ? "anchor_overrides" : "range_overrides";
      if (!list->empty() && static_cast<int>(list->size()) != num_objectives)
        return detail::concat(name, " has ", list->size(), " entries, expected 0 or ",
                              num_objectives, " (the loss and one per metric)");
      for (std::size_t j = 0; j < list->size(); ++j) {
        const auto& v = (*list)[j];
        if (!v)
          continue;
        if (list == &anchor_overrides && !(std::abs(*v) <= kFusionValueLimit))
          return detail::concat(name, "[", j, "] is ", detail::format_number(*v),
                                ", expected a finite value within ±",
                                detail::format_number(kFusionValueLimit));
        if (list == &range_overrides && !(*v >= kMinRange && *v <= kFusionValueLimit))
          return detail::concat(name, "[", j, "] is ", detail::format_number(*v),
                                ", expected a value from ", detail::format_number(kMinRange),
                                " to ", detail::format_number(kFusionValueLimit));
      }
    }
    return {};
  }

  /// The settings as JSON (for the fusion search's settings record).
  [[nodiscard]] nlohmann::json to_json() const {
    const auto list = [](const std::vector<std::optional<double>>& values) {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& v : values) {
        a.push_back(v ? nlohmann::json(*v) : nlohmann::json(nullptr));
      }
      return a;
    };
    return {{"anchor", to_string(anchor)},
            {"anchor_grid", anchor_grid},
            {"metric_range", metric_range},
            {"loss_range", loss_range},
            {"anchor_overrides", list(anchor_overrides)},
            {"range_overrides", list(range_overrides)}};
  }

  /// True when every objective's anchor is overridden (member values are then not needed).
  [[nodiscard]] bool all_anchors_overridden(int num_objectives) const {
    if (static_cast<int>(anchor_overrides.size()) != num_objectives)
      return false;
    for (const auto& a : anchor_overrides) {
      if (!a)
        return false;
    }
    return true;
  }
};

/// The natural objective vector (loss, metric 0, …, metric K−1) of an evaluation.
inline Eigen::VectorXd natural_values(const FusionEvaluation& evaluation) {
  Eigen::VectorXd v(1 + evaluation.metrics.size());
  v(0) = evaluation.loss;
  v.tail(evaluation.metrics.size()) = evaluation.metrics;
  return v;
}

/// The affine map natural → normalized maximized objectives of the file comment.
class Normalization {
 public:
  /// From explicit anchors and ranges (length 1 + K each; anchors finite, ranges finite > 0).
  /// Throws bomf::invalid_argument otherwise.
  Normalization(const FusionObjectives& objectives, Eigen::VectorXd anchor, Eigen::VectorXd range)
      : anchor_(std::move(anchor)), range_(std::move(range)), sign_(objectives.size()) {
    constexpr const char* where = "bomf::Normalization";
    const int m = objectives.size();
    detail::require_shape(anchor_, m, 1, where, "anchor");
    detail::require_shape(range_, m, 1, where, "range");
    detail::require_finite(anchor_, where, "anchor");
    for (int j = 0; j < m; ++j) {
      detail::require(std::isfinite(range_(j)) && range_(j) > 0.0, where, "range of objective '",
                      objectives.name(j), "' is ", range_(j), ", expected a finite value > 0");
      sign_(j) = objectives.direction(j) == Direction::minimize ? -1.0 : 1.0;
    }
  }

  /// The paper's normalization from member values `member_values` (N × (1 + K), natural units,
  /// rows = members; a row with a non-finite entry — a failed member — is ignored for every
  /// objective) and `options`. Throws bomf::invalid_argument for invalid options, a wrong
  /// column count, or an objective without override and without any finite member value.
  static Normalization from_members(const FusionObjectives& objectives,
                                    const Eigen::Ref<const Eigen::MatrixXd>& member_values,
                                    const NormalizationOptions& options = {}) {
    constexpr const char* where = "bomf::Normalization::from_members";
    const int m = objectives.size();
    const std::string error = options.validate(m);
    detail::require(error.empty(), where, "invalid options: ", error);
    detail::require(member_values.cols() == m, where, "argument 'member_values' has ",
                    member_values.cols(), " columns, expected ", m,
                    " (the loss and one per metric)");
    Eigen::VectorXd anchor(m);
    Eigen::VectorXd range(m);
    for (int j = 0; j < m; ++j) {
      const bool higher_better = objectives.direction(j) == Direction::maximize;
      range(j) = j == 0 ? options.loss_range : options.metric_range;
      if (!options.range_overrides.empty() && options.range_overrides[static_cast<std::size_t>(j)])
        range(j) = *options.range_overrides[static_cast<std::size_t>(j)];
      if (!options.anchor_overrides.empty() &&
          options.anchor_overrides[static_cast<std::size_t>(j)]) {
        anchor(j) = *options.anchor_overrides[static_cast<std::size_t>(j)];
        continue;
      }
      // best member: highest if higher is better; worst member: the opposite.
      const bool take_max = (options.anchor == NormalizationAnchor::best_member) == higher_better;
      bool found = false;
      double a = 0.0;
      for (Eigen::Index i = 0; i < member_values.rows(); ++i) {
        if (!member_values.row(i).allFinite())
          continue;
        const double v = member_values(i, j);
        if (!found || (take_max ? v > a : v < a))
          a = v;
        found = true;
      }
      detail::require(found, where, "no member has finite values, so objective '",
                      objectives.name(j),
                      "' has no anchor (override it in NormalizationOptions::anchor_overrides)");
      if (options.anchor == NormalizationAnchor::worst_member && options.anchor_grid > 0.0)
        a = detail::round_outward(a, options.anchor_grid * range(j), higher_better);
      anchor(j) = a;
    }
    return Normalization(objectives, anchor, range);
  }

  /// Normalization from anchor overrides only (every objective's anchor must be overridden).
  static Normalization from_overrides(const FusionObjectives& objectives,
                                      const NormalizationOptions& options) {
    detail::require(options.all_anchors_overridden(objectives.size()),
                    "bomf::Normalization::from_overrides",
                    "every objective needs an anchor override (NormalizationOptions::"
                    "anchor_overrides with ",
                    objectives.size(), " set entries)");
    return from_members(objectives, Eigen::MatrixXd(0, objectives.size()), options);
  }

  /// Number of objectives 1 + K.
  [[nodiscard]] Eigen::Index size() const { return anchor_.size(); }
  /// Anchors a (natural units; the reference point's natural values).
  [[nodiscard]] const Eigen::VectorXd& anchor() const { return anchor_; }
  /// Ranges r (> 0).
  [[nodiscard]] const Eigen::VectorXd& range() const { return range_; }
  /// Signs s (+1 higher is better, −1 lower is better).
  [[nodiscard]] const Eigen::VectorXd& sign() const { return sign_; }
  /// The reference point in normalized space: 0 (length 1 + K).
  [[nodiscard]] Eigen::VectorXd reference_point() const { return Eigen::VectorXd::Zero(size()); }

  /// y = s ⊙ (v − a) / r for a natural vector v (length 1 + K). Non-finite entries stay
  /// non-finite. \b Cost: O(K).
  [[nodiscard]] Eigen::VectorXd normalize(const Eigen::Ref<const Eigen::VectorXd>& natural) const {
    detail::require_shape(natural, size(), 1, "bomf::Normalization::normalize", "natural");
    return (sign_.array() * (natural - anchor_).array() / range_.array()).matrix();
  }
  /// Normalized objectives of an evaluation (its metrics must have K entries).
  [[nodiscard]] Eigen::VectorXd normalize(const FusionEvaluation& evaluation) const {
    return normalize(natural_values(evaluation));
  }
  /// Row-wise normalize of an n × (1 + K) matrix.
  [[nodiscard]] Eigen::MatrixXd normalize_rows(const Eigen::Ref<const Eigen::MatrixXd>& v) const {
    detail::require_shape(v, -1, size(), "bomf::Normalization::normalize_rows", "v");
    Eigen::MatrixXd out(v.rows(), v.cols());
    for (Eigen::Index i = 0; i < v.rows(); ++i) {
      out.row(i) = normalize(v.row(i).transpose()).transpose();
    }
    return out;
  }
  /// The inverse map: natural v = a + r ⊙ y / s.
  [[nodiscard]] Eigen::VectorXd to_natural(const Eigen::Ref<const Eigen::VectorXd>& y) const {
    detail::require_shape(y, size(), 1, "bomf::Normalization::to_natural", "y");
    return (anchor_.array() + range_.array() * y.array() / sign_.array()).matrix();
  }

 private:
  Eigen::VectorXd anchor_;
  Eigen::VectorXd range_;
  Eigen::VectorXd sign_;
};

}  // namespace bomf
