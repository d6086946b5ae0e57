// bomf/math/smooth_approximations.hpp — smooth, fat-tailed approximations of ReLU, max and min
// and the step function, each with its derivative(s): the building blocks of BoTorch's
// qLogNEHVI with `fat=True` (Ament et al. 2023, "Unexpected Improvements to Expected
// Improvement", NeurIPS, section 4.2 and appendix A). Formulas and constants follow BoTorch 0.11's
// `botorch/utils/safe_math.py` exactly (fatplus, log_fatplus, log_softplus, fatmax, fatmin,
// fatmaximum, fatminimum, smooth_amax, smooth_amin, fatmoid, log_fatmoid), so that the
// acquisition values match BoTorch to rounding.
#pragma once

#include <Eigen/Core>
#include <cmath>

#include "bomf/core/error.hpp"
#include "bomf/math/safe_math.hpp"
#include "bomf/math/value_and_derivative.hpp"

namespace bomf {

/// BoTorch's default temperature of the qLogEI-family ReLU approximation (`TAU_RELU`).
constexpr double default_tau_relu = 1e-6;
/// BoTorch's default temperature of the max approximation of qLogNEHVI (`tau_max = 1e-3`).
constexpr double default_tau_max_nehvi = 1e-3;

/// The Lorentzian 1/(1 + x²) (an unnormalized Cauchy density) and its derivative −2x/(1 + x²)².
inline ValueAndDerivative cauchy_with_derivative(double x) noexcept {
  const double c = 1.0 / (1.0 + x * x);
  return {c, -2.0 * x * c * c};
}

/// 1/(1 + x²) (see cauchy_with_derivative).
inline double cauchy(double x) noexcept {
  return 1.0 / (1.0 + x * x);
}

/// BoTorch's `_pareto(t, alpha)` for t ≥ 0: p(t) = (β₀/(β₀ + β₁t + t²))^a with a = α/2,
/// β₁ = 2a, β₀ = a·β₁, so that p(0) = 1, p′(0) = −1, p″(0) = 1 and p(t) = O(t^−α); with its
/// derivative p′(t) = −a·p(t)·(β₁ + 2t)/(β₀ + β₁t + t²). The kernel of fatmax. t < 0 is not
/// checked (hot path).
inline ValueAndDerivative pareto_with_derivative(double t, double alpha = 2.0) noexcept {
  const double a = 0.5 * alpha;
  const double beta1 = 2.0 * a;
  const double beta0 = a * beta1;
  const double denominator = beta0 + beta1 * t + t * t;
  const double ratio = beta0 / denominator;
  const double p = a == 1.0 ? ratio : std::pow(ratio, a);
  return {p, -a * p * (beta1 + 2.0 * t) / denominator};
}

/// fatplus(x) = τ·(softplus(x/τ) + 0.1·cauchy(x/τ)), BoTorch's fat-tailed approximation of
/// ReLU(x) = max(x, 0): monotone, convex, and decaying like 0.1·τ³/x² (not exponentially) as
/// x → −∞, so its logarithm and gradient stay informative far from the active region. softplus is
/// PyTorch's (threshold 20). Derivative: softplus′(x/τ) + 0.1·cauchy′(x/τ). τ > 0 not checked.
inline ValueAndDerivative fatplus_with_derivative(double x, double tau = 1.0) noexcept {
  constexpr double alpha = 0.1;  // BoTorch's coefficient: keeps fatplus monotone and convex
  const double u = x / tau;
  const ValueAndDerivative s = softplus_with_derivative(u);
  const ValueAndDerivative c = cauchy_with_derivative(u);
  return {tau * (s.value + alpha * c.value), s.derivative + alpha * c.derivative};
}

/// Fat-tailed softplus (see fatplus_with_derivative).
inline double fatplus(double x, double tau = 1.0) noexcept {
  return fatplus_with_derivative(x, tau).value;
}

/// log fatplus(x, τ), BoTorch's `log_fatplus` (the smoothed log improvement of qLogNEHVI with
/// `fat=True`, τ = tau_relu = 1e-6), and its derivative fatplus′/fatplus. Finite for
/// |x/τ| < 1.3e154 (beyond, x² overflows and the value is −∞ for x < 0).
inline ValueAndDerivative log_fatplus_with_derivative(double x, double tau = 1.0) noexcept {
  const ValueAndDerivative f = fatplus_with_derivative(x, tau);
  return {std::log(f.value), f.derivative / f.value};
}

/// log fatplus(x, τ) (see log_fatplus_with_derivative).
inline double log_fatplus(double x, double tau = 1.0) noexcept {
  return log_fatplus_with_derivative(x, tau).value;
}

/// log softplus with temperature τ, BoTorch's `log_softplus` in double precision (the `fat=False`
/// variant of log_fatplus): log(τ·log1p(exp(x/τ))) (PyTorch softplus with β = 1/τ, threshold 32)
/// when x/τ > −35, and the asymptote x/τ + log τ below. Derivative: softplus′/softplus, or 1/τ.
inline ValueAndDerivative log_softplus_with_derivative(double x, double tau = 1.0) noexcept {
  const double u = x / tau;
  if (u > -35.0) {
    const ValueAndDerivative s = softplus_with_derivative(x, 1.0 / tau, 32.0);
    return {std::log(s.value), s.derivative / s.value};
  }
  return {u + std::log(tau), 1.0 / tau};
}

/// log softplus with temperature τ (see log_softplus_with_derivative).
inline double log_softplus(double x, double tau = 1.0) noexcept {
  return log_softplus_with_derivative(x, tau).value;
}

namespace detail {

/// fatmax of y = sign·x (sign = ±1) with BoTorch's `_inf_max_helper`; writes ∂fatmax/∂y_i
/// when `gradient` is non-null (which is also ∂(sign·fatmax(sign·x))/∂x_i, so fatmin needs no
/// negated copy).
inline double fatmax_impl(const VectorView& x, double tau, double alpha,
                          MutableVectorView* gradient, double sign = 1.0) {
  const Eigen::Index n = x.size();
  double m = sign * x(0);
  for (Eigen::Index i = 1; i < n; ++i) {
    const double y = sign * x(i);
    m = y > m ? y : m;
  }
  if (std::isinf(m)) {
    double sum = 0.0;
    for (Eigen::Index i = 0; i < n; ++i) {
      const double y = sign * x(i);
      const bool is_max = y == m;
      sum += is_max ? y : 0.0;
      if (gradient != nullptr) {
        (*gradient)(i) = is_max ? 1.0 : 0.0;
      }
    }
    return sum;
  }
  double s = 0.0;
  double ds = 0.0;  // Σ p′(t_i)
  int ties = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    const double y = sign * x(i);
    const ValueAndDerivative p = pareto_with_derivative(-(y - m) / tau, alpha);
    s += p.value;
    ds += p.derivative;
    ties += y == m ? 1 : 0;
    if (gradient != nullptr) {
      (*gradient)(i) = p.derivative;  // finished below
    }
  }
  if (gradient != nullptr) {
    // value = M + τ·log Σ p((M − y_i)/τ): the direct part is −p′(t_i)/S; the part through M,
    // 1 + Σ p′/S, is shared evenly by the entries equal to M (as torch's amax backward).
    const double through_max = (1.0 + ds / s) / ties;
    for (Eigen::Index i = 0; i < n; ++i) {
      (*gradient)(i) = -(*gradient)(i) / s + (sign * x(i) == m ? through_max : 0.0);
    }
  }
  return m + tau * std::log(s);
}

inline void require_fatmax_arguments(const char* where, Eigen::Index n, double tau,
                                     const MutableVectorView* gradient) {
  detail::require(n > 0, where, "argument 'x' is empty, expected n ≥ 1");
  detail::require(tau > 0.0, where, "argument 'tau' is ", tau, ", expected τ > 0");
  if (gradient != nullptr) {
    detail::require(gradient->size() == n, where, "argument 'gradient' has length ",
                    gradient->size(), ", expected ", n, " (the length of x)");
  }
}

}  // namespace detail

/// fatmax(x) = M + τ·log Σ_i p((M − x_i)/τ) with M = max_i x_i and p = pareto (α), BoTorch's
/// fat-tailed smooth approximation of max_i x_i (≥ max, within τ·log n of it). The power-law
/// tail of p keeps the gradient of non-maximal entries O(((M − x_i)/τ)^−α−1) instead of
/// exponentially small. ±∞ as logsumexp: if M is ±∞ the value is the sum of the entries equal
/// to M. Cost: n pareto evaluations, one log; no allocation.
/// \throws bomf::invalid_argument when x is empty or τ ≤ 0.
inline double fatmax(const VectorView& x, double tau = 1.0, double alpha = 2.0) {
  detail::require_fatmax_arguments("bomf::fatmax", x.size(), tau, nullptr);
  return detail::fatmax_impl(x, tau, alpha, nullptr);
}

/// fatmax(x) (see above); also writes ∂fatmax/∂x_i into `gradient` (x's length). The gradient
/// entries are positive and sum to 1. At ties for the maximum, the part of the gradient that
/// flows through M is shared evenly among the tied entries, as torch's autograd does.
/// \throws bomf::invalid_argument when x is empty, τ ≤ 0, or the lengths differ.
inline double fatmax(const VectorView& x, MutableVectorView gradient, double tau = 1.0,
                     double alpha = 2.0) {
  detail::require_fatmax_arguments("bomf::fatmax", x.size(), tau, &gradient);
  return detail::fatmax_impl(x, tau, alpha, &gradient);
}

/// fatmin(x) = −fatmax(−x), the fat-tailed smooth approximation of min_i x_i (≤ min). Used by
/// qLogNEHVI (τ = tau_max = 1e-3) for the component-wise minimum over a subset of candidates
/// and for the cell-length clamp. No allocation.
/// \throws bomf::invalid_argument when x is empty or τ ≤ 0.
inline double fatmin(const VectorView& x, double tau = 1.0, double alpha = 2.0) {
  detail::require_fatmax_arguments("bomf::fatmin", x.size(), tau, nullptr);
  return -detail::fatmax_impl(x, tau, alpha, nullptr, -1.0);
}

/// fatmin(x); also writes ∂fatmin/∂x_i (positive, summing to 1) into `gradient`.
/// \throws bomf::invalid_argument when x is empty, τ ≤ 0, or the lengths differ.
inline double fatmin(const VectorView& x, MutableVectorView gradient, double tau = 1.0,
                     double alpha = 2.0) {
  detail::require_fatmax_arguments("bomf::fatmin", x.size(), tau, &gradient);
  return -detail::fatmax_impl(x, tau, alpha, &gradient, -1.0);
}

/// fatmax over the pair (a, b), BoTorch's `fatmaximum` (which always uses α = 2, whatever its
/// `alpha` argument), with its partials. τ > 0 not checked. The same arithmetic as `fatmax` on
/// the vector (a, b) — bit-identical results, ties and infinities included — written out for two
/// scalars because qLogNEHVI calls it in its innermost loop.
inline ValueAndPartials fatmaximum_with_partials(double a, double b, double tau = 1.0) noexcept {
  const double m = b > a ? b : a;
  const bool a_is_max = a == m;
  const bool b_is_max = b == m;
  if (std::isinf(m)) {
    return {(a_is_max ? a : 0.0) + (b_is_max ? b : 0.0), a_is_max ? 1.0 : 0.0,
            b_is_max ? 1.0 : 0.0};
  }
  const ValueAndDerivative pa = pareto_with_derivative(-(a - m) / tau, 2.0);
  const ValueAndDerivative pb = pareto_with_derivative(-(b - m) / tau, 2.0);
  const double s = pa.value + pb.value;
  const double through_max =
      (1.0 + (pa.derivative + pb.derivative) / s) / ((a_is_max ? 1 : 0) + (b_is_max ? 1 : 0));
  return {m + tau * std::log(s), -pa.derivative / s + (a_is_max ? through_max : 0.0),
          -pb.derivative / s + (b_is_max ? through_max : 0.0)};
}

/// Fat-tailed smooth max(a, b) (see fatmaximum_with_partials).
inline double fatmaximum(double a, double b, double tau = 1.0) noexcept {
  return fatmaximum_with_partials(a, b, tau).value;
}

/// fatminimum(a, b) = −fatmaximum(−a, −b), BoTorch's `fatminimum`, with its partials.
inline ValueAndPartials fatminimum_with_partials(double a, double b, double tau = 1.0) noexcept {
  const ValueAndPartials r = fatmaximum_with_partials(-a, -b, tau);
  return {-r.value, r.d_a, r.d_b};
}

/// Fat-tailed smooth min(a, b) (see fatminimum_with_partials).
inline double fatminimum(double a, double b, double tau = 1.0) noexcept {
  return fatminimum_with_partials(a, b, tau).value;
}

/// smooth_amax(x) = τ·logsumexp(x/τ), BoTorch's `smooth_amax` (the `fat=False` max of the
/// qLogEI family; ≥ max, within τ·log n of it). Cost: n exp; no allocation.
/// \throws bomf::invalid_argument when x is empty or τ ≤ 0.
inline double smooth_amax(const VectorView& x, double tau = 1.0) {
  detail::require_fatmax_arguments("bomf::smooth_amax", x.size(), tau, nullptr);
  return tau * detail::logsumexp_impl(x, nullptr, 1.0 / tau);
}

/// smooth_amax(x); also writes the gradient softmax(x/τ) into `gradient` (x's length).
/// \throws bomf::invalid_argument when x is empty, τ ≤ 0, or the lengths differ.
inline double smooth_amax(const VectorView& x, MutableVectorView gradient, double tau = 1.0) {
  detail::require_fatmax_arguments("bomf::smooth_amax", x.size(), tau, &gradient);
  return tau * detail::logsumexp_impl(x, &gradient, 1.0 / tau);
}

/// smooth_amin(x) = −smooth_amax(−x), BoTorch's `smooth_amin` (≤ min).
/// \throws bomf::invalid_argument when x is empty or τ ≤ 0.
inline double smooth_amin(const VectorView& x, double tau = 1.0) {
  detail::require_fatmax_arguments("bomf::smooth_amin", x.size(), tau, nullptr);
  return -tau * detail::logsumexp_impl(x, nullptr, -1.0 / tau);
}

/// smooth_amin(x); also writes the gradient softmax(−x/τ) into `gradient` (x's length).
/// \throws bomf::invalid_argument when x is empty, τ ≤ 0, or the lengths differ.
inline double smooth_amin(const VectorView& x, MutableVectorView gradient, double tau = 1.0) {
  detail::require_fatmax_arguments("bomf::smooth_amin", x.size(), tau, &gradient);
  return -tau * detail::logsumexp_impl(x, &gradient, -1.0 / tau);
}

/// fatmoid(x) with temperature τ, BoTorch's fat-tailed, twice continuously differentiable
/// approximation of the Heaviside step (used for constraint feasibility with `fat=True`): with
/// u = x/τ and m = 1/√3, 2/3·cauchy(u − m) for u < 0 and 1 − 2/3·cauchy(u + m) otherwise;
/// O(1/x²) as x → −∞. Derivative: 2/3·cauchy′(u ∓ m)·(±1)/τ.
inline ValueAndDerivative fatmoid_with_derivative(double x, double tau = 1.0) noexcept {
  constexpr double inflection = 0.57735026918962576451;  // 1/√3
  const double u = x / tau;
  if (u < 0.0) {
    const ValueAndDerivative c = cauchy_with_derivative(u - inflection);
    return {2.0 / 3.0 * c.value, 2.0 / 3.0 * c.derivative / tau};
  }
  const ValueAndDerivative c = cauchy_with_derivative(u + inflection);
  return {1.0 - 2.0 / 3.0 * c.value, -2.0 / 3.0 * c.derivative / tau};
}

/// fatmoid(x, τ) (see fatmoid_with_derivative).
inline double fatmoid(double x, double tau = 1.0) noexcept {
  return fatmoid_with_derivative(x, tau).value;
}

/// log fatmoid(x, τ), BoTorch's `log_fatmoid`, with derivative fatmoid′/fatmoid.
inline ValueAndDerivative log_fatmoid_with_derivative(double x, double tau = 1.0) noexcept {
  const ValueAndDerivative f = fatmoid_with_derivative(x, tau);
  return {std::log(f.value), f.derivative / f.value};
}

/// log fatmoid(x, τ) (see log_fatmoid_with_derivative).
inline double log_fatmoid(double x, double tau = 1.0) noexcept {
  return log_fatmoid_with_derivative(x, tau).value;
}

}  // namespace bomf
