// bomf/acquisition/detail/q_log_nehvi_core.hpp — the Monte-Carlo core of qLogNEHVI: given
// each sample's box decomposition of the region not dominated by the baseline front and the
// candidates' sampled objective values, the smoothed log hypervolume improvement averaged in
// log space over samples, and (reverse mode, by hand) its gradient w.r.t. the sampled values.
//
// For sample s with cells c (lower corner l_c, log side lengths λ_c) and candidate values
// Y_s (q × m), as BoTorch 0.11.3's `qLogExpectedHypervolumeImprovement._compute_log_qehvi`:
//   z_jk      = log fatplus_{τ_relu}(Y_s[j,k] − l_c[k])
//   a_{S,k}   = fatmin_{τ_max}{ z_jk : j ∈ S }                      (subset S ⊆ {1..q})
//   A_{c,S}   = Σ_k fatmin_{τ_max}(a_{S,k}, λ_c[k])                  (log volume)
//   v_c       = log( Σ_{|S| odd} e^{A_{c,S}} − Σ_{|S| even} e^{A_{c,S}} )   (inclusion–exclusion)
//   v_s       = logsumexp_c v_c,        value = logmeanexp_s v_s.
// Daulton et al. (2021) "Parallel Bayesian optimization of multiple noisy objectives with
// expected hypervolume improvement"; Ament et al. (2023) for the log-space smoothing.
//
// Cost per evaluation: O(S · C · (q m + 2^q m q)), C the cells per sample; no allocation.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <limits>
#include <vector>

#include "bomf/acquisition/detail/q_log_nehvi_cells.hpp"
#include "bomf/acquisition/detail/q_log_nehvi_math.hpp"

namespace bomf::detail {

/// Largest supported batch size q and number of objectives m (stack arrays in the hot loop).
inline constexpr int kQnehviMaxQ = 6;
inline constexpr int kQnehviMaxM = 8;

/// Scratch memory of `qnehvi_log_value`, sized once by `resize` for (S, q, m).
struct QnehviCoreWorkspace {
  Eigen::VectorXd sample_log;       ///< S: v_s
  Eigen::MatrixXd sample_grad;      ///< (q·m) × S: ∂v_s/∂Y_s, entry j + q·k
  std::vector<double> subset_grad;  ///< 2^q · m · q: ∂A_{c,S}/∂z_jk of the current cell
  std::vector<double> subset_area;  ///< 2^q: A_{c,S} of the current cell

  void resize(Eigen::Index S, int q, int m) {
    sample_log.resize(S);
    sample_grad.resize(static_cast<Eigen::Index>(q) * m, S);
    subset_grad.resize((std::size_t{1} << q) * static_cast<std::size_t>(m * q));
    subset_area.resize(std::size_t{1} << q);
  }
};

/// Evaluates the log-space smoothed MC hypervolume improvement (see the file comment).
/// `F[k]` (S × q) holds objective k's samples at the q candidates. With kGradient, writes
/// ∂value/∂F[k](s, j) into `dF[k]` (pre-sized S × q). `ws` must be resized for (S, q, m).
template <bool kGradient>
double qnehvi_log_value(const QnehviCellSet& cells, const std::vector<Eigen::MatrixXd>& F,
                        double tau_relu, double tau_max, QnehviCoreWorkspace& ws,
                        std::vector<Eigen::MatrixXd>* dF) {
  constexpr double ninf = -std::numeric_limits<double>::infinity();
  const int m = static_cast<int>(F.size());
  const Eigen::Index S = F.front().rows();
  const int q = static_cast<int>(F.front().cols());
  const unsigned num_subsets = 1U << q;
  double* dA = ws.subset_grad.data();
  double* area = ws.subset_area.data();
  double z[kQnehviMaxQ][kQnehviMaxM];
  double dz[kQnehviMaxQ][kQnehviMaxM];
  double grad[kQnehviMaxQ * kQnehviMaxM];
  double x[kQnehviMaxQ];
  double w[kQnehviMaxQ];
  int members[kQnehviMaxQ];

  for (Eigen::Index s = 0; s < S; ++s) {
    double run_max = ninf;
    double run_sum = 0.0;
    if constexpr (kGradient) {
      for (int i = 0; i < q * m; ++i) {
        grad[i] = 0.0;
      }
    }
    for (Eigen::Index c = cells.offsets[s]; c < cells.offsets[s + 1]; ++c) {
      for (int k = 0; k < m; ++k) {
        const double lo = cells.lower(k, c);
        for (int j = 0; j < q; ++j) {
          z[j][k] = qnehvi_log_fatplus(F[k](s, j) - lo, tau_relu, kGradient ? &dz[j][k] : nullptr);
        }
      }
      double odd_max = ninf;
      double even_max = ninf;
      for (unsigned mask = 1; mask < num_subsets; ++mask) {
        int n = 0;
        for (int j = 0; j < q; ++j) {
          if ((mask >> j) & 1U) {
            members[n++] = j;
          }
        }
        double a_total = 0.0;
        for (int k = 0; k < m; ++k) {
          for (int t = 0; t < n; ++t) {
            x[t] = z[members[t]][k];
          }
          const double a = qnehvi_fatmin(x, n, tau_max, kGradient ? w : nullptr);
          double da = 0.0;
          double db = 0.0;
          a_total += qnehvi_fatmin2(a, cells.log_length(k, c), tau_max, kGradient ? &da : nullptr,
                                    kGradient ? &db : nullptr);
          if constexpr (kGradient) {
            double* g = dA + (static_cast<std::size_t>(mask) * m + k) * q;
            for (int j = 0; j < q; ++j) {
              g[j] = 0.0;
            }
            for (int t = 0; t < n; ++t) {
              g[members[t]] = da * w[t];
            }
          }
        }
        area[mask] = a_total;
        if (n % 2 == 1) {
          odd_max = a_total > odd_max ? a_total : odd_max;
        } else {
          even_max = a_total > even_max ? a_total : even_max;
        }
      }
      double odd_sum = 0.0;
      double even_sum = 0.0;
      for (unsigned mask = 1; mask < num_subsets; ++mask) {
        if (__builtin_popcount(mask) % 2 == 1) {
          odd_sum += area[mask] == odd_max ? 1.0 : std::exp(area[mask] - odd_max);
        } else {
          even_sum += area[mask] == even_max ? 1.0 : std::exp(area[mask] - even_max);
        }
      }
      const double log_odd = odd_max + std::log(odd_sum);
      const double log_even = even_max == ninf ? ninf : even_max + std::log(even_sum);
      const double v = qnehvi_logdiffexp(log_even, log_odd);
      if (v == ninf) {
        continue;
      }
      if (v > run_max) {
        const double scale = std::exp(run_max - v);
        run_sum *= scale;
        if constexpr (kGradient) {
          for (int i = 0; i < q * m; ++i) {
            grad[i] *= scale;
          }
        }
        run_max = v;
      }
      const double weight = v == run_max ? 1.0 : std::exp(v - run_max);
      run_sum += weight;
      if constexpr (kGradient) {
        // ∂v_c/∂A_{c,S} = ±exp(A_{c,S} − v_c); weighted by exp(v_c − run_max).
        for (unsigned mask = 1; mask < num_subsets; ++mask) {
          const double sign = __builtin_popcount(mask) % 2 == 1 ? 1.0 : -1.0;
          const double coef = sign * (area[mask] == v ? weight : std::exp(area[mask] - run_max));
          if (coef == 0.0) {
            continue;
          }
          for (int k = 0; k < m; ++k) {
            const double* g = dA + (static_cast<std::size_t>(mask) * m + k) * q;
            for (int j = 0; j < q; ++j) {
              grad[j + q * k] += coef * g[j] * dz[j][k];
            }
          }
        }
      }
    }
    ws.sample_log(s) = run_max + std::log(run_sum);
    if constexpr (kGradient) {
      for (int i = 0; i < q * m; ++i) {
        ws.sample_grad(i, s) = grad[i] / run_sum;
      }
    }
  }
  const double mx = ws.sample_log.maxCoeff();
  const double total = mx + std::log((ws.sample_log.array() - mx).exp().sum());
  const double value = total - std::log(static_cast<double>(S));
  if constexpr (kGradient) {
    for (Eigen::Index s = 0; s < S; ++s) {
      const double weight = std::exp(ws.sample_log(s) - total);
      for (int k = 0; k < m; ++k) {
        for (int j = 0; j < q; ++j) {
          (*dF)[k](s, j) = weight * ws.sample_grad(j + q * k, s);
        }
      }
    }
  }
  return value;
}

}  // namespace bomf::detail
