// supersense/progress.cpp — progress bar / plain progress lines (see progress.hpp).
#include "progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace supersense {

namespace {

double seconds_between(std::chrono::steady_clock::time_point a,
                       std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) {
    return "--:--";
  }
  const auto s = static_cast<long long>(std::llround(seconds));
  char buffer[32];
  if (s >= 3600) {
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  } else {
    std::snprintf(buffer, sizeof buffer, "%02lld:%02lld", s / 60, s % 60);
  }
  return buffer;
}

Progress::Progress(std::FILE* out, bool terminal, bool enabled, double line_interval_seconds)
    : out_(out),
      terminal_(terminal),
      enabled_(enabled && out != nullptr),
      line_interval_(line_interval_seconds) {}

Progress Progress::for_stdout(bool enabled) {
  return Progress(stdout, ::isatty(::fileno(stdout)) == 1, enabled);
}

void Progress::start(const std::string& label, std::int64_t total) {
  if (active_) {
    finish();
  }
  label_ = label;
  detail_.clear();
  total_ = std::max<std::int64_t>(total, 1);
  done_ = 0;
  active_ = true;
  start_ = std::chrono::steady_clock::now();
  last_draw_ = start_;
  if (terminal_) {
    draw(false);
  }
}

void Progress::update(std::int64_t done, const std::string& detail) {
  if (!active_) {
    return;
  }
  done_ = std::clamp<std::int64_t>(done, 0, total_);
  if (!detail.empty()) {
    detail_ = detail;
  }
  const auto now = std::chrono::steady_clock::now();
  const double since = seconds_between(last_draw_, now);
  if (terminal_ ? since >= 0.1 : since >= line_interval_) {
    draw(false);
  }
}

void Progress::finish(const std::string& detail) {
  if (!active_) {
    return;
  }
  if (!detail.empty()) {
    detail_ = detail;
  }
  draw(true);
  active_ = false;
}

void Progress::draw(bool final) {
  last_draw_ = std::chrono::steady_clock::now();
  if (!enabled_) {
    return;
  }
  const double elapsed = seconds_between(start_, last_draw_);
  const double fraction = static_cast<double>(done_) / static_cast<double>(total_);
  const double eta = done_ > 0 ? elapsed * (1.0 - fraction) / fraction : -1.0;
  const std::string timing = final
                                 ? format_duration(elapsed)
                                 : format_duration(elapsed) + " (ETA " + format_duration(eta) + ")";
  if (terminal_) {
    constexpr int width = 24;
    const int filled = static_cast<int>(fraction * width);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.append(static_cast<std::size_t>(width - filled), '.');
    std::fprintf(out_, "\r\033[K  %s [%s] %lld/%lld  %s  %s", label_.c_str(), bar.c_str(),
                 static_cast<long long>(done_), static_cast<long long>(total_), timing.c_str(),
                 detail_.c_str());
    if (final) {
      std::fputc('\n', out_);
    }
  } else {
    std::fprintf(out_, "  %s: %lld/%lld (%3.0f%%) %s  %s\n", label_.c_str(),
                 static_cast<long long>(done_), static_cast<long long>(total_), 100.0 * fraction,
                 timing.c_str(), detail_.c_str());
  }
  std::fflush(out_);
}

}  // namespace supersense
