#include "bomf/io/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "bomf/core/error.hpp"
#include "io/file_util.hpp"

namespace bomf {

MappedFile::MappedFile(const std::string& path) : path_(path) {
  // Refuses a FIFO, device or directory before opening it (a FIFO would block the open).
  const int fd = detail::open_regular_file(path, "bomf::MappedFile");
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    throw io_error(
        detail::concat("bomf::MappedFile: cannot stat '", path, "': ", std::strerror(error)));
  }
  size_ = static_cast<std::size_t>(info.st_size);
  if (size_ > 0) {
    void* mapped =
        ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
    if (mapped == MAP_FAILED) {
      const int error = errno;
      ::close(fd);
      throw io_error(detail::concat("bomf::MappedFile: cannot map '", path, "' (", size_,
                                    " bytes): ", std::strerror(error)));
    }
    data_ = static_cast<unsigned char*>(mapped);
  }
  ::close(fd);  // the mapping keeps the file referenced
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) {
    ::munmap(data_, size_);
  }
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) {
      ::munmap(data_, size_);
    }
    path_ = std::move(other.path_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void MappedFile::release(std::size_t offset, std::size_t length) const noexcept {
  if (data_ == nullptr || offset >= size_) {
    return;
  }
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  // Only whole pages inside the range can be dropped.
  const std::size_t first = (offset + page - 1) / page * page;
  const std::size_t last = std::min(offset + length, size_) / page * page;
  if (last > first) {
    ::madvise(data_ + first, last - first, MADV_DONTNEED);
  }
}

}  // namespace bomf
