// Tests of qLogNEHVI's Monte-Carlo core fed with BoTorch's own posterior samples
// (tests/data/qlognehvi.json): the per-sample cells (bomf::FastNondominatedPartitioning) and
// the smoothed log hypervolume improvement. The smooth functions (bomf/math) are tested in
// tests/acquisition, the box decompositions against BoTorch in tests/multi_objective.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "bomf/acquisition/detail/q_log_nehvi_core.hpp"
#include "bomf/acquisition/detail/q_log_nehvi_q1.hpp"
#include "bomf/math/simd.hpp"
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
      ws.resize(F[0].rows(), static_cast<int>(F[0].cols()), static_cast<int>(F.size()),
                cells.max_distinct);
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
    ws.resize(F[0].rows(), q, m, cells.max_distinct);
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

TEST_P(QnehviCoreReference, DistinctLowerCornersIndexEveryCellExactly) {
  const auto ref = load_reference("qlognehvi.json");
  const auto& c = ref["cases"][static_cast<std::size_t>(GetParam())];
  const auto baseline = per_objective(c["mc_128"]["samples_baseline"]);
  const auto cells = bomf::detail::qnehvi_build_cells(baseline, to_vector(c["ref_point"]));
  const auto m = static_cast<Eigen::Index>(baseline.size());
  const auto S = static_cast<Eigen::Index>(cells.offsets.size()) - 1;
  ASSERT_EQ(cells.distinct_offsets.size(), static_cast<std::size_t>(S * m + 1));
  Eigen::Index widest = 0;
  for (Eigen::Index s = 0; s < S; ++s) {
    for (Eigen::Index k = 0; k < m; ++k) {
      const auto first = cells.distinct_offsets[static_cast<std::size_t>(s * m + k)];
      const auto last = cells.distinct_offsets[static_cast<std::size_t>(s * m + k + 1)];
      for (Eigen::Index u = first + 1; u < last; ++u) {  // strictly increasing: no repeats
        EXPECT_LT(cells.distinct_lower[static_cast<std::size_t>(u - 1)],
                  cells.distinct_lower[static_cast<std::size_t>(u)]);
      }
      for (Eigen::Index cell = cells.offsets[s]; cell < cells.offsets[s + 1]; ++cell) {
        const Eigen::Index slot = cells.lower_slot(k, cell);
        ASSERT_GE(slot, first);
        ASSERT_LT(slot, last);
        EXPECT_EQ(cells.distinct_lower[static_cast<std::size_t>(slot)], cells.lower(k, cell));
      }
    }
    widest = std::max(widest, cells.distinct_offsets[static_cast<std::size_t>((s + 1) * m)] -
                                  cells.distinct_offsets[static_cast<std::size_t>(s * m)]);
  }
  EXPECT_EQ(cells.max_distinct, widest);
}

TEST(QnehviCore, SamplesThatImproveNothingAreMinusInfinityNotNaN) {
  // Sampled values far below every cell (log fatplus is −∞ beyond |x/τ| ≈ 1e154) make every
  // v_c of that sample −∞: the sample must drop out of the mean with a zero gradient (it was
  // 0/0 = NaN, which poisoned the whole gradient), and with no improving sample the value is
  // log 0 = −∞ with a zero gradient.
  const auto ref = load_reference("qlognehvi.json");
  const auto& c = ref["cases"][0];
  const auto cells = bomf::detail::qnehvi_build_cells(
      per_objective(c["mc_128"]["samples_baseline"]), to_vector(c["ref_point"]));
  auto F = new_samples(c["mc_128"]["by_q"][0]["samples_new"], 0);
  const Eigen::Index S = F[0].rows();
  const int q = static_cast<int>(F[0].cols());
  const int m = static_cast<int>(F.size());
  ASSERT_EQ(q, 1);
  bomf::detail::QnehviCoreWorkspace ws;
  ws.resize(S, q, m, cells.max_distinct);
  std::vector<Eigen::MatrixXd> dF(F.size(), Eigen::MatrixXd(S, q));
  (void)bomf::detail::qnehvi_log_value<false>(cells, F, 1e-6, 1e-3, ws, nullptr);
  const Eigen::VectorXd per_sample = ws.sample_log;
  constexpr Eigen::Index kDead = 3;
  double kept = 0.0;  // Σ_{s ≠ kDead} exp(v_s), the mean's numerator without the dead sample
  for (Eigen::Index s = 0; s < S; ++s) {
    kept += s == kDead ? 0.0 : std::exp(per_sample(s));
  }
  for (auto& f : F) {
    f.row(kDead).setConstant(-1e200);
  }
  const double value = bomf::detail::qnehvi_log_value<true>(cells, F, 1e-6, 1e-3, ws, &dF);
  EXPECT_NEAR(value, std::log(kept / static_cast<double>(S)), 1e-12);
  EXPECT_EQ(ws.sample_log(kDead), -std::numeric_limits<double>::infinity());
  for (int k = 0; k < m; ++k) {
    EXPECT_TRUE(dF[k].allFinite()) << "objective " << k;
    EXPECT_EQ(dF[k](kDead, 0), 0.0);
    EXPECT_GT(dF[k].cwiseAbs().maxCoeff(), 0.0);
  }
  for (auto& f : F) {
    f.setConstant(-1e200);
  }
  EXPECT_EQ(bomf::detail::qnehvi_log_value<true>(cells, F, 1e-6, 1e-3, ws, &dF),
            -std::numeric_limits<double>::infinity());
  for (int k = 0; k < m; ++k) {
    EXPECT_TRUE((dF[k].array() == 0.0).all()) << "objective " << k;
  }
  // A NaN sample is not "no improvement": it reaches the value.
  F = new_samples(c["mc_128"]["by_q"][0]["samples_new"], 0);
  F[0](kDead, 0) = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(std::isnan(bomf::detail::qnehvi_log_value<false>(cells, F, 1e-6, 1e-3, ws, nullptr)));
}

// The q = 1 kernels (q_log_nehvi_q1.hpp) on BoTorch's posterior samples: qnehvi_log_value's
// value and gradient to rounding, the same per-sample values, and bit-identical generic and AVX2
// builds.
struct Q1Result {
  double value;
  Eigen::VectorXd sample_log;
  std::vector<Eigen::MatrixXd> dF;
};

Q1Result q1_evaluate(const bomf::detail::QnehviCellSet& cells,
                     const std::vector<Eigen::MatrixXd>& F, bool gradient) {
  const Eigen::Index S = F[0].rows();
  const int m = static_cast<int>(F.size());
  bomf::detail::QnehviQ1Workspace ws;
  ws.resize(cells, S, m);
  for (Eigen::Index s = 0; s < S; ++s) {
    for (int k = 0; k < m; ++k) {
      ws.y[static_cast<std::size_t>(s * m + k)] = F[static_cast<std::size_t>(k)](s, 0);
    }
  }
  Q1Result r;
  r.dF.assign(F.size(), Eigen::MatrixXd::Constant(S, 1, -7.0));
  r.value = gradient ? bomf::detail::qnehvi_q1_log_value<true>(cells, m, 1e-6, 1e-3, ws, &r.dF)
                     : bomf::detail::qnehvi_q1_log_value<false>(cells, m, 1e-6, 1e-3, ws, nullptr);
  r.sample_log = ws.sample_log;
  return r;
}

TEST_P(QnehviCoreReference, SingleCandidateKernelsMatchTheGeneralCore) {
  const auto ref = load_reference("qlognehvi.json");
  const auto& c = ref["cases"][static_cast<std::size_t>(GetParam())];
  const auto cells = bomf::detail::qnehvi_build_cells(
      per_objective(c["mc_128"]["samples_baseline"]), to_vector(c["ref_point"]));
  const auto& by_q = c["mc_128"]["by_q"][0];
  ASSERT_EQ(by_q["q"].get<int>(), 1);
  for (std::size_t b = 0; b < by_q["qLogNEHVI"].size(); ++b) {
    auto F = new_samples(by_q["samples_new"], b);
    const int m = static_cast<int>(F.size());
    for (int variant = 0; variant < 3; ++variant) {
      if (variant == 1) {  // candidates exactly on lower corners and cell bounds: ties, x = 0
        for (int k = 0; k < m; ++k) {
          for (Eigen::Index s = 0; s < F[0].rows(); s += 3) {
            const Eigen::Index cell = cells.offsets[s];
            const double upper = cells.upper(k, cell);
            F[static_cast<std::size_t>(k)](s, 0) =
                s % 2 == 0 || !std::isfinite(upper) ? cells.lower(k, cell) : upper;
          }
        }
      } else if (variant == 2) {  // far below the front: the fat tails only
        for (auto& f : F) {
          f.array() -= 5.0;
        }
      }
      bomf::detail::QnehviCoreWorkspace ws;
      ws.resize(F[0].rows(), 1, m, cells.max_distinct);
      std::vector<Eigen::MatrixXd> dF(F.size(), Eigen::MatrixXd(F[0].rows(), 1));
      const double expected = bomf::detail::qnehvi_log_value<true>(cells, F, 1e-6, 1e-3, ws, &dF);
      for (const auto path : {bomf::simd::Path::generic, bomf::simd::Path::avx2}) {
        bomf::simd::force_path(path);
        const Q1Result value_only = q1_evaluate(cells, F, false);
        const Q1Result with_gradient = q1_evaluate(cells, F, true);
        bomf::simd::reset_path();
        EXPECT_NEAR(value_only.value, expected, 1e-13 * std::abs(expected))
            << "b=" << b << " variant " << variant;
        EXPECT_EQ(value_only.value, with_gradient.value);
        for (Eigen::Index s = 0; s < F[0].rows(); ++s) {
          EXPECT_NEAR(value_only.sample_log(s), ws.sample_log(s),
                      1e-13 * std::abs(ws.sample_log(s)));
        }
        for (int k = 0; k < m; ++k) {
          const auto& g = with_gradient.dF[static_cast<std::size_t>(k)];
          const auto& g_ref = dF[static_cast<std::size_t>(k)];
          const double scale = g_ref.cwiseAbs().maxCoeff();
          for (Eigen::Index s = 0; s < g.rows(); ++s) {
            EXPECT_NEAR(g(s, 0), g_ref(s, 0), 1e-11 * std::abs(g_ref(s, 0)) + 1e-14 * scale)
                << "b=" << b << " variant " << variant << " s=" << s << " k=" << k;
          }
        }
      }
    }
  }
}

TEST_P(QnehviCoreReference, SingleCandidateKernelsAreBitIdenticalOnEveryPath) {
  if (!bomf::simd::avx2_available()) {
    GTEST_SKIP() << "no AVX2 on this CPU";
  }
  const auto ref = load_reference("qlognehvi.json");
  const auto& c = ref["cases"][static_cast<std::size_t>(GetParam())];
  const auto cells = bomf::detail::qnehvi_build_cells(
      per_objective(c["mc_128"]["samples_baseline"]), to_vector(c["ref_point"]));
  const auto& by_q = c["mc_128"]["by_q"][0];
  for (std::size_t b = 0; b < by_q["qLogNEHVI"].size(); ++b) {
    const auto F = new_samples(by_q["samples_new"], b);
    bomf::simd::force_path(bomf::simd::Path::generic);
    const Q1Result generic = q1_evaluate(cells, F, true);
    bomf::simd::force_path(bomf::simd::Path::avx2);
    const Q1Result avx2 = q1_evaluate(cells, F, true);
    bomf::simd::reset_path();
    EXPECT_EQ(generic.value, avx2.value);
    EXPECT_TRUE((generic.sample_log.array() == avx2.sample_log.array()).all());
    for (std::size_t k = 0; k < F.size(); ++k) {
      EXPECT_TRUE((generic.dF[k].array() == avx2.dF[k].array()).all()) << "objective " << k;
    }
  }
}

TEST(QnehviCore, SingleCandidateKernelsKeepTheExtremes) {
  // As SamplesThatImproveNothingAreMinusInfinityNotNaN, through the q = 1 kernels.
  const auto ref = load_reference("qlognehvi.json");
  const auto& c = ref["cases"][0];
  const auto cells = bomf::detail::qnehvi_build_cells(
      per_objective(c["mc_128"]["samples_baseline"]), to_vector(c["ref_point"]));
  auto F = new_samples(c["mc_128"]["by_q"][0]["samples_new"], 0);
  const Eigen::Index S = F[0].rows();
  const int m = static_cast<int>(F.size());
  constexpr Eigen::Index kDead = 3;
  const Q1Result full = q1_evaluate(cells, F, false);
  double kept = 0.0;
  for (Eigen::Index s = 0; s < S; ++s) {
    kept += s == kDead ? 0.0 : std::exp(full.sample_log(s));
  }
  for (auto& f : F) {
    f.row(kDead).setConstant(-1e200);
  }
  const Q1Result dead = q1_evaluate(cells, F, true);
  EXPECT_NEAR(dead.value, std::log(kept / static_cast<double>(S)), 1e-12);
  EXPECT_EQ(dead.sample_log(kDead), -std::numeric_limits<double>::infinity());
  for (int k = 0; k < m; ++k) {
    EXPECT_TRUE(dead.dF[static_cast<std::size_t>(k)].allFinite()) << "objective " << k;
    EXPECT_EQ(dead.dF[static_cast<std::size_t>(k)](kDead, 0), 0.0);
    EXPECT_GT(dead.dF[static_cast<std::size_t>(k)].cwiseAbs().maxCoeff(), 0.0);
  }
  for (auto& f : F) {
    f.setConstant(-1e200);
  }
  const Q1Result none = q1_evaluate(cells, F, true);
  EXPECT_EQ(none.value, -std::numeric_limits<double>::infinity());
  for (int k = 0; k < m; ++k) {
    EXPECT_TRUE((none.dF[static_cast<std::size_t>(k)].array() == 0.0).all());
  }
  F = new_samples(c["mc_128"]["by_q"][0]["samples_new"], 0);
  F[0](kDead, 0) = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(std::isnan(q1_evaluate(cells, F, false).value));
  EXPECT_TRUE(std::isnan(q1_evaluate(cells, F, true).value));
}

INSTANTIATE_TEST_SUITE_P(Cases, QnehviCoreReference, ::testing::Values(0, 1));

}  // namespace
