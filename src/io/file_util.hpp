// io/file_util.hpp — internal: files that are written atomically and durably, and input files
// that are refused unless they are regular files (a FIFO would block the open forever).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace bomf::detail {

/// A new file that appears at `path` only once `commit()` succeeds, complete and on disk.
///
/// The bytes go to a temporary file created exclusively (O_CREAT | O_EXCL with a random name,
/// as mkstemp does, but with the usual 0666 & ~umask permissions) in `path`'s directory, named
/// `.<file name>.bomf-<random>` — never an existing file, so an input that happens to carry a
/// fixed temporary name is never truncated, and two writers of one `path` never share a
/// temporary. `commit()` fsyncs the file, renames it over `path` and fsyncs the directory, so a
/// crash leaves either the old file or the new one. Destroying an uncommitted `AtomicFile`
/// removes the temporary. Errors are `bomf::io_error` messages prefixed by `where`.
class AtomicFile {
 public:
  AtomicFile(std::string path, std::string where);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  /// The temporary file's path (for messages and tests).
  [[nodiscard]] const std::string& temp_path() const noexcept { return temp_path_; }
  /// The final path.
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  /// True until `commit()` or a failure closed the file.
  [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }

  /// Writes `bytes` bytes at byte `offset` (pwrite, restarted after EINTR and short writes).
  void write_at(const void* data, std::size_t bytes, std::uint64_t offset);
  /// Writes `bytes` after the last byte written by `append` (starts at 0).
  void append(std::string_view bytes);
  /// Sets the file's size (ftruncate): a sparse file whose regions are then filled by `write_at`.
  void resize(std::uint64_t size);
  /// fsync, close, rename to `path()`, fsync of the directory. On failure the temporary is
  /// removed and `path()` is untouched (unless the rename itself succeeded and only the
  /// directory fsync failed; the message then says so).
  void commit();

 private:
  void discard() noexcept;

  std::string path_;
  std::string where_;
  std::string temp_path_;
  std::uint64_t append_offset_ = 0;
  int fd_ = -1;
};

/// Writes `bytes` to `path` through an `AtomicFile`.
void write_file_atomically(const std::string& path, std::string_view bytes,
                           const std::string& where);

/// Opens `path` read-only, refusing anything but a regular file before it could block: stat
/// first (a FIFO, socket, device or directory is an `io_error` naming its kind), then open with
/// O_NONBLOCK and check again with fstat that the opened file is the same regular file (it
/// could have been replaced in between). Returns the descriptor (O_CLOEXEC); the caller closes
/// it. `where` prefixes the messages.
[[nodiscard]] int open_regular_file(const std::string& path, const std::string& where);

/// The whole contents of the regular file `path` (see `open_regular_file`). Throws
/// `bomf::io_error` for files larger than `max_bytes`.
[[nodiscard]] std::string read_regular_file(const std::string& path, const std::string& where,
                                            std::uint64_t max_bytes = UINT64_MAX);

/// True when `a` and `b` name the same file (same st_dev and st_ino after following symbolic
/// links: the same path, a symbolic link to it, or a hard link). False when either does not
/// exist.
[[nodiscard]] bool same_file(const std::string& a, const std::string& b);

/// "" when `path` does not exist or is a regular file or a symbolic link; otherwise what is
/// wrong with it as an output, "'PATH' exists and is a FIFO (named pipe), expected a regular
/// file or a new path (writing would replace it)": an atomic write (`AtomicFile`) would replace
/// a FIFO, a device, a socket or a directory by a regular file.
[[nodiscard]] std::string non_regular_output_problem(const std::string& path);

/// True when `a` and `b` name the same file (`same_file`), or the same path once made absolute
/// and normalized with the symbolic links of its existing part resolved (so also for a file not
/// created yet: "out/report.md" and "./out/../out/report.md").
[[nodiscard]] bool same_path(const std::string& a, const std::string& b);

/// True when `text` ends with `suffix`.
[[nodiscard]] inline bool ends_with(std::string_view text, std::string_view suffix) noexcept {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

/// The directory part of `path` ("." when it has none).
[[nodiscard]] std::string directory_of(const std::string& path);

}  // namespace bomf::detail
