// The blocked fusion kernel, compiled twice: by fuse_kernel.cpp for the baseline x86-64 ISA and
// by fuse_kernel_avx2.cpp with -mavx2 -mf16c -ffp-contract=off; fuse_kernel.cpp picks one at run
// time.
// Private to src/. Everything below the declarations is in an anonymous namespace, so each
// translation unit keeps its own copy (no ODR clash between the two instruction sets); the
// file includes no ATen header for the same reason.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__AVX2__) && defined(__F16C__)
#include <immintrin.h>
#endif

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

/// Elements per block, the unit of parallel work. A block is fused one tile at a time: all members
/// are accumulated into a 64 KiB on-stack buffer (16384 fp32 or 8192 fp64 accumulators, held in
/// L2) before the output is written. Long tiles give each member a long contiguous read, which the
/// hardware prefetchers need with 15 streams: on an AMD EPYC (Zen 5), one thread, 15 bf16
/// members of 16M elements, 4096-element tiles ran at 14.4 GB/s and 16384-element ones at 22.0.
constexpr std::size_t kFuseBlock = 16384;

/// Fuses blocks [first_block, last_block) of `task` (baseline ISA).
void fuse_blocks_baseline(const FuseTask& task, std::size_t first_block, std::size_t last_block);
/// The same compiled for AVX2 + F16C (no FMA contraction: results are bit-identical to the
/// baseline build); call only when the CPU has both.
void fuse_blocks_avx2(const FuseTask& task, std::size_t first_block, std::size_t last_block);

namespace {

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

/// `d` rounded to binary32 with round-to-odd: truncated toward zero, and the last mantissa bit
/// set when that dropped anything. Rounding this to a format with at most 11 significant bits
/// (bf16: 8, fp16: 11; round-to-odd to p′ bits then to nearest at p bits is exact for
/// p′ ≥ p + 2, and binary32 has 24) gives the correctly rounded result of `d`,
/// where a plain double → float → 16-bit conversion rounds twice and can land on the wrong side
/// of a tie (1 + 2⁻⁸ + 2⁻³⁰ would become bf16 1.0 instead of 1 + 2⁻⁷). NaN stays NaN.
inline float float_rounded_to_odd(double d) noexcept {
  const float nearest = static_cast<float>(d);  // ±∞ beyond the float range
  if (std::isnan(d) || static_cast<double>(nearest) == d) {
    return nearest;  // exact (or NaN)
  }
  std::uint32_t u = bits_of(nearest);
  if (std::fabs(static_cast<double>(nearest)) > std::fabs(d)) {
    --u;  // rounded away from zero: one step back toward zero (∞ becomes the largest finite)
  }
  return float_of(u | 1U);
}

/// `v` as the fp32 value that the 16-bit conversions below round correctly: itself for an fp32
/// accumulator, the round-to-odd binary32 of an fp64 one.
template <class Acc>
inline float narrowed_for_16_bit(Acc v) noexcept {
  if constexpr (std::is_same_v<Acc, double>) {
    return float_rounded_to_odd(v);
  } else {
    return static_cast<float>(v);
  }
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
    const std::uint16_t bits = bf16_from_float(narrowed_for_16_bit(v));
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
    const std::uint16_t bits = f16_from_float(narrowed_for_16_bit(v));
    std::memcpy(p, &bits, sizeof bits);
  }
};

/// The fixed association of up to four weighted members, shared by the scalar loops and the
/// AVX2 loops (GCC's vector extensions give `__m256` the same operators), so that both builds
/// round identically: c0·x0, c0·x0 + c1·x1, or (c0·x0 + c1·x1) + (c2·x2 + c3·x3).
template <std::size_t K, class V>
inline V weighted_sum(const V (&c)[K], const V (&x)[K]) noexcept {
  static_assert(K == 1 || K == 2 || K == 4, "members are combined one, two or four at a time");
  if constexpr (K == 1) {
    return c[0] * x[0];
  } else if constexpr (K == 2) {
    return c[0] * x[0] + c[1] * x[1];
  } else {
    return (c[0] * x[0] + c[1] * x[1]) + (c[2] * x[2] + c[3] * x[3]);
  }
}

#if defined(__AVX2__) && defined(__F16C__)
#define BOMF_FUSE_AVX2_LOOPS 1
/// Eight consecutive elements of a 16- or 32-bit storage type, widened exactly to fp32 lanes.
/// Written out rather than left to the auto-vectorizer, which GCC 12 defeats for the 16-bit
/// types (it unrolls and jams the member loop into scalar code).
template <FusionDtype In>
inline __m256 load8(const unsigned char* p) noexcept {
  if constexpr (In == FusionDtype::f32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
  } else if constexpr (In == FusionDtype::bf16) {  // bf16 is the top half of a binary32
    const __m128i bits = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(bits), 16));
  } else {
    static_assert(In == FusionDtype::f16, "no eight-lane load for f64");
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
}

/// How far ahead of the loads each member stream is prefetched. With 15 streams the hardware
/// prefetchers fall behind: on an AMD EPYC (Zen 5), one thread, 15 bf16 members of 16M elements
/// ran at 21 GB/s without and 28-29 GB/s with 2-8 KiB of software prefetch (f32: 27 either way).
constexpr std::size_t kPrefetchBytes = 4096;

/// Prefetches the cache line `kPrefetchBytes` after `p`, which may lie past the member's end (a
/// prefetch never faults; the address is formed as an integer, not by pointer arithmetic).
inline void prefetch_ahead(const unsigned char* p) noexcept {
  _mm_prefetch(reinterpret_cast<const char*>(reinterpret_cast<std::uintptr_t>(p) + kPrefetchBytes),
               _MM_HINT_T0);
}
#endif

/// One pass over the accumulators with K members: acc[j] = Σ_k c_k·x_k[j] when `First` (K = 1),
/// else acc[j] += Σ_k c_k·x_k[j], for j < len, in the association of `weighted_sum`.
template <FusionDtype In, std::size_t K, bool First, class Acc>
inline void accumulate(Acc* acc, const unsigned char* const (&x)[K], const Acc (&c)[K],
                       std::size_t len) noexcept {
  constexpr std::size_t in_size = fusion_dtype_size(In);
  std::size_t j = 0;
#ifdef BOMF_FUSE_AVX2_LOOPS
  if constexpr (In != FusionDtype::f64) {
    __m256 cv[K];
    for (std::size_t k = 0; k < K; ++k) {
      cv[k] = _mm256_set1_ps(c[k]);
    }
    const std::size_t vector_len = len - len % 8;
    for (; j < vector_len; j += 8) {  // acc is 64-byte aligned and j a multiple of 8
      __m256 xv[K];
      for (std::size_t k = 0; k < K; ++k) {
        xv[k] = load8<In>(x[k] + j * in_size);
        if ((j * in_size) % 64 == 0) {  // once per cache line
          prefetch_ahead(x[k] + j * in_size);
        }
      }
      const __m256 sum = weighted_sum(cv, xv);
      if constexpr (First) {
        _mm256_store_ps(acc + j, sum);
      } else {
        _mm256_store_ps(acc + j, _mm256_load_ps(acc + j) + sum);
      }
    }
  }
#endif
  for (; j < len; ++j) {
    Acc xs[K];
    for (std::size_t k = 0; k < K; ++k) {
      xs[k] = static_cast<Acc>(Storage<In>::load(x[k] + j * in_size));
    }
    const Acc sum = weighted_sum(c, xs);
    if constexpr (First) {
      acc[j] = sum;
    } else {
      acc[j] += sum;
    }
  }
}

/// Members [i, i + K) of `args`, `first` elements in, and their coefficients in the accumulator
/// type, added to (or, when `First`, stored in) acc[0, len).
template <FusionDtype In, std::size_t K, bool First, class Acc>
inline void accumulate_members(Acc* acc, const FuseTask& args, std::size_t i, std::size_t first,
                               std::size_t len) noexcept {
  const unsigned char* x[K];
  Acc c[K];
  for (std::size_t k = 0; k < K; ++k) {
    x[k] = static_cast<const unsigned char*>(args.members[i + k]) + first * fusion_dtype_size(In);
    c[k] = static_cast<Acc>(args.coeffs[i + k]);
  }
  accumulate<In, K, First>(acc, x, c, len);
}

/// The accumulator type of storage type `In`: fp32, or fp64 for f64.
template <FusionDtype In>
using Accumulator = std::conditional_t<In == FusionDtype::f64, double, float>;

/// Elements per tile: 64 KiB of accumulators.
template <FusionDtype In>
constexpr std::size_t kTile = kFuseBlock * sizeof(float) / sizeof(Accumulator<In>);

/// One tile of `Len` (compile-time, so the loops vectorize) or `len` ≤ kTile elements at `first`.
template <FusionDtype In, FusionDtype Out, std::size_t Len>
inline void fuse_tile(const FuseTask& args, std::size_t first, std::size_t len) noexcept {
  using Acc = Accumulator<In>;
  constexpr std::size_t out_size = fusion_dtype_size(Out);
  if constexpr (Len != 0) {
    len = Len;
  }
  alignas(64) Acc acc[kTile<In>];
  accumulate_members<In, 1, true>(acc, args, 0, first, len);
  // Four members per pass over the accumulators (fewer loads/stores of `acc` per member byte,
  // which matters most for the 16-bit types), then a pair, then a single one.
  std::size_t i = 1;
  for (; i + 3 < args.n; i += 4) {
    accumulate_members<In, 4, false>(acc, args, i, first, len);
  }
  for (; i + 1 < args.n; i += 2) {
    accumulate_members<In, 2, false>(acc, args, i, first, len);
  }
  if (i < args.n) {
    accumulate_members<In, 1, false>(acc, args, i, first, len);
  }
  unsigned char* o = static_cast<unsigned char*>(args.out) + first * out_size;
  for (std::size_t j = 0; j < len; ++j) {
    Storage<Out>::store(o + j * out_size, acc[j]);
  }
}

template <FusionDtype In, FusionDtype Out>
void fuse_range(const FuseTask& task, std::size_t first_block, std::size_t last_block) noexcept {
  constexpr std::size_t tile = kTile<In>;
  const std::size_t end = std::min(last_block * kFuseBlock, task.count);
  for (std::size_t first = first_block * kFuseBlock; first < end; first += tile) {
    if (end - first >= tile) {
      fuse_tile<In, Out, tile>(task, first, tile);
    } else {
      fuse_tile<In, Out, 0>(task, first, end - first);
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
