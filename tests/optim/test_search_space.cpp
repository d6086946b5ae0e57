// SearchSpace: validation, unit-cube encoding round trips, rounding to valid settings.
#include <gtest/gtest.h>

#include <random>

#include "bomf/optim/search_space.hpp"

namespace {

using bomf::Scale;
using bomf::SearchSpace;
using Eigen::VectorXd;

SearchSpace fine_tuning_space() {
  SearchSpace space;
  space.add_continuous("learning_rate", 1e-6, 1e-4, Scale::log)
      .add_continuous("weight_decay", 0.0, 0.1)
      .add_integer("warmup_steps", 0, 500)
      .add_integer("batch_size_index", 8, 16)
      .add_categorical("scheduler", {"linear", "cosine", "constant"});
  return space;
}

TEST(SearchSpace, LayoutAndEncodingOfKnownValues) {
  const SearchSpace space = fine_tuning_space();
  EXPECT_EQ(space.size(), 5);
  EXPECT_EQ(space.encoded_dim(), 7);  // 1 + 1 + 1 + 1 + 3 (one-hot)
  const VectorXd u = space.encode({1e-5, 0.05, 0, 16, 1});
  EXPECT_NEAR(u(0), 0.5, 1e-15);  // log scale: 1e-5 is the geometric midpoint
  EXPECT_NEAR(u(1), 0.5, 1e-15);
  EXPECT_NEAR(u(2), 0.5 / 501.0, 1e-15);  // bin centre of the first integer
  EXPECT_NEAR(u(3), 8.5 / 9.0, 1e-15);
  EXPECT_EQ(u.tail(3), VectorXd::Unit(3, 1));
  EXPECT_EQ(space.label(4, 1.0), "cosine");
  EXPECT_EQ(space.discrete_combinations(), 501LL * 9 * 3);
}

TEST(SearchSpace, RoundTripsOverRandomSettings) {
  const SearchSpace space = fine_tuning_space();
  std::mt19937_64 rng(21);
  std::uniform_real_distribution<double> unif(0.0, 1.0);
  for (int rep = 0; rep < 5000; ++rep) {
    const std::vector<double> setting{
        std::exp(std::log(1e-6) + unif(rng) * (std::log(1e-4) - std::log(1e-6))), 0.1 * unif(rng),
        std::floor(501 * unif(rng)), 8 + std::floor(9 * unif(rng)), std::floor(3 * unif(rng))};
    ASSERT_TRUE(space.is_valid(setting));
    const VectorXd u = space.encode(setting);
    ASSERT_TRUE((u.array() >= 0.0).all() && (u.array() <= 1.0).all());
    ASSERT_TRUE(space.is_valid_encoding(u));
    const std::vector<double> back = space.decode(u);
    ASSERT_NEAR(back[0], setting[0], 1e-12 * setting[0]);
    ASSERT_NEAR(back[1], setting[1], 1e-15);
    for (int i = 2; i < 5; ++i)
      ASSERT_EQ(back[static_cast<std::size_t>(i)], setting[static_cast<std::size_t>(i)]);
    // Any u decodes to a valid setting, and snapping gives a valid encoding.
    VectorXd w(space.encoded_dim());
    for (Eigen::Index i = 0; i < w.size(); ++i)
      w(i) = 1.2 * unif(rng) - 0.1;
    ASSERT_TRUE(space.is_valid(space.decode(w)));
    ASSERT_TRUE(space.is_valid_encoding(space.snap(w)));
  }
}

TEST(SearchSpace, IntegerBinsHaveEqualWidthAndEndpointsAreReachable) {
  SearchSpace space;
  space.add_integer("layers", 2, 5);
  EXPECT_EQ(space.decode(VectorXd::Constant(1, 0.0))[0], 2.0);
  EXPECT_EQ(space.decode(VectorXd::Constant(1, 0.2499))[0], 2.0);
  EXPECT_EQ(space.decode(VectorXd::Constant(1, 0.25))[0], 3.0);
  EXPECT_EQ(space.decode(VectorXd::Constant(1, 0.7501))[0], 5.0);
  EXPECT_EQ(space.decode(VectorXd::Constant(1, 1.0))[0], 5.0);
  SearchSpace single;
  single.add_integer("fixed", 7, 7);
  EXPECT_EQ(single.encode({7.0})(0), 0.5);
  EXPECT_FALSE(single.is_valid({8.0}));
}

TEST(SearchSpace, RejectsInvalidDefinitionsAndSettings) {
  SearchSpace space;
  EXPECT_THROW(space.add_continuous("lr", 1e-4, 1e-6), bomf::invalid_argument);
  EXPECT_THROW(space.add_continuous("lr", 1.0, 1.0), bomf::invalid_argument);
  EXPECT_THROW(space.add_continuous("lr", 0.0, 1e-4, Scale::log), bomf::invalid_argument);
  EXPECT_THROW(space.add_continuous("lr", -1.0, 1e-4, Scale::log), bomf::invalid_argument);
  EXPECT_THROW(space.add_continuous("x", 0.0, std::numeric_limits<double>::infinity()),
               bomf::invalid_argument);
  EXPECT_THROW(space.add_integer("n", 5, 4), bomf::invalid_argument);
  EXPECT_THROW(space.add_categorical("opt", {}), bomf::invalid_argument);
  EXPECT_THROW(space.add_categorical("opt", {"adam", "sgd", "adam"}), bomf::invalid_argument);
  EXPECT_EQ(space.size(), 0);  // nothing was added by the failed calls
  EXPECT_THROW((void)space.encode({}), bomf::invalid_argument);
  EXPECT_THROW((void)space.decode(VectorXd()), bomf::invalid_argument);
  try {
    space.add_continuous("lr", 0.0, 1e-4, Scale::log);
  } catch (const bomf::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'lr' is log-scaled with lower bound 0"),
              std::string::npos)
        << e.what();
  }
  const SearchSpace full = fine_tuning_space();
  EXPECT_THROW((void)full.encode({1e-5, 0.05, 0.5, 16, 1}),
               bomf::invalid_argument);                                             // non-integral
  EXPECT_THROW((void)full.encode({1e-3, 0.05, 0, 16, 1}), bomf::invalid_argument);  // out of bounds
  EXPECT_THROW((void)full.encode({1e-5, 0.05, 0, 16, 3}), bomf::invalid_argument);  // bad choice
  EXPECT_THROW((void)full.encode({1e-5, 0.05, 0, 16}), bomf::invalid_argument);     // too short
  EXPECT_THROW((void)full.decode(VectorXd::Zero(6)), bomf::invalid_argument);
  EXPECT_THROW((void)full.label(0, 0.0), bomf::invalid_argument);
  EXPECT_THROW((void)full.label(4, 3.0), bomf::invalid_argument);
}

}  // namespace
