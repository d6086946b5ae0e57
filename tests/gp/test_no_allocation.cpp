// ExactGP::posterior_at with a reused workspace does not touch the heap (Eigen's runtime malloc
// check, as Eigen's own tests do): it runs in the acquisition hot loop.
#define EIGEN_RUNTIME_NO_MALLOC
// The guard reports through eigen_assert, which NDEBUG (Release and RelWithDebInfo builds)
// would compile away: keep it active in every build type.
#undef NDEBUG
#include <gtest/gtest.h>

#include <random>

#include "bomf/gp/gp.hpp"

namespace {

template <class Kernel>
void check_no_allocation() {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const int n = 40;
  const int d = 5;
  Eigen::MatrixXd x(n, d);
  Eigen::VectorXd y(n);
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < d; ++k)
      x(i, k) = u(rng);
    y(i) = std::sin(5.0 * x(i, 0)) + x(i, 1);
  }
  bomf::GpHyperparameters h;
  h.lengthscales = Eigen::VectorXd::Constant(d, 0.3);
  h.outputscale = 1.2;
  h.noise = 1e-3;
  const bomf::ExactGP<Kernel> gp(x, y, h);
  bomf::PosteriorWorkspace ws;
  bomf::PointPosterior out;
  const Eigen::VectorXd q = Eigen::VectorXd::Constant(d, 0.4);
  gp.posterior_at(q, ws, out);  // sizes the buffers
  const bomf::PointPosterior reference = out;
  Eigen::internal::set_is_malloc_allowed(false);
  for (int i = 0; i < 5; ++i)
    gp.posterior_at(q, ws, out);
  Eigen::internal::set_is_malloc_allowed(true);
  EXPECT_EQ(out.mean, reference.mean);
  EXPECT_EQ(out.variance_gradient, reference.variance_gradient);
}

TEST(ExactGpHotPath, PosteriorAtDoesNotAllocateMatern52) {
  check_no_allocation<bomf::Matern52Kernel>();
}
TEST(ExactGpHotPath, PosteriorAtDoesNotAllocateRbf) {
  check_no_allocation<bomf::RbfKernel>();
}

}  // namespace
