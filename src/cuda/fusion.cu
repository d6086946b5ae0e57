// CUDA weight-fusion kernel: N member buffers read once with 16-byte loads, fp32 accumulation,
// the output written once. No libtorch here (nvcc on torch headers takes minutes).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/cuda/device.hpp"
#include "bomf/cuda/fusion.hpp"
#include "fusion_body.cuh"

namespace bomf::cuda {
namespace {

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    cudaGetLastError();
    throw cuda_error(std::string("bomf::cuda: ") + what + ": " + cudaGetErrorString(status));
  }
}

using kernels::FuseThread;

void check_member_count(std::size_t n_members, const char* where) {
  detail::require(n_members >= 1 && n_members <= kMaxFusionMembers, where,
                  "argument 'n_members' is ", n_members, ", expected 1 to ", kMaxFusionMembers,
                  " (the coefficients and member pointers are staged in 48 KiB of shared memory)");
}

void check_dtypes(FusionDtype in, FusionDtype out, const char* where) {
  detail::require((in == FusionDtype::f64) == (out == FusionDtype::f64), where, "input dtype ",
                  fusion_dtype_name(in), " with output dtype ", fusion_dtype_name(out),
                  ": f64 input requires f64 output and vice versa");
}

/// The coefficients of one launch. Up to kInline of them travel in the kernel's parameters,
/// which are copied when the kernel is enqueued, so a fusion needs no upload and its caller
/// may reuse δ at once; more are read from the device array `device` (of Acc: floats, doubles
/// for f64 input), which the caller must keep until the kernel has run.
struct Coefficients {
  static constexpr std::size_t kInline = 64;
  double values[kInline] = {};
  const void* device = nullptr;
};

template <FusionDtype In, FusionDtype Out>
__global__ void fuse_kernel(const void* const* members, Coefficients coefficients, std::size_t n,
                            void* out, std::size_t count, bool vectorized) {
  using Thread = FuseThread<In, Out>;
  using Acc = typename Thread::Acc;
  // Coefficients and member pointers in shared memory (n of each).
  extern __shared__ unsigned char shared[];
  auto* coeffs = reinterpret_cast<Acc*>(shared);
  auto** pointers = reinterpret_cast<const typename Thread::InRaw**>(shared + n * sizeof(double));
  for (std::size_t i = threadIdx.x; i < n; i += blockDim.x) {
    coeffs[i] = coefficients.device != nullptr ? static_cast<const Acc*>(coefficients.device)[i]
                                               : static_cast<Acc>(coefficients.values[i]);
    pointers[i] = static_cast<const typename Thread::InRaw*>(members[i]);
  }
  __syncthreads();
  Thread::run(pointers, coeffs, n, static_cast<typename Thread::OutRaw*>(out), count, vectorized,
              static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x,
              static_cast<std::size_t>(blockDim.x) * gridDim.x);
}

template <FusionDtype In, FusionDtype Out>
void launch_typed(const void* const* members, const Coefficients& coeffs, std::size_t n, void* out,
                  std::size_t count, bool vectorized) {
  const auto blocks = static_cast<unsigned>(kernels::fuse_blocks(count, In, vectorized));
  const std::size_t shared = n * (sizeof(double) + sizeof(void*));  // n ≤ kMaxFusionMembers
  fuse_kernel<In, Out>
      <<<blocks, kernels::kFuseThreads, shared>>>(members, coeffs, n, out, count, vectorized);
  check(cudaGetLastError(), "kernel launch");
}

template <FusionDtype In>
void launch_out(FusionDtype out_dtype, const void* const* members, const Coefficients& coeffs,
                std::size_t n, void* out, std::size_t count, bool vectorized) {
  switch (out_dtype) {
    case FusionDtype::f32:
      if constexpr (In != FusionDtype::f64) {
        return launch_typed<In, FusionDtype::f32>(members, coeffs, n, out, count, vectorized);
      }
      break;
    case FusionDtype::bf16:
      if constexpr (In != FusionDtype::f64) {
        return launch_typed<In, FusionDtype::bf16>(members, coeffs, n, out, count, vectorized);
      }
      break;
    case FusionDtype::f16:
      if constexpr (In != FusionDtype::f64) {
        return launch_typed<In, FusionDtype::f16>(members, coeffs, n, out, count, vectorized);
      }
      break;
    case FusionDtype::f64:
      if constexpr (In == FusionDtype::f64) {
        return launch_typed<In, FusionDtype::f64>(members, coeffs, n, out, count, vectorized);
      }
      break;
  }
  detail::throw_invalid_argument("bomf::cuda::launch_fuse",
                                 "f64 input requires f64 output and vice versa");
}

void launch(const void* const* members, const Coefficients& coeffs, std::size_t n, FusionDtype in,
            void* out, FusionDtype out_dtype, std::size_t count, bool vectorized) {
  if (count == 0 || n == 0) {
    return;
  }
  switch (in) {
    case FusionDtype::f32:
      return launch_out<FusionDtype::f32>(out_dtype, members, coeffs, n, out, count, vectorized);
    case FusionDtype::bf16:
      return launch_out<FusionDtype::bf16>(out_dtype, members, coeffs, n, out, count, vectorized);
    case FusionDtype::f16:
      return launch_out<FusionDtype::f16>(out_dtype, members, coeffs, n, out, count, vectorized);
    case FusionDtype::f64:
      return launch_out<FusionDtype::f64>(out_dtype, members, coeffs, n, out, count, vectorized);
  }
}

constexpr std::size_t element_size(FusionDtype d) {
  return fusion_dtype_size(d);
}

}  // namespace

void launch_fuse(const void* const* device_members, const void* device_coeffs,
                 std::size_t n_members, FusionDtype in, void* out, FusionDtype out_dtype,
                 std::size_t count) {
  constexpr const char* where = "bomf::cuda::launch_fuse";
  check_member_count(n_members, where);
  check_dtypes(in, out_dtype, where);
  if (count == 0) {
    return;
  }
  detail::require(device_members != nullptr, where, "argument 'device_members' is null");
  detail::require(device_coeffs != nullptr, where, "argument 'device_coeffs' is null");
  detail::require(out != nullptr, where, "argument 'out' is null (count is ", count, ")");
  // Alignment of the member pointers is only known on the device: copy them back (n pointers).
  std::vector<const void*> host(n_members);
  check(cudaMemcpy(host.data(), device_members, n_members * sizeof(void*), cudaMemcpyDeviceToHost),
        "reading the member pointers");
  bool aligned = reinterpret_cast<std::uintptr_t>(out) % 16 == 0;
  for (const void* p : host) {
    aligned = aligned && reinterpret_cast<std::uintptr_t>(p) % 16 == 0;
  }
  Coefficients coefficients;
  coefficients.device = device_coeffs;
  launch(device_members, coefficients, n_members, in, out, out_dtype, count, aligned);
}

DeviceMemberSet::DeviceMemberSet(std::size_t n_members, std::vector<std::size_t> tensor_sizes,
                                 FusionDtype in, FusionDtype out)
    : n_members_(n_members), sizes_(std::move(tensor_sizes)), in_(in), out_(out) {
  check_member_count(n_members, "bomf::cuda::DeviceMemberSet");
  check_dtypes(in, out, "bomf::cuda::DeviceMemberSet");
  if (device_count() == 0) {
    throw cuda_error("bomf::cuda::DeviceMemberSet: no CUDA device (use the CPU WeightFuser)");
  }
  // Each tensor starts at a 16-byte boundary in both the member and output layouts.
  const std::size_t align = 16 / std::min(element_size(in), element_size(out));
  for (std::size_t s : sizes_) {
    offsets_.push_back(padded_);
    padded_ += (s + align - 1) / align * align;
  }
  members_.reserve(n_members_);  // push_back below cannot throw after a cudaMalloc
  try {
    for (std::size_t m = 0; m < n_members_; ++m) {
      void* buffer = nullptr;
      check(cudaMalloc(&buffer, std::max<std::size_t>(padded_, 1) * element_size(in)),
            "allocating a member");
      members_.push_back(buffer);
      check(cudaMemset(buffer, 0, std::max<std::size_t>(padded_, 1) * element_size(in)),
            "clearing a member");
    }
    check(cudaMalloc(&output_, std::max<std::size_t>(padded_, 1) * element_size(out)),
          "allocating the output");
    check(cudaMalloc(reinterpret_cast<void**>(&device_pointers_), n_members_ * sizeof(void*)),
          "allocating the pointer table");
    check(cudaMemcpy(device_pointers_, members_.data(), n_members_ * sizeof(void*),
                     cudaMemcpyHostToDevice),
          "uploading the pointer table");
    check(cudaMalloc(&device_coeffs_, n_members_ * sizeof(double)), "allocating coefficients");
  } catch (...) {
    for (void* p : members_) {
      cudaFree(p);
    }
    cudaFree(output_);
    cudaFree(device_pointers_);
    cudaFree(device_coeffs_);
    throw;
  }
}

DeviceMemberSet::~DeviceMemberSet() {
  for (void* p : members_) {
    cudaFree(p);
  }
  cudaFree(output_);
  cudaFree(device_pointers_);
  cudaFree(device_coeffs_);
}

void DeviceMemberSet::upload(std::size_t member, std::size_t tensor, const void* host) {
  detail::require(member < n_members_ && tensor < sizes_.size(),
                  "bomf::cuda::DeviceMemberSet::upload", "member ", member, " / tensor ", tensor,
                  " out of range (", n_members_, " / ", sizes_.size(), ")");
  auto* base = static_cast<unsigned char*>(members_[member]);
  check(cudaMemcpy(base + offsets_[tensor] * element_size(in_), host,
                   sizes_[tensor] * element_size(in_), cudaMemcpyHostToDevice),
        "uploading a member tensor");
}

void DeviceMemberSet::fuse_async(const double* delta) {
  enqueue_fusion(delta, "bomf::cuda::DeviceMemberSet::fuse_async");
}

void DeviceMemberSet::fuse(const double* delta) {
  enqueue_fusion(delta, "bomf::cuda::DeviceMemberSet::fuse");
  check(cudaDeviceSynchronize(), "fusion kernel");
}

void DeviceMemberSet::enqueue_fusion(const double* delta, const char* where) {
  detail::require(delta != nullptr, where, "argument 'delta' is null");
  for (std::size_t i = 0; i < n_members_; ++i) {
    detail::require(std::isfinite(delta[i]), where, "argument 'delta' has a non-finite entry ",
                    delta[i], " at index ", i);
    detail::require(in_ == FusionDtype::f64 || std::fabs(delta[i]) <= static_cast<double>(FLT_MAX),
                    where, "argument 'delta' has an entry ", delta[i], " at index ", i,
                    " that overflows fp32 (the coefficients of a ", fusion_dtype_name(in_),
                    " fusion are fp32)");
  }
  Coefficients coefficients;
  if (n_members_ <= Coefficients::kInline) {
    std::copy(delta, delta + n_members_, coefficients.values);
  } else {
    // From pageable memory cudaMemcpyAsync returns once δ is staged (the local vector may go),
    // but it may wait for earlier work on stream 0 to do so: only fusions of more than
    // Coefficients::kInline members pay that.
    coefficients.device = device_coeffs_;
    if (in_ == FusionDtype::f64) {
      check(cudaMemcpyAsync(device_coeffs_, delta, n_members_ * sizeof(double),
                            cudaMemcpyHostToDevice),
            "uploading coefficients");
    } else {
      const std::vector<float> coeffs(delta, delta + n_members_);
      check(cudaMemcpyAsync(device_coeffs_, coeffs.data(), n_members_ * sizeof(float),
                            cudaMemcpyHostToDevice),
            "uploading coefficients");
    }
  }
  launch(device_pointers_, coefficients, n_members_, in_, output_, out_, padded_,
         /*vectorized=*/true);
}

void DeviceMemberSet::download(std::size_t tensor, void* host) const {
  detail::require(tensor < sizes_.size(), "bomf::cuda::DeviceMemberSet::download", "tensor ",
                  tensor, " out of range (", sizes_.size(), ")");
  const auto* base = static_cast<const unsigned char*>(output_);
  check(cudaMemcpy(host, base + offsets_[tensor] * element_size(out_),
                   sizes_[tensor] * element_size(out_), cudaMemcpyDeviceToHost),
        "downloading the output");
}

}  // namespace bomf::cuda
