// Weight fusion: w(δ) = Σ_i δ_i w_i against a double-precision reference, for every storage
// dtype; the validation of members, δ and the output; allocation-free reuse; thread counts.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <new>
#include <random>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/fusion/fuse_kernel.hpp"
#include "bomf/fusion/weight_fuser.hpp"
#include "fusion_test_util.hpp"
#include "support/error_message.hpp"

// Counts heap allocations while `g_counting` is set, to check that fuse() does not allocate.
// (GCC flags malloc/free inside replaced operator new/delete as mismatched once they are
// inlined into callers; the pairing here is consistent.)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  if (g_counting.load(std::memory_order_relaxed)) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) {
    return p;
  }
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace bomf {
namespace {

std::vector<StateDict> make_members(at::ScalarType dtype, int n) {
  std::vector<StateDict> members;
  for (int i = 0; i < n; ++i) {
    members.push_back(test::random_state_dict(dtype, static_cast<std::uint32_t>(i + 1)));
  }
  return members;
}

std::vector<at::Tensor> column(const std::vector<StateDict>& members, const std::string& name) {
  std::vector<at::Tensor> out;
  for (const auto& m : members) {
    out.push_back(m.at(name));
  }
  return out;
}

Eigen::VectorXd test_delta(int n) {
  Eigen::VectorXd delta(n);
  for (int i = 0; i < n; ++i) {
    delta[i] = 0.05 + 0.37 * ((i * 7) % 5) - (i == 1 ? 0.6 : 0.0);  // not on the simplex
  }
  return delta;
}

class FusionDtypes : public ::testing::TestWithParam<at::ScalarType> {};

TEST_P(FusionDtypes, MatchesDoublePrecisionReference) {
  const at::ScalarType dtype = GetParam();
  double worst = 0.0;
  for (int n : {1, 2, 3, 15}) {
    const auto members = make_members(dtype, n);
    const Eigen::VectorXd delta = test_delta(n);
    const StateDict fused = WeightFuser(members).fuse(delta);
    ASSERT_EQ(fused.size(), members[0].size());
    for (const auto& [name, tensor] : fused) {
      if (name == "position_ids") {
        continue;
      }
      EXPECT_EQ(tensor.scalar_type(), dtype) << name;
      EXPECT_EQ(tensor.sizes(), members[0].at(name).sizes()) << name;
      const double error = test::error_in_bound_units(tensor, column(members, name), delta);
      worst = std::max(worst, error);
      EXPECT_LE(error, 1.0) << "tensor " << name << ", N = " << n;
    }
  }
  std::cout << "[ worst error ] " << dtype << ": " << worst << " of the rounding bound\n";
  RecordProperty("worst_error_in_bound_units", std::to_string(worst));
}

TEST_P(FusionDtypes, RequestedOutputDtype) {
  const at::ScalarType dtype = GetParam();
  const auto members = make_members(dtype, 4);
  const Eigen::VectorXd delta = test_delta(4);
  for (at::ScalarType out : {at::kFloat, at::kBFloat16, at::kHalf, at::kDouble}) {
    FusionOptions options;
    options.output_dtype = out;
    const StateDict fused = WeightFuser(members, options).fuse(delta);
    const at::Tensor& tensor = fused.at("layer.0.weight");
    EXPECT_EQ(tensor.scalar_type(), out);
    EXPECT_EQ(fused.at("position_ids").scalar_type(), at::kLong);
    // Accumulated in fp32 (fp64 for fp64 members) and rounded once to `out`.
    EXPECT_LE(test::error_in_bound_units(tensor, column(members, "layer.0.weight"), delta), 1.0)
        << "members " << dtype << ", output " << out;
  }
}

INSTANTIATE_TEST_SUITE_P(AllStorageTypes, FusionDtypes,
                         ::testing::Values(at::kFloat, at::kBFloat16, at::kHalf, at::kDouble));

TEST(WeightFuser, UnitCoefficientReproducesMemberExactly) {
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16, at::kHalf}) {
    const auto members = make_members(dtype, 3);
    const StateDict fused = WeightFuser(members).fuse(Eigen::Vector3d(0.0, 1.0, 0.0));
    for (const auto& [name, tensor] : fused) {
      if (name != "position_ids") {
        EXPECT_TRUE(tensor.equal(members[1].at(name))) << name << " " << dtype;
      }
    }
  }
}

TEST(WeightFuser, NonFloatingTensorsComeFromTheChosenMember) {
  const auto members = make_members(at::kFloat, 3);
  FusionOptions options;
  options.copy_non_floating_from = 2;
  WeightFuser fuser(members, options);
  const StateDict fused = fuser.fuse(Eigen::Vector3d(0.2, 0.3, 0.5));
  EXPECT_TRUE(fused.at("position_ids").equal(members[2].at("position_ids")));
  EXPECT_FALSE(fused.at("position_ids").equal(members[0].at("position_ids")));
  options.copy_non_floating_from = 3;
  EXPECT_THROW(WeightFuser(members, options), invalid_argument);
}

TEST(WeightFuser, OutputKeepsMemberOrder) {
  const auto members = make_members(at::kFloat, 2);
  const StateDict fused = WeightFuser(members).fuse(Eigen::Vector2d(0.5, 0.5));
  for (std::size_t k = 0; k < fused.size(); ++k) {
    EXPECT_EQ(fused[k].first, members[0][k].first);
  }
}

TEST(WeightFuser, MemberOrderMayDifferBetweenMembers) {
  auto members = make_members(at::kFloat, 2);
  StateDict reversed;
  for (std::size_t k = members[1].size(); k-- > 0;) {
    reversed.insert(members[1][k].first, members[1][k].second);
  }
  const StateDict a = WeightFuser({members[0], members[1]}).fuse(Eigen::Vector2d(0.3, 0.7));
  const StateDict b = WeightFuser({members[0], reversed}).fuse(Eigen::Vector2d(0.3, 0.7));
  for (const auto& [name, tensor] : a) {
    EXPECT_TRUE(tensor.equal(b.at(name))) << name;
  }
}

TEST(WeightFuser, NonContiguousMembersAreFusedInLogicalOrder) {
  StateDict a{{"w", test::random_tensor({8, 5}, at::kFloat, 1).t()}};
  StateDict b{{"w", test::random_tensor({8, 5}, at::kFloat, 2).t()}};
  const Eigen::Vector2d delta(0.25, 0.75);
  const StateDict fused = WeightFuser({a, b}).fuse(delta);
  EXPECT_LE(test::error_in_bound_units(fused.at("w"), {a.at("w"), b.at("w")}, delta), 1.0);
}

std::string message_of(const std::function<void()>& f) {
  return bomf::test::error_message<bomf::invalid_argument>(f);
}

TEST(WeightFuser, MismatchErrorsNameTheTensorAndBothShapesOrDtypes) {
  const auto members = make_members(at::kFloat, 2);

  StateDict wrong_shape = members[1];
  wrong_shape.at("layer.0.weight") = test::random_tensor({65, 64}, at::kFloat, 9);
  std::string what = message_of([&] { WeightFuser({members[0], wrong_shape}); });
  EXPECT_NE(what.find("layer.0.weight"), std::string::npos) << what;
  EXPECT_NE(what.find("[64, 65]"), std::string::npos) << what;
  EXPECT_NE(what.find("[65, 64]"), std::string::npos) << what;

  StateDict wrong_dtype = members[1];
  wrong_dtype.at("layer.0.bias") = wrong_dtype.at("layer.0.bias").to(at::kHalf);
  what = message_of([&] { WeightFuser({members[0], wrong_dtype}); });
  EXPECT_NE(what.find("layer.0.bias"), std::string::npos) << what;
  EXPECT_NE(what.find("Float"), std::string::npos) << what;
  EXPECT_NE(what.find("Half"), std::string::npos) << what;

  StateDict renamed;
  for (const auto& [name, tensor] : members[1]) {
    renamed.insert(name == "scalar" ? "scalar2" : name, tensor);
  }
  what = message_of([&] { WeightFuser({members[0], renamed}); });
  EXPECT_NE(what.find("scalar2"), std::string::npos) << what;

  StateDict extra = members[1];
  extra.insert("extra", test::random_tensor({2}, at::kFloat, 3));
  what = message_of([&] { WeightFuser({members[0], extra}); });
  EXPECT_NE(what.find("tensors"), std::string::npos) << what;

  EXPECT_THROW(WeightFuser(std::vector<StateDict>{}), invalid_argument);
  StateDict complex{{"c", at::zeros({2}, at::TensorOptions().dtype(at::kComplexFloat))}};
  EXPECT_THROW(WeightFuser({complex}), invalid_argument);
  FusionOptions bad_output;
  bad_output.output_dtype = at::kInt;
  EXPECT_THROW(WeightFuser(members, bad_output), invalid_argument);
}

TEST(WeightFuser, RejectsBadDelta) {
  const auto members = make_members(at::kFloat, 3);
  WeightFuser fuser(members);
  EXPECT_THROW((void)fuser.fuse(Eigen::Vector2d(0.5, 0.5)), invalid_argument);
  EXPECT_THROW((void)fuser.fuse(Eigen::Vector3d(0.5, std::nan(""), 0.5)), invalid_argument);
  EXPECT_THROW((void)fuser.fuse(Eigen::Vector3d(0.5, INFINITY, 0.5)), invalid_argument);
  EXPECT_NO_THROW((void)fuser.fuse(Eigen::Vector3d(1.5, -0.25, -0.25)));  // extrapolation

  FusionOptions simplex;
  simplex.require_simplex = true;
  WeightFuser strict(members, simplex);
  EXPECT_NO_THROW((void)strict.fuse(Eigen::Vector3d(0.2, 0.3, 0.5)));
  EXPECT_THROW((void)strict.fuse(Eigen::Vector3d(1.5, -0.25, -0.25)), invalid_argument);
  EXPECT_THROW((void)strict.fuse(Eigen::Vector3d(0.2, 0.3, 0.4)), invalid_argument);
}

TEST(WeightFuser, RejectsAnOutputNotMadeForIt) {
  const auto members = make_members(at::kFloat, 2);
  WeightFuser fuser(members);
  StateDict output = make_members(at::kBFloat16, 1)[0];
  EXPECT_THROW(fuser.fuse(Eigen::Vector2d(0.5, 0.5), output), invalid_argument);
  StateDict empty;
  EXPECT_THROW(fuser.fuse(Eigen::Vector2d(0.5, 0.5), empty), invalid_argument);
}

TEST(WeightFuser, ReusedOutputIsFilledWithoutAllocating) {
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    const auto members = make_members(dtype, 5);
    WeightFuser fuser(members);
    StateDict output = fuser.make_output();
    Eigen::VectorXd delta = test_delta(5);
    fuser.fuse(delta, output);  // warm-up (lazy libtorch initialisation)
    g_allocations = 0;
    g_counting = true;
    for (int evaluation = 0; evaluation < 10; ++evaluation) {
      delta[0] += 0.01;
      fuser.fuse(delta, output);
    }
    g_counting = false;
    EXPECT_EQ(g_allocations.load(), 0) << dtype;
    EXPECT_LE(test::error_in_bound_units(output.at("big"), column(members, "big"), delta), 1.0);
  }
}

TEST(WeightFuser, ThreadCountDoesNotChangeTheResult) {
  const int before = at::get_num_threads();
  StateDict a{{"w", test::random_tensor({300001}, at::kFloat, 1)}};
  StateDict b{{"w", test::random_tensor({300001}, at::kFloat, 2)}};
  StateDict c{{"w", test::random_tensor({300001}, at::kFloat, 3)}};
  const Eigen::Vector3d delta(0.2, 0.5, 0.3);
  at::set_num_threads(1);
  const StateDict one = WeightFuser({a, b, c}).fuse(delta);
  at::set_num_threads(2);
  const StateDict two = WeightFuser({a, b, c}).fuse(delta);
  at::set_num_threads(before);
  EXPECT_TRUE(one.at("w").equal(two.at("w")));
}

TEST(FuseBuffers, UnalignedPointersAndEveryTailLength) {
  // Around the 8-lane width and the 16384-element block (src/fusion/fuse_blocks.hpp).
  for (std::size_t count : {std::size_t{1}, std::size_t{3}, std::size_t{9}, std::size_t{16383},
                            std::size_t{16384}, std::size_t{16385}, std::size_t{40000}}) {
    std::vector<unsigned char> x0(count * 4 + 3), x1(count * 4 + 3), out(count * 4 + 1);
    std::vector<float> a(count), b(count);
    for (std::size_t j = 0; j < count; ++j) {
      a[j] = static_cast<float>(j % 97) * 0.25f - 3.0f;
      b[j] = static_cast<float>(j % 13) * -1.5f + 2.0f;
    }
    std::memcpy(x0.data() + 1, a.data(), count * 4);  // deliberately misaligned
    std::memcpy(x1.data() + 3, b.data(), count * 4);
    const void* members[2] = {x0.data() + 1, x1.data() + 3};
    const double coeffs[2] = {0.5, 2.0};
    fuse_buffers(members, 2, coeffs, FusionDtype::f32, out.data() + 1, FusionDtype::f32, count);
    for (std::size_t j = 0; j < count; ++j) {
      float v;
      std::memcpy(&v, out.data() + 1 + 4 * j, 4);
      ASSERT_EQ(v, 0.5f * a[j] + 2.0f * b[j]) << "count " << count << ", element " << j;
    }
  }
}

TEST(FuseBuffers, SpecialValuesSurviveConversions) {
  const float values[] = {0.0f,  -0.0f,    1.0f,      -2.5f,        65504.0f,
                          1e-7f, INFINITY, -INFINITY, std::nanf("")};
  for (FusionDtype dtype : {FusionDtype::bf16, FusionDtype::f16}) {
    const at::ScalarType type = dtype == FusionDtype::bf16 ? at::kBFloat16 : at::kHalf;
    at::Tensor input = at::empty({9}, at::TensorOptions().dtype(at::kFloat));
    std::memcpy(input.data_ptr(), values, sizeof values);
    at::Tensor stored = input.to(type);  // libtorch's conversion as the reference
    at::Tensor out = at::empty({9}, at::TensorOptions().dtype(type));
    const void* members[1] = {stored.data_ptr()};
    const double one = 1.0;
    fuse_buffers(members, 1, &one, dtype, out.data_ptr(), dtype, 9);
    EXPECT_TRUE(out.to(at::kFloat).slice(0, 0, 8).equal(stored.to(at::kFloat).slice(0, 0, 8)))
        << fusion_dtype_name(dtype);
    EXPECT_TRUE(std::isnan(out.to(at::kFloat)[8].item<float>()));
    // fp32 → 16-bit rounding agrees with libtorch's (round to nearest even).
    at::Tensor fine = test::random_tensor({5000}, at::kFloat, 11) * 1000.0;
    at::Tensor rounded = at::empty({5000}, at::TensorOptions().dtype(type));
    const void* source[1] = {fine.data_ptr()};
    fuse_buffers(source, 1, &one, FusionDtype::f32, rounded.data_ptr(), dtype, 5000);
    EXPECT_TRUE(rounded.equal(fine.to(type))) << fusion_dtype_name(dtype);
  }
}

/// The value of 16-bit storage `bits` of `dtype`, exactly, as a double.
double decode_16_bit(std::uint16_t bits, FusionDtype dtype) {
  if (dtype == FusionDtype::bf16) {
    const std::uint32_t u = static_cast<std::uint32_t>(bits) << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  }
  const int exponent = (bits >> 10) & 0x1F;
  const double mantissa = bits & 0x3FF;
  const double sign = (bits & 0x8000) != 0 ? -1.0 : 1.0;
  if (exponent == 0x1F) {
    return mantissa != 0 ? std::nan("") : sign * INFINITY;
  }
  return exponent == 0 ? sign * std::ldexp(mantissa, -24)
                       : sign * std::ldexp(1024.0 + mantissa, exponent - 25);
}

/// f64 → bf16/f16 in one call (coefficient 1).
std::vector<std::uint16_t> fuse_f64_to(const std::vector<double>& values, FusionDtype out) {
  std::vector<std::uint16_t> bits(values.size());
  const void* members[1] = {values.data()};
  const double one = 1.0;
  fuse_buffers(members, 1, &one, FusionDtype::f64, bits.data(), out, values.size());
  return bits;
}

TEST(FuseBuffers, F64ToSixteenBitIsRoundedOnce) {
  // Just above a tie of the 16-bit format but on it once rounded to fp32: a double → float →
  // 16-bit conversion rounds these to the even neighbour below, the correct result is above.
  const std::vector<double> bf16_cases = {1.0 + 0x1.0p-8 + 0x1.0p-30, -(1.0 + 0x1.0p-8 + 0x1.0p-30),
                                          0x1.0p-126 * (1.0 + 0x1.0p-8 + 0x1.0p-40)};
  const std::vector<std::uint16_t> bf16 = fuse_f64_to(bf16_cases, FusionDtype::bf16);
  EXPECT_EQ(bf16[0], 0x3F81);
  EXPECT_EQ(bf16[1], 0xBF81);
  EXPECT_EQ(bf16[2], 0x0081);
  const std::vector<double> f16_cases = {1.0 + 0x1.0p-11 + 0x1.0p-30, 0x1.0p-25 * (1.0 + 0x1.0p-30),
                                         65520.0 - 0x1.0p-20, 65520.0};
  const std::vector<std::uint16_t> f16 = fuse_f64_to(f16_cases, FusionDtype::f16);
  EXPECT_EQ(f16[0], 0x3C01);
  EXPECT_EQ(f16[1], 0x0001);  // just above half the smallest subnormal
  EXPECT_EQ(f16[2], 0x7BFF);  // below the overflow threshold: the largest finite
  EXPECT_EQ(f16[3], 0x7C00);  // the threshold itself is a tie that rounds to ∞

  // Random doubles spread over both formats' ranges: the result is a nearest representable
  // value (ties to even), checked exactly in double arithmetic against both neighbours.
  std::mt19937_64 rng(7);
  for (FusionDtype dtype : {FusionDtype::bf16, FusionDtype::f16}) {
    std::vector<double> values(20000);
    const int max_exponent = dtype == FusionDtype::bf16 ? 120 : 14;
    const int min_exponent = dtype == FusionDtype::bf16 ? -130 : -25;
    for (double& v : values) {
      const double mantissa = std::uniform_real_distribution<double>(1.0, 2.0)(rng);
      const int exponent = std::uniform_int_distribution<int>(min_exponent, max_exponent)(rng);
      v = ((rng() & 1U) != 0 ? -1.0 : 1.0) * std::ldexp(mantissa, exponent);
    }
    const std::vector<std::uint16_t> got = fuse_f64_to(values, dtype);
    for (std::size_t j = 0; j < values.size(); ++j) {
      const double x = values[j];
      const double y = decode_16_bit(got[j], dtype);
      const std::uint16_t magnitude = got[j] & 0x7FFF;
      const std::uint16_t sign = got[j] & 0x8000;
      const double error = std::fabs(x - y);
      for (int step : {-1, 1}) {
        if (magnitude == 0 && step < 0) {
          continue;
        }
        const double neighbour =
            decode_16_bit(static_cast<std::uint16_t>(sign | (magnitude + step)), dtype);
        const double other = std::fabs(x - neighbour);
        ASSERT_TRUE(error < other || (error == other && (got[j] & 1U) == 0))
            << fusion_dtype_name(dtype) << ": " << std::hexfloat << x << " became " << y
            << ", its neighbour " << neighbour << " is nearer";
      }
    }
  }
}

}  // namespace
}  // namespace bomf
