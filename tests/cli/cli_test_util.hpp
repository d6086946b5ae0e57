// Helpers of the bomf program's tests: a scratch directory per test, running the installed-to-be
// executable as a subprocess, and byte-exact snapshots of a directory.
#pragma once

#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <utility>

#include "cli/command_template.hpp"
#include "cli/process.hpp"

namespace bomf::test {

namespace fs = std::filesystem;

/// A fresh directory per test, removed afterwards.
class ScratchDirectory : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / (std::string("bomf_cli_") + info->test_suite_name() + "_" +
                                        info->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  [[nodiscard]] std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

/// Every regular file under `dir` (recursively, symbolic links not followed) → its bytes; a
/// symbolic link → "-> target".
inline std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    const std::string name = fs::relative(entry.path(), dir).string();
    if (entry.is_symlink()) {
      out[name] = "-> " + fs::read_symlink(entry.path()).string();
    } else if (entry.is_regular_file()) {
      out[name] = read_bytes(entry.path().string());
    } else if (entry.is_directory()) {
      out[name + "/"] = "";
    } else {
      out[name] = "(special file)";
    }
  }
  return out;
}

/// One run of the bomf program.
struct BomfRun {
  cli::ProcessResult process;
  [[nodiscard]] int status() const {
    return process.termination == cli::ProcessResult::Termination::exited ? process.exit_code : -1;
  }
  [[nodiscard]] const std::string& err() const { return process.stderr_tail; }
  [[nodiscard]] const std::string& out() const { return process.stdout_text; }
};

/// Runs `bomf <arguments>` (arguments already shell-quoted where needed) with a timeout, so that
/// a hang is a test failure rather than a stuck test run, and `environment` added to ours.
inline BomfRun run_bomf(const std::string& arguments,
                        std::chrono::milliseconds timeout = std::chrono::seconds(120),
                        const std::map<std::string, std::string>& environment = {}) {
  cli::ProcessSpec spec;
  spec.command = cli::shell_quote(BOMF_EXECUTABLE) + " " + arguments;
  spec.timeout = timeout;
  spec.environment = environment;
  spec.stderr_tail_bytes = 1 << 16;
  return BomfRun{cli::run_process(spec)};
}

inline std::string q(const std::string& text) {
  return cli::shell_quote(text);
}

/// One run of the bomf program on a terminal: what it wrote to it (stdout and stderr together,
/// with the terminal's "\r\n" line ends) and its exit status (−1: killed, or timed out).
struct TerminalRun {
  std::string text;
  int status = -1;
  bool timed_out = false;
  std::string unavailable;  ///< why no pseudo-terminal could be opened ("" when it ran)
};

/// Runs `bomf <arguments>` with stdin, stdout and stderr on a fresh pseudo-terminal (forkpty), as
/// a user's shell does, with `environment` added; reads everything it writes until it exits, or
/// kills it after `timeout`.
inline TerminalRun run_bomf_on_terminal(
    const std::string& arguments, std::chrono::milliseconds timeout = std::chrono::seconds(120),
    const std::map<std::string, std::string>& environment = {}) {
  const std::string command = "exec " + cli::shell_quote(BOMF_EXECUTABLE) + " " + arguments;
  TerminalRun run;
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  if (pid < 0) {
    run.unavailable = std::string("forkpty: ") + std::strerror(errno);
    return run;
  }
  if (pid == 0) {
    for (const auto& [name, value] : environment) {
      ::setenv(name.c_str(), value.c_str(), 1);
    }
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const auto until = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      run.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd fd{master, POLLIN, 0};
    if (::poll(&fd, 1, static_cast<int>(std::min<long long>(left.count(), 200))) <= 0) {
      continue;
    }
    const ssize_t got = ::read(master, buffer, sizeof buffer);
    if (got <= 0) {  // EIO once the program and everything it started closed the terminal
      break;
    }
    run.text.append(buffer, static_cast<std::size_t>(got));
  }
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  ::close(master);
  if (!run.timed_out && WIFEXITED(wstatus)) {
    run.status = WEXITSTATUS(wstatus);
  }
  return run;
}

/// A python3 that imports `modules` (e.g. "numpy" or "numpy, torch"): Debian's /usr/bin/python3,
/// else the python3 on PATH; "" when none does (the caller skips, saying so).
inline std::string python_with(const std::string& modules) {
  for (const char* python : {"/usr/bin/python3", "python3"}) {
    const std::string probe = std::string(python) + " -c 'import " + modules + "' >/dev/null 2>&1";
    if (std::system(probe.c_str()) == 0) {
      return python;
    }
  }
  return {};
}

}  // namespace bomf::test
