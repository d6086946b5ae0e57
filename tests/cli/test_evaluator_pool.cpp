// The workers of `bomf search` (cli/evaluator_pool.hpp): commands with their placeholders and
// per-worker environment, K at once, the fused checkpoint written in the worker's slot and
// removed afterwards, failures with their stderr tail, shutdown and interrupts that kill what
// runs — and the library's asynchronous loop driving them.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "bomf/drivers/evaluation_loop.hpp"
#include "cli/evaluator_pool.hpp"

namespace bomf::cli {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

FusionObjectives objectives() {
  FusionObjectives o;
  o.metrics = {{"m", Direction::maximize}};
  return o;
}

/// An answer of the protocol, written with the template's escaped braces.
const std::string kAnswer =
    "printf '{{\"bomf_protocol\": 1, \"loss\": 0.5, \"metrics\": {{\"m\": 2}}}}\\n'";

class EvaluatorPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("bomf_pool_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
            std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  EvaluatorSettings settings(std::string command) const {
    EvaluatorSettings s;
    s.command = std::move(command);
    s.members = {"a b.safetensors", "c.safetensors"};
    s.objectives = objectives();
    s.scratch = (dir_ / "scratch").string();
    s.first_id = 40;
    return s;
  }
  std::string read(const std::string& name) const {
    std::ifstream in(dir_ / name);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  fs::path dir_;
};

TEST_F(EvaluatorPoolTest, FillsThePlaceholdersAndTheWorkerEnvironment) {
  const std::string log = (dir_ / "log").string();
  EvaluatorSettings s = settings(
      "printf '%s|' {delta} {members} {worker} {id} \"$GPU\" "
      "\"$BOMF_WORKER\" \"$BOMF_EVALUATION_ID\" >> '" +
      log + "'; echo >> '" + log + "'; " + kAnswer);
  s.environment = {{"GPU", "cuda:{worker}"}};
  EvaluatorPool pool(s, 2);
  pool.start(1, 7, Eigen::Vector2d(0.25, 0.75));
  const auto done = pool.wait();
  EXPECT_EQ(done.id, 7u);
  EXPECT_EQ(done.worker, 1);
  ASSERT_TRUE(done.outcome) << done.error;
  EXPECT_EQ(done.outcome->loss, 0.5);
  EXPECT_EQ(done.outcome->metrics(0), 2.0);
  const std::string a = fs::absolute("a b.safetensors").lexically_normal().string();
  const std::string c = fs::absolute("c.safetensors").lexically_normal().string();
  EXPECT_EQ(read("log"), "0.25,0.75|" + a + "|" + c + "|1|40|cuda:1|1|40|\n");
  EXPECT_EQ(pool.commands_started(), 1u);
}

TEST_F(EvaluatorPoolTest, RunsKCommandsAtOnce) {
  EvaluatorPool pool(settings("sleep 1; " + kAnswer), 3);
  const auto start = std::chrono::steady_clock::now();
  for (int w = 0; w < 3; ++w) {
    pool.start(w, static_cast<std::uint64_t>(w), Eigen::Vector2d(0.5, 0.5));
  }
  EXPECT_EQ(pool.running(), 3);
  std::set<int> workers;
  for (int k = 0; k < 3; ++k) {
    const auto done = pool.wait();
    EXPECT_TRUE(done.outcome) << done.error;
    workers.insert(done.worker);
  }
  EXPECT_EQ(workers, (std::set<int>{0, 1, 2}));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 2.5);
}

TEST_F(EvaluatorPoolTest, WritesTheFusedCheckpointInTheWorkersSlotAndRemovesIt) {
  EvaluatorSettings s =
      settings("cat {weights}; test \"$(dirname {weights})\" = {scratch} && " + kAnswer);
  std::set<std::thread::id> writers;
  std::string written;
  s.weights_name = "fused.safetensors";
  s.write_weights = [&](const Eigen::VectorXd& delta, const std::string& path,
                        const std::function<bool()>&) {
    writers.insert(std::this_thread::get_id());
    written = path;
    std::ofstream(path) << "weights for " << delta(0) << "\n";
  };
  EvaluatorPool pool(s, 1);
  pool.start(0, 0, Eigen::Vector2d(0.125, 0.875));
  const auto done = pool.wait();
  ASSERT_TRUE(done.outcome) << done.error;
  EXPECT_EQ(written, (dir_ / "scratch" / "worker-0" / "fused.safetensors").string());
  EXPECT_EQ(writers.count(std::this_thread::get_id()), 0u) << "written in the worker's thread";
  EXPECT_FALSE(fs::exists(dir_ / "scratch" / "worker-0")) << "the slot is removed";
}

TEST_F(EvaluatorPoolTest, AFailedWriteOrCommandIsAFailedEvaluationWithItsStderrTail) {
  EvaluatorSettings s = settings("echo 'CUDA out of memory' >&2; exit 3");
  EvaluatorPool failing(s, 1);
  failing.start(0, 0, Eigen::Vector2d(0.5, 0.5));
  auto done = failing.wait();
  EXPECT_FALSE(done.outcome);
  EXPECT_NE(done.error.find("exit status 3"), std::string::npos) << done.error;
  EXPECT_NE(done.error.find("CUDA out of memory"), std::string::npos) << done.error;

  s = settings("cat {weights}");
  s.weights_name = "fused.safetensors";
  s.write_weights = [](const Eigen::VectorXd&, const std::string&, const std::function<bool()>&) {
    throw io_error("No space left on device");
  };
  EvaluatorPool no_space(s, 1);
  no_space.start(0, 0, Eigen::Vector2d(0.5, 0.5));
  done = no_space.wait();
  EXPECT_FALSE(done.outcome);
  EXPECT_NE(done.error.find("could not write the fused checkpoint"), std::string::npos);
  EXPECT_NE(done.error.find("No space left on device"), std::string::npos);
  EXPECT_EQ(no_space.commands_started(), 0u);
}

TEST_F(EvaluatorPoolTest, RefusesWeightsWithoutAWriter) {
  EXPECT_THROW(EvaluatorPool(settings("cat {weights}"), 1), invalid_argument);
  EXPECT_THROW(EvaluatorPool(settings("cat {weight}"), 1), invalid_argument);
  EXPECT_THROW(EvaluatorPool(settings("true"), 0), invalid_argument);
}

TEST_F(EvaluatorPoolTest, ShutdownAndInterruptsKillWhatRunsAtOnce) {
  const auto start = std::chrono::steady_clock::now();
  {
    EvaluatorPool pool(settings("sleep 60"), 2);
    pool.start(0, 0, Eigen::Vector2d(0.5, 0.5));
    pool.start(1, 1, Eigen::Vector2d(0.5, 0.5));
    std::this_thread::sleep_for(200ms);
  }  // the destructor shuts down
  EvaluatorSettings s = settings("sleep 60");
  bool interrupted = false;
  s.interrupted = [&] { return interrupted; };
  struct Stop {};
  s.on_interrupt = [] { throw Stop(); };
  int ticks = 0;
  s.tick = [&] {
    if (++ticks == 1) {
      interrupted = true;  // "a signal arrived" while the pool waits
    }
  };
  EvaluatorPool pool(s, 1);
  pool.start(0, 0, Eigen::Vector2d(0.5, 0.5));
  EXPECT_THROW((void)pool.wait(), Stop);
  EXPECT_EQ(pool.running(), 1) << "the stopped evaluation is never returned";
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
}

// The library's loop (bomf::solve on a ledger and a worker pool) with evaluator processes.
TEST_F(EvaluatorPoolTest, DrivesTheLibrarysAsynchronousLoop) {
  EvaluatorSettings s = settings(
      "awk -v d={delta} 'BEGIN{{split(d,a,\",\"); l=(a[1]-0.3)^2; "
      "printf "
      "\"{{\\\"bomf_protocol\\\":1,\\\"loss\\\":%.17g,\\\"metrics\\\":{{\\\"m\\\":%.17g}}}}\\n\", "
      "l, -l+a[2]/10}}'");
  EvaluatorPool pool(s, 2);
  FusionLedger ledger(2, objectives(), "test", (dir_ / "journal.jsonl").string());
  FusionSearchOptions options;
  options.num_iterations = 2;
  FusionSummary summary;
  const FusionResult result = solve(options, ledger, pool, &summary);
  EXPECT_EQ(summary.num_evaluations, 2 + 2 + 2);
  EXPECT_EQ(summary.num_failures, 0) << summary.full_report();
  EXPECT_EQ(result.delta.size(), 2);
  EXPECT_EQ(pool.commands_started(), 6u);
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

// Each search makes a directory of its own, bomf-search-XXXXXX, in a scratch directory that
// others (and the user) may share, and removes only it; a kept one loses its owner file.
TEST_F(EvaluatorPoolTest, EachSearchScratchIsItsOwnAndRemovesOnlyWhatItMade) {
  const fs::path scratch = dir_ / "shared";
  fs::create_directories(scratch / "worker-0");
  write_file(scratch / "worker-0" / "mine.txt", "the user's");
  std::string first_path;
  {
    SearchScratch first(scratch.string(), false, false);
    SearchScratch second(scratch.string(), false, false);
    first_path = first.path();
    EXPECT_NE(first.path(), second.path());
    for (const SearchScratch* s : {&first, &second}) {
      EXPECT_EQ(fs::path(s->path()).parent_path(), scratch);
      EXPECT_EQ(fs::path(s->path()).filename().string().rfind("bomf-search-", 0), 0u) << s->path();
      EXPECT_EQ(fs::status(s->path()).permissions() & fs::perms::all, fs::perms::owner_all);
      EXPECT_TRUE(fs::is_regular_file(fs::path(s->path()) / "owner"));
    }
    EXPECT_TRUE(remove_stale_search_scratch(scratch.string()).empty()) << "both are running";
    EvaluatorSettings s = settings("cat {weights} > /dev/null && " + kAnswer);
    s.scratch = first.path();
    s.weights_name = "fused.safetensors";
    s.write_weights = [](const Eigen::VectorXd&, const std::string& path,
                         const std::function<bool()>&) { std::ofstream(path) << "w"; };
    EvaluatorPool pool(s, 1);
    pool.start(0, 0, Eigen::Vector2d(0.5, 0.5));
    EXPECT_TRUE(pool.wait().outcome);
    second.finish();
    second.finish();  // idempotent
    EXPECT_FALSE(fs::exists(second.path()));
    EXPECT_TRUE(fs::exists(first.path()));
  }
  EXPECT_FALSE(fs::exists(first_path));
  EXPECT_EQ(names_in(scratch), std::vector<std::string>{"worker-0"});
  EXPECT_EQ(read("shared/worker-0/mine.txt"), "the user's");

  // A scratch directory made by the search is removed with it (when nothing else is in it); one
  // kept (--keep-scratch) stays, without its owner file.
  { SearchScratch made((dir_ / "made").string(), false, false); }
  EXPECT_FALSE(fs::exists(dir_ / "made"));
  std::string kept_path;
  {
    SearchScratch kept(scratch.string(), true, false);
    kept_path = kept.path();
  }
  EXPECT_TRUE(fs::is_directory(kept_path));
  EXPECT_FALSE(fs::exists(fs::path(kept_path) / "owner"));
  EXPECT_TRUE(remove_stale_search_scratch(scratch.string()).empty()) << "kept: the user's now";
  EXPECT_TRUE(fs::is_directory(kept_path));

  // Unwritable: an error naming the directory.
  write_file(dir_ / "file", "x");
  try {
    SearchScratch bad((dir_ / "file").string(), false, false);
    ADD_FAILURE() << "no error";
  } catch (const io_error& e) {
    EXPECT_NE(std::string(e.what()).find((dir_ / "file").string()), std::string::npos) << e.what();
  }
}

// The directories of killed searches (their owner process has ended, or its PID now belongs to a
// later process) are removed; those of running searches, of other machines or containers, and
// anything not made by bomf stay.
TEST_F(EvaluatorPoolTest, RemovesOnlyTheScratchOfSearchesWhoseProcessEnded) {
  const fs::path scratch = dir_ / "shared";
  SearchScratch running(scratch.string(), false, false);
  const std::string owner = read(fs::relative(running.path(), dir_).string() + "/owner");
  const std::string pid = "pid=" + std::to_string(::getpid());
  ASSERT_NE(owner.find(pid), std::string::npos) << owner;
  ASSERT_NE(owner.find("boot="), std::string::npos) << owner;
  const pid_t child = ::fork();
  if (child == 0) {
    ::_exit(0);
  }
  ASSERT_GT(child, 0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  const auto with = [&](const std::string& from, const std::string& to) {
    std::string text = owner;
    text.replace(text.find(from), from.size(), to);
    return text;
  };
  const auto make = [&](const std::string& name, const std::string& owner_text) {
    fs::create_directories(scratch / name / "worker-0");
    write_file(scratch / name / "worker-0" / "fused.safetensors", "w");
    if (!owner_text.empty()) {
      write_file(scratch / name / "owner", owner_text);
    }
  };
  make("bomf-search-dead01", with(pid, "pid=" + std::to_string(child)));
  make("bomf-search-reuse1", with(" start=", " start=1"));  // our PID, an earlier start
  make("bomf-search-other1", with("boot=", "boot=x"));      // another machine's (or boot's)
  make("bomf-search-space1", with("pidns=", "pidns=x"));    // another container's
  make("bomf-search-noown1", "");                           // no owner file
  make("bomf-search-junk01", "not an owner\n");
  make("worker-0", "");
  write_file(scratch / "bomf-search-file01", "a file");
  std::vector<std::string> removed = remove_stale_search_scratch(scratch.string());
  std::sort(removed.begin(), removed.end());
  EXPECT_EQ(removed, (std::vector<std::string>{(scratch / "bomf-search-dead01").string(),
                                               (scratch / "bomf-search-reuse1").string()}));
  std::vector<std::string> expected = {"bomf-search-file01",
                                       "bomf-search-junk01",
                                       "bomf-search-noown1",
                                       "bomf-search-other1",
                                       "bomf-search-space1",
                                       "worker-0",
                                       fs::path(running.path()).filename().string()};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(names_in(scratch), expected);
}

TEST(FormatDelta, WritesSeventeenSignificantDigits) {
  EXPECT_EQ(format_delta(Eigen::Vector3d(0.1, 0.2, 0.7)),
            "0.10000000000000001,0.20000000000000001,0.69999999999999996");
}

}  // namespace
}  // namespace bomf::cli
