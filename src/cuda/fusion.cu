// CUDA weight-fusion kernel: N member buffers read once with 16-byte loads, fp32 accumulation,
// the output written once. No libtorch here (nvcc on torch headers takes minutes).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/cuda/device.hpp"
#include "bomf/cuda/fusion.hpp"

namespace bomf::cuda {
namespace {

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    cudaGetLastError();
    throw cuda_error(std::string("bomf::cuda: ") + what + ": " + cudaGetErrorString(status));
  }
}

template <FusionDtype D>
struct Elem;
template <>
struct Elem<FusionDtype::f32> {
  using Raw = float;
  __device__ static float load(Raw r) { return r; }
  __device__ static Raw store(float v) { return v; }
};
template <>
struct Elem<FusionDtype::f64> {
  using Raw = double;
  __device__ static double load(Raw r) { return r; }
  __device__ static Raw store(double v) { return v; }
};
template <>
struct Elem<FusionDtype::bf16> {
  using Raw = unsigned short;
  __device__ static float load(Raw r) { return __bfloat162float(__ushort_as_bfloat16(r)); }
  __device__ static Raw store(float v) { return __bfloat16_as_ushort(__float2bfloat16_rn(v)); }
};
template <>
struct Elem<FusionDtype::f16> {
  using Raw = unsigned short;
  __device__ static float load(Raw r) { return __half2float(__ushort_as_half(r)); }
  __device__ static Raw store(float v) { return __half_as_ushort(__float2half_rn(v)); }
};

template <FusionDtype In, FusionDtype Out>
__global__ void fuse_kernel(const void* const* members, const void* coeffs_in, std::size_t n,
                            void* out_ptr, std::size_t count, bool vectorized) {
  using InRaw = typename Elem<In>::Raw;
  using OutRaw = typename Elem<Out>::Raw;
  using Acc = std::conditional_t<In == FusionDtype::f64, double, float>;
  constexpr int kVec = 16 / sizeof(InRaw);  // elements per 16-byte load

  // Coefficients and member pointers in shared memory (n of each).
  extern __shared__ unsigned char shared[];
  Acc* coeffs = reinterpret_cast<Acc*>(shared);
  const InRaw** pointers = reinterpret_cast<const InRaw**>(shared + n * sizeof(double));
  for (std::size_t i = threadIdx.x; i < n; i += blockDim.x) {
    coeffs[i] = static_cast<const Acc*>(coeffs_in)[i];
    pointers[i] = static_cast<const InRaw*>(members[i]);
  }
  __syncthreads();

  OutRaw* out = static_cast<OutRaw*>(out_ptr);
  const std::size_t stride = static_cast<std::size_t>(blockDim.x) * gridDim.x;
  const std::size_t thread = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  std::size_t scalar_begin = 0;
  if (vectorized) {
    const std::size_t vectors = count / kVec;
    for (std::size_t v = thread; v < vectors; v += stride) {
      Acc acc[kVec];
#pragma unroll
      for (int k = 0; k < kVec; ++k) {
        acc[k] = 0;
      }
      for (std::size_t i = 0; i < n; ++i) {
        const uint4 raw = __ldg(reinterpret_cast<const uint4*>(pointers[i]) + v);
        InRaw x[kVec];
        memcpy(x, &raw, sizeof raw);
        const Acc c = coeffs[i];
#pragma unroll
        for (int k = 0; k < kVec; ++k) {
          acc[k] += c * static_cast<Acc>(Elem<In>::load(x[k]));
        }
      }
      OutRaw y[kVec];
#pragma unroll
      for (int k = 0; k < kVec; ++k) {
        y[k] = Elem<Out>::store(acc[k]);
      }
      if constexpr (sizeof(OutRaw) * kVec == 16) {
        uint4 packed;
        memcpy(&packed, y, sizeof packed);
        reinterpret_cast<uint4*>(out)[v] = packed;
      } else if constexpr (sizeof(OutRaw) * kVec == 8) {
        uint2 packed;
        memcpy(&packed, y, sizeof packed);
        reinterpret_cast<uint2*>(out)[v] = packed;
      } else {
#pragma unroll
        for (int k = 0; k < kVec; ++k) {
          out[v * kVec + k] = y[k];
        }
      }
    }
    scalar_begin = vectors * kVec;
  }
  for (std::size_t j = scalar_begin + thread; j < count; j += stride) {
    Acc acc = 0;
    for (std::size_t i = 0; i < n; ++i) {
      acc += coeffs[i] * static_cast<Acc>(Elem<In>::load(pointers[i][j]));
    }
    out[j] = Elem<Out>::store(acc);
  }
}

template <FusionDtype In, FusionDtype Out>
void launch_typed(const void* const* members, const void* coeffs, std::size_t n, void* out,
                  std::size_t count, bool vectorized) {
  constexpr unsigned threads = 256;
  const std::size_t work = vectorized ? count / (16 / sizeof(typename Elem<In>::Raw)) + 1 : count;
  const std::size_t wanted = (work + threads - 1) / threads;
  const auto blocks = static_cast<unsigned>(wanted < 65535 ? (wanted > 0 ? wanted : 1) : 65535);
  const std::size_t shared = n * (sizeof(double) + sizeof(void*));
  if (shared > 48 * 1024) {
    throw cuda_error("bomf::cuda::launch_fuse: too many members for shared memory (" +
                     std::to_string(n) + ")");
  }
  fuse_kernel<In, Out><<<blocks, threads, shared>>>(members, coeffs, n, out, count, vectorized);
  check(cudaGetLastError(), "kernel launch");
}

template <FusionDtype In>
void launch_out(FusionDtype out_dtype, const void* const* members, const void* coeffs,
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

void launch(const void* const* members, const void* coeffs, std::size_t n, FusionDtype in,
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
  // Alignment of the member pointers is only known on the device: copy them back (n pointers).
  std::vector<const void*> host(n_members);
  if (n_members > 0) {
    check(
        cudaMemcpy(host.data(), device_members, n_members * sizeof(void*), cudaMemcpyDeviceToHost),
        "reading the member pointers");
  }
  bool aligned = reinterpret_cast<std::uintptr_t>(out) % 16 == 0;
  for (const void* p : host) {
    aligned = aligned && reinterpret_cast<std::uintptr_t>(p) % 16 == 0;
  }
  launch(device_members, device_coeffs, n_members, in, out, out_dtype, count, aligned);
}

DeviceMemberSet::DeviceMemberSet(std::size_t n_members, std::vector<std::size_t> tensor_sizes,
                                 FusionDtype in, FusionDtype out)
    : n_members_(n_members), sizes_(std::move(tensor_sizes)), in_(in), out_(out) {
  detail::require(n_members >= 1, "bomf::cuda::DeviceMemberSet", "argument 'n_members' is 0");
  detail::require((in == FusionDtype::f64) == (out == FusionDtype::f64),
                  "bomf::cuda::DeviceMemberSet", "f64 input requires f64 output and vice versa");
  if (device_count() == 0) {
    throw cuda_error("bomf::cuda::DeviceMemberSet: no CUDA device (use the CPU WeightFuser)");
  }
  // Each tensor starts at a 16-byte boundary in both the member and output layouts.
  const std::size_t align = 16 / std::min(element_size(in), element_size(out));
  for (std::size_t s : sizes_) {
    offsets_.push_back(padded_);
    padded_ += (s + align - 1) / align * align;
  }
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

void DeviceMemberSet::fuse(const double* delta) {
  for (std::size_t i = 0; i < n_members_; ++i) {
    detail::require(std::isfinite(delta[i]), "bomf::cuda::DeviceMemberSet::fuse",
                    "argument 'delta' has a non-finite entry ", delta[i], " at index ", i);
  }
  if (in_ == FusionDtype::f64) {
    check(cudaMemcpy(device_coeffs_, delta, n_members_ * sizeof(double), cudaMemcpyHostToDevice),
          "uploading coefficients");
  } else {
    std::vector<float> coeffs(delta, delta + n_members_);
    check(cudaMemcpy(device_coeffs_, coeffs.data(), n_members_ * sizeof(float),
                     cudaMemcpyHostToDevice),
          "uploading coefficients");
  }
  launch(device_pointers_, device_coeffs_, n_members_, in_, output_, out_, padded_,
         /*vectorized=*/true);
  check(cudaDeviceSynchronize(), "fusion kernel");
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
