#include "io/file_util.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <utility>

#include "bomf/core/error.hpp"

namespace bomf::detail {
namespace {

std::string random_suffix() {
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}() ^
                                   (static_cast<std::uint64_t>(::getpid()) << 32)};
  std::string out(12, ' ');
  for (char& c : out) {
    c = kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
  }
  return out;
}

std::string base_name_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) {
    return "a directory";
  }
  if (S_ISFIFO(mode)) {
    return "a FIFO (named pipe)";
  }
  if (S_ISSOCK(mode)) {
    return "a socket";
  }
  if (S_ISCHR(mode)) {
    return "a character device";
  }
  if (S_ISBLK(mode)) {
    return "a block device";
  }
  return "not a regular file";
}

[[noreturn]] void throw_errno(const std::string& where, const std::string& what, int error) {
  throw io_error(concat(where, ": ", what, ": ", std::strerror(error)));
}

}  // namespace

std::string directory_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? std::string("/") : path.substr(0, slash);
}

AtomicFile::AtomicFile(std::string path, std::string where)
    : path_(std::move(path)), where_(std::move(where)) {
  require(!path_.empty(), where_.c_str(), "the output path is empty, expected a file name");
  // The rename at commit() replaces whatever the path names: a FIFO, a device or a socket there
  // (e.g. /dev/null) would be replaced by a regular file. Only a regular file, a symbolic link
  // (the link is replaced, not its target) or a new path is an output.
  if (const std::string problem = non_regular_output_problem(path_); !problem.empty()) {
    throw io_error(concat(where_, ": the output ", problem));
  }
  // Leave room for the prefix and suffix within NAME_MAX (255).
  std::string base = base_name_of(path_);
  if (base.size() > 200) {
    base.resize(200);
  }
  const std::string directory = directory_of(path_);
  for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
    temp_path_ = concat(directory, "/.", base, ".bomf-", random_suffix());
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0 && errno != EEXIST) {
      throw_errno(where_,
                  concat("cannot create a temporary file in '", directory, "' for '", path_, "'"),
                  errno);
    }
  }
  if (fd_ < 0) {
    throw io_error(concat(where_, ": cannot create a temporary file in '", directory, "' for '",
                          path_, "' (100 names taken)"));
  }
}

AtomicFile::~AtomicFile() {
  discard();
}

void AtomicFile::discard() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temp_path_.c_str());
    fd_ = -1;
  }
}

void AtomicFile::write_at(const void* data, std::size_t bytes, std::uint64_t offset) {
  require(fd_ >= 0, where_.c_str(), "the file '", path_, "' is already closed");
  const auto* p = static_cast<const unsigned char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::pwrite(fd_, p, bytes, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw_errno(where_, concat("writing '", temp_path_, "' failed"), errno);
    }
    p += n;
    bytes -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
}

void AtomicFile::append(std::string_view bytes) {
  write_at(bytes.data(), bytes.size(), append_offset_);
  append_offset_ += bytes.size();
}

void AtomicFile::resize(std::uint64_t size) {
  require(fd_ >= 0, where_.c_str(), "the file '", path_, "' is already closed");
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    throw_errno(where_, concat("cannot size '", temp_path_, "' to ", size, " bytes"), errno);
  }
}

void AtomicFile::commit() {
  require(fd_ >= 0, where_.c_str(), "the file '", path_, "' is already closed");
  // Durable before it becomes visible: a crash after the rename never leaves a file whose data
  // blocks were not yet written.
  if (::fsync(fd_) != 0) {
    const int error = errno;
    discard();
    throw_errno(where_, concat("flushing '", temp_path_, "' to disk failed"), error);
  }
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) {
    const int error = errno;
    ::unlink(temp_path_.c_str());
    throw_errno(where_, concat("closing '", temp_path_, "' failed"), error);
  }
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp_path_.c_str());
    throw_errno(where_, concat("cannot rename '", temp_path_, "' to '", path_, "'"), error);
  }
  // The rename itself is durable only once the directory is.
  const std::string directory = directory_of(path_);
  const int dir = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) {
    throw_errno(where_,
                concat("'", path_, "' was written, but its directory '", directory,
                       "' cannot be opened to make the rename durable"),
                errno);
  }
  const int synced = ::fsync(dir);
  const int error = errno;
  ::close(dir);
  // Some file systems cannot fsync a directory (EINVAL): nothing more can be done there.
  if (synced != 0 && error != EINVAL && error != ENOTSUP) {
    throw_errno(
        where_,
        concat("'", path_, "' was written, but flushing its directory '", directory, "' failed"),
        error);
  }
}

void write_file_atomically(const std::string& path, std::string_view bytes,
                           const std::string& where) {
  AtomicFile file(path, where);
  file.append(bytes);
  file.commit();
}

int open_regular_file(const std::string& path, const std::string& where) {
  struct stat before {};
  if (::stat(path.c_str(), &before) != 0) {
    throw_errno(where, concat("cannot open '", path, "'"), errno);
  }
  if (!S_ISREG(before.st_mode)) {
    throw io_error(
        concat(where, ": '", path, "' is ", kind_of(before.st_mode), ", expected a regular file"));
  }
  // O_NONBLOCK: should the path have become a FIFO since the stat, the open does not wait.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    throw_errno(where, concat("cannot open '", path, "'"), errno);
  }
  struct stat after {};
  if (::fstat(fd, &after) != 0 || !S_ISREG(after.st_mode) || after.st_ino != before.st_ino ||
      after.st_dev != before.st_dev) {
    ::close(fd);
    throw io_error(
        concat(where, ": '", path, "' changed while being opened, expected a regular file"));
  }
  // Regular files ignore O_NONBLOCK; clear it anyway so that reads behave as usual.
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) {
    (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  }
  return fd;
}

std::string read_regular_file(const std::string& path, const std::string& where,
                              std::uint64_t max_bytes) {
  const int fd = open_regular_file(path, where);
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    throw_errno(where, concat("cannot stat '", path, "'"), error);
  }
  if (static_cast<std::uint64_t>(info.st_size) > max_bytes) {
    ::close(fd);
    throw io_error(concat(where, ": '", path, "' has ", info.st_size, " bytes, more than the ",
                          max_bytes, " accepted"));
  }
  std::string out;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int error = errno;
      ::close(fd);
      throw_errno(where, concat("reading '", path, "' failed"), error);
    }
    if (n == 0) {
      break;
    }
    out.append(buffer, static_cast<std::size_t>(n));
    if (out.size() > max_bytes) {
      ::close(fd);
      throw io_error(concat(where, ": '", path, "' grew beyond the ", max_bytes,
                            " bytes accepted while being read"));
    }
  }
  ::close(fd);
  return out;
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {};
  struct stat sb {};
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) {
    return false;
  }
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

std::string non_regular_output_problem(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
    return {};
  }
  return concat("'", path, "' exists and is ", kind_of(st.st_mode),
                ", expected a regular file or a new path (writing would replace it)");
}

bool same_path(const std::string& a, const std::string& b) {
  if (same_file(a, b)) {
    return true;
  }
  namespace fs = std::filesystem;
  std::error_code ea;
  std::error_code eb;
  const fs::path pa = fs::weakly_canonical(fs::absolute(a, ea), ea);
  const fs::path pb = fs::weakly_canonical(fs::absolute(b, eb), eb);
  return !ea && !eb && pa == pb;
}

}  // namespace bomf::detail
