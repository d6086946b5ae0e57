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
// Cost per evaluation: O(S · (D q + C · 2^q m q)), C the cells and D ≤ C·m the distinct lower
// corner values per sample; no allocation. With q = 1: per cell m fatmin, one exp.
// The cells are bomf::FastNondominatedPartitioning's (bomf/multi_objective), the smooth
// functions bomf/math's log_fatplus, fatmin, fatminimum and logdiffexp.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "bomf/math/safe_math.hpp"
#include "bomf/math/simd.hpp"
#include "bomf/math/smooth_approximations.hpp"
#include "bomf/multi_objective/box_decomposition.hpp"

namespace bomf::detail {

/// The cells of every MC sample's box decomposition, flattened: cells offsets[s] ..
/// offsets[s+1]−1 belong to sample s. Column c of `lower` is cell c's lower corner (m);
/// `log_length` holds log(min(upper, 1e10) − lower), BoTorch's clamp of infinite uppers.
/// The lower corners of one sample take few distinct values per objective (the front's
/// coordinates and the reference point: at most P + 1 for P front points, against O(P^⌊m/2⌋)
/// cells), and the smoothed log improvement z depends on the cell only through them; so they are
/// stored once per (sample, objective), `distinct_lower[distinct_offsets[s·m + k] ..
/// distinct_offsets[s·m + k + 1] − 1]`, and `lower_slot(k, c)` is the index there of
/// `lower(k, c)`. qnehvi_log_value computes z once per distinct value, not once per cell.
struct QnehviCellSet {
  std::vector<Eigen::Index> offsets;
  Eigen::MatrixXd lower;
  Eigen::MatrixXd upper;
  Eigen::MatrixXd log_length;
  Eigen::Index max_cells = 0;
  std::vector<Eigen::Index> distinct_offsets;
  std::vector<double> distinct_lower;
  Eigen::Matrix<Eigen::Index, Eigen::Dynamic, Eigen::Dynamic> lower_slot;
  Eigen::Index max_distinct = 0;  ///< the most distinct lower values of one sample (all k)
  // The same data laid out for the q = 1 kernels (q_log_nehvi_q1.hpp), which sweep all samples'
  // distinct values and cells as flat arrays padded to a multiple of simd::max_lanes:
  /// Number of distinct lower values, all samples, padded (distinct_lower is resized to it).
  Eigen::Index padded_distinct = 0;
  /// Number of cells, all samples, padded.
  Eigen::Index padded_cells = 0;
  /// s·m + k for distinct value u of sample s, objective k: the candidate sample it meets.
  std::vector<std::int32_t> distinct_source;
  /// m × padded_cells, objective-major: lower_slot(k, c) at k·padded_cells + c.
  std::vector<std::int32_t> cell_slot;
  /// m × padded_cells, objective-major: log_length(k, c) at k·padded_cells + c.
  std::vector<double> cell_log_length;
};

/// Builds the cell set from the baseline samples: `samples[k]` is the S × n matrix of
/// objective k's sampled values at the n baseline points. Sample s's cells are those of
/// bomf::FastNondominatedPartitioning (BoTorch's) for the rows f[s] (n × m) and `ref`, whose
/// Pareto front is the non-dominated, deduplicated rows strictly better than `ref`; cells of
/// zero volume (BoTorch's 2-D partition keeps them for tied coordinates) are dropped, as they
/// contribute exactly 0 to every quantity qLogNEHVI computes. One partitioning object is reused
/// for all S samples, so its buffers are allocated once. Cost O(S · (n² m + cells)) for m = 2,
/// exponential in m in the worst case ([Lacour17]).
inline QnehviCellSet qnehvi_build_cells(const std::vector<Eigen::MatrixXd>& samples,
                                        const Eigen::VectorXd& ref) {
  const auto m = static_cast<Eigen::Index>(samples.size());
  const Eigen::Index S = samples.front().rows();
  const Eigen::Index n = samples.front().cols();
  std::vector<double> lower;
  std::vector<double> upper;
  QnehviCellSet set;
  set.offsets.push_back(0);
  Eigen::MatrixXd Y(n, m);
  FastNondominatedPartitioning partitioning;
  for (Eigen::Index s = 0; s < S; ++s) {
    for (Eigen::Index k = 0; k < m; ++k) {
      Y.col(k) = samples[static_cast<std::size_t>(k)].row(s).transpose();
    }
    partitioning.compute(Y, ref);
    const auto lo = partitioning.cell_lower();
    const auto hi = partitioning.cell_upper();
    for (Eigen::Index c = 0; c < lo.rows(); ++c) {
      if ((hi.row(c).array() > lo.row(c).array()).all()) {
        lower.insert(lower.end(), lo.row(c).data(), lo.row(c).data() + m);
        upper.insert(upper.end(), hi.row(c).data(), hi.row(c).data() + m);
      }
    }
    set.offsets.push_back(static_cast<Eigen::Index>(lower.size()) / m);
    set.max_cells = std::max(set.max_cells, set.offsets[s + 1] - set.offsets[s]);
  }
  const Eigen::Index C = set.offsets.back();
  set.lower = Eigen::Map<const Eigen::MatrixXd>(lower.data(), m, C);
  set.upper = Eigen::Map<const Eigen::MatrixXd>(upper.data(), m, C);
  set.log_length = (set.upper.array().min(1e10) - set.lower.array()).log();
  set.lower_slot.resize(m, C);
  set.distinct_offsets.reserve(static_cast<std::size_t>(S * m + 1));
  set.distinct_offsets.push_back(0);
  std::vector<double> values;
  for (Eigen::Index s = 0; s < S; ++s) {
    const Eigen::Index first = set.offsets[s];
    const Eigen::Index count = set.offsets[s + 1] - first;
    const auto sample_start = static_cast<Eigen::Index>(set.distinct_lower.size());
    for (Eigen::Index k = 0; k < m; ++k) {
      const auto row = set.lower.row(k).segment(first, count);
      values.assign(row.begin(), row.end());
      std::sort(values.begin(), values.end());
      values.erase(std::unique(values.begin(), values.end()), values.end());
      const auto start = static_cast<Eigen::Index>(set.distinct_lower.size());
      set.distinct_lower.insert(set.distinct_lower.end(), values.begin(), values.end());
      for (Eigen::Index c = first; c < first + count; ++c) {
        const auto it = std::lower_bound(values.begin(), values.end(), set.lower(k, c));
        set.lower_slot(k, c) = start + static_cast<Eigen::Index>(it - values.begin());
      }
      set.distinct_offsets.push_back(static_cast<Eigen::Index>(set.distinct_lower.size()));
    }
    set.max_distinct = std::max(
        set.max_distinct, static_cast<Eigen::Index>(set.distinct_lower.size()) - sample_start);
  }
  // Flat, padded copies for the q = 1 kernels (padding: harmless finite values, never read back).
  const auto num_distinct = static_cast<Eigen::Index>(set.distinct_lower.size());
  set.padded_distinct = simd::padded_size(num_distinct);
  set.padded_cells = simd::padded_size(C);
  set.distinct_lower.resize(static_cast<std::size_t>(set.padded_distinct), 0.0);
  set.distinct_source.assign(static_cast<std::size_t>(set.padded_distinct), 0);
  for (Eigen::Index sk = 0; sk < S * m; ++sk) {
    for (Eigen::Index u = set.distinct_offsets[static_cast<std::size_t>(sk)];
         u < set.distinct_offsets[static_cast<std::size_t>(sk + 1)]; ++u) {
      set.distinct_source[static_cast<std::size_t>(u)] = static_cast<std::int32_t>(sk);
    }
  }
  set.cell_slot.assign(static_cast<std::size_t>(m * set.padded_cells), 0);
  set.cell_log_length.assign(static_cast<std::size_t>(m * set.padded_cells), 0.0);
  for (Eigen::Index k = 0; k < m; ++k) {
    for (Eigen::Index c = 0; c < C; ++c) {
      const auto at = static_cast<std::size_t>(k * set.padded_cells + c);
      set.cell_slot[at] = static_cast<std::int32_t>(set.lower_slot(k, c));
      set.cell_log_length[at] = set.log_length(k, c);
    }
  }
  return set;
}

/// Largest supported batch size q and number of objectives m (stack arrays in the hot loop).
inline constexpr int kQnehviMaxQ = 6;
inline constexpr int kQnehviMaxM = 8;

/// Scratch memory of `qnehvi_log_value`, sized once by `resize` for (S, q, m).
struct QnehviCoreWorkspace {
  Eigen::VectorXd sample_log;       ///< S: v_s
  Eigen::MatrixXd sample_grad;      ///< (q·m) × S: ∂v_s/∂Y_s, entry j + q·k
  std::vector<double> subset_grad;  ///< 2^q · m · q: ∂A_{c,S}/∂z_jk of the current cell
  std::vector<double> subset_area;  ///< 2^q: A_{c,S} of the current cell
  std::vector<double> z;            ///< q per distinct lower value of the current sample: z_jk
  std::vector<double> dz;           ///< the same layout: ∂z_jk/∂Y_s[j,k]

  /// Sizes the buffers for S samples, batch size q, m objectives and `max_distinct` distinct
  /// lower corner values per sample (QnehviCellSet::max_distinct).
  void resize(Eigen::Index S, int q, int m, Eigen::Index max_distinct) {
    sample_log.resize(S);
    sample_grad.resize(static_cast<Eigen::Index>(q) * m, S);
    subset_grad.resize((std::size_t{1} << q) * static_cast<std::size_t>(m * q));
    subset_area.resize(std::size_t{1} << q);
    z.resize(static_cast<std::size_t>(max_distinct * q));
    dz.resize(static_cast<std::size_t>(max_distinct * q));
  }
};

/// Adds a cell's log value v to a sample's running log-sum-exp, kept as (run_max, run_sum) with
/// Σ exp(v_c) = exp(run_max) · run_sum; when the maximum moves, run_sum and the `count` gradient
/// accumulators in `grad` (used with kGradient) are rescaled. Returns exp(v − run_max), the
/// weight of v in the new scale. v must not be −∞.
template <bool kGradient>
inline double accumulate_log_sum_exp(double v, double& run_max, double& run_sum, double* grad,
                                     int count) {
  // exp of an argument below −746 is exactly 0: skipping the call (whose underflow path sets
  // errno and is slow) changes no bit.
  if (v > run_max) {
    const double scale = run_max - v < -746.0 ? 0.0 : std::exp(run_max - v);
    run_sum *= scale;
    if constexpr (kGradient) {
      for (int i = 0; i < count; ++i) {
        grad[i] *= scale;
      }
    }
    run_max = v;
  }
  const double weight = v == run_max ? 1.0 : (v - run_max < -746.0 ? 0.0 : std::exp(v - run_max));
  run_sum += weight;
  return weight;
}

/// Evaluates the log-space smoothed MC hypervolume improvement (see the file comment).
/// `F[k]` (S × q) holds objective k's samples at the q candidates. With kGradient, writes
/// ∂value/∂F[k](s, j) into `dF[k]` (pre-sized S × q). `ws` must be resized for (S, q, m) and
/// cells.max_distinct.
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
  double* zs = ws.z.data();
  double* dzs = ws.dz.data();

  for (Eigen::Index s = 0; s < S; ++s) {
    double run_max = ninf;
    double run_sum = 0.0;
    if constexpr (kGradient) {
      for (int i = 0; i < q * m; ++i) {
        grad[i] = 0.0;
      }
    }
    // z_jk for every distinct lower value of this sample (see QnehviCellSet).
    const Eigen::Index base = cells.distinct_offsets[static_cast<std::size_t>(s * m)];
    for (int k = 0; k < m; ++k) {
      const auto first = cells.distinct_offsets[static_cast<std::size_t>(s * m + k)];
      const auto last = cells.distinct_offsets[static_cast<std::size_t>(s * m + k + 1)];
      for (Eigen::Index u = first; u < last; ++u) {
        const double lo = cells.distinct_lower[static_cast<std::size_t>(u)];
        const auto at = static_cast<std::size_t>((u - base) * q);
        for (int j = 0; j < q; ++j) {
          const ValueAndDerivative lf = log_fatplus_with_derivative(F[k](s, j) - lo, tau_relu);
          zs[at + static_cast<std::size_t>(j)] = lf.value;
          if constexpr (kGradient) {
            dzs[at + static_cast<std::size_t>(j)] = lf.derivative;
          }
        }
      }
    }
    for (Eigen::Index c = cells.offsets[s]; c < cells.offsets[s + 1]; ++c) {
      if (q == 1) {
        // One candidate: the only subset is {1}, so v_c = A_c = Σ_k fatmin(z_k, λ_ck) exactly
        // (the inclusion–exclusion of the general path adds log 1 = 0 and log1mexp(−∞) = −0).
        double a_total = 0.0;
        double d_area[kQnehviMaxM];
        for (int k = 0; k < m; ++k) {
          const auto at = static_cast<std::size_t>(cells.lower_slot(k, c) - base);
          const ValueAndPartials area_k =
              fatminimum_with_partials(zs[at], cells.log_length(k, c), tau_max);
          a_total += area_k.value;
          if constexpr (kGradient) {
            d_area[k] = area_k.d_a;
            dz[0][k] = dzs[at];
          }
        }
        if (a_total == ninf) {
          continue;
        }
        const double weight = accumulate_log_sum_exp<kGradient>(a_total, run_max, run_sum, grad, m);
        if constexpr (kGradient) {
          for (int k = 0; k < m; ++k) {
            grad[k] += weight * d_area[k] * dz[0][k];
          }
        }
        continue;
      }
      for (int k = 0; k < m; ++k) {
        const auto at = static_cast<std::size_t>((cells.lower_slot(k, c) - base) * q);
        for (int j = 0; j < q; ++j) {
          z[j][k] = zs[at + static_cast<std::size_t>(j)];
          if constexpr (kGradient) {
            dz[j][k] = dzs[at + static_cast<std::size_t>(j)];
          }
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
          // fatmin of one value is that value with derivative 1, exactly (bomf::fatmin gives
          // x + τ·log 1); skipping the call for singletons keeps q = 1 as fast as before.
          double a = x[0];
          w[0] = 1.0;
          if (n > 1) {
            const Eigen::Map<const Eigen::VectorXd> xs(x, n);
            if constexpr (kGradient) {
              a = fatmin(xs, Eigen::Map<Eigen::VectorXd>(w, n), tau_max);
            } else {
              a = fatmin(xs, tau_max);
            }
          }
          const ValueAndPartials area_k =
              fatminimum_with_partials(a, cells.log_length(k, c), tau_max);
          a_total += area_k.value;
          if constexpr (kGradient) {
            const double da = area_k.d_a;
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
      const double v = logdiffexp(log_even, log_odd);
      if (v == ninf) {
        continue;
      }
      const double weight = accumulate_log_sum_exp<kGradient>(v, run_max, run_sum, grad, q * m);
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
    // A sample none of whose cells improves (every v_c = −∞: sampled values beyond the range
    // where log fatplus is finite) has v_s = −∞ and no gradient, not 0/0. (run_sum is exactly 0
    // only then; a NaN sample stays NaN and reaches the value.)
    const bool improves = run_sum != 0.0;
    ws.sample_log(s) = improves ? run_max + std::log(run_sum) : ninf;
    if constexpr (kGradient) {
      for (int i = 0; i < q * m; ++i) {
        ws.sample_grad(i, s) = improves ? grad[i] / run_sum : 0.0;
      }
    }
  }
  const double mx = ws.sample_log.maxCoeff();
  if (mx == ninf) {  // no sample improves: log 0, with a zero gradient (not NaN from −∞ − −∞)
    if constexpr (kGradient) {
      for (auto& d : *dF) {
        d.setZero();
      }
    }
    return ninf;
  }
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
