// bench/mobo/mobo_problems.hpp — the multi-objective test problems of the MOBO benchmark suite
// (issue 9, "A benchmark suite for the optimizer itself"), all MAXIMIZED:
//
//   BraninCurrin   d = 2, m = 2, box [0, 1]²          (Belakaria et al., NeurIPS 2019)
//   DTLZ2_d6_m2    d = 6, m = 2, box [0, 1]⁶          (Deb et al. 2005)
//   VehicleSafety  d = 5, m = 3, box [1, 3]⁵          (Tanabe & Ishibuchi, Appl. Soft Comput. 2020)
//   FusionSimplex15 d = 15, m = 2, probability simplex (ours: a BOMF-like trade-off, see below)
//
// The first three follow BoTorch 0.11.3's botorch/test_functions/multi_objective.py (the
// definition BoTorch's reference runs in tests/data/mobo_quality.json used) with negate=True:
// BoTorch's problems are minimization problems, negated here, and so is their reference point.
// Names are the keys of mobo_quality.json. `check_problem_definitions()` verifies each
// definition against values derived by hand in the comments below.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/multi_objective/hypervolume.hpp"

namespace bomf::bench {

/// Where the inputs of a problem live.
enum class Domain {
  box,  ///< x ∈ [lower, upper] (BO runs on u ∈ [0,1]^d, x = lower + u ∘ (upper − lower)).
  simplex,  ///< x ∈ Δ^{d−1} = {x ≥ 0, Σx = 1} (BO runs on x itself).
};

/// A maximization test problem.
struct MoboProblem {
  std::string name;         ///< key in mobo_quality.json (`summary`, `runs[].problem`).
  std::string description;  ///< one line.
  Domain domain = Domain::box;
  int dim = 0;             ///< d, the number of inputs.
  int num_objectives = 0;  ///< m.
  Eigen::VectorXd lower;   ///< box bounds (length d); empty for the simplex.
  Eigen::VectorXd upper;
  Eigen::VectorXd ref_point;  ///< reference point of the hypervolume (length m, maximization).
  double max_hv = 0.0;        ///< hypervolume of the true Pareto front w.r.t. ref_point.
  /// Objective values (length m, maximized) at x in natural units (box: within the bounds;
  /// simplex: on the simplex).
  std::function<Eigen::VectorXd(const Eigen::VectorXd&)> evaluate;
};

// ---------------------------------------------------------------------------------------------
// BraninCurrin (BoTorch `BraninCurrin(negate=True)`): x ∈ [0,1]².
//   Branin on [−5, 10] × [0, 15] at (15 x₀ − 5, 15 x₁):
//     B(a, b) = (b − 5.1 a²/(4π²) + 5a/π − 6)² + 10 (1 − 1/(8π)) cos a + 10,
//   Currin:  C(x) = (1 − exp(−1/(2 x₁))) (2300 x₀³ + 1900 x₀² + 2092 x₀ + 60)
//                                      / (100 x₀³ + 500 x₀² + 4 x₀ + 20)
//   (C(x₀, 0) uses exp(−∞) = 0). Objectives (−B, −C); reference point (−18, −6);
//   max_hv 59.36011874867746 (BoTorch's NSGA-II approximation).

/// Branin (minimization form) at (a, b) in its natural domain [−5, 10] × [0, 15].
inline double branin(double a, double b) {
  const double pi = M_PI;
  const double t = b - 5.1 / (4.0 * pi * pi) * a * a + 5.0 / pi * a - 6.0;
  return t * t + 10.0 * (1.0 - 1.0 / (8.0 * pi)) * std::cos(a) + 10.0;
}

/// Currin's exponential function (minimization form) at x ∈ [0,1]².
inline double currin(double x0, double x1) {
  const double factor = 1.0 - std::exp(-1.0 / (2.0 * x1));
  const double numer = ((2300.0 * x0 + 1900.0) * x0 + 2092.0) * x0 + 60.0;
  const double denom = ((100.0 * x0 + 500.0) * x0 + 4.0) * x0 + 20.0;
  return factor * numer / denom;
}

/// BraninCurrin, negated (maximized), at x ∈ [0,1]².
inline Eigen::VectorXd branin_currin_objectives(const Eigen::VectorXd& x) {
  Eigen::VectorXd y(2);
  y(0) = -branin(15.0 * x(0) - 5.0, 15.0 * x(1));
  y(1) = -currin(x(0), x(1));
  return y;
}

inline MoboProblem branin_currin_problem() {
  MoboProblem p;
  p.name = "BraninCurrin";
  p.description = "Branin and Currin on [0,1]^2 (BoTorch BraninCurrin, negate=True)";
  p.domain = Domain::box;
  p.dim = 2;
  p.num_objectives = 2;
  p.lower = Eigen::VectorXd::Zero(2);
  p.upper = Eigen::VectorXd::Ones(2);
  p.ref_point = Eigen::Vector2d(-18.0, -6.0);
  p.max_hv = 59.36011874867746;
  p.evaluate = branin_currin_objectives;
  return p;
}

// ---------------------------------------------------------------------------------------------
// DTLZ2 with d inputs and m objectives (BoTorch `DTLZ2(dim=d, num_objectives=m, negate=True)`):
// x ∈ [0,1]^d, k = d − m + 1, g(x) = Σ_{i ≥ m−1} (x_i − ½)² over the last k inputs,
//   f_j(x) = (1 + g) · Π_{i < m−1−j} cos(x_i π/2) · (j > 0 ? sin(x_{m−1−j} π/2) : 1),
// all minimized (negated here). The Pareto front is the positive part of the unit sphere
// (g = 0); reference point (−1.1, …, −1.1); max_hv = 1.1^m − (volume of the positive orthant
// of the unit m-ball) = 1.1^m − π^{m/2} / Γ(m/2 + 1) / 2^m (m = 2: 1.21 − π/4).

/// DTLZ2 (negated) at x ∈ [0,1]^d with m objectives (m < d).
inline Eigen::VectorXd dtlz2_objectives(const Eigen::VectorXd& x, int m) {
  const auto d = static_cast<int>(x.size());
  const int k = d - m + 1;
  double g = 0.0;
  for (int i = d - k; i < d; ++i) {
    g += (x(i) - 0.5) * (x(i) - 0.5);
  }
  const double half_pi = M_PI / 2.0;
  Eigen::VectorXd y(m);
  for (int j = 0; j < m; ++j) {
    const int idx = m - 1 - j;
    double f = 1.0 + g;
    for (int i = 0; i < idx; ++i) {
      f *= std::cos(x(i) * half_pi);
    }
    if (j > 0) {
      f *= std::sin(x(idx) * half_pi);
    }
    y(j) = -f;
  }
  return y;
}

/// max_hv of DTLZ2 with m objectives and reference point (−1.1, …).
inline double dtlz2_max_hv(int m) {
  const double half_m = 0.5 * m;
  return std::pow(1.1, m) - std::pow(M_PI, half_m) / std::tgamma(half_m + 1.0) / std::pow(2.0, m);
}

inline MoboProblem dtlz2_problem(int d, int m) {
  detail::require(m >= 2 && d > m, "bomf::bench::dtlz2_problem", "d = ", d, ", m = ", m,
                  ", expected 2 <= m < d");
  MoboProblem p;
  p.name = detail::concat("DTLZ2_d", d, "_m", m);
  p.description =
      detail::concat("DTLZ2 on [0,1]^", d, " with ", m, " objectives (BoTorch DTLZ2, negate=True)");
  p.domain = Domain::box;
  p.dim = d;
  p.num_objectives = m;
  p.lower = Eigen::VectorXd::Zero(d);
  p.upper = Eigen::VectorXd::Ones(d);
  p.ref_point = Eigen::VectorXd::Constant(m, -1.1);
  p.max_hv = dtlz2_max_hv(m);
  p.evaluate = [m](const Eigen::VectorXd& x) { return dtlz2_objectives(x, m); };
  return p;
}

// ---------------------------------------------------------------------------------------------
// VehicleSafety (BoTorch `VehicleSafety(negate=True)`, Tanabe & Ishibuchi's RE3-5-4 crash-
// worthiness response surfaces): x ∈ [1, 3]⁵, three minimized objectives (mass, acceleration,
// toe-board intrusion), negated here. Reference point −(1864.72022, 11.81993945, 0.2903999384)
// (1.1 × the nadir of Tanabe's approximate front); max_hv 246.81607081187002 (BoTorch, from
// that front).

/// VehicleSafety (negated) at x ∈ [1, 3]⁵.
inline Eigen::VectorXd vehicle_safety_objectives(const Eigen::VectorXd& x) {
  const double x1 = x(0), x2 = x(1), x3 = x(2), x4 = x(3), x5 = x(4);
  const double f1 = 1640.2823 + 2.3573285 * x1 + 2.3220035 * x2 + 4.5688768 * x3 + 7.7213633 * x4 +
                    4.4559504 * x5;
  const double f2 = 6.5856 + 1.15 * x1 - 1.0427 * x2 + 0.9738 * x3 + 0.8364 * x4 -
                    0.3695 * x1 * x4 + 0.0861 * x1 * x5 + 0.3628 * x2 * x4 - 0.1106 * x1 * x1 -
                    0.3437 * x3 * x3 + 0.1764 * x4 * x4;
  const double f3 = -0.0551 + 0.0181 * x1 + 0.1024 * x2 + 0.0421 * x3 - 0.0073 * x1 * x2 +
                    0.024 * x2 * x3 - 0.0118 * x2 * x4 - 0.0204 * x3 * x4 - 0.008 * x3 * x5 -
                    0.0241 * x2 * x2 + 0.0109 * x4 * x4;
  Eigen::VectorXd y(3);
  y << -f1, -f2, -f3;
  return y;
}

inline MoboProblem vehicle_safety_problem() {
  MoboProblem p;
  p.name = "VehicleSafety";
  p.description =
      "vehicle crash-worthiness on [1,3]^5, 3 objectives (BoTorch VehicleSafety, "
      "negate=True)";
  p.domain = Domain::box;
  p.dim = 5;
  p.num_objectives = 3;
  p.lower = Eigen::VectorXd::Constant(5, 1.0);
  p.upper = Eigen::VectorXd::Constant(5, 3.0);
  p.ref_point = -Eigen::Vector3d(1864.72022, 11.81993945, 0.2903999384);
  p.max_hv = 246.81607081187002;
  p.evaluate = vehicle_safety_objectives;
  return p;
}

// ---------------------------------------------------------------------------------------------
// FusionSimplex<N>: a BOMF-like problem on the probability simplex (fusion coefficients δ of N
// checkpoints), the quick start's stage-2 problem (examples/core_quickstart) with N = 15 and a
// wider metric peak. Both objectives maximized:
//   "−loss"  f₀(δ) = −(0.5 + 4 ‖δ − b‖²),   b = (1/N, …, 1/N): smooth, best at uniform
//            averaging (SWA), as a validation loss of averaged weights tends to be;
//   "metric" f₁(δ) = exp(−‖δ − p‖² / 0.1),  p = (0.4, 0.3, 0.2, 0.1, 0, …, 0): peaks on a face
//            of the simplex (a few late checkpoints), where the loss is worse — the disagreement
//            between loss and metric that BOMF's multi-objective search is built for.
// Reference point (−2, 0): f₀ ≥ −2 ⇔ ‖δ − b‖² ≤ 3/8, which holds on the whole Pareto set;
// f₁ > 0 everywhere.
// Pareto set: both objectives decrease with the distance to b, resp. p, so the Pareto set is the
// segment δ(t) = b + t (p − b), t ∈ [0, 1] (it lies in the simplex, which is convex). With
// D² = ‖p − b‖² = Σp² − 1/N, f₀(t) = −(0.5 + 4 t² D²) decreases and f₁(t) = exp(−(1 − t)² D²/0.1)
// increases in t, so the dominated region's area is
//   max_hv = (f₀(1) − r₀)(f₁(1) − r₁) + ∫₀¹ (f₁(t) − r₁) (−f₀′(t)) dt,   −f₀′(t) = 8 t D²,
// evaluated by composite Simpson's rule (`fusion_simplex_max_hv`).

constexpr double kFusionMetricWidth = 0.1;

/// The metric's peak p for N members (N ≥ 4): (0.4, 0.3, 0.2, 0.1, 0, …).
inline Eigen::VectorXd fusion_simplex_peak(int n) {
  Eigen::VectorXd p = Eigen::VectorXd::Zero(n);
  p.head(4) << 0.4, 0.3, 0.2, 0.1;
  return p;
}

/// FusionSimplex objectives (−loss, metric) at δ on the simplex with N = δ.size() members.
inline Eigen::VectorXd fusion_simplex_objectives(const Eigen::VectorXd& delta) {
  const auto n = static_cast<int>(delta.size());
  const Eigen::VectorXd b = Eigen::VectorXd::Constant(n, 1.0 / n);
  const Eigen::VectorXd p = fusion_simplex_peak(n);
  Eigen::VectorXd y(2);
  y(0) = -(0.5 + 4.0 * (delta - b).squaredNorm());
  y(1) = std::exp(-(delta - p).squaredNorm() / kFusionMetricWidth);
  return y;
}

/// The exact max_hv of FusionSimplex<N> w.r.t. `ref` (see above), by Simpson's rule on
/// `intervals` (even) sub-intervals; the integrand is smooth, 2·10⁴ give ~1e-15 relative.
inline double fusion_simplex_max_hv(int n, const Eigen::Vector2d& ref, int intervals = 20000) {
  const Eigen::VectorXd b = Eigen::VectorXd::Constant(n, 1.0 / n);
  const double dist2 = (fusion_simplex_peak(n) - b).squaredNorm();
  const auto f0 = [&](double t) { return -(0.5 + 4.0 * t * t * dist2); };
  const auto f1 = [&](double t) {
    return std::exp(-(1.0 - t) * (1.0 - t) * dist2 / kFusionMetricWidth);
  };
  const auto integrand = [&](double t) { return (f1(t) - ref(1)) * 8.0 * t * dist2; };
  const double h = 1.0 / intervals;
  double sum = integrand(0.0) + integrand(1.0);
  for (int i = 1; i < intervals; ++i) {
    sum += (i % 2 == 1 ? 4.0 : 2.0) * integrand(i * h);
  }
  return (f0(1.0) - ref(0)) * (f1(1.0) - ref(1)) + sum * h / 3.0;
}

inline MoboProblem fusion_simplex_problem(int n) {
  detail::require(n >= 4, "bomf::bench::fusion_simplex_problem", "n = ", n, ", expected >= 4");
  MoboProblem p;
  p.name = detail::concat("FusionSimplex", n);
  p.description = detail::concat("BOMF-like -loss vs metric on the ", n,
                                 "-member probability simplex (bench/mobo)");
  p.domain = Domain::simplex;
  p.dim = n;
  p.num_objectives = 2;
  p.ref_point = Eigen::Vector2d(-2.0, 0.0);
  p.max_hv = fusion_simplex_max_hv(n, p.ref_point);
  p.evaluate = fusion_simplex_objectives;
  return p;
}

// ---------------------------------------------------------------------------------------------

/// The names accepted by `make_problem`, in the suite's default order.
inline std::vector<std::string> problem_names() {
  return {"BraninCurrin", "DTLZ2_d6_m2", "VehicleSafety", "FusionSimplex15"};
}

/// The problem called `name` (see `problem_names`; DTLZ2_d<d>_m<m> and FusionSimplex<N> take
/// other sizes too). Throws bomf::invalid_argument for an unknown name.
inline MoboProblem make_problem(const std::string& name) {
  if (name == "BraninCurrin")
    return branin_currin_problem();
  if (name == "VehicleSafety")
    return vehicle_safety_problem();
  int d = 0, m = 0, n = 0;
  char tail = 0;
  if (std::sscanf(name.c_str(), "DTLZ2_d%d_m%d%c", &d, &m, &tail) == 2)
    return dtlz2_problem(d, m);
  if (std::sscanf(name.c_str(), "FusionSimplex%d%c", &n, &tail) == 1)
    return fusion_simplex_problem(n);
  throw invalid_argument(detail::concat("bomf::bench::make_problem: unknown problem '", name,
                                        "', expected one of BraninCurrin, DTLZ2_d<d>_m<m>, "
                                        "VehicleSafety, FusionSimplex<N>"));
}

// ---------------------------------------------------------------------------------------------
// Checks of the definitions against values derived by hand (not by running the code).

/// Verifies the problem definitions; returns the failures (empty = all good). Cost: ~0.1 s.
///  * Branin's three global minimizers (−π, 12.275), (π, 2.275), (9.42478, 2.475) give 0.397887
///    (the literature value), mapped back to the unit square as x = ((a + 5)/15, b/15).
///  * Currin(0, 0) = 60/20 = 3 (exp(−∞) = 0); Currin(½, ½) = (1 − e⁻¹) · 1868.5/159.5
///    (numerator 287.5 + 475 + 1046 + 60, denominator 12.5 + 125 + 2 + 20).
///  * DTLZ2: with the last k inputs at ½ (g = 0) the objectives are −(cos θ, sin θ), θ = x₀π/2;
///    at x = 0, g = 5/4 and y = (−9/4, 0); max_hv(2) = 1.21 − π/4; the hypervolume of 20001
///    points of the true front reaches max_hv to within the rectangle rule's error
///    (≤ 1.1·(π/2)/20000 ≈ 1e-4).
///  * VehicleSafety at x = 1: f₁ = 1640.2823 + Σ coefficients = 1661.7078225,
///    f₂ = 6.5856 + 1.15 − 1.0427 + 0.9738 + 0.8364 − 0.3695 + 0.0861 + 0.3628 − 0.1106 − 0.3437
///    + 0.1764 = 8.3046, f₃ = −0.0551 + 0.0181 + 0.1024 + 0.0421 − 0.0073 + 0.024 − 0.0118 −
///    0.0204 − 0.008 − 0.0241 + 0.0109 = 0.0708; at x = 3 f₁ = 1640.2823 + 3 · 21.4255225.
///  * FusionSimplex: the Simpson max_hv equals the hypervolume of 20001 points on the segment
///    [b, p] to within the staircase's error, and no simplex vertex or the barycentre beats it.
inline std::vector<std::string> check_problem_definitions() {
  std::vector<std::string> failures;
  const auto check_close = [](std::vector<std::string>& out, const std::string& what, double actual,
                              double expected, double tol) {
    if (!(std::abs(actual - expected) <= tol)) {
      out.push_back(detail::concat(what, ": got ", actual, ", expected ", expected, " ± ", tol));
    }
  };
  const double pi = M_PI;

  // BraninCurrin.
  const double minimizers[3][2] = {{-pi, 12.275}, {pi, 2.275}, {9.42478, 2.475}};
  for (const auto& z : minimizers) {
    const Eigen::Vector2d x((z[0] + 5.0) / 15.0, z[1] / 15.0);
    check_close(failures, "BraninCurrin: -Branin at a global minimizer",
                branin_currin_objectives(x)(0), -0.397887, 1e-5);
  }
  check_close(failures, "BraninCurrin: -Currin(0, 0)",
              branin_currin_objectives(Eigen::Vector2d(0.0, 0.0))(1), -3.0, 1e-12);
  check_close(failures, "BraninCurrin: -Currin(1/2, 1/2)",
              branin_currin_objectives(Eigen::Vector2d(0.5, 0.5))(1),
              -(1.0 - std::exp(-1.0)) * 1868.5 / 159.5, 1e-12);

  // DTLZ2 (d = 6, m = 2).
  const MoboProblem dtlz2 = dtlz2_problem(6, 2);
  for (const double x0 : {0.0, 0.25, 0.7, 1.0}) {
    Eigen::VectorXd x = Eigen::VectorXd::Constant(6, 0.5);
    x(0) = x0;
    const Eigen::VectorXd y = dtlz2.evaluate(x);
    check_close(failures, "DTLZ2: f0 on the front", y(0), -std::cos(x0 * pi / 2.0), 1e-14);
    check_close(failures, "DTLZ2: f1 on the front", y(1), -std::sin(x0 * pi / 2.0), 1e-14);
  }
  const Eigen::VectorXd y_zero = dtlz2.evaluate(Eigen::VectorXd::Zero(6));
  check_close(failures, "DTLZ2: f0(0)", y_zero(0), -2.25, 1e-14);
  check_close(failures, "DTLZ2: f1(0)", y_zero(1), 0.0, 1e-14);
  check_close(failures, "DTLZ2: max_hv", dtlz2.max_hv, 1.21 - pi / 4.0, 1e-14);
  {
    const int k = 20001;
    Eigen::MatrixXd front(k, 2);
    for (int i = 0; i < k; ++i) {
      const double theta = (pi / 2.0) * i / (k - 1);
      front.row(i) << -std::cos(theta), -std::sin(theta);
    }
    const double hv = hypervolume(front, dtlz2.ref_point);
    check_close(failures, "DTLZ2: hypervolume of the sampled true front", hv, dtlz2.max_hv, 1e-4);
    if (hv > dtlz2.max_hv) {
      failures.push_back("DTLZ2: a sampled front exceeds max_hv");
    }
  }

  // VehicleSafety.
  const MoboProblem vs = vehicle_safety_problem();
  const Eigen::VectorXd y1 = vs.evaluate(Eigen::VectorXd::Ones(5));
  check_close(failures, "VehicleSafety: f1(1)", y1(0), -1661.7078225, 1e-9);
  check_close(failures, "VehicleSafety: f2(1)", y1(1), -8.3046, 1e-12);
  check_close(failures, "VehicleSafety: f3(1)", y1(2), -0.0708, 1e-12);
  check_close(failures, "VehicleSafety: f1(3)", vs.evaluate(Eigen::VectorXd::Constant(5, 3.0))(0),
              -(1640.2823 + 3.0 * 21.4255225), 1e-9);

  // FusionSimplex15.
  const MoboProblem fusion = fusion_simplex_problem(15);
  {
    const int k = 20001;
    const Eigen::VectorXd b = Eigen::VectorXd::Constant(15, 1.0 / 15.0);
    const Eigen::VectorXd p = fusion_simplex_peak(15);
    Eigen::MatrixXd front(k, 2);
    for (int i = 0; i < k; ++i) {
      const double t = static_cast<double>(i) / (k - 1);
      front.row(i) = fusion.evaluate(b + t * (p - b)).transpose();
    }
    const double hv = hypervolume(front, fusion.ref_point);
    check_close(failures, "FusionSimplex15: hypervolume of the sampled Pareto set", hv,
                fusion.max_hv, 1e-3 * fusion.max_hv);
    if (hv > fusion.max_hv) {
      failures.push_back("FusionSimplex15: a sampled front exceeds max_hv");
    }
    Eigen::MatrixXd extra(16, 2);
    for (int i = 0; i < 15; ++i) {
      extra.row(i) = fusion.evaluate(Eigen::VectorXd::Unit(15, i)).transpose();
    }
    extra.row(15) = fusion.evaluate(b).transpose();
    Eigen::MatrixXd all(k + 16, 2);
    all << front, extra;
    check_close(failures, "FusionSimplex15: vertices and barycentre add nothing",
                hypervolume(all, fusion.ref_point), hv, 1e-12 * hv);
  }
  return failures;
}

}  // namespace bomf::bench
