// Box decompositions: coverage, incremental updates, allocation behaviour, bad input.
#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <vector>

#include "allocation_counter.hpp"
#include "bomf/multi_objective/multi_objective.hpp"
#include "helpers.hpp"
#include "support/reference.hpp"

namespace {

using bomf::test::close;

Eigen::MatrixXd random_set(int n, int m, int kind, std::mt19937_64& rng) {
  return kind == 0 ? bomf::test::uniform_points(n, m, rng) : bomf::test::sphere_points(n, m, rng);
}

TEST(BoxDecomposition, NondominatedCellsPartitionTheNondominatedRegion) {
  std::mt19937_64 rng(31);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int m = 2; m <= 5; ++m) {
    for (int kind = 0; kind < 2; ++kind) {
      const int n = m <= 3 ? 40 : 12;
      const Eigen::MatrixXd Y = random_set(n, m, kind, rng);
      const Eigen::VectorXd r = Eigen::VectorXd::Constant(m, 0.1);
      const auto cells = bomf::non_dominated_partitioning(Y, r);
      const double hv = bomf::hypervolume(Y, r);
      const Eigen::VectorXd hi = Eigen::VectorXd::Constant(m, 1.5);
      EXPECT_TRUE(close(bomf::clipped_volume(cells, r, hi), (hi - r).prod() - hv, 1e-12, 1e-14));
      for (int probe = 0; probe < 300; ++probe) {
        Eigen::VectorXd z(m);
        for (int j = 0; j < m; ++j) {
          z(j) = -0.1 + 1.7 * u(rng);
        }
        ASSERT_EQ(bomf::test::containing_boxes(cells, z),
                  bomf::test::non_dominated_above(Y, r, z) ? 1 : 0);
      }
    }
  }
}

TEST(BoxDecomposition, DominatedCellsPartitionTheDominatedRegion) {
  std::mt19937_64 rng(37);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int m = 2; m <= 5; ++m) {
    const int n = m <= 3 ? 40 : 12;
    const Eigen::MatrixXd Y = bomf::test::sphere_points(n, m, rng);
    const Eigen::VectorXd r = Eigen::VectorXd::Constant(m, 0.05);
    const bomf::DominatedPartitioning part(Y, r);
    const auto cells = part.cells();
    EXPECT_TRUE(close(part.hypervolume(), bomf::hypervolume(Y, r), 1e-12));
    for (int probe = 0; probe < 300; ++probe) {
      Eigen::VectorXd z(m);
      for (int j = 0; j < m; ++j) {
        z(j) = 1.1 * u(rng);
      }
      const bool dominated =
          (z.array() >= r.array()).all() && !bomf::test::non_dominated_above(Y, r, z);
      ASSERT_EQ(bomf::test::containing_boxes(cells, z), dominated ? 1 : 0);
    }
  }
}

TEST(BoxDecomposition, IncrementalUpdateEqualsRebuild) {
  std::mt19937_64 rng(41);
  for (int m = 2; m <= 4; ++m) {
    for (int kind = 0; kind < 2; ++kind) {
      SCOPED_TRACE(testing::Message() << "m=" << m << " kind=" << kind);
      const int n = m <= 3 ? 40 : 20;
      const Eigen::MatrixXd Y = random_set(n, m, kind, rng);
      const Eigen::VectorXd r = Eigen::VectorXd::Constant(m, 0.2);
      bomf::FastNondominatedPartitioning fast(Y.topRows(3), r);
      bomf::DominatedPartitioning dom(Y.topRows(3), r);
      for (int i = 3; i < n; ++i) {
        fast.update(Y.row(i));
        dom.update(Y.row(i));
        const Eigen::MatrixXd prefix = Y.topRows(i + 1);
        const bomf::FastNondominatedPartitioning rebuilt(prefix, r);
        const bomf::DominatedPartitioning rebuilt_dom(prefix, r);
        ASSERT_EQ(fast.num_cells(), rebuilt.num_cells()) << "after point " << i;
        ASSERT_EQ(bomf::test::sorted_boxes(fast.cells()),
                  bomf::test::sorted_boxes(rebuilt.cells()));
        ASSERT_EQ(bomf::test::sorted_boxes(dom.cells()),
                  bomf::test::sorted_boxes(rebuilt_dom.cells()));
        ASSERT_TRUE(close(fast.hypervolume(), bomf::hypervolume(prefix, r), 1e-12, 1e-15));
      }
      // A batch update of several rows at once.
      bomf::FastNondominatedPartitioning batch(Y.topRows(5), r);
      batch.update(Y.bottomRows(n - 5));
      EXPECT_EQ(bomf::test::sorted_boxes(batch.cells()),
                bomf::test::sorted_boxes(bomf::non_dominated_partitioning(Y, r)));
    }
  }
}

TEST(BoxDecomposition, UpdateWithDominatedPointChangesNothingAndEmptyFrontIsRebuilt) {
  const Eigen::Vector3d r(0.0, 0.0, 0.0);
  Eigen::MatrixXd Y(2, 3);
  Y << 1.0, 2.0, 3.0, 3.0, 2.0, 1.0;
  bomf::FastNondominatedPartitioning part(Y, r);
  const auto before = bomf::test::sorted_boxes(part.cells());
  part.update(Eigen::RowVector3d(0.5, 0.5, 0.5));
  part.update(Eigen::RowVector3d(5.0, 5.0, -1.0));  // not better than r
  part.update(Y.row(0));                            // a duplicate
  EXPECT_EQ(bomf::test::sorted_boxes(part.cells()), before);
  // Starting from an empty front: one cell [r, +∞).
  bomf::FastNondominatedPartitioning empty(Eigen::MatrixXd(0, 3), r);
  ASSERT_EQ(empty.num_cells(), 1);
  EXPECT_EQ(Eigen::Vector3d(empty.cell_lower().row(0).transpose()), r);
  EXPECT_TRUE(std::isinf(empty.cell_upper().maxCoeff()) &&
              std::isinf(empty.cell_upper().minCoeff()));
  EXPECT_EQ(empty.hypervolume(), 0.0);
  empty.update(Y);
  EXPECT_EQ(bomf::test::sorted_boxes(empty.cells()), before);
  const bomf::DominatedPartitioning dom(Eigen::MatrixXd(0, 3), r);
  ASSERT_EQ(dom.num_cells(), 1);
  EXPECT_EQ(dom.hypervolume(), 0.0);
}

TEST(BoxDecomposition, RecomputingWithWarmBuffersDoesNotAllocate) {
  std::mt19937_64 rng(43);
  for (int m = 2; m <= 4; ++m) {
    const Eigen::MatrixXd Y = bomf::test::sphere_points(m == 4 ? 40 : 90, m, rng);
    const Eigen::MatrixXd Y2 = Y.array() * 0.999;  // same structure, other values
    const Eigen::VectorXd r = Eigen::VectorXd::Zero(m);
    bomf::FastNondominatedPartitioning part;
    part.compute(Y, r);
    part.compute(Y2, r);
    const int cells = part.num_cells();
    const long before = bomf::test::allocation_count();
    part.compute(Y, r);
    part.compute(Y2, r);
    const long after = bomf::test::allocation_count();
    EXPECT_EQ(after - before, 0) << "m=" << m;
    EXPECT_EQ(part.num_cells(), cells);
  }
}

TEST(BoxDecomposition, BatchCellsArePaddedAsBoTorchQnehviPadsThem) {
  std::mt19937_64 rng(47);
  for (int m = 2; m <= 4; ++m) {
    SCOPED_TRACE(testing::Message() << "m=" << m);
    const Eigen::VectorXd r = Eigen::VectorXd::Constant(m, 0.3);
    std::vector<Eigen::MatrixXd> samples;
    samples.reserve(6);
    for (int s = 0; s < 5; ++s) {
      samples.emplace_back(bomf::test::uniform_points(4 + 3 * s, m, rng));
    }
    samples.emplace_back(Eigen::MatrixXd::Constant(3, m, 0.1));  // nothing better than r
    const auto batch = bomf::batch_non_dominated_partitioning(samples, r);
    ASSERT_EQ(batch.size(), samples.size());
    Eigen::Index k_max = 0;
    Eigen::Index cells_max = 0;
    for (const auto& Y : samples) {
      k_max = std::max(k_max, bomf::pareto_front(Y, r).rows());
      cells_max = std::max(cells_max, bomf::non_dominated_partitioning(Y, r).size());
    }
    const Eigen::VectorXd hi = Eigen::VectorXd::Constant(m, 2.0);
    for (std::size_t s = 0; s < samples.size(); ++s) {
      const auto& cells = batch[s];
      const auto plain = bomf::non_dominated_partitioning(samples[s], r);
      EXPECT_EQ(cells.size(), m == 2 ? k_max + 1 : cells_max);
      // Same region: padding adds only empty (zero-volume) cells.
      EXPECT_TRUE(close(bomf::clipped_volume(cells, r, hi), bomf::clipped_volume(plain, r, hi),
                        1e-13, 1e-15));
      if (m > 2) {
        EXPECT_EQ(cells.lower.topRows(plain.size()), plain.lower);
        EXPECT_TRUE(cells.lower.bottomRows(cells.size() - plain.size()).isZero(0.0));
        EXPECT_TRUE(cells.upper.bottomRows(cells.size() - plain.size()).isZero(0.0));
      } else if (bomf::pareto_front(samples[s], r).rows() == k_max) {
        EXPECT_EQ(cells.lower, plain.lower);  // no padding needed
        EXPECT_EQ(cells.upper, plain.upper);
      }
    }
  }
  // Every front empty: one cell [r, +inf) per sample.
  const std::vector<Eigen::MatrixXd> none{Eigen::MatrixXd::Zero(2, 2), Eigen::MatrixXd(0, 2)};
  const auto single = bomf::batch_non_dominated_partitioning(none, Eigen::Vector2d(1.0, 1.0));
  ASSERT_EQ(single.size(), 2U);
  EXPECT_EQ(single[1].size(), 1);
  EXPECT_EQ(single[1].lower, Eigen::RowVector2d(1.0, 1.0));
  EXPECT_TRUE(std::isinf(single[1].upper(0, 0)) && std::isinf(single[1].upper(0, 1)));
}

TEST(BoxDecomposition, BadInput) {
  const Eigen::Vector2d r(0.0, 0.0);
  Eigen::MatrixXd Y = Eigen::MatrixXd::Ones(3, 2);
  Y(2, 0) = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(bomf::FastNondominatedPartitioning(Y, r), bomf::invalid_argument);
  EXPECT_THROW(bomf::DominatedPartitioning(Y, r), bomf::invalid_argument);
  EXPECT_THROW(
      bomf::FastNondominatedPartitioning(Eigen::MatrixXd::Ones(3, 2), Eigen::Vector3d::Zero()),
      bomf::invalid_argument);
  // One objective: no partition (BoTorch needs m ≥ 2 as well).
  EXPECT_THROW(
      bomf::FastNondominatedPartitioning(Eigen::MatrixXd::Ones(3, 1), Eigen::VectorXd::Zero(1)),
      bomf::invalid_argument);
  bomf::FastNondominatedPartitioning fresh;
  EXPECT_THROW(fresh.update(Eigen::MatrixXd::Ones(1, 2)), bomf::invalid_argument);
  bomf::FastNondominatedPartitioning part(Eigen::MatrixXd::Ones(3, 2), r);
  EXPECT_THROW(part.update(Y), bomf::invalid_argument);
  EXPECT_THROW(part.update(Eigen::MatrixXd::Ones(1, 3)), bomf::invalid_argument);
  EXPECT_THROW((void)bomf::hypervolume_improvement(part.cells(), Eigen::Vector3d::Ones()),
               bomf::invalid_argument);
}

}  // namespace
