// bomf/fusion/streaming.hpp — fusing safetensors checkpoints larger than memory, tensor by tensor.
#pragma once

#include <Eigen/Core>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "bomf/fusion/weight_fuser.hpp"

namespace bomf {

/// A fused floating tensor whose values are not all finite: `count` of them are NaN or ±∞ (an
/// input's, or an overflow of Σ δ_i w_i or of the output dtype's range).
struct NonFiniteTensor {
  std::string name;
  std::uint64_t count = 0;
};

/// Options of `fuse_safetensors_files`.
struct StreamingFusionOptions {
  /// Output dtype, the member supplying non-floating tensors, and the δ domain; as for
  /// `WeightFuser`.
  FusionOptions fusion;
  /// "__metadata__" of the output file.
  std::map<std::string, std::string> metadata;
  /// Elements fused per step; bounds the output buffer (`chunk_elements` · output element size
  /// bytes) and the member pages resident at once (`chunk_elements` · N · element size).
  std::size_t chunk_elements = std::size_t{1} << 22;
  /// Called after each tensor with (bytes done, bytes total, tensor name); may be empty.
  std::function<void(std::uint64_t, std::uint64_t, const std::string&)> progress;
};

/// Writes w(δ) = Σ_i δ_i w_i of the N safetensors checkpoints `inputs` (files, or sharded
/// indexes ending in ".json") to the single safetensors file `output`, without loading any
/// model into memory: inputs are memory-mapped, each tensor is fused in chunks of
/// `chunk_elements` with the same kernel as `WeightFuser` (fp32 accumulation, one pass) and
/// written at its offset, and the mapped pages are released after each chunk. Peak memory is a
/// few chunks, not N models. The output lists tensors in the first input's order and equals
/// `WeightFuser(...).fuse(delta)` bit for bit.
///
/// Before writing anything, checks that every input has the same names and, per tensor, the
/// same dtype and shape (throwing `bomf::invalid_argument` naming the tensor, both files and both
/// dtypes/shapes), and `delta` as `WeightFuser::fuse`. FP8 tensors are rejected (no fusion
/// kernel); other non-floating tensors (integers, bool) are copied from
/// `options.fusion.copy_non_floating_from`. Throws `bomf::invalid_argument` when `output` is
/// the same file as an input or one of its shards (same path, symbolic or hard link: compared by
/// device and inode), and `bomf::io_error` for unreadable, malformed, non-regular (a FIFO is
/// refused before it is opened) or unwritable files. `output` is replaced atomically and
/// durably (see `SafetensorsWriter`); inputs are only read, never written. Returns the fused
/// floating tensors that hold NaN or ±∞, in file order (empty when every value is finite):
/// the output is written either way, the caller decides whether to warn.
std::vector<NonFiniteTensor> fuse_safetensors_files(const std::vector<std::string>& inputs,
                                                    const Eigen::Ref<const Eigen::VectorXd>& delta,
                                                    const std::string& output,
                                                    const StreamingFusionOptions& options = {});

/// Opens the safetensors checkpoints `inputs` and makes the checks `fuse_safetensors_files` makes
/// before writing anything (same names; per tensor the same dtype and shape; no FP8 tensor),
/// so that a program can refuse its inputs before a long run. Throws like
/// `fuse_safetensors_files`. Cost: the headers only (the files are memory-mapped, not read).
void check_safetensors_fusion_inputs(const std::vector<std::string>& inputs);

}  // namespace bomf
