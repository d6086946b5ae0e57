// bomf/drivers/journal.hpp — an append-only JSON-lines journal that loses no completed work and
// detects damage.
//
// Every expensive evaluation the drivers complete is appended as one JSON object per line and
// made durable (write(2) + fsync(2)) before `append` returns, so a process killed at any moment
// loses at most the evaluations in flight. The first line is a header describing the run (its
// format and version, the problem's size, objectives and fingerprint, …); reopening a journal
// whose header differs is refused, naming the first differing key.
//
// Damage detection (format version 2). Every line carries a sequence number "seq" (0 for the
// header, then 1, 2, …) and a checksum "crc": the CRC-32C (detail/crc32c.hpp) of the line's
// canonical text — the compact JSON of the object without "crc", keys sorted — as 8 lowercase
// hex digits. Opening a journal verifies both on every line, so a record changed after it was
// written (a digit of a loss, "ok" turned into "Ok"), a duplicated, removed or reordered line,
// or a line of another file is refused with its line number, never reused silently. A final
// line cut short by a crash (no newline at the end of the file) is dropped, the file truncated
// back to the last complete record, and the number of bytes dropped reported
// (`recovered_torn_bytes`, which the drivers' summaries surface); damage anywhere else is an
// error. A file with no complete line is recovered only when its bytes begin the header this run
// would write (a header cut short); any other such file — a JSON file, a binary, another run's
// torn header — is refused and left unchanged, never truncated.
//
// Failed writes. When a write fails (disk full, file-size limit, I/O error) after part of a line
// reached the file, the file is truncated back to the end of the last complete record before the
// error is thrown, so a retry in the same process appends a whole line where the half line was.
//
// Format: UTF-8, one compact JSON object per line (invalid UTF-8 in a string, e.g. an error
// message, is replaced by U+FFFD). Doubles are written with the shortest representation that
// parses back to the same double, so a resumed run sees bit-identical values. Only regular files
// are journals: a device, FIFO or directory is refused before anything is read or written.
//
// POSIX only (open/write/fsync/flock). A journal is held with an exclusive advisory lock: a second
// process opening the same file gets a clear error instead of interleaved lines.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/drivers/detail/crc32c.hpp"

namespace bomf {

namespace detail {

/// The write(2) the journal calls: a seam for tests that inject a short write followed by ENOSPC
/// (tests/drivers/test_journal.cpp). Never change it outside tests.
inline ssize_t (*journal_write)(int, const void*, std::size_t) = ::write;

[[noreturn]] inline void throw_journal_error(const std::string& path, const char* what,
                                             int error_number) {
  throw io_error(concat("bomf::Journal: ", what, " '", path, "': ", std::strerror(error_number)));
}

/// The canonical text of a journal line: compact JSON, keys sorted, invalid UTF-8 replaced.
inline std::string journal_canonical_text(const nlohmann::json& line) {
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

/// The checksum field of a canonical text: CRC-32C as 8 lowercase hex digits.
inline std::string journal_checksum(const std::string& canonical) {
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(crc32c(canonical)));
  return hex;
}

/// "a character device", "a FIFO", … for a st_mode that is not a regular file.
inline const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISCHR(mode))
    return "a character device";
  if (S_ISBLK(mode))
    return "a block device";
  if (S_ISFIFO(mode))
    return "a FIFO";
  if (S_ISSOCK(mode))
    return "a socket";
  return "not a regular file";
}

}  // namespace detail

/// An append-only, crash-safe, checksummed JSON-lines journal (see the file comment). Movable,
/// not copyable. A default-constructed journal keeps its records in memory only (no file), so
/// drivers need no special case for "no journal".
class Journal {
 public:
  /// The format version this library writes and reads.
  static constexpr int format_version = 2;

  /// An in-memory journal (nothing is written anywhere).
  Journal() = default;

  /// Opens `path`, creating it (and writing `header` as its first line) when it does not exist
  /// or is empty; otherwise reads and verifies it: its header must equal `header` and its
  /// records become `records()`. `header` must be a JSON object with a string "format" (e.g.
  /// "bomf.fusion_journal") and an integer "version" (Journal::format_version); it must not use
  /// the keys "seq" and "crc".
  /// Throws bomf::invalid_argument when `path` names something other than a regular file, when
  /// the file is another kind of journal or an older format version (the message names both
  /// versions), or belongs to a different run (names the first differing header key and both
  /// values); bomf::io_error when it cannot be opened, locked (another process holds it), read
  /// or written, or is damaged before its last line (names the line and what is wrong).
  /// \b Cost: reads and checksums the whole file once.
  Journal(std::string path, nlohmann::json header) : path_(std::move(path)) {
    constexpr const char* where = "bomf::Journal";
    detail::require(!path_.empty(), where, "argument 'path' is empty, expected a file name");
    detail::require(header.is_object(), where, "argument 'header' is ", header.dump(),
                    ", expected a JSON object");
    detail::require(header.contains("format") && header["format"].is_string() &&
                        header.contains("version") && header["version"].is_number_integer(),
                    where, "argument 'header' has no string 'format' and integer 'version'");
    detail::require(!header.contains("seq") && !header.contains("crc"), where,
                    "argument 'header' uses the reserved keys 'seq' or 'crc'");
    header["kind"] = "header";
    struct stat st {};
    if (::stat(path_.c_str(), &st) == 0) {
      detail::require(S_ISREG(st.st_mode), where, "journal '", path_, "' is ",
                      detail::file_kind(st.st_mode),
                      ", expected a regular file (or a path that does not exist yet)");
    }
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644);
    if (fd_ < 0)
      detail::throw_journal_error(path_, "cannot open", errno);
    try {
      if (::fstat(fd_, &st) != 0)
        detail::throw_journal_error(path_, "cannot stat", errno);
      detail::require(S_ISREG(st.st_mode), where, "journal '", path_, "' is ",
                      detail::file_kind(st.st_mode), ", expected a regular file");
      if (::flock(fd_, LOCK_EX | LOCK_NB) != 0)
        detail::throw_journal_error(path_, "cannot lock (is another process using it?)", errno);
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
      good_size_ = 0;
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
  /// The header (with "kind": "header", without "seq" and "crc"); null for an in-memory journal.
  [[nodiscard]] const nlohmann::json& header() const { return header_; }
  /// Every record appended so far (read from the file on opening, then appended), header
  /// excluded, in order, without their "seq" and "crc".
  [[nodiscard]] const std::vector<nlohmann::json>& records() const { return records_; }
  /// Bytes of a torn final line dropped when the file was opened (0 normally).
  [[nodiscard]] std::size_t recovered_torn_bytes() const { return torn_bytes_; }

  /// Appends `record` (a JSON object without "seq" and "crc") and, for a file, makes it durable
  /// before returning. Throws bomf::invalid_argument for a non-object or reserved keys, and
  /// bomf::io_error when writing fails — the file is then truncated back to its last complete
  /// record and `record` is not in records().
  void append(nlohmann::json record) {
    constexpr const char* where = "bomf::Journal::append";
    detail::require(record.is_object(), where, "argument 'record' is ", record.dump(),
                    ", expected a JSON object");
    detail::require(!record.contains("seq") && !record.contains("crc"), where,
                    "argument 'record' uses the reserved keys 'seq' or 'crc'");
    if (fd_ >= 0)
      write_line(record, records_.size() + 1);
    records_.push_back(std::move(record));
  }

 private:
  void swap(Journal& other) noexcept {
    std::swap(path_, other.path_);
    std::swap(fd_, other.fd_);
    std::swap(header_, other.header_);
    std::swap(records_, other.records_);
    std::swap(torn_bytes_, other.torn_bytes_);
    std::swap(good_size_, other.good_size_);
  }

  void close_fd() noexcept {
    if (fd_ >= 0) {
      ::close(fd_);  // also releases the lock
      fd_ = -1;
    }
  }

  // Writes `record` with its sequence number and checksum as one line, fsyncs; on failure
  // truncates back to the last complete line and throws.
  void write_line(nlohmann::json record, std::size_t seq) {
    const std::string line = line_text(std::move(record), seq);
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
      const ssize_t w = detail::journal_write(fd_, p, left);
      if (w < 0) {
        if (errno == EINTR)
          continue;
        fail_write("cannot append to", errno);
      }
      p += w;
      left -= static_cast<std::size_t>(w);
    }
    if (::fsync(fd_) != 0)
      fail_write("cannot fsync", errno);
    good_size_ += line.size();
  }

  // The line `write_line` writes for `record` with sequence number `seq` (newline included).
  static std::string line_text(nlohmann::json record, std::size_t seq) {
    record["seq"] = seq;
    const std::string canonical = detail::journal_canonical_text(record);
    record["crc"] = detail::journal_checksum(canonical);
    std::string line = detail::journal_canonical_text(record);
    line.push_back('\n');
    return line;
  }

  // Truncates a partly written line away, then throws.
  [[noreturn]] void fail_write(const char* what, int error_number) {
    const bool restored = ::ftruncate(fd_, static_cast<off_t>(good_size_)) == 0 &&
                          ::lseek(fd_, 0, SEEK_END) >= 0 && ::fsync(fd_) == 0;
    throw io_error(detail::concat(
        "bomf::Journal: ", what, " '", path_, "': ", std::strerror(error_number),
        restored ? " (the file was truncated back to its last complete record)"
                 : " (truncating the partial line failed: it is dropped as a torn line when the "
                   "journal is opened again)"));
  }

  std::string read_all() {
    std::string data;
    if (::lseek(fd_, 0, SEEK_SET) < 0)
      detail::throw_journal_error(path_, "cannot seek in", errno);
    char buffer[1 << 16];
    for (;;) {
      const ssize_t r = ::read(fd_, buffer, sizeof buffer);
      if (r < 0) {
        if (errno == EINTR)
          continue;
        detail::throw_journal_error(path_, "cannot read", errno);
      }
      if (r == 0)
        break;
      data.append(buffer, static_cast<std::size_t>(r));
    }
    return data;
  }

  [[noreturn]] void damaged(std::size_t line_number, const std::string& what) const {
    throw io_error(detail::concat("bomf::Journal: '", path_, "' line ", line_number, " ", what,
                                  "; the journal is damaged (only a torn last line is recovered)"));
  }

  // Parses and verifies line `index` (0 = header); returns the object without seq and crc.
  nlohmann::json verified(const char* begin, const char* end, std::size_t index) const {
    const std::size_t line_number = index + 1;
    nlohmann::json parsed = nlohmann::json::parse(begin, end, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() || !parsed.is_object())
      damaged(line_number, "is not a JSON object");
    const auto crc = parsed.find("crc");
    const auto seq = parsed.find("seq");
    if (crc == parsed.end() || !crc->is_string() || seq == parsed.end() ||
        !seq->is_number_unsigned()) {
      damaged(line_number, "has no checksum or sequence number");
    }
    const std::string expected_crc = crc->get<std::string>();
    const auto sequence = seq->get<std::uint64_t>();
    parsed.erase("crc");
    const std::string actual_crc = detail::journal_checksum(detail::journal_canonical_text(parsed));
    if (actual_crc != expected_crc) {
      damaged(line_number,
              detail::concat("fails its checksum (crc ", expected_crc, " in the file, ", actual_crc,
                             " for its content): it was changed after it was written"));
    }
    if (sequence != index) {
      damaged(line_number,
              detail::concat("has sequence number ", sequence, ", expected ", index,
                             " (a line was duplicated, removed, reordered or copied from "
                             "another journal)"));
    }
    parsed.erase("seq");
    return parsed;
  }

  void load(const nlohmann::json& expected_header) {
    const std::string data = read_all();
    std::vector<nlohmann::json> lines;
    std::size_t pos = 0;
    while (pos < data.size()) {
      const std::size_t nl = data.find('\n', pos);
      if (nl == std::string::npos)
        break;  // torn tail: dropped below
      const char* begin = data.data() + pos;
      if (lines.empty())
        check_format(begin, data.data() + nl, expected_header);
      lines.push_back(verified(begin, data.data() + nl, lines.size()));
      pos = nl + 1;
    }
    good_size_ = pos;
    if (pos == 0 && !data.empty() &&
        line_text(expected_header, 0).compare(0, data.size(), data) != 0) {
      // No complete line, and not the start of the header this run writes: a torn header is
      // recovered, but this is some other file (or another run's torn header): leave it alone.
      throw io_error(detail::concat(
          "bomf::Journal: '", path_, "' has no complete line, and its ", data.size(),
          " bytes are not the beginning of this run's journal header (a first line cut short "
          "would be): it is not a journal of this run; it was left unchanged — give another "
          "journal path, or delete the file if it is yours to lose"));
    }
    if (pos < data.size()) {
      torn_bytes_ = data.size() - pos;
      if (::ftruncate(fd_, static_cast<off_t>(pos)) != 0 || ::fsync(fd_) != 0)
        detail::throw_journal_error(path_, "cannot truncate the torn last line of", errno);
    }
    if (::lseek(fd_, 0, SEEK_END) < 0)
      detail::throw_journal_error(path_, "cannot seek in", errno);

    if (lines.empty()) {  // new (or empty, or only a torn header): start it
      header_ = expected_header;
      write_line(header_, 0);
      fsync_directory();
      return;
    }
    check_header(lines.front(), expected_header);
    header_ = std::move(lines.front());
    records_.assign(std::make_move_iterator(lines.begin() + 1),
                    std::make_move_iterator(lines.end()));
  }

  // Before any other check of the first line: is it a journal of this kind and version?
  void check_format(const char* begin, const char* end, const nlohmann::json& expected) const {
    constexpr const char* where = "bomf::Journal";
    const nlohmann::json h = nlohmann::json::parse(begin, end, nullptr, false);
    if (h.is_discarded() || !h.is_object())
      return;  // reported as damage by verified()
    const nlohmann::json& format = expected["format"];
    const bool legacy_stage1 = h.value("driver", std::string()) == "bomf::HyperparameterSearch";
    if (h.contains("format") && h["format"] != format && !legacy_stage1) {
      detail::throw_invalid_argument(where, "journal '", path_, "' is a ", h["format"].dump(),
                                     " journal, expected ", format.dump());
    }
    const nlohmann::json version =
        legacy_stage1 ? h.value("format", nlohmann::json(1)) : h.value("version", nlohmann::json());
    if (version != expected["version"]) {
      detail::throw_invalid_argument(
          where, "journal '", path_, "' has format version ",
          version.is_null() ? std::string("(none)") : version.dump(), ", this bomf reads version ",
          expected["version"].dump(),
          " (which adds a sequence number and a checksum to every line): finish that run with "
          "the bomf version that wrote it, or start a new journal");
    }
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
  std::size_t good_size_ = 0;  // bytes of complete, verified lines
};

}  // namespace bomf
