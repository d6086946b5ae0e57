// The blocked CPU fusion kernel. Compiled with OpenMP so that at::parallel_for spreads blocks
// over libtorch's intra-op threads; the inner loops have compile-time trip counts so that GCC's
// default -O2 cost model vectorizes them.
#include "bomf/fusion/fuse_kernel.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace bomf {
namespace {

constexpr std::size_t kBlock = 4096;       // elements per block (16 KiB of fp32 accumulators)
constexpr std::int64_t kGrainBlocks = 16;  // blocks per task: small tensors stay on one thread

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

struct Args {
  const void* const* members;
  std::size_t n;
  const double* coeffs;
  void* out;
};

/// One block of `Len` (compile-time, so the loops vectorize) or `len` elements at `first`.
template <FusionDtype In, FusionDtype Out, std::size_t Len>
inline void fuse_block(const Args& args, std::size_t first, std::size_t len) noexcept {
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
void fuse_typed(const Args& args, std::size_t count) {
  const auto blocks = static_cast<std::int64_t>((count + kBlock - 1) / kBlock);
  at::parallel_for(0, blocks, kGrainBlocks, [&](std::int64_t b0, std::int64_t b1) {
    for (auto b = static_cast<std::size_t>(b0); b < static_cast<std::size_t>(b1); ++b) {
      const std::size_t first = b * kBlock;
      const std::size_t len = std::min(kBlock, count - first);
      if (len == kBlock) {
        fuse_block<In, Out, kBlock>(args, first, len);
      } else {
        fuse_block<In, Out, 0>(args, first, len);
      }
    }
  });
}

template <FusionDtype In>
void fuse_out(const Args& args, FusionDtype out, std::size_t count) {
  switch (out) {
    case FusionDtype::f32:
      return fuse_typed<In, FusionDtype::f32>(args, count);
    case FusionDtype::bf16:
      return fuse_typed<In, FusionDtype::bf16>(args, count);
    case FusionDtype::f16:
      return fuse_typed<In, FusionDtype::f16>(args, count);
    case FusionDtype::f64:
      return fuse_typed<In, FusionDtype::f64>(args, count);
  }
}

}  // namespace

void fuse_buffers(const void* const* members, std::size_t n_members, const double* coeffs,
                  FusionDtype in, void* out, FusionDtype out_dtype, std::size_t count) {
  if (count == 0 || n_members == 0) {
    return;
  }
  const Args args{members, n_members, coeffs, out};
  switch (in) {
    case FusionDtype::f32:
      return fuse_out<FusionDtype::f32>(args, out_dtype, count);
    case FusionDtype::bf16:
      return fuse_out<FusionDtype::bf16>(args, out_dtype, count);
    case FusionDtype::f16:
      return fuse_out<FusionDtype::f16>(args, out_dtype, count);
    case FusionDtype::f64:
      return fuse_out<FusionDtype::f64>(args, out_dtype, count);
  }
}

}  // namespace bomf
