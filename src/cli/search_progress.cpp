#include "cli/search_progress.hpp"

#include <cmath>

namespace bomf::cli {
namespace {

std::string format(double v, const char* spec = "%.4g") {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, spec, v);
  return buffer;
}

std::string elapsed_text(std::chrono::steady_clock::duration d) {
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  char buffer[32];
  if (s >= 3600) {
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  } else {
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  }
  return buffer;
}

}  // namespace

SearchProgress::SearchProgress(std::FILE* out, bool terminal, bool enabled,
                               FusionObjectives objectives)
    : out_(out), terminal_(terminal), enabled_(enabled), objectives_(std::move(objectives)) {}

void SearchProgress::begin(int planned, int replayed, int workers) {
  planned_ = planned;
  started_ = std::chrono::steady_clock::now();
  if (replayed > 0) {
    line(detail::concat("resuming: ", replayed,
                        " evaluations replayed from the journal (not evaluated again)"));
  }
  line(detail::concat("fusion search: ", planned, " evaluations planned, ", workers,
                      workers == 1 ? " worker" : " workers"));
}

void SearchProgress::evaluation(const FusionIteration& row, int running) {
  if (!enabled_) {
    return;
  }
  ++done_;
  std::string text = detail::concat("[", row.index + 1, "/", planned_, "] ",
                                    to_string(row.proposal), row.reused ? " (reused)" : "");
  text.resize(std::max<std::size_t>(text.size(), 28), ' ');
  if (row.ok) {
    text += format(row.evaluation_seconds, "%6.1f s  ") + objectives_.name(0) + " " +
            format(row.evaluation.loss);
    for (Eigen::Index k = 0; k < row.evaluation.metrics.size(); ++k) {
      text += "  " + objectives_.name(static_cast<int>(k) + 1) + " " +
              format(row.evaluation.metrics(k));
    }
  } else {
    text += format(row.evaluation_seconds, "%6.1f s  ") +
            "FAILED: " + row.error.substr(0, row.error.find('\n')).substr(0, 160);
  }
  if (std::isfinite(row.hypervolume)) {
    text += "  | hv " + format(row.hypervolume);
  }
  best_.clear();
  if (std::isfinite(row.hypervolume)) {
    best_ = "hv " + format(row.hypervolume) + " · ";
  }
  if (!std::isnan(row.best_loss)) {
    best_ += "best " + objectives_.name(0) + " " + format(row.best_loss);
    for (Eigen::Index k = 0; k < row.best_metrics.size(); ++k) {
      best_ += ", " + objectives_.name(static_cast<int>(k) + 1) + " " + format(row.best_metrics(k));
    }
  }
  line(text);
  draw_status(running);
}

void SearchProgress::tick(int running) {
  if (enabled_ && terminal_) {
    draw_status(running);
  }
}

void SearchProgress::line(const std::string& text) {
  if (!enabled_) {
    return;
  }
  clear();
  std::fprintf(out_, "%s\n", text.c_str());
  std::fflush(out_);
}

void SearchProgress::clear() {
  if (enabled_ && terminal_ && status_shown_) {
    std::fprintf(out_, "\r\033[K");
    std::fflush(out_);
    status_shown_ = false;
  }
}

void SearchProgress::draw_status(int running) {
  if (!enabled_ || !terminal_) {
    return;
  }
  const std::string status = detail::concat(
      "  ", done_, " done · ", running, " running · ", best_.empty() ? "" : best_ + " · ",
      elapsed_text(std::chrono::steady_clock::now() - started_));
  std::fprintf(out_, "\r\033[K%s", status.c_str());
  std::fflush(out_);
  status_shown_ = true;
}

}  // namespace bomf::cli
