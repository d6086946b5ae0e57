// bomf/drivers/trajectory_score.hpp — the objective of BOMF's first stage: a training run is
// scored by the best sum of its metrics along its trajectory (Jang et al., NeurIPS 2024, Eq. 5:
// the metric performance of the best-performing weights of the trajectory):
//
//   score(run)   = max over trajectory points p of  Σ_k c_k · s_k · metric_k(p),
//
// with s_k = +1 for a metric to maximize and −1 for one to minimize (so larger is always better)
// and c_k a per-metric scale (default 1: the paper's plain sum of the metrics, App. A.3; set c_k
// to weight a metric or to bring metrics of different units to one scale, e.g. 0.01 for a metric
// in percent next to one in [0, 1]). Points with a non-finite metric value (a diverged run) are
// skipped; ties go to the earliest point. The best point's step is B*, the anchor of the
// App. A.3 member window (member_selection.hpp).
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/drivers/objectives.hpp"
#include "bomf/drivers/training_problem.hpp"

namespace bomf {

/// The score of one trajectory (see the file comment).
struct TrajectoryScore {
  double score = std::numeric_limits<double>::quiet_NaN();  ///< best Σ c_k s_k metric_k
  std::ptrdiff_t best_point = -1;  ///< index of the best point; −1 when no point is finite
  long long best_step = -1;        ///< its step; −1 when no point is finite
  /// True when some point had all metrics finite.
  [[nodiscard]] bool ok() const noexcept { return best_point >= 0; }
};

/// Σ_k c_k s_k metrics(k) (s_k = −1 for Direction::minimize; c_k = scales[k], all 1 when `scales`
/// is empty); NaN when a metric is not finite. Sizes are the caller's responsibility (checked by
/// score_trajectory).
inline double normalized_metric_sum(const Eigen::Ref<const Eigen::VectorXd>& metrics,
                                    const std::vector<MetricSpec>& specs,
                                    const std::vector<double>& scales = {}) {
  double sum = 0.0;
  for (std::size_t k = 0; k < specs.size(); ++k) {
    const double v = metrics(static_cast<Eigen::Index>(k));
    if (!std::isfinite(v)) {
      return std::numeric_limits<double>::quiet_NaN();
    }
    const double sign = specs[k].direction == Direction::minimize ? -1.0 : 1.0;
    sum += (scales.empty() ? 1.0 : scales[k]) * sign * v;
  }
  return sum;
}

/// The best normalized metric sum along `trajectory` (earliest point on ties; points with a
/// non-finite metric skipped). \b Cost: O(points · K).
/// Throws bomf::invalid_argument when a point has other than K = metrics.size() values, or
/// `scales` is neither empty nor of length K.
inline TrajectoryScore score_trajectory(const TrainingTrajectory& trajectory,
                                        const std::vector<MetricSpec>& metrics,
                                        const std::vector<double>& scales = {}) {
  constexpr const char* where = "bomf::score_trajectory";
  detail::require(scales.empty() || scales.size() == metrics.size(), where,
                  "argument 'scales' has ", scales.size(), " entries, expected 0 or ",
                  metrics.size(), " (one per metric)");
  TrajectoryScore result;
  for (std::size_t i = 0; i < trajectory.points.size(); ++i) {
    const TrajectoryPoint& p = trajectory.points[i];
    detail::require(static_cast<std::size_t>(p.metrics.size()) == metrics.size(), where,
                    "trajectory point ", i, " (step ", p.step, ") has ", p.metrics.size(),
                    " metric values, expected ", metrics.size());
    const double s = normalized_metric_sum(p.metrics, metrics, scales);
    if (std::isfinite(s) && (!result.ok() || s > result.score)) {
      result.score = s;
      result.best_point = static_cast<std::ptrdiff_t>(i);
      result.best_step = p.step;
    }
  }
  return result;
}

}  // namespace bomf
