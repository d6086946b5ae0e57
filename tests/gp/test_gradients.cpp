// Gradients against central finite differences: posterior mean/variance w.r.t. x, kernel
// cross-covariance w.r.t. x, and the marginal likelihood w.r.t. the log-hyperparameters.
//
// Tolerances: central differences with step h = 1e-5 (relative to the scale of the coordinate)
// have truncation error O(h²) ≈ 1e-10 and rounding error O(ε/h) ≈ 1e-11 relative to the function
// value; we require |analytic − fd| ≤ 1e-6 · max(1, |analytic|) (posterior, kernel) and
// ≤ 1e-6 · max(1e-2, |analytic|) for the mll, over random points and hyperparameters.
#include <gtest/gtest.h>

#include <iterator>
#include <random>

#include "bomf/gp/gp.hpp"
#include "bomf/math/simd.hpp"

namespace {

template <class T>
class GpGradient : public ::testing::Test {};
using Kernels = ::testing::Types<bomf::Matern52Kernel, bomf::Matern32Kernel, bomf::RbfKernel>;
TYPED_TEST_SUITE(GpGradient, Kernels);

struct Data {
  Eigen::MatrixXd x;
  Eigen::VectorXd y;
  Eigen::MatrixXd bounds;
};

// Inputs in the box [-2, 3] × [0, 10] × ..., so the input normalization is exercised.
Data make_data(int n, int d, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Data data;
  data.bounds.resize(2, d);
  for (int k = 0; k < d; ++k) {
    data.bounds(0, k) = -2.0 + k;
    data.bounds(1, k) = 3.0 + 2.0 * k;
  }
  data.x.resize(n, d);
  data.y.resize(n);
  for (int i = 0; i < n; ++i) {
    double s = 0.0;
    for (int k = 0; k < d; ++k) {
      const double t = u(rng);
      data.x(i, k) = data.bounds(0, k) + t * (data.bounds(1, k) - data.bounds(0, k));
      s += std::sin(3.0 * t + k);
    }
    data.y(i) = 10.0 + 4.0 * s + 0.1 * u(rng);
  }
  return data;
}

bomf::GpHyperparameters random_hyperparameters(int d, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  bomf::GpHyperparameters h;
  h.lengthscales.resize(d);
  for (int k = 0; k < d; ++k)
    h.lengthscales(k) = 0.2 + 0.8 * u(rng);
  h.outputscale = 0.5 + 2.0 * u(rng);
  h.noise = 1e-3 + 0.05 * u(rng);
  h.mean_constant = u(rng) - 0.5;
  return h;
}

bool grad_close_floor(double analytic, double fd, double floor) {
  return std::abs(analytic - fd) <= 1e-6 * std::max(floor, std::abs(analytic));
}

bool grad_close(double analytic, double fd) {
  return grad_close_floor(analytic, fd, 1.0);
}

TYPED_TEST(GpGradient, PosteriorMeanAndVarianceMatchFiniteDifferences) {
  using Kernel = TypeParam;
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int d : {1, 3, 6}) {
    const Data data = make_data(25, d, 100 + d);
    const bomf::ExactGP<Kernel> gp(data.x, data.y, random_hyperparameters(d, rng),
                                   bomf::InputNormalization(data.bounds));
    bomf::PosteriorWorkspace ws;
    bomf::PointPosterior p;
    bomf::PointPosterior plus;
    bomf::PointPosterior minus;
    for (int trial = 0; trial < 10; ++trial) {
      Eigen::VectorXd x(d);
      for (int k = 0; k < d; ++k) {
        x(k) = data.bounds(0, k) + (1.2 * u(rng) - 0.1) * (data.bounds(1, k) - data.bounds(0, k));
      }
      gp.posterior_at(x, ws, p);
      for (int k = 0; k < d; ++k) {
        const double h = 1e-5 * (data.bounds(1, k) - data.bounds(0, k));
        Eigen::VectorXd xp = x;
        Eigen::VectorXd xm = x;
        xp(k) += h;
        xm(k) -= h;
        gp.posterior_at(xp, ws, plus);
        gp.posterior_at(xm, ws, minus);
        const double fd_mean = (plus.mean - minus.mean) / (2.0 * h);
        const double fd_var = (plus.variance - minus.variance) / (2.0 * h);
        EXPECT_PRED2(grad_close, p.mean_gradient(k), fd_mean) << "d=" << d << " k=" << k;
        EXPECT_PRED2(grad_close, p.variance_gradient(k), fd_var) << "d=" << d << " k=" << k;
      }
    }
  }
}

TYPED_TEST(GpGradient, CrossCovarianceAndKernelGradientsMatchFiniteDifferences) {
  using Kernel = TypeParam;
  std::mt19937_64 rng(12);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const int d = 4;
  const Data data = make_data(12, d, 5);
  const bomf::ExactGP<Kernel> gp(data.x, data.y, random_hyperparameters(d, rng),
                                 bomf::InputNormalization(data.bounds));
  const Eigen::Index n = gp.num_train();
  Eigen::VectorXd kp(n);
  Eigen::VectorXd km(n);
  Eigen::MatrixXd dk(d, n);
  for (int trial = 0; trial < 5; ++trial) {
    Eigen::VectorXd x(d);
    for (int k = 0; k < d; ++k)
      x(k) = data.bounds(0, k) + u(rng) * (data.bounds(1, k) - data.bounds(0, k));
    gp.cross_covariance_gradient(x, dk);
    const Eigen::VectorXd x2 = data.x.row(trial).transpose();
    const Eigen::VectorXd dk12 = gp.kernel_gradient(x, x2);
    for (int k = 0; k < d; ++k) {
      const double h = 1e-5 * (data.bounds(1, k) - data.bounds(0, k));
      Eigen::VectorXd xp = x;
      Eigen::VectorXd xm = x;
      xp(k) += h;
      xm(k) -= h;
      gp.cross_covariance(xp, kp);
      gp.cross_covariance(xm, km);
      for (Eigen::Index j = 0; j < n; ++j) {
        EXPECT_PRED2(grad_close, dk(k, j), (kp(j) - km(j)) / (2.0 * h));
      }
      EXPECT_PRED2(grad_close, dk12(k), (gp.kernel(xp, x2) - gp.kernel(xm, x2)) / (2.0 * h));
    }
    // k(x, X) agrees with kernel(x, x_j).
    gp.cross_covariance(x, kp);
    EXPECT_NEAR(kp(trial), gp.kernel(x, x2), 1e-15);
  }
}

TYPED_TEST(GpGradient, MarginalLikelihoodGradientMatchesFiniteDifferences) {
  using Kernel = TypeParam;
  std::mt19937_64 rng(13);
  for (int d : {1, 2, 5}) {
    const Data data = make_data(20, d, 200 + d);
    const Eigen::MatrixXd x_unit = bomf::InputNormalization(data.bounds).apply(data.x);
    const auto outcome = bomf::OutcomeStandardization::fit(data.y);
    const Eigen::VectorXd y_std = (data.y.array() - outcome.mean) / outcome.std;
    const bomf::GpPriors presets[] = {bomf::GpPriors::botorch_legacy(),
                                      bomf::GpPriors::botorch_current(d)};
    for (const auto& priors : presets) {
      for (bool fixed : {false, true}) {
        const bomf::MarginalLogLikelihood<Kernel> mll(
            x_unit, y_std, priors, fixed ? std::optional<double>(0.02) : std::nullopt);
        for (int trial = 0; trial < 3; ++trial) {
          const Eigen::VectorXd theta = mll.pack(random_hyperparameters(d, rng));
          Eigen::VectorXd grad;
          const double value = mll.value_and_gradient(theta, &grad);
          EXPECT_EQ(value, mll.value_and_gradient(theta, nullptr));
          ASSERT_EQ(grad.size(), mll.layout().size());
          for (Eigen::Index i = 0; i < theta.size(); ++i) {
            const double h = 1e-5;
            Eigen::VectorXd tp = theta;
            Eigen::VectorXd tm = theta;
            tp(i) += h;
            tm(i) -= h;
            const double fd =
                (mll.value_and_gradient(tp, nullptr) - mll.value_and_gradient(tm, nullptr)) /
                (2.0 * h);
            EXPECT_PRED3(grad_close_floor, grad(i), fd, 1e-2) << "d=" << d << " parameter " << i;
          }
        }
      }
    }
  }
}

TYPED_TEST(GpGradient, LengthscaleCovarianceGradientMatchesFiniteDifferences) {
  using Kernel = TypeParam;
  const int d = 3;
  const Data data = make_data(8, d, 9);
  const Eigen::MatrixXd x = bomf::InputNormalization(data.bounds).apply(data.x);
  const Eigen::Vector3d ls(0.3, 0.7, 1.1);
  for (int k = 0; k < d; ++k) {
    const Eigen::MatrixXd g = bomf::ard_covariance_log_lengthscale_gradient<Kernel>(x, ls, 1.7, k);
    const double h = 1e-5;
    Eigen::Vector3d lp = ls;
    Eigen::Vector3d lm = ls;
    lp(k) *= std::exp(h);
    lm(k) *= std::exp(-h);
    const Eigen::MatrixXd fd = (bomf::ard_covariance<Kernel>(x, x, lp, 1.7) -
                                bomf::ard_covariance<Kernel>(x, x, lm, 1.7)) /
                               (2.0 * h);
    EXPECT_LT((g - fd).cwiseAbs().maxCoeff(), 1e-8);
  }
}

TYPED_TEST(GpGradient, KernelDerivativeMatchesFiniteDifferences) {
  using Kernel = TypeParam;
  EXPECT_EQ(Kernel::value(0.0), 1.0);
  for (double r2 : {1e-6, 0.01, 0.3, 1.0, 4.0, 25.0}) {
    const double h = 1e-6 * std::max(r2, 1e-3);
    const double fd = (Kernel::value(r2 + h) - Kernel::value(r2 - h)) / (2.0 * h);
    EXPECT_NEAR(Kernel::derivative(r2), fd, 1e-7 * std::max(1.0, std::abs(fd))) << r2;
  }
}

TYPED_TEST(GpGradient, ValueAndDerivativeTogetherEqualTheSeparateCallsBitForBit) {
  // The fit and the acquisition gradients use kernel_value_and_derivative (one exponential);
  // they must see exactly what value() and derivative() give.
  using Kernel = TypeParam;
  for (double r2 : {0.0, 1e-300, 1e-12, 1e-6, 0.01, 0.3, 1.0, 4.0, 25.0, 700.0, 1e6}) {
    const bomf::ValueAndDerivative both = bomf::kernel_value_and_derivative<Kernel>(r2);
    EXPECT_EQ(both.value, Kernel::value(r2)) << r2;
    EXPECT_EQ(both.derivative, Kernel::derivative(r2)) << r2;
  }
}

// A kernel with only value() and derivative(): kernel_value_and_derivative falls back to them.
struct CauchyProfile {
  static constexpr const char* name = "CauchyProfile";
  static double value(double r2) noexcept { return 1.0 / (1.0 + r2); }
  static double derivative(double r2) noexcept { return -1.0 / ((1.0 + r2) * (1.0 + r2)); }
};

TEST(KernelTraits, ValueAndDerivativeFallsBackToTheTwoRequiredMembers) {
  static_assert(!bomf::detail::kernel_has_value_and_derivative<CauchyProfile>::value);
  static_assert(bomf::detail::kernel_has_value_and_derivative<bomf::Matern52Kernel>::value);
  const bomf::ValueAndDerivative both = bomf::kernel_value_and_derivative<CauchyProfile>(3.0);
  EXPECT_EQ(both.value, 0.25);
  EXPECT_EQ(both.derivative, -0.0625);
}

TYPED_TEST(GpGradient, PackedProfileAgreesWithTheScalarOneAtTheExtremes) {
  // value_and_derivative_packed (the fit's kernel matrices) against the scalar profile: within
  // 2 ulp (bomf's pack exp against libm's), exact 1 at r² = 0, exact 0 far out.
  using Kernel = TypeParam;
  const double r2s[] = {0.0, 1e-300, 1e-12, 1e-6, 0.01, 0.3, 1.0, 4.0, 25.0, 700.0, 1e6, 1e300};
  for (std::size_t i = 0; i < std::size(r2s); i += 2) {
    bomf::simd::pack2 r2 = {r2s[i], r2s[i + 1]};
    bomf::simd::pack2 derivative{};
    bomf::detail::kernel_value_and_derivative_packed<Kernel>(r2, derivative);
    for (int j = 0; j < 2; ++j) {
      const bomf::ValueAndDerivative scalar = bomf::kernel_value_and_derivative<Kernel>(r2s[i + j]);
      EXPECT_NEAR(r2[j], scalar.value, 4.5e-16 * std::abs(scalar.value)) << r2s[i + j];
      EXPECT_NEAR(derivative[j], scalar.derivative, 4.5e-16 * std::abs(scalar.derivative))
          << r2s[i + j];
      if (scalar.value == 0.0 || scalar.value == 1.0) {
        EXPECT_EQ(r2[j], scalar.value) << r2s[i + j];
      }
    }
  }
}

TYPED_TEST(GpGradient, MarginalLikelihoodIsBitIdenticalOnEveryBuildAndWithAReusedWorkspace) {
  // The generic and AVX2 kernels (bomf/math/simd.hpp) and a workspace reused across sizes give
  // the same value and gradient, bit for bit; n = 70 exercises the blocked factorizations.
  using Kernel = TypeParam;
  std::mt19937_64 rng(29);
  bomf::MllWorkspace reused;
  for (int n : {70, 9, 70}) {
    const int d = 6;
    const Data data = make_data(n, d, 300 + n);
    const Eigen::MatrixXd x_unit = bomf::InputNormalization(data.bounds).apply(data.x);
    const auto outcome = bomf::OutcomeStandardization::fit(data.y);
    const Eigen::VectorXd y_std = (data.y.array() - outcome.mean) / outcome.std;
    const bomf::MarginalLogLikelihood<Kernel> mll(x_unit, y_std, bomf::GpPriors::botorch_legacy());
    const Eigen::VectorXd theta = mll.pack(random_hyperparameters(d, rng));
    Eigen::VectorXd grad_generic;
    Eigen::VectorXd grad_avx2;
    Eigen::VectorXd grad_reused;
    bomf::simd::force_path(bomf::simd::Path::generic);
    const double generic = mll.value_and_gradient(theta, &grad_generic);
    bomf::simd::force_path(bomf::simd::Path::avx2);  // generic again without AVX2
    const double avx2 = mll.value_and_gradient(theta, &grad_avx2);
    bomf::simd::reset_path();
    const double again = mll.value_and_gradient(theta, &grad_reused, reused);
    EXPECT_EQ(generic, avx2) << n;
    EXPECT_EQ(grad_generic, grad_avx2) << n;
    EXPECT_EQ(again, mll.value_and_gradient(theta, nullptr)) << n;
    EXPECT_EQ(grad_reused, bomf::simd::path() == bomf::simd::Path::avx2 ? grad_avx2 : grad_generic)
        << n;
  }
}

}  // namespace
