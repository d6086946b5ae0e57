// bomf/cuda/fusion.hpp — weight fusion on a CUDA GPU, on raw device memory. No CUDA or libtorch
// headers are needed to include this (the kernels live in src/cuda/fusion.cu).
#pragma once

#include <cstddef>
#include <stdexcept>
#include <vector>

#include "bomf/fusion/dtype.hpp"

namespace bomf::cuda {

/// A CUDA runtime failure, or no usable GPU (see `device_count`).
class cuda_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Most members one fusion takes on the GPU: their coefficients and pointers are staged in
/// 48 KiB of shared memory per block (16 bytes each).
inline constexpr std::size_t kMaxFusionMembers = 48 * 1024 / 16;

/// Launches `out[j] = Σ_i coeffs[i] · members[i][j]` (j < count) on the current device and
/// stream 0. `device_members` is a DEVICE array of `n_members` device pointers,
/// `device_coeffs` a DEVICE array of `n_members` floats (doubles when `in` is f64), `out` a
/// device buffer of `count` elements of `out_dtype`. Accumulation in fp32 (fp64 for f64 input),
/// one rounding. When every pointer is 16-byte aligned the kernel uses 16-byte vector loads
/// (4 fp32 or 8 bf16/fp16 elements per load) with a scalar tail; otherwise scalar loads. Reads
/// each member once and writes the output once: (N + 1) · count elements of traffic.
///
/// The member pointers are first copied back to the host to check their alignment (a small
/// synchronous copy, which waits for earlier work on stream 0); the kernel itself runs
/// asynchronously. `count` = 0 does nothing. Throws `bomf::invalid_argument` for
/// `n_members` outside 1 … kMaxFusionMembers, f64 input without f64 output (or vice versa), or
/// a null pointer argument with `count` > 0; `cuda_error` when a CUDA call or the launch fails.
void launch_fuse(const void* const* device_members, const void* device_coeffs,
                 std::size_t n_members, FusionDtype in, void* out, FusionDtype out_dtype,
                 std::size_t count);

/// N model members resident in GPU memory for a whole BOMF search, and one fused output.
///
/// The model is described by its floating tensors' element counts; each member is one device
/// buffer holding them back to back, each tensor starting at a 16-byte boundary (padding is
/// zero), so `fuse` is a single kernel launch over the whole model with vector loads. Upload
/// each member's tensors once with `upload`, then call `fuse(δ)` for every candidate and
/// `download` (or use `output_data` in further device code).
///
/// Requires a GPU: the constructor throws `cuda_error` ("no CUDA device") when
/// `device_count() == 0`, so callers fall back to the CPU `WeightFuser`.
class DeviceMemberSet {
 public:
  /// Allocates N = `n_members` member buffers of dtype `in` and the output (dtype `out`) for
  /// tensors of `tensor_sizes` elements. Throws `bomf::invalid_argument` for N outside
  /// 1 … kMaxFusionMembers or an `out` that is f64 while `in` is not (and vice versa),
  /// `cuda_error` without a GPU or memory.
  DeviceMemberSet(std::size_t n_members, std::vector<std::size_t> tensor_sizes, FusionDtype in,
                  FusionDtype out);
  ~DeviceMemberSet();
  DeviceMemberSet(const DeviceMemberSet&) = delete;
  DeviceMemberSet& operator=(const DeviceMemberSet&) = delete;

  [[nodiscard]] std::size_t num_members() const noexcept { return n_members_; }
  [[nodiscard]] std::size_t num_tensors() const noexcept { return sizes_.size(); }
  /// Elements per member including alignment padding.
  [[nodiscard]] std::size_t padded_elements() const noexcept { return padded_; }

  /// Copies `tensor_sizes[tensor]` elements (dtype `in`) from host memory `host` into member
  /// `member`. Synchronous. Throws `bomf::invalid_argument` for bad indices.
  void upload(std::size_t member, std::size_t tensor, const void* host);

  /// Computes w(δ) = Σ_i δ_i w_i into the device output; `delta` is a host array of N finite
  /// values (finite in fp32 too, unless the members are f64: the kernel's coefficients are
  /// fp32). Synchronous. Throws `bomf::invalid_argument` for a null or non-finite δ,
  /// `cuda_error` on CUDA failures.
  void fuse(const double* delta);

  /// `fuse` without waiting: enqueues the kernel on stream 0 and returns. For N ≤ 64, δ travels
  /// in the kernel's parameters (no upload; δ may be reused at once). For more members it is
  /// uploaded with cudaMemcpyAsync from pageable memory, which may wait for earlier work on
  /// stream 0. Work enqueued after it on stream 0 (the legacy default stream), such as a
  /// forward pass on `output_data()` or `download`, sees the fused weights; streams created
  /// with `cudaStreamNonBlocking` are not ordered after it. Errors of the kernel itself surface
  /// at the next synchronizing call.
  void fuse_async(const double* delta);

  /// Copies fused tensor `tensor` (dtype `out`) to host memory `host`. Synchronous.
  void download(std::size_t tensor, void* host) const;

  /// Device pointer to the fused output (all tensors, padded layout).
  [[nodiscard]] void* output_data() const noexcept { return output_; }

 private:
  void enqueue_fusion(const double* delta, const char* where);

  std::size_t n_members_;
  std::vector<std::size_t> sizes_;
  std::vector<std::size_t> offsets_;  // element offset of each tensor in a member buffer
  std::size_t padded_ = 0;
  FusionDtype in_;
  FusionDtype out_;
  std::vector<void*> members_;        // device buffers
  void* output_ = nullptr;            // device
  void** device_pointers_ = nullptr;  // device array of member pointers
  void* device_coeffs_ = nullptr;     // device array of N coefficients
};

}  // namespace bomf::cuda
