// bomf/gp/matern52_kernel.hpp — the Matérn-5/2 radial profile.
#pragma once

#include <cmath>

#include "bomf/math/simd.hpp"
#include "bomf/math/value_and_derivative.hpp"

namespace bomf {

/// Matérn kernel with smoothness ν = 5/2 (Rasmussen & Williams 2006, eq. 4.17), as GPyTorch's
/// `MaternKernel(nu=2.5)`:  κ(r²) = (1 + √5 r + 5/3 r²) · exp(−√5 r),  r = √(r²).
/// Used with ARD lengthscales and an output scale by ExactGP (see kernel_traits.hpp); with an
/// output scale it is BoTorch ≤ 0.11's default SingleTaskGP kernel. Cost: one sqrt, one exp.
struct Matern52Kernel {
  /// Beyond this scaled distance exp(−r) underflows to 0, so κ and its derivative are 0; they
  /// are returned as such, also for r² = ∞ (where the polynomial factor would make ∞ · 0 = NaN).
  static constexpr double kZeroBeyond = 746.0;

  static constexpr const char* name = "Matern52Kernel";

  /// κ(r²) for the squared scaled distance r² ≥ 0; κ(0) = 1.
  static double value(double r2) noexcept {
    const double r = std::sqrt(5.0 * r2);
    if (r > kZeroBeyond)
      return 0.0;
    return (1.0 + r + r * r / 3.0) * std::exp(-r);
  }

  /// dκ/d(r²) = −5/6 · (1 + √5 r) · exp(−√5 r); equals −5/6 at r = 0.
  static double derivative(double r2) noexcept {
    const double r = std::sqrt(5.0 * r2);
    if (r > kZeroBeyond)
      return 0.0;
    return -(5.0 / 6.0) * (1.0 + r) * std::exp(-r);
  }
  /// {value(r2), derivative(r2)} with one sqrt and one exp.
  static ValueAndDerivative value_and_derivative(double r2) noexcept {
    const double r = std::sqrt(5.0 * r2);
    if (r > kZeroBeyond)
      return {0.0, 0.0};
    const double e = std::exp(-r);
    return {(1.0 + r + r * r / 3.0) * e, -(5.0 / 6.0) * (1.0 + r) * e};
  }
  /// value_and_derivative lane-wise on a pack of squared distances (bomf/math/simd.hpp): `r2`
  /// becomes κ(r²) and `derivative` dκ/d(r²). The GP fit's kernel-matrix pass uses it; with
  /// bomf's pack exp it may differ from value_and_derivative in the last bit, and it is the same
  /// on every pack width.
  template <class V>
  __attribute__((always_inline)) static void value_and_derivative_packed(V& r2,
                                                                         V& derivative) noexcept {
    V r = 5.0 * r2;
    simd::sqrt_in_place(r);
    V e = -r;
    simd::exp_in_place(e);
    const auto beyond = r > kZeroBeyond;
    const V value = (1.0 + r + r * r / 3.0) * e;
    const V slope = -(5.0 / 6.0) * (1.0 + r) * e;
    r2 = beyond ? V{} : value;
    derivative = beyond ? V{} : slope;
  }
};

}  // namespace bomf
