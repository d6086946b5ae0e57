// bomf/math/safe_math.hpp — log-space arithmetic that neither overflows nor loses the tails:
// log1mexp, log1pexp (softplus), logexpit, logplusexp, logdiffexp, logsumexp and logmeanexp,
// each with its derivative(s). The semantics, including those at ±∞, follow BoTorch 0.11's
// `botorch/utils/safe_math.py`, so that acquisition values built from them match BoTorch.
#pragma once

#include <Eigen/Core>
#include <cmath>

#include "bomf/core/error.hpp"
#include "bomf/math/value_and_derivative.hpp"

namespace bomf {

/// A read-only view of a vector of doubles with any inner stride (a contiguous vector, a
/// segment, or a row or column of a matrix), so the reductions below never copy or allocate.
using VectorView = Eigen::Ref<const Eigen::VectorXd, 0, Eigen::InnerStride<>>;
/// A writable view of a vector of doubles with any inner stride (see VectorView).
using MutableVectorView = Eigen::Ref<Eigen::VectorXd, 0, Eigen::InnerStride<>>;

/// log(1 − exp(x)) for x ≤ 0, accurate for every such x (Mächler 2012, "Accurately computing
/// log(1 − exp(−|a|))"): log(−expm1(x)) for x > −log 2, log1p(−exp(x)) otherwise.
/// Derivative: −1/expm1(−x), which is −∞ at x = 0. log1mexp(0) = −∞, log1mexp(−∞) = 0;
/// x > 0 (outside the domain) gives NaN, like std::log of a negative number.
inline ValueAndDerivative log1mexp_with_derivative(double x) noexcept {
  constexpr double neg_log_2 = -0.69314718055994530942;
  const double value = x > neg_log_2 ? std::log(-std::expm1(x)) : std::log1p(-std::exp(x));
  // −1/expm1(−x) would give +∞ at x = 0 from the sign of zero; the limit from below is −∞.
  return {value, x == 0.0 ? -HUGE_VAL : -1.0 / std::expm1(-x)};
}

/// log(1 − exp(x)) for x ≤ 0 (see log1mexp_with_derivative).
inline double log1mexp(double x) noexcept {
  return log1mexp_with_derivative(x).value;
}

/// log(1 + exp(x)) = softplus(x), accurate for every x (Mächler 2012, as BoTorch):
/// log1p(exp(x)) for x ≤ 18, x + exp(−x) above. Derivative: the logistic sigmoid 1/(1 + e^{−x}).
inline ValueAndDerivative log1pexp_with_derivative(double x) noexcept {
  const double value = x <= 18.0 ? std::log1p(std::exp(x)) : x + std::exp(-x);
  return {value, 1.0 / (1.0 + std::exp(-x))};
}

/// log(1 + exp(x)), accurate for every x (see log1pexp_with_derivative).
inline double log1pexp(double x) noexcept {
  return log1pexp_with_derivative(x).value;
}

/// log σ(x) = −log1pexp(−x), the log of the logistic sigmoid; derivative σ(−x) = 1 − σ(x).
inline ValueAndDerivative logexpit_with_derivative(double x) noexcept {
  const ValueAndDerivative r = log1pexp_with_derivative(-x);
  return {-r.value, r.derivative};
}

/// log σ(x) (see logexpit_with_derivative).
inline double logexpit(double x) noexcept {
  return logexpit_with_derivative(x).value;
}

/// PyTorch's `softplus(x, beta, threshold)` (used by BoTorch's `fatplus` and `log_softplus`):
/// log1p(exp(β·x))/β, and exactly x where β·x > threshold. Derivative σ(β·x), and 1 above the
/// threshold (as torch's backward). β > 0 is not checked (hot path). Below β·x = −746 exp(β·x)
/// is exactly 0 and so are both results: they are returned without calling exp, whose underflow
/// path (errno) is slow — qLogNEHVI's fatplus with τ = 1e-6 lands there for most cells.
inline ValueAndDerivative softplus_with_derivative(double x, double beta = 1.0,
                                                   double threshold = 20.0) noexcept {
  const double bx = x * beta;
  if (bx > threshold) {
    return {x, 1.0};
  }
  if (bx < -746.0) {
    return {0.0 / beta, 0.0};
  }
  const double e = std::exp(bx);
  return {std::log1p(e) / beta, e / (e + 1.0)};
}

/// PyTorch's `softplus(x, beta, threshold)` (see softplus_with_derivative).
inline double softplus(double x, double beta = 1.0, double threshold = 20.0) noexcept {
  return softplus_with_derivative(x, beta, threshold).value;
}

/// log(exp(a) + exp(b)) = max + log(1 + exp(min − max)), with the partials
/// ∂/∂a = exp(a − value), ∂/∂b = exp(b − value). As BoTorch's `logsumexp` over the pair: if the
/// larger argument is ±∞ the value is the sum of the arguments equal to it (so −∞ when both are
/// −∞), with partial 1 for each of those arguments and 0 for the other.
inline ValueAndPartials logplusexp_with_partials(double a, double b) noexcept {
  const double m = a > b ? a : b;
  if (std::isinf(m)) {
    const bool a_is_max = a == m;
    const bool b_is_max = b == m;
    return {(a_is_max ? a : 0.0) + (b_is_max ? b : 0.0), a_is_max ? 1.0 : 0.0,
            b_is_max ? 1.0 : 0.0};
  }
  const double ea = std::exp(a - m);
  const double eb = std::exp(b - m);
  const double value = m + std::log(ea + eb);
  return {value, std::exp(a - value), std::exp(b - value)};
}

/// log(exp(a) + exp(b)) (see logplusexp_with_partials).
inline double logplusexp(double a, double b) noexcept {
  return logplusexp_with_partials(a, b).value;
}

/// log(b − a) from log_a = log a and log_b = log b, assuming b ≥ a ≥ 0 (BoTorch's `logdiffexp`):
/// log_b + log1mexp(log_a − log_b). Partials: ∂/∂log_a = L′, ∂/∂log_b = 1 − L′ with
/// L′ = −1/expm1(log_b − log_a). log_b = −∞ (so b = a = 0) gives −∞ with partials
/// (log1mexp′(log_a), 1), as BoTorch; log_a = log_b gives −∞ (b − a = 0); log_a > log_b gives NaN.
inline ValueAndPartials logdiffexp_with_partials(double log_a, double log_b) noexcept {
  if (log_b == -HUGE_VAL) {
    const ValueAndDerivative l = log1mexp_with_derivative(log_a);
    return {log_b + l.value, l.derivative, 1.0};
  }
  const ValueAndDerivative l = log1mexp_with_derivative(log_a - log_b);
  return {log_b + l.value, l.derivative, 1.0 - l.derivative};
}

/// log(b − a) from log a and log b (see logdiffexp_with_partials).
inline double logdiffexp(double log_a, double log_b) noexcept {
  return logdiffexp_with_partials(log_a, log_b).value;
}

namespace detail {

/// logsumexp of y = scale·x with BoTorch's treatment of infinities (`_inf_max_helper`): if the
/// maximum M of y is ±∞, the result is the sum of the entries equal to M, with gradient 1 for
/// those entries; otherwise M + log Σ exp(y_i − M) with gradient exp(y_i − M)/Σ exp(y_j − M).
/// Writes ∂/∂y_i when `weights` is non-null. An empty x gives −∞. `scale` lets smooth_amax/amin use
/// this without a scaled copy of x.
inline double logsumexp_impl(const VectorView& x, MutableVectorView* weights, double scale = 1.0) {
  const Eigen::Index n = x.size();
  if (n == 0) {
    return -HUGE_VAL;
  }
  double m = scale * x(0);
  for (Eigen::Index i = 1; i < n; ++i) {
    const double y = scale * x(i);
    m = y > m ? y : m;
  }
  if (std::isinf(m)) {
    double sum = 0.0;
    for (Eigen::Index i = 0; i < n; ++i) {
      const double y = scale * x(i);
      const bool is_max = y == m;
      sum += is_max ? y : 0.0;
      if (weights != nullptr) {
        (*weights)(i) = is_max ? 1.0 : 0.0;
      }
    }
    return sum;
  }
  double s = 0.0;
  if (weights == nullptr) {
    for (Eigen::Index i = 0; i < n; ++i) {
      s += std::exp(scale * x(i) - m);
    }
  } else {
    // exp(y_i − M)/S rather than torch's exp(y_i − value): the rounding of a large value would
    // cost ulp(value) in relative accuracy. Each exponential is computed once.
    for (Eigen::Index i = 0; i < n; ++i) {
      const double e = std::exp(scale * x(i) - m);
      (*weights)(i) = e;
      s += e;
    }
    (*weights) *= 1.0 / s;
  }
  return m + std::log(s);
}

}  // namespace detail

/// log Σ_i exp(x_i) over a vector of length n, computed as M + log Σ exp(x_i − M) with
/// M = max x. Infinities as BoTorch's `logsumexp`: a +∞ entry gives +∞ (gradient 1 on the +∞
/// entries, 0 elsewhere); all entries −∞ gives −∞ (gradient 1 on each). Empty x gives −∞.
/// Cost: n exp, one log; no allocation.
inline double logsumexp(const VectorView& x) {
  return detail::logsumexp_impl(x, nullptr);
}

/// logsumexp(x) (see above); also writes ∂/∂x_i = exp(x_i − logsumexp(x)), the softmax
/// weights, into `weights` (x's length). Cost: n exp; no allocation.
/// \throws bomf::invalid_argument when the lengths differ.
inline double logsumexp(const VectorView& x, MutableVectorView weights) {
  detail::require(weights.size() == x.size(), "bomf::logsumexp", "argument 'weights' has length ",
                  weights.size(), ", expected ", x.size(), " (the length of x)");
  return detail::logsumexp_impl(x, &weights);
}

/// log((1/n) Σ_i exp(x_i)) = logsumexp(x) − log n (BoTorch's `logmeanexp`), e.g. the average of
/// Monte-Carlo samples of a quantity known in log space. Cost: n exp; no allocation.
/// \throws bomf::invalid_argument when x is empty.
inline double logmeanexp(const VectorView& x) {
  detail::require(x.size() > 0, "bomf::logmeanexp", "argument 'x' is empty, expected n ≥ 1");
  return logsumexp(x) - std::log(static_cast<double>(x.size()));
}

/// logmeanexp(x); also writes ∂/∂x_i = exp(x_i − logsumexp(x)) into `weights` (x's length).
/// \throws bomf::invalid_argument when x is empty or the lengths differ.
inline double logmeanexp(const VectorView& x, MutableVectorView weights) {
  detail::require(x.size() > 0, "bomf::logmeanexp", "argument 'x' is empty, expected n ≥ 1");
  return logsumexp(x, weights) - std::log(static_cast<double>(x.size()));
}

}  // namespace bomf
