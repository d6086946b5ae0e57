// Tests of bomf/acquisition/log_ei.hpp without a GP: BoTorch's LogEI values from the recorded
// posterior means and variances (tests/data/log_ei.json), the gradient chain through a small
// analytic model against central finite differences, and the extremes (zero variance, z → −∞).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "bomf/acquisition/log_ei.hpp"
#include "support/reference.hpp"

namespace {

using bomf::test::close;
using bomf::test::to_matrix;
using bomf::test::to_vector;

TEST(LogEiReference, ValuesFromRecordedPosteriorsMatchBoTorch) {
  const auto ref = bomf::test::load_reference("log_ei.json");
  int checked = 0;
  double worst = 0.0;
  double most_negative_z = 0.0;
  for (const auto& c : ref.at("cases")) {
    const Eigen::VectorXd mean = to_vector(c.at("posterior_mean"));
    const Eigen::VectorXd var = to_vector(c.at("posterior_variance"));
    for (const auto& incumbent : c.at("log_ei")) {
      const double best_f = incumbent.at("best_f").get<double>();
      const Eigen::VectorXd z = to_vector(incumbent.at("z"));
      const Eigen::VectorXd log_ei = to_vector(incumbent.at("log_ei"));
      for (Eigen::Index i = 0; i < mean.size(); ++i) {
        const bomf::LogEiValue r = bomf::log_expected_improvement(mean(i), var(i), best_f);
        EXPECT_TRUE(close(r.z, z(i), 1e-12)) << "d = " << c.at("d") << ", point " << i;
        EXPECT_TRUE(close(r.value, log_ei(i), 1e-9)) << "d = " << c.at("d") << ", point " << i;
        worst = std::max(worst, std::abs(r.value - log_ei(i)) / std::abs(log_ei(i)));
        most_negative_z = std::min(most_negative_z, r.z);
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 60);
  EXPECT_LT(most_negative_z, -100.0);  // the deep-negative branch is exercised
  std::printf("[log_ei] %d reference values, max relative error %.2e\n", checked, worst);
}

TEST(LogEi, PartialsMatchFiniteDifferences) {
  struct Case {
    double mean, variance, best_f;
  };
  for (const Case& c : {Case{0.3, 0.04, 0.1}, Case{-2.0, 0.01, 1.0}, Case{1.0, 2.0, 1.0},
                        Case{-50.0, 0.25, 3.0}, Case{5.0, 1e-6, 4.0}}) {
    const bomf::LogEiValue r = bomf::log_expected_improvement(c.mean, c.variance, c.best_f);
    const double hm = 1e-6 * std::sqrt(c.variance);
    const double fd_mean =
        (bomf::log_expected_improvement(c.mean + hm, c.variance, c.best_f).value -
         bomf::log_expected_improvement(c.mean - hm, c.variance, c.best_f).value) /
        (2 * hm);
    const double hv = 1e-6 * c.variance;
    const double fd_var =
        (bomf::log_expected_improvement(c.mean, c.variance + hv, c.best_f).value -
         bomf::log_expected_improvement(c.mean, c.variance - hv, c.best_f).value) /
        (2 * hv);
    EXPECT_TRUE(close(r.d_mean, fd_mean, 1e-6)) << "mean " << c.mean;
    EXPECT_TRUE(close(r.d_variance, fd_var, 1e-6)) << "mean " << c.mean;
    EXPECT_GT(r.d_mean, 0.0);
    EXPECT_GE(r.d_variance, 0.0);  // underflows to 0 only for z ≫ 1 (the last case, z = 1000)
  }
}

TEST(LogEi, ZeroVarianceIsClampedAsBoTorch) {
  // σ = √1e-12 = 1e-6: mean above the incumbent gives ≈ log(mean − best_f) ...
  const bomf::LogEiValue above = bomf::log_expected_improvement(1.5, 0.0, 1.0);
  EXPECT_TRUE(close(above.value, std::log(0.5), 1e-12));
  EXPECT_EQ(above.d_variance, 0.0);  // clamped: no gradient through the variance
  EXPECT_TRUE(close(above.d_mean, 1.0 / 0.5, 1e-9));
  // ... and below it a very negative but finite value with a finite gradient.
  const bomf::LogEiValue below = bomf::log_expected_improvement(0.9, 0.0, 1.0);
  EXPECT_TRUE(std::isfinite(below.value));
  EXPECT_LT(below.value, -4.9e9);
  EXPECT_TRUE(std::isfinite(below.d_mean));
  EXPECT_TRUE(close(below.value, bomf::log_h(-1e5) + std::log(1e-6), 1e-15));
  // Negative variance (round-off in a posterior) behaves as zero.
  EXPECT_EQ(bomf::log_expected_improvement(0.9, -1e-17, 1.0).value, below.value);
  // Equal mean and incumbent: log φ(0) + log σ.
  EXPECT_TRUE(close(bomf::log_expected_improvement(1.0, 0.0, 1.0).value,
                    -0.5 * std::log(2 * M_PI) + std::log(1e-6), 1e-15));
}

TEST(LogEi, FiniteWhereExpectedImprovementUnderflows) {
  // EI = σ·h(z) = 0 in double for z < −38.5; LogEI and its gradient stay finite to z = −1e7.
  for (double gap : {10.0, 1e3, 1e5, 1e7}) {
    const bomf::LogEiValue r = bomf::log_expected_improvement(0.0, 1.0, gap);
    EXPECT_TRUE(std::isfinite(r.value)) << gap;
    EXPECT_TRUE(std::isfinite(r.d_mean)) << gap;
    EXPECT_TRUE(std::isfinite(r.d_variance)) << gap;
    EXPECT_TRUE(close(r.d_mean, gap + 2.0 / gap, 0.1)) << gap;  // (log h)′(z) ≈ |z| + 2/|z|
  }
}

TEST(LogEi, RejectsNonFiniteInputs) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(bomf::log_expected_improvement(nan, 1.0, 0.0), bomf::invalid_argument);
  EXPECT_THROW(bomf::log_expected_improvement(0.0, HUGE_VAL, 0.0), bomf::invalid_argument);
  EXPECT_THROW(bomf::log_expected_improvement(0.0, 1.0, -HUGE_VAL), bomf::invalid_argument);
}

// A small analytic model: mean(x) = sin(x₀) + x₁²/2, variance(x) = 0.1 + 0.5·exp(−|x|²),
// with exact gradients — for checking LogEI's chain rule without a GP.
struct AnalyticPosterior {
  double mean;
  double variance;
  Eigen::VectorXd mean_gradient;
  Eigen::VectorXd variance_gradient;
};

struct AnalyticModel {
  AnalyticPosterior posterior_at(const Eigen::Ref<const Eigen::VectorXd>& x) const {
    AnalyticPosterior p;
    p.mean = std::sin(x(0)) + 0.5 * x(1) * x(1);
    const double e = std::exp(-x.squaredNorm());
    p.variance = 0.1 + 0.5 * e;
    p.mean_gradient = Eigen::VectorXd::Zero(x.size());
    p.mean_gradient(0) = std::cos(x(0));
    p.mean_gradient(1) = x(1);
    p.variance_gradient = -x * e;
    return p;
  }
};

TEST(LogExpectedImprovement, GradientMatchesCentralDifferences) {
  const AnalyticModel model;
  for (double best_f : {0.0, 1.2, 30.0}) {
    const bomf::LogExpectedImprovement<AnalyticModel> acq(model, best_f);
    for (const Eigen::Vector3d& x :
         {Eigen::Vector3d(0.3, -0.4, 0.2), Eigen::Vector3d(-1.0, 1.5, 0.0),
          Eigen::Vector3d(2.0, 0.1, -0.7)}) {
      Eigen::VectorXd g(3);
      const double v = acq.value_and_gradient(x, g);
      EXPECT_EQ(v, acq.value(x));
      EXPECT_EQ(v, acq(x));
      for (int k = 0; k < 3; ++k) {
        Eigen::Vector3d xp = x;
        Eigen::Vector3d xm = x;
        const double h = 1e-6;
        xp(k) += h;
        xm(k) -= h;
        const double fd = (acq(xp) - acq(xm)) / (2 * h);
        EXPECT_TRUE(close(g(k), fd, 1e-6, 1e-8)) << "best_f " << best_f << ", k = " << k;
      }
    }
  }
}

TEST(LogExpectedImprovement, ChecksArguments) {
  const AnalyticModel model;
  EXPECT_THROW(bomf::LogExpectedImprovement<AnalyticModel>(model, HUGE_VAL),
               bomf::invalid_argument);
  bomf::LogExpectedImprovement<AnalyticModel> acq(model, 0.5);
  Eigen::VectorXd wrong(2);
  EXPECT_THROW(acq.value_and_gradient(Eigen::Vector3d(0.1, 0.2, 0.3), wrong),
               bomf::invalid_argument);
  acq.set_best_f(0.7);
  EXPECT_EQ(acq.best_f(), 0.7);
  EXPECT_EQ(&acq.model(), &model);
  EXPECT_THROW(acq.set_best_f(std::nan("")), bomf::invalid_argument);
}

}  // namespace
