// bomf/optim/simplex_refine.hpp — local maximization of a smooth function on the (bounded)
// simplex from one starting point, keeping every evaluated point exactly feasible.
//
// Three methods, compared by measurement (bench/optim/refiner_study.cpp; the numbers are in
// docs/math.md, "Choosing the simplex refiner"):
//  * spectral projected gradient (SPG2 of Birgin, Martínez & Raydan, "Nonmonotone spectral
//    projected gradient methods on convex sets", SIAM J. Optim. 10(4), 2000): Barzilai–Borwein
//    step, Euclidean projection (Duchi et al. 2008), nonmonotone Armijo search along the feasible
//    direction (Grippo–Lampariello–Lucidi). Coordinates become exactly 0 (or their bound) through
//    the projection, so vertices and faces are reached exactly. The default.
//  * exponentiated gradient / entropic mirror ascent (Kivinen & Warmuth 1997; Beck & Teboulle,
//    "Mirror descent and nonlinear projected subgradient methods for convex optimization", 2003):
//    x ← x ⊙ exp(η ∇f) / Z with Armijo backtracking on η. Multiplicative updates never make a
//    coordinate exactly 0 except by underflow, so optima on faces are approached slowly.
//  * an active-set method: L-BFGS restricted to the current face (coordinates strictly inside
//    their bounds, directions with zero sum), a ratio test that lands blocking coordinates
//    exactly on their bound, and an SPG step whenever a multiplier says a bound should be
//    released (the face is left) — in the spirit of Hager & Zhang's active set algorithm
//    ("A new active set algorithm for box constrained optimization", SIAM J. Optim. 17, 2006).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <string>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/optim/objective.hpp"
#include "bomf/optim/simplex.hpp"

namespace bomf {

/// Local method used by `maximize_on_simplex` for each restart.
enum class SimplexRefiner {
  spectral_projected_gradient,  ///< SPG2 (Birgin–Martínez–Raydan 2000); the default.
  exponentiated_gradient,       ///< Entropic mirror ascent (Kivinen–Warmuth 1997).
  active_set_lbfgs,             ///< L-BFGS on the current face, SPG steps to change faces.
};

/// Why a local refinement stopped.
enum class RefineTermination {
  stationary,       ///< ‖P(x + ∇f) − x‖_∞ ≤ gradient_tolerance (first-order KKT point).
  no_progress,      ///< The value improved by less than value_tolerance over `patience` steps.
  max_iterations,   ///< iteration limit reached.
  max_evaluations,  ///< evaluation limit reached.
  line_search_failed,  ///< no acceptable step was found (e.g. noise or a non-smooth objective).
  non_finite,          ///< f or its gradient was NaN/∞ at the starting point.
};

/// Human-readable name of a termination reason.
inline const char* to_string(RefineTermination t) {
  switch (t) {
    case RefineTermination::stationary:
      return "stationary";
    case RefineTermination::no_progress:
      return "no_progress";
    case RefineTermination::max_iterations:
      return "max_iterations";
    case RefineTermination::max_evaluations:
      return "max_evaluations";
    case RefineTermination::line_search_failed:
      return "line_search_failed";
    case RefineTermination::non_finite:
      return "non_finite";
  }
  return "unknown";
}

/// Settings of one local refinement. Defaults suit acquisition functions of magnitude O(1–100).
struct SimplexRefineOptions {
  int max_iterations = 200;          ///< outer iterations (≥ 1).
  long max_evaluations = 1000;       ///< calls of f(x, grad) (≥ 1).
  double gradient_tolerance = 1e-9;  ///< stop when ‖P(x + ∇f) − x‖_∞ ≤ this (≥ 0).
  double value_tolerance = 1e-13;    ///< relative improvement threshold for `no_progress` (≥ 0).
  int patience = 10;                 ///< iterations over which `value_tolerance` is measured.
  int nonmonotone_memory = 10;       ///< SPG: values kept for the GLL reference (≥ 1).
  double armijo = 1e-4;              ///< sufficient-increase constant γ ∈ (0, 1).
  double min_step = 1e-10;           ///< SPG: bounds of the spectral step α.
  double max_step = 1e10;
  int lbfgs_memory = 10;     ///< active-set L-BFGS: stored (s, y) pairs (≥ 1).
  int max_line_search = 40;  ///< backtracking trials per iteration (≥ 1).

  /// Empty when valid, else a description of the first invalid setting (Ceres's IsValid style).
  [[nodiscard]] std::string validate() const {
    if (max_iterations < 1)
      return detail::concat("max_iterations is ", max_iterations, ", expected >= 1");
    if (max_evaluations < 1)
      return detail::concat("max_evaluations is ", max_evaluations, ", expected >= 1");
    if (!(gradient_tolerance >= 0.0))
      return detail::concat("gradient_tolerance is ", gradient_tolerance, ", expected >= 0");
    if (!(value_tolerance >= 0.0))
      return detail::concat("value_tolerance is ", value_tolerance, ", expected >= 0");
    if (patience < 1)
      return detail::concat("patience is ", patience, ", expected >= 1");
    if (nonmonotone_memory < 1)
      return detail::concat("nonmonotone_memory is ", nonmonotone_memory, ", expected >= 1");
    if (!(armijo > 0.0 && armijo < 1.0))
      return detail::concat("armijo is ", armijo, ", expected a value in (0, 1)");
    if (!(min_step > 0.0 && min_step <= max_step && std::isfinite(max_step)))
      return detail::concat("min_step/max_step are ", min_step, "/", max_step,
                            ", expected 0 < min_step <= max_step < inf");
    if (lbfgs_memory < 1)
      return detail::concat("lbfgs_memory is ", lbfgs_memory, ", expected >= 1");
    if (max_line_search < 1)
      return detail::concat("max_line_search is ", max_line_search, ", expected >= 1");
    return {};
  }
};

/// Outcome of one local refinement: the best point evaluated (exactly feasible), its value and
/// the effort spent.
struct SimplexRefineResult {
  Eigen::VectorXd x;  ///< best point evaluated, length N, in Δ.
  double value = -std::numeric_limits<double>::infinity();  ///< f(x).
  int iterations = 0;                                       ///< accepted steps.
  long evaluations = 0;                                     ///< calls of f(x, grad).
  RefineTermination termination = RefineTermination::max_iterations;
};

namespace detail {

/// ‖P(x + g) − x‖_∞: zero exactly at the KKT points of max f on Δ.
inline double projected_gradient_norm(const Simplex& simplex, const Eigen::VectorXd& x,
                                      const Eigen::VectorXd& g) {
  return (simplex.project(x + g) - x).cwiseAbs().maxCoeff();
}

/// Evaluates f at x (feasible), counting the call, and keeps the best point in `result`.
template <class F>
double evaluate_tracked(F& f, const Eigen::VectorXd& x, Eigen::VectorXd& grad,
                        SimplexRefineResult& result) {
  ++result.evaluations;
  const double value = f(x, grad);
  if (std::isfinite(value) && grad.allFinite() && value > result.value) {
    result.value = value;
    result.x = x;
  }
  return value;
}

/// Throws bomf::invalid_argument from `where` when `options` is invalid.
inline void require_valid_refine_options(const SimplexRefineOptions& options, const char* where) {
  const std::string error = options.validate();
  detail::require(error.empty(), where, "invalid options: ", error);
}

/// Evaluates f at the (feasible) start x into fx and g, and records x as the best point so far.
/// Returns false, with termination `non_finite`, when f(x) or ∇f(x) is not finite.
template <class F>
bool evaluate_start(F& f, const Eigen::VectorXd& x, Eigen::VectorXd& g, double& fx,
                    SimplexRefineResult& result) {
  result.x = x;
  fx = evaluate_tracked(f, x, g, result);
  if (!std::isfinite(fx) || !g.allFinite()) {
    result.termination = RefineTermination::non_finite;
    return false;
  }
  result.termination = RefineTermination::max_iterations;
  return true;
}

/// First spectral step: 1 / ‖P(x + g) − x‖_∞ clipped to [min_step, max_step], 1 at a
/// stationary start.
inline double initial_spectral_step(const Simplex& simplex, const Eigen::VectorXd& x,
                                    const Eigen::VectorXd& g, const SimplexRefineOptions& options) {
  const double pg0 = projected_gradient_norm(simplex, x, g);
  return pg0 > 0.0 ? std::clamp(1.0 / pg0, options.min_step, options.max_step) : 1.0;
}

/// Barzilai–Borwein step sᵀs / sᵀy for −f (s = x⁺ − x, y = ∇f(x) − ∇f(x⁺)) clipped to
/// [min_step, max_step]; max_step when the curvature sᵀy is not positive.
inline double barzilai_borwein_step(const Eigen::VectorXd& s, const Eigen::VectorXd& g,
                                    const Eigen::VectorXd& g_trial,
                                    const SimplexRefineOptions& options) {
  const double sy = -s.dot(g_trial - g);  // curvature of −f along s
  return sy > 0.0 ? std::clamp(s.squaredNorm() / sy, options.min_step, options.max_step)
                  : options.max_step;
}

/// Backtracking line search along a feasible path t ↦ trial(t) (trial(t) ∈ Δ, ≈ x + t d) from
/// the step t, for the sufficient-increase condition f(trial(t)) ≥ reference + γ t slope
/// (slope = ∇f(x)ᵀd > 0; reference = f(x) for a monotone search, the GLL reference otherwise).
/// A rejected t is replaced by the maximizer of the parabola through φ(0) = fx, φ'(0) = slope
/// and φ(t), safeguarded to [0.1 t, 0.9 t] (t/2 when f is not finite there).
/// Returns true when a step was accepted, x_trial, g_trial and f_trial then holding it; at most
/// max_line_search trials, none once max_evaluations calls have been made.
template <class F, class Trial>
bool backtracking_line_search(F& f, const Trial& trial, double fx, double reference, double slope,
                              double t, const SimplexRefineOptions& options,
                              Eigen::VectorXd& x_trial, Eigen::VectorXd& g_trial, double& f_trial,
                              SimplexRefineResult& result) {
  for (int ls = 0; ls < options.max_line_search; ++ls) {
    if (result.evaluations >= options.max_evaluations) {
      break;
    }
    x_trial = trial(t);
    f_trial = evaluate_tracked(f, x_trial, g_trial, result);
    if (std::isfinite(f_trial) && g_trial.allFinite() &&
        f_trial >= reference + options.armijo * t * slope) {
      return true;
    }
    double t_new = 0.5 * t;
    if (std::isfinite(f_trial)) {
      const double denom = 2.0 * (fx + t * slope - f_trial);
      if (denom > 0.0) {
        t_new = slope * t * t / denom;
      }
    }
    t = std::clamp(t_new, 0.1 * t, 0.9 * t);
  }
  return false;
}

/// Termination after a line search that accepted no step.
inline RefineTermination line_search_failure(const SimplexRefineResult& result,
                                             const SimplexRefineOptions& options) {
  return result.evaluations >= options.max_evaluations ? RefineTermination::max_evaluations
                                                       : RefineTermination::line_search_failed;
}

/// Counts an accepted step and applies the stopping rules that follow one: `no_progress` when
/// the best value rose by at most value_tolerance · (1 + |best|) over the last `patience`
/// steps (`recent` holds the best values, oldest first), `max_evaluations` when the budget is
/// spent. Returns true, with result.termination set, when the run must stop.
inline bool count_step_and_check_stop(std::deque<double>& recent, SimplexRefineResult& result,
                                      const SimplexRefineOptions& options) {
  ++result.iterations;
  recent.push_back(result.value);
  if (static_cast<int>(recent.size()) > options.patience + 1) {
    recent.pop_front();
    if (recent.back() - recent.front() <=
        options.value_tolerance * (1.0 + std::abs(recent.back()))) {
      result.termination = RefineTermination::no_progress;
      return true;
    }
  }
  if (result.evaluations >= options.max_evaluations) {
    result.termination = RefineTermination::max_evaluations;
    return true;
  }
  return false;
}

}  // namespace detail

/// Maximizes f over Δ by the spectral projected gradient method SPG2 (Birgin, Martínez & Raydan
/// 2000), started at `x0` (length N; projected onto Δ first).
///
/// Iteration: d = P(x + α ∇f(x)) − x with the Barzilai–Borwein step α = sᵀs / sᵀ(∇f_k − ∇f_{k+1})
/// clipped to [min_step, max_step]; trial points x + t d (t = 1, then safeguarded quadratic
/// backtracking) are accepted when f ≥ min(last M values) + γ t ∇fᵀd. Every trial point is a
/// convex combination of two feasible points passed through `Simplex::repair`, so it lies in Δ
/// exactly (bounds hold, |Σ − 1| ≤ 1e-12) and coordinates that are 0 in both stay exactly 0.
/// \b Cost: per iteration one projection O(N log N) plus 1–2 evaluations of f typically.
template <class F>
SimplexRefineResult refine_spg(F& f, const Simplex& simplex,
                               const Eigen::Ref<const Eigen::VectorXd>& x0,
                               const SimplexRefineOptions& options = {}) {
  detail::check_differentiable_objective<F>();
  detail::require_valid_refine_options(options, "bomf::refine_spg");
  SimplexRefineResult result;
  Eigen::VectorXd x = simplex.project(x0);
  const Eigen::Index n = x.size();
  Eigen::VectorXd g(n), g_trial(n), x_trial(n), d(n);
  double fx = 0.0;
  if (!detail::evaluate_start(f, x, g, fx, result)) {
    return result;
  }
  std::deque<double> history{fx};
  std::deque<double> recent{fx};
  double alpha = detail::initial_spectral_step(simplex, x, g, options);
  for (int iter = 0; iter < options.max_iterations; ++iter) {
    const Eigen::VectorXd p_unit = simplex.project(x + g);
    if ((p_unit - x).cwiseAbs().maxCoeff() <= options.gradient_tolerance) {
      result.termination = RefineTermination::stationary;
      break;
    }
    Eigen::VectorXd p = simplex.project(x + alpha * g);
    d = p - x;
    double slope = g.dot(d);
    if (!(slope > 0.0)) {  // α too small to move in floating point: use the unit step
      p = p_unit;
      d = p - x;
      slope = g.dot(d);
      if (!(slope > 0.0)) {
        result.termination = RefineTermination::stationary;
        break;
      }
    }
    const double reference = *std::min_element(history.begin(), history.end());
    // The full step lands exactly on the projection p; shorter ones are repaired into Δ.
    auto trial = [&](double t) -> Eigen::VectorXd {
      return t == 1.0 ? p : simplex.repair(x + t * d);
    };
    double f_trial = 0.0;
    if (!detail::backtracking_line_search(f, trial, fx, reference, slope, 1.0, options, x_trial,
                                          g_trial, f_trial, result)) {
      result.termination = detail::line_search_failure(result, options);
      break;
    }
    alpha = detail::barzilai_borwein_step(x_trial - x, g, g_trial, options);
    x = x_trial;
    g = g_trial;
    fx = f_trial;
    history.push_back(fx);
    if (static_cast<int>(history.size()) > options.nonmonotone_memory) {
      history.pop_front();
    }
    if (detail::count_step_and_check_stop(recent, result, options)) {
      break;
    }
  }
  return result;
}

/// Maximizes f over Δ by exponentiated gradient (entropic mirror ascent; Kivinen & Warmuth 1997,
/// Beck & Teboulle 2003), started at `x0` (projected onto Δ, then mixed with 1e-3 of the
/// barycentre so that every coordinate is positive: multiplicative updates cannot revive a zero).
///
/// Iteration: x⁺ = x ⊙ exp(η ∇f(x)) / Σ (computed in log space), then `Simplex::project` when
/// the simplex has bounds (a hybrid step; EG itself knows no upper bounds); η doubles after an
/// accepted step and is halved until f(x⁺) ≥ f(x) + γ ∇fᵀ(x⁺ − x).
/// \b Cost: per iteration O(N) plus the projection for the stationarity test, and 1–2 evaluations.
template <class F>
SimplexRefineResult refine_exponentiated_gradient(F& f, const Simplex& simplex,
                                                  const Eigen::Ref<const Eigen::VectorXd>& x0,
                                                  const SimplexRefineOptions& options = {}) {
  detail::check_differentiable_objective<F>();
  detail::require_valid_refine_options(options, "bomf::refine_exponentiated_gradient");
  SimplexRefineResult result;
  Eigen::VectorXd x = simplex.repair(0.999 * simplex.project(x0) + 0.001 * simplex.barycentre());
  const Eigen::Index n = x.size();
  Eigen::VectorXd g(n), g_trial(n), x_trial(n), w(n);
  double fx = 0.0;
  if (!detail::evaluate_start(f, x, g, fx, result)) {
    return result;
  }
  std::deque<double> recent{fx};
  const double g_range = g.maxCoeff() - g.minCoeff();
  double eta = g_range > 0.0 ? 1.0 / g_range : 1.0;
  for (int iter = 0; iter < options.max_iterations; ++iter) {
    if (detail::projected_gradient_norm(simplex, x, g) <= options.gradient_tolerance) {
      result.termination = RefineTermination::stationary;
      break;
    }
    bool accepted = false;
    double f_trial = 0.0;
    for (int ls = 0; ls < options.max_line_search; ++ls) {
      if (result.evaluations >= options.max_evaluations) {
        break;
      }
      for (Eigen::Index i = 0; i < n; ++i) {
        w(i) = x(i) > 0.0 ? std::log(x(i)) + eta * g(i) : -std::numeric_limits<double>::infinity();
      }
      const double w_max = w.maxCoeff();
      x_trial = (w.array() - w_max).exp().matrix();
      x_trial /= x_trial.sum();
      x_trial = simplex.has_bounds() ? simplex.project(x_trial) : simplex.repair(x_trial);
      f_trial = detail::evaluate_tracked(f, x_trial, g_trial, result);
      if (std::isfinite(f_trial) && g_trial.allFinite() &&
          f_trial >= fx + options.armijo * g.dot(x_trial - x)) {
        accepted = true;
        break;
      }
      eta *= 0.5;
    }
    if (!accepted) {
      result.termination = detail::line_search_failure(result, options);
      break;
    }
    x = x_trial;
    g = g_trial;
    fx = f_trial;
    eta *= 2.0;
    if (detail::count_step_and_check_stop(recent, result, options)) {
      break;
    }
  }
  return result;
}

/// Maximizes f over Δ by an active-set method, started at `x0` (projected onto Δ first).
///
/// On the current face (the coordinates strictly inside their bounds) the step is an L-BFGS
/// direction (two-loop recursion, Nocedal 1980) built from the face-reduced gradient
/// r = ∇f_F − mean(∇f_F) and face-reduced curvature pairs, so that Σ d = 0 and fixed coordinates
/// do not move; a ratio test caps the step where a free coordinate would cross its bound and
/// lands it exactly on the bound (the face shrinks, the memory is cleared). When a coordinate at
/// a bound has a multiplier of the wrong sign (∇f_i above the face mean at a lower bound, below
/// it at an upper bound), the face is a single point, or the previous step changed the face, the
/// step is an SPG step (projection with a Barzilai–Borwein step, monotone Armijo), which may
/// leave the face: SPG identifies the face, L-BFGS converges on it. All trial points
/// pass through `Simplex::repair`/`project`, so they lie in Δ exactly.
/// \b Cost: per iteration O(N · lbfgs_memory) plus one projection, 1–2 evaluations typically.
template <class F>
SimplexRefineResult refine_active_set_lbfgs(F& f, const Simplex& simplex,
                                            const Eigen::Ref<const Eigen::VectorXd>& x0,
                                            const SimplexRefineOptions& options = {}) {
  detail::check_differentiable_objective<F>();
  detail::require_valid_refine_options(options, "bomf::refine_active_set_lbfgs");
  SimplexRefineResult result;
  Eigen::VectorXd x = simplex.project(x0);
  const Eigen::Index n = x.size();
  const Eigen::VectorXd& lower = simplex.lower();
  const Eigen::VectorXd& upper = simplex.upper();
  Eigen::VectorXd g(n), g_trial(n), x_trial(n), d(n);
  double fx = 0.0;
  if (!detail::evaluate_start(f, x, g, fx, result)) {
    return result;
  }
  std::deque<Eigen::VectorXd> s_memory;
  std::deque<Eigen::VectorXd> y_memory;
  std::vector<char> free(static_cast<std::size_t>(n));
  std::deque<double> recent{fx};
  double alpha = detail::initial_spectral_step(simplex, x, g, options);
  bool face_stable = false;
  // Restricts v to the free coordinates and removes its mean there (tangent space of the face).
  auto reduce = [&](Eigen::VectorXd& v, Eigen::Index free_count) {
    double mean = 0.0;
    for (Eigen::Index i = 0; i < n; ++i) {
      mean += free[static_cast<std::size_t>(i)] ? v(i) : 0.0;
    }
    mean /= static_cast<double>(free_count);
    for (Eigen::Index i = 0; i < n; ++i) {
      v(i) = free[static_cast<std::size_t>(i)] ? v(i) - mean : 0.0;
    }
  };
  for (int iter = 0; iter < options.max_iterations; ++iter) {
    const Eigen::VectorXd p_unit = simplex.project(x + g);
    if ((p_unit - x).cwiseAbs().maxCoeff() <= options.gradient_tolerance) {
      result.termination = RefineTermination::stationary;
      break;
    }
    Eigen::Index free_count = 0;
    double free_mean = 0.0;
    for (Eigen::Index i = 0; i < n; ++i) {
      const bool is_free = x(i) > lower(i) && x(i) < upper(i);
      free[static_cast<std::size_t>(i)] = is_free ? 1 : 0;
      free_count += is_free ? 1 : 0;
      free_mean += is_free ? g(i) : 0.0;
    }
    // SPG steps identify the face; L-BFGS steps start once a step has left the face unchanged.
    bool release = free_count <= 1 || !face_stable;
    if (!release) {
      free_mean /= static_cast<double>(free_count);
      for (Eigen::Index i = 0; i < n && !release; ++i) {
        if (free[static_cast<std::size_t>(i)]) {
          continue;
        }
        const bool at_lower = x(i) <= lower(i);
        release = at_lower ? g(i) > free_mean : g(i) < free_mean;
      }
    }
    bool face_step = !release;
    double t_max = 1.0;
    Eigen::Index blocking = -1;
    if (face_step) {
      Eigen::VectorXd r = g;
      reduce(r, free_count);
      // Two-loop recursion: d ≈ (−∇²f restricted to the face)⁻¹ r.
      d = r;
      std::vector<double> rho(s_memory.size()), a(s_memory.size());
      for (std::size_t k = s_memory.size(); k-- > 0;) {
        rho[k] = 1.0 / s_memory[k].dot(y_memory[k]);
        a[k] = rho[k] * s_memory[k].dot(d);
        d -= a[k] * y_memory[k];
      }
      if (!s_memory.empty()) {
        d *= s_memory.back().dot(y_memory.back()) / y_memory.back().squaredNorm();
      } else {
        d *= alpha;
      }
      for (std::size_t k = 0; k < s_memory.size(); ++k) {
        const double b = rho[k] * y_memory[k].dot(d);
        d += (a[k] - b) * s_memory[k];
      }
      reduce(d, free_count);
      if (!(g.dot(d) > 0.0)) {
        s_memory.clear();
        y_memory.clear();
        d = alpha * r;
      }
      // Ratio test: the largest step keeping every free coordinate within its bounds.
      t_max = std::numeric_limits<double>::infinity();
      for (Eigen::Index i = 0; i < n; ++i) {
        if (!free[static_cast<std::size_t>(i)] || d(i) == 0.0) {
          continue;
        }
        const double room = d(i) < 0.0 ? (x(i) - lower(i)) / -d(i) : (upper(i) - x(i)) / d(i);
        if (room < t_max) {
          t_max = room;
          blocking = i;
        }
      }
      face_step = g.dot(d) > 0.0 && t_max > 0.0;
    }
    if (!face_step) {
      s_memory.clear();
      y_memory.clear();
      d = simplex.project(x + alpha * g) - x;
      if (!(g.dot(d) > 0.0)) {
        d = p_unit - x;
      }
      t_max = 1.0;
      blocking = -1;
    }
    const double slope = g.dot(d);
    if (!(slope > 0.0)) {
      result.termination = RefineTermination::stationary;
      break;
    }
    // The step that reaches the ratio-test limit puts the blocking coordinate exactly on its
    // bound.
    auto trial = [&](double t) -> Eigen::VectorXd {
      Eigen::VectorXd point = x + t * d;
      if (face_step && blocking >= 0 && t == t_max) {
        point(blocking) = d(blocking) < 0.0 ? lower(blocking) : upper(blocking);
      }
      return simplex.repair(point);
    };
    double f_trial = 0.0;
    if (!detail::backtracking_line_search(f, trial, fx, fx, slope, std::min(1.0, t_max), options,
                                          x_trial, g_trial, f_trial, result)) {
      result.termination = detail::line_search_failure(result, options);
      break;
    }
    Eigen::VectorXd s = x_trial - x;
    Eigen::VectorXd y = g - g_trial;  // difference of the gradients of −f
    alpha = detail::barzilai_borwein_step(s, g, g_trial, options);
    bool same_face = true;
    for (Eigen::Index i = 0; i < n && same_face; ++i) {
      const bool is_free = x_trial(i) > lower(i) && x_trial(i) < upper(i);
      same_face = is_free == static_cast<bool>(free[static_cast<std::size_t>(i)]);
    }
    face_stable = same_face;
    if (same_face && face_step) {
      reduce(s, free_count);
      reduce(y, free_count);
      if (s.dot(y) > 1e-12 * s.norm() * y.norm()) {
        s_memory.push_back(s);
        y_memory.push_back(y);
        if (static_cast<int>(s_memory.size()) > options.lbfgs_memory) {
          s_memory.pop_front();
          y_memory.pop_front();
        }
      }
    } else {
      s_memory.clear();
      y_memory.clear();
    }
    x = x_trial;
    g = g_trial;
    fx = f_trial;
    if (detail::count_step_and_check_stop(recent, result, options)) {
      break;
    }
  }
  return result;
}

}  // namespace bomf
