// The user's side of stage 1: Hyperparameters (named access, validation), TrainingTrajectory
// checks, TrainingContext's member plan, make_training_problem, train_members.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bomf/drivers/hyperparameter_search.hpp"
#include "bomf/drivers/training_problem.hpp"
#include "support/error_message.hpp"
#include "synthetic_training.hpp"

namespace {

using bomf::Hyperparameters;
using bomf::SearchSpace;
using bomf::TrainingContext;
using bomf::TrainingTrajectory;

std::string message_of(const std::function<void()>& f) {
  return bomf::test::error_message<std::exception>(f);
}

SearchSpace mixed_space() {
  SearchSpace space;
  space.add_continuous("learning_rate", 1e-6, 1e-3, bomf::Scale::log)
      .add_integer("epochs", 1, 5)
      .add_categorical("scheduler", {"linear", "cosine", "constant"});
  return space;
}

TEST(Hyperparameters, NamedAccess) {
  const Hyperparameters h(mixed_space(), {3e-5, 4, 1});
  EXPECT_EQ(h.size(), 3U);
  EXPECT_DOUBLE_EQ(h.value("learning_rate"), 3e-5);
  EXPECT_EQ(h.integer("epochs"), 4);
  EXPECT_EQ(h.label("scheduler"), "cosine");
  EXPECT_EQ(h.integer("scheduler"), 1);
  EXPECT_DOUBLE_EQ(h.value("scheduler"), 1.0);
  EXPECT_TRUE(h.contains("epochs"));
  EXPECT_FALSE(h.contains("momentum"));
  EXPECT_EQ(h.index("scheduler"), 2U);
  EXPECT_EQ(h.to_string(), "learning_rate=3e-05 epochs=4 scheduler=cosine");
}

TEST(Hyperparameters, WithReturnsAValidatedCopy) {
  const Hyperparameters h(mixed_space(), {3e-5, 4, 1});
  const Hyperparameters g = h.with("scheduler", std::string("constant")).with("epochs", 2.0);
  EXPECT_EQ(g.label("scheduler"), "constant");
  EXPECT_EQ(g.integer("epochs"), 2);
  EXPECT_EQ(h.label("scheduler"), "cosine");  // unchanged
  EXPECT_NE(g, h);
  EXPECT_EQ(h, Hyperparameters(mixed_space(), {3e-5, 4, 1}));  // equal values, equal spaces
  EXPECT_NE(message_of([&] { (void)h.with("epochs", 9.0); }).find("value 9 of dimension 'epochs'"),
            std::string::npos);
  EXPECT_NE(message_of([&] {
              (void)h.with("scheduler", std::string("step"));
            }).find("'step' is not a choice of 'scheduler'"),
            std::string::npos);
}

TEST(Hyperparameters, BadInputIsNamed) {
  EXPECT_NE(message_of([] {
              Hyperparameters h(mixed_space(), {3e-5, 4});
            }).find("has 2 entries, expected 3"),
            std::string::npos);
  EXPECT_NE(message_of([] {
              Hyperparameters h(mixed_space(), {3e-2, 4, 1});
            }).find("value 0.029999999999999999 of dimension 'learning_rate' is invalid"),
            std::string::npos);
  EXPECT_NE(message_of([] {
              Hyperparameters h(mixed_space(), {3e-5, 2.5, 1});
            }).find("an integer in [1, 5]"),
            std::string::npos);
  EXPECT_NE(message_of([] {
              Hyperparameters h(mixed_space(), {3e-5, 2, 3});
            }).find("a choice index in [0, 3) ('linear', 'cosine', 'constant')"),
            std::string::npos);
  EXPECT_NE(message_of([] { Hyperparameters h(SearchSpace{}, {}); }).find("search space is empty"),
            std::string::npos);
  const Hyperparameters h(mixed_space(), {3e-5, 4, 1});
  EXPECT_NE(message_of([&] { (void)h.value("lr"); })
                .find("no dimension named 'lr', expected one of 'learning_rate', 'epochs', "
                      "'scheduler'"),
            std::string::npos);
  EXPECT_NE(message_of([&] { (void)h.label("epochs"); }).find("'epochs' is not categorical"),
            std::string::npos);
  EXPECT_NE(message_of([&] { (void)h.integer("learning_rate"); }).find("is continuous"),
            std::string::npos);
  EXPECT_TRUE(Hyperparameters().empty());
}

TEST(TrainingTrajectory, ValidateCatchesProgrammingErrors) {
  TrainingTrajectory t;
  t.total_steps = 100;
  t.add(10, 0.5, {0.8, 0.2});
  t.add(20, 0.4, {0.85, 0.15});
  EXPECT_NO_THROW(t.validate(2, "test"));
  EXPECT_NE(message_of([&] {
              t.validate(3, "test");
            }).find("trajectory point 0 (step 10) has 2 metric values, expected 3"),
            std::string::npos);
  TrainingTrajectory unordered = t;
  unordered.add(20, 0.3, {0.9, 0.1});
  EXPECT_NE(message_of([&] { unordered.validate(2, "test"); }).find("strictly increasing"),
            std::string::npos);
  TrainingTrajectory beyond = t;
  beyond.add(200, 0.3, {0.9, 0.1});
  EXPECT_NE(message_of([&] { beyond.validate(2, "test"); }).find("beyond total_steps = 100"),
            std::string::npos);
  TrainingTrajectory checkpoints = t;
  checkpoints.checkpoint_steps = {50, 40};
  EXPECT_NE(message_of([&] { checkpoints.validate(2, "test"); }).find("checkpoint_steps[1]"),
            std::string::npos);
  TrainingTrajectory open_ended = t;
  open_ended.total_steps = 0;
  EXPECT_EQ(open_ended.effective_total_steps(), 20);
  EXPECT_EQ(t.steps(), (std::vector<long long>{10, 20}));
}

TEST(TrainingContext, PlansMembersOnlyWhenCollecting) {
  TrainingContext quiet;
  EXPECT_FALSE(quiet.collect_members());
  EXPECT_TRUE(quiet.plan_members(1000).empty());
  EXPECT_FALSE(quiet.is_member_step(1000));

  bomf::MemberSelectionOptions o;
  o.count = 5;
  TrainingContext collect(7, true, o);
  EXPECT_EQ(collect.run_index(), 7);
  const std::vector<long long> plan = collect.plan_members(100);
  EXPECT_EQ(plan, (std::vector<long long>{50, 62, 75, 87, 100}));  // 12.5·i, ties down
  EXPECT_EQ(plan, bomf::select_member_steps(100, o));
  EXPECT_TRUE(collect.is_member_step(62));
  EXPECT_FALSE(collect.is_member_step(63));
  // Only every 10th step saved: the plan is chosen among them.
  EXPECT_EQ(collect.plan_members({10, 20, 30, 40, 50, 60, 70, 80, 90, 100}, 100),
            (std::vector<long long>{50, 60, 70, 90, 100}));
  EXPECT_EQ(collect.member_steps().size(), 5U);

  o.count = 0;
  EXPECT_NE(message_of([&] { TrainingContext c(0, true, o); }).find("count is 0"),
            std::string::npos);
}

TEST(MakeTrainingProblem, AcceptsBothSignatures) {
  int calls = 0;
  auto with_context = bomf::make_training_problem(
      bomf_test::synthetic_space(), bomf_test::synthetic_metrics(),
      [&calls](const Hyperparameters& h, TrainingContext& context) {
        ++calls;
        TrainingTrajectory t = bomf_test::synthetic_trajectory(h);
        for (long long s : context.plan_members(t.total_steps)) {
          t.checkpoint_steps.push_back(s);
        }
        return t;
      },
      "synthetic-v1");
  auto plain = bomf::make_training_problem(
      bomf_test::synthetic_space(), bomf_test::synthetic_metrics(),
      [](const Hyperparameters& h) { return bomf_test::synthetic_trajectory(h); });
  EXPECT_EQ(with_context.fingerprint(), "synthetic-v1");
  EXPECT_EQ(plain.fingerprint(), "");
  EXPECT_EQ(plain.metrics().size(), 2U);
  EXPECT_EQ(plain.search_space().size(), 4);
  const Hyperparameters h(bomf_test::synthetic_space(), {3e-5, 4, 0.1, 1});
  TrainingContext context(0, true);
  const TrainingTrajectory a = with_context.train(h, context);
  const TrainingTrajectory b = plain.train(h, context);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(a.steps(), b.steps());
  EXPECT_EQ(a.checkpoint_steps, bomf::select_member_steps(a.total_steps));
  EXPECT_TRUE(b.checkpoint_steps.empty());
}

TEST(MakeTrainingProblem, BadInputIsNamed) {
  const auto train = [](const Hyperparameters& h) { return bomf_test::synthetic_trajectory(h); };
  EXPECT_NE(message_of([&] {
              (void)bomf::make_training_problem(SearchSpace{}, bomf_test::synthetic_metrics(),
                                                train);
            }).find("the search space is empty"),
            std::string::npos);
  EXPECT_NE(message_of([&] {
              (void)bomf::make_training_problem(bomf_test::synthetic_space(), {}, train);
            }).find("declares no metric"),
            std::string::npos);
  EXPECT_NE(message_of([&] {
              (void)bomf::make_training_problem(
                  bomf_test::synthetic_space(),
                  {{"f1", bomf::Direction::maximize}, {"f1", bomf::Direction::maximize}}, train);
            }).find("metric name 'f1' appears twice"),
            std::string::npos);
}

TEST(TrainMembers, RunsOnceWithTheMemberPlanAndChecksTheSpace) {
  std::vector<TrainingContext> seen;
  auto problem =
      bomf::make_training_problem(bomf_test::synthetic_space(), bomf_test::synthetic_metrics(),
                                  [&seen](const Hyperparameters& h, TrainingContext& context) {
                                    TrainingTrajectory t = bomf_test::synthetic_trajectory(h);
                                    t.checkpoint_steps = context.plan_members(t.total_steps);
                                    seen.push_back(context);
                                    return t;
                                  });
  // The setting may come from a proxy problem with an equal (not the same) space.
  const Hyperparameters best(bomf_test::synthetic_space(), {3e-5, 4, 0.1, 1});
  bomf::MemberSelectionOptions o;
  o.end_fraction = 2.0;
  const TrainingTrajectory t = bomf::train_members(problem, best, o, 300);
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_TRUE(seen[0].collect_members());
  EXPECT_EQ(seen[0].run_index(), TrainingContext::final_run);
  EXPECT_EQ(seen[0].anchor_step(), 300);
  EXPECT_EQ(t.total_steps, 1024);
  EXPECT_EQ(t.checkpoint_steps, bomf::select_member_steps(1024, o, 300));
  EXPECT_EQ(t.checkpoint_steps.front(), 150);
  EXPECT_EQ(t.checkpoint_steps.back(), 600);

  SearchSpace other;
  other.add_continuous("lr", 1e-6, 1e-2, bomf::Scale::log)
      .add_integer("log2_batch_size", 3, 6)
      .add_continuous("warmup", 0.0, 0.3)
      .add_categorical("scheduler", {"linear", "cosine"});
  EXPECT_NE(message_of([&] {
              (void)bomf::train_members(problem, Hyperparameters(other, {3e-5, 4, 0.1, 1}));
            }).find("dimension 0 of the setting ('lr') differs"),
            std::string::npos);
}

}  // namespace
