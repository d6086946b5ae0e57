// The baselines: best single member, SWA, Greedy SWA, Learned SWA; shared evaluations.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "bomf/drivers/baselines.hpp"
#include "drivers_test_problems.hpp"

namespace {

using bomf::FusionEvaluation;
using bomf::FusionObjectives;
using Eigen::VectorXd;

using bomf::test::message_of;

FusionObjectives two_metrics() {
  FusionObjectives o;
  o.metrics.push_back({"accuracy", bomf::Direction::maximize});
  o.metrics.push_back({"error", bomf::Direction::minimize});
  return o;
}

// Metric values given per set of members (uniform averages); loss = 1 everywhere.
struct TableProblem {
  std::map<std::vector<int>, double> accuracy;
  int calls = 0;
  FusionEvaluation operator()(const VectorXd& d) {
    ++calls;
    std::vector<int> members;
    for (int i = 0; i < d.size(); ++i) {
      if (d(i) > 0.0)
        members.push_back(i);
    }
    FusionEvaluation e;
    e.loss = 1.0;
    e.metrics = VectorXd{{accuracy.at(members), 0.1}};
    return e;
  }
};

// Greedy SWA's table: member metrics 2 best (0.8), then 0 (0.7), 3 (0.6), 1 (0.5), and the soups
// greedy_swa tries.
TableProblem greedy_table() {
  TableProblem table;
  table.accuracy = {{{0}, 0.7},     {{1}, 0.5},     {{2}, 0.8},        {{3}, 0.6},
                    {{0, 2}, 0.79}, {{2, 3}, 0.85}, {{1, 2, 3}, 0.85}, {{0, 1, 2, 3}, 0.6}};
  return table;
}

// loss = ‖δ − target‖² with its gradient (metrics 1 − loss and loss); counts evaluate calls in
// `*evaluations` when given.
auto squared_distance_problem(const VectorXd& target, int* evaluations = nullptr) {
  return bomf::make_fusion_problem(
      static_cast<int>(target.size()), two_metrics(),
      [target, evaluations](const VectorXd& d) {
        if (evaluations != nullptr)
          ++*evaluations;
        FusionEvaluation e;
        e.loss = (d - target).squaredNorm();
        e.metrics = VectorXd{{1.0 - e.loss, e.loss}};
        return e;
      },
      [target](const VectorXd& d, VectorXd& g) {
        g = 2.0 * (d - target);
        return (d - target).squaredNorm();
      });
}

TEST(Baselines, GreedySwaAddsMembersInMetricOrderOnlyWhenTheSoupDoesNotGetWorse) {
  // Member metrics: 2 best (0.8), then 0 (0.7), 3 (0.6), 1 (0.5).
  TableProblem table = greedy_table();
  auto problem = bomf::make_fusion_problem(4, two_metrics(), std::ref(table));
  bomf::FusionEvaluator evaluator(problem);
  const bomf::FusionResult greedy = bomf::greedy_swa(evaluator);
  // {2} → {0,2} rejected (0.79 < 0.8) → {2,3} accepted (0.85) → {1,2,3} accepted (0.85 ≥ 0.85).
  const VectorXd expected{{0.0, 1.0 / 3, 1.0 / 3, 1.0 / 3}};
  EXPECT_LT((greedy.delta - expected).cwiseAbs().maxCoeff(), 1e-15);
  EXPECT_DOUBLE_EQ(greedy.evaluation.metrics(0), 0.85);
  EXPECT_EQ(greedy.method, "Greedy SWA");
  EXPECT_EQ(greedy.evaluations, 4 + 3);
  EXPECT_EQ(greedy.new_evaluations, 7);

  const bomf::FusionResult best = bomf::best_single_member(evaluator);
  EXPECT_EQ(best.delta, VectorXd::Unit(4, 2));
  EXPECT_EQ(best.new_evaluations, 0);
  const bomf::FusionResult swa = bomf::uniform_average(evaluator);
  EXPECT_DOUBLE_EQ(swa.evaluation.metrics(0), 0.6);
  EXPECT_EQ(swa.new_evaluations, 1);
  EXPECT_EQ(table.calls, 8);
  // Everything is in the ledger now: a second round evaluates nothing.
  EXPECT_EQ(bomf::greedy_swa(evaluator).new_evaluations, 0);
  EXPECT_EQ(bomf::uniform_average(evaluator).new_evaluations, 0);
  EXPECT_EQ(table.calls, 8);
}

TEST(Baselines, ProgressCallbacksReportEveryStep) {
  // Greedy SWA: one call per candidate soup (N − 1), with its metric and whether it joined.
  TableProblem table = greedy_table();
  auto problem = bomf::make_fusion_problem(4, two_metrics(), std::ref(table));
  bomf::FusionEvaluator evaluator(problem);
  std::vector<bomf::BaselineProgress> greedy_steps;
  bomf::GreedySwaOptions greedy;
  greedy.progress = [&](const bomf::BaselineProgress& p) { greedy_steps.push_back(p); };
  (void)bomf::greedy_swa(evaluator, greedy);
  ASSERT_EQ(greedy_steps.size(), 3u);
  const double values[] = {0.79, 0.85, 0.85};
  const bool accepted[] = {false, true, true};
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(greedy_steps[i].step, static_cast<int>(i) + 1);
    EXPECT_EQ(greedy_steps[i].total, 3);
    EXPECT_DOUBLE_EQ(greedy_steps[i].value, values[i]) << i;
    EXPECT_EQ(greedy_steps[i].accepted, accepted[i]) << i;
  }

  // Learned SWA: one call per gradient step, with that step's loss, which decreases here.
  const VectorXd target{{0.7, 0.2, 0.1, 0.0}};
  auto smooth = squared_distance_problem(target);
  std::vector<bomf::BaselineProgress> learned_steps;
  bomf::LearnedSwaOptions learned;
  learned.steps = 20;
  learned.progress = [&](const bomf::BaselineProgress& p) { learned_steps.push_back(p); };
  (void)bomf::learned_swa(smooth, learned);
  ASSERT_EQ(learned_steps.size(), 20u);
  const double uniform_loss = (VectorXd::Constant(4, 0.25) - target).squaredNorm();
  EXPECT_NEAR(learned_steps.front().value, uniform_loss, 1e-15);  // step 1 starts at θ = 0
  for (std::size_t i = 0; i < learned_steps.size(); ++i) {
    EXPECT_EQ(learned_steps[i].step, static_cast<int>(i) + 1);
    EXPECT_EQ(learned_steps[i].total, 20);
  }
  EXPECT_LT(learned_steps.back().value, learned_steps.front().value);
}

TEST(Baselines, BestMemberByMetricOrByNormalizedSum) {
  // Member 0: best accuracy, bad error; member 1: slightly lower accuracy, much lower error.
  const std::vector<std::pair<double, double>> values = {{0.90, 0.30}, {0.88, 0.10}, {0.70, 0.05}};
  auto problem = bomf::make_fusion_problem(3, two_metrics(), [&](const VectorXd& d) {
    Eigen::Index i = 0;
    d.maxCoeff(&i);
    FusionEvaluation e;
    e.loss = 1.0 + static_cast<double>(i);
    e.metrics = VectorXd{
        {values[static_cast<std::size_t>(i)].first, values[static_cast<std::size_t>(i)].second}};
    return e;
  });
  bomf::BestMemberOptions by_accuracy;
  EXPECT_EQ(bomf::best_single_member(problem, by_accuracy).delta, VectorXd::Unit(3, 0));
  bomf::BestMemberOptions by_error;
  by_error.metric = 1;
  EXPECT_EQ(bomf::best_single_member(problem, by_error).delta, VectorXd::Unit(3, 2));
  bomf::BestMemberOptions by_sum;
  by_sum.by = bomf::MemberRanking::normalized_metric_sum;
  // Normalized sums (anchors 0.90, 0.05; range 0.1): 0 − 2.5, −0.2 − 0.5, −2 + 0 → member 1.
  EXPECT_EQ(bomf::best_single_member(problem, by_sum).delta, VectorXd::Unit(3, 1));
  by_accuracy.metric = 2;
  EXPECT_MESSAGE(message_of([&] { bomf::best_single_member(problem, by_accuracy); }),
                 "options.metric is 2, expected a metric index in [0, 2)");
}

TEST(Baselines, LearnedSwaDescendsTheValidationLossThroughTheSoftmax) {
  const VectorXd target{{0.6, 0.3, 0.1, 0.0}};
  int evaluations = 0;
  auto problem = squared_distance_problem(target, &evaluations);
  bomf::LearnedSwaOptions options;
  options.steps = 300;
  const bomf::FusionResult learned = bomf::learned_swa(problem, options);
  EXPECT_EQ(learned.method, "Learned SWA");
  EXPECT_NEAR(learned.delta.sum(), 1.0, 1e-12);
  EXPECT_LT((learned.delta - target).cwiseAbs().maxCoeff(), 0.03) << learned.delta.transpose();
  EXPECT_LT(learned.evaluation.loss, (VectorXd::Constant(4, 0.25) - target).squaredNorm() / 20);
  EXPECT_EQ(evaluations, 1);
  EXPECT_EQ(learned.new_evaluations, 1);

  // The softmax chain rule against finite differences of L(softmax(θ)) at θ = 0: the first Adam
  // step moves every logit against the sign of its gradient by the learning rate.
  options.steps = 1;
  const VectorXd one = bomf::learned_swa(problem, options).delta;
  const VectorXd uniform = VectorXd::Constant(4, 0.25);
  const VectorXd g = 2.0 * (uniform - target);
  const VectorXd g_theta = (uniform.array() * (g.array() - uniform.dot(g))).matrix();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(one(i) > 0.25, g_theta(i) < 0.0) << i;
  }
  options.steps = 0;
  EXPECT_LT((bomf::learned_swa(problem, options).delta - uniform).cwiseAbs().maxCoeff(), 1e-15);
}

TEST(Baselines, ErrorsAreClear) {
  auto no_gradient = bomf::make_fusion_problem(3, two_metrics(), [](const VectorXd&) {
    FusionEvaluation e;
    e.loss = 1.0;
    e.metrics = VectorXd{{0.5, 0.5}};
    return e;
  });
  EXPECT_MESSAGE(message_of([&] { bomf::learned_swa(no_gradient); }),
                 "has_loss_gradient() is false");
  bomf::test::DisagreeingProblem problem(3);
  bomf::LearnedSwaOptions bad;
  bad.learning_rate = 0.0;
  EXPECT_MESSAGE(message_of([&] { bomf::learned_swa(problem, bad); }),
                 "learning_rate is 0, expected a finite value > 0");
  auto failing =
      bomf::make_fusion_problem(3, two_metrics(), [](const VectorXd&) -> FusionEvaluation {
        throw std::runtime_error("CUDA error (simulated)");
      });
  EXPECT_MESSAGE(message_of<bomf::evaluation_error>([&] { bomf::uniform_average(failing); }),
                 "CUDA error (simulated)");
  EXPECT_MESSAGE(message_of<bomf::evaluation_error>([&] { bomf::greedy_swa(failing); }),
                 "all 3 member evaluations failed");
}

}  // namespace
