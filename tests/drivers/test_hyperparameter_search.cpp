// Stage 1 (paper §4.2): the score, the search's quality against random search on a synthetic
// fine-tuning problem with a known optimum, valid proposals only, ask/tell with pending runs,
// duplicates in discrete spaces, failures and bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "bomf/drivers/hyperparameter_search.hpp"
#include "support/error_message.hpp"
#include "synthetic_training.hpp"

namespace {

using bomf::Hyperparameters;
using bomf::HyperparameterSearch;
using bomf::HyperparameterSearchOptions;
using bomf::HyperparameterSummary;
using bomf::TrainingContext;
using bomf::TrainingTrajectory;

std::string message_of(const std::function<void()>& f) {
  return bomf::test::error_message<std::exception>(f);
}

TEST(ScoreTrajectory, BestSignAdjustedScaledSumAlongTheRun) {
  const std::vector<bomf::MetricSpec> metrics = {{"f1", bomf::Direction::maximize},
                                                 {"wer", bomf::Direction::minimize}};
  TrainingTrajectory t;
  // Exactly representable values, so that the tie below is exact.
  t.add(10, 1.0, {0.5, 0.375});                  // 0.125
  t.add(20, 0.9, {0.75, 0.25});                  // 0.5
  t.add(30, std::nan(""), {std::nan(""), 0.0});  // skipped
  t.add(40, 0.8, {0.875, 0.375});                // 0.5: a tie, the earlier point wins
  const bomf::TrajectoryScore s = bomf::score_trajectory(t, metrics);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.score, 0.5);
  EXPECT_EQ(s.best_point, 1);
  EXPECT_EQ(s.best_step, 20);
  // Scales weight the metrics: 2·f1 − 0.5·wer is best at step 40 (1.5625 > 1.375).
  const bomf::TrajectoryScore w = bomf::score_trajectory(t, metrics, {2.0, 0.5});
  EXPECT_EQ(w.score, 1.5625);
  EXPECT_EQ(w.best_step, 40);
  TrainingTrajectory diverged;
  diverged.add(10, std::nan(""), {std::nan(""), std::nan("")});
  EXPECT_FALSE(bomf::score_trajectory(diverged, metrics).ok());
  EXPECT_THROW((void)bomf::score_trajectory(t, metrics, {1.0}), bomf::invalid_argument);
}

struct SearchOutcome {
  double best_score;
  Hyperparameters best;
  int invalid_proposals = 0;
  std::vector<Hyperparameters> proposals;
};

SearchOutcome run_search(std::uint64_t seed, int acquisition_threads = 1) {
  SearchOutcome out;
  const bomf::SearchSpace space = bomf_test::synthetic_space();
  auto problem = bomf::make_training_problem(
      space, bomf_test::synthetic_metrics(), [&out, &space](const Hyperparameters& h) {
        out.invalid_proposals += space.is_valid(h.values()) ? 0 : 1;
        out.proposals.push_back(h);
        return bomf_test::synthetic_trajectory(h);
      });
  HyperparameterSearchOptions options;  // the paper's 3 + 10
  options.seed = seed;
  options.acquisition_optimizer.num_threads = acquisition_threads;
  HyperparameterSummary summary;
  const bomf::HyperparameterSearchResult result = bomf::solve(options, problem, &summary);
  EXPECT_EQ(summary.num_evaluations, 13);
  EXPECT_EQ(summary.termination, bomf::SearchTermination::budget_reached);
  EXPECT_EQ(result.run_index, summary.best_index);
  EXPECT_DOUBLE_EQ(result.score, summary.best_score);
  EXPECT_EQ(result.best_step,
            result.trajectory.points[static_cast<std::size_t>(result.best_point)].step);
  out.best_score = result.score;
  out.best = result.hyperparameters;
  return out;
}

// Uniform random search with the same budget (log-uniform learning rate).
double random_search(std::uint64_t seed, int budget) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  double best = -1e300;
  for (int i = 0; i < budget; ++i) {
    const double lr = std::pow(10.0, -6.0 + 4.0 * unit(rng));
    const int log2_batch = 3 + static_cast<int>(rng() % 4);
    const double warmup = 0.3 * unit(rng);
    const bool cosine = rng() % 2 == 1;
    const TrainingTrajectory t = bomf_test::synthetic_trajectory(lr, log2_batch, warmup, cosine);
    for (const auto& p : t.points) {
      best = std::max(best, p.metrics(0) - p.metrics(1));
    }
  }
  return best;
}

TEST(HyperparameterSearch, FindsTheOptimumAndBeatsRandomSearch) {
  const double optimum = bomf_test::synthetic_optimum();
  double bo_regret = 0.0;
  double random_regret = 0.0;
  int bo_wins = 0;
  const int seeds = 10;
  for (int seed = 0; seed < seeds; ++seed) {
    const SearchOutcome bo = run_search(static_cast<std::uint64_t>(seed));
    const double random = random_search(1000 + static_cast<std::uint64_t>(seed), 13);
    EXPECT_EQ(bo.invalid_proposals, 0);
    EXPECT_LE(bo.best_score, optimum + 1e-12);
    // Close to the optimum within the paper's 3 + 10 runs: batch size 16, the learning rate
    // within a factor 10^0.5 of 10^-4.5, and a small regret.
    EXPECT_EQ(bo.best.integer("log2_batch_size"), 4) << "seed " << seed;
    EXPECT_LT(std::abs(std::log10(bo.best.value("learning_rate")) + 4.5), 0.5) << "seed " << seed;
    EXPECT_LT(optimum - bo.best_score, 0.025) << "seed " << seed;
    bo_regret += (optimum - bo.best_score) / seeds;
    random_regret += (optimum - random) / seeds;
    bo_wins += bo.best_score > random ? 1 : 0;
  }
  EXPECT_LT(bo_regret, 0.25 * random_regret);
  EXPECT_GE(bo_wins, 8);
  std::printf(
      "[ info ] mean regret over %d seeds: GP+LogEI %.5f, random search %.5f; GP+LogEI "
      "better in %d\n",
      seeds, bo_regret, random_regret, bo_wins);
}

TEST(HyperparameterSearch, DeterministicGivenTheSeed) {
  const SearchOutcome a = run_search(11);
  const SearchOutcome b = run_search(11);
  const SearchOutcome c = run_search(12);
  ASSERT_EQ(a.proposals.size(), b.proposals.size());
  for (std::size_t i = 0; i < a.proposals.size(); ++i) {
    EXPECT_EQ(a.proposals[i].values(), b.proposals[i].values()) << "run " << i;
  }
  EXPECT_NE(a.proposals[0].values(), c.proposals[0].values());
}

// Each optimizer thread evaluates LogEI on its own copy (LogEI keeps a scratch workspace), so
// the proposals do not depend on the number of threads.
TEST(HyperparameterSearch, SameProposalsWithSeveralAcquisitionThreads) {
  const SearchOutcome serial = run_search(11);
  for (int threads : {2, 4}) {
    const SearchOutcome parallel = run_search(11, threads);
    ASSERT_EQ(parallel.proposals.size(), serial.proposals.size());
    for (std::size_t i = 0; i < serial.proposals.size(); ++i) {
      EXPECT_EQ(parallel.proposals[i].values(), serial.proposals[i].values())
          << threads << " threads, run " << i;
    }
  }
}

TEST(HyperparameterSearch, AskTellWithPendingRunsInAnyOrder) {
  HyperparameterSearch search(bomf_test::synthetic_space(), bomf_test::synthetic_metrics());
  EXPECT_EQ(search.budget(), 13);
  std::vector<Hyperparameters> batch = {search.suggest(), search.suggest(), search.suggest()};
  EXPECT_EQ(search.num_pending(), 3);
  EXPECT_EQ(search.remaining(), 10);
  for (auto it = batch.rbegin(); it != batch.rend(); ++it) {  // observed in reverse order
    search.observe(*it, bomf_test::synthetic_trajectory(*it), 1.0);
  }
  EXPECT_EQ(search.num_pending(), 0);
  // Two BO proposals at once (the first is pending while the second is made): distinct, valid.
  const Hyperparameters p = search.suggest();
  const Hyperparameters q = search.suggest();
  EXPECT_NE(p, q);
  EXPECT_TRUE(search.space().is_valid(p.values()));
  EXPECT_TRUE(search.space().is_valid(q.values()));
  const auto& trace = search.summary().trace;
  ASSERT_EQ(trace.size(), 3U);
  EXPECT_EQ(trace[0].hyperparameters, batch[2]);
  EXPECT_EQ(trace[0].proposal, bomf::ProposalKind::initial);
  EXPECT_DOUBLE_EQ(trace[0].evaluation_seconds, 1.0);
  search.observe(q, bomf_test::synthetic_trajectory(q));
  search.observe(p, bomf_test::synthetic_trajectory(p));
  EXPECT_EQ(search.summary().trace[3].proposal, bomf::ProposalKind::acquisition);
  EXPECT_GT(search.summary().trace[3].fit_seconds, 0.0);
  // A setting the caller chose (a warm start) is "external".
  const Hyperparameters known(bomf_test::synthetic_space(), {3e-5, 4, 0.1, 1});
  search.observe_score(known, bomf_test::synthetic_optimum());
  EXPECT_EQ(search.summary().trace.back().proposal, bomf::ProposalKind::external);
  EXPECT_EQ(search.result().hyperparameters, known);
  EXPECT_EQ(search.result().best_step, -1);  // observed as a bare score
  EXPECT_TRUE(search.result().trajectory.empty());
}

TEST(HyperparameterSearch, RunNumbersAreTheCallersOrTheNextFree) {
  HyperparameterSearch search(bomf_test::synthetic_space(), bomf_test::synthetic_metrics());
  EXPECT_EQ(search.next_run_index(), 0);
  const Hyperparameters a = search.suggest();
  const Hyperparameters b = search.suggest();
  const Hyperparameters c = search.suggest();
  search.observe(b, bomf_test::synthetic_trajectory(b), 1.0, /*run_index=*/1);
  EXPECT_EQ(search.next_run_index(), 2);
  search.observe(a, bomf_test::synthetic_trajectory(a), 1.0, /*run_index=*/0);
  EXPECT_EQ(search.next_run_index(), 2);
  // A number already used, or negative, is refused and nothing is recorded.
  for (const int bad : {1, -2}) {
    try {
      search.observe(c, bomf_test::synthetic_trajectory(c), 1.0, bad);
      ADD_FAILURE() << "run_index " << bad << " accepted";
    } catch (const bomf::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("run_index " +
                                           std::string(bad == 1 ? "1 is already" : "is -2")),
                std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(search.num_completed(), 2);
  search.observe_failure(c, "out of memory");  // −1: the next free number
  const auto& trace = search.summary().trace;
  ASSERT_EQ(trace.size(), 3U);
  EXPECT_EQ(trace[0].run_index, 1);
  EXPECT_EQ(trace[1].run_index, 0);
  EXPECT_EQ(trace[2].run_index, 2);
  EXPECT_EQ(search.result().run_index,
            trace[static_cast<std::size_t>(search.summary().best_index)].run_index);
}

TEST(HyperparameterSearch, FailedRunsDoNotCountAsData) {
  // Proposals stay quasi-random until two runs succeeded: failures never reach the GP.
  HyperparameterSearchOptions options;
  options.max_failures = 10;
  HyperparameterSearch search(bomf_test::synthetic_space(), bomf_test::synthetic_metrics(),
                              options);
  search.observe_failure(search.suggest(), "out of memory");
  search.observe_failure(search.suggest(), "out of memory");
  TrainingTrajectory diverged;  // every metric non-finite
  diverged.add(10, std::nan(""), {std::nan(""), 0.1});
  search.observe(search.suggest(), diverged);
  search.observe(search.suggest(), TrainingTrajectory{});  // no point at all
  const Hyperparameters h = search.suggest();
  search.observe(h, bomf_test::synthetic_trajectory(h));
  const Hyperparameters g = search.suggest();
  search.observe(g, bomf_test::synthetic_trajectory(g));
  (void)search.suggest();  // now two successes: LogEI
  const auto& trace = search.summary().trace;
  for (const auto& it : trace) {
    // The design's 3 rows, then quasi-random fallbacks until 2 runs succeeded.
    EXPECT_EQ(it.proposal,
              it.index < 3 ? bomf::ProposalKind::initial : bomf::ProposalKind::fallback);
  }
  EXPECT_EQ(search.num_failures(), 4);
  EXPECT_EQ(trace[1].error, "out of memory");
  EXPECT_EQ(trace[2].error, "no trajectory point has finite values for all metrics");
  EXPECT_EQ(trace[3].error, "the trajectory has no point");
  EXPECT_EQ(trace[3].best_index, -1);
  EXPECT_EQ(trace[4].best_index, 4);
  search.observe_score(Hyperparameters(bomf_test::synthetic_space(), {1e-4, 5, 0.2, 0}), 0.5);
  EXPECT_EQ(search.summary().trace.back().proposal, bomf::ProposalKind::external);
  // The pending LogEI suggestion is still pending; its kind is known when it is observed.
  EXPECT_EQ(search.num_pending(), 1);
  std::vector<std::vector<double>> distinct;
  for (const auto& it : trace) {
    distinct.push_back(it.hyperparameters.values());
  }
  std::sort(distinct.begin(), distinct.end());
  EXPECT_EQ(std::unique(distinct.begin(), distinct.end()), distinct.end());
}

TEST(HyperparameterSearch, SameAskTellSequenceGivesSameSuggestions) {
  auto sequence = [] {
    HyperparameterSearchOptions options;
    options.seed = 4;
    HyperparameterSearch search(bomf_test::synthetic_space(), bomf_test::synthetic_metrics(),
                                options);
    std::vector<std::vector<double>> out;
    for (int i = 0; i < 6; ++i) {
      const Hyperparameters h = search.suggest();
      out.push_back(h.values());
      search.observe(h, bomf_test::synthetic_trajectory(h));
    }
    return out;
  };
  EXPECT_EQ(sequence(), sequence());
}

TEST(HyperparameterSearch, DiscreteSpaceNeverRepeatsAndStopsWhenExhausted) {
  bomf::SearchSpace space;
  space.add_categorical("batch_size", {"8", "16", "32"}).add_integer("epochs", 1, 2);
  std::set<std::vector<double>> seen;
  int repeats = 0;
  auto problem = bomf::make_training_problem(
      space, {{"accuracy", bomf::Direction::maximize}}, [&](const Hyperparameters& h) {
        repeats += seen.insert(h.values()).second ? 0 : 1;
        TrainingTrajectory t;
        const double bs = std::stod(h.label("batch_size"));
        t.add(100, 0.5,
              {0.9 - 0.01 * std::abs(bs - 16.0) + 0.02 * static_cast<double>(h.integer("epochs"))});
        return t;
      });
  HyperparameterSummary summary;
  const auto result = bomf::solve(HyperparameterSearchOptions{}, problem, &summary);
  EXPECT_EQ(repeats, 0);
  EXPECT_EQ(summary.num_evaluations, 6);  // all 3 × 2 combinations, then stop
  EXPECT_EQ(summary.termination, bomf::SearchTermination::space_exhausted);
  EXPECT_EQ(result.hyperparameters.label("batch_size"), "16");
  EXPECT_EQ(result.hyperparameters.integer("epochs"), 2);
  HyperparameterSearch search(space, {{"accuracy", bomf::Direction::maximize}});
  for (int i = 0; i < 6; ++i) {
    const Hyperparameters h = search.suggest();
    search.observe_score(h, 1.0 * i);
  }
  EXPECT_TRUE(search.exhausted());
  EXPECT_NE(message_of([&] { (void)search.suggest(); }).find("check exhausted()"),
            std::string::npos);
}

TEST(HyperparameterSearch, FailuresAreRecordedAndKeptOutOfTheModel) {
  int diverged = 0;
  auto problem = bomf::make_training_problem(
      bomf_test::synthetic_space(), bomf_test::synthetic_metrics(),
      [&diverged](const Hyperparameters& h) {
        if (h.value("learning_rate") > 1e-3) {
          ++diverged;
          throw std::runtime_error("loss is NaN at step 12");
        }
        if (h.value("warmup") > 0.25) {  // every metric non-finite: a failed run too
          TrainingTrajectory t;
          t.add(10, std::nan(""), {std::nan(""), std::nan("")});
          return t;
        }
        return bomf_test::synthetic_trajectory(h);
      });
  HyperparameterSearchOptions options;
  options.max_failures = 13;
  HyperparameterSummary summary;
  int callbacks = 0;
  options.callback = [&callbacks](const bomf::HyperparameterIteration& it) {
    ++callbacks;
    EXPECT_FALSE(it.replayed);
    return true;
  };
  const auto result = bomf::solve(options, problem, &summary);
  EXPECT_EQ(callbacks, 13);
  int thrown = 0;
  int non_finite = 0;
  for (const auto& it : summary.trace) {
    if (!it.ok) {
      EXPECT_TRUE(std::isnan(it.score));
      thrown += it.error == "loss is NaN at step 12" ? 1 : 0;
      non_finite += it.error == "no trajectory point has finite values for all metrics" ? 1 : 0;
    }
  }
  EXPECT_EQ(thrown, diverged);
  EXPECT_GE(thrown, 1);
  EXPECT_EQ(thrown + non_finite, summary.num_failures);
  EXPECT_LE(result.hyperparameters.value("learning_rate"), 1e-3);
  EXPECT_TRUE(result.trajectory.size() > 1);
  EXPECT_NE(summary.brief_report().find("13 runs"), std::string::npos);
  EXPECT_NE(summary.full_report().find("learning_rate="), std::string::npos);
}

TEST(HyperparameterSearch, TooManyFailuresEndTheSearchWithAClearError) {
  int calls = 0;
  auto problem =
      bomf::make_training_problem(bomf_test::synthetic_space(), bomf_test::synthetic_metrics(),
                                  [&calls](const Hyperparameters&) -> TrainingTrajectory {
                                    ++calls;
                                    throw std::runtime_error("CUDA out of memory");
                                  });
  HyperparameterSearchOptions options;
  options.max_failures = 2;
  HyperparameterSummary summary;
  const std::string message = message_of([&] { (void)bomf::solve(options, problem, &summary); });
  EXPECT_EQ(calls, 3);
  EXPECT_NE(message.find("3 of 3 runs failed, more than options.max_failures = 2"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("CUDA out of memory"), std::string::npos);
  EXPECT_THROW((void)bomf::solve(options, problem), bomf::too_many_failures);
  EXPECT_EQ(summary.termination, bomf::SearchTermination::too_many_failures);
  EXPECT_EQ(summary.num_failures, 3);
  // Tolerating every failure of the budget: the error is that no run succeeded.
  options.max_failures = 100;
  options.num_iterations = 1;
  const std::string none = message_of([&] { (void)bomf::solve(options, problem, &summary); });
  EXPECT_NE(none.find("none of the 4 runs succeeded"), std::string::npos) << none;
}

TEST(HyperparameterSearch, WrongMetricCountIsAProgrammingError) {
  auto problem = bomf::make_training_problem(
      bomf_test::synthetic_space(), bomf_test::synthetic_metrics(), [](const Hyperparameters&) {
        TrainingTrajectory t;
        t.add(10, 0.3, {0.9});
        return t;
      });
  const std::string message = message_of([&] { (void)bomf::solve({}, problem); });
  EXPECT_NE(message.find("trajectory point 0 (step 10) has 1 metric values, expected 2"),
            std::string::npos)
      << message;
  EXPECT_THROW((void)bomf::solve({}, problem), bomf::invalid_argument);
}

TEST(HyperparameterSearch, BadInputIsNamed) {
  const auto space = bomf_test::synthetic_space();
  const auto metrics = bomf_test::synthetic_metrics();
  EXPECT_NE(message_of([&] {
              HyperparameterSearch s(bomf::SearchSpace{}, metrics);
            }).find("the search space is empty"),
            std::string::npos);
  EXPECT_NE(message_of([&] { HyperparameterSearch s(space, {}); }).find("declares no metric"),
            std::string::npos);
  HyperparameterSearchOptions options;
  options.num_initial = 0;
  EXPECT_NE(message_of([&] {
              HyperparameterSearch s(space, metrics, options);
            }).find("invalid options: num_initial is 0, expected >= 1"),
            std::string::npos);
  options = {};
  options.metric_scales = {1.0};
  EXPECT_NE(message_of([&] {
              HyperparameterSearch s(space, metrics, options);
            }).find("options.metric_scales has 1 entries, expected 0 or 2"),
            std::string::npos);
  options.metric_scales = {1.0, -2.0};
  EXPECT_NE(options.validate().find("metric_scales[1] is -2"), std::string::npos);
  options = {};
  options.num_iterations = -1;
  EXPECT_NE(options.validate().find("num_iterations is -1"), std::string::npos);
  options = {};
  options.max_failures = -1;
  EXPECT_NE(options.validate().find("max_failures is -1"), std::string::npos);
  options = {};
  options.acquisition_optimizer.raw_samples = 0;
  EXPECT_NE(options.validate().find("acquisition_optimizer."), std::string::npos);
  options = {};
  options.members.count = 1;
  EXPECT_NE(options.validate().find("members.count is 1"), std::string::npos);
  options = {};
  options.gp.num_starts = 0;
  EXPECT_NE(options.validate().find("gp.num_starts is 0"), std::string::npos);
  EXPECT_TRUE(HyperparameterSearchOptions{}.validate().empty());

  HyperparameterSearch search(space, metrics);
  bomf::SearchSpace other;
  other.add_continuous("learning_rate", 1e-6, 1e-2, bomf::Scale::log);
  EXPECT_NE(message_of([&] {
              search.observe_score(Hyperparameters(other, {1e-4}), 0.5);
            }).find("belongs to another search space"),
            std::string::npos);
  EXPECT_NE(message_of([&] { search.observe_score(Hyperparameters(), 0.5); }).find("is empty"),
            std::string::npos);
}

TEST(HyperparameterSearch, CollectsMembersDuringTheSearchWhenAsked) {
  std::vector<bool> collected;
  std::vector<int> indices;
  auto problem =
      bomf::make_training_problem(bomf_test::synthetic_space(), bomf_test::synthetic_metrics(),
                                  [&](const Hyperparameters& h, TrainingContext& context) {
                                    collected.push_back(context.collect_members());
                                    indices.push_back(context.run_index());
                                    TrainingTrajectory t = bomf_test::synthetic_trajectory(h);
                                    t.checkpoint_steps = context.plan_members(t.total_steps);
                                    return t;
                                  });
  HyperparameterSearchOptions options;
  options.num_iterations = 1;
  options.collect_members_during_search = true;
  options.members.count = 4;
  const auto result = bomf::solve(options, problem);
  EXPECT_EQ(indices, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(collected, (std::vector<bool>{true, true, true, true}));
  EXPECT_EQ(result.trajectory.checkpoint_steps,
            bomf::select_member_steps(result.trajectory.total_steps, options.members));
}

}  // namespace
