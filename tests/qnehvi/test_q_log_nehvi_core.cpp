// Tests of qLogNEHVI's building blocks: the scalar smooth functions, the per-sample box
// decomposition (against BoTorch's FastNondominatedPartitioning hypervolumes and cell counts),
// and the MC core fed with BoTorch's own posterior samples (tests/data/qlognehvi.json).
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "bomf/acquisition/detail/q_log_nehvi_cells.hpp"
#include "bomf/acquisition/detail/q_log_nehvi_core.hpp"
#include "bomf/acquisition/detail/q_log_nehvi_math.hpp"
#include "bomf/multi_objective/box_decomposition.hpp"
#include "support/reference.hpp"

namespace {

using bomf::test::load_reference;
using bomf::test::to_matrix;
using bomf::test::to_vector;

// samples[s][i][k] (S × n × m) as m matrices S × n.
std::vector<Eigen::MatrixXd> per_objective(const nlohmann::json& samples) {
  const auto S = static_cast<Eigen::Index>(samples.size());
  const auto n = static_cast<Eigen::Index>(samples[0].size());
  const auto m = samples[0][0].size();
  std::vector<Eigen::MatrixXd> out(m, Eigen::MatrixXd(S, n));
  for (Eigen::Index s = 0; s < S; ++s) {
    for (Eigen::Index i = 0; i < n; ++i) {
      for (std::size_t k = 0; k < m; ++k) {
        out[k](s, i) = samples[static_cast<std::size_t>(s)][static_cast<std::size_t>(i)][k];
      }
    }
  }
  return out;
}

// BoTorch's samples_new (S × batch × q × m) for one batch entry, as m matrices S × q.
std::vector<Eigen::MatrixXd> new_samples(const nlohmann::json& samples, std::size_t b) {
  nlohmann::json slice = nlohmann::json::array();
  for (const auto& per_sample : samples) {
    slice.push_back(per_sample[b]);
  }
  return per_objective(slice);
}

double hypervolume_from_cells(const Eigen::MatrixXd& Y, const Eigen::VectorXd& ref) {
  const auto front = bomf::detail::qnehvi_pareto_indices(Y, ref);
  if (front.empty()) {
    return 0.0;
  }
  std::vector<double> lo;
  std::vector<double> hi;
  bomf::detail::qnehvi_append_cells(Y, front, ref, lo, hi);
  const auto m = Y.cols();
  Eigen::VectorXd ideal = ref;
  for (auto i : front) {
    ideal = ideal.cwiseMax(Y.row(i).transpose());
  }
  double non_dominated = 0.0;
  for (std::size_t c = 0; c < lo.size() / static_cast<std::size_t>(m); ++c) {
    double vol = 1.0;
    for (Eigen::Index k = 0; k < m; ++k) {
      const double l = std::min(lo[c * m + k], ideal(k));
      const double u = std::min(hi[c * m + k], ideal(k));
      vol *= std::max(u - l, 0.0);
    }
    non_dominated += vol;
  }
  return (ideal - ref).prod() - non_dominated;
}

TEST(QnehviMath, LogFatplusDerivativeMatchesFiniteDifferences) {
  for (double x : {-3e-5, -1e-6, -1e-7, 0.0, 2e-7, 1e-6, 1.9e-5, 2.1e-5, 0.3}) {
    double d = 0.0;
    bomf::detail::qnehvi_log_fatplus(x, 1e-6, &d);
    const double h = 1e-12;
    const double fd = (bomf::detail::qnehvi_log_fatplus(x + h, 1e-6, nullptr) -
                       bomf::detail::qnehvi_log_fatplus(x - h, 1e-6, nullptr)) /
                      (2 * h);
    EXPECT_NEAR(d, fd, 1e-5 * std::abs(fd) + 1e-3) << "x = " << x;
  }
  // Linear region: log(x) up to the Cauchy term.
  EXPECT_NEAR(bomf::detail::qnehvi_log_fatplus(0.5, 1e-6, nullptr), std::log(0.5), 1e-12);
}

TEST(QnehviMath, FatminIsASmoothMinimumWithCorrectGradient) {
  const double x[3] = {0.3, 0.3004, 0.2995};
  double g[3];
  const double v = bomf::detail::qnehvi_fatmin(x, 3, 1e-3, g);
  EXPECT_LT(v, 0.2995);
  EXPECT_GT(v, 0.2995 - 1e-3 * std::log(3.0));
  for (int j = 0; j < 3; ++j) {
    double xp[3] = {x[0], x[1], x[2]};
    double xm[3] = {x[0], x[1], x[2]};
    xp[j] += 1e-8;
    xm[j] -= 1e-8;
    const double fd = (bomf::detail::qnehvi_fatmin(xp, 3, 1e-3, nullptr) -
                       bomf::detail::qnehvi_fatmin(xm, 3, 1e-3, nullptr)) /
                      2e-8;
    EXPECT_NEAR(g[j], fd, 1e-6);
  }
  double da = 0.0;
  double db = 0.0;
  const double v2 = bomf::detail::qnehvi_fatmin2(0.1, 0.1005, 1e-3, &da, &db);
  const double y[2] = {0.1, 0.1005};
  double gy[2];
  EXPECT_DOUBLE_EQ(v2, bomf::detail::qnehvi_fatmin(y, 2, 1e-3, gy));
  EXPECT_DOUBLE_EQ(da, gy[0]);
  EXPECT_DOUBLE_EQ(db, gy[1]);
  EXPECT_NEAR(da + db, 1.0, 1e-15);
}

TEST(QnehviMath, LogDiffExp) {
  EXPECT_NEAR(bomf::detail::qnehvi_logdiffexp(std::log(2.0), std::log(5.0)), std::log(3.0), 1e-15);
  EXPECT_EQ(bomf::detail::qnehvi_logdiffexp(-INFINITY, 1.5), 1.5);
  EXPECT_NEAR(bomf::detail::qnehvi_logdiffexp(1.0 - 1e-10, 1.0), 1.0 + std::log(1e-10), 1e-6);
}

TEST(QnehviCells, HypervolumeAndCellCountsMatchBoTorchFastNondominatedPartitioning) {
  const auto ref = load_reference("hypervolume.json");
  int checked = 0;
  for (const auto& c : ref["cases"]) {
    const Eigen::MatrixXd Y = to_matrix(c["Y"]);
    const Eigen::VectorXd r = to_vector(c["ref_point"]);
    const double expected = c["hv_FastNondominatedPartitioning"].get<double>();
    const double hv = hypervolume_from_cells(Y, r);
    EXPECT_NEAR(hv, expected, 1e-12 * std::abs(expected) + 1e-300)
        << c["kind"] << " m=" << c["m"] << " n=" << c["n"];
    const auto front = bomf::detail::qnehvi_pareto_indices(Y, r);
    EXPECT_EQ(static_cast<long>(front.size()), c["num_pareto_better_than_ref"].get<long>());
    // BoTorch keeps zero-volume cells in 2-D (duplicates); compare counts where there are none.
    std::vector<double> lo;
    std::vector<double> hi;
    bomf::detail::qnehvi_append_cells(Y, front, r, lo, hi);
    const long cells = static_cast<long>(lo.size()) / static_cast<long>(Y.cols());
    if (c["m"].get<int>() > 2 || front.size() + 1 == static_cast<std::size_t>(cells)) {
      EXPECT_EQ(cells, c["num_cells_FastNondominatedPartitioning"].get<long>())
          << c["kind"] << " m=" << c["m"] << " n=" << c["n"];
    }
    ++checked;
  }
  EXPECT_GT(checked, 50);
}

// Rows of (lower, upper) as sortable vectors, zero-volume cells dropped.
std::vector<std::vector<double>> cell_rows(const Eigen::MatrixXd& lower,
                                           const Eigen::MatrixXd& upper) {
  std::vector<std::vector<double>> rows;
  for (Eigen::Index c = 0; c < lower.rows(); ++c) {
    if ((upper.row(c).array() > lower.row(c).array()).all()) {
      std::vector<double> r;
      for (Eigen::Index k = 0; k < lower.cols(); ++k) {
        r.push_back(lower(c, k));
      }
      for (Eigen::Index k = 0; k < lower.cols(); ++k) {
        r.push_back(upper(c, k));
      }
      rows.push_back(r);
    }
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

TEST(QnehviCells, SameCellsAsTheMultiObjectiveModule) {
  // The private copy must produce exactly bomf::non_dominated_partitioning's cells.
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (int m : {2, 3, 4}) {
    for (int n : {1, 5, 20, 40}) {
      Eigen::MatrixXd Y(n, m);
      for (Eigen::Index i = 0; i < Y.size(); ++i) {
        Y(i) = normal(rng);
      }
      const Eigen::VectorXd ref = Eigen::VectorXd::Constant(m, -1.5);
      std::vector<double> lo;
      std::vector<double> hi;
      bomf::detail::qnehvi_append_cells(Y, bomf::detail::qnehvi_pareto_indices(Y, ref), ref, lo,
                                        hi);
      const auto count = static_cast<Eigen::Index>(lo.size()) / m;
      const Eigen::MatrixXd mine_lo =
          Eigen::Map<const Eigen::MatrixXd>(lo.data(), m, count).transpose();
      const Eigen::MatrixXd mine_hi =
          Eigen::Map<const Eigen::MatrixXd>(hi.data(), m, count).transpose();
      const bomf::Boxes theirs = bomf::non_dominated_partitioning(Y, ref);
      EXPECT_EQ(cell_rows(mine_lo, mine_hi), cell_rows(theirs.lower, theirs.upper))
          << "m=" << m << " n=" << n;
      EXPECT_EQ(count, static_cast<Eigen::Index>(cell_rows(mine_lo, mine_hi).size()));
    }
  }
}

class QnehviCoreReference : public ::testing::TestWithParam<int> {};

TEST_P(QnehviCoreReference, MatchesBoTorchGivenItsPosteriorSamples) {
  const auto ref = load_reference("qlognehvi.json");
  const auto& c = ref["cases"][static_cast<std::size_t>(GetParam())];
  const Eigen::VectorXd r = to_vector(c["ref_point"]);
  const auto baseline = per_objective(c["mc_128"]["samples_baseline"]);
  const auto cells = bomf::detail::qnehvi_build_cells(baseline, r);
  for (const auto& by_q : c["mc_128"]["by_q"]) {
    const auto& values = by_q["qLogNEHVI"];
    for (std::size_t b = 0; b < values.size(); ++b) {
      const auto F = new_samples(by_q["samples_new"], b);
      bomf::detail::QnehviCoreWorkspace ws;
      ws.resize(F[0].rows(), static_cast<int>(F[0].cols()), static_cast<int>(F.size()));
      const double v = bomf::detail::qnehvi_log_value<false>(cells, F, 1e-6, 1e-3, ws, nullptr);
      const double expected = values[b].get<double>();
      EXPECT_NEAR(v, expected, 1e-9 * std::abs(expected)) << "q=" << by_q["q"] << " b=" << b;
      // Per-sample exp(v_s) against the exact per-sample HVI (smoothing error ~1e-6 rel).
      const Eigen::VectorXd hvi = to_vector(by_q["hvi_per_sample_independent"][b]);
      for (Eigen::Index s = 0; s < hvi.size(); ++s) {
        if (hvi(s) > 1e-3) {
          EXPECT_NEAR(std::exp(ws.sample_log(s)), hvi(s), 1e-4 * hvi(s));
        }
      }
    }
  }
}

TEST_P(QnehviCoreReference, GradientMatchesFiniteDifferences) {
  const auto ref = load_reference("qlognehvi.json");
  const auto& c = ref["cases"][static_cast<std::size_t>(GetParam())];
  const Eigen::VectorXd r = to_vector(c["ref_point"]);
  const auto cells =
      bomf::detail::qnehvi_build_cells(per_objective(c["mc_128"]["samples_baseline"]), r);
  for (const auto& by_q : c["mc_128"]["by_q"]) {
    auto F = new_samples(by_q["samples_new"], 0);
    const int q = static_cast<int>(F[0].cols());
    const int m = static_cast<int>(F.size());
    bomf::detail::QnehviCoreWorkspace ws;
    ws.resize(F[0].rows(), q, m);
    std::vector<Eigen::MatrixXd> dF(F.size(), Eigen::MatrixXd(F[0].rows(), q));
    bomf::detail::qnehvi_log_value<true>(cells, F, 1e-6, 1e-3, ws, &dF);
    for (Eigen::Index s : {0, 5, 77}) {
      for (int k = 0; k < m; ++k) {
        for (int j = 0; j < q; ++j) {
          const double h = 1e-7;
          const double x0 = F[k](s, j);
          F[k](s, j) = x0 + h;
          const double up =
              bomf::detail::qnehvi_log_value<false>(cells, F, 1e-6, 1e-3, ws, nullptr);
          F[k](s, j) = x0 - h;
          const double dn =
              bomf::detail::qnehvi_log_value<false>(cells, F, 1e-6, 1e-3, ws, nullptr);
          F[k](s, j) = x0;
          const double fd = (up - dn) / (2 * h);
          EXPECT_NEAR(dF[k](s, j), fd, 1e-5 * std::abs(fd) + 1e-8) << "s=" << s << " k=" << k;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, QnehviCoreReference, ::testing::Values(0, 1));

}  // namespace
