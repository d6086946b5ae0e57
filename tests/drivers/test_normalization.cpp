// Normalization: the paper's min-max normalization, both anchor readings, overrides, directions.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "bomf/drivers/normalization.hpp"
#include "drivers_test_problems.hpp"

namespace {

using bomf::Direction;
using bomf::Normalization;
using bomf::NormalizationAnchor;
using bomf::NormalizationOptions;
using Eigen::MatrixXd;
using Eigen::VectorXd;

bomf::FusionObjectives objectives() {
  bomf::FusionObjectives o;
  o.metrics.push_back({"accuracy", Direction::maximize});
  o.metrics.push_back({"error_rate", Direction::minimize});
  return o;
}

// Three members: (loss, accuracy, error rate).
MatrixXd members() {
  return MatrixXd{{0.50, 0.80, 0.30}, {0.40, 0.85, 0.20}, {0.70, 0.75, 0.25}};
}

TEST(Normalization, BestMemberAnchorsGiveReferencePointZeroAtTheBestMember) {
  NormalizationOptions o;
  o.anchor = NormalizationAnchor::best_member;
  const Normalization n = Normalization::from_members(objectives(), members(), o);
  EXPECT_DOUBLE_EQ(n.anchor()(0), 0.40);  // lowest loss
  EXPECT_DOUBLE_EQ(n.anchor()(1), 0.85);  // highest accuracy
  EXPECT_DOUBLE_EQ(n.anchor()(2), 0.20);  // lowest error rate
  EXPECT_DOUBLE_EQ(n.range()(0), 1.0);
  EXPECT_DOUBLE_EQ(n.range()(1), 0.1);
  EXPECT_EQ(n.reference_point(), VectorXd::Zero(3));
  // One range better than the anchor is 1 in every objective; worse is negative.
  const VectorXd better{{0.40 - 1.0, 0.85 + 0.1, 0.20 - 0.1}};
  const VectorXd y = n.normalize(better);
  for (int j = 0; j < 3; ++j) {
    EXPECT_NEAR(y(j), 1.0, 1e-12) << j;
  }
  EXPECT_LT(n.normalize(VectorXd{{0.5, 0.80, 0.30}})(0), 0.0);
  EXPECT_NEAR(n.normalize(VectorXd{{0.5, 0.80, 0.30}})(1), -0.5, 1e-12);
  EXPECT_NEAR(n.normalize(VectorXd{{0.5, 0.80, 0.30}})(2), -1.0, 1e-12);
  // The inverse map.
  const VectorXd v{{0.33, 0.9, 0.12}};
  EXPECT_LT((n.to_natural(n.normalize(v)) - v).cwiseAbs().maxCoeff(), 1e-14);
}

TEST(Normalization, WorstMemberAnchorsAtTheMembersNadirRoundedOutwardByDefault) {
  const NormalizationOptions defaults;
  EXPECT_EQ(defaults.anchor, NormalizationAnchor::worst_member);
  const Normalization n = Normalization::from_members(objectives(), members());
  // The nadir (0.70, 0.75, 0.30), moved strictly outward to grids of 0.1 (loss), 0.01 (metrics).
  EXPECT_EQ(n.anchor()(0), 0.8);   // highest loss 0.70, on the grid: one step up
  EXPECT_EQ(n.anchor()(1), 0.74);  // lowest accuracy: the paper's "lowest value"
  EXPECT_EQ(n.anchor()(2), 0.31);  // highest error rate
  // Every member is strictly better than the reference point in every objective.
  const MatrixXd y = n.normalize_rows(members());
  EXPECT_GT(y.minCoeff(), 0.0);
  // Without rounding: the nadir itself.
  NormalizationOptions raw;
  raw.anchor_grid = 0.0;
  const Normalization r = Normalization::from_members(objectives(), members(), raw);
  EXPECT_DOUBLE_EQ(r.anchor()(0), 0.70);
  EXPECT_DOUBLE_EQ(r.anchor()(1), 0.75);
  EXPECT_DOUBLE_EQ(r.anchor()(2), 0.30);
  EXPECT_GE(r.normalize_rows(members()).minCoeff(), 0.0);
}

TEST(Normalization, OverridesAndFailedMembers) {
  NormalizationOptions o;
  o.anchor = NormalizationAnchor::best_member;
  o.anchor_overrides = {std::nullopt, 0.9, std::nullopt};
  o.range_overrides = {2.0, std::nullopt, 0.05};
  MatrixXd m = members();
  m(1, 2) = std::numeric_limits<double>::quiet_NaN();  // member 1 failed: ignored everywhere
  const Normalization n = Normalization::from_members(objectives(), m, o);
  EXPECT_DOUBLE_EQ(n.anchor()(0), 0.50);
  EXPECT_DOUBLE_EQ(n.anchor()(1), 0.9);
  EXPECT_DOUBLE_EQ(n.anchor()(2), 0.25);
  EXPECT_DOUBLE_EQ(n.range()(0), 2.0);
  EXPECT_DOUBLE_EQ(n.range()(1), 0.1);
  EXPECT_DOUBLE_EQ(n.range()(2), 0.05);

  o.anchor_overrides = {1.0, 0.9, 0.1};
  EXPECT_TRUE(o.all_anchors_overridden(3));
  const Normalization only = Normalization::from_overrides(objectives(), o);
  EXPECT_DOUBLE_EQ(only.anchor()(0), 1.0);
}

using bomf::test::message_of;

TEST(Normalization, BadInput) {
  NormalizationOptions o;
  o.metric_range = 0.0;
  EXPECT_NE(message_of([&] {
              Normalization::from_members(objectives(), members(), o);
            }).find("metric_range is 0, expected a value from 1e-12 to 1e+15"),
            std::string::npos);
  // Anchors and ranges whose normalized values would swamp the others' or overflow.
  const std::vector<std::pair<std::function<void(NormalizationOptions&)>, std::string>> bounds = {
      {[](NormalizationOptions& b) {
         b.anchor_overrides = {std::nullopt, 1e16, std::nullopt};
       },
       "anchor_overrides[1] is 1e+16, expected a finite value within ±1e+15"},
      {[](NormalizationOptions& b) {
         b.anchor_overrides = {-1e308, std::nullopt, std::nullopt};
       },
       "anchor_overrides[0] is -1e+308, expected a finite value within ±1e+15"},
      {[](NormalizationOptions& b) {
         b.range_overrides = {std::nullopt, std::nullopt, 1e-13};
       },
       "range_overrides[2] is 1e-13, expected a value from 1e-12 to 1e+15"},
      {[](NormalizationOptions& b) {
         b.range_overrides = {2e15, std::nullopt, std::nullopt};
       },
       "range_overrides[0] is 2e+15, expected a value from 1e-12 to 1e+15"},
      {[](NormalizationOptions& b) { b.loss_range = 1e-300; },
       "loss_range is 1e-300, expected a value from 1e-12 to 1e+15"},
  };
  for (const auto& [set, expected] : bounds) {
    NormalizationOptions b;
    set(b);
    EXPECT_NE(
        message_of([&] { Normalization::from_members(objectives(), members(), b); }).find(expected),
        std::string::npos)
        << expected;
  }
  NormalizationOptions edge;  // the limits themselves are accepted
  edge.anchor_overrides = {-1e15, 1e15, std::nullopt};
  edge.range_overrides = {1e-12, 1e15, std::nullopt};
  EXPECT_NO_THROW(Normalization::from_members(objectives(), members(), edge));
  o = NormalizationOptions();
  o.anchor_overrides = {0.1};
  EXPECT_NE(message_of([&] {
              Normalization::from_members(objectives(), members(), o);
            }).find("anchor_overrides has 1 entries, expected 0 or 3"),
            std::string::npos);
  EXPECT_NE(message_of([&] {
              Normalization::from_members(objectives(), MatrixXd(3, 2));
            }).find("'member_values' has 2 columns, expected 3"),
            std::string::npos);
  const MatrixXd failed = MatrixXd::Constant(2, 3, std::nan(""));
  EXPECT_NE(message_of([&] {
              Normalization::from_members(objectives(), failed);
            }).find("no member has finite values"),
            std::string::npos);
}

}  // namespace
