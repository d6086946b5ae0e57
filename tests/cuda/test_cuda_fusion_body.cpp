// The CUDA fusion kernel's thread body (src/cuda/fusion_body.cuh) run on the host: every
// (block, thread) of a launch, in reverse order, over buffers sized exactly to the data, built
// with AddressSanitizer (tests/cuda/CMakeLists.txt). This checks the index arithmetic, the
// vector/tail split, the packed stores and the dtype conversions on a machine without a GPU;
// test_cuda_fusion.cpp checks the same results on a device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "cuda/fusion_body.cuh"
#include "storage_bits.hpp"

namespace bomf {
namespace {

using cuda::kernels::fuse_blocks;
using cuda::kernels::fuse_vector_width;
using cuda::kernels::FuseThread;
using cuda::kernels::kFuseMaxBlocks;
using cuda::kernels::kFuseThreads;

struct AlignedDelete {
  void operator()(unsigned char* p) const { ::operator delete (p, std::align_val_t{16}); }
};
using AlignedBuffer = std::unique_ptr<unsigned char, AlignedDelete>;

/// `bytes` of heap memory at a 16-byte boundary, nothing more (so AddressSanitizer sees any
/// read or write past the end).
AlignedBuffer aligned_buffer(std::size_t bytes) {
  return AlignedBuffer(static_cast<unsigned char*>(::operator new (bytes, std::align_val_t{16})));
}

/// Unit roundoff of a storage type.
double roundoff(FusionDtype dtype) {
  return dtype == FusionDtype::f32    ? 0x1.0p-24
         : dtype == FusionDtype::f64  ? 0x1.0p-53
         : dtype == FusionDtype::bf16 ? 0x1.0p-8
                                      : 0x1.0p-11;
}

struct Launch {
  std::size_t blocks;
  std::size_t threads;
};

/// A random input element of dtype `in` (magnitude below 8), or ±∞ when `infinite`, encoded
/// with the test's own bit-level conversions.
template <FusionDtype In>
typename cuda::kernels::Elem<In>::Raw random_input(std::mt19937& rng, bool infinite) {
  const float inf = std::numeric_limits<float>::infinity();
  const float value =
      infinite ? (rng() % 2 ? inf : -inf) : std::uniform_real_distribution<float>(-4.0f, 4.0f)(rng);
  if constexpr (In == FusionDtype::bf16) {
    return test::to_bf16(value);
  } else if constexpr (In == FusionDtype::f16) {
    return infinite ? static_cast<std::uint16_t>(value > 0 ? 0x7C00 : 0xFC00)
                    : test::f16_from_random_bits(static_cast<std::uint32_t>(rng()));
  } else {
    return value;
  }
}

/// The value of a stored element, decoded with the test's own bit-level conversions.
template <FusionDtype D>
double decode(typename cuda::kernels::Elem<D>::Raw raw) {
  if constexpr (D == FusionDtype::bf16) {
    return test::from_bf16(raw);
  } else if constexpr (D == FusionDtype::f16) {
    return test::from_f16(raw);
  } else {
    return raw;
  }
}

/// Fuses `n` random members of `count` elements with the thread body, launched as `launch`,
/// and compares every output element with a double-precision reference. `offset` elements in
/// front of every buffer make the pointers unaligned (the kernel then runs unvectorized, as
/// launch_fuse does). `special` puts ±∞ into member 0 at a few elements.
///
/// Where the grid is small enough (count · threads ≤ 2^24), every thread runs on an output
/// of marker bytes that is scanned and reset after it: each element must be written by
/// exactly one thread (two threads writing one element race on a device).
template <FusionDtype In, FusionDtype Out>
void check_fusion(std::size_t n, std::size_t count, Launch launch, std::size_t offset,
                  bool special = false) {
  using Thread = FuseThread<In, Out>;
  using InRaw = typename Thread::InRaw;
  using OutRaw = typename Thread::OutRaw;
  using Acc = typename Thread::Acc;
  const bool vectorized = offset == 0;
  const std::size_t stride = launch.blocks * launch.threads;
  SCOPED_TRACE(std::string(fusion_dtype_name(In)) + " -> " + fusion_dtype_name(Out) +
               ", n = " + std::to_string(n) + ", count = " + std::to_string(count) + ", grid " +
               std::to_string(launch.blocks) + " x " + std::to_string(launch.threads) +
               (vectorized ? ", vectorized" : ", unaligned"));

  std::mt19937 rng(static_cast<unsigned>(count * 31 + n));
  std::vector<Acc> coeffs(n);
  for (auto& c : coeffs) {
    c = static_cast<Acc>(std::uniform_real_distribution<double>(-2.0, 2.0)(rng));
  }
  std::vector<AlignedBuffer> buffers;
  buffers.reserve(n);
  std::vector<const InRaw*> members(n);
  std::vector<double> reference(count, 0.0);
  std::vector<double> magnitude(count, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    buffers.push_back(aligned_buffer((offset + count) * sizeof(InRaw)));
    auto* raw = reinterpret_cast<InRaw*>(buffers.back().get()) + offset;
    for (std::size_t j = 0; j < count; ++j) {
      raw[j] = random_input<In>(rng, special && i == 0 && j % 97 == 5);
      const double term = static_cast<double>(coeffs[i]) * decode<In>(raw[j]);
      reference[j] += term;
      magnitude[j] += std::fabs(term);
    }
    members[i] = raw;
  }

  // Marker: all bits set, a NaN in every format, which no finite or infinite sum rounds to.
  const AlignedBuffer out_buffer = aligned_buffer((offset + count) * sizeof(OutRaw));
  auto* out = reinterpret_cast<OutRaw*>(out_buffer.get()) + offset;
  std::memset(out, 0xFF, count * sizeof(OutRaw));
  const auto is_marker = [&](std::size_t j) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(out + j);
    return std::all_of(bytes, bytes + sizeof(OutRaw), [](unsigned char b) { return b == 0xFF; });
  };
  std::vector<OutRaw> result(count);
  if (count * stride <= (std::size_t{1} << 24)) {
    std::vector<std::size_t> writer(count, stride);  // stride: nobody yet
    for (std::size_t t = stride; t-- > 0;) {
      Thread::run(members.data(), coeffs.data(), n, out, count, vectorized, t, stride);
      for (std::size_t j = 0; j < count; ++j) {
        if (!is_marker(j)) {
          ASSERT_EQ(writer[j], stride)
              << "element " << j << " written by threads " << writer[j] << " and " << t;
          writer[j] = t;
          result[j] = out[j];
          std::memset(out + j, 0xFF, sizeof(OutRaw));
        }
      }
    }
    for (std::size_t j = 0; j < count; ++j) {
      ASSERT_LT(writer[j], stride) << "element " << j << " written by no thread";
    }
  } else {
    for (std::size_t t = stride; t-- > 0;) {
      Thread::run(members.data(), coeffs.data(), n, out, count, vectorized, t, stride);
    }
    for (std::size_t j = 0; j < count; ++j) {
      ASSERT_FALSE(is_marker(j)) << "element " << j << " written by no thread";
      result[j] = out[j];
    }
  }

  const double u_out = roundoff(Out);
  const double u_acc = roundoff(In == FusionDtype::f64 ? FusionDtype::f64 : FusionDtype::f32);
  // Half the spacing of fp16 subnormals; the other outputs' subnormals are far below any sum
  // here, so no absolute term would hide an f64 kernel that accumulates in fp32.
  const double u_subnormal = Out == FusionDtype::f16 ? 0x1.0p-25 : 0.0;
  for (std::size_t j = 0; j < count; ++j) {
    const double got = decode<Out>(result[j]);
    if (std::isinf(reference[j])) {
      ASSERT_EQ(got, reference[j]) << "element " << j;
      continue;
    }
    const double bound = u_out * std::fabs(reference[j]) + u_subnormal + n * u_acc * magnitude[j];
    ASSERT_LE(std::fabs(got - reference[j]), bound)
        << "element " << j << ": got " << got << ", expected " << reference[j];
  }
}

/// The grids the test runs: the one launch_fuse picks for `count`, and a few small ones
/// whose threads each take several vectors and tail elements.
template <FusionDtype In>
std::vector<Launch> launches(std::size_t count, bool vectorized) {
  return {{fuse_blocks(count, In, vectorized), kFuseThreads}, {1, 1}, {1, 3}, {2, 32}};
}

template <FusionDtype In, FusionDtype Out>
void check_all_shapes() {
  constexpr std::size_t w = fuse_vector_width(In);
  // Empty, shorter than one vector, whole vectors, vectors plus every tail length, and a count
  // that spans several blocks of the launch_fuse grid.
  std::vector<std::size_t> counts = {0, 1, w - 1, w, w + 1, 2 * w - 1, 3 * w, 3 * w + 2, 4096 + 3};
  for (std::size_t n : {1, 2, 15}) {
    for (std::size_t count : counts) {
      for (std::size_t offset : {0, 1}) {
        for (Launch launch : launches<In>(count, offset == 0)) {
          check_fusion<In, Out>(n, count, launch, offset);
          if (::testing::Test::HasFatalFailure()) {
            return;
          }
        }
      }
    }
  }
  const std::size_t large = 100003;
  for (std::size_t offset : {0, 1}) {
    check_fusion<In, Out>(5, large, launches<In>(large, offset == 0).front(), offset, true);
  }
}

TEST(CudaFusionBody, LaunchGridCoversOneThreadPerVector) {
  EXPECT_EQ(fuse_blocks(0, FusionDtype::f32, true), 1U);
  EXPECT_EQ(fuse_blocks(0, FusionDtype::f32, false), 1U);
  // 4 · 256 fp32 elements are 256 vectors: one block, plus one thread for a tail.
  EXPECT_EQ(fuse_blocks(4 * 256 - 1, FusionDtype::f32, true), 1U);
  EXPECT_EQ(fuse_blocks(4 * 256, FusionDtype::f32, true), 2U);
  EXPECT_EQ(fuse_blocks(8 * 256 - 1, FusionDtype::bf16, true), 1U);
  EXPECT_EQ(fuse_blocks(2 * 256 - 1, FusionDtype::f64, true), 1U);
  EXPECT_EQ(fuse_blocks(257, FusionDtype::f16, false), 2U);
  EXPECT_EQ(fuse_blocks(std::size_t{1} << 40, FusionDtype::f32, true), kFuseMaxBlocks);
}

template <FusionDtype InDtype, FusionDtype OutDtype>
struct DtypePair {
  static constexpr FusionDtype in = InDtype;
  static constexpr FusionDtype out = OutDtype;
};

struct DtypePairName {
  template <class Pair>
  static std::string GetName(int) {
    return std::string(fusion_dtype_name(Pair::in)) + "_to_" + fusion_dtype_name(Pair::out);
  }
};

template <class Pair>
class CudaFusionBodyDtypes : public ::testing::Test {};

// Every pair the kernel instantiates: fp32/bf16/fp16 among themselves, and f64 to f64.
using AllDtypePairs = ::testing::Types<
    DtypePair<FusionDtype::f32, FusionDtype::f32>, DtypePair<FusionDtype::f32, FusionDtype::bf16>,
    DtypePair<FusionDtype::f32, FusionDtype::f16>, DtypePair<FusionDtype::bf16, FusionDtype::bf16>,
    DtypePair<FusionDtype::bf16, FusionDtype::f32>, DtypePair<FusionDtype::bf16, FusionDtype::f16>,
    DtypePair<FusionDtype::f16, FusionDtype::f16>, DtypePair<FusionDtype::f16, FusionDtype::f32>,
    DtypePair<FusionDtype::f16, FusionDtype::bf16>, DtypePair<FusionDtype::f64, FusionDtype::f64>>;
TYPED_TEST_SUITE(CudaFusionBodyDtypes, AllDtypePairs, DtypePairName);

TYPED_TEST(CudaFusionBodyDtypes, EveryThreadOfTheLaunchMatchesTheReference) {
  check_all_shapes<TypeParam::in, TypeParam::out>();
}

}  // namespace
}  // namespace bomf
