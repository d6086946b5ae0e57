// bomf/io/safetensors_writer.hpp — writes a safetensors file tensor by tensor. libtorch-free.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bomf/io/safetensors_header.hpp"

namespace bomf {
namespace detail {
class AtomicFile;
}  // namespace detail

/// Writes a safetensors file whose layout is fixed up front: the constructor takes every
/// tensor's name, dtype and shape, assigns contiguous byte ranges in the given order (no gaps, as
/// the reference implementation requires), and writes the header; each tensor's bytes are then
/// written with `write` in any order. Memory use is the header only, so a file larger than RAM
/// can be produced one tensor at a time (see `fuse_safetensors_files`).
///
/// The data go to a temporary file created exclusively in `path`'s directory (a fresh random
/// name `.<file name>.bomf-XXXXXXXXXXXX`: never an existing file, never shared by two writers of
/// one `path`), and `finish()` fsyncs it, renames it to `path` and fsyncs the directory, so a
/// reader never sees a half-written checkpoint and a crash leaves the old file or the new one.
/// Destroying an unfinished writer removes the temporary file.
class SafetensorsWriter {
 public:
  /// Creates the temporary file and writes the header for `tensors` (their `begin`/`end` are
  /// ignored and reassigned) and `metadata`. Throws `bomf::invalid_argument` for invalid names or
  /// shapes (see `serialize_safetensors_header`), `bomf::io_error` when the file cannot be written.
  SafetensorsWriter(std::string path, std::vector<SafetensorsTensorInfo> tensors,
                    const std::map<std::string, std::string>& metadata = {});
  ~SafetensorsWriter();
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

  /// The tensors with their assigned byte ranges, in file order.
  [[nodiscard]] const std::vector<SafetensorsTensorInfo>& tensors() const noexcept {
    return tensors_;
  }

  /// Writes the little-endian bytes of tensor `index` (`bytes` must equal its `nbytes()`).
  /// Throws `bomf::invalid_argument` for a bad index or length, `bomf::io_error` on a write error.
  void write(std::size_t index, const void* data, std::size_t bytes);

  /// Writes `bytes` bytes at byte `offset` within tensor `index` (for tensors produced in
  /// pieces). The caller is responsible for covering the whole tensor before `finish()`.
  void write_part(std::size_t index, std::size_t offset, const void* data, std::size_t bytes);

  /// Flushes, closes and renames the temporary file to the final path (see above). Throws
  /// `bomf::io_error` if a tensor was never written or the file system reports an error.
  void finish();

 private:
  std::string path_;
  std::vector<SafetensorsTensorInfo> tensors_;
  std::vector<bool> written_;
  std::uint64_t data_offset_ = 0;
  std::unique_ptr<detail::AtomicFile> file_;
};

}  // namespace bomf
