// The fusion block loop is compiled twice (baseline x86-64 and AVX2, src/fusion/fuse_blocks.hpp)
// and chosen at run time. Both builds must give bit-identical results, for every storage-type
// pair, for block-aligned sizes and for tails, so that a fused model does not depend on the CPU
// it was fused on.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "bomf/fusion/fuse_kernel.hpp"
#include "fusion/fuse_blocks.hpp"

namespace {

using bomf::FusionDtype;

std::vector<unsigned char> random_buffer(FusionDtype dtype, std::size_t count, std::mt19937& rng) {
  std::normal_distribution<double> normal(0.0, 1.0);
  const std::size_t size = bomf::fusion_dtype_size(dtype);
  std::vector<unsigned char> bytes(count * size);
  for (std::size_t i = 0; i < count; ++i) {
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

TEST(FuseKernelIsa, BaselineAndAvx2BuildsAreBitIdentical) {
  if (!__builtin_cpu_supports("avx2")) {
    GTEST_SKIP() << "this CPU has no AVX2: only the baseline build can run";
  }
  EXPECT_TRUE(bomf::fuse_kernel_uses_avx2());
  const FusionDtype dtypes[] = {FusionDtype::f32, FusionDtype::bf16, FusionDtype::f16,
                                FusionDtype::f64};
  std::mt19937 rng(7);
  for (const std::size_t members : {1UL, 2UL, 3UL, 7UL, 15UL}) {
    for (const std::size_t count : {1UL, 5UL, 4096UL, 3 * 4096UL + 17UL}) {
      for (const FusionDtype in : dtypes) {
        for (const FusionDtype out : dtypes) {
          std::vector<std::vector<unsigned char>> data;
          std::vector<const void*> pointers;
          std::vector<double> coeffs;
          std::uniform_real_distribution<double> uniform(-0.5, 1.5);
          for (std::size_t i = 0; i < members; ++i) {
            data.push_back(random_buffer(in, count, rng));
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
          ASSERT_EQ(0, std::memcmp(a.data(), b.data(), out_bytes))
              << members << " members, " << count << " elements, in " << static_cast<int>(in)
              << ", out " << static_cast<int>(out);
        }
      }
    }
  }
}

}  // namespace
