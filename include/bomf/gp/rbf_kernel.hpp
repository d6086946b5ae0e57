// bomf/gp/rbf_kernel.hpp — the squared-exponential (RBF) radial profile.
#pragma once

#include <cmath>

#include "bomf/math/value_and_derivative.hpp"

namespace bomf {

/// Squared-exponential kernel (Rasmussen & Williams 2006, eq. 4.9), as GPyTorch's `RBFKernel`:
/// κ(r²) = exp(−r²/2). Used with ARD lengthscales by ExactGP (see kernel_traits.hpp); without an
/// output scale it is the kernel of BoTorch's current default SingleTaskGP (Hvarfner et al.
/// 2024, "Vanilla Bayesian optimization performs great in high dimensions"). Cost: one exp.
struct RbfKernel {
  static constexpr const char* name = "RbfKernel";

  /// κ(r²) for the squared scaled distance r² ≥ 0; κ(0) = 1.
  static double value(double r2) noexcept { return std::exp(-0.5 * r2); }

  /// dκ/d(r²) = −κ(r²)/2.
  static double derivative(double r2) noexcept { return -0.5 * std::exp(-0.5 * r2); }
  /// {value(r2), derivative(r2)} with one exp.
  static ValueAndDerivative value_and_derivative(double r2) noexcept {
    const double e = std::exp(-0.5 * r2);
    return {e, -0.5 * e};
  }
};

}  // namespace bomf
