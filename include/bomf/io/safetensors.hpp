// bomf/io/safetensors.hpp — safetensors checkpoints (single files and sharded ones) as state
// dicts, memory-mapped.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bomf/fusion/state_dict.hpp"
#include "bomf/io/mapped_file.hpp"
#include "bomf/io/safetensors_header.hpp"

namespace bomf {

/// The libtorch type of a safetensors dtype. Throws `bomf::io_error` for U16, U32, U64 and the
/// FP8 types, which libtorch 1.13 lacks.
[[nodiscard]] at::ScalarType scalar_type_of(SafetensorsDtype dtype);

/// The safetensors dtype of a libtorch type. Throws `bomf::invalid_argument` for types the
/// format cannot store (complex, quantized).
[[nodiscard]] SafetensorsDtype safetensors_dtype_of(at::ScalarType type);

/// A read-only safetensors checkpoint: one `.safetensors` file, or a sharded checkpoint given by
/// its index (`model.safetensors.index.json`, whose "weight_map" maps each tensor name to a shard
/// file in the same directory). Every file is memory-mapped and its header validated on opening
/// (see `parse_safetensors_header`); nothing else is read until a tensor is requested, so
/// opening a checkpoint larger than RAM is cheap. Assumes a little-endian host (as the format).
class SafetensorsCheckpoint {
 public:
  /// Opens `path`: an index when it ends in ".json", else a single file. Throws `bomf::io_error`
  /// for unreadable or malformed files, for anything but regular files (a FIFO is refused before
  /// it is opened, so it never blocks), an index whose "weight_map" is not an object of shard
  /// file names (plain names; no '/' or "..") or names a tensor its shard lacks.
  explicit SafetensorsCheckpoint(const std::string& path);
  SafetensorsCheckpoint(SafetensorsCheckpoint&&) noexcept = default;
  SafetensorsCheckpoint& operator=(SafetensorsCheckpoint&&) noexcept = default;
  SafetensorsCheckpoint(const SafetensorsCheckpoint&) = delete;
  SafetensorsCheckpoint& operator=(const SafetensorsCheckpoint&) = delete;

  /// Tensor names: shards in file-name order, each in data order.
  [[nodiscard]] const std::vector<std::string>& names() const noexcept { return names_; }
  /// Number of files (1 for a single file).
  [[nodiscard]] std::size_t num_shards() const noexcept { return shards_.size(); }
  /// The paths of the mapped files (the single file, or each shard; not the index itself).
  [[nodiscard]] std::vector<std::string> files() const;
  /// The "__metadata__" of the single file, or of the first shard (empty for an index whose
  /// weight_map is empty: it opens no shard).
  [[nodiscard]] const std::map<std::string, std::string>& metadata() const;
  /// True when the checkpoint has a tensor named `name`.
  [[nodiscard]] bool contains(std::string_view name) const;

  /// Header entry of `name`; throws `bomf::invalid_argument` when there is none.
  [[nodiscard]] const SafetensorsTensorInfo& info(std::string_view name) const;
  /// First byte of `name`'s data inside the mapping (nbytes() = `info(name).nbytes()`).
  [[nodiscard]] const unsigned char* data(std::string_view name) const;

  /// Tensor `name` as a libtorch tensor. With `copy == false` it views the mapped file (no copy;
  /// the view keeps the mapping alive; writes to it are private and never reach the file) when
  /// the data are aligned to the element size, and is a copy otherwise; with `copy == true` it
  /// always owns its memory. Throws `bomf::io_error` for dtypes libtorch lacks.
  [[nodiscard]] at::Tensor tensor(std::string_view name, bool copy = false) const;

  /// All tensors, in `names()` order (see `tensor` for `copy`).
  [[nodiscard]] StateDict state_dict(bool copy = false) const;

  /// Lets the kernel drop the pages of `name`'s data (used by streaming fusion to keep memory
  /// bounded). Views of that tensor stay valid and fault the pages back in on access.
  void release(std::string_view name) const;
  /// As `release(name)`, for bytes [offset, offset + length) of `name`'s data only.
  void release(std::string_view name, std::uint64_t offset, std::uint64_t length) const;

 private:
  struct Shard {
    std::shared_ptr<MappedFile> file;
    SafetensorsHeader header;
  };
  struct Location {
    std::size_t shard;
    const SafetensorsTensorInfo* info;
  };
  const Location& locate(std::string_view name) const;

  std::vector<Shard> shards_;
  std::vector<std::string> names_;
  std::map<std::string, Location, std::less<>> locations_;
};

/// Reads every tensor of a safetensors file or sharded index into owning tensors (a copy
/// independent of the file). Throws `bomf::io_error` as `SafetensorsCheckpoint`.
[[nodiscard]] StateDict load_safetensors(const std::string& path);

/// Writes `state_dict` (CPU tensors of any dtype the format has) to the safetensors file `path`
/// in its order, with `metadata` as "__metadata__"; atomic and durable (see `SafetensorsWriter`:
/// a unique temporary in `path`'s directory, fsynced, renamed, directory fsynced). Non-contiguous
/// tensors are written in row-major order. Throws `bomf::invalid_argument` for unsupported
/// dtypes or non-CPU tensors, `bomf::io_error` on file-system errors.
void save_safetensors(const std::string& path, const StateDict& state_dict,
                      const std::map<std::string, std::string>& metadata = {});

/// Writes `state_dict` as a sharded checkpoint in directory `directory` (which must exist):
/// files `<stem>-00001-of-0000K.safetensors`, each holding consecutive tensors of at most
/// `max_shard_bytes` data (a larger tensor gets a shard of its own), and
/// `<stem>.safetensors.index.json` with {"metadata": {"total_size": …}, "weight_map": {…}}, each
/// file written atomically and durably as by `save_safetensors`, the index last.
/// Returns the index path. An empty state dict gives one shard holding no tensor and an index
/// whose weight_map is empty (so the reloaded checkpoint has no metadata). Throws like
/// `save_safetensors`, and `bomf::invalid_argument` for `max_shard_bytes == 0`.
std::string save_sharded_safetensors(const std::string& directory, const StateDict& state_dict,
                                     std::uint64_t max_shard_bytes,
                                     const std::string& stem = "model",
                                     const std::map<std::string, std::string>& metadata = {});

}  // namespace bomf
