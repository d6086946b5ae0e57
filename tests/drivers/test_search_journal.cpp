// The stage-1 journal: one durable line per completed run; a search resumed after a stop, a torn
// last line or a lost last record makes exactly the proposals of an uninterrupted search, without
// retraining a completed run; a journal of another run is refused.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bomf/drivers/hyperparameter_search.hpp"
#include "support/error_message.hpp"
#include "support/journal_lines.hpp"
#include "synthetic_training.hpp"

namespace {

using bomf::Hyperparameters;
using bomf::HyperparameterSearchOptions;
using bomf::HyperparameterSummary;
using bomf::TrainingTrajectory;

// The journals this process wrote, removed when it ends (not by forked children, which _exit).
struct TempFiles {
  pid_t owner = ::getpid();
  std::vector<std::string> paths;
  ~TempFiles() {
    if (::getpid() == owner) {
      for (const std::string& path : paths) {
        std::remove(path.c_str());
      }
    }
  }
};

// Per process: ctest runs each test of this file as its own process, several at once, and each
// of them writes the shared reference journal (uninterrupted()).
std::string temp_path(const std::string& name) {
  static TempFiles files;
  const std::string path =
      ::testing::TempDir() + "bomf_stage1_" + std::to_string(::getpid()) + "_" + name + ".jsonl";
  std::remove(path.c_str());
  files.paths.push_back(path);
  return path;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

void write_raw(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string read_raw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A synthetic problem that records what it trained and fails for very large learning rates.
struct Recorder {
  std::vector<std::vector<double>> trained;
  bomf::FunctionTrainingProblem<std::function<TrainingTrajectory(const Hyperparameters&)>> problem{
      bomf_test::synthetic_space(), bomf_test::synthetic_metrics(),
      [this](const Hyperparameters& h) -> TrainingTrajectory {
        trained.push_back(h.values());
        if (h.value("learning_rate") > 3e-3) {
          throw std::runtime_error("diverged");
        }
        return bomf_test::synthetic_trajectory(h);
      },
      "synthetic-v1"};
};

HyperparameterSearchOptions journal_options(const std::string& path) {
  HyperparameterSearchOptions o;
  o.seed = 3;
  o.num_iterations = 7;
  o.max_failures = 10;
  o.journal = path;
  o.acquisition_optimizer.raw_samples = 128;  // keeps the test fast
  return o;
}

std::vector<std::vector<double>> settings_of(const HyperparameterSummary& s) {
  std::vector<std::vector<double>> out;
  for (const auto& it : s.trace) {
    out.push_back(it.hyperparameters.values());
  }
  return out;
}

struct Reference {
  std::vector<std::vector<double>> settings;
  bomf::HyperparameterSearchResult result;
};

const Reference& uninterrupted() {
  static const Reference reference = [] {
    Recorder r;
    HyperparameterSummary summary;
    Reference ref;
    ref.result = bomf::solve(journal_options(temp_path("reference")), r.problem, &summary);
    ref.settings = settings_of(summary);
    EXPECT_EQ(ref.settings, r.trained);
    EXPECT_EQ(ref.settings.size(), 10U);
    return ref;
  }();
  return reference;
}

// Runs the search on `path` until `stop_after` runs have completed in total (callback stop).
void run_until(const std::string& path, int stop_after) {
  Recorder r;
  HyperparameterSearchOptions o = journal_options(path);
  o.callback = [stop_after](const bomf::HyperparameterIteration& it) {
    return it.index + 1 < stop_after;
  };
  HyperparameterSummary summary;
  (void)bomf::solve(o, r.problem, &summary);
  EXPECT_EQ(summary.termination, bomf::SearchTermination::stopped_by_callback);
}

void expect_same_as_uninterrupted(const std::string& path, std::size_t expected_replayed,
                                  std::size_t expected_trained) {
  Recorder r;
  HyperparameterSummary summary;
  const auto result = bomf::solve(journal_options(path), r.problem, &summary);
  const Reference& ref = uninterrupted();
  EXPECT_EQ(settings_of(summary), ref.settings);
  EXPECT_EQ(static_cast<std::size_t>(summary.num_replayed), expected_replayed);
  ASSERT_EQ(r.trained.size(), expected_trained);
  for (std::size_t i = 0; i < r.trained.size(); ++i) {  // only the missing runs were trained
    EXPECT_EQ(r.trained[i], ref.settings[expected_replayed + i]);
  }
  EXPECT_EQ(result.hyperparameters, ref.result.hyperparameters);
  EXPECT_EQ(result.score, ref.result.score);
  EXPECT_EQ(result.best_step, ref.result.best_step);
  EXPECT_EQ(result.trajectory.steps(), ref.result.trajectory.steps());
  EXPECT_EQ(read_lines(path).size(), 1 + ref.settings.size());
}

TEST(SearchJournal, OneDurableLinePerRun) {
  const Reference& ref = uninterrupted();
  const std::vector<std::string> lines = read_lines(temp_path("lines"));  // removed: empty
  EXPECT_TRUE(lines.empty());
  Recorder r;
  const std::string path = temp_path("lines");
  HyperparameterSearchOptions o = journal_options(path);
  o.callback = [&path](const bomf::HyperparameterIteration& it) {
    // When the callback runs, the run is already on disk.
    EXPECT_EQ(read_lines(path).size(), static_cast<std::size_t>(it.index) + 2);
    return true;
  };
  (void)bomf::solve(o, r.problem);
  const std::vector<std::string> written = read_lines(path);
  ASSERT_EQ(written.size(), 1 + ref.settings.size());
  const nlohmann::json header = nlohmann::json::parse(written[0]);
  EXPECT_EQ(header["kind"], "header");
  EXPECT_EQ(header["format"], "bomf.hyperparameter_journal");
  EXPECT_EQ(header["version"], 2);
  EXPECT_EQ(header["seq"], 0);
  EXPECT_EQ(header["crc"].get<std::string>().size(), 8u);
  EXPECT_EQ(header["fingerprint"], "synthetic-v1");
  EXPECT_EQ(header["gp"]["kernel"], "Matern52Kernel");
  EXPECT_EQ(header["gp"]["priors"]["lengthscale_prior"]["kind"], "gamma");
  int failed = 0;
  for (std::size_t i = 1; i < written.size(); ++i) {
    const nlohmann::json record = nlohmann::json::parse(written[i]);
    EXPECT_EQ(record["index"], i - 1);
    EXPECT_EQ(record["seq"], i);
    EXPECT_EQ(record["setting"].get<std::vector<double>>(), ref.settings[i - 1]);
    if (record["status"] == "failed") {
      ++failed;
      EXPECT_EQ(record["error"], "diverged");
      EXPECT_TRUE(record["score"].is_null());
    } else {
      EXPECT_EQ(record["status"], "ok");
      EXPECT_TRUE(record["trajectory"]["steps"].is_array());
    }
  }
  std::printf("[ info ] reference search: %zu runs, %d failed (learning rate > 3e-3)\n",
              ref.settings.size(), failed);
}

TEST(SearchJournal, ResumeAfterAStopMakesTheSameProposals) {
  const std::string path = temp_path("stop");
  run_until(path, 5);
  EXPECT_EQ(read_lines(path).size(), 6U);
  expect_same_as_uninterrupted(path, 5, 5);
}

TEST(SearchJournal, ResumeAfterATornLastLine) {
  const std::string path = temp_path("torn");
  run_until(path, 6);
  // A crash while appending run 6: half of its line reached the disk, no newline.
  std::string text = read_raw(path);
  text += R"({"kind":"run","index":6,"proposal":"acquisition","status":"ok","setting":[0.0001,)";
  write_raw(path, text);
  expect_same_as_uninterrupted(path, 6, 4);
}

TEST(SearchJournal, ResumeAfterLosingTheLastRecord) {
  const std::string path = temp_path("lost");
  run_until(path, 7);
  // A crash before run 6's line was written: drop it; run 6 is trained again, identically.
  std::vector<std::string> lines = read_lines(path);
  ASSERT_EQ(lines.size(), 8U);
  lines.pop_back();
  std::string text;
  for (const std::string& l : lines) {
    text += l + "\n";
  }
  write_raw(path, text);
  expect_same_as_uninterrupted(path, 6, 4);
}

TEST(SearchJournal, FinishedSearchReplaysWithoutTrainingAndCanBeExtended) {
  const std::string path = temp_path("extend");
  Recorder first;
  HyperparameterSearchOptions o = journal_options(path);
  o.num_iterations = 4;
  (void)bomf::solve(o, first.problem);
  EXPECT_EQ(first.trained.size(), 7U);
  Recorder again;
  HyperparameterSummary summary;
  (void)bomf::solve(o, again.problem, &summary);
  EXPECT_TRUE(again.trained.empty());
  EXPECT_EQ(summary.num_replayed, 7);
  EXPECT_EQ(summary.num_evaluations, 7);
  // More iterations: num_iterations is not part of the header; the 3 missing runs are trained.
  expect_same_as_uninterrupted(path, 7, 3);
}

TEST(SearchJournal, AMalformedTrajectoryIsJournaledBeforeItIsThrown) {
  // A training loop that reports one metric value too few (a bug in the caller's code): the run
  // stops with an invalid_argument, but the training it reports is in the journal, as a failed
  // run keeping the trajectory as given. Resuming with the bug fixed counts it as a failure and
  // trains nothing again for it.
  const std::string path = temp_path("malformed_trajectory");
  int calls = 0;
  bomf::FunctionTrainingProblem<std::function<TrainingTrajectory(const Hyperparameters&)>> buggy{
      bomf_test::synthetic_space(), bomf_test::synthetic_metrics(),
      [&](const Hyperparameters& h) {
        ++calls;
        TrainingTrajectory t = bomf_test::synthetic_trajectory(h);
        t.points.back().metrics.conservativeResize(1);
        return t;
      },
      "synthetic-v1"};
  const std::string message =
      bomf::test::error_message([&] { (void)bomf::solve(journal_options(path), buggy); });
  EXPECT_NE(message.find("has 1 metric values, expected 2"), std::string::npos) << message;
  EXPECT_EQ(calls, 1);
  const std::vector<std::string> lines = read_lines(path);
  ASSERT_EQ(lines.size(), 2u);  // header, the failed run
  const nlohmann::json run = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(run["status"], "failed");
  EXPECT_NE(run["error"].get<std::string>().find("contract violation"), std::string::npos);
  EXPECT_TRUE(run["trajectory"].is_null());
  ASSERT_TRUE(run.contains("rejected_trajectory"));
  EXPECT_EQ(run["rejected_trajectory"]["metrics"].back().size(), 1u);

  Recorder fixed;
  HyperparameterSummary summary;
  (void)bomf::solve(journal_options(path), fixed.problem, &summary);
  ASSERT_FALSE(summary.trace.empty());
  EXPECT_FALSE(summary.trace.front().ok);
  EXPECT_EQ(fixed.trained.size() + 1, summary.trace.size());  // the failed run is not retrained
}

TEST(SearchJournal, RefusesAJournalOfAnotherRun) {
  const std::string path = temp_path("other");
  run_until(path, 3);
  Recorder r;
  HyperparameterSearchOptions o = journal_options(path);
  o.seed = 4;
  std::string message;
  try {
    (void)bomf::solve(o, r.problem);
  } catch (const bomf::invalid_argument& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("header key 'seed' is 3 in the file, 4 for this run"), std::string::npos)
      << message;
  o = journal_options(path);
  o.metric_scales = {1.0, 0.5};
  EXPECT_THROW((void)bomf::solve(o, r.problem), bomf::invalid_argument);
  auto other = bomf::make_training_problem(
      bomf_test::synthetic_space(), bomf_test::synthetic_metrics(),
      [](const Hyperparameters& h) { return bomf_test::synthetic_trajectory(h); }, "other-data");
  EXPECT_THROW((void)bomf::solve(journal_options(path), other), bomf::invalid_argument);
  EXPECT_TRUE(r.trained.empty());
}

TEST(SearchJournal, MalformedRecordIsAnIoError) {
  const std::string path = temp_path("malformed");
  run_until(path, 3);
  std::vector<std::string> lines = read_lines(path);
  // Learning rate and batch exponent out of bounds, with a valid checksum.
  lines[2] = bomf::test::edited(lines[2], [](nlohmann::json& r) {
    r["setting"] = {1.0, 9, 0.1, 0};
  });
  std::string text;
  for (const std::string& l : lines) {
    text += l + "\n";
  }
  write_raw(path, text);
  Recorder r;
  std::string message;
  try {
    (void)bomf::solve(journal_options(path), r.problem);
  } catch (const bomf::io_error& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("line 3 is malformed: 'setting' is not a valid setting"),
            std::string::npos)
      << message;
}

TEST(SearchJournal, SurvivesKillNineAtRandomMoments) {
  // A child process runs the search (each training takes ~6 ms); the parent kills it with
  // SIGKILL after a pseudo-random delay, again and again, until a child finishes. The final
  // journal must hold exactly the uninterrupted search's runs: none lost, none repeated.
  const Reference& ref = uninterrupted();
  const std::string path = temp_path("kill");
  std::mt19937_64 rng(2024);
  int kills = 0;
  bool finished = false;
  for (int attempt = 0; attempt < 40 && !finished; ++attempt) {
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      int code = 0;
      try {
        Recorder r;
        auto slow = bomf::make_training_problem(
            bomf_test::synthetic_space(), bomf_test::synthetic_metrics(),
            [&r](const Hyperparameters& h, bomf::TrainingContext& context) {
              std::this_thread::sleep_for(std::chrono::milliseconds(6));
              return r.problem.train(h, context);
            },
            "synthetic-v1");
        (void)bomf::solve(journal_options(path), slow);
      } catch (...) {
        code = 3;
      }
      _exit(code);
    }
    const auto delay = std::chrono::microseconds(1000 + rng() % 40000);
    std::this_thread::sleep_for(delay);
    int status = 0;
    if (waitpid(child, &status, WNOHANG) == child) {
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child failed";
      finished = true;
      break;
    }
    kill(child, SIGKILL);
    ASSERT_EQ(waitpid(child, &status, 0), child);
    if (WIFSIGNALED(status)) {
      ++kills;
    } else {
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child failed";
      finished = true;
    }
  }
  EXPECT_GE(kills, 2);
  // Whatever the children left, resuming completes the search exactly as without the kills.
  Recorder r;
  HyperparameterSummary summary;
  const auto result = bomf::solve(journal_options(path), r.problem, &summary);
  EXPECT_EQ(settings_of(summary), ref.settings);
  EXPECT_EQ(result.hyperparameters, ref.result.hyperparameters);
  const std::vector<std::string> lines = read_lines(path);
  ASSERT_EQ(lines.size(), 1 + ref.settings.size());
  for (std::size_t i = 1; i < lines.size(); ++i) {
    EXPECT_EQ(nlohmann::json::parse(lines[i])["index"], i - 1);
  }
  std::printf("[ info ] %d kills; %d runs replayed, %zu trained by the final resume\n", kills,
              summary.num_replayed, r.trained.size());
}

}  // namespace
