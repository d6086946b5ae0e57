// bomf/fusion/weight_fuser.hpp — fused weights w(δ) = Σ_i δ_i w_i over whole state dicts.
#pragma once

#include <ATen/core/Tensor.h>

#include <Eigen/Core>
#include <cstddef>
#include <optional>
#include <vector>

#include "bomf/fusion/state_dict.hpp"

namespace bomf {

/// Options of `WeightFuser` (in-class defaults are the recommended settings).
struct FusionOptions {
  /// Storage type of fused floating tensors: at::kFloat, at::kBFloat16, at::kHalf or
  /// at::kDouble. Empty: each tensor keeps its members' dtype.
  std::optional<at::ScalarType> output_dtype;
  /// Index of the member whose non-floating tensors (integer buffers such as position ids or
  /// step counters, booleans) are copied into the output; they are never averaged.
  std::size_t copy_non_floating_from = 0;
  /// When true, δ must lie on the probability simplex (δ_i ≥ 0, |Σ δ_i − 1| ≤ 1e-6), as in the
  /// paper's search space. When false (default) any finite real δ is accepted, which also
  /// covers EMA-style schedules, task arithmetic and extrapolation (δ_i < 0 or Σ δ_i ≠ 1).
  bool require_simplex = false;
};

/// Evaluates fused weights w(δ) = Σ_i δ_i w_i for N member state dicts, BOMF's fusion step
/// (Jang et al., "Model Fusion through Bayesian Optimization in Language Model Fine-Tuning",
/// NeurIPS 2024, eq. 3), many times on the same members.
///
/// The constructor validates the members once: every member has the same tensor names, and
/// each tensor has the same shape and dtype in every member; all tensors are on the CPU.
/// Floating tensors (fp32, bf16, fp16, fp64) are fused; other tensors are copied from
/// `options.copy_non_floating_from`. Non-contiguous member tensors are copied to contiguous
/// ones once, here.
///
/// `fuse(delta, output)` then makes one pass over memory per tensor — each member read once,
/// the output written once, fp32 accumulation (see `fuse_buffers`) — on libtorch's intra-op
/// threads, and allocates nothing, so the ~5·N evaluations of a BOMF search reuse one buffer.
/// Cost per call: (N + 1) · P element transfers for P floating parameters.
///
/// Not thread-safe for concurrent `fuse` calls writing the same output; the members are shared,
/// not copied (their storage must stay unchanged while the fuser is in use).
class WeightFuser {
 public:
  /// Validates `members` (N ≥ 1). Throws `bomf::invalid_argument` naming the tensor and both
  /// shapes/dtypes (or the missing name) on any mismatch, for a non-CPU or complex tensor, an
  /// invalid `options.output_dtype` or an out-of-range `options.copy_non_floating_from`.
  explicit WeightFuser(std::vector<StateDict> members, FusionOptions options = {});

  /// N, the number of members.
  [[nodiscard]] std::size_t num_members() const noexcept { return members_.size(); }
  /// Member `i` (contiguous tensors).
  [[nodiscard]] const StateDict& member(std::size_t i) const { return members_.at(i); }
  /// Total number of fused (floating) elements P.
  [[nodiscard]] std::size_t num_fused_elements() const noexcept { return fused_elements_; }

  /// A freshly allocated output state dict (names in member 0's order; floating tensors in the
  /// output dtype, contents unspecified until `fuse`; non-floating tensors copied).
  [[nodiscard]] StateDict make_output() const;

  /// Writes w(δ) into `output`, which must come from `make_output()` (same names, shapes and
  /// dtypes, contiguous; checked without allocating). `delta` has length N and finite entries
  /// (on the simplex if `require_simplex`). Throws `bomf::invalid_argument` otherwise.
  void fuse(const Eigen::Ref<const Eigen::VectorXd>& delta, StateDict& output) const;

  /// w(δ) in a new state dict: `make_output()` followed by `fuse(delta, output)`.
  [[nodiscard]] StateDict fuse(const Eigen::Ref<const Eigen::VectorXd>& delta) const;

  /// Throws `bomf::invalid_argument` unless `delta` is a valid coefficient vector for this
  /// fuser (length N, finite, simplex if required).
  void check_delta(const Eigen::Ref<const Eigen::VectorXd>& delta) const;

 private:
  struct Entry {
    bool floating = false;
    at::ScalarType out_dtype = at::kFloat;
    std::size_t first_pointer = 0;  // index into pointers_ (N consecutive member pointers)
    const void* source = nullptr;   // non-floating: the data copied into the output
  };
  std::vector<StateDict> members_;
  FusionOptions options_;
  std::vector<Entry> entries_;         // parallel to member 0's order
  std::vector<const void*> pointers_;  // member data pointers, N per floating tensor
  std::size_t fused_elements_ = 0;
};

/// w(δ) = Σ_i δ_i w_i for one call (constructs a `WeightFuser`); see there for the checks.
[[nodiscard]] StateDict fuse_state_dicts(const std::vector<StateDict>& members,
                                         const Eigen::Ref<const Eigen::VectorXd>& delta,
                                         const FusionOptions& options = {});

}  // namespace bomf
