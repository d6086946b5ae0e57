// supersense/progress.hpp — progress reports for the long stages of the workflow.
//
// On a terminal a one-line bar is redrawn in place (at most 10 times a second):
//
//   stage 2: fusion search  [##########..........]  52/105  00:41 (ETA 00:38)  HV 0.0123
//
// Elsewhere (a log file, CI) the same information is printed as plain lines, at most one every
// `line_interval_seconds` and once at the end, so logs stay short and readable. libtorch-free.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace supersense {

/// Progress of one task at a time (start → update… → finish). Not thread-safe.
class Progress {
 public:
  /// Reports to `out`; `terminal` chooses the in-place bar (true) or plain lines (false);
  /// `enabled` false prints nothing at all.
  Progress(std::FILE* out, bool terminal, bool enabled = true, double line_interval_seconds = 10.0);

  /// Reports to stdout, as a bar when stdout is a terminal (isatty), else as plain lines.
  static Progress for_stdout(bool enabled = true);

  /// True when the bar is drawn in place.
  [[nodiscard]] bool terminal() const noexcept { return terminal_; }

  /// Begins a task of `total` ≥ 1 units called `label` (finishing an unfinished one first).
  void start(const std::string& label, std::int64_t total);
  /// `done` units of the current task are complete; `detail` is shown after the counts.
  void update(std::int64_t done, const std::string& detail = {});
  /// Ends the current task (its last state is printed once more, then a newline on a terminal).
  void finish(const std::string& detail = {});

 private:
  void draw(bool final);

  std::FILE* out_;
  bool terminal_;
  bool enabled_;
  double line_interval_;
  bool active_ = false;
  std::string label_;
  std::string detail_;
  std::int64_t total_ = 1;
  std::int64_t done_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

/// "mm:ss" (or "h:mm:ss") of a duration in seconds; "--:--" when negative or not finite.
[[nodiscard]] std::string format_duration(double seconds);

}  // namespace supersense
