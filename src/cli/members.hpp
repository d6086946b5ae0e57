// cli/members.hpp — the member checkpoints of `bomf fuse` and `bomf search`, in any of the
// formats fine-tuning frameworks write, and the fused checkpoint w(δ) written in that format.
#pragma once

#include <Eigen/Core>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bomf/fusion/streaming.hpp"
#include "bomf/fusion/weight_fuser.hpp"
#include "cli/peft.hpp"

namespace bomf::cli {

/// The formats a member may have.
enum class MemberFormat {
  safetensors,          ///< one .safetensors file
  sharded_safetensors,  ///< a sharded checkpoint, given by its *.index.json
  peft_adapter,         ///< a PEFT LoRA adapter directory (see cli/peft.hpp)
  torch_state_dict,     ///< a torch.save file of a state dict (see bomf/io/torch_archive.hpp)
};

/// "safetensors", "sharded safetensors", "PEFT adapter", "torch.save state dict".
[[nodiscard]] std::string_view format_name(MemberFormat format);

/// The format of `path`: a directory with adapter_config.json is a PEFT adapter, a name ending
/// in ".json" a sharded index, a file beginning with a zip header or the legacy torch.save
/// magic a torch.save file, any other regular file safetensors. Throws `bomf::io_error` for a
/// path that does not exist, a directory that is not a PEFT adapter, and anything that is
/// neither a regular file nor a directory (a FIFO is refused without being opened).
[[nodiscard]] MemberFormat detect_member_format(const std::string& path);

/// Options of `Members`.
struct MemberOptions {
  /// Output dtype of fused floating tensors (empty: the members'), the member whose integer
  /// tensors are copied, whether δ must be on the simplex.
  FusionOptions fusion;
  /// Streaming chunk of safetensors fusion (elements; bounds memory, see
  /// bomf/fusion/streaming.hpp).
  std::size_t chunk_elements = std::size_t{1} << 22;
  /// "__metadata__" of written safetensors files.
  std::map<std::string, std::string> metadata;
  /// How PEFT members are fused.
  LoraFusionMode lora = LoraFusionMode::factors;
  /// Progress of streaming safetensors fusion: (bytes done, bytes total, tensor name).
  std::function<void(std::uint64_t, std::uint64_t, const std::string&)> progress;
};

/// N member checkpoints of one format, checked once so that every later `write_fused` can only
/// fail on the file system.
///
/// Memory: safetensors members (single or sharded) are memory-mapped and fused tensor by
/// tensor in chunks (bomf/fusion/streaming.hpp): a few chunks, whatever the model size. PEFT
/// adapters are small and loaded whole. torch.save members are loaded whole (N models in
/// memory, plus the output while it is written).
class Members {
 public:
  /// Opens and checks `paths` (N ≥ 1; `bomf search` needs 2): one format for all (detected as
  /// `detect_member_format` does), and the checks fusion needs — the same tensor names, and
  /// per tensor the same dtype and shape (for PEFT see `check_peft_adapters`). Throws
  /// `bomf::invalid_argument` naming the members and what differs, `bomf::io_error` for
  /// unreadable or malformed files.
  Members(std::vector<std::string> paths, MemberOptions options = {});
  ~Members();
  Members(Members&&) noexcept;
  Members& operator=(Members&&) noexcept;

  [[nodiscard]] MemberFormat format() const noexcept { return format_; }
  [[nodiscard]] std::size_t size() const noexcept { return paths_.size(); }
  [[nodiscard]] const std::vector<std::string>& paths() const noexcept { return paths_; }
  /// Every file and directory the members consist of (inputs, shards, adapter files).
  [[nodiscard]] const std::vector<std::string>& files() const noexcept { return files_; }

  /// The name of the fused checkpoint in a scratch directory: "fused.safetensors" (safetensors,
  /// single or sharded: the output is one file), "fused_adapter" (a PEFT adapter directory),
  /// "fused.pt" (torch.save).
  [[nodiscard]] std::string output_name() const;

  /// Throws `usage_error` when `path` is one of `files()` — the same path, a symbolic link or a
  /// hard link (device and inode).
  void check_not_a_member(const std::string& path) const;

  /// The files `write_fused(δ, output)` creates: `output`, and for PEFT members the two files
  /// inside that directory.
  [[nodiscard]] std::vector<std::string> written_files(const std::string& output) const;

  /// Throws `usage_error` (naming the path) when writing the checkpoint `output` would replace
  /// or write into a member (any of `written_files(output)` is a member: `check_not_a_member`),
  /// or when one of them exists and is not a regular file, a symbolic link or (PEFT) the
  /// adapter directory itself: writing would replace it (a FIFO or a device such as /dev/null
  /// would become a regular file).
  void check_output(const std::string& output) const;

  /// The same checks for a plain file the program writes (a report file): not a member, and,
  /// when it exists, a regular file or a symbolic link.
  void check_plain_output(const std::string& path) const;

  /// Writes w(δ) = Σ_i δ_i w_i to `output` in the members' format: a .safetensors file for
  /// safetensors members (single or sharded), a directory with adapter_model.safetensors and
  /// adapter_config.json for PEFT members (created if missing; the config is the first
  /// member's, edited for the exact mode), a torch.save file (`save_torch_state_dict`) for
  /// torch.save members. Every file is written atomically and durably; members are never
  /// written. Checks `output` with `check_output` and `delta` (length N, finite, on the simplex
  /// if `options.fusion.require_simplex`) first. Thread-safe: `bomf search` writes from several
  /// workers at once (safetensors and PEFT members in parallel; torch.save members, whose fuser
  /// reuses one output buffer, one at a time). Returns the written floating tensors that hold
  /// NaN or ±∞ (an input's, or an overflow of the coefficients or of --dtype), in file order;
  /// empty when every value is finite (`non_finite_warning` words them for the user).
  std::vector<NonFiniteTensor> write_fused(const Eigen::Ref<const Eigen::VectorXd>& delta,
                                           const std::string& output) const;

 private:
  struct Loaded;
  std::vector<std::string> paths_;
  MemberOptions options_;
  MemberFormat format_ = MemberFormat::safetensors;
  std::vector<std::string> files_;
  std::unique_ptr<Loaded> loaded_;
};

/// "" when `tensors` is empty, else one line for the user: how many values of how many tensors
/// of `output` are NaN or ±∞ (the first few named) and the likely causes.
[[nodiscard]] std::string non_finite_warning(const std::vector<NonFiniteTensor>& tensors,
                                             const std::string& output);

}  // namespace bomf::cli
