// bomf/acquisition/detail/q_log_nehvi_math.hpp — scalar smooth approximations used by
// qLogNEHVI, with their derivatives, written to reproduce BoTorch 0.11.3's
// `botorch/utils/safe_math.py` (`log_fatplus`, `fatmin`, `log1mexp`) bit for bit where it
// matters (torch's softplus threshold, torch's even split of `amax` gradients over ties).
//
// These are scalar, allocation-free and inlined in the qLogNEHVI hot loop. They duplicate
// what bomf/math/ offers in vectorized form; the lead may later route both through one header.
#pragma once

#include <cmath>
#include <limits>

namespace bomf::detail {

/// The fat-tailed "Pareto" weight of BoTorch's `fatmax` with α = 2:
/// ρ(t) = 2 / (2 + 2t + t²) for t ≥ 0 (ρ(0) = 1, ρ'(0) = −1, O(t⁻²) decay).
inline double qnehvi_pareto(double t) noexcept {
  return 2.0 / (2.0 + 2.0 * t + t * t);
}

/// dρ/dt = −2(2 + 2t) / (2 + 2t + t²)².
inline double qnehvi_pareto_derivative(double t) noexcept {
  const double den = 2.0 + 2.0 * t + t * t;
  return -2.0 * (2.0 + 2.0 * t) / (den * den);
}

/// log(fatplus_τ(x)) with fatplus_τ(x) = τ·(softplus(x/τ) + 0.1/(1 + (x/τ)²)), softplus as
/// torch's (identity above 20). Writes d/dx into `*derivative` when non-null.
/// Ament et al. (2023), "Unexpected Improvements to Expected Improvement" (fat-tailed softplus).
inline double qnehvi_log_fatplus(double x, double tau, double* derivative) noexcept {
  const double u = x / tau;
  double sp = 0.0;
  double dsp = 1.0;
  if (u > 20.0) {
    sp = u;
  } else if (u < -746.0) {
    dsp = 0.0;  // exp(u) underflows to 0 exactly: softplus and its slope are 0
  } else {
    const double e = std::exp(u);
    sp = std::log1p(e);
    dsp = e / (e + 1.0);
  }
  const double c = 1.0 / (1.0 + u * u);
  const double f = sp + 0.1 * c;
  if (derivative != nullptr) {
    *derivative = (dsp - 0.2 * u * c * c) / (f * tau);
  }
  return std::log(tau * f);
}

/// BoTorch's fat-tailed smooth minimum of `n` values x[0..n) with temperature τ:
/// min(x) − τ·log Σ_j ρ((x_j − min x)/τ). Writes ∂/∂x_j into `grad[j]` when non-null,
/// splitting the derivative of the exact min evenly over ties as torch's `amax` does.
/// Exact for n = 1 (returns x[0]). Cost O(n).
inline double qnehvi_fatmin(const double* x, int n, double tau, double* grad) noexcept {
  if (n == 1) {
    if (grad != nullptr) {
      grad[0] = 1.0;
    }
    return x[0];
  }
  double mn = x[0];
  for (int j = 1; j < n; ++j) {
    mn = x[j] < mn ? x[j] : mn;
  }
  double sum = 0.0;
  double dsum = 0.0;
  int ties = 0;
  double dp[8];  // n ≤ q ≤ kQnehviMaxQ = 6
  for (int j = 0; j < n; ++j) {
    const double t = (x[j] - mn) / tau;
    sum += qnehvi_pareto(t);
    dp[j] = qnehvi_pareto_derivative(t);
    dsum += dp[j];
    ties += x[j] == mn ? 1 : 0;
  }
  if (grad != nullptr) {
    const double shared = (1.0 + dsum / sum) / static_cast<double>(ties);
    for (int j = 0; j < n; ++j) {
      grad[j] = -dp[j] / sum + (x[j] == mn ? shared : 0.0);
    }
  }
  return sum == 1.0 ? mn : mn - tau * std::log(sum);
}

/// Two-argument form of `qnehvi_fatmin`: fatmin(a, b) and its partials.
inline double qnehvi_fatmin2(double a, double b, double tau, double* da, double* db) noexcept {
  const double mn = a < b ? a : b;
  const double t = std::abs(a - b) / tau;
  const double p = qnehvi_pareto(t);
  const double dp = qnehvi_pareto_derivative(t);
  const double sum = 1.0 + p;
  const double log_sum = sum == 1.0 ? 0.0 : std::log(sum);  // far apart: exactly the min
  if (da != nullptr) {
    if (a == b) {
      *da = 0.5;  // torch splits the exact min's gradient over the tie; the rest cancels
      *db = 0.5;
    } else {
      const double d_min = 1.0 + dp / sum;  // the smaller argument
      const double d_max = -dp / sum;       // the larger one
      *da = a < b ? d_min : d_max;
      *db = a < b ? d_max : d_min;
    }
  }
  return mn - tau * log_sum;
}

/// log(1 − exp(x)) for x ≤ 0 (Mächler 2012), as BoTorch's `log1mexp`.
inline double qnehvi_log1mexp(double x) noexcept {
  return x > -0.6931471805599453 ? std::log(-std::expm1(x)) : std::log1p(-std::exp(x));
}

/// log(exp(log_b) − exp(log_a)) for log_a ≤ log_b, as BoTorch's `logdiffexp`
/// (−∞ when log_b = −∞).
inline double qnehvi_logdiffexp(double log_a, double log_b) noexcept {
  constexpr double ninf = -std::numeric_limits<double>::infinity();
  if (log_b == ninf || log_a == ninf) {
    return log_b;  // log1mexp(−∞) = 0
  }
  return log_b + qnehvi_log1mexp(log_a - log_b);
}

}  // namespace bomf::detail
