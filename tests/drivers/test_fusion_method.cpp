// The method's decisions (issue: "BOMF's search as the paper runs it"): the paper's reference
// point by default, a blind search is reported (and optionally escaped), the selection rules on
// noisy observations, the last checkpoint baseline.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "bomf/drivers/baselines.hpp"
#include "bomf/drivers/fusion_search.hpp"
#include "bomf/drivers/normalization.hpp"
#include "drivers_test_problems.hpp"

namespace {

using bomf::FusionSearch;
using bomf::FusionSearchOptions;
using bomf::NormalizationAnchor;
using bomf::test::fast_fusion_options;
using bomf::test::TrajectoryMembersProblem;
using Eigen::VectorXd;

bool is_vertex(const VectorXd& delta) {
  return delta.maxCoeff() == 1.0;
}

TEST(FusionMethod, TheDefaultReferencePointSeesFusedModelsWhenMembersDisagree) {
  TrajectoryMembersProblem problem(5);
  bomf::FusionEvaluator evaluator(problem);
  const FusionSearchOptions options = fast_fusion_options(5, 10, /*seed=*/3);
  EXPECT_EQ(options.normalization.anchor, NormalizationAnchor::worst_member);
  bomf::FusionSummary summary;
  const bomf::FusionResult result = bomf::solve(options, evaluator, &summary);

  // The paper's anchors: the worst member's values, rounded outward to a tenth of the range.
  ASSERT_EQ(summary.anchor.size(), 2);
  EXPECT_DOUBLE_EQ(summary.anchor(0), 0.5);   // worst loss 0.42, up to the 0.1 grid
  EXPECT_DOUBLE_EQ(summary.anchor(1), 0.69);  // worst F1 0.70, strictly below on the 0.01 grid
  // Every member is inside the reference box: the hypervolume is positive from the members on.
  EXPECT_GT(summary.trace[4].hypervolume, 0.0);
  EXPECT_GT(summary.trace[9].hypervolume, 0.0) << "after the initial design";
  EXPECT_GT(summary.trace.back().hypervolume, summary.trace[9].hypervolume);
  for (const bomf::FusionIteration& row : summary.trace) {
    EXPECT_FALSE(row.blind);
  }
  EXPECT_TRUE(summary.warnings.empty());
  // The chosen δ fuses members and beats every member's metric.
  EXPECT_FALSE(is_vertex(result.delta)) << result.delta.transpose();
  EXPECT_GT(result.evaluation.metrics(0), problem.metric(VectorXd::Unit(5, 4)));
  EXPECT_EQ(summary.brief_report().find("WARNING"), std::string::npos);
}

TEST(FusionMethod, ABlindSearchIsReportedWithTheReasonAndWhatToDo) {
  TrajectoryMembersProblem problem(5);
  bomf::FusionEvaluator evaluator(problem);
  FusionSearchOptions options = fast_fusion_options(5, 6, /*seed=*/3);
  options.normalization.anchor = NormalizationAnchor::best_member;
  std::vector<bool> blind_seen;
  options.callback = [&](const bomf::FusionIteration& row) {
    blind_seen.push_back(row.blind);
    return true;
  };
  bomf::FusionSummary summary;
  (void)bomf::solve(options, evaluator, &summary);
  ASSERT_EQ(summary.trace.size(), 16u);
  // Blind from the end of the initial design on, never before.
  for (std::size_t i = 0; i < summary.trace.size(); ++i) {
    EXPECT_EQ(summary.trace[i].hypervolume == 0.0, i >= 4) << i;
    EXPECT_EQ(summary.trace[i].blind, i >= 9) << i;
    EXPECT_EQ(blind_seen[i], i >= 9) << i;
  }
  ASSERT_EQ(summary.warnings.size(), 1u);
  const std::string& w = summary.warnings.front();
  EXPECT_MESSAGE(w, "blind search");
  EXPECT_MESSAGE(w, "after 10 evaluations");
  // The lowest-loss member sits exactly on the reference; no evaluation so far beat it.
  EXPECT_MESSAGE(w, "no evaluation improves 'loss' on the reference (best 0.3, reference 0.3)");
  EXPECT_MESSAGE(w, "NormalizationAnchor::worst_member");
  EXPECT_MESSAGE(summary.brief_report(), "WARNING: blind search");
  // The same run replayed from its ledger reports the same.
  FusionSearch replay(evaluator.ledger(), options);
  EXPECT_EQ(replay.summary().warnings, summary.warnings);
}

TEST(FusionMethod, AnObjectiveNoPointImprovesIsNamed) {
  TrajectoryMembersProblem problem(4);
  FusionSearchOptions options = fast_fusion_options(3, 0, /*seed=*/1);
  // A reference F1 beyond anything the problem reaches.
  options.normalization.anchor_overrides = {std::nullopt, 0.99};
  bomf::FusionSummary summary;
  (void)bomf::solve(options, problem, &summary);
  ASSERT_EQ(summary.warnings.size(), 1u);
  EXPECT_MESSAGE(summary.warnings.front(), "no evaluation improves 'f1' on the reference");
  EXPECT_MESSAGE(summary.warnings.front(), "reference 0.99");
}

TEST(FusionMethod, MovingTheReferencePointGivesTheBlindSearchASignalAndResumesIdentically) {
  const std::string journal = ::testing::TempDir() + "bomf_blind_move_" +
                              std::to_string(static_cast<long>(::getpid())) + ".jsonl";
  std::remove(journal.c_str());
  FusionSearchOptions options = fast_fusion_options(5, 8, /*seed=*/5);
  options.normalization.anchor = NormalizationAnchor::best_member;
  options.blind_search.patience = 2;
  options.blind_search.move_reference_point = true;
  options.journal = journal;
  std::vector<VectorXd> proposals;
  {
    TrajectoryMembersProblem problem(5);
    bomf::FusionSummary summary;
    const bomf::FusionResult result = bomf::solve(options, problem, &summary);
    ASSERT_EQ(summary.trace.size(), 18u);
    // Blind at row 11 (design + patience 2), moved there; positive hypervolume afterwards.
    for (std::size_t i = 0; i < summary.trace.size(); ++i) {
      EXPECT_EQ(summary.trace[i].reference_moved, i == 11) << i;
      EXPECT_EQ(summary.trace[i].hypervolume > 0.0, i >= 11) << i;
    }
    ASSERT_EQ(summary.warnings.size(), 1u);
    EXPECT_MESSAGE(summary.warnings.front(), "The reference point is moved");
    // The new anchors: the nadir of every evaluation so far, rounded outward.
    EXPECT_GE(summary.anchor(0), 0.42);
    EXPECT_LE(summary.anchor(1), 0.70);
    EXPECT_FALSE(is_vertex(result.delta));
    for (const auto& row : summary.trace) {
      proposals.push_back(row.delta);
    }
  }
  // Kill after 14 evaluations (drop the last 4 records), resume: the same proposals.
  {
    std::ifstream in(journal);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
      lines.push_back(line);
    }
    in.close();
    int kept_evaluations = 0;
    std::ofstream out(journal, std::ios::trunc);
    for (const std::string& line : lines) {
      const bool evaluation = line.find("\"kind\":\"evaluation\"") != std::string::npos;
      if (evaluation && ++kept_evaluations > 14)
        break;
      out << line << '\n';
    }
  }
  TrajectoryMembersProblem problem(5);
  bomf::FusionSummary resumed;
  (void)bomf::solve(options, problem, &resumed);
  EXPECT_EQ(problem.calls, 4);
  ASSERT_EQ(resumed.trace.size(), proposals.size());
  for (std::size_t i = 0; i < proposals.size(); ++i) {
    EXPECT_EQ(resumed.trace[i].delta, proposals[i]) << i;
  }
  std::remove(journal.c_str());
}

/// The true metric of a 3-member problem: a smooth bowl with its peak at p (observed below with
/// validation noise, fixed per δ as a fixed validation set gives).
double bowl(const VectorXd& delta) {
  const VectorXd p{{0.2, 0.5, 0.3}};
  return 0.80 - 0.05 * (delta - p).squaredNorm();
}

TEST(FusionMethod, ThePosteriorRuleAveragesOutValidationNoiseTheObservedRuleSelects) {
  // Observations on a grid of the simplex (spacing 0.1, 66 points): the bowl plus noise of
  // standard deviation 0.005, and one lucky evaluation far from the peak whose noise is +0.08 —
  // the largest observed value. The model-based rule must see through it.
  bomf::FusionObjectives objectives;
  objectives.metrics.push_back({"accuracy", bomf::Direction::maximize});
  for (const std::uint64_t seed : {0u, 1u, 2u}) {
    FusionSearchOptions options = fast_fusion_options(0, 0, seed);
    options.member_values = Eigen::MatrixXd{{0.5, 0.7}, {0.5, 0.7}, {0.5, 0.7}};
    FusionSearch search(3, objectives, options);
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> noise(0.0, 0.005);
    const VectorXd lucky{{0.9, 0.0, 0.1}};
    for (int a = 0; a <= 10; ++a) {
      for (int b = 0; a + b <= 10; ++b) {
        const VectorXd delta{{a / 10.0, b / 10.0, (10 - a - b) / 10.0}};
        bomf::FusionEvaluation e;
        e.loss = 0.5 + 0.01 * delta(0);
        const double n = (delta - lucky).norm() < 1e-12 ? 0.08 : noise(rng);
        e.metrics = VectorXd::Constant(1, bowl(delta) + n);
        search.observe(search.simplex().repair(delta), e);
      }
    }
    bomf::FusionSelection observed;
    observed.rule = bomf::FusionSelectionRule::best_metric_sum;
    bomf::FusionSelection posterior;
    posterior.rule = bomf::FusionSelectionRule::posterior_metric_sum;
    const bomf::FusionResult by_observed = search.select(observed);
    const bomf::FusionResult by_posterior = search.select(posterior);
    EXPECT_LT((by_observed.delta - lucky).norm(), 1e-9) << "seed " << seed;
    // The posterior choice is one grid step or less from the peak, and truly better.
    const VectorXd p{{0.2, 0.5, 0.3}};
    EXPECT_LE((by_posterior.delta - p).lpNorm<Eigen::Infinity>(), 0.2 + 1e-9)
        << "seed " << seed << ": " << by_posterior.delta.transpose();
    EXPECT_GT(bowl(by_posterior.delta), bowl(by_observed.delta) + 0.03) << "seed " << seed;
  }
}

TEST(FusionMethod, ThePosteriorRuleFallsBackToObservedValuesWithTooFewPoints) {
  bomf::FusionObjectives objectives;
  objectives.metrics.push_back({"accuracy", bomf::Direction::maximize});
  FusionSearchOptions options = fast_fusion_options(0, 0);
  options.member_values = Eigen::MatrixXd{{0.5, 0.7}, {0.5, 0.7}};
  options.selection.rule = bomf::FusionSelectionRule::posterior_metric_sum;
  FusionSearch search(2, objectives, options);
  bomf::FusionEvaluation e;
  e.loss = 0.4;
  e.metrics = VectorXd::Constant(1, 0.75);
  search.observe(VectorXd{{0.5, 0.5}}, e);
  EXPECT_EQ(search.result().delta, (VectorXd{{0.5, 0.5}}));
}

TEST(FusionMethod, LastCheckpointIsTheFinalMember) {
  TrajectoryMembersProblem problem(4);
  bomf::FusionEvaluator evaluator(problem);
  const bomf::FusionResult last = bomf::last_checkpoint(evaluator);
  EXPECT_EQ(last.method, "last checkpoint");
  EXPECT_EQ(last.delta, VectorXd::Unit(4, 3));
  EXPECT_DOUBLE_EQ(last.evaluation.metrics(0), 0.73);
  EXPECT_EQ(last.new_evaluations, 1);
  EXPECT_EQ(bomf::last_checkpoint(evaluator).new_evaluations, 0) << "reused from the ledger";
}

TEST(NormalizationRounding, WorstMemberAnchorsMoveOutwardToTheGridStrictly) {
  using bomf::detail::round_outward;
  EXPECT_EQ(round_outward(0.8734, 0.01, true), 0.87);
  EXPECT_EQ(round_outward(0.87, 0.01, true), 0.86) << "strictly below";
  EXPECT_EQ(round_outward(0.412, 0.1, false), 0.5);
  EXPECT_EQ(round_outward(0.5, 0.1, false), 0.6) << "strictly above";
  EXPECT_EQ(round_outward(-0.004, 0.01, true), -0.01);
  EXPECT_EQ(round_outward(27.3, 0.3, true), 27.0);
  EXPECT_DOUBLE_EQ(round_outward(1.0, 1.0 / 3.0, false), 4.0 / 3.0);
  EXPECT_EQ(round_outward(1e300, 0.01, true), 1e300) << "too large for the grid: unchanged";
  // No rounding with anchor_grid = 0; best_member anchors are never rounded.
  bomf::FusionObjectives o;
  o.metrics.push_back({"acc", bomf::Direction::maximize});
  const Eigen::MatrixXd members{{0.41, 0.8734}, {0.52, 0.91}};
  bomf::NormalizationOptions none;
  none.anchor_grid = 0.0;
  EXPECT_EQ(bomf::Normalization::from_members(o, members, none).anchor(),
            (VectorXd{{0.52, 0.8734}}));
  const bomf::Normalization paper = bomf::Normalization::from_members(o, members);
  EXPECT_EQ(paper.anchor(), (VectorXd{{0.6, 0.87}}));
  bomf::NormalizationOptions best;
  best.anchor = NormalizationAnchor::best_member;
  EXPECT_EQ(bomf::Normalization::from_members(o, members, best).anchor(), (VectorXd{{0.41, 0.91}}));
  bomf::NormalizationOptions bad;
  bad.anchor_grid = 1.5;
  EXPECT_MESSAGE(bad.validate(2), "anchor_grid is 1.5, expected a value in [0, 1]");
}

}  // namespace
