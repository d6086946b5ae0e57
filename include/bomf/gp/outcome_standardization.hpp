// bomf/gp/outcome_standardization.hpp — standardizing the training targets.
#pragma once

#include <Eigen/Core>
#include <cmath>

#include "bomf/core/checks.hpp"

namespace bomf {

/// Outcome transform y ↦ (y − mean) / std, as BoTorch's `Standardize(m=1)`: mean is the sample
/// mean and std the unbiased (n − 1) sample standard deviation; with one observation std = 1, and
/// a std below 1e-8 (constant outputs) is replaced by 1 (BoTorch's `min_stdv` rule: replaced, not
/// clamped). GP hyperparameters live in the standardized space; every posterior ExactGP returns is
/// un-standardized: mean ↦ mean·std + mean_y, covariance ↦ covariance·std².
struct OutcomeStandardization {
  double mean = 0.0;  ///< subtracted from y
  double std = 1.0;   ///< y is divided by it (> 0)

  /// No transform (mean 0, std 1): BoTorch's model without outcome transform.
  static OutcomeStandardization identity() { return {}; }

  /// The standardization of `y` (length n ≥ 1, finite) as BoTorch's Standardize computes it.
  static OutcomeStandardization fit(const Eigen::Ref<const Eigen::VectorXd>& y) {
    constexpr const char* where = "bomf::OutcomeStandardization::fit";
    detail::require(y.size() >= 1, where, "argument 'y' is empty, expected ≥ 1 observation");
    detail::require_finite(y, where, "y");
    OutcomeStandardization s;
    s.mean = y.mean();
    if (!std::isfinite(s.mean)) {  // the sum overflowed: average values scaled to at most 1
      const double m = y.cwiseAbs().maxCoeff();
      s.mean = m * (y / m).mean();
    }
    if (y.size() > 1) {
      const auto n1 = static_cast<double>(y.size() - 1);
      double sd = std::sqrt((y.array() - s.mean).square().sum() / n1);
      if (!std::isfinite(sd)) {  // a square overflowed: scale by the largest deviation
        const double m = (y.array() - s.mean).abs().maxCoeff();
        sd = m * std::sqrt(((y.array() - s.mean) / m).square().sum() / n1);
      }
      detail::require(std::isfinite(sd), where, "argument 'y' spreads too widely (from ",
                      y.minCoeff(), " to ", y.maxCoeff(), "): its standard deviation overflows");
      s.std = sd >= 1e-8 ? sd : 1.0;
    }
    return s;
  }

  /// (y − mean) / std.
  double transform(double y) const noexcept { return (y - mean) / std; }
};

}  // namespace bomf
