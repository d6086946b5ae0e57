// cli/process.hpp — running evaluator commands as child processes: several at once, each in its
// own process group, with a timeout that kills the group, bounded captured output, and no
// zombie left behind. POSIX (Linux); libtorch-free.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bomf::cli {

/// One command to run.
struct ProcessSpec {
  /// Run as `/bin/sh -c command` (so pipes, redirections and `VAR=value cmd` work).
  std::string command;
  /// Variables added to (or replacing those of) this process's environment.
  std::map<std::string, std::string> environment;
  /// Working directory of the command; empty: this process's.
  std::string working_directory;
  /// Wall-clock limit; zero: none. When it passes, the command's whole process group gets
  /// SIGTERM, and SIGKILL `kill_grace` later if anything of it is still running.
  std::chrono::milliseconds timeout{0};
  std::chrono::milliseconds kill_grace{2000};
  /// Standard output is kept whole up to this many bytes; the rest is read and dropped (the
  /// result says so), so a chatty command never blocks on a full pipe.
  std::size_t max_stdout_bytes = std::size_t{1} << 20;
  /// The last this-many bytes of standard error are kept.
  std::size_t stderr_tail_bytes = 4096;
};

/// How a command ended.
struct ProcessResult {
  enum class Termination {
    exited,           ///< the command exited by itself; `exit_code` holds its status
    signaled,         ///< a signal (not ours) ended it; `signal` holds it
    timed_out,        ///< its timeout passed and bomf ended it; `signal` holds the last signal sent
    failed_to_start,  ///< it could not be started; `error` says why
  };
  Termination termination = Termination::failed_to_start;
  int exit_code = -1;
  int signal = 0;
  std::string stdout_text;         ///< standard output (the first `max_stdout_bytes`)
  bool stdout_truncated = false;   ///< more was written and dropped
  std::string stderr_tail;         ///< the last `stderr_tail_bytes` of standard error
  std::uint64_t stderr_bytes = 0;  ///< total bytes written to standard error
  double seconds = 0;              ///< wall-clock time from start to end
  std::string error;               ///< why it failed to start

  /// Exited with status 0.
  [[nodiscard]] bool ok() const noexcept {
    return termination == Termination::exited && exit_code == 0;
  }
  /// "exit status 3", "killed by signal 9 (Killed)", "timed out after 5 s", ...
  [[nodiscard]] std::string describe() const;
};

/// Runs several commands at once and reports each one's end.
///
/// Each command runs through `/bin/sh -c` in a new process group (so a timeout or `cancel`
/// reaches everything it started), with standard input from /dev/null and standard output
/// and error read through pipes. A command is finished when its main process exits, not when
/// its pipes close: a command that closes its output and keeps running is waited for (up to its
/// timeout), and one that exits while a background child still holds the pipes is not waited
/// for beyond that — what is left of its process group is killed when the main process exits
/// (the exited process is reaped only after that, so its process-group id cannot have been
/// reused). Waiting uses poll(2) on the pipes and on a pidfd per process (Linux ≥ 5.3; older
/// kernels fall back to waking every 20 ms), never a busy loop. Every started process is
/// reaped: by `wait`, by `cancel`, or by the destructor, which kills and reaps whatever still
/// runs. Not thread-safe: one thread drives a pool.
class ProcessPool {
 public:
  using Id = std::uint64_t;

  ProcessPool();
  ~ProcessPool();
  ProcessPool(const ProcessPool&) = delete;
  ProcessPool& operator=(const ProcessPool&) = delete;

  /// Starts `spec`. A command that cannot be started (no /bin/sh, too many processes, a
  /// working directory that does not exist) is reported as `failed_to_start` by the next
  /// `wait`, never thrown. Throws `bomf::invalid_argument` for an empty command or an
  /// environment name that is empty or holds '='.
  Id start(const ProcessSpec& spec);

  /// Commands started and not yet returned by `wait`.
  [[nodiscard]] std::size_t pending() const noexcept;

  /// Waits until at least one command has finished, or `timeout` has passed (none: wait as
  /// long as needed), and returns every finished one, in the order they finished. Returns an
  /// empty vector at once when nothing is pending.
  std::vector<std::pair<Id, ProcessResult>> wait(
      std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  /// Ends command `id` now (SIGKILL to its process group) and returns its result (termination
  /// `signaled`, signal 9, or however it had already ended); std::nullopt for an unknown id.
  std::optional<ProcessResult> cancel(Id id);

 private:
  struct Child;
  void poll_once(std::optional<std::chrono::steady_clock::time_point> until);
  std::vector<std::unique_ptr<Child>> children_;
  std::vector<std::pair<Id, ProcessResult>> finished_;
  Id next_id_ = 1;
};

/// Runs one command to its end (a `ProcessPool` of one).
[[nodiscard]] ProcessResult run_process(const ProcessSpec& spec);

}  // namespace bomf::cli
