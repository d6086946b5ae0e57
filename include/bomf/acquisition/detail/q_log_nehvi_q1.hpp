// bomf/acquisition/detail/q_log_nehvi_q1.hpp — the Monte-Carlo core of qLogNEHVI for a single
// candidate (q = 1), the case the acquisition optimizers evaluate thousands of times: the same
// quantity as qnehvi_log_value (q_log_nehvi_core.hpp) with fewer transcendental functions, swept
// over all samples' cells as flat arrays in packs of 2 or 4 lanes (bomf/math/simd.hpp).
//
// With one candidate y_s (length m) per sample, every subset of the inclusion–exclusion is the
// candidate itself, so for cell c of sample s (lower corner l_c, log side lengths λ_c)
//   z_k    = log fatplus_{τ_relu}(y_sk − l_ck)                      (once per distinct l_ck)
//   A_c    = Σ_k fatmin_{τ_max}(z_k, λ_ck),      v_s = logsumexp_c A_c,
// and value = logmeanexp_s v_s. BoTorch's fatminimum of a pair is
//   fatmin(a, b) = min(a, b) − τ log(1 + p(t)),   t = |a − b|/τ,   p(t) = 2/(2 + 2t + t²),
// so a cell's m terms need one logarithm, of Π_k (1 + p(t_k)) = Π_k (D_k + 2)/Π_k D_k with
// D_k = 2 + 2t_k + t_k² (t is capped at 10⁹, beyond which 1 + p rounds to 1 anyway), instead of
// m; and ∂fatmin/∂a = 1 − g(t) for a < b, g(t) for a > b (½ at a tie, as torch's autograd),
// g(t) = −p′(t)/(1 + p(t)) = 4(1 + t)/(D(D + 2)). The log-sum-exp over a sample's cells takes
// two passes (maximum, then Σ exp(A_c − max)), so every exponential is of a known argument.
// Per evaluation: one log per distinct lower value (exp and log1p only where softplus matters),
// one exp per cell and a log only where Π(1 + p) − 1 ≥ 1e-4 (a 4-term series otherwise);
// qnehvi_log_value spends three per distinct value and m logs and one exp per cell.
//
// Determinism: every pack lane computes its element exactly as a scalar would, and sums run in
// scalar code in cell order; the generic and AVX2 builds give bit-identical results. Against
// qnehvi_log_value (same mathematics, other rounding) values agree to ~1e-15 relative, gradients
// to ~1e-12 (tests/acquisition/test_q_log_nehvi_core.cpp).
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "bomf/acquisition/detail/q_log_nehvi_core.hpp"
#include "bomf/math/simd.hpp"

namespace bomf::detail {

/// Scratch memory of qnehvi_q1_log_value, sized by `resize` for a cell set and S samples.
struct QnehviQ1Workspace {
  std::vector<double> y;          ///< S·m: y[s·m + k] = the candidate's sample (s, k)
  std::vector<double> z;          ///< padded_distinct: x = y − l, then log fatplus
  std::vector<double> dz;         ///< padded_distinct: its derivative
  std::vector<double> area;       ///< padded_cells: A_c, then exp(A_c − max_s)
  std::vector<double> area_grad;  ///< m × padded_cells: ∂A_c/∂z_k · ∂z_k/∂y_k
  Eigen::VectorXd sample_log;     ///< S: v_s (the maximum during the passes)
  Eigen::MatrixXd sample_grad;    ///< m × S: ∂v_s/∂y_sk

  void resize(const QnehviCellSet& cells, Eigen::Index S, int m) {
    y.assign(static_cast<std::size_t>(S * m), 0.0);
    z.assign(static_cast<std::size_t>(cells.padded_distinct), 0.0);
    dz.assign(static_cast<std::size_t>(cells.padded_distinct), 0.0);
    area.assign(static_cast<std::size_t>(cells.padded_cells), 0.0);
    area_grad.assign(static_cast<std::size_t>(m * cells.padded_cells), 0.0);
    sample_log.resize(S);
    sample_grad.resize(m, S);
  }
};

/// z ← log fatplus_τ(z) lane-wise (BoTorch's log_fatplus: PyTorch softplus with threshold 20 plus
/// 0.1·τ·cauchy), and with kGradient dz ← its derivative; n a multiple of the pack width.
template <class V, bool kGradient>
BOMF_SIMD_INLINE void qnehvi_q1_log_fatplus(double* z, double* dz, Eigen::Index n, double tau) {
  constexpr int L = simd::pack_traits<V>::lanes;
  const double inv_tau = 1.0 / tau;
  for (Eigen::Index i = 0; i < n; i += L) {
    V x;
    simd::load(x, z + i);
    const V u = x * inv_tau;
    const auto linear = u > 20.0;
    // softplus(u) = log1p(e^u) matters only for −60 ≤ u ≤ 20: below, e^u < 9e-27 is less than
    // half an ulp of 0.1·cauchy(u) (and of its derivative term), so adding it changes no bit.
    // Packs without such a lane skip the exp and log1p.
    const auto active = (u <= 20.0) & (u >= -60.0);
    V softplus = linear ? u : V{};
    V sigmoid = linear ? V{} + 1.0 : V{};
    bool any_active = false;
    for (int j = 0; j < L; ++j) {
      any_active = any_active || active[j] != 0;
    }
    if (any_active) {
      V e = linear ? V{} + 20.0 : u;
      simd::exp_in_place(e);
      V log1pe = e;
      simd::log1p_in_place(log1pe);
      softplus = linear ? u : log1pe;
      sigmoid = linear ? V{} + 1.0 : e / (e + 1.0);
    }
    const V c = 1.0 / (1.0 + u * u);
    const V f = tau * (softplus + 0.1 * c);
    V log_f = f;
    simd::log_in_place(log_f);
    simd::store(z + i, log_f);
    if constexpr (kGradient) {
      const V derivative = (sigmoid + 0.1 * (-2.0 * u * c * c)) / f;
      simd::store(dz + i, derivative);
    }
  }
}

/// A_c for every cell (see the file comment), and with kGradient ∂A_c/∂y_k into area_grad.
template <class V, bool kGradient>
BOMF_SIMD_INLINE void qnehvi_q1_cell_areas(const QnehviCellSet& cells, int m, double tau,
                                           const double* z, const double* dz, double* area,
                                           double* area_grad) {
  constexpr int L = simd::pack_traits<V>::lanes;
  using U = typename simd::pack_traits<V>::bits;
  const Eigen::Index C = cells.padded_cells;
  const std::int32_t* slot = cells.cell_slot.data();
  const double* log_length = cells.cell_log_length.data();
  const double inv_tau = 1.0 / tau;
  for (Eigen::Index c = 0; c < C; c += L) {
    V sum_min{};
    V numerator = V{} + 1.0;
    V denominator = V{} + 1.0;
    for (int k = 0; k < m; ++k) {
      const Eigen::Index at = k * C + c;
      V a;
      simd::gather(a, z, slot + at);
      V b;
      simd::load(b, log_length + at);
      const auto a_below = a < b;
      sum_min += a_below ? a : b;
      const V diff = a - b;
      V t = (V)((U)diff & 0x7fffffffffffffffULL) * inv_tau;  // |a − b|/τ
      // Capped at 10⁹ (1 + p(t) rounds to 1 beyond); a NaN t (a NaN sample) stays NaN and
      // reaches the result through P, which min(a, b) above would not.
      t = 1e9 < t ? V{} + 1e9 : t;
      const V D = (2.0 + 2.0 * t) + t * t;
      numerator *= D + 2.0;
      denominator *= D;
      if constexpr (kGradient) {
        const V g = 4.0 * (1.0 + t) / (D * (D + 2.0));
        V chain;
        simd::gather(chain, dz, slot + at);
        const V partial = (a_below ? 1.0 - g : g) * chain;
        simd::store(area_grad + at, partial);
      }
    }
    // log P with P = num/den ≥ 1: where P − 1 < 1e-4 (every t_k ≳ 140, most cells) the series
    // ε − ε²/2 + ε³/3 − ε⁴/4 is exact to 2e-21 (ε⁵/5), and ε = P − 1 carries P's rounding only;
    // the pack log runs only for packs with a larger P, and each lane takes its own branch, so
    // the result does not depend on the pack width.
    const V ratio = numerator / denominator;
    const V eps = ratio - 1.0;
    V log_ratio = eps * (1.0 - eps * (0.5 - eps * (1.0 / 3.0 - eps * 0.25)));
    const auto large = eps >= 1e-4;
    bool any_large = false;
    for (int j = 0; j < L; ++j) {
      any_large = any_large || large[j] != 0;
    }
    if (any_large) {
      V full = ratio;
      simd::log_in_place(full);
      log_ratio = large ? full : log_ratio;
    }
    // z = −∞ (sampled values beyond |x/τ| ≈ 1e154) makes the cell −∞ exactly (t is capped, so
    // log P is finite).
    const V result = sum_min - tau * log_ratio;
    simd::store(area + c, result);
  }
}

/// x ← exp(x) over n entries (a multiple of the pack width).
template <class V>
BOMF_SIMD_INLINE void qnehvi_q1_exp(double* x, Eigen::Index n) {
  constexpr int L = simd::pack_traits<V>::lanes;
  for (Eigen::Index i = 0; i < n; i += L) {
    V v;
    simd::load(v, x + i);
    simd::exp_in_place(v);
    simd::store(x + i, v);
  }
}

/// The q = 1 evaluation with packs V; see qnehvi_q1_log_value.
template <class V, bool kGradient>
BOMF_SIMD_INLINE double qnehvi_q1_log_value_impl(const QnehviCellSet& cells, int m, double tau_relu,
                                                 double tau_max, QnehviQ1Workspace& ws,
                                                 std::vector<Eigen::MatrixXd>* dF) {
  constexpr double ninf = -std::numeric_limits<double>::infinity();
  const Eigen::Index S = ws.sample_log.size();
  const Eigen::Index D = cells.padded_distinct;
  double* z = ws.z.data();
  for (Eigen::Index u = 0; u < D; ++u) {
    z[u] = ws.y[static_cast<std::size_t>(cells.distinct_source[static_cast<std::size_t>(u)])] -
           cells.distinct_lower[static_cast<std::size_t>(u)];
  }
  qnehvi_q1_log_fatplus<V, kGradient>(z, ws.dz.data(), D, tau_relu);
  double* area = ws.area.data();
  qnehvi_q1_cell_areas<V, kGradient>(cells, m, tau_max, z, ws.dz.data(), area, ws.area_grad.data());
  // Pass 1: each sample's maximum; the cells' areas become A_c − max (−∞ when nothing improves).
  for (Eigen::Index s = 0; s < S; ++s) {
    double mx = ninf;
    bool nan = false;
    for (Eigen::Index c = cells.offsets[s]; c < cells.offsets[s + 1]; ++c) {
      mx = area[c] > mx ? area[c] : mx;
      nan = nan || area[c] != area[c];
    }
    ws.sample_log(s) = nan ? std::numeric_limits<double>::quiet_NaN() : mx;
    for (Eigen::Index c = cells.offsets[s]; c < cells.offsets[s + 1]; ++c) {
      area[c] = mx == ninf ? ninf : area[c] - mx;
    }
  }
  qnehvi_q1_exp<V>(area, cells.padded_cells);
  // Pass 2: v_s = max + log Σ_c exp(A_c − max), ∂v_s/∂y_k = Σ_c w_c ∂A_c/∂y_k.
  const Eigen::Index C = cells.padded_cells;
  const double* area_grad = ws.area_grad.data();
  for (Eigen::Index s = 0; s < S; ++s) {
    const double mx = ws.sample_log(s);
    if (mx == ninf || mx != mx) {  // nothing improves (v_s = −∞, no gradient), or NaN
      if constexpr (kGradient) {
        ws.sample_grad.col(s).setConstant(mx == ninf ? 0.0 : mx);
      }
      continue;
    }
    double sum = 0.0;
    double grad[kQnehviMaxM] = {};
    for (Eigen::Index c = cells.offsets[s]; c < cells.offsets[s + 1]; ++c) {
      const double w = area[c];
      sum += w;
      if constexpr (kGradient) {
        if (w != 0.0) {  // an underflowed or −∞ cell contributes nothing (its partials may be NaN)
          for (int k = 0; k < m; ++k) {
            grad[k] += w * area_grad[k * C + c];
          }
        }
      }
    }
    ws.sample_log(s) = mx + std::log(sum);
    if constexpr (kGradient) {
      for (int k = 0; k < m; ++k) {
        ws.sample_grad(k, s) = grad[k] / sum;
      }
    }
  }
  const double mx = ws.sample_log.maxCoeff();
  if (ws.sample_log.hasNaN()) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (mx == ninf) {  // no sample improves: log 0, with a zero gradient
    if constexpr (kGradient) {
      for (auto& d : *dF) {
        d.setZero();
      }
    }
    return ninf;
  }
  double total_sum = 0.0;
  for (Eigen::Index s = 0; s < S; ++s) {
    total_sum += std::exp(ws.sample_log(s) - mx);
  }
  const double total = mx + std::log(total_sum);
  if constexpr (kGradient) {
    for (Eigen::Index s = 0; s < S; ++s) {
      const double weight = std::exp(ws.sample_log(s) - total);
      for (int k = 0; k < m; ++k) {
        (*dF)[static_cast<std::size_t>(k)](s, 0) = weight * ws.sample_grad(k, s);
      }
    }
  }
  return total - std::log(static_cast<double>(S));
}

template <bool kGradient>
inline double qnehvi_q1_log_value_generic(const QnehviCellSet& cells, int m, double tau_relu,
                                          double tau_max, QnehviQ1Workspace& ws,
                                          std::vector<Eigen::MatrixXd>* dF) {
  return qnehvi_q1_log_value_impl<simd::pack2, kGradient>(cells, m, tau_relu, tau_max, ws, dF);
}

#if BOMF_SIMD_X86
template <bool kGradient>
__attribute__((target("avx2"))) inline double qnehvi_q1_log_value_avx2(
    const QnehviCellSet& cells, int m, double tau_relu, double tau_max, QnehviQ1Workspace& ws,
    std::vector<Eigen::MatrixXd>* dF) {
  return qnehvi_q1_log_value_impl<simd::pack4, kGradient>(cells, m, tau_relu, tau_max, ws, dF);
}
#endif

/// qLogNEHVI of one candidate from its sampled objective values `ws.y` (S·m, y[s·m + k]; `ws`
/// resized for `cells` and S), as qnehvi_log_value with q = 1: the value, and with kGradient
/// ∂value/∂y into `(*dF)[k](s, 0)` (pre-sized S × 1). Per-sample v_s are left in ws.sample_log.
/// Semantics at the extremes as qnehvi_log_value: a sample with no finite cell is v_s = −∞ with a
/// zero gradient, no improving sample gives −∞ with a zero gradient, a NaN sample gives NaN.
/// Cost O(D + C·m) with D the distinct lower values and C the cells of all samples; no
/// allocation. Runs the AVX2 build when simd::path() says so (same results).
template <bool kGradient>
double qnehvi_q1_log_value(const QnehviCellSet& cells, int m, double tau_relu, double tau_max,
                           QnehviQ1Workspace& ws, std::vector<Eigen::MatrixXd>* dF) {
#if BOMF_SIMD_X86
  if (simd::path() == simd::Path::avx2) {
    return qnehvi_q1_log_value_avx2<kGradient>(cells, m, tau_relu, tau_max, ws, dF);
  }
#endif
  return qnehvi_q1_log_value_generic<kGradient>(cells, m, tau_relu, tau_max, ws, dF);
}

}  // namespace bomf::detail
