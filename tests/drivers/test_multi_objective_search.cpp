// MultiObjectiveSearch: the generic ask/tell MOBO engine on a box (BraninCurrin) and on the
// simplex; design, pending points, out-of-order observations, determinism, bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "bomf/drivers/multi_objective_search.hpp"
#include "drivers_test_problems.hpp"

namespace {

using bomf::MultiObjectiveSearch;
using bomf::MultiObjectiveSearchOptions;
using Eigen::MatrixXd;
using Eigen::VectorXd;

// BoTorch's BraninCurrin on [0, 1]², negated to be maximized (reference point (−18, −6), the
// negation of BoTorch's ref_point = [18, 6]).
VectorXd branin_currin(const VectorXd& x) {
  const double pi = 3.14159265358979323846;
  const double u = 15.0 * x(0) - 5.0;
  const double v = 15.0 * x(1);
  const double t = v - 5.1 / (4.0 * pi * pi) * u * u + 5.0 / pi * u - 6.0;
  const double branin = t * t + 10.0 * (1.0 - 1.0 / (8.0 * pi)) * std::cos(u) + 10.0;
  const double a = x(0);
  const double factor = x(1) > 0.0 ? 1.0 - std::exp(-1.0 / (2.0 * x(1))) : 1.0;
  const double currin = factor * (2300 * a * a * a + 1900 * a * a + 2092 * a + 60) /
                        (100 * a * a * a + 500 * a * a + 4 * a + 20);
  return VectorXd{{-branin, -currin}};
}

MultiObjectiveSearchOptions fast_options(int num_initial, std::uint64_t seed) {
  MultiObjectiveSearchOptions o;
  o.num_initial = num_initial;
  o.seed = seed;
  o.acquisition.num_samples = 32;
  o.acquisition.prune_num_samples = 256;
  o.box_optimizer.raw_samples = 128;
  o.box_optimizer.num_restarts = 3;
  o.simplex_optimizer.raw_samples = 128;
  o.simplex_optimizer.num_restarts = 3;
  o.simplex_optimizer.num_near_best = 16;
  o.simplex_optimizer.num_face_points = 16;
  o.fit.num_starts = 2;
  return o;
}

bomf::SearchSpace unit_square() {
  bomf::SearchSpace space;
  space.add_continuous("x0", 0.0, 1.0).add_continuous("x1", 0.0, 1.0);
  return space;
}

TEST(MultiObjectiveSearch, BraninCurrinImprovesHypervolumeOverItsDesign) {
  const VectorXd ref{{-18.0, -6.0}};
  MultiObjectiveSearch<> search(unit_square(), ref, fast_options(6, 3));
  for (const VectorXd& x : search.suggest(6)) {
    search.observe(x, branin_currin(x));
  }
  EXPECT_EQ(search.last_timings().design_candidates, 6);
  const double initial = search.hypervolume();
  for (int it = 0; it < 8; ++it) {
    const std::vector<VectorXd> next = search.suggest(1);
    ASSERT_EQ(next.size(), 1u);
    EXPECT_EQ(search.last_timings().bayesian_candidates, 1);
    EXPECT_GT(search.last_timings().fit_seconds, 0.0);
    EXPECT_GT(search.last_timings().acquisition_seconds, 0.0);
    search.observe(next[0], branin_currin(next[0]));
  }
  const double final_hv = search.hypervolume();
  EXPECT_GT(final_hv, initial * 1.02) << "initial " << initial << ", final " << final_hv;

  // The same budget of quasi-random points (the design sequence continued) does worse.
  MatrixXd y_random(14, 2);
  const MatrixXd design = bomf::detail::quasi_random_settings(
      unit_square(), 0, 14, bomf::detail::derive_seed(3, 0, bomf::detail::SeedStream::design));
  for (int i = 0; i < 14; ++i) {
    y_random.row(i) = branin_currin(design.row(i).transpose()).transpose();
  }
  EXPECT_GT(final_hv, bomf::hypervolume(y_random, ref));
  EXPECT_EQ(search.num_observed(), 14);
  EXPECT_EQ(search.num_pending(), 0);
  const auto front = search.pareto_indices();
  ASSERT_FALSE(front.empty());
  EXPECT_EQ(search.pareto_y().rows(), static_cast<Eigen::Index>(front.size()));
}

TEST(MultiObjectiveSearch, MixedBoxPointsAreValidSettings) {
  bomf::SearchSpace space;
  space.add_continuous("lr", 1e-5, 1e-2, bomf::Scale::log)
      .add_integer("layers", 1, 4)
      .add_categorical("schedule", {"linear", "cosine", "constant"});
  const auto f = [](const VectorXd& x) {
    const double l = std::log10(x(0)) + 3.0;
    return VectorXd{{-l * l - 0.1 * x(1) + (x(2) == 1.0 ? 0.5 : 0.0), x(1) - l}};
  };
  MultiObjectiveSearch<> search(space, VectorXd{{-10.0, -10.0}}, fast_options(5, 1));
  for (int it = 0; it < 8; ++it) {
    for (const VectorXd& x : search.suggest(1)) {
      ASSERT_TRUE(space.is_valid(std::vector<double>(x.data(), x.data() + x.size())))
          << x.transpose();
      search.observe(x, f(x));
    }
  }
  EXPECT_EQ(search.num_observed(), 8);
}

TEST(MultiObjectiveSearch, SimplexBatchWithPendingPointsAndOutOfOrderObservations) {
  const bomf::Simplex simplex(4);
  const auto f = [](const VectorXd& d) {
    return VectorXd{{-(d.array() - 0.25).square().sum(), d(0) * d(1) + 0.5 * d(3)}};
  };
  MultiObjectiveSearch<> search(simplex, VectorXd{{-1.0, 0.0}}, fast_options(4, 7));
  std::vector<VectorXd> design = search.suggest(4);
  ASSERT_EQ(design.size(), 4u);
  EXPECT_EQ(search.num_pending(), 4);
  EXPECT_EQ(search.design_points_remaining(), 0);
  // Out of order, one as a failure.
  search.observe(design[2], f(design[2]));
  search.observe_failure(design[0]);
  search.observe(design[3], f(design[3]));
  search.observe(design[1], f(design[1]));
  EXPECT_EQ(search.num_pending(), 0);
  EXPECT_EQ(search.num_failed(), 1);
  EXPECT_EQ(search.num_observed(), 3);

  // External data: a vertex never suggested.
  search.observe(simplex.vertex(3), f(simplex.vertex(3)));
  EXPECT_EQ(search.num_observed(), 4);

  // A batch of three Bayesian candidates: each on the simplex, distinct, all pending.
  const std::vector<VectorXd> batch = search.suggest(3);
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(search.last_timings().bayesian_candidates, 3);
  EXPECT_EQ(search.num_pending(), 3);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    EXPECT_TRUE(simplex.contains(batch[i], 1e-12)) << batch[i].transpose();
    for (std::size_t j = 0; j < i; ++j) {
      EXPECT_GT((batch[i] - batch[j]).norm(), 1e-6) << "candidates " << i << " and " << j;
    }
  }
  // A further suggestion while these are pending differs from all of them.
  const VectorXd extra = search.suggest(1).front();
  for (const VectorXd& b : batch) {
    EXPECT_GT((extra - b).norm(), 1e-6);
  }
  search.observe(batch[1], f(batch[1]));
  search.observe(extra, f(extra));
  search.observe(batch[2], f(batch[2]));
  search.observe(batch[0], f(batch[0]));
  EXPECT_EQ(search.num_pending(), 0);
  EXPECT_EQ(search.num_observed(), 8);
  EXPECT_TRUE(search.cancel_pending(search.suggest(1).front()));
  EXPECT_EQ(search.num_pending(), 0);
}

TEST(MultiObjectiveSearch, DeterministicGivenTheSeedAndObservationOrder) {
  const bomf::Simplex simplex(3);
  const auto f = [](const VectorXd& d) { return VectorXd{{d(0) - d(1), d(2) * d(2) - d(0)}}; };
  auto run = [&](std::uint64_t seed) {
    MultiObjectiveSearch<> search(simplex, VectorXd{{-2.0, -2.0}}, fast_options(3, seed));
    std::vector<VectorXd> points;
    for (int it = 0; it < 6; ++it) {
      const VectorXd x = search.suggest(1).front();
      points.push_back(x);
      search.observe(x, f(x));
    }
    return points;
  };
  const auto a = run(11);
  const auto b = run(11);
  const auto c = run(12);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE((a[i].array() == b[i].array()).all()) << "point " << i;
  }
  EXPECT_FALSE((a[0].array() == c[0].array()).all()) << "another seed, another design";
}

TEST(MultiObjectiveSearch, FallsBackToQuasiRandomPointsWithoutEnoughData) {
  const bomf::Simplex simplex(3);
  MultiObjectiveSearch<> search(simplex, VectorXd{{0.0, 0.0}}, fast_options(2, 0));
  for (const VectorXd& x : search.suggest(2)) {
    search.observe_failure(x);
  }
  const VectorXd x = search.suggest(1).front();
  EXPECT_EQ(search.last_timings().fallback_candidates, 1);
  EXPECT_TRUE(simplex.contains(x, 1e-12));
  EXPECT_FALSE(search.is_design_point(x));
}

using bomf::test::message_of;

TEST(MultiObjectiveSearch, BadInputIsRefusedWithClearMessages) {
  const bomf::Simplex simplex(3);
  const VectorXd ref{{0.0, 0.0}};
  EXPECT_NE(message_of([&] {
              MultiObjectiveSearch<>(simplex, VectorXd{{0.0}});
            }).find("'ref_point' has length 1, expected 2 to 8"),
            std::string::npos);
  EXPECT_NE(message_of([&] {
              MultiObjectiveSearch<>(bomf::Simplex(1), ref);
            }).find("dimension 1, expected N >= 2"),
            std::string::npos);
  MultiObjectiveSearchOptions bad;
  bad.num_initial = -3;
  EXPECT_NE(
      message_of([&] { MultiObjectiveSearch<>(simplex, ref, bad); }).find("num_initial is -3"),
      std::string::npos);
  bad = MultiObjectiveSearchOptions();
  bad.simplex_optimizer.num_restarts = 0;
  EXPECT_NE(
      message_of([&] { MultiObjectiveSearch<>(simplex, ref, bad); }).find("simplex_optimizer."),
      std::string::npos);
  EXPECT_NE(message_of([&] {
              MultiObjectiveSearch<>(bomf::SearchSpace(), ref);
            }).find("search space is empty"),
            std::string::npos);

  MultiObjectiveSearch<> search(simplex, ref, fast_options(2, 0));
  EXPECT_NE(message_of([&] {
              search.observe(VectorXd{{0.5, 0.5, 0.5}}, ref);
            }).find("not on the simplex"),
            std::string::npos);
  EXPECT_NE(message_of([&] {
              search.observe(simplex.vertex(0), VectorXd{{0.0, std::nan("")}});
            }).find("observe_failure"),
            std::string::npos);
  EXPECT_NE(message_of([&] {
              search.observe(simplex.vertex(0), VectorXd{{0.0}});
            }).find("'y' has shape 1×1, expected 2×1"),
            std::string::npos);
  EXPECT_NE(message_of([&] { search.suggest(0); }).find("'q' is 0"), std::string::npos);
}

}  // namespace
