// maximize_in_box: known optima in mixed spaces, discrete dimensions never evaluated at invalid
// values (enumeration mode), valid results (relaxation mode), determinism, validation.
#include <gtest/gtest.h>

#include <cmath>

#include "bomf/optim/maximize_in_box.hpp"

namespace {

using bomf::Scale;
using bomf::SearchSpace;
using Eigen::VectorXd;

// A smooth function of the encoding with a known maximizer among valid settings: continuous
// columns peak at `target`, each discrete column set prefers one value via a quadratic.
struct MixedQuadratic {
  VectorXd target;   // optimum of the relaxed quadratic (length D)
  VectorXd weights;  // per-column curvature
  const SearchSpace* space = nullptr;
  long invalid_calls = 0;
  long calls = 0;

  double operator()(const Eigen::Ref<const VectorXd>& u, Eigen::Ref<VectorXd> grad) {
    ++calls;
    if (space != nullptr && !space->is_valid_encoding(u))
      ++invalid_calls;
    const VectorXd r = u - target;
    grad = -2.0 * weights.cwiseProduct(r);
    return -(weights.cwiseProduct(r.cwiseAbs2())).sum();
  }
};

SearchSpace small_mixed_space() {
  SearchSpace space;
  space.add_continuous("learning_rate", 1e-6, 1e-4, Scale::log)
      .add_continuous("dropout", 0.0, 0.5)
      .add_categorical("batch_size", {"8", "16"})
      .add_categorical("scheduler", {"linear", "cosine"})
      .add_integer("epochs", 1, 4);
  return space;
}

TEST(MaximizeInBox, EnumeratesSmallDiscreteSetsWithoutInvalidEvaluations) {
  const SearchSpace space = small_mixed_space();
  ASSERT_EQ(space.encoded_dim(), 7);
  MixedQuadratic f{VectorXd(7), VectorXd::Ones(7), &space};
  // continuous optimum at lr = 1e-5 (u = 0.5), dropout = 0.1 (u = 0.2); batch "16", "cosine",
  // epochs 3 (bin centre 2.5/4 = 0.625; target slightly off-centre).
  f.target << 0.5, 0.2, 0.0, 1.0, 0.3, 0.9, 0.6;
  const auto result = bomf::maximize_in_box(f, space);
  EXPECT_TRUE(result.enumerated);
  EXPECT_EQ(f.invalid_calls, 0);
  EXPECT_GT(f.calls, 512);
  ASSERT_EQ(result.setting.size(), 5u);
  EXPECT_NEAR(result.setting[0], 1e-5, 1e-5 * 1e-6);
  EXPECT_NEAR(result.setting[1], 0.1, 1e-7);
  EXPECT_EQ(result.setting[2], 1.0);
  EXPECT_EQ(space.label(3, result.setting[3]), "cosine");
  EXPECT_EQ(result.setting[4], 3.0);
  EXPECT_TRUE(space.is_valid_encoding(result.u));
  VectorXd g(7);
  EXPECT_EQ(f(result.u, g), result.value);
}

// MixedQuadratic with screening values f + offset that only rank (exact = false).
struct ScreenedMixedQuadratic : MixedQuadratic {
  double offset = 0.0;
  bomf::ScreeningValues screening_values(const Eigen::Ref<const Eigen::MatrixXd>& U) {
    bomf::ScreeningValues out;
    out.values.resize(U.rows());
    VectorXd g(U.cols());
    for (Eigen::Index i = 0; i < U.rows(); ++i)
      out.values(i) = (*this)(U.row(i).transpose(), g) + offset;
    out.exact = false;
    return out;
  }
};

TEST(MaximizeInBox, ApproximateScreeningValuesAreNeverTheResult) {
  const SearchSpace space = small_mixed_space();
  ScreenedMixedQuadratic f;
  f.target = VectorXd(7);
  f.target << 0.5, 0.2, 0.0, 1.0, 0.3, 0.9, 0.6;
  f.weights = VectorXd::Ones(7);
  f.space = &space;
  f.offset = 1000.0;
  bomf::BoxOptimizerOptions options;
  options.max_iterations = 1;  // starts can stay the best points
  const auto result = bomf::maximize_in_box(f, space, options);
  EXPECT_FALSE(result.raw_values_exact);
  VectorXd g(7);
  EXPECT_EQ(f(result.u, g), result.value);
  EXPECT_LT(result.value, 1.0);
  for (const double v : result.restart_values) {
    EXPECT_LT(v, 1.0);  // f's own values (≤ 0), never a screening value (≥ 1000 − 7)
  }
  MixedQuadratic plain{f.target, f.weights, &space};
  const auto reference = bomf::maximize_in_box(plain, space, options);
  EXPECT_TRUE(reference.raw_values_exact);
  EXPECT_EQ(result.restart_indices, reference.restart_indices);  // the same ranking
  EXPECT_EQ(result.value, reference.value);
}

TEST(MaximizeInBox, RelaxesLargeDiscreteSpacesAndReturnsValidSettings) {
  SearchSpace space;
  space.add_continuous("x", -2.0, 2.0).add_integer("k", 0, 99).add_integer("j", 0, 99);
  ASSERT_GT(space.discrete_combinations(), 64);
  MixedQuadratic f{VectorXd(3), VectorXd::Ones(3), nullptr};
  // x = 1 (u = 0.75), k = 42, j = 7 (bin centres), slightly off-centre targets.
  f.target << 0.75, (42.5 + 0.2) / 100.0, (7.5 - 0.3) / 100.0;
  const auto result = bomf::maximize_in_box(f, space);
  EXPECT_FALSE(result.enumerated);
  EXPECT_TRUE(space.is_valid_encoding(result.u));
  EXPECT_NEAR(result.setting[0], 1.0, 1e-6);
  EXPECT_EQ(result.setting[1], 42.0);
  EXPECT_EQ(result.setting[2], 7.0);
  for (double v : result.restart_values)
    EXPECT_LE(v, result.value);
}

TEST(MaximizeInBox, PurelyDiscreteSpaceEvaluatesEveryCombinationOnce) {
  SearchSpace space;
  space.add_categorical("optimizer", {"adam", "sgd", "adamw"}).add_integer("layers", 1, 3);
  MixedQuadratic f{VectorXd(4), VectorXd::Ones(4), &space};
  f.target << 0.0, 0.0, 1.0, 0.5;  // adamw, layers = 2
  const auto result = bomf::maximize_in_box(f, space);
  EXPECT_EQ(result.value_evaluations, 9);
  EXPECT_EQ(f.calls, 9);
  EXPECT_EQ(f.invalid_calls, 0);
  EXPECT_EQ(space.label(0, result.setting[0]), "adamw");
  EXPECT_EQ(result.setting[1], 2.0);
}

TEST(MaximizeInBox, DeterministicGivenSeedAndValidatesInput) {
  const SearchSpace space = small_mixed_space();
  MixedQuadratic f{VectorXd::Constant(7, 0.3), VectorXd::LinSpaced(7, 1.0, 2.0), nullptr};
  bomf::BoxOptimizerOptions options;
  options.seed = 5;
  const auto a = bomf::maximize_in_box(f, space, options);
  const auto b = bomf::maximize_in_box(f, space, options);
  EXPECT_EQ(a.u, b.u);
  EXPECT_EQ(a.restart_indices, b.restart_indices);
  options.seed = 6;
  EXPECT_NE(bomf::maximize_in_box(f, space, options).raw_candidates, a.raw_candidates);
  EXPECT_THROW(bomf::maximize_in_box(f, SearchSpace{}), bomf::invalid_argument);
  options.num_restarts = 0;
  EXPECT_THROW(bomf::maximize_in_box(f, space, options), bomf::invalid_argument);
  options = {};
  options.gradient_tolerance = 0.0;
  EXPECT_THROW(bomf::maximize_in_box(f, space, options), bomf::invalid_argument);
}

TEST(MaximizeInBox, SurvivesNonFiniteRegions) {
  SearchSpace space;
  space.add_continuous("a", 0.0, 1.0).add_continuous("b", 0.0, 1.0);
  auto f = [](const Eigen::Ref<const VectorXd>& u, Eigen::Ref<VectorXd> grad) {
    grad = -2.0 * (u.array() - 0.4).matrix();
    if (u(0) > 0.8)
      return std::numeric_limits<double>::quiet_NaN();
    return -(u.array() - 0.4).square().sum();
  };
  const auto result = bomf::maximize_in_box(f, space);
  EXPECT_NEAR(result.setting[0], 0.4, 1e-6);
  EXPECT_NEAR(result.setting[1], 0.4, 1e-6);
}

}  // namespace
