// The fusion block loop is compiled twice (baseline x86-64 and AVX2 + F16C,
// src/fusion/fuse_blocks.hpp) and chosen at run time. Both builds must give bit-identical
// results, for every storage-type pair, for block-aligned sizes and for tails, and on special
// values (signed zeros, subnormals, infinities, quiet and signalling NaNs; only the payload of a
// NaN made from two NaNs may differ), so that a fused model does not depend on the CPU it was
// fused on.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "bomf/fusion/fuse_kernel.hpp"
#include "fusion/fuse_blocks.hpp"

namespace {

using bomf::FusionDtype;

/// Bit patterns of special values of `dtype`: ±0, the smallest and largest subnormals, the
/// smallest normal, the largest finite, ±∞, a quiet NaN with a payload and a signalling NaN.
std::vector<std::uint64_t> special_values(FusionDtype dtype) {
  switch (dtype) {
    case FusionDtype::f16:
      return {0x0000, 0x8000, 0x0001, 0x83FF, 0x0400, 0x7BFF, 0x7C00, 0xFC00, 0x7E05, 0x7D01};
    case FusionDtype::bf16:
      return {0x0000, 0x8000, 0x0001, 0x807F, 0x0080, 0x7F7F, 0x7F80, 0xFF80, 0x7FC5, 0x7F81};
    case FusionDtype::f32:
      return {0x00000000, 0x80000000, 0x00000001, 0x807FFFFF, 0x00800000,
              0x7F7FFFFF, 0x7F800000, 0xFF800000, 0x7FC00005, 0x7F800001};
    case FusionDtype::f64:
      return {0x0000000000000000, 0x8000000000000000, 0x0000000000000001, 0x800FFFFFFFFFFFFF,
              0x0010000000000000, 0x7FEFFFFFFFFFFFFF, 0x7FF0000000000000, 0xFFF0000000000000,
              0x7FF8000000000005, 0x7FF0000000000001};
  }
  return {};
}

/// `count` random elements of `dtype`, standard normal (rounded by truncation), with each element
/// replaced by a special value with probability `special_rate`.
std::vector<unsigned char> random_buffer(FusionDtype dtype, std::size_t count, std::mt19937& rng,
                                         double special_rate = 0.0) {
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const std::vector<std::uint64_t> specials = special_values(dtype);
  const std::size_t size = bomf::fusion_dtype_size(dtype);
  std::vector<unsigned char> bytes(count * size);
  for (std::size_t i = 0; i < count; ++i) {
    if (uniform(rng) < special_rate) {
      const std::uint64_t bits = specials[rng() % specials.size()];
      std::memcpy(&bytes[i * size], &bits, size);  // little-endian: the low `size` bytes
      continue;
    }
    const double v = normal(rng);
    const auto f = static_cast<float>(v);
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    switch (dtype) {
      case FusionDtype::f64:
        std::memcpy(&bytes[i * size], &v, size);
        break;
      case FusionDtype::f32:
        std::memcpy(&bytes[i * size], &f, size);
        break;
      case FusionDtype::bf16: {  // truncation is fine for test data
        const auto h = static_cast<std::uint16_t>(u >> 16);
        std::memcpy(&bytes[i * size], &h, size);
        break;
      }
      case FusionDtype::f16: {  // a random finite half: sign, exponent 1..30, mantissa
        const auto h = static_cast<std::uint16_t>(((u >> 16) & 0x8000U) |
                                                  ((1U + rng() % 30U) << 10) | (rng() & 0x3FFU));
        std::memcpy(&bytes[i * size], &h, size);
        break;
      }
    }
  }
  return bytes;
}

/// True when the `dtype` element with bit pattern `bits` is a NaN.
bool is_nan(FusionDtype dtype, std::uint64_t bits) {
  switch (dtype) {
    case FusionDtype::f16:
      return (bits & 0x7FFFU) > 0x7C00U;
    case FusionDtype::bf16:
      return (bits & 0x7FFFU) > 0x7F80U;
    case FusionDtype::f32:
      return (bits & 0x7FFFFFFFU) > 0x7F800000U;
    case FusionDtype::f64:
      return (bits & 0x7FFFFFFFFFFFFFFFU) > 0x7FF0000000000000U;
  }
  return false;
}

/// Index of the first element of `dtype` whose bits differ between `a` and `b`, other than two
/// NaNs (when two NaN operands meet, IEEE 754 leaves open whose payload the result carries, and
/// compilers commute additions freely); the element count when there is none.
std::size_t first_mismatch(FusionDtype dtype, const std::vector<unsigned char>& a,
                           const std::vector<unsigned char>& b) {
  const std::size_t size = bomf::fusion_dtype_size(dtype);
  for (std::size_t j = 0; j * size < a.size(); ++j) {
    std::uint64_t x = 0;
    std::uint64_t y = 0;
    std::memcpy(&x, &a[j * size], size);
    std::memcpy(&y, &b[j * size], size);
    if (x != y && !(is_nan(dtype, x) && is_nan(dtype, y))) {
      return j;
    }
  }
  return a.size() / size;
}

/// Fuses random buffers with both builds for every storage-type pair and compares the bytes.
void expect_builds_bit_identical(double special_rate, std::uint32_t seed) {
  const FusionDtype dtypes[] = {FusionDtype::f32, FusionDtype::bf16, FusionDtype::f16,
                                FusionDtype::f64};
  std::mt19937 rng(seed);
  for (const std::size_t members : {1UL, 2UL, 3UL, 7UL, 15UL}) {
    // Tails only, one whole block (two fp64 tiles), several blocks and a tail.
    constexpr std::size_t block = bomf::detail::kFuseBlock;
    for (const std::size_t count : {1UL, 5UL, 4096UL + 3UL, block, 3 * block + 17UL}) {
      for (const FusionDtype in : dtypes) {
        for (const FusionDtype out : dtypes) {
          std::vector<std::vector<unsigned char>> data;
          std::vector<const void*> pointers;
          std::vector<double> coeffs;
          std::uniform_real_distribution<double> uniform(-0.5, 1.5);
          for (std::size_t i = 0; i < members; ++i) {
            data.push_back(random_buffer(in, count, rng, special_rate));
            coeffs.push_back(uniform(rng));
          }
          for (const auto& d : data)
            pointers.push_back(d.data());
          const std::size_t out_bytes = count * bomf::fusion_dtype_size(out);
          std::vector<unsigned char> a(out_bytes, 0xAB);
          std::vector<unsigned char> b(out_bytes, 0xCD);
          const std::size_t blocks =
              (count + bomf::detail::kFuseBlock - 1) / bomf::detail::kFuseBlock;
          bomf::detail::FuseTask task{
              pointers.data(), members, coeffs.data(), a.data(), in, out, count};
          bomf::detail::fuse_blocks_baseline(task, 0, blocks);
          task.out = b.data();
          bomf::detail::fuse_blocks_avx2(task, 0, blocks);
          const std::size_t mismatch = first_mismatch(out, a, b);
          ASSERT_EQ(mismatch, count)
              << "element " << mismatch << ": " << members << " members, " << count
              << " elements, in " << bomf::fusion_dtype_name(in) << ", out "
              << bomf::fusion_dtype_name(out) << ", special-value rate " << special_rate;
        }
      }
    }
  }
}

bool cpu_runs_avx2_build() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
}

TEST(FuseKernelIsa, BaselineAndAvx2BuildsAreBitIdentical) {
  if (!cpu_runs_avx2_build()) {
    GTEST_SKIP() << "this CPU lacks AVX2 or F16C: only the baseline build can run";
  }
  EXPECT_TRUE(bomf::fuse_kernel_uses_avx2());
  expect_builds_bit_identical(0.0, 7);
}

TEST(FuseKernelIsa, BaselineAndAvx2BuildsAgreeOnSpecialValues) {
  if (!cpu_runs_avx2_build()) {
    GTEST_SKIP() << "this CPU lacks AVX2 or F16C: only the baseline build can run";
  }
  // One element in ten special: zeros, subnormals (widened exactly, or flushed by a product),
  // infinities (∞ − ∞ makes NaNs), NaN payloads through the conversions and the products.
  expect_builds_bit_identical(0.1, 11);
}

}  // namespace
