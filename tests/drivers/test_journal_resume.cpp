// The fusion journal: a search killed with SIGKILL at random moments and restarted loses no
// completed evaluation, repeats none, and ends with exactly the δ sequence and answer of an
// uninterrupted run; torn last lines are recovered; journals of other runs are refused.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bomf/drivers/baselines.hpp"
#include "bomf/drivers/fusion_search.hpp"
#include "drivers_test_problems.hpp"

namespace {

using bomf::FusionSearchOptions;
using bomf::test::DisagreeingProblem;
using Eigen::VectorXd;

std::string temp_file(const std::string& name) {
  const std::string path =
      ::testing::TempDir() + "bomf_drivers_" + std::to_string(::getpid()) + "_" + name;
  std::remove(path.c_str());
  return path;
}

using bomf::test::message_of;

FusionSearchOptions journal_options(const std::string& journal) {
  FusionSearchOptions o = bomf::test::fast_fusion_options(3, 6, /*seed=*/21);
  o.journal = journal;
  return o;
}

constexpr int kBudget = 3 + 3 + 6;  // members, initial design, Bayesian iterations

// Appends "δ\n" (17 significant digits) to `log` with one write(2): survives a SIGKILL.
void log_call(const std::string& log, const VectorXd& delta) {
  std::ostringstream line;
  line.precision(17);
  for (Eigen::Index i = 0; i < delta.size(); ++i) {
    line << (i == 0 ? "" : " ") << delta(i);
  }
  line << "\n";
  const std::string text = line.str();
  const int fd = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0) {
    (void)!::write(fd, text.data(), text.size());
    ::close(fd);
  }
}

std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

// The search's records (members and search points, in order) of a journal.
std::vector<bomf::FusionRecord> search_records(const std::string& journal) {
  DisagreeingProblem problem(3);
  const bomf::FusionLedger ledger(problem, journal);
  std::vector<bomf::FusionRecord> out;
  for (const auto& r : ledger.records()) {
    if (r.source == bomf::FusionRecord::search_source)
      out.push_back(r);
  }
  return out;
}

// A problem whose evaluations take `sleep_ms` and are logged to `log` when they complete.
DisagreeingProblem slow_problem(const std::string& log, int sleep_ms) {
  DisagreeingProblem problem(3);
  problem.hook = [log, sleep_ms](const VectorXd& d) {
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
    log_call(log, d);
  };
  return problem;
}

TEST(FusionJournal, KilledAtRandomMomentsResumesWithoutLossOrRepetition) {
  const std::string journal = temp_file("killed.journal");
  const std::string log = temp_file("killed.calls");
  std::mt19937 rng(2024);
  std::uniform_int_distribution<int> delay_ms(20, 200);
  int kills = 0;
  for (int attempt = 0; attempt < 12; ++attempt) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int code = 0;
      try {
        DisagreeingProblem problem = slow_problem(log, 40);
        bomf::solve(journal_options(journal), problem);
      } catch (...) {
        code = 3;
      }
      ::_exit(code);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status)) {
      ++kills;
      continue;
    }
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0) << "the child's solve threw";
    break;  // finished before the kill
  }
  EXPECT_GE(kills, 3) << "the test should interrupt the search several times";

  // Finish (or just replay) in this process.
  DisagreeingProblem resumed = slow_problem(log, 0);
  bomf::FusionSummary summary;
  const bomf::FusionResult result = bomf::solve(journal_options(journal), resumed, &summary);
  EXPECT_EQ(summary.num_evaluations, kBudget);
  EXPECT_GT(summary.num_replayed, 0);

  // The uninterrupted reference run.
  const std::string reference_journal = temp_file("reference.journal");
  DisagreeingProblem reference(3);
  const bomf::FusionResult expected = bomf::solve(journal_options(reference_journal), reference);
  EXPECT_EQ(reference.calls, kBudget);

  // Bitwise the same δ sequence and the same answer.
  const auto got = search_records(journal);
  const auto want = search_records(reference_journal);
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kBudget));
  ASSERT_EQ(want.size(), static_cast<std::size_t>(kBudget));
  for (int i = 0; i < kBudget; ++i) {
    const auto& a = got[static_cast<std::size_t>(i)];
    const auto& b = want[static_cast<std::size_t>(i)];
    EXPECT_TRUE((a.delta.array() == b.delta.array()).all())
        << "evaluation " << i << ": " << a.delta.transpose() << " vs " << b.delta.transpose();
    EXPECT_EQ(a.evaluation.loss, b.evaluation.loss);
    EXPECT_EQ(a.source, b.source);
  }
  EXPECT_TRUE((result.delta.array() == expected.delta.array()).all());
  EXPECT_EQ(result.evaluation.loss, expected.evaluation.loss);

  // No completed evaluation repeated: distinct δ in the journal, and the problem was called at
  // most once more per kill (the evaluation in flight) than there are records.
  std::map<std::vector<double>, int> seen;
  for (const auto& r : got) {
    EXPECT_EQ(++seen[std::vector<double>(r.delta.data(), r.delta.data() + r.delta.size())], 1);
    EXPECT_FALSE(r.reused);
  }
  const auto calls = read_lines(log);
  EXPECT_GE(static_cast<int>(calls.size()), kBudget);
  EXPECT_LE(static_cast<int>(calls.size()), kBudget + kills);
  std::map<std::string, int> per_delta;
  for (const auto& line : calls) {
    ++per_delta[line];
  }
  EXPECT_EQ(static_cast<int>(per_delta.size()), kBudget) << "only journal δs were evaluated";
  for (const auto& [line, count] : per_delta) {
    EXPECT_LE(count, 2) << line;
  }
  std::remove(journal.c_str());
  std::remove(log.c_str());
  std::remove(reference_journal.c_str());
}

TEST(FusionJournal, TornLastLineIsRecoveredAndTheLostEvaluationRedone) {
  const std::string journal = temp_file("torn.journal");
  const std::string reference_journal = temp_file("torn_reference.journal");
  DisagreeingProblem reference(3);
  const auto expected = bomf::solve(journal_options(reference_journal), reference);

  DisagreeingProblem first(3);
  bomf::solve(journal_options(journal), first);
  // Cut the last record in half (a crash in the middle of a write).
  std::string text;
  {
    std::ifstream in(journal);
    std::stringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
  }
  const std::size_t last = text.rfind('\n', text.size() - 2);
  ASSERT_NE(last, std::string::npos);
  const std::size_t cut = last + 1 + (text.size() - last - 1) / 2;
  {
    std::ofstream out(journal, std::ios::trunc);
    out << text.substr(0, cut);
  }
  {
    DisagreeingProblem resumed(3);
    bomf::FusionEvaluator evaluator(resumed, journal);  // holds the journal's lock until '}'
    EXPECT_GT(evaluator.ledger().journal().recovered_torn_bytes(), 0u);
    bomf::FusionSummary summary;
    const auto result = bomf::solve(journal_options(journal), evaluator, &summary);
    EXPECT_EQ(resumed.calls, 1) << "only the torn evaluation is redone";
    EXPECT_EQ(summary.num_replayed, kBudget - 1);
    EXPECT_TRUE((result.delta.array() == expected.delta.array()).all());
    EXPECT_MESSAGE(message_of<bomf::io_error>([&] { bomf::FusionLedger(resumed, journal); }),
                   "cannot lock (is another process using it?)");
  }

  // Running again replays everything and evaluates nothing; a finished search can be extended.
  DisagreeingProblem again(3);
  bomf::solve(journal_options(journal), again);
  EXPECT_EQ(again.calls, 0);
  FusionSearchOptions longer = journal_options(journal);
  longer.num_iterations = 8;
  bomf::solve(longer, again);
  EXPECT_EQ(again.calls, 2);
  // Baselines sharing the journal reuse the members.
  bomf::FusionEvaluator shared(again, journal);
  EXPECT_EQ(bomf::best_single_member(shared).new_evaluations, 0);
  std::remove(journal.c_str());
  std::remove(reference_journal.c_str());
}

TEST(FusionJournal, ARunWhoseMembersAllFailedResumesByEvaluatingThemAgain) {
  // Every member evaluation fails once (say, the GPU ran out of memory): the run stops, since
  // the normalization has no anchor. Run again on the same journal once the cause is fixed: the
  // members are evaluated again (failed records are not reused), and the search then runs as
  // an uninterrupted one would.
  const std::string journal = temp_file("members_failed.journal");
  const std::string reference_journal = temp_file("members_failed_reference.journal");
  DisagreeingProblem reference(3);
  bomf::FusionSummary expected;
  bomf::solve(journal_options(reference_journal), reference, &expected);

  DisagreeingProblem failing(3);
  failing.hook = [](const VectorXd&) { throw std::runtime_error("CUDA out of memory"); };
  const std::string message =
      message_of<bomf::evaluation_error>([&] { bomf::solve(journal_options(journal), failing); });
  EXPECT_MESSAGE(message, "every member evaluation failed");
  EXPECT_MESSAGE(message, "(the members are evaluated again)");

  DisagreeingProblem fixed(3);
  bomf::FusionSummary summary;
  const auto result = bomf::solve(journal_options(journal), fixed, &summary);
  EXPECT_EQ(fixed.calls, kBudget);
  ASSERT_EQ(summary.trace.size(), static_cast<std::size_t>(3 + kBudget));
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_FALSE(summary.trace[i].ok);
    EXPECT_NE(summary.trace[i].error.find("CUDA out of memory"), std::string::npos);
  }
  for (std::size_t i = 0; i < static_cast<std::size_t>(kBudget); ++i) {
    EXPECT_TRUE(summary.trace[3 + i].ok);
    EXPECT_EQ(summary.trace[3 + i].delta, expected.trace[i].delta) << "row " << i;
  }
  EXPECT_EQ(result.delta, expected.result->delta);

  // Resuming the finished run replays everything and evaluates nothing.
  DisagreeingProblem again(3);
  bomf::solve(journal_options(journal), again);
  EXPECT_EQ(again.calls, 0);
  std::remove(journal.c_str());
  std::remove(reference_journal.c_str());
}

TEST(FusionJournal, AnEvaluationWithTheWrongMetricCountIsJournaledBeforeItIsThrown) {
  // A FusionProblem whose evaluate returns one metric value too many (a bug in the caller's
  // code): the run stops with an invalid_argument naming the counts, but the evaluation it paid
  // for is in the journal (failed, with the values returned). Resuming with the bug fixed keeps
  // that record as a failure and finishes the run.
  const std::string journal = temp_file("wrong_metric_count.journal");
  DisagreeingProblem inner(3);
  const auto evaluate = [&](const VectorXd& delta) {
    bomf::FusionEvaluation e = inner.evaluate(delta);
    e.metrics = VectorXd{{e.metrics(0), 42.0}};
    return e;
  };
  bomf::FunctionFusionProblem<decltype(evaluate)> buggy(3, inner.objectives(), evaluate, {},
                                                        inner.fingerprint());
  const std::string message = message_of([&] { bomf::solve(journal_options(journal), buggy); });
  EXPECT_MESSAGE(message, "returned 2 metric values, expected 1 (one per metric: accuracy)");
  EXPECT_MESSAGE(message, "journaled as failed with the values it returned");
  EXPECT_EQ(inner.calls, 1);
  {
    const bomf::FusionLedger ledger(inner, journal);
    ASSERT_EQ(ledger.records().size(), 1u);
    const bomf::FusionRecord& r = ledger.records().front();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.source, "search");
    EXPECT_EQ(r.proposal, bomf::ProposalKind::member);
    EXPECT_MESSAGE(r.error, "contract violation: the evaluation returned 2 metric values");
    ASSERT_EQ(r.evaluation.metrics.size(), 2);
    EXPECT_EQ(r.evaluation.metrics(1), 42.0);
    EXPECT_TRUE(std::isfinite(r.evaluation.loss));
  }

  DisagreeingProblem fixed(3);
  bomf::FusionSummary summary;
  (void)bomf::solve(journal_options(journal), fixed, &summary);
  EXPECT_EQ(fixed.calls, kBudget - 1);  // the journaled (failed) member is not evaluated again
  ASSERT_EQ(summary.trace.size(), static_cast<std::size_t>(kBudget));
  EXPECT_FALSE(summary.trace[0].ok);
  EXPECT_TRUE(summary.trace[0].replayed);
  ASSERT_EQ(summary.trace[0].evaluation.metrics.size(), 1);  // the declared count, NaN
  EXPECT_TRUE(std::isnan(summary.trace[0].evaluation.metrics(0)));
  EXPECT_EQ(summary.num_failures, 1);
  std::remove(journal.c_str());

  // Appending such a record to a ledger directly: stored as failed, then refused.
  bomf::FusionLedger memory(inner);
  bomf::FusionRecord record;
  record.delta = VectorXd{{0.2, 0.3, 0.5}};
  record.ok = true;
  record.evaluation = buggy.evaluate(record.delta);
  EXPECT_MESSAGE(message_of([&] { memory.append(record); }), "returned 2 metric values");
  ASSERT_EQ(memory.records().size(), 1u);
  EXPECT_FALSE(memory.records().front().ok);
}

TEST(FusionJournal, JournalsOfOtherRunsAreRefused) {
  const std::string journal = temp_file("other.journal");
  DisagreeingProblem problem(3);
  bomf::solve(journal_options(journal), problem);

  DisagreeingProblem other_data(3);
  other_data.fingerprint_override = "other validation set";
  EXPECT_MESSAGE(message_of([&] { bomf::solve(journal_options(journal), other_data); }),
                 "belongs to a different run: header key 'fingerprint' is \"disagreeing-3\"");
  DisagreeingProblem four(4);
  four.fingerprint_override = problem.fingerprint();
  EXPECT_MESSAGE(message_of([&] { bomf::solve(journal_options(journal), four); }),
                 "header key 'num_members' is 3 in the file, 4 for this run");
  bomf::FusionObjectives f1;
  f1.metrics.push_back({"f1", bomf::Direction::maximize});
  const auto evaluate = [&](const VectorXd& d) { return problem.evaluate(d); };
  bomf::FunctionFusionProblem<decltype(evaluate)> renamed(3, f1, evaluate, {},
                                                          problem.fingerprint());
  EXPECT_MESSAGE(message_of([&] { bomf::solve(journal_options(journal), renamed); }),
                 "header key 'metrics'");
  FusionSearchOptions reseeded = journal_options(journal);
  reseeded.seed = 22;
  EXPECT_MESSAGE(message_of([&] { bomf::solve(reseeded, problem); }),
                 "other settings: 'seed' is 21 in the journal, 22 for this run");
  FusionSearchOptions rebounded = journal_options(journal);
  rebounded.upper_bounds = VectorXd{{0.9, 1.0, 1.0}};
  EXPECT_MESSAGE(message_of([&] { bomf::solve(rebounded, problem); }), "'upper_bounds'");
  // The fit's tolerances and full priors, and the refiner's tolerances, are part of the record.
  FusionSearchOptions retuned = journal_options(journal);
  retuned.gp.gradient_tolerance = 1e-4;
  EXPECT_MESSAGE(message_of([&] { bomf::solve(retuned, problem); }), "other settings: 'gp'");
  // Settings added after journals were first written are recorded only when they are not the
  // default (journals written before they existed have the default): the default journal's
  // `section` record lacks `key`, a journal of the default refuses the changed setting and the
  // other way round, and a journal of the changed setting resumes with it.
  const auto check_added_setting = [&](const char* section, const char* key, auto change,
                                       const char* file) {
    int records = 0;
    for (const std::string& line : read_lines(journal)) {
      const nlohmann::json record = nlohmann::json::parse(line);
      if (record.contains(section) && record[section].is_object()) {
        ++records;
        EXPECT_FALSE(record[section].contains(key)) << line;
      }
    }
    EXPECT_EQ(records, 1) << section;
    const std::string refused = std::string("other settings: '") + section + "'";
    FusionSearchOptions changed = journal_options(journal);
    change(changed);
    EXPECT_MESSAGE(message_of([&] { bomf::solve(changed, problem); }), refused);
    const std::string other = temp_file(file);
    std::remove(other.c_str());
    FusionSearchOptions resumed = journal_options(other);
    change(resumed);
    DisagreeingProblem first(3);
    bomf::solve(resumed, first);
    DisagreeingProblem again(3);
    EXPECT_NO_THROW(bomf::solve(resumed, again));
    EXPECT_EQ(again.calls, 0);
    EXPECT_MESSAGE(message_of([&] { bomf::solve(journal_options(other), problem); }), refused);
  };
  check_added_setting(
      "gp", "lbfgs_memory", [](FusionSearchOptions& o) { o.gp.lbfgs_memory = 10; },
      "memory10.journal");
  check_added_setting(
      "acquisition", "screening_samples",
      [](FusionSearchOptions& o) { o.acquisition.screening_samples = 32; }, "screening32.journal");
  retuned = journal_options(journal);
  retuned.acquisition_optimizer.refine.value_tolerance = 1e-9;
  EXPECT_MESSAGE(message_of([&] { bomf::solve(retuned, problem); }),
                 "other settings: 'acquisition_optimizer'");
  retuned = journal_options(journal);
  bomf::GpPriors priors = bomf::GpPriors::botorch_legacy();
  priors.noise_lower = 1e-6;
  retuned.gp.priors = priors;
  EXPECT_MESSAGE(message_of([&] { bomf::solve(retuned, problem); }), "other settings: 'gp'");
  retuned = journal_options(journal);
  retuned.normalization.anchor = bomf::NormalizationAnchor::best_member;
  EXPECT_MESSAGE(message_of([&] { bomf::solve(retuned, problem); }),
                 "other settings: 'normalization'");
  retuned = journal_options(journal);
  retuned.blind_search.move_reference_point = true;
  EXPECT_MESSAGE(message_of([&] { bomf::solve(retuned, problem); }),
                 "other settings: 'blind_search'");
  // The selection rule may change: it chooses among the same evaluations.
  retuned = journal_options(journal);
  retuned.selection.rule = bomf::FusionSelectionRule::posterior_metric_sum;
  DisagreeingProblem replayed(3);
  EXPECT_NO_THROW(bomf::solve(retuned, replayed));
  EXPECT_EQ(replayed.calls, 0);

  // Damage before the last line is not a torn tail: a clear error.
  std::vector<std::string> lines = read_lines(journal);
  lines[2] = "{not json";
  {
    std::ofstream out(journal, std::ios::trunc);
    for (const auto& l : lines) {
      out << l << "\n";
    }
  }
  EXPECT_MESSAGE(
      message_of<bomf::io_error>([&] { bomf::solve(journal_options(journal), problem); }),
      "line 3 is not a JSON object");
  std::remove(journal.c_str());
}

TEST(FusionJournal, AskTellSearchResumesFromItsJournal) {
  const std::string journal = temp_file("asktell.journal");
  DisagreeingProblem problem(3);
  FusionSearchOptions options = journal_options(journal);
  std::vector<VectorXd> first_two;
  {
    bomf::FusionSearch search(3, problem.objectives(), options, problem.fingerprint());
    const auto batch = search.suggest(5);  // 3 members + 2 design points
    ASSERT_EQ(batch.size(), 5u);
    search.observe(batch[4], problem.evaluate(batch[4]));
    search.observe(batch[0], problem.evaluate(batch[0]));
    first_two = {batch[4], batch[0]};
    // The process "dies" with three evaluations in flight.
  }
  bomf::FusionSearch resumed(3, problem.objectives(), options, problem.fingerprint());
  EXPECT_EQ(resumed.trace().size(), 2u);
  EXPECT_TRUE(resumed.trace()[0].replayed);
  EXPECT_EQ(resumed.remaining(), kBudget - 2);
  const auto next = resumed.suggest(10);
  // The two missing members and the unobserved design points come back; nothing observed does.
  for (const VectorXd& d : next) {
    for (const VectorXd& done : first_two) {
      EXPECT_FALSE((d.array() == done.array()).all()) << d.transpose();
    }
  }
  EXPECT_EQ(next.size(), 2u + 2u) << "2 members + the 2 design points left (normalization unknown)";
  std::remove(journal.c_str());
}

}  // namespace
