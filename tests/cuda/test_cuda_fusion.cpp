// The CUDA fusion kernel against a double-precision host reference. Skipped without a GPU; on a
// machine without one, only the "no GPU" behaviour is checked.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/cuda/device.hpp"
#include "bomf/cuda/fusion.hpp"
#include "storage_bits.hpp"
#include "support/error_message.hpp"

namespace bomf {
namespace {

using test::f16_from_random_bits;
using test::from_bf16;
using test::from_f16;
using test::to_bf16;

TEST(CudaFusion, ReportsNoGpuGracefully) {
  if (cuda::available()) {
    GTEST_SKIP() << "a GPU is present";
  }
  EXPECT_EQ(cuda::device_count(), 0);
  EXPECT_THROW(cuda::DeviceMemberSet(2, {10}, FusionDtype::f32, FusionDtype::f32),
               cuda::cuda_error);
}

struct Case {
  FusionDtype in;
  FusionDtype out;
};

class CudaFusionDtypes : public ::testing::TestWithParam<Case> {};

TEST_P(CudaFusionDtypes, MatchesHostReference) {
  if (!cuda::available()) {
    GTEST_SKIP() << "no CUDA device";
  }
  const auto [in, out] = GetParam();
  const std::size_t n = 5;
  // Sizes with tails: not multiples of 4 or 8 elements, and one empty tensor.
  const std::vector<std::size_t> sizes = {1, 7, 4096 + 3, 0, 100003};
  const double delta[n] = {0.3, -0.1, 0.25, 0.45, 0.1};
  cuda::DeviceMemberSet set(n, sizes, in, out);
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> uniform(-4.0f, 4.0f);
  // values[m][t][j], as stored (already rounded to the input dtype).
  std::vector<std::vector<std::vector<double>>> values(n);
  for (std::size_t m = 0; m < n; ++m) {
    for (std::size_t t = 0; t < sizes.size(); ++t) {
      std::vector<double> v(sizes[t]);
      std::vector<unsigned char> raw(sizes[t] * fusion_dtype_size(in));
      for (std::size_t j = 0; j < sizes[t]; ++j) {
        const float x = uniform(rng);
        if (in == FusionDtype::f32) {
          std::memcpy(raw.data() + 4 * j, &x, 4);
          v[j] = x;
        } else if (in == FusionDtype::f64) {
          const double d = x;
          std::memcpy(raw.data() + 8 * j, &d, 8);
          v[j] = d;
        } else {
          // fp16 inputs: random finite bit patterns with exponents 2^-5 … 2^2.
          const std::uint16_t f16 = f16_from_random_bits(static_cast<std::uint32_t>(rng()));
          const std::uint16_t h = in == FusionDtype::bf16 ? to_bf16(x) : f16;
          std::memcpy(raw.data() + 2 * j, &h, 2);
          v[j] = in == FusionDtype::bf16 ? from_bf16(h) : from_f16(h);
        }
      }
      set.upload(m, t, raw.data());
      values[m].push_back(std::move(v));
    }
  }
  set.fuse(delta);
  const double u_out = out == FusionDtype::f32    ? 0x1.0p-24
                       : out == FusionDtype::f64  ? 0x1.0p-53
                       : out == FusionDtype::bf16 ? 0x1.0p-8
                                                  : 0x1.0p-11;
  const double u_acc = in == FusionDtype::f64 ? 0x1.0p-53 : 0x1.0p-24;
  // Half the spacing of fp16 subnormals; no absolute term for the others (it would hide an f64
  // kernel that accumulates in fp32).
  const double u_subnormal = out == FusionDtype::f16 ? 0x1.0p-25 : 0.0;
  for (std::size_t t = 0; t < sizes.size(); ++t) {
    std::vector<unsigned char> raw(sizes[t] * fusion_dtype_size(out) + 1);
    set.download(t, raw.data());
    for (std::size_t j = 0; j < sizes[t]; ++j) {
      double ref = 0.0;
      double magnitude = 0.0;
      for (std::size_t m = 0; m < n; ++m) {
        ref += delta[m] * values[m][t][j];
        magnitude += std::fabs(delta[m] * values[m][t][j]);
      }
      double got;
      if (out == FusionDtype::f32) {
        float f;
        std::memcpy(&f, raw.data() + 4 * j, 4);
        got = f;
      } else if (out == FusionDtype::f64) {
        std::memcpy(&got, raw.data() + 8 * j, 8);
      } else {
        std::uint16_t h;
        std::memcpy(&h, raw.data() + 2 * j, 2);
        got = out == FusionDtype::bf16 ? from_bf16(h) : from_f16(h);
      }
      const double bound = u_out * std::fabs(ref) + u_subnormal + (n + 1) * u_acc * magnitude;
      ASSERT_LE(std::fabs(got - ref), bound) << "tensor " << t << ", element " << j;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllStorageTypes, CudaFusionDtypes,
                         ::testing::Values(Case{FusionDtype::f32, FusionDtype::f32},
                                           Case{FusionDtype::bf16, FusionDtype::bf16},
                                           Case{FusionDtype::f16, FusionDtype::f16},
                                           Case{FusionDtype::bf16, FusionDtype::f32},
                                           Case{FusionDtype::f32, FusionDtype::bf16},
                                           Case{FusionDtype::f32, FusionDtype::f16},
                                           Case{FusionDtype::f16, FusionDtype::f32},
                                           Case{FusionDtype::f64, FusionDtype::f64}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(fusion_dtype_name(info.param.in)) + "_to_" +
                                  fusion_dtype_name(info.param.out);
                         });

TEST(CudaFusion, RejectsInvalidArguments) {
  // Checked before any CUDA call: these hold with or without a GPU.
  EXPECT_THROW(cuda::DeviceMemberSet(0, {10}, FusionDtype::f32, FusionDtype::f32),
               invalid_argument);
  EXPECT_THROW(
      cuda::DeviceMemberSet(cuda::kMaxFusionMembers + 1, {10}, FusionDtype::f32, FusionDtype::f32),
      invalid_argument);
  EXPECT_THROW(cuda::DeviceMemberSet(2, {10}, FusionDtype::f64, FusionDtype::f32),
               invalid_argument);
  int dummy = 0;  // a non-null pointer that is never dereferenced
  const void* members[1] = {&dummy};
  const std::string no_members = test::error_message([&] {
    cuda::launch_fuse(members, &dummy, 0, FusionDtype::f32, &dummy, FusionDtype::f32, 8);
  });
  EXPECT_NE(no_members.find("'n_members' is 0"), std::string::npos) << no_members;
  EXPECT_THROW(cuda::launch_fuse(members, &dummy, cuda::kMaxFusionMembers + 1, FusionDtype::bf16,
                                 &dummy, FusionDtype::bf16, 8),
               invalid_argument);
  const std::string dtypes = test::error_message([&] {
    cuda::launch_fuse(members, &dummy, 1, FusionDtype::f32, &dummy, FusionDtype::f64, 8);
  });
  EXPECT_NE(dtypes.find("f32 with output dtype f64"), std::string::npos) << dtypes;
  EXPECT_THROW(cuda::launch_fuse(nullptr, &dummy, 1, FusionDtype::f32, &dummy, FusionDtype::f32, 8),
               invalid_argument);
  EXPECT_THROW(
      cuda::launch_fuse(members, nullptr, 1, FusionDtype::f32, &dummy, FusionDtype::f32, 8),
      invalid_argument);
  EXPECT_THROW(
      cuda::launch_fuse(members, &dummy, 1, FusionDtype::f32, nullptr, FusionDtype::f32, 8),
      invalid_argument);
  // count 0: nothing to do, nothing touched.
  EXPECT_NO_THROW(
      cuda::launch_fuse(nullptr, nullptr, 1, FusionDtype::f32, nullptr, FusionDtype::f32, 0));
  if (!cuda::available()) {
    GTEST_SKIP() << "no CUDA device for the remaining checks";
  }
  cuda::DeviceMemberSet set(2, {10}, FusionDtype::f32, FusionDtype::f32);
  const double bad[2] = {0.5, NAN};
  EXPECT_THROW(set.fuse(bad), invalid_argument);
  const double huge[2] = {1e39, 0.0};  // finite as a double, not as the kernel's fp32
  const std::string overflow = test::error_message([&] { set.fuse_async(huge); });
  EXPECT_NE(overflow.find("overflows fp32"), std::string::npos) << overflow;
  EXPECT_THROW(set.fuse(nullptr), invalid_argument);
  float host[10] = {};
  EXPECT_THROW(set.upload(2, 0, host), invalid_argument);
  EXPECT_THROW(set.download(1, host), invalid_argument);
}

/// Device memory freed on scope exit (test helper).
struct DeviceBuffer {
  explicit DeviceBuffer(std::size_t bytes) {
    if (cudaMalloc(&data, bytes) != cudaSuccess) {
      throw std::runtime_error("cudaMalloc failed");
    }
  }
  ~DeviceBuffer() { cudaFree(data); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* data = nullptr;
};

// fuse_async returns before the kernel ends, and the next call reuses the coefficient buffer.
// After each call a device-to-device copy of the output is enqueued on stream 0: copy k must
// hold the fusion with the k-th δ, so no upload may overtake the kernel before it.
TEST(CudaFusion, FuseAsyncCallsRunInOrder) {
  if (!cuda::available()) {
    GTEST_SKIP() << "no CUDA device";
  }
  const std::size_t count = (std::size_t{1} << 22) + 3;  // long enough to still run at return
  constexpr int kCalls = 8;
  cuda::DeviceMemberSet set(2, {count}, FusionDtype::f32, FusionDtype::f32);
  const std::vector<float> ones(count, 1.0f);
  const std::vector<float> twos(count, 2.0f);
  set.upload(0, 0, ones.data());
  set.upload(1, 0, twos.data());
  DeviceBuffer snapshots(kCalls * count * sizeof(float));
  for (int k = 0; k < kCalls; ++k) {
    const double delta[2] = {static_cast<double>(k), 0.5 * k};  // k + 2 · 0.5k = 2k
    set.fuse_async(delta);
    ASSERT_EQ(cudaMemcpyAsync(static_cast<float*>(snapshots.data) + k * count, set.output_data(),
                              count * sizeof(float), cudaMemcpyDeviceToDevice),
              cudaSuccess);
  }
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<float> got(count);
  for (int k = 0; k < kCalls; ++k) {
    ASSERT_EQ(cudaMemcpy(got.data(), static_cast<float*>(snapshots.data) + k * count,
                         count * sizeof(float), cudaMemcpyDeviceToHost),
              cudaSuccess);
    const float expected = 2.0f * static_cast<float>(k);
    ASSERT_EQ(got.front(), expected) << "call " << k;
    ASSERT_EQ(got[count / 2], expected) << "call " << k;
    ASSERT_EQ(got.back(), expected) << "call " << k;
  }
}

// Above 64 members the coefficients no longer travel in the kernel's parameters: they are
// uploaded and read from device memory. Small integers and multiples of 1/64 keep every sum
// exact.
TEST(CudaFusion, ManyMembersReadTheirCoefficientsFromDeviceMemory) {
  if (!cuda::available()) {
    GTEST_SKIP() << "no CUDA device";
  }
  for (std::size_t n : {64, 65, 200}) {
    SCOPED_TRACE(std::to_string(n) + " members");
    const std::size_t count = 1000 + 3;
    cuda::DeviceMemberSet set(n, {count}, FusionDtype::f32, FusionDtype::f32);
    std::vector<double> delta(n);
    std::vector<double> expected(count, 0.0);
    std::vector<float> values(count);
    for (std::size_t i = 0; i < n; ++i) {
      delta[i] = static_cast<double>(static_cast<int>(i % 9) - 4) / 64.0;
      for (std::size_t j = 0; j < count; ++j) {
        values[j] = static_cast<float>(static_cast<int>((i + 3 * j) % 17) - 8);
        expected[j] += delta[i] * values[j];
      }
      set.upload(i, 0, values.data());
    }
    set.fuse(delta.data());
    std::vector<float> got(count);
    set.download(0, got.data());
    for (std::size_t j = 0; j < count; ++j) {
      ASSERT_EQ(static_cast<double>(got[j]), expected[j]) << "element " << j;
    }
  }
}

// launch_fuse on raw device pointers, for a count with a tail: every pointer 16-byte aligned
// (vector loads), every one offset by one element, and mixed cases in which only the output
// or only one member is offset (any unaligned pointer must send the kernel to scalar loads).
// Small integers and dyadic coefficients make every sum exact, whatever the order or FMA use.
// The output buffer has a guard element on each side, which must stay untouched.
TEST(CudaFusion, LaunchFuseOnAlignedAndUnalignedPointers) {
  if (!cuda::available()) {
    GTEST_SKIP() << "no CUDA device";
  }
  constexpr std::size_t n = 3;
  const std::size_t count = 1000 + 5;
  const std::size_t padded = count + 2;
  const float coeffs[n] = {0.5f, -0.25f, 0.125f};
  std::vector<std::vector<float>> host(n, std::vector<float>(padded));
  std::vector<std::unique_ptr<DeviceBuffer>> members;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < padded; ++j) {
      host[i][j] = static_cast<float>((i * 7 + j) % 17) - 8.0f;
    }
    members.push_back(std::make_unique<DeviceBuffer>(padded * sizeof(float)));
    ASSERT_EQ(cudaMemcpy(members.back()->data, host[i].data(), padded * sizeof(float),
                         cudaMemcpyHostToDevice),
              cudaSuccess);
  }
  DeviceBuffer out(padded * sizeof(float));
  DeviceBuffer device_coeffs(sizeof coeffs);
  DeviceBuffer device_members(n * sizeof(void*));
  ASSERT_EQ(cudaMemcpy(device_coeffs.data, coeffs, sizeof coeffs, cudaMemcpyHostToDevice),
            cudaSuccess);
  struct Offsets {
    std::size_t member[n];
    std::size_t out;
  };
  const Offsets cases[] = {{{0, 0, 0}, 0}, {{1, 1, 1}, 1}, {{0, 0, 0}, 1},
                           {{1, 1, 1}, 0}, {{0, 1, 0}, 0}, {{0, 0, 2}, 2}};
  for (const Offsets& c : cases) {
    SCOPED_TRACE("member offsets " + std::to_string(c.member[0]) + " " +
                 std::to_string(c.member[1]) + " " + std::to_string(c.member[2]) +
                 ", output offset " + std::to_string(c.out));
    const void* pointers[n];
    for (std::size_t i = 0; i < n; ++i) {
      pointers[i] = static_cast<const float*>(members[i]->data) + c.member[i];
    }
    ASSERT_EQ(cudaMemcpy(device_members.data, pointers, sizeof pointers, cudaMemcpyHostToDevice),
              cudaSuccess);
    ASSERT_EQ(cudaMemset(out.data, 0xFF, padded * sizeof(float)), cudaSuccess);
    cuda::launch_fuse(static_cast<const void* const*>(device_members.data), device_coeffs.data, n,
                      FusionDtype::f32, static_cast<float*>(out.data) + c.out, FusionDtype::f32,
                      count);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    std::vector<std::uint32_t> got(padded);
    ASSERT_EQ(cudaMemcpy(got.data(), out.data, padded * sizeof(float), cudaMemcpyDeviceToHost),
              cudaSuccess);
    for (std::size_t k = 0; k < padded; ++k) {
      if (k < c.out || k >= c.out + count) {
        ASSERT_EQ(got[k], 0xFFFFFFFFU) << "guard element " << k << " was written";
        continue;
      }
      const std::size_t j = k - c.out;
      float expected = 0.0f;
      for (std::size_t i = 0; i < n; ++i) {
        expected += coeffs[i] * host[i][c.member[i] + j];
      }
      ASSERT_EQ(test::float_from_bits(got[k]), expected) << "element " << j;
    }
  }
}

}  // namespace
}  // namespace bomf
