// bomf/gp/input_normalization.hpp — mapping user inputs to the unit cube.
#pragma once

#include <Eigen/Core>
#include <cmath>

#include "bomf/core/checks.hpp"

namespace bomf {

/// Affine input transform x ↦ (x − lower) ⊘ (upper − lower), mapping the user's box to [0, 1]^d
/// (BoTorch's `Normalize` with fixed bounds). Default-constructed it is the identity, for any d.
/// GP lengthscales are expressed in the transformed (unit-cube) units; gradients the GP reports
/// are in the original units (chain rule through the diagonal Jacobian 1 ⊘ (upper − lower)).
class InputNormalization {
 public:
  /// The identity transform.
  InputNormalization() = default;

  /// From `bounds`, a 2 × d matrix: row 0 the lower, row 1 the upper bounds (BoTorch's layout);
  /// requires finite bounds with lower < upper in every column, and widths upper − lower whose
  /// inverse is finite (no overflow to ∞, no width below ~5.6e-309).
  explicit InputNormalization(const Eigen::Ref<const Eigen::MatrixXd>& bounds) {
    constexpr const char* where = "bomf::InputNormalization";
    detail::require_shape(bounds, 2, -1, where, "bounds");
    detail::require(bounds.cols() >= 1, where, "argument 'bounds' has no columns");
    detail::require_finite(bounds, where, "bounds");
    for (Eigen::Index k = 0; k < bounds.cols(); ++k) {
      detail::require(bounds(1, k) > bounds(0, k), where, "argument 'bounds' column ", k,
                      " has lower ", bounds(0, k), " ≥ upper ", bounds(1, k));
      const double range = bounds(1, k) - bounds(0, k);
      detail::require(std::isfinite(range) && std::isfinite(1.0 / range), where,
                      "argument 'bounds' column ", k, " spans ", range, " (from ", bounds(0, k),
                      " to ", bounds(1, k), "), expected a width whose inverse is finite too");
    }
    lower_ = bounds.row(0).transpose();
    inv_range_ = (bounds.row(1) - bounds.row(0)).transpose().cwiseInverse();
  }

  /// True for the identity transform.
  bool is_identity() const noexcept { return lower_.size() == 0; }

  /// The input dimension d fixed by the bounds; 0 for the identity (any d).
  Eigen::Index dim() const noexcept { return lower_.size(); }

  /// Lower bounds (length d; 0s of length `dim` for the identity).
  Eigen::VectorXd lower(Eigen::Index dim) const {
    return is_identity() ? Eigen::VectorXd::Zero(dim) : lower_;
  }

  /// 1 ⊘ (upper − lower), the Jacobian's diagonal (length d; 1s for the identity).
  Eigen::VectorXd inverse_range(Eigen::Index dim) const {
    return is_identity() ? Eigen::VectorXd::Ones(dim) : inv_range_;
  }

  /// The transformed rows of `x` (n × d).
  Eigen::MatrixXd apply(const Eigen::Ref<const Eigen::MatrixXd>& x) const {
    if (is_identity())
      return x;
    return (x.rowwise() - lower_.transpose()).array().rowwise() * inv_range_.transpose().array();
  }

 private:
  Eigen::VectorXd lower_;
  Eigen::VectorXd inv_range_;
};

}  // namespace bomf
