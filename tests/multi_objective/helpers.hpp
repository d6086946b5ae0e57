// tests/multi_objective/helpers.hpp — random point sets and brute-force references shared by
// the multi-objective tests.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "bomf/multi_objective/box_decomposition.hpp"

namespace bomf::test {

/// `n × m` points uniform in [0, 1).
inline Eigen::MatrixXd uniform_points(int n, int m, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Eigen::MatrixXd Y(n, m);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < m; ++j) {
      Y(i, j) = u(rng);
    }
  }
  return Y;
}

/// `n × m` points on the positive part of the unit sphere (a concave front, all
/// non-dominated): normalized |gaussian| directions, as DTLZ2.
inline Eigen::MatrixXd sphere_points(int n, int m, std::mt19937_64& rng) {
  std::normal_distribution<double> g(0.0, 1.0);
  Eigen::MatrixXd Y(n, m);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < m; ++j) {
      Y(i, j) = std::abs(g(rng)) + 1e-9;
    }
    Y.row(i) /= Y.row(i).norm();
  }
  return Y;
}

/// Hypervolume by inclusion–exclusion over all subsets (n ≤ 16): Σ_S (−1)^{|S|+1} vol[r, min S].
inline double hypervolume_inclusion_exclusion(const Eigen::MatrixXd& Y, const Eigen::VectorXd& r) {
  const int n = static_cast<int>(Y.rows());
  const int m = static_cast<int>(r.size());
  double total = 0.0;
  for (std::uint32_t s = 1; s < (std::uint32_t{1} << n); ++s) {
    Eigen::VectorXd corner = Eigen::VectorXd::Constant(m, 1e300);
    int size = 0;
    for (int i = 0; i < n; ++i) {
      if (s & (std::uint32_t{1} << i)) {
        ++size;
        corner = corner.cwiseMin(Y.row(i).transpose());
      }
    }
    const double v = (corner - r).cwiseMax(0.0).prod();
    total += size % 2 == 1 ? v : -v;
  }
  return total;
}

/// True when z lies in the non-dominated region above r: z ≥ r and no row y of Y has y ≥ z.
inline bool non_dominated_above(const Eigen::MatrixXd& Y, const Eigen::VectorXd& r,
                                const Eigen::VectorXd& z) {
  if ((z.array() < r.array()).any()) {
    return false;
  }
  for (Eigen::Index i = 0; i < Y.rows(); ++i) {
    if ((Y.row(i).transpose().array() >= z.array()).all()) {
      return false;
    }
  }
  return true;
}

/// Number of boxes that contain z (closed boxes).
inline int containing_boxes(const Boxes& boxes, const Eigen::VectorXd& z) {
  int count = 0;
  for (Eigen::Index c = 0; c < boxes.size(); ++c) {
    if ((boxes.lower.row(c).transpose().array() <= z.array()).all() &&
        (z.array() <= boxes.upper.row(c).transpose().array()).all()) {
      ++count;
    }
  }
  return count;
}

/// The boxes as rows [lower, upper], sorted lexicographically (for set comparisons).
inline std::vector<std::vector<double>> sorted_boxes(const Boxes& boxes) {
  std::vector<std::vector<double>> rows;
  for (Eigen::Index c = 0; c < boxes.size(); ++c) {
    std::vector<double> row;
    for (Eigen::Index j = 0; j < boxes.lower.cols(); ++j) {
      row.push_back(boxes.lower(c, j));
    }
    for (Eigen::Index j = 0; j < boxes.upper.cols(); ++j) {
      row.push_back(boxes.upper(c, j));
    }
    rows.push_back(row);
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

}  // namespace bomf::test
