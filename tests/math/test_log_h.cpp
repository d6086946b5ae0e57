// Tests of bomf/math/log_h.hpp against the 80-digit mpmath columns and BoTorch's
// `_log_ei_helper` in tests/data/log_ei.json.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "bomf/math/log_h.hpp"
#include "support/reference.hpp"

namespace {

struct Region {
  const char* name;
  double lo;  // z in (lo, hi]
  double hi;
  double value_tol;       // |a − b| ≤ tol·max(1, |b|), against mpmath
  double derivative_tol;  // relative, against mpmath
};

// The measured maxima are printed by the test; the tolerances are the claims of log_h.hpp.
constexpr Region kRegions[] = {
    {"direct z > -1", -1.0, 1e300, 1e-15, 2e-15},
    {"erfcx -3 < z <= -1", -3.0, -1.0, 1e-15, 1e-14},
    {"continued fraction -1e3 <= z <= -3", -1e3 - 1.0, -3.0, 1e-15, 2e-15},
    {"asymptotic z < -1e3", -1e300, -1e3 - 1.0, 1e-15, 2e-15},
};

TEST(LogH, MatchesMpmathInEveryRegion) {
  const auto ref = bomf::test::load_reference("log_ei.json").at("log_h");
  const Eigen::VectorXd z = bomf::test::to_vector(ref.at("z"));
  const Eigen::VectorXd log_h = bomf::test::to_vector(ref.at("log_h_mpmath"));
  const Eigen::VectorXd d_log_h = bomf::test::to_vector(ref.at("d_log_h_dz_mpmath"));
  ASSERT_GT(z.size(), 100);
  for (const Region& region : kRegions) {
    double worst_value = 0.0;
    double worst_derivative = 0.0;
    int count = 0;
    for (Eigen::Index i = 0; i < z.size(); ++i) {
      if (!(z(i) > region.lo && z(i) <= region.hi)) {
        continue;
      }
      ++count;
      const bomf::ValueAndDerivative r = bomf::log_h_with_derivative(z(i));
      const double value_err = std::abs(r.value - log_h(i)) / std::max(1.0, std::abs(log_h(i)));
      const double derivative_err = std::abs(r.derivative - d_log_h(i)) / std::abs(d_log_h(i));
      worst_value = std::max(worst_value, value_err);
      worst_derivative = std::max(worst_derivative, derivative_err);
      EXPECT_LE(value_err, region.value_tol) << region.name << ", z = " << z(i);
      EXPECT_LE(derivative_err, region.derivative_tol) << region.name << ", z = " << z(i);
      EXPECT_EQ(bomf::log_h(z(i)), r.value);
    }
    EXPECT_GT(count, 3) << region.name;
    std::printf("[log_h] %-40s n = %3d  max value err %.2e  max derivative err %.2e\n", region.name,
                count, worst_value, worst_derivative);
  }
}

TEST(LogH, DerivativeMatchesBoTorchWhereBoTorchIsAccurate) {
  // BoTorch's own derivative loses digits below z ≈ −1e3 (log1mexp of w ≈ −1/z²; the file's
  // self_check gives 3.9e-7 there), so the 1e-9 comparison is made on [−1e3, 1e3].
  const auto ref = bomf::test::load_reference("log_ei.json").at("log_h");
  const Eigen::VectorXd z = bomf::test::to_vector(ref.at("z"));
  const Eigen::VectorXd log_h = bomf::test::to_vector(ref.at("log_h_botorch"));
  const Eigen::VectorXd d_log_h = bomf::test::to_vector(ref.at("d_log_h_dz_botorch"));
  for (Eigen::Index i = 0; i < z.size(); ++i) {
    const bomf::ValueAndDerivative r = bomf::log_h_with_derivative(z(i));
    EXPECT_TRUE(bomf::test::close(r.value, log_h(i), 2e-15, 2e-15)) << "z = " << z(i);
    if (std::abs(z(i)) <= 1e3) {
      EXPECT_TRUE(bomf::test::close(r.derivative, d_log_h(i), 1e-9)) << "z = " << z(i);
    } else {
      EXPECT_TRUE(bomf::test::close(r.derivative, d_log_h(i), 1e-6)) << "z = " << z(i);
    }
  }
}

TEST(LogH, AgreesWithTheNaiveFormulaWhereItDoesNotUnderflow) {
  const auto ref = bomf::test::load_reference("log_ei.json").at("log_h");
  const Eigen::VectorXd z = bomf::test::to_vector(ref.at("z"));
  const Eigen::VectorXd h = bomf::test::to_vector(ref.at("h_naive_botorch"));
  for (Eigen::Index i = 0; i < z.size(); ++i) {
    if (z(i) > -20.0) {
      EXPECT_TRUE(bomf::test::close(std::exp(bomf::log_h(z(i))), h(i), 1e-10)) << "z = " << z(i);
    }
  }
}

TEST(LogH, IsContinuousAtTheBranchPoints) {
  for (double b : {-1.0, -3.0, -4.0, -6.0, -12.0, -40.0, -300.0, -1e5}) {
    const bomf::ValueAndDerivative at = bomf::log_h_with_derivative(b);
    const bomf::ValueAndDerivative above = bomf::log_h_with_derivative(std::nextafter(b, 0.0));
    EXPECT_TRUE(bomf::test::close(above.value, at.value, 1e-14, 1e-14)) << "z = " << b;
    EXPECT_TRUE(bomf::test::close(above.derivative, at.derivative, 1e-13)) << "z = " << b;
  }
}

TEST(LogH, DerivativeMatchesFiniteDifferencesAcrossTheRange) {
  for (double z : {-1e6, -2e3, -57.0, -7.5, -3.2, -2.0, -1.2, -0.5, 0.0, 0.8, 4.0, 30.0, 900.0}) {
    const double step = 1e-6 * std::max(1.0, std::abs(z));
    const double fd = (bomf::log_h(z + step) - bomf::log_h(z - step)) / (2 * step);
    EXPECT_TRUE(bomf::test::close(bomf::log_h_with_derivative(z).derivative, fd, 1e-6))
        << "z = " << z;
  }
}

TEST(LogH, FiniteFarBeyondTheReferenceRange) {
  for (double z : {-1e8, -1e12, -1e100, -1e150, 1e5, 1e100}) {
    const bomf::ValueAndDerivative r = bomf::log_h_with_derivative(z);
    EXPECT_TRUE(std::isfinite(r.value)) << "z = " << z;
    EXPECT_TRUE(std::isfinite(r.derivative)) << "z = " << z;
    EXPECT_GT(r.derivative, 0.0) << "z = " << z;
  }
  // Asymptote log h(z) = −z²/2 − log √(2π) − 2 log|z| + O(z⁻²) and derivative |z| + 2/|z|.
  const double z = -1e12;
  EXPECT_TRUE(bomf::test::close(bomf::log_h(z),
                                -0.5 * z * z - 0.9189385332046727 - 2.0 * std::log(-z), 1e-16));
  EXPECT_TRUE(bomf::test::close(bomf::log_h_with_derivative(z).derivative, -z, 1e-16));
  // Large positive z: h(z) → z.
  EXPECT_TRUE(bomf::test::close(bomf::log_h(1e100), std::log(1e100), 1e-16));
}

TEST(LogH, SpecialValues) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(bomf::log_h(inf), inf);
  EXPECT_EQ(bomf::log_h(-inf), -inf);
  EXPECT_EQ(bomf::log_h_with_derivative(-inf).derivative, inf);
  EXPECT_TRUE(std::isnan(bomf::log_h(std::numeric_limits<double>::quiet_NaN())));
}

}  // namespace
