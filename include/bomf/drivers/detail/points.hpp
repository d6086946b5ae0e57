// bomf/drivers/detail/points.hpp — exact comparison of points (δ on the simplex, settings of a
// search space): the drivers match observations to suggestions and ledger records to requests by
// exact equality, never by a tolerance, so a point is evaluated at most once.
#pragma once

#include <Eigen/Core>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

namespace bomf::detail {

/// A point as a key for exact comparison (std::map / std::set).
inline std::vector<double> point_key(const Eigen::Ref<const Eigen::VectorXd>& x) {
  return std::vector<double>(x.data(), x.data() + x.size());
}

/// True when a and b have the same length and equal entries (+0 == −0).
inline bool same_point(const Eigen::Ref<const Eigen::VectorXd>& a,
                       const Eigen::Ref<const Eigen::VectorXd>& b) {
  return a.size() == b.size() && (a.array() == b.array()).all();
}

/// "[0.1, 0.2, 0.7]" with `precision` significant digits (for messages and reports).
inline std::string format_vector(const Eigen::Ref<const Eigen::VectorXd>& v, int precision = 4) {
  std::ostringstream out;
  out << std::setprecision(precision) << "[";
  for (Eigen::Index i = 0; i < v.size(); ++i) {
    out << (i == 0 ? "" : ", ") << v(i);
  }
  out << "]";
  return out.str();
}

}  // namespace bomf::detail
