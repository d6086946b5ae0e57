// Pareto filtering and non-dominated sorting.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "bomf/multi_objective/pareto.hpp"
#include "helpers.hpp"

namespace {

bool dominates_rows(const Eigen::MatrixXd& Y, Eigen::Index a, Eigen::Index b) {
  return (Y.row(a).array() >= Y.row(b).array()).all() &&
         (Y.row(a).array() > Y.row(b).array()).any();
}

// Definition-level mask: not dominated by any row, and (deduplicated) no equal earlier row.
std::vector<bool> brute_force_mask(const Eigen::MatrixXd& Y, bool deduplicate) {
  std::vector<bool> mask(static_cast<std::size_t>(Y.rows()), true);
  for (Eigen::Index i = 0; i < Y.rows(); ++i) {
    for (Eigen::Index k = 0; k < Y.rows(); ++k) {
      if (dominates_rows(Y, k, i) || (deduplicate && k < i && Y.row(k) == Y.row(i))) {
        mask[static_cast<std::size_t>(i)] = false;
      }
    }
  }
  return mask;
}

TEST(Pareto, MaskMatchesDefinitionWithTiesAndDuplicates) {
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<int> coord(0, 3);  // many ties and exact duplicates
  for (int m = 1; m <= 5; ++m) {
    for (int rep = 0; rep < 20; ++rep) {
      Eigen::MatrixXd Y(15, m);
      for (Eigen::Index i = 0; i < Y.rows(); ++i) {
        for (int j = 0; j < m; ++j) {
          Y(i, j) = coord(rng);
        }
      }
      EXPECT_EQ(bomf::non_dominated_mask(Y), brute_force_mask(Y, true));
      EXPECT_EQ(bomf::non_dominated_mask(Y, false), brute_force_mask(Y, false));
    }
  }
}

TEST(Pareto, SweepFromAReSortedPreviousOrderMatchesTheDefinition) {
  // qLogNEHVI's pruning re-sorts each sample's points by insertion, starting from the previous
  // sample's order, and sweeps them skipping some points: the same masks as the definition on
  // the kept points, and the same order as a fresh sort, for any starting order.
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int> coord(0, 4);
  std::uniform_int_distribution<int> coin(0, 3);
  for (int m = 1; m <= 4; ++m) {
    std::vector<int> order;
    for (int rep = 0; rep < 30; ++rep) {
      const int n = 12 + rep % 5;
      Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows(n, m);
      for (Eigen::Index i = 0; i < rows.size(); ++i) {
        rows(i) = coord(rng);
      }
      if (static_cast<int>(order.size()) != n) {
        order.resize(static_cast<std::size_t>(n));
        std::iota(order.begin(), order.end(), 0);
      }
      bomf::detail::insertion_sort_lexicographic(rows.data(), m, order);
      std::vector<int> sorted(static_cast<std::size_t>(n));
      std::iota(sorted.begin(), sorted.end(), 0);
      std::sort(sorted.begin(), sorted.end(), [&](int a, int b) {
        return bomf::detail::lexicographically_before(rows.data(), m, a, b);
      });
      EXPECT_EQ(order, sorted);
      std::vector<char> skip(static_cast<std::size_t>(n));
      std::vector<Eigen::Index> kept;
      for (int i = 0; i < n; ++i) {
        skip[static_cast<std::size_t>(i)] = coin(rng) == 0 ? 1 : 0;
        if (skip[static_cast<std::size_t>(i)] == 0) {
          kept.push_back(i);
        }
      }
      std::vector<char> mask(static_cast<std::size_t>(n), 0);
      std::vector<int> front;
      bomf::detail::non_dominated_sweep(rows.data(), m, false, order, skip.data(), mask, front);
      Eigen::MatrixXd Y(static_cast<Eigen::Index>(kept.size()), m);
      for (std::size_t r = 0; r < kept.size(); ++r) {
        Y.row(static_cast<Eigen::Index>(r)) = rows.row(kept[r]);
      }
      const std::vector<bool> expected = brute_force_mask(Y, false);
      for (std::size_t r = 0; r < kept.size(); ++r) {
        EXPECT_EQ(mask[static_cast<std::size_t>(kept[r])] != 0, expected[r]);
      }
      for (int i = 0; i < n; ++i) {
        if (skip[static_cast<std::size_t>(i)] != 0) {
          EXPECT_EQ(mask[static_cast<std::size_t>(i)], 0);
        }
      }
    }
  }
}

TEST(Pareto, FrontKeepsRowOrderAndDropsPointsNotBetterThanReference) {
  Eigen::MatrixXd Y(6, 2);
  Y << 1.0, 3.0,  //
      3.0, 1.0,   //
      2.0, 2.0,   //
      1.0, 3.0,   // duplicate of row 0
      0.5, 0.5,   // dominated
      4.0, -1.0;  // non-dominated but not better than r
  const Eigen::MatrixXd front = bomf::pareto_front(Y, Eigen::Vector2d(0.0, 0.0));
  Eigen::MatrixXd expected(3, 2);
  expected << 1.0, 3.0, 3.0, 1.0, 2.0, 2.0;
  EXPECT_EQ(front, expected);
  // A point equal to r in one objective is not strictly better.
  EXPECT_EQ(bomf::pareto_front(Y, Eigen::Vector2d(1.0, 0.0)).rows(), 2);
  EXPECT_EQ(bomf::pareto_front(Eigen::MatrixXd(0, 2), Eigen::Vector2d(0.0, 0.0)).rows(), 0);
  EXPECT_TRUE(bomf::dominates(Eigen::Vector2d(2.0, 2.0), Eigen::Vector2d(2.0, 1.0)));
  EXPECT_FALSE(bomf::dominates(Eigen::Vector2d(2.0, 2.0), Eigen::Vector2d(2.0, 2.0)));
  EXPECT_THROW((void)bomf::dominates(Eigen::Vector2d(2.0, 2.0), Eigen::Vector3d::Zero()),
               bomf::invalid_argument);
}

TEST(Pareto, NonDominatedSortingRanksFronts) {
  std::mt19937_64 rng(9);
  for (int m = 2; m <= 4; ++m) {
    const Eigen::MatrixXd Y = bomf::test::uniform_points(40, m, rng);
    const std::vector<int> rank = bomf::non_dominated_sort(Y);
    for (Eigen::Index i = 0; i < Y.rows(); ++i) {
      const int ri = rank[static_cast<std::size_t>(i)];
      ASSERT_GE(ri, 0);
      bool dominated_by_previous_front = ri == 0;
      for (Eigen::Index k = 0; k < Y.rows(); ++k) {
        const int rk = rank[static_cast<std::size_t>(k)];
        if (dominates_rows(Y, k, i)) {
          EXPECT_LT(rk, ri);  // dominators sit on earlier fronts
          dominated_by_previous_front = dominated_by_previous_front || rk == ri - 1;
        }
      }
      EXPECT_TRUE(dominated_by_previous_front) << "row " << i << " rank " << ri;
    }
    // Front 0 is the (non-deduplicated) Pareto set.
    const auto mask = bomf::non_dominated_mask(Y, false);
    for (Eigen::Index i = 0; i < Y.rows(); ++i) {
      EXPECT_EQ(rank[static_cast<std::size_t>(i)] == 0, mask[static_cast<std::size_t>(i)]);
    }
  }
  Eigen::MatrixXd dup(3, 2);
  dup << 1.0, 1.0, 1.0, 1.0, 0.0, 0.0;
  EXPECT_EQ(bomf::non_dominated_sort(dup), (std::vector<int>{0, 0, 1}));
}

TEST(Pareto, NaNRowsThrow) {
  Eigen::MatrixXd Y = Eigen::MatrixXd::Ones(3, 2);
  Y(1, 1) = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW((void)bomf::non_dominated_mask(Y), bomf::invalid_argument);
  EXPECT_THROW((void)bomf::non_dominated_sort(Y), bomf::invalid_argument);
  EXPECT_THROW((void)bomf::pareto_front(Y, Eigen::Vector2d::Zero()), bomf::invalid_argument);
  EXPECT_THROW((void)bomf::pareto_front(Eigen::MatrixXd::Ones(3, 2), Eigen::Vector3d::Zero()),
               bomf::invalid_argument);
}

}  // namespace
