// BoTorch measured in the same run as bomf: a child process running botorch_side.py (next to
// this file), spoken to with one JSON object per line over its stdin and stdout. Opt-in: the
// environment variable BOMF_BENCH_BOTORCH=1, plus the anchor's own setup (ANCHOR_PYTHONPATH, and
// BOMF_BOTORCH_ANCHOR = the botorch-anchor directory, by default ../shared/botorch-anchor beside
// the source tree); BOMF_BOTORCH_PYTHON picks the interpreter (default /usr/bin/python3). When
// any of it is missing, `available()` is false and the benchmarks skip BoTorch's side.
#pragma once

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

namespace bomf::bench {

class BoTorchSide {
 public:
  /// The process shared by the benchmarks of one program (started on first use).
  static BoTorchSide& instance() {
    static BoTorchSide side;
    return side;
  }

  bool available() const noexcept { return ready_; }
  /// Why BoTorch's side is off (empty when available).
  const std::string& reason() const noexcept { return reason_; }
  /// Versions and settings reported by the child at start-up.
  const nlohmann::json& hello() const noexcept { return hello_; }

  /// Sends one request and returns the reply; {"ok": false, "error": …} when the child is gone.
  nlohmann::json request(const nlohmann::json& req) {
    if (!ready_) {
      return {{"ok", false}, {"error", reason_}};
    }
    const std::string line = req.dump() + "\n";
    if (std::fwrite(line.data(), 1, line.size(), to_child_) != line.size() ||
        std::fflush(to_child_) != 0) {
      ready_ = false;
      reason_ = "the BoTorch process stopped reading";
      return {{"ok", false}, {"error", reason_}};
    }
    return read_reply();
  }

  BoTorchSide(const BoTorchSide&) = delete;
  BoTorchSide& operator=(const BoTorchSide&) = delete;

  ~BoTorchSide() {
    if (to_child_ != nullptr) {
      std::fclose(to_child_);
    }
    if (from_child_ != nullptr) {
      std::fclose(from_child_);
    }
    if (pid_ > 0) {
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }

 private:
  BoTorchSide() {
    const char* opt_in = std::getenv("BOMF_BENCH_BOTORCH");
    if (opt_in == nullptr || std::string(opt_in) != "1") {
      reason_ = "BOMF_BENCH_BOTORCH is not 1";
      return;
    }
    if (std::getenv("BOMF_BOTORCH_ANCHOR") == nullptr) {
      setenv("BOMF_BOTORCH_ANCHOR", BOMF_DEFAULT_BOTORCH_ANCHOR, 0);
    }
    const char* python = std::getenv("BOMF_BOTORCH_PYTHON");
    const std::string interpreter = python != nullptr ? python : "/usr/bin/python3";
    int in_pipe[2];
    int out_pipe[2];
    if (pipe(in_pipe) != 0 || pipe(out_pipe) != 0) {
      reason_ = "pipe() failed";
      return;
    }
    pid_ = fork();
    if (pid_ < 0) {
      reason_ = "fork() failed";
      return;
    }
    if (pid_ == 0) {
      dup2(in_pipe[0], 0);
      dup2(out_pipe[1], 1);
      close(in_pipe[1]);
      close(out_pipe[0]);
      execl(interpreter.c_str(), interpreter.c_str(), BOMF_BOTORCH_SIDE_SCRIPT,
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(in_pipe[0]);
    close(out_pipe[1]);
    to_child_ = fdopen(in_pipe[1], "w");
    from_child_ = fdopen(out_pipe[0], "r");
    ready_ = to_child_ != nullptr && from_child_ != nullptr;
    const nlohmann::json greeting = read_reply();
    if (!greeting.value("ok", false)) {
      ready_ = false;
      reason_ = "BoTorch unavailable: " + greeting.value("error", std::string("no reply"));
      return;
    }
    hello_ = request({{"cmd", "hello"}, {"threads", 1}});
    if (!hello_.value("ok", false)) {
      ready_ = false;
      reason_ = "BoTorch start-up failed: " + hello_.value("error", std::string("no reply"));
    }
  }

  nlohmann::json read_reply() {
    std::string line;
    int c = 0;
    while ((c = std::fgetc(from_child_)) != EOF && c != '\n') {
      line.push_back(static_cast<char>(c));
    }
    if (line.empty()) {
      ready_ = false;
      reason_ = "the BoTorch process ended";
      return {{"ok", false}, {"error", reason_}};
    }
    return nlohmann::json::parse(line);
  }

  bool ready_ = false;
  std::string reason_;
  nlohmann::json hello_;
  pid_t pid_ = -1;
  FILE* to_child_ = nullptr;
  FILE* from_child_ = nullptr;
};

}  // namespace bomf::bench
