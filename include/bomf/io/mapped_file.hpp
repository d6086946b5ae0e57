// bomf/io/mapped_file.hpp — a read-only view of a whole file through mmap (POSIX). libtorch-free.
#pragma once

#include <cstddef>
#include <string>

namespace bomf {

/// A file mapped into memory, private and copy-on-write: the bytes can be read (and, through
/// tensors that view them, modified) without ever changing the file. Pages are loaded on first
/// touch and are clean file-backed memory the kernel can reclaim, so mapping a checkpoint larger
/// than RAM is fine (the mapping is MAP_NORESERVE: no swap is reserved for the copy-on-write
/// pages, which only matter if the bytes are modified). Move-only; unmaps on destruction.
class MappedFile {
 public:
  /// Maps `path`. Throws `bomf::io_error` naming the path and the system error when it cannot
  /// be opened, is not a regular file (checked before opening, so a FIFO never blocks), or
  /// cannot be mapped. An empty file gives `size() == 0`.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  /// First byte of the mapping (nullptr for an empty file).
  [[nodiscard]] unsigned char* data() const noexcept { return data_; }
  /// File size in bytes.
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// The path given to the constructor.
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

  /// Tells the kernel that bytes [offset, offset + length) are not needed any more, so their
  /// pages can be dropped (streaming fusion calls this after each tensor to bound memory).
  /// Pages modified through the mapping keep their contents only until this call.
  void release(std::size_t offset, std::size_t length) const noexcept;

 private:
  std::string path_;
  unsigned char* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace bomf
