// The scenarios of the bomf::mpi tests, each run under the real mpirun by run_mpi_test.sh:
//
//   fusion               bomf::mpi::solve (stage 2) on P ranks: every candidate evaluated exactly
//                        once, on the workers, the journal complete, the result valid and equal
//                        to what a sequential replay of the journal selects
//   one-worker           the pool with one worker rank makes exactly the sequential proposals
//   training             stage 1 on the pool: run indices, journal, train_members on rank 1
//   training-one-worker  bomf::mpi::solve (stage 1) with one worker equals the sequential search
//   baselines            Greedy SWA and Learned SWA through RemoteFusionProblem (gradients on
//                        rank 1), equal to one process
//   throwing             rank 2 throws: failed records with its message, the search goes on
//   too-many-failures    every worker throws: rank 0 stops, the workers learn why and return
//   mismatch             rank 2 builds another problem: refused, naming it; nobody hangs
//   factory-throws       rank 1 cannot build its problem: rank 0 says so; nobody hangs
//   resume               one phase of a run resumed from a journal (any rank count, also 1)
//   check-resume         (no MPI) the journal after the phases: complete, no completed
//                        evaluation repeated by a later phase
//   training-resume      one phase of stage 1 resumed from its journal (any rank count)
//   check-training-resume (no MPI) stage 1's journal after the phases: every run once, numbered
//                        0…7 without reuse, no journaled run trained again, nothing to train on
//                        a sequential replay
//
// Each rank prints "FAIL: …" for each violated expectation (rank 0 checks most); every rank exits
// 1 if any rank found one (the exit status of mpirun), 0 otherwise; an unexpected exception
// aborts the job. Worker ranks log each evaluation
// (δ in hexadecimal floating point, exact) to <dir>/<name>.rank<r>.log.
#include <dirent.h>
#include <mpi.h>
#include <unistd.h>

#include <Eigen/Core>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bomf/drivers/baselines.hpp"
#include "bomf/drivers/evaluation_loop.hpp"
#include "bomf/drivers/fusion_search.hpp"
#include "bomf/drivers/hyperparameter_search.hpp"
#include "bomf/mpi/mpi.hpp"
#include "drivers/drivers_test_problems.hpp"

namespace {

using Eigen::VectorXd;
using Point = std::vector<double>;

int failures = 0;

void expect(bool condition, const std::string& what) {
  if (!condition) {
    ++failures;
    std::fprintf(stderr, "FAIL: %s\n", what.c_str());
  }
}

template <class... Args>
std::string str(const Args&... args) {
  return bomf::detail::concat(args...);
}

bool contains(const std::string& text, const std::string& fragment) {
  return text.find(fragment) != std::string::npos;
}

/// --key value arguments after the scenario name.
class Args {
 public:
  Args(int argc, char** argv) {
    for (int i = 2; i + 1 < argc; i += 2) {
      values_[argv[i]] = argv[i + 1];
    }
  }
  [[nodiscard]] std::string get(const std::string& key, const std::string& fallback = {}) const {
    const auto it = values_.find("--" + key);
    return it == values_.end() ? fallback : it->second;
  }
  [[nodiscard]] int number(const std::string& key, int fallback) const {
    const std::string v = get(key);
    return v.empty() ? fallback : std::stoi(v);
  }

 private:
  std::map<std::string, std::string> values_;
};

Point as_point(const VectorXd& v) {
  return Point(v.data(), v.data() + v.size());
}

std::string hex(const VectorXd& v) {
  std::string out;
  char buffer[64];
  for (Eigen::Index i = 0; i < v.size(); ++i) {
    std::snprintf(buffer, sizeof buffer, " %a", v(i));
    out += buffer;
  }
  return out;
}

/// One line per call: "<kind> <extra> <values in %a>".
struct LogLine {
  std::string kind;
  long long extra = 0;
  Point values;
};

std::vector<LogLine> read_log(const std::string& path) {
  std::vector<LogLine> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    LogLine l;
    fields >> l.kind >> l.extra;
    std::string token;
    while (fields >> token) {
      l.values.push_back(std::strtod(token.c_str(), nullptr));
    }
    lines.push_back(std::move(l));
  }
  return lines;
}

void append_log(const std::string& path, const std::string& kind, long long extra,
                const VectorXd& values) {
  if (path.empty())
    return;
  std::FILE* f = std::fopen(path.c_str(), "a");
  if (f == nullptr)
    throw std::runtime_error("cannot open log " + path);
  std::fprintf(f, "%s %lld%s\n", kind.c_str(), extra, hex(values).c_str());
  std::fclose(f);
}

/// The logs <dir>/<name>.rank*.log, by rank.
std::map<int, std::vector<LogLine>> read_logs(const std::string& dir, const std::string& name) {
  std::map<int, std::vector<LogLine>> logs;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr)
    return logs;
  const std::string prefix = name + ".rank";
  while (const dirent* e = ::readdir(d)) {
    const std::string file = e->d_name;
    if (file.rfind(prefix, 0) == 0 && file.size() > 4 && file.substr(file.size() - 4) == ".log")
      logs[std::stoi(file.substr(prefix.size()))] = read_log(dir + "/" + file);
  }
  ::closedir(d);
  return logs;
}

constexpr int kMembers = 4;
constexpr int kBudget = 4 + 4 + 6;

bomf::FusionSearchOptions fusion_options(const std::string& journal = {}) {
  bomf::FusionSearchOptions o = bomf::test::fast_fusion_options(4, 6, /*seed=*/13);
  o.journal = journal;
  return o;
}

/// The test's fusion problem on one rank: BOMF's disagreeing problem, sleeping `sleep_ms` per
/// evaluation, logging what it evaluates, throwing `throws` when set.
class RankProblem final : public bomf::FusionProblem {
 public:
  RankProblem(std::string log, int sleep_ms, std::string throws = {})
      : log_(std::move(log)), sleep_ms_(sleep_ms), throws_(std::move(throws)) {}
  [[nodiscard]] int num_members() const override { return inner_.num_members(); }
  [[nodiscard]] bomf::FusionObjectives objectives() const override { return inner_.objectives(); }
  [[nodiscard]] std::string fingerprint() const override { return inner_.fingerprint(); }
  [[nodiscard]] bool has_loss_gradient() const override { return true; }
  bomf::FusionEvaluation evaluate(const VectorXd& delta) override {
    check_length(delta);
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
    if (!throws_.empty()) {
      append_log(log_, "x", 0, delta);
      throw std::runtime_error(throws_);
    }
    const bomf::FusionEvaluation e = inner_.evaluate(delta);
    append_log(log_, "e", 0, delta);
    return e;
  }
  double loss_and_gradient(const VectorXd& delta, VectorXd& gradient) override {
    check_length(delta);
    append_log(log_, "g", 0, delta);
    return inner_.loss_and_gradient(delta, gradient);
  }
  bomf::test::DisagreeingProblem inner_{kMembers};

 private:
  static void check_length(const VectorXd& delta) {
    if (delta.size() != kMembers)
      throw std::length_error(str("δ has ", delta.size(), " entries, expected ", kMembers));
  }
  std::string log_;
  int sleep_ms_;
  std::string throws_;
};

int rank_of_world() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}
int size_of_world() {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

std::string log_path(const Args& args, const std::string& name) {
  return str(args.get("dir", "."), "/", name, ".rank", rank_of_world(), ".log");
}

/// Every evaluation logged by the worker ranks ("e" lines), and by each rank.
std::vector<Point> evaluated(const std::map<int, std::vector<LogLine>>& logs,
                             const std::string& kind = "e") {
  std::vector<Point> out;
  for (const auto& [rank, lines] : logs) {
    for (const LogLine& l : lines) {
      if (l.kind == kind)
        out.push_back(l.values);
    }
  }
  return out;
}

/// The journal's records (reopened in this process, read only).
std::vector<bomf::FusionRecord> journal_records(const std::string& path) {
  const bomf::test::DisagreeingProblem description(kMembers);
  const bomf::FusionLedger ledger(description, path);
  return ledger.records();
}

void check_fusion_journal(const std::string& journal, const bomf::FusionResult& result) {
  const std::vector<bomf::FusionRecord> records = journal_records(journal);
  std::set<Point> deltas;
  for (const bomf::FusionRecord& r : records) {
    deltas.insert(as_point(r.delta));
    expect(r.ok, "journal record ok");
  }
  expect(static_cast<int>(records.size()) == kBudget,
         str("the journal holds ", records.size(), " evaluations, expected ", kBudget));
  expect(static_cast<int>(deltas.size()) == kBudget, "the journal's δ are distinct");
  // A sequential run on the journal replays everything and selects the same result.
  bomf::test::DisagreeingProblem replay(kMembers);
  bomf::FusionSummary replayed;
  const bomf::FusionResult again = bomf::solve(fusion_options(journal), replay, &replayed);
  expect(replay.calls == 0, str("a sequential resume evaluated ", replay.calls, ", expected 0"));
  expect(replayed.num_replayed == kBudget, "the sequential resume replays the whole budget");
  expect(again.delta == result.delta, "the replay selects the distributed run's result");
  expect(bomf::Simplex(kMembers).contains(result.delta, 1e-12), "the result is on the simplex");
}

// ---- scenarios ----------------------------------------------------------------------------

void fusion(const Args& args) {
  const std::string dir = args.get("dir", ".");
  const std::string journal = dir + "/fusion.jsonl";
  const int rank = rank_of_world();
  if (rank == 0)
    std::remove(journal.c_str());
  MPI_Barrier(MPI_COMM_WORLD);
  bomf::FusionSummary summary;
  const std::optional<bomf::FusionResult> result = bomf::mpi::solve(
      fusion_options(journal), MPI_COMM_WORLD,
      [&] { return std::make_unique<RankProblem>(log_path(args, "fusion"), 20); }, &summary);
  MPI_Barrier(MPI_COMM_WORLD);  // the workers' logs are complete
  if (rank != 0) {
    expect(!result, "no result on a worker rank");
    return;
  }
  expect(result.has_value(), "a result on rank 0");
  expect(summary.num_evaluations == kBudget && summary.num_failures == 0,
         str("evaluations ", summary.num_evaluations, " failures ", summary.num_failures));
  expect(summary.termination == bomf::SearchTermination::budget_reached, "budget reached");
  const auto logs = read_logs(dir, "fusion");
  const std::vector<Point> done = evaluated(logs);
  const std::set<Point> distinct(done.begin(), done.end());
  expect(static_cast<int>(done.size()) == kBudget,
         str("the workers evaluated ", done.size(), " times, expected ", kBudget));
  expect(distinct.size() == done.size(), "no candidate evaluated twice");
  expect(static_cast<int>(logs.size()) == size_of_world() - 1 && logs.count(0) == 0,
         str("evaluations on ", logs.size(), " ranks, expected every worker rank and not rank 0"));
  std::set<Point> journaled;
  for (const bomf::FusionRecord& r : journal_records(journal)) {
    journaled.insert(as_point(r.delta));
  }
  expect(journaled == distinct, "the journal holds exactly the evaluated candidates");
  check_fusion_journal(journal, *result);
}

void one_worker(const Args& args) {
  if (rank_of_world() != 0) {
    RankProblem problem(log_path(args, "one_worker"), 0);
    bomf::mpi::serve(problem);
    return;
  }
  expect(size_of_world() == 2, "one-worker runs with -np 2");
  bomf::mpi::FusionPool pool(MPI_COMM_WORLD);
  const bomf::mpi::RemoteFusionProblem remote(pool);
  bomf::FusionLedger ledger(remote);
  bomf::FusionSummary summary;
  const bomf::FusionResult result = bomf::solve(fusion_options(), ledger, pool, &summary);
  pool.shutdown();
  bomf::test::DisagreeingProblem sequential(kMembers);
  bomf::FusionSummary expected;
  const bomf::FusionResult reference = bomf::solve(fusion_options(), sequential, &expected);
  expect(summary.trace.size() == expected.trace.size(), "as many rows as the sequential run");
  for (std::size_t i = 0; i < std::min(summary.trace.size(), expected.trace.size()); ++i) {
    expect(summary.trace[i].delta == expected.trace[i].delta, str("row ", i, ": the same δ"));
    expect(summary.trace[i].proposal == expected.trace[i].proposal,
           str("row ", i, ": the same proposal kind"));
    expect(summary.trace[i].evaluation.loss == expected.trace[i].evaluation.loss,
           str("row ", i, ": the same loss"));
  }
  expect(result.delta == reference.delta, "the same result");
}

double direct_loss_of_member_0() {
  return bomf::test::DisagreeingProblem(kMembers).loss(VectorXd::Unit(kMembers, 0));
}

void baselines(const Args& args) {
  const std::string dir = args.get("dir", ".");
  bomf::LearnedSwaOptions learned_options;
  learned_options.steps = 20;
  if (rank_of_world() != 0) {
    RankProblem problem(log_path(args, "baselines"), 0);
    bomf::mpi::serve(problem);
  } else {
    bomf::mpi::FusionPool pool(MPI_COMM_WORLD);
    bomf::mpi::RemoteFusionProblem remote(pool);
    expect(remote.has_loss_gradient(), "the workers' problems have the loss gradient");
    bomf::FusionLedger ledger(remote);
    bomf::solve(fusion_options(), ledger, pool);
    bomf::FusionEvaluator evaluator(remote, ledger);  // one ledger for the search and baselines
    const bomf::FusionResult greedy = bomf::greedy_swa(evaluator);
    const bomf::FusionResult learned = bomf::learned_swa(evaluator, learned_options);
    expect(greedy.new_evaluations > 0 && greedy.evaluations > greedy.new_evaluations,
           "Greedy SWA reuses the members and evaluates soups");
    // A call that throws on the worker throws here with its message, and the worker goes on.
    const VectorXd wrong = VectorXd::Constant(2, 0.5);
    expect(bomf::test::message_of<bomf::evaluation_error>([&] { pool.evaluate(1, wrong); }) ==
               "rank 2: δ has 2 entries, expected 4",
           "a failed synchronous evaluation names the rank and the reason");
    VectorXd gradient;
    expect(bomf::test::message_of<bomf::evaluation_error>([&] {
             pool.loss_and_gradient(0, wrong, gradient);
           }) == "rank 1: δ has 2 entries, expected 4",
           "a failed gradient call names the rank and the reason");
    expect(pool.evaluate(1, VectorXd::Unit(kMembers, 0)).loss == direct_loss_of_member_0(),
           "the worker serves on after a failure");
    pool.shutdown();
    bomf::test::DisagreeingProblem direct(kMembers);
    expect(greedy.delta == bomf::greedy_swa(direct).delta, "Greedy SWA as in one process");
    expect(learned.delta == bomf::learned_swa(direct, learned_options).delta,
           "Learned SWA as in one process");
    expect(static_cast<int>(ledger.records().size()) == kBudget + greedy.new_evaluations + 1,
           "the ledger holds the search and the baselines' new evaluations");
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank_of_world() == 0) {
    const auto logs = read_logs(dir, "baselines");
    for (const auto& [rank, lines] : logs) {
      const std::vector<Point> gradients = evaluated({{rank, lines}}, "g");
      expect(static_cast<int>(gradients.size()) == (rank == 1 ? learned_options.steps : 0),
             str("rank ", rank, " computed ", gradients.size(), " gradients"));
    }
  }
}

void throwing(const Args& args) {
  const int rank = rank_of_world();
  bomf::FusionSearchOptions options = fusion_options();
  options.max_failures = 100;
  bomf::FusionSummary summary;
  const auto result = bomf::mpi::solve(
      options, MPI_COMM_WORLD,
      [&] {
        return std::make_unique<RankProblem>(log_path(args, "throwing"), 20,
                                             rank == 2 ? "GPU 1 fell off" : "");
      },
      &summary);
  if (rank != 0)
    return;
  expect(result.has_value(), "the search ends normally");
  expect(summary.num_evaluations == kBudget, "the whole budget");
  expect(summary.num_failures > 0, "rank 2's evaluations failed");
  int ok = 0;
  for (const bomf::FusionIteration& row : summary.trace) {
    ok += row.ok ? 1 : 0;
    if (!row.ok) {
      expect(row.error == "evaluation threw on rank 2: GPU 1 fell off",
             "the failure's message: " + row.error);
    }
  }
  expect(ok > 0 && ok + summary.num_failures == kBudget, "rank 1's evaluations succeeded");
}

void too_many_failures(const Args& args) {
  const std::string dir = args.get("dir", ".");
  if (rank_of_world() != 0) {
    RankProblem problem(log_path(args, "failing"), 10, "out of memory");
    const bomf::mpi::ServeSummary served = bomf::mpi::serve(problem);
    std::ofstream(str(dir, "/served.rank", served.rank)) << served.coordinator_ok << "\n"
                                                         << served.tasks << "\n"
                                                         << served.failures << "\n"
                                                         << served.coordinator_message << "\n";
  } else {
    bomf::FusionSearchOptions options = fusion_options();
    options.max_failures = 2;
    bomf::FusionSummary summary;
    std::string error = "(no exception)";
    long journaled = -1;
    try {
      bomf::mpi::FusionPool pool(MPI_COMM_WORLD);
      const bomf::mpi::RemoteFusionProblem remote(pool);
      bomf::FusionLedger ledger(remote);
      try {
        bomf::solve(options, ledger, pool, &summary);
      } catch (...) {
        journaled = static_cast<long>(ledger.records().size());
        throw;  // unwinds through the pool: the workers learn that rank 0 failed
      }
    } catch (const bomf::too_many_failures& e) {
      error = e.what();
    }
    expect(contains(error, "out of memory"), "too_many_failures with the reason: " + error);
    expect(summary.termination == bomf::SearchTermination::too_many_failures, "the termination");
    std::ofstream(dir + "/journaled") << journaled << "\n";
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank_of_world() != 0)
    return;
  long tasks = 0;
  for (int rank = 1; rank < size_of_world(); ++rank) {
    std::ifstream in(str(dir, "/served.rank", rank));
    int coordinator_ok = 1;
    long n = 0;
    long failed = 0;
    std::string message;
    in >> coordinator_ok >> n >> failed;
    std::getline(in >> std::ws, message);
    expect(coordinator_ok == 0, str("rank ", rank, " learned that rank 0 failed"));
    expect(message == "rank 0 ended with an exception", "the workers' message: " + message);
    expect(n == failed, "every task failed");
    tasks += n;
  }
  long journaled = -1;
  std::ifstream(dir + "/journaled") >> journaled;
  expect(journaled == tasks,
         str("every evaluation that ran is journaled: ", journaled, " of ", tasks));
}

void refused(const Args& args, const std::string& scenario) {
  (void)args;
  const int rank = rank_of_world();
  std::string error = "(no exception)";
  try {
    bomf::mpi::solve(fusion_options(), MPI_COMM_WORLD,
                     [&]() -> std::unique_ptr<bomf::FusionProblem> {
                       if (scenario == "factory-throws" && rank == 1)
                         throw std::runtime_error("no GPU here");
                       auto p = std::make_unique<RankProblem>(std::string(), 0);
                       if (scenario == "mismatch" && rank == 2)
                         p->inner_.fingerprint_override = "other members";
                       return p;
                     });
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (scenario == "mismatch") {
    if (rank == 0) {
      expect(contains(error, "the worker ranks serve different problems") &&
                 contains(error, "rank 2: N = 4") && contains(error, "'other members'"),
             "rank 0 names the rank with another problem: " + error);
    } else {
      expect(error == "(no exception)", "the workers return: " + error);
    }
  } else {
    if (rank == 0) {
      expect(contains(error, "rank 1 could not build its problem: no GPU here"),
             "rank 0 names the rank that could not build its problem: " + error);
    } else if (rank == 1) {
      expect(error == "no GPU here", "rank 1 rethrows its factory's exception: " + error);
    }
  }
  std::printf("rank %d: %s\n", rank, error.c_str());
}

// ---- stage 1 ------------------------------------------------------------------------------

bomf::SearchSpace training_space() {
  bomf::SearchSpace space;
  space.add_continuous("x", 0.0, 1.0).add_integer("k", 1, 4);
  return space;
}

/// Stage 1's test problem: a score peaked at x = 0.3, k = 1; logs the run index, whether it
/// collects members, and the setting.
class RankTraining final : public bomf::TrainingProblem {
 public:
  RankTraining(std::string log, int sleep_ms) : log_(std::move(log)), sleep_ms_(sleep_ms) {}
  [[nodiscard]] bomf::SearchSpace search_space() const override { return training_space(); }
  [[nodiscard]] std::vector<bomf::MetricSpec> metrics() const override {
    return {{"score", bomf::Direction::maximize}};
  }
  [[nodiscard]] std::string fingerprint() const override { return "rank-training"; }
  bomf::TrainingTrajectory train(const bomf::Hyperparameters& h,
                                 bomf::TrainingContext& context) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
    ++calls;
    bomf::TrainingTrajectory t;
    t.total_steps = 100;
    context.plan_members(t.total_steps);
    const double x = h.value("x");
    for (long long step = 20; step <= 100; step += 20) {
      const double s = static_cast<double>(step) / 100.0;
      t.add(step, 1.0 - s * 0.5, {s * (1.0 - (x - 0.3) * (x - 0.3)) - 0.01 * h.value("k")});
    }
    t.checkpoint_steps = context.member_steps();
    append_log(log_, context.collect_members() ? "c" : "t", context.run_index(),
               Eigen::Map<const VectorXd>(h.values().data(), 2));
    return t;
  }
  long calls = 0;

 private:
  std::string log_;
  int sleep_ms_;
};

bomf::HyperparameterSearchOptions training_options(const std::string& journal = {}) {
  bomf::HyperparameterSearchOptions o;
  o.num_initial = 3;
  o.num_iterations = 5;
  o.seed = 5;
  o.journal = journal;
  o.gp.num_starts = 2;
  return o;
}

void training(const Args& args) {
  const std::string dir = args.get("dir", ".");
  const std::string journal = dir + "/training.jsonl";
  bomf::MemberSelectionOptions members;
  members.count = 3;
  if (rank_of_world() != 0) {
    RankTraining problem(log_path(args, "training"), 10);
    bomf::mpi::serve(problem);
  } else {
    std::remove(journal.c_str());
    bomf::mpi::TrainingPool pool(MPI_COMM_WORLD);
    bomf::mpi::RemoteTrainingProblem remote(pool);
    bomf::HyperparameterSummary summary;
    const bomf::HyperparameterSearchResult best =
        bomf::solve(training_options(journal), remote, pool, &summary);
    const bomf::TrainingTrajectory kept =
        bomf::train_members(remote, best.hyperparameters, members, best.best_step);
    pool.shutdown();
    expect(summary.num_evaluations == 8, str("runs ", summary.num_evaluations, ", expected 8"));
    expect(kept.checkpoint_steps.size() >= 2, "train_members kept members on rank 1");
    RankTraining local(std::string(), 0);
    bomf::HyperparameterSummary replayed;
    const bomf::HyperparameterSearchResult again =
        bomf::solve(training_options(journal), local, &replayed);
    expect(local.calls == 0 && replayed.num_replayed == 8, "the journal holds every run");
    expect(again.hyperparameters.values() == best.hyperparameters.values(), "the same best run");
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank_of_world() != 0)
    return;
  std::multiset<long long> indices;
  int member_runs = 0;
  for (const auto& [rank, lines] : read_logs(dir, "training")) {
    for (const LogLine& l : lines) {
      if (l.kind == "t")
        indices.insert(l.extra);
      if (l.kind == "c") {
        ++member_runs;
        expect(rank == 1 && l.extra == bomf::TrainingContext::final_run,
               "the member run is rank 1's final run");
      }
    }
  }
  expect(indices == std::multiset<long long>{0, 1, 2, 3, 4, 5, 6, 7},
         "every run index once: the evaluation ids");
  expect(member_runs == 1, "one member run");
}

void training_one_worker(const Args& args) {
  bomf::HyperparameterSummary summary;
  const auto best = bomf::mpi::solve(
      training_options(), MPI_COMM_WORLD,
      [&] { return std::make_unique<RankTraining>(log_path(args, "training1"), 0); }, &summary);
  if (rank_of_world() != 0)
    return;
  expect(size_of_world() == 2, "training-one-worker runs with -np 2");
  RankTraining local(std::string(), 0);
  bomf::HyperparameterSummary expected;
  const bomf::HyperparameterSearchResult reference =
      bomf::solve(training_options(), local, &expected);
  expect(summary.trace.size() == expected.trace.size(), "as many runs as the sequential search");
  for (std::size_t i = 0; i < std::min(summary.trace.size(), expected.trace.size()); ++i) {
    expect(summary.trace[i].hyperparameters.values() == expected.trace[i].hyperparameters.values(),
           str("run ", i, ": the same setting"));
  }
  expect(best && best->hyperparameters.values() == reference.hyperparameters.values(),
         "the same best run");
}

// ---- resume -------------------------------------------------------------------------------

/// <dir>/pid.<phase>.<rank>: this process's pid, for run_mpi_test.sh to kill it.
void write_pid_file(const std::string& dir, const std::string& phase) {
  std::ofstream(str(dir, "/pid.", phase, ".", rank_of_world())) << ::getpid() << "\n";
}

/// One phase: the search on the journal, on however many ranks mpirun started; stops after
/// --stop-after new evaluations when given. Each rank writes its pid to <dir>/pid.<phase>.<rank>.
void resume(const Args& args) {
  const std::string dir = args.get("dir", ".");
  const std::string phase = args.get("phase", "1");
  const int stop_after = args.number("stop-after", -1);
  write_pid_file(dir, phase);
  bomf::FusionSearchOptions options = fusion_options(dir + "/resume.jsonl");
  int fresh = 0;
  if (stop_after >= 0) {
    options.callback = [&](const bomf::FusionIteration&) { return ++fresh < stop_after; };
  }
  bomf::FusionSummary summary;
  const auto result = bomf::mpi::solve(
      options, MPI_COMM_WORLD,
      [&] {
        return std::make_unique<RankProblem>(log_path(args, "phase" + phase),
                                             args.number("sleep-ms", 50));
      },
      &summary);
  if (result) {
    std::printf("phase %s on %d ranks: %d rows, %d replayed, %zu torn bytes, %s\n", phase.c_str(),
                size_of_world(), summary.num_evaluations, summary.num_replayed,
                summary.journal_torn_bytes, bomf::to_string(summary.termination));
  }
}

/// After the phases (no MPI): the journal is complete, and no phase evaluated a δ that the
/// journal held when it started (<dir>/journal.before<p>).
void check_resume(const Args& args) {
  const std::string dir = args.get("dir", ".");
  const int phases = args.number("phases", 3);
  const std::vector<bomf::FusionRecord> final_records = journal_records(dir + "/resume.jsonl");
  std::set<Point> journaled;
  for (const bomf::FusionRecord& r : final_records) {
    expect(r.ok, "every record ok");
    expect(journaled.insert(as_point(r.delta)).second, "no δ twice in the journal");
  }
  expect(static_cast<int>(final_records.size()) == kBudget,
         str("the journal holds ", final_records.size(), " evaluations, expected ", kBudget));
  std::set<Point> all;
  for (int p = 1; p <= phases; ++p) {
    std::set<Point> before;
    if (p > 1) {
      for (const bomf::FusionRecord& r : journal_records(str(dir, "/journal.before", p))) {
        before.insert(as_point(r.delta));
      }
    }
    const std::vector<Point> done = evaluated(read_logs(dir, str("phase", p)));
    int repeated = 0;
    for (const Point& d : done) {
      repeated += before.count(d) > 0 ? 1 : 0;
      all.insert(d);
    }
    expect(repeated == 0, str("phase ", p, " repeated ", repeated, " completed evaluations"));
    std::printf("phase %d: %zu evaluations, %zu journaled before it\n", p, done.size(),
                before.size());
  }
  for (const Point& d : journaled) {
    expect(all.count(d) > 0, "every journaled δ was evaluated by some phase");
  }
}

// ---- stage 1 resumed --------------------------------------------------------------------

/// One phase of stage 1 on <dir>/training-resume.jsonl, on however many ranks mpirun started;
/// each rank writes its pid to <dir>/pid.<phase>.<rank> and logs its runs to tphase<phase>.
void training_resume(const Args& args) {
  const std::string dir = args.get("dir", ".");
  const std::string phase = args.get("phase", "1");
  write_pid_file(dir, phase);
  bomf::HyperparameterSummary summary;
  const auto best = bomf::mpi::solve(
      training_options(dir + "/training-resume.jsonl"), MPI_COMM_WORLD,
      [&] {
        return std::make_unique<RankTraining>(log_path(args, "tphase" + phase),
                                              args.number("sleep-ms", 50));
      },
      &summary);
  if (best) {
    std::printf("stage 1 phase %s on %d ranks: %d runs, %d replayed, %s\n", phase.c_str(),
                size_of_world(), summary.num_evaluations, summary.num_replayed,
                bomf::to_string(summary.termination));
  }
}

/// The run numbers of the complete "run" records of a stage-1 journal file, read as text (a
/// torn last line, from a kill, is skipped).
std::vector<long long> journaled_runs(const std::string& path) {
  std::vector<long long> runs;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
    if (!record.is_discarded() && record.value("kind", "") == "run") {
      runs.push_back(record.at("run").get<long long>());
    }
  }
  return runs;
}

/// After the phases (no MPI): stage 1's journal holds the 8 runs, numbered 0…7 each once; no
/// phase trained a run number that the journal held when the phase started (a journaled run is
/// never trained again, and its number never reused), nor one number twice; a sequential search
/// on the journal replays all 8 and trains nothing.
void check_training_resume(const Args& args) {
  const std::string dir = args.get("dir", ".");
  const int phases = args.number("phases", 2);
  const std::string journal = dir + "/training-resume.jsonl";
  const std::vector<long long> runs = journaled_runs(journal);
  expect(std::multiset<long long>(runs.begin(), runs.end()) ==
             std::multiset<long long>{0, 1, 2, 3, 4, 5, 6, 7},
         str("the journal holds runs 0…7 once each (", runs.size(), " records)"));
  std::set<long long> trained;  // by any phase
  for (int p = 1; p <= phases; ++p) {
    std::set<long long> in_phase;
    std::set<long long> before;
    if (p > 1) {
      for (const long long r : journaled_runs(str(dir, "/journal.before", p))) {
        before.insert(r);
      }
    }
    int count = 0;
    for (const auto& [rank, lines] : read_logs(dir, str("tphase", p))) {
      for (const LogLine& l : lines) {
        if (l.kind != "t") {
          continue;
        }
        ++count;
        expect(before.count(l.extra) == 0,
               str("phase ", p, " trained run ", l.extra, ", which the journal already held"));
        // A number may come back in a later phase only for a run the kill lost before it was
        // journaled (checked above), never twice in one phase.
        expect(in_phase.insert(l.extra).second,
               str("run number ", l.extra, " was trained twice in phase ", p));
        trained.insert(l.extra);
      }
    }
    std::printf("stage 1 phase %d: %d runs trained, %zu journaled before it\n", p, count,
                before.size());
  }
  for (const long long r : runs) {
    expect(trained.count(r) > 0, str("journaled run ", r, " was trained by some phase"));
  }
  RankTraining local(std::string(), 0);
  bomf::HyperparameterSummary replayed;
  bomf::solve(training_options(journal), local, &replayed);
  expect(local.calls == 0 && replayed.num_replayed == 8,
         str("a sequential replay trains nothing (", local.calls, " runs) and replays 8 (",
             replayed.num_replayed, ")"));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <scenario> [--key value ...]\n", argv[0]);
    return 2;
  }
  const std::string scenario = argv[1];
  const Args args(argc, argv);
  // The checks after the phases run without MPI.
  const std::map<std::string, std::function<void(const Args&)>> checks = {
      {"check-resume", check_resume}, {"check-training-resume", check_training_resume}};
  if (const auto check = checks.find(scenario); check != checks.end()) {
    try {
      check->second(args);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "FAIL: %s: %s\n", scenario.c_str(), e.what());
      return 1;
    }
    return failures == 0 ? 0 : 1;
  }
  const bomf::mpi::Environment mpi(argc, argv);
  const std::map<std::string, std::function<void(const Args&)>> scenarios = {
      {"fusion", fusion},
      {"one-worker", one_worker},
      {"training", training},
      {"training-one-worker", training_one_worker},
      {"baselines", baselines},
      {"throwing", throwing},
      {"too-many-failures", too_many_failures},
      {"mismatch", [](const Args& a) { refused(a, "mismatch"); }},
      {"factory-throws", [](const Args& a) { refused(a, "factory-throws"); }},
      {"resume", resume},
      {"training-resume", training_resume}};
  const auto it = scenarios.find(scenario);
  if (it == scenarios.end()) {
    std::fprintf(stderr, "unknown scenario '%s'\n", scenario.c_str());
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  try {
    it->second(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FAIL: %s on rank %d: unexpected exception: %s\n", scenario.c_str(),
                 mpi.rank(), e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  // Every rank exits 1 when any rank found a failure.
  int total = 0;
  MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  return total == 0 ? 0 : 1;
}
