// cli/search_progress.hpp — what `bomf search` shows while it runs: one line per completed
// evaluation (plain lines, fit for a log file), and on a terminal a status line under them that
// is redrawn in place (evaluations done and running, hypervolume, best values, elapsed time).
// libtorch-free.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "bomf/drivers/fusion_search.hpp"

namespace bomf::cli {

/// The progress display of a fusion search (see the file comment). Disabled: prints nothing.
class SearchProgress {
 public:
  /// Writes to `out`; `terminal`: redraw a status line (else plain lines only).
  SearchProgress(std::FILE* out, bool terminal, bool enabled, FusionObjectives objectives);

  /// The search starts: `planned` trace rows in all, `replayed` of them from the journal.
  void begin(int planned, int replayed, int workers);
  /// An evaluation completed (the loop's callback); `running` evaluations are still in flight.
  void evaluation(const FusionIteration& row, int running);
  /// Redraws the status line (terminal only; at most once a second is enough).
  void tick(int running);
  /// A line of its own (a baseline's step, a message).
  void line(const std::string& text);
  /// Removes the status line (before the program prints its summary or an error).
  void clear();

 private:
  void draw_status(int running);

  std::FILE* out_;
  bool terminal_;
  bool enabled_;
  FusionObjectives objectives_;
  int planned_ = 0;
  int done_ = 0;
  std::string best_;  // "hv …, best …" of the last row
  bool status_shown_ = false;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace bomf::cli
