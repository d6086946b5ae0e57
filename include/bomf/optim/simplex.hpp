// bomf/optim/simplex.hpp — the probability simplex (optionally with per-coordinate bounds) and
// exact Euclidean projection onto it.
//
// The fusion stage of BOMF (Jang et al., NeurIPS 2024) searches fusion coefficients
// δ ∈ Δ = {δ ∈ R^N : l_i ≤ δ_i ≤ u_i, Σ δ_i = 1} (l = 0, u = 1 by default). Every point the
// optimizers in optim/ evaluate is produced by `Simplex::project`, which returns points that are
// feasible *in floating point*: l_i ≤ δ_i ≤ u_i exactly and |Σ δ_i − 1| ≤ 1e-12 (the rounding
// error left by the projection, a few ulp, is pushed into one coordinate with room).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "bomf/core/checks.hpp"
#include "bomf/core/error.hpp"

namespace bomf {

namespace detail {

/// Moves the rounding residual 1 − Σx into coordinates that have room within [lower, upper]
/// (coordinates strictly inside their bounds first, largest room first) until the sum is 1 to
/// within a few ulp. x must already satisfy the bounds and Σx must be within ~1e-9 of 1.
template <class LowerFn, class UpperFn>
void repair_sum(Eigen::VectorXd& x, LowerFn lower, UpperFn upper) {
  for (int pass = 0; pass < 4; ++pass) {
    const double residual = 1.0 - x.sum();
    if (residual == 0.0 || std::abs(residual) <= 1e-15) {
      return;
    }
    // Prefer coordinates strictly inside their bounds, so that coordinates at a bound (faces of
    // the simplex) stay exactly there; fall back to any coordinate with room.
    Eigen::Index best = -1;
    double best_room = 0.0;
    for (int strict = 1; strict >= 0 && best < 0; --strict) {
      for (Eigen::Index i = 0; i < x.size(); ++i) {
        if (strict == 1 && !(x(i) > lower(i) && x(i) < upper(i))) {
          continue;
        }
        const double room = residual > 0.0 ? upper(i) - x(i) : x(i) - lower(i);
        if (room > best_room) {
          best_room = room;
          best = i;
        }
      }
    }
    if (best < 0) {
      return;
    }
    const double step =
        residual > 0.0 ? std::min(residual, best_room) : -std::min(-residual, best_room);
    x(best) = std::clamp(x(best) + step, lower(best), upper(best));
  }
}

}  // namespace detail

/// Euclidean projection of `y` (length N ≥ 1) onto the probability simplex
/// {x : x ≥ 0, Σx = 1}: argmin_x ‖x − y‖₂, computed by sorting (Duchi, Shalev-Shwartz, Singer,
/// Chandra, "Efficient projections onto the ℓ1-ball for learning in high dimensions", ICML 2008,
/// Fig. 1). Returned entries are ≥ 0 and sum to 1 within 1e-12; entries below the threshold are
/// exactly 0, so vertices and faces are reached exactly.
/// \b Cost: O(N log N) (one sort), one allocation of N doubles plus the result.
/// Throws bomf::invalid_argument for an empty or non-finite `y`.
inline Eigen::VectorXd project_onto_simplex(const Eigen::Ref<const Eigen::VectorXd>& y) {
  constexpr const char* where = "bomf::project_onto_simplex";
  detail::require(y.size() >= 1, where, "argument 'y' is empty, expected at least one entry");
  detail::require_finite(y, where, "y");
  const Eigen::Index n = y.size();
  std::vector<double> sorted(y.data(), y.data() + n);
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  double cumulative = 0.0;
  double theta = 0.0;
  for (Eigen::Index k = 0; k < n; ++k) {
    cumulative += sorted[static_cast<std::size_t>(k)];
    const double candidate = (cumulative - 1.0) / static_cast<double>(k + 1);
    if (sorted[static_cast<std::size_t>(k)] - candidate > 0.0) {
      theta = candidate;
    } else {
      break;  // the condition holds for a prefix of the sorted entries only
    }
  }
  // Clipping at 1 as well: y_i − θ can round to 1 + 2⁻⁵² when the other entries are (almost) 0.
  Eigen::VectorXd x = (y.array() - theta).max(0.0).min(1.0).matrix();
  double sum = x.sum();
  if (!(sum > 0.0)) {  // cannot happen for finite y; kept as a guard against misuse
    x.setConstant(1.0 / static_cast<double>(n));
    sum = 1.0;
  }
  if (std::abs(sum - 1.0) > 1e-9) {
    x /= sum;
  }
  detail::repair_sum(
      x, [](Eigen::Index) { return 0.0; }, [](Eigen::Index) { return 1.0; });
  return x;
}

/// The feasible set Δ = {δ ∈ R^N : lower_i ≤ δ_i ≤ upper_i, Σ δ_i = 1} of fusion coefficients.
///
/// `Simplex(N)` is the probability simplex; `Simplex(lower, upper)` adds per-coordinate bounds,
/// e.g. "at least 5% on the final checkpoint" is lower(N−1) = 0.05. Bounds are clipped to [0, 1].
/// The set must be non-empty: Σ lower ≤ 1 ≤ Σ upper, checked at construction.
class Simplex {
 public:
  /// The probability simplex in R^n (n ≥ 1).
  explicit Simplex(Eigen::Index n) {
    detail::require(n >= 1, "bomf::Simplex", "argument 'n' is ", n,
                    ", expected a dimension of at least 1");
    lower_ = Eigen::VectorXd::Zero(n);
    upper_ = Eigen::VectorXd::Ones(n);
  }

  /// The simplex with bounds lower_i ≤ δ_i ≤ upper_i (both length N ≥ 1, finite,
  /// 0 ≤ lower_i ≤ upper_i; upper_i > 1 is treated as 1). Throws bomf::invalid_argument when the
  /// set is empty, i.e. unless Σ lower ≤ 1 ≤ Σ min(upper, 1).
  Simplex(const Eigen::Ref<const Eigen::VectorXd>& lower,
          const Eigen::Ref<const Eigen::VectorXd>& upper) {
    constexpr const char* where = "bomf::Simplex";
    detail::require(lower.size() >= 1, where, "argument 'lower' is empty, expected length N >= 1");
    detail::require_shape(upper, lower.size(), 1, where, "upper");
    detail::require_finite(lower, where, "lower");
    detail::require_finite(upper, where, "upper");
    for (Eigen::Index i = 0; i < lower.size(); ++i) {
      detail::require(lower(i) >= 0.0, where, "argument 'lower' has entry ", lower(i), " at index ",
                      i, ", expected a value >= 0");
      detail::require(lower(i) <= upper(i), where, "lower bound ", lower(i),
                      " exceeds upper bound ", upper(i), " at index ", i,
                      ", expected lower <= upper");
    }
    lower_ = lower;
    upper_ = upper.cwiseMin(1.0);
    const double sum_lower = lower_.sum();
    const double sum_upper = upper_.sum();
    detail::require(sum_lower <= 1.0 + 1e-12, where,
                    "the bounds leave no feasible point: the lower ", "bounds sum to ", sum_lower,
                    ", expected a sum <= 1");
    detail::require(sum_upper >= 1.0 - 1e-12, where,
                    "the bounds leave no feasible point: the upper ",
                    "bounds (clipped to 1) sum to ", sum_upper, ", expected a sum >= 1");
    bounded_ = (lower_.array() != 0.0).any() || (upper_.array() != 1.0).any();
  }

  /// Dimension N.
  [[nodiscard]] Eigen::Index dim() const { return lower_.size(); }
  /// Lower bounds (length N; zeros for the plain simplex).
  [[nodiscard]] const Eigen::VectorXd& lower() const { return lower_; }
  /// Upper bounds (length N, ≤ 1; ones for the plain simplex).
  [[nodiscard]] const Eigen::VectorXd& upper() const { return upper_; }
  /// True when some bound differs from the plain simplex's 0 ≤ δ_i ≤ 1.
  [[nodiscard]] bool has_bounds() const { return bounded_; }

  /// True when x (length N) lies in the set: bounds hold exactly and |Σx − 1| ≤ `sum_tolerance`.
  [[nodiscard]] bool contains(const Eigen::Ref<const Eigen::VectorXd>& x,
                              double sum_tolerance = 1e-12) const {
    if (x.size() != dim()) {
      return false;
    }
    for (Eigen::Index i = 0; i < x.size(); ++i) {
      if (!(x(i) >= lower_(i) && x(i) <= upper_(i))) {
        return false;
      }
    }
    return std::abs(x.sum() - 1.0) <= sum_tolerance;
  }

  /// Euclidean projection argmin_{δ ∈ Δ} ‖δ − y‖₂ of y (length N, finite).
  ///
  /// Plain simplex: Duchi et al. (2008). With bounds: δ_i = clamp(y_i − τ, l_i, u_i) where the
  /// scalar τ solves Σ_i clamp(y_i − τ, l_i, u_i) = 1 (the KKT conditions of the projection; the
  /// left side is piecewise linear and non-increasing in τ with breakpoints y_i − u_i, y_i − l_i,
  /// located by sorting and bisection over the breakpoints). The result satisfies the bounds
  /// exactly and sums to 1 within 1e-12.
  /// \b Cost: O(N log N).
  [[nodiscard]] Eigen::VectorXd project(const Eigen::Ref<const Eigen::VectorXd>& y) const {
    constexpr const char* where = "bomf::Simplex::project";
    detail::require_shape(y, dim(), 1, where, "y");
    if (!bounded_) {
      return project_onto_simplex(y);
    }
    detail::require_finite(y, where, "y");
    const Eigen::Index n = dim();
    auto total = [&](double tau) {
      double s = 0.0;
      for (Eigen::Index i = 0; i < n; ++i) {
        s += std::clamp(y(i) - tau, lower_(i), upper_(i));
      }
      return s;
    };
    std::vector<double> breaks;
    breaks.reserve(static_cast<std::size_t>(2 * n));
    for (Eigen::Index i = 0; i < n; ++i) {
      breaks.push_back(y(i) - upper_(i));
      breaks.push_back(y(i) - lower_(i));
    }
    std::sort(breaks.begin(), breaks.end());
    // total() is Σu ≥ 1 at the first breakpoint and Σl ≤ 1 at the last: find adjacent
    // breakpoints b[lo] ≤ b[hi] with total(b[lo]) ≥ 1 ≥ total(b[hi]).
    std::size_t lo = 0;
    std::size_t hi = breaks.size() - 1;
    while (hi - lo > 1) {
      const std::size_t mid = lo + (hi - lo) / 2;
      if (total(breaks[mid]) >= 1.0) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    // On (b[lo], b[hi]) each coordinate is either clamped or free (y_i − τ); solve the linear
    // equation for τ from the classification at the midpoint.
    const double probe = 0.5 * (breaks[lo] + breaks[hi]);
    double fixed = 0.0;
    double free_sum = 0.0;
    Eigen::Index free_count = 0;
    for (Eigen::Index i = 0; i < n; ++i) {
      const double v = y(i) - probe;
      if (v <= lower_(i)) {
        fixed += lower_(i);
      } else if (v >= upper_(i)) {
        fixed += upper_(i);
      } else {
        free_sum += y(i);
        ++free_count;
      }
    }
    double tau = probe;
    if (free_count > 0) {
      tau = (free_sum + fixed - 1.0) / static_cast<double>(free_count);
      tau = std::clamp(tau, breaks[lo], breaks[hi]);
    }
    Eigen::VectorXd x(n);
    for (Eigen::Index i = 0; i < n; ++i) {
      x(i) = std::clamp(y(i) - tau, lower_(i), upper_(i));
    }
    detail::repair_sum(
        x, [this](Eigen::Index i) { return lower_(i); },
        [this](Eigen::Index i) { return upper_(i); });
    return x;
  }

  /// A feasible point next to x (length N, finite, already feasible up to rounding): clamps to the
  /// bounds and moves the rounding residual of the sum into coordinates with room, so that
  /// coordinates at a bound stay exactly there. Falls back to `project` when x is farther than
  /// 1e-9 from Δ in the sum. Used for convex combinations of feasible points.
  /// \b Cost: O(N).
  [[nodiscard]] Eigen::VectorXd repair(const Eigen::Ref<const Eigen::VectorXd>& x) const {
    detail::require_shape(x, dim(), 1, "bomf::Simplex::repair", "x");
    Eigen::VectorXd out = x.cwiseMax(lower_).cwiseMin(upper_);
    if (!out.allFinite() || std::abs(out.sum() - 1.0) > 1e-9) {
      return project(x);
    }
    detail::repair_sum(
        out, [this](Eigen::Index i) { return lower_(i); },
        [this](Eigen::Index i) { return upper_(i); });
    return out;
  }

  /// The barycentre (uniform average, 1/N each — stochastic weight averaging in BOMF's terms)
  /// projected onto Δ; equals (1/N, …, 1/N) for the plain simplex.
  [[nodiscard]] Eigen::VectorXd barycentre() const {
    return project(Eigen::VectorXd::Constant(dim(), 1.0 / static_cast<double>(dim())));
  }

  /// Vertex i (the unit vector e_i) projected onto Δ: e_i itself for the plain simplex, the
  /// feasible point closest to "all weight on coefficient i" with bounds.
  [[nodiscard]] Eigen::VectorXd vertex(Eigen::Index i) const {
    detail::require(i >= 0 && i < dim(), "bomf::Simplex::vertex", "argument 'i' is ", i,
                    ", expected an index in [0, ", dim(), ")");
    Eigen::VectorXd e = Eigen::VectorXd::Zero(dim());
    e(i) = 1.0;
    return project(e);
  }

 private:
  Eigen::VectorXd lower_;
  Eigen::VectorXd upper_;
  bool bounded_ = false;
};

}  // namespace bomf
