// bomf/gp/gp_hyperparameters.hpp — the hyperparameters of an exact GP.
#pragma once

#include <Eigen/Core>
#include <cmath>

#include "bomf/core/checks.hpp"

namespace bomf {

/// Hyperparameters of `ExactGP`, in the spaces BoTorch's `model` blocks use: lengthscales in
/// unit-cube input units (after input normalization), output scale, noise variance and mean
/// constant in the standardized outcome space. A kernel "without output scale" has s = 1.
struct GpHyperparameters {
  Eigen::VectorXd lengthscales;  ///< ℓ, length d, each > 0
  double outputscale = 1.0;      ///< s > 0: k(x, x) = s · κ(0)
  double noise = 1e-4;           ///< σ² ≥ 0 (homoskedastic Gaussian likelihood)
  double mean_constant = 0.0;    ///< c: the constant prior mean

  /// Throws bomf::invalid_argument (prefixed by `where`) unless there are `dim` finite positive
  /// lengthscales, s is positive and finite, σ² ≥ 0 finite and c finite.
  void validate(Eigen::Index dim, const char* where) const {
    detail::require(lengthscales.size() == dim, where, "hyperparameters have ", lengthscales.size(),
                    " lengthscales, expected ", dim, " (one per input)");
    for (Eigen::Index k = 0; k < lengthscales.size(); ++k) {
      detail::require(std::isfinite(lengthscales(k)) && lengthscales(k) > 0.0, where,
                      "lengthscale ", k, " is ", lengthscales(k), ", expected positive and finite");
    }
    detail::require(std::isfinite(outputscale) && outputscale > 0.0, where, "outputscale is ",
                    outputscale, ", expected positive and finite");
    detail::require(std::isfinite(noise) && noise >= 0.0, where, "noise is ", noise,
                    ", expected ≥ 0 and finite");
    detail::require(std::isfinite(mean_constant), where, "mean_constant is ", mean_constant,
                    ", expected finite");
  }
};

}  // namespace bomf
