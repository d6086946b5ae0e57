// bomf/gp/rbf_kernel.hpp — the squared-exponential (RBF) radial profile.
#pragma once

#include <cmath>

#include "bomf/math/simd.hpp"
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
  /// value_and_derivative lane-wise on a pack of squared distances (bomf/math/simd.hpp): `r2`
  /// becomes κ(r²) and `derivative` dκ/d(r²). The GP fit's kernel-matrix pass uses it; with
  /// bomf's pack exp it may differ from value_and_derivative in the last bit, and it is the same
  /// on every pack width.
  template <class V>
  __attribute__((always_inline)) static void value_and_derivative_packed(V& r2,
                                                                         V& derivative) noexcept {
    V e = -0.5 * r2;
    simd::exp_in_place(e);
    r2 = e;
    derivative = -0.5 * e;
  }
};

}  // namespace bomf
