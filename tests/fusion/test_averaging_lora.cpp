// Baseline averages (SWA, EMA) and the two ways of fusing LoRA adapters.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/fusion/averaging.hpp"
#include "bomf/fusion/lora.hpp"
#include "bomf/fusion/weight_fuser.hpp"
#include "fusion_test_util.hpp"
#include "support/error_message.hpp"

namespace bomf {
namespace {

TEST(UniformAverage, EqualsTheMeanOfTheMembers) {
  std::vector<StateDict> members;
  for (std::uint32_t i = 0; i < 4; ++i) {
    members.push_back(test::random_state_dict(at::kFloat, i + 1));
  }
  const StateDict mean = uniform_average(members);
  std::vector<at::Tensor> column;
  for (const auto& m : members) {
    column.push_back(m.at("embed.weight"));
  }
  EXPECT_LE(test::error_in_bound_units(mean.at("embed.weight"), column,
                                       Eigen::VectorXd::Constant(4, 0.25)),
            1.0);
  EXPECT_THROW((void)uniform_average({}), invalid_argument);
}

TEST(EmaCoefficients, SumToOneAndWeightRecentCheckpointsMore) {
  const Eigen::VectorXd delta = ema_coefficients(5, 0.9);
  EXPECT_NEAR(delta.sum(), 1.0, 1e-15);
  EXPECT_DOUBLE_EQ(delta[0], 0.9 * 0.9 * 0.9 * 0.9);
  EXPECT_DOUBLE_EQ(delta[4], 0.1);
  EXPECT_DOUBLE_EQ(delta[3], 0.1 * 0.9);
  EXPECT_DOUBLE_EQ(ema_coefficients(1, 0.5)[0], 1.0);
  EXPECT_THROW((void)ema_coefficients(0, 0.5), invalid_argument);
  EXPECT_THROW((void)ema_coefficients(3, 1.5), invalid_argument);
  EXPECT_THROW((void)ema_coefficients(3, std::nan("")), invalid_argument);
}

TEST(ExponentialMovingAverage, MatchesFusionWithEmaCoefficients) {
  std::vector<StateDict> checkpoints;
  for (std::uint32_t i = 0; i < 6; ++i) {
    checkpoints.push_back(test::random_state_dict(at::kFloat, i + 10));
  }
  ExponentialMovingAverage ema(0.8);
  EXPECT_TRUE(ema.average().empty());
  for (const auto& c : checkpoints) {
    ema.update(c);
  }
  EXPECT_EQ(ema.num_updates(), 6u);
  const Eigen::VectorXd delta = ema_coefficients(6, 0.8);
  for (const auto& [name, tensor] : ema.average()) {
    std::vector<at::Tensor> column;
    for (const auto& c : checkpoints) {
      column.push_back(c.at(name));
    }
    if (name == "position_ids") {
      EXPECT_TRUE(tensor.equal(checkpoints.back().at(name)));
      continue;
    }
    // Six successive fp32 roundings instead of one: allow six bound units.
    EXPECT_LE(test::error_in_bound_units(tensor, column, delta), 6.0) << name;
  }
  // The first checkpoint was copied, not aliased.
  EXPECT_FALSE(checkpoints[0].at("big").equal(ema.average().at("big")));
  StateDict other{{"w", test::random_tensor({3}, at::kFloat, 1)}};
  EXPECT_THROW(ema.update(other), invalid_argument);
  EXPECT_THROW(ExponentialMovingAverage(-0.1), invalid_argument);
}

TEST(ExponentialMovingAverage, SixteenBitUpdatesAreAveragedInAnFp32Shadow) {
  // e_0 = 1, then w = 1.5 for 200 updates with β = 0.999: e = 1.5 − 0.5 β^200 ≈ 1.0907. Each
  // step (1 − β)(w − e) ≤ 5e-4 is below half an ulp of bf16 at 1 (2^-8): an average kept in
  // bf16 would stay at 1 forever.
  for (const at::ScalarType dtype : {at::kBFloat16, at::kHalf}) {
    const auto options = at::TensorOptions().dtype(dtype);
    ExponentialMovingAverage ema(0.999);
    ema.update(StateDict{{"w", at::full({7}, 1.0, options)},
                         {"step", at::full({1}, 3, at::TensorOptions().dtype(at::kLong))}});
    for (int t = 0; t < 200; ++t) {
      ema.update(StateDict{{"w", at::full({7}, 1.5, options)},
                           {"step", at::full({1}, 4 + t, at::TensorOptions().dtype(at::kLong))}});
    }
    const double expected = 1.5 - 0.5 * std::pow(0.999, 200);
    const at::Tensor shadow = ema.average().at("w");
    EXPECT_EQ(shadow.scalar_type(), at::kFloat);
    EXPECT_NEAR(shadow[0].item<double>(), expected, 1e-5);
    const StateDict rounded = ema.rounded_average();
    EXPECT_EQ(rounded.at("w").scalar_type(), dtype);
    EXPECT_TRUE(rounded.at("w").equal(shadow.to(dtype)));
    EXPECT_GT(rounded.at("w")[0].item<double>(), 1.08);
    EXPECT_EQ(rounded.at("step").item<std::int64_t>(), 203);
    // A later update in another dtype is refused, naming the first update's dtype.
    const std::string message = test::error_message<invalid_argument>([&] {
      ema.update(StateDict{{"w", at::full({7}, 1.5)}, {"step", rounded.at("step")}});
    });
    EXPECT_NE(message.find("tensor 'w'"), std::string::npos) << message;
    EXPECT_NE(message.find(dtype == at::kBFloat16 ? "BFloat16" : "Half"), std::string::npos)
        << message;
  }
}

std::vector<LoraAdapter> make_adapters(at::ScalarType dtype, int n, std::int64_t rank) {
  std::vector<LoraAdapter> adapters;
  for (int i = 0; i < n; ++i) {
    const auto seed = static_cast<std::uint32_t>(100 + 2 * i);
    adapters.push_back(LoraAdapter{test::random_tensor({rank, 12}, dtype, seed),
                                   test::random_tensor({9, rank}, dtype, seed + 1), 0.5});
  }
  return adapters;
}

TEST(Lora, FactorAveragingFusesAAndBSeparately) {
  const auto adapters = make_adapters(at::kFloat, 3, 4);
  const Eigen::Vector3d delta(0.2, 0.3, 0.5);
  const LoraAdapter fused = fuse_lora_factors(adapters, delta);
  std::vector<at::Tensor> as, bs;
  for (const auto& a : adapters) {
    as.push_back(a.a);
    bs.push_back(a.b);
  }
  EXPECT_LE(test::error_in_bound_units(fused.a, as, delta), 1.0);
  EXPECT_LE(test::error_in_bound_units(fused.b, bs, delta), 1.0);
  EXPECT_EQ(fused.scale, 0.5);
}

TEST(Lora, ExactMergeIsTheWeightedSumOfUpdates) {
  auto adapters = make_adapters(at::kFloat, 3, 4);
  adapters[2] = LoraAdapter{test::random_tensor({2, 12}, at::kFloat, 7),
                            test::random_tensor({9, 2}, at::kFloat, 8), 2.0};  // other rank
  const Eigen::Vector3d delta(0.2, 0.3, 0.5);
  const at::Tensor base = test::random_tensor({9, 12}, at::kFloat, 5);
  const at::Tensor merged = merge_lora_exact(base, adapters, delta);
  at::Tensor expected = base.to(at::kDouble);
  for (int i = 0; i < 3; ++i) {
    expected += adapters[i].b.to(at::kDouble).matmul(adapters[i].a.to(at::kDouble)) *
                (delta[i] * adapters[i].scale);
  }
  EXPECT_LT((merged.to(at::kDouble) - expected).abs().max().item<double>(), 1e-5);
  // Fusing the merged full weights W + ΔW_i with δ on the simplex gives the same result.
  std::vector<StateDict> full;
  for (const auto& a : adapters) {
    full.push_back(StateDict{{"w", merge_lora(base, a)}});
  }
  const StateDict fused_full = WeightFuser(full).fuse(delta);
  EXPECT_LT((fused_full.at("w") - merged).abs().max().item<float>(), 1e-5f);
}

TEST(Lora, FactorAveragingDiffersFromTheExactMergeByCrossTerms) {
  const auto adapters = make_adapters(at::kDouble, 2, 3);
  const Eigen::Vector2d delta(0.4, 0.6);
  const at::Tensor base = at::zeros({9, 12}, at::TensorOptions().dtype(at::kDouble));
  const at::Tensor exact = merge_lora_exact(base, adapters, delta);
  const at::Tensor factored = merge_lora(base, fuse_lora_factors(adapters, delta));
  // scale · B̄ Ā − Σ δ_i scale B_i A_i = −scale · δ_0 δ_1 (B_0 − B_1)(A_0 − A_1) for N = 2.
  const at::Tensor cross =
      (adapters[0].b - adapters[1].b).matmul(adapters[0].a - adapters[1].a) * (-0.5 * 0.4 * 0.6);
  EXPECT_LT((factored - exact - cross).abs().max().item<double>(), 1e-12);
  EXPECT_GT(cross.abs().max().item<double>(), 0.1);
  // Both agree for a single adapter.
  EXPECT_TRUE(merge_lora(base, adapters[0])
                  .allclose(merge_lora_exact(base, {adapters[0]}, Eigen::VectorXd::Ones(1))));
}

TEST(Lora, AnFp64BaseOrAdapterIsNeverRoundedThroughFp32) {
  // An fp64 base (random doubles, which fp32 cannot hold): merging fp32 adapters keeps its digits.
  const auto adapters = make_adapters(at::kFloat, 2, 4);
  const Eigen::Vector2d delta(0.25, 0.75);
  const at::Tensor base = test::random_tensor({9, 12}, at::kDouble, 3);
  at::Tensor expected = base.clone();
  for (int i = 0; i < 2; ++i) {
    expected += adapters[i].b.to(at::kDouble).matmul(adapters[i].a.to(at::kDouble)) *
                (delta[i] * adapters[i].scale);
  }
  const at::Tensor merged = merge_lora_exact(base, adapters, delta);
  EXPECT_EQ(merged.scalar_type(), at::kDouble);
  EXPECT_LT((merged - expected).abs().max().item<double>(), 1e-13);
  EXPECT_LT(
      (merge_lora(base, adapters[0]) - base -
       adapters[0].b.to(at::kDouble).matmul(adapters[0].a.to(at::kDouble)) * adapters[0].scale)
          .abs()
          .max()
          .item<double>(),
      1e-13);
  // One fp64 adapter among fp32 ones: the update is accumulated (and returned) in fp64.
  auto mixed = adapters;
  mixed[1] = make_adapters(at::kDouble, 2, 4)[1];
  const at::Tensor update = lora_delta_exact(mixed, delta);
  EXPECT_EQ(update.scalar_type(), at::kDouble);
  at::Tensor mixed_expected = at::zeros({9, 12}, at::TensorOptions().dtype(at::kDouble));
  for (int i = 0; i < 2; ++i) {
    mixed_expected +=
        mixed[i].b.to(at::kDouble).matmul(mixed[i].a.to(at::kDouble)) * (delta[i] * mixed[i].scale);
  }
  EXPECT_LT((update - mixed_expected).abs().max().item<double>(), 1e-13);
  // A bf16 base with an fp64 adapter: accumulated in fp64, stored once-rounded to bf16 (within
  // half an ulp, at most 2^-8 relative, of the fp64 result).
  const at::Tensor bf16_base = test::random_tensor({9, 12}, at::kBFloat16, 5);
  const at::Tensor bf16_merged = merge_lora_exact(bf16_base, mixed, delta);
  EXPECT_EQ(bf16_merged.scalar_type(), at::kBFloat16);
  const at::Tensor reference = mixed_expected + bf16_base.to(at::kDouble);
  EXPECT_TRUE(
      ((bf16_merged.to(at::kDouble) - reference).abs() <= reference.abs() * std::ldexp(1.0, -8))
          .all()
          .item<bool>());
  // A base that is not floating is refused, naming it.
  const at::Tensor integer_base = at::zeros({9, 12}, at::TensorOptions().dtype(at::kLong));
  const std::string message = test::error_message<invalid_argument>(
      [&] { (void)merge_lora_exact(integer_base, adapters, delta); });
  EXPECT_NE(message.find("bomf::merge_lora_exact"), std::string::npos) << message;
  EXPECT_NE(message.find("argument 'base'"), std::string::npos) << message;
}

TEST(Lora, RejectsMismatchedAdapters) {
  auto adapters = make_adapters(at::kFloat, 2, 4);
  adapters[1].a = test::random_tensor({3, 12}, at::kFloat, 1);
  adapters[1].b = test::random_tensor({9, 3}, at::kFloat, 2);
  EXPECT_THROW((void)fuse_lora_factors(adapters, Eigen::Vector2d(0.5, 0.5)), invalid_argument);
  EXPECT_NO_THROW((void)lora_delta_exact(adapters, Eigen::Vector2d(0.5, 0.5)));
  adapters[1].b = test::random_tensor({8, 3}, at::kFloat, 2);
  EXPECT_THROW((void)lora_delta_exact(adapters, Eigen::Vector2d(0.5, 0.5)), invalid_argument);
  auto scaled = make_adapters(at::kFloat, 2, 4);
  scaled[1].scale = 1.0;
  EXPECT_THROW((void)fuse_lora_factors(scaled, Eigen::Vector2d(0.5, 0.5)), invalid_argument);
  EXPECT_THROW((void)merge_lora_exact(test::random_tensor({3, 3}, at::kFloat, 1), scaled,
                                      Eigen::Vector2d(0.5, 0.5)),
               invalid_argument);
  EXPECT_THROW((void)fuse_lora_factors(scaled, Eigen::Vector3d(0.5, 0.5, 0.0)), invalid_argument);
}

}  // namespace
}  // namespace bomf
