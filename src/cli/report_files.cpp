// Reading a fusion journal read-only and writing a report's files (cli/report.hpp). Here rather
// than in report.cpp because the file helpers (io/file_util.hpp) live in bomf::torch.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "bomf/core/error.hpp"
#include "cli/report.hpp"
#include "io/file_util.hpp"

namespace bomf::cli {
namespace {

namespace fs = std::filesystem;

/// A temporary copy of a file's bytes, removed when destroyed.
class TemporaryCopy {
 public:
  explicit TemporaryCopy(const std::string& bytes) {
    std::string pattern = (fs::temp_directory_path() / "bomf-report-XXXXXX").string();
    const int fd = ::mkstemp(pattern.data());
    if (fd < 0) {
      throw io_error(detail::concat("bomf report: cannot create a temporary file in '",
                                    fs::temp_directory_path().string(),
                                    "': ", std::strerror(errno)));
    }
    path_ = pattern;
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        const int e = errno;
        ::close(fd);
        throw io_error(detail::concat("bomf report: cannot write the temporary file '", path_,
                                      "': ", std::strerror(e)));
      }
      done += static_cast<std::size_t>(n);
    }
    ::close(fd);
  }
  ~TemporaryCopy() { ::unlink(path_.c_str()); }
  TemporaryCopy(const TemporaryCopy&) = delete;
  TemporaryCopy& operator=(const TemporaryCopy&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// True when another process holds the journal's lock (a search is writing it). The probe takes
/// a shared lock for an instant, never waits, and never writes.
bool held_by_another_process(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  const bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);  // releases the probe's lock
  return held;
}

}  // namespace

FusionReport read_fusion_report(const std::string& path, const ReportOptions& options,
                                bool note_if_in_use) {
  const std::string bytes = detail::read_regular_file(path, "bomf report: journal");
  if (bytes.empty()) {
    throw io_error(detail::concat("bomf report: journal '", path,
                                  "' is empty: no fusion search has written to it"));
  }
  if (bytes.find('\n') == std::string::npos) {
    throw io_error(detail::concat(
        "bomf report: journal '", path, "' has no complete line (", bytes.size(),
        " bytes without a newline): it is not a journal, or its first line was cut short before "
        "any evaluation was recorded; there is nothing to report"));
  }
  const bool in_use = note_if_in_use && held_by_another_process(path);
  // The header's values, so that the library's reader compares the header with itself and
  // checks everything else (format, version, checksums, sequence numbers, records).
  const nlohmann::json header =
      nlohmann::json::parse(bytes.substr(0, bytes.find('\n')), nullptr, false);
  int num_members = 2;
  FusionObjectives objectives;
  objectives.metrics = {{"metric", Direction::maximize}};
  std::string fingerprint;
  if (header.is_object()) {
    try {
      num_members = header.value("num_members", 2);
      objectives.loss_name = header.value("loss_name", std::string("loss"));
      if (header.contains("metrics") && header["metrics"].is_array() &&
          !header["metrics"].empty()) {
        objectives.metrics.clear();
        for (const auto& m : header["metrics"]) {
          objectives.metrics.push_back(
              {m.at("name").get<std::string>(), m.at("direction").get<std::string>() == "minimize"
                                                    ? Direction::minimize
                                                    : Direction::maximize});
        }
      }
      fingerprint = header.value("fingerprint", std::string());
    } catch (const nlohmann::json::exception&) {
      // A header of another shape: the reader below names the key that differs.
    }
  }
  const TemporaryCopy copy(bytes);
  std::unique_ptr<FusionLedger> ledger;
  try {
    ledger = std::make_unique<FusionLedger>(num_members, objectives, fingerprint, copy.path());
  } catch (const io_error& e) {
    throw io_error(replace_all(e.what(), copy.path(), path));
  } catch (const invalid_argument& e) {
    throw invalid_argument(replace_all(e.what(), copy.path(), path));
  }
  FusionReport report = make_fusion_report(*ledger, options, path);
  if (report.search) {
    auto& w = report.search->warnings;
    w.erase(std::remove_if(w.begin(), w.end(),
                           [](const std::string& s) {
                             return s.find("a torn last line") != std::string::npos;
                           }),
            w.end());
  }
  if (const std::size_t torn = ledger->journal().recovered_torn_bytes(); torn > 0) {
    report.notes.push_back(detail::concat(
        "the journal's last line is incomplete (", torn,
        " bytes): a search is writing it right now, or was killed while writing it; it is left "
        "out of this report (the journal file itself is not changed)"));
  }
  if (in_use) {
    report.notes.push_back(
        "the journal is in use by a running search (another process holds its lock): this "
        "report shows the evaluations journaled so far");
  }
  return report;
}

std::vector<std::string> report_file_paths(const std::string& directory) {
  std::vector<std::string> paths;
  for (const char* name : {"report.md", "report.csv", "methods.csv", "report.svg"}) {
    paths.push_back((fs::path(directory) / name).string());
  }
  return paths;
}

std::vector<std::string> write_report_files(const FusionReport& report,
                                            const std::string& directory) {
  std::error_code error;
  fs::create_directories(directory, error);
  if (error) {
    throw io_error(detail::concat("bomf: cannot create the report directory '", directory,
                                  "': ", error.message()));
  }
  const std::vector<std::string> paths = report_file_paths(directory);
  const std::string texts[] = {report.markdown("report.svg"), report.evaluations_csv(),
                               report.methods_csv(), report.svg()};
  for (std::size_t i = 0; i < paths.size(); ++i) {
    detail::write_file_atomically(paths[i], texts[i], "bomf: report");
  }
  return paths;
}

}  // namespace bomf::cli
