// qLogNEHVI evaluation allocates nothing once a batch size has been used: Eigen's runtime
// malloc guard (EIGEN_RUNTIME_NO_MALLOC) aborts on any Eigen heap allocation while disabled.
#define EIGEN_RUNTIME_NO_MALLOC
// The guard reports through eigen_assert, which NDEBUG (Release and RelWithDebInfo builds)
// would compile away: keep it active in every build type.
#undef NDEBUG
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <cmath>
#include <random>
#include <vector>

#include "bomf/acquisition/q_log_nehvi.hpp"
#include "bomf/gp/exact_gp.hpp"
#include "bomf/gp/matern52_kernel.hpp"

namespace {

using Gp = bomf::ExactGP<bomf::Matern52Kernel>;
using Acqf = bomf::QLogNoisyExpectedHypervolumeImprovement<bomf::Matern52Kernel>;

TEST(QLogNehviNoMalloc, HotPathDoesNotAllocate) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> unif(0.0, 1.0);
  for (int m : {2, 3}) {
    const int n = 40;
    const int d = 15;
    Eigen::MatrixXd X(n, d);
    for (Eigen::Index i = 0; i < X.size(); ++i) {
      X(i) = unif(rng);
    }
    std::vector<Gp> models;
    for (int k = 0; k < m; ++k) {
      Eigen::VectorXd y = (X * Eigen::VectorXd::Random(d)).array().sin();
      bomf::GpHyperparameters h;
      h.lengthscales = Eigen::VectorXd::Constant(d, 0.8);
      h.noise = 1e-3;
      models.emplace_back(X, y, h);
    }
    Acqf acqf(models, X, Eigen::VectorXd::Constant(m, -2.0));
    for (int q : {1, 2, 4}) {
      Eigen::MatrixXd cand(q, d);
      for (Eigen::Index i = 0; i < cand.size(); ++i) {
        cand(i) = unif(rng);
      }
      Eigen::MatrixXd grad(q, d);
      const double v0 = acqf.value_and_gradient(cand, grad);  // sizes the workspaces
      acqf.value(cand);
      Eigen::internal::set_is_malloc_allowed(false);
      const double v1 = acqf.value(cand);
      const double v2 = acqf.value_and_gradient(cand, grad);
      cand(0, 0) += 1e-3;
      const double v3 = acqf.value_and_gradient(cand, grad);
      Eigen::internal::set_is_malloc_allowed(true);
      EXPECT_EQ(v0, v1);
      EXPECT_EQ(v0, v2);
      EXPECT_NE(v0, v3);
    }
    // The q = 1 optimizer adapter too.
    Eigen::VectorXd x = Eigen::VectorXd::Constant(d, 0.4);
    Eigen::VectorXd g(d);
    acqf(x, g);
    Eigen::internal::set_is_malloc_allowed(false);
    const double v = acqf(x, g);
    Eigen::internal::set_is_malloc_allowed(true);
    EXPECT_TRUE(std::isfinite(v));
  }
}

}  // namespace
