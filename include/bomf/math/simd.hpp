// bomf/math/simd.hpp — lane-wise exp, log and log1p on short packs of doubles, and the run-time
// choice between bomf's generic kernels and their AVX2 builds.
//
// qLogNEHVI spends most of its time in exp and log over thousands of independent values per
// evaluation (one per box-decomposition cell and sample). libm evaluates them one at a time
// (≈ 12 cycles each here); these branch-free polynomial versions evaluate 2 (SSE2) or 4 (AVX2)
// at once. They are written with GCC/Clang vector extensions, so one source serves both widths:
// a kernel is a template over the pack type `V` (pack2 or pack4), instantiated once for the
// compiler's baseline and once inside a function compiled with `target("avx2")`, chosen at run
// time by `simd::path()`.
//
// Determinism: every lane performs the same IEEE operations in the same order whatever the pack
// width, no fused multiply-add is enabled (target "avx2" only, and the polynomials are written
// as separate products and sums), and the kernels never reduce across lanes. So the generic and
// the AVX2 builds give bit-identical results (tests/math/test_simd.cpp checks this), and
// bomf's results do not depend on the machine's vector unit.
//
// Accuracy (measured against glibc over 10⁶ random arguments each, tests check ≤ 2 ulp):
// exp ≤ 1 ulp on [−745, 709.78] (0 below −745.13, +∞ above 709.78, subnormal results
// correctly rounded by a final scaling), log ≤ 1 ulp for every positive double including
// subnormals (log 0 = −∞, log of a negative number = NaN, log ∞ = ∞), log1p ≤ 2 ulp on
// [0, 2⁵²). NaN in, NaN out.
//
// Methods (textbook; coefficients fitted for this file with mpmath's Chebyshev fit, see
// docs/iteration_speed.md): exp(x) = 2^k e^r with k = round(x / ln 2), r = x − k ln 2 in two
// parts (Cody & Waite 1980), e^r = 1 + r + r² q(r) with q of degree 10 (error < 2e-18 on
// |r| ≤ ln2/2), evaluated by Estrin's scheme; log(x) = k ln 2 + log(1 + f) with 1 + f in
// [√2/2, √2), log(1 + f) = f − (f²/2 − s (f²/2 + T(s²))), s = f/(2 + f), T of degree 8 in s²
// (the atanh series, as fdlibm arranges it); log1p(x) = log(w) − ((w − 1) − x)/w, w = 1 + x
// (the rounding of w corrected to first order).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>

#if defined(__x86_64__) || defined(__i386__)
#define BOMF_SIMD_X86 1
#include <immintrin.h>
#else
#define BOMF_SIMD_X86 0
#include <cmath>
#endif

/// Forces inlining of the pack helpers into the kernel that instantiates them, so that they are
/// compiled for that kernel's target (and never passed by value across a call: no ABI issue).
#define BOMF_SIMD_INLINE inline __attribute__((always_inline))

namespace bomf::simd {

/// Two doubles (one SSE2 / NEON register): the generic kernels' pack.
typedef double pack2 __attribute__((vector_size(16)));
/// Four doubles (one AVX2 register): the AVX2 kernels' pack.
typedef double pack4 __attribute__((vector_size(32)));
typedef std::uint64_t upack2 __attribute__((vector_size(16)));
typedef std::uint64_t upack4 __attribute__((vector_size(32)));

/// Number of doubles in a pack, and its unsigned 64-bit counterpart (same size, for bit casts).
template <class V>
struct pack_traits;
template <>
struct pack_traits<pack2> {
  static constexpr int lanes = 2;
  using bits = upack2;
};
template <>
struct pack_traits<pack4> {
  static constexpr int lanes = 4;
  using bits = upack4;
};

/// The widest pack any kernel uses: arrays that kernels sweep are padded to a multiple of it.
inline constexpr int max_lanes = 4;

/// Rounds n up to a multiple of max_lanes.
template <class Int>
constexpr Int padded_size(Int n) noexcept {
  return (n + max_lanes - 1) / max_lanes * max_lanes;
}

/// Pack helpers take and return packs by reference only: a pack of four doubles passed by
/// value to a function compiled without AVX would change the calling convention (-Wpsabi).
template <class V>
BOMF_SIMD_INLINE void load(V& v, const double* p) noexcept {
  std::memcpy(&v, p, sizeof(V));
}
template <class V>
BOMF_SIMD_INLINE void store(double* p, const V& v) noexcept {
  std::memcpy(p, &v, sizeof(V));
}
template <class V>
BOMF_SIMD_INLINE void broadcast(V& v, double a) noexcept {
  v = V{} + a;
}
/// v ← (base[index[0]], base[index[1]], …): lanes built in registers (a scalar copy to memory
/// and a pack load would stall store-to-load forwarding).
BOMF_SIMD_INLINE void gather(pack2& v, const double* base, const std::int32_t* index) noexcept {
  v = pack2{base[index[0]], base[index[1]]};
}
BOMF_SIMD_INLINE void gather(pack4& v, const double* base, const std::int32_t* index) noexcept {
  v = pack4{base[index[0]], base[index[1]], base[index[2]], base[index[3]]};
}

/// x ← √x, lane-wise, correctly rounded (the hardware square root, as std::sqrt). The pack of
/// four uses two SSE2 square roots: a helper compiled for the baseline cannot inline an AVX one.
#if BOMF_SIMD_X86
BOMF_SIMD_INLINE void sqrt_in_place(pack2& x) noexcept {
  x = (pack2)_mm_sqrt_pd((__m128d)x);
}
BOMF_SIMD_INLINE void sqrt_in_place(pack4& x) noexcept {
  pack2 low = {x[0], x[1]};
  pack2 high = {x[2], x[3]};
  sqrt_in_place(low);
  sqrt_in_place(high);
  x = pack4{low[0], low[1], high[0], high[1]};
}
#else
template <class V>
BOMF_SIMD_INLINE void sqrt_in_place(V& x) noexcept {
  for (int j = 0; j < pack_traits<V>::lanes; ++j) {
    x[j] = std::sqrt(x[j]);
  }
}
#endif

/// x ← exp(x), lane-wise (see the file comment for the accuracy and the special values).
template <class V>
BOMF_SIMD_INLINE void exp_in_place(V& x) noexcept {
  using U = typename pack_traits<V>::bits;
  constexpr double log2e = 0x1.71547652b82fep0;
  constexpr double shifter = 0x1.8p52;             // round-to-integer by addition
  constexpr double ln2_hi = 0x1.62e42fefa3800p-1;  // 42 bits: k·ln2_hi is exact for |k| < 2¹¹
  constexpr double ln2_lo = 0x1.ef35793c76730p-45;
  constexpr double lowest = -745.2;  // exp(x) < 2⁻¹⁰⁷⁵ below: 0
  constexpr double highest = 709.8;  // exp(x) > DBL_MAX above: ∞
  V zero{};
  V xc = x < lowest ? zero + lowest : x;
  xc = xc > highest ? zero + highest : xc;
  xc = x != x ? zero : xc;
  V kd = xc * log2e + shifter;
  const U k = (U)kd;  // its low bits hold round(x / ln 2) in two's complement
  kd -= shifter;
  const V r = (xc - kd * ln2_hi) - kd * ln2_lo;
  const V r2 = r * r;
  const V r4 = r2 * r2;
  const V r8 = r4 * r4;
  // q(r) ≈ (e^r − 1 − r)/r², degree 10, Estrin's scheme.
  const V c01 = 0.5 + r * 0x1.5555555555557p-3;
  const V c23 = 0x1.5555555555556p-5 + r * 0x1.11111111100dfp-7;
  const V c45 = 0x1.6c16c16c162d6p-10 + r * 0x1.a01a01abe62ddp-13;
  const V c67 = 0x1.a01a01a6d7808p-16 + r * 0x1.71de02375656cp-19;
  const V c89 = 0x1.27e4db67b4303p-22 + r * 0x1.af4ddd84882fep-26;
  const V q = (c01 + r2 * c23) + r4 * (c45 + r2 * c67) + r8 * (c89 + r2 * 0x1.1f72fc730b4ffp-29);
  const V p = 1.0 + (r + r2 * q);
  // p · 2^k by adding k to the exponent field; outside |x| ≤ 700 in two steps (k ∓ 64, then
  // × 2^±64) so that subnormal and near-overflow results are rounded correctly.
  const auto low = x < -700.0;
  const auto high = x > 700.0;
  const U adjust = low ? U{} + 64 : (high ? U{} - 64 : U{});
  const V scale = low ? zero + 0x1p-64 : (high ? zero + 0x1p64 : zero + 1.0);
  V y = (V)((U)p + ((k + adjust) << 52)) * scale;
  y = x < lowest ? zero : y;
  y = x > highest ? zero + std::numeric_limits<double>::infinity() : y;
  x = x != x ? x : y;
}

/// x ← log(x), lane-wise (see the file comment).
template <class V>
BOMF_SIMD_INLINE void log_in_place(V& x) noexcept {
  using U = typename pack_traits<V>::bits;
  constexpr double ln2_hi = 0x1.62e42fefa3800p-1;
  constexpr double ln2_lo = 0x1.ef35793c76730p-45;
  V zero{};
  const auto subnormal = x < 0x1p-1022;
  const V xs = subnormal ? x * 0x1p54 : x;
  const U u = (U)xs;
  // Split x = 2^k (1 + f) with 1 + f in [√2/2, √2): subtracting the bits of √2/2 leaves k in
  // the exponent field (12-bit two's complement after the shift, sign-extended by hand since
  // SSE2 has no 64-bit arithmetic shift).
  const U t = u - 0x3fe6a09e667f3bcdULL;
  const U field = t >> 52;
  const U k = field - ((field & 0x800U) << 1);
  const V one_plus_f = (V)(u - (k << 52));
  // k as a double: k + 1.5·2⁵² is exact in the mantissa of 1.5·2⁵².
  const V kd = (V)(k + 0x4338000000000000ULL) - 0x1.8p52 - (subnormal ? zero + 54.0 : zero);
  const V f = one_plus_f - 1.0;
  const V s = f / (2.0 + f);
  const V z = s * s;
  const V z2 = z * z;
  const V z4 = z2 * z2;
  // T(z) ≈ 2 atanh(s)/s − 2, degree 8 in z, Estrin's scheme.
  const V c01 = 0x1.5555555555555p-1 + z * 0x1.9999999999a38p-2;
  const V c23 = 0x1.2492492476cccp-2 + z * 0x1.c71c720159177p-3;
  const V c45 = 0x1.745cf9048dd95p-3 + z * 0x1.3b1c355a8f7a2p-3;
  const V c67 = 0x1.0fbe95d716020p-3 + z * 0x1.0c039c49989c6p-3;
  const V T = z * ((c01 + z2 * c23) + z4 * (c45 + z2 * c67));
  const V half_f2 = 0.5 * f * f;
  const V log1pf = f - (half_f2 - s * (half_f2 + T));
  V y = kd * ln2_hi + (log1pf + kd * ln2_lo);
  y = x == 0.0 ? zero - std::numeric_limits<double>::infinity() : y;
  y = x < 0.0 ? zero + std::numeric_limits<double>::quiet_NaN() : y;
  y = x == std::numeric_limits<double>::infinity() ? x : y;
  x = x != x ? x : y;
}

/// x ← log(1 + x), lane-wise, for 0 ≤ x < 2⁵² (the rounding of 1 + x is corrected to first
/// order; w − 1 is exact there).
template <class V>
BOMF_SIMD_INLINE void log1p_in_place(V& x) noexcept {
  const V w = 1.0 + x;
  V lw = w;
  log_in_place(lw);
  x = lw - ((w - 1.0) - x) / w;
}

/// The kernel builds bomf can run.
enum class Path {
  generic,  ///< packs of two doubles with the compiler's baseline instructions (SSE2 on x86-64)
  avx2,     ///< packs of four doubles, compiled for AVX2 (no FMA: results equal generic's)
};

namespace detail {

inline std::atomic<int>& forced_path() {
  static std::atomic<int> forced{-1};
  return forced;
}

inline Path detect_path() noexcept {
  const char* env = std::getenv("BOMF_SIMD");
  if (env != nullptr && std::strcmp(env, "generic") == 0) {
    return Path::generic;
  }
#if BOMF_SIMD_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) {
    return Path::avx2;
  }
#endif
  return Path::generic;
}

}  // namespace detail

/// The kernel build used now: the one forced by `force_path`, else AVX2 when the CPU has it
/// (and the environment variable BOMF_SIMD is not "generic"), else generic. Detected once.
inline Path path() noexcept {
  const int forced = detail::forced_path().load(std::memory_order_relaxed);
  if (forced >= 0) {
    return static_cast<Path>(forced);
  }
  static const Path detected = detail::detect_path();
  return detected;
}

/// Whether this CPU can run the AVX2 kernels.
inline bool avx2_available() noexcept {
#if BOMF_SIMD_X86
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") != 0;
#else
  return false;
#endif
}

/// Forces the kernel build (tests and benchmarks compare the two); `Path::avx2` is ignored on
/// a CPU without AVX2. `reset_path()` returns to the detected one. Affects every thread.
inline void force_path(Path p) noexcept {
  if (p == Path::avx2 && !avx2_available()) {
    p = Path::generic;
  }
  detail::forced_path().store(static_cast<int>(p), std::memory_order_relaxed);
}
inline void reset_path() noexcept {
  detail::forced_path().store(-1, std::memory_order_relaxed);
}

}  // namespace bomf::simd
