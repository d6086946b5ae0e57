// MultiObjectiveSearch: the generic ask/tell MOBO engine on a box (BraninCurrin) and on the
// simplex; design, pending points, out-of-order observations, determinism, bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "bomf/drivers/multi_objective_search.hpp"
#include "drivers_test_problems.hpp"

namespace {

using bomf::BoxDomain;
using bomf::ProposalKind;
using bomf::SimplexDomain;
using Eigen::MatrixXd;
using Eigen::VectorXd;
template <class Domain>
using MultiObjectiveSearch = bomf::MultiObjectiveSearch<bomf::Matern52Kernel, Domain>;
template <class Domain>
using MultiObjectiveSearchOptions = bomf::MultiObjectiveSearchOptions<Domain>;

/// The points of `proposals`.
std::vector<VectorXd> points(const std::vector<bomf::Proposal>& proposals) {
  std::vector<VectorXd> out;
  for (const bomf::Proposal& p : proposals) {
    out.push_back(p.point);
  }
  return out;
}

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

template <class Domain>
MultiObjectiveSearchOptions<Domain> fast_options(int num_initial, std::uint64_t seed) {
  MultiObjectiveSearchOptions<Domain> o;
  o.num_initial = num_initial;
  o.seed = seed;
  o.acquisition.num_samples = 32;
  o.acquisition.prune_num_samples = 256;
  o.acquisition_optimizer.raw_samples = 128;
  o.acquisition_optimizer.num_restarts = 3;
  if constexpr (std::is_same_v<Domain, SimplexDomain>) {
    o.acquisition_optimizer.num_near_best = 16;
    o.acquisition_optimizer.num_face_points = 16;
  }
  o.gp.num_starts = 2;
  return o;
}

bomf::SearchSpace unit_square() {
  bomf::SearchSpace space;
  space.add_continuous("x0", 0.0, 1.0).add_continuous("x1", 0.0, 1.0);
  return space;
}

TEST(MultiObjectiveSearch, BraninCurrinImprovesHypervolumeOverItsDesign) {
  const VectorXd ref{{-18.0, -6.0}};
  MultiObjectiveSearch<BoxDomain> search(unit_square(), ref, fast_options<BoxDomain>(6, 3));
  for (const bomf::Proposal& p : search.suggest(6)) {
    EXPECT_EQ(p.kind, ProposalKind::initial);
    search.observe(p.point, branin_currin(p.point));
  }
  const double initial = search.hypervolume();
  for (int it = 0; it < 8; ++it) {
    const std::vector<bomf::Proposal> next = search.suggest(1);
    ASSERT_EQ(next.size(), 1u);
    EXPECT_EQ(next[0].kind, ProposalKind::acquisition);
    EXPECT_GT(next[0].fit_seconds, 0.0);
    EXPECT_GT(next[0].acquisition_seconds, 0.0);
    search.observe(next[0].point, branin_currin(next[0].point));
  }
  const double final_hv = search.hypervolume();
  EXPECT_GT(final_hv, initial * 1.02) << "initial " << initial << ", final " << final_hv;

  // The same budget of quasi-random points (the design sequence continued) does worse.
  MatrixXd y_random(14, 2);
  const MatrixXd design =
      BoxDomain(unit_square())
          .quasi_random(0, 14, bomf::detail::derive_seed(3, 0, bomf::detail::SeedStream::design));
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
  MultiObjectiveSearch<BoxDomain> search(space, VectorXd{{-10.0, -10.0}},
                                         fast_options<BoxDomain>(5, 1));
  for (int it = 0; it < 8; ++it) {
    for (const VectorXd& x : points(search.suggest(1))) {
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
  MultiObjectiveSearch<SimplexDomain> search(simplex, VectorXd{{-1.0, 0.0}},
                                             fast_options<SimplexDomain>(4, 7));
  std::vector<VectorXd> design = points(search.suggest(4));
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

  // A batch of three acquisition candidates: each on the simplex, distinct, all pending; the
  // batch's GP fit is charged to its first candidate.
  const std::vector<bomf::Proposal> proposals = search.suggest(3);
  ASSERT_EQ(proposals.size(), 3u);
  for (std::size_t i = 0; i < proposals.size(); ++i) {
    EXPECT_EQ(proposals[i].kind, ProposalKind::acquisition);
    EXPECT_EQ(proposals[i].fit_seconds > 0.0, i == 0) << i;
  }
  const std::vector<VectorXd> batch = points(proposals);
  EXPECT_EQ(search.num_pending(), 3);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    EXPECT_TRUE(simplex.contains(batch[i], 1e-12)) << batch[i].transpose();
    for (std::size_t j = 0; j < i; ++j) {
      EXPECT_GT((batch[i] - batch[j]).norm(), 1e-6) << "candidates " << i << " and " << j;
    }
  }
  // A further suggestion while these are pending differs from all of them.
  const VectorXd extra = search.suggest(1).front().point;
  for (const VectorXd& b : batch) {
    EXPECT_GT((extra - b).norm(), 1e-6);
  }
  search.observe(batch[1], f(batch[1]));
  search.observe(extra, f(extra));
  search.observe(batch[2], f(batch[2]));
  search.observe(batch[0], f(batch[0]));
  EXPECT_EQ(search.num_pending(), 0);
  EXPECT_EQ(search.num_observed(), 8);
  EXPECT_TRUE(search.cancel_pending(search.suggest(1).front().point));
  EXPECT_EQ(search.num_pending(), 0);
}

TEST(MultiObjectiveSearch, DeterministicGivenTheSeedAndObservationOrder) {
  const bomf::Simplex simplex(3);
  const auto f = [](const VectorXd& d) { return VectorXd{{d(0) - d(1), d(2) * d(2) - d(0)}}; };
  auto run = [&](std::uint64_t seed) {
    MultiObjectiveSearch<SimplexDomain> search(simplex, VectorXd{{-2.0, -2.0}},
                                               fast_options<SimplexDomain>(3, seed));
    std::vector<VectorXd> out;
    for (int it = 0; it < 6; ++it) {
      const VectorXd x = search.suggest(1).front().point;
      out.push_back(x);
      search.observe(x, f(x));
    }
    return out;
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
  MultiObjectiveSearch<SimplexDomain> search(simplex, VectorXd{{0.0, 0.0}},
                                             fast_options<SimplexDomain>(2, 0));
  for (const VectorXd& x : points(search.suggest(2))) {
    search.observe_failure(x);
  }
  const bomf::Proposal p = search.suggest(1).front();
  EXPECT_EQ(p.kind, ProposalKind::fallback);
  EXPECT_TRUE(simplex.contains(p.point, 1e-12));
  for (Eigen::Index i = 0; i < search.design().rows(); ++i) {
    EXPECT_FALSE(bomf::detail::same_point(search.design().row(i).transpose(), p.point));
  }
}

using bomf::test::message_of;

TEST(MultiObjectiveSearch, BadInputIsRefusedWithClearMessages) {
  const bomf::Simplex simplex(3);
  const VectorXd ref{{0.0, 0.0}};
  using SimplexSearch = MultiObjectiveSearch<SimplexDomain>;
  EXPECT_NE(message_of([&] {
              SimplexSearch(simplex, VectorXd{{0.0}});
            }).find("'ref_point' has length 1, expected 2 to 8"),
            std::string::npos);
  EXPECT_NE(message_of([&] {
              SimplexSearch(bomf::Simplex(1), ref);
            }).find("dimension 1, expected N >= 2"),
            std::string::npos);
  MultiObjectiveSearchOptions<SimplexDomain> bad;
  bad.num_initial = -3;
  EXPECT_NE(message_of([&] { SimplexSearch(simplex, ref, bad); }).find("num_initial is -3"),
            std::string::npos);
  bad = MultiObjectiveSearchOptions<SimplexDomain>();
  bad.acquisition_optimizer.num_restarts = 0;
  EXPECT_NE(message_of([&] { SimplexSearch(simplex, ref, bad); }).find("acquisition_optimizer."),
            std::string::npos);
  bad = MultiObjectiveSearchOptions<SimplexDomain>();
  bad.gp.num_starts = 0;
  EXPECT_NE(message_of([&] {
              SimplexSearch(simplex, ref, bad);
            }).find("gp.num_starts is 0, expected ≥ 1"),
            std::string::npos);
  bad = MultiObjectiveSearchOptions<SimplexDomain>();
  bad.acquisition.tau_max = -1.0;
  EXPECT_NE(message_of([&] {
              SimplexSearch(simplex, ref, bad);
            }).find("acquisition.tau_max is -1, expected > 0"),
            std::string::npos);
  EXPECT_NE(message_of([&] {
              MultiObjectiveSearch<BoxDomain>(bomf::SearchSpace(), ref);
            }).find("search space is empty"),
            std::string::npos);

  SimplexSearch search(simplex, ref, fast_options<SimplexDomain>(2, 0));
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
