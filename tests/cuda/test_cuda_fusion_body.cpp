// The CUDA fusion kernel's thread body (src/cuda/fusion_body.cuh) run on the host: every
// (block, thread) of a launch, in reverse order, over buffers sized exactly to the data, built
// with AddressSanitizer (tests/cuda/CMakeLists.txt). This checks the index arithmetic, the
// vector/tail split, the packed stores and the dtype conversions on a machine without a GPU;
// test_cuda_fusion.cpp checks the same results on a device.
#include <gtest/gtest.h>

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

/// Fuses `n` random members of `count` elements with the thread body, launched as `launch`,
/// and compares every output element with a double-precision reference. `offset` elements in
/// front of every buffer make the pointers unaligned (the kernel then runs unvectorized, as
/// launch_fuse does). `special` puts ±∞ into member 0 at a few elements.
template <FusionDtype In, FusionDtype Out>
void check_fusion(std::size_t n, std::size_t count, Launch launch, std::size_t offset,
                  bool special = false) {
  using Thread = FuseThread<In, Out>;
  using InRaw = typename Thread::InRaw;
  using OutRaw = typename Thread::OutRaw;
  using Acc = typename Thread::Acc;
  using Elem = cuda::kernels::Elem<In>;
  const bool vectorized = offset == 0;
  SCOPED_TRACE(std::string(fusion_dtype_name(In)) + " -> " + fusion_dtype_name(Out) +
               ", n = " + std::to_string(n) + ", count = " + std::to_string(count) + ", grid " +
               std::to_string(launch.blocks) + " x " + std::to_string(launch.threads) +
               (vectorized ? ", vectorized" : ", unaligned"));

  std::mt19937 rng(static_cast<unsigned>(count * 31 + n));
  std::uniform_real_distribution<double> uniform(-4.0, 4.0);
  std::vector<Acc> coeffs(n);
  for (auto& c : coeffs) {
    c = static_cast<Acc>(uniform(rng) / 2.0);
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
      double value = uniform(rng);
      if (special && i == 0 && j % 97 == 5) {
        value = j % 2 ? std::numeric_limits<double>::infinity()
                      : -std::numeric_limits<double>::infinity();
      }
      raw[j] = cuda::kernels::Elem<In>::store(static_cast<Acc>(value));
      const double stored = static_cast<double>(Elem::load(raw[j]));
      reference[j] += static_cast<double>(coeffs[i]) * stored;
      magnitude[j] += std::fabs(static_cast<double>(coeffs[i]) * stored);
    }
    members[i] = raw;
  }
  const AlignedBuffer out_buffer = aligned_buffer((offset + count) * sizeof(OutRaw));
  auto* out = reinterpret_cast<OutRaw*>(out_buffer.get()) + offset;
  const OutRaw canary = cuda::kernels::Elem<Out>::store(static_cast<float>(1234.5));
  for (std::size_t j = 0; j < count; ++j) {
    out[j] = canary;
  }

  const std::size_t stride = launch.blocks * launch.threads;
  for (std::size_t t = stride; t-- > 0;) {
    Thread::run(members.data(), coeffs.data(), n, out, count, vectorized, t, stride);
  }

  const double u_out = roundoff(Out);
  const double u_acc = roundoff(In == FusionDtype::f64 ? FusionDtype::f64 : FusionDtype::f32);
  // Half the spacing of fp16 subnormals; the other outputs' subnormals are far below any sum
  // here, so no absolute term would hide an f64 kernel that accumulates in fp32.
  const double u_subnormal = Out == FusionDtype::f16 ? 0x1.0p-25 : 0.0;
  for (std::size_t j = 0; j < count; ++j) {
    const double got = static_cast<double>(cuda::kernels::Elem<Out>::load(out[j]));
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
