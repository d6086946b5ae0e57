// Tests of bomf/math/smooth_approximations.hpp: BoTorch's formulas recomputed independently in
// long double, the properties the qLogNEHVI smoothing relies on (bounds, monotonicity, fat
// tails, gradients summing to one), derivatives against central finite differences, and the
// extremes (τ = 1e-6 far from the kink, ties, infinities).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "bomf/math/smooth_approximations.hpp"
#include "support/reference.hpp"

namespace {

using bomf::test::close;
constexpr double kInf = std::numeric_limits<double>::infinity();

double central_difference(const std::function<double(double)>& f, double x, double scale) {
  const double h = 1e-6 * scale;
  return (f(x + h) - f(x - h)) / (2 * h);
}

// BoTorch's fatplus written out in long double: τ·(softplus(x/τ) + 0.1/(1 + (x/τ)²)).
long double fatplus_reference(long double x, long double tau) {
  const long double u = x / tau;
  const long double sp = u > 20 ? u : std::log1p(std::exp(u));
  return tau * (sp + 0.1L / (1 + u * u));
}

TEST(Fatplus, MatchesTheFormulaAndHasAFatTail) {
  for (double tau : {1.0, 1e-3, 1e-6}) {
    for (double x : {-1e3, -1.0, -1e-5, -1e-7, 0.0, 1e-7, 3e-6, 2e-5, 0.5, 100.0}) {
      const double ref = static_cast<double>(fatplus_reference(x, tau));
      EXPECT_TRUE(close(bomf::fatplus(x, tau), ref, 1e-14)) << "x = " << x << ", tau = " << tau;
      EXPECT_TRUE(close(bomf::log_fatplus(x, tau), std::log(ref), 1e-14, 1e-14))
          << "x = " << x << ", tau = " << tau;
    }
  }
  // Far left tail ≈ 0.1·τ³/x²: log stays finite and its slope is ≈ −2/x (not ~1/τ).
  const double tau = 1e-6;
  const bomf::ValueAndDerivative r = bomf::log_fatplus_with_derivative(-1.0, tau);
  EXPECT_TRUE(close(r.value, std::log(0.1 * tau * tau * tau), 1e-11));
  EXPECT_TRUE(close(r.derivative, 2.0, 1e-6));
  EXPECT_TRUE(std::isfinite(bomf::log_fatplus(-1e100, tau)));
  // Right: fatplus(x) → x.
  EXPECT_TRUE(close(bomf::fatplus(0.3, tau), 0.3, 1e-12));
}

TEST(Fatplus, MonotoneConvexAndDerivativesMatchFiniteDifferences) {
  const double tau = 1e-2;
  double previous = bomf::fatplus(-1.0, tau);
  double previous_slope = bomf::fatplus_with_derivative(-1.0, tau).derivative;
  for (double x = -0.99; x < 1.0; x += 0.01) {
    const bomf::ValueAndDerivative f = bomf::fatplus_with_derivative(x, tau);
    EXPECT_GT(f.value, previous) << "x = " << x;
    EXPECT_GE(f.derivative, previous_slope) << "x = " << x;
    previous = f.value;
    previous_slope = f.derivative;
  }
  for (double tau2 : {1.0, 1e-6}) {
    for (double x : {-3.0, -0.1, 0.0, 0.2, 5.0}) {
      const double xs = x * tau2 * 10;  // probe around the kink at the scale of τ
      const auto fp = [&](double v) { return bomf::fatplus(v, tau2); };
      const auto lfp = [&](double v) { return bomf::log_fatplus(v, tau2); };
      EXPECT_TRUE(close(bomf::fatplus_with_derivative(xs, tau2).derivative,
                        central_difference(fp, xs, tau2), 1e-6))
          << "x = " << xs;
      EXPECT_TRUE(close(bomf::log_fatplus_with_derivative(xs, tau2).derivative,
                        central_difference(lfp, xs, tau2), 1e-6))
          << "x = " << xs;
    }
  }
}

TEST(LogSoftplus, BranchesAgreeAndDerivativeIsRight) {
  const double tau = 1e-6;
  // Below x/τ = −35 the asymptote x/τ + log τ; above, log(τ·log1p(exp(x/τ))).
  const double at = -35.0 * tau;
  EXPECT_TRUE(
      close(bomf::log_softplus(std::nextafter(at, 0.0), tau), bomf::log_softplus(at, tau), 1e-14));
  EXPECT_TRUE(close(bomf::log_softplus(-1.0, tau), -1.0 / tau + std::log(tau), 1e-15));
  EXPECT_TRUE(close(bomf::log_softplus(2.0, 1.0), std::log(std::log1p(std::exp(2.0))), 1e-15));
  EXPECT_TRUE(close(bomf::log_softplus(40.0 * tau, tau), std::log(40.0 * tau), 1e-15));
  for (double x : {-50.0, -1.0, 0.0, 3.0, 40.0}) {
    const double xs = x * tau;
    EXPECT_TRUE(close(
        bomf::log_softplus_with_derivative(xs, tau).derivative,
        central_difference([&](double v) { return bomf::log_softplus(v, tau); }, xs, tau), 1e-6))
        << "x/tau = " << x;
  }
}

TEST(Pareto, HasUnitValueSlopeAndCurvatureAtZero) {
  for (double alpha : {1.0, 2.0, 3.5}) {
    const bomf::ValueAndDerivative p0 = bomf::pareto_with_derivative(0.0, alpha);
    EXPECT_DOUBLE_EQ(p0.value, 1.0);
    EXPECT_DOUBLE_EQ(p0.derivative, -1.0);
    const double h = 1e-4;
    const double second = (bomf::pareto_with_derivative(h, alpha).derivative -
                           bomf::pareto_with_derivative(0.0, alpha).derivative) /
                          h;
    EXPECT_NEAR(second, 1.0, 1e-3) << "alpha = " << alpha;
    // O(t^−α) decay: p(t)·t^α → β₀^(α/2) with β₀ = α²/2.
    const double t = 1e7;
    EXPECT_TRUE(close(bomf::pareto_with_derivative(t, alpha).value * std::pow(t, alpha),
                      std::pow(alpha * alpha / 2, alpha / 2), 1e-5))
        << "alpha = " << alpha;
    const double tt = 2.7;
    EXPECT_TRUE(
        close(bomf::pareto_with_derivative(tt, alpha).derivative,
              central_difference(
                  [&](double v) { return bomf::pareto_with_derivative(v, alpha).value; }, tt, 1.0),
              1e-7));
  }
}

TEST(Fatmax, BoundsGradientAndFormula) {
  Eigen::VectorXd x(5);
  x << 0.3, -0.2, 0.29, -5.0, 0.1;
  for (double tau : {1.0, 1e-2, 1e-3}) {
    Eigen::VectorXd g(5);
    const double v = bomf::fatmax(x, g, tau);
    EXPECT_EQ(v, bomf::fatmax(x, tau));
    EXPECT_GE(v, x.maxCoeff());
    EXPECT_LE(v, x.maxCoeff() + tau * std::log(5.0));
    // BoTorch's formula, α = 2: M + τ log Σ 2/(2 + 2t + t²), t = (M − x)/τ.
    long double s = 0;
    for (Eigen::Index i = 0; i < 5; ++i) {
      const long double t = (0.3L - x(i)) / tau;
      s += 2 / (2 + 2 * t + t * t);
    }
    EXPECT_TRUE(close(v, static_cast<double>(0.3L + tau * std::log(s)), 1e-15));
    EXPECT_NEAR(g.sum(), 1.0, 1e-14);
    EXPECT_TRUE((g.array() > 0).all());
    for (Eigen::Index i = 0; i < 5; ++i) {
      auto f = [&](double value) {
        Eigen::VectorXd y = x;
        y(i) = value;
        return bomf::fatmax(y, tau);
      };
      EXPECT_TRUE(close(g(i), central_difference(f, x(i), 10 * tau), 1e-6, 1e-8))
          << "i = " << i << ", tau = " << tau;
    }
  }
}

TEST(Fatmax, FatTailKeepsGradientsOfFarEntries) {
  // With τ = 1e-3 an entry Δ = 1 below the max still gets gradient ≈ 4(τ/Δ)³ (power law),
  // where the logsumexp-based smooth_amax gives exp(−1000) = 0.
  Eigen::Vector2d x(0.0, -1.0);
  Eigen::Vector2d g;
  bomf::fatmax(x, g, 1e-3);
  EXPECT_TRUE(close(g(1), 4e-9, 1e-2));
  Eigen::Vector2d gs;
  bomf::smooth_amax(x, gs, 1e-3);
  EXPECT_EQ(gs(1), 0.0);
}

TEST(Fatmax, TiesInfinitiesAndArgumentChecks) {
  Eigen::Vector2d tie(1.0, 1.0);
  Eigen::Vector2d g;
  EXPECT_TRUE(close(bomf::fatmax(tie, g, 0.5), 1.0 + 0.5 * std::log(2.0), 1e-15));
  EXPECT_NEAR(g(0), 0.5, 1e-15);
  EXPECT_NEAR(g(1), 0.5, 1e-15);
  Eigen::Vector3d with_inf(1.0, kInf, -kInf);
  Eigen::Vector3d g3;
  EXPECT_EQ(bomf::fatmax(with_inf, g3), kInf);
  EXPECT_EQ(g3, Eigen::Vector3d(0.0, 1.0, 0.0));
  Eigen::Vector3d all_neg_inf(-kInf, -kInf, -kInf);
  EXPECT_EQ(bomf::fatmax(all_neg_inf), -kInf);
  EXPECT_EQ(bomf::fatmin(with_inf), -kInf);
  EXPECT_THROW(bomf::fatmax(Eigen::VectorXd(0)), bomf::invalid_argument);
  EXPECT_THROW(bomf::fatmax(tie, 0.0), bomf::invalid_argument);
  EXPECT_THROW(bomf::fatmax(tie, std::nan("")), bomf::invalid_argument);
  Eigen::Vector3d wrong;
  EXPECT_THROW(bomf::fatmax(tie, wrong, 1.0), bomf::invalid_argument);
}

TEST(Fatmin, IsTheNegatedFatmaxOfTheNegation) {
  Eigen::VectorXd x(4);
  x << 2.0, -1.0, -0.99, 3.0;
  Eigen::VectorXd g(4);
  Eigen::VectorXd gmax(4);
  const double v = bomf::fatmin(x, g, 1e-2);
  EXPECT_EQ(v, -bomf::fatmax(-x, gmax, 1e-2));
  EXPECT_EQ(g, gmax);
  EXPECT_LE(v, x.minCoeff());
  EXPECT_EQ(v, bomf::fatmin(x, 1e-2));
  // Larger than the stack buffer.
  Eigen::VectorXd big = Eigen::VectorXd::LinSpaced(100, -3.0, 5.0);
  Eigen::VectorXd gbig(100);
  EXPECT_EQ(bomf::fatmin(big, gbig, 0.1), -bomf::fatmax(-big, 0.1));
  EXPECT_NEAR(gbig.sum(), 1.0, 1e-14);
}

TEST(Fatmaximum, PairwiseVersionsAgreeWithTheReductions) {
  const bomf::ValueAndPartials mx = bomf::fatmaximum_with_partials(0.2, -0.1, 0.05);
  Eigen::Vector2d g;
  EXPECT_EQ(mx.value, bomf::fatmax(Eigen::Vector2d(0.2, -0.1), g, 0.05));
  EXPECT_EQ(mx.d_a, g(0));
  EXPECT_EQ(mx.d_b, g(1));
  EXPECT_EQ(bomf::fatmaximum(0.2, -0.1, 0.05), mx.value);
  EXPECT_EQ(bomf::fatmaximum(-0.1, 0.2, 0.05), mx.value);  // symmetric
  const bomf::ValueAndPartials mn = bomf::fatminimum_with_partials(0.2, -0.1, 0.05);
  EXPECT_EQ(mn.value, bomf::fatmin(Eigen::Vector2d(0.2, -0.1), g, 0.05));
  EXPECT_EQ(mn.d_a, g(0));
  EXPECT_EQ(mn.d_b, g(1));
  EXPECT_LE(mn.value, -0.1);
  EXPECT_TRUE(
      close(mn.d_b,
            central_difference([](double b) { return bomf::fatminimum(0.2, b, 0.05); }, -0.1, 0.05),
            1e-6));
}

TEST(Fatmaximum, ScalarPathIsBitIdenticalToTheVectorFormIncludingTiesAndInfinities) {
  const double inf = std::numeric_limits<double>::infinity();
  const double values[] = {-inf, -1e3, -2.5, -1e-7, 0.0, 1e-9, 0.3, 0.3000001, 7.0, 1e6, inf};
  // Identical doubles, or NaN on both sides (e.g. the gradient of fatmax(−∞, x) at tiny τ).
  const auto same = [](double x, double y) { return (std::isnan(x) && std::isnan(y)) || x == y; };
  for (const double tau : {1e-6, 1e-3, 1.0}) {
    for (const double a : values) {
      for (const double b : values) {
        Eigen::Vector2d g;
        const double expected = bomf::fatmax(Eigen::Vector2d(a, b), g, tau);
        const bomf::ValueAndPartials got = bomf::fatmaximum_with_partials(a, b, tau);
        EXPECT_TRUE(same(got.value, expected)) << a << " " << b << " " << tau;
        EXPECT_TRUE(same(got.d_a, g(0))) << a << " " << b << " " << tau;
        EXPECT_TRUE(same(got.d_b, g(1))) << a << " " << b << " " << tau;
      }
    }
  }
}

TEST(SmoothAmax, IsTauTimesLogsumexp) {
  Eigen::Vector3d x(1.0, 0.5, -2.0);
  Eigen::Vector3d g;
  const double tau = 0.1;
  const double expected = tau * std::log(std::exp(10.0) + std::exp(5.0) + std::exp(-20.0));
  EXPECT_TRUE(close(bomf::smooth_amax(x, g, tau), expected, 1e-15));
  EXPECT_NEAR(g.sum(), 1.0, 1e-15);
  EXPECT_TRUE(close(bomf::smooth_amin(x, g, tau),
                    -tau * std::log(std::exp(-10.0) + std::exp(-5.0) + std::exp(20.0)), 1e-15));
  EXPECT_GT(g(2), 0.99);
  EXPECT_EQ(bomf::smooth_amin(x, tau), bomf::smooth_amin(x, g, tau));
}

TEST(Fatmoid, StepApproximationWithFatLeftTail) {
  EXPECT_TRUE(close(bomf::fatmoid(0.0), 1.0 - 2.0 / 3.0 * 0.75, 1e-15));  // 1 − 2/3·1/(1 + 1/3)
  EXPECT_TRUE(close(bomf::fatmoid(std::nextafter(0.0, -1.0)), 2.0 / 3.0 * 0.75, 1e-15));
  EXPECT_GT(bomf::fatmoid(1e3), 0.999999);
  EXPECT_TRUE(close(bomf::fatmoid(-1e3), 2.0 / 3.0 / (1.0 + 1e6), 1e-2));  // O(1/x²)
  for (double x : {-4.0, -0.3, 0.3, 2.0}) {
    EXPECT_TRUE(
        close(bomf::log_fatmoid_with_derivative(x, 0.5).derivative,
              central_difference([](double v) { return bomf::log_fatmoid(v, 0.5); }, x, 1.0), 1e-6))
        << "x = " << x;
  }
}

}  // namespace
