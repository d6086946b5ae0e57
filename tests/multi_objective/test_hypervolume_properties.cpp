// Property tests of the exact hypervolume algorithms and the hypervolume improvement.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "bomf/multi_objective/multi_objective.hpp"
#include "helpers.hpp"
#include "support/reference.hpp"

namespace {

using bomf::test::close;

constexpr double kRel = 1e-11;

// Every algorithm (and both decompositions) on the same set; returns the dispatching value.
double all_agree(const Eigen::MatrixXd& Y, const Eigen::VectorXd& r) {
  const double hv = bomf::hypervolume(Y, r);
  const auto m = r.size();
  const double floor = 1e-14;
  EXPECT_TRUE(close(bomf::hypervolume_wfg(Y, r), hv, kRel, floor));
  EXPECT_TRUE(close(bomf::hypervolume_dimension_sweep(Y, r), hv, kRel, floor));
  if (m == 2) {
    EXPECT_TRUE(close(bomf::hypervolume_2d(Y, r), hv, kRel, floor));
  }
  if (m == 3) {
    EXPECT_TRUE(close(bomf::hypervolume_3d(Y, r), hv, kRel, floor));
  }
  if (m >= 2) {
    EXPECT_TRUE(close(bomf::DominatedPartitioning(Y, r).hypervolume(), hv, kRel, floor));
    EXPECT_TRUE(close(bomf::FastNondominatedPartitioning(Y, r).hypervolume(), hv, kRel, floor));
  }
  return hv;
}

TEST(HypervolumeProperties, AlgorithmsAgreeOnRandomSets) {
  std::mt19937_64 rng(11);
  for (int m = 2; m <= 6; ++m) {
    const int max_n = m <= 3 ? 60 : (m == 4 ? 30 : 14);
    for (int rep = 0; rep < 6; ++rep) {
      SCOPED_TRACE(testing::Message() << "m=" << m << " rep=" << rep);
      std::uniform_int_distribution<int> size(1, max_n);
      const int n = size(rng);
      const Eigen::MatrixXd Y = rep % 2 == 0 ? bomf::test::uniform_points(n, m, rng)
                                             : bomf::test::sphere_points(n, m, rng);
      const Eigen::VectorXd r = Eigen::VectorXd::Constant(m, rep % 3 == 0 ? 0.2 : -0.1);
      const double hv = all_agree(Y, r);
      if (n <= 12) {
        EXPECT_TRUE(close(bomf::test::hypervolume_inclusion_exclusion(Y, r), hv, 1e-10, 1e-14));
      }
    }
  }
}

TEST(HypervolumeProperties, MatchesBruteForceGridCountOnIntegerSets) {
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int> coord(1, 4);
  for (int m = 2; m <= 5; ++m) {
    for (int rep = 0; rep < 8; ++rep) {
      const int n = 1 + rep;
      Eigen::MatrixXd Y(n, m);
      for (int i = 0; i < n; ++i) {
        for (int j = 0; j < m; ++j) {
          Y(i, j) = coord(rng);
        }
      }
      const Eigen::VectorXd r = Eigen::VectorXd::Zero(m);
      // Count the unit cells [l, l + 1] (l ∈ {0..3}^m) below some point.
      int count = 0;
      std::vector<int> l(static_cast<std::size_t>(m), 0);
      for (int code = 0; code < (1 << (2 * m)); ++code) {
        for (int j = 0; j < m; ++j) {
          l[static_cast<std::size_t>(j)] = (code >> (2 * j)) & 3;
        }
        for (int i = 0; i < n; ++i) {
          bool covered = true;
          for (int j = 0; j < m; ++j) {
            covered = covered && Y(i, j) >= l[static_cast<std::size_t>(j)] + 1;
          }
          if (covered) {
            ++count;
            break;
          }
        }
      }
      SCOPED_TRACE(testing::Message() << "m=" << m << " n=" << n);
      EXPECT_EQ(all_agree(Y, r), static_cast<double>(count));
    }
  }
}

TEST(HypervolumeProperties, InvariantToRowOrderDuplicatesAndDominatedPoints) {
  std::mt19937_64 rng(17);
  for (int m = 2; m <= 5; ++m) {
    const Eigen::MatrixXd Y = bomf::test::sphere_points(m <= 3 ? 40 : 15, m, rng);
    const Eigen::VectorXd r = Eigen::VectorXd::Zero(m);
    const double hv = bomf::hypervolume(Y, r);
    // Row order.
    std::vector<int> perm(static_cast<std::size_t>(Y.rows()));
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    Eigen::MatrixXd shuffled(Y.rows(), m);
    for (Eigen::Index i = 0; i < Y.rows(); ++i) {
      shuffled.row(i) = Y.row(perm[static_cast<std::size_t>(i)]);
    }
    EXPECT_TRUE(close(all_agree(shuffled, r), hv, 1e-12));
    // Duplicates.
    Eigen::MatrixXd doubled(2 * Y.rows(), m);
    doubled << Y, Y;
    EXPECT_TRUE(close(all_agree(doubled, r), hv, 1e-12));
    // A dominated point (a Pareto point shrunk) and a point not better than r.
    Eigen::MatrixXd extra(Y.rows() + 2, m);
    extra << Y, 0.9 * Y.row(3), Y.row(4);
    extra(Y.rows() + 1, 0) = -1.0;
    EXPECT_TRUE(close(all_agree(extra, r), hv, 1e-12));
  }
}

TEST(HypervolumeProperties, ImprovementEqualsDifferenceOfHypervolumes) {
  std::mt19937_64 rng(23);
  for (int m = 2; m <= 5; ++m) {
    for (int rep = 0; rep < 8; ++rep) {
      const Eigen::MatrixXd A = bomf::test::sphere_points(m <= 3 ? 30 : 12, m, rng);
      const Eigen::VectorXd r = Eigen::VectorXd::Constant(m, -0.05);
      // Candidates near the front: inside, outside and across it.
      const Eigen::VectorXd p =
          bomf::test::sphere_points(1, m, rng).row(0).transpose() * (0.9 + 0.04 * rep);
      Eigen::MatrixXd union_set(A.rows() + 1, m);
      union_set << A, p.transpose();
      const double diff = bomf::hypervolume(union_set, r) - bomf::hypervolume(A, r);
      const double hvi = bomf::hypervolume_improvement(A, r, p);
      EXPECT_GE(hvi, 0.0);
      EXPECT_NEAR(hvi, diff, 1e-12);
      // From the non-dominated cells, as qNEHVI evaluates it.
      const auto cells = bomf::non_dominated_partitioning(A, r);
      EXPECT_NEAR(bomf::hypervolume_improvement(cells, p), diff, 1e-12);
      // A batch of q = 3 by inclusion–exclusion.
      Eigen::MatrixXd batch(3, m);
      batch.row(0) = p.transpose();
      batch.row(1) = 1.02 * bomf::test::sphere_points(1, m, rng);
      batch.row(2) = 0.97 * bomf::test::sphere_points(1, m, rng);
      Eigen::MatrixXd union_batch(A.rows() + 3, m);
      union_batch << A, batch;
      const double batch_diff = bomf::hypervolume(union_batch, r) - bomf::hypervolume(A, r);
      EXPECT_NEAR(bomf::batch_hypervolume_improvement(A, r, batch), batch_diff, 1e-12);
    }
  }
}

TEST(HypervolumeProperties, ImprovementOfDominatedOrOutsidePointIsZero) {
  std::mt19937_64 rng(29);
  const Eigen::MatrixXd A = bomf::test::sphere_points(10, 3, rng);
  const Eigen::VectorXd r = Eigen::VectorXd::Zero(3);
  EXPECT_EQ(bomf::hypervolume_improvement(A, r, 0.5 * A.row(2).transpose()), 0.0);
  EXPECT_EQ(bomf::hypervolume_improvement(A, r, Eigen::Vector3d(2.0, 2.0, -0.1)), 0.0);
  // Over an empty set the improvement is the box volume.
  const Eigen::MatrixXd empty(0, 3);
  EXPECT_DOUBLE_EQ(bomf::hypervolume_improvement(empty, r, Eigen::Vector3d(1.0, 2.0, 3.0)), 6.0);
  EXPECT_DOUBLE_EQ(bomf::batch_hypervolume_improvement(empty, r, Eigen::MatrixXd(0, 3)), 0.0);
}

TEST(HypervolumeBadInput, ErrorsAndDefinedResults) {
  const Eigen::VectorXd r2 = Eigen::Vector2d(0.0, 0.0);
  Eigen::MatrixXd Y(2, 2);
  Y << 1.0, 2.0, 2.0, 1.0;
  // Empty set: hypervolume 0 (with m columns or none).
  EXPECT_EQ(bomf::hypervolume(Eigen::MatrixXd(0, 2), r2), 0.0);
  EXPECT_EQ(bomf::hypervolume(Eigen::MatrixXd(0, 0), r2), 0.0);
  EXPECT_EQ(bomf::hypervolume_wfg(Eigen::MatrixXd(0, 5), Eigen::VectorXd::Zero(5)), 0.0);
  // No point better than r: 0.
  EXPECT_EQ(bomf::hypervolume(Y, Eigen::Vector2d(3.0, 0.0)), 0.0);
  // m = 1: the best excess over r.
  EXPECT_EQ(bomf::hypervolume(Eigen::Vector3d(1.0, 4.0, 2.0), Eigen::VectorXd::Constant(1, 1.5)),
            2.5);
  // Wrong reference length, NaN rows, infinite entries, empty reference.
  EXPECT_THROW((void)bomf::hypervolume(Y, Eigen::Vector3d::Zero()), bomf::invalid_argument);
  EXPECT_THROW((void)bomf::hypervolume(Y, Eigen::VectorXd(0)), bomf::invalid_argument);
  Eigen::MatrixXd bad = Y;
  bad(1, 0) = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW((void)bomf::hypervolume(bad, r2), bomf::invalid_argument);
  EXPECT_THROW((void)bomf::hypervolume_3d(Eigen::MatrixXd::Ones(2, 3), Eigen::Vector2d::Zero()),
               bomf::invalid_argument);
  EXPECT_THROW((void)bomf::hypervolume_2d(Y, Eigen::Vector3d::Zero()), bomf::invalid_argument);
  bad(1, 0) = std::numeric_limits<double>::infinity();
  EXPECT_THROW((void)bomf::hypervolume(bad, r2), bomf::invalid_argument);
  EXPECT_THROW((void)bomf::hypervolume(Y, Eigen::Vector2d(0.0, std::nan(""))),
               bomf::invalid_argument);
  EXPECT_THROW((void)bomf::hypervolume_improvement(Y, r2, Eigen::Vector3d::Ones()),
               bomf::invalid_argument);
  EXPECT_THROW((void)bomf::batch_hypervolume_improvement(Y, r2, Eigen::MatrixXd::Ones(21, 2)),
               bomf::invalid_argument);
  // The message names the function and the argument.
  try {
    (void)bomf::hypervolume(Y, Eigen::Vector3d::Zero());
    FAIL() << "no exception";
  } catch (const bomf::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("bomf::hypervolume"), std::string::npos) << msg;
    EXPECT_NE(msg.find("ref_point"), std::string::npos) << msg;
  }
}

}  // namespace
