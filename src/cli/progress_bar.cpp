#include "cli/progress_bar.hpp"

#include <algorithm>

namespace bomf::cli {

void ProgressBar::update(std::uint64_t done, std::uint64_t total, const std::string& label) {
  if (!enabled_) {
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (done < total && now - last_ < std::chrono::milliseconds(100)) {
    return;
  }
  last_ = now;
  constexpr int kWidth = 30;
  const double fraction =
      total == 0 ? 1.0 : std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
  const int filled = static_cast<int>(fraction * kWidth);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.append(static_cast<std::size_t>(kWidth - filled), '.');
  const std::string shown = label.size() > 40 ? "…" + label.substr(label.size() - 39) : label;
  std::fprintf(out_, "\r[%s] %5.1f%%  %8.1f / %.1f MB  %-40s", bar.c_str(), 100.0 * fraction,
               static_cast<double>(done) / 1e6, static_cast<double>(total) / 1e6, shown.c_str());
  if (done >= total) {
    std::fprintf(out_, "\n");
  }
  std::fflush(out_);
}

}  // namespace bomf::cli
