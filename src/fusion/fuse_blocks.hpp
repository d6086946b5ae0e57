// The blocked fusion kernel, compiled twice: by fuse_kernel.cpp for the baseline x86-64 ISA and
// by fuse_kernel_avx2.cpp with -mavx2 -ffp-contract=off; fuse_kernel.cpp picks one at run time.
// Private to src/. Everything below the declarations is in an anonymous namespace, so each
// translation unit keeps its own copy (no ODR clash between the two instruction sets); the
// file includes no ATen header for the same reason.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "bomf/fusion/fuse_kernel.hpp"

namespace bomf::detail {

/// One fusion call: out = Σ_i coeffs[i] · members[i], `count` elements.
struct FuseTask {
  const void* const* members;
  std::size_t n;
  const double* coeffs;
  void* out;
  FusionDtype in;
  FusionDtype out_dtype;
  std::size_t count;
};

/// Elements per block (16 KiB of fp32 accumulators); blocks are the unit of parallel work.
constexpr std::size_t kFuseBlock = 4096;

/// Fuses blocks [first_block, last_block) of `task` (baseline ISA).
void fuse_blocks_baseline(const FuseTask& task, std::size_t first_block, std::size_t last_block);
/// The same compiled for AVX2 (no FMA contraction: results are bit-identical to the baseline
/// build); call only when the CPU has AVX2.
void fuse_blocks_avx2(const FuseTask& task, std::size_t first_block, std::size_t last_block);

namespace {

constexpr std::size_t kBlock = kFuseBlock;

// Branch-free conversions between fp32 and the 16-bit formats (select by bit masks, so the
// loops that use them vectorize). Rounding is to nearest even; NaN stays NaN, ±∞ stays ±∞.
inline std::uint32_t bits_of(float f) noexcept {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float float_of(std::uint32_t u) noexcept {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

/// All ones when `condition`, else zero.
inline std::uint32_t mask_if(bool condition) noexcept {
  return 0U - static_cast<std::uint32_t>(condition);
}

inline std::uint16_t bf16_from_float(float f) noexcept {
  const std::uint32_t u = bits_of(f);
  const std::uint32_t rounded = (u + 0x7FFFU + ((u >> 16) & 1U)) >> 16;
  const std::uint32_t nan = mask_if((u & 0x7FFFFFFFU) > 0x7F800000U);
  return static_cast<std::uint16_t>((rounded & ~nan) | (((u >> 16) | 0x7FC0U) & nan));
}

/// binary16 → binary32 by rebiasing the exponent with one multiplication (normal numbers, ∞,
/// NaN) or by a magic-number subtraction (subnormals).
inline float float_from_f16(std::uint16_t h) noexcept {
  const std::uint32_t w = static_cast<std::uint32_t>(h) << 16;
  const std::uint32_t sign = w & 0x80000000U;
  const std::uint32_t two_w = w + w;
  const float normal = float_of((two_w >> 4) + (0xE0U << 23)) * 0x1.0p-112f;
  const float subnormal = float_of((two_w >> 17) | (126U << 23)) - 0.5f;
  const std::uint32_t small = mask_if(two_w < (1U << 27));
  return float_of(sign | (bits_of(subnormal) & small) | (bits_of(normal) & ~small));
}

/// binary32 → binary16: scaling by 2^112 · 2^-110 makes the FPU round the mantissa at the
/// binary16 position (including gradual underflow and overflow to ∞).
inline std::uint16_t f16_from_float(float f) noexcept {
  float base = (std::fabs(f) * 0x1.0p+112f) * 0x1.0p-110f;
  const std::uint32_t w = bits_of(f);
  const std::uint32_t shl1_w = w + w;
  const std::uint32_t sign = w & 0x80000000U;
  std::uint32_t bias = shl1_w & 0xFF000000U;
  const std::uint32_t low = mask_if(bias < 0x71000000U);
  bias = (bias & ~low) | (0x71000000U & low);
  base = float_of((bias >> 1) + 0x07800000U) + base;
  const std::uint32_t b = bits_of(base);
  const std::uint32_t nonsign = ((b >> 13) & 0x00007C00U) + (b & 0x00000FFFU);
  const std::uint32_t nan = mask_if(shl1_w > 0xFF000000U);
  return static_cast<std::uint16_t>((sign >> 16) | (nonsign & ~nan) | (0x7E00U & nan));
}

template <FusionDtype D>
struct Storage;

template <>
struct Storage<FusionDtype::f32> {
  static float load(const unsigned char* p) noexcept {
    float v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  template <class Acc>
  static void store(unsigned char* p, Acc v) noexcept {
    const auto f = static_cast<float>(v);
    std::memcpy(p, &f, sizeof f);
  }
};

template <>
struct Storage<FusionDtype::f64> {
  static double load(const unsigned char* p) noexcept {
    double v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  template <class Acc>
  static void store(unsigned char* p, Acc v) noexcept {
    const auto d = static_cast<double>(v);
    std::memcpy(p, &d, sizeof d);
  }
};

template <>
struct Storage<FusionDtype::bf16> {
  static float load(const unsigned char* p) noexcept {
    std::uint16_t bits;
    std::memcpy(&bits, p, sizeof bits);
    return float_of(static_cast<std::uint32_t>(bits) << 16);
  }
  template <class Acc>
  static void store(unsigned char* p, Acc v) noexcept {
    const std::uint16_t bits = bf16_from_float(static_cast<float>(v));
    std::memcpy(p, &bits, sizeof bits);
  }
};

template <>
struct Storage<FusionDtype::f16> {
  static float load(const unsigned char* p) noexcept {
    std::uint16_t bits;
    std::memcpy(&bits, p, sizeof bits);
    return float_from_f16(bits);
  }
  template <class Acc>
  static void store(unsigned char* p, Acc v) noexcept {
    const std::uint16_t bits = f16_from_float(static_cast<float>(v));
    std::memcpy(p, &bits, sizeof bits);
  }
};

/// One block of `Len` (compile-time, so the loops vectorize) or `len` elements at `first`.
template <FusionDtype In, FusionDtype Out, std::size_t Len>
inline void fuse_block(const FuseTask& args, std::size_t first, std::size_t len) noexcept {
  using Acc = std::conditional_t<In == FusionDtype::f64, double, float>;
  using Load = Storage<In>;
  constexpr std::size_t in_size = fusion_dtype_size(In);
  constexpr std::size_t out_size = fusion_dtype_size(Out);
  if constexpr (Len != 0) {
    len = Len;
  }
  alignas(64) Acc acc[kBlock];
  const auto member = [&](std::size_t i) {
    return static_cast<const unsigned char*>(args.members[i]) + first * in_size;
  };
  {
    const auto c = static_cast<Acc>(args.coeffs[0]);
    const unsigned char* x = member(0);
    for (std::size_t j = 0; j < len; ++j) {
      acc[j] = c * static_cast<Acc>(Load::load(x + j * in_size));
    }
  }
  // Four members per pass over the accumulators (fewer L1 loads/stores of `acc` per member
  // byte, which matters most for the 16-bit types), then pairs, then a single one.
  std::size_t i = 1;
  for (; i + 3 < args.n; i += 4) {
    const auto c0 = static_cast<Acc>(args.coeffs[i]);
    const auto c1 = static_cast<Acc>(args.coeffs[i + 1]);
    const auto c2 = static_cast<Acc>(args.coeffs[i + 2]);
    const auto c3 = static_cast<Acc>(args.coeffs[i + 3]);
    const unsigned char* x0 = member(i);
    const unsigned char* x1 = member(i + 1);
    const unsigned char* x2 = member(i + 2);
    const unsigned char* x3 = member(i + 3);
    for (std::size_t j = 0; j < len; ++j) {
      acc[j] += (c0 * static_cast<Acc>(Load::load(x0 + j * in_size)) +
                 c1 * static_cast<Acc>(Load::load(x1 + j * in_size))) +
                (c2 * static_cast<Acc>(Load::load(x2 + j * in_size)) +
                 c3 * static_cast<Acc>(Load::load(x3 + j * in_size)));
    }
  }
  for (; i + 1 < args.n; i += 2) {
    const auto c0 = static_cast<Acc>(args.coeffs[i]);
    const auto c1 = static_cast<Acc>(args.coeffs[i + 1]);
    const unsigned char* x0 = member(i);
    const unsigned char* x1 = member(i + 1);
    for (std::size_t j = 0; j < len; ++j) {
      acc[j] += c0 * static_cast<Acc>(Load::load(x0 + j * in_size)) +
                c1 * static_cast<Acc>(Load::load(x1 + j * in_size));
    }
  }
  if (i < args.n) {
    const auto c = static_cast<Acc>(args.coeffs[i]);
    const unsigned char* x = member(i);
    for (std::size_t j = 0; j < len; ++j) {
      acc[j] += c * static_cast<Acc>(Load::load(x + j * in_size));
    }
  }
  unsigned char* o = static_cast<unsigned char*>(args.out) + first * out_size;
  for (std::size_t j = 0; j < len; ++j) {
    Storage<Out>::store(o + j * out_size, acc[j]);
  }
}

template <FusionDtype In, FusionDtype Out>
void fuse_range(const FuseTask& task, std::size_t first_block, std::size_t last_block) noexcept {
  for (std::size_t b = first_block; b < last_block; ++b) {
    const std::size_t first = b * kBlock;
    const std::size_t left = task.count - first;
    if (left >= kBlock) {
      fuse_block<In, Out, kBlock>(task, first, kBlock);
    } else {
      fuse_block<In, Out, 0>(task, first, left);
    }
  }
}

template <FusionDtype In>
void fuse_range_out(const FuseTask& task, std::size_t b0, std::size_t b1) noexcept {
  switch (task.out_dtype) {
    case FusionDtype::f32:
      return fuse_range<In, FusionDtype::f32>(task, b0, b1);
    case FusionDtype::bf16:
      return fuse_range<In, FusionDtype::bf16>(task, b0, b1);
    case FusionDtype::f16:
      return fuse_range<In, FusionDtype::f16>(task, b0, b1);
    case FusionDtype::f64:
      return fuse_range<In, FusionDtype::f64>(task, b0, b1);
  }
}

/// Fuses blocks [b0, b1) of `task`, dispatching on the storage types.
inline void fuse_range_any(const FuseTask& task, std::size_t b0, std::size_t b1) noexcept {
  switch (task.in) {
    case FusionDtype::f32:
      return fuse_range_out<FusionDtype::f32>(task, b0, b1);
    case FusionDtype::bf16:
      return fuse_range_out<FusionDtype::bf16>(task, b0, b1);
    case FusionDtype::f16:
      return fuse_range_out<FusionDtype::f16>(task, b0, b1);
    case FusionDtype::f64:
      return fuse_range_out<FusionDtype::f64>(task, b0, b1);
  }
}

}  // namespace
}  // namespace bomf::detail
