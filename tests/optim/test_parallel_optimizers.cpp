// num_threads in maximize_on_simplex and maximize_in_box: the same answer, bit for bit, whatever
// the number of threads (each thread works on its own copy of the objective); a type that cannot
// be copied is refused with a clear message when threads are asked for; invalid counts rejected.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "bomf/optim/maximize_in_box.hpp"
#include "bomf/optim/maximize_on_simplex.hpp"
#include "support/error_message.hpp"
#include "support/optim_test_functions.hpp"

namespace {

using bomf::Simplex;
using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

// Gaussian bumps evaluated through a mutable workspace, as the acquisition functions are: two
// threads calling one object would corrupt it, so the optimizers must give each thread a copy.
struct BumpsWithWorkspace {
  bomf::test::GaussianBumps bumps;
  VectorXd scratch;  // workspace written on every call
  long calls = 0;

  double operator()(const Eigen::Ref<const VectorXd>& x, Eigen::Ref<VectorXd> grad) {
    ++calls;
    scratch = x;
    return bumps(scratch, grad);
  }
  VectorXd batch_values(const Eigen::Ref<const MatrixXd>& X) {
    VectorXd values(X.rows());
    VectorXd grad(X.cols());
    for (Index i = 0; i < X.rows(); ++i) {
      scratch = X.row(i).transpose();
      values(i) = bumps(scratch, grad);
    }
    return values;
  }
};

struct NotCopyable {
  NotCopyable() = default;
  NotCopyable(const NotCopyable&) = delete;
  NotCopyable& operator=(const NotCopyable&) = delete;
  double operator()(const Eigen::Ref<const VectorXd>& x, Eigen::Ref<VectorXd> grad) {
    grad = -2.0 * x;
    return -x.squaredNorm();
  }
};

TEST(MaximizeOnSimplexThreads, ResultsAreBitIdenticalForAnyNumberOfThreads) {
  for (const Index n : {3, 15, 40}) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(n));
    const Simplex simplex(n);
    BumpsWithWorkspace f{bomf::test::GaussianBumps(simplex, 10, rng, 0.12), VectorXd()};
    bomf::SimplexOptimizerOptions options;
    options.seed = 5;
    options.best_points = simplex.barycentre().transpose();
    const auto serial = bomf::maximize_on_simplex(f, simplex, options);
    for (int threads : {2, 3, 7}) {
      options.num_threads = threads;
      const auto parallel = bomf::maximize_on_simplex(f, simplex, options);
      EXPECT_EQ(parallel.x, serial.x) << n << " " << threads;
      EXPECT_EQ(parallel.value, serial.value);
      EXPECT_EQ(parallel.raw_values, serial.raw_values);
      EXPECT_EQ(parallel.restart_indices, serial.restart_indices);
      EXPECT_EQ(parallel.evaluations, serial.evaluations);
      EXPECT_EQ(parallel.value_evaluations, serial.value_evaluations);
      ASSERT_EQ(parallel.restarts.size(), serial.restarts.size());
      for (std::size_t r = 0; r < serial.restarts.size(); ++r) {
        EXPECT_EQ(parallel.restarts[r].x, serial.restarts[r].x);
        EXPECT_EQ(parallel.restarts[r].evaluations, serial.restarts[r].evaluations);
      }
      EXPECT_TRUE(simplex.contains(parallel.x, 1e-12));
    }
  }
}

TEST(MaximizeOnSimplexThreads, RefusesAnObjectiveThatCannotBeCopied) {
  const Simplex simplex(4);
  NotCopyable f;
  bomf::SimplexOptimizerOptions options;
  options.raw_samples = 16;
  options.num_restarts = 2;
  EXPECT_NEAR(bomf::maximize_on_simplex(f, simplex, options).value, -0.25, 1e-9);  // 1 thread
  options.num_threads = 2;
  const std::string message =
      bomf::test::error_message([&] { bomf::maximize_on_simplex(f, simplex, options); });
  EXPECT_NE(message.find("bomf::maximize_on_simplex"), std::string::npos) << message;
  EXPECT_NE(message.find("not copy-constructible"), std::string::npos) << message;
  options.num_threads = 0;
  const std::string invalid =
      bomf::test::error_message([&] { bomf::maximize_on_simplex(f, simplex, options); });
  EXPECT_NE(invalid.find("num_threads is 0, expected >= 1"), std::string::npos) << invalid;
}

TEST(MaximizeOnSimplexThreads, AnExceptionInAWorkerReachesTheCaller) {
  const Simplex simplex(6);
  auto f = [](const Eigen::Ref<const VectorXd>& x, Eigen::Ref<VectorXd> grad) -> double {
    grad.setZero();
    if (x(0) > 0.9)
      throw bomf::numerical_error("objective failed near vertex 0");
    return x(1);
  };
  bomf::SimplexOptimizerOptions options;
  options.num_threads = 3;
  EXPECT_THROW(bomf::maximize_on_simplex(f, simplex, options), bomf::numerical_error);
}

TEST(MaximizeInBoxThreads, ResultsAreBitIdenticalForAnyNumberOfThreads) {
  // Relaxation mode (too many combinations to enumerate) and enumeration mode.
  for (const bool many_combinations : {false, true}) {
    bomf::SearchSpace space;
    space.add_continuous("learning_rate", 1e-6, 1e-4, bomf::Scale::log)
        .add_continuous("warmup", 0.0, 0.2)
        .add_integer("epochs", 1, many_combinations ? 40 : 4)
        .add_categorical("scheduler", {"linear", "cosine", "constant"});
    std::mt19937_64 rng(11);
    BumpsWithWorkspace f{bomf::test::GaussianBumps(space.encoded_dim(), 6, rng, 0.3), VectorXd()};
    bomf::BoxOptimizerOptions options;
    options.seed = 2;
    const auto serial = bomf::maximize_in_box(f, space, options);
    EXPECT_EQ(serial.enumerated, !many_combinations);
    for (int threads : {2, 4}) {
      options.num_threads = threads;
      const auto parallel = bomf::maximize_in_box(f, space, options);
      EXPECT_EQ(parallel.u, serial.u) << threads;
      EXPECT_EQ(parallel.setting, serial.setting);
      EXPECT_EQ(parallel.value, serial.value);
      EXPECT_EQ(parallel.restart_indices, serial.restart_indices);
      EXPECT_EQ(parallel.restart_values, serial.restart_values);
      EXPECT_EQ(parallel.evaluations, serial.evaluations);
      EXPECT_EQ(parallel.value_evaluations, serial.value_evaluations);
      EXPECT_TRUE(space.is_valid_encoding(parallel.u));
    }
  }
}

TEST(MaximizeInBoxThreads, RefusesAnObjectiveThatCannotBeCopiedAndInvalidCounts) {
  bomf::SearchSpace space;
  space.add_continuous("x", -1.0, 1.0);
  NotCopyable f;
  bomf::BoxOptimizerOptions options;
  options.raw_samples = 8;
  options.num_restarts = 2;
  EXPECT_NEAR(bomf::maximize_in_box(f, space, options).value, 0.0, 1e-9);
  options.num_threads = 2;
  const std::string message =
      bomf::test::error_message([&] { bomf::maximize_in_box(f, space, options); });
  EXPECT_NE(message.find("bomf::maximize_in_box"), std::string::npos) << message;
  EXPECT_NE(message.find("not copy-constructible"), std::string::npos) << message;
  options.num_threads = -3;
  const std::string invalid =
      bomf::test::error_message([&] { bomf::maximize_in_box(f, space, options); });
  EXPECT_NE(invalid.find("num_threads is -3, expected >= 1"), std::string::npos) << invalid;
}

}  // namespace
