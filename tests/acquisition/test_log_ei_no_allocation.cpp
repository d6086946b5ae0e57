// LogExpectedImprovement<ExactGP> evaluation does not touch the heap once warmed up (Eigen's
// runtime malloc check): it runs in the acquisition optimizer's hot loop. The fat-tailed
// reductions used by qLogNEHVI are checked the same way.
#define EIGEN_RUNTIME_NO_MALLOC
// The guard reports through eigen_assert, which NDEBUG (Release and RelWithDebInfo builds)
// would compile away: keep it active in every build type.
#undef NDEBUG
#include <gtest/gtest.h>

#include <random>

#include "bomf/acquisition/log_ei.hpp"
#include "bomf/gp/exact_gp.hpp"
#include "bomf/gp/matern52_kernel.hpp"
#include "bomf/math/smooth_approximations.hpp"

namespace {

TEST(LogEiNoAllocation, ValueAndGradientWithExactGp) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const int n = 30;
  const int d = 4;
  Eigen::MatrixXd x(n, d);
  Eigen::VectorXd y(n);
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < d; ++k)
      x(i, k) = u(rng);
    y(i) = std::sin(4.0 * x(i, 0)) - x(i, 2);
  }
  bomf::GpHyperparameters h;
  h.lengthscales = Eigen::VectorXd::Constant(d, 0.4);
  h.outputscale = 1.1;
  h.noise = 1e-3;
  const bomf::ExactGP<bomf::Matern52Kernel> gp(x, y, h);
  const bomf::LogExpectedImprovement<bomf::ExactGP<bomf::Matern52Kernel>> acq(gp, y.maxCoeff());
  Eigen::VectorXd point = Eigen::VectorXd::Constant(d, 0.5);
  Eigen::VectorXd grad(d);
  acq.value_and_gradient(point, grad);  // warm-up: sizes the workspace
  Eigen::internal::set_is_malloc_allowed(false);
  double total = 0.0;
  for (int r = 0; r < 20; ++r) {
    point(r % d) = u(rng);
    total += acq.value_and_gradient(point, grad);
    total += acq.value(point);
  }
  Eigen::internal::set_is_malloc_allowed(true);
  EXPECT_TRUE(std::isfinite(total));
}

TEST(SmoothApproximationsNoAllocation, ReductionsOnStridedViews) {
  Eigen::MatrixXd values = Eigen::MatrixXd::Random(8, 100);
  Eigen::MatrixXd gradients(8, 100);
  Eigen::internal::set_is_malloc_allowed(false);
  double total = 0.0;
  for (Eigen::Index r = 0; r < values.rows(); ++r) {
    total += bomf::fatmin(values.row(r).transpose(), gradients.row(r).transpose(), 1e-3);
    total += bomf::fatmax(values.row(r).transpose(), 1e-3);
    total += bomf::logsumexp(values.row(r).transpose(), gradients.row(r).transpose());
    total += bomf::logmeanexp(values.row(r).transpose());
    total += bomf::smooth_amin(values.row(r).transpose(), gradients.row(r).transpose(), 0.1);
  }
  Eigen::internal::set_is_malloc_allowed(true);
  EXPECT_TRUE(std::isfinite(total));
}

}  // namespace
