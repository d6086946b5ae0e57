// bomf/drivers/journal.hpp — an append-only JSON-lines journal that loses no completed work.
//
// Every expensive evaluation the drivers complete is appended as one JSON object per line and
// made durable (write(2) + fsync(2)) before `append` returns, so a process killed at any moment
// loses at most the evaluation in flight. The first line is a header describing the run (the
// problem's size, objectives, fingerprint, the seed and the settings that change the sequence of
// proposals); reopening a journal whose header differs is refused, naming the first differing
// key. A final line cut short by a crash (no newline, or not valid JSON) is dropped and the file
// truncated back to the last complete record; damage anywhere else is an error.
//
// Format: UTF-8, one compact JSON object per line. Doubles are written with the shortest
// representation that parses back to the same double (nlohmann::json), so a resumed run sees
// bit-identical values. JSON has no NaN or ∞: `json_from_vector` writes them as null and
// `vector_from_json` reads null back as NaN.
//
// POSIX only (open/write/fsync/flock). A journal is held with an exclusive advisory lock: a second
// process opening the same file gets a clear error instead of interleaved lines.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <Eigen/Core>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "bomf/core/error.hpp"

namespace bomf {

namespace detail {

[[noreturn]] inline void throw_journal_error(const std::string& path, const char* what) {
  throw io_error(concat("bomf::Journal: ", what, " '", path, "': ", std::strerror(errno)));
}

/// A vector as a JSON array; non-finite entries become null.
inline nlohmann::json json_from_vector(const Eigen::Ref<const Eigen::VectorXd>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (Eigen::Index i = 0; i < v.size(); ++i) {
    if (std::isfinite(v(i))) {
      a.push_back(v(i));
    } else {
      a.push_back(nullptr);
    }
  }
  return a;
}

/// A JSON array of numbers (null = NaN) as a vector. Throws bomf::io_error naming `what` when `j`
/// is not such an array or (expected_size ≥ 0) has another length.
inline Eigen::VectorXd vector_from_json(const nlohmann::json& j, const char* what,
                                        Eigen::Index expected_size = -1) {
  if (!j.is_array()) {
    throw io_error(concat("bomf::Journal: '", what, "' is ", j.dump(), ", expected an array"));
  }
  const auto n = static_cast<Eigen::Index>(j.size());
  if (expected_size >= 0 && n != expected_size) {
    throw io_error(
        concat("bomf::Journal: '", what, "' has ", n, " entries, expected ", expected_size));
  }
  Eigen::VectorXd v(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    const nlohmann::json& e = j[static_cast<std::size_t>(i)];
    if (e.is_null()) {
      v(i) = std::numeric_limits<double>::quiet_NaN();
    } else if (e.is_number()) {
      v(i) = e.get<double>();
    } else {
      throw io_error(concat("bomf::Journal: entry ", i, " of '", what, "' is ", e.dump(),
                            ", expected a number or null"));
    }
  }
  return v;
}

}  // namespace detail

/// An append-only, crash-safe JSON-lines journal (see the file comment). Movable, not copyable.
/// A default-constructed journal keeps its records in memory only (no file), so drivers need
/// no special case for "no journal".
class Journal {
 public:
  /// An in-memory journal (nothing is written anywhere).
  Journal() = default;

  /// Opens `path`, creating it (and writing `header` as its first line) when it does not exist
  /// or is empty; otherwise reads it: its header must equal `header` and its records become
  /// `records()`. `header` must be a JSON object.
  /// Throws bomf::invalid_argument when the file belongs to a different run (names the first
  /// differing header key and both values) and bomf::io_error when it cannot be opened, locked
  /// (another process holds it), read or written, or is corrupt before its last line.
  /// \b Cost: reads the whole file once.
  Journal(std::string path, nlohmann::json header) : path_(std::move(path)) {
    constexpr const char* where = "bomf::Journal";
    detail::require(!path_.empty(), where, "argument 'path' is empty, expected a file name");
    detail::require(header.is_object(), where, "argument 'header' is ", header.dump(),
                    ", expected a JSON object");
    header["kind"] = "header";
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0)
      detail::throw_journal_error(path_, "cannot open");
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int saved = errno;
      close_fd();
      errno = saved;
      detail::throw_journal_error(path_, "cannot lock (is another process using it?)");
    }
    try {
      load(header);
    } catch (...) {
      close_fd();
      throw;
    }
  }

  Journal(Journal&& other) noexcept { swap(other); }
  Journal& operator=(Journal&& other) noexcept {
    if (this != &other) {
      close_fd();
      path_.clear();
      header_ = nlohmann::json();
      records_.clear();
      torn_bytes_ = 0;
      swap(other);
    }
    return *this;
  }
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;
  ~Journal() { close_fd(); }

  /// True when records go to a file.
  [[nodiscard]] bool persistent() const { return fd_ >= 0; }
  /// The file name ("" for an in-memory journal).
  [[nodiscard]] const std::string& path() const { return path_; }
  /// The header (with "kind": "header"); null for an in-memory journal.
  [[nodiscard]] const nlohmann::json& header() const { return header_; }
  /// Every record appended so far (read from the file on opening, then appended), header
  /// excluded, in order.
  [[nodiscard]] const std::vector<nlohmann::json>& records() const { return records_; }
  /// Bytes of a torn final line dropped when the file was opened (0 normally).
  [[nodiscard]] std::size_t recovered_torn_bytes() const { return torn_bytes_; }

  /// Appends `record` (a JSON object) and, for a file, makes it durable before returning.
  /// Throws bomf::invalid_argument for a non-object and bomf::io_error when writing fails (the
  /// record is then not in records()).
  void append(nlohmann::json record) {
    detail::require(record.is_object(), "bomf::Journal::append", "argument 'record' is ",
                    record.dump(), ", expected a JSON object");
    if (fd_ >= 0)
      write_line(record.dump());
    records_.push_back(std::move(record));
  }

 private:
  void swap(Journal& other) noexcept {
    std::swap(path_, other.path_);
    std::swap(fd_, other.fd_);
    std::swap(header_, other.header_);
    std::swap(records_, other.records_);
    std::swap(torn_bytes_, other.torn_bytes_);
  }

  void close_fd() noexcept {
    if (fd_ >= 0) {
      ::close(fd_);  // also releases the lock
      fd_ = -1;
    }
  }

  void write_line(const std::string& text) {
    std::string line = text;
    line.push_back('\n');
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
      const ssize_t w = ::write(fd_, p, left);
      if (w < 0) {
        if (errno == EINTR)
          continue;
        detail::throw_journal_error(path_, "cannot append to");
      }
      p += w;
      left -= static_cast<std::size_t>(w);
    }
    if (::fsync(fd_) != 0)
      detail::throw_journal_error(path_, "cannot fsync");
  }

  std::string read_all() {
    std::string data;
    if (::lseek(fd_, 0, SEEK_SET) < 0)
      detail::throw_journal_error(path_, "cannot seek in");
    char buffer[1 << 16];
    for (;;) {
      const ssize_t r = ::read(fd_, buffer, sizeof buffer);
      if (r < 0) {
        if (errno == EINTR)
          continue;
        detail::throw_journal_error(path_, "cannot read");
      }
      if (r == 0)
        break;
      data.append(buffer, static_cast<std::size_t>(r));
    }
    return data;
  }

  void truncate_to(std::size_t size) {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0 || ::fsync(fd_) != 0) {
      detail::throw_journal_error(path_, "cannot truncate the torn last line of");
    }
  }

  void load(const nlohmann::json& expected_header) {
    const std::string data = read_all();
    std::vector<nlohmann::json> lines;
    std::size_t pos = 0;
    std::size_t good_end = 0;  // byte offset after the last complete, valid line
    std::size_t line_number = 0;
    while (pos < data.size()) {
      const std::size_t nl = data.find('\n', pos);
      const bool complete = nl != std::string::npos;
      const std::size_t end = complete ? nl : data.size();
      ++line_number;
      nlohmann::json parsed = nlohmann::json::parse(data.begin() + static_cast<std::ptrdiff_t>(pos),
                                                    data.begin() + static_cast<std::ptrdiff_t>(end),
                                                    nullptr, /*allow_exceptions=*/false);
      const bool valid = !parsed.is_discarded() && parsed.is_object();
      if (!complete || !valid) {
        const bool last = !complete || nl + 1 == data.size();
        if (!last) {
          throw io_error(detail::concat("bomf::Journal: '", path_, "' line ", line_number,
                                        " is not a JSON object (the file is corrupt; only a torn "
                                        "last line is recovered)"));
        }
        break;  // torn tail: dropped below
      }
      lines.push_back(std::move(parsed));
      pos = nl + 1;
      good_end = pos;
    }
    if (good_end < data.size()) {
      torn_bytes_ = data.size() - good_end;
      truncate_to(good_end);
    }
    if (::lseek(fd_, 0, SEEK_END) < 0)
      detail::throw_journal_error(path_, "cannot seek in");

    if (lines.empty()) {  // new (or empty, or only a torn header): start it
      header_ = expected_header;
      write_line(header_.dump());
      fsync_directory();
      return;
    }
    check_header(lines.front(), expected_header);
    header_ = std::move(lines.front());
    records_.assign(std::make_move_iterator(lines.begin() + 1),
                    std::make_move_iterator(lines.end()));
  }

  void check_header(const nlohmann::json& found, const nlohmann::json& expected) const {
    constexpr const char* where = "bomf::Journal";
    for (auto it = expected.begin(); it != expected.end(); ++it) {
      const auto f = found.find(it.key());
      detail::require(f != found.end(), where, "journal '", path_,
                      "' belongs to a different run: its header has no '", it.key(), "', expected ",
                      it.value().dump());
      detail::require(*f == it.value(), where, "journal '", path_,
                      "' belongs to a different run: header key '", it.key(), "' is ", f->dump(),
                      " in the file, ", it.value().dump(), " for this run");
    }
    for (auto it = found.begin(); it != found.end(); ++it) {
      detail::require(expected.contains(it.key()), where, "journal '", path_,
                      "' belongs to a different run: its header has key '", it.key(),
                      "' = ", it.value().dump(), ", which this run does not set");
    }
  }

  void fsync_directory() const {
    const std::size_t slash = path_.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {  // best effort: some file systems refuse directory fsync
      (void)::fsync(dfd);
      ::close(dfd);
    }
  }

  std::string path_;
  int fd_ = -1;
  nlohmann::json header_;
  std::vector<nlohmann::json> records_;
  std::size_t torn_bytes_ = 0;
};

}  // namespace bomf
