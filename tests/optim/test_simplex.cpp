// Simplex geometry: Euclidean projections (plain and bounded), quasi-random candidates, restart
// selection.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <random>
#include <set>

#include "bomf/optim/initialize_restarts.hpp"
#include "bomf/optim/simplex.hpp"
#include "bomf/optim/simplex_candidates.hpp"
#include "support/optim_test_functions.hpp"

namespace {

using bomf::Simplex;
using Eigen::Index;
using Eigen::VectorXd;

VectorXd random_vector(Index n, std::mt19937_64& rng, double scale) {
  std::normal_distribution<double> normal(0.0, scale);
  VectorXd y(n);
  for (Index i = 0; i < n; ++i)
    y(i) = normal(rng);
  return y;
}

// Reference for the bounded projection: bisection on τ for Σ clamp(y − τ, l, u) = 1.
VectorXd bisection_projection(const VectorXd& y, const VectorXd& l, const VectorXd& u) {
  double lo = (y - u).minCoeff() - 1.0;
  double hi = (y - l).maxCoeff() + 1.0;
  for (int it = 0; it < 300; ++it) {
    const double mid = 0.5 * (lo + hi);
    const double s = (y.array() - mid).max(l.array()).min(u.array()).sum();
    (s > 1.0 ? lo : hi) = mid;
  }
  const double tau = 0.5 * (lo + hi);
  return (y.array() - tau).max(l.array()).min(u.array()).matrix();
}

TEST(ProjectOntoSimplex, FeasibleAndKktOverRandomInputs) {
  std::mt19937_64 rng(1);
  for (Index n = 2; n <= 64; ++n) {
    for (int rep = 0; rep < 6 * bomf::test::kSweep; ++rep) {
      const double scale = std::pow(10.0, rep % 6 - 3);  // 1e-3 … 1e2
      const VectorXd y = random_vector(n, rng, scale);
      const VectorXd x = bomf::project_onto_simplex(y);
      ASSERT_TRUE((x.array() >= 0.0).all());
      ASSERT_NEAR(x.sum(), 1.0, 1e-12);
      // KKT: y_i − x_i = θ on the support, y_i ≤ θ off it.
      double theta = 0.0;
      Index support = 0;
      for (Index i = 0; i < n; ++i) {
        if (x(i) > 0.0) {
          theta += y(i) - x(i);
          ++support;
        }
      }
      ASSERT_GT(support, 0);
      theta /= static_cast<double>(support);
      const double tol = 1e-12 * std::max(1.0, y.cwiseAbs().maxCoeff());
      for (Index i = 0; i < n; ++i) {
        if (x(i) > 0.0) {
          ASSERT_NEAR(y(i) - x(i), theta, tol);
        } else {
          ASSERT_LE(y(i), theta + tol);
        }
      }
      // Agrees with the bisection reference.
      const VectorXd ref = bisection_projection(y, VectorXd::Zero(n), VectorXd::Ones(n));
      ASSERT_LE((x - ref).cwiseAbs().maxCoeff(), 1e-12 * std::max(1.0, scale));
    }
  }
}

TEST(ProjectOntoSimplex, ExactVerticesFacesAndFixedPoints) {
  VectorXd y(3);
  y << 2.0, 0.3, -1.0;
  VectorXd x = bomf::project_onto_simplex(y);
  EXPECT_EQ(x(0), 1.0);
  EXPECT_EQ(x(1), 0.0);
  EXPECT_EQ(x(2), 0.0);
  y << 0.8, 0.6, -1.0;  // face point (0.6, 0.4, 0)
  x = bomf::project_onto_simplex(y);
  EXPECT_NEAR(x(0), 0.6, 1e-15);
  EXPECT_NEAR(x(1), 0.4, 1e-15);
  EXPECT_EQ(x(2), 0.0);
  y << 0.2, 0.5, 0.3;  // already feasible
  x = bomf::project_onto_simplex(y);
  EXPECT_LE((x - y).cwiseAbs().maxCoeff(), 1e-15);
  VectorXd one(1);
  one << -7.0;
  EXPECT_EQ(bomf::project_onto_simplex(one)(0), 1.0);
}

// Regression: y₀ − θ rounded to 1 + 2⁻⁵² here (an upper-bound violation of 1 ulp) before the
// projection clipped at 1; found through the scrambled-Sobol starts of maximize_on_simplex.
TEST(ProjectOntoSimplex, NeverExceedsOneByRounding) {
  const Simplex simplex(2);
  for (const VectorXd& y :
       {VectorXd(VectorXd::Map(
            std::array<double, 2>{-1.2385715640017627, -2.2385715640017629}.data(), 2)),
        VectorXd(VectorXd::Map(
            std::array<double, 2>{-1.6616933059556291, -2.6616933059556303}.data(), 2))}) {
    const VectorXd x = bomf::project_onto_simplex(y);
    EXPECT_LE(x.maxCoeff(), 1.0);
    EXPECT_TRUE(simplex.contains(x)) << x.transpose();
    EXPECT_TRUE(simplex.contains(simplex.project(y)));
  }
}

TEST(ProjectOntoSimplex, RejectsBadInput) {
  EXPECT_THROW(bomf::project_onto_simplex(VectorXd()), bomf::invalid_argument);
  VectorXd y(2);
  y << 0.5, std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(bomf::project_onto_simplex(y), bomf::invalid_argument);
}

TEST(BoundedSimplex, ProjectionFeasibleAndMatchesReference) {
  std::mt19937_64 rng(2);
  std::uniform_real_distribution<double> unif(0.0, 1.0);
  for (Index n = 2; n <= 64; n += 3) {
    for (int rep = 0; rep < 6 * bomf::test::kSweep; ++rep) {
      VectorXd l(n), u(n);
      for (Index i = 0; i < n; ++i) {
        l(i) = unif(rng) < 0.5 ? 0.0 : 0.9 * unif(rng) / static_cast<double>(n);
        u(i) = unif(rng) < 0.3 ? 1.0 : l(i) + (1.5 + unif(rng)) / static_cast<double>(n);
      }
      const Simplex simplex(l, u);
      const VectorXd y = random_vector(n, rng, std::pow(10.0, rep % 4 - 2));
      const VectorXd x = simplex.project(y);
      ASSERT_TRUE(simplex.contains(x)) << "n = " << n << ", rep = " << rep;
      ASSERT_TRUE((x.array() >= l.array()).all() && (x.array() <= u.cwiseMin(1.0).array()).all());
      ASSERT_NEAR(x.sum(), 1.0, 1e-12);
      const VectorXd ref = bisection_projection(y, l, u.cwiseMin(1.0));
      ASSERT_LE((x - ref).cwiseAbs().maxCoeff(), 1e-10);
      // Projection of a feasible point is the point itself.
      ASSERT_LE((simplex.project(x) - x).cwiseAbs().maxCoeff(), 1e-14);
    }
  }
}

TEST(BoundedSimplex, LowerBoundOnFinalCheckpoint) {
  VectorXd l = VectorXd::Zero(4), u = VectorXd::Ones(4);
  l(3) = 0.05;
  const Simplex simplex(l, u);
  VectorXd y(4);
  y << 3.0, 0.0, 0.0, 0.0;
  const VectorXd x = simplex.project(y);
  EXPECT_EQ(x(3), 0.05);
  EXPECT_EQ(x(1), 0.0);
  EXPECT_NEAR(x(0), 0.95, 1e-15);
  EXPECT_TRUE(simplex.contains(simplex.vertex(0)));
  EXPECT_EQ(simplex.vertex(0)(3), 0.05);
  EXPECT_TRUE(simplex.has_bounds());
  EXPECT_FALSE(Simplex(4).has_bounds());
}

TEST(BoundedSimplex, RejectsEmptyOrMalformedBounds) {
  const VectorXd half = VectorXd::Constant(3, 0.5);
  EXPECT_THROW(Simplex(VectorXd::Constant(3, 0.4), VectorXd::Ones(3)), bomf::invalid_argument);
  EXPECT_THROW(Simplex(VectorXd::Zero(3), VectorXd::Constant(3, 0.3)), bomf::invalid_argument);
  EXPECT_THROW(Simplex(half, VectorXd::Constant(3, 0.4)), bomf::invalid_argument);
  EXPECT_THROW(Simplex(-half, VectorXd::Ones(3)), bomf::invalid_argument);
  EXPECT_THROW(Simplex(VectorXd::Zero(3), VectorXd::Ones(2)), bomf::invalid_argument);
  EXPECT_THROW(Simplex(0), bomf::invalid_argument);
  EXPECT_THROW(Simplex(3).project(VectorXd::Zero(2)), bomf::invalid_argument);
  try {
    Simplex(VectorXd::Constant(3, 0.4), VectorXd::Ones(3));
  } catch (const bomf::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("lower bounds sum to 1.2"), std::string::npos) << e.what();
  }
  // Σl = 1 exactly: a single feasible point.
  VectorXd l(2);
  l << 0.25, 0.75;
  const Simplex point(l, VectorXd::Ones(2));
  EXPECT_EQ(point.project(VectorXd::Constant(2, 5.0)), l);
}

TEST(SobolSimplexPoints, FeasibleDeterministicAndUniformInMean) {
  for (Index n : {2, 3, 15, 64}) {
    const Simplex simplex(n);
    const Eigen::MatrixXd a = bomf::sobol_simplex_points(simplex, 1024, 7);
    const Eigen::MatrixXd b = bomf::sobol_simplex_points(simplex, 1024, 7);
    const Eigen::MatrixXd c = bomf::sobol_simplex_points(simplex, 1024, 8);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
    for (Index r = 0; r < a.rows(); ++r)
      ASSERT_TRUE(simplex.contains(a.row(r).transpose()));
    // Uniform Dirichlet: mean 1/N, var (N−1)/(N²(N+1)).
    const VectorXd mean = a.colwise().mean().transpose();
    const double sd = std::sqrt((n - 1.0) / (n * n * (n + 1.0)));
    EXPECT_LE((mean.array() - 1.0 / n).abs().maxCoeff(), 4.0 * sd / std::sqrt(1024.0)) << n;
    std::set<std::vector<double>> distinct;
    for (Index r = 0; r < a.rows(); ++r) {
      const VectorXd row = a.row(r).transpose();
      distinct.insert(std::vector<double>(row.data(), row.data() + n));
    }
    EXPECT_EQ(distinct.size(), 1024u);
  }
}

TEST(SobolSimplexPoints, BoundedAndPerturbedPointsAreFeasible) {
  VectorXd l = VectorXd::Zero(6), u = VectorXd::Constant(6, 0.4);
  l(5) = 0.1;
  const Simplex simplex(l, u);
  const Eigen::MatrixXd p = bomf::sobol_simplex_points(simplex, 500, 3);
  for (Index r = 0; r < p.rows(); ++r)
    ASSERT_TRUE(simplex.contains(p.row(r).transpose()));
  std::mt19937_64 rng(4);
  const Eigen::MatrixXd near = bomf::perturbed_simplex_points(simplex, p.topRows(3), 300, 0.2, rng);
  Index on_bound = 0;
  for (Index r = 0; r < near.rows(); ++r) {
    ASSERT_TRUE(simplex.contains(near.row(r).transpose()));
    on_bound += (near.row(r).array() == l.transpose().array()).count();
  }
  EXPECT_GT(on_bound, 0);  // perturbation + projection reaches faces exactly
  EXPECT_THROW(bomf::perturbed_simplex_points(simplex, Eigen::MatrixXd(0, 6), 3, 0.1, rng),
               bomf::invalid_argument);
  EXPECT_THROW(bomf::perturbed_simplex_points(simplex, p.topRows(1), 3, -1.0, rng),
               bomf::invalid_argument);
}

TEST(SelectRestarts, FollowsInitializeQBatch) {
  std::mt19937_64 rng(5);
  VectorXd values = VectorXd::LinSpaced(100, 0.0, 1.0);
  values(37) = 10.0;  // the best is always included
  for (int rep = 0; rep < 50; ++rep) {
    const auto idx = bomf::select_restarts(values, 10, 1.0, rng);
    ASSERT_EQ(idx.size(), 10u);
    EXPECT_NE(std::find(idx.begin(), idx.end(), 37), idx.end());
    EXPECT_EQ(std::set<Index>(idx.begin(), idx.end()).size(), 10u);
  }
  // n ≥ count: every index.
  EXPECT_EQ(bomf::select_restarts(values.head(5), 8, 1.0, rng).size(), 5u);
  // Boltzmann bias: with a large eta, high values are drawn far more often than low ones.
  VectorXd ramp = VectorXd::LinSpaced(50, 0.0, 1.0);
  int high = 0, low = 0;
  for (int rep = 0; rep < 400; ++rep) {
    for (Index i : bomf::select_restarts(ramp, 3, 4.0, rng)) {
      high += i >= 40;
      low += i < 10;
    }
  }
  EXPECT_GT(high, 5 * low);
  // Equal values: random distinct choice. Non-finite values are not drawn when avoidable.
  const auto same = bomf::select_restarts(VectorXd::Ones(20), 4, 1.0, rng);
  EXPECT_EQ(std::set<Index>(same.begin(), same.end()).size(), 4u);
  VectorXd holes = VectorXd::LinSpaced(20, 0.0, 1.0);
  for (Index i = 0; i < 20; i += 2)
    holes(i) = std::numeric_limits<double>::quiet_NaN();
  for (Index i : bomf::select_restarts(holes, 5, 1.0, rng))
    EXPECT_EQ(i % 2, 1);
  // Deterministic given the generator state.
  std::mt19937_64 r1(9), r2(9);
  EXPECT_EQ(bomf::select_restarts(ramp, 7, 1.0, r1), bomf::select_restarts(ramp, 7, 1.0, r2));
  EXPECT_THROW(bomf::select_restarts(ramp, 0, 1.0, rng), bomf::invalid_argument);
  EXPECT_THROW(bomf::select_restarts(ramp, 3, 0.0, rng), bomf::invalid_argument);
  EXPECT_THROW(bomf::select_restarts(VectorXd(), 3, 1.0, rng), bomf::invalid_argument);
}

}  // namespace
