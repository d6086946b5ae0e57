// src/cuda/fusion_body.cuh — what one thread of the CUDA fusion kernel computes, written once
// for the device and the host. fusion.cu runs it in the kernel; tests/cuda/test_cuda_fusion_body
// runs it on the host over every (block, thread) of a launch, so the index arithmetic, the
// vector/tail split (each element written by exactly one thread) and the packed stores are
// tested in CI on a machine without a GPU. The bf16/fp16 conversions run there as the host
// versions of the same cuda_bf16.h/cuda_fp16.h functions, checked against the test's own
// encodings. The shared-memory staging, the launch and the device's conversion instructions
// need a GPU (tests/cuda/test_cuda_fusion.cpp).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstring>
#include <type_traits>

#include "bomf/fusion/dtype.hpp"

// `#pragma unroll` for the device pass only (host compilers do not know it).
#ifdef __CUDA_ARCH__
#define BOMF_CUDA_UNROLL _Pragma("unroll")
#else
#define BOMF_CUDA_UNROLL
#endif

namespace bomf::cuda::kernels {

/// Storage type of a dtype (`Raw`), its conversion to the accumulator and back (one rounding,
/// to nearest even).
template <FusionDtype D>
struct Elem;
template <>
struct Elem<FusionDtype::f32> {
  using Raw = float;
  __host__ __device__ static float load(Raw r) { return r; }
  __host__ __device__ static Raw store(float v) { return v; }
};
template <>
struct Elem<FusionDtype::f64> {
  using Raw = double;
  __host__ __device__ static double load(Raw r) { return r; }
  __host__ __device__ static Raw store(double v) { return v; }
};
template <>
struct Elem<FusionDtype::bf16> {
  using Raw = unsigned short;
  __host__ __device__ static float load(Raw r) { return __bfloat162float(__ushort_as_bfloat16(r)); }
  __host__ __device__ static Raw store(float v) {
    return __bfloat16_as_ushort(__float2bfloat16_rn(v));
  }
};
template <>
struct Elem<FusionDtype::f16> {
  using Raw = unsigned short;
  __host__ __device__ static float load(Raw r) { return __half2float(__ushort_as_half(r)); }
  __host__ __device__ static Raw store(float v) { return __half_as_ushort(__float2half_rn(v)); }
};

/// Threads per block of every fusion launch.
constexpr unsigned kFuseThreads = 256;
/// Upper bound on blocks per launch; the grid-stride loops cover any count.
constexpr std::size_t kFuseMaxBlocks = 65535;

/// Elements of `in` per 16-byte vector load.
constexpr std::size_t fuse_vector_width(FusionDtype in) {
  return 16 / fusion_dtype_size(in);
}

/// Blocks for a launch over `count` elements: one thread per 16-byte vector (per element when
/// not `vectorized`), at least 1, at most kFuseMaxBlocks.
constexpr std::size_t fuse_blocks(std::size_t count, FusionDtype in, bool vectorized) {
  const std::size_t work = vectorized ? count / fuse_vector_width(in) + 1 : count;
  const std::size_t wanted = (work + kFuseThreads - 1) / kFuseThreads;
  return wanted < 1 ? 1 : wanted > kFuseMaxBlocks ? kFuseMaxBlocks : wanted;
}

/// Reads 16 bytes, through the read-only data cache on the device. (On the host a memcpy: the
/// bytes are floats or halves, which a uint4 lvalue may not alias there.)
__host__ __device__ inline uint4 load_16_bytes(const uint4* p) {
#ifdef __CUDA_ARCH__
  return __ldg(p);
#else
  uint4 value;
  memcpy(&value, p, sizeof value);
  return value;
#endif
}

/// Writes `value` (a uint2 or uint4) to `*p` in one store on the device.
template <class Packed>
__host__ __device__ inline void store_packed(Packed* p, const Packed& value) {
#ifdef __CUDA_ARCH__
  *p = value;
#else
  memcpy(p, &value, sizeof value);
#endif
}

/// The work of thread `thread` (its index in the whole grid) of a grid of `stride` threads:
/// `out[j] = Σ_i coeffs[i] · members[i][j]` for its share of `j < count`.
///
/// When `vectorized` (every pointer 16-byte aligned), thread t handles the 16-byte vectors
/// t, t + stride, ...: it loads one vector per member, accumulates its elements in registers
/// and stores them together (one 8- or 16-byte store, two 16-byte stores for a 4-byte output
/// from 2-byte input); the `count % width` tail elements are then shared out one per thread.
/// Otherwise every element is loaded alone. Accumulation is in `Acc` (fp32, fp64 for f64 input),
/// members in order, then one rounding to `Out`.
template <FusionDtype In, FusionDtype Out>
struct FuseThread {
  using InRaw = typename Elem<In>::Raw;
  using OutRaw = typename Elem<Out>::Raw;
  using Acc = std::conditional_t<In == FusionDtype::f64, double, float>;
  static constexpr int kWidth = static_cast<int>(fuse_vector_width(In));

  __host__ __device__ static void run(const InRaw* const* members, const Acc* coeffs, std::size_t n,
                                      OutRaw* out, std::size_t count, bool vectorized,
                                      std::size_t thread, std::size_t stride) {
    std::size_t tail_begin = 0;
    if (vectorized) {
      const std::size_t vectors = count / kWidth;
      for (std::size_t v = thread; v < vectors; v += stride) {
        fuse_vector(members, coeffs, n, out, v);
      }
      tail_begin = vectors * kWidth;
    }
    for (std::size_t j = tail_begin + thread; j < count; j += stride) {
      Acc acc = 0;
      for (std::size_t i = 0; i < n; ++i) {
        acc += coeffs[i] * static_cast<Acc>(Elem<In>::load(members[i][j]));
      }
      out[j] = Elem<Out>::store(acc);
    }
  }

 private:
  /// Elements [v · kWidth, (v + 1) · kWidth).
  __host__ __device__ static void fuse_vector(const InRaw* const* members, const Acc* coeffs,
                                              std::size_t n, OutRaw* out, std::size_t v) {
    Acc acc[kWidth];
    BOMF_CUDA_UNROLL
    for (int k = 0; k < kWidth; ++k) {
      acc[k] = 0;
    }
    for (std::size_t i = 0; i < n; ++i) {
      const uint4 raw = load_16_bytes(reinterpret_cast<const uint4*>(members[i]) + v);
      InRaw x[kWidth];
      memcpy(x, &raw, sizeof raw);
      const Acc c = coeffs[i];
      BOMF_CUDA_UNROLL
      for (int k = 0; k < kWidth; ++k) {
        acc[k] += c * static_cast<Acc>(Elem<In>::load(x[k]));
      }
    }
    OutRaw y[kWidth];
    BOMF_CUDA_UNROLL
    for (int k = 0; k < kWidth; ++k) {
      y[k] = Elem<Out>::store(acc[k]);
    }
    if constexpr (sizeof y == 8) {  // f32 -> bf16/f16
      uint2 packed;
      memcpy(&packed, y, sizeof packed);
      store_packed(reinterpret_cast<uint2*>(out) + v, packed);
    } else {  // 16 bytes, or 32 for bf16/f16 -> f32: one or two 16-byte stores
      static_assert(sizeof y % 16 == 0, "a vector's output is 8, 16 or 32 bytes");
      constexpr int kStores = static_cast<int>(sizeof y / 16);
      BOMF_CUDA_UNROLL
      for (int s = 0; s < kStores; ++s) {
        uint4 packed;
        memcpy(&packed, reinterpret_cast<const unsigned char*>(y) + 16 * s, sizeof packed);
        store_packed(reinterpret_cast<uint4*>(out) + kStores * v + s, packed);
      }
    }
  }
};

}  // namespace bomf::cuda::kernels
