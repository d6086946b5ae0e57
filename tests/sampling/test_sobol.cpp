// Tests of bomf/sampling/: the unscrambled sequence's known first points, the stratification
// (net) properties that scrambling must preserve, reproducibility, and the QMC normal samples.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <thread>
#include <vector>

#include "bomf/sampling/normal_base_samples.hpp"
#include "bomf/sampling/sobol_sequence.hpp"

namespace {

TEST(SobolSequence, UnscrambledStartsWithTheStandardPoints) {
  bomf::SobolSequence sobol(3, 0, false);
  const Eigen::MatrixXd p = sobol.draw(5);
  // The Sobol sequence in Gray-code order (as PyTorch's SobolEngine(scramble=False)).
  Eigen::MatrixXd expected(5, 3);
  expected << 0.0, 0.0, 0.0,  //
      0.5, 0.5, 0.5,          //
      0.75, 0.25, 0.25,       //
      0.25, 0.75, 0.75,       //
      0.375, 0.375, 0.625;
  EXPECT_EQ(p, expected);
  EXPECT_EQ(sobol.position(), 5u);
}

// Number of points of the first `n` rows of column `j` in each of 2^k equal bins.
std::vector<int> bin_counts(const Eigen::MatrixXd& p, Eigen::Index n, int j, int k) {
  std::vector<int> counts(std::size_t{1} << k, 0);
  for (Eigen::Index i = 0; i < n; ++i) {
    const auto bin = static_cast<std::size_t>(std::ldexp(p(i, j), k));
    ++counts.at(bin);
  }
  return counts;
}

TEST(SobolSequence, EveryOneDimensionalProjectionIsStratified) {
  for (bool scramble : {false, true}) {
    bomf::SobolSequence sobol(20, 1234, scramble);
    const Eigen::MatrixXd p = sobol.draw(1024);
    EXPECT_TRUE((p.array() >= 0.0).all() && (p.array() < 1.0).all());
    if (scramble) {
      EXPECT_TRUE((p.array() > 0.0).all());
    }
    for (int k = 0; k <= 10; ++k) {
      for (int j = 0; j < 20; ++j) {
        const std::vector<int> counts = bin_counts(p, Eigen::Index{1} << k, j, k);
        EXPECT_TRUE(std::all_of(counts.begin(), counts.end(), [](int c) { return c == 1; }))
            << "k = " << k << ", dimension " << j << ", scrambled " << scramble;
      }
    }
  }
}

// The t-value of the 2-D projection (j1, j2) of the first 2^m points: the smallest t such that
// every elementary box [a/2^c1, (a+1)/2^c1) × [b/2^c2, (b+1)/2^c2) with c1 + c2 = m − t holds
// exactly 2^t points.
int t_value(const Eigen::MatrixXd& p, int m, int j1, int j2) {
  const Eigen::Index n = Eigen::Index{1} << m;
  for (int t = 0; t <= m; ++t) {
    bool ok = true;
    for (int c1 = 0; c1 <= m - t && ok; ++c1) {
      const int c2 = m - t - c1;
      std::vector<int> counts(std::size_t{1} << (m - t), 0);
      for (Eigen::Index i = 0; i < n; ++i) {
        const auto a = static_cast<std::size_t>(std::ldexp(p(i, j1), c1));
        const auto b = static_cast<std::size_t>(std::ldexp(p(i, j2), c2));
        ++counts.at((a << c2) | b);
      }
      ok = std::all_of(counts.begin(), counts.end(), [&](int c) { return c == (1 << t); });
    }
    if (ok) {
      return t;
    }
  }
  return m + 1;
}

TEST(SobolSequence, TwoDimensionalStratificationSurvivesScrambling) {
  const int m = 10;
  const Eigen::MatrixXd plain = bomf::SobolSequence(6, 0, false).draw(1 << m);
  const Eigen::MatrixXd scrambled = bomf::SobolSequence(6, 99, true).draw(1 << m);
  // Dimensions 0 and 1 of Sobol form a (0, m, 2)-net: every elementary box of area 2^−m holds
  // exactly one point.
  EXPECT_EQ(t_value(plain, m, 0, 1), 0);
  EXPECT_EQ(t_value(scrambled, m, 0, 1), 0);
  // LMS + digital shift keep each pair's t-value.
  for (int j1 = 0; j1 < 6; ++j1) {
    for (int j2 = j1 + 1; j2 < 6; ++j2) {
      EXPECT_EQ(t_value(scrambled, m, j1, j2), t_value(plain, m, j1, j2))
          << "dimensions " << j1 << ", " << j2;
    }
  }
}

TEST(SobolSequence, ReproducibleForASeedAndDifferentAcrossSeeds) {
  const Eigen::MatrixXd a = bomf::SobolSequence(7, 42).draw(64);
  const Eigen::MatrixXd b = bomf::SobolSequence(7, 42).draw(64);
  const Eigen::MatrixXd c = bomf::SobolSequence(7, 43).draw(64);
  EXPECT_EQ(a, b);
  EXPECT_GT((a - c).cwiseAbs().minCoeff(), 0.0);  // every coordinate differs
  // Scrambling actually changes the points.
  const Eigen::MatrixXd plain = bomf::SobolSequence(7, 42, false).draw(64);
  EXPECT_GT((a - plain).cwiseAbs().maxCoeff(), 0.1);
}

TEST(SobolSequence, CoordinatePrefixDoesNotDependOnTheDimension) {
  // Coordinate j's scramble depends on (seed, j) only: the first d′ coordinates of a
  // d-dimensional sequence are the d′-dimensional sequence (qLogNEHVI extends its baseline's
  // base samples by the new points' coordinates this way).
  for (std::uint64_t seed : {0u, 42u}) {
    const Eigen::MatrixXd wide = bomf::SobolSequence(376, seed).draw(128);
    for (int prefix : {1, 2, 30, 180, 375}) {
      EXPECT_EQ(bomf::SobolSequence(prefix, seed).draw(128), wide.leftCols(prefix))
          << "seed " << seed << ", prefix " << prefix;
    }
    const Eigen::MatrixXd z_wide = bomf::sobol_normal_samples(64, 40, seed);
    EXPECT_EQ(bomf::sobol_normal_samples(64, 36, seed), z_wide.leftCols(36));
  }
}

TEST(SobolSequence, ChunkedDrawsFastForwardAndResetAgree) {
  bomf::SobolSequence whole(5, 7);
  const Eigen::MatrixXd all = whole.draw(40);
  bomf::SobolSequence chunks(5, 7);
  const Eigen::MatrixXd first = chunks.draw(1);
  const Eigen::MatrixXd second = chunks.draw(16);
  const Eigen::MatrixXd third = chunks.draw(23);
  EXPECT_EQ(first, all.topRows(1));
  EXPECT_EQ(second, all.middleRows(1, 16));
  EXPECT_EQ(third, all.bottomRows(23));
  for (std::uint64_t skip : {0u, 1u, 13u}) {
    bomf::SobolSequence skipped(5, 7);
    skipped.fast_forward(skip);
    EXPECT_EQ(skipped.draw(4), all.middleRows(static_cast<Eigen::Index>(skip), 4)) << skip;
    skipped.fast_forward(3);
    EXPECT_EQ(skipped.draw(2), all.middleRows(static_cast<Eigen::Index>(skip) + 7, 2)) << skip;
  }
  chunks.reset();
  EXPECT_EQ(chunks.position(), 0u);
  EXPECT_EQ(chunks.draw(40), all);
}

TEST(SobolSequence, ChecksArguments) {
  EXPECT_THROW(static_cast<void>(bomf::SobolSequence(0)), bomf::invalid_argument);
  EXPECT_THROW(static_cast<void>(bomf::SobolSequence(bomf::SobolSequence::max_dimension + 1)),
               bomf::invalid_argument);
  EXPECT_NO_THROW(static_cast<void>(bomf::SobolSequence(bomf::SobolSequence::max_dimension)));
  bomf::SobolSequence sobol(3);
  EXPECT_THROW(sobol.draw(-1), bomf::invalid_argument);
  Eigen::MatrixXd wrong(4, 2);
  EXPECT_THROW(sobol.draw_into(wrong), bomf::invalid_argument);
  EXPECT_THROW(sobol.fast_forward((std::uint64_t{1} << 32) + 1), bomf::invalid_argument);
  sobol.fast_forward((std::uint64_t{1} << 32) - 2);
  EXPECT_NO_THROW(sobol.draw(2));
  EXPECT_THROW(sobol.draw(1), bomf::invalid_argument);
}

TEST(SobolNormalSamples, MomentsWithinQmcErrorAndFinite) {
  const Eigen::MatrixXd z = bomf::sobol_normal_samples(1024, 60, 5);
  ASSERT_EQ(z.rows(), 1024);
  ASSERT_EQ(z.cols(), 60);
  EXPECT_TRUE(z.allFinite());
  EXPECT_LE(z.cwiseAbs().maxCoeff(), 6.4);
  double worst_mean = 0.0;
  double worst_var = 0.0;
  double average_var_error = 0.0;
  for (Eigen::Index j = 0; j < z.cols(); ++j) {
    const double mean = z.col(j).mean();
    const double var = (z.col(j).array() - mean).square().sum() / (z.rows() - 1);
    worst_mean = std::max(worst_mean, std::abs(mean));
    worst_var = std::max(worst_var, std::abs(var - 1.0));
    average_var_error += std::abs(var - 1.0) / static_cast<double>(z.cols());
  }
  // Each column holds one point per stratum of width 1/1024, so the mean is far more accurate
  // than plain MC's ~0.03 (standard error); the variance is dominated by the two tail strata
  // (z² between 9.6 and 40), where one point per stratum still leaves an error of ~0.02.
  EXPECT_LT(worst_mean, 1e-2);
  EXPECT_LT(worst_var, 0.05);
  EXPECT_LT(average_var_error, 5e-3);
  // Correlations between columns: on average far below independent samples' standard error
  // 0.031; the worst of the 1770 pairs no worse than for independent samples.
  const Eigen::MatrixXd corr = (z.transpose() * z) / static_cast<double>(z.rows());
  const Eigen::MatrixXd off = corr - Eigen::MatrixXd::Identity(60, 60);
  const double average_corr = off.cwiseAbs().sum() / (60.0 * 59.0);
  EXPECT_LT(average_corr, 1e-2);
  EXPECT_LT(off.cwiseAbs().maxCoeff(), 0.2);
  std::printf(
      "[sobol normal] 1024 x 60: max |mean| %.1e, max |var - 1| %.1e (average %.1e), "
      "average |corr| %.1e\n",
      worst_mean, worst_var, average_var_error, average_corr);
}

TEST(SobolNormalSamples, AreTheQuantilesOfTheScrambledSobolPoints) {
  const Eigen::MatrixXd u = bomf::SobolSequence(4, 11).draw(32);
  const Eigen::MatrixXd z = bomf::sobol_normal_samples(32, 4, 11);
  for (Eigen::Index i = 0; i < u.rows(); ++i) {
    for (Eigen::Index j = 0; j < u.cols(); ++j) {
      EXPECT_EQ(z(i, j), bomf::normal_quantile(u(i, j)));
    }
  }
  EXPECT_EQ(bomf::sobol_normal_samples(32, 4, 11), z);  // deterministic
  EXPECT_NE(bomf::sobol_normal_samples(32, 4, 12), z);
  EXPECT_EQ(bomf::sobol_normal_samples(0, 4, 11).rows(), 0);
  EXPECT_THROW(bomf::sobol_normal_samples(-1, 4, 11), bomf::invalid_argument);
}

// Φ⁻¹ of a fresh scrambled Sobol draw, computed here without sobol_normal_samples' memo.
Eigen::MatrixXd fresh_normal_samples(Eigen::Index num_samples, int dim, std::uint64_t seed) {
  Eigen::MatrixXd z = bomf::SobolSequence(dim, seed).draw(num_samples);
  for (Eigen::Index i = 0; i < z.size(); ++i) {
    z.data()[i] = bomf::normal_quantile(z.data()[i]);
  }
  return z;
}

TEST(SobolNormalSamples, MemoizedDrawsEqualFreshOnesWhateverTheOrderOfRequests) {
  // Narrower after wider (a copy), wider after narrower (only the new columns transformed),
  // and enough other (num_samples, seed) keys in between to evict entries (4 at most are kept).
  const std::uint64_t seed = 9001;
  EXPECT_EQ(bomf::sobol_normal_samples(64, 10, seed), fresh_normal_samples(64, 10, seed));
  EXPECT_EQ(bomf::sobol_normal_samples(64, 25, seed), fresh_normal_samples(64, 25, seed));
  EXPECT_EQ(bomf::sobol_normal_samples(64, 7, seed), fresh_normal_samples(64, 7, seed));
  for (std::uint64_t other = 1; other <= 6; ++other) {
    EXPECT_EQ(bomf::sobol_normal_samples(16, 3, seed + other),
              fresh_normal_samples(16, 3, seed + other));
  }
  EXPECT_EQ(bomf::sobol_normal_samples(32, 25, seed), fresh_normal_samples(32, 25, seed));
  EXPECT_EQ(bomf::sobol_normal_samples(64, 40, seed), fresh_normal_samples(64, 40, seed));
  // A draw too large to be kept (2²² doubles) is still right, and so is the next one.
  EXPECT_EQ(bomf::sobol_normal_samples(4096, 1100, seed).rightCols(2),
            fresh_normal_samples(4096, 1100, seed).rightCols(2));
  EXPECT_EQ(bomf::sobol_normal_samples(64, 41, seed), fresh_normal_samples(64, 41, seed));
}

TEST(SobolNormalSamples, RejectsADimensionOutsideTheSobolTable) {
  EXPECT_THROW(bomf::sobol_normal_samples(8, 0, 1), bomf::invalid_argument);
  EXPECT_THROW(bomf::sobol_normal_samples(8, bomf::SobolSequence::max_dimension + 1, 1),
               bomf::invalid_argument);
  EXPECT_EQ(bomf::sobol_normal_samples(2, bomf::SobolSequence::max_dimension, 1).cols(),
            bomf::SobolSequence::max_dimension);
}

TEST(SobolNormalSamples, ConcurrentDrawsOfOneSequenceAreAllRight) {
  const std::uint64_t seed = 4242;
  std::vector<Eigen::MatrixXd> got(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&got, t, seed] {
      got[static_cast<std::size_t>(t)] = bomf::sobol_normal_samples(128, 5 + 7 * t, seed);
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  for (int t = 0; t < 8; ++t) {
    EXPECT_EQ(got[static_cast<std::size_t>(t)], fresh_normal_samples(128, 5 + 7 * t, seed));
  }
}

}  // namespace
