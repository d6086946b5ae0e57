// The asynchronous evaluation loop: K workers keep busy, every point is evaluated once and
// journaled, one worker reproduces the sequential search, failures in a worker are records,
// stopping drains the evaluations in flight, a run resumes with another number of workers, and
// stage 1 runs on the same loop.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bomf/drivers/baselines.hpp"
#include "bomf/drivers/evaluation_loop.hpp"
#include "bomf/drivers/fusion_search.hpp"
#include "bomf/drivers/hyperparameter_search.hpp"
#include "drivers_test_problems.hpp"

namespace {

using bomf::FusionSearchOptions;
using bomf::test::DisagreeingProblem;
using bomf::test::message_of;
using Eigen::VectorXd;
using FusionPool = bomf::ThreadWorkerPool<VectorXd, bomf::FusionEvaluation>;

std::string temp_file(const std::string& name) {
  const std::string path =
      ::testing::TempDir() + "bomf_loop_" + std::to_string(::getpid()) + "_" + name;
  std::remove(path.c_str());
  return path;
}

FusionSearchOptions loop_options(const std::string& journal = {}) {
  FusionSearchOptions o = bomf::test::fast_fusion_options(4, 6, /*seed=*/13);
  o.journal = journal;
  return o;
}
constexpr int kMembers = 4;
constexpr int kBudget = 4 + 4 + 6;

/// K problems that sleep `ms` per evaluation and count their calls (shared counter).
struct Workers {
  Workers(int k, int ms) {
    for (int w = 0; w < k; ++w) {
      problems.push_back(std::make_unique<DisagreeingProblem>(kMembers));
      problems.back()->hook = [this, ms](const VectorXd& delta) {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        const std::lock_guard<std::mutex> lock(mutex);
        evaluated.push_back(delta);
      };
    }
  }
  std::vector<bomf::FusionProblem*> pointers() {
    std::vector<bomf::FusionProblem*> out;
    for (auto& p : problems) {
      out.push_back(p.get());
    }
    return out;
  }
  std::vector<std::unique_ptr<DisagreeingProblem>> problems;
  std::mutex mutex;
  std::vector<VectorXd> evaluated;
};

std::set<std::vector<double>> distinct(const std::vector<VectorXd>& points) {
  std::set<std::vector<double>> out;
  for (const VectorXd& p : points) {
    out.insert(std::vector<double>(p.data(), p.data() + p.size()));
  }
  return out;
}

TEST(EvaluationLoop, ThreeWorkersEvaluateEveryPointOnceAndJournalIt) {
  const std::string journal = temp_file("three.jsonl");
  Workers workers(3, 15);
  FusionPool pool(bomf::fusion_workers(workers.pointers()));
  DisagreeingProblem description(kMembers);
  auto ledger = std::make_unique<bomf::FusionLedger>(description, journal);
  bomf::FusionSummary summary;
  const bomf::FusionResult result = bomf::solve(loop_options(journal), *ledger, pool, &summary);
  ledger.reset();  // closes the journal (and its lock)
  EXPECT_EQ(summary.num_evaluations, kBudget);
  EXPECT_EQ(summary.termination, bomf::SearchTermination::budget_reached);
  EXPECT_EQ(static_cast<int>(workers.evaluated.size()), kBudget);
  EXPECT_EQ(static_cast<int>(distinct(workers.evaluated).size()), kBudget) << "no δ twice";
  // Every worker took part.
  for (const auto& p : workers.problems) {
    EXPECT_GT(p->calls, 0);
  }
  EXPECT_TRUE(bomf::Simplex(kMembers).contains(result.delta, 1e-12));
  // The journal holds all of them; a sequential resume replays and evaluates nothing.
  DisagreeingProblem again(kMembers);
  bomf::FusionSummary replayed;
  bomf::solve(loop_options(journal), again, &replayed);
  EXPECT_EQ(again.calls, 0);
  EXPECT_EQ(replayed.num_replayed, kBudget);
  std::remove(journal.c_str());
}

TEST(EvaluationLoop, OneWorkerMakesExactlyTheSequentialProposals) {
  DisagreeingProblem sequential(kMembers);
  bomf::FusionSummary expected;
  bomf::solve(loop_options(), sequential, &expected);
  Workers workers(1, 0);
  FusionPool pool(bomf::fusion_workers(workers.pointers()));
  DisagreeingProblem description(kMembers);
  bomf::FusionLedger ledger(description);
  bomf::FusionSummary summary;
  bomf::solve(loop_options(), ledger, pool, &summary);
  ASSERT_EQ(summary.trace.size(), expected.trace.size());
  for (std::size_t i = 0; i < expected.trace.size(); ++i) {
    EXPECT_EQ(summary.trace[i].delta, expected.trace[i].delta) << "row " << i;
    EXPECT_EQ(summary.trace[i].proposal, expected.trace[i].proposal) << "row " << i;
  }
  EXPECT_EQ(summary.result->delta, expected.result->delta);
}

TEST(EvaluationLoop, AWorkerThatThrowsMakesAFailedRecord) {
  Workers workers(2, 5);
  workers.problems[1]->hook = [](const VectorXd&) { throw std::runtime_error("GPU 1 fell off"); };
  FusionPool pool(bomf::fusion_workers(workers.pointers()));
  DisagreeingProblem description(kMembers);
  bomf::FusionLedger ledger(description);
  FusionSearchOptions options = loop_options();
  options.max_failures = 100;
  bomf::FusionSummary summary;
  bomf::solve(options, ledger, pool, &summary);
  EXPECT_EQ(summary.num_evaluations, kBudget);
  EXPECT_GT(summary.num_failures, 0);
  for (const bomf::FusionIteration& row : summary.trace) {
    if (!row.ok) {
      EXPECT_MESSAGE(row.error, "evaluation threw: GPU 1 fell off");
    }
  }
  // Too many failures: thrown after the evaluations in flight are journaled.
  Workers failing(2, 5);
  for (auto& p : failing.problems) {
    p->hook = [](const VectorXd&) { throw std::runtime_error("out of memory"); };
  }
  FusionPool failing_pool(bomf::fusion_workers(failing.pointers()));
  bomf::FusionLedger failing_ledger(description);
  options.max_failures = 2;
  bomf::FusionSummary failed;
  EXPECT_THROW(bomf::solve(options, failing_ledger, failing_pool, &failed),
               bomf::too_many_failures);
  EXPECT_EQ(failed.termination, bomf::SearchTermination::too_many_failures);
  EXPECT_EQ(static_cast<long>(failing_ledger.records().size()),
            failing.problems[0]->calls + failing.problems[1]->calls)
      << "every evaluation that ran is journaled";
}

TEST(EvaluationLoop, StoppingDrainsTheEvaluationsInFlightAndAnotherWorkerCountResumes) {
  const std::string journal = temp_file("resume.jsonl");
  long first_calls = 0;
  {
    Workers workers(3, 20);
    FusionPool pool(bomf::fusion_workers(workers.pointers()));
    DisagreeingProblem description(kMembers);
    bomf::FusionLedger ledger(description, journal);
    FusionSearchOptions options = loop_options(journal);
    options.callback = [](const bomf::FusionIteration& row) { return row.index < 6; };
    bomf::FusionSummary summary;
    bomf::solve(options, ledger, pool, &summary);
    EXPECT_EQ(summary.termination, bomf::SearchTermination::stopped_by_callback);
    first_calls = static_cast<long>(workers.evaluated.size());
    // Nothing that ran is lost: the journal holds every evaluation made.
    EXPECT_EQ(static_cast<long>(summary.trace.size()), first_calls);
    EXPECT_GE(first_calls, 7);
  }
  // Resume with one worker, then sequentially: together exactly the budget, nothing repeated.
  Workers one(1, 0);
  FusionPool pool(bomf::fusion_workers(one.pointers()));
  DisagreeingProblem description(kMembers);
  bomf::FusionSummary summary;
  {
    bomf::FusionLedger ledger(description, journal);
    bomf::solve(loop_options(journal), ledger, pool, &summary);
  }
  EXPECT_EQ(summary.num_evaluations, kBudget);
  EXPECT_EQ(first_calls + static_cast<long>(one.evaluated.size()), kBudget);
  std::remove(journal.c_str());
}

TEST(EvaluationLoop, BaselinesEvaluateThroughThePool) {
  Workers workers(2, 0);
  FusionPool pool(bomf::fusion_workers(workers.pointers()));
  DisagreeingProblem description(kMembers);
  bomf::PooledFusionProblem pooled(pool, kMembers, description.objectives(),
                                   description.fingerprint());
  bomf::FusionEvaluator evaluator(pooled);
  const bomf::FusionResult greedy = bomf::greedy_swa(evaluator);
  DisagreeingProblem direct(kMembers);
  const bomf::FusionResult expected = bomf::greedy_swa(direct);
  EXPECT_EQ(greedy.delta, expected.delta);
  EXPECT_EQ(static_cast<long>(workers.evaluated.size()), direct.calls);
  EXPECT_EQ(workers.problems[1]->calls, 0) << "one evaluation at a time, on worker 0";
}

TEST(EvaluationLoop, HyperparameterSearchOnTwoWorkers) {
  bomf::SearchSpace space;
  space.add_continuous("x", 0.0, 1.0).add_integer("k", 1, 4);
  const auto train = [](const bomf::Hyperparameters& h, bomf::TrainingContext& context) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    bomf::TrainingTrajectory t;
    const double x = h.value("x");
    t.add(1, 0.5, {1.0 - (x - 0.3) * (x - 0.3) - 0.01 * static_cast<double>(h.integer("k"))});
    t.checkpoint_steps = {};
    (void)context;
    return t;
  };
  std::atomic<int> runs{0};
  std::set<int> run_indices;
  std::mutex mutex;
  auto counted = [&](const bomf::Hyperparameters& h, bomf::TrainingContext& context) {
    ++runs;
    {
      const std::lock_guard<std::mutex> lock(mutex);
      run_indices.insert(context.run_index());
    }
    return train(h, context);
  };
  auto p0 = bomf::make_training_problem(space, {{"score", bomf::Direction::maximize}}, counted);
  auto p1 = bomf::make_training_problem(space, {{"score", bomf::Direction::maximize}}, counted);
  bomf::ThreadWorkerPool<bomf::Hyperparameters, bomf::TrainingTrajectory> pool(
      bomf::training_workers({&p0, &p1}));
  bomf::HyperparameterSearchOptions options;
  options.num_initial = 3;
  options.num_iterations = 5;
  bomf::HyperparameterSummary summary;
  const bomf::HyperparameterSearchResult best = bomf::solve(options, p0, pool, &summary);
  EXPECT_EQ(summary.num_evaluations, 8);
  EXPECT_EQ(runs.load(), 8);
  EXPECT_EQ(run_indices, (std::set<int>{0, 1, 2, 3, 4, 5, 6, 7})) << "ids are the run indices";
  EXPECT_TRUE(best.hyperparameters.space().is_valid(best.hyperparameters.values()));
  int acquisition = 0;
  for (const auto& it : summary.trace) {
    acquisition += it.proposal == bomf::ProposalKind::acquisition ? 1 : 0;
  }
  EXPECT_GE(acquisition, 4);
}

// Runs finish out of order on two workers (the first run is slow), and the search is resumed
// with a larger budget: every run's number is the TrainingContext::run_index it was trained with
// (whatever order it finished in), numbers are never given twice across the resume, and the
// best run's number names the run that trained the best setting.
TEST(EvaluationLoop, RunNumbersFollowTheRunsThroughOutOfOrderCompletionAndAResume) {
  bomf::SearchSpace space;
  space.add_continuous("x", 0.0, 1.0);
  std::mutex mutex;
  std::map<double, int> number_of_setting;  // x → run_index it was trained with
  std::vector<int> numbers;
  const auto train = [&](const bomf::Hyperparameters& h, bomf::TrainingContext& context) {
    const double x = h.value("x");
    {
      const std::lock_guard<std::mutex> lock(mutex);
      number_of_setting[x] = context.run_index();
      numbers.push_back(context.run_index());
    }
    // Run 0 (and every fourth) is slow: later runs overtake it.
    std::this_thread::sleep_for(std::chrono::milliseconds(context.run_index() % 4 == 0 ? 60 : 5));
    bomf::TrainingTrajectory t;
    t.add(1, 0.5, {1.0 - (x - 0.3) * (x - 0.3)});
    return t;
  };
  auto p0 = bomf::make_training_problem(space, {{"score", bomf::Direction::maximize}}, train);
  auto p1 = bomf::make_training_problem(space, {{"score", bomf::Direction::maximize}}, train);
  const std::string journal = temp_file("run_numbers.jsonl");
  bomf::HyperparameterSearchOptions options;
  options.num_initial = 3;
  options.num_iterations = 3;
  options.journal = journal;
  const auto check = [&](const bomf::HyperparameterSummary& summary,
                         const bomf::HyperparameterSearchResult& best, std::size_t runs) {
    ASSERT_EQ(summary.trace.size(), runs);
    std::set<int> seen;
    bool out_of_order = false;
    for (const auto& it : summary.trace) {
      const double x = it.hyperparameters.value("x");
      ASSERT_EQ(number_of_setting.count(x), 1u);
      EXPECT_EQ(it.run_index, number_of_setting.at(x)) << "trace row " << it.index;
      EXPECT_TRUE(seen.insert(it.run_index).second) << "run number " << it.run_index << " twice";
      out_of_order = out_of_order || it.run_index != it.index;
    }
    EXPECT_TRUE(out_of_order) << "the slow first run should have been overtaken";
    EXPECT_EQ(best.run_index, number_of_setting.at(best.hyperparameters.value("x")));
  };
  {
    bomf::ThreadWorkerPool<bomf::Hyperparameters, bomf::TrainingTrajectory> pool(
        bomf::training_workers({&p0, &p1}));
    bomf::HyperparameterSummary summary;
    const bomf::HyperparameterSearchResult best = bomf::solve(options, p0, pool, &summary);
    check(summary, best, 6u);
  }
  options.num_iterations = 6;  // resume: three more runs
  {
    bomf::ThreadWorkerPool<bomf::Hyperparameters, bomf::TrainingTrajectory> pool(
        bomf::training_workers({&p0, &p1}));
    bomf::HyperparameterSummary summary;
    const bomf::HyperparameterSearchResult best = bomf::solve(options, p0, pool, &summary);
    check(summary, best, 9u);
  }
  EXPECT_EQ(std::set<int>(numbers.begin(), numbers.end()),
            (std::set<int>{0, 1, 2, 3, 4, 5, 6, 7, 8}))
      << "each run trained once, numbered 0…8 across the resume";
  EXPECT_EQ(numbers.size(), 9u);
  std::remove(journal.c_str());
}

TEST(EvaluationLoop, BadPoolsAreRefused) {
  EXPECT_MESSAGE(message_of([] { FusionPool pool({}); }), "no worker function");
  Workers workers(1, 0);
  FusionPool pool(bomf::fusion_workers(workers.pointers()));
  EXPECT_MESSAGE(message_of([&] { pool.start(3, 0, VectorXd::Constant(kMembers, 0.25)); }),
                 "argument 'worker' is 3, expected 0 … 0");
  EXPECT_MESSAGE(message_of([&] { pool.wait(); }), "nothing is running");
}

}  // namespace
