// Hypervolumes and box decompositions against BoTorch 0.11.3 (tests/data/hypervolume.json).
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "bomf/multi_objective/multi_objective.hpp"
#include "helpers.hpp"
#include "support/reference.hpp"

namespace {

using bomf::test::close;
using bomf::test::to_matrix;
using bomf::test::to_vector;

constexpr double kHvRelTol = 1e-12;

struct Case {
  std::string name;
  Eigen::MatrixXd Y;
  Eigen::VectorXd ref;
  nlohmann::json json;
};

std::vector<Case> load_cases() {
  const auto data = bomf::test::load_reference("hypervolume.json");
  std::vector<Case> cases;
  for (const auto& c : data.at("cases")) {
    Case out;
    out.name = "m" + std::to_string(c.at("m").get<int>()) + "_n" +
               std::to_string(c.at("n").get<int>()) + "_" + c.at("kind").get<std::string>();
    out.ref = to_vector(c.at("ref_point"));
    out.Y = to_matrix(c.at("Y"));
    if (out.Y.rows() == 0) {
      out.Y.resize(0, out.ref.size());
    }
    out.json = c;
    cases.push_back(out);
  }
  return cases;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> all = load_cases();
  return all;
}

TEST(HypervolumeReference, FileHasAllKinds) {
  EXPECT_EQ(cases().size(), 63U);
}

TEST(HypervolumeReference, EveryAlgorithmMatchesBoTorchHypervolume) {
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    const double expected = c.json.at("hv_exact_botorch_Hypervolume").get<double>();
    const auto m = c.ref.size();
    EXPECT_TRUE(close(bomf::hypervolume(c.Y, c.ref), expected, kHvRelTol));
    EXPECT_TRUE(close(bomf::hypervolume_wfg(c.Y, c.ref), expected, kHvRelTol));
    EXPECT_TRUE(close(bomf::hypervolume_dimension_sweep(c.Y, c.ref), expected, kHvRelTol));
    if (m == 2) {
      EXPECT_TRUE(close(bomf::hypervolume_2d(c.Y, c.ref), expected, kHvRelTol));
    }
    if (m == 3) {
      EXPECT_TRUE(close(bomf::hypervolume_3d(c.Y, c.ref), expected, kHvRelTol));
    }
  }
}

TEST(HypervolumeReference, ParetoFrontSizeMatches) {
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(bomf::pareto_front(c.Y, c.ref).rows(),
              c.json.at("num_pareto_better_than_ref").get<int>());
  }
}

TEST(HypervolumeReference, DominatedPartitioningMatchesBoTorch) {
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    const bomf::DominatedPartitioning part(c.Y, c.ref);
    EXPECT_EQ(part.num_cells(), c.json.at("num_cells_DominatedPartitioning").get<int>());
    EXPECT_TRUE(
        close(part.hypervolume(), c.json.at("hv_DominatedPartitioning").get<double>(), kHvRelTol));
    // The cells are boxes inside [r, ideal] whose volumes sum to the hypervolume.
    const auto cells = part.cells();
    for (Eigen::Index i = 0; i < cells.size(); ++i) {
      EXPECT_TRUE((cells.lower.row(i).array() <= cells.upper.row(i).array()).all());
      EXPECT_TRUE((cells.lower.row(i).transpose().array() >= c.ref.array()).all());
    }
  }
}

TEST(HypervolumeReference, NondominatedCellsAreBoTorchsCells) {
  std::mt19937_64 rng(20240611);
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    const bomf::FastNondominatedPartitioning part(c.Y, c.ref);
    const double hv = c.json.at("hv_exact_botorch_Hypervolume").get<double>();
    EXPECT_EQ(part.num_cells(), c.json.at("num_cells_FastNondominatedPartitioning").get<int>());
    EXPECT_TRUE(close(part.hypervolume(),
                      c.json.at("hv_FastNondominatedPartitioning").get<double>(), kHvRelTol));
    const auto cells = part.cells();
    // Volume inside a bounding box above r: the box minus the hypervolume.
    Eigen::VectorXd hi = c.ref.array() + 1.0;
    for (Eigen::Index i = 0; i < c.Y.rows(); ++i) {
      hi = hi.cwiseMax(c.Y.row(i).transpose() + Eigen::VectorXd::Constant(c.ref.size(), 0.5));
    }
    const double box = (hi - c.ref).prod();
    EXPECT_TRUE(close(bomf::clipped_volume(cells, c.ref, hi), box - hv, 1e-12, 1e-12 * box));
    // Membership on random probes (also below r): in exactly one cell iff non-dominated.
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const Eigen::VectorXd lo = c.ref.array() - 0.1 * (hi - c.ref).array();
    for (int probe = 0; probe < 400; ++probe) {
      Eigen::VectorXd z(c.ref.size());
      for (Eigen::Index j = 0; j < z.size(); ++j) {
        z(j) = lo(j) + (hi(j) - lo(j)) * u(rng);
      }
      const int expected = bomf::test::non_dominated_above(c.Y, c.ref, z) ? 1 : 0;
      ASSERT_EQ(bomf::test::containing_boxes(cells, z), expected) << "probe " << z.transpose();
    }
  }
}

}  // namespace
