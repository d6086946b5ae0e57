// Local refinement and the multi-start driver on the simplex: feasibility of every evaluated
// point, known optima (vertex, face, interior; plain and bounded simplex), determinism.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "bomf/optim/maximize_on_simplex.hpp"
#include "support/optim_test_functions.hpp"

namespace {

using bomf::Simplex;
using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

// Wraps an objective and records whether any point handed to it left the simplex.
template <class F>
struct FeasibilityChecker {
  F& f;
  const Simplex& simplex;
  long calls = 0;
  long violations = 0;
  double worst_sum_error = 0.0;

  double operator()(const Eigen::Ref<const VectorXd>& x, Eigen::Ref<VectorXd> grad) {
    ++calls;
    check(x);
    return f(x, grad);
  }
  void check(const Eigen::Ref<const VectorXd>& x) {
    worst_sum_error = std::max(worst_sum_error, std::abs(x.sum() - 1.0));
    if (!simplex.contains(x, 1e-12))
      ++violations;
  }
};

// Runs `refine(f, simplex, start)` from the barycentre and from a vertex on known quadratics with
// a vertex, face and interior maximizer (rng seeded with `seed`): the optimum must be reached to
// 1e-6, its zero coordinates exactly, and every evaluated point must be feasible.
template <class Refine>
void expect_finds_known_optima(const Refine& refine, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (Index n : {2, 3, 5, 10, 15, 30, 64}) {
    const Simplex simplex(n);
    for (int kind = 0; kind < 3; ++kind) {
      for (int rep = 0; rep < 3; ++rep) {
        const bomf::test::KnownQuadratic q(n, kind, rng);
        FeasibilityChecker<const bomf::test::KnownQuadratic> checked{q, simplex};
        for (const VectorXd& start : {simplex.barycentre(), simplex.vertex(rep % n)}) {
          const auto r = refine(checked, simplex, start);
          ASSERT_LE((r.x - q.optimum).cwiseAbs().maxCoeff(), 1e-6)
              << "n = " << n << ", kind = " << kind << ", termination " << to_string(r.termination);
          for (Index i = 0; i < n; ++i) {
            if (q.optimum(i) == 0.0) {
              ASSERT_EQ(r.x(i), 0.0) << "face not reached exactly";
            }
          }
        }
        EXPECT_EQ(checked.violations, 0);
      }
    }
  }
}

TEST(RefineSpg, FindsKnownVertexFaceAndInteriorOptima) {
  expect_finds_known_optima(
      [](auto& f, const Simplex& simplex, const VectorXd& start) {
        return bomf::refine_spg(f, simplex, start);
      },
      11);
}

TEST(RefineActiveSetLbfgs, FindsKnownVertexFaceAndInteriorOptima) {
  expect_finds_known_optima(
      [](auto& f, const Simplex& simplex, const VectorXd& start) {
        return bomf::refine_active_set_lbfgs(f, simplex, start);
      },
      18);
}

TEST(RefineExponentiatedGradient, ConvergesToInteriorOptimumAndStaysFeasible) {
  std::mt19937_64 rng(12);
  for (Index n : {3, 10, 30}) {
    const Simplex simplex(n);
    const bomf::test::KnownQuadratic q(n, 2, rng, 10.0);
    FeasibilityChecker<const bomf::test::KnownQuadratic> checked{q, simplex};
    bomf::SimplexRefineOptions options;
    options.max_iterations = 5000;
    options.max_evaluations = 20000;
    const auto r =
        bomf::refine_exponentiated_gradient(checked, simplex, simplex.vertex(0), options);
    EXPECT_LE((r.x - q.optimum).cwiseAbs().maxCoeff(), 1e-5) << n;
    EXPECT_EQ(checked.violations, 0);
  }
}

TEST(RefineSpg, ThousandsOfRandomStartsNeverLeaveTheSimplex) {
  std::mt19937_64 rng(13);
  long total_calls = 0;
  // Optimized builds: N = 2..64, 20 starts each, 5 refinements per start (6300 runs, > 10^5
  // evaluations); unoptimized builds: every 7th N, 4 starts.
  const Index n_step = bomf::test::kSweep > 1 ? 1 : 7;
  const Index num_starts = bomf::test::kSweep > 1 ? 20 : 4;
  for (Index n = 2; n <= 64; n += n_step) {
    const Simplex simplex(n);
    const bomf::test::GaussianBumps bumps(simplex, 4, rng, 0.15);
    const bomf::test::KnownQuadratic quad(n, static_cast<int>(n % 3), rng);
    FeasibilityChecker<const bomf::test::GaussianBumps> cb{bumps, simplex};
    FeasibilityChecker<const bomf::test::KnownQuadratic> cq{quad, simplex};
    const MatrixXd starts =
        bomf::sobol_simplex_points(simplex, num_starts, static_cast<std::uint64_t>(n));
    bomf::SimplexRefineOptions options;
    options.max_iterations = 60;
    for (Index s = 0; s < starts.rows(); ++s) {
      const VectorXd start = starts.row(s).transpose();
      bomf::refine_spg(cb, simplex, start, options);
      bomf::refine_spg(cq, simplex, start, options);
      bomf::refine_exponentiated_gradient(cb, simplex, start, options);
      bomf::refine_active_set_lbfgs(cb, simplex, start, options);
      bomf::refine_active_set_lbfgs(cq, simplex, start, options);
    }
    ASSERT_EQ(cb.violations + cq.violations, 0) << "n = " << n;
    ASSERT_LE(std::max(cb.worst_sum_error, cq.worst_sum_error), 1e-12);
    total_calls += cb.calls + cq.calls;
  }
  EXPECT_GT(total_calls, bomf::test::kSweep > 1 ? 100000 : 1000);
}

TEST(MaximizeOnSimplex, EveryEvaluatedPointIsFeasibleAndOptimumFound) {
  std::mt19937_64 rng(14);
  const std::vector<Index> sizes = bomf::test::kSweep > 1 ? std::vector<Index>{2, 3, 7, 15, 33, 64}
                                                          : std::vector<Index>{2, 7, 33};
  for (Index n : sizes) {
    const Simplex simplex(n);
    for (int kind = 0; kind < 3; ++kind) {
      const bomf::test::KnownQuadratic q(n, kind, rng);
      FeasibilityChecker<const bomf::test::KnownQuadratic> checked{q, simplex};
      bomf::SimplexOptimizerOptions options;
      options.raw_samples = 128;
      options.num_restarts = 4;
      for (auto refiner :
           {bomf::SimplexRefiner::spectral_projected_gradient,
            bomf::SimplexRefiner::exponentiated_gradient, bomf::SimplexRefiner::active_set_lbfgs}) {
        options.refiner = refiner;
        const auto result = bomf::maximize_on_simplex(checked, simplex, options);
        ASSERT_EQ(checked.violations, 0);
        ASSERT_TRUE(simplex.contains(result.x));
        for (Index r = 0; r < result.raw_candidates.rows(); ++r)
          checked.check(result.raw_candidates.row(r).transpose());
        ASSERT_EQ(checked.violations, 0);
        EXPECT_EQ(result.restarts.size(), 4u);
        VectorXd g(n);
        EXPECT_EQ(q(result.x, g), result.value);
        if (refiner != bomf::SimplexRefiner::exponentiated_gradient) {
          EXPECT_LE((result.x - q.optimum).cwiseAbs().maxCoeff(), 1e-6) << n << " " << kind;
        }
      }
    }
  }
}

// −‖x − c‖² on a bounded simplex: the maximizer is the bounded projection of c.
struct DistanceTo {
  VectorXd c;
  double operator()(const Eigen::Ref<const VectorXd>& x, Eigen::Ref<VectorXd> grad) const {
    grad = -2.0 * (x - c);
    return -(x - c).squaredNorm();
  }
};

TEST(MaximizeOnSimplex, BoundedSimplexOptimum) {
  std::mt19937_64 rng(15);
  std::normal_distribution<double> normal(0.0, 0.5);
  for (Index n : {3, 8, 20}) {
    VectorXd l = VectorXd::Zero(n), u = VectorXd::Constant(n, 0.5);
    l(n - 1) = 0.05;  // "at least 5% on the final checkpoint"
    const Simplex simplex(l, u);
    DistanceTo f{VectorXd(n)};
    for (Index i = 0; i < n; ++i)
      f.c(i) = normal(rng);
    f.c(0) = 2.0;  // pushes coordinate 0 to its upper bound
    FeasibilityChecker<DistanceTo> checked{f, simplex};
    for (auto refiner : {bomf::SimplexRefiner::spectral_projected_gradient,
                         bomf::SimplexRefiner::active_set_lbfgs}) {
      bomf::SimplexOptimizerOptions options;
      options.refiner = refiner;
      const auto result = bomf::maximize_on_simplex(checked, simplex, options);
      EXPECT_EQ(checked.violations, 0);
      const VectorXd expected = simplex.project(f.c);
      EXPECT_LE((result.x - expected).cwiseAbs().maxCoeff(), 1e-6);
      EXPECT_EQ(result.x(0), 0.5);
      EXPECT_GE(result.x(n - 1), 0.05);
    }
  }
}

TEST(MaximizeOnSimplex, DegenerateSimplices) {
  // N = 1: the only point is (1).
  const Simplex one(1);
  DistanceTo f1{VectorXd::Constant(1, 3.0)};
  const auto r1 = bomf::maximize_on_simplex(f1, one);
  EXPECT_EQ(r1.x, VectorXd::Ones(1));
  // Σ lower = 1: a single feasible point; every evaluation is at it.
  VectorXd l(3);
  l << 0.5, 0.25, 0.25;
  const Simplex point(l, VectorXd::Ones(3));
  DistanceTo f3{VectorXd::Zero(3)};
  FeasibilityChecker<DistanceTo> checked{f3, point};
  const auto r3 = bomf::maximize_on_simplex(checked, point);
  EXPECT_EQ(checked.violations, 0);
  EXPECT_EQ(r3.x, l);
}

TEST(MaximizeOnSimplex, MultimodalMatchesDenseSearch) {
  std::mt19937_64 rng(16);
  int wins_or_ties = 0;
  const int problems = bomf::test::kSweep > 1 ? 6 : 2;
  for (int problem = 0; problem < problems; ++problem) {
    const Simplex simplex(5 + 5 * (problem % 3));
    const bomf::test::GaussianBumps bumps(simplex, 8, rng, 0.12);
    bomf::SimplexOptimizerOptions options;
    options.seed = static_cast<std::uint64_t>(problem);
    const auto result = bomf::maximize_on_simplex(bumps, simplex, options);
    // Exhaustive reference: 20000 quasi-random points, refine the 20 best and all bump centres.
    const MatrixXd dense = bomf::sobol_simplex_points(simplex, 2000 * bomf::test::kSweep, 99);
    long calls = 0;
    const VectorXd values = bomf::detail::evaluate_values(bumps, dense, calls);
    std::vector<Index> order(static_cast<std::size_t>(dense.rows()));
    std::iota(order.begin(), order.end(), Index{0});
    std::partial_sort(order.begin(), order.begin() + 20, order.end(),
                      [&](Index a, Index b) { return values(a) > values(b); });
    double reference = -1e300;
    for (int k = 0; k < 20; ++k)
      reference = std::max(reference,
                           bomf::refine_spg(bumps, simplex, dense.row(order[k]).transpose()).value);
    for (Index k = 0; k < bumps.centers.rows(); ++k)
      reference = std::max(
          reference, bomf::refine_spg(bumps, simplex, bumps.centers.row(k).transpose()).value);
    wins_or_ties += result.value >= reference - 1e-6;
  }
  EXPECT_GE(wins_or_ties, problems - 1);  // 10 restarts may rarely miss a narrow mode, once
}

struct BatchQuadratic {
  bomf::test::KnownQuadratic q;
  mutable long batch_calls = 0;
  double operator()(const Eigen::Ref<const VectorXd>& x, Eigen::Ref<VectorXd> grad) const {
    return q(x, grad);
  }
  VectorXd batch_values(const Eigen::Ref<const MatrixXd>& X) const {
    ++batch_calls;
    VectorXd v(X.rows());
    VectorXd g(X.cols());
    for (Index i = 0; i < X.rows(); ++i)
      v(i) = q(X.row(i).transpose(), g);
    return v;
  }
};

TEST(MaximizeOnSimplex, UsesBatchValuesAndIsDeterministic) {
  std::mt19937_64 rng(17);
  const Simplex simplex(12);
  BatchQuadratic f{bomf::test::KnownQuadratic(12, 1, rng)};
  static_assert(bomf::detail::has_batch_values<BatchQuadratic>::value);
  static_assert(bomf::is_differentiable_objective_v<BatchQuadratic>);
  static_assert(!bomf::is_differentiable_objective_v<int>);
  MatrixXd best(1, 12);
  best.row(0) = simplex.barycentre().transpose();
  bomf::SimplexOptimizerOptions options;
  options.best_points = best;
  options.seed = 3;
  const auto a = bomf::maximize_on_simplex(f, simplex, options);
  EXPECT_EQ(f.batch_calls, 1);
  EXPECT_EQ(a.value_evaluations, a.raw_candidates.rows());
  EXPECT_GE(a.raw_candidates.rows(), 512);
  const auto b = bomf::maximize_on_simplex(f, simplex, options);
  EXPECT_EQ(a.x, b.x);
  EXPECT_EQ(a.value, b.value);
  EXPECT_EQ(a.restart_indices, b.restart_indices);
  EXPECT_EQ(a.raw_candidates, b.raw_candidates);
  options.seed = 4;
  const auto c = bomf::maximize_on_simplex(f, simplex, options);
  EXPECT_NE(a.raw_candidates, c.raw_candidates);
}

// An objective whose screening values are f + offset: `exact` says whether the optimizer may
// take them for f's own (offset 0) or must treat them as a ranking only.
struct ScreenedQuadratic {
  bomf::test::KnownQuadratic q;
  double offset = 0.0;
  bool exact = true;
  mutable long screening_calls = 0;
  double operator()(const Eigen::Ref<const VectorXd>& x, Eigen::Ref<VectorXd> grad) const {
    return q(x, grad);
  }
  bomf::ScreeningValues screening_values(const Eigen::Ref<const MatrixXd>& X) const {
    ++screening_calls;
    bomf::ScreeningValues out;
    out.values.resize(X.rows());
    VectorXd g(X.cols());
    for (Index i = 0; i < X.rows(); ++i)
      out.values(i) = q(X.row(i).transpose(), g) + offset;
    out.exact = exact;
    return out;
  }
};

TEST(MaximizeOnSimplex, ScreeningValuesRankTheRawCandidatesButAreNeverTheResult) {
  std::mt19937_64 rng(17);
  const Simplex simplex(12);
  bomf::SimplexOptimizerOptions options;
  options.seed = 3;
  options.refine.max_iterations = 1;  // the best raw candidate can stay the result
  ScreenedQuadratic exact{bomf::test::KnownQuadratic(12, 1, rng)};
  static_assert(bomf::detail::has_screening_values<ScreenedQuadratic>::value);
  BatchQuadratic batch{exact.q};
  const auto reference = bomf::maximize_on_simplex(batch, simplex, options);
  // Exact screening values: the same result as f's own batch values.
  const auto a = bomf::maximize_on_simplex(exact, simplex, options);
  EXPECT_EQ(exact.screening_calls, 1);
  EXPECT_TRUE(a.raw_values_exact);
  EXPECT_EQ(a.x, reference.x);
  EXPECT_EQ(a.value, reference.value);
  EXPECT_EQ(a.restart_indices, reference.restart_indices);
  // Values shifted by a constant rank the candidates exactly as f does (the restart choice
  // standardizes them), but are not f: the value reported is f's own at the point returned.
  ScreenedQuadratic shifted = exact;
  shifted.offset = 1000.0;
  shifted.exact = false;
  const auto b = bomf::maximize_on_simplex(shifted, simplex, options);
  EXPECT_FALSE(b.raw_values_exact);
  EXPECT_EQ(b.restart_indices, reference.restart_indices);
  EXPECT_DOUBLE_EQ(b.raw_values.maxCoeff(), reference.raw_values.maxCoeff() + 1000.0);
  VectorXd g(12);
  EXPECT_EQ(b.value, shifted(b.x, g));
  EXPECT_EQ(b.value, reference.value);  // the best raw candidate is a restart, refined from f
  // Flagged exact although shifted, the best shifted raw value is taken for f's own (it beats
  // every refined value): the flag is what decides.
  shifted.exact = true;
  EXPECT_DOUBLE_EQ(bomf::maximize_on_simplex(shifted, simplex, options).value,
                   reference.raw_values.maxCoeff() + 1000.0);
}

TEST(MaximizeOnSimplex, ToleratesNonFiniteValues) {
  const Simplex simplex(4);
  auto f = [](const Eigen::Ref<const VectorXd>& x, Eigen::Ref<VectorXd> grad) {
    grad = -2.0 * (x.array() - 0.25).matrix();
    if (x(0) > 0.6)
      return -std::numeric_limits<double>::infinity();
    if (x(1) > 0.6)
      return std::numeric_limits<double>::quiet_NaN();
    return -(x.array() - 0.25).square().sum();
  };
  const auto result = bomf::maximize_on_simplex(f, simplex);
  EXPECT_TRUE(std::isfinite(result.value));
  EXPECT_LE((result.x.array() - 0.25).abs().maxCoeff(), 1e-6);
}

TEST(MaximizeOnSimplex, RejectsInvalidOptions) {
  const Simplex simplex(3);
  DistanceTo f{VectorXd::Zero(3)};
  bomf::SimplexOptimizerOptions options;
  options.num_restarts = 0;
  EXPECT_THROW(bomf::maximize_on_simplex(f, simplex, options), bomf::invalid_argument);
  options = {};
  options.eta = -1.0;
  EXPECT_THROW(bomf::maximize_on_simplex(f, simplex, options), bomf::invalid_argument);
  options = {};
  options.best_points = MatrixXd::Zero(2, 4);
  EXPECT_THROW(bomf::maximize_on_simplex(f, simplex, options), bomf::invalid_argument);
  options = {};
  options.refine.armijo = 2.0;
  try {
    bomf::maximize_on_simplex(f, simplex, options);
    ADD_FAILURE() << "expected an exception";
  } catch (const bomf::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("refine.armijo"), std::string::npos) << e.what();
  }
}

}  // namespace

namespace {

TEST(SimplexRawCandidates, ContainVerticesBarycentreAndBestPoints) {
  const Simplex simplex(6);
  bomf::SimplexOptimizerOptions options;
  options.raw_samples = 100;
  options.best_points = MatrixXd::Constant(2, 6, 1.0 / 6.0);
  options.best_points.row(1) << 0.5, 0.5, 0.0, 0.0, 0.0, 0.0;
  options.num_near_best = 10;
  const MatrixXd raw = bomf::simplex_raw_candidates(simplex, options);
  EXPECT_EQ(raw.rows(), 100);
  for (Index i = 0; i < 6; ++i)
    EXPECT_EQ(raw.row(i).transpose(), simplex.vertex(i));
  EXPECT_EQ(raw.row(6).transpose(), simplex.barycentre());
  EXPECT_EQ(raw.row(8), options.best_points.row(1));
  for (Index r = 0; r < raw.rows(); ++r)
    EXPECT_TRUE(simplex.contains(raw.row(r).transpose()));
  // Perturbations of the best points stay near them (σ = 0.05).
  for (Index r = 9; r < 19; ++r) {
    const double d0 = (raw.row(r) - options.best_points.row(0)).norm();
    const double d1 = (raw.row(r) - options.best_points.row(1)).norm();
    EXPECT_LT(std::min(d0, d1), 0.5);
  }
  options.include_vertices = false;
  options.include_barycentre = false;
  options.best_points.resize(0, 0);
  EXPECT_EQ(bomf::simplex_raw_candidates(simplex, options).rows(), 100);
  options.raw_samples = 3;  // fewer than the fixed points: all fixed points are kept
  options.include_vertices = true;
  EXPECT_EQ(bomf::simplex_raw_candidates(simplex, options).rows(), 6 + 64);
  options.num_face_points = 0;
  EXPECT_EQ(bomf::simplex_raw_candidates(simplex, options).rows(), 6);
  options.num_face_points = -1;
  EXPECT_THROW(bomf::simplex_raw_candidates(simplex, options), bomf::invalid_argument);
}

TEST(SimplexRawCandidates, FacePointsLieOnEdgesAndTwoFacesUniformly) {
  const Simplex simplex(7);
  std::mt19937_64 rng(3);
  const MatrixXd faces = bomf::face_simplex_points(simplex, 4200, 3, rng);
  ASSERT_EQ(faces.rows(), 4200);
  Eigen::VectorXd usage = Eigen::VectorXd::Zero(7);
  for (Index r = 0; r < faces.rows(); ++r) {
    EXPECT_TRUE(simplex.contains(faces.row(r).transpose())) << r;
    EXPECT_LE(std::abs(faces.row(r).sum() - 1.0), 1e-12);
    const Index support = (faces.row(r).array() > 0.0).count();
    EXPECT_EQ(support, 2 + r % 2) << r;  // edges and 2-faces in turn
    usage += (faces.row(r).array() > 0.0).cast<double>().matrix().transpose();
  }
  // Every coordinate is in a support equally often: 4200 · 2.5 / 7 = 1500 (±5σ ≈ ±150).
  EXPECT_LT((usage.array() - 1500.0).abs().maxCoeff(), 150.0);
  // The simplex of 2 members is its own edge: no face points. Bounds: projected, feasible.
  EXPECT_EQ(bomf::face_simplex_points(Simplex(2), 5, 3, rng).rows(), 0);
  const Simplex bounded(Eigen::VectorXd::Constant(5, 0.05), Eigen::VectorXd::Constant(5, 0.6));
  const MatrixXd inside = bomf::face_simplex_points(bounded, 50, 3, rng);
  for (Index r = 0; r < inside.rows(); ++r)
    EXPECT_TRUE(bounded.contains(inside.row(r).transpose())) << r;
  EXPECT_THROW(bomf::face_simplex_points(simplex, -1, 3, rng), bomf::invalid_argument);
  EXPECT_THROW(bomf::face_simplex_points(simplex, 4, 1, rng), bomf::invalid_argument);
}

TEST(MaximizeOnSimplex, FindsAnEdgeOptimumThatInteriorStartsMiss) {
  // f(x) = −‖x − c‖² + 3·exp(−200‖x − e‖²), e the midpoint of the edge between members 2 and 4 of
  // the 6-simplex and c its barycentre: a peak on an edge next to a broad interior hill (f(c) ≈ 0,
  // f(e) ≈ 2.67). From Sobol starts and 2 restarts only a face candidate reaches the peak.
  const Simplex simplex(6);
  const Eigen::VectorXd c = Eigen::VectorXd::Constant(6, 1.0 / 6.0);
  Eigen::VectorXd e = Eigen::VectorXd::Zero(6);
  e(2) = 0.5;
  e(4) = 0.5;
  auto f = [&](const Eigen::Ref<const Eigen::VectorXd>& x, Eigen::Ref<Eigen::VectorXd> grad) {
    const double peak = 3.0 * std::exp(-200.0 * (x - e).squaredNorm());
    grad = -2.0 * (x - c) - 400.0 * peak * (x - e);
    return -(x - c).squaredNorm() + peak;
  };
  bomf::SimplexOptimizerOptions options;
  options.raw_samples = 512;
  options.num_restarts = 2;
  options.num_face_points = 400;  // ~200 on the 15 edges (seeds 0–39: found with 39 of 40)
  const auto with = bomf::maximize_on_simplex(f, simplex, options);
  EXPECT_GT(with.value, 2.6);
  EXPECT_LT((with.x - e).cwiseAbs().maxCoeff(), 0.05);
  options.num_face_points = 0;  // (seeds 0–39: missed with 36 of 40)
  EXPECT_LT(bomf::maximize_on_simplex(f, simplex, options).value, 1.0);
}

}  // namespace
