// The fusion search: BOMF against the baselines on a problem whose loss and metric disagree,
// feasibility of every δ (with and without bounds), failures, ask/tell with q > 1, bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "bomf/drivers/baselines.hpp"
#include "bomf/drivers/fusion_search.hpp"
#include "drivers_test_problems.hpp"

namespace {

using bomf::FusionEvaluation;
using bomf::FusionSearch;
using bomf::FusionSearchOptions;
using bomf::test::DisagreeingProblem;
using bomf::test::fast_fusion_options;
using Eigen::VectorXd;

using bomf::test::message_of;

TEST(FusionSearch, BeatsSwaGreedySwaAndTheBestMemberWhenLossAndMetricDisagree) {
  DisagreeingProblem problem(5);
  bomf::FusionEvaluator evaluator(problem);
  FusionSearchOptions options = fast_fusion_options(-1, -1, /*seed=*/1);  // N, 5N (the paper)
  bomf::FusionSummary summary;
  const bomf::FusionResult bomf_result = bomf::solve(options, evaluator, &summary);
  const bomf::FusionResult best = bomf::best_single_member(evaluator);
  const bomf::FusionResult swa = bomf::uniform_average(evaluator);
  const bomf::FusionResult greedy = bomf::greedy_swa(evaluator);
  const bomf::FusionResult learned = bomf::learned_swa(evaluator);

  const double acc = bomf_result.evaluation.metrics(0);
  EXPECT_GT(acc, swa.evaluation.metrics(0));
  EXPECT_GT(acc, greedy.evaluation.metrics(0));
  EXPECT_GT(acc, best.evaluation.metrics(0));
  EXPECT_GT(acc, learned.evaluation.metrics(0));
  EXPECT_LE(bomf_result.evaluation.loss, best.evaluation.loss);
  // Greedy SWA found the best uniform soup near the peak ({0, 2}); BOMF goes beyond it.
  EXPECT_NEAR(greedy.evaluation.metrics(0), problem.accuracy(VectorXd{{0.5, 0, 0.5, 0, 0}}), 1e-12);
  EXPECT_GT(acc, 0.8) << "the peak (0.9 at p) should be approached";

  EXPECT_EQ(summary.num_evaluations, 5 + 5 + 25);
  EXPECT_EQ(summary.termination, bomf::SearchTermination::budget_reached);
  EXPECT_EQ(bomf_result.evaluations, 35);
  EXPECT_EQ(bomf_result.method, "BOMF");
  EXPECT_EQ(problem.calls, 35 + 1 /*SWA*/ + greedy.new_evaluations + learned.new_evaluations);
  // The loss is minimal at the barycentre: Learned SWA stays at θ = 0 and reuses SWA's record.
  EXPECT_EQ(learned.new_evaluations, 0);
  EXPECT_EQ(learned.delta, swa.delta);
  EXPECT_EQ(best.new_evaluations, 0) << "members are shared with the search";
  // The trace: members, initial, Bayesian; hypervolume non-decreasing once known.
  for (int i = 0; i < 35; ++i) {
    const auto& row = summary.trace[static_cast<std::size_t>(i)];
    EXPECT_EQ(row.proposal, i < 5    ? bomf::ProposalKind::member
                            : i < 10 ? bomf::ProposalKind::initial
                                     : bomf::ProposalKind::acquisition);
    if (i >= 5) {
      EXPECT_GE(row.hypervolume, summary.trace[static_cast<std::size_t>(i) - 1].hypervolume);
    }
  }
  EXPECT_TRUE(std::isnan(summary.trace[0].hypervolume));
  EXPECT_GT(summary.trace.back().hypervolume, summary.trace[9].hypervolume);
  // The selected point is on the Pareto set and maximizes the metric there (K = 1).
  ASSERT_TRUE(summary.result.has_value());
  EXPECT_EQ(summary.result->delta, bomf_result.delta);
  EXPECT_DOUBLE_EQ(summary.pareto_set.natural.col(1).maxCoeff(), acc);
  EXPECT_NE(summary.brief_report().find("35 (5 members, 5 initial, 25 acquisition)"),
            std::string::npos)
      << summary.brief_report();

  // Other selection rules on the same data.
  FusionSearch search(evaluator.ledger(), options);  // replays everything, evaluates nothing
  EXPECT_EQ(search.trace().size(), 35u);
  EXPECT_TRUE(search.finished());
  bomf::FusionSelection lowest;
  lowest.rule = bomf::FusionSelectionRule::lowest_loss;
  const auto low = search.select(lowest);
  EXPECT_DOUBLE_EQ(low.evaluation.loss, summary.pareto_set.natural.col(0).minCoeff());
  bomf::FusionSelection weighted;
  weighted.rule = bomf::FusionSelectionRule::weighted_sum;
  weighted.weights = VectorXd{{1.0, 0.0}};
  EXPECT_EQ(search.select(weighted).delta, low.delta);
}

TEST(FusionSearch, EveryDeltaIsExactlyOnTheSimplexAndWithinBounds) {
  for (const bool bounded : {false, true}) {
    DisagreeingProblem problem(4);
    FusionSearchOptions options = fast_fusion_options(3, 6, 5);
    bomf::Simplex simplex(4);
    if (bounded) {
      options.lower_bounds = VectorXd{{0.05, 0.0, 0.1, 0.0}};
      options.upper_bounds = VectorXd{{0.6, 1.0, 1.0, 0.5}};
      simplex = bomf::Simplex(options.lower_bounds, options.upper_bounds);
    }
    long evaluated = 0;
    problem.hook = [&](const VectorXd& d) {
      ++evaluated;
      ASSERT_TRUE(simplex.contains(d, 1e-12)) << d.transpose();
      ASSERT_NEAR(d.sum(), 1.0, 1e-12);
      ASSERT_GE(d.minCoeff(), 0.0);
      if (bounded) {
        ASSERT_TRUE((d.array() >= options.lower_bounds.array()).all()) << d.transpose();
        ASSERT_TRUE((d.array() <= options.upper_bounds.array()).all()) << d.transpose();
      }
    };
    bomf::FusionSummary summary;
    const auto result = bomf::solve(options, problem, &summary);
    EXPECT_EQ(evaluated, 4 + 3 + 6);
    EXPECT_TRUE(simplex.contains(result.delta, 1e-12));
    // Ask/tell proposals too.
    FusionSearch search(4, problem.objectives(), options);
    for (int round = 0; round < 4 && !search.finished(); ++round) {
      const auto batch = search.suggest(3);
      for (const VectorXd& d : batch) {
        EXPECT_TRUE(simplex.contains(d, 1e-12)) << d.transpose();
        search.observe(d, problem.evaluate(d));
      }
    }
  }
}

TEST(FusionSearch, BoundsThatMergeMemberVerticesEvaluateThatDeltaOnce) {
  // Upper bounds of 0.1 on the two earliest members project both their vertices onto
  // (0.1, 0.1, 0.8): one evaluation stands for both members, and the search runs on.
  DisagreeingProblem problem(3);
  FusionSearchOptions options = fast_fusion_options(3, 4, 2);
  options.upper_bounds = VectorXd{{0.1, 0.1, 1.0}};
  std::vector<VectorXd> evaluated;
  problem.hook = [&](const VectorXd& d) { evaluated.push_back(d); };
  bomf::FusionSummary summary;
  const auto result = bomf::solve(options, problem, &summary);
  ASSERT_EQ(summary.trace.size(), 2u + 3u + 4u);  // (the search may re-propose a δ: reused)
  ASSERT_GE(evaluated.size(), 2u);
  EXPECT_EQ(evaluated[0], (VectorXd{{0.1, 0.1, 0.8}}));
  EXPECT_EQ(evaluated[1], (VectorXd{{0.0, 0.0, 1.0}}));
  int members = 0;
  for (const auto& row : summary.trace) {
    members += row.proposal == bomf::ProposalKind::member ? 1 : 0;
  }
  EXPECT_EQ(members, 2);
  EXPECT_TRUE(bomf::Simplex(VectorXd::Zero(3), options.upper_bounds).contains(result.delta, 1e-12));

  // Ask/tell: the shared vertex is proposed once; observing it completes both members.
  FusionSearch search(3, problem.objectives(), options);
  const auto first = search.suggest(3);
  ASSERT_GE(first.size(), 2u);
  EXPECT_EQ(first[0], (VectorXd{{0.1, 0.1, 0.8}}));
  EXPECT_EQ(first[1], (VectorXd{{0.0, 0.0, 1.0}}));
  for (const VectorXd& d : first) {
    search.observe(d, problem.evaluate(d));
  }
  while (!search.finished()) {
    for (const VectorXd& d : search.suggest(2)) {
      search.observe(d, problem.evaluate(d));
    }
  }
  EXPECT_EQ(search.trace().size(), 2u + 3u + 4u);
}

TEST(FusionSearch, TwoThreadsProposeBitIdenticalDeltas) {
  // fit.num_threads and optimizer.num_threads change where the work runs, never the proposals:
  // a journal written with one thread resumes unchanged with two.
  std::vector<std::vector<VectorXd>> runs;
  for (const int threads : {1, 2}) {
    DisagreeingProblem problem(5);
    FusionSearchOptions options = fast_fusion_options(3, 5, 8);
    options.gp.num_threads = threads;
    options.acquisition_optimizer.num_threads = threads;
    options.acquisition.num_threads = threads;
    bomf::FusionSummary summary;
    bomf::solve(options, problem, &summary);
    std::vector<VectorXd> deltas;
    for (const auto& it : summary.trace)
      deltas.push_back(it.delta);
    runs.push_back(deltas);
  }
  ASSERT_EQ(runs[0].size(), 5U + 3U + 5U);
  ASSERT_EQ(runs[1].size(), runs[0].size());
  for (std::size_t i = 0; i < runs[0].size(); ++i)
    EXPECT_EQ(runs[1][i], runs[0][i]) << "evaluation " << i;
}

TEST(FusionSearch, SuppliedMemberValuesSkipTheMemberEvaluations) {
  DisagreeingProblem problem(4);
  FusionSearchOptions options = fast_fusion_options(4, 3, 2);
  options.member_values.resize(4, 2);
  for (int i = 0; i < 4; ++i) {
    const VectorXd e = bomf::Simplex(4).vertex(i);
    options.member_values.row(i) << problem.loss(e), problem.accuracy(e);
  }
  bomf::FusionSummary summary;
  bomf::solve(options, problem, &summary);
  EXPECT_EQ(problem.calls, 4 + 3);
  EXPECT_EQ(summary.trace.front().proposal, bomf::ProposalKind::initial);
  // The worst member's accuracy, strictly below on the 0.01 grid.
  EXPECT_LT(summary.anchor(1), options.member_values.col(1).minCoeff());
  EXPECT_GT(summary.anchor(1), options.member_values.col(1).minCoeff() - 0.01 - 1e-12);
  EXPECT_FALSE(std::isnan(summary.trace.front().hypervolume));
}

TEST(FusionSearch, FailedEvaluationsAreRecordedKeptOutOfTheGpAndLimited) {
  DisagreeingProblem problem(4);
  // Throw in one region, NaN in another.
  problem.hook = [](const VectorXd& d) {
    if (d(1) > 0.45 && d(1) < 1.0)
      throw std::runtime_error("out of memory (simulated)");
  };
  auto inner = bomf::make_fusion_problem(4, problem.objectives(), [&](const VectorXd& d) {
    FusionEvaluation e = problem.evaluate(d);
    if (d(3) > 0.4 && d(3) < 1.0)
      e.metrics(0) = std::numeric_limits<double>::quiet_NaN();
    return e;
  });
  FusionSearchOptions options = fast_fusion_options(8, 6, 4);
  options.max_failures = 100;
  bomf::FusionSummary summary;
  bomf::solve(options, inner, &summary);
  int thrown = 0, nan = 0;
  for (const auto& row : summary.trace) {
    if (row.ok)
      continue;
    thrown += row.error.find("out of memory (simulated)") != std::string::npos ? 1 : 0;
    nan += row.error.find("non-finite metric 'accuracy'") != std::string::npos ? 1 : 0;
  }
  EXPECT_GT(thrown, 0);
  EXPECT_GT(nan, 0);
  EXPECT_EQ(thrown + nan, summary.num_failures);

  // The limit: with max_failures = 1 the second failure throws, after being journaled.
  options.max_failures = 1;
  options.num_initial = 12;
  bomf::FusionEvaluator evaluator(inner);
  bomf::FusionSummary limited;
  const std::string what =
      message_of<bomf::too_many_failures>([&] { bomf::solve(options, evaluator, &limited); });
  EXPECT_MESSAGE(what, "2 evaluations failed, more than options.max_failures = 1");
  EXPECT_MESSAGE(what, "the last failure, at δ = ");
  EXPECT_EQ(limited.termination, bomf::SearchTermination::too_many_failures);
  EXPECT_EQ(limited.num_failures, 2);
  int failed_records = 0;
  for (const auto& r : evaluator.ledger().records()) {
    failed_records += r.ok ? 0 : 1;
  }
  EXPECT_EQ(failed_records, 2);
}

// A finite value beyond ±kFusionValueLimit (a diverged model) would overflow the normalization
// (1e308 / 0.1): it is recorded as a failed evaluation naming it, kept out of the GPs, the Pareto
// set and the selection, and the search goes on. Before, the search threw at that evaluation,
// and at every resume of its journal.
TEST(FusionSearch, ValuesBeyondTheLimitAreFailedEvaluationsAndTheSearchGoesOn) {
  DisagreeingProblem problem(3);
  auto inner = bomf::make_fusion_problem(3, problem.objectives(), [&](const VectorXd& d) {
    FusionEvaluation e = problem.evaluate(d);
    if (d(2) > 0.3 && d(2) < 1.0)
      e.metrics(0) = 1e308;
    else if (d(1) > 0.3 && d(1) < 0.6)
      e.loss = -2e15;
    else if (d(1) >= 0.6 && d(1) < 1.0)
      e.loss = std::nextafter(1e15, 2e15);  // just beyond: all its digits are printed
    return e;
  });
  FusionSearchOptions options = fast_fusion_options(6, 4, 3);
  options.max_failures = 100;
  bomf::FusionSummary summary;
  const bomf::FusionResult result = bomf::solve(options, inner, &summary);
  int metric = 0, loss = 0;
  for (const auto& row : summary.trace) {
    metric += row.error.find("metric 'accuracy' 1e+308 is beyond ±1e+15 (a diverged model?)") !=
                      std::string::npos
                  ? 1
                  : 0;
    loss += row.error.find("loss -2e+15 is beyond ±1e+15") != std::string::npos ||
                    row.error.find("loss 1000000000000000.1 is beyond ±1e+15") != std::string::npos
                ? 1
                : 0;
  }
  EXPECT_GT(metric, 0);
  EXPECT_GT(loss, 0);
  EXPECT_EQ(metric + loss, summary.num_failures);
  EXPECT_LE(std::abs(result.evaluation.metrics(0)), 1.0);
  EXPECT_TRUE(std::isfinite(summary.trace.back().hypervolume));
}

// When qLogNEHVI fails numerically the proposal is a quasi-random fallback; the summary says how
// many and why. An evaluation far beyond the others (loss 1e12 against losses below 1) is what
// makes it fail here.
TEST(FusionSearch, NumericalFallbacksAreWarnedWithTheirError) {
  DisagreeingProblem problem(3);
  auto inner = bomf::make_fusion_problem(3, problem.objectives(), [&](const VectorXd& d) {
    FusionEvaluation e = problem.evaluate(d);
    if (d(0) > 0.2 && d(0) < 0.6)
      e.loss = 1e12;
    return e;
  });
  FusionSearchOptions options = fast_fusion_options(6, 3, 1);
  bomf::FusionSummary summary;
  bomf::solve(options, inner, &summary);
  int fallbacks = 0;
  for (const auto& row : summary.trace) {
    fallbacks += row.proposal == bomf::ProposalKind::fallback ? 1 : 0;
  }
  ASSERT_GT(fallbacks, 0) << "the outlier no longer breaks qLogNEHVI: pick a case that does";
  bool warned = false;
  for (const std::string& w : summary.warnings) {
    warned =
        warned ||
        (w.find(bomf::detail::concat(fallbacks, " of this run's acquisition proposals")) !=
             std::string::npos &&
         w.find("because qLogNEHVI failed numerically; the first error: ") != std::string::npos);
  }
  EXPECT_TRUE(warned) << summary.brief_report();
}

TEST(FusionSearch, EngineDataExcludeFailures) {
  DisagreeingProblem problem(3);
  FusionSearchOptions options = fast_fusion_options(3, 2, 0);
  FusionSearch search(3, problem.objectives(), options);
  int failures = 0;
  while (!search.finished()) {
    for (const VectorXd& d : search.suggest(1)) {
      if (d(0) > 0.3 && d(0) < 1.0) {
        search.observe_failure(d, "simulated");
        ++failures;
      } else {
        search.observe(d, problem.evaluate(d));
      }
    }
  }
  ASSERT_GT(failures, 0);
  EXPECT_EQ(search.engine().num_failed(), failures);
  EXPECT_EQ(search.engine().num_observed(), 3 + 3 + 2 - failures);
}

TEST(FusionSearch, AskTellWithBatchesAndOutOfOrderObservations) {
  DisagreeingProblem problem(4);
  FusionSearchOptions options = fast_fusion_options(4, 8, 9);
  FusionSearch search(4, problem.objectives(), options, problem.fingerprint());
  EXPECT_EQ(search.remaining(), 4 + 4 + 8);
  // First batch: the 4 members, then (while they are pending) only design points can follow.
  std::vector<VectorXd> batch = search.suggest(6);
  ASSERT_EQ(batch.size(), 6u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(batch[static_cast<std::size_t>(i)], bomf::Simplex(4).vertex(i));
  }
  // Without the members' results no Bayesian candidate can be made: at most the design.
  const std::vector<VectorXd> more = search.suggest(10);
  EXPECT_EQ(more.size(), 2u);
  EXPECT_EQ(search.num_pending(), 8);
  EXPECT_EQ(search.remaining(), 8);
  EXPECT_TRUE(search.suggest(1).empty());
  // Observe in reverse order: design points before the members.
  batch.insert(batch.end(), more.begin(), more.end());
  for (auto it = batch.rbegin(); it != batch.rend(); ++it) {
    search.observe(*it, problem.evaluate(*it));
  }
  EXPECT_NE(search.normalization(), nullptr);
  EXPECT_EQ(search.engine().num_observed(), 8);
  // Bayesian batches of 3, observed out of order.
  while (!search.finished()) {
    std::vector<VectorXd> b = search.suggest(3);
    ASSERT_FALSE(b.empty());
    std::set<std::vector<double>> distinct;
    for (const VectorXd& d : b) {
      distinct.insert(std::vector<double>(d.data(), d.data() + d.size()));
    }
    EXPECT_EQ(distinct.size(), b.size());
    std::swap(b.front(), b.back());
    for (const VectorXd& d : b) {
      search.observe(d, problem.evaluate(d));
    }
  }
  EXPECT_EQ(search.trace().size(), 16u);
  EXPECT_EQ(search.remaining(), 0);
  const auto summary = search.summary();
  EXPECT_EQ(summary.termination, bomf::SearchTermination::budget_reached);
  // External data (never suggested) is accepted; off-simplex data is not.
  search.observe(VectorXd{{0.25, 0.25, 0.25, 0.25}}, problem.evaluate(VectorXd::Constant(4, 0.25)));
  EXPECT_EQ(search.trace().size(), 17u);
  EXPECT_MESSAGE(message_of([&] {
                   search.observe(VectorXd{{0.5, 0.5, 0.5, 0.0}},
                                  problem.evaluate(VectorXd::Constant(4, 0.25)));
                 }),
                 "is not in the feasible set");
}

TEST(FusionSearch, CallbackCanStopTheRun) {
  DisagreeingProblem problem(3);
  FusionSearchOptions options = fast_fusion_options(3, 6, 0);
  int calls = 0;
  options.callback = [&](const bomf::FusionIteration& it) {
    ++calls;
    EXPECT_EQ(it.index, calls - 1);
    return it.index < 6;
  };
  bomf::FusionSummary summary;
  bomf::solve(options, problem, &summary);
  EXPECT_EQ(calls, 7);
  EXPECT_EQ(summary.num_evaluations, 7);
  EXPECT_EQ(summary.termination, bomf::SearchTermination::stopped_by_callback);
}

TEST(FusionSearch, BadInputIsRefusedWithClearMessages) {
  DisagreeingProblem problem(3);
  const auto objectives = problem.objectives();
  // N = 1.
  EXPECT_MESSAGE(message_of([&] { FusionSearch(1, objectives, FusionSearchOptions()); }),
                 "'num_members' is 1, expected at least 2");
  EXPECT_MESSAGE(message_of([&] {
                   bomf::make_fusion_problem(1, objectives,
                                             [](const VectorXd&) { return FusionEvaluation(); });
                 }),
                 "'num_members' is 1, expected at least 2");
  // No metric.
  EXPECT_MESSAGE(
      message_of([&] { FusionSearch(3, bomf::FusionObjectives(), FusionSearchOptions()); }),
      "declares no metric");
  // Mismatched objective counts: member values, weights, an evaluator on another ledger.
  FusionSearchOptions o;
  o.member_values = Eigen::MatrixXd::Zero(3, 3);
  EXPECT_MESSAGE(message_of([&] { FusionSearch(3, objectives, o); }),
                 "member_values has shape 3×3, expected 3×2");
  o = FusionSearchOptions();
  o.selection.rule = bomf::FusionSelectionRule::weighted_sum;
  o.selection.weights = VectorXd::Ones(3);
  EXPECT_MESSAGE(message_of([&] { FusionSearch(3, objectives, o); }),
                 "selection.weights has 3 entries, expected 2");
  o.selection.rule = bomf::FusionSelectionRule::best_metric;
  o.selection.metric = 1;
  EXPECT_MESSAGE(message_of([&] { FusionSearch(3, objectives, o); }),
                 "selection.metric is 1, expected an index in [0, 1)");
  bomf::FusionObjectives two = objectives;
  two.metrics.push_back({"f1", bomf::Direction::maximize});
  bomf::FusionLedger other(3, two);
  EXPECT_MESSAGE(message_of([&] { bomf::FusionEvaluator(problem, other); }),
                 "the problem has 2 objectives, the ledger 3");
  // An evaluation returning the wrong number of metric values.
  auto wrong = bomf::make_fusion_problem(3, objectives, [](const VectorXd&) {
    FusionEvaluation e;
    e.loss = 1.0;
    e.metrics = VectorXd::Zero(2);
    return e;
  });
  EXPECT_MESSAGE(message_of([&] { bomf::solve(fast_fusion_options(1, 1), wrong); }),
                 "returned 2 metric values, expected 1 (one per metric: accuracy)");
  FusionSearch search(3, objectives, fast_fusion_options(1, 1));
  FusionEvaluation bad;
  bad.loss = 0.0;
  EXPECT_MESSAGE(message_of([&] { search.observe(search.suggest(1).front(), bad); }),
                 "returned 0 metric values, expected 1");
  // Invalid options.
  o = FusionSearchOptions();
  o.num_initial = -2;
  EXPECT_MESSAGE(message_of([&] { bomf::solve(o, problem); }), "num_initial is -2");
  o = FusionSearchOptions();
  o.max_failures = -1;
  EXPECT_MESSAGE(message_of([&] { bomf::solve(o, problem); }), "max_failures is -1, expected >= 0");
  o = FusionSearchOptions();
  o.lower_bounds = VectorXd{{0.5, 0.4, 0.3}};
  EXPECT_MESSAGE(message_of([&] { bomf::solve(o, problem); }),
                 "lower_bounds sum to 1.2, expected a sum <= 1");
  o = FusionSearchOptions();
  o.lower_bounds = VectorXd{{0.5, 0.5, 0.0}};
  EXPECT_MESSAGE(message_of([&] { bomf::solve(o, problem); }),
                 "lower_bounds sum to 1, so they leave a single feasible δ");
  o = FusionSearchOptions();
  o.upper_bounds = VectorXd{{0.5, 0.5, 0.0}};
  EXPECT_MESSAGE(message_of([&] { bomf::solve(o, problem); }),
                 "upper_bounds (clipped to 1) sum to 1, so they leave a single feasible δ");
  o = FusionSearchOptions();
  o.upper_bounds = VectorXd{{0.5, 0.4}};
  EXPECT_MESSAGE(message_of([&] { bomf::solve(o, problem); }),
                 "upper_bounds has 2 entries, expected 0 or N = 3");
  o = FusionSearchOptions();
  o.acquisition_optimizer.raw_samples = 0;
  EXPECT_MESSAGE(message_of([&] { bomf::solve(o, problem); }), "optimizer.raw_samples");
  o = FusionSearchOptions();
  o.acquisition_optimizer.num_threads = 0;
  EXPECT_MESSAGE(message_of([&] { bomf::solve(o, problem); }),
                 "optimizer.num_threads is 0, expected >= 1");
  o = FusionSearchOptions();
  o.acquisition.num_threads = -1;
  EXPECT_MESSAGE(message_of([&] { bomf::solve(o, problem); }),
                 "acquisition.num_threads is -1, expected ≥ 1");
  o = FusionSearchOptions();
  o.gp.num_threads = 0;
  EXPECT_MESSAGE(message_of([&] { bomf::solve(o, problem); }), "gp.num_threads is 0, expected ≥ 1");
  o = FusionSearchOptions();
  o.normalization.loss_range = -1.0;
  EXPECT_MESSAGE(message_of([&] { bomf::solve(o, problem); }),
                 "normalization.loss_range is -1, expected a value from 1e-12 to 1e+15");
  o = FusionSearchOptions();
  o.journal = "/nonexistent-directory/x.journal";
  EXPECT_MESSAGE(message_of<bomf::io_error>([&] { bomf::solve(o, problem); }), "cannot open");
  EXPECT_EQ(problem.calls, 0);
}

}  // namespace
