// Tests of bomf/math/safe_math.hpp at the numerical extremes, with derivatives checked against
// central finite differences and infinities against BoTorch's documented semantics.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "bomf/math/safe_math.hpp"
#include "support/reference.hpp"

namespace {

using bomf::test::close;
constexpr double kInf = std::numeric_limits<double>::infinity();

// Central difference with a relative step.
double central_difference(const std::function<double(double)>& f, double x) {
  const double h = 1e-6 * std::max(1.0, std::abs(x));
  return (f(x + h) - f(x - h)) / (2 * h);
}

TEST(Log1mexp, AccurateAtBothEnds) {
  // log(1 − e^x) ≈ log(−x) for tiny |x|; ≈ −e^x for very negative x.
  EXPECT_TRUE(close(bomf::log1mexp(-1e-20), std::log(1e-20), 1e-15));
  EXPECT_TRUE(close(bomf::log1mexp(-50.0), -std::exp(-50.0), 1e-15));
  EXPECT_TRUE(close(bomf::log1mexp(-1.0), std::log(1.0 - std::exp(-1.0)), 1e-15));
  EXPECT_EQ(bomf::log1mexp(-800.0), 0.0);
  EXPECT_EQ(bomf::log1mexp(0.0), -kInf);
  EXPECT_EQ(bomf::log1mexp(-kInf), 0.0);
  EXPECT_TRUE(std::isnan(bomf::log1mexp(0.5)));
  // Continuity at the switch x = −log 2.
  const double b = -std::log(2.0);
  EXPECT_TRUE(close(bomf::log1mexp(std::nextafter(b, 0.0)), bomf::log1mexp(b), 1e-15));
}

TEST(Log1mexp, DerivativeMatchesFiniteDifferences) {
  for (double x : {-1e-3, -0.1, -0.6931, -0.6932, -2.0, -30.0}) {
    EXPECT_TRUE(close(bomf::log1mexp_with_derivative(x).derivative,
                      central_difference(bomf::log1mexp, x), 1e-6))
        << "x = " << x;
  }
  EXPECT_EQ(bomf::log1mexp_with_derivative(0.0).derivative, -kInf);
  EXPECT_EQ(bomf::log1mexp_with_derivative(-kInf).derivative, 0.0);
}

TEST(Log1pexp, AccurateAtBothEnds) {
  EXPECT_TRUE(close(bomf::log1pexp(-40.0), std::exp(-40.0), 1e-15));
  EXPECT_TRUE(close(bomf::log1pexp(0.0), std::log(2.0), 1e-16));
  EXPECT_TRUE(close(bomf::log1pexp(30.0), 30.0 + std::exp(-30.0), 1e-16));
  EXPECT_EQ(bomf::log1pexp(800.0), 800.0);  // no overflow
  EXPECT_EQ(bomf::log1pexp(-kInf), 0.0);
  EXPECT_EQ(bomf::log1pexp(kInf), kInf);
  EXPECT_TRUE(close(bomf::log1pexp(std::nextafter(18.0, 19.0)), bomf::log1pexp(18.0), 1e-15));
  for (double x : {-30.0, -1.0, 0.3, 17.9, 18.1, 25.0}) {
    EXPECT_TRUE(close(bomf::log1pexp_with_derivative(x).derivative,
                      central_difference(bomf::log1pexp, x), 1e-6))
        << "x = " << x;
  }
  EXPECT_EQ(bomf::log1pexp_with_derivative(-kInf).derivative, 0.0);
  EXPECT_EQ(bomf::log1pexp_with_derivative(800.0).derivative, 1.0);
}

TEST(Logexpit, IsTheLogSigmoid) {
  EXPECT_TRUE(close(bomf::logexpit(0.0), -std::log(2.0), 1e-16));
  EXPECT_TRUE(close(bomf::logexpit(-800.0), -800.0, 1e-16));
  EXPECT_TRUE(close(bomf::logexpit(40.0), -std::exp(-40.0), 1e-15));
  EXPECT_TRUE(close(bomf::logexpit_with_derivative(-3.0).derivative,
                    central_difference(bomf::logexpit, -3.0), 1e-7));
}

TEST(Softplus, FollowsPyTorchThresholdSemantics) {
  EXPECT_EQ(bomf::softplus(20.5), 20.5);  // linear above threshold 20
  EXPECT_TRUE(close(bomf::softplus(19.5), std::log1p(std::exp(19.5)), 1e-16));
  EXPECT_TRUE(close(bomf::softplus(1.0, 2.0), std::log1p(std::exp(2.0)) / 2.0, 1e-16));
  EXPECT_EQ(bomf::softplus(11.0, 2.0, 20.0), 11.0);  // β·x = 22 > 20
  EXPECT_EQ(bomf::softplus_with_derivative(30.0).derivative, 1.0);
  EXPECT_TRUE(close(bomf::softplus_with_derivative(-2.0, 3.0).derivative,
                    central_difference([](double x) { return bomf::softplus(x, 3.0); }, -2.0),
                    1e-7));
}

TEST(Softplus, ShortcutBelowTheUnderflowIsBitIdenticalToTheFormula) {
  // Below β·x = −746 softplus returns 0 without calling exp; around and past that point (where
  // exp turns subnormal, then 0) it must agree bit for bit with log1p(exp(β·x))/β, σ(β·x).
  for (double beta : {1.0, 1e6, 0.5}) {
    for (double bx = -800.0; bx <= -700.0; bx += 0.25) {
      const double x = bx / beta;
      const double e = std::exp(x * beta);
      const bomf::ValueAndDerivative s = bomf::softplus_with_derivative(x, beta);
      EXPECT_EQ(s.value, std::log1p(e) / beta) << bx;
      EXPECT_EQ(s.derivative, e / (e + 1.0)) << bx;
      EXPECT_FALSE(std::signbit(s.value)) << bx;
    }
  }
  EXPECT_EQ(bomf::softplus(-1e300), 0.0);
  EXPECT_EQ(bomf::softplus_with_derivative(-kInf).derivative, 0.0);
}

TEST(Logplusexp, StableAndWithPartials) {
  EXPECT_TRUE(close(bomf::logplusexp(1000.0, 1000.0), 1000.0 + std::log(2.0), 1e-16));
  EXPECT_TRUE(
      close(bomf::logplusexp(-1000.0, -1001.0), -1000.0 + std::log1p(std::exp(-1.0)), 1e-16));
  EXPECT_EQ(bomf::logplusexp(-kInf, 3.0), 3.0);
  EXPECT_EQ(bomf::logplusexp(-kInf, -kInf), -kInf);
  const bomf::ValueAndPartials inf = bomf::logplusexp_with_partials(kInf, 5.0);
  EXPECT_EQ(inf.value, kInf);
  EXPECT_EQ(inf.d_a, 1.0);
  EXPECT_EQ(inf.d_b, 0.0);
  const bomf::ValueAndPartials both_neg_inf = bomf::logplusexp_with_partials(-kInf, -kInf);
  EXPECT_EQ(both_neg_inf.d_a, 1.0);  // BoTorch's gradient convention for an all −∞ slice
  EXPECT_EQ(both_neg_inf.d_b, 1.0);
  const bomf::ValueAndPartials r = bomf::logplusexp_with_partials(-2.0, 1.5);
  EXPECT_NEAR(r.d_a + r.d_b, 1.0, 1e-15);
  EXPECT_TRUE(close(
      r.d_a, central_difference([](double a) { return bomf::logplusexp(a, 1.5); }, -2.0), 1e-7));
  EXPECT_EQ(bomf::logplusexp_with_partials(-kInf, 2.0).d_a, 0.0);
}

TEST(Logdiffexp, StableAndWithPartials) {
  EXPECT_TRUE(close(bomf::logdiffexp(0.0, std::log(3.0)), std::log(2.0), 1e-15));
  // b − a tiny relative to b: log(e^{−1000}(1 − e^{−d})) = −1000 + log d − d/2 + O(d²), with
  // d = 2^−33 so that −1000 − d is exact.
  const double d = std::ldexp(1.0, -33);
  EXPECT_TRUE(close(bomf::logdiffexp(-1000.0 - d, -1000.0), -1000.0 + std::log(d) - d / 2, 1e-15));
  EXPECT_EQ(bomf::logdiffexp(-kInf, 4.0), 4.0);
  EXPECT_EQ(bomf::logdiffexp(2.0, 2.0), -kInf);
  EXPECT_EQ(bomf::logdiffexp(-kInf, -kInf), -kInf);
  EXPECT_TRUE(std::isnan(bomf::logdiffexp(3.0, 2.0)));
  const bomf::ValueAndPartials r = bomf::logdiffexp_with_partials(-1.0, 0.5);
  EXPECT_TRUE(close(
      r.d_a, central_difference([](double a) { return bomf::logdiffexp(a, 0.5); }, -1.0), 1e-7));
  EXPECT_TRUE(close(
      r.d_b, central_difference([](double b) { return bomf::logdiffexp(-1.0, b); }, 0.5), 1e-7));
  const bomf::ValueAndPartials neg_inf = bomf::logdiffexp_with_partials(-kInf, -kInf);
  EXPECT_EQ(neg_inf.d_b, 1.0);
  EXPECT_EQ(neg_inf.d_a, 0.0);
}

TEST(Logsumexp, StableWithSoftmaxWeights) {
  Eigen::VectorXd x(4);
  x << 1000.0, 999.0, -1e300, 998.5;
  const double expected = 1000.0 + std::log(1.0 + std::exp(-1.0) + std::exp(-1.5));
  EXPECT_TRUE(close(bomf::logsumexp(x), expected, 1e-16));
  Eigen::VectorXd w(4);
  EXPECT_TRUE(close(bomf::logsumexp(x, w), expected, 1e-16));
  EXPECT_NEAR(w.sum(), 1.0, 1e-15);
  EXPECT_EQ(w(2), 0.0);
  for (Eigen::Index i : {0, 1, 3}) {
    auto f = [&](double v) {
      Eigen::VectorXd y = x;
      y(i) = v;
      return bomf::logsumexp(y);
    };
    EXPECT_TRUE(close(w(i), central_difference(f, x(i)), 1e-6)) << "i = " << i;
  }
  EXPECT_TRUE(close(bomf::logmeanexp(x), expected - std::log(4.0), 1e-16));
}

TEST(Logsumexp, InfinitiesAsBoTorch) {
  Eigen::VectorXd x(3);
  Eigen::VectorXd w(3);
  x << -kInf, -kInf, -kInf;
  EXPECT_EQ(bomf::logsumexp(x, w), -kInf);
  EXPECT_EQ(w, Eigen::VectorXd::Ones(3));
  x << 2.0, kInf, -kInf;
  EXPECT_EQ(bomf::logsumexp(x, w), kInf);
  EXPECT_EQ(w, Eigen::Vector3d(0.0, 1.0, 0.0));
  x << 2.0, 1.0, -kInf;
  EXPECT_TRUE(close(bomf::logsumexp(x, w), 2.0 + std::log1p(std::exp(-1.0)), 1e-16));
  EXPECT_EQ(w(2), 0.0);
  EXPECT_EQ(bomf::logsumexp(Eigen::VectorXd(0)), -kInf);
}

TEST(Logsumexp, WorksOnStridedViewsAndChecksLengths) {
  Eigen::MatrixXd m(3, 4);
  m << 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12;
  Eigen::MatrixXd weights = Eigen::MatrixXd::Zero(3, 4);
  const double row = bomf::logsumexp(m.row(1).transpose(), weights.row(1).transpose());
  const Eigen::VectorXd copy = m.row(1).transpose();
  EXPECT_EQ(row, bomf::logsumexp(copy));
  EXPECT_NEAR(weights.row(1).sum(), 1.0, 1e-15);
  EXPECT_EQ(weights.row(0).squaredNorm(), 0.0);
  Eigen::VectorXd wrong(2);
  EXPECT_THROW(bomf::logsumexp(copy, wrong), bomf::invalid_argument);
  EXPECT_THROW(bomf::logmeanexp(Eigen::VectorXd(0)), bomf::invalid_argument);
  Eigen::VectorXd w4(4);
  EXPECT_TRUE(close(bomf::logmeanexp(copy, w4), bomf::logsumexp(copy) - std::log(4.0), 1e-16));
  EXPECT_NEAR(w4.sum(), 1.0, 1e-15);
}

}  // namespace
