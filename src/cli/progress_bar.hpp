// cli/progress_bar.hpp — a one-line progress bar for terminals. libtorch-free.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace bomf::cli {

/// Redraws "[####......]  42.0%  12.3 / 29.1 MB  name" on one line of `out`, at most ten times a
/// second (and always at the end); does nothing when disabled (not a terminal, --quiet).
class ProgressBar {
 public:
  ProgressBar(bool enabled, std::FILE* out) : enabled_(enabled), out_(out) {}
  void update(std::uint64_t done, std::uint64_t total, const std::string& label);

 private:
  bool enabled_;
  std::FILE* out_;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace bomf::cli
