// The process pool that runs evaluator commands: output capture, exit statuses, timeouts that
// reach the whole process group, several commands at once, no zombies, no hangs.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "cli/command_template.hpp"
#include "cli/process.hpp"

namespace bomf::cli {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

ProcessSpec spec_of(std::string command, std::chrono::milliseconds timeout = 30s) {
  ProcessSpec spec;
  spec.command = std::move(command);
  spec.timeout = timeout;
  spec.kill_grace = 500ms;
  return spec;
}

/// True when `pid` no longer exists (not even as a zombie).
bool gone(pid_t pid) {
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

TEST(ProcessPool, CapturesStdoutWholeAndTheStderrTail) {
  ProcessSpec spec = spec_of(
      "printf 'line one\\nline two\\n'; i=0; while [ $i -lt 300 ]; do "
      "echo \"err $i\" >&2; i=$((i+1)); done; exit 3");
  spec.stderr_tail_bytes = 64;
  const ProcessResult r = run_process(spec);
  EXPECT_EQ(r.termination, ProcessResult::Termination::exited);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.stdout_text, "line one\nline two\n");
  EXPECT_LE(r.stderr_tail.size(), 64u);
  EXPECT_NE(r.stderr_tail.find("err 299\n"), std::string::npos) << r.stderr_tail;
  EXPECT_GT(r.stderr_bytes, 64u);
  EXPECT_EQ(r.describe(), "exit status 3");
}

TEST(ProcessPool, BoundsStdoutWithoutBlockingTheChild) {
  ProcessSpec spec = spec_of("head -c 3000000 /dev/zero; echo done >&2");
  spec.max_stdout_bytes = 1000;
  const ProcessResult r = run_process(spec);
  EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.stdout_text.size(), 1000u);
  EXPECT_TRUE(r.stdout_truncated);
  EXPECT_EQ(r.stderr_tail, "done\n");
}

TEST(ProcessPool, EnvironmentAndWorkingDirectory) {
  ProcessSpec spec = spec_of("echo \"$CUDA_VISIBLE_DEVICES:$(pwd)\"");
  spec.environment["CUDA_VISIBLE_DEVICES"] = "2";
  spec.working_directory = "/tmp";
  const ProcessResult r = run_process(spec);
  EXPECT_TRUE(r.ok()) << r.describe() << r.stderr_tail;
  EXPECT_EQ(r.stdout_text, "2:/tmp\n");
}

TEST(ProcessPool, AQuotedValueReachesTheCommandVerbatim) {
  const std::string nasty = "a b'c\"d$HOME`x`\\e\n;f";
  const ProcessResult r = run_process(spec_of("printf '%s' " + shell_quote(nasty)));
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.stdout_text, nasty);
}

TEST(ProcessPool, ATimeoutKillsTheWholeProcessGroup) {
  // The shell starts a background sleeper that would outlive it, then ignores SIGTERM itself:
  // SIGTERM goes to the group, SIGKILL follows after the grace period.
  const auto start = Clock::now();
  ProcessSpec spec = spec_of("sleep 300 & echo $! ; trap '' TERM; sleep 300; wait", 300ms);
  const ProcessResult r = run_process(spec);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_EQ(r.termination, ProcessResult::Termination::timed_out);
  EXPECT_LT(seconds, 10.0);
  EXPECT_NE(r.describe().find("timed out"), std::string::npos) << r.describe();
  const pid_t background = std::stoi(r.stdout_text);
  for (int i = 0; i < 100 && !gone(background); ++i) {
    std::this_thread::sleep_for(20ms);  // the kill is asynchronous; init reaps the orphan
  }
  EXPECT_TRUE(gone(background)) << "the background sleep " << background << " survived";
}

TEST(ProcessPool, AChildThatClosesItsPipesIsWaitedForUpToItsTimeout) {
  const auto start = Clock::now();
  const ProcessResult r = run_process(spec_of("exec >&- 2>&-; sleep 0.3; exit 4", 10s));
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_EQ(r.termination, ProcessResult::Termination::exited);
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_GE(seconds, 0.25);
  const ProcessResult slow = run_process(spec_of("exec >&- 2>&-; sleep 300", 300ms));
  EXPECT_EQ(slow.termination, ProcessResult::Termination::timed_out);
  EXPECT_LT(slow.seconds, 10.0);
}

TEST(ProcessPool, ABackgroundChildHoldingThePipesDoesNotDelayTheEnd) {
  const ProcessResult r = run_process(spec_of("echo answer; sleep 300 & exit 0", 60s));
  EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.stdout_text, "answer\n");
  EXPECT_LT(r.seconds, 10.0);
}

TEST(ProcessPool, SignalsAndStartFailuresAreReportedNotThrown) {
  const ProcessResult killed = run_process(spec_of("kill -9 $$"));
  EXPECT_EQ(killed.termination, ProcessResult::Termination::signaled);
  EXPECT_EQ(killed.signal, SIGKILL);
  ProcessSpec nowhere = spec_of("true");
  nowhere.working_directory = "/nonexistent/directory";
  const ProcessResult failed = run_process(nowhere);
  EXPECT_EQ(failed.termination, ProcessResult::Termination::failed_to_start);
  EXPECT_NE(failed.describe().find("/nonexistent/directory"), std::string::npos)
      << failed.describe();
  const ProcessResult missing = run_process(spec_of("/nonexistent/program --flag"));
  EXPECT_EQ(missing.termination, ProcessResult::Termination::exited);
  EXPECT_EQ(missing.exit_code, 127);  // the shell's "command not found"
  EXPECT_NE(missing.stderr_tail.find("/nonexistent/program"), std::string::npos);
  ProcessPool pool;
  EXPECT_THROW(pool.start(spec_of("")), std::invalid_argument);
  ProcessSpec bad_env = spec_of("true");
  bad_env.environment["A=B"] = "x";
  EXPECT_THROW(pool.start(bad_env), std::invalid_argument);
}

TEST(ProcessPool, RunsSeveralAtOnceAndReportsEachAsItEnds) {
  ProcessPool pool;
  const auto start = Clock::now();
  const auto slow = pool.start(spec_of("sleep 0.6; echo slow"));
  const auto fast = pool.start(spec_of("sleep 0.1; echo fast"));
  const auto mid = pool.start(spec_of("sleep 0.3; echo mid"));
  EXPECT_EQ(pool.pending(), 3u);
  std::vector<ProcessPool::Id> order;
  while (pool.pending() > 0) {
    for (auto& [id, result] : pool.wait()) {
      EXPECT_TRUE(result.ok());
      order.push_back(id);
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_EQ(order, (std::vector<ProcessPool::Id>{fast, mid, slow}));
  EXPECT_LT(seconds, 0.6 + 0.3 + 0.1);  // concurrent, not one after the other
  EXPECT_TRUE(pool.wait().empty());     // nothing pending: returns at once
}

TEST(ProcessPool, WaitWithATimeoutReturnsEmptyWhileCommandsRun) {
  ProcessPool pool;
  const auto id = pool.start(spec_of("sleep 300"));
  const auto start = Clock::now();
  EXPECT_TRUE(pool.wait(50ms).empty());
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 5.0);
  const auto cancelled = pool.cancel(id);
  ASSERT_TRUE(cancelled.has_value());
  EXPECT_EQ(cancelled->termination, ProcessResult::Termination::signaled);
  EXPECT_EQ(pool.pending(), 0u);
  EXPECT_FALSE(pool.cancel(id).has_value());
}

TEST(ProcessPool, LeavesNoZombie) {
  const std::string pid_file = "/tmp/bomf_process_test_" + std::to_string(::getpid());
  {
    ProcessPool pool;
    pool.start(spec_of("echo $$ > " + pid_file + "; exec sleep 300"));
    (void)pool.wait(300ms);
    // Destroying the pool kills and reaps the running command.
  }
  std::ifstream in(pid_file);
  pid_t running = 0;
  in >> running;
  std::remove(pid_file.c_str());
  ASSERT_GT(running, 0);
  EXPECT_TRUE(gone(running)) << "process " << running << " is still there (a zombie?)";
  const ProcessResult r = run_process(spec_of("echo $$"));
  EXPECT_TRUE(gone(std::stoi(r.stdout_text)));
  // Nothing left for us to reap.
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

}  // namespace
}  // namespace bomf::cli
