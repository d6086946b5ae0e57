// bomf/multi_objective/hypervolume_improvement.hpp — exact hypervolume improvement of one
// new point, or of a batch of q new points, over an existing point set.
//
// HVI(P | Y) = HV(Y ∪ P) − HV(Y), maximization, reference point r. Bad input (non-finite
// entries, lengths that disagree with `ref_point`) throws `bomf::invalid_argument`; an empty
// `Y` is allowed (then HVI(P | ∅) = HV(P)).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "bomf/core/checks.hpp"
#include "bomf/core/error.hpp"
#include "bomf/multi_objective/box_decomposition.hpp"
#include "bomf/multi_objective/hypervolume.hpp"

namespace bomf {

namespace detail {

/// Exclusive volume of the box (0, p] (p > 0, length m) with respect to the positive points
/// `pts` (`n × m`, row-major, origin = reference): Π p_j − HV({min(p, y) : y ∈ pts}).
inline double exclusive_volume_positive(const double* p, const std::vector<double>& pts, int n,
                                        int m, HypervolumeWorkspace& ws,
                                        std::vector<double>& limit) {
  double box = 1.0;
  for (int j = 0; j < m; ++j) {
    box *= p[j];
  }
  if (!(box > 0.0)) {
    return 0.0;
  }
  limit.resize(static_cast<std::size_t>(n) * static_cast<std::size_t>(m));
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < m; ++j) {
      const std::size_t at = flat(i, m, j);
      limit[at] = std::min(p[j], pts[at]);
    }
  }
  return box - wfg_positive(limit.data(), n, m, ws);
}

}  // namespace detail

/// Exact hypervolume improvement HV(Y ∪ {point}) − HV(Y) of one point (length m) over the rows
/// of `Y` (`n × m`) with reference point `ref_point` (length m): the volume of the box
/// [r, point] minus the hypervolume of the limit set {min(point, y)} (the exclusive
/// contribution of WFG, While et al. 2012). Zero when `point` is not strictly better than r.
/// Cost: one hypervolume of n points in m dimensions (`hypervolume`).
inline double hypervolume_improvement(const Eigen::Ref<const Eigen::MatrixXd>& Y,
                                      const Eigen::Ref<const Eigen::VectorXd>& ref_point,
                                      const Eigen::Ref<const Eigen::VectorXd>& point) {
  const char* where = "bomf::hypervolume_improvement";
  const auto pts = detail::shift_to_reference(Y, ref_point, where);
  detail::require(point.size() == ref_point.size(), where, "argument 'point' has length ",
                  point.size(), ", expected ", ref_point.size());
  detail::require_finite(point, where, "point");
  std::vector<double> p(static_cast<std::size_t>(pts.m));
  for (int j = 0; j < pts.m; ++j) {
    p[static_cast<std::size_t>(j)] = point(j) - ref_point(j);
    if (!(point(j) > ref_point(j))) {
      return 0.0;
    }
  }
  detail::HypervolumeWorkspace ws;
  std::vector<double> limit;
  return detail::exclusive_volume_positive(p.data(), pts.data, pts.n, pts.m, ws, limit);
}

/// Exact joint hypervolume improvement HV(Y ∪ X_new) − HV(Y) of a batch of q points (the rows
/// of `X_new`, `q × m`) by the inclusion–exclusion principle, as qEHVI/qNEHVI write it
/// (Daulton, Balandat & Bakshy, "Differentiable expected hypervolume improvement for
/// parallel multi-objective Bayesian optimization", NeurIPS 2020):
///   HVI(X_new) = Σ_{∅≠S⊆{1..q}} (−1)^{|S|+1} HVI(min_{i∈S} x_i),
/// where min is componentwise. Cost: 2^q − 1 single-point improvements; q ≤ 20 is required.
inline double batch_hypervolume_improvement(const Eigen::Ref<const Eigen::MatrixXd>& Y,
                                            const Eigen::Ref<const Eigen::VectorXd>& ref_point,
                                            const Eigen::Ref<const Eigen::MatrixXd>& X_new) {
  const char* where = "bomf::batch_hypervolume_improvement";
  const auto pts = detail::shift_to_reference(Y, ref_point, where);
  const int m = pts.m;
  detail::require(X_new.rows() == 0 || X_new.cols() == m, where, "argument 'X_new' has ",
                  X_new.cols(), " columns, expected ", m, " (one per objective)");
  detail::require(X_new.rows() <= 20, where, "argument 'X_new' has ", X_new.rows(),
                  " rows, expected at most 20 (inclusion-exclusion costs 2^q terms)");
  detail::require_finite(X_new, where, "X_new");
  const int q = static_cast<int>(X_new.rows());
  detail::HypervolumeWorkspace ws;
  std::vector<double> limit;
  std::vector<double> corner(static_cast<std::size_t>(m));
  double total = 0.0;
  for (std::uint32_t subset = 1; subset < (std::uint32_t{1} << q); ++subset) {
    std::fill(corner.begin(), corner.end(), std::numeric_limits<double>::infinity());
    int size = 0;
    for (int i = 0; i < q; ++i) {
      if (subset & (std::uint32_t{1} << i)) {
        ++size;
        for (int j = 0; j < m; ++j) {
          corner[static_cast<std::size_t>(j)] =
              std::min(corner[static_cast<std::size_t>(j)], X_new(i, j) - ref_point(j));
        }
      }
    }
    bool positive = true;
    for (const double c : corner) {
      positive = positive && c > 0.0;
    }
    if (!positive) {
      continue;
    }
    const double term =
        detail::exclusive_volume_positive(corner.data(), pts.data, pts.n, m, ws, limit);
    total += (size % 2 == 1) ? term : -term;
  }
  return total;
}

/// Hypervolume improvement of `point` (length m) computed from a partition of the
/// non-dominated region (`cells`, e.g. `non_dominated_partitioning(Y, r).cells()` or
/// `FastNondominatedPartitioning::cells()`): Σ_cells Π_j max(0, min(point_j, upper_j) −
/// lower_j), the form qNEHVI evaluates per Monte-Carlo sample. Exact when the cells partition
/// the non-dominated region above r. O(k·m) for k cells.
inline double hypervolume_improvement(const Boxes& cells,
                                      const Eigen::Ref<const Eigen::VectorXd>& point) {
  const Eigen::Index m = cells.lower.cols();
  detail::require(point.size() == m, "bomf::hypervolume_improvement",
                  "argument 'point' has length ", point.size(), ", expected ", m,
                  " (the dimension of the cells)");
  detail::require_finite(point, "bomf::hypervolume_improvement", "point");
  double total = 0.0;
  for (Eigen::Index c = 0; c < cells.size(); ++c) {
    double v = 1.0;
    for (Eigen::Index j = 0; j < m && v > 0.0; ++j) {
      v *= std::max(std::min(point(j), cells.upper(c, j)) - cells.lower(c, j), 0.0);
    }
    total += v;
  }
  return total;
}

}  // namespace bomf
